//! Multi-platform images: one build and smoke test per platform, each FROM
//! its own image of the base's index and under a local tag of its own;
//! then each platform's image pushed by digest and the index listing them
//! put as the exact tag.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::{anyhow, Context as _};

use super::image::Target;
use super::{Built, Job, PlatformBuild, Runner};
use crate::graph::Upstream;
use crate::labels::{RECIPE, VERSION};
use crate::name::{Digest, Tag};
use crate::outcome::Outcome;
use crate::platform::Platform;
use crate::reference::Reference;
use crate::version::Exact;

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

/// The annotations of a multi-platform build's index: its labels that
/// have a value, and each platform's base image (`base_platforms`, none
/// without a base).
fn index_annotations(
    labels: BTreeMap<String, String>,
    base_platforms: &[(String, String)],
) -> BTreeMap<String, String> {
    let mut annotations: BTreeMap<String, String> = labels
        .into_iter()
        .filter(|(_, value)| !value.is_empty())
        .collect();
    if !base_platforms.is_empty() {
        annotations.insert(
            crate::labels::BASE_PLATFORMS.to_string(),
            crate::labels::base_platforms_value(base_platforms),
        );
    }
    annotations
}

impl Runner<'_> {
    /// Builds and smoke-tests every platform of `job`'s image at once, each
    /// FROM its own image of the base's index (the engine would otherwise
    /// reuse whichever platform of the base it holds locally), under a
    /// local tag of its own, each on an engine of the pool that builds its
    /// platform. Every platform must pass before any is pushed.
    pub(super) async fn build_platforms(
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
                self.build_platform(job, version, platform, dockerfile, labels.clone())
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
                    outcome.builder = self.builder_of(build.member, job);
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
        Ok(Built::Platforms {
            builds: done,
            annotations: index_annotations(labels, &base_platforms),
        })
    }

    /// Builds and smoke-tests `platform`'s image of `job` from
    /// `dockerfile`, under its own local tag, on an engine of the pool
    /// that builds the platform; with the test's seconds.
    async fn build_platform(
        &self,
        job: &Job<'_>,
        version: Exact,
        platform: &Platform,
        dockerfile: &str,
        labels: BTreeMap<String, String>,
    ) -> anyhow::Result<(PlatformBuild, Option<f64>)> {
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
        Ok((
            PlatformBuild {
                platform: platform.clone(),
                local,
                member,
                image,
            },
            tested.test_seconds,
        ))
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

    /// Pushes each platform's image by digest, then the index listing them
    /// as the exact tag, and confirms the registry serves it. The engine
    /// pushes only tags: each image is pushed through the exact tag itself,
    /// which the index then takes, so no other tag is ever written. Until
    /// the index is in place the exact tag names one platform's image,
    /// which observe does not take for a complete build.
    pub(super) async fn push_platforms(
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
}
