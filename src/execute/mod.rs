//! Execute: walk the plan as a dependency graph, each image starting as
//! soon as its golden parents are done and each build (one per platform)
//! taking a slot on an engine of the pool (see `pool`). For each
//! image: build, run its smoke test, push the exact tag, confirm it in the
//! registry, and only then move the floating tags by manifest copy, reading
//! the exact tag again before and after the moves (another run may push
//! over it: the build is then not released but built again under the next
//! number). An engine lost during a push is left, and the image built
//! again on another engine. A failed image skips its dependents and leaves
//! every floating tag where it was; unrelated images go on (unless
//! `fail_fast`).
//!
//! This file is the scheduler: the run loop, the order images start in,
//! and what concurrent images share. The rest, one concern a file:
//! `publish.rs` (one image's attempts under successive exact numbers),
//! `image.rs` (preparing, building, testing and pushing one image),
//! `platforms.rs` (multi-platform builds and their index), `promote.rs`
//! (floating-tag moves and the exact tag read again around them),
//! `tidy.rs` (removing local tags) and `upstream.rs` (upstream versions).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::anyhow;
use futures::stream::{FuturesUnordered, StreamExt};

use crate::graph::Upstream;
use crate::name::{Digest, Repository};
use crate::observation::{Observation, Observations};
use crate::outcome::{Outcome, Status};
use crate::plan::{Decision, Reason, Step};
use crate::platform::Platform;
use crate::pool::{Member, Pool};
use crate::project::Project;
use crate::reference::Reference;
use crate::registry::Registry;
use crate::stop::Stop;
use crate::ui::progress::{Event, Progress};
use crate::version::{Exact, Line};

mod builder;
mod image;
mod platforms;
mod promote;
mod publish;
mod sbom;
mod scan;
mod sign;
mod tidy;
mod upstream;

pub use upstream::{read_upstream, Inputs as UpstreamInputs, UpstreamRead};

/// The parts a run works with.
pub struct Runner<'a> {
    pub project: &'a Project,
    /// The engines builds run on, with their slots (`jobs` each).
    pub pool: &'a Pool,
    pub registry: &'a dyn Registry,
    pub observations: &'a Observations,
    /// The config repository's commit.
    pub revision: Option<String>,
    /// The config repository's URL.
    pub source: Option<String>,
    pub stop: Stop,
    /// Start nothing new after the first failure.
    pub fail_fast: bool,
    /// Move floating tags after each push; false for `build --no-promote`,
    /// which leaves them to `golden promote`.
    pub promote: bool,
    /// `[signing]`'s key: each build is signed before it is released.
    pub signing: Option<Arc<crate::signing::SigningKey>>,
    /// With `[signing]`: the key a build that is promoted (not built in
    /// this run) must be signed with.
    pub verify_with: Option<crate::signing::VerifyingKey>,
    pub progress: Arc<dyn Progress>,
}

/// One image's build, resolved from the config, the graph and observations.
struct Job<'a> {
    id: String,
    image: &'a crate::config::Image,
    observation: &'a Observation,
    /// The reference the final FROM is built on (see
    /// [`Observation::base`]); `None` for scratch.
    base: Option<Reference>,
    base_digest: Option<Digest>,
    dockerfile_content: String,
    repository: Repository,
    /// Run every build step (the plan said the cache is not to be used).
    no_cache: bool,
    /// The upstream version read before building (upstream versioning).
    upstream: Option<UpstreamRead>,
    /// Why it is built, as `plan` says it.
    reasons: String,
}

/// What a build left to push.
enum Built {
    /// One image under the exact tag, on this member of the pool.
    Single { member: usize },
    /// One image per platform under local tags, and the facts the index
    /// carries as annotations.
    Platforms {
        builds: Vec<PlatformBuild>,
        annotations: BTreeMap<String, String>,
    },
}

/// One platform's tested image.
struct PlatformBuild {
    platform: Platform,
    /// Its local tag (never pushed).
    local: Reference,
    /// The member of the pool that holds it.
    member: usize,
    /// The engine's image id.
    image: String,
}

impl Built {
    /// The members of the pool that hold the build's images.
    fn members(&self) -> Vec<usize> {
        let mut members = match self {
            Built::Single { member } => vec![*member],
            Built::Platforms { builds, .. } => builds.iter().map(|build| build.member).collect(),
        };
        members.sort_unstable();
        members.dedup();
        members
    }
}

