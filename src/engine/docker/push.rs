//! Pushes: the engine pushes a local tag to its registry, and the digest
//! it pushed is read from its status lines.

use bollard::query_parameters::PushImageOptionsBuilder;
use futures::StreamExt;

use super::{describe, DockerEngine};
use crate::engine::EngineError;
use crate::reference::Reference;

impl DockerEngine {
    /// Pushes the tag `reference` through the engine, with the credentials
    /// golden has for its registry; the digest the engine reported.
    pub(super) async fn push_tag(&self, reference: &Reference) -> Result<String, EngineError> {
        let tag = reference.tag().unwrap_or("latest").to_string();
        let repository = reference.repository();
        let failed = |message: String| EngineError::PushFailed {
            reference: reference.to_string(),
            message,
        };
        let options = PushImageOptionsBuilder::new().tag(&tag).build();
        let credentials = self.docker_credentials(reference.registry());
        let mut stream = self
            .docker
            .push_image(&repository, Some(options), credentials);
        let mut digest = None;
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| failed(describe(&e)))?;
            if let Some(detail) = info.error_detail {
                return Err(failed(detail.message.unwrap_or_default()));
            }
            if let Some(status) = info.status {
                tracing::debug!(target: "golden::push", reference = %reference, "{status}");
                if let Some(found) = digest_in_status(&status) {
                    digest = Some(found);
                }
            }
        }
        digest.ok_or_else(|| failed("the engine reported no digest".to_string()))
    }
}

/// The digest in a push status such as `1.0.0: digest: sha256:ab… size: 527`.
fn digest_in_status(status: &str) -> Option<String> {
    let after = status.split("digest: ").nth(1)?;
    let digest = after.split_whitespace().next()?;
    crate::reference::validate_digest(digest).ok()?;
    Some(digest.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_status_digest_is_read() {
        let digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        assert_eq!(
            digest_in_status(&format!("1.0.0: digest: {digest} size: 527")),
            Some(digest.to_string())
        );
        assert_eq!(digest_in_status("Pushed"), None);
        assert_eq!(digest_in_status("x: digest: sha256:zz size: 1"), None);
    }
}
