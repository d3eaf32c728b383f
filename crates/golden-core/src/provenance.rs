//! Which exact tags are golden builds. Any `X.Y.N` tag can appear in a
//! repository (pushed by hand, copied by another tool, retagged from an
//! older build), but only a build golden made may be released, promoted,
//! rolled back to or pruned: it carries golden's recipe label and its
//! version label equals its tag. Everything else is foreign: golden never
//! moves a floating tag onto it, never deletes it and never counts it
//! toward `keep`; the build number still skips past it, so no exact tag is
//! ever overwritten.
//!
//! A golden build is released (or rolled back to) only when it is whole
//! ([`completeness`]): every manifest its index names is in the
//! repository, and a multi-platform line's build is an index holding each
//! configured platform. A rollback marker counts only when golden wrote
//! it, as a copy of the build's manifest (observe's ledger reads them).
//!
//! [`provenance`] is pure; [`check_complete`] asks the registry port for
//! the manifests an index names. What reads and remembers a repository's
//! tags as a run goes (the ledger) is observe's.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::index::Index;
use crate::labels;
use crate::name::{Digest, Repository, Tag};
use crate::platform::Platform;
use crate::registry::{ImageConfig, Registry, RegistryError};
use crate::version::{Exact, Floating, Line};

/// Why an exact tag is not a golden build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Foreign {
    /// The image carries no golden recipe label.
    NoGoldenLabels,
    /// Golden built it as another version (a copy retagged).
    VersionMismatch { label: Option<String> },
    /// Golden built it, but it is not whole (see [`Incomplete`]): never a
    /// release or a rollback target.
    Incomplete { why: Incomplete },
}

impl std::fmt::Display for Foreign {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Foreign::NoGoldenLabels => write!(formatter, "it carries no golden labels"),
            Foreign::VersionMismatch { label: Some(label) } => {
                write!(formatter, "its version label says {label}")
            }
            Foreign::VersionMismatch { label: None } => {
                write!(formatter, "it has no version label")
            }
            Foreign::Incomplete { why } => write!(formatter, "it is incomplete: {why}"),
        }
    }
}

/// Why a build golden made is not a whole one. Only a whole build is ever
/// a release (where floating tags go) or a rollback target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Incomplete {
    /// A manifest its index names is not in the repository (deleted by
    /// hand): the tag is broken for that platform.
    MissingImage {
        digest: String,
        platform: Option<String>,
    },
    /// A single image under the exact tag of a line that publishes an
    /// index of `platforms`: one platform's image, left by a push that
    /// stopped before the index was written.
    NotAnIndex { platforms: Vec<String> },
    /// Its index holds no image for a platform the line is configured for.
    MissingPlatform { platform: String },
}

impl std::fmt::Display for Incomplete {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Incomplete::MissingImage {
                digest,
                platform: Some(platform),
            } => write!(
                formatter,
                "its {platform} image {} is not in the repository",
                crate::sanitize::text(digest)
            ),
            Incomplete::MissingImage {
                digest,
                platform: None,
            } => write!(
                formatter,
                "manifest {} of its index is not in the repository",
                crate::sanitize::text(digest)
            ),
            Incomplete::NotAnIndex { platforms } => write!(
                formatter,
                "it is a single image, not an index of {} (a push that stopped before its index, or a build from before `platforms`)",
                platforms.join(", ")
            ),
            Incomplete::MissingPlatform { platform } => {
                write!(formatter, "its index has no {platform} image")
            }
        }
    }
}

/// Whether the build `index` (`None`: a single image) is whole for a line
/// configured for `platforms` (empty: the engine's own), given the
/// manifests its index names that are not in the repository (`missing`).
/// Pure: the caller reads the index and asks for each manifest.
pub fn completeness(
    index: Option<&Index>,
    missing: &[&str],
    platforms: &[Platform],
) -> Result<(), Incomplete> {
    let Some(index) = index else {
        if platforms.is_empty() {
            return Ok(());
        }
        return Err(Incomplete::NotAnIndex {
            platforms: platforms.iter().map(ToString::to_string).collect(),
        });
    };
    for entry in &index.manifests {
        if missing.contains(&entry.digest.as_str()) {
            return Err(Incomplete::MissingImage {
                digest: entry.digest.clone(),
                platform: entry.platform.as_ref().map(ToString::to_string),
            });
        }
    }
    let held = index.platforms();
    match platforms.iter().find(|platform| !held.contains(platform)) {
        Some(platform) => Err(Incomplete::MissingPlatform {
            platform: platform.to_string(),
        }),
        None => Ok(()),
    }
}

