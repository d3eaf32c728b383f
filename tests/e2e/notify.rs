//! End to end: `[notify]` POSTs to a webhook receiver of the test's own on
//! loopback after real builds against the real engine and registry: what
//! the body holds, when it is sent, retries, a receiver that never answers,
//! and a webhook URL that appears in no output.

use crate::support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::{entry, golden_at, require_environment, Run, REGISTRY, SEED};

/// The secret part of every webhook URL here: no output may contain it.
const TOKEN: &str = "T0KEN-s3cr3t-9f8e7d";

/// How the receiver answers one request.
#[derive(Debug, Clone, Copy)]
enum Answer {
    Status(u16),
    /// Reads the request and never answers.
    Silence,
}

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    method: String,
    path: String,
    /// Header lines, lowercased.
    headers: String,
    body: serde_json::Value,
    /// The body's bytes as they came.
    raw: Vec<u8>,
    at: Instant,
}

/// A webhook receiver on a free loopback port: answers the requests in
/// turn with `answers`, then 200, and keeps what it got.
struct Receiver {
    port: u16,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    fn start(answers: &[Answer]) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let answers = Arc::new(answers.to_vec());
        let count = Arc::new(AtomicUsize::new(0));
        let kept = received.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (kept, answers, count) = (kept.clone(), answers.clone(), count.clone());
                std::thread::spawn(move || serve(stream, &kept, &answers, &count));
            }
        });
        Receiver { port, received }
    }

    /// The webhook URL, with the secret token in its path.
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hooks/services/{TOKEN}", self.port)
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

fn serve(
    mut stream: TcpStream,
    kept: &Mutex<Vec<Received>>,
    answers: &[Answer],
    count: &AtomicUsize,
) {
    let mut data = Vec::new();
    let mut buffer = [0u8; 8192];
    let head_end = loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => return,
            Ok(read) => data.extend_from_slice(&buffer[..read]),
        }
    };
    let head = String::from_utf8_lossy(&data[..head_end]).to_string();
    let headers = head.to_ascii_lowercase();
    let length: usize = headers
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0);
    while data.len() < head_end + length {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => return,
            Ok(read) => data.extend_from_slice(&buffer[..read]),
        }
    }
    let mut words = head.split_whitespace();
    let request = Received {
        method: words.next().unwrap_or_default().to_string(),
        path: words.next().unwrap_or_default().to_string(),
        headers,
        body: serde_json::from_slice(&data[head_end..head_end + length])
            .unwrap_or(serde_json::Value::Null),
        raw: data[head_end..head_end + length].to_vec(),
        at: Instant::now(),
    };
    kept.lock().unwrap().push(request);
    let index = count.fetch_add(1, Ordering::SeqCst);
    match answers.get(index).copied().unwrap_or(Answer::Status(200)) {
        Answer::Silence => std::thread::sleep(Duration::from_secs(300)),
        Answer::Status(code) => {
            let answer = format!(
                "HTTP/1.1 {code} Whatever\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
            );
            let _ = stream.write_all(answer.as_bytes());
        }
    }
}

/// A config of images `(id, RUN step)` FROM the seed under a namespace of
/// its own, with `notify` as the `[notify]` table.
struct Setup {
    directory: tempfile::TempDir,
    config: PathBuf,
}

impl Setup {
    fn new(name: &str, notify: &str, images: &[(&str, &str)]) -> Setup {
        require_environment();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let namespace = format!("e2e-notify-{name}-{}-{nanos}", std::process::id());
        let directory = tempfile::tempdir().unwrap();
        let mut text = format!(
            "[registry]\nhost = \"{REGISTRY}\"\nnamespace = \"{namespace}\"\n\n[notify]\n{notify}\n"
        );
        for (id, step) in images {
            let context = directory.path().join(id);
            std::fs::create_dir_all(&context).unwrap();
            std::fs::write(context.join("Dockerfile"), format!("FROM {SEED}\n{step}\n")).unwrap();
            text.push_str(&format!(
                "[images.{id}]\nversion = \"1.0\"\ncontext = \"{id}\"\n"
            ));
        }
        let config = directory.path().join("golden.toml");
        std::fs::write(&config, text).unwrap();
        Setup { directory, config }
    }

