//! End to end: `golden daemon` builds a newly due image on its tick and
//! stops cleanly on SIGTERM, against the real engine and registry.

use crate::support;

use std::time::Duration;

use support::{assert_floating, digest, try_wait_until, Stack};

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
