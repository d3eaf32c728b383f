//! Observe: ask the registry what exists now (each repository's tags, the
//! newest build of each line and its labels, the digest of every base) and
//! list each build context (hashing it only where the plan compares
//! recipes), into plain data for the planner. Lookups run
//! concurrently; a failed lookup is an error for that image only. The
//! types it fills live in the pure `observation` module.

pub mod ledger;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt};

use crate::config::Image;
use crate::context::{ContextRead, RecipeInputs, Recipes};
use crate::graph::Upstream;
use crate::labels;
use crate::name::{Digest, Repository};
use crate::observation::{
    FloatingTag, Held, LastBuild, Observation, Observations, ObserveError, Tracked,
};
use crate::plan::compares_recipe;
use crate::project::Project;
use crate::provenance::{check_complete, floating_tags, Class, ForeignTag};
use crate::reference::Reference;
use crate::registry::{Registry, RegistryError};
use crate::version::{marker_tags, Exact, Marker, Versioning};
use ledger::{withdrawn_down_to_release, Ledger};

/// Registry lookups in flight at once.
const CONCURRENCY: usize = 16;

/// What the registry says about one line.
#[derive(Debug, Clone)]
struct LineState {
    versions: Vec<Exact>,
    last_build: Option<LastBuild>,
    /// Platform -> base image digest, as the last build's index recorded
    /// them (see [`labels::BASE_PLATFORMS`]).
    last_base_platforms: BTreeMap<String, String>,
    foreign: Vec<ForeignTag>,
    known: BTreeMap<Exact, Class>,
    /// The repository's tag list came from memory (see [`observe_until`]).
    tags_remembered: bool,
}

/// Whether observing may answer from what earlier runs remembered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Memory {
    /// Exact tags and tag lists may come from memory, each trusted only
    /// where this run's answers about the floating tags confirm it.
    Remembered,
    /// Tag lists are asked of the registry (exact tags still come from
    /// memory when confirmed: they are immutable by contract).
    Fresh,
}

/// Observes `ids`, answering tag lists from memory where the floating
/// tags confirm them, then asks `acted` which images the caller would
/// build or promote on these observations. Those observed from a
/// remembered tag list are observed again from the registry, and `acted`
/// asked again, until every image acted on was observed fresh: memory
/// saves requests on images left alone, and never decides what is pushed.
pub async fn observe_until(
    project: &Project,
    registry: &dyn Registry,
    ids: &[String],
    forced: &BTreeSet<String>,
    acted: impl Fn(&Observations) -> Vec<String>,
) -> Observations {
    // A context listed or hashed in the first pass is not read again,
    // nor is a tracked upstream repository's tag list.
    let recipes = std::sync::Arc::new(Recipes::default());
    let upstream_tags = UpstreamTags::default();
    let first = observe_with(
        project,
        registry,
        ids,
        forced,
        Memory::Remembered,
        &recipes,
        &upstream_tags,
    );
    let mut observations = first.await;
    loop {
        let stale: Vec<String> = acted(&observations)
            .into_iter()
            .filter(|id| {
                observations
                    .get(id)
                    .is_some_and(|o| o.as_ref().is_ok_and(|o| o.tags_remembered))
            })
            .collect();
        if stale.is_empty() {
            return observations;
        }
        tracing::debug!(
            images = stale.len(),
            "observing again without remembered tag lists"
        );
        // Each pass turns at least one image fresh, so this ends.
        let again = observe_with(
            project,
            registry,
            &stale,
            forced,
            Memory::Fresh,
            &recipes,
            &upstream_tags,
        );
        observations.extend(again.await);
    }
}

/// Observes every image in `ids`, each tag list asked of the registry.
pub async fn observe(
    project: &Project,
    registry: &dyn Registry,
    ids: &[String],
    forced: &BTreeSet<String>,
) -> Observations {
    let recipes = std::sync::Arc::new(Recipes::default());
    let upstream_tags = UpstreamTags::default();
    observe_with(
        project,
        registry,
        ids,
        forced,
        Memory::Fresh,
        &recipes,
        &upstream_tags,
    )
    .await
}

