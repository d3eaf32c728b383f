//! End to end: hostile inputs of issue 26 against the real `golden` binary,
//! engine and registry: web clients that hold connections half sent, image
//! references smuggled past `[policy] upstream_allow`, a token server that
//! answers junk, a tag list that links into another repository, and config
//! values that validate although they cannot work.

use crate::support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{golden_at, one_image_config, REGISTRY, SEED};

/// Polls `condition` every 200 ms for up to `limit`.
fn poll(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

/// A unique registry namespace for test `name`.
fn namespace(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("e2e-{name}-{}-{nanos}", std::process::id())
}

/// `golden daemon --interval 1s --listen 127.0.0.1:0` on `config` with a
/// soft and hard `nofile` of `open_files`, logging to `log`; killed when
/// dropped.
struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    fn start(config: &Path, log: PathBuf, open_files: u64) -> Daemon {
        let mut command = Command::new(env!("CARGO_BIN_EXE_golden"));
        command
            .arg("-c")
            .arg(config)
            .args(["daemon", "--interval", "1s", "--listen", "127.0.0.1:0"])
            .env_remove("RUST_LOG")
            .env_remove("GOLDEN_LOG_FORMAT")
            .env_remove("GOLDEN_LISTEN")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        // SAFETY: setrlimit is async-signal-safe; nothing else runs here.
        unsafe {
            command.pre_exec(move || {
                let limit = libc::rlimit {
                    rlim_cur: open_files,
                    rlim_max: open_files,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
        Daemon {
            child: command.spawn().unwrap(),
            log,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The `HOST:PORT` the daemon says it serves on.
    fn address(&self) -> String {
        let mut address = None;
        let found = poll(Duration::from_secs(30), || {
            address = self.log().split_whitespace().find_map(|word| {
                word.trim_matches('"')
                    .strip_prefix("http://")
                    .map(|rest| rest.trim_end_matches('/').to_string())
            });
            address.is_some()
        });
        assert!(
            found,
            "the daemon did not say where it serves:\n{}",
            self.log()
        );
        address.unwrap()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A connection to `address` that sent a request line and one header, and
/// never the blank line that ends the headers.
fn half_sent(address: &str) -> std::io::Result<TcpStream> {
    // A daemon out of descriptors stops accepting: a connect into its full
    // backlog would wait minutes for SYN retries.
    let address = address
        .parse()
        .map_err(|error| std::io::Error::new(std::io::ErrorKind::InvalidInput, error))?;
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(1))?;
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: golden\r\n")?;
    Ok(stream)
}

/// GET /healthz on `address` with a 3 s budget: the status, or why not.
fn healthz(address: &str) -> Result<u16, String> {
    match ureq::get(&format!("http://{address}/healthz"))
        .timeout(Duration::from_secs(3))
        .call()
    {
        Ok(response) => Ok(response.status()),
        Err(ureq::Error::Status(code, _)) => Ok(code),
        Err(error) => Err(error.to_string()),
    }
}

#[test]
fn half_sent_requests_past_the_open_files_limit_starve_neither_the_tick_nor_healthz() {
    support::require_environment();
    let namespace = namespace("half-sent");
    let (directory, config) = one_image_config(
        REGISTRY,
        &namespace,
        "x",
        &format!("FROM {SEED}\nRUN true\n"),
        "",
    );
    golden_at(&config, &["build", "--all"]).expect(0);
    let daemon = Daemon::start(&config, directory.path().join("daemon.log"), 128);
    let address = daemon.address();
    assert!(
        poll(Duration::from_secs(60), || daemon
            .log()
            .contains("tick: 1 up to date")),
        "no idle tick before the connections:\n{}",
        daemon.log()
    );

    // Twice the daemon's whole open-files limit, all held open.
    let mark = daemon.log().len();
    let held: Vec<TcpStream> = (0..256).filter_map(|_| half_sent(&address).ok()).collect();
    assert!(held.len() > 128, "only {} connections opened", held.len());

    // Ticks go on reading the config while the connections are held.
    let ticked = poll(Duration::from_secs(8), || {
        daemon.log()[mark..].matches("tick: 1 up to date").count() >= 3
    });
    let after = daemon.log()[mark..].to_string();
    assert!(
        ticked && !after.contains("config not usable"),
        "the ticks starved while web clients held {} connections:\n{after}",
        held.len()
    );
    // /healthz answers again within the header timeout, the clients still
    // holding their end.
    let mut last = Err(String::new());
    let healthy = poll(Duration::from_secs(25), || {
        last = healthz(&address);
        last == Ok(200)
    });
    assert!(
        healthy,
        "/healthz did not answer while {} connections were held: {last:?}\n{}",
        held.len(),
        daemon.log()
    );
    drop(held);
}

/// A client on `address` that sends a whole `GET /healthz` every 2 s over
/// one keep-alive connection and reads each answer, until the server
/// closes it or `stop` is set.
fn asks_again_and_again(address: &str, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    std::thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        while !stop.load(Ordering::Relaxed) {
            let request = b"GET /healthz HTTP/1.1\r\nHost: golden\r\n\r\n";
            if stream.write_all(request).is_err()
                || matches!(stream.read(&mut buffer), Ok(0) | Err(_))
            {
                return;
            }
            std::thread::sleep(Duration::from_secs(2));
        }
    })
}

/// A client on `address` that pipelines many requests and never reads an
/// answer.
fn never_reads(address: &str) -> TcpStream {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let requests = b"GET /metrics HTTP/1.1\r\nHost: golden\r\n\r\n".repeat(20_000);
    let _ = stream.write_all(&requests);
    stream
}

#[test]
fn keep_alive_clients_that_keep_asking_or_never_read_do_not_lock_healthz_out() {
    // Every tick fails fast at a registry that refuses connections; 64
    // open files give the web server 16 connections.
    let (directory, config) =
        one_image_config("127.0.0.1:1", "e2e", "x", &format!("FROM {SEED}\n"), "");
    let daemon = Daemon::start(&config, directory.path().join("daemon.log"), 64);
    let address = daemon.address();
    assert!(poll(Duration::from_secs(10), || healthz(&address).is_ok()));
    let stop = Arc::new(AtomicBool::new(false));
    let askers: Vec<_> = (0..8)
        .map(|_| asks_again_and_again(&address, stop.clone()))
        .collect();
    let silent: Vec<TcpStream> = (0..8).map(|_| never_reads(&address)).collect();
    std::thread::sleep(Duration::from_secs(1));
    let mut last = Err(String::new());
    let answered = poll(Duration::from_secs(12), || {
        last = healthz(&address);
        last.is_ok()
    });
    stop.store(true, Ordering::Relaxed);
    assert!(
        answered,
        "/healthz did not answer while 8 clients kept asking and 8 never read: {last:?}\n{}",
        daemon.log()
    );
    drop(silent);
    for asker in askers {
        let _ = asker.join();
    }
}

#[test]
fn an_idle_half_sent_request_is_closed_within_the_header_timeout() {
    // Every tick fails fast at a registry that refuses connections.
    let (directory, config) =
        one_image_config("127.0.0.1:1", "e2e", "x", &format!("FROM {SEED}\n"), "");
    let daemon = Daemon::start(&config, directory.path().join("daemon.log"), 1024);
    let address = daemon.address();
    let mut stream = half_sent(&address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(25)))
        .unwrap();
    let started = Instant::now();
    let mut buffer = [0u8; 1024];
    let outcome = stream.read(&mut buffer);
    let waited = started.elapsed();
    let closed = match &outcome {
        Ok(_) => true,
        Err(error) => error.kind() == std::io::ErrorKind::ConnectionReset,
    };
    assert!(
        closed && waited < Duration::from_secs(15),
        "a half-sent request was still open after {waited:?}: {outcome:?}"
    );
}

#[test]
fn a_tick_that_cannot_read_the_config_logs_the_cause() {
    let (directory, config) =
        one_image_config("127.0.0.1:1", "e2e", "x", &format!("FROM {SEED}\n"), "");
    let daemon = Daemon::start(&config, directory.path().join("daemon.log"), 1024);
    daemon.address();
    std::fs::remove_file(&config).unwrap();
    let logged = poll(Duration::from_secs(20), || {
        daemon.log().contains("config not usable")
    });
    let log = daemon.log();
    let cause = log
        .split("config not usable")
        .nth(1)
        .unwrap_or_default()
        .lines()
        .take(3)
        .collect::<Vec<_>>()
        .join("\n");
    // The reason is in the line itself: what became of the file (gone,
    // not a regular file) or the OS error ("cannot be read: Too many open
    // files"), never a bare "failed to read".
    let expected = format!("the config file `{}` does not exist", config.display());
    assert!(
        logged && cause.contains(&expected),
        "the log does not say why ({expected}):\n{log}"
    );
}

/// A config of image `x` with `dockerfile` whose `[policy] upstream_allow`
/// admits only the seed's repository, `127.0.0.1:5000/upstream/*`.
fn policed(namespace: &str, dockerfile: &str) -> (tempfile::TempDir, PathBuf) {
    one_image_config(
        REGISTRY,
        namespace,
        "x",
        dockerfile,
        "[policy]\nupstream_allow = [\"127.0.0.1:5000/upstream/*\"]\n",
    )
}

#[test]
fn upstream_allow_checks_every_stage_and_copy_from_image_not_only_the_final_from() {
    let other = "127.0.0.1:5000/other/busybox:1.36";
    let nested = "127.0.0.1:5000/upstream/nested/busybox:1.36";
    let refused = [
        (
            "an image copied from",
            format!("FROM {SEED}\nCOPY --from={other} /bin/busybox /b\n"),
            format!("image `x` copies files from `{other}`"),
        ),
        (
            "a stage copied into the final one",
            format!("FROM {other} AS build\nFROM {SEED}\nCOPY --from=build /bin/busybox /b\n"),
            format!("image `x` has a stage FROM `{other}`"),
        ),
        (
            "a stage index copied into the final one",
            format!("FROM {other}\nFROM {SEED}\nCOPY --from=0 /bin/busybox /b\n"),
            format!("image `x` has a stage FROM `{other}`"),
        ),
        (
            "a star across a slash",
            format!("FROM {nested}\n"),
            format!("image `x` starts FROM `{nested}`"),
        ),
    ];
    for (case, dockerfile, message) in refused {
        let (_directory, config) = policed("e2e-policy", &dockerfile);
        let run = golden_at(&config, &["validate"]);
        assert!(
            run.code == 2
                && run.stderr.contains(&message)
                && run.stderr.contains("upstream_allow does not allow"),
            "{case}: validated ({}):\n{}",
            run.code,
            run.stderr
        );
    }

    // Stages of allowed images, by name or index, still pass.
    let allowed = format!(
        "FROM {SEED} AS build\nRUN true\nFROM {SEED}\nCOPY --from=build /bin/busybox /b\nCOPY --from=0 /bin/busybox /c\n"
    );
    let (_directory, config) = policed("e2e-policy", &allowed);
    golden_at(&config, &["validate"]).expect(0);

    // A build refuses before anything is pushed.
    support::require_environment();
    let namespace = namespace("copy-from");
    let (_directory, config) = policed(
        &namespace,
        &format!("FROM {SEED}\nCOPY --from={SEED} /bin/busybox /b\nCOPY --from={other} /bin/busybox /c\n"),
    );
    let run = golden_at(&config, &["build", "--all"]).expect(2);
    assert!(
        run.stderr.contains(&format!("copies files from `{other}`")),
        "{}",
        run.stderr
    );
    assert_eq!(
        support::tags(&format!("{REGISTRY}/{namespace}/x")),
        Vec::<String>::new()
    );
}

#[test]
fn copy_from_written_with_quotes_escapes_or_in_onbuild_is_still_checked() {
    let other = "127.0.0.1:5000/other/busybox:1.36";
    let copies = format!("copies files from `{other}`");
    let refused = [
        (
            "a quoted flag name",
            format!("COPY --\"from\"={other} / /\n"),
            copies.clone(),
        ),
        (
            "an escaped letter",
            format!("COPY --fr\\om={other} / /\n"),
            copies.clone(),
        ),
        (
            "after a quoted flag holding a space",
            format!("COPY --chown=\"1 1\" --from={other} / /\n"),
            copies.clone(),
        ),
        (
            "an ONBUILD trigger",
            format!("ONBUILD COPY --from={other} / /\n"),
            copies,
        ),
        (
            "an image of the namespace this config does not define",
            format!("COPY --from={REGISTRY}/e2e-policy/anything:1 / /\n"),
            format!("copies files from `{REGISTRY}/e2e-policy/anything:1`"),
        ),
        (
            "a flag quote left open",
            format!("COPY --chown=\"1 --from={other} / /\n"),
            "whose flags golden cannot read".to_string(),
        ),
    ];
    for (case, copy, message) in refused {
        let (_directory, config) = policed("e2e-policy", &format!("FROM {SEED}\n{copy}"));
        let run = golden_at(&config, &["validate"]);
        assert!(
            run.code == 2
                && run.stderr.contains(&message)
                && run.stderr.contains("upstream_allow does not allow"),
            "{case}: validated ({}):\n{}",
            run.code,
            run.stderr
        );
    }
}

/// A loopback HTTP server of the test's own that answers each request with
/// what `answer(path)` gives (status line, headers, body), one request per
/// connection, and records the paths asked for.
struct FakeRegistry {
    host: String,
    paths: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

/// One answer of a [`FakeRegistry`].
struct Answer {
    status: &'static str,
    headers: Vec<String>,
    body: String,
}

impl Answer {
    fn new(status: &'static str, headers: &[String], body: &str) -> Answer {
        Answer {
            status,
            headers: headers.to_vec(),
            body: body.to_string(),
        }
    }
}

impl FakeRegistry {
    fn start(answer: impl Fn(&str, &str) -> Answer + Send + Sync + 'static) -> FakeRegistry {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let paths = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let answer = std::sync::Arc::new(answer);
        let (recorded, own_host) = (paths.clone(), host.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (answer, recorded, own_host) =
                    (answer.clone(), recorded.clone(), own_host.clone());
                std::thread::spawn(move || serve_one(stream, &own_host, &*answer, &recorded));
            }
        });
        FakeRegistry { host, paths }
    }

    fn paths(&self) -> Vec<String> {
        self.paths.lock().unwrap().clone()
    }
}

fn serve_one(
    mut stream: TcpStream,
    host: &str,
    answer: &dyn Fn(&str, &str) -> Answer,
    recorded: &std::sync::Mutex<Vec<String>>,
) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut request = Vec::new();
    let mut buffer = [0u8; 4096];
    while !request.windows(4).any(|window| window == b"\r\n\r\n") {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(read) => request.extend_from_slice(&buffer[..read]),
        }
        if request.len() > 65536 {
            break;
        }
    }
    let text = String::from_utf8_lossy(&request).to_string();
    let mut words = text.split_whitespace();
    let (Some(method), Some(path)) = (words.next(), words.next()) else {
        // A TLS probe, or junk: no HTTP here.
        let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
        return;
    };
    if !path.starts_with('/') {
        let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
        return;
    }
    recorded.lock().unwrap().push(path.to_string());
    let answer = answer(method, &path.replace("{host}", host));
    let mut response = format!(
        "HTTP/1.1 {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        answer.status,
        answer.body.len()
    );
    for header in &answer.headers {
        response.push_str(&header.replace("{host}", host));
        response.push_str("\r\n");
    }
    response.push_str("\r\n");
    response.push_str(&answer.body);
    let _ = stream.write_all(response.as_bytes());
}

const NOT_FOUND: &str = r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"unknown"}]}"#;

