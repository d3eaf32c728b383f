//! End to end: the first contact with the Docker Engine tells an engine that
//! is down (no socket, nothing listening) from one that accepts the
//! connection but does not answer in time, and says which. These runs stop
//! at the probe, so they need neither a real engine nor the registry.

use crate::support;

use std::os::unix::net::UnixListener;
use std::time::{Duration, Instant};

use support::{golden_at, one_image_config, Run, REGISTRY};

/// A config of one image whose engine is `host`, probed for at most
/// `timeout`, under a namespace of test `name` (so the runs' locks differ).
fn config_with_engine(
    name: &str,
    host: &str,
    timeout: &str,
) -> (tempfile::TempDir, std::path::PathBuf) {
    one_image_config(
        REGISTRY,
        &format!("e2e-engine-probe-{name}-{}", std::process::id()),
        "base",
        "FROM scratch\n",
        &format!("[engine]\nhost = \"{host}\"\nprobe_timeout = \"{timeout}\"\n"),
    )
}

fn build(config: &std::path::Path) -> (Run, Duration) {
    let started = Instant::now();
    let run = golden_at(config, &["build", "--all"]);
    (run, started.elapsed())
}

#[test]
fn an_engine_that_accepts_but_never_answers_is_reported_slow_after_the_probe_timeout() {
    let sockets = tempfile::tempdir().unwrap();
    let path = sockets.path().join("slow.sock");
    // Accepts every connection and holds it open without a byte of answer,
    // as a dockerd too busy to serve the API does.
    let listener = UnixListener::bind(&path).unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    let host = format!("unix://{}", path.display());
    let (_directory, config) = config_with_engine("slow", &host, "1s");
    let (run, took) = build(&config);
    let run = run.expect(3);
    assert!(
        run.stderr.contains(&format!(
            "error: the Docker Engine at `{host}` did not answer within 1s: it is up but slow (busy?)"
        )),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("hint:") && run.stderr.contains("probe_timeout"),
        "the hint says how to wait longer:\n{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("is dockerd running?"),
        "an engine that accepted the connection is not down:\n{}",
        run.stderr
    );
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(8),
        "golden waited the configured 1s, not more: {took:?}"
    );
}

#[test]
fn a_missing_engine_socket_asks_whether_dockerd_runs() {
    let sockets = tempfile::tempdir().unwrap();
    let host = format!("unix://{}", sockets.path().join("missing.sock").display());
    let (_directory, config) = config_with_engine("missing", &host, "10s");
    let (run, took) = build(&config);
    let run = run.expect(3);
    assert!(
        run.stderr.contains(&format!(
            "error: cannot reach the Docker Engine at `{host}`: no socket at `"
        )),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("hint: is dockerd running?"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("slow"), "{}", run.stderr);
    assert!(
        took < Duration::from_secs(5),
        "a missing socket fails at once, without waiting the probe timeout: {took:?}"
    );
}

#[test]
fn a_socket_nobody_listens_on_asks_whether_dockerd_runs() {
    let sockets = tempfile::tempdir().unwrap();
    let path = sockets.path().join("stale.sock");
    // The file of a dockerd that died: it exists, but connecting is refused.
    drop(UnixListener::bind(&path).unwrap());
    let host = format!("unix://{}", path.display());
    let (_directory, config) = config_with_engine("refused", &host, "10s");
    let (run, took) = build(&config);
    let run = run.expect(3);
    assert!(
        run.stderr.contains(&format!(
            "error: cannot reach the Docker Engine at `{host}`: connection refused"
        )),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("hint: is dockerd running?"),
        "{}",
        run.stderr
    );
    assert!(
        took < Duration::from_secs(5),
        "a refused connection fails at once: {took:?}"
    );
}

#[test]
fn a_probe_timeout_that_is_not_a_duration_is_a_config_error() {
    let (_directory, config) = config_with_engine("bad", "unix:///var/run/docker.sock", "soon");
    let run = golden_at(&config, &["build", "--all"]).expect(2);
    assert!(
        run.stderr.contains("probe_timeout") && run.stderr.contains("golden.toml"),
        "{}",
        run.stderr
    );
}
