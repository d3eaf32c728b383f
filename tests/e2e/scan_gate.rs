//! The scan gate (`scan` in golden.toml), on the real engine and registry:
//! a stub scanner the test writes sees the pushed image by digest; exit 0
//! lets the floating tags move, exit 1 (or a timeout) keeps every floating
//! tag where it was, withdraws the pushed build and fails the image as
//! `scan-failed` with the scanner's last lines.

use crate::support;

use support::{assert_floating, digest, entry, tags, Stack};

/// A scanner stub: logs its arguments, prints a finding, and exits with
/// the code in `exit-code` beside it (after sleeping `sleep` seconds).
fn scanner(stack: &Stack) -> std::path::PathBuf {
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

fn set(stack: &Stack, file: &str, value: &str) {
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
