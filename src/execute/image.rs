//! One image: what its build needs (resolved before it starts), the
//! engine build and smoke test of one image on a member of the pool
//! (retried on another when the engine is lost, or when a cached image
//! vanished under the build), and the push of a single-platform image
//! under its exact tag, confirmed in the registry.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{anyhow, Context as _};
use chrono::Utc;

use super::builder;
use super::{read_upstream, Built, Job, Runner, UpstreamInputs, UpstreamRead};
use crate::engine::{BuildRequest, Builder, OnStep};
use crate::labels::{golden_labels, BuildFacts};
use crate::name::Digest;
use crate::observation::Observation;
use crate::outcome::Outcome;
use crate::plan::Step;
use crate::platform::Platform;
use crate::pool::{Member, Need};
use crate::reference::Reference;
use crate::ui::progress::Event;
use crate::version::Exact;

/// What one engine build makes: the Dockerfile (FROM pinned), the labels,
/// the local tag and the platform (`None`: the engine's own).
pub(super) struct Target<'t> {
    pub(super) dockerfile: &'t str,
    pub(super) labels: BTreeMap<String, String>,
    pub(super) tag: &'t Reference,
    pub(super) platform: Option<&'t Platform>,
}

/// One image built and smoke-tested on a member of the pool: the member
/// and the engine's image id, and the test's seconds even when it failed.
pub(super) struct Tested {
    pub(super) result: anyhow::Result<(usize, String)>,
    pub(super) test_seconds: Option<f64>,
}

/// How often a build whose cached image was removed under it (see
/// `EngineError::is_vanished_image`) is started again.
const VANISHED_RETRIES: usize = 2;

impl Runner<'_> {
    /// Everything about one image a build needs, resolved before it starts;
    /// without `building`, the base is not required (a promotion).
    pub(super) fn prepare(
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
            reasons: crate::report::reasons_text(step.reasons()),
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
                source: self.source.as_deref(),
                upstream: job
                    .upstream
                    .as_ref()
                    .map(|read| read.version.to_string())
                    .as_deref(),
                reasons: &job.reasons,
            },
        )
    }

    /// The upstream version of `job`'s build, read before building (see
    /// [`upstream::read_upstream`]); `None` under line versioning.
    pub(super) async fn read_upstream(
        &self,
        job: &Job<'_>,
    ) -> anyhow::Result<Option<UpstreamRead>> {
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

    /// Builds `version` of the image, tagged `exact`, and runs its smoke
    /// test; an image with `platforms` is built and tested once for each
    /// (see [`Runner::build_platforms`]).
    pub(super) async fn build_and_test(
        &self,
        job: &Job<'_>,
        version: Exact,
        exact: &Reference,
        outcome: &mut Outcome,
    ) -> anyhow::Result<Built> {
        let labels = self.labels(job, version);
        tracing::info!(image = %job.id, tag = %exact, "building {} {version} because {}", job.id, job.reasons);
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
        outcome.builder = self.builder_of(member, job);
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
    pub(super) async fn build_on_pool(&self, job: &Job<'_>, target: Target<'_>) -> Tested {
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
            buildkit: builder::needs_a_buildkit_engine(job.image, self.node(&job.id)?),
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

    /// The builder a build of `job` on the pool's `member` runs with.
    pub(super) fn builder_of(&self, member: usize, job: &Job<'_>) -> Option<Builder> {
        let node = self.node(&job.id).ok()?;
        let needs = builder::needs_buildkit(job.image, node);
        builder::builder_for(self.member(member), job.image, needs.as_deref()).ok()
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
        let needs = builder::needs_buildkit(job.image, self.node(&job.id)?);
        let chosen = builder::builder_for(member, job.image, needs.as_deref())?;
        let secrets = match chosen {
            Builder::BuildKit => builder::read_secrets(job.image)?,
            Builder::Classic => BTreeMap::new(),
        };
        tracing::info!(image = %job.id, engine = %member.name, builder = %chosen, "building with {chosen}");
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
            recipe_secrets: job.image.recipe_secrets.clone(),
            builder: chosen,
            secrets,
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
                Err(error) if error.is_buildkit_hiccup() && vanished < VANISHED_RETRIES => {
                    vanished += 1;
                    tracing::warn!(
                        image = %job.id,
                        "{error}; BuildKit failed inside the engine, not in the Dockerfile: building again"
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

    /// The engine's push, tried again after transient failures while the
    /// retry budget lasts (the engine retries each layer itself, for about
    /// 50s, before it reports a failure) and the engine still answers (a
    /// lost engine lost the image too: see `lost_in_push`). Pushing the
    /// same tag again is safe: layers already uploaded are skipped.
    pub(super) async fn push_with_retries(
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
                        && started.elapsed() < crate::retry::RETRY_BUDGET
                        && member.engine.alive().await =>
                {
                    let delay = crate::retry::backoff(attempt);
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
    pub(super) async fn push_exact(
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
}