/// A registry whose tag list of `golden/x` answers `1.0.0` and a `Link`
/// header `link`; a request whose path starts with `page` gets `body`
/// (another page a client could wrongly follow). `golden plan` runs
/// against it; returns the registry (for the paths asked) and the run.
fn plan_with_tag_list_link(
    link: &'static str,
    page: &'static str,
    body: &'static str,
) -> (FakeRegistry, support::Run) {
    let registry = FakeRegistry::start(move |_, path| {
        let json = ["Content-Type: application/json".to_string()];
        if path == "/v2/" {
            Answer::new("200 OK", &json, "{}")
        } else if path.starts_with(page) {
            Answer::new("200 OK", &json, body)
        } else if path.starts_with("/v2/golden/x/tags/list") {
            let mut headers = json.to_vec();
            headers.push(format!("Link: {link}"));
            Answer::new(
                "200 OK",
                &headers,
                r#"{"name":"golden/x","tags":["1.0.0"]}"#,
            )
        } else {
            Answer::new("404 Not Found", &json, NOT_FOUND)
        }
    });
    let (_directory, config) =
        one_image_config(&registry.host, "golden", "x", &format!("FROM {SEED}\n"), "");
    let run = golden_at(&config, &["plan", "--output", "json"]);
    (registry, run)
}