/// The tag lists of tracked upstream repositories asked in this run, by
/// repository: one request per repository, however many images track it
/// and however many passes observe them. Never answered from (nor written
/// to) the tag lists earlier runs remembered: a new upstream release is
/// exactly what a remembered list would miss, and nothing of this run's
/// confirms a vendor's list.
#[derive(Default)]
pub struct UpstreamTags(std::sync::Mutex<BTreeMap<Repository, Result<Vec<String>, ObserveError>>>);

impl UpstreamTags {
    /// The tags of each of `repositories`, each asked of the registry
    /// once in the run.
    async fn list(
        &self,
        registry: &dyn Registry,
        repositories: BTreeSet<Repository>,
    ) -> BTreeMap<Repository, Result<Vec<String>, ObserveError>> {
        let known = |repository: &Repository| {
            self.0
                .lock()
                .ok()
                .and_then(|listed| listed.get(repository).cloned())
        };
        let asked = stream::iter(repositories.iter().filter(|r| known(r).is_none()))
            .map(|repository| async move {
                let tags = registry.tags(repository).await.map_err(|error| {
                    ObserveError::registry(
                        error,
                        Some(format!(
                            "failed to list the tags of `{repository}` to track its releases"
                        )),
                    )
                });
                (repository.clone(), tags)
            })
            .buffer_unordered(CONCURRENCY)
            .collect::<Vec<_>>()
            .await;
        if let Ok(mut listed) = self.0.lock() {
            listed.extend(asked.iter().cloned());
        }
        let mut found: BTreeMap<_, _> = asked.into_iter().collect();
        for repository in repositories {
            if let Some(tags) = known(&repository) {
                found.entry(repository).or_insert(tags);
            }
        }
        found
    }
}

/// For each image in `ids` with `track`, the tag its final FROM resolves
/// to: the newest tag of the FROM's repository the pattern matches, never
/// below the tag written (the floor), which is built FROM when nothing
/// matches. Validation keeps `track` to images FROM an upstream tag the
/// pattern matches (see `graph`).
async fn tracked_bases(
    project: &Project,
    registry: &dyn Registry,
    ids: &[String],
    upstream_tags: &UpstreamTags,
) -> BTreeMap<String, Result<Tracked, ObserveError>> {
    let tracking: Vec<(&String, &crate::upstream::Track, &Reference, &str)> = ids
        .iter()
        .filter_map(|id| {
            let track = project.config.image(id)?.track.as_ref()?;
            let Upstream::External(reference) = &project.graph.nodes.get(id)?.upstream else {
                return None;
            };
            let written = reference.tag().filter(|_| reference.digest().is_none())?;
            Some((id, track, reference, written))
        })
        .collect();
    let repositories = tracking
        .iter()
        .map(|(_, _, reference, _)| reference.repository_name())
        .collect();
    let listed = upstream_tags.list(registry, repositories).await;
    tracking
        .into_iter()
        .filter_map(|(id, track, reference, written)| {
            let tags = listed.get(&reference.repository_name())?;
            let tracked = tags.clone().map(|tags| {
                let newest = track.newest(tags.iter().map(String::as_str), Some(written));
                Tracked {
                    written: written.to_string(),
                    resolved: reference.with_tag(newest.unwrap_or(written)),
                    held: None,
                }
            });
            Some((id.clone(), tracked))
        })
        .collect()
}

