//! End to end: `golden daemon` builds a newly due image on its tick and
//! stops cleanly on SIGTERM, against the real engine and registry.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{digest, Stack};

/// Polls `condition` every 200 ms for up to `limit`.
fn wait_until(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

#[test]
fn the_daemon_builds_a_newly_due_image_then_stops_cleanly_on_sigterm() {
    let stack = Stack::new("daemon");
    stack.golden(&["build", "--all"]).expect(0);
    let log = stack.path().join("daemon.log");
    let mut daemon = Command::new(env!("CARGO_BIN_EXE_golden"))
        .arg("-c")
        .arg(stack.config())
        .args(["daemon", "--interval", "1s"])
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();

    stack.write("images/runtime/src/app.conf", "listen = 9090\n");
    let runtime = stack.repository("runtime");
    // Built and promoted: `3.0` moves last, after the exact tag.
    let built = wait_until(Duration::from_secs(120), || {
        let exact = digest(&runtime, "3.0.1");
        exact.is_some() && digest(&runtime, "3.0") == exact
    });
    let text = || std::fs::read_to_string(&log).unwrap_or_default();
    if !built {
        let _ = daemon.kill();
        panic!("the daemon did not build runtime 3.0.1:\n{}", text());
    }
    for tag in ["3", "latest"] {
        assert_eq!(
            digest(&runtime, tag),
            digest(&runtime, "3.0.1"),
            "floating tag {tag} moved"
        );
    }
    assert!(
        digest(&stack.repository("base"), "1.0.1").is_none(),
        "nothing else was due"
    );

    let status = Command::new("kill")
        .args(["-TERM", &daemon.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut code = None;
    wait_until(Duration::from_secs(60), || {
        code = daemon.try_wait().unwrap().map(|status| status.code());
        code.is_some()
    });
    if code.is_none() {
        let _ = daemon.kill();
        panic!("the daemon did not stop within 60s of SIGTERM:\n{}", text());
    }
    assert_eq!(code, Some(Some(0)), "{}", text());
    let output = text();
    assert!(
        output.contains("run finished: 1 built (runtime 3.0.1)"),
        "{output}"
    );
    assert!(output.contains("daemon stopped"), "{output}");
}