#[test]
fn a_tag_list_link_into_another_repository_is_not_followed() {
    let (registry, run) = plan_with_tag_list_link(
        r#"</v2/golden/other/tags/list?last=&n=1000>; rel="next""#,
        "/v2/golden/other/tags/list",
        r#"{"name":"golden/other","tags":["1.0.7"]}"#,
    );
    let output = format!("{}{}", run.stdout, run.stderr);
    let followed: Vec<String> = registry
        .paths()
        .into_iter()
        .filter(|path| path.contains("/other/"))
        .collect();
    assert!(
        followed.is_empty(),
        "golden followed the tag list into another repository: {followed:?}\n{output}"
    );
    assert!(
        run.code != 0
            && output.contains("/v2/golden/other/tags/list")
            && output.contains("not this repository's tag list"),
        "exit {}:\n{}",
        run.code,
        output
    );
}

#[test]
fn a_tag_list_link_that_is_not_rel_next_is_not_followed() {
    let (registry, run) = plan_with_tag_list_link(
        r#"</v2/golden/x/tags/list?last=1.0.0&n=1000>; rel="prev""#,
        "/v2/golden/x/tags/list?last=1.0.0",
        r#"{"name":"golden/x","tags":["1.0.9"]}"#,
    );
    let followed: Vec<String> = registry
        .paths()
        .into_iter()
        .filter(|path| path.contains("last=1.0.0"))
        .collect();
    assert!(
        followed.is_empty(),
        "golden followed a rel=\"prev\" link as the next page: {followed:?}\n{}{}",
        run.stdout,
        run.stderr
    );
}

