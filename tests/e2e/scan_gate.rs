//! The scan gate (`scan` in golden.toml), on the real engine and registry:
//! a stub scanner the test writes sees the pushed image by digest; exit 0
//! lets the floating tags move, exit 1 (or a timeout) keeps every floating
//! tag where it was, withdraws the pushed build and fails the image as
//! `scan-failed` with the scanner's last lines.

use crate::support;

use support::{assert_floating, digest, entry, tags, Stack};

/// A scanner stub: logs its arguments, prints a finding, and exits with
/// the code in `exit-code` beside it (after sleeping `sleep` seconds).
pub(crate) fn scanner(stack: &Stack) -> std::path::PathBuf {
    let script = stack.path().join("scan.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$@\" >> '{dir}/scanned'\nsleep \"$(cat '{dir}/sleep' 2>/dev/null || echo 0)\"\necho 'scanning...'\necho 'CVE-2026-9999 CRITICAL openssl 3.0.1' >&2\nexit \"$(cat '{dir}/exit-code')\"\n",
            dir = stack.path().display()
        ),
    )
    .unwrap();
    std::process::Command::new("chmod")
        .args(["+x"])
        .arg(&script)
        .status()
        .unwrap();
    script
}

pub(crate) fn set(stack: &Stack, file: &str, value: &str) {
    std::fs::write(stack.path().join(file), value).unwrap();
}

