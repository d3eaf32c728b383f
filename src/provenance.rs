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
//! it, as a copy of the build's manifest ([`withdrawn_down_to_release`]).
//!
//! [`provenance`] is pure; [`Ledger`] reads configs through [`Registry`]
//! only for the tags a decision needs, newest first, and remembers them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use serde::Serialize;

use crate::index::Index;
use crate::labels;
use crate::name::{Digest, Repository, Tag};
use crate::platform::Platform;
use crate::registry::{ImageConfig, Registry, RegistryError};
use crate::version::{Exact, Floating, Line, Marker};

/// Why an exact tag is not a golden build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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

/// The builds of `line` golden's own markers withdrew (`markers`, see
/// [`crate::version::marker_tags`]), newest first, down to the first
/// golden build they did not: the line's release. Older builds never
/// decide the release, so their markers are not read. Each build's digest
/// is the ledger's (the config the release choice reads anyway, or a
/// build this run pushed); of its markers, newest first, the first that
/// resolves to the build's own manifest decides (golden writes a marker
/// as a copy of it), so a marker tag anyone else pushed says nothing.
/// One HEAD at a time per marker read; none for a release without
/// markers.
pub async fn withdrawn_down_to_release(
    ledger: &Ledger<'_>,
    markers: &BTreeMap<Exact, Vec<(u64, Marker, String)>>,
    line: Line,
) -> Result<Vec<Exact>, RegistryError> {
    let mut withdrawn = Vec::new();
    for version in ledger.versions().iter().rev().filter(|v| v.line == line) {
        // A foreign tag is never the release: it neither stops the walk
        // nor needs a state.
        let Class::Golden { digest } = ledger.read(*version).await?.0 else {
            continue;
        };
        let Some(tags) = markers.get(version) else {
            break;
        };
        match newest_marker(ledger, tags, &digest).await? {
            Some(Marker::Withdrawn) => withdrawn.push(*version),
            _ => break,
        }
    }
    Ok(withdrawn)
}

/// The newest of `tags` (newest generation first) that resolves to the
/// build `digest`, read one at a time until one does.
async fn newest_marker(
    ledger: &Ledger<'_>,
    tags: &[(u64, Marker, String)],
    digest: &Digest,
) -> Result<Option<Marker>, RegistryError> {
    for (_, marker, tag) in tags {
        let Ok(tag) = Tag::parse(tag) else {
            continue;
        };
        let at = ledger
            .registry
            .manifest_digest(&ledger.repository.tag(&tag))
            .await?;
        if at.as_ref() == Some(digest) {
            return Ok(Some(*marker));
        }
    }
    Ok(None)
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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

/// One repository's exact tags and what golden learnt about them: read
/// lazily, newest first, each tag at most once per run.
pub struct Ledger<'a> {
    registry: &'a dyn Registry,
    repository: Repository,
    /// Every exact version listed, sorted.
    versions: Vec<Exact>,
    /// Classified tags, with the configs of those read. A cell per tag, so
    /// lines of one repository looking at the same tag at once read it once.
    known: Mutex<BTreeMap<Exact, Arc<OnceCell<Known>>>>,
    /// Whether exact tags may be answered from what an earlier run
    /// remembered ([`Registry::exact_config`]); see [`Ledger::remembering`].
    remember: bool,
    /// The versions answered that way.
    remembered: Mutex<BTreeSet<Exact>>,
    /// The `floating` list of each configured line of the repository
    /// that writes one (see [`Ledger::golden_lines_above`]).
    floating: BTreeMap<Line, Vec<Floating>>,
}

/// A tag's class and, when golden read it, its config.
type Known = (Class, Option<ImageConfig>);

impl<'a> Ledger<'a> {
    /// A ledger of `versions` (every exact tag of `repository`).
    pub fn new(registry: &'a dyn Registry, repository: Repository, versions: Vec<Exact>) -> Self {
        Ledger {
            registry,
            repository,
            versions,
            known: Mutex::new(BTreeMap::new()),
            remember: false,
            remembered: Mutex::new(BTreeSet::new()),
            floating: BTreeMap::new(),
        }
    }

    /// The same ledger, knowing the `floating` list of each configured
    /// line of the repository that writes one ([`configured_floating`]):
    /// a higher line whose list names `X` or `latest` keeps that tag from
    /// lower lines even while its release is a prerelease.
    pub fn with_floating(self, floating: BTreeMap<Line, Vec<Floating>>) -> Self {
        Ledger { floating, ..self }
    }

