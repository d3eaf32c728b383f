//! Observe: ask the registry what exists now (each repository's tags, the
//! newest build of each line and its labels, the digest of every base) and
//! list each build context (hashing it only where the plan compares
//! recipes), into plain data for the planner. Lookups run
//! concurrently; a failed lookup is an error for that image only. The
//! types it fills live in the pure `observation` module.
//!
//! Here: the passes over the images and each build context read; per
//! concern, one repository's tags and lines (`repository`), one line's
//! state (`line`), the bases (`base`) and upstream tag tracking
//! (`tracking`); the tags golden learnt in a run (`ledger`).

mod base;
pub mod ledger;
mod line;
mod repository;
mod tracking;

use std::collections::{BTreeMap, BTreeSet};

use futures::stream::{self, StreamExt};

use crate::config::Image;
use crate::context::{ContextRead, RecipeInputs, Recipes};
use crate::name::Repository;
use crate::observation::{Observation, Observations, ObserveError};
use crate::plan::compares_recipe;
use crate::project::Project;
use crate::registry::{Registry, TagMemory};
use base::Base;
use repository::{observe_repository, LineState};
use tracking::UpstreamTags;

/// Registry lookups in flight at once.
const CONCURRENCY: usize = 16;

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

/// The client's memory of tags and what this pass may take from it.
#[derive(Clone, Copy)]
struct Recall<'a> {
    memory: &'a dyn TagMemory,
    mode: Memory,
}

impl<'a> Recall<'a> {
    fn new(memory: &'a dyn TagMemory, mode: Memory) -> Self {
        Recall { memory, mode }
    }
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
    memory: &dyn TagMemory,
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
        Recall::new(memory, Memory::Remembered),
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
            Recall::new(memory, Memory::Fresh),
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
    memory: &dyn TagMemory,
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
        Recall::new(memory, Memory::Fresh),
        &recipes,
        &upstream_tags,
    )
    .await
}

/// Observes every image in `ids`; those in `forced` are built whatever
/// their state, so their contexts are listed but not hashed (see
/// [`compares_recipe`]). Contexts are read through `recipes`, each once
/// however many images (or passes) ask.
async fn observe_with(
    project: &Project,
    registry: &dyn Registry,
    ids: &[String],
    forced: &BTreeSet<String>,
    memory: Recall<'_>,
    recipes: &std::sync::Arc<Recipes>,
    upstream_tags: &UpstreamTags,
) -> Observations {
    let lines = observe_lines(project, registry, ids, forced, memory, recipes);
    let bases = base::bases(project, registry, ids, upstream_tags);
    let (mut lines, mut bases) = futures::join!(lines, bases);
    tracking::held_bases(project, registry, &lines, &mut bases).await;
    let states: BTreeMap<&str, &Result<LineState, ObserveError>> = lines
        .iter()
        .map(|(id, (state, _))| (id.as_str(), state))
        .collect();
    let changed = base::platforms_changed(project, registry, ids, &states, &bases).await;
    ids.iter()
        .map(|id| {
            let result = observe_image(id, &mut lines, &bases).map(|mut observation| {
                observation.base_platforms_changed = changed.get(id).cloned().unwrap_or_default();
                observation.failing = project.failing.get(id).cloned();
                observation
            });
            (id.clone(), result)
        })
        .collect()
}

/// A line's state and, when it was read, its context.
type LineAndContext = (
    Result<LineState, ObserveError>,
    Option<Result<ContextRead, ObserveError>>,
);

/// The state of each image's line in `ids` (each repository's tags read
/// once) and its context. Each context is listed (and hashed, once its
/// line shows the plan compares recipes) as soon as its repository
/// answered, while other repositories are still being asked; each one once.
async fn observe_lines(
    project: &Project,
    registry: &dyn Registry,
    ids: &[String],
    forced: &BTreeSet<String>,
    memory: Recall<'_>,
    recipes: &std::sync::Arc<Recipes>,
) -> BTreeMap<String, LineAndContext> {
    let config = &project.config;
    let mut repositories: BTreeMap<Repository, Vec<&Image>> = BTreeMap::new();
    for image in ids.iter().filter_map(|id| config.image(id)) {
        repositories
            .entry(config.repository(image))
            .or_default()
            .push(image);
    }
    stream::iter(repositories)
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
                        let hash = compares_recipe(
                            forced,
                            line.last_build.is_some(),
                            project.failing.contains_key(&id),
                        );
                        Some(context_of(image, hash, cache).await)
                    }
                    _ => None,
                };
                (id, (state, context))
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await
}

/// One image's observation from its line, its context and its base.
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
        failing: None,
    })
}

/// The recipe digest of `image`'s context as it is now, or `None` when it
/// cannot be read: for a build that failed before observe hashed it (a
/// line never built, or forced), so its failing record knows its inputs.
pub async fn recipe_of(image: &Image) -> Option<String> {
    let (recipe, _) = context_of(image, true, std::sync::Arc::new(Recipes::default()))
        .await
        .ok()?;
    recipe.map(|recipe| recipe.digest)
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
        secrets: &image.recipe_secrets,
    };
    if let Some(ready) = cache.ready(&image.context, &inputs, hash) {
        return ready.map_err(ObserveError::Context);
    }
    let context = image.context.clone();
    let dockerfile = image.dockerfile.clone();
    let build_args = image.build_args.clone();
    let labels = image.labels.clone();
    let secrets = image.recipe_secrets.clone();
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
            secrets: &secrets,
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
