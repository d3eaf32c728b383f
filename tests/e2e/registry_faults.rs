//! End to end: registries that answer but cannot do the work: one that
//! answers every request with HTTP 500, one whose disk is full (reads work,
//! every write answers HTTP 500, as distribution does on ENOSPC), and one in
//! read-only maintenance mode. golden must say what the registry answered,
//! exit 1 (not 3: the registry is reachable), give up in bounded time, and
//! give the read-only case its own hint.

use crate::support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use support::{docker, tags, PrivateRegistry, Run, SEED};

/// What distribution answers when its storage fails (a full disk).
const STORAGE_ERROR: &str = r#"{"errors":[{"code":"UNKNOWN","message":"unknown error","detail":{"DriverName":"filesystem","Enclosed":{"Op":"mkdir","Err":28}}}]}"#;

/// The head of one HTTP request (up to the blank line); `None` for a TLS
/// probe or a closed connection.
fn read_head(stream: &mut TcpStream) -> Option<Vec<u8>> {
    stream
        .set_read_timeout(Some(Duration::from_millis(500)))
        .ok();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) if head.is_empty() && byte[0] == 0x16 => return None,
            Ok(1) => head.push(byte[0]),
            _ => return None,
        }
    }
    Some(head)
}

/// Reads and drops the request body the head announces, so answering
/// early never resets the connection under the client.
fn drain_body(stream: &mut TcpStream, head: &str) {
    let length = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<u64>().ok())
                .flatten()
        })
        .unwrap_or(0);
    let _ = std::io::copy(&mut stream.take(length), &mut std::io::sink());
}

fn answer_500(stream: &mut TcpStream, extra_headers: &str) {
    let response = format!(
        "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nDocker-Distribution-Api-Version: registry/2.0\r\n{extra_headers}Connection: close\r\nContent-Length: {}\r\n\r\n{STORAGE_ERROR}",
        STORAGE_ERROR.len()
    );
    let _ = stream.write_all(response.as_bytes());
}

/// A loopback server answering HTTP 500 (with `extra_headers`) to every
/// request, but `GET /v2/` with 200 when `api_root_works` (distribution
/// answers it without touching its storage); its address.
fn failing_registry(api_root_works: bool, extra_headers: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let Some(head) = read_head(&mut stream) else {
                    return;
                };
                let head = String::from_utf8_lossy(&head).to_string();
                drain_body(&mut stream, &head);
                if api_root_works && head.starts_with("GET /v2/ ") {
                    let _ = stream.write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}",
                    );
                } else {
                    answer_500(&mut stream, extra_headers);
                }
            });
        }
    });
    address
}

/// A loopback proxy in front of `upstream` that passes reads (GET, HEAD)
/// through and answers every write with HTTP 500: a registry whose disk is
/// full. Returns its address.
fn disk_full(upstream: &str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let upstream = upstream.to_string();
    std::thread::spawn(move || {
        for mut client in listener.incoming().flatten() {
            let upstream = upstream.clone();
            std::thread::spawn(move || {
                let Some(head) = read_head(&mut client) else {
                    return;
                };
                let text = String::from_utf8_lossy(&head).to_string();
                if !(text.starts_with("GET ") || text.starts_with("HEAD ")) {
                    drain_body(&mut client, &text);
                    answer_500(&mut client, "");
                    return;
                }
                let mut rewritten: String = text
                    .trim_end()
                    .lines()
                    .filter(|line| !line.to_ascii_lowercase().starts_with("connection:"))
                    .map(|line| format!("{line}\r\n"))
                    .collect();
                rewritten.push_str("Connection: close\r\n\r\n");
                let Ok(mut server) = TcpStream::connect(&upstream) else {
                    return;
                };
                if server.write_all(rewritten.as_bytes()).is_ok() {
                    let _ = std::io::copy(&mut server, &mut client);
                }
                let _ = client.shutdown(std::net::Shutdown::Both);
            });
        }
    });
    address
}

/// A config of `count` small images `image0`.. FROM `upstream`, pushing
/// to `host` under `namespace`.
fn images_config(host: &str, namespace: &str, upstream: &str, count: usize) -> tempfile::TempDir {
    let directory = tempfile::tempdir().unwrap();
    let mut config = format!("[registry]\nhost = \"{host}\"\nnamespace = \"{namespace}\"\n");
    for index in 0..count {
        let id = format!("image{index}");
        std::fs::create_dir_all(directory.path().join(&id)).unwrap();
        std::fs::write(
            directory.path().join(&id).join("Dockerfile"),
            format!("FROM {upstream}\nENV IMAGE={index}\n"),
        )
        .unwrap();
        config.push_str(&format!(
            "[images.{id}]\nversion = \"1.0\"\ncontext = \"{id}\"\n"
        ));
    }
    std::fs::write(directory.path().join("golden.toml"), config).unwrap();
    directory
}

/// Runs golden and how long it took.
fn timed(config: &std::path::Path, args: &[&str]) -> (Run, Duration) {
    let started = Instant::now();
    let run = support::golden_at(config, args);
    (run, started.elapsed())
}

