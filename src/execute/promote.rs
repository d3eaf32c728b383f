//! Floating tags: which may move to a build (decided on the tags read
//! again just before), the moves themselves, `--no-promote`'s pending
//! tags, the promotion of an existing release, and the exact tag read again
//! before and after the moves: the registry has no compare-and-set, so a
//! build another run pushed over is not released.

use anyhow::{anyhow, Context as _};

use super::publish::Resume;
use super::{upstream, Job, Runner, Shared};
use crate::name::{Digest, Tag};
use crate::observe::ledger::{self, Ledger};
use crate::outcome::Outcome;
use crate::plan::Step;
use crate::provenance::{self, Class};
use crate::reference::Reference;
use crate::version::{marker_tags, Exact};

/// Whether a pushed exact tag still holds the build golden pushed.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Claim {
    Held,
    /// Another run pushed over it; `holder` is what the tag holds now.
    Lost {
        holder: Option<Digest>,
    },
}

impl Runner<'_> {
    /// Releases a pushed build: moves its floating tags (or, with
    /// `--no-promote`, records them for `golden promote`). The registry
    /// has no compare-and-set, so another run that found `exact` free
    /// before this run's push landed may push over it afterwards: `exact`
    /// is read again after the floating tags are decided and before any
    /// moves, and once more after the moves. Held by another digest, the
    /// build lost the race: `Claim::Lost`, and it is not released (tags
    /// moved before the second read follow the next build).
    pub(super) async fn release(
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

    /// Takes back what this run recorded of `version`, a build another run
    /// pushed over (`holder` is what its exact tag holds now) and which is
    /// built again as `next`; returns the floating tags already moved to it.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn unrelease(
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

    /// Moves the line's floating tags to its release (its newest build not
    /// withdrawn), which a run that died after pushing it, or a rollback
    /// that died halfway, left behind.
    pub(super) async fn promote_existing(
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
        // A build never released passes the gate's steps it lacks first; a
        // release whose tags were left behind or moved away (a rollback
        // cut short, someone else's push) was released through them
        // already, and is never scanned again nor withdrawn here.
        let unreleased = step
            .reasons()
            .iter()
            .any(|reason| matches!(reason, crate::plan::Reason::Unreleased { .. }));
        if unreleased {
            self.resume_gate(&job, version, &digest).await?;
        } else if let Some(key) = &self.verify_with {
            self.require_signed(&job, version, &digest, key).await?;
        }
        outcome.version = Some(version);
        outcome.digest = Some(digest);
        self.promote(&job, version, shared, outcome).await
    }

    /// Before the floating tags move to a build an earlier run pushed
    /// (which a signal, or a `--no-promote` run, left unreleased): the
    /// gate's steps it has not passed. A build signed with the configured
    /// key passed them all. Otherwise its SBOM is attached unless it is
    /// there, its scan runs unless its record says it passed, and it is
    /// signed when `[signing]`'s key is at hand; a promotion with only the
    /// public key refuses it.
    async fn resume_gate(
        &self,
        job: &Job<'_>,
        version: crate::version::Exact,
        digest: &Digest,
    ) -> anyhow::Result<()> {
        if let Some(key) = &self.verify_with {
            let verdict =
                crate::signing::verify(self.registry, &job.repository, digest, key).await?;
            if verdict.verified {
                return Ok(());
            }
            if self.signing.is_none() {
                return Err(unsigned(job, version, &verdict));
            }
        }
        self.gate(job, version, digest, Resume::Yes).await
    }

    /// Refuses to move floating tags to `version` of `job` (`digest`)
    /// unless a signature beside it verifies with `key`.
    async fn require_signed(
        &self,
        job: &Job<'_>,
        version: crate::version::Exact,
        digest: &Digest,
        key: &crate::signing::VerifyingKey,
    ) -> anyhow::Result<()> {
        let verdict = crate::signing::verify(self.registry, &job.repository, digest, key).await?;
        if verdict.verified {
            return Ok(());
        }
        Err(unsigned(job, version, &verdict))
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

/// The refusal to move floating tags to `version` of `job`, which no
/// signature beside it verifies (`verdict`).
fn unsigned(
    job: &Job<'_>,
    version: crate::version::Exact,
    verdict: &crate::signing::Verdict,
) -> anyhow::Error {
    let why = match verdict.rejected.first() {
        Some(reason) => format!("no signature beside it verifies ({reason})"),
        None => "it is not signed".to_string(),
    };
    anyhow::Error::new(crate::hint::Hinted::new(
        format!(
            "golden moves no floating tag to `{}:{}`: {why}",
            job.repository,
            version.tag()
        ),
        "with [signing], only signed builds are released: `golden rebuild` builds and signs a new one",
    ))
}
