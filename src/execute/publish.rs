//! One image from build to release under an exact number: each attempt
//! takes the next free number, builds and tests, pushes and releases; an
//! attempt ends early when the number was taken meanwhile (by another run,
//! or by this run's own push cut short), when the engine holding the build
//! was lost during the push, or when another run pushed over the exact tag
//! before the release (see `promote.rs`). The next attempt takes the next
//! number; after `EXACT_ATTEMPTS` the image fails, naming why.

use std::time::Instant;

use anyhow::{anyhow, Context as _};

use super::promote::Claim;
use super::scan::GateStep;
use super::{upstream, Built, Job, Runner, Shared};
use crate::name::{Digest, Repository};
use crate::outcome::Outcome;
use crate::plan::Step;
use crate::platform::Platform;
use crate::pool::Need;
use crate::reference::Reference;
use crate::ui::progress::Event;
use crate::version::{next_build, next_revision, Exact};

/// Exact numbers tried before giving up when other runs keep taking them.
const EXACT_ATTEMPTS: usize = 3;

/// What the attempts of one image ran into so far; the next attempt
/// takes a number past every one of them.
#[derive(Default)]
struct Attempts {
    /// Numbers another run pushed to first, or over this run's push.
    taken: Vec<Exact>,
    /// Numbers this run pushed to: one found there later is its own
    /// push, cut short by a lost engine, not another run's.
    pushed_to: Vec<Exact>,
    /// Numbers holding this run's own push, cut short by a lost engine.
    half_pushed: Vec<Exact>,
    /// Engines lost during a push.
    lost_engines: Vec<String>,
    /// The floating tags moved to a build another run then pushed over,
    /// and that build's digest.
    stranded: Option<(Vec<String>, Digest)>,
}

/// Whether [`Runner::gate`] resumes a build an earlier run pushed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Resume {
    No,
    Yes,
}

/// How one attempt ended, short of a failure.
enum Attempt {
    Released,
    /// Its number was lost: the next attempt takes the next one.
    Again,
}

impl Attempts {
    /// The numbers the next attempt must pass: observed before the run,
    /// pushed in this run (by any line of the repository), or lost by an
    /// earlier attempt.
    fn versions(&self, job: &Job<'_>, shared: &Shared) -> Vec<Exact> {
        let mut versions = job.observation.versions.clone();
        versions.extend(shared.pushed(&job.repository).iter().map(|(v, _)| *v));
        versions.extend(&self.taken);
        versions.extend(&self.half_pushed);
        versions
    }

    /// Takes note that `exact` (`version`) already held `digest` before
    /// this attempt pushed: this run's own push cut short, or another run's.
    fn found_taken(&mut self, exact: &Reference, version: Exact, digest: &Digest) {
        if self.pushed_to.contains(&version) {
            tracing::warn!(tag = %exact, %digest, "the exact tag holds this run's own push, cut short by a lost engine; taking the next number");
            self.half_pushed.push(version);
        } else {
            tracing::warn!(tag = %exact, %digest, "the exact tag appeared meanwhile; taking the next number");
            self.taken.push(version);
        }
    }

