//! End to end: what two runs that do not share a lock (two machines; here
//! two proxy spellings of one registry) do to each other's exact tags, and
//! an engine of a pool lost while it pushes. A gate proxy of this file's
//! own holds chosen requests until the test opens them, so each race is
//! played in one exact order instead of hoped for.

use crate::support;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use support::engines::{tagged_in, DockerCli, Engine, MAIN_ENGINE};
use support::{digest, entry, labels, proxy, tags, Golden, Run, REGISTRY, SEED};

/// Each wait of these tests ends within this or fails.
const LIMIT: Duration = Duration::from_secs(180);

/// One request a [`GateProxy`] holds: the first `method` request (`*`:
/// any), arriving once the gate is armed, whose target contains `path`.
struct Gate {
    method: &'static str,
    path: String,
    armed: AtomicBool,
    /// Set once a request took the gate: it holds only one.
    taken: AtomicBool,
    /// Requests held so far (0 or 1).
    held: AtomicUsize,
    open: Mutex<bool>,
    opened: Condvar,
}

impl Gate {
    fn new(method: &'static str, path: String, armed: bool) -> Arc<Gate> {
        Arc::new(Gate {
            method,
            path,
            armed: AtomicBool::new(armed),
            taken: AtomicBool::new(false),
            held: AtomicUsize::new(0),
            open: Mutex::new(false),
            opened: Condvar::new(),
        })
    }

    /// From now on the gate holds the next matching request.
    fn arm(&self) {
        self.armed.store(true, Ordering::SeqCst);
    }

    /// Lets the held request (and any later one) through.
    fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.opened.notify_all();
    }

    /// Whether a request is held (or was).
    fn holds(&self) -> bool {
        self.held.load(Ordering::SeqCst) > 0
    }

    /// Waits, when this request is the gate's, until the gate opens.
    fn pass(&self, method: &str, target: &str) {
        if (self.method != "*" && method != self.method)
            || !target.contains(&self.path)
            || !self.armed.load(Ordering::SeqCst)
            || self.taken.swap(true, Ordering::SeqCst)
        {
            return;
        }
        self.held.fetch_add(1, Ordering::SeqCst);
        let mut open = self.open.lock().unwrap();
        while !*open {
            open = self.opened.wait(open).unwrap();
        }
    }
}

/// A loopback proxy in front of the test registry: another spelling of it
/// (so another lock) whose gates hold chosen requests.
struct GateProxy {
    port: u16,
}

impl GateProxy {
    fn start(gates: Vec<Arc<Gate>>) -> GateProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let gates = Arc::new(gates);
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let gates = gates.clone();
                std::thread::spawn(move || forward(client, &gates));
            }
        });
        GateProxy { port }
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

/// Forwards one request (one connection: `Connection: close`) to the
/// registry once every gate lets it through.
fn forward(mut client: TcpStream, gates: &[Arc<Gate>]) {
    let Some(request) = proxy::read_request(&mut client) else {
        return;
    };
    for gate in gates {
        gate.pass(&request.method, &request.target);
    }
    if let Some(server) = proxy::open_upstream(&client, &request, REGISTRY) {
        proxy::pass_reply(server, client);
    }
}

/// Waits until `gate` holds a request; fails naming `what` and the runs'
/// stderr otherwise.
#[track_caller]
fn wait_held(gate: &Gate, what: &str, runs: &mut [&mut support::Running]) {
    let held = support::try_wait_until(LIMIT, || {
        if gate.holds() {
            return Some(true);
        }
        runs.iter_mut().any(|run| run.exited()).then_some(false)
    });
    if held != Some(true) {
        let stderr: Vec<String> = runs.iter().map(|run| run.stderr()).collect();
        panic!(
            "{what} never happened ({})\n--- stderr\n{}",
            if held.is_none() {
                "timed out"
            } else {
                "a run exited"
            },
            stderr.join("\n--- stderr\n")
        );
    }
}