/// Whether the build `digest` of `repository` is whole for a line
/// configured for `platforms`: its index read (from cache when it was
/// read before: it is content-addressed) and each manifest it names asked
/// for, so one deleted by hand is seen. A single image costs one read.
pub async fn check_complete(
    registry: &dyn Registry,
    repository: &Repository,
    digest: &Digest,
    platforms: &[Platform],
) -> Result<(Option<Index>, Result<(), Incomplete>), RegistryError> {
    let index = registry.index(&repository.digest(digest)).await?;
    let named: Vec<&str> = index
        .iter()
        .flat_map(|index| &index.manifests)
        .map(|entry| entry.digest.as_str())
        .collect();
    // A digest that does not parse names no manifest there can be.
    let found = futures::future::join_all(named.iter().map(|child| async move {
        match Digest::parse(child) {
            Ok(child) => Ok(registry
                .manifest_digest(&repository.digest(&child))
                .await?
                .is_some()),
            Err(_) => Ok::<_, RegistryError>(false),
        }
    }))
    .await;
    let mut missing = Vec::new();
    for (child, found) in named.iter().zip(found) {
        if !found? {
            missing.push(*child);
        }
    }
    let complete = completeness(index.as_ref(), &missing, platforms);
    Ok((index, complete))
}

/// What an exact tag is, with the manifest digest it resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Class {
    Golden { digest: Digest },
    Foreign { digest: Digest, why: Foreign },
}

impl Class {
    /// The manifest digest the tag resolves to.
    pub fn digest(&self) -> &Digest {
        match self {
            Class::Golden { digest } | Class::Foreign { digest, .. } => digest,
        }
    }

    pub fn is_golden(&self) -> bool {
        matches!(self, Class::Golden { .. })
    }
}

/// Whether the image `config` read under the exact tag `tag` is a build
/// golden made as that version.
pub fn provenance(tag: &str, config: &ImageConfig) -> Result<(), Foreign> {
    if config.label(labels::RECIPE).is_none() {
        return Err(Foreign::NoGoldenLabels);
    }
    match config.label(labels::VERSION) {
        Some(version) if version == tag => Ok(()),
        label => Err(Foreign::VersionMismatch { label }),
    }
}

/// A foreign exact tag, as `plan`, `ls` and `inspect` warn about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ForeignTag {
    pub tag: String,
    pub digest: Digest,
    pub why: Foreign,
}

impl std::fmt::Display for ForeignTag {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Foreign::Incomplete { why } = &self.why {
            return write!(
                formatter,
                "`{}` is not a complete golden build ({why}); golden never releases it or moves a tag onto it",
                crate::sanitize::text(&self.tag)
            );
        }
        write!(
            formatter,
            "`{}` is not a golden build ({}); golden never releases, moves a tag onto or deletes it",
            crate::sanitize::text(&self.tag),
            self.why
        )
    }
}

/// The `floating` list of each line of `repository` that `config` writes
/// one for (a line without one moves every kind its builds may take).
pub fn configured_floating(
    config: &crate::config::Config,
    repository: &Repository,
) -> BTreeMap<Line, Vec<Floating>> {
    let name = repository
        .path()
        .strip_prefix(config.registry.namespace.as_str())
        .and_then(|rest| rest.strip_prefix('/'));
    match name {
        Some(name) if repository.registry() == config.registry.host => config.floating_lists(name),
        _ => BTreeMap::new(),
    }
}

/// The golden lines above a line that keep its `X` and `latest` (see
/// the binary's `observe::ledger::Ledger::golden_lines_above`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Higher {
    /// Lines that keep `X` from the lower lines of their major.
    pub major: BTreeSet<Line>,
    /// Lines that keep `latest` from every lower line.
    pub latest: BTreeSet<Line>,
}

impl Higher {
    /// `lines` keeping both `X` and `latest`.
    pub fn both(lines: BTreeSet<Line>) -> Higher {
        Higher {
            major: lines.clone(),
            latest: lines,
        }
    }
}