#[test]
fn a_token_with_a_line_break_is_the_token_servers_error_not_an_unreachable_registry() {
    let registry = FakeRegistry::start(|_, path| {
        let json = ["Content-Type: application/json".to_string()];
        let challenge = [
            r#"WWW-Authenticate: Bearer realm="http://{host}/token",service="fake""#.to_string(),
        ];
        if path.starts_with("/token") {
            Answer::new("200 OK", &json, r#"{"token":"abc\r\nX-Injected: 1"}"#)
        } else {
            Answer::new(
                "401 Unauthorized",
                &challenge,
                r#"{"errors":[{"code":"UNAUTHORIZED"}]}"#,
            )
        }
    });
    let (_directory, config) =
        one_image_config(&registry.host, "golden", "x", &format!("FROM {SEED}\n"), "");
    let run = golden_at(&config, &["plan", "--output", "json"]);
    let output = format!("{}{}", run.stdout, run.stderr);
    let realm = format!("http://{}/token", registry.host);
    assert!(
        run.code == 1
            && output.contains(&format!("the token server `{realm}`"))
            && !output.contains("cannot reach registry"),
        "exit {}:\n{}",
        run.code,
        output
    );
}

/// `golden validate` of a one-image config with `extra` appended before the
/// image table; the config's directory is kept alive by the caller.
fn validate_with(extra: &str) -> (tempfile::TempDir, support::Run) {
    let (directory, config) =
        one_image_config("127.0.0.1:9", "e2e", "x", &format!("FROM {SEED}\n"), extra);
    let run = golden_at(&config, &["validate"]);
    (directory, run)
}

#[test]
fn an_engines_error_names_the_engine_by_its_name_with_the_host_in_parentheses() {
    let (_directory, run) =
        validate_with("[[engines]]\nname = \"arm-1\"\nhost = \"tcp://127.0.0.1:2375\"\njobs = 0\n");
    assert!(
        run.code == 2
            && run
                .stderr
                .contains("`jobs` of engine `arm-1` (`tcp://127.0.0.1:2375`) is 0"),
        "exit {}:\n{}",
        run.code,
        run.stderr
    );
}

#[test]
fn a_webhook_port_past_65535_is_a_located_config_error() {
    let (_directory, run) =
        validate_with("[notify]\nwebhook = \"https://chat.example:99999/hooks/s3cr3t\"\n");
    assert!(
        run.code == 2
            && run.stderr.contains("port is not a number from 1 to 65535")
            && run.stderr.contains("golden.toml:5:11")
            && !run.stderr.contains("s3cr3t"),
        "exit {}:\n{}",
        run.code,
        run.stderr
    );
}

#[test]
fn a_webhook_file_others_may_read_or_write_is_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let directory = tempfile::tempdir().unwrap();
    let file = directory.path().join("webhook");
    std::fs::write(&file, "https://chat.example/hooks/s3cr3t\n").unwrap();
    let extra = format!("[notify]\nwebhook_file = \"{}\"\n", file.display());
    for (mode, warning) in [
        (0o666, Some("readable and writable by other users")),
        (0o620, Some("writable by other users")),
        (0o600, None),
    ] {
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
        let (_config, run) = validate_with(&extra);
        assert_eq!(run.code, 0, "{mode:o}:\n{}", run.stderr);
        match warning {
            Some(warning) => assert!(
                run.stderr
                    .contains(&format!("webhook file `{}`", file.display()))
                    && run.stderr.contains(warning)
                    && !run.stderr.contains("s3cr3t"),
                "{mode:o}: no warning:\n{}",
                run.stderr
            ),
            None => assert!(
                !run.stderr.contains("other users"),
                "{mode:o}:\n{}",
                run.stderr
            ),
        }
    }
}