/// What concurrent builds of one run share.
#[derive(Default)]
struct Shared {
    /// Versions pushed in this run and their digests, by repository, so a
    /// second line of the same repository sees them when it moves `X` and
    /// `latest`.
    pushed: Mutex<BTreeMap<Repository, Vec<(Exact, Digest)>>>,
    /// One lock per repository around push and promotion, so two lines of
    /// one repository never decide floating tags on stale knowledge.
    promotion: Mutex<BTreeMap<Repository, Arc<tokio::sync::Mutex<()>>>>,
}

impl Shared {
    fn pushed(&self, repository: &Repository) -> Vec<(Exact, Digest)> {
        self.pushed
            .lock()
            .map(|p| p.get(repository).cloned().unwrap_or_default())
            .unwrap_or_default()
    }

    fn record(&self, repository: &Repository, version: Exact, digest: Digest) {
        if let Ok(mut pushed) = self.pushed.lock() {
            pushed
                .entry(repository.clone())
                .or_default()
                .push((version, digest));
        }
    }

    /// Forgets `version` of `repository`: another run pushed over it.
    fn unrecord(&self, repository: &Repository, version: Exact) {
        if let Ok(mut pushed) = self.pushed.lock() {
            if let Some(versions) = pushed.get_mut(repository) {
                versions.retain(|(pushed, _)| *pushed != version);
            }
        }
    }

    fn lock_for(&self, repository: &Repository) -> Arc<tokio::sync::Mutex<()>> {
        match self.promotion.lock() {
            Ok(mut locks) => locks.entry(repository.clone()).or_default().clone(),
            Err(_) => Arc::new(tokio::sync::Mutex::new(())),
        }
    }
}

/// For each of `steps`, the lines of the same repository with a higher
/// version in this run, by id: they go first, so a lower line never takes
/// `X` or `latest` for the moment before the higher one is pushed. Skipped
/// where the higher line is built on this one, which already orders them.
/// Lines are compared within their repository only, so this costs the
/// steps plus the pairs of lines sharing a repository, not every pair.
fn higher_lines<'s>(project: &Project, steps: &'s [Step]) -> Vec<Vec<&'s str>> {
    let config = &project.config;
    let in_plan: BTreeSet<&'s str> = steps.iter().map(|step| step.id.as_str()).collect();
    let mut by_name: HashMap<&str, Vec<(Line, &'s str)>> = HashMap::new();
    for &id in &in_plan {
        if let Some(image) = config.image(id) {
            by_name
                .entry(image.name.as_str())
                .or_default()
                .push((image.version, id));
        }
    }
    let mut ancestors: HashMap<&'s str, BTreeSet<String>> = HashMap::new();
    steps
        .iter()
        .map(|step| {
            let Some(image) = config.image(&step.id) else {
                return Vec::new();
            };
            let lines = by_name
                .get(image.name.as_str())
                .map_or(&[][..], Vec::as_slice);
            lines
                .iter()
                .filter(|(version, _)| *version > image.version)
                .map(|(_, other)| *other)
                .filter(|other| {
                    !ancestors
                        .entry(other)
                        .or_insert_with(|| project.graph.ancestors(other))
                        .contains(&step.id)
                })
                .collect()
        })
        .collect()
}