    fn path(&self) -> &Path {
        self.directory.path()
    }

    fn golden(&self, args: &[&str]) -> Run {
        golden_at(&self.config, args)
    }

    fn golden_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut command = Command::new(env!("CARGO_BIN_EXE_golden"));
        command
            .arg("-c")
            .arg(&self.config)
            .args(args)
            .env_remove("RUST_LOG");
        for (key, value) in env {
            command.env(key, value);
        }
        Run::from(command.output().unwrap())
    }

    fn rewrite_dockerfile(&self, id: &str, step: &str) {
        std::fs::write(
            self.path().join(id).join("Dockerfile"),
            format!("FROM {SEED}\n{step}\n"),
        )
        .unwrap();
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        // The local images the builds tagged; the variable only lets the
        // config load (`clean` sends nothing).
        let _ = self.golden_with_env(
            &["clean"],
            &[("GOLDEN_TEST_WEBHOOK", "http://127.0.0.1:9/")],
        );
    }
}

fn ids(body: &serde_json::Value) -> Vec<String> {
    let mut ids: Vec<String> = body["report"]["images"]
        .as_array()
        .unwrap_or_else(|| panic!("no report.images in {body:#}"))
        .iter()
        .map(|image| image["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

#[test]
fn the_receiver_gets_a_summary_slack_text_and_the_failed_and_built_images() {
    let receiver = Receiver::start(&[]);
    let setup = Setup::new(
        "body",
        "webhook_env = \"GOLDEN_TEST_WEBHOOK\"\non = [\"always\"]\n",
        &[
            ("ok", "RUN true"),
            ("broken", "RUN echo 'no mirror' >&2 && exit 3"),
        ],
    );
    let url = receiver.url();
    let env = [("GOLDEN_TEST_WEBHOOK", url.as_str())];
    let run = setup
        .golden_with_env(&["build", "--all", "--output", "json"], &env)
        .expect(1);
    let received = receiver.received();
    assert_eq!(received.len(), 1, "one POST per run: {received:#?}");
    let request = &received[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, format!("/hooks/services/{TOKEN}"));
    assert!(
        request.headers.contains("content-type: application/json"),
        "{}",
        request.headers
    );
    let body = &request.body;
    let summary = body["summary"].as_str().unwrap();
    assert!(summary.contains("1 failed (broken)"), "{summary}");
    assert!(summary.contains("1 built (ok 1.0.0)"), "{summary}");
    assert!(!summary.contains('\n'), "one line: {summary}");
    let text = body["text"].as_str().unwrap();
    assert!(text.starts_with(summary), "{text}");
    assert!(
        text.contains("- broken: "),
        "the failure is in `text`: {text}"
    );
    assert_eq!(body["outcome"], "failure");
    assert_eq!(ids(body), vec!["broken", "ok"]);
    let report = &body["report"];
    assert_eq!(entry(report, "broken")["decision"], "failed");
    assert!(
        entry(report, "broken")["error"]
            .as_str()
            .unwrap()
            .contains("exit"),
        "{report:#}"
    );
    assert_eq!(entry(report, "ok")["decision"], "built");
    assert_eq!(entry(report, "ok")["tag"], entry(&run.json(), "ok")["tag"]);
    assert_eq!(report["totals"]["built"], 1);
    assert_eq!(report["totals"]["failed"], 1);

    // `ok` is up to date and `broken` held (its inputs are those that
    // failed, and its backoff runs): nothing new to say.
    let held = setup.golden_with_env(&["build", "--all"], &env).expect(1);
    assert!(held.stdout.contains("failing since"), "{}", held.stdout);
    assert_eq!(receiver.received().len(), 1, "{:#?}", receiver.received());
    // Its Dockerfile changed: built again, failed again, still one page.
    setup.rewrite_dockerfile("broken", "RUN exit 4");
    setup.golden_with_env(&["build", "--all"], &env).expect(1);
    assert_eq!(receiver.received().len(), 1, "{:#?}", receiver.received());
}

#[test]
fn on_failure_sends_nothing_for_a_successful_run_and_sends_for_a_failed_one() {
    let receiver = Receiver::start(&[]);
    let setup = Setup::new(
        "on-failure",
        &format!("webhook = \"{}\"\n", receiver.url()),
        &[("x", "RUN true")],
    );
    setup.golden(&["build", "--all"]).expect(0);
    assert!(
        receiver.received().is_empty(),
        "`on` defaults to [\"failure\"]: {:#?}",
        receiver.received()
    );
    setup.rewrite_dockerfile("x", "RUN exit 3");
    setup.golden(&["rebuild", "x"]).expect(1);
    let received = receiver.received();
    assert_eq!(received.len(), 1, "{received:#?}");
    assert_eq!(received[0].body["outcome"], "failure");
    assert_eq!(ids(&received[0].body), vec!["x"]);
    assert!(received[0].body["summary"]
        .as_str()
        .unwrap()
        .contains("1 failed (x)"));
}

#[test]
fn a_receiver_that_answers_500_then_200_gets_a_retry_and_an_idle_run_sends_nothing() {
    let receiver = Receiver::start(&[Answer::Status(500)]);
    let setup = Setup::new(
        "retry",
        &format!("webhook = \"{}\"\non = [\"success\"]\n", receiver.url()),
        &[("x", "RUN true")],
    );
    let run = setup.golden(&["build", "--all"]).expect(0);
    let received = receiver.received();
    assert_eq!(received.len(), 2, "a 500 is retried: {received:#?}");
    assert_eq!(received[0].body, received[1].body);
    assert_eq!(received[1].body["outcome"], "success");
    assert!(
        !run.stderr.contains("failed to send the notification"),
        "the retry delivered it:\n{}",
        run.stderr
    );
    // Nothing due: nothing built, nothing failed, nothing sent.
    setup.golden(&["build", "--all"]).expect(0);
    assert_eq!(receiver.received().len(), 2, "{:#?}", receiver.received());
}

#[test]
fn a_receiver_that_never_answers_holds_the_run_no_longer_than_the_timeout() {
    let receiver = Receiver::start(&[Answer::Silence; 20]);
    let setup = Setup::new(
        "silent",
        &format!(
            "webhook = \"{}\"\non = [\"always\"]\ntimeout = \"2s\"\nretries = 5\n",
            receiver.url()
        ),
        &[("x", "RUN true")],
    );
    let run = setup.golden(&["build", "--all"]);
    let ended = Instant::now();
    let run = run.expect(0);
    let received = receiver.received();
    assert_eq!(received.len(), 1, "{received:#?}");
    let waited = ended.duration_since(received[0].at);
    assert!(
        waited < Duration::from_millis(3500),
        "the run waited {waited:?} on a receiver that never answers (timeout 2s)"
    );
    assert!(
        run.stderr.contains("failed to send the notification") && run.stderr.contains("timeout"),
        "a warning says so:\n{}",
        run.stderr
    );
    assert!(!run.stderr.contains(TOKEN), "{}", run.stderr);
}

#[test]
fn the_webhook_url_is_printed_nowhere() {
    let receiver = Receiver::start(&[Answer::Status(404)]);
    let setup = Setup::new(
        "secret",
        "webhook_file = \"webhook.url\"\non = [\"always\"]\n",
        &[("x", "RUN true")],
    );
    std::fs::write(setup.path().join("webhook.url"), receiver.url() + "\n").unwrap();
    let report = setup.path().join("report.json");
    let run = setup
        .golden(&[
            "-vv",
            "build",
            "--all",
            "--output",
            "json",
            "--report",
            report.to_str().unwrap(),
        ])
        .expect(0);
    assert_eq!(receiver.received().len(), 1, "a 404 is not retried");
    let report = std::fs::read_to_string(&report).unwrap();
    for (name, text) in [
        ("stdout", &run.stdout),
        ("stderr", &run.stderr),
        ("report", &report),
    ] {
        assert!(!text.contains(TOKEN), "the URL is in {name}:\n{text}");
    }
    assert!(
        run.stderr.contains("webhook_file") && run.stderr.contains("404"),
        "the warning names the key and the answer:\n{}",
        run.stderr
    );
    let plan = setup.golden(&["-vv", "plan", "--output", "json"]).expect(0);
    assert!(!plan.stdout.contains(TOKEN) && !plan.stderr.contains(TOKEN));

    // A bad URL in the environment is refused by key, not shown.
    std::fs::write(
        &setup.config,
        std::fs::read_to_string(&setup.config).unwrap().replace(
            "webhook_file = \"webhook.url\"",
            "webhook_env = \"GOLDEN_TEST_WEBHOOK\"",
        ),
    )
    .unwrap();
    let bad = format!("ftp://127.0.0.1/{TOKEN}");
    let run = setup
        .golden_with_env(&["build", "--all"], &[("GOLDEN_TEST_WEBHOOK", &bad)])
        .expect(2);
    assert!(
        run.stderr
            .contains("`GOLDEN_TEST_WEBHOOK` named by `webhook_env`"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains(TOKEN), "{}", run.stderr);
}

#[test]
fn a_daemon_tick_that_builds_notifies_and_idle_ticks_do_not() {
    let receiver = Receiver::start(&[]);
    let setup = Setup::new(
        "daemon",
        &format!("webhook = \"{}\"\non = [\"always\"]\n", receiver.url()),
        &[("x", "RUN true")],
    );
    let log = setup.path().join("daemon.log");
    let mut daemon = Command::new(env!("CARGO_BIN_EXE_golden"))
        .arg("-c")
        .arg(&setup.config)
        .args(["daemon", "--interval", "1s"])
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while receiver.received().is_empty() && started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(200));
    }
    // Idle ticks follow, one a second.
    std::thread::sleep(Duration::from_secs(5));
    let _ = Command::new("kill")
        .args(["-TERM", &daemon.id().to_string()])
        .status();
    let stopped = Instant::now();
    while daemon.try_wait().unwrap().is_none() {
        if stopped.elapsed() > Duration::from_secs(60) {
            let _ = daemon.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let output = std::fs::read_to_string(&log).unwrap_or_default();
    let received = receiver.received();
    assert_eq!(received.len(), 1, "{received:#?}\n{output}");
    assert_eq!(received[0].body["outcome"], "success");
    assert_eq!(ids(&received[0].body), vec!["x"]);
    assert!(
        // The building tick says `run finished`, an idle one `tick: ...`.
        output.matches("run finished").count() + output.matches("INFO tick: ").count() >= 3,
        "idle ticks ran:\n{output}"
    );
    assert!(!output.contains(TOKEN), "{output}");
}

#[test]
fn an_unset_webhook_variable_stops_only_the_commands_that_notify() {
    let setup = Setup::new(
        "unset-webhook",
        "webhook_env = \"GOLDEN_E2E_WEBHOOK_NEVER_SET\"\n",
        &[("x", "RUN true")],
    );
    // A team's gate (`validate`, `plan`, `check`, `ls`) never sends a
    // notification, so it does not need the secret.
    let dockerfile = setup.path().join("x/Dockerfile");
    for (args, code) in [
        (&["validate"][..], 0),
        (&["plan"][..], 0),
        (&["ls"][..], 0),
        // Exit 1: its finding (x is not FROM a golden image), not the config.
        (&["check", dockerfile.to_str().unwrap()][..], 1),
    ] {
        let run = setup.golden(args);
        assert_eq!(
            run.code, code,
            "golden {args:?}:\n{}{}",
            run.stdout, run.stderr
        );
        assert!(!run.stderr.contains("webhook_env"), "{}", run.stderr);
    }
    // A build would notify: it stops before anything runs, naming the
    // variable at its line.
    let run = setup.golden(&["build", "--all"]).expect(2);
    assert!(
        run.stderr.contains(
            "environment variable `GOLDEN_E2E_WEBHOOK_NEVER_SET` named by `webhook_env` in [notify] is not set"
        ) && run.stderr.contains("golden.toml:"),
        "{}",
        run.stderr
    );
}

/// The lines of a daemon's log that end a tick.
fn ticks(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|line| line.contains("run finished:"))
        .collect()
}

#[test]
fn a_daemon_builds_a_broken_line_once_pages_once_holds_it_and_says_when_it_recovers() {
    let receiver = Receiver::start(&[]);
    let setup = Setup::new(
        "backoff",
        "webhook_env = \"GOLDEN_TEST_WEBHOOK\"\n\n[backoff]\nfirst = \"1h\"\n",
        &[
            ("ok", "RUN true"),
            ("broken", "RUN echo 'no mirror' >&2 && exit 3"),
        ],
    );
    let state = tempfile::tempdir().unwrap();
    let url = receiver.url();
    let env = [
        ("GOLDEN_TEST_WEBHOOK", url.as_str()),
        ("XDG_STATE_HOME", state.path().to_str().unwrap()),
    ];
    let daemon = support::Golden::at(&setup.config)
        .args(["daemon", "--interval", "1s"])
        .env(env[0].0, env[0].1)
        .env(env[1].0, env[1].1)
        .spawn();
    let five = support::try_wait_until(Duration::from_secs(120), || {
        (ticks(&daemon.stderr()).len() >= 5).then_some(())
    });
    assert!(five.is_some(), "five ticks:\n{}", daemon.stderr());
    let log = daemon.stderr();
    let ticks_so_far = ticks(&log);
    let failed = ticks_so_far
        .iter()
        .filter(|l| l.contains("1 failed"))
        .count();
    assert_eq!(
        failed, 1,
        "the broken line is built once, then held (same inputs, backoff 1h):\n{log}"
    );
    assert!(
        ticks_so_far[1..]
            .iter()
            .all(|l| l.contains("0 failed, 1 skipped")),
        "every later tick holds it:\n{log}"
    );
    let received = receiver.received();
    assert_eq!(
        received.len(),
        1,
        "one page when it starts failing: {received:#?}"
    );
    assert_eq!(received[0].body["outcome"], "failure");
    assert_eq!(
        entry(&received[0].body["report"], "broken")["notice"],
        "failing"
    );

    // `plan` says why it is not built, and when it is tried again; exit 1
    // as for `build`: the line is known to fail.
    let plan = setup.golden_with_env(&["plan"], &env).expect(1);
    assert!(
        plan.stdout.contains("failing since") && plan.stdout.contains("retry at"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("1 held while failing"),
        "{}",
        plan.stdout
    );

    // The fix changes the recipe: the next tick builds it, and says so.
    setup.rewrite_dockerfile("broken", "RUN true");
    let recovered = support::try_wait_until(Duration::from_secs(120), || {
        (receiver.received().len() >= 2).then_some(())
    });
    assert!(recovered.is_some(), "recovered:\n{}", daemon.stderr());
    let body = &receiver.received()[1].body;
    let summary = body["summary"].as_str().unwrap();
    assert!(summary.contains("1 recovered (broken 1.0.0)"), "{summary}");
    assert_eq!(body["outcome"], "success");
    daemon.signal("TERM");
    let run = daemon.finish_within(Duration::from_secs(60));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(receiver.received().len(), 2, "{:#?}", receiver.received());
}

#[test]
fn rebuild_by_hand_builds_a_held_line_and_counts_the_failure_quietly() {
    let receiver = Receiver::start(&[]);
    let setup = Setup::new(
        "held-rebuild",
        "webhook_env = \"GOLDEN_TEST_WEBHOOK\"\n",
        &[("broken", "RUN exit 3")],
    );
    let state = tempfile::tempdir().unwrap();
    let url = receiver.url();
    let env = [
        ("GOLDEN_TEST_WEBHOOK", url.as_str()),
        ("XDG_STATE_HOME", state.path().to_str().unwrap()),
    ];
    setup.golden_with_env(&["build", "--all"], &env).expect(1);
    // Held: the default first wait is 5 minutes. Exit 1: the line fails.
    let held = setup
        .golden_with_env(&["build", "--all", "--output", "json"], &env)
        .expect(1);
    let broken = entry(&held.json(), "broken").clone();
    assert_eq!(broken["decision"], "skipped", "{broken:#}");
    assert_eq!(broken["reasons"][0]["kind"], "failing", "{broken:#}");
    assert_eq!(broken["reasons"][0]["attempts"], 1, "{broken:#}");
    assert_eq!(broken["notice"], "quiet", "{broken:#}");
    // By hand it builds (and fails again), quietly.
    let rebuilt = setup
        .golden_with_env(&["rebuild", "broken", "--output", "json"], &env)
        .expect(1);
    assert_eq!(entry(&rebuilt.json(), "broken")["decision"], "failed");
    assert_eq!(receiver.received().len(), 1, "{:#?}", receiver.received());
    let records = std::fs::read_dir(state.path().join("golden"))
        .unwrap()
        .map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap())
        .collect::<Vec<_>>();
    assert_eq!(records.len(), 1, "{records:#?}");
    assert!(records[0].contains("\"attempts\": 2"), "{}", records[0]);
}

#[test]
fn a_page_the_webhook_did_not_take_is_sent_again_on_the_next_failure() {
    // The first message is refused (404, not retried): nobody was told.
    let receiver = Receiver::start(&[Answer::Status(404)]);
    let setup = Setup::new(
        "undelivered",
        "webhook_env = \"GOLDEN_TEST_WEBHOOK\"\n",
        &[("broken", "RUN exit 3")],
    );
    let url = receiver.url();
    let env = [("GOLDEN_TEST_WEBHOOK", url.as_str())];
    let first = setup.golden_with_env(&["build", "--all"], &env).expect(1);
    assert!(first.stderr.contains("HTTP 404"), "{}", first.stderr);
    let again = setup
        .golden_with_env(&["rebuild", "broken", "--output", "json"], &env)
        .expect(1);
    assert_eq!(entry(&again.json(), "broken")["notice"], "failing");
    let received = receiver.received();
    assert_eq!(received.len(), 2, "{received:#?}");
    assert_eq!(
        entry(&received[1].body["report"], "broken")["notice"],
        "failing"
    );
    // Delivered now: the next failure is quiet.
    let quiet = setup
        .golden_with_env(&["rebuild", "broken", "--output", "json"], &env)
        .expect(1);
    assert_eq!(entry(&quiet.json(), "broken")["notice"], "quiet");
    assert_eq!(receiver.received().len(), 2, "{:#?}", receiver.received());
}

/// The hex HMAC-SHA256 of `body` under `key`, by Python's standard library:
/// a reader that shares no code with golden.
fn python_hmac(key: &str, body: &[u8]) -> String {
    let mut child = std::process::Command::new("/usr/bin/python3")
        .args([
            "-c",
            "import hmac, hashlib, sys; print(hmac.new(sys.argv[1].encode(), sys.stdin.buffer.read(), hashlib.sha256).hexdigest())",
            key,
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(body).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

#[test]
fn a_signed_teams_message_carries_an_adaptive_card_and_a_signature_its_receiver_can_check() {
    const KEY: &str = "golden-shared-key-42";
    let receiver = Receiver::start(&[]);
    let setup = Setup::new(
        "teams",
        "webhook_env = \"GOLDEN_TEST_WEBHOOK\"\nformat = \"teams\"\nsigning_secret_env = \"GOLDEN_TEST_SIGNING\"\n",
        &[("broken", "RUN echo 'no mirror' >&2 && exit 3")],
    );
    let url = receiver.url();
    let env = [
        ("GOLDEN_TEST_WEBHOOK", url.as_str()),
        ("GOLDEN_TEST_SIGNING", KEY),
    ];
    let run = setup.golden_with_env(&["build", "--all"], &env).expect(1);
    let received = receiver.received();
    assert_eq!(received.len(), 1, "{received:#?}\n{}", run.stderr);
    let message = &received[0];
    let signature = message
        .headers
        .lines()
        .find_map(|line| line.strip_prefix("x-golden-signature-256:"))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no signature header: {}", message.headers));
    assert_eq!(
        signature,
        format!("sha256={}", python_hmac(KEY, &message.raw)),
        "the signature is HMAC-SHA256 of the body as sent"
    );
    let card = &message.body["attachments"][0];
    assert_eq!(
        card["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert_eq!(card["content"]["type"], "AdaptiveCard");
    let blocks = &card["content"]["body"];
    assert!(
        blocks[0]["text"]
            .as_str()
            .unwrap()
            .contains("1 failed (broken)"),
        "{blocks:#}"
    );
    assert_eq!(blocks[1]["facts"][0]["title"], "broken", "{blocks:#}");
    assert!(!format!("{}{}", run.stdout, run.stderr).contains(KEY));

    // The key unset: only the commands that notify stop, at its line.
    let unset = setup
        .golden_with_env(
            &["build", "--all"],
            &[("GOLDEN_TEST_WEBHOOK", url.as_str())],
        )
        .expect(2);
    assert!(
        unset.stderr.contains(
            "environment variable `GOLDEN_TEST_SIGNING` named by `signing_secret_env` in [notify] is not set"
        ),
        "{}",
        unset.stderr
    );
    // Exit 1: `broken` is held as failing; the key is not asked for.
    let plan = setup
        .golden_with_env(&["plan"], &[("GOLDEN_TEST_WEBHOOK", url.as_str())])
        .expect(1);
    assert!(
        !plan.stderr.contains("signing_secret_env"),
        "{}",
        plan.stderr
    );
}

/// `[notify.owners.NAME]`: the images whose `owner` label is NAME go to
/// that webhook too, cut to them (their counts, their summary); the
/// `[notify]` webhook still gets the whole run; an owner with nothing in
/// the run gets nothing.
#[test]
fn each_owner_gets_its_own_images_and_the_main_webhook_gets_all() {
    let (main, payments, idle) = (
        Receiver::start(&[]),
        Receiver::start(&[]),
        Receiver::start(&[]),
    );
    let setup = Setup::new(
        "owners",
        &format!(
            "webhook = \"{}\"\non = [\"always\"]\n[notify.owners.payments]\nwebhook_env = \"GOLDEN_PAYMENTS_WEBHOOK\"\n[notify.owners.search]\nwebhook = \"{}\"\n",
            main.url(),
            idle.url()
        ),
        &[
            ("api", "RUN true"),
            ("ledger", "RUN echo 'no mirror' >&2 && exit 3"),
            ("tools", "RUN true"),
        ],
    );
    let mut config = std::fs::read_to_string(&setup.config).unwrap();
    for (id, owner) in [
        ("api", "payments"),
        ("ledger", "payments"),
        ("tools", "platform"),
    ] {
        config.push_str(&format!("[images.{id}.labels]\nowner = \"{owner}\"\n"));
    }
    std::fs::write(&setup.config, config).unwrap();
    let url = payments.url();
    setup
        .golden_with_env(
            &["build", "--all"],
            &[("GOLDEN_PAYMENTS_WEBHOOK", url.as_str())],
        )
        .expect(1);
    let whole = main.received();
    assert_eq!(whole.len(), 1, "{whole:#?}");
    assert_eq!(ids(&whole[0].body), vec!["api", "ledger", "tools"]);
    let owned = payments.received();
    assert_eq!(owned.len(), 1, "{owned:#?}");
    let body = &owned[0].body;
    assert_eq!(ids(body), vec!["api", "ledger"]);
    assert_eq!(body["report"]["totals"]["built"], 1, "{body:#}");
    assert_eq!(body["report"]["totals"]["failed"], 1, "{body:#}");
    let summary = body["summary"].as_str().unwrap();
    assert!(summary.contains("1 failed (ledger)"), "{summary}");
    assert!(!summary.contains("tools"), "{summary}");
    assert!(idle.received().is_empty(), "{:#?}", idle.received());

    // An owner's webhook is read like [notify]'s: unset, it is an error
    // naming its table, for the commands that notify.
    let unset = setup.golden(&["build", "--all"]).expect(2);
    assert!(
        unset
            .stderr
            .contains("`GOLDEN_PAYMENTS_WEBHOOK` named by `webhook_env` in [notify.owners.payments] is not set"),
        "{}",
        unset.stderr
    );
}
