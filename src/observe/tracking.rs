//! Upstream tag tracking: for images with `track`, the tag their final
//! FROM resolves to (the newest tag of the upstream repository the
//! pattern matches, each repository's tags listed once in the run), and,
//! under `adopt = "on-schedule"`, the tag a release is held on until the
//! schedule adopts the newer one.

use std::collections::{BTreeMap, BTreeSet};

use futures::stream::{self, StreamExt};

use super::base::Base;
use super::{LineAndContext, CONCURRENCY};
use crate::graph::Upstream;
use crate::name::{Digest, Repository};
use crate::observation::{Held, ObserveError, Tracked};
use crate::project::Project;
use crate::reference::Reference;
use crate::registry::Registry;

/// The tag lists of tracked upstream repositories asked in this run, by
/// repository: one request per repository, however many images track it
/// and however many passes observe them. Never answered from (nor written
/// to) the tag lists earlier runs remembered: a new upstream release is
/// exactly what a remembered list would miss, and nothing of this run's
/// confirms a vendor's list.
#[derive(Default)]
pub(super) struct UpstreamTags(
    std::sync::Mutex<BTreeMap<Repository, Result<Vec<String>, ObserveError>>>,
);

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
pub(super) async fn tracked_bases(
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

/// For each tracked image with `adopt = "on-schedule"` whose tag picked is
/// newer than the tag its last build was made FROM (its base name label):
/// that tag, resolved now, when it still matches the pattern, is not below
/// the tag written and exists. While the release waits for the schedule,
/// the plan compares the base with it and the build is made FROM it (see
/// [`Tracked::held`]). A failed lookup fails the image, as its base's would.
pub(super) async fn held_bases(
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
