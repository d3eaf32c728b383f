//! The scan gate's decisions: the command a scan runs (`{image}` replaced
//! by the pushed image by digest) and the error a failed gate is, with its
//! hint. Running it is the binary's (`execute::scan`).
//!
//! Pure: it formats data handed to it.

use crate::config::ScanGate;

/// The lines of a scanner's output a failure keeps: the last ones, where
/// scanners print their verdict.
pub const KEPT_LINES: usize = 20;

/// `gate`'s command for the image pushed as `by_digest`
/// (`host/repository@sha256:...`), `{output}` the report file golden
/// made for it.
pub fn command(gate: &ScanGate, by_digest: &str, output: &str) -> Vec<String> {
    gate.command
        .iter()
        .map(|word| {
            word.replace("{image}", by_digest)
                .replace("{output}", output)
        })
        .collect()
}

/// The annotation of an attached scan report: whether the scan passed.
pub const PASSED_ANNOTATION: &str = "dev.golden.scan.passed";

/// The artifact type of a scan's record when it wrote no report.
pub const RECORD_MEDIA_TYPE: &str = "application/vnd.golden.scan.record.v1+json";
/// The annotation of a scan's record naming the scanner that ran.
pub const SCANNER_ANNOTATION: &str = "dev.golden.scan.scanner";

/// The scanner of `gate`: the file name of its program, never its
/// arguments (they may hold a token), which the registry would publish.
pub fn scanner(gate: &ScanGate) -> String {
    let program = gate.command.first().map_or("", String::as_str);
    program.rsplit('/').next().unwrap_or(program).to_string()
}

/// A scan's record when it wrote no report: the image, the scanner and
/// how it ended (`outcome` `None`: it passed).
pub fn record(image: &str, scanner: &str, outcome: Option<&str>) -> Vec<u8> {
    serde_json::to_vec_pretty(&serde_json::json!({
        "image": image,
        "scanner": scanner,
        "passed": outcome.is_none(),
        "outcome": outcome.unwrap_or("exited with code 0"),
    }))
    .expect("a JSON value")
}

/// The annotations of a scan's record: whether it passed, and the
/// scanner.
pub fn record_annotations(
    scanner: &str,
    passed: bool,
) -> std::collections::BTreeMap<String, String> {
    [
        (PASSED_ANNOTATION.to_string(), passed.to_string()),
        (SCANNER_ANNOTATION.to_string(), scanner.to_string()),
    ]
    .into()
}

/// Whether the scan writes a report golden attaches: `scan_report` is
/// set, or the command names `{output}`.
pub fn writes_report(gate: &ScanGate) -> bool {
    gate.report.is_some() || gate.command.iter().any(|word| word.contains("{output}"))
}

/// Where the report is, `{output}` being the file golden made.
pub fn report_path(gate: &ScanGate, output: &str) -> Option<String> {
    match &gate.report {
        Some(report) => Some(report.replace("{output}", output)),
        None => writes_report(gate).then(|| output.to_string()),
    }
}

/// The media type a report is attached as: SARIF, other JSON, or text.
pub fn report_media_type(report: &[u8]) -> &'static str {
    match serde_json::from_slice::<serde_json::Value>(report) {
        Ok(value) if value.get("runs").is_some() && value.get("version").is_some() => {
            "application/sarif+json"
        }
        Ok(_) => "application/json",
        Err(_) => "text/plain",
    }
}

/// The last [`KEPT_LINES`] non-empty lines of `output`.
pub fn tail(output: &str) -> Vec<String> {
    let lines: Vec<String> = output
        .lines()
        .map(|line| crate::sanitize::text(line.trim_end()).into_owned())
        .filter(|line| !line.is_empty())
        .collect();
    lines[lines.len().saturating_sub(KEPT_LINES)..].to_vec()
}

/// A scan that did not pass: the build stays pushed under its exact tag,
/// withdrawn, and no floating tag moved to it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("scan-failed: `{command}` {outcome} for `{image}`; `{exact}` stays pushed but withdrawn{withdrawn}, and no floating tag moved to it{output}", withdrawn = withdrawn_text(.withdrawn), output = output_text(.output))]
pub struct ScanFailed {
    /// The image scanned, by digest.
    pub image: String,
    /// The command, shell-quoted.
    pub command: String,
    /// "exited with code 1", "timed out after 15m", "could not start: ...".
    pub outcome: String,
    /// The exact tag pushed.
    pub exact: String,
    /// The withdrawal marker's tag, or why it could not be pushed.
    pub withdrawn: Result<String, String>,
    /// The scanner's last lines.
    pub output: Vec<String>,
}