    /// A ledger that may answer exact tags from what an earlier run
    /// remembered: for observing only, and [`Ledger::remembered`] names the
    /// versions the caller must check against the registry's answers of
    /// this run before trusting them.
    pub fn remembering(
        registry: &'a dyn Registry,
        repository: Repository,
        versions: Vec<Exact>,
    ) -> Self {
        Ledger {
            remember: true,
            ..Ledger::new(registry, repository, versions)
        }
    }

    /// The versions answered from memory rather than by the registry.
    pub fn remembered(&self) -> BTreeSet<Exact> {
        self.remembered
            .lock()
            .map(|remembered| remembered.clone())
            .unwrap_or_default()
    }

    /// Records what is known without a read (a build this run pushed).
    pub fn learn(&self, version: Exact, class: Class) {
        if let Ok(mut known) = self.known.lock() {
            known
                .entry(version)
                .or_insert_with(|| Arc::new(OnceCell::new_with(Some((class, None)))));
        }
    }

    /// The registry the ledger reads through.
    pub fn registry(&self) -> &'a dyn Registry {
        self.registry
    }

    /// Every exact version listed, sorted.
    pub fn versions(&self) -> &[Exact] {
        &self.versions
    }

    /// What was learnt so far, sorted by version.
    pub fn known(&self) -> BTreeMap<Exact, Class> {
        self.known
            .lock()
            .map(|known| {
                known
                    .iter()
                    .filter_map(|(version, cell)| Some((*version, cell.get()?.0.clone())))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The class and (for a read tag) the config of `version`, reading its
    /// config the first time.
    pub async fn read(&self, version: Exact) -> Result<Known, RegistryError> {
        let cell = match self.known.lock() {
            Ok(mut known) => known.entry(version).or_default().clone(),
            Err(_) => Arc::new(OnceCell::new()),
        };
        let found = cell
            .get_or_try_init(|| async {
                let tag = version.tag();
                let reference = self.repository.tag(&tag);
                let config = if self.remember {
                    let (config, remembered) = self.registry.exact_config(&reference).await?;
                    if remembered {
                        if let Ok(mut set) = self.remembered.lock() {
                            set.insert(version);
                        }
                    }
                    config
                } else {
                    self.registry.image_config(&reference).await?
                };
                let digest = config.digest.clone();
                let class = match provenance(tag.as_str(), &config) {
                    Ok(()) => Class::Golden { digest },
                    Err(why) => Class::Foreign { digest, why },
                };
                Ok::<_, RegistryError>((class, Some(config)))
            })
            .await?;
        Ok(found.clone())
    }

    /// The newest golden build of `line` that `skip` does not exclude,
    /// reading configs newest first until one is found.
    pub async fn newest_golden(
        &self,
        line: Line,
        skip: &[Exact],
    ) -> Result<Option<(Exact, Digest, Option<ImageConfig>)>, RegistryError> {
        for version in self.versions.iter().rev().filter(|v| v.line == line) {
            if skip.contains(version) {
                continue;
            }
            if let (Class::Golden { digest }, config) = self.read(*version).await? {
                return Ok(Some((*version, digest, config)));
            }
        }
        Ok(None)
    }

    /// The lines above `line` (all majors) that keep `X` and `latest`
    /// from it; lines below it never decide its floating tags, so they are
    /// not read. A higher line counts when it holds a golden build not
    /// withdrawn that is not an upstream prerelease (its release, or an
    /// older build: a line that built `11.0.0-r1`, then `11.0.1-rc.1-r1`,
    /// still holds `latest` on `11.0.0-r1`), or when its release is any
    /// golden build and its configured `floating` list (see
    /// [`Ledger::with_floating`]) names the kind: a preview line listing
    /// `latest` takes it, so no lower line takes it back.
    pub async fn golden_lines_above(
        &self,
        line: Line,
        markers: &BTreeMap<Exact, Vec<(u64, Marker, String)>>,
    ) -> Result<Higher, RegistryError> {
        let lines: BTreeSet<Line> = self
            .versions
            .iter()
            .map(|v| v.line)
            .filter(|l| *l > line)
            .collect();
        let mut higher = Higher::default();
        for other in lines {
            let (has_release, holds_release) = self.holds(other, markers).await?;
            if !has_release {
                continue;
            }
            let listed = |kind: Floating| {
                self.floating
                    .get(&other)
                    .is_some_and(|list| list.contains(&kind))
            };
            if holds_release || listed(Floating::Major) {
                higher.major.insert(other);
            }
            if holds_release || listed(Floating::Latest) {
                higher.latest.insert(other);
            }
        }
        Ok(higher)
    }

    /// Whether `line` has a golden build its markers did not withdraw,
    /// and whether one of those is not an upstream prerelease. Newest
    /// first; below the newest such build only releases are read.
    async fn holds(
        &self,
        line: Line,
        markers: &BTreeMap<Exact, Vec<(u64, Marker, String)>>,
    ) -> Result<(bool, bool), RegistryError> {
        let mut has_release = false;
        for version in self.versions.iter().rev().filter(|v| v.line == line) {
            if has_release && version.is_prerelease() {
                continue;
            }
            let Class::Golden { digest } = self.read(*version).await?.0 else {
                continue;
            };
            if let Some(tags) = markers.get(version) {
                if newest_marker(self, tags, &digest).await? == Some(Marker::Withdrawn) {
                    continue;
                }
            }
            has_release = true;
            if !version.is_prerelease() {
                return Ok((true, true));
            }
        }
        Ok((has_release, false))
    }

    /// The foreign tags of `line` learnt so far, newest first.
    pub fn foreign_in(&self, line: Line) -> Vec<ForeignTag> {
        self.known()
            .into_iter()
            .rev()
            .filter(|(version, _)| version.line == line)
            .filter_map(|(version, class)| match class {
                Class::Foreign { digest, why } => Some(ForeignTag {
                    tag: version.to_string(),
                    digest,
                    why,
                }),
                Class::Golden { .. } => None,
            })
            .collect()
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
/// [`Ledger::golden_lines_above`]).
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

    #[tokio::test]
    async fn only_a_marker_that_is_a_copy_of_its_build_counts() {
        let registry = crate::testing::FakeRegistry::default();
        let path = "registry.local:5000/golden/x";
        let digest = crate::testing::digest;
        for (tag, at) in [
            ("1.0.1", "a1"),
            ("1.0.2", "a2"),
            ("1.0.3", "a3"),
            // Golden's: copies of their builds.
            ("1.0.1-withdrawn", "a1"),
            ("1.0.3-withdrawn", "a3"),
            // Someone else's: other images under marker names.
            ("1.0.2-withdrawn.7", "f1"),
            ("1.0.3-restored.1", "f2"),
            ("2.0.0-withdrawn", "a1"),
        ] {
            registry.put(path, tag, digest(at));
        }
        let tags: Vec<String> = registry.tags.lock().unwrap()[path]
            .keys()
            .cloned()
            .collect();
        let markers = crate::version::marker_tags(tags.iter().map(String::as_str));
        let repository: Repository = path.parse().unwrap();
        let exact = |text: &str| text.parse::<Exact>().unwrap();
        let ledger = Ledger::new(
            &registry,
            repository.clone(),
            ["1.0.1", "1.0.2", "1.0.3", "2.0.0"].map(exact).to_vec(),
        );
        for (build, at) in [("1.0.1", "a1"), ("1.0.2", "a2"), ("1.0.3", "a3")] {
            ledger.learn(exact(build), Class::Golden { digest: digest(at) });
        }
        let withdrawn = withdrawn_down_to_release(&ledger, &markers, "1.0".parse().unwrap())
            .await
            .unwrap();
        // 1.0.3's restore marker is someone else's image; 1.0.2's marker
        // too, so 1.0.2 is the release and 1.0.1 below it is not read.
        assert_eq!(withdrawn, [exact("1.0.3")]);
        let other = withdrawn_down_to_release(&ledger, &markers, "3.0".parse().unwrap())
            .await
            .unwrap();
        assert!(other.is_empty(), "{other:?}");
    }

    #[tokio::test]
    async fn only_markers_of_builds_above_the_release_are_read_and_build_digests_come_from_the_ledger(
    ) {
        let registry = crate::testing::FakeRegistry::default();
        let path = "registry.local:5000/golden/x";
        let digest = crate::testing::digest;
        let builds = ["1.0.0", "1.0.1", "1.0.2", "1.0.3", "1.0.4", "1.0.5"];
        let mut tags: Vec<String> = builds.iter().map(|b| b.to_string()).collect();
        // Old rollbacks, undone: 1.0.1 and 1.0.2 withdrawn, then restored.
        // Now 1.0.4 and 1.0.5 are withdrawn: 1.0.3 is the release.
        for marker in [
            "1.0.1-withdrawn",
            "1.0.1-restored.1",
            "1.0.2-withdrawn",
            "1.0.2-restored.1",
            "1.0.4-withdrawn",
            "1.0.5-withdrawn",
        ] {
            tags.push(marker.to_string());
        }
        for tag in &tags {
            let build = tag.split('-').next().unwrap();
            registry.put(path, tag, digest(&build.replace('.', "")));
        }
        let markers = crate::version::marker_tags(tags.iter().map(String::as_str));
        let repository: Repository = path.parse().unwrap();
        let exact = |text: &str| text.parse::<Exact>().unwrap();
        let ledger = Ledger::new(
            &registry,
            repository.clone(),
            builds.iter().map(|b| exact(b)).collect(),
        );
        // What the ledger already knows (read before, or pushed by this run).
        for build in builds {
            ledger.learn(
                exact(build),
                Class::Golden {
                    digest: digest(&build.replace('.', "")),
                },
            );
        }
        let withdrawn = withdrawn_down_to_release(&ledger, &markers, "1.0".parse().unwrap())
            .await
            .unwrap();
        assert_eq!(withdrawn, [exact("1.0.5"), exact("1.0.4")]);
        let heads = registry.heads.lock().unwrap().clone();
        assert_eq!(
            heads,
            [
                format!("{path}:1.0.5-withdrawn"),
                format!("{path}:1.0.4-withdrawn")
            ]
        );
    }

    #[tokio::test]
    async fn a_line_whose_newest_golden_build_is_a_prerelease_is_no_higher_line() {
        let registry = crate::testing::FakeRegistry::default();
        let repository: Repository = "registry.local:5000/golden/x".parse().unwrap();
        let exact = |text: &str| text.parse::<Exact>().unwrap();
        let builds = [
            "10.0.1-r1",
            "11.0.0-preview.1-r1",
            "12.0.0-preview.2-r1",
            "12.0.0-r1",
        ];
        let ledger = Ledger::new(&registry, repository, builds.map(exact).to_vec());
        for (index, build) in builds.iter().enumerate() {
            let digest = crate::testing::digest(&format!("{index}a"));
            ledger.learn(exact(build), Class::Golden { digest });
        }
        let line = |text: &str| text.parse::<Line>().unwrap();
        let higher = ledger
            .golden_lines_above(line("10.0"), &BTreeMap::new())
            .await
            .unwrap();
        // 11.0 holds only a preview; 12.0's newest build is a release.
        assert_eq!(higher, Higher::both(BTreeSet::from([line("12.0")])));
        let tags = floating_tags(exact("10.0.1-r1"), &Higher::default(), None);
        assert_eq!(tags, ["10.0", "10.0.1", "10", "latest"]);
        // A preview takes X and latest only when the list names them.
        let preview = exact("11.0.0-preview.1-r1");
        assert_eq!(
            floating_tags(preview, &Higher::default(), None),
            ["11.0", "11.0.0-preview.1"]
        );
        let listed = [Floating::Upstream, Floating::Latest];
        assert_eq!(
            floating_tags(preview, &Higher::default(), Some(&listed)),
            ["11.0.0-preview.1", "latest"]
        );
    }

    /// A ledger of `builds` (all golden, each with its own digest) and
    /// `markers` (golden's: copies of their builds) in a fake registry,
    /// knowing the `floating` lists of `listed` lines.
    async fn higher_than(
        line: &str,
        builds: &[&str],
        withdrawn: &[&str],
        listed: &[(&str, &[Floating])],
    ) -> Higher {
        let registry = crate::testing::FakeRegistry::default();
        let path = "registry.local:5000/golden/x";
        let repository: Repository = path.parse().unwrap();
        let exact = |text: &str| text.parse::<Exact>().unwrap();
        let digest = |index: usize| crate::testing::digest(&format!("{index}a"));
        let mut tags: Vec<String> = Vec::new();
        for (index, build) in builds.iter().enumerate() {
            registry.put(path, build, digest(index));
            tags.push(build.to_string());
            if withdrawn.contains(build) {
                let marker = format!("{build}-withdrawn");
                registry.put(path, &marker, digest(index));
                tags.push(marker);
            }
        }
        let markers = crate::version::marker_tags(tags.iter().map(String::as_str));
        let floating = listed
            .iter()
            .map(|(line, list)| (line.parse::<Line>().unwrap(), list.to_vec()))
            .collect();
        let ledger = Ledger::new(
            &registry,
            repository,
            builds.iter().map(|b| exact(b)).collect(),
        )
        .with_floating(floating);
        for (index, build) in builds.iter().enumerate() {
            ledger.learn(
                exact(build),
                Class::Golden {
                    digest: digest(index),
                },
            );
        }
        ledger
            .golden_lines_above(line.parse().unwrap(), &markers)
            .await
            .unwrap()
    }

    /// Review finding 2 (a): a preview line whose `floating` list names
    /// `latest` takes it; the line below counted itself highest and took
    /// it back on every run.
    #[tokio::test]
    async fn a_preview_line_listing_latest_keeps_it_from_lower_lines() {
        let line = |text: &str| text.parse::<Line>().unwrap();
        let exact = |text: &str| text.parse::<Exact>().unwrap();
        let builds = ["10.0.1-r1", "11.0.0-preview.1-r1"];
        let listed: &[Floating] = &[Floating::Upstream, Floating::Line, Floating::Latest];
        let higher = higher_than("10.0", &builds, &[], &[("11.0", listed)]).await;
        // 11.0 lists `latest`, not `X` (another major anyway).
        assert_eq!(higher.latest, BTreeSet::from([line("11.0")]));
        assert!(higher.major.is_empty(), "{higher:?}");
        assert_eq!(
            floating_tags(exact("10.0.1-r1"), &higher, None),
            ["10.0", "10.0.1", "10"]
        );
        // The preview takes `latest` itself: exactly one line claims it.
        let above = higher_than("11.0", &builds, &[], &[("11.0", listed)]).await;
        assert_eq!(
            floating_tags(exact("11.0.0-preview.1-r1"), &above, Some(listed)),
            ["11.0", "11.0.0-preview.1", "latest"]
        );
        // A preview line of the same major listing `X` keeps `X` only.
        let builds = ["10.0.1-r1", "10.1.0-preview.1-r1"];
        let major: &[Floating] = &[Floating::Line, Floating::Major];
        let higher = higher_than("10.0", &builds, &[], &[("10.1", major)]).await;
        assert_eq!(higher.major, BTreeSet::from([line("10.1")]));
        assert!(higher.latest.is_empty(), "{higher:?}");
        assert_eq!(
            floating_tags(exact("10.0.1-r1"), &higher, None),
            ["10.0", "10.0.1", "latest"]
        );
        // Without a list the preview takes neither: the lower line keeps both.
        let higher = higher_than("10.0", &builds, &[], &[]).await;
        assert_eq!(higher, Higher::default());
    }

    /// Review finding 2 (b): 11.0 holds `latest` on 11.0.0-r1 and builds
    /// 11.0.1-rc.1-r1 (which takes no `latest`); only its newest build was
    /// looked at, so the next 10.0 build took `latest` back.
    #[tokio::test]
    async fn a_line_whose_newest_build_is_a_prerelease_still_holds_latest_on_an_older_release() {
        let line = |text: &str| text.parse::<Line>().unwrap();
        let exact = |text: &str| text.parse::<Exact>().unwrap();
        let builds = ["10.0.1-r1", "11.0.0-r1", "11.0.1-rc.1-r1"];
        let higher = higher_than("10.0", &builds, &[], &[]).await;
        assert_eq!(higher, Higher::both(BTreeSet::from([line("11.0")])));
        assert_eq!(
            floating_tags(exact("10.0.1-r1"), &higher, None),
            ["10.0", "10.0.1", "10"]
        );
        // Withdrawn builds hold nothing: with 11.0.0-r1 withdrawn the
        // line holds only a preview, and 10.0 takes `latest`.
        let higher = higher_than("10.0", &builds, &["11.0.0-r1"], &[]).await;
        assert_eq!(higher, Higher::default());
        // A line all of whose builds are withdrawn holds nothing, even
        // when its list names `latest`.
        let builds = ["10.0.1-r1", "11.0.0-preview.1-r1"];
        let listed: &[Floating] = &[Floating::Latest];
        let higher = higher_than(
            "10.0",
            &builds,
            &["11.0.0-preview.1-r1"],
            &[("11.0", listed)],
        )
        .await;
        assert_eq!(higher, Higher::default());
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
