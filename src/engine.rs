//! The container engine as golden uses it: build an image from a context,
//! push one tag. The trait takes and returns golden's own types; the bollard
//! adapter lives in `docker.rs`, in-memory fakes in tests. Also who owns a
//! smoke-test container, so a run can tell what a dead run left running
//! from a live run's test ([`leftover`] decides; it does no I/O).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;

use crate::config::{Network, SmokeTest};
use crate::context::{ContextError, Entry, Recipe};
use crate::reference::Reference;

/// Everything one build needs.
#[derive(Debug, Clone)]
pub struct BuildRequest {
    /// The golden image id, for messages.
    pub image: String,
    pub context: PathBuf,
    /// The context entries to send (after `.dockerignore`).
    pub entries: Vec<Entry>,
    /// The Dockerfile's path inside the context.
    pub dockerfile: String,
    /// The Dockerfile content to send in its place (base pinned by digest).
    pub dockerfile_content: String,
    pub build_args: BTreeMap<String, String>,
    /// Every label of the image but the recipe's two, which the upload
    /// sets from the bytes it sends (see `upload`).
    pub labels: BTreeMap<String, String>,
    /// The labels configured for the image, which the recipe covers.
    pub configured_labels: BTreeMap<String, String>,
    /// The recipe observe hashed before the build, when the plan needed it
    /// (`None` otherwise: the upload hashes the context as it sends it).
    pub observed_recipe: Option<Recipe>,
    /// The context paths the build reads, when golden could tell (see
    /// `dockerfile::context_sources`): only they (and what is under them)
    /// are sent, though every entry is hashed for the recipe; `None` sends
    /// every entry.
    pub sources: Option<Vec<String>>,
    pub network: Network,
    pub pull: bool,
    /// Run every step instead of reusing the build cache (and pull the base).
    pub no_cache: bool,
    /// The tag the built image gets locally (the exact version).
    pub tag: Reference,
    /// The platform to build for; `None` builds for the engine's own.
    pub platform: Option<crate::platform::Platform>,
}

/// Why the engine could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot reach the Docker Engine at `{host}`: {message}")]
    Unreachable { host: String, message: String },
    /// The engine accepted the connection but did not answer in time.
    #[error("the Docker Engine at `{host}` did not answer within {}s: it is up but slow (busy?)", .waited.as_secs())]
    Slow { host: String, waited: Duration },
    #[error("build of `{image}` failed{}: {message}{}", step_text(.step), tail_text(.tail))]
    BuildFailed {
        image: String,
        step: Option<String>,
        message: String,
        tail: Vec<String>,
    },
    #[error("smoke test `{command}` of `{image}` {outcome}; nothing was pushed{}", tail_text(.output))]
    TestFailed {
        image: String,
        command: String,
        /// "exited with code 3", "timed out after 5s", ...
        outcome: String,
        output: Vec<String>,
    },
    #[error("failed to push `{reference}`: {message}")]
    PushFailed { reference: String, message: String },
    #[error("failed to send the build context of `{image}`")]
    Context {
        image: String,
        #[source]
        source: ContextError,
    },
    #[error("the engine failed to {action}: {message}")]
    Api { action: String, message: String },
}

fn step_text(step: &Option<String>) -> String {
    step.as_ref()
        .map(|step| format!(" at `{step}`"))
        .unwrap_or_default()
}

fn tail_text(tail: &[String]) -> String {
    if tail.is_empty() {
        String::new()
    } else {
        format!("\nlast lines of output:\n  {}", tail.join("\n  "))
    }
}

impl EngineError {
    /// Whether a build failed because an image it had just chosen (a
    /// cached step, found by the classic builder) was removed before the
    /// build used it: another line's tidy, or another run on the same
    /// engine, removed the last tag above it. The same build started
    /// again finds no such cache and runs the step.
    pub fn is_vanished_image(&self) -> bool {
        let EngineError::BuildFailed { message, .. } = self else {
            return false;
        };
        message.contains("unable to find image \"sha256:")
            || message.contains("No such image: sha256:")
    }

    /// Whether trying the same push again may work: the registry was
    /// unreachable, reset the connection or answered 5xx/429.
    pub fn is_transient(&self) -> bool {
        let EngineError::PushFailed { message, .. } = self else {
            return false;
        };
        let message = message.to_ascii_lowercase();
        [
            "connection refused",
            "connection reset",
            "broken pipe",
            "eof",
            "i/o timeout",
            "timeout",
            "502 bad gateway",
            "503 service unavailable",
            "504 gateway",
            "500 internal server error",
            "429 too many requests",
            "toomanyrequests",
        ]
        .iter()
        .any(|needle| message.contains(needle))
    }