fn withdrawn_text(withdrawn: &Result<String, String>) -> String {
    match withdrawn {
        Ok(marker) => format!(" (`{marker}`)"),
        Err(problem) => format!(" (its marker could not be pushed: {problem}; no floating tag moves to it while the line fails, and `golden rollback` can withdraw it)"),
    }
}

fn output_text(output: &[String]) -> String {
    match output.is_empty() {
        true => String::new(),
        false => format!("\nlast lines of output:\n  {}", output.join("\n  ")),
    }
}

impl crate::hint::Hint for ScanFailed {
    fn hint(&self) -> Option<std::borrow::Cow<'_, str>> {
        Some(std::borrow::Cow::Borrowed(
            "fix what the scanner found (a newer base, a patched package) or the `scan` command in golden.toml; the line is held until its inputs change or its backoff elapses, and `golden rebuild` builds it now",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_image_goes_in_place_of_its_placeholder_and_the_output_is_cut() {
        let gate = ScanGate {
            command: vec![
                "trivy".into(),
                "image".into(),
                "--input={image}".into(),
                "{image}".into(),
                "--output={output}".into(),
            ],
            timeout: Duration::from_secs(1),
            report: None,
        };
        assert_eq!(
            command(&gate, "r/x@sha256:ab", "/tmp/r"),
            [
                "trivy",
                "image",
                "--input=r/x@sha256:ab",
                "r/x@sha256:ab",
                "--output=/tmp/r"
            ]
        );
        assert_eq!(report_path(&gate, "/tmp/r").as_deref(), Some("/tmp/r"));
        let fixed = ScanGate {
            report: Some("/var/reports/{output}.sarif".into()),
            command: vec!["scan".into(), "{image}".into()],
            ..gate
        };
        assert_eq!(
            report_path(&fixed, "x").as_deref(),
            Some("/var/reports/x.sarif")
        );
        let silent = ScanGate {
            report: None,
            ..fixed
        };
        assert_eq!(report_path(&silent, "x"), None);
        assert_eq!(
            report_media_type(br#"{"version":"2.1.0","runs":[]}"#),
            "application/sarif+json"
        );
        assert_eq!(report_media_type(br#"{"Results":[]}"#), "application/json");
        assert_eq!(report_media_type(b"CVE-1 CRITICAL"), "text/plain");
        let secret = ScanGate {
            command: vec![
                "/usr/local/bin/trivy".into(),
                "--token=s3cret".into(),
                "{image}".into(),
            ],
            timeout: Duration::from_secs(1),
            report: None,
        };
        assert_eq!(scanner(&secret), "trivy");
        let record = String::from_utf8(record("r/x@sha256:ab", &scanner(&secret), None)).unwrap();
        assert!(
            !record.contains("s3cret") && record.contains("\"passed\": true"),
            "{record}"
        );
        let output: String = (0..30).map(|n| format!("line {n}\n\n")).collect();
        let kept = tail(&output);
        assert_eq!(kept.len(), KEPT_LINES);
        assert_eq!(kept[0], "line 10");
        let painted = tail("\u{1b}[31mCVE\u{1b}[0m\n");
        assert!(
            painted[0].contains("CVE") && !painted[0].contains('\u{1b}'),
            "{painted:?}"
        );
    }

    #[test]
    fn the_failure_says_what_ran_how_it_ended_and_where_the_build_is() {
        let failed = ScanFailed {
            image: "r/x@sha256:ab".into(),
            command: "trivy image r/x@sha256:ab".into(),
            outcome: "exited with code 1".into(),
            exact: "r/x:1.0.1".into(),
            withdrawn: Ok("1.0.1-withdrawn".into()),
            output: vec!["CVE-2026-0001 CRITICAL".into()],
        };
        let text = failed.to_string();
        assert!(text.starts_with("scan-failed: `trivy image r/x@sha256:ab` exited with code 1 for `r/x@sha256:ab`; `r/x:1.0.1` stays pushed but withdrawn (`1.0.1-withdrawn`), and no floating tag moved to it"), "{text}");
        assert!(
            text.ends_with("last lines of output:\n  CVE-2026-0001 CRITICAL"),
            "{text}"
        );
    }
}