/// A config of image `x` (FROM the seed, one step that differs on every
/// build) pushing to `host` under `namespace`, in `directory`.
fn race_config(directory: &Path, host: &str, namespace: &str, file: &str) -> PathBuf {
    let context = directory.join("x");
    std::fs::create_dir_all(&context).unwrap();
    std::fs::write(
        context.join("Dockerfile"),
        // Each config's build differs by its RUNNER: BuildKit runs one
        // step for identical steps of concurrent builds, so two runs of
        // one config in the same second would push one digest, and there
        // would be no race to lose.
        format!("FROM {SEED}\nARG RUNNER\nRUN echo $RUNNER > /runner && date +%s%N > /built-at\n"),
    )
    .unwrap();
    let config = directory.join(file);
    std::fs::write(
        &config,
        format!(
            "[registry]\nhost = \"{host}\"\nnamespace = \"{namespace}\"\n\n[images.x]\nversion = \"1.0\"\ncontext = \"x\"\nbuild_args = {{ RUNNER = \"{file}\" }}\n"
        ),
    )
    .unwrap();
    config
}

/// The exact tag and digest a run reports for `x`.
#[track_caller]
fn reported(run: &Run) -> (String, String) {
    let report = run.json();
    let x = entry(&report, "x");
    assert_eq!(
        x["decision"], "built",
        "{report:#}\n--- stderr\n{}",
        run.stderr
    );
    (
        x["tag"].as_str().unwrap().to_string(),
        x["digest"].as_str().unwrap().to_string(),
    )
}

/// Run A pushed 1.0.1 and confirmed it; run B, which found 1.0.1 free
/// before A's push landed, then pushed 1.0.1 over it. Both used to go on:
/// A reported 1.0.1 with a digest the registry no longer held and moved the
/// floating tags to it. Now A re-reads the exact tag before moving any
/// floating tag, finds it lost the race, and publishes under 1.0.2.
#[test]
fn two_runners_never_both_release_one_exact_tag() {
    support::require_environment();
    let namespace = format!("e2e-race-exact-{}", std::process::id());
    let directory = tempfile::tempdir().unwrap();
    let setup = race_config(directory.path(), REGISTRY, &namespace, "golden.toml");
    support::golden_at(&setup, &["build", "--all"]).expect(0);
    let repository = format!("{REGISTRY}/{namespace}/x");
    let manifest = format!("/{namespace}/x/manifests/1.0.1");
    let tag_list = format!("/{namespace}/x/tags/list");

    let a_put = Gate::new("PUT", manifest.clone(), true);
    let a_list = Gate::new("GET", tag_list, false);
    let b_put = Gate::new("PUT", manifest, true);
    let a_proxy = GateProxy::start(vec![a_put.clone(), a_list.clone()]);
    let b_proxy = GateProxy::start(vec![b_put.clone()]);
    let a_config = race_config(directory.path(), &a_proxy.host(), &namespace, "a.toml");
    let b_config = race_config(directory.path(), &b_proxy.host(), &namespace, "b.toml");
    let args = ["rebuild", "x", "--output", "json"];
    let mut a = Golden::at(&a_config).args(args).spawn();
    let mut b = Golden::at(&b_config).args(args).spawn();

    // Both found 1.0.1 free; their engine pushes wait on the manifest PUT.
    wait_held(&a_put, "run A's push of 1.0.1", &mut [&mut a, &mut b]);
    wait_held(&b_put, "run B's push of 1.0.1", &mut [&mut a, &mut b]);
    // A's push lands and is confirmed; A waits on its tag list read.
    a_list.arm();
    a_put.open();
    wait_held(
        &a_list,
        "run A's tag list read after its push",
        &mut [&mut a],
    );
    let first = digest(&repository, "1.0.1").expect("A pushed 1.0.1");
    // B's push lands over it.
    b_put.open();
    support::wait_until("run B's push of 1.0.1", LIMIT, || {
        digest(&repository, "1.0.1")
            .filter(|now| *now != first)
            .map(|_| ())
    });
    a_list.open();
    let a = a.finish_within(LIMIT);
    let b = b.finish_within(LIMIT);
    assert_eq!(a.code, 0, "run A\n{}", a.stderr);
    assert_eq!(b.code, 0, "run B\n{}", b.stderr);

    // What each run reports is what the registry holds, under two numbers.
    let (a_tag, a_digest) = reported(&a);
    let (b_tag, b_digest) = reported(&b);
    for (run, tag, at) in [("A", &a_tag, &a_digest), ("B", &b_tag, &b_digest)] {
        assert_eq!(
            digest(&repository, tag).as_ref(),
            Some(at),
            "run {run} reported {tag} as {at}\n--- A\n{}\n--- B\n{}",
            a.stderr,
            b.stderr
        );
    }
    assert_ne!(a_tag, b_tag, "both runs released one exact tag");
    assert_eq!(b_tag, "1.0.1");
    assert_eq!(a_tag, "1.0.2");
    assert!(
        a.stderr.contains("lost the race for `1.0.1`"),
        "run A did not say it lost 1.0.1:\n{}",
        a.stderr
    );
    // Every exact tag holds a golden build of its own number, and every
    // floating tag a digest some exact tag holds: the newest.
    let all = tags(&repository);
    let mut exact = Vec::new();
    for tag in all.iter().filter(|tag| tag.matches('.').count() == 2) {
        let version = labels(&repository, tag)
            .get("org.opencontainers.image.version")
            .cloned();
        assert_eq!(version.as_deref(), Some(tag.as_str()), "{repository}:{tag}");
        exact.push(digest(&repository, tag).unwrap());
    }
    assert_eq!(all.len(), 6, "{all:?}");
    for floating in ["1.0", "1", "latest"] {
        let at = digest(&repository, floating).unwrap();
        assert!(
            exact.contains(&at),
            "`{floating}` is at {at}, which no exact tag holds"
        );
        assert_eq!(
            at, a_digest,
            "`{floating}` is not at the newest build, 1.0.2"
        );
    }
}

