//! Artifacts attached to a build (its SBOMs, its scanner's report) as the
//! OCI distribution spec 1.1 has them: an image manifest with an
//! `artifactType`, the empty config, the document as its one layer and a
//! `subject` naming the build. A registry with the referrers API indexes
//! it itself (it answers the PUT with `OCI-Subject`); on one without
//! (distribution 2.8 and 3.x), golden keeps the tag-schema fallback: an
//! index tagged `sha256-<hex of the subject>` listing every artifact
//! that refers to it, which oras and cosign read there too.
//!
//! Attaching is idempotent: an artifact of the same type (and platform)
//! already attached to the subject is kept, not duplicated, so a run that
//! resumes a build attaches nothing twice.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::index::{OCI_INDEX, OCI_MANIFEST};
use crate::name::{Digest, Repository, Tag};
use crate::registry::{Registry, RegistryError};

/// The annotation golden puts on every artifact it attaches (the image's
/// id in golden.toml): only golden's own count as attached by golden.
pub const IMAGE_ANNOTATION: &str = "dev.golden.image";

/// The empty config of an artifact manifest, and its media type.
pub const EMPTY_JSON: &[u8] = b"{}";
pub const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
/// How many times the fallback index is written again when another
/// writer's update replaced this one's.
const FALLBACK_ATTEMPTS: usize = 3;

/// The manifest an artifact refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
}

/// A document to attach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    /// Its `artifactType` (and its layer's media type).
    pub artifact_type: String,
    pub bytes: Vec<u8>,
    /// Annotations of the manifest and of its entry in the fallback index.
    pub annotations: BTreeMap<String, String>,
}

/// One artifact that refers to a subject, as an index lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Referrer {
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
    pub artifact_type: Option<String>,
    pub annotations: BTreeMap<String, String>,
}

impl Referrer {
    /// Whether it is `artifact`'s kind: the same type and annotations.
    fn matches(&self, artifact: &Artifact) -> bool {
        self.artifact_type.as_deref() == Some(artifact.artifact_type.as_str())
            && artifact
                .annotations
                .iter()
                .all(|(key, value)| self.annotations.get(key) == Some(value))
    }
}

/// The fallback tag of the referrers of `digest`: `sha256-<hex>`.
pub fn fallback_tag(digest: &Digest) -> Tag {
    Tag::from_valid(digest.to_string().replacen(':', "-", 1))
}

/// The manifest of `artifact` (its layer `layer`, pushed) referring to
/// `subject`.
pub fn manifest(artifact: &Artifact, layer: &Digest, subject: &Subject) -> Vec<u8> {
    let mut document = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": artifact.artifact_type,
        "config": {
            "mediaType": EMPTY_MEDIA_TYPE,
            "digest": Digest::of(EMPTY_JSON).to_string(),
            "size": EMPTY_JSON.len(),
            "data": "e30=",
        },
        "layers": [{
            "mediaType": artifact.artifact_type,
            "digest": layer.to_string(),
            "size": artifact.bytes.len(),
        }],
        "subject": {
            "mediaType": subject.media_type,
            "digest": subject.digest.to_string(),
            "size": subject.size,
        },
    });
    if !artifact.annotations.is_empty() {
        document["annotations"] = json!(artifact.annotations);
    }
    serde_json::to_vec(&document).expect("a JSON value")
}

/// The referrers an index lists (the referrers API's answer or the
/// fallback tag's index); `Err` when `bytes` is not an index.
pub fn listed(bytes: &[u8]) -> Result<Vec<Referrer>, String> {
    let document: Value =
        serde_json::from_slice(bytes).map_err(|error| format!("not JSON: {error}"))?;
    let manifests = document
        .get("manifests")
        .and_then(Value::as_array)
        .ok_or("not an image index (no `manifests`)")?;
    Ok(manifests.iter().filter_map(referrer).collect())
}

