//! The registry as golden uses it (the port): list a repository's tags,
//! resolve a tag to its manifest digest, read an image's config labels,
//! point a tag at an existing manifest, and delete a manifest. The HTTP
//! adapter for the distribution API lives in the binary
//! (`registry::distribution`); an in-memory fake in `testing`.

use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::index::{Index, NewIndex};
use crate::name::{Digest, Repository, Tag};
use crate::reference::Reference;

/// A manifest as an index lists it: its media type, digest and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestInfo {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
}

/// What golden reads back from an image's config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageConfig {
    /// The manifest digest the config was reached from.
    pub digest: Digest,
    pub labels: BTreeMap<String, String>,
    /// The config's `created`, as written.
    pub created: Option<String>,
    /// Bytes of the config and layers (compressed, as stored).
    pub size: u64,
    /// The `ONBUILD` triggers a build FROM the image runs first.
    pub on_build: Vec<String>,
    /// The config's `Env`, `NAME=value` each.
    pub env: Vec<String>,
    /// The image's layers, bottom first (for an index, those of the image
    /// its config was read from).
    pub layers: Vec<Layer>,
}

/// One layer of an image, as its manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Layer {
    /// Its digest (of the compressed blob, as stored).
    pub digest: String,
    /// Its size, as stored.
    pub size: u64,
    /// The step that made it (the config's `history`), when the history
    /// lines up with the layers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
}

impl ImageConfig {
    /// A config reached from `digest` with no labels, no creation time and
    /// no size.
    pub fn empty(digest: Digest) -> ImageConfig {
        ImageConfig {
            digest,
            labels: BTreeMap::new(),
            created: None,
            size: 0,
            on_build: Vec::new(),
            env: Vec::new(),
            layers: Vec::new(),
        }
    }

    /// A label's value; an empty one (golden writes those to hide a
    /// parent's value) counts as unset.
    pub fn label(&self, key: &str) -> Option<String> {
        self.labels
            .get(key)
            .cloned()
            .filter(|value| !value.is_empty())
    }

    /// The value of the config's `Env` entry `name`, if it sets one.
    pub fn env_value(&self, name: &str) -> Option<String> {
        env_value(&self.env, name)
    }

    /// When the image was made: golden's `created` label, else the config's.
    pub fn created(&self) -> Option<String> {
        self.label(crate::labels::CREATED)
            .or_else(|| self.created.clone())
    }
}

/// The value `name` has in `env` (`NAME=value` entries, as an image
/// config's `Env` holds them; the last one wins, as in the engine).
pub fn env_value(env: &[String], name: &str) -> Option<String> {
    env.iter()
        .rev()
        .filter_map(|entry| entry.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_string())
}

pub use crate::hint::READ_ONLY_HINT;

/// Why a registry request failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("cannot reach registry `{registry}`: {message}")]
    Unreachable { registry: String, message: String },
    /// The TLS handshake failed: never retried as plain HTTP.
    #[error("cannot connect to registry `{registry}` over TLS: {message}")]
    Tls { registry: String, message: String },
    #[error("registry `{registry}` refused to {action}: HTTP {status}{}", detail_text(.detail))]
    Status {
        registry: String,
        action: String,
        status: u16,
        detail: String,
    },
    /// A 5xx answer on every try: the registry is there but failing.
    #[error("registry `{registry}` answered HTTP {status} when asked to {action}{}", detail_text(.detail))]
    ServerError {
        registry: String,
        action: String,
        status: u16,
        detail: String,
    },
    /// A write or delete refused because the registry only serves reads
    /// (distribution's `storage.maintenance.readonly`).
    #[error("registry `{registry}` refused to {action}: HTTP {status} (it is read-only: it allows {allowed})")]
    ReadOnly {
        registry: String,
        action: String,
        status: u16,
        allowed: String,
    },
    /// The registry (or its token server) refused the credentials golden
    /// sent: said once per registry, which golden then stops asking.
    #[error("registry `{registry}` refused the credentials of user `{user}` from {from}")]
    CredentialsRefused {
        registry: String,
        user: String,
        /// Where they came from (`GOLDEN_REGISTRY_USERNAME and ...`).
        from: String,
        /// What to do about it, for that source.
        fix: String,
    },
    #[error("registry `{registry}` sent an invalid answer to {action}: {message}")]
    Invalid {
        registry: String,
        action: String,
        message: String,
    },
}

fn detail_text(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(" ({detail})")
    }
}

