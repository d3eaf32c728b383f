//! Docker Engines for the end-to-end tests: a second dockerd of the test's
//! own (its own data root, exec root, pid file, socket and containerd
//! namespace, stopped and cleaned when dropped), the docker CLI pointed at
//! one engine, and what an engine did in a time window, read from its own
//! image events.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The machine's engine, shared with every other test.
pub const MAIN_ENGINE: &str = "unix:///var/run/docker.sock";

/// The docker CLI pointed at one engine (`-H HOST` plus, for TLS, its
/// certificate flags).
#[derive(Clone, Debug)]
pub struct DockerCli {
    host: String,
    flags: Vec<OsString>,
}

impl DockerCli {
    /// The CLI for the engine at `host`, with `flags` before every command.
    pub fn new(host: &str, flags: Vec<OsString>) -> DockerCli {
        DockerCli {
            host: host.to_string(),
            flags,
        }
    }

    /// The machine's engine.
    pub fn main() -> DockerCli {
        DockerCli::new(MAIN_ENGINE, Vec::new())
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// `docker FLAGS -H HOST ARGS`, not started.
    pub fn command<S: AsRef<OsStr>>(&self, args: impl IntoIterator<Item = S>) -> Command {
        let mut command = Command::new("docker");
        command
            .env_remove("DOCKER_HOST")
            .env_remove("DOCKER_CONTEXT")
            .args(&self.flags)
            .args(["-H", &self.host])
            .args(args);
        command
    }

    /// Runs `docker ... ARGS` and returns what it said.
    pub fn output(&self, args: &[&str]) -> Output {
        self.command(args)
            .stdin(Stdio::null())
            .output()
            .expect("the docker CLI is installed (scripts/env)")
    }

    /// Whether the engine answers `docker version`.
    pub fn answers(&self) -> bool {
        self.output(&["version", "--format", "{{.Server.APIVersion}}"])
            .status
            .success()
    }

    /// `docker version --format TEMPLATE` of the engine, trimmed.
    #[track_caller]
    pub fn version(&self, template: &str) -> String {
        let output = self.output(&["version", "--format", template]);
        assert!(
            output.status.success(),
            "docker -H {} version: {}",
            self.host,
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }

    /// Removes the local images whose `repository:tag` contains `needle`
    /// (a test's namespace), best effort: for clean-ups, which must not
    /// panic.
    pub fn remove_tagged(&self, needle: &str) {
        let Ok(output) = self
            .command(["images", "--format", "{{.Repository}}:{{.Tag}}"])
            .output()
        else {
            return;
        };
        let names: Vec<String> = String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter(|line| line.contains(needle))
            .map(str::to_string)
            .collect();
        if !names.is_empty() {
            let _ = self
                .command(["rmi", "-f"].into_iter().map(String::from).chain(names))
                .output();
        }
    }

    /// The full commands of the running containers (build steps included).
    pub fn running_commands(&self) -> Vec<String> {
        let output = self.output(&["ps", "--no-trunc", "--format", "{{.Command}}"]);
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Starts following the engine's image events from now on.
    pub fn watch_image_events(&self) -> EventWatch {
        EventWatch::start(self)
    }
}

/// One image event of an engine: `tag` (with the `repository:tag` name),
/// `pull`, `push`, `delete`, `untag`, ...
#[derive(Clone, Debug)]
pub struct ImageEvent {
    pub action: String,
    /// The image id, or the reference for `pull` and `push`.
    pub id: String,
    /// The `name` attribute: `repository:tag` for a tag event.
    pub name: String,
}

/// `docker events --filter type=image` of one engine, streamed live into a
/// file from [`DockerCli::watch_image_events`] to [`EventWatch::stop`]: the
/// engine keeps only its last 256 events, too few to ask afterwards on an
/// engine other tests build on at the same time.
pub struct EventWatch {
    child: Option<Child>,
    file: PathBuf,
    _directory: tempfile::TempDir,
}

impl EventWatch {
    fn start(cli: &DockerCli) -> EventWatch {
        let directory = tempfile::tempdir().unwrap();
        let file = directory.path().join("events");
        // `--since` a second back covers the moment before the stream is
        // attached; a window that starts early only adds events the
        // caller filters by its own namespace.
        let since = unix_seconds() - 1.0;
        let child = cli
            .command([
                "events",
                "--since",
                &format!("{since:.3}"),
                "--filter",
                "type=image",
                "--format",
                "{{json .}}",
            ])
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&file).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .expect("the docker CLI is installed (scripts/env)");
        EventWatch {
            child: Some(child),
            file,
            _directory: directory,
        }
    }

    /// The events so far.
    pub fn events(&self) -> Vec<ImageEvent> {
        std::fs::read_to_string(&self.file)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .map(|event| ImageEvent {
                action: event["Action"].as_str().unwrap_or_default().to_string(),
                id: event["Actor"]["ID"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                name: event["Actor"]["Attributes"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            })
            .collect()
    }

    /// Stops following (after a moment for the last events to arrive) and
    /// returns every event seen.
    pub fn stop(mut self) -> Vec<ImageEvent> {
        std::thread::sleep(Duration::from_millis(700));
        self.end();
        self.events()
    }

    fn end(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for EventWatch {
    fn drop(&mut self) {
        self.end();
    }
}

/// The `repository:tag` names of the `tag` events among `events` that
/// contain `needle` (a test's namespace), sorted, without duplicates.
pub fn tagged_in(events: &[ImageEvent], needle: &str) -> Vec<String> {
    let mut names: Vec<String> = events
        .iter()
        .filter(|event| event.action == "tag" && event.name.contains(needle))
        .map(|event| event.name.clone())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The references of the `pull` events among `events` that contain
/// `needle`.
pub fn pulled_in(events: &[ImageEvent], needle: &str) -> Vec<String> {
    events
        .iter()
        .filter(|event| event.action == "pull" && event.id.contains(needle))
        .map(|event| event.id.clone())
        .collect()
}

/// Seconds since the epoch, as `docker events --since` takes them.
pub fn unix_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// A second dockerd of the test's own. Dropping it stops it (SIGTERM, then
/// SIGKILL), ends whatever it left running (its containerd, shims and
/// build containers, found by its directory), unmounts what it left
/// mounted there and removes the directory if it made it.
pub struct Engine {
    child: Option<Child>,
    directory: PathBuf,
    owned: Option<tempfile::TempDir>,
    cli: DockerCli,
}

impl Engine {
    /// An engine on `unix://DIR/docker.sock` in a temp dir of its own; its
    /// registry `127.0.0.1:5000` is insecure by default (loopback).
    pub fn start() -> Engine {
        let owned = tempfile::tempdir().unwrap();
        let directory = owned.path().to_path_buf();
        let host = format!("unix://{}", directory.join("docker.sock").display());
        let mut engine = Engine::start_in(&directory, &host, &[], Vec::new());
        engine.owned = Some(owned);
        engine
    }

    /// An engine listening on `host` with its state under `directory`
    /// (which the caller keeps); `daemon_flags` are added to dockerd's
    /// (TLS), `cli_flags` to every docker CLI call that talks to it.
    pub fn start_in(
        directory: &Path,
        host: &str,
        daemon_flags: &[OsString],
        cli_flags: Vec<OsString>,
    ) -> Engine {
        let log = std::fs::File::create(directory.join("dockerd.log")).unwrap();
        static STARTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let namespace = format!(
            "golden-e2e-{}-{}",
            std::process::id(),
            STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let child = Command::new("dockerd")
            .args(["--iptables=false", "--bridge=none"])
            .arg("--data-root")
            .arg(directory.join("data"))
            .arg("--exec-root")
            .arg(directory.join("exec"))
            .arg("--pidfile")
            .arg(directory.join("docker.pid"))
            .args(["--containerd-namespace", &namespace])
            .args([
                "--containerd-plugins-namespace",
                &format!("{namespace}-plugins"),
            ])
            .args(daemon_flags)
            .args(["-H", host])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("dockerd is installed (scripts/env)");
        let engine = Engine {
            child: Some(child),
            directory: directory.to_path_buf(),
            owned: None,
            cli: DockerCli::new(host, cli_flags),
        };
        let up = super::try_wait_until(Duration::from_secs(60), || {
            engine.cli.answers().then_some(())
        });
        assert!(
            up.is_some(),
            "the test's dockerd did not answer on {host} within 60s:\n{}",
            engine.log()
        );
        engine
    }

    pub fn host(&self) -> &str {
        self.cli.host()
    }

    pub fn cli(&self) -> &DockerCli {
        &self.cli
    }

    /// What dockerd wrote so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.directory.join("dockerd.log")).unwrap_or_default()
    }

    /// SIGKILLs dockerd, as a crash or a lost host would; its containerd
    /// and build containers keep running until the engine is dropped.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops dockerd: SIGTERM, then SIGKILL after `grace`.
    fn stop(&mut self, grace: Duration) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill").arg(child.id().to_string()).status();
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// The processes this engine left: its containers' (from the runtime
    /// state under its exec root) and every process whose command line
    /// names its directory (its containerd, the shims).
    fn leftovers(&self) -> Vec<u32> {
        let mut pids = Vec::new();
        for state in files_named(&self.directory.join("exec"), "state.json") {
            let pid = std::fs::read_to_string(&state)
                .ok()
                .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
                .and_then(|state| state["init_process_pid"].as_u64());
            if let Some(pid) = pid.filter(|pid| *pid > 1) {
                pids.push(pid as u32);
            }
        }
        let needle = self.directory.to_string_lossy().to_string();
        let me = std::process::id();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            if pid == me {
                continue;
            }
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(&needle) {
                pids.push(pid);
            }
        }
        pids
    }

    /// Unmounts every mount under the directory, deepest first.
    fn unmount(&self) {
        let needle = self.directory.to_string_lossy().to_string();
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mut points: Vec<&str> = mountinfo
            .lines()
            .filter_map(|line| line.split(' ').nth(4))
            .filter(|point| point.starts_with(&needle))
            .collect();
        points.sort_by_key(|point| std::cmp::Reverse(point.len()));
        for point in points {
            let _ = Command::new("umount")
                .args(["-l", point])
                .stderr(Stdio::null())
                .status();
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(20));
        for _ in 0..3 {
            let pids = self.leftovers();
            if pids.is_empty() {
                break;
            }
            for pid in pids {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .stderr(Stdio::null())
                    .status();
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        self.unmount();
        drop(self.owned.take());
    }
}

/// Every file called `name` under `directory`.
fn files_named(directory: &Path, name: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(directory) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(file_type) = entry.file_type() else {
            continue;
        };
        if file_type.is_dir() {
            found.extend(files_named(&path, name));
        } else if entry.file_name() == name {
            found.push(path);
        }
    }
    found
}

/// A `unix://` address whose socket file exists but nobody listens on it
/// (a dockerd that died), in `directory`.
pub fn dead_socket(directory: &Path) -> String {
    let path = directory.join("dead.sock");
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    format!("unix://{}", path.display())
}