    /// Whether the engine, or the registry a push went to, could not be
    /// reached; a registry that answered (HTTP 500, 429) was reached.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, EngineError::Unreachable { .. })
            || (self.is_transient() && !self.registry_answered())
    }

    /// Whether a push failed on the registry's own answer: a server error
    /// (a full disk answers 500) or throttling.
    fn registry_answered(&self) -> bool {
        let EngineError::PushFailed { message, .. } = self else {
            return false;
        };
        let message = message.to_ascii_lowercase();
        [
            "500 internal server error",
            "429 too many requests",
            "toomanyrequests",
        ]
        .iter()
        .any(|needle| message.contains(needle))
    }
}

impl crate::error::Hint for EngineError {
    /// What the user can do about it, when golden knows.
    fn hint(&self) -> Option<std::borrow::Cow<'_, str>> {
        let hint = match self {
            EngineError::Unreachable { .. } => Some(
                "is dockerd running? golden uses `[engine] host` in golden.toml, else DOCKER_HOST, else unix:///var/run/docker.sock"
                    .to_string(),
            ),
            EngineError::Slow { waited, .. } => Some(format!(
                "run golden again when the engine is less busy, or let it wait longer: `[engine] probe_timeout = \"{}s\"` in golden.toml (now {}s)",
                waited.as_secs().saturating_mul(3).max(30),
                waited.as_secs()
            )),
            EngineError::PushFailed { message, reference } => {
                let registry = reference.split('/').next().unwrap_or_default();
                if message.contains("HTTP response to HTTPS client") {
                    Some(format!(
                        "the registry speaks plain HTTP: add \"{registry}\" to \"insecure-registries\" in /etc/docker/daemon.json, restart dockerd, and set `insecure = true` in [registry]"
                    ))
                } else if message.contains("unauthorized") || message.contains("authentication required") || message.contains("denied") {
                    Some(format!("log in to the registry: `docker login {registry}`"))
                } else if message.contains("HTTP 405") && message.to_ascii_lowercase().contains("method not allowed") {
                    Some(crate::registry::READ_ONLY_HINT.to_string())
                } else if message.contains("500 Internal Server Error") {
                    Some(format!("`{registry}` answered HTTP 500 to the push on every try: the registry itself is failing; look at its log (a full disk or broken storage answers this way)"))
                } else {
                    None
                }
            }
            EngineError::BuildFailed { .. } => Some("fix the failing step in the Dockerfile, then run `golden build` again".to_string()),
            EngineError::Context {
                source: ContextError::Changed { .. },
                ..
            } => Some(
                "nothing was pushed; run golden again once nothing is writing to the build context"
                    .to_string(),
            ),
            EngineError::TestFailed { .. } => Some(
                "the image was built but not published; fix the image or its `test` in golden.toml, then run `golden build` again"
                    .to_string(),
            ),
            _ => None,
        };
        hint.map(std::borrow::Cow::Owned)
    }
}

/// Hears each build step as it starts.
pub type OnStep = std::sync::Arc<dyn Fn(&str) + Send + Sync>;

/// The engine operations golden needs.
#[async_trait]
pub trait Engine: Send + Sync {
    /// Builds the image and tags it `request.tag`; returns the image id.
    /// `on_step` hears each step as it starts ("Step 3/12 : RUN make").
    async fn build(&self, request: BuildRequest, on_step: OnStep) -> Result<String, EngineError>;
    /// Runs `test` in a new container of `image` (a local reference) with no
    /// network, labelled `io.golden.smoke-test=<image>` and with the run
    /// that started it ([`RunOwner::labels`]), removes
    /// the container, and fails on a non-zero exit or the timeout.
    async fn test(&self, image: &str, test: &SmokeTest) -> Result<(), EngineError>;
    /// Pushes exactly the tag `reference` (never every local tag) and
    /// returns the manifest digest the engine reports.
    async fn push(&self, reference: &Reference) -> Result<String, EngineError>;
    /// Tags the local image `image` (an id or reference) as `target` too.
    async fn tag_local(&self, image: &str, target: &Reference) -> Result<(), EngineError>;
    /// The tags of the local images of `repository`.
    async fn local_tags(&self, repository: &Reference) -> Result<Vec<String>, EngineError>;
    /// Removes the local tag `reference`, and its image when no other tag
    /// holds it (with the layers no other image uses). Gone already is done.
    async fn remove_local(&self, reference: &Reference) -> Result<(), EngineError>;
    /// The `Env` of the local image `image` (an id or reference), as
    /// `NAME=value` entries.
    async fn image_env(&self, image: &str) -> Result<Vec<String>, EngineError>;
    /// Whether the engine still answers (after a failure: was it lost?).
    async fn alive(&self) -> bool {
        true
    }
}

