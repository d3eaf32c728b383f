//! Signing a build (`[signing]`): after the scan gate passes and before any
//! floating tag moves, golden signs the manifest digest it pushed (an
//! index's for a multi-platform build) in cosign's keyed format and stores
//! the signature beside it as `sha256-<hex>.sig` (see the core's
//! `signing`). A signature that cannot be stored withdraws the build as a
//! failed scan does: no floating tag ever moves to an unsigned build.

use super::{Job, Runner};
use crate::name::Digest;
use crate::registry::RegistryError;
use crate::signing;

impl Runner<'_> {
    /// Signs the build `digest` of `job`, when a key is configured.
    pub(super) async fn sign_build(
        &self,
        job: &Job<'_>,
        digest: &Digest,
    ) -> Result<(), RegistryError> {
        let Some(key) = &self.signing else {
            return Ok(());
        };
        let payload = signing::payload(&job.repository.to_string(), digest);
        let signature = signing::sign(key, &payload);
        let made = signing::signature_manifest(&payload, &signature);
        self.registry.put_blob(&job.repository, payload).await?;
        self.registry.put_blob(&job.repository, made.config).await?;
        let tag = signing::signature_tag(digest);
        self.registry
            .put_manifest_bytes(&job.repository, &tag, made.media_type, made.manifest)
            .await?;
        tracing::info!(image = %job.id, "signed {digest} ({}:{tag})", job.repository);
        Ok(())
    }
}
