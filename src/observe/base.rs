//! Bases: what each image's final FROM resolves to now (each distinct
//! reference asked once, a tracked one once its tag is picked) and, for a
//! multi-platform line whose base moved, which platforms' images in the
//! base's index changed since its last build.

use std::collections::BTreeMap;

use futures::stream::{self, StreamExt};

use super::repository::LineState;
use super::tracking::{tracked_bases, UpstreamTags};
use super::CONCURRENCY;
use crate::graph::Upstream;
use crate::name::Digest;
use crate::observation::{ObserveError, Tracked};
use crate::project::Project;
use crate::reference::Reference;
use crate::registry::Registry;

/// What an image's final FROM resolves to now (`None` for scratch, and for
/// a golden parent never pushed) and, with `track`, the tag picked.
pub(super) type Base = Result<(Option<Digest>, Option<Tracked>), ObserveError>;

/// The base of each image in `ids`. Many images share a base: each
/// distinct one is resolved once (a tracked one once its repository's tags
/// picked the tag).
pub(super) async fn bases(
    project: &Project,
    registry: &dyn Registry,
    ids: &[String],
    upstream_tags: &UpstreamTags,
) -> BTreeMap<String, Base> {
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
    ids.iter()
        .filter_map(|id| {
            let node = project.graph.nodes.get(id)?;
            let base = match tracked.remove(id) {
                Some(Err(error)) => Err(error),
                Some(Ok(tracked)) => {
                    base_of(&digests, &tracked.resolved).map(|digest| (digest, Some(tracked)))
                }
                None => match node.upstream.reference() {
                    Some(reference) => base_of(&digests, reference).map(|d| (d, None)),
                    None => Ok((None, None)),
                },
            };
            Some((id.clone(), base))
        })
        .collect()
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

/// For each multi-platform line whose upstream base moved since its last
/// build, the platforms whose image in the base's index changed: the
/// base's index now (read only then) against what the last build's index
/// recorded. A line that recorded nothing, or a base that cannot be read
/// as an index, is left out (the build reads the base again and says why).
pub(super) async fn platforms_changed(
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
