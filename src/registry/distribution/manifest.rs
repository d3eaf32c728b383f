//! Manifests as the distribution API serves them: the bytes exactly as
//! stored (a tag move PUTs them back unchanged), their media type and the
//! digest they hash to, and typed views of the three documents golden reads
//! (image manifest, image index or manifest list, image config). Pure: no
//! I/O.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::name::Digest;

/// One manifest, verified: `digest` is what `bytes` hash to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The body exactly as the registry stored it.
    pub bytes: Vec<u8>,
    /// The `Content-Type` it was served with.
    pub media_type: String,
    pub digest: Digest,
}

/// A content descriptor: a manifest of an index, a config or a layer.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Descriptor {
    /// As written; junk is kept as text and refused where it is used.
    pub digest: Option<String>,
    pub size: Option<u64>,
    pub platform: Option<Platform>,
}

impl Descriptor {
    /// The descriptor's digest when it is a valid one.
    pub fn valid_digest(&self) -> Option<Digest> {
        Digest::parse(self.digest.as_deref()?).ok()
    }
}

/// The platform an index entry is for.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Platform {
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub architecture: String,
}

/// Any manifest document: an image manifest has `config` and `layers`, an
/// index (or manifest list) has `manifests`.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Document {
    pub config: Option<Descriptor>,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    pub manifests: Option<Vec<Descriptor>>,
}

impl Document {
    pub fn parse(bytes: &[u8]) -> Result<Document, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// For an index or manifest list, the entry of the linux/amd64 manifest
    /// (else the first); `None` for a single-platform manifest.
    pub fn platform_manifest(&self) -> Option<&Descriptor> {
        let entries = self.manifests.as_ref()?;
        entries
            .iter()
            .find(|entry| {
                entry
                    .platform
                    .as_ref()
                    .is_some_and(|p| p.os == "linux" && p.architecture == "amd64")
            })
            .or_else(|| entries.first())
    }

    /// The valid digests of an index's manifests; none for an image manifest.
    pub fn children(&self) -> Vec<Digest> {
        self.manifests
            .iter()
            .flatten()
            .filter_map(Descriptor::valid_digest)
            .collect()
    }

    /// Bytes of the config and layers, as stored (compressed).
    pub fn size(&self) -> u64 {
        let layers: u64 = self.layers.iter().filter_map(|layer| layer.size).sum();
        layers + self.config.as_ref().and_then(|c| c.size).unwrap_or(0)
    }
}

/// The parts of an image config golden reads.
#[derive(Debug, Deserialize)]
pub(super) struct ConfigBlob {
    pub created: Option<String>,
    pub config: Option<ContainerConfig>,
    #[serde(default)]
    pub history: Vec<History>,
}

/// One step of an image's history; those without `empty_layer` made a
/// layer, in order.
#[derive(Debug, Deserialize)]
pub(super) struct History {
    pub created_by: Option<String>,
    #[serde(default)]
    pub empty_layer: bool,
}

impl Document {
    /// The image's layers, each with the step that made it when the
    /// config's history has one step per layer (else none is named).
    pub fn layers(&self, history: &[History]) -> Vec<golden_core::registry::Layer> {
        let steps: Vec<&History> = history.iter().filter(|step| !step.empty_layer).collect();
        let aligned = steps.len() == self.layers.len();
        self.layers
            .iter()
            .enumerate()
            .map(|(index, layer)| golden_core::registry::Layer {
                digest: layer.digest.clone().unwrap_or_default(),
                size: layer.size.unwrap_or(0),
                created_by: aligned.then(|| steps[index].created_by.clone()).flatten(),
            })
            .collect()
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct ContainerConfig {
    #[serde(rename = "Labels")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(rename = "OnBuild")]
    pub on_build: Option<Vec<String>>,
    #[serde(rename = "Env")]
    pub env: Option<Vec<String>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_pick_linux_amd64_else_the_first() {
        let index = Document::parse(
            br#"{"manifests": [
            {"digest": "sha256:arm", "platform": {"os": "linux", "architecture": "arm64"}},
            {"digest": "sha256:amd", "platform": {"os": "linux", "architecture": "amd64"}}
        ]}"#,
        )
        .unwrap();
        let chosen = index.platform_manifest().and_then(|d| d.digest.as_deref());
        assert_eq!(chosen, Some("sha256:amd"));
        let other = Document::parse(br#"{"manifests": [{"digest": "sha256:arm"}]}"#).unwrap();
        let chosen = other.platform_manifest().and_then(|d| d.digest.as_deref());
        assert_eq!(chosen, Some("sha256:arm"));
        let image = Document::parse(br#"{"config": {}}"#).unwrap();
        assert!(image.platform_manifest().is_none());
    }

    #[test]
    fn sizes_add_the_config_and_layers_and_children_are_valid_digests() {
        let digest = format!("sha256:{}", "a".repeat(64));
        let image = Document::parse(
            format!(
                r#"{{"config": {{"size": 2, "digest": "{digest}"}}, "layers": [{{"size": 10}}, {{"size": 30}}]}}"#
            )
            .as_bytes(),
        )
        .unwrap();
        assert_eq!(image.size(), 42);
        assert_eq!(
            image.config.unwrap().valid_digest().unwrap().as_str(),
            digest
        );
        let index = Document::parse(
            format!(r#"{{"manifests": [{{"digest": "{digest}"}}, {{"digest": "sha256:../x"}}]}}"#)
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(index.children().len(), 1);
        assert!(Document::parse(b"\x00binary").is_err());
    }
}
