//! End to end: failures stay isolated, smoke tests gate every push, and the
//! reports say exactly what happened, against the real engine and registry.

use crate::support;

use support::{assert_tags_at, digest, entry, tags, Stack};

#[test]
fn a_failing_parent_skips_its_children_while_its_siblings_publish() {
    let stack = Stack::new("isolation");
    stack.write(
        "images/base/Dockerfile",
        "FROM 127.0.0.1:5000/upstream/busybox:1.36\nRUN echo 'mirror unreachable' >&2 && exit 7\n",
    );
    let report_file = stack.path().join("report.json");
    let run = stack
        .golden(&[
            "build",
            "--all",
            "--jobs",
            "2",
            "--report",
            report_file.to_str().unwrap(),
        ])
        .expect(1);
    assert!(
        run.stdout.contains("0 up to date, 1 failed, 2 skipped"),
        "human output on stdout:\n{}",
        run.stdout
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report_file).unwrap()).unwrap();
    assert_eq!(entry(&report, "base")["decision"], "failed");
    assert!(entry(&report, "base")["error"]
        .as_str()
        .unwrap()
        .contains("exit 7"));
    for child in ["tools", "tools-lts"] {
        assert_eq!(entry(&report, child)["decision"], "skipped", "{child}");
        assert_eq!(
            entry(&report, child)["reasons"],
            serde_json::json!([{ "kind": "parent-failed", "parent": "base" }])
        );
        assert_eq!(entry(&report, child)["tag"], serde_json::Value::Null);
    }
    assert_eq!(entry(&report, "runtime")["decision"], "built");
    assert_eq!(entry(&report, "runtime")["tag"], "3.0.0");
    assert_eq!(report["totals"]["built"], 1);
    assert_eq!(report["totals"]["failed"], 1);
    assert_eq!(report["totals"]["skipped"], 2);
    assert!(tags(&stack.repository("base")).is_empty());
    assert!(tags(&stack.repository("tools")).is_empty());
    assert_eq!(
        tags(&stack.repository("runtime")),
        vec!["3", "3.0", "3.0.0", "latest"]
    );
}

#[test]
fn a_failing_smoke_test_publishes_nothing_and_leaves_floating_tags_alone() {
    let stack = Stack::new("smoke");
    stack.golden(&["build", "--all"]).expect(0);
    let runtime = stack.repository("runtime");
    let before = digest(&runtime, "3.0.0").unwrap();
    // A passing test on tools, a failing one on runtime.
    let config = std::fs::read_to_string(stack.config()).unwrap();
    let config = config
        .replace(
            "schedule = \"0 4 * * 1\"\n",
            "schedule = \"0 4 * * 1\"\ntest = [\"/usr/local/bin/healthcheck\"]\n",
        )
        .replace(
            "schedule = \"@daily\"\n",
            "schedule = \"@daily\"\ntest = [\"sh\", \"-c\", \"grep -q 'listen = 8443' /etc/runtime/app.conf || { echo 'wrong port' >&2; exit 4; }\"]\ntest_timeout = \"30s\"\n",
        );
    std::fs::write(stack.config(), config).unwrap();
    let run = stack
        .golden(&["rebuild", "runtime", "tools", "--output", "json"])
        .expect(1);
    let report = run.json();
    let failed = &entry(&report, "runtime");
    assert_eq!(failed["decision"], "failed");
    let error = failed["error"].as_str().unwrap();
    assert!(
        error.contains("smoke test") && error.contains("exited with code 4"),
        "{error}"
    );
    assert!(
        error.contains("wrong port"),
        "the test's output is shown: {error}"
    );
    assert!(failed["test_seconds"].as_f64().is_some());
    assert!(digest(&runtime, "3.0.1").is_none(), "nothing was pushed");
    // runtime's floating tags stay where they were.
    assert_tags_at(&runtime, &["3.0", "3", "latest"], &before);
    assert_eq!(entry(&report, "tools")["decision"], "built");
    assert!(entry(&report, "tools")["test_seconds"].as_f64().is_some());
    assert!(digest(&stack.repository("tools"), "2.1.1").is_some());
    let leftovers = std::process::Command::new("docker")
        .args([
            "ps",
            "-aq",
            "--filter",
            &format!("label=io.golden.smoke-test={runtime}:3.0.1"),
        ])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&leftovers.stdout).trim().is_empty(),
        "smoke-test containers are removed"
    );
}

#[test]
fn a_smoke_test_that_hangs_times_out() {
    let stack = Stack::new("smoke-timeout");
    stack.append_config("test = [\"sleep\", \"600\"]\ntest_timeout = \"2s\"\n");
    let run = stack.golden(&["build", "runtime", "--quiet"]).expect(1);
    assert!(run.stdout.contains("timed out after 2s"), "{}", run.stdout);
    assert!(
        run.stderr.is_empty(),
        "--quiet prints nothing on stderr:\n{}",
        run.stderr
    );
    assert!(tags(&stack.repository("runtime")).is_empty());
}

/// A line whose smoke test failed is held while its inputs stay the same;
/// the test is one of them: fixing it in golden.toml builds the line at
/// once, as the failure's hint says, not after the backoff.
#[test]
fn a_failing_line_whose_smoke_test_is_fixed_in_golden_toml_builds_at_once() {
    let stack = Stack::new("test-fixed");
    let config = std::fs::read_to_string(stack.config()).unwrap();
    let with_test = |command: &str| {
        let text = config.replacen(
            "[images.base]\n",
            &format!("[images.base]\ntest = [\"{command}\"]\n"),
            1,
        );
        std::fs::write(stack.config(), text).unwrap();
    };
    with_test("false");
    stack.golden(&["build", "base"]).expect(1);
    let held = stack.golden(&["build", "base"]).expect(1);
    assert!(held.stdout.contains("failing since"), "{}", held.stdout);
    with_test("true");
    let fixed = stack
        .golden(&["build", "base", "--output", "json"])
        .expect(0);
    assert_eq!(
        entry(&fixed.json(), "base")["decision"],
        "built",
        "{}",
        fixed.stdout
    );
}