#[test]
fn a_scan_that_fails_keeps_every_floating_tag_and_withdraws_the_build() {
    let stack = Stack::new("scan-gate");
    let script = scanner(&stack);
    let config = std::fs::read_to_string(stack.config()).unwrap();
    std::fs::write(
        stack.config(),
        config.replacen(
            "[images.base]\n",
            &format!(
                "[images.base]\nscan = [\"{}\", \"--severity\", \"CRITICAL\", \"{{image}}\"]\n",
                script.display()
            ),
            1,
        ),
    )
    .unwrap();
    let repository = stack.repository("base");

    // Passes: released as usual; the scanner saw the pushed image by digest.
    set(&stack, "exit-code", "0");
    stack.golden(&["build", "base"]).expect(0);
    let first = digest(&repository, "1.0.0").unwrap();
    assert_floating(&repository, "1.0.0", &["1.0", "1", "latest"]);
    let scanned = std::fs::read_to_string(stack.path().join("scanned")).unwrap();
    assert_eq!(
        scanned.trim(),
        format!("--severity CRITICAL {repository}@{first}")
    );

    // A security update upstream; the scanner now finds something.
    stack.update_upstream("CVE-2026-9999");
    set(&stack, "exit-code", "1");
    let failed = stack
        .golden(&["build", "base", "--output", "json"])
        .expect(1);
    let report = failed.json();
    let error = entry(&report, "base")["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(entry(&report, "base")["decision"], "failed", "{report:#}");
    assert!(error.starts_with("scan-failed: "), "{error}");
    assert!(error.contains("exited with code 1"), "{error}");
    assert!(
        error.contains("CVE-2026-9999 CRITICAL openssl 3.0.1"),
        "{error}"
    );
    assert!(error.contains("1.0.1-withdrawn"), "{error}");
    let pushed = digest(&repository, "1.0.1").expect("the exact tag was pushed");
    assert_eq!(digest(&repository, "1.0.1-withdrawn"), Some(pushed.clone()));
    // Every floating tag is where it was.
    assert_floating(&repository, "1.0.0", &["1.0", "1", "latest"]);
    let listed = tags(&repository);
    assert!(
        listed.contains(&"1.0.1-withdrawn".to_string()),
        "{listed:?}"
    );
    // ls says so; the line is held (the same inputs would fail the same).
    let ls = stack.golden(&["ls", "base"]).expect(0);
    assert!(ls.stdout.contains("(withdrawn)"), "{}", ls.stdout);
    let held = stack.golden(&["plan", "base"]).expect(1);
    assert!(held.stdout.contains("failing since"), "{}", held.stdout);
    // `promote` (the CI matrix's last step) never moves a tag to it.
    stack.golden(&["promote", "base"]).expect(0);
    assert_floating(&repository, "1.0.0", &["1.0", "1", "latest"]);

    // Fixed (here: the scanner passes); `rebuild` builds now and releases.
    set(&stack, "exit-code", "0");
    stack.golden(&["rebuild", "base"]).expect(0);
    let released = digest(&repository, "1.0.2").unwrap();
    assert_floating(&repository, "1.0.2", &["1.0", "1", "latest"]);
    assert_ne!(released, pushed);

    // A scanner that hangs fails the gate at `scan_timeout`.
    let config = std::fs::read_to_string(stack.config()).unwrap();
    std::fs::write(
        stack.config(),
        config.replacen(
            "[images.base]\n",
            "[images.base]\nscan_timeout = \"2s\"\n",
            1,
        ),
    )
    .unwrap();
    set(&stack, "sleep", "30");
    let started = std::time::Instant::now();
    let timed_out = stack
        .golden(&["rebuild", "base", "--output", "json"])
        .expect(1);
    assert!(started.elapsed() < std::time::Duration::from_secs(25));
    let error = entry(&timed_out.json(), "base")["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(error.contains("timed out after 2s"), "{error}");
    assert_floating(&repository, "1.0.2", &["1.0", "1", "latest"]);
    stack.golden(&["clean"]);
}

#[test]
fn a_scan_without_its_image_placeholder_is_a_located_config_error() {
    let stack = Stack::new("scan-config");
    let config = std::fs::read_to_string(stack.config()).unwrap();
    std::fs::write(
        stack.config(),
        config.replacen(
            "[images.base]\n",
            "[images.base]\nscan = [\"trivy\", \"image\"]\n",
            1,
        ),
    )
    .unwrap();
    let run = stack.golden(&["validate"]).expect(2);
    assert!(
        run.stderr
            .contains("`scan` in [images.base] does not name `{image}`"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("golden.toml:"), "{}", run.stderr);
}

/// The attached scan artifacts of `subject` (not its SBOM): each one's
/// artifact type, whether it passed, and its document.
fn scan_records(repository: &str, subject: &str) -> Vec<(String, String, serde_json::Value)> {
    crate::sbom::referrers(repository, subject)
        .into_iter()
        .filter(|entry| entry["artifactType"] != "application/vnd.cyclonedx+json")
        .map(|entry| {
            let (body, _) = support::manifest(repository, entry["digest"].as_str().unwrap());
            let artifact: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(artifact["subject"]["digest"], subject);
            let layer = artifact["layers"][0]["digest"].as_str().unwrap();
            let document = crate::sbom::blob(repository, layer);
            (
                entry["artifactType"].as_str().unwrap().to_string(),
                artifact["annotations"]["dev.golden.scan.passed"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                serde_json::from_slice(&document).unwrap(),
            )
        })
        .collect()
}

#[test]
fn the_scanners_report_or_else_a_record_is_attached_with_whether_it_passed() {
    let stack = Stack::new("scan-report");
    // A scanner writing SARIF to `{output}` when asked, exiting as told.
    let script = stack.path().join("scan.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nif [ \"$1\" = --output ]; then printf '{{\"version\":\"2.1.0\",\"runs\":[{{\"results\":[{{\"ruleId\":\"CVE-2026-1\"}}]}}]}}' > \"$2\"; fi\nexit \"$(cat '{}/exit-code')\"\n",
            stack.path().display()
        ),
    )
    .unwrap();
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&script)
        .status()
        .unwrap();
    let config = std::fs::read_to_string(stack.config()).unwrap();
    std::fs::write(
        stack.config(),
        config
            .replacen(
                "[images.base]\n",
                &format!(
                    "[images.base]\nscan = [\"{}\", \"--output\", \"{{output}}\", \"{{image}}\"]\nscan_report = \"{{output}}\"\n",
                    script.display()
                ),
                1,
            )
            .replacen(
                "[images.runtime]\n",
                &format!("[images.runtime]\nscan = [\"{}\", \"{{image}}\"]\n", script.display()),
                1,
            ),
    )
    .unwrap();
    set(&stack, "exit-code", "0");
    stack.golden(&["build", "base", "runtime"]).expect(0);
    // The report the scanner wrote, as SARIF.
    let base = stack.repository("base");
    let build = digest(&base, "1.0.0").unwrap();
    let records = scan_records(&base, &build);
    assert_eq!(records.len(), 1, "{records:#?}");
    assert_eq!(records[0].0, "application/sarif+json");
    assert_eq!(records[0].1, "true");
    assert_eq!(
        records[0].2["runs"][0]["results"][0]["ruleId"],
        "CVE-2026-1"
    );
    // A scanner that writes none: golden's record of what ran.
    let runtime = stack.repository("runtime");
    let build = digest(&runtime, "3.0.0").unwrap();
    let records = scan_records(&runtime, &build);
    assert_eq!(records.len(), 1, "{records:#?}");
    assert_eq!(records[0].0, "application/vnd.golden.scan.record.v1+json");
    assert_eq!(records[0].2["passed"], true);
    assert_eq!(records[0].2["image"], format!("{runtime}@{build}"));

    // A failed scan's report is attached to the withdrawn build too.
    stack.update_upstream("CVE-2026-1");
    set(&stack, "exit-code", "1");
    stack.golden(&["build", "base"]).expect(1);
    let withdrawn = digest(&base, "1.0.1").unwrap();
    let records = scan_records(&base, &withdrawn);
    assert_eq!(records.len(), 1, "{records:#?}");
    assert_eq!(records[0].1, "false");
    assert_floating(&base, "1.0.0", &["1.0", "1", "latest"]);
}

#[test]
fn a_rollback_cut_short_moves_tags_back_to_a_release_without_scanning_it_again() {
    let stack = Stack::new("scan-rollback");
    let script = scanner(&stack);
    let base = stack.repository("base");
    // 1.0.0 is released before any scan was configured: it has no record.
    stack.golden(&["build", "base"]).expect(0);
    scan_base_with(&stack, &script);
    set(&stack, "exit-code", "0");
    stack.update_upstream("next");
    stack.golden(&["build", "base"]).expect(0);
    assert_floating(&base, "1.0.1", &["1.0", "1", "latest"]);
    let scans = || scans(&stack);
    assert_eq!(scans(), 1);
    // A rollback cut short: 1.0.1 withdrawn, its tags not moved back yet.
    // The scanner would now fail 1.0.0 (a CVE published since).
    support::retag(&base, "1.0.1", "1.0.1-withdrawn");
    set(&stack, "exit-code", "1");
    let plan = stack
        .golden(&["plan", "base", "--output", "json"])
        .expect(0)
        .json();
    let reasons = &entry(&plan, "base")["reasons"];
    assert_eq!(reasons[0]["kind"], "floating-behind", "{plan:#}");
    // The next build finishes the rollback: 1.0.0 was released through
    // its gate before, so it is not scanned again, and never withdrawn.
    stack.golden(&["build", "base"]).expect(0);
    assert_floating(&base, "1.0.0", &["1.0", "1", "latest"]);
    assert_eq!(scans(), 1, "a release is not scanned again");
    assert_eq!(digest(&base, "1.0.0-withdrawn"), None);
}

/// Sets `scan = [SCRIPT, "{image}"]` on the stack's `base`.
pub(crate) fn scan_base_with(stack: &Stack, script: &std::path::Path) {
    let config = std::fs::read_to_string(stack.config()).unwrap();
    std::fs::write(
        stack.config(),
        config.replacen(
            "[images.base]\n",
            &format!(
                "[images.base]\nscan = [\"{}\", \"{{image}}\"]\n",
                script.display()
            ),
            1,
        ),
    )
    .unwrap();
}

/// How many times [`scanner`] ran.
pub(crate) fn scans(stack: &Stack) -> usize {
    std::fs::read_to_string(stack.path().join("scanned"))
        .unwrap_or_default()
        .lines()
        .count()
}
