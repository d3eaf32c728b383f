//! The SBOM of a pushed build (`sbom`, on by default): after the exact tag
//! is pushed and before the scan gate, golden reads the layers it pushed
//! (streamed from the registry, never by running the image), writes one
//! CycloneDX document per platform (see the core's `sbom`) and attaches
//! it beside the build (see the core's `referrers`): to the manifest for
//! one image; to each platform's manifest and to the index for a
//! multi-platform build. An SBOM already attached is kept, so a resumed
//! run attaches none twice. One that cannot be made or stored withdraws
//! the build: no floating tag moves to a build without its SBOM.

use std::collections::BTreeMap;

use futures::{StreamExt as _, TryStreamExt as _};

use super::{Job, Runner};
use crate::labels;
use crate::name::Digest;
use crate::referrers::{self, Artifact, Subject};
use crate::registry::RegistryError;
use crate::sbom::{self, Filesystem, Identity};
use crate::version::Exact;

impl Runner<'_> {
    /// Attaches the SBOM of `job`'s build pushed as `version` (`digest`),
    /// unless `sbom = false`.
    pub(super) async fn attach_sbom(
        &self,
        job: &Job<'_>,
        version: Exact,
        digest: &Digest,
    ) -> Result<(), RegistryError> {
        if !job.image.sbom {
            return Ok(());
        }
        let by_digest = job.repository.digest(digest);
        let info = self
            .registry
            .manifest_info(&by_digest)
            .await?
            .ok_or_else(|| gone(job, digest))?;
        let subject = Subject {
            media_type: info.media_type,
            digest: digest.clone(),
            size: info.size,
        };
        let Some(index) = self.registry.index(&by_digest).await? else {
            let document = self.sbom_of(job, version, digest, None).await?;
            return self.attach(job, &subject, document, None).await;
        };
        for entry in index.manifests.iter().filter(|entry| entry.is_image()) {
            let platform = entry.platform.as_ref().map(ToString::to_string);
            let child = Subject {
                media_type: entry.media_type.clone(),
                digest: Digest::parse(&entry.digest).map_err(|error| RegistryError::Invalid {
                    registry: job.repository.registry().to_string(),
                    action: format!("read the index {digest}"),
                    message: error.to_string(),
                })?,
                size: entry.size,
            };
            let document = self
                .sbom_of(job, version, &child.digest, platform.as_deref())
                .await?;
            self.attach(job, &child, document.clone(), platform.as_deref())
                .await?;
            self.attach(job, &subject, document, platform.as_deref())
                .await?;
        }
        Ok(())
    }

    /// The SBOM of the image manifest `digest` (one platform's, for an
    /// index) of `job`'s build.
    async fn sbom_of(
        &self,
        job: &Job<'_>,
        version: Exact,
        digest: &Digest,
        platform: Option<&str>,
    ) -> Result<Vec<u8>, RegistryError> {
        let config = self
            .registry
            .image_config(&job.repository.digest(digest))
            .await?;
        // A few layers at once: a base of dozens of layers does not open
        // dozens of downloads.
        let layers: Vec<_> = futures::stream::iter(config.layers.iter())
            .map(|layer| async move {
                let digest = Digest::parse(&layer.digest).map_err(|error| {
                    invalid(
                        job,
                        format!("read the layers of {digest}"),
                        error.to_string(),
                    )
                })?;
                self.registry.layer_facts(&job.repository, &digest).await
            })
            .buffered(LAYERS_AT_ONCE)
            .try_collect()
            .await?;
        let held: u64 = layers.iter().map(|layer| layer.bytes()).sum();
        if held > IMAGE_LIMIT {
            return Err(invalid(
                job,
                format!("read the layers of {digest}"),
                format!("its package databases hold {held} bytes, more than golden reads of one image ({IMAGE_LIMIT})"),
            ));
        }
        let files = Filesystem::merge(&layers);
        let repository = job.repository.to_string();
        let tag = version.tag();
        let upstream = config.labels.get(labels::BASE_NAME).map(|name| {
            (
                name.as_str(),
                config.labels.get(labels::BASE_DIGEST).map(String::as_str),
            )
        });
        let identity = Identity {
            image: &job.id,
            repository: &repository,
            version: tag.as_str(),
            digest,
            platform,
            created: config.created.as_deref(),
            upstream,
            tool_version: env!("CARGO_PKG_VERSION"),
        };
        Ok(sbom::document(&identity, &files))
    }

    async fn attach(
        &self,
        job: &Job<'_>,
        subject: &Subject,
        document: Vec<u8>,
        platform: Option<&str>,
    ) -> Result<(), RegistryError> {
        let mut annotations: BTreeMap<String, String> = platform
            .map(|platform| (sbom::PLATFORM_ANNOTATION.to_string(), platform.to_string()))
            .into_iter()
            .collect();
        annotations.insert(referrers::IMAGE_ANNOTATION.to_string(), job.id.clone());
        let artifact = Artifact {
            artifact_type: sbom::CYCLONEDX_JSON.to_string(),
            bytes: document,
            annotations,
        };
        let attached =
            referrers::attach(self.registry, &job.repository, subject, &artifact).await?;
        let platform = platform.map_or_else(String::new, |platform| format!(" ({platform})"));
        if attached.existed {
            tracing::info!(image = %job.id, "the SBOM of {}{platform} was attached before ({}): kept", subject.digest, attached.digest);
        } else {
            tracing::info!(image = %job.id, "attached the SBOM of {}{platform} as {}", subject.digest, attached.digest);
        }
        Ok(())
    }
}

/// How many layers of one image are read back at once.
const LAYERS_AT_ONCE: usize = 3;
/// The most an image's package databases may hold together.
const IMAGE_LIMIT: u64 = 512 << 20;

fn invalid(job: &Job<'_>, action: String, message: String) -> RegistryError {
    RegistryError::Invalid {
        registry: job.repository.registry().to_string(),
        action,
        message,
    }
}

fn gone(job: &Job<'_>, digest: &Digest) -> RegistryError {
    RegistryError::Invalid {
        registry: job.repository.registry().to_string(),
        action: format!("read the build {digest} back"),
        message: "it is no longer in the registry".to_string(),
    }
}
