//! The Docker Engines a run builds on, and which one takes each build.
//! [`choose`] decides (pure: members, their load, what a build needs);
//! [`Pool`] holds the build slots of each engine, hands out [`Lease`]s and
//! wakes waiting builds when a slot frees or an engine is lost. It connects
//! to nothing: the session hands it connected engines.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::config::builders::BuilderChoice;
use crate::engine::Engine;
use crate::platform::Platform;

/// One engine of the pool.
pub struct Member {
    /// Unique in the pool; shown in plans, reports and progress.
    pub name: String,
    /// Its address, for messages.
    pub host: String,
    pub engine: Arc<dyn Engine>,
    /// What it builds natively (configured, else what it reported); empty
    /// when it did not say.
    pub platforms: Vec<Platform>,
    /// Builds at once (at least 1).
    pub jobs: usize,
    pub labels: BTreeSet<String>,
    /// What it may run (`builder` of its entry, or `[engine]`).
    pub builder: BuilderChoice,
}

/// What one build needs of an engine.
#[derive(Debug, Clone, Copy)]
pub struct Need<'a> {
    /// The platform to build; `None`: the pool's own (see [`choose`]).
    pub platform: Option<&'a Platform>,
    /// Labels the engine must carry.
    pub labels: &'a [String],
    /// Whether the build needs BuildKit (secrets, BuildKit syntax, or
    /// `builder = "buildkit"`): only members that run it qualify.
    pub buildkit: bool,
}

/// One member as [`choose`] sees it.
#[derive(Debug, Clone)]
pub struct Slots<'a> {
    pub platforms: &'a [Platform],
    pub labels: &'a BTreeSet<String>,
    pub jobs: usize,
    pub running: usize,
    pub down: bool,
    /// It offers BuildKit and its `builder` allows it.
    pub buildkit: bool,
}

/// Where a build goes now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// The member at this index takes it.
    Take(usize),
    /// Every member that should take it is busy.
    Wait,
    /// No live member can build it; the reason says why.
    Impossible(String),
}

