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
/// (`host/repository@sha256:...`).
pub fn command(gate: &ScanGate, by_digest: &str) -> Vec<String> {
    gate.command
        .iter()
        .map(|word| word.replace("{image}", by_digest))
        .collect()
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
            ],
            timeout: Duration::from_secs(1),
        };
        assert_eq!(
            command(&gate, "r/x@sha256:ab"),
            ["trivy", "image", "--input=r/x@sha256:ab", "r/x@sha256:ab"]
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
