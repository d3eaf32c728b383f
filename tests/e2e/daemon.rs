//! End to end: `golden daemon` builds a newly due image on its tick and
//! stops cleanly on SIGTERM, against the real engine and registry.

use crate::support;

use std::time::Duration;

use support::{assert_floating, digest, git, try_wait_until, Stack};

#[test]
fn the_daemon_builds_a_newly_due_image_then_stops_cleanly_on_sigterm() {
    let stack = Stack::new("daemon");
    stack.golden(&["build", "--all"]).expect(0);
    let daemon = stack.spawn_golden(&["daemon", "--interval", "1s"]);

    stack.write("images/runtime/src/app.conf", "listen = 9090\n");
    let runtime = stack.repository("runtime");
    // Built and promoted: the floating tags move after the exact tag, one
    // request each, so wait for all of them.
    let built = try_wait_until(Duration::from_secs(120), || {
        let exact = digest(&runtime, "3.0.1");
        let moved = ["3.0", "3", "latest"]
            .iter()
            .all(|tag| digest(&runtime, tag) == exact);
        (exact.is_some() && moved).then_some(())
    });
    assert!(
        built.is_some(),
        "the daemon did not build runtime 3.0.1 within 120s:\n{}",
        daemon.stderr()
    );
    assert_floating(&runtime, "3.0.1", &["3", "latest"]);
    assert!(
        digest(&stack.repository("base"), "1.0.1").is_none(),
        "nothing else was due"
    );

    daemon.signal("TERM");
    let run = daemon.finish_within(Duration::from_secs(60));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("run finished: 1 built (runtime 3.0.1)"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("daemon stopped"), "{}", run.stderr);
}

#[test]
fn with_git_pull_the_daemon_builds_a_change_merged_upstream_and_survives_a_remote_that_is_gone() {
    let stack = Stack::new("daemon_pull");
    stack.golden(&["build", "--all"]).expect(0);
    // The stack's repository becomes a clone of a bare "remote"; a second
    // clone is where a merge lands.
    stack.commit();
    let remote = tempfile::tempdir().unwrap();
    let bare = remote.path().join("golden-images.git");
    git(
        remote.path(),
        &[
            "clone",
            "-q",
            "--bare",
            stack.path().to_str().unwrap(),
            "golden-images.git",
        ],
    );
    git(
        stack.path(),
        &["remote", "add", "origin", bare.to_str().unwrap()],
    );
    git(stack.path(), &["fetch", "-q", "origin"]);
    let branch = String::from_utf8(
        std::process::Command::new("git")
            .arg("-C")
            .arg(stack.path())
            .args(["rev-parse", "--abbrev-ref", "HEAD"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .to_string();
    git(
        stack.path(),
        &[
            "branch",
            "-q",
            &format!("--set-upstream-to=origin/{branch}"),
        ],
    );
    let elsewhere = remote.path().join("work");
    git(
        remote.path(),
        &[
            "clone",
            "-q",
            bare.to_str().unwrap(),
            elsewhere.to_str().unwrap(),
        ],
    );

    let daemon = stack.spawn_golden(&["daemon", "--interval", "1s", "--git-pull"]);
    std::fs::write(
        elsewhere.join("images/runtime/src/app.conf"),
        "listen = 9191\n",
    )
    .unwrap();
    git(
        &elsewhere,
        &["commit", "-q", "-am", "runtime listens on 9191"],
    );
    git(&elsewhere, &["push", "-q", "origin", "HEAD"]);

    let runtime = stack.repository("runtime");
    let built = try_wait_until(Duration::from_secs(120), || {
        digest(&runtime, "3.0.1").map(|_| ())
    });
    assert!(
        built.is_some(),
        "the merged change was not built within 120s:\n{}",
        daemon.stderr()
    );
    assert!(
        daemon.stderr().contains("git pull: "),
        "{}",
        daemon.stderr()
    );

    // The remote goes away: each tick says so and goes on.
    std::fs::remove_dir_all(&bare).unwrap();
    let warned = try_wait_until(Duration::from_secs(60), || {
        daemon
            .stderr()
            .contains("failed: ")
            .then_some(())
            .filter(|_| {
                daemon
                    .stderr()
                    .contains("this tick builds the checkout as it is")
            })
    });
    assert!(warned.is_some(), "{}", daemon.stderr());
    daemon.signal("TERM");
    let run = daemon.finish_within(Duration::from_secs(60));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.matches("run finished:").count() + run.stderr.matches("INFO tick: ").count()
            >= 2,
        "ticks went on after the remote was gone:\n{}",
        run.stderr
    );

    // Without an upstream branch the daemon does not start.
    let lone = tempfile::tempdir().unwrap();
    std::fs::copy(stack.config(), lone.path().join("golden.toml")).unwrap();
    let refused = support::Golden::at(&lone.path().join("golden.toml"))
        .args(["daemon", "--git-pull"])
        .run()
        .expect(2);
    assert!(
        refused.stderr.contains("--git-pull needs"),
        "{}",
        refused.stderr
    );
}
