//! `golden check` on a corpus of application Dockerfiles, good and bad
//! (multi-stage, ARGs with and without defaults, --platform, comments,
//! continuations, lowercase `from`, digests, scratch, a stage named like an
//! image), through the real binary; findings snapshotted.

use crate::support;

use std::path::Path;

use support::Golden;

fn check(config: &str, args: &[&str]) -> (i32, String) {
    let run = Golden::at(Path::new(config))
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")))
        .args(["check"])
        .args(args)
        .run();
    assert!(run.stderr.is_empty() || run.code == 2, "{}", run.stderr);
    (run.code, run.stdout)
}

const CONFIG: &str = "tests/fixtures/check/golden.toml";
const APPS: &str = "tests/fixtures/check/apps";

#[test]
fn the_corpus_gives_exactly_the_expected_findings() {
    let (code, text) = check(CONFIG, &[APPS]);
    assert_eq!(code, 1);
    insta::assert_snapshot!("corpus_text", text);
    let (code, json) = check(CONFIG, &[APPS, "--output", "json"]);
    assert_eq!(code, 1);
    insta::assert_snapshot!("corpus_json", json);
}

#[test]
fn good_dockerfiles_pass_with_exit_0() {
    let (code, text) = check(CONFIG, &[&format!("{APPS}/good")]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("7 Dockerfile(s) checked: all start FROM golden images"),
        "{text}"
    );
}

#[test]
fn build_args_reach_the_from_lines() {
    let file = format!("{APPS}/good/overridable.Dockerfile");
    let (code, text) = check(CONFIG, &[&file, "--build-arg", "BASE=alpine:3.20"]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("overridable.Dockerfile:2:1: the final stage starts FROM `alpine:3.20`"),
        "{text}"
    );
    let (code, _) = check(
        CONFIG,
        &[
            &format!("{APPS}/bad/arg-without-default"),
            "--build-arg",
            "BASE=registry.local:5000/golden/base:1.0",
        ],
    );
    assert_eq!(code, 0);
}

#[test]
fn all_stages_checks_build_stages_too() {
    let (code, text) = check(
        "tests/fixtures/check/golden-all-stages.toml",
        &[&format!("{APPS}/good/multistage")],
    );
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("multistage/Dockerfile:1:29: a build stage starts FROM `mcr.microsoft.com/dotnet/sdk:8.0`"), "{text}");
}

#[test]
fn sarif_output_is_a_sarif_2_1_0_log() {
    let (code, sarif) = check(CONFIG, &[&format!("{APPS}/bad"), "--output", "sarif"]);
    assert_eq!(code, 1);
    let log: serde_json::Value = serde_json::from_str(&sarif).unwrap();
    assert_eq!(log["version"], "2.1.0");
    let results = log["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 7);
    let first = &results[0];
    assert_eq!(first["ruleId"], "unparsable");
    assert_eq!(
        first["locations"][0]["physicalLocation"]["region"]["startLine"],
        2
    );
    assert!(
        first["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .unwrap()
            .ends_with("arg-without-default/Dockerfile")
    );
}

#[test]
fn a_missing_path_is_a_usage_error() {
    let (code, _) = check(CONFIG, &["tests/fixtures/check/nope"]);
    assert_eq!(code, 2);
}
