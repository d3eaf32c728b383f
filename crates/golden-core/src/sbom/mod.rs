//! The software bill of materials of every golden build: CycloneDX 1.5
//! JSON, one per platform, made from the layers golden pushed (never by
//! running anything inside the image): OS packages from dpkg's status
//! (and distroless `status.d`) and apk's installed database, the .NET
//! runtimes and SDKs under the dotnet roots, the OS, the upstream base
//! (reference and digest) and the build's own identity. Package
//! databases golden does not read (rpm) are named and make the document
//! say it is incomplete. It is attached beside the build as an OCI
//! artifact (see [`crate::referrers`]).
//!
//! Pure: layers' facts and identities are handed in.

pub mod document;
pub mod layers;
pub mod packages;

use std::collections::BTreeMap;

use serde::Serialize;

pub use document::{components, document, Entry, Identity};
pub use layers::{Filesystem, LayerFacts};

/// The artifact type (and layer media type) of a CycloneDX JSON SBOM.
pub const CYCLONEDX_JSON: &str = "application/vnd.cyclonedx+json";
/// The annotation naming the platform an SBOM attached to an index
/// describes.
pub const PLATFORM_ANNOTATION: &str = "dev.golden.platform";

/// How one package differs between two builds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// `library`, `framework`, ...
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    /// Its version in the older build; null when it was added.
    pub old: Option<String>,
    /// Its version in the newer build; null when it was removed.
    pub new: Option<String>,
}

/// The packages added, removed or changed from `old` to `new` (by type
/// and name), sorted by name.
pub fn changes(old: &[Entry], new: &[Entry]) -> Vec<Change> {
    let index = |entries: &[Entry]| -> BTreeMap<(String, String), Vec<String>> {
        let mut by_name: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
        for entry in entries.iter().filter(|entry| entry.kind != "container") {
            by_name
                .entry((entry.name.clone(), entry.kind.clone()))
                .or_default()
                .push(entry.version.clone());
        }
        by_name
    };
    let (old, new) = (index(old), index(new));
    let keys: std::collections::BTreeSet<_> = old.keys().chain(new.keys()).collect();
    keys.into_iter()
        .filter_map(|key| {
            let before = old.get(key).map(|versions| versions.join(", "));
            let after = new.get(key).map(|versions| versions.join(", "));
            (before != after).then(|| Change {
                kind: key.1.clone(),
                name: key.0.clone(),
                old: before,
                new: after,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, version: &str) -> Entry {
        Entry {
            kind: "library".into(),
            name: name.into(),
            version: version.into(),
            purl: None,
        }
    }

    #[test]
    fn changes_name_added_removed_and_changed_packages() {
        let old = [
            entry("libc6", "2.36-9"),
            entry("tzdata", "2024a"),
            entry("gone", "1"),
        ];
        let new = [
            entry("libc6", "2.36-10"),
            entry("tzdata", "2024a"),
            entry("curl", "8.0"),
        ];
        let found: Vec<_> = changes(&old, &new)
            .into_iter()
            .map(|change| (change.name, change.old, change.new))
            .collect();
        assert_eq!(
            found,
            [
                ("curl".to_string(), None, Some("8.0".to_string())),
                ("gone".to_string(), Some("1".to_string()), None),
                (
                    "libc6".to_string(),
                    Some("2.36-9".to_string()),
                    Some("2.36-10".to_string())
                ),
            ]
        );
    }
}