fn referrer(entry: &Value) -> Option<Referrer> {
    let text = |key: &str| entry.get(key).and_then(Value::as_str).map(str::to_string);
    Some(Referrer {
        digest: Digest::parse(&text("digest")?).ok()?,
        media_type: text("mediaType").unwrap_or_default(),
        size: entry.get("size").and_then(Value::as_u64).unwrap_or(0),
        artifact_type: text("artifactType"),
        annotations: entry
            .get("annotations")
            .and_then(|annotations| serde_json::from_value(annotations.clone()).ok())
            .unwrap_or_default(),
    })
}

/// The fallback index `existing` (if any) with `entry` added; `None`
/// when it already lists it.
pub fn with_referrer(existing: Option<&[u8]>, entry: &Referrer) -> Result<Option<Vec<u8>>, String> {
    let mut document = match existing {
        Some(bytes) => {
            let document: Value =
                serde_json::from_slice(bytes).map_err(|error| format!("not JSON: {error}"))?;
            if document
                .get("manifests")
                .and_then(Value::as_array)
                .is_none()
            {
                return Err("it is not an image index".to_string());
            }
            document
        }
        None => json!({ "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [] }),
    };
    if listed(&serde_json::to_vec(&document).expect("JSON"))?
        .iter()
        .any(|listed| listed.digest == entry.digest)
    {
        return Ok(None);
    }
    let mut descriptor = json!({
        "mediaType": entry.media_type,
        "digest": entry.digest.to_string(),
        "size": entry.size,
    });
    if let Some(artifact_type) = &entry.artifact_type {
        descriptor["artifactType"] = json!(artifact_type);
    }
    if !entry.annotations.is_empty() {
        descriptor["annotations"] = json!(entry.annotations);
    }
    document["manifests"]
        .as_array_mut()
        .expect("checked above")
        .push(descriptor);
    Ok(Some(serde_json::to_vec(&document).expect("a JSON value")))
}

fn invalid(repository: &Repository, action: String, message: String) -> RegistryError {
    RegistryError::Invalid {
        registry: repository.registry().to_string(),
        action,
        message,
    }
}

/// Every artifact that refers to `subject` in `repository`: the
/// referrers API's answer, else the fallback tag's index (none when
/// neither exists).
pub async fn list(
    registry: &dyn Registry,
    repository: &Repository,
    subject: &Digest,
) -> Result<Vec<Referrer>, RegistryError> {
    Ok(read(registry, repository, subject).await?.0)
}

/// What refers to `subject`, and the fallback index as read (`None`
/// inside when the registry answered from its referrers API or the tag
/// does not exist).
async fn read(
    registry: &dyn Registry,
    repository: &Repository,
    subject: &Digest,
) -> Result<(Vec<Referrer>, Fallback), RegistryError> {
    let action = || format!("read the artifacts attached to {subject} in `{repository}`");
    let (bytes, fallback) = match registry.referrers_api(repository, subject).await? {
        Some(bytes) => (Some(bytes), Fallback::Unused),
        None => {
            let tag = repository.tag(&fallback_tag(subject));
            let bytes = registry.manifest_bytes(&tag).await?;
            (bytes.clone(), Fallback::Read(bytes))
        }
    };
    let referrers = match bytes {
        None => Vec::new(),
        Some(bytes) => listed(&bytes).map_err(|message| invalid(repository, action(), message))?,
    };
    Ok((referrers, fallback))
}

/// The fallback index as [`read`] found it.
enum Fallback {
    /// The registry has the referrers API.
    Unused,
    /// The tag's index (`None`: the tag does not exist yet).
    Read(Option<Vec<u8>>),
}

/// What [`attach`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attached {
    /// The artifact manifest's digest.
    pub digest: Digest,
    /// It was attached before (this run attached nothing).
    pub existed: bool,
    /// The fallback tag golden keeps, when the registry has no referrers
    /// API.
    pub fallback: Option<Tag>,
}

/// Attaches `artifact` to `subject` in `repository`, unless an artifact of
/// its kind is already attached.
pub async fn attach(
    registry: &dyn Registry,
    repository: &Repository,
    subject: &Subject,
    artifact: &Artifact,
) -> Result<Attached, RegistryError> {
    let (attached, fallback) = read(registry, repository, &subject.digest).await?;
    if let Some(found) = attached
        .into_iter()
        .find(|referrer| referrer.matches(artifact))
    {
        return Ok(Attached {
            digest: found.digest,
            existed: true,
            fallback: None,
        });
    }
    registry.put_blob(repository, EMPTY_JSON.to_vec()).await?;
    let layer = registry
        .put_blob(repository, artifact.bytes.clone())
        .await?;
    let manifest = manifest(artifact, &layer, subject);
    let size = manifest.len() as u64;
    let (digest, indexed) = registry
        .put_manifest_by_digest(repository, OCI_MANIFEST, manifest)
        .await?;
    if indexed {
        return Ok(Attached {
            digest,
            existed: false,
            fallback: None,
        });
    }
    let entry = Referrer {
        digest: digest.clone(),
        media_type: OCI_MANIFEST.to_string(),
        size,
        artifact_type: Some(artifact.artifact_type.clone()),
        annotations: artifact.annotations.clone(),
    };
    let tag = fallback_tag(&subject.digest);
    let read = match fallback {
        Fallback::Read(existing) => Some(existing),
        Fallback::Unused => None,
    };
    keep_fallback(registry, repository, &tag, &entry, read).await?;
    Ok(Attached {
        digest,
        existed: false,
        fallback: Some(tag),
    })
}

/// Adds `entry` to the fallback index `tag` (as `read` just before, when
/// it was), read again after the write: the registry has no
/// compare-and-set, so another writer's index may have replaced this
/// one's; then it is written again.
async fn keep_fallback(
    registry: &dyn Registry,
    repository: &Repository,
    tag: &Tag,
    entry: &Referrer,
    mut read: Option<Option<Vec<u8>>>,
) -> Result<(), RegistryError> {
    let reference = repository.tag(tag);
    let action = || format!("add {} to the fallback index `{reference}`", entry.digest);
    for _ in 0..FALLBACK_ATTEMPTS {
        let existing = match read.take() {
            Some(existing) => existing,
            None => registry.manifest_bytes(&reference).await?,
        };
        let Some(updated) = with_referrer(existing.as_deref(), entry)
            .map_err(|message| invalid(repository, action(), message))?
        else {
            return Ok(());
        };
        registry
            .put_manifest_bytes(repository, tag, OCI_INDEX, updated)
            .await?;
    }
    let existing = registry.manifest_bytes(&reference).await?;
    match with_referrer(existing.as_deref(), entry) {
        Ok(None) => Ok(()),
        _ => Err(invalid(
            repository,
            action(),
            "other writers replaced the index each time it was written".to_string(),
        )),
    }
}

/// The document an artifact manifest `referrer` holds (its first layer).
pub async fn document(
    registry: &dyn Registry,
    repository: &Repository,
    referrer: &Digest,
) -> Result<Vec<u8>, RegistryError> {
    let action = || format!("read the artifact {referrer} of `{repository}`");
    let manifest = registry
        .manifest_bytes(&repository.digest(referrer))
        .await?
        .ok_or_else(|| {
            invalid(
                repository,
                action(),
                "it is not in the registry".to_string(),
            )
        })?;
    let layer = serde_json::from_slice::<Value>(&manifest)
        .ok()
        .and_then(|manifest| {
            manifest["layers"][0]["digest"]
                .as_str()
                .and_then(|digest| Digest::parse(digest).ok())
        })
        .ok_or_else(|| {
            invalid(
                repository,
                action(),
                "its manifest has no layer".to_string(),
            )
        })?;
    registry.blob(repository, &layer).await
}

#[cfg(test)]
mod tests;
