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

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{anyhow, Context as _};
use chrono::Utc;
use futures::stream::{FuturesUnordered, StreamExt};

use crate::engine::{BuildRequest, OnStep};
use crate::graph::Upstream;
use crate::labels::{golden_labels, BuildFacts, RECIPE, VERSION};
use crate::name::{Digest, Repository, Tag};
use crate::observation::{Observation, Observations};
use crate::observe::ledger::{self, Ledger};
use crate::plan::{Decision, Reason, Step};
use crate::platform::Platform;
use crate::pool::{Member, Need, Pool};
use crate::project::Project;
use crate::provenance::{self, Class};
use crate::reference::Reference;
use crate::registry::Registry;
use crate::ui::progress::{Event, Progress};
use crate::version::{marker_tags, next_build, next_revision, Exact, Line};

mod upstream;
use crate::outcome::{Outcome, Status};
use crate::stop::Stop;
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
    pub stop: Stop,
    /// Start nothing new after the first failure.
    pub fail_fast: bool,
    /// Move floating tags after each push; false for `build --no-promote`,
    /// which leaves them to `golden promote`.
    pub promote: bool,
    pub progress: Arc<dyn Progress>,
}

/// Exact numbers tried before giving up when other runs keep taking them.
const EXACT_ATTEMPTS: usize = 3;

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

/// What one engine build makes: the Dockerfile (FROM pinned), the labels,
/// the local tag and the platform (`None`: the engine's own).
struct Target<'t> {
    dockerfile: &'t str,
    labels: BTreeMap<String, String>,
    tag: &'t Reference,
    platform: Option<&'t Platform>,
}

/// Whether a pushed exact tag still holds the build golden pushed.
#[derive(Debug, PartialEq, Eq)]
enum Claim {
    Held,
    /// Another run pushed over it; `holder` is what the tag holds now.
    Lost {
        holder: Option<Digest>,
    },
}

/// How often a build whose cached image was removed under it (see
/// `EngineError::is_vanished_image`) is started again.
const VANISHED_RETRIES: usize = 2;

