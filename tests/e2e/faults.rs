//! End to end: a registry that dies in the middle of a push, against the
//! real engine and a registry process of the test's own.

use crate::support;

use std::process::Command;
use std::time::Duration;

use support::{tags, PrivateRegistry, SEED};

#[test]
fn a_registry_killed_mid_push_leaves_no_floating_tag_and_the_next_run_finishes_the_work() {
    let mut registry = PrivateRegistry::start("");
    let host = registry.host();
    let upstream = format!("{host}/upstream/busybox:1.36");
    for args in [
        vec!["pull", "-q", SEED],
        vec!["tag", SEED, &upstream],
        vec!["push", &upstream],
    ] {
        assert!(
            Command::new("docker")
                .args(&args)
                .output()
                .unwrap()
                .status
                .success(),
            "docker {args:?}"
        );
    }
    let (_directory, config) = support::one_image_config(
        &host,
        "golden",
        "big",
        &format!("FROM {upstream}\nRUN head -c 314572800 /dev/urandom > /payload\n"),
        "retries = 1\n",
    );
    let mut child = support::spawn_golden(&config, &["build", "--all", "--output", "json"]);
    child.wait_for_stderr("pushing", Duration::from_secs(120));
    // Kill it once the registry holds part of the layer: mid-push.
    support::wait_until(
        "the registry to receive part of the layer",
        Duration::from_secs(120),
        || (registry.upload_bytes("golden/big") > 0).then_some(()),
    );
    registry.kill();
    let run = child.finish();
    registry.resume();
    let repository = format!("{host}/golden/big");
    let after_failure = tags(&repository);
    assert_eq!(
        run.code, 3,
        "the run reports the registry as unreachable\n{}\n{}",
        run.stdout, run.stderr
    );
    let report = run.json();
    assert_eq!(report["images"][0]["decision"], "failed");
    let error = report["images"][0]["error"].as_str().unwrap();
    assert!(
        error.contains(&format!("failed to push `{repository}:1.0.0`")),
        "the push itself failed: {error}"
    );
    eprintln!("what golden said: {error}");
    for floating in ["1.0", "1", "latest"] {
        assert!(
            !after_failure.contains(&floating.to_string()),
            "no floating tag after a failed push: {after_failure:?}"
        );
    }

    let next = support::golden_at(&config, &["build", "--all"]).expect(0);
    assert!(
        next.stdout.contains("big:1.0.0"),
        "the same number is built again, none skipped:\n{}",
        next.stdout
    );
    assert_eq!(tags(&repository), vec!["1", "1.0", "1.0.0", "latest"]);
    support::assert_floating(&repository, "1.0.0", &["1.0", "1", "latest"]);
}
