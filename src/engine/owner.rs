//! Which golden run owns a smoke-test container: the labels a run puts on
//! the containers it starts (namespace, host, pid and where that pid
//! means that process: boot id, pid namespace, start time), read from
//! `/proc`, and the rule that says a container is a leftover of a run
//! that is gone. The engine adapter labels and sweeps with it.

use std::collections::BTreeMap;

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
}