/// Picks the engine for a build. Only live members carrying every label
/// (and running BuildKit, when the build needs it) qualify. A platform goes to members that build it natively when any
/// live one does (waiting for a slot there rather than emulating), else to
/// any qualifying member under emulation. A build without a platform is
/// for the first qualifying member's own platform, so which engine takes
/// it never changes what it is built for. Among free members: fewest
/// running builds, then the order of the config.
pub fn choose(members: &[Slots<'_>], need: Need<'_>) -> Choice {
    let qualified: Vec<usize> = (0..members.len())
        .filter(|&index| {
            let member = &members[index];
            !member.down
                && (member.buildkit || !need.buildkit)
                && need
                    .labels
                    .iter()
                    .all(|label| member.labels.contains(label))
        })
        .collect();
    let Some(&first) = qualified.first() else {
        let live = members.iter().filter(|member| !member.down).count();
        let labelled = members.iter().any(|member| {
            !member.down
                && need
                    .labels
                    .iter()
                    .all(|label| member.labels.contains(label))
        });
        return Choice::Impossible(if live == 0 {
            "no engine of the pool is reachable".to_string()
        } else if labelled && need.buildkit {
            "it needs BuildKit, and no reachable engine that may take it runs BuildKit (Podman and engines set to `builder = \"classic\"` do not)".to_string()
        } else {
            format!(
                "no reachable engine carries the labels {}",
                need.labels
                    .iter()
                    .map(|label| format!("`{label}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        });
    };
    let target = need.platform.or_else(|| members[first].platforms.first());
    let native: Vec<usize> = qualified
        .iter()
        .copied()
        .filter(|&index| match target {
            Some(platform) => members[index].platforms.contains(platform),
            None => true,
        })
        .collect();
    let candidates = match (native.is_empty(), need.platform) {
        (false, _) => native,
        // Emulated: any qualifying engine (binfmt_misc and QEMU on it).
        (true, Some(_)) => qualified,
        // The first member's own platform, which it does not list.
        (true, None) => vec![first],
    };
    candidates
        .into_iter()
        .filter(|&index| members[index].running < members[index].jobs.max(1))
        .min_by_key(|&index| (members[index].running, index))
        .map_or(Choice::Wait, Choice::Take)
}

/// Why no engine could take a build.
#[derive(Debug, thiserror::Error)]
#[error("no engine can build {what}: {reason}{}", engines_text(.down))]
pub struct NoEngine {
    /// "`app` for linux/arm64".
    pub what: String,
    pub reason: String,
    /// Members that are down, with their addresses.
    pub down: Vec<String>,
}

fn engines_text(down: &[String]) -> String {
    if down.is_empty() {
        String::new()
    } else {
        format!(" (down: {})", down.join(", "))
    }
}

impl crate::hint::Hint for NoEngine {
    fn hint(&self) -> Option<std::borrow::Cow<'_, str>> {
        Some(
            "start the engines that are down (`golden engines` shows the pool), or give another engine the labels or platforms this image needs in [[engines]]"
                .into(),
        )
    }
}

#[derive(Debug)]
struct State {
    running: Vec<usize>,
    down: Vec<bool>,
}

/// The engines of a run and their free build slots.
pub struct Pool {
    members: Vec<Member>,
    state: Mutex<State>,
    changed: Notify,
}

/// A build slot on one member, given back when dropped.
pub struct Lease<'p> {
    pool: &'p Pool,
    index: usize,
}

impl Lease<'_> {
    /// The engine the slot is on.
    pub fn member(&self) -> &Member {
        &self.pool.members[self.index]
    }

    /// Which member, for [`Pool::mark_down`].
    pub fn index(&self) -> usize {
        self.index
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Ok(mut state) = self.pool.state.lock() {
            state.running[self.index] = state.running[self.index].saturating_sub(1);
        }
        self.pool.changed.notify_waiters();
    }
}

impl Pool {
    /// A pool of `members`; `down` lists those found unreachable at start.
    pub fn new(members: Vec<Member>, down: &[usize]) -> Pool {
        let count = members.len();
        Pool {
            members,
            state: Mutex::new(State {
                running: vec![0; count],
                down: (0..count).map(|index| down.contains(&index)).collect(),
            }),
            changed: Notify::new(),
        }
    }

    /// One engine taking `jobs` builds at once: the pool of `[engine]`.
    pub fn single(name: &str, engine: Arc<dyn Engine>, jobs: usize) -> Pool {
        Pool::new(
            vec![Member {
                name: name.to_string(),
                host: name.to_string(),
                engine,
                platforms: Vec::new(),
                jobs: jobs.max(1),
                labels: BTreeSet::new(),
                builder: BuilderChoice::Auto,
            }],
            &[],
        )
    }

    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// Whether more than one engine is configured (names are then shown).
    pub fn is_pool(&self) -> bool {
        self.members.len() > 1
    }

    /// Builds the live members take at once, together.
    pub fn capacity(&self) -> usize {
        let down = self.down();
        self.members
            .iter()
            .enumerate()
            .filter(|(index, _)| !down.contains(index))
            .map(|(_, member)| member.jobs.max(1))
            .sum::<usize>()
            .max(1)
    }

    fn down(&self) -> Vec<usize> {
        self.state
            .lock()
            .map(|state| {
                (0..state.down.len())
                    .filter(|&index| state.down[index])
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The live members that could build what `need` asks, in preference
    /// order (for plans: which engines may take an image).
    pub fn candidates(&self, need: Need<'_>) -> Vec<&Member> {
        let down = self.down();
        let mut eligible = Vec::new();
        let mut running = vec![0; self.members.len()];
        loop {
            let slots = self.slots(&running, &down);
            match choose(&slots, need) {
                Choice::Take(index) if !eligible.contains(&index) => {
                    eligible.push(index);
                    // Pretend it is full to find the next one.
                    running[index] = usize::MAX / 2;
                }
                _ => break,
            }
        }
        eligible.into_iter().map(|i| &self.members[i]).collect()
    }

    fn slots<'s>(&'s self, running: &[usize], down: &[usize]) -> Vec<Slots<'s>> {
        self.members
            .iter()
            .enumerate()
            .map(|(index, member)| Slots {
                platforms: &member.platforms,
                labels: &member.labels,
                jobs: member.jobs,
                running: running[index],
                down: down.contains(&index),
                buildkit: member.builder != BuilderChoice::Classic
                    && member.engine.offers_buildkit(),
            })
            .collect()
    }

    /// Waits for a slot on an engine that can build what `need` asks;
    /// fails at once when no live engine can. `what` names the build for
    /// the error.
    pub async fn acquire(&self, need: Need<'_>, what: &str) -> Result<Lease<'_>, NoEngine> {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            // Registered before looking, so a slot freed meanwhile wakes it.
            notified.as_mut().enable();
            let choice = {
                let Ok(mut state) = self.state.lock() else {
                    return Err(self.no_engine(what, "the pool's state is poisoned".into()));
                };
                let down: Vec<usize> = (0..state.down.len())
                    .filter(|&index| state.down[index])
                    .collect();
                let choice = choose(&self.slots(&state.running, &down), need);
                if let Choice::Take(index) = choice {
                    state.running[index] += 1;
                }
                choice
            };
            match choice {
                Choice::Take(index) => return Ok(Lease { pool: self, index }),
                Choice::Impossible(reason) => return Err(self.no_engine(what, reason)),
                Choice::Wait => notified.await,
            }
        }
    }

    fn no_engine(&self, what: &str, reason: String) -> NoEngine {
        NoEngine {
            what: what.to_string(),
            reason,
            down: self
                .down()
                .into_iter()
                .map(|index| {
                    let member = &self.members[index];
                    format!("`{}` ({})", member.name, member.host)
                })
                .collect(),
        }
    }

    /// Takes member `index` out of the pool (it stopped answering); builds
    /// waiting for it look again.
    pub fn mark_down(&self, index: usize) {
        if let Ok(mut state) = self.state.lock() {
            if let Some(down) = state.down.get_mut(index) {
                *down = true;
            }
        }
        self.changed.notify_waiters();
    }

    /// Whether member `index` was taken out.
    pub fn is_down(&self, index: usize) -> bool {
        self.down().contains(&index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn platforms(list: &[&str]) -> Vec<Platform> {
        list.iter().map(|p| p.parse().unwrap()).collect()
    }

    fn labels(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn choose_prefers_native_then_the_least_busy_then_config_order() {
        let amd = platforms(&["linux/amd64"]);
        let arm = platforms(&["linux/arm64"]);
        let none = labels(&[]);
        let gpu = labels(&["gpu"]);
        let arm64: Platform = "linux/arm64".parse().unwrap();
        let amd64: Platform = "linux/amd64".parse().unwrap();
        let member = |platforms, labels, jobs, running, down| Slots {
            platforms,
            labels,
            jobs,
            running,
            down,
            buildkit: true,
        };
        let need = |platform, labels| Need {
            platform,
            labels,
            buildkit: false,
        };
        let gpu_label = ["gpu".to_string()];
        let table: Vec<(Vec<Slots>, Need, Choice)> = vec![
            // Idle pool: the first listed takes a platform-less build.
            (
                vec![
                    member(&amd, &none, 2, 0, false),
                    member(&amd, &none, 2, 0, false),
                ],
                need(None, &[]),
                Choice::Take(0),
            ),
            // The least busy takes it.
            (
                vec![
                    member(&amd, &none, 2, 1, false),
                    member(&amd, &none, 2, 0, false),
                ],
                need(None, &[]),
                Choice::Take(1),
            ),
            // Native arm64 is preferred over emulating on the first.
            (
                vec![
                    member(&amd, &none, 2, 0, false),
                    member(&arm, &none, 2, 0, false),
                ],
                need(Some(&arm64), &[]),
                Choice::Take(1),
            ),
            // Native but busy: wait rather than emulate.
            (
                vec![
                    member(&amd, &none, 2, 0, false),
                    member(&arm, &none, 1, 1, false),
                ],
                need(Some(&arm64), &[]),
                Choice::Wait,
            ),
            // Native engine down: emulate.
            (
                vec![
                    member(&amd, &none, 2, 0, false),
                    member(&arm, &none, 1, 0, true),
                ],
                need(Some(&arm64), &[]),
                Choice::Take(0),
            ),
            // A platform-less build is for the first engine's platform, and
            // never goes to an engine of another.
            (
                vec![
                    member(&amd, &none, 1, 1, false),
                    member(&arm, &none, 1, 0, false),
                ],
                need(None, &[]),
                Choice::Wait,
            ),
            (
                vec![
                    member(&amd, &none, 1, 0, true),
                    member(&arm, &none, 1, 0, false),
                ],
                need(None, &[]),
                Choice::Take(1),
            ),
            // Labels.
            (
                vec![
                    member(&amd, &none, 1, 0, false),
                    member(&amd, &gpu, 1, 0, false),
                ],
                need(Some(&amd64), &gpu_label),
                Choice::Take(1),
            ),
            (
                vec![
                    member(&amd, &none, 1, 0, false),
                    member(&amd, &gpu, 1, 0, true),
                ],
                need(Some(&amd64), &gpu_label),
                Choice::Impossible("no reachable engine carries the labels `gpu`".into()),
            ),
            (
                vec![member(&amd, &none, 1, 0, true)],
                need(None, &[]),
                Choice::Impossible("no engine of the pool is reachable".into()),
            ),
            // An engine that reports no platform builds what it is asked.
            (
                vec![member(&[], &none, 1, 0, false)],
                need(Some(&arm64), &[]),
                Choice::Take(0),
            ),
        ];
        for (row, (members, need, expected)) in table.into_iter().enumerate() {
            assert_eq!(choose(&members, need), expected, "row {row}");
        }
    }

    fn two_engines() -> Pool {
        let member = |name: &str, jobs| Member {
            name: name.into(),
            host: format!("unix:///{name}.sock"),
            engine: Arc::new(crate::engine::Unavailable {
                why: "never called: the pool only hands out slots".into(),
            }),
            platforms: platforms(&["linux/amd64"]),
            jobs,
            labels: BTreeSet::new(),
            builder: BuilderChoice::Auto,
        };
        Pool::new(vec![member("a", 1), member("b", 1)], &[])
    }

    #[test]
    fn a_build_that_needs_buildkit_goes_only_to_an_engine_that_runs_it() {
        let amd = platforms(&["linux/amd64"]);
        let none = BTreeSet::new();
        let slots = |buildkit| Slots {
            platforms: &amd,
            labels: &none,
            jobs: 1,
            running: 0,
            down: false,
            buildkit,
        };
        let need = Need {
            platform: None,
            labels: &[],
            buildkit: true,
        };
        assert_eq!(choose(&[slots(false), slots(true)], need), Choice::Take(1));
        assert!(
            matches!(choose(&[slots(false)], need), Choice::Impossible(reason) if reason.contains("needs BuildKit")),
            "a Podman-only pool says why"
        );
        let any = Need {
            buildkit: false,
            ..need
        };
        assert_eq!(choose(&[slots(false), slots(true)], any), Choice::Take(0));
    }

    #[tokio::test]
    async fn a_waiting_build_takes_the_slot_a_lease_gives_back() {
        let pool = two_engines();
        let need = Need {
            platform: None,
            labels: &[],
            buildkit: false,
        };
        let first = pool.acquire(need, "x").await.unwrap();
        let second = pool.acquire(need, "y").await.unwrap();
        assert_eq!((first.index(), second.index()), (0, 1));
        assert_eq!(pool.capacity(), 2);
        let waiting = pool.acquire(need, "z");
        tokio::pin!(waiting);
        assert!(futures::poll!(waiting.as_mut()).is_pending());
        drop(second);
        let third = waiting.await.unwrap();
        assert_eq!(third.member().name, "b");
    }

    #[tokio::test]
    async fn losing_the_only_engine_fails_waiting_builds_with_a_reason() {
        let pool = two_engines();
        let need = Need {
            platform: None,
            labels: &[],
            buildkit: false,
        };
        let a = pool.acquire(need, "x").await.unwrap();
        let b = pool.acquire(need, "y").await.unwrap();
        pool.mark_down(1);
        drop(b);
        let waiting = pool.acquire(need, "z");
        tokio::pin!(waiting);
        assert!(futures::poll!(waiting.as_mut()).is_pending());
        pool.mark_down(0);
        let error = waiting.await.err().unwrap();
        assert_eq!(
            error.to_string(),
            "no engine can build z: no engine of the pool is reachable (down: `a` (unix:///a.sock), `b` (unix:///b.sock))"
        );
        drop(a);
        assert_eq!(pool.candidates(need).len(), 0);
    }
}
