//! Build contexts holding files that are not regular files (FIFOs,
//! devices, sockets), a Dockerfile that starts with a byte order mark, and
//! signals while golden waits on a registry that never answers: golden sends
//! what the docker CLI sends, never hangs on them, and a signal stops it.

mod common;

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{digest, one_image_config, tags, Run, REGISTRY, SEED};

/// A registry namespace of this test's own.
fn namespace(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("e2e-{name}-{}-{nanos}", std::process::id())
}

/// Starts `golden -c CONFIG ARGS` with its output going to files in the
/// config's directory.
fn spawn(config: &Path, args: &[&str]) -> Child {
    let directory = config.parent().unwrap();
    Command::new(env!("CARGO_BIN_EXE_golden"))
        .arg("-c")
        .arg(config)
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(directory.join("stdout.log")).unwrap())
        .stderr(std::fs::File::create(directory.join("stderr.log")).unwrap())
        .spawn()
        .unwrap()
}

/// Waits for `child` at most `limit`; kills it and fails the test after.
fn finish_within(mut child: Child, config: &Path, limit: Duration) -> Run {
    let directory = config.parent().unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "golden still ran after {}s and was killed\n--- stderr\n{}",
                limit.as_secs(),
                std::fs::read_to_string(directory.join("stderr.log")).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    Run {
        code: status.code().unwrap_or(-1),
        stdout: std::fs::read_to_string(directory.join("stdout.log")).unwrap(),
        stderr: std::fs::read_to_string(directory.join("stderr.log")).unwrap(),
    }
}

fn run_within(config: &Path, args: &[&str], limit: Duration) -> Run {
    finish_within(spawn(config, args), config, limit)
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
    common::require_environment();
    let namespace = namespace("special-files");
    let (directory, config) = one_image_config(
        REGISTRY,
        &namespace,
        "special",
        &format!("FROM {SEED}\nCOPY . /context/\n"),
        "",
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
    common::docker(&["pull", "-q", &image]);
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
    common::require_environment();
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

/// A TCP server that accepts connections and never answers; the receiver
/// gets a message on each accepted connection.
fn silent_server() -> (u16, std::sync::mpsc::Receiver<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut open = Vec::new();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let _ = sender.send(());
            // Read what comes and never answer; keep the connection open.
            let _ = stream.set_read_timeout(Some(Duration::from_millis(10)));
            let _ = stream.read(&mut [0u8; 1024]);
            open.push(stream);
        }
    });
    (port, receiver)
}

#[test]
fn sigterm_while_a_registry_never_answers_stops_golden_at_once_and_frees_the_lock() {
    common::require_environment();
    let namespace = namespace("sigterm-observe");
    let (port, accepted) = silent_server();
    let (_stuck, config) = one_image_config(
        REGISTRY,
        &namespace,
        "stuck",
        &format!("FROM 127.0.0.1:{port}/upstream/base:1\n"),
        "",
    );
    let child = spawn(&config, &["build", "--all"]);
    accepted
        .recv_timeout(Duration::from_secs(60))
        .expect("golden never asked the upstream registry for the base");
    std::thread::sleep(Duration::from_millis(300));
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let run = finish_within(child, &config, Duration::from_secs(10));
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