/// An engine golden cannot use: every action fails with `why` (a pool
/// member down at start; `golden promote`, which needs none). Listing or
/// removing local images finds nothing to do.
pub struct Unavailable {
    pub why: String,
}

impl Unavailable {
    fn refuse(&self, action: &str) -> EngineError {
        EngineError::Api {
            action: action.to_string(),
            message: self.why.clone(),
        }
    }
}

#[async_trait]
impl Engine for Unavailable {
    async fn build(&self, _: BuildRequest, _: OnStep) -> Result<String, EngineError> {
        Err(self.refuse("build"))
    }
    async fn test(&self, _: &str, _: &SmokeTest) -> Result<(), EngineError> {
        Err(self.refuse("test"))
    }
    async fn push(&self, _: &Reference) -> Result<String, EngineError> {
        Err(self.refuse("push"))
    }
    async fn tag_local(&self, _: &str, _: &Reference) -> Result<(), EngineError> {
        Err(self.refuse("tag"))
    }
    async fn local_tags(&self, _: &Reference) -> Result<Vec<String>, EngineError> {
        Ok(Vec::new())
    }
    async fn image_env(&self, _: &str) -> Result<Vec<String>, EngineError> {
        Err(self.refuse("inspect an image"))
    }
    async fn remove_local(&self, _: &Reference) -> Result<(), EngineError> {
        Ok(())
    }
    async fn alive(&self) -> bool {
        false
    }
}

/// The label on every smoke-test container: the image it tests.
pub const SMOKE_TEST_LABEL: &str = "io.golden.smoke-test";
/// `<registry host>/<namespace>` of the run, the key of its lock.
pub const RUN_NAMESPACE_LABEL: &str = "io.golden.run.namespace";
/// The host name of the machine the run is on, for people reading labels.
pub const RUN_HOST_LABEL: &str = "io.golden.run.host";
/// The process id of the run.
pub const RUN_PID_LABEL: &str = "io.golden.run.pid";
/// Where the pid means that process: `<boot id>:<pid namespace>/<start time>`.
pub const RUN_PROCESS_LABEL: &str = "io.golden.run.process";

/// The golden run that starts smoke-test containers, as their labels record it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOwner {
    /// `<registry host>/<namespace>`: the run holds this lock.
    pub namespace: String,
    pub host: String,
    pub pid: u32,
    /// `None` where `/proc` cannot tell (then only the namespace rule applies).
    pub process: Option<Process>,
}

/// A process as the kernel knows it, unique even when pids are reused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    /// The boot and the pid namespace in which the pid is meaningful.
    pub scope: String,
    /// Its start time in clock ticks after boot (`/proc/<pid>/stat`).
    pub started: u64,
}

impl Process {
    fn label(&self) -> String {
        format!("{}/{}", self.scope, self.started)
    }

    fn parse(text: &str) -> Option<Process> {
        let (scope, started) = text.rsplit_once('/')?;
        Some(Process {
            scope: scope.to_string(),
            started: started.parse().ok()?,
        })
    }
}

impl RunOwner {
    /// This process, running for the lock of `namespace`.
    pub fn current(namespace: String) -> RunOwner {
        let pid = std::process::id();
        let host = read_trimmed("/proc/sys/kernel/hostname")
            .or_else(|| std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()))
            .unwrap_or_else(|| "localhost".to_string());
        let process = process_scope().and_then(|scope| {
            Some(Process {
                scope,
                started: process_start(pid)?,
            })
        });
        RunOwner {
            namespace,
            host,
            pid,
            process,
        }
    }

    /// The labels a smoke-test container of this run gets besides the image.
    pub fn labels(&self) -> BTreeMap<String, String> {
        let mut labels = BTreeMap::from([
            (RUN_NAMESPACE_LABEL.to_string(), self.namespace.clone()),
            (RUN_HOST_LABEL.to_string(), self.host.clone()),
            (RUN_PID_LABEL.to_string(), self.pid.to_string()),
        ]);
        if let Some(process) = &self.process {
            labels.insert(RUN_PROCESS_LABEL.to_string(), process.label());
        }
        labels
    }
}

