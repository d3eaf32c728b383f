//! End to end: overlapping runs of one config never build at once, and a
//! signal stops a run cleanly, against the real engine and registry.

mod common;

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{digest, tags, Run, Stack};

/// Starts `golden ARGS` in the background with stderr in a file.
fn spawn(stack: &Stack, args: &[&str], log: &str) -> (Child, std::path::PathBuf) {
    let path = stack.path().join(log);
    let child = Command::new(env!("CARGO_BIN_EXE_golden"))
        .arg("-c")
        .arg(stack.config())
        .args(args)
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&path).unwrap())
        .spawn()
        .unwrap();
    (child, path)
}

fn wait_for_text(path: &std::path::Path, text: &str) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        if std::fs::read_to_string(path)
            .unwrap_or_default()
            .contains(text)
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "`{text}` never appeared in {}:\n{}",
        path.display(),
        std::fs::read_to_string(path).unwrap_or_default()
    );
}

fn finish(mut child: Child, log: &std::path::Path) -> Run {
    let status = child.wait().unwrap();
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    Run {
        code: status.code().unwrap_or(-1),
        stdout,
        stderr: std::fs::read_to_string(log).unwrap_or_default(),
    }
}

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
    let (first, log) = spawn(&stack, &["build", "--all"], "first.log");
    wait_for_text(&log, "building");
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
    let first = finish(first, &log);
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
    let (child, log) = spawn(
        &stack,
        &["build", "--all", "--jobs", "1", "--output", "json"],
        "run.log",
    );
    wait_for_text(&log, "building");
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let run = finish(child, &log);
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
    let base = stack.repository("base");
    let exact = digest(&base, "1.0.0").expect("the image in flight was pushed");
    for tag in ["1.0", "1", "latest"] {
        assert_eq!(
            digest(&base, tag).as_deref(),
            Some(exact.as_str()),
            "its floating tags moved: {tag}"
        );
    }
    assert!(
        tags(&stack.repository("runtime")).is_empty(),
        "nothing new was started"
    );
    // The lock is released: the next run finishes the rest.
    stack.golden(&["build", "--all"]).expect(0);
    assert!(digest(&stack.repository("runtime"), "3.0.0").is_some());
}
