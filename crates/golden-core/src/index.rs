//! Image indexes: the OCI image index and the Docker manifest list that
//! make one tag name an image per platform. Reading one picks a platform's
//! manifest (as a base is pinned per platform); writing one makes the
//! document golden PUTs as a multi-platform tag, its media type following
//! its children and golden's facts in its annotations.
//!
//! Pure: bytes in, bytes out; no registry, no HTTP.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::platform::Platform;

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// The annotation BuildKit sets on the attestation entries of an index.
const REFERENCE_TYPE: &str = "vnd.docker.reference.type";

/// Which of the two index formats a document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexFormat {
    Oci,
    Docker,
}

impl IndexFormat {
    pub fn media_type(self) -> &'static str {
        match self {
            IndexFormat::Oci => OCI_INDEX,
            IndexFormat::Docker => DOCKER_MANIFEST_LIST,
        }
    }

    /// The image manifest media type of this format's children.
    pub fn child_media_type(self) -> &'static str {
        match self {
            IndexFormat::Oci => OCI_MANIFEST,
            IndexFormat::Docker => DOCKER_MANIFEST,
        }
    }

    fn of_index(media_type: &str) -> Option<Self> {
        match media_type {
            OCI_INDEX => Some(IndexFormat::Oci),
            DOCKER_MANIFEST_LIST => Some(IndexFormat::Docker),
            _ => None,
        }
    }

    fn of_child(media_type: &str) -> Option<Self> {
        match media_type {
            OCI_MANIFEST => Some(IndexFormat::Oci),
            DOCKER_MANIFEST => Some(IndexFormat::Docker),
            _ => None,
        }
    }
}

/// Why an index could not be read, searched or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndexError {
    #[error("the manifest is not valid JSON: {0}")]
    NotJson(String),
    #[error("the manifest is a single-platform image, not an index")]
    NotAnIndex,
    #[error("the index has schemaVersion {0}; only 2 is known")]
    UnknownSchema(u64),
    #[error("the index is `{body}` but the registry served it as `{served}`")]
    MediaTypeMismatch { body: String, served: String },
    #[error("no {wanted} image in the index (it has {})", list_or_none(available))]
    PlatformMissing {
        wanted: Platform,
        available: Vec<Platform>,
    },
    #[error("an index needs at least one child")]
    NoChildren,
    #[error("child {digest} is a `{media_type}`, not an image manifest")]
    UnsupportedChild { digest: String, media_type: String },
    #[error("the children mix OCI and Docker manifests ({oci} and {docker})")]
    MixedChildren { oci: String, docker: String },
    #[error("two children are {0}")]
    DuplicatePlatform(Platform),
}

impl crate::hint::Hint for IndexError {
    /// How to fix it, where golden knows.
    fn hint(&self) -> Option<std::borrow::Cow<'_, str>> {
        let hint = match self {
            IndexError::PlatformMissing { wanted, .. } => Some(format!(
                "pick a base that is published for {wanted}, or remove {wanted} from `platforms`"
            )),
            IndexError::MixedChildren { .. } => Some(
                "every platform of an image must be built the same way; rebuild all of them".into(),
            ),
            _ => None,
        };
        hint.map(std::borrow::Cow::Owned)
    }
}

fn list_or_none(platforms: &[Platform]) -> String {
    if platforms.is_empty() {
        return "no platform golden knows".into();
    }
    let names: Vec<String> = platforms.iter().map(ToString::to_string).collect();
    names.join(", ")
}

/// One entry of an index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    /// `None` when the entry names no platform golden knows (an
    /// attestation's `unknown/unknown`, or no platform at all).
    pub platform: Option<Platform>,
    pub annotations: BTreeMap<String, String>,
}

impl Entry {
    pub fn is_image(&self) -> bool {
        IndexFormat::of_child(&self.media_type).is_some()
            && !self.annotations.contains_key(REFERENCE_TYPE)
    }
}