fn read_trimmed(path: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

/// `<boot id>:<pid namespace inode>`: two processes compare pids only
/// when this is equal.
fn process_scope() -> Option<String> {
    let boot = read_trimmed("/proc/sys/kernel/random/boot_id")?;
    let namespace = std::fs::read_link("/proc/self/ns/pid").ok()?;
    Some(format!("{boot}:{}", namespace.to_string_lossy()))
}

/// The start time of the live process `pid` (field 22 of `/proc/<pid>/stat`),
/// `None` when no such process runs. A killed process its parent has not
/// reaped yet (a zombie) runs no more.
pub fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name in parentheses may hold spaces; fields follow it.
    let (_, fields) = stat.rsplit_once(')')?;
    let mut fields = fields.split_whitespace();
    if matches!(fields.next()?, "Z" | "X" | "x") {
        return None;
    }
    fields.nth(18)?.parse().ok()
}

/// A smoke-test container as the engine lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestContainer {
    pub id: String,
    pub labels: BTreeMap<String, String>,
}

impl TestContainer {
    /// The image it tests.
    pub fn image(&self) -> &str {
        self.labels
            .get(SMOKE_TEST_LABEL)
            .map_or("?", String::as_str)
    }

    /// The id as `docker ps` shows it.
    pub fn short_id(&self) -> &str {
        self.id.get(..12).unwrap_or(&self.id)
    }
}

/// Why a smoke-test container is a leftover of a dead run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Leftover {
    /// The golden process that started it has ended.
    OwnerGone { pid: u32, host: String },
    /// Its run cannot be checked (another pid namespace, or a golden too
    /// old to record it), but it is of this namespace on this host, whose
    /// lock this run holds.
    EarlierRun { namespace: String },
}

impl std::fmt::Display for Leftover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Leftover::OwnerGone { pid, host } => write!(
                f,
                "left by golden pid {pid} on `{host}`, which is no longer running"
            ),
            Leftover::EarlierRun { namespace } => write!(
                f,
                "left by an earlier golden run of `{namespace}`, which is no longer running (this run holds its lock)"
            ),
        }
    }
}

