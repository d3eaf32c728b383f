//! One repository's exact tags and what golden learnt about them during a
//! run (the ledger): configs read lazily, newest first, each tag at most
//! once, remembered for the run; and the rollback markers that decide a
//! line's release. What a tag *is* is [`crate::provenance`]'s pure rule.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use crate::name::{Digest, Repository, Tag};
use crate::provenance::*;
use crate::registry::{exact_config, ImageConfig, Registry, RegistryError, TagMemory};
use crate::version::{Exact, Floating, Line, Marker};

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
    /// Where exact tags may be answered from what an earlier run
    /// remembered ([`exact_config`]); see [`Ledger::remembering`].
    memory: Option<&'a dyn TagMemory>,
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
            memory: None,
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
        memory: &'a dyn TagMemory,
        repository: Repository,
        versions: Vec<Exact>,
    ) -> Self {
        Ledger {
            memory: Some(memory),
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
                let config = if let Some(memory) = self.memory {
                    let (config, remembered) =
                        exact_config(self.registry, memory, &reference).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