/// An index as read from a registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Index {
    pub format: IndexFormat,
    pub manifests: Vec<Entry>,
    pub annotations: BTreeMap<String, String>,
}

/// The document as JSON spells it.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Document {
    schema_version: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Option<Vec<Descriptor>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    annotations: BTreeMap<String, String>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    media_type: String,
    digest: String,
    size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    platform: Option<DescriptorPlatform>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    annotations: BTreeMap<String, String>,
}

#[derive(Serialize, Deserialize)]
struct DescriptorPlatform {
    architecture: String,
    os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    variant: Option<String>,
}

/// Reads `body` as an index; `served` is the registry's Content-Type, which
/// says the format when the body does not (an OCI index may omit it).
pub fn parse_index(body: &[u8], served: Option<&str>) -> Result<Index, IndexError> {
    let document: Document =
        serde_json::from_slice(body).map_err(|error| IndexError::NotJson(error.to_string()))?;
    let Some(manifests) = document.manifests else {
        return Err(IndexError::NotAnIndex);
    };
    if document.schema_version != 2 {
        return Err(IndexError::UnknownSchema(document.schema_version));
    }
    let served = served.map(|value| value.split(';').next().unwrap_or_default().trim());
    let format = match (document.media_type.as_deref(), served) {
        (Some(body), Some(served)) if body != served && IndexFormat::of_index(served).is_some() => {
            return Err(IndexError::MediaTypeMismatch {
                body: body.into(),
                served: served.into(),
            })
        }
        (Some(body), _) => IndexFormat::of_index(body).ok_or(IndexError::NotAnIndex)?,
        (None, Some(served)) => IndexFormat::of_index(served).unwrap_or(IndexFormat::Oci),
        (None, None) => IndexFormat::Oci,
    };
    let manifests = manifests
        .into_iter()
        .map(|descriptor| Entry {
            platform: descriptor.platform.as_ref().and_then(|platform| {
                Platform::from_descriptor(
                    &platform.os,
                    &platform.architecture,
                    platform.variant.as_deref(),
                )
            }),
            media_type: descriptor.media_type,
            digest: descriptor.digest,
            size: descriptor.size,
            annotations: descriptor.annotations,
        })
        .collect();
    Ok(Index {
        format,
        manifests,
        annotations: document.annotations,
    })
}

impl Index {
    /// The image manifest for `platform`: an exact match, else the best
    /// older variant of the same architecture (an `arm/v7` build may take an
    /// `arm/v6` base), the first in the index among equals. Attestations
    /// and nested indexes are never picked.
    pub fn select(&self, platform: &Platform) -> Result<&Entry, IndexError> {
        self.manifests
            .iter()
            .filter(|entry| entry.is_image())
            .filter_map(|entry| {
                let rank = platform.rank(entry.platform.as_ref()?)?;
                Some((rank, entry))
            })
            .min_by_key(|(rank, _)| *rank)
            .map(|(_, entry)| entry)
            .ok_or_else(|| IndexError::PlatformMissing {
                wanted: platform.clone(),
                available: self.platforms(),
            })
    }

    /// The platforms of the index's images, in index order, each once.
    pub fn platforms(&self) -> Vec<Platform> {
        let mut platforms: Vec<Platform> = Vec::new();
        for entry in self.manifests.iter().filter(|entry| entry.is_image()) {
            if let Some(platform) = &entry.platform {
                if !platforms.contains(platform) {
                    platforms.push(platform.clone());
                }
            }
        }
        platforms
    }
}

/// One platform's image, pushed by digest, to list in a new index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Child {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    pub platform: Platform,
}

/// An index ready to PUT: its bytes, Content-Type and digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewIndex {
    pub media_type: &'static str,
    pub body: Vec<u8>,
    /// `sha256:<hex>` of `body`, what the registry will answer.
    pub digest: String,
}