#[test]
fn a_registry_answering_http_500_to_everything_fails_with_exit_1_and_says_http_500_quickly() {
    support::require_environment();
    let host = failing_registry(false, "");
    let (_directory, config) = support::one_image_config(
        &host,
        "golden",
        "base",
        &format!("FROM {SEED}\nENV FAULT=500\n"),
        "",
    );
    for args in [&["plan"][..], &["build", "--all"]] {
        let (run, took) = timed(&config, args);
        let text = format!("{}\n{}", run.stdout, run.stderr);
        eprintln!("golden {args:?} took {took:?}:\n{text}");
        assert_eq!(
            run.code, 1,
            "a registry that answers is not unreachable (exit 3)\n{text}"
        );
        assert!(
            text.contains(&format!("registry `{host}`")) && text.contains("HTTP 500"),
            "says which registry answered HTTP 500:\n{text}"
        );
        assert!(
            !text.contains("cannot reach"),
            "the registry was reached:\n{text}"
        );
        assert!(took < Duration::from_secs(60), "gave up after {took:?}");
    }
}

/// Regression: `retries = 10` with a Retry-After of 5s retried each request
/// for 50s; the retry budget gives up after 20s.
#[test]
fn a_registry_whose_storage_fails_is_retried_for_a_bounded_time_then_reported_as_http_500() {
    support::require_environment();
    let host = failing_registry(true, "Retry-After: 5\r\n");
    let (_directory, config) = support::one_image_config(
        &host,
        "golden",
        "base",
        &format!("FROM {SEED}\nENV FAULT=storage\n"),
        "retries = 10\n",
    );
    let (run, took) = timed(&config, &["plan", "--output", "json"]);
    eprintln!("golden plan against failing storage took {took:?}");
    assert_eq!(
        run.code, 1,
        "a registry that answers is not unreachable (exit 3)\n{}\n{}",
        run.stdout, run.stderr
    );
    let report = run.json();
    let error = support::entry(&report, "base")["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        error.contains(&format!(
            "registry `{host}` answered HTTP 500 when asked to list the tags of `{host}/golden/base`"
        )) && error.contains("hint: the registry itself is failing"),
        "{error}"
    );
    assert_eq!(report["totals"]["unreachable"], 0);
    assert!(
        run.stderr.contains("retrying in 5.0s"),
        "Retry-After is honoured:\n{}",
        run.stderr
    );
    assert!(
        took >= Duration::from_secs(10) && took < Duration::from_secs(30),
        "retried within the budget, then gave up: {took:?}"
    );
}

#[test]
fn a_registry_whose_disk_is_full_fails_the_build_with_exit_1_and_http_500_in_bounded_time() {
    let registry = PrivateRegistry::start("");
    let upstream = format!("{}/upstream/busybox:1.36", registry.host());
    docker(&["pull", "-q", SEED]);
    docker(&["tag", SEED, &upstream]);
    docker(&["push", "-q", &upstream]);
    let host = disk_full(&registry.host());
    let directory = images_config(&host, "full", &upstream, 1);
    let config = directory.path().join("golden.toml");

    let (plan, _) = timed(&config, &["plan"]);
    assert_eq!(
        plan.code, 0,
        "reads work, so the plan does:\n{}",
        plan.stderr
    );

    let (run, took) = timed(&config, &["build", "--all", "--output", "json"]);
    eprintln!("golden build against a full disk took {took:?}");
    assert_eq!(
        run.code, 1,
        "a registry that answers HTTP 500 is not unreachable (exit 3)\n{}\n{}",
        run.stdout, run.stderr
    );
    let report = run.json();
    let error = support::entry(&report, "image0")["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        error.contains(&format!("failed to push `{host}/full/image0:1.0.0`"))
            && error.contains("500"),
        "says the push failed with HTTP 500: {error}"
    );
    assert!(
        error.contains("hint: `") && error.contains("the registry itself is failing"),
        "{error}"
    );
    assert_eq!(report["totals"]["unreachable"], 0);
    // The engine retries each layer itself for about 50s before it reports
    // the failure; golden does not start that again past its retry budget.
    assert!(took < Duration::from_secs(90), "gave up after {took:?}");
    assert!(
        tags(&format!("{}/full/image0", registry.host())).is_empty(),
        "nothing was written"
    );
}

#[test]
fn prune_rollback_and_push_on_a_read_only_registry_say_it_is_read_only_not_that_deletes_are_disabled(
) {
    let mut registry = PrivateRegistry::start("");
    let (_directory, config) =
        support::prunable_config(&registry.host(), "readonly", "ENV PURPOSE=read-only");
    let golden = |args: &[&str]| support::golden_at(&config, args);
    golden(&["-q", "build", "--all"]).expect(0);
    golden(&["-q", "rebuild", "x"]).expect(0);
    let repository = format!("{}/readonly/x", registry.host());
    registry.read_only();
    let before = tags(&repository);
    assert_eq!(before, vec!["1", "1.0", "1.0.0", "1.0.1", "latest"]);

    let pruned = golden(&["prune", "--apply"]).expect(1);
    let rolled = golden(&["rollback", "x", "--to", "1.0.0"]).expect(1);
    let rebuilt = golden(&["rebuild", "x"]).expect(1);
    for (what, run) in [
        ("prune", &pruned),
        ("rollback", &rolled),
        ("a rebuild's push", &rebuilt),
    ] {
        let text = format!("{}\n{}", run.stdout, run.stderr);
        eprintln!("{what}:\n{text}");
        assert!(
            text.contains("HTTP 405")
                && text.contains("hint: the registry is in read-only mode (maintenance.readonly)"),
            "{what} says the registry is read-only:\n{text}"
        );
        assert!(
            !text.contains("storage.delete.enabled"),
            "{what} does not blame disabled deletes:\n{text}"
        );
    }
    assert_eq!(tags(&repository), before, "nothing changed");
}