impl Runner<'_> {
    /// Carries out `steps` and reports every image, in plan order.
    pub async fn run(&self, steps: &[Step]) -> Vec<Outcome> {
        let shared = Shared::default();
        let in_plan: BTreeSet<&str> = steps.iter().map(|step| step.id.as_str()).collect();
        // What each step waits for, worked out once: the loop below looks
        // at a waiting step again each time another one finishes.
        let parents: Vec<Vec<&str>> = steps
            .iter()
            .map(|step| self.parents(step, &in_plan))
            .collect();
        let higher = higher_lines(self.project, steps);
        let mut outcomes: BTreeMap<String, Outcome> = BTreeMap::new();
        let mut pending: Vec<usize> = (0..steps.len()).collect();
        let mut running = FuturesUnordered::new();
        let mut halted_by: Option<String> = None;
        let jobs = self.pool.capacity();
        // Line order is a preference: dropped if it ever blocks every image
        // (lines of one repository built on each other through a chain).
        let mut line_order = true;
        self.announce(steps);
        loop {
            let mut index = 0;
            while index < pending.len() {
                let at = pending[index];
                let step = &steps[at];
                let parents = &parents[at];
                let higher = if line_order { &higher[at][..] } else { &[] };
                let mut waits = parents.iter().chain(higher);
                if !waits.all(|id| outcomes.contains_key(*id)) {
                    index += 1;
                    continue;
                }
                let decided = match step.decision() {
                    Decision::UpToDate => Some(Outcome::new(step, Status::UpToDate)),
                    // Floating tags only move at `golden promote`.
                    Decision::Promote if !self.promote => {
                        Some(Outcome::new(step, Status::UpToDate))
                    }
                    Decision::Failed => Some(Outcome::new(step, Status::Failed)),
                    // Held by its failing record (`golden rebuild` builds it).
                    Decision::Held => Some(Outcome::new(step, Status::Skipped)),
                    Decision::Build | Decision::Promote => {
                        self.not_started(step, parents, &outcomes, halted_by.as_deref())
                    }
                };
                if decided.is_none() && running.len() >= jobs {
                    index += 1;
                    continue;
                }
                pending.remove(index);
                match decided {
                    Some(outcome) => {
                        self.finish(outcome, &mut outcomes, &mut halted_by);
                        // A finished image may unblock an earlier one.
                        index = 0;
                    }
                    None => {
                        let parent_digest = self.parent_digest(step, &outcomes);
                        running.push(self.carry_out(step, parent_digest, &shared));
                    }
                }
            }
            match running.next().await {
                Some(outcome) => self.finish(outcome, &mut outcomes, &mut halted_by),
                None if !pending.is_empty() && line_order => line_order = false,
                None => break,
            }
        }
        for step in pending.into_iter().map(|at| &steps[at]) {
            // Unreachable with a valid graph; reported rather than lost.
            outcomes.insert(
                step.id.clone(),
                Outcome::skipped(step, "not started: its parents never finished".to_string()),
            );
        }
        steps
            .iter()
            .filter_map(|step| outcomes.remove(&step.id))
            .collect()
    }

    /// Tells the progress how many images the run builds or promotes, and
    /// queues each of them.
    fn announce(&self, steps: &[Step]) {
        let due: Vec<&Step> = steps
            .iter()
            .filter(|step| match step.decision() {
                Decision::Build => true,
                Decision::Promote => self.promote,
                Decision::UpToDate | Decision::Failed | Decision::Held => false,
            })
            .collect();
        self.progress.event(Event::Planned { total: due.len() });
        for step in due {
            self.progress.event(Event::Queued {
                image: step.id.clone(),
            });
        }
    }

    fn finish(
        &self,
        outcome: Outcome,
        outcomes: &mut BTreeMap<String, Outcome>,
        halted_by: &mut Option<String>,
    ) {
        if outcome.status == Status::Failed && self.fail_fast && halted_by.is_none() {
            *halted_by = Some(outcome.id.clone());
        }
        self.progress.event(Event::Finished {
            image: outcome.id.clone(),
            status: outcome.status,
            summary: outcome.summary(),
        });
        outcomes.insert(outcome.id.clone(), outcome);
    }

    /// The golden parents of `step` that are part of this run.
    fn parents<'s>(&self, step: &Step, in_plan: &BTreeSet<&'s str>) -> Vec<&'s str> {
        let Some(node) = self.project.graph.nodes.get(&step.id) else {
            return Vec::new();
        };
        node.parents
            .iter()
            .filter_map(|parent| in_plan.get(parent.as_str()).copied())
            .collect()
    }

    /// Why a due image is not built after all, if it is not.
    fn not_started(
        &self,
        step: &Step,
        parents: &[&str],
        outcomes: &BTreeMap<String, Outcome>,
        halted_by: Option<&str>,
    ) -> Option<Outcome> {
        // A stop comes first: an image a signal kept from starting is
        // interrupted, whatever its parents did.
        if self.stop.requested() {
            let signal = match self.stop.signal_code() {
                Some(crate::signals::INTERRUPTED) => "SIGINT",
                Some(crate::signals::TERMINATED) => "SIGTERM",
                _ => "a stop request",
            };
            let mut outcome =
                Outcome::skipped(step, format!("not started: stopped by {signal}; run again"));
            outcome.reasons = vec![Reason::Interrupted {
                signal: signal.to_string(),
            }];
            return Some(outcome);
        }
        let failed = parents.iter().find(|parent| {
            outcomes
                .get(**parent)
                .is_some_and(|o| matches!(o.status, Status::Failed | Status::Skipped))
        });
        if let Some(parent) = failed {
            let mut outcome = Outcome::new(step, Status::Skipped);
            outcome.reasons = vec![Reason::ParentFailed {
                parent: parent.to_string(),
            }];
            return Some(outcome);
        }
        halted_by.map(|failed| {
            Outcome::skipped(
                step,
                format!("not started: --fail-fast after `{failed}` failed"),
            )
        })
    }

    /// The digest of the golden parent this image is built FROM, when the
    /// parent was pushed in this run and the FROM's tag moved to it.
    fn parent_digest(&self, step: &Step, outcomes: &BTreeMap<String, Outcome>) -> Option<Digest> {
        let Upstream::Golden { id, reference } = &self.project.graph.nodes.get(&step.id)?.upstream
        else {
            return None;
        };
        // Only when the tag the FROM names moved to the new build; otherwise
        // it still resolves to what was observed.
        let tag = reference.tag().unwrap_or("latest");
        let parent = outcomes.get(id)?;
        parent
            .floating
            .iter()
            .chain(&parent.pending)
            .any(|moved| moved == tag)
            .then(|| parent.digest.clone())
            .flatten()
    }

    /// Builds (or only promotes) one image; any error becomes its outcome.
    async fn carry_out(
        &self,
        step: &Step,
        parent_digest: Option<Digest>,
        shared: &Shared,
    ) -> Outcome {
        let started = Instant::now();
        let (mut outcome, result) = match step.decision() {
            Decision::Promote => {
                let mut outcome = Outcome::new(step, Status::Promoted);
                let result = self.promote_existing(step, shared, &mut outcome).await;
                (outcome, result)
            }
            _ => {
                let mut outcome = Outcome::new(step, Status::Built);
                let result = self
                    .build_and_push(step, parent_digest, shared, &mut outcome)
                    .await;
                (outcome, result)
            }
        };
        if let Err(error) = result {
            outcome.status = Status::Failed;
            outcome.unreachable = is_unreachable(&error);
            // A FROM the engine could not pull is the registry's, not the
            // recipe's: tried again next run.
            outcome.broken = is_broken(&error) && !outcome.unreachable;
            outcome.error = Some(crate::error::text(error.as_ref()));
            tracing::debug!(image = %step.id, "{}", crate::error::text(error.as_ref()));
        }
        outcome.seconds = started.elapsed().as_secs_f64();
        outcome
    }

    /// Member `index` of the pool.
    fn member(&self, index: usize) -> &Member {
        &self.pool.members()[index]
    }

    /// The graph node of image `id`.
    fn node(&self, id: &str) -> anyhow::Result<&crate::graph::Node> {
        self.project
            .graph
            .nodes
            .get(id)
            .ok_or_else(|| anyhow!("unknown image `{id}`"))
    }
}

/// Whether `error` is a failed build step, smoke test or scan: the
/// image's inputs are broken, and building them again fails again.
pub fn is_broken(error: &anyhow::Error) -> bool {
    use crate::engine::EngineError;
    error.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<EngineError>(),
            Some(EngineError::BuildFailed { .. } | EngineError::TestFailed { .. })
        ) || cause.is::<crate::scan::ScanFailed>()
    })
}

/// Whether `error` comes from an engine or registry that could not be
/// reached (including a registry that went away during a push).
pub fn is_unreachable(error: &anyhow::Error) -> bool {
    use crate::engine::EngineError;
    error.chain().any(|cause| {
        let engine = cause
            .downcast_ref::<EngineError>()
            .is_some_and(|e| e.is_unreachable());
        engine
            || cause
                .downcast_ref::<crate::registry::RegistryError>()
                .is_some_and(|e| e.is_unreachable())
    })
}

#[cfg(test)]
mod tests;
