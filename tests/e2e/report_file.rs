//! End to end: `--report FILE` is checked before anything is built, and a
//! run that fails early still writes its report, with the error.

use crate::support;

use support::{golden_at, one_image_config, tags, REGISTRY, SEED};

#[test]
fn an_unwritable_report_path_is_exit_2_before_anything_is_built() {
    support::require_environment();
    let namespace = format!("e2e-report-{}", std::process::id());
    let (directory, config) =
        one_image_config(REGISTRY, &namespace, "img", &format!("FROM {SEED}\n"), "");
    let path = directory.path().join("no-such-directory/report.json");
    let run = golden_at(
        &config,
        &["build", "--all", "--report", path.to_str().unwrap()],
    )
    .expect(2);
    assert!(
        run.stderr.contains("cannot write the report to")
            && run.stderr.contains("nothing was built"),
        "{}",
        run.stderr
    );
    assert!(tags(&format!("{REGISTRY}/{namespace}/img")).is_empty());
}

#[test]
fn a_run_that_fails_early_still_writes_its_report() {
    // Nothing listens on port 9: the registry check fails before any build.
    let (directory, config) = one_image_config(
        "127.0.0.1:9",
        "e2e-report",
        "img",
        &format!("FROM {SEED}\n"),
        "",
    );
    let path = directory.path().join("report.json");
    let run = golden_at(
        &config,
        &["build", "--all", "--report", path.to_str().unwrap()],
    );
    assert_ne!(run.code, 0, "{}", run.stderr);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("the report was written"))
            .unwrap();
    let error = report["error"].as_str().unwrap_or_default();
    assert!(error.contains("127.0.0.1:9"), "{report:#}");
    assert_eq!(report["images"], serde_json::json!([]));
}