/// Observes every image in `ids`; those in `forced` are built whatever
/// their state, so their contexts are listed but not hashed (see
/// [`compares_recipe`]). Contexts are read through `recipes`, each once
/// however many images (or passes) ask.
pub async fn observe_with(
    project: &Project,
    registry: &dyn Registry,
    ids: &[String],
    forced: &BTreeSet<String>,
    memory: Memory,
    recipes: &std::sync::Arc<Recipes>,
    upstream_tags: &UpstreamTags,
) -> Observations {
    let config = &project.config;
    let mut repositories: BTreeMap<Repository, Vec<&Image>> = BTreeMap::new();
    for image in ids.iter().filter_map(|id| config.image(id)) {
        repositories
            .entry(config.repository(image))
            .or_default()
            .push(image);
    }
    // Each context is listed (and hashed, once its line shows the plan
    // compares recipes) as soon as its repository answered, while other
    // repositories are still being asked; each one once.
    let lines = stream::iter(repositories)
        .map(|(repository, images)| {
            let floating = crate::provenance::configured_floating(config, &repository);
            observe_repository(registry, repository, images, floating, memory)
        })
        .buffer_unordered(CONCURRENCY)
        .flat_map(stream::iter)
        .map(|(id, state)| {
            let cache = recipes.clone();
            let forced = forced.contains(&id);
            async move {
                let context = match (&state, config.image(&id)) {
                    (Ok(line), Some(image)) => {
                        let hash = compares_recipe(forced, line.last_build.as_ref());
                        Some(context_of(image, hash, cache).await)
                    }
                    _ => None,
                };
                (id, (state, context))
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect::<BTreeMap<String, LineAndContext>>();
    // Many images share a base: each distinct one is resolved once (a
    // tracked one once its repository's tags picked the tag).
    let bases = async {
        let mut tracked = tracked_bases(project, registry, ids, upstream_tags).await;
        let upstreams: BTreeMap<String, (Reference, bool)> = ids
            .iter()
            .filter_map(|id| {
                let node = project.graph.nodes.get(id)?;
                let reference = match tracked.get(id) {
                    Some(Ok(tracked)) => &tracked.resolved,
                    Some(Err(_)) => return None,
                    None => node.upstream.reference()?,
                };
                let golden = matches!(node.upstream, Upstream::Golden { .. });
                Some((reference.to_string(), (reference.clone(), golden)))
            })
            .collect();
        let digests = stream::iter(upstreams)
            .map(|(text, (reference, golden))| async move {
                (text, base_digest(registry, &reference, golden).await)
            })
            .buffer_unordered(CONCURRENCY)
            .collect::<BTreeMap<String, Result<Option<Digest>, ObserveError>>>()
            .await;
        let bases: BTreeMap<String, Base> =
            ids.iter()
                .filter_map(|id| {
                    let node = project.graph.nodes.get(id)?;
                    let base = match tracked.remove(id) {
                        Some(Err(error)) => Err(error),
                        Some(Ok(tracked)) => base_of(&digests, &tracked.resolved)
                            .map(|digest| (digest, Some(tracked))),
                        None => match node.upstream.reference() {
                            Some(reference) => base_of(&digests, reference).map(|d| (d, None)),
                            None => Ok((None, None)),
                        },
                    };
                    Some((id.clone(), base))
                })
                .collect();
        bases
    };
    let (mut lines, mut bases) = futures::join!(lines, bases);
    held_bases(project, registry, &lines, &mut bases).await;
    let states: BTreeMap<&str, &Result<LineState, ObserveError>> = lines
        .iter()
        .map(|(id, (state, _))| (id.as_str(), state))
        .collect();
    let changed = base_platforms_changed(project, registry, ids, &states, &bases).await;
    ids.iter()
        .map(|id| {
            let result = observe_image(id, &mut lines, &bases).map(|mut observation| {
                observation.base_platforms_changed = changed.get(id).cloned().unwrap_or_default();
                observation
            });
            (id.clone(), result)
        })
        .collect()
}

/// For each tracked image with `adopt = "on-schedule"` whose tag picked is
/// newer than the tag its last build was made FROM (its base name label):
/// that tag, resolved now, when it still matches the pattern, is not below
/// the tag written and exists. While the release waits for the schedule,
/// the plan compares the base with it and the build is made FROM it (see
/// [`Tracked::held`]). A failed lookup fails the image, as its base's would.
async fn held_bases(
    project: &Project,
    registry: &dyn Registry,
    lines: &BTreeMap<String, LineAndContext>,
    bases: &mut BTreeMap<String, Base>,
) {
    let wanted: Vec<(String, Reference)> = bases
        .iter()
        .filter_map(|(id, base)| {
            let image = project.config.image(id)?;
            let track = image.track.as_ref()?;
            if image.adopt != crate::upstream::Adopt::OnSchedule {
                return None;
            }
            let tracked = base.as_ref().ok()?.1.as_ref()?;
            let (Ok(state), _) = lines.get(id)? else {
                return None;
            };
            let base_name = state.last_build.as_ref()?.base_name.as_deref()?;
            let built_on = Reference::parse(base_name).ok()?;
            if built_on.repository_name() != tracked.resolved.repository_name() {
                return None;
            }
            let tag = built_on.tag()?;
            let components = track.components(tag)?;
            let newer = track
                .components(tracked.tag())
                .is_some_and(|newest| newest > components);
            let above_floor = track
                .components(&tracked.written)
                .is_none_or(|floor| components >= floor);
            (newer && above_floor).then(|| (id.clone(), tracked.resolved.with_tag(tag)))
        })
        .collect();
    let distinct: BTreeMap<String, Reference> = wanted
        .iter()
        .map(|(_, reference)| (reference.to_string(), reference.clone()))
        .collect();
    let digests: BTreeMap<String, Result<Option<Digest>, ObserveError>> = stream::iter(distinct)
        .map(|(text, reference)| async move {
            let digest = registry.manifest_digest(&reference).await.map_err(|error| {
                ObserveError::registry(
                    error,
                    Some(format!("failed to resolve base image `{reference}`")),
                )
            });
            (text, digest)
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    for (id, reference) in wanted {
        let Some(base) = bases.get_mut(&id) else {
            continue;
        };
        match digests.get(&reference.to_string()) {
            Some(Ok(Some(digest))) => {
                if let Ok((_, Some(tracked))) = base {
                    tracked.held = Some(Held {
                        reference,
                        digest: digest.clone(),
                    });
                }
            }
            Some(Err(error)) => *base = Err(error.clone()),
            // Gone: the release is adopted by the next build.
            Some(Ok(None)) | None => {}
        }
    }
}

/// What an image's final FROM resolves to now (`None` for scratch, and for
/// a golden parent never pushed) and, with `track`, the tag picked.
type Base = Result<(Option<Digest>, Option<Tracked>), ObserveError>;

/// The digest `reference` resolved to among `digests`.
fn base_of(
    digests: &BTreeMap<String, Result<Option<Digest>, ObserveError>>,
    reference: &Reference,
) -> Result<Option<Digest>, ObserveError> {
    digests
        .get(&reference.to_string())
        .cloned()
        .unwrap_or(Ok(None))
}

/// A line's state and, when it was read, its context.
type LineAndContext = (
    Result<LineState, ObserveError>,
    Option<Result<ContextRead, ObserveError>>,
);

/// For each multi-platform line whose upstream base moved since its last
/// build, the platforms whose image in the base's index changed: the
/// base's index now (read only then) against what the last build's index
/// recorded. A line that recorded nothing, or a base that cannot be read
/// as an index, is left out (the build reads the base again and says why).
async fn base_platforms_changed(
    project: &Project,
    registry: &dyn Registry,
    ids: &[String],
    lines: &BTreeMap<&str, &Result<LineState, ObserveError>>,
    bases: &BTreeMap<String, Base>,
) -> BTreeMap<String, Vec<String>> {
    let moved = ids.iter().filter_map(|id| {
        let image = project.config.image(id)?;
        let node = project.graph.nodes.get(id)?;
        if image.platforms.is_empty() || matches!(node.upstream, Upstream::Golden { .. }) {
            return None;
        }
        let (current, tracked) = bases.get(id)?.as_ref().ok()?;
        // While a release is held, the base compared is the held tag's.
        let (reference, current) = match tracked {
            Some(Tracked {
                held: Some(held), ..
            }) => (&held.reference, &held.digest),
            Some(tracked) => (&tracked.resolved, current.as_ref()?),
            None => (node.upstream.reference()?, current.as_ref()?),
        };
        let state = lines.get(id.as_str())?.as_ref().ok()?;
        let last = state.last_build.as_ref()?;
        let moved = !state.last_base_platforms.is_empty()
            && last.base_digest.as_deref() != Some(current.as_str());
        moved.then(|| {
            (
                id,
                reference.with_digest(current),
                &state.last_base_platforms,
            )
        })
    });
    let read = futures::future::join_all(moved.map(|(id, base, recorded)| async move {
        let index = registry.index(&base).await;
        (id, index, recorded)
    }))
    .await;
    let mut changed = BTreeMap::new();
    for (id, index, recorded) in read {
        let Ok(Some(index)) = index else {
            continue;
        };
        let platforms: Vec<String> = recorded
            .iter()
            .filter(|(platform, digest)| {
                let now = platform
                    .parse::<crate::platform::Platform>()
                    .ok()
                    .and_then(|platform| index.select(&platform).ok().map(|e| e.digest.clone()));
                now.as_deref() != Some(digest.as_str())
            })
            .map(|(platform, _)| platform.clone())
            .collect();
        changed.insert(id.clone(), platforms);
    }
    changed
}

/// Reads one repository's tags once and the state of each of `images`'
/// lines in it, by image id.
async fn observe_repository(
    registry: &dyn Registry,
    repository: Repository,
    images: Vec<&Image>,
    floating: BTreeMap<crate::version::Line, Vec<crate::version::Floating>>,
    memory: Memory,
) -> Vec<(String, Result<LineState, ObserveError>)> {
    let failed = |error: ObserveError| {
        images
            .iter()
            .map(|image| (image.id.clone(), Err(error.clone())))
            .collect()
    };
    let remembered_tags = match memory {
        Memory::Remembered => registry.remembered_tags(&repository),
        Memory::Fresh => None,
    };
    let mut tags_remembered = remembered_tags.is_some();
    let mut tags = match remembered_tags {
        Some(tags) => tags,
        None => match registry.tags(&repository).await {
            Ok(tags) => tags,
            Err(error) => return failed(ObserveError::registry(error, None)),
        },
    };
    // Images sharing a repository share its versioning (config checks):
    // under upstream versioning `X.Y.Z` tags are floating, never builds.
    let versioning = images
        .first()
        .map_or(Versioning::Line, |image| image.versioning);
    let mut versions = versioning.exact_versions(tags.iter().map(String::as_str));
    let mut ledger = Ledger::remembering(registry, repository.clone(), versions.clone())
        .with_floating(floating.clone());
    let mut markers = marker_tags(tags.iter().map(String::as_str));
    let mut states = line_states(&ledger, &repository, &images, &markers).await;
    let remembered = ledger.remembered();
    let lines_confirmed = !tags_remembered || every_line_confirmed(&states);
    if !lines_confirmed || !confirmed(&remembered, &states) {
        // Something an earlier run remembered is not what this run's
        // answers show (or cannot be checked against them): ask again.
        for version in &remembered {
            registry.forget_exact(&repository.tag(&version.tag()));
        }
        if tags_remembered {
            registry.forget_tags(&repository);
            tags = match registry.tags(&repository).await {
                Ok(tags) => tags,
                Err(error) => return failed(ObserveError::registry(error, None)),
            };
            tags_remembered = false;
            versions = versioning.exact_versions(tags.iter().map(String::as_str));
            markers = marker_tags(tags.iter().map(String::as_str));
        }
        ledger =
            Ledger::remembering(registry, repository.clone(), versions).with_floating(floating);
        states = line_states(&ledger, &repository, &images, &markers).await;
    }
    // A list is remembered only where the next run can confirm it: a
    // repository with a line never released (or whose floating tags are
    // elsewhere) would be listed again anyway, so writing it is waste.
    if !tags_remembered && every_line_confirmed(&states) {
        registry.remember_tags(&repository, &tags);
    }
    let known = ledger.known();
    images
        .iter()
        .zip(states)
        .map(|(image, state)| {
            let state = state
                .map(|last| LineState {
                    versions: ledger.versions().to_vec(),
                    last_base_platforms: last
                        .as_ref()
                        .map(|(_, recorded)| recorded.clone())
                        .unwrap_or_default(),
                    last_build: last.map(|(last_build, _)| last_build),
                    foreign: ledger.foreign_in(image.version),
                    known: known.clone(),
                    tags_remembered,
                })
                .map_err(|error| ObserveError::registry(error, None));
            (image.id.clone(), state)
        })
        .collect()
}

/// A line's newest golden build and the base image per platform its
/// index recorded.
type Observed = (LastBuild, BTreeMap<String, String>);

/// Every marker tag of the repository, by the version it marks.
type Markers = BTreeMap<Exact, Vec<(u64, Marker, String)>>;

async fn line_states(
    ledger: &Ledger<'_>,
    repository: &Repository,
    images: &[&Image],
    markers: &Markers,
) -> Vec<Result<Option<Observed>, RegistryError>> {
    futures::future::join_all(
        images
            .iter()
            .map(|image| line_state(ledger, repository, image, markers)),
    )
    .await
}

/// Whether a remembered tag list is confirmed by this run's own answers:
/// every line observed has a release whose floating tags, just asked of
/// the registry, all point at it. A build pushed or promoted since (by
/// another run, another machine, a rollback) moves a floating tag, so the
/// list is asked again; what stays unseen until the list is asked again
/// is an exact tag added or deleted without any floating tag moving.
fn every_line_confirmed(states: &[Result<Option<Observed>, RegistryError>]) -> bool {
    states.iter().all(|state| {
        let Ok(Some((last, _))) = state else {
            return false;
        };
        last.release.as_ref().is_some_and(|(_, digest)| {
            !last.floating.is_empty()
                && last
                    .floating
                    .iter()
                    .all(|tag| tag.digest.as_ref() == Some(digest))
        })
    })
}

/// Whether every exact tag answered from memory (`remembered`) is
/// confirmed by this run's own answers: it is the release of a line whose
/// floating tags, just asked of the registry, all point at the remembered
/// digest. Exact tags are immutable by contract; this is what keeps one
/// pushed over (or a registry replaced under the same name) from being
/// acted on: the floating tags then disagree, and the tags are asked again.
fn confirmed(
    remembered: &std::collections::BTreeSet<Exact>,
    states: &[Result<Option<Observed>, RegistryError>],
) -> bool {
    remembered.iter().all(|version| {
        states.iter().flatten().flatten().any(|(last, _)| {
            last.release.as_ref().is_some_and(|(release, digest)| {
                release == version
                    && !last.floating.is_empty()
                    && last
                        .floating
                        .iter()
                        .all(|tag| tag.digest.as_ref() == Some(digest))
            })
        })
    })
}

/// The newest golden build of `image`'s line (under upstream versioning,
/// the newest not withdrawn when there is one), its release and where the
/// floating tags that belong on the release point now; with the base
/// images per platform its index recorded. The release is the newest build
/// golden's own markers did not withdraw, and only when it is whole: an
/// incomplete one leaves the floating tags where they are (never on an
/// older build) until a new build replaces it.
async fn line_state(
    ledger: &Ledger<'_>,
    repository: &Repository,
    image: &Image,
    markers: &Markers,
) -> Result<Option<Observed>, RegistryError> {
    let registry = ledger.registry();
    let line = image.version;
    let Some(newest) = ledger.newest_golden(line, &[]).await? else {
        return Ok(None);
    };
    let withdrawn = withdrawn_down_to_release(ledger, markers, line).await?;
    let withdrawn = withdrawn.as_slice();
    let not_withdrawn = match withdrawn.contains(&newest.0) {
        false => Some(newest.clone()),
        true => ledger.newest_golden(line, withdrawn).await?,
    };
    let candidate = not_withdrawn
        .as_ref()
        .map(|(release, digest, _)| (*release, digest.clone()));
    // Under upstream versioning the build compared with is the newest not
    // withdrawn: after a rollback across upstream versions, a build of the
    // older version is compared with what it follows, not with the
    // withdrawn newer version (which would make the line due on every
    // run). Under line versioning, the newest build, withdrawn or not.
    let (version, digest, config) = match (image.versioning, not_withdrawn) {
        (Versioning::Upstream, Some(not_withdrawn)) => not_withdrawn,
        _ => newest,
    };
    let config = match config {
        Some(config) => config,
        None => {
            registry
                .image_config(&repository.tag(&version.tag()))
                .await?
        }
    };
    let (release, incomplete) = match candidate {
        None => (None, None),
        Some((candidate, digest)) => {
            match check_complete(registry, repository, &digest, &image.platforms)
                .await?
                .1
            {
                Ok(()) => (Some((candidate, digest)), None),
                Err(why) => (None, Some((candidate, why))),
            }
        }
    };
    let mut floating = Vec::new();
    if let Some((release, _)) = &release {
        let higher = ledger.golden_lines_above(line, markers).await?;
        let tags = floating_tags(*release, &higher, image.floating.as_deref());
        let references: Vec<Reference> = tags.iter().map(|tag| repository.tag(tag)).collect();
        let digests = futures::future::join_all(
            references
                .iter()
                .map(|reference| registry.manifest_digest(reference)),
        )
        .await;
        for (tag, digest) in tags.into_iter().zip(digests) {
            floating.push(FloatingTag {
                tag,
                digest: digest?,
            });
        }
    }
    // A multi-platform build is an index; the exact tag names one
    // platform's image only while a run is pushing (or after it died).
    let index = registry.index(&repository.digest(&digest)).await?;
    let platforms = index
        .as_ref()
        .map(|index| index.platforms())
        .unwrap_or_default();
    let base_platforms = index
        .as_ref()
        .and_then(|index| index.annotations.get(labels::BASE_PLATFORMS))
        .map(|value| labels::parse_base_platforms(value))
        .unwrap_or_default();
    let label = |key: &str| config.label(key);
    let last = LastBuild {
        version,
        digest,
        created: config
            .created()
            .and_then(|text| DateTime::parse_from_rfc3339(&text).ok())
            .map(|time| time.with_timezone(&Utc)),
        recipe: label(labels::RECIPE),
        recipe_parts: label(labels::RECIPE_PARTS),
        base_name: label(labels::BASE_NAME),
        base_digest: label(labels::BASE_DIGEST),
        floating,
        release,
        incomplete,
        withdrawn: withdrawn.to_vec(),
        platforms,
    };
    Ok(Some((last, base_platforms)))
}

fn observe_image(
    id: &str,
    lines: &mut BTreeMap<String, LineAndContext>,
    bases: &BTreeMap<String, Base>,
) -> Result<Observation, ObserveError> {
    let unobserved = || ObserveError::NotObserved(id.to_string());
    let (state, context) = lines.remove(id).ok_or_else(unobserved)?;
    let state = state?;
    let (recipe, entries) = context.unwrap_or_else(|| Err(unobserved()))?;
    let (base_digest, tracked) = bases.get(id).cloned().ok_or_else(unobserved)??;
    Ok(Observation {
        versions: state.versions,
        last_build: state.last_build,
        foreign: state.foreign,
        known: state.known,
        base_digest,
        base_platforms_changed: Vec::new(),
        recipe,
        entries: entries.to_vec(),
        tags_remembered: state.tags_remembered,
        tracked,
    })
}

/// The digest `reference` (an image's final FROM, `golden` when it names
/// a golden parent) resolves to now.
async fn base_digest(
    registry: &dyn Registry,
    reference: &Reference,
    golden: bool,
) -> Result<Option<Digest>, ObserveError> {
    if let Some(digest) = reference.digest() {
        return Ok(Some(digest.clone()));
    }
    match registry.manifest_digest(reference).await {
        Ok(Some(digest)) => Ok(Some(digest)),
        // A golden parent that was never pushed is built earlier in the run.
        Ok(None) if golden => Ok(None),
        Ok(None) => Err(ObserveError::BaseMissing {
            reference: reference.to_string(),
        }),
        Err(error) => Err(ObserveError::registry(
            error,
            Some(format!("failed to resolve base image `{reference}`")),
        )),
    }
}

/// The entries of `image`'s context and, with `hash`, its recipe, read on
/// a blocking thread (each context once in the run: see [`Recipes`]).
async fn context_of(
    image: &Image,
    hash: bool,
    cache: std::sync::Arc<Recipes>,
) -> Result<ContextRead, ObserveError> {
    let inputs = RecipeInputs {
        dockerfile: &image.dockerfile,
        build_args: &image.build_args,
        labels: &image.labels,
    };
    if let Some(ready) = cache.ready(&image.context, &inputs, hash) {
        return ready.map_err(ObserveError::Context);
    }
    let context = image.context.clone();
    let dockerfile = image.dockerfile.clone();
    let build_args = image.build_args.clone();
    let labels = image.labels.clone();
    let read = tokio::task::spawn_blocking(move || {
        if !hash {
            return cache
                .entries(&context, &dockerfile)
                .map(|entries| (None, entries));
        }
        let inputs = RecipeInputs {
            dockerfile: &dockerfile,
            build_args: &build_args,
            labels: &labels,
        };
        cache
            .recipe(&context, &inputs)
            .map(|(recipe, entries)| (Some(recipe), entries))
    })
    .await
    .map_err(|e| format!("reading the context failed: {e}"));
    read.and_then(|result| result)
        .map_err(ObserveError::Context)
}