impl crate::hint::Hint for RegistryError {
    /// What the user can do about it, when golden knows.
    fn hint(&self) -> Option<std::borrow::Cow<'_, str>> {
        let hint = match self {
            RegistryError::Unreachable { registry, message } => {
                if message.contains("certificate") || message.contains("tls") || message.contains("TLS") {
                    Some(format!(
                        "if `{registry}` speaks plain HTTP, set `insecure = true` in [registry] (and add it to the engine's insecure-registries)"
                    ))
                } else {
                    Some(format!("is the registry at `{registry}` running and reachable from this machine?"))
                }
            }
            RegistryError::Tls { registry, message } if message.contains("client certificate") => Some(format!(
                "put the client certificate and key the registry accepts in `/etc/docker/certs.d/{registry}/client.cert` and `client.key`"
            )),
            RegistryError::Tls { registry, .. } => Some(format!(
                "trust the registry's CA (or its self-signed certificate): put it in `/etc/docker/certs.d/{registry}/ca.crt` (the engine reads it too) or name it in `ca_file` in [registry]; to skip verification, set `insecure = true` (and add it to the engine's insecure-registries)"
            )),
            RegistryError::Status { registry, status: 401, detail, .. } if detail.starts_with("insufficient_scope") => Some(format!(
                "these credentials are valid but lack that permission on `{registry}`: ask its administrator to grant it (push for tag moves, delete for prune), or run golden with credentials that have it (GOLDEN_REGISTRY_USERNAME and GOLDEN_REGISTRY_PASSWORD, or `docker login {registry}` as that user)"
            )),
            RegistryError::Status { registry, status: 401, .. } => Some(format!("log in to the registry: `docker login {registry}`")),
            RegistryError::Status { status: 403, .. } => Some("the credentials in use may not access this repository".to_string()),
            RegistryError::ServerError { registry, .. } => Some(format!(
                "the registry itself is failing, and went on failing when retried: look at the log of `{registry}` (a full disk or broken storage answers this way)"
            )),
            RegistryError::ReadOnly { .. } => Some(READ_ONLY_HINT.to_string()),
            RegistryError::CredentialsRefused { fix, .. } => Some(fix.clone()),
            RegistryError::Status { status: 405, action, .. } if action.starts_with("delete") => {
                Some("the registry has deletes disabled: set `storage.delete.enabled: true` in its config".to_string())
            }
            RegistryError::Status { registry, action, detail, .. } if action.starts_with("delete") && detail.starts_with("UNSUPPORTED") => Some(format!(
                "`{registry}` does not delete manifests through the registry API (DELETE /v2/<name>/manifests/<digest>): delete old builds with the registry's own API or retention policy; `golden prune` without --apply lists them, and `golden rollback` needs no deletes"
            )),
            _ => None,
        };
        hint.map(std::borrow::Cow::Owned)
    }
}

impl RegistryError {
    /// Whether the registry could not be reached at all.
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            RegistryError::Unreachable { .. } | RegistryError::Tls { .. }
        )
    }
}

/// The registry operations golden needs.
#[async_trait]
pub trait Registry: Send + Sync {
    /// Whether the registry of `repository` answers at all.
    async fn check(&self, repository: &Repository) -> Result<(), RegistryError>;
    /// Every tag of `repository`; empty when the repository does not exist yet.
    async fn tags(&self, repository: &Repository) -> Result<Vec<String>, RegistryError>;
    /// The manifest digest `reference` resolves to, `None` when it does not exist.
    async fn manifest_digest(&self, reference: &Reference)
        -> Result<Option<Digest>, RegistryError>;
    /// The labels and creation time of the image `reference` names.
    async fn image_config(&self, reference: &Reference) -> Result<ImageConfig, RegistryError>;
    /// The manifests an image index (or manifest list) `reference` names;
    /// empty for an image manifest.
    async fn index_children(&self, reference: &Reference) -> Result<Vec<Digest>, RegistryError>;
    /// The index (or manifest list) `reference` names; `None` when it does
    /// not exist or is a single image manifest.
    async fn index(&self, reference: &Reference) -> Result<Option<Index>, RegistryError>;
    /// The media type, digest and size of the manifest `reference` names.
    async fn manifest_info(
        &self,
        reference: &Reference,
    ) -> Result<Option<ManifestInfo>, RegistryError>;
    /// PUTs `index` (whose children are already in `repository`) as `tag`.
    async fn put_index(
        &self,
        repository: &Repository,
        tag: &Tag,
        index: &NewIndex,
    ) -> Result<Digest, RegistryError>;
    /// Points `tag` of `repository` at the manifest `digest` already in it,
    /// without moving any layer.
    async fn copy_tag(
        &self,
        repository: &Repository,
        digest: &Digest,
        tag: &Tag,
    ) -> Result<(), RegistryError>;
    /// Deletes the manifest `digest` of `repository`, and with it every tag
    /// that points at it. Needs a registry with deletes enabled.
    async fn delete_manifest(
        &self,
        repository: &Repository,
        digest: &Digest,
    ) -> Result<(), RegistryError>;

    // Artifacts beside a build (signatures): blobs and manifests golden
    // writes and reads whole. A port that cannot says so.