/// The floating tags that belong on `release` when `higher` holds the
/// golden lines above its line, among those the line's `floating` list
/// allows (see [`Floating::allowed`]): `X.Y` always, then `X.Y.Z` for an
/// upstream-versioned build, `X` unless a higher line of that major keeps
/// it, `latest` unless any higher line does.
pub fn floating_tags(release: Exact, higher: &Higher, floating: Option<&[Floating]>) -> Vec<Tag> {
    let allowed = Floating::allowed(&release, floating);
    let line = release.line;
    let mut tags = Vec::new();
    if allowed.contains(&Floating::Line) {
        tags.push(line.tag());
    }
    if let (true, Some(upstream)) = (allowed.contains(&Floating::Upstream), release.upstream()) {
        tags.push(upstream.tag());
    }
    if allowed.contains(&Floating::Major)
        && !higher
            .major
            .iter()
            .any(|h| h.major == line.major && *h > line)
    {
        tags.push(line.major_tag());
    }
    if allowed.contains(&Floating::Latest) && !higher.latest.iter().any(|h| *h > line) {
        tags.push(Tag::latest());
    }
    tags
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(labels: &[(&str, &str)]) -> ImageConfig {
        ImageConfig {
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..ImageConfig::empty(crate::testing::digest("0"))
        }
    }

    #[test]
    fn only_a_build_labelled_as_its_own_tag_is_golden() {
        let golden = config(&[(labels::RECIPE, "sha256:r"), (labels::VERSION, "2.1.0")]);
        assert_eq!(provenance("2.1.0", &golden), Ok(()));
        // The 2.1.0 manifest copied to 2.1.200.
        assert_eq!(
            provenance("2.1.200", &golden),
            Err(Foreign::VersionMismatch {
                label: Some("2.1.0".into())
            })
        );
        // Pushed by hand.
        assert_eq!(
            provenance("2.1.99", &config(&[(labels::VERSION, "2.1.99")])),
            Err(Foreign::NoGoldenLabels)
        );
        assert_eq!(
            provenance("2.1.99", &config(&[(labels::RECIPE, "")])),
            Err(Foreign::NoGoldenLabels)
        );
        assert_eq!(
            provenance("2.1.99", &config(&[(labels::RECIPE, "sha256:r")])),
            Err(Foreign::VersionMismatch { label: None })
        );
    }

    /// An index of `children` (platform, digest suffix).
    fn index(children: &[(&str, &str)]) -> Index {
        let manifests: Vec<serde_json::Value> = children
            .iter()
            .map(|(platform, digest)| {
                let (os, architecture) = platform.split_once('/').unwrap();
                serde_json::json!({
                    "mediaType": crate::index::DOCKER_MANIFEST,
                    "digest": crate::testing::digest(digest).to_string(),
                    "size": 1,
                    "platform": { "os": os, "architecture": architecture },
                })
            })
            .collect();
        let document = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": crate::index::DOCKER_MANIFEST_LIST,
            "manifests": manifests,
        });
        crate::index::parse_index(&serde_json::to_vec(&document).unwrap(), None).unwrap()
    }

    #[test]
    fn only_a_whole_build_is_complete() {
        let both = [Platform::linux_amd64(), Platform::linux_arm64()];
        let whole = index(&[("linux/amd64", "a"), ("linux/arm64", "b")]);
        // A single image: whole for a line of the engine's own platform only.
        assert_eq!(completeness(None, &[], &[]), Ok(()));
        let half = completeness(None, &[], &both).unwrap_err();
        assert_eq!(
            half,
            Incomplete::NotAnIndex {
                platforms: vec!["linux/amd64".into(), "linux/arm64".into()]
            }
        );
        assert!(half
            .to_string()
            .starts_with("it is a single image, not an index of linux/amd64, linux/arm64"));
        assert_eq!(completeness(Some(&whole), &[], &both), Ok(()));
        // An index is checked on a single-platform line too.
        assert_eq!(completeness(Some(&whole), &[], &[]), Ok(()));
        let gone = crate::testing::digest("b");
        let missing = completeness(Some(&whole), &[gone.as_str()], &[]).unwrap_err();
        assert_eq!(
            missing,
            Incomplete::MissingImage {
                digest: gone.to_string(),
                platform: Some("linux/arm64".into())
            }
        );
        assert_eq!(
            missing.to_string(),
            format!("its linux/arm64 image {gone} is not in the repository")
        );
        let amd64_only = index(&[("linux/amd64", "a")]);
        assert_eq!(
            completeness(Some(&amd64_only), &[], &both),
            Err(Incomplete::MissingPlatform {
                platform: "linux/arm64".into()
            })
        );
        let tag = ForeignTag {
            tag: "1.0.2".into(),
            digest: crate::testing::digest("c"),
            why: Foreign::Incomplete { why: half },
        };
        assert!(tag
            .to_string()
            .starts_with("`1.0.2` is not a complete golden build (it is a single image"));
    }

    #[tokio::test]
    async fn an_index_entry_whose_digest_does_not_parse_counts_as_missing() {
        let registry = crate::testing::FakeRegistry::default();
        let path = "registry.local:5000/golden/x";
        let repository: Repository = path.parse().unwrap();
        let mut broken = index(&[("linux/amd64", "a"), ("linux/arm64", "b")]);
        broken.manifests[1].digest = "sha256:not-a-digest".into();
        let build = crate::testing::digest("1d");
        registry.put(path, "1.0.0", build.as_str());
        registry.put(path, "child-a", crate::testing::digest("a").as_str());
        registry
            .documents
            .lock()
            .unwrap()
            .insert(build.clone(), broken);
        let both = [Platform::linux_amd64(), Platform::linux_arm64()];
        let (_, complete) = check_complete(&registry, &repository, &build, &both)
            .await
            .unwrap();
        assert_eq!(
            complete,
            Err(Incomplete::MissingImage {
                digest: "sha256:not-a-digest".into(),
                platform: Some("linux/arm64".into())
            })
        );
    }

    #[test]
    fn floating_tags_follow_golden_lines_only() {
        let exact = |t: &str| t.parse::<Exact>().unwrap();
        let lines =
            |ls: &[&str]| Higher::both(ls.iter().map(|l| l.parse::<Line>().unwrap()).collect());
        assert_eq!(
            floating_tags(exact("2.1.3"), &lines(&[]), None),
            ["2.1", "2", "latest"]
        );
        assert_eq!(
            floating_tags(exact("1.4.0"), &lines(&["2.1"]), None),
            ["1.4", "1"]
        );
        assert_eq!(
            floating_tags(exact("1.4.0"), &lines(&["1.5", "2.1"]), None),
            ["1.4"]
        );
    }
}
