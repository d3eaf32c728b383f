//! End to end: `golden daemon --listen` against the real engine and
//! registry. The status page is loaded in headless Chromium (a phone-sized
//! screenshot is kept under `target/daemon-web/`), `/metrics` is read by
//! the `prometheus_client` parsers, `/healthz` follows a config broken and
//! fixed; an idle tick logs one line, `-v` the per-image lines, and
//! `--log-format json` one JSON object per line.

use crate::support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::Stack;

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

/// A `golden daemon` of the test's own, killed when dropped.
struct Daemon {
    child: Option<Child>,
    log: PathBuf,
}

impl Daemon {
    fn start(config: &Path, log: PathBuf, args: &[&str]) -> Daemon {
        let child = Command::new(env!("CARGO_BIN_EXE_golden"))
            .arg("-c")
            .arg(config)
            .args(args)
            .env_remove("RUST_LOG")
            .env_remove("GOLDEN_LOG_FORMAT")
            .env_remove("GOLDEN_LISTEN")
            .env_remove("STATE_DIRECTORY")
            .env("XDG_STATE_HOME", support::state_home())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Daemon {
            child: Some(child),
            log,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The `http://HOST:PORT` the daemon says it serves on.
    fn address(&self) -> String {
        let mut address = None;
        let found = wait_until(Duration::from_secs(30), || {
            address = self.log().split_whitespace().find_map(|word| {
                word.trim_matches('"')
                    .strip_prefix("http://")
                    .map(|rest| format!("http://{}", rest.trim_end_matches('/')))
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

    /// SIGTERM, then the exit code within 60 s.
    fn stop(mut self) -> (Option<i32>, String) {
        let mut child = self.child.take().unwrap();
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let mut code = None;
        let stopped = wait_until(Duration::from_secs(60), || {
            code = child.try_wait().unwrap().map(|status| status.code());
            code.is_some()
        });
        if !stopped {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the daemon did not stop within 60s:\n{}", self.log());
        }
        (code.flatten(), self.log())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// GET `url`: the status code and the body, whatever the status.
fn get(url: &str) -> (u16, String) {
    match ureq::get(url).timeout(Duration::from_secs(10)).call() {
        Ok(response) => (response.status(), response.into_string().unwrap()),
        Err(ureq::Error::Status(code, response)) => (code, response.into_string().unwrap()),
        Err(error) => panic!("GET {url}: {error}"),
    }
}

/// Where the test keeps what a person would look at.
fn artifacts() -> PathBuf {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/daemon-web");
    std::fs::create_dir_all(&directory).unwrap();
    directory
}

/// Runs headless Chromium on `url` with `args`, killed after 90 s.
fn chromium(url: &str, args: &[&str]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let output = tempfile::NamedTempFile::new().unwrap();
    let mut child = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(url)
        .stdout(output.reopen().unwrap())
        .stderr(Stdio::null())
        .spawn()
        .expect("headless Chromium (Debian's `chromium`) is installed by scripts/env");
    let mut status = None;
    wait_until(Duration::from_secs(90), || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
        panic!("chromium did not finish within 90s on {url}");
    }
    assert!(status.unwrap().success(), "chromium {args:?} {url} failed");
    std::fs::read_to_string(output.path()).unwrap()
}

/// Lays `html` out in headless Chromium in a frame of `width` x `height`
/// (a window cannot be narrower than 500 px there) and reports the words
/// outside build errors that it cut across lines, and whether the page is
/// wider than the frame: `{"width", "broken", "overflow"}`.
fn layout_in_chromium(html: &str, width: u32, height: u32) -> serde_json::Value {
    const CHECK: &str = r#"<script>
(function () {
  const broken = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (node.parentElement.closest('.error, script')) continue;
    for (const match of node.data.matchAll(/\S+/g)) {
      const range = document.createRange();
      range.setStart(node, match.index);
      range.setEnd(node, match.index + match[0].length);
      const lines = new Set(Array.from(range.getClientRects())
        .filter((rect) => rect.width > 0)
        .map((rect) => Math.round(rect.top)));
      if (lines.size > 1) broken.push(match[0]);
    }
  }
  const overflow = document.documentElement.scrollWidth > window.innerWidth;
  parent.postMessage(
    JSON.stringify({ width: window.innerWidth, broken: broken, overflow: overflow }), '*');
})();
</script>"#;
    let directory = tempfile::tempdir().unwrap();
    let inner = directory.path().join("page.html");
    std::fs::write(&inner, html.replace("</body>", &format!("{CHECK}</body>"))).unwrap();
    let outer = directory.path().join("frame.html");
    std::fs::write(
        &outer,
        format!(
            "<!DOCTYPE html><html><body style=\"margin:0\"><iframe src=\"page.html\" style=\"border:0;width:{width}px;height:{height}px\"></iframe>\
             <script>window.addEventListener('message', (e) => document.body.setAttribute('data-layout', e.data));</script></body></html>"
        ),
    )
    .unwrap();
    let dom = chromium(
        &format!("file://{}", outer.display()),
        &[
            &format!("--window-size={},{}", width.max(500) + 40, height + 40),
            "--allow-file-access-from-files",
            "--virtual-time-budget=5000",
            "--dump-dom",
        ],
    );
    let attribute = dom
        .split("data-layout=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("the layout check did not run:\n{dom}"));
    serde_json::from_str(&attribute.replace("&quot;", "\"").replace("&amp;", "&")).unwrap()
}

/// The text a reader sees in `html`: tags become spaces, entities are
/// decoded, whitespace is collapsed.
fn text_of(html: &str) -> String {
    // Inline markup inside a word (a line-break opportunity, a span that
    // keeps a word whole) is not a space to a reader.
    let html = html
        .replace("<wbr>", "")
        .replace("<span class=\"w\">", "")
        .replace("</span>", "");
    let mut text = String::new();
    let mut in_tag = false;
    for character in html.chars() {
        match character {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                text.push(' ');
            }
            _ if !in_tag => text.push(character),
            _ => {}
        }
    }
    let text = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Parses `/metrics` with `prometheus_client`'s strict OpenMetrics parser
/// (what Prometheus applies to this content type) and its classic text
/// parser: the families as JSON, name -> {type, unit, samples}.
fn parse_metrics(text: &str) -> serde_json::Value {
    const SCRIPT: &str = r#"
import json, sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics
from prometheus_client.parser import text_string_to_metric_families as classic
text = sys.stdin.read()
families = {}
for family in openmetrics(text):
    families[family.name] = {
        "type": family.type,
        "unit": family.unit,
        "samples": [[s.name, s.labels, s.value] for s in family.samples],
    }
classic_samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in classic(text) for s in f.samples}
strict_samples = {(s[0], tuple(sorted(s[1].items()))): s[2] for f in families.values() for s in f["samples"]}
assert classic_samples == strict_samples, (classic_samples, strict_samples)
print(json.dumps(families))
"#;
    python_json(SCRIPT, text, "prometheus_client's OpenMetrics parser")
}

/// Runs the Python `script` on `text` (stdin) and reads the JSON it
/// prints; `parser` names it when it refuses the text.
fn python_json(script: &str, text: &str, parser: &str) -> serde_json::Value {
    let mut child = Command::new("/usr/bin/python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("/usr/bin/python3 with python3-prometheus-client is installed by scripts/env");
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), text.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{parser} rejected /metrics (python3-prometheus-client comes with scripts/env):\n{}\n--- metrics\n{text}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Parses Prometheus text 0.0.4 with `prometheus_client`'s classic
/// parser, which is what Prometheus applies to `text/plain`: the families
/// as JSON, name -> {type}. A `# TYPE` line that does not name its samples
/// makes the parser type the family `unknown`.
fn parse_classic_metrics(text: &str) -> serde_json::Value {
    const SCRIPT: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families as classic
print(json.dumps({f.name: {"type": f.type} for f in classic(sys.stdin.read())}))
"#;
    python_json(SCRIPT, text, "prometheus_client's classic parser")
}

/// The value of `sample` with `labels` (all of them) in `family`.
fn sample(
    families: &serde_json::Value,
    family: &str,
    sample: &str,
    labels: &[(&str, &str)],
) -> f64 {
    let samples = families[family]["samples"]
        .as_array()
        .unwrap_or_else(|| panic!("no family {family} in {families:#}"));
    samples
        .iter()
        .find(|entry| {
            entry[0] == sample
                && entry[1].as_object().unwrap().len() == labels.len()
                && labels.iter().all(|(name, value)| entry[1][*name] == *value)
        })
        .and_then(|entry| entry[2].as_f64())
        .unwrap_or_else(|| panic!("no {sample}{labels:?} in {family}: {samples:?}"))
}

const BROKEN: &str = "FROM 127.0.0.1:5000/upstream/busybox:1.36\nRUN echo \"<script>document.body.setAttribute('data-injected','yes')</script>\" && exit 3\n";

#[test]
fn the_daemon_serves_its_status_page_metrics_and_health() {
    let stack = Stack::new("daemon-web");
    stack.write("images/broken/Dockerfile", BROKEN);
    // Broken is built once, then held: its inputs do not change.
    stack.append_config(
        "\n[images.broken]\nversion = \"1.0\"\ncontext = \"images/broken\"\n\n[backoff]\nfirst = \"1h\"\n",
    );
    let started = chrono::Utc::now().timestamp() as f64;
    let daemon = Daemon::start(
        &stack.config(),
        stack.path().join("daemon.log"),
        &["daemon", "--interval", "1s", "--listen", "127.0.0.1:0"],
    );
    let address = daemon.address();

    // The first tick builds the four lines; the next finds them up to date.
    let settled = wait_until(Duration::from_secs(240), || {
        let (_, page) = get(&format!("{address}/"));
        page.matches("class=\"result-up-to-date\"").count() == 4
    });
    assert!(
        settled,
        "the lines never showed up to date:\n{}",
        daemon.log()
    );

    let (code, health) = get(&format!("{address}/healthz"));
    assert_eq!(code, 200, "{health}");
    assert!(health.starts_with("ok: last tick finished at "), "{health}");
    let (code, live) = get(&format!("{address}/livez"));
    assert_eq!(code, 200, "{live}");
    assert!(live.starts_with("alive: up since "), "{live}");
    let (code, ready) = get(&format!("{address}/readyz"));
    assert_eq!(code, 200, "{ready}");
    assert!(ready.contains("; 1 line(s) failing"), "{ready}");

    // Which lines fail now, for scripts.
    let (code, status) = get(&format!("{address}/status.json"));
    assert_eq!(code, 200, "{status}");
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["version"], 1, "{status:#}");
    assert_eq!(
        status["failing"],
        serde_json::json!(["broken"]),
        "{status:#}"
    );
    assert_eq!(status["ready"]["ok"], true, "{status:#}");
    let line = |id: &str| {
        status["lines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|line| line["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("no line {id} in {status:#}"))
    };
    let broken = line("broken");
    assert_eq!(broken["failing"], true, "{broken:#}");
    assert_eq!(
        broken["result"], "skipped",
        "held after one failure: {broken:#}"
    );
    assert!(broken["failing_since"].is_string(), "{broken:#}");
    assert!(
        broken["reasons"][0]
            .as_str()
            .unwrap()
            .starts_with("failing since "),
        "{broken:#}"
    );
    assert!(
        broken["error"].as_str().unwrap().contains("exit code 3")
            || broken["error"].as_str().unwrap().contains("exit 3"),
        "a held line keeps its error: {broken:#}"
    );
    // What recent ticks did to each line: built once, then nothing kept.
    let history = |id: &str| line(id)["history"].as_array().unwrap().clone();
    let base = history("base");
    assert_eq!(base.len(), 1, "{base:?}");
    assert_eq!(base[0]["result"], "built");
    assert_eq!(base[0]["version"], "1.0.0");
    assert!(
        history("broken")
            .last()
            .is_some_and(|first| first["result"] == "failed"),
        "{:?}",
        history("broken")
    );
    assert_eq!(line("base")["last_reasons"], "never built");
    assert_eq!(line("base")["failing"], false);
    assert_eq!(line("base")["failing_since"], serde_json::Value::Null);

    // The page as a browser renders it.
    let url = format!("{address}/");
    let dom = chromium(&url, &["--dump-dom"]);
    let screenshot = artifacts().join("status-phone.png");
    let _ = std::fs::remove_file(&screenshot);
    chromium(
        &url,
        &[
            &format!("--screenshot={}", screenshot.display()),
            "--window-size=390,844",
            "--hide-scrollbars",
        ],
    );
    assert!(
        std::fs::metadata(&screenshot).is_ok_and(|m| m.len() > 1000),
        "no screenshot at {}",
        screenshot.display()
    );
    std::fs::write(artifacts().join("status.html"), &dom).unwrap();
    // No word is cut in two, on a laptop or a phone, and nothing scrolls
    // sideways (build errors may wrap anywhere).
    let (_, html) = get(&url);
    for (width, height) in [(1280, 900), (390, 844)] {
        let layout = layout_in_chromium(&html, width, height);
        assert_eq!(layout["width"], width, "{layout}");
        assert_eq!(
            layout["broken"],
            serde_json::json!([]),
            "words cut at {width} px: {layout}"
        );
        assert_eq!(layout["overflow"], false, "{layout}");
    }
    assert!(dom.contains("name=\"viewport\""), "{dom}");
    assert!(
        !dom.contains("data-injected=\"yes\""),
        "markup from a build error ran in the page:\n{dom}"
    );
    let text = text_of(&dom);
    let repository = |name: &str| stack.repository(name);
    for row in [
        format!(
            "base {}:1.0 1.0.0 1.0, 1, latest 1.0.0 at ",
            repository("base")
        ),
        format!(
            "tools {}:2.1 2.1.0 2.1, 2, latest 2.1.0 at ",
            repository("tools")
        ),
        format!(
            "tools-lts {}:1.4 1.4.0 1.4, 1 1.4.0 at ",
            repository("tools")
        ),
        format!(
            "runtime {}:3.0 3.0.0 3.0, 3, latest 3.0.0 at ",
            repository("runtime")
        ),
        format!(
            "broken {}:1.0 - - - - skipped failing since ",
            repository("broken")
        ),
    ] {
        assert!(text.contains(&row), "no row `{row}` in the page:\n{text}");
    }
    assert!(text.contains(" up-to-date "), "{text}");
    // The banner says a line fails though the loop is fine.
    assert!(
        dom.contains("class=\"health failing\"")
            && text.contains("1 line(s) failing: broken (since "),
        "{text}"
    );
    assert!(
        text.contains("<script>document.body.setAttribute('data-injected','yes')</script>"),
        "the build error is shown as text:\n{text}"
    );
    // Recent runs: the first built 4 and failed 1, later ones failed 1.
    assert!(
        text.contains("Time Built Failed Up to date Duration Result"),
        "{text}"
    );
    assert!(text.contains(" 4 1 0 "), "the first run: {text}");
    assert!(text.contains(" 0 1 4 "), "an idle run: {text}");
    assert!(text.contains(" images failed"), "{text}");

    // Metrics, by a real parser.
    let (code, metrics) = get(&format!("{address}/metrics"));
    assert_eq!(code, 200);
    let families = parse_metrics(&metrics);
    for (name, kind) in families
        .as_object()
        .unwrap()
        .iter()
        .map(|(n, f)| (n, &f["type"]))
    {
        assert!(name.starts_with("golden_"), "{name}");
        if name.ends_with("_seconds") {
            assert_eq!(families[name]["unit"], "seconds", "{name}");
        }
        assert!(
            kind != "counter" || !name.ends_with("_total"),
            "{name}: the family of a counter is named without _total, its samples with it"
        );
    }
    assert_eq!(families["golden_runs"]["type"], "counter");
    let failed_runs = sample(
        &families,
        "golden_runs",
        "golden_runs_total",
        &[("result", "images_failed")],
    );
    assert!(failed_runs >= 2.0, "{failed_runs}");
    assert_eq!(
        sample(
            &families,
            "golden_builds",
            "golden_builds_total",
            &[("image", "base"), ("result", "built")]
        ),
        1.0
    );
    // Built once, then held (skipped) on every later tick.
    assert_eq!(
        sample(
            &families,
            "golden_builds",
            "golden_builds_total",
            &[("image", "broken"), ("result", "failed")]
        ),
        1.0
    );
    assert!(
        sample(
            &families,
            "golden_builds",
            "golden_builds_total",
            &[("image", "broken"), ("result", "skipped")]
        ) >= 1.0
    );
    for (image, failing) in [("broken", 1.0), ("base", 0.0), ("runtime", 0.0)] {
        assert_eq!(
            sample(
                &families,
                "golden_image_failing",
                "golden_image_failing",
                &[("image", image)]
            ),
            failing,
            "{image}"
        );
    }
    let info = families["golden_build_info"]["samples"][0].clone();
    assert_eq!(info[1]["version"], env!("CARGO_PKG_VERSION"), "{info}");
    assert!(!info[1]["commit"].as_str().unwrap().is_empty(), "{info}");
    assert_eq!(info[2], 1.0, "{info}");

    // Prometheus text 0.0.4 for a scraper that asks for it.
    let response = ureq::get(&format!("{address}/metrics"))
        .set("Accept", "text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
        .timeout(Duration::from_secs(10))
        .call()
        .unwrap();
    assert_eq!(
        response.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let classic = response.into_string().unwrap();
    assert!(!classic.contains("# EOF"), "{classic}");
    let classic = parse_classic_metrics(&classic);
    assert_eq!(classic["golden_runs"]["type"], "counter", "{classic:#}");
    assert_eq!(
        classic["golden_image_failing"]["type"], "gauge",
        "{classic:#}"
    );
    let now = chrono::Utc::now().timestamp() as f64;
    for image in ["base", "tools", "tools-lts", "runtime"] {
        let labels = [("image", image)];
        let built = sample(
            &families,
            "golden_last_success_timestamp_seconds",
            "golden_last_success_timestamp_seconds",
            &labels,
        );
        assert!(
            built >= started - 5.0 && built <= now + 5.0,
            "{image} built at {built}"
        );
        let due = sample(
            &families,
            "golden_next_due_timestamp_seconds",
            "golden_next_due_timestamp_seconds",
            &labels,
        );
        assert!(due > now, "{image} due at {due}");
    }
    assert!(
        !metrics.contains("golden_last_success_timestamp_seconds{image=\"broken\"}"),
        "broken never succeeded"
    );
    for histogram in [
        "golden_build_duration_seconds",
        "golden_push_duration_seconds",
    ] {
        assert_eq!(families[histogram]["type"], "histogram");
        let count = sample(&families, histogram, &format!("{histogram}_count"), &[]);
        assert!(count >= 4.0, "{histogram}: {count}");
        let all = sample(
            &families,
            histogram,
            &format!("{histogram}_bucket"),
            &[("le", "+Inf")],
        );
        assert_eq!(all, count, "{histogram}");
    }
    assert!(
        sample(
            &families,
            "golden_registry_requests",
            "golden_registry_requests_total",
            &[]
        ) > 10.0
    );

    // A broken edit makes the daemon unhealthy, with the reason; the fix heals it.
    let config = std::fs::read_to_string(stack.config()).unwrap();
    std::fs::write(
        stack.config(),
        format!("{config}\n[images.base]\nversion = \"1.0\"\n"),
    )
    .unwrap();
    let mut health = String::new();
    let broken = wait_until(Duration::from_secs(60), || {
        let (code, body) = get(&format!("{address}/healthz"));
        health = body;
        code == 503
    });
    assert!(broken, "still healthy with a broken config: {health}");
    assert!(
        health.starts_with("config not usable at the tick of "),
        "{health}"
    );
    assert!(
        health.contains("golden.toml"),
        "the reason names the file: {health}"
    );
    let (_, page) = get(&format!("{address}/"));
    assert!(page.contains("class=\"health bad\""), "{page}");
    // Not ready, but alive: nothing to restart for.
    assert_eq!(get(&format!("{address}/readyz")).0, 503);
    assert_eq!(get(&format!("{address}/livez")).0, 200);

    // An unreachable registry: the tick fails to run.
    let unreachable = config.replace("host = \"127.0.0.1:5000\"", "host = \"127.0.0.1:9\"");
    assert_ne!(unreachable, config, "the stack's registry host moved");
    std::fs::write(stack.config(), &unreachable).unwrap();
    let failed = wait_until(Duration::from_secs(90), || {
        let (code, body) = get(&format!("{address}/healthz"));
        health = body;
        code == 503 && health.starts_with("the last tick failed to run")
    });
    assert!(
        failed,
        "no failed tick reported: {health}\n{}",
        daemon.log()
    );
    let (code, ready) = get(&format!("{address}/readyz"));
    assert_eq!(code, 503, "{ready}");
    assert!(ready.starts_with("the last tick failed to run"), "{ready}");
    assert_eq!(get(&format!("{address}/livez")).0, 200);

    std::fs::write(stack.config(), &config).unwrap();
    let healed = wait_until(Duration::from_secs(120), || {
        get(&format!("{address}/healthz")).0 == 200
    });
    assert!(healed, "not healthy again after the fix:\n{}", daemon.log());
    let (_, metrics) = get(&format!("{address}/metrics"));
    let families = parse_metrics(&metrics);
    assert!(
        sample(
            &families,
            "golden_runs",
            "golden_runs_total",
            &[("result", "config_invalid")]
        ) >= 1.0
    );
    assert!(
        sample(
            &families,
            "golden_runs",
            "golden_runs_total",
            &[("result", "run_failed")]
        ) >= 1.0
    );

    let (code, log) = daemon.stop();
    assert_eq!(code, Some(0), "{log}");
    assert!(
        std::net::TcpStream::connect(address.trim_start_matches("http://")).is_err(),
        "the server stopped with the daemon"
    );
}

/// The offline stack with six more lines: ten images, all built.
fn ten_built_images(name: &str) -> Stack {
    let stack = Stack::new(name);
    for copy in 1..=6 {
        stack.append_config(&format!(
            "\n[images.copy{copy}]\nversion = \"1.0\"\ncontext = \"images/base\"\n"
        ));
    }
    stack.golden(&["build", "--all"]).expect(0);
    stack
}

/// Runs the daemon until it logged `ticks` lines for which `is_tick` holds,
/// then stops it; its log lines.
fn run_ticks(
    stack: &Stack,
    args: &[&str],
    ticks: usize,
    is_tick: impl Fn(&str) -> bool,
) -> Vec<String> {
    let mut all = vec!["daemon", "--interval", "1s"];
    all.extend_from_slice(args);
    let daemon = Daemon::start(
        &stack.config(),
        stack.path().join(format!("daemon-{}.log", args.join(""))),
        &all,
    );
    let done = wait_until(Duration::from_secs(120), || {
        daemon.log().lines().filter(|line| is_tick(line)).count() >= ticks
    });
    assert!(done, "fewer than {ticks} ticks:\n{}", daemon.log());
    let (code, log) = daemon.stop();
    assert_eq!(code, Some(0), "{log}");
    BufReader::new(log.as_bytes())
        .lines()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn an_idle_tick_logs_one_line_details_at_v_and_json_for_shippers() {
    let stack = ten_built_images("daemon-quiet");
    let tick_text = "tick: 10 up to date, next due ";

    let lines = run_ticks(&stack, &[], 3, |line| line.contains(tick_text));
    let other: Vec<&String> = lines
        .iter()
        .filter(|line| !line.contains(tick_text))
        .filter(|line| !line.contains("daemon started") && !line.contains("daemon stopped"))
        .filter(|line| !line.contains("signal received"))
        .collect();
    assert!(
        other.is_empty(),
        "idle ticks logged more than their line: {other:#?}\n{lines:#?}"
    );

    // -v: each image's line too.
    let lines = run_ticks(&stack, &["-v"], 2, |line| line.contains(tick_text));
    let ticks = lines.iter().filter(|line| line.contains(tick_text)).count();
    let details = lines
        .iter()
        .filter(|line| line.contains("DEBUG") && line.contains(" up to date image="))
        .count();
    assert!(
        details >= 10 * ticks && details <= 10 * (ticks + 1),
        "{details} per-image lines for {ticks} ticks:\n{lines:#?}"
    );

    // JSON: every line an object a log shipper can read.
    let lines = run_ticks(&stack, &["--log-format", "json"], 2, |line| {
        line.contains(tick_text)
    });
    let mut ticks = 0;
    for line in &lines {
        let object: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|error| panic!("not JSON ({error}): {line}"));
        for field in ["timestamp", "level", "message"] {
            assert!(object[field].is_string(), "no {field} in {line}");
        }
        if object["message"].as_str().unwrap().starts_with(tick_text) {
            assert_eq!(object["level"], "INFO", "{line}");
            ticks += 1;
        }
    }
    assert!(ticks >= 2, "{lines:#?}");
    let started = lines
        .iter()
        .find(|line| line.contains("daemon started"))
        .unwrap();
    let started: serde_json::Value = serde_json::from_str(started).unwrap();
    assert_eq!(
        started["interval_seconds"], 1,
        "fields stay fields: {started}"
    );
}