    /// Uploads `bytes` as a blob of `repository`; its digest.
    async fn put_blob(
        &self,
        repository: &Repository,
        bytes: Vec<u8>,
    ) -> Result<Digest, RegistryError> {
        let _ = bytes;
        Err(unsupported(repository, "upload a blob"))
    }
    /// PUTs the manifest `bytes` (of `media_type`) as `tag`; its digest.
    async fn put_manifest_bytes(
        &self,
        repository: &Repository,
        tag: &Tag,
        media_type: &str,
        bytes: Vec<u8>,
    ) -> Result<Digest, RegistryError> {
        let _ = (tag, media_type, bytes);
        Err(unsupported(repository, "put a manifest"))
    }
    /// The blob `digest` of `repository` (at most a small document's
    /// size), checked against its digest.
    async fn blob(
        &self,
        repository: &Repository,
        digest: &Digest,
    ) -> Result<Vec<u8>, RegistryError> {
        let _ = digest;
        Err(unsupported(repository, "read a blob"))
    }
    /// PUTs the manifest `bytes` (of `media_type`) by its digest, as an
    /// artifact naming a `subject` is pushed: its digest, and whether the
    /// registry indexed the subject itself (it answered `OCI-Subject`, so
    /// it keeps the referrers API and no fallback tag is needed).
    async fn put_manifest_by_digest(
        &self,
        repository: &Repository,
        media_type: &str,
        bytes: Vec<u8>,
    ) -> Result<(Digest, bool), RegistryError> {
        let _ = (media_type, bytes);
        Err(unsupported(repository, "put a manifest"))
    }
    /// The referrers API's index of the artifacts that refer to `digest`;
    /// `None` when the registry has no referrers API.
    async fn referrers_api(
        &self,
        repository: &Repository,
        digest: &Digest,
    ) -> Result<Option<Vec<u8>>, RegistryError> {
        let _ = (repository, digest);
        Ok(None)
    }
    /// What the layer blob `digest` of `repository` holds for an SBOM
    /// (see [`crate::sbom::layers`]), read as it streams and checked
    /// against its digest.
    async fn layer_facts(
        &self,
        repository: &Repository,
        digest: &Digest,
    ) -> Result<crate::sbom::LayerFacts, RegistryError> {
        let _ = digest;
        Err(unsupported(repository, "read a layer"))
    }
    /// The manifest `reference` names, as stored; `None` when it is not
    /// there.
    async fn manifest_bytes(
        &self,
        reference: &Reference,
    ) -> Result<Option<Vec<u8>>, RegistryError> {
        Err(RegistryError::Invalid {
            registry: reference.registry().to_string(),
            action: "read a manifest".into(),
            message: "this registry client cannot".into(),
        })
    }
}

fn unsupported(repository: &Repository, action: &str) -> RegistryError {
    RegistryError::Invalid {
        registry: repository.registry().to_string(),
        action: action.into(),
        message: "this registry client cannot".into(),
    }
}

/// What a client remembers of a registry's tags between runs (the disk
/// cache), beside the protocol: a repository's tag list, and the manifest
/// each exact tag named (immutable by contract). Each answer is a hint:
/// the caller trusts it only where this run's own answers confirm it, and
/// else forgets it and asks the registry (see `observe`).
pub trait TagMemory: Send + Sync {
    /// The tag list of `repository` an earlier run remembered; `None` when
    /// nothing is remembered. It misses tags added or deleted since.
    fn remembered_tags(&self, repository: &Repository) -> Option<Vec<String>>;
    /// Remembers `tags` as the tag list of `repository` for later runs.
    fn remember_tags(&self, repository: &Repository, tags: &[String]);
    /// Forgets the tag list remembered for `repository`.
    fn forget_tags(&self, repository: &Repository);
    /// The manifest the exact tag `reference` named when an earlier run
    /// read it.
    fn remembered_exact(&self, reference: &Reference) -> Option<Digest>;
    /// Remembers that the exact tag `reference` names `digest`.
    fn remember_exact(&self, reference: &Reference, digest: &Digest);
    /// Forgets what was remembered about the exact tag `reference`.
    fn forget_exact(&self, reference: &Reference);
}

/// The config of the exact tag (`X.Y.N`) `reference`, and whether it was
/// answered from `memory` without asking the registry for the tag: from
/// a remembered manifest digest on, the reads are by digest (content
/// addressed; the client may answer them from its cache). A remembered
/// answer may be stale if someone pushed over the tag: the caller checks
/// it against what it asked the registry this run, and else calls
/// [`TagMemory::forget_exact`] and asks again.
pub async fn exact_config(
    registry: &dyn Registry,
    memory: &dyn TagMemory,
    reference: &Reference,
) -> Result<(ImageConfig, bool), RegistryError> {
    if let Some(digest) = memory.remembered_exact(reference) {
        match registry.image_config(&reference.with_digest(&digest)).await {
            Ok(config) if config.digest == digest => return Ok((config, true)),
            _ => memory.forget_exact(reference),
        }
    }
    let config = registry.image_config(reference).await?;
    memory.remember_exact(reference, &config.digest);
    Ok((config, false))
}