    /// The failure of an image whose every attempt lost its exact tag to
    /// another run or its engine during the push.
    fn exhausted(&self, repository: &Repository) -> anyhow::Error {
        let list = |versions: &[Exact]| {
            versions
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut reasons = Vec::new();
        if !self.taken.is_empty() {
            reasons.push(format!(
                "exact tags {} of `{repository}` were all taken by other runs during this run",
                list(&self.taken)
            ));
        }
        if !self.half_pushed.is_empty() {
            reasons.push(format!(
                "exact tags {} of `{repository}` hold this run's own pushes, cut short by a lost engine (incomplete builds, never released)",
                list(&self.half_pushed)
            ));
        }
        if !self.lost_engines.is_empty() {
            reasons.push(format!(
                "engines were lost during its pushes: {}",
                self.lost_engines
                    .iter()
                    .map(|name| format!("`{name}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        anyhow!("{}; no build of this run was released", reasons.join("; "))
    }
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

impl Runner<'_> {
    /// Builds `step`'s image and publishes it (see [`Runner::publish`]),
    /// after the upstream version it is built as is read and checked.
    pub(super) async fn build_and_push(
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
        let mut attempts = Attempts::default();
        let result = self.publish(&job, shared, outcome, &mut attempts).await;
        // Floating tags moved to a build another run pushed over stay
        // there whatever ends the run: every failure says so.
        match attempts.stranded {
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
    /// lost; `attempts` keeps what each attempt ran into.
    async fn publish(
        &self,
        job: &Job<'_>,
        shared: &Shared,
        outcome: &mut Outcome,
        attempts: &mut Attempts,
    ) -> anyhow::Result<()> {
        for _ in 0..EXACT_ATTEMPTS {
            match self.attempt(job, shared, outcome, attempts).await? {
                Attempt::Released => return Ok(()),
                Attempt::Again => continue,
            }
        }
        Err(attempts.exhausted(&job.repository))
    }

    /// One attempt under the next free number: build and test, push
    /// (holding the repository's promotion lock), then release; a build
    /// another run pushed over before its release is taken back.
    async fn attempt(
        &self,
        job: &Job<'_>,
        shared: &Shared,
        outcome: &mut Outcome,
        attempts: &mut Attempts,
    ) -> anyhow::Result<Attempt> {
        let versions = attempts.versions(job, shared);
        // A tag at or past the highest build number stops the line
        // here, named, before anything is built.
        let version = next_version(job, &versions)?;
        let exact = job.repository.tag(&version.tag());
        // Only the attempt that is published says where it was built.
        outcome.built_on.clear();
        // A failed or untested build never stays under an exact tag:
        // the build removes its own local tag when it fails.
        let built = self.build_and_test(job, version, &exact, outcome).await?;
        if let Err(error) = self.check_built_env(job, &exact, &built).await {
            self.forget_build(&exact, &built).await;
            return Err(error);
        }
        self.progress.event(Event::Pushing {
            image: job.id.clone(),
        });
        let push_started = Instant::now();
        let lock = shared.lock_for(&job.repository);
        let _promotion = lock.lock().await;
        let pushed = self
            .push_if_free(job, version, &exact, &built, attempts, outcome)
            .await?;
        let Some(digest) = pushed else {
            return Ok(Attempt::Again);
        };
        outcome.version = Some(version);
        shared.record(&job.repository, version, digest.clone());
        if let Err(error) = self.gate(job, version, &digest, Resume::No).await {
            outcome.push_seconds = Some(push_started.elapsed().as_secs_f64());
            for member in &built.members() {
                self.tidy(self.member(*member), job, version).await;
            }
            return Err(error);
        }
        let released = self
            .release(job, version, &exact, &digest, shared, outcome)
            .await;
        outcome.push_seconds = Some(push_started.elapsed().as_secs_f64());
        let members = built.members();
        if let Ok(Claim::Lost { holder }) = released {
            let next = next_version(job, &[versions, vec![version]].concat()).ok();
            let moved = self.unrelease(job, version, &digest, holder, next, shared, outcome);
            if !moved.is_empty() {
                attempts.stranded = Some((moved, digest));
            }
            self.forget_on(&members, &exact).await;
            attempts.taken.push(version);
            return Ok(Attempt::Again);
        }
        for member in &members {
            self.tidy(self.member(*member), job, version).await;
        }
        released.map(|_| Attempt::Released)
    }

    /// The steps between the push and the floating tags, in order: the
    /// SBOM, the scan gate, the signature. A build that does not pass
    /// one is withdrawn, never released. Resuming a build an earlier run
    /// pushed, its scan runs only when no record says it passed (an SBOM
    /// already attached is kept either way).
    pub(super) async fn gate(
        &self,
        job: &Job<'_>,
        version: Exact,
        digest: &Digest,
        resume: Resume,
    ) -> anyhow::Result<()> {
        if let Err(error) = self.attach_sbom(job, version, digest).await {
            return Err(self
                .withdrawn_after(job, version, digest, error, GateStep::Sbom)
                .await);
        }
        let passed = match resume {
            Resume::Yes if job.image.scan.is_some() => self.scan_passed(job, digest).await?,
            _ => false,
        };
        if !passed {
            self.scan_gate(job, version, digest).await?;
        }
        if let Err(error) = self.sign_build(job, digest).await {
            return Err(self
                .withdrawn_after(job, version, digest, error, GateStep::Signature)
                .await);
        }
        Ok(())
    }

    /// Pushes a tested build as its exact tag when the registry does not
    /// hold that tag yet, and confirms it: the digest pushed. `None` when
    /// the number is lost to the attempt: the tag appeared meanwhile
    /// (exact tags are never overwritten), or an engine holding the build
    /// was lost during the push and another can build it again. Only a
    /// pushed single-platform image keeps a local tag.
    async fn push_if_free(
        &self,
        job: &Job<'_>,
        version: Exact,
        exact: &Reference,
        built: &Built,
        attempts: &mut Attempts,
        outcome: &mut Outcome,
    ) -> anyhow::Result<Option<Digest>> {
        let existing = self
            .registry
            .manifest_digest(exact)
            .await
            .with_context(|| format!("failed to check `{exact}` before pushing"))?;
        if let Some(digest) = existing {
            self.forget_build(exact, built).await;
            attempts.found_taken(exact, version, &digest);
            return Ok(None);
        }
        attempts.pushed_to.push(version);
        let result = match built {
            Built::Single { member } => self.push_exact(self.member(*member), exact, outcome).await,
            Built::Platforms {
                builds,
                annotations,
            } => {
                self.push_platforms(job, exact, builds, annotations, outcome)
                    .await
            }
        };
        self.forget_platforms(built).await;
        let error = match result {
            Ok(digest) => return Ok(Some(digest)),
            Err(error) => error,
        };
        let members = built.members();
        let lost = self.lost_in_push(job, &members).await;
        self.forget_on(&members, exact).await;
        match lost {
            Some(Ok(name)) => {
                attempts.lost_engines.push(name);
                Ok(None)
            }
            Some(Err(context)) => Err(error.context(context)),
            None => Err(error),
        }
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
                    buildkit: self
                        .node(&job.id)
                        .is_ok_and(|node| super::builder::needs_a_buildkit_engine(job.image, node)),
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
}