/// The index listing `children` in the order given, with `annotations`
/// (golden's facts, the same as the children's labels). OCI children make
/// an OCI image index, Docker schema 2 children a Docker manifest list; a
/// mix is refused, as clients expect one family. A manifest list has no
/// annotations in its schema: they are written all the same (registries
/// keep the bytes, clients skip unknown fields) so both formats carry the
/// same facts.
pub fn build_index(
    children: &[Child],
    annotations: &BTreeMap<String, String>,
) -> Result<NewIndex, IndexError> {
    let first = children.first().ok_or(IndexError::NoChildren)?;
    let format_of = |child: &Child| {
        IndexFormat::of_child(&child.media_type).ok_or_else(|| IndexError::UnsupportedChild {
            digest: child.digest.clone(),
            media_type: child.media_type.clone(),
        })
    };
    let format = format_of(first)?;
    let mut descriptors = Vec::with_capacity(children.len());
    for (position, child) in children.iter().enumerate() {
        if format_of(child)? != format {
            let (oci, docker) = match format {
                IndexFormat::Oci => (&first.digest, &child.digest),
                IndexFormat::Docker => (&child.digest, &first.digest),
            };
            return Err(IndexError::MixedChildren {
                oci: oci.clone(),
                docker: docker.clone(),
            });
        }
        if children[..position]
            .iter()
            .any(|earlier| earlier.platform == child.platform)
        {
            return Err(IndexError::DuplicatePlatform(child.platform.clone()));
        }
        descriptors.push(Descriptor {
            media_type: child.media_type.clone(),
            digest: child.digest.clone(),
            size: child.size,
            platform: Some(DescriptorPlatform {
                architecture: child.platform.architecture().into(),
                os: child.platform.os().into(),
                variant: child.platform.variant().map(str::to_string),
            }),
            annotations: BTreeMap::new(),
        });
    }
    let document = Document {
        schema_version: 2,
        media_type: Some(format.media_type().into()),
        manifests: Some(descriptors),
        annotations: annotations.clone(),
    };
    let body =
        serde_json::to_vec(&document).map_err(|error| IndexError::NotJson(error.to_string()))?;
    let digest = format!("sha256:{:x}", Sha256::digest(&body));
    Ok(NewIndex {
        media_type: format.media_type(),
        body,
        digest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hint::Hint;

    fn platform(text: &str) -> Platform {
        text.parse().unwrap()
    }

    fn entry(
        media_type: &str,
        digest: &str,
        platform: Option<(&str, &str, Option<&str>)>,
    ) -> serde_json::Value {
        let mut value = serde_json::json!({"mediaType": media_type, "digest": digest, "size": 500});
        if let Some((os, architecture, variant)) = platform {
            value["platform"] = serde_json::json!({"os": os, "architecture": architecture});
            if let Some(variant) = variant {
                value["platform"]["variant"] = variant.into();
            }
        }
        value
    }

    fn index(media_type: Option<&str>, entries: Vec<serde_json::Value>) -> Vec<u8> {
        let mut value = serde_json::json!({"schemaVersion": 2, "manifests": entries});
        if let Some(media_type) = media_type {
            value["mediaType"] = media_type.into();
        }
        serde_json::to_vec(&value).unwrap()
    }

    /// An index as BuildKit pushes one: images, attestations, variants.
    fn buildkit_index() -> Index {
        let attestation = {
            let mut value = entry(
                OCI_MANIFEST,
                "sha256:att-amd64",
                Some(("unknown", "unknown", None)),
            );
            value["annotations"] = serde_json::json!({
                "vnd.docker.reference.type": "attestation-manifest",
                "vnd.docker.reference.digest": "sha256:amd64"
            });
            value
        };
        let body = index(
            Some(OCI_INDEX),
            vec![
                entry(OCI_MANIFEST, "sha256:amd64", Some(("linux", "amd64", None))),
                entry(
                    OCI_MANIFEST,
                    "sha256:arm64",
                    Some(("linux", "arm64", Some("v8"))),
                ),
                entry(
                    OCI_MANIFEST,
                    "sha256:armv6",
                    Some(("linux", "arm", Some("v6"))),
                ),
                entry(
                    OCI_MANIFEST,
                    "sha256:s390x-second",
                    Some(("linux", "s390x", None)),
                ),
                attestation,
                entry(OCI_INDEX, "sha256:nested", Some(("linux", "ppc64le", None))),
                entry(
                    OCI_MANIFEST,
                    "sha256:windows",
                    Some(("windows", "amd64", None)),
                ),
            ],
        );
        parse_index(&body, Some(OCI_INDEX)).unwrap()
    }

    #[test]
    fn a_platform_picks_its_image_as_engines_do() {
        let index = buildkit_index();
        let pick = |text: &str| {
            index
                .select(&platform(text))
                .map(|entry| entry.digest.as_str())
        };
        let cases = [
            ("linux/amd64", "sha256:amd64"),
            ("linux/arm64", "sha256:arm64"),
            ("linux/arm64/v8", "sha256:arm64"),
            ("linux/arm/v7", "sha256:armv6"),
            ("linux/arm/v6", "sha256:armv6"),
            ("linux/s390x", "sha256:s390x-second"),
            ("windows/amd64", "sha256:windows"),
            ("linux/amd64/v3", "sha256:amd64"),
            ("linux/arm64/v8.2", "sha256:arm64"),
        ];
        for (wanted, expected) in cases {
            assert_eq!(pick(wanted), Ok(expected), "{wanted}");
        }
        for missing in ["linux/arm/v5", "linux/ppc64le", "linux/386"] {
            let error = index.select(&platform(missing)).unwrap_err();
            assert!(
                matches!(error, IndexError::PlatformMissing { .. }),
                "{missing}"
            );
        }
        assert_eq!(
            index.select(&platform("linux/386")).unwrap_err().to_string(),
            "no linux/386 image in the index (it has linux/amd64, linux/arm64, linux/arm/v6, linux/s390x, windows/amd64)"
        );
    }

    #[test]
    fn the_exact_variant_wins_over_an_older_one_and_the_first_among_equals() {
        let body = index(
            Some(DOCKER_MANIFEST_LIST),
            vec![
                entry(
                    DOCKER_MANIFEST,
                    "sha256:v5",
                    Some(("linux", "arm", Some("v5"))),
                ),
                entry(
                    DOCKER_MANIFEST,
                    "sha256:v7",
                    Some(("linux", "arm", Some("v7"))),
                ),
                entry(
                    DOCKER_MANIFEST,
                    "sha256:v7-again",
                    Some(("linux", "arm", Some("7"))),
                ),
                entry(
                    DOCKER_MANIFEST,
                    "sha256:aarch64",
                    Some(("linux", "aarch64", None)),
                ),
                entry(DOCKER_MANIFEST, "sha256:none", None),
            ],
        );
        let index = parse_index(&body, None).unwrap();
        assert_eq!(index.format, IndexFormat::Docker);
        let pick = |text: &str| index.select(&platform(text)).unwrap().digest.clone();
        assert_eq!(pick("linux/arm/v7"), "sha256:v7");
        assert_eq!(pick("linux/arm/v6"), "sha256:v5");
        assert_eq!(pick("linux/arm64"), "sha256:aarch64");
        assert_eq!(index.manifests[4].platform, None);
    }

    #[test]
    fn what_is_not_an_index_says_so() {
        let image = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]}"#;
        assert_eq!(
            parse_index(image, Some(OCI_MANIFEST)),
            Err(IndexError::NotAnIndex)
        );
        assert!(matches!(
            parse_index(b"<html>", None),
            Err(IndexError::NotJson(_))
        ));
        assert_eq!(
            parse_index(br#"{"schemaVersion":1,"manifests":[]}"#, None),
            Err(IndexError::UnknownSchema(1))
        );
        assert_eq!(
            parse_index(&index(Some(OCI_INDEX), vec![]), Some(DOCKER_MANIFEST_LIST)),
            Err(IndexError::MediaTypeMismatch {
                body: OCI_INDEX.into(),
                served: DOCKER_MANIFEST_LIST.into()
            })
        );
        let bare = index(None, vec![]);
        assert_eq!(
            parse_index(&bare, Some(DOCKER_MANIFEST_LIST))
                .unwrap()
                .format,
            IndexFormat::Docker
        );
        assert_eq!(
            parse_index(
                &bare,
                Some("application/vnd.oci.image.index.v1+json; charset=utf-8")
            )
            .unwrap()
            .format,
            IndexFormat::Oci
        );
        assert_eq!(parse_index(&bare, None).unwrap().format, IndexFormat::Oci);
    }

    fn child(media_type: &str, digest: &str, text: &str) -> Child {
        Child {
            media_type: media_type.into(),
            digest: digest.into(),
            size: 428,
            platform: platform(text),
        }
    }

    #[test]
    fn a_new_index_follows_its_children_and_reads_back() {
        let annotations = BTreeMap::from([
            (
                "org.opencontainers.image.version".to_string(),
                "1.0.3".to_string(),
            ),
            ("io.golden.recipe".to_string(), "sha256:abc".to_string()),
        ]);
        for (media_type, format) in [
            (OCI_MANIFEST, IndexFormat::Oci),
            (DOCKER_MANIFEST, IndexFormat::Docker),
        ] {
            let children = [
                child(media_type, "sha256:aa", "linux/amd64"),
                child(media_type, "sha256:bb", "linux/arm64"),
                child(media_type, "sha256:cc", "linux/arm/v7"),
            ];
            let new = build_index(&children, &annotations).unwrap();
            assert_eq!(new.media_type, format.media_type());
            assert_eq!(
                new.digest,
                format!("sha256:{:x}", Sha256::digest(&new.body))
            );
            let read = parse_index(&new.body, Some(new.media_type)).unwrap();
            assert_eq!(read.format, format);
            assert_eq!(read.annotations, annotations);
            assert_eq!(
                read.platforms(),
                children
                    .iter()
                    .map(|c| c.platform.clone())
                    .collect::<Vec<_>>()
            );
            assert_eq!(
                read.select(&platform("linux/arm64")).unwrap().digest,
                "sha256:bb"
            );
            assert_eq!(read.manifests[0].size, 428);
        }
        let docker = build_index(
            &[child(DOCKER_MANIFEST, "sha256:aa", "linux/arm64/v8")],
            &BTreeMap::new(),
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(docker.body).unwrap(),
            r#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"sha256:aa","size":428,"platform":{"architecture":"arm64","os":"linux"}}]}"#
        );
    }

    #[test]
    fn a_new_index_refuses_what_clients_would_misread() {
        let none = BTreeMap::new();
        assert_eq!(build_index(&[], &none), Err(IndexError::NoChildren));
        let mixed = [
            child(OCI_MANIFEST, "sha256:aa", "linux/amd64"),
            child(DOCKER_MANIFEST, "sha256:bb", "linux/arm64"),
        ];
        let error = build_index(&mixed, &none).unwrap_err();
        assert_eq!(
            error,
            IndexError::MixedChildren {
                oci: "sha256:aa".into(),
                docker: "sha256:bb".into()
            }
        );
        assert!(error.hint().is_some());
        let twice = [
            child(OCI_MANIFEST, "sha256:aa", "linux/arm64"),
            child(OCI_MANIFEST, "sha256:bb", "linux/arm64/v8"),
        ];
        assert_eq!(
            build_index(&twice, &none),
            Err(IndexError::DuplicatePlatform(platform("linux/arm64")))
        );
        let nested = [child(OCI_INDEX, "sha256:aa", "linux/amd64")];
        assert!(matches!(
            build_index(&nested, &none),
            Err(IndexError::UnsupportedChild { .. })
        ));
    }
}
