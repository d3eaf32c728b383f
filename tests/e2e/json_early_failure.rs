//! `--output json` when a command fails before any result: a JSON document
//! with the error is still printed on stdout, and `--report FILE` still
//! written, for a config error, an unreachable engine or registry, and a
//! held lock.

use crate::support;

use std::path::{Path, PathBuf};

use support::{one_image_config, Golden, Run, REGISTRY, SEED};

/// Checks stdout is one JSON document whose `error` contains `needle`,
/// with no images, and that the report file says the same.
fn assert_error_document(run: &Run, report: &Path, needle: &str) {
    let document = run.json();
    let error = document["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error: {document:#}"));
    assert!(error.contains(needle), "`{needle}` not in `{error}`");
    assert_eq!(document["images"], serde_json::json!([]));
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report).expect("the report is written"))
            .unwrap();
    assert_eq!(written["error"], document["error"]);
}

fn report_in(directory: &Path) -> PathBuf {
    directory.join("report.json")
}

#[test]
fn a_config_error_prints_a_json_error_and_writes_the_report() {
    let directory = tempfile::tempdir().unwrap();
    let config = directory.path().join("golden.toml");
    std::fs::write(
        &config,
        "[registry]\nhost = \"127.0.0.1:5000\"\nnamspace = \"x\"\n",
    )
    .unwrap();
    let report = report_in(directory.path());
    let run = Golden::at(&config)
        .args(["plan", "--output", "json", "--report"])
        .args([&report])
        .run()
        .expect(2);
    assert_error_document(&run, &report, "namspace");
    assert!(
        run.stderr.contains("namspace"),
        "stderr keeps the error: {}",
        run.stderr
    );
}

#[test]
fn every_command_with_output_json_prints_the_error_document() {
    let directory = tempfile::tempdir().unwrap();
    let config = directory.path().join("missing.toml");
    for args in [
        vec!["ls"],
        vec!["inspect", "x"],
        vec!["prune"],
        vec!["rollback", "x"],
        vec!["clean"],
        vec!["validate"],
        vec!["build", "--all"],
        vec!["rebuild", "x"],
        vec!["check", "."],
    ] {
        let run = Golden::at(&config)
            .args(&args)
            .args(["--output", "json"])
            .run()
            .expect(2);
        let document = run.json();
        assert!(
            document["error"]
                .as_str()
                .is_some_and(|e| e.contains("missing.toml")),
            "{args:?}: {document:#}"
        );
    }
}

#[test]
fn an_unreachable_engine_prints_a_json_error_and_writes_the_report() {
    let (directory, config) = one_image_config(
        REGISTRY,
        "json-early-engine",
        "x",
        &format!("FROM {SEED}\n"),
        "",
    );
    let report = report_in(directory.path());
    let run = Golden::at(&config)
        .args([
            "build",
            "--all",
            "--output",
            "json",
            "--engine",
            "unix:///nonexistent/docker.sock",
            "--report",
        ])
        .args([&report])
        .run()
        .expect(3);
    assert_error_document(&run, &report, "/nonexistent/docker.sock");
}

#[test]
fn an_unreachable_registry_prints_a_json_error_and_writes_the_report() {
    let (directory, config) = one_image_config(
        "127.0.0.1:9",
        "json-early-registry",
        "x",
        &format!("FROM {SEED}\n"),
        "",
    );
    let report = report_in(directory.path());
    let run = Golden::at(&config)
        .args(["plan", "--output", "json", "--report"])
        .args([&report])
        .run()
        .expect(3);
    assert_error_document(&run, &report, "127.0.0.1:9");
}

#[test]
fn a_held_lock_prints_a_json_error_and_writes_the_report() {
    support::require_environment();
    let namespace = format!("json-early-lock-{}", std::process::id());
    let (directory, config) =
        one_image_config(REGISTRY, &namespace, "x", &format!("FROM {SEED}\n"), "");
    // The first run holds the lock while its slow build runs.
    let slow = directory.path().join("x/Dockerfile");
    std::fs::write(&slow, format!("FROM {SEED}\nRUN sleep 5\n")).unwrap();
    let mut first = Golden::at(&config).args(["build", "--all"]).spawn();
    first.wait_for_stderr("building", std::time::Duration::from_secs(60));
    let report = report_in(directory.path());
    let run = Golden::at(&config)
        .args(["build", "--all", "--output", "json", "--report"])
        .args([&report])
        .run()
        .expect(4);
    assert_error_document(&run, &report, "another golden run");
    first.finish().expect(0);
    // What the first run pushed and tagged goes with the test.
    let repository = format!("{REGISTRY}/{namespace}/x");
    for tag in ["1.0.0", "1.0", "1", "latest"] {
        let _ = std::process::Command::new("docker")
            .args(["rmi", "-f", &format!("{repository}:{tag}")])
            .output();
    }
}

#[test]
fn every_json_document_says_its_format_version_first_but_the_ci_matrix() {
    let (directory, config) = one_image_config(
        REGISTRY,
        &format!("e2e-json-version-{}", std::process::id()),
        "x",
        &format!("FROM {SEED}\nRUN true\n"),
        "",
    );
    let report = report_in(directory.path());
    let report_arg = report.to_str().unwrap();
    let dockerfile = directory.path().join("x/Dockerfile");
    for args in [
        &["validate", "--output", "json"][..],
        &["plan", "--output", "json", "--report", report_arg],
        &["ls", "--output", "json"],
        &["engines", "--output", "json"],
        &["inspect", "x", "--output", "json"],
        &["prune", "--output", "json"],
        &["check", dockerfile.to_str().unwrap(), "--output", "json"],
    ] {
        let run = Golden::at(&config).args(args).run();
        assert!(
            run.stdout.starts_with("{\n  \"version\": 1,"),
            "golden {args:?} (exit {}):\n{}{}",
            run.code,
            run.stdout,
            run.stderr
        );
    }
    let written = std::fs::read_to_string(&report).unwrap();
    assert!(written.starts_with("{\n  \"version\": 1,"), "{written}");
    // A CI matrix keeps the shape GitHub reads: every key is an axis.
    let matrix = Golden::at(&config)
        .args(["plan", "--output", "matrix"])
        .run()
        .expect(0);
    let matrix: serde_json::Value = serde_json::from_str(&matrix.stdout).unwrap();
    assert!(matrix.get("version").is_none(), "{matrix}");
}
