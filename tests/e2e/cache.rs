//! End to end: a build for freshness really rebuilds. A scheduled build
//! and a `golden rebuild` run every step (no build cache), so a `RUN` that
//! fetches patches runs again; `rebuild --cache` may reuse the cache.

use crate::support;

use support::{golden_at, manifest, one_image_config, REGISTRY, SEED};

/// The digest of the last layer of `repository:tag`: the `RUN` step.
fn run_layer(repository: &str, tag: &str) -> String {
    let (body, _) = manifest(repository, tag);
    let manifest: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let layers = manifest["layers"].as_array().unwrap();
    layers.last().unwrap()["digest"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn scheduled_builds_and_rebuilds_run_every_step() {
    support::require_environment();
    let namespace = format!("e2e-cache-{}", std::process::id());
    let (_directory, config) = one_image_config(
        REGISTRY,
        &namespace,
        "fresh",
        &format!("FROM {SEED}\nRUN head -c 32 /dev/urandom | od -x > /patch-level\n"),
        "",
    );
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("schedule = \"@daily\"\n");
    std::fs::write(&config, text).unwrap();
    let repository = format!("{REGISTRY}/{namespace}/fresh");
    golden_at(&config, &["build", "--all"]).expect(0);
    let first = run_layer(&repository, "1.0.0");

    let later = (chrono::Utc::now() + chrono::Duration::days(2)).to_rfc3339();
    let plan = golden_at(&config, &["plan", "--now", &later]).expect(0);
    assert!(plan.stdout.contains("build (no cache)"), "{}", plan.stdout);
    let report = golden_at(&config, &["plan", "--now", &later, "--output", "json"])
        .expect(0)
        .json();
    assert_eq!(report["images"][0]["cache"], false, "{report:#}");
    golden_at(&config, &["build", "--all", "--now", &later]).expect(0);
    let scheduled = run_layer(&repository, "1.0.1");
    assert_ne!(
        scheduled, first,
        "the scheduled build reused the cached RUN layer"
    );

    golden_at(&config, &["rebuild", "fresh"]).expect(0);
    let rebuilt = run_layer(&repository, "1.0.2");
    assert_ne!(
        rebuilt, scheduled,
        "the rebuild reused the cached RUN layer"
    );

    golden_at(&config, &["rebuild", "fresh", "--cache"]).expect(0);
    assert_eq!(
        run_layer(&repository, "1.0.3"),
        rebuilt,
        "--cache lets the rebuild reuse the RUN layer"
    );
}

#[test]
fn a_cache_policy_that_is_not_one_is_a_located_config_error() {
    let (_directory, config) = one_image_config(
        REGISTRY,
        "e2e-cache-bad",
        "fresh",
        &format!("FROM {SEED}\n"),
        "",
    );
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("cache = \"sometimes\"\n");
    std::fs::write(&config, text).unwrap();
    let run = golden_at(&config, &["plan"]).expect(2);
    assert!(
        run.stderr.contains("`sometimes` is not a cache policy")
            && run.stderr.contains("golden.toml:"),
        "{}",
        run.stderr
    );
}

/// The local tags of `repository` on the engine, sorted.
fn local_tags(repository: &str) -> Vec<String> {
    let output = std::process::Command::new("docker")
        .args(["images", repository, "--format", "{{.Tag}}"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let mut tags: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    tags.sort();
    tags
}

#[test]
fn the_build_host_keeps_only_the_newest_build_of_a_line_and_clean_removes_it() {
    support::require_environment();
    let namespace = format!("e2e-host-{}", std::process::id());
    let (_directory, config) = one_image_config(
        REGISTRY,
        &namespace,
        "tidy",
        &format!("FROM {SEED}\nRUN echo tidy > /tidy\n"),
        "",
    );
    let repository = format!("{REGISTRY}/{namespace}/tidy");
    golden_at(&config, &["build", "--all"]).expect(0);
    golden_at(&config, &["rebuild", "tidy"]).expect(0);
    let run = golden_at(&config, &["rebuild", "tidy"]).expect(0);
    assert_eq!(local_tags(&repository), ["1.0.2"], "{}", run.stderr);
    assert!(
        run.stderr
            .contains("removed the local tag of an older build"),
        "{}",
        run.stderr
    );
    // A build whose smoke test fails leaves no local exact tag behind.
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("test = [\"false\"]\n");
    std::fs::write(&config, text).unwrap();
    golden_at(&config, &["rebuild", "tidy"]).expect(1);
    assert_eq!(
        local_tags(&repository),
        ["1.0.2"],
        "the untested 1.0.3 stays nowhere"
    );
    let cleaned = golden_at(&config, &["clean"]).expect(0);
    assert!(
        cleaned
            .stdout
            .contains("removed 1 local tag(s) of 1 repository(ies)"),
        "{}",
        cleaned.stdout
    );
    assert!(local_tags(&repository).is_empty());
    // The registry is not touched.
    assert!(support::digest(&repository, "1.0.2").is_some());
}