/// Whether `container` was left by a run of `owner`'s namespace that is no
/// longer alive; `owner` holds that namespace's lock, and `start_of(pid)` is
/// the start time of the live process `pid`. Containers of other
/// namespaces (another run, dead or alive, cleans its own) and of other
/// machines sharing the engine are never leftovers.
pub fn leftover(
    container: &TestContainer,
    owner: &RunOwner,
    start_of: &dyn Fn(u32) -> Option<u64>,
) -> Option<Leftover> {
    let labels = &container.labels;
    let namespace = match labels.get(RUN_NAMESPACE_LABEL) {
        Some(namespace) => namespace.clone(),
        // Before golden recorded its run, only the image named the namespace.
        None => {
            let repository = container.image().rsplit_once(':')?.0;
            repository.rsplit_once('/')?.0.to_string()
        }
    };
    if namespace != owner.namespace {
        return None;
    }
    if labels
        .get(RUN_HOST_LABEL)
        .is_some_and(|host| *host != owner.host)
    {
        return None;
    }
    let pid = labels
        .get(RUN_PID_LABEL)
        .and_then(|pid| pid.parse::<u32>().ok());
    let process = labels
        .get(RUN_PROCESS_LABEL)
        .and_then(|p| Process::parse(p));
    match (pid, process, &owner.process) {
        // The pid means the same here: alive only with the same start time.
        (Some(pid), Some(process), Some(mine)) if process.scope == mine.scope => {
            (start_of(pid) != Some(process.started)).then(|| Leftover::OwnerGone {
                pid,
                host: owner.host.clone(),
            })
        }
        _ => Some(Leftover::EarlierRun { namespace }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_dead_runs_of_the_own_namespace_on_this_host_leave_leftovers() {
        let owner = RunOwner {
            namespace: "registry.local:5000/golden".into(),
            host: "build-1".into(),
            pid: 100,
            process: Some(Process {
                scope: "boot-a:pid:[1]".into(),
                started: 5000,
            }),
        };
        // Alive: pid 200 started at 7000, and this run itself.
        let start_of = |pid: u32| match pid {
            100 => Some(5000),
            200 => Some(7000),
            300 => Some(9999),
            _ => None,
        };
        let run = |namespace: &str, host: &str, pid: u32, process: &str| {
            let mut labels = RunOwner {
                namespace: namespace.into(),
                host: host.into(),
                pid,
                process: None,
            }
            .labels();
            labels.insert(RUN_PROCESS_LABEL.into(), process.into());
            labels.insert(
                SMOKE_TEST_LABEL.into(),
                format!("{namespace}/runtime:3.0.1"),
            );
            labels
        };
        let gone = |pid| {
            Some(Leftover::OwnerGone {
                pid,
                host: "build-1".into(),
            })
        };
        let earlier = Some(Leftover::EarlierRun {
            namespace: "registry.local:5000/golden".into(),
        });
        let ours = "registry.local:5000/golden";
        let legacy = BTreeMap::from([(
            SMOKE_TEST_LABEL.to_string(),
            "registry.local:5000/golden/runtime:3.0.1".to_string(),
        )]);
        let legacy_other = BTreeMap::from([(
            SMOKE_TEST_LABEL.to_string(),
            "registry.local:5000/golden-other/runtime:3.0.1".to_string(),
        )]);
        let table = [
            // A live run (this one, or one whose pid and start time match).
            (run(ours, "build-1", 100, "boot-a:pid:[1]/5000"), None),
            (run(ours, "build-1", 200, "boot-a:pid:[1]/7000"), None),
            // Its process is gone, or the pid now names another process.
            (run(ours, "build-1", 201, "boot-a:pid:[1]/7000"), gone(201)),
            (run(ours, "build-1", 300, "boot-a:pid:[1]/7000"), gone(300)),
            // Another pid namespace or boot: the lock decides.
            (
                run(ours, "build-1", 200, "boot-b:pid:[1]/7000"),
                earlier.clone(),
            ),
            (run(ours, "build-1", 200, "not a process"), earlier.clone()),
            // Another namespace, dead or alive: its own runs clean it up.
            (
                run(
                    "registry.local:5000/other",
                    "build-1",
                    201,
                    "boot-a:pid:[1]/7000",
                ),
                None,
            ),
            (
                run(
                    "registry.local:5000/other",
                    "build-1",
                    200,
                    "boot-a:pid:[1]/7000",
                ),
                None,
            ),
            // Another machine sharing the engine.
            (run(ours, "build-2", 201, "boot-c:pid:[1]/7000"), None),
            // A golden too old to record its run.
            (legacy, earlier.clone()),
            (legacy_other, None),
        ];
        for (index, (labels, expected)) in table.into_iter().enumerate() {
            let container = TestContainer {
                id: "0123456789abcdef".into(),
                labels,
            };
            assert_eq!(
                leftover(&container, &owner, &start_of),
                expected,
                "row {index}"
            );
        }
    }

    #[test]
    fn a_killed_process_not_yet_reaped_is_not_alive() {
        let mut child = std::process::Command::new("sleep")
            .arg("60")
            .spawn()
            .unwrap();
        let pid = child.id();
        assert!(process_start(pid).is_some());
        child.kill().unwrap();
        // Not reaped yet: a zombie until `wait`.
        let started = std::time::Instant::now();
        while process_start(pid).is_some() && started.elapsed().as_secs() < 10 {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(process_start(pid), None);
        child.wait().unwrap();
        assert_eq!(process_start(pid), None);
    }

    #[test]
    fn this_process_is_alive_and_labels_name_it() {
        let owner = RunOwner::current("registry.local:5000/golden".into());
        let labels = owner.labels();
        assert_eq!(labels[RUN_PID_LABEL], std::process::id().to_string());
        let container = TestContainer {
            id: "abc".into(),
            labels,
        };
        assert!(owner.process.is_some(), "/proc tells this process");
        assert_eq!(leftover(&container, &owner, &process_start), None);
        assert_eq!(container.short_id(), "abc");
    }

    #[test]
    fn only_network_and_server_push_errors_are_transient() {
        let push = |message: &str| EngineError::PushFailed {
            reference: "r/a:1".into(),
            message: message.into(),
        };
        assert!(push("Put \"http://127.0.0.1:5000/v2/a/blobs/uploads/x\": dial tcp 127.0.0.1:5000: connect: connection refused").is_transient());
        assert!(push("received unexpected HTTP status: 503 Service Unavailable").is_transient());
        assert!(push("unexpected EOF").is_transient());
        assert!(!push("unauthorized: authentication required").is_transient());
        assert!(!push("denied: requested access to the resource is denied").is_transient());
        assert!(!EngineError::Api {
            action: "x".into(),
            message: "connection refused".into()
        }
        .is_transient());
    }
}
