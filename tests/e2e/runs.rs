//! End to end: overlapping runs of one config never build at once, a
//! signal stops a run cleanly, and what a killed run left running is
//! cleaned up by the next one, against the real engine and registry.

use crate::support;

use std::process::Command;
use std::time::Duration;

use support::{
    assert_floating, containers, digest, golden_at, one_image_config, spawn_golden, tags,
    wait_until, Stack, REGISTRY, SEED,
};

fn slow_base(stack: &Stack) {
    stack.write(
        "images/base/Dockerfile",
        "FROM 127.0.0.1:5000/upstream/busybox:1.36\nRUN sleep 4 && mkdir -p /etc/golden && echo base > /etc/golden/release\n",
    );
}

#[test]
fn a_second_run_of_the_same_config_waits_or_exits_4() {
    let stack = Stack::new("lock");
    slow_base(&stack);
    let mut first = stack.spawn_golden(&["build", "--all"]);
    first.wait_for_stderr("building", Duration::from_secs(60));
    let second = stack.golden(&["build", "--all"]).expect(4);
    assert!(
        second.stderr.contains("another golden run"),
        "{}",
        second.stderr
    );
    assert!(second.stderr.contains("--wait-lock"), "{}", second.stderr);
    let waiting = stack
        .golden(&["build", "--all", "--wait-lock", "2m"])
        .expect(0);
    assert!(
        waiting.stdout.contains("nothing due"),
        "the waiting run sees the first run's work:\n{}",
        waiting.stdout
    );
    let first = first.finish();
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_eq!(
        tags(&stack.repository("base")),
        vec!["1", "1.0", "1.0.0", "latest"],
        "no duplicated build"
    );
}

#[test]
fn sigterm_lets_the_image_in_flight_finish_and_starts_nothing_new() {
    let stack = Stack::new("sigterm");
    slow_base(&stack);
    let mut child = stack.spawn_golden(&["build", "--all", "--jobs", "1", "--output", "json"]);
    child.wait_for_stderr("building", Duration::from_secs(60));
    child.signal("TERM");
    let run = child.finish();
    assert_eq!(run.code, 143, "{}\n{}", run.stdout, run.stderr);
    let report = run.json();
    let images = report["images"].as_array().unwrap();
    let built: Vec<&str> = images
        .iter()
        .filter(|i| i["decision"] == "built")
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(built, vec!["base"], "only the image in flight finishes");
    assert!(images.iter().filter(|i| i["decision"] == "skipped").count() == 3);
    // Each says it was interrupted, never "parent rebuilt" or "failed".
    for image in images.iter().filter(|i| i["decision"] == "skipped") {
        assert_eq!(
            image["reasons"],
            serde_json::json!([{"kind": "interrupted", "signal": "SIGTERM"}]),
            "{image:#}"
        );
        assert_eq!(image["error"], "not started: stopped by SIGTERM; run again");
    }
    // The image in flight was pushed and its floating tags moved.
    assert_floating(&stack.repository("base"), "1.0.0", &["1.0", "1", "latest"]);
    assert!(
        tags(&stack.repository("runtime")).is_empty(),
        "nothing new was started"
    );
    // The lock is released: the next run finishes the rest.
    stack.golden(&["build", "--all"]).expect(0);
    assert!(digest(&stack.repository("runtime"), "3.0.0").is_some());
}

/// Removes a run's smoke-test containers however the test ends.
struct Cleanup {
    label: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for id in containers(&self.label, true) {
            let _ = Command::new("docker").args(["rm", "-f", &id]).output();
        }
    }
}

#[test]
fn a_smoke_test_container_left_by_a_killed_run_is_removed_by_the_next_run_but_a_live_runs_is_not() {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let unique = format!("{}-{nanos}", std::process::id());
    let namespace = format!("e2e-leftover-{unique}");
    let (_directory, config) = one_image_config(
        REGISTRY,
        &namespace,
        "sleepy",
        &format!("FROM {SEED}\n"),
        "",
    );
    let image = format!("{REGISTRY}/{namespace}/sleepy:1.0.0");
    let label = format!("io.golden.smoke-test={image}");
    let with_test = |test: &str| {
        let text = std::fs::read_to_string(&config).unwrap();
        let text = text.split("test = ").next().unwrap().to_string();
        std::fs::write(
            &config,
            format!("{text}test = {test}\ntest_timeout = \"10m\"\n"),
        )
        .unwrap();
    };
    with_test(r#"["sleep", "300"]"#);
    let _cleanup = Cleanup {
        label: label.clone(),
    };
    let mut child = spawn_golden(&config, &["build", "--all"]);
    let container = wait_until(
        "the engine to run the smoke-test container",
        Duration::from_secs(120),
        || containers(&label, false).pop(),
    );

    // A run on another namespace while the first one is alive leaves the
    // first one's test container running.
    let other_namespace = format!("e2e-leftover-other-{unique}");
    let (_other_directory, other) = one_image_config(
        REGISTRY,
        &other_namespace,
        "quick",
        &format!("FROM {SEED}\n"),
        "",
    );
    let other_run = golden_at(&other, &["build", "--all"]).expect(0);
    assert!(
        !other_run.stderr.contains("removed"),
        "{}",
        other_run.stderr
    );
    assert_eq!(
        containers(&label, false),
        vec![container.clone()],
        "a live run's smoke test keeps running"
    );

    // kill -9: the run cannot clean up; the engine still runs its test
    // (and the next run below names this very container as it removes it).
    child.kill();
    assert_eq!(
        containers(&label, false),
        vec![container.clone()],
        "kill -9 leaves the smoke-test container running"
    );

    with_test(r#"["true"]"#);
    let next = golden_at(&config, &["build", "--all"]).expect(0);
    assert!(
        next.stderr.contains(&format!(
            "removed smoke-test container `{}` of `{image}`",
            &container[..12]
        )),
        "{}",
        next.stderr
    );
    assert!(
        next.stderr.contains("which is no longer running"),
        "{}",
        next.stderr
    );
    assert!(
        containers(&label, true).is_empty(),
        "the leftover is gone (and the new run removed its own)"
    );
    assert!(digest(&format!("{REGISTRY}/{namespace}/sleepy"), "1.0.0").is_some());
}
