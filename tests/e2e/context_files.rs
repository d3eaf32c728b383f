//! Build contexts holding files that are not regular files (FIFOs,
//! devices, sockets), a Dockerfile that starts with a byte order mark, and
//! signals while golden waits on a registry that never answers: golden sends
//! what the docker CLI sends, never hangs on them, and a signal stops it.

use crate::support;

use std::io::Read;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::{digest, one_image_config, spawn_golden, tags, Golden, Run, REGISTRY, SEED};

/// A registry namespace of this test's own.
fn namespace(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("e2e-{name}-{}-{nanos}", std::process::id())
}

fn run_within(config: &Path, args: &[&str], limit: Duration) -> Run {
    Golden::at(config).args(args).run_within(limit)
}

fn make(tool: &str, args: &[&str], path: &Path) {
    let output = Command::new(tool).arg(path).args(args).output().unwrap();
    assert!(
        output.status.success(),
        "{tool} {}: {}",
        path.display(),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Runs `script` in a container of `image`; its stdout.
fn in_image(image: &str, script: &str) -> String {
    let output = Command::new("docker")
        .args(["run", "--rm", image, "sh", "-c", script])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "docker run {image} {script:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

#[test]
fn a_fifo_and_a_char_device_in_the_context_are_sent_as_such_and_a_socket_is_skipped() {
    support::require_environment();
    let namespace = namespace("special-files");
    let (directory, config) = one_image_config(
        REGISTRY,
        &namespace,
        "special",
        &format!("FROM {SEED}\nCOPY . /context/\n"),
        // BuildKit on the engine's tar context (20.10) drops FIFOs and
        // devices; the classic builder keeps them (README "Builders").
        "[defaults]\nbuilder = \"classic\"\n",
    );
    let context = directory.path().join("special");
    std::fs::write(context.join("plain.txt"), "plain").unwrap();
    make("mkfifo", &[], &context.join("pipe"));
    // As root, like the engine the tests need; the numbers of /dev/null.
    make("mknod", &["c", "1", "3"], &context.join("null"));
    let _socket = std::os::unix::net::UnixListener::bind(context.join("socket")).unwrap();

    let run = run_within(&config, &["build", "--all"], Duration::from_secs(120)).expect(0);
    assert!(
        run.stderr.contains(&format!(
            "skipping the socket `socket` in the build context `{}`",
            context.display()
        )),
        "{}",
        run.stderr
    );
    let repository = format!("{REGISTRY}/{namespace}/special");
    assert_eq!(tags(&repository), vec!["1", "1.0", "1.0.0", "latest"]);
    let image = format!("{repository}:1.0.0");
    support::docker(&["pull", "-q", &image]);
    assert_eq!(
        in_image(
            &image,
            "test -p /context/pipe && test -c /context/null && test ! -e /context/socket \
             && cat /context/plain.txt && stat -c ' %t:%T' /context/null"
        ),
        "plain 1:3",
        "the FIFO is a FIFO, the device keeps its numbers, the socket is not there"
    );

    // Nothing changed, so the recipe (which hashes the FIFO and the device
    // by type and numbers) is the same and nothing is due.
    let before = digest(&repository, "1.0.0");
    let again = run_within(
        &config,
        &["build", "--all", "--output", "json"],
        Duration::from_secs(120),
    )
    .expect(0);
    assert_eq!(again.json()["totals"]["built"], 0, "{}", again.stdout);
    assert_eq!(digest(&repository, "1.0.0"), before);
}

#[test]
fn a_dockerfile_starting_with_a_byte_order_mark_builds() {
    support::require_environment();
    let namespace = namespace("bom");
    let (_directory, config) = one_image_config(
        REGISTRY,
        &namespace,
        "bom",
        &format!("\u{feff}FROM {SEED}\nRUN echo bom > /bom\n"),
        "",
    );
    run_within(&config, &["build", "--all"], Duration::from_secs(120)).expect(0);
    let repository = format!("{REGISTRY}/{namespace}/bom");
    assert_eq!(tags(&repository), vec!["1", "1.0", "1.0.0", "latest"]);
}

/// A TCP server that reads what it is sent and never answers; the
/// receiver gets a message each time a connection sent it a request.
fn silent_server() -> (u16, std::sync::mpsc::Receiver<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let sender = sender.clone();
            // Read what comes and never answer; keep the connection open.
            std::thread::spawn(move || {
                let mut buffer = [0u8; 1024];
                let mut told = false;
                while matches!(stream.read(&mut buffer), Ok(1..)) {
                    if !told {
                        told = true;
                        let _ = sender.send(());
                    }
                }
            });
        }
    });
    (port, receiver)
}

#[test]
fn sigterm_while_a_registry_never_answers_stops_golden_at_once_and_frees_the_lock() {
    support::require_environment();
    let namespace = namespace("sigterm-observe");
    let (port, requested) = silent_server();
    let (_stuck, config) = one_image_config(
        REGISTRY,
        &namespace,
        "stuck",
        &format!("FROM 127.0.0.1:{port}/upstream/base:1\n"),
        "",
    );
    let child = spawn_golden(&config, &["build", "--all"]);
    // The request arrived: golden now waits on an answer that never comes.
    requested
        .recv_timeout(Duration::from_secs(60))
        .expect("golden never asked the upstream registry for the base");
    child.signal("TERM");
    let run = child.finish_within(Duration::from_secs(10));
    assert_eq!(run.code, 143, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "error: stopped by SIGTERM before anything was built (golden was waiting for the lock, the engine or the registry)"
        ),
        "{}",
        run.stderr
    );
    // The lock is free: another config of the same namespace builds at once.
    let (_other, other) =
        one_image_config(REGISTRY, &namespace, "next", &format!("FROM {SEED}\n"), "");
    run_within(&other, &["build", "--all"], Duration::from_secs(120)).expect(0);
    assert!(digest(&format!("{REGISTRY}/{namespace}/next"), "1.0.0").is_some());
}