/// A pool of two engines; `x` builds on the first, which dies while it
/// pushes. The push used to fail (`error reading a body from connection`)
/// with no word of the lost engine; now the engine is taken out of the run
/// and `x` is built again on the other one and published.
#[test]
fn an_engine_lost_during_a_push_builds_the_image_again_on_another_engine() {
    support::require_environment();
    let mut side = Engine::start();
    let namespace = format!("e2e-race-push-lost-{}", std::process::id());
    let push = Gate::new("*", format!("/{namespace}/x/blobs/"), true);
    let proxy = GateProxy::start(vec![push.clone()]);
    let directory = tempfile::tempdir().unwrap();
    let config = race_config(directory.path(), &proxy.host(), &namespace, "golden.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "\n[[engines]]\nname = \"side\"\nhost = \"{}\"\njobs = 1\n\n[[engines]]\nname = \"main\"\nhost = \"{MAIN_ENGINE}\"\njobs = 1\n",
        side.host()
    ));
    std::fs::write(&config, text).unwrap();
    let repository = format!("{}/{namespace}/x", proxy.host());

    let main_watch = DockerCli::main().watch_image_events();
    let mut running = Golden::at(&config)
        .args(["build", "--all", "--output", "json"])
        .spawn();
    // The side engine built x and its push waits on the registry.
    wait_held(&push, "the side engine's push of x", &mut [&mut running]);
    side.kill();
    push.open();
    let run = running.finish_within(LIMIT);
    let main_events = main_watch.stop();
    assert_eq!(run.code, 0, "exit code\n--- stderr\n{}", run.stderr);
    let lost = format!(
        "engine `side` ({}) was lost during the push of `x`; building it again on another engine",
        side.host()
    );
    assert!(run.stderr.contains(&lost), "no `{lost}` in\n{}", run.stderr);
    let report = run.json();
    let x = entry(&report, "x");
    assert_eq!(x["decision"], "built", "{report:#}");
    assert_eq!(x["engines"], serde_json::json!(["main"]), "{report:#}");
    assert!(
        tagged_in(&main_events, &repository).contains(&format!("{repository}:1.0.0")),
        "the machine's engine did not build x: {:?}",
        tagged_in(&main_events, &namespace)
    );
    let direct = format!("{REGISTRY}/{namespace}/x");
    let at = support::assert_floating(&direct, "1.0.0", &["1.0", "1", "latest"]);
    assert_eq!(x["digest"], at.as_str(), "{report:#}");
    assert_eq!(x["tag"], "1.0.0", "{report:#}");
}