/// The failure of an image whose every attempt lost its exact tag to
/// another run or its engine during the push.
fn attempts_exhausted(
    repository: &Repository,
    taken: &[Exact],
    half_pushed: &[Exact],
    lost_engines: &[String],
) -> anyhow::Error {
    let list = |versions: &[Exact]| {
        versions
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut reasons = Vec::new();
    if !taken.is_empty() {
        reasons.push(format!(
            "exact tags {} of `{repository}` were all taken by other runs during this run",
            list(taken)
        ));
    }
    if !half_pushed.is_empty() {
        reasons.push(format!(
            "exact tags {} of `{repository}` hold this run's own pushes, cut short by a lost engine (incomplete builds, never released)",
            list(half_pushed)
        ));
    }
    if !lost_engines.is_empty() {
        reasons.push(format!(
            "engines were lost during its pushes: {}",
            lost_engines
                .iter()
                .map(|name| format!("`{name}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    anyhow!("{}; no build of this run was released", reasons.join("; "))
}

/// The version the next build of `job` gets among `versions`: the next
/// revision of the upstream version read (upstream versioning; foreign
/// `-rN` tags count, so no number is reused), else the line's next build.
fn next_version(job: &Job<'_>, versions: &[Exact]) -> anyhow::Result<Exact> {
    Ok(match &job.upstream {
        Some(read) => next_revision(read.version, versions)?,
        None => next_build(job.image.version, versions)?,
    })
}

/// One image built and smoke-tested on a member of the pool: the member
/// and the engine's image id, and the test's seconds even when it failed.
struct Tested {
    result: anyhow::Result<(usize, String)>,
    test_seconds: Option<f64>,
}

/// The local tag of `platform`'s image of `version`: `X.Y.N-linux-arm64`.
fn platform_tag(version: Exact, platform: &Platform) -> anyhow::Result<Tag> {
    let text = format!(
        "{}-{}",
        version.tag(),
        platform.to_string().replace('/', "-")
    );
    Ok(Tag::parse(&text)?)
}

/// Platforms as a list for messages.
fn list(platforms: &[Platform]) -> String {
    platforms
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
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
                Decision::UpToDate | Decision::Failed => false,
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
            outcome.error = Some(crate::error::text(error.as_ref()));
            tracing::debug!(image = %step.id, "{}", crate::error::text(error.as_ref()));
        }
        outcome.seconds = started.elapsed().as_secs_f64();
        outcome
    }

    async fn build_and_push(
        &self,
        step: &Step,
        parent_digest: Option<Digest>,
        shared: &Shared,
        outcome: &mut Outcome,
    ) -> anyhow::Result<()> {
        let mut job = self.prepare(step, parent_digest, true)?;
        job.upstream = self.read_upstream(&job).await?;
        if let Some(read) = &job.upstream {
            upstream::check_forward(&job.id, job.observation.last_build.as_ref(), read.version)?;
            upstream::check_switch(
                self.registry,
                job.image,
                &job.repository,
                read.version,
                upstream::Moving::Build,
            )
            .await?;
        }
        let mut stranded: Option<(Vec<String>, Digest)> = None;
        let result = self.publish(&job, shared, outcome, &mut stranded).await;
        // Floating tags moved to a build another run pushed over stay
        // there whatever ends the run: every failure says so.
        match stranded {
            Some((tags, digest)) => result.with_context(|| {
                format!(
                    "failed to publish `{}` after losing a race: {} point at {digest}, which no exact tag holds; the next `golden build` moves them to the line's release",
                    job.id,
                    tags.join(", ")
                )
            }),
            None => result,
        }
    }

    /// Builds and pushes `job` under the next free exact number, taking
    /// the next one when the number was taken meanwhile or its engine was
    /// lost; `stranded` gets the floating tags moved to a build another
    /// run then pushed over.
    async fn publish(
        &self,
        job: &Job<'_>,
        shared: &Shared,
        outcome: &mut Outcome,
        stranded: &mut Option<(Vec<String>, Digest)>,
    ) -> anyhow::Result<()> {
        let mut taken: Vec<Exact> = Vec::new();
        // Numbers this run pushed to: one found there later is its own
        // push, cut short by a lost engine, not another run's.
        let mut pushed_to: Vec<Exact> = Vec::new();
        let mut half_pushed: Vec<Exact> = Vec::new();
        let mut lost_engines: Vec<String> = Vec::new();
        for _ in 0..EXACT_ATTEMPTS {
            let mut versions = job.observation.versions.clone();
            versions.extend(shared.pushed(&job.repository).iter().map(|(v, _)| *v));
            versions.extend(&taken);
            versions.extend(&half_pushed);
            // A tag at or past the highest build number stops the line
            // here, named, before anything is built.
            let version = next_version(job, &versions)?;
            let exact = job.repository.tag(&version.tag());
            // Only the attempt that is published says where it was built.
            outcome.built_on.clear();
            // A failed or untested build never stays under an exact tag:
            // the build removes its own local tag when it fails.
            let built = self.build_and_test(job, version, &exact, outcome).await?;
            let members = built.members();
            if let Err(error) = self.check_built_env(job, &exact, &built).await {
                self.forget_on(&members, &exact).await;
                self.forget_platforms(&built).await;
                return Err(error);
            }
            self.progress.event(Event::Pushing {
                image: job.id.clone(),
            });
            let push_started = Instant::now();
            let lock = shared.lock_for(&job.repository);
            let _promotion = lock.lock().await;
            let existing = self
                .registry
                .manifest_digest(&exact)
                .await
                .with_context(|| format!("failed to check `{exact}` before pushing"))?;
            if let Some(digest) = existing {
                // Exact tags are never overwritten, so take the next one.
                self.forget_on(&members, &exact).await;
                self.forget_platforms(&built).await;
                if pushed_to.contains(&version) {
                    tracing::warn!(tag = %exact, %digest, "the exact tag holds this run's own push, cut short by a lost engine; taking the next number");
                    half_pushed.push(version);
                } else {
                    tracing::warn!(tag = %exact, %digest, "the exact tag appeared meanwhile; taking the next number");
                    taken.push(version);
                }
                continue;
            }
            pushed_to.push(version);
            let pushed = match &built {
                Built::Single { member } => {
                    self.push_exact(self.member(*member), &exact, outcome).await
                }
                Built::Platforms {
                    builds,
                    annotations,
                } => {
                    self.push_platforms(job, &exact, builds, annotations, outcome)
                        .await
                }
            };
            self.forget_platforms(&built).await;
            let digest = match pushed {
                Ok(digest) => digest,
                Err(error) => {
                    let lost = self.lost_in_push(job, &members).await;
                    self.forget_on(&members, &exact).await;
                    match lost {
                        Some(Ok(name)) => {
                            lost_engines.push(name);
                            continue;
                        }
                        Some(Err(context)) => return Err(error.context(context)),
                        None => return Err(error),
                    }
                }
            };
            outcome.version = Some(version);
            shared.record(&job.repository, version, digest.clone());
            let released = self
                .release(job, version, &exact, &digest, shared, outcome)
                .await;
            outcome.push_seconds = Some(push_started.elapsed().as_secs_f64());
            if let Ok(Claim::Lost { holder }) = released {
                let next = next_version(job, &[versions, vec![version]].concat()).ok();
                let moved = self.unrelease(job, version, &digest, holder, next, shared, outcome);
                if !moved.is_empty() {
                    *stranded = Some((moved, digest));
                }
                self.forget_on(&members, &exact).await;
                taken.push(version);
                continue;
            }
            for member in &members {
                self.tidy(self.member(*member), job, version).await;
            }
            return released.map(|_| ());
        }
        Err(attempts_exhausted(
            &job.repository,
            &taken,
            &half_pushed,
            &lost_engines,
        ))
    }

    /// Takes back what this run recorded of `version`, a build another run
    /// pushed over (`holder` is what its exact tag holds now) and which is
    /// built again as `next`; returns the floating tags already moved to it.
    #[allow(clippy::too_many_arguments)]
    fn unrelease(
        &self,
        job: &Job<'_>,
        version: Exact,
        digest: &Digest,
        holder: Option<Digest>,
        next: Option<Exact>,
        shared: &Shared,
        outcome: &mut Outcome,
    ) -> Vec<String> {
        shared.unrecord(&job.repository, version);
        let moved = std::mem::take(&mut outcome.floating);
        let floating = if moved.is_empty() {
            "no floating tag had moved to it".to_string()
        } else {
            format!(
                "{} had moved to it and move on with the next build",
                moved.join(", ")
            )
        };
        tracing::warn!(
            image = %job.id,
            "lost the race for `{version}`: another run pushed over this build ({digest}), the registry now serves {} under it; {floating}; building it again as {}",
            holder.as_ref().map_or_else(|| "nothing".to_string(), ToString::to_string),
            next.map_or_else(|| "the next number".to_string(), |next| next.to_string()),
        );
        outcome.version = None;
        outcome.digest = None;
        outcome.pending.clear();
        outcome.promoted = None;
        moved
    }

    /// After a failed push of a build held by `members`: `None` while they
    /// all still answer (the push failed for another reason). Otherwise
    /// each engine that no longer answers is taken out of the run (the
    /// image it held is gone with it) and the image is to be built again
    /// on another engine: `Ok(name)` of the lost engine when one can build
    /// it, `Err` of what to add to the failure when none can.
    async fn lost_in_push(
        &self,
        job: &Job<'_>,
        members: &[usize],
    ) -> Option<Result<String, String>> {
        let mut lost = Vec::new();
        for &index in members {
            // One already down was lost meanwhile (another image pushing
            // on it saw it go): the image it held is gone all the same.
            if self.pool.is_down(index) {
                lost.push(index);
            } else if !self.member(index).engine.alive().await {
                self.pool.mark_down(index);
                lost.push(index);
            }
        }
        let first = self.member(*lost.first()?);
        let platforms: Vec<Option<&Platform>> = match job.image.platforms.is_empty() {
            true => vec![None],
            false => job.image.platforms.iter().map(Some).collect(),
        };
        let buildable = platforms.into_iter().all(|platform| {
            !self
                .pool
                .candidates(Need {
                    platform,
                    labels: &job.image.engine_labels,
                })
                .is_empty()
        });
        if !buildable {
            return Some(Err(format!(
                "engine `{}` was lost during the push of `{}`, and no other engine can build it",
                first.name, job.id
            )));
        }
        tracing::warn!(
            image = %job.id,
            "engine `{}` ({}) was lost during the push of `{}`; building it again on another engine",
            first.name,
            first.host,
            job.id
        );
        Some(Ok(first.name.clone()))
    }

    /// Releases a pushed build: moves its floating tags (or, with
    /// `--no-promote`, records them for `golden promote`). The registry
    /// has no compare-and-set, so another run that found `exact` free
    /// before this run's push landed may push over it afterwards: `exact`
    /// is read again after the floating tags are decided and before any
    /// moves, and once more after the moves. Held by another digest, the
    /// build lost the race: `Claim::Lost`, and it is not released (tags
    /// moved before the second read follow the next build).
    async fn release(
        &self,
        job: &Job<'_>,
        version: Exact,
        exact: &Reference,
        digest: &Digest,
        shared: &Shared,
        outcome: &mut Outcome,
    ) -> anyhow::Result<Claim> {
        if !self.promote {
            self.pend(job, version, shared, outcome).await?;
            return self.claim(exact, digest).await;
        }
        let tags = self.movable_tags(job, version, shared).await?;
        let claim = self.claim(exact, digest).await?;
        if claim != Claim::Held {
            return Ok(claim);
        }
        self.move_tags(job, digest, &tags, outcome).await?;
        self.claim(exact, digest).await
    }

    /// Whether `exact` still holds `digest`, as the registry says now.
    async fn claim(&self, exact: &Reference, digest: &Digest) -> anyhow::Result<Claim> {
        let holder = self
            .registry
            .manifest_digest(exact)
            .await
            .with_context(|| format!("failed to read `{exact}` again after pushing it"))?;
        Ok(match holder {
            Some(holder) if &holder == digest => Claim::Held,
            holder => Claim::Lost { holder },
        })
    }

    /// Member `index` of the pool.
    fn member(&self, index: usize) -> &Member {
        &self.pool.members()[index]
    }

    /// Removes the local tag `exact` from each of `members`.
    async fn forget_on(&self, members: &[usize], exact: &Reference) {
        for member in members {
            self.forget(*member, exact).await;
        }
    }

    /// Removes the local tag `exact` of a build that was not pushed from
    /// member `index`; an engine the run lost is left alone.
    async fn forget(&self, index: usize, exact: &Reference) {
        if self.pool.is_down(index) {
            return;
        }
        if let Err(error) = self.member(index).engine.remove_local(exact).await {
            tracing::warn!(tag = %exact, "could not remove the local tag of a build that was not pushed: {error}");
        }
    }

    /// After `version` of the line is pushed, removes the local tags of the
    /// line's older builds: the engine keeps the newest build of each line
    /// (its layers serve the next build's cache) and nothing else, so an
    /// hourly cron does not fill the disk.
    async fn tidy(&self, member: &Member, job: &Job<'_>, version: Exact) {
        let tags = match member.engine.local_tags(&job.repository.reference()).await {
            Ok(tags) => tags,
            Err(error) => {
                tracing::warn!(image = %job.id, "could not list local images to tidy: {error}");
                return;
            }
        };
        let older = job
            .image
            .versioning
            .exact_versions(tags.iter().map(String::as_str))
            .into_iter()
            .filter(|other| other.line == version.line && *other != version);
        for other in older {
            let reference = job.repository.tag(&other.tag());
            match member.engine.remove_local(&reference).await {
                Ok(()) => {
                    tracing::info!(tag = %reference, "removed the local tag of an older build")
                }
                Err(error) => {
                    tracing::warn!(tag = %reference, "could not remove the local tag of an older build: {error}")
                }
            }
        }
    }

    /// Moves the line's floating tags to its release (its newest build not
    /// withdrawn), which a run that died after pushing it, or a rollback
    /// that died halfway, left behind.
    async fn promote_existing(
        &self,
        step: &Step,
        shared: &Shared,
        outcome: &mut Outcome,
    ) -> anyhow::Result<()> {
        let (version, digest) = step
            .last_build()
            .and_then(|last| last.release.clone())
            .ok_or_else(|| anyhow!("`{}` has no build to promote", step.id))?;
        // Only moving tags: the base need not resolve (a never-promoted
        // parent's floating tag does not exist yet).
        let job = self.prepare(step, None, false)?;
        let lock = shared.lock_for(&job.repository);
        let _promotion = lock.lock().await;
        outcome.version = Some(version);
        outcome.digest = Some(digest);
        self.promote(&job, version, shared, outcome).await
    }

    /// The floating tags that may move to `version` (a golden build of
    /// `job`'s line), decided on the repository's tags read again just
    /// before the move: another run (on another machine, or through
    /// another spelling of the registry) may have published since this one
    /// started. No tag moves below the newest golden build of the line;
    /// `X` and `latest` stay with higher golden lines. Foreign tags count
    /// for nothing.
    async fn movable_tags(
        &self,
        job: &Job<'_>,
        version: Exact,
        shared: &Shared,
    ) -> anyhow::Result<Vec<Tag>> {
        let tags = self.registry.tags(&job.repository).await.with_context(|| {
            format!(
                "failed to list the tags of `{}` before moving floating tags",
                job.repository
            )
        })?;
        let pushed = shared.pushed(&job.repository);
        let mut versions = job
            .image
            .versioning
            .exact_versions(tags.iter().map(String::as_str));
        versions.extend(pushed.iter().map(|(v, _)| *v));
        versions.sort();
        versions.dedup();
        let markers = marker_tags(tags.iter().map(String::as_str));
        let ledger = Ledger::new(self.registry, job.repository.clone(), versions).with_floating(
            provenance::configured_floating(&self.project.config, &job.repository),
        );
        for (known, class) in &job.observation.known {
            ledger.learn(*known, class.clone());
        }
        for (pushed, digest) in pushed {
            ledger.learn(pushed, Class::Golden { digest });
        }
        let withdrawn = ledger::withdrawn_down_to_release(&ledger, &markers, version.line)
            .await
            .with_context(|| {
                format!(
                    "failed to read the rollback markers of `{}` before moving floating tags",
                    job.repository
                )
            })?;
        let failed = || {
            format!(
                "failed to read the builds of `{}` before moving floating tags",
                job.repository
            )
        };
        let newest = ledger
            .newest_golden(version.line, &withdrawn)
            .await
            .with_context(failed)?;
        if let Some((newest, _, _)) = newest.filter(|(newest, _, _)| *newest > version) {
            tracing::warn!(
                image = %job.id,
                "left the floating tags of line {} alone: {newest}, a newer golden build than {version}, appeared during this run",
                version.line
            );
            return Ok(Vec::new());
        }
        let higher = ledger
            .golden_lines_above(version.line, &markers)
            .await
            .with_context(failed)?;
        let tags = provenance::floating_tags(version, &higher, job.image.floating.as_deref());
        // An upstream version's `X.Y.Z` never moves over anything but a
        // golden build of it (an old exact tag of the counter scheme):
        // checked here too, as a promotion builds nothing.
        if let Some(upstream) = version.upstream().filter(|u| tags.contains(&u.tag())) {
            upstream::check_switch(
                self.registry,
                job.image,
                &job.repository,
                upstream,
                upstream::Moving::Promote(version),
            )
            .await?;
        }
        Ok(tags)
    }

    /// The graph node of image `id`.
    fn node(&self, id: &str) -> anyhow::Result<&crate::graph::Node> {
        self.project
            .graph
            .nodes
            .get(id)
            .ok_or_else(|| anyhow!("unknown image `{id}`"))
    }

    /// The upstream version of `job`'s build, read before building (see
    /// [`upstream::read_upstream`]); `None` under line versioning.
    async fn read_upstream(&self, job: &Job<'_>) -> anyhow::Result<Option<UpstreamRead>> {
        let node = self.node(&job.id)?;
        // A tracked FROM is read as resolved: its tag and its image.
        let reference = job.base.as_ref();
        let base = match (reference, &job.base_digest) {
            (Some(reference), Some(digest)) => Some(reference.with_digest(digest)),
            (reference, _) => reference.cloned(),
        };
        let inputs = UpstreamInputs {
            image: job.image,
            dockerfile: &node.dockerfile_text,
            base: base.as_ref(),
            from_tag: reference.and_then(Reference::tag),
        };
        read_upstream(self.registry, &inputs).await
    }

    /// Fails, before any push, when an image built for `job` carries
    /// another value of the env variable its upstream version was read
    /// from than the one read before the build (and written into its tag
    /// and labels).
    async fn check_built_env(
        &self,
        job: &Job<'_>,
        exact: &Reference,
        built: &Built,
    ) -> anyhow::Result<()> {
        let Some(expected) = job.upstream.as_ref().and_then(|read| read.env.as_ref()) else {
            return Ok(());
        };
        let images: Vec<(usize, String, String)> = match built {
            Built::Single { member } => vec![(*member, exact.to_string(), exact.to_string())],
            Built::Platforms { builds, .. } => builds
                .iter()
                .map(|build| (build.member, build.image.clone(), build.local.to_string()))
                .collect(),
        };
        for (member, image, name) in images {
            let env = self
                .member(member)
                .engine
                .image_env(&image)
                .await
                .with_context(|| format!("failed to read the env of the built image `{name}`"))?;
            upstream::check_env(expected, &name, &env)?;
        }
        Ok(())
    }

    /// Everything about one image a build needs, resolved before it starts;
    /// without `building`, the base is not required (a promotion).
    fn prepare(
        &self,
        step: &Step,
        parent_digest: Option<Digest>,
        building: bool,
    ) -> anyhow::Result<Job<'_>> {
        let config = &self.project.config;
        let image = config
            .image(&step.id)
            .ok_or_else(|| anyhow!("unknown image `{}`", step.id))?;
        let node = self.node(&step.id)?;
        let observation: &Observation = match self.observations.get(&step.id) {
            Some(Ok(observation)) => observation,
            _ => return Err(anyhow!("`{}` was not observed", step.id)),
        };
        // With `track`, the tag the plan builds FROM (the one picked, or
        // the last build's while a release waits for the schedule): pinned,
        // and named by the base label.
        let (base, observed_digest) = observation.base(&node.upstream, step.holds_release());
        let base_digest = parent_digest.or_else(|| observed_digest.cloned());
        if let (true, Some(reference), None) = (building, base, &base_digest) {
            return Err(anyhow!(
                "base image `{reference}` is not in the registry; build its golden image first (`golden build --all`)"
            ));
        }
        let dockerfile_content = match (base, &base_digest) {
            (Some(base), Some(digest)) if building => node.pinned_dockerfile(base, digest),
            (None, Some(_)) if building => {
                return Err(anyhow!("cannot pin the base of `{}`", step.id))
            }
            _ => node.dockerfile_text.clone(),
        };
        Ok(Job {
            id: step.id.clone(),
            image,
            observation,
            base: base.cloned(),
            base_digest,
            dockerfile_content,
            repository: config.repository(image),
            no_cache: step.cache() == Some(false),
            upstream: None,
        })
    }

    /// The labels of `version` of `job`'s image but the recipe's, which
    /// the upload sets from what it sends (see `upload`).
    fn labels(&self, job: &Job<'_>, version: Exact) -> BTreeMap<String, String> {
        golden_labels(
            &job.image.labels,
            &BuildFacts {
                version: &version.to_string(),
                created: Utc::now(),
                title: &job.image.name,
                base: job
                    .base
                    .as_ref()
                    .map(ToString::to_string)
                    .as_deref()
                    .zip(job.base_digest.as_ref().map(Digest::as_str)),
                revision: self.revision.as_deref(),
                upstream: job
                    .upstream
                    .as_ref()
                    .map(|read| read.version.to_string())
                    .as_deref(),
            },
        )
    }

    /// Builds `version` of the image, tagged `exact`, and runs its smoke
    /// test; an image with `platforms` is built and tested once for each
    /// (see [`Runner::build_platforms`]).
    async fn build_and_test(
        &self,
        job: &Job<'_>,
        version: Exact,
        exact: &Reference,
        outcome: &mut Outcome,
    ) -> anyhow::Result<Built> {
        let labels = self.labels(job, version);
        if !job.image.platforms.is_empty() {
            self.progress.event(Event::Started {
                image: job.id.clone(),
                tag: exact.to_string(),
                engine: None,
            });
            return self.build_platforms(job, version, labels, outcome).await;
        }
        let build_started = Instant::now();
        let tested = self
            .build_on_pool(
                job,
                Target {
                    dockerfile: &job.dockerfile_content,
                    labels,
                    tag: exact,
                    platform: None,
                },
            )
            .await;
        outcome.test_seconds = tested.test_seconds;
        outcome.build_seconds =
            Some(build_started.elapsed().as_secs_f64() - tested.test_seconds.unwrap_or(0.0));
        let tested = tested.result?;
        let (member, _) = tested;
        if self.pool.is_pool() {
            outcome
                .built_on
                .push((None, self.member(member).name.clone()));
        }
        Ok(Built::Single { member })
    }

    /// Builds one image of `job` (one platform's, or its only one) under
    /// the local tag `tag` on an engine of the pool, and runs its smoke
    /// test there. When it fails and the engine no longer answers, the
    /// engine is taken out of the pool and the build tried once more on
    /// another. A failed build leaves no local tag behind.
    async fn build_on_pool(&self, job: &Job<'_>, target: Target<'_>) -> Tested {
        let mut test_seconds = None;
        let result = self
            .build_on_pool_timed(job, &target, &mut test_seconds)
            .await;
        Tested {
            result,
            test_seconds,
        }
    }

    async fn build_on_pool_timed(
        &self,
        job: &Job<'_>,
        target: &Target<'_>,
        test_seconds: &mut Option<f64>,
    ) -> anyhow::Result<(usize, String)> {
        let (tag, platform) = (target.tag, target.platform);
        let what = match platform {
            Some(platform) => format!("`{}` for {platform}", job.id),
            None => format!("`{}`", job.id),
        };
        let need = Need {
            platform,
            labels: &job.image.engine_labels,
        };
        let mut lost: Option<String> = None;
        loop {
            let lease = self.pool.acquire(need, &what).await.map_err(|error| {
                let error = anyhow::Error::new(error);
                match &lost {
                    Some(name) => error.context(format!(
                        "engine `{name}` was lost during the build of {what}, and no other engine can build it"
                    )),
                    None => error,
                }
            })?;
            let member = lease.member();
            match platform {
                None => self.progress.event(Event::Started {
                    image: job.id.clone(),
                    tag: tag.to_string(),
                    engine: self.pool.is_pool().then(|| member.name.clone()),
                }),
                Some(platform) if self.pool.is_pool() => self.progress.event(Event::Step {
                    image: job.id.clone(),
                    step: format!("[{platform}] building on `{}`", member.name),
                }),
                Some(_) => {}
            }
            let result = self
                .build_and_test_on(member, job, target, test_seconds)
                .await;
            let error = match result {
                Ok(image) => return Ok((lease.index(), image)),
                Err(error) => error,
            };
            if lost.is_none() && !member.engine.alive().await {
                self.pool.mark_down(lease.index());
                // Only a retry that can happen is announced; otherwise the
                // failure below says that no other engine can build it.
                if !self.pool.candidates(need).is_empty() {
                    tracing::warn!(
                        image = %job.id,
                        "engine `{}` ({}) was lost during the build of {what}; retrying on another engine",
                        member.name,
                        member.host
                    );
                }
                lost = Some(member.name.clone());
                continue;
            }
            self.forget(lease.index(), tag).await;
            return Err(error);
        }
    }

    /// One build of `target` on `member`, then its smoke test there (its
    /// seconds into `test_seconds`); the image id.
    async fn build_and_test_on(
        &self,
        member: &Member,
        job: &Job<'_>,
        target: &Target<'_>,
        test_seconds: &mut Option<f64>,
    ) -> anyhow::Result<String> {
        let (tag, platform) = (target.tag, target.platform);
        let image = self.build_one(member, job, target).await?;
        let Some(test) = &job.image.test else {
            return Ok(image);
        };
        self.progress.event(Event::Testing {
            image: job.id.clone(),
        });
        let test_started = Instant::now();
        let result = member.engine.test(&tag.to_string(), test).await;
        *test_seconds = Some(test_started.elapsed().as_secs_f64());
        match (result, platform) {
            (Ok(()), _) => Ok(image),
            (Err(error), Some(platform)) => {
                Err(anyhow::Error::new(error).context(format!("the {platform} smoke test failed")))
            }
            (Err(error), None) => Err(error.into()),
        }
    }

    /// One engine build of `job` on `member` as `target` says; returns
    /// the image id.
    async fn build_one(
        &self,
        member: &Member,
        job: &Job<'_>,
        target: &Target<'_>,
    ) -> anyhow::Result<String> {
        let platform = target.platform;
        let progress = self.progress.clone();
        let id = job.id.clone();
        let prefix = platform.map(|p| format!("[{p}] ")).unwrap_or_default();
        let on_step: OnStep = Arc::new(move |line: &str| {
            progress.event(Event::Step {
                image: id.clone(),
                step: format!("{prefix}{line}"),
            })
        });
        let sources = self.context_sources(job, target.dockerfile).await;
        let request = BuildRequest {
            image: job.id.clone(),
            context: job.image.context.clone(),
            entries: job.observation.entries.clone(),
            dockerfile: job.image.dockerfile.clone(),
            dockerfile_content: target.dockerfile.to_string(),
            build_args: job.image.build_args.clone(),
            labels: target.labels.clone(),
            configured_labels: job.image.labels.clone(),
            observed_recipe: job.observation.recipe.clone(),
            sources,
            network: self.project.config.engine.network,
            pull: job.image.pull,
            no_cache: job.no_cache,
            tag: target.tag.clone(),
            platform: platform.cloned(),
        };
        let mut vanished = 0;
        let built = loop {
            match member.engine.build(request.clone(), on_step.clone()).await {
                Err(error) if error.is_vanished_image() && vanished < VANISHED_RETRIES => {
                    vanished += 1;
                    tracing::warn!(
                        image = %job.id,
                        "{error}; an image the build had chosen from the cache was removed meanwhile (by another line's tidy or another run), building again"
                    );
                }
                built => break built,
            }
        };
        match platform {
            Some(platform) => built.with_context(|| format!("the {platform} build failed")),
            None => Ok(built?),
        }
    }

    /// The context paths a build of `dockerfile` reads, when golden can
    /// tell, so only they are sent: its `COPY` and `ADD` sources are plain
    /// paths (see `dockerfile::context_sources`) and every image a stage
    /// starts from is pinned by digest to an image (not an index) whose
    /// config has no `ONBUILD` trigger, which could read any of the
    /// context. `None`, and the whole context is sent, otherwise or when
    /// the registry cannot say.
    async fn context_sources(&self, job: &Job<'_>, dockerfile: &str) -> Option<Vec<String>> {
        let sources = crate::dockerfile::context_sources(dockerfile)?;
        let parsed =
            crate::dockerfile::Dockerfile::parse(dockerfile, &job.image.build_args).ok()?;
        for (reference, _) in parsed.images() {
            let pinned = reference.digest()?;
            let config = match self.registry.image_config(reference).await {
                Ok(config) => config,
                Err(error) => {
                    tracing::debug!(image = %job.id, %reference, %error, "sending the whole context");
                    return None;
                }
            };
            if &config.digest != pinned || !config.on_build.is_empty() {
                tracing::debug!(
                    image = %job.id,
                    %reference,
                    triggers = config.on_build.len(),
                    "sending the whole context: the base is an index or has ONBUILD triggers"
                );
                return None;
            }
        }
        Some(sources)
    }

    /// Builds and smoke-tests every platform of `job`'s image at once, each
    /// FROM its own image of the base's index (the engine would otherwise
    /// reuse whichever platform of the base it holds locally), under a
    /// local tag of its own, each on an engine of the pool that builds its
    /// platform. Every platform must pass before any is pushed.
    async fn build_platforms(
        &self,
        job: &Job<'_>,
        version: Exact,
        labels: BTreeMap<String, String>,
        outcome: &mut Outcome,
    ) -> anyhow::Result<Built> {
        let platforms = &job.image.platforms;
        let (dockerfiles, base_platforms) = self.platform_dockerfiles(job).await?;
        let build_started = Instant::now();
        let builds = platforms
            .iter()
            .zip(&dockerfiles)
            .map(|(platform, dockerfile)| {
                let labels = labels.clone();
                async move {
                    let local = job.repository.tag(&platform_tag(version, platform)?);
                    let tested = self
                        .build_on_pool(
                            job,
                            Target {
                                dockerfile,
                                labels,
                                tag: &local,
                                platform: Some(platform),
                            },
                        )
                        .await;
                    let (member, image) = tested.result?;
                    anyhow::Ok((
                        PlatformBuild {
                            platform: platform.clone(),
                            local,
                            member,
                            image,
                        },
                        tested.test_seconds,
                    ))
                }
            });
        let results = futures::future::join_all(builds).await;
        outcome.build_seconds = Some(build_started.elapsed().as_secs_f64());
        let mut done = Vec::new();
        let mut failure = None;
        for result in results {
            match result {
                Ok((build, test_seconds)) => {
                    if let Some(seconds) = test_seconds {
                        *outcome.test_seconds.get_or_insert(0.0) += seconds;
                    }
                    if self.pool.is_pool() {
                        outcome.built_on.push((
                            Some(build.platform.clone()),
                            self.member(build.member).name.clone(),
                        ));
                    }
                    done.push(build);
                }
                Err(error) => {
                    failure.get_or_insert(error);
                }
            }
        }
        if let Some(error) = failure {
            self.forget_platforms(&Built::Platforms {
                builds: done,
                annotations: BTreeMap::new(),
            })
            .await;
            return Err(error.context(format!(
                "nothing of `{}` was pushed: every platform must build and pass its smoke test first",
                job.id
            )));
        }
        let mut annotations: BTreeMap<String, String> = labels
            .into_iter()
            .filter(|(_, value)| !value.is_empty())
            .collect();
        if !base_platforms.is_empty() {
            annotations.insert(
                crate::labels::BASE_PLATFORMS.to_string(),
                crate::labels::base_platforms_value(&base_platforms),
            );
        }
        Ok(Built::Platforms {
            builds: done,
            annotations,
        })
    }

    /// The Dockerfile of each platform of `job`, in platform order: FROM
    /// pinned to that platform's image of the base's index; and each
    /// platform with that image's digest (none without a base).
    async fn platform_dockerfiles(
        &self,
        job: &Job<'_>,
    ) -> anyhow::Result<(Vec<String>, Vec<(String, String)>)> {
        let platforms = &job.image.platforms;
        let node = self.node(&job.id)?;
        let (Some(reference), Some(digest)) = (&job.base, &job.base_digest) else {
            return Ok((
                vec![job.dockerfile_content.clone(); platforms.len()],
                Vec::new(),
            ));
        };
        let base = reference.with_digest(digest);
        let index =
            self.registry.index(&base).await.with_context(|| {
                format!("failed to read the platforms of base image `{reference}`")
            })?;
        let Some(index) = index else {
            return Err(self
                .single_platform_base(job, &node.upstream, reference, digest)
                .await);
        };
        let mut dockerfiles = Vec::with_capacity(platforms.len());
        let mut base_platforms = Vec::with_capacity(platforms.len());
        for platform in platforms {
            let entry = index.select(platform).map_err(|error| {
                anyhow!("base image `{reference}` has no {platform} image: {error}")
            })?;
            let child = Digest::parse(&entry.digest).map_err(|error| {
                anyhow!("base image `{reference}` lists an invalid digest for {platform}: {error}")
            })?;
            dockerfiles.push(node.pinned_dockerfile(reference, &child));
            base_platforms.push((platform.to_string(), child.to_string()));
        }
        Ok((dockerfiles, base_platforms))
    }

    /// Why `job` cannot be built on the single-platform image `base`. When
    /// its golden parent builds for several platforms and the image carries
    /// golden's labels, it is one platform's image of a parent build whose
    /// index was never pushed (a push cut short): an incomplete build, fixed
    /// by rebuilding the parent, not by dropping `platforms`.
    async fn single_platform_base(
        &self,
        job: &Job<'_>,
        upstream: &Upstream,
        reference: &Reference,
        digest: &Digest,
    ) -> anyhow::Error {
        let platforms = list(&job.image.platforms);
        if let Upstream::Golden { id: parent, .. } = upstream {
            let multi_platform_parent = self
                .project
                .config
                .image(parent)
                .is_some_and(|image| !image.platforms.is_empty());
            let config = match multi_platform_parent {
                true => self
                    .registry
                    .image_config(&reference.with_digest(digest))
                    .await
                    .ok(),
                false => None,
            };
            if let Some(config) = config.filter(|config| config.label(RECIPE).is_some()) {
                let version = config
                    .label(VERSION)
                    .map_or_else(String::new, |version| format!(" {version}"));
                return crate::hint::Hinted::new(
                    format!(
                        "base image `{reference}` ({digest}) is an incomplete build{version} of `{parent}`: one platform's image of a multi-platform build whose index was never pushed, so `{}` cannot be built for {platforms}",
                        job.id
                    ),
                    format!(
                        "rebuild the parent: `golden rebuild {parent}` (its children are built again on the new build)"
                    ),
                )
                .into();
            }
        }
        anyhow!(
            "base image `{reference}` ({digest}) is a single-platform image, so it cannot be built for {platforms}: use a multi-platform base (an image index or manifest list) or remove `platforms` from `{}`",
            job.id
        )
    }

    /// Removes the local per-platform tags of a multi-platform build.
    async fn forget_platforms(&self, built: &Built) {
        if let Built::Platforms { builds, .. } = built {
            for build in builds {
                self.forget(build.member, &build.local).await;
            }
        }
    }

    /// Pushes each platform's image by digest, then the index listing them
    /// as the exact tag, and confirms the registry serves it. The engine
    /// pushes only tags: each image is pushed through the exact tag itself,
    /// which the index then takes, so no other tag is ever written. Until
    /// the index is in place the exact tag names one platform's image,
    /// which observe does not take for a complete build.
    async fn push_platforms(
        &self,
        job: &Job<'_>,
        exact: &Reference,
        builds: &[PlatformBuild],
        annotations: &BTreeMap<String, String>,
        outcome: &mut Outcome,
    ) -> anyhow::Result<Digest> {
        let mut children = Vec::with_capacity(builds.len());
        for build in builds {
            tracing::info!(tag = %exact, platform = %build.platform, "pushing");
            let member = self.member(build.member);
            member.engine.tag_local(&build.image, exact).await?;
            let pushed = self
                .push_with_retries(member, exact)
                .await
                .with_context(|| format!("failed to push the {} image", build.platform))?;
            let digest = Digest::parse(&pushed).map_err(|error| {
                anyhow!("the engine reported an invalid digest {pushed}: {error}")
            })?;
            let info = self
                .registry
                .manifest_info(&job.repository.digest(&digest))
                .await
                .with_context(|| format!("failed to confirm the {} image {digest}", build.platform))?
                .ok_or_else(|| {
                    anyhow!("the {} image {digest} is not in the registry after the push; no floating tag was moved", build.platform)
                })?;
            children.push(crate::index::Child {
                media_type: info.media_type,
                digest: info.digest.to_string(),
                size: info.size,
                platform: build.platform.clone(),
            });
        }
        let index = crate::index::build_index(&children, annotations)
            .map_err(|error| anyhow!("cannot make the index of `{exact}`: {error}"))?;
        let tag = crate::name::Tag::parse(exact.tag().unwrap_or("latest"))?;
        let digest = self
            .registry
            .put_index(&job.repository, &tag, &index)
            .await
            .with_context(|| format!("failed to put the index `{exact}`"))?;
        let confirmed = self
            .registry
            .manifest_digest(exact)
            .await
            .with_context(|| format!("failed to confirm `{exact}` after pushing"))?;
        if confirmed.as_ref() != Some(&digest) {
            return Err(anyhow!(
                "the registry serves {} for `{exact}`, not the index {digest} just put; no floating tag was moved",
                confirmed.map(|d| d.to_string()).unwrap_or_else(|| "nothing".into())
            ));
        }
        outcome.digest = Some(digest.clone());
        Ok(digest)
    }

    /// The engine's push, tried again after transient failures while the
    /// retry budget lasts (the engine retries each layer itself, for about
    /// 50s, before it reports a failure) and the engine still answers (a
    /// lost engine lost the image too: see `lost_in_push`). Pushing the
    /// same tag again is safe: layers already uploaded are skipped.
    async fn push_with_retries(
        &self,
        member: &Member,
        exact: &Reference,
    ) -> Result<String, crate::engine::EngineError> {
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            match member.engine.push(exact).await {
                Err(error)
                    if error.is_transient()
                        && attempt < self.project.config.registry.retries
                        && started.elapsed() < crate::registry::distribution::RETRY_BUDGET
                        && member.engine.alive().await =>
                {
                    let delay = crate::registry::distribution::backoff(attempt);
                    tracing::warn!(tag = %exact, attempt = attempt + 1, "push failed ({error}); retrying in {:.1}s", delay.as_secs_f64());
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    /// Pushes the exact tag (the caller checked it is free), then confirms
    /// the registry serves the digest the engine reported.
    async fn push_exact(
        &self,
        member: &Member,
        exact: &Reference,
        outcome: &mut Outcome,
    ) -> anyhow::Result<Digest> {
        tracing::info!(tag = %exact, "pushing");
        let pushed = self.push_with_retries(member, exact).await?;
        let confirmed = self
            .registry
            .manifest_digest(exact)
            .await
            .with_context(|| format!("failed to confirm `{exact}` after pushing"))?;
        match confirmed {
            Some(digest) if digest == pushed.as_str() => {
                outcome.digest = Some(digest.clone());
                Ok(digest)
            }
            Some(digest) => Err(anyhow!(
                "the engine pushed `{exact}` as {pushed} but the registry serves {digest}; no floating tag was moved"
            )),
            None => Err(anyhow!("`{exact}` is not in the registry after the push; no floating tag was moved")),
        }
    }

    /// Records the floating tags `golden promote` will move to the pushed
    /// build, moving none (`build --no-promote`).
    async fn pend(
        &self,
        job: &Job<'_>,
        version: Exact,
        shared: &Shared,
        outcome: &mut Outcome,
    ) -> anyhow::Result<()> {
        outcome.promoted = Some(false);
        let tags = self.movable_tags(job, version, shared).await?;
        outcome.pending = tags.iter().map(ToString::to_string).collect();
        Ok(())
    }

    /// Moves the floating tags the forward-only rules allow to the pushed
    /// digest, `X.Y` first. A second signal waits for the moves to finish.
    async fn promote(
        &self,
        job: &Job<'_>,
        version: Exact,
        shared: &Shared,
        outcome: &mut Outcome,
    ) -> anyhow::Result<()> {
        let digest = outcome
            .digest
            .clone()
            .ok_or_else(|| anyhow!("nothing was pushed"))?;
        let tags = self.movable_tags(job, version, shared).await?;
        self.move_tags(job, &digest, &tags, outcome).await
    }

    /// Moves `tags` to `digest` in order, each into `outcome.floating`
    /// once moved. A second signal waits for the moves to finish.
    async fn move_tags(
        &self,
        job: &Job<'_>,
        digest: &Digest,
        tags: &[Tag],
        outcome: &mut Outcome,
    ) -> anyhow::Result<()> {
        let _unit = self.stop.hold();
        for tag in tags {
            self.registry
                .copy_tag(&job.repository, digest, tag)
                .await
                .with_context(|| {
                    let moved = if outcome.floating.is_empty() {
                        "none".to_string()
                    } else {
                        outcome.floating.join(", ")
                    };
                    format!(
                        "failed to move `{tag}` to {digest} (floating tags moved so far: {moved}; the next `golden build` moves the rest)"
                    )
                })?;
            outcome.floating.push(tag.to_string());
        }
        Ok(())
    }
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
