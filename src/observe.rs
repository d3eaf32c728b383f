//! Observe: ask the registry what exists now (each repository's tags, the
//! newest build of each line and its labels, the digest of every base) and
//! hash each build context, into plain data for the planner. Lookups run
//! concurrently; a failed lookup is an error for that image only.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt};

use crate::config::{Config, Image};
use crate::context::{entries, recipe_digest, Entry, Ignore, RecipeInputs};
use crate::graph::Upstream;
use crate::labels;
use crate::project::Project;
use crate::reference::Reference;
use crate::registry::{Registry, RegistryError};
use crate::version::{exact_versions, newest_in_line, release_in_line, withdrawn_versions, Exact};

/// Registry lookups in flight at once.
const CONCURRENCY: usize = 16;

/// What the newest build of a line recorded about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastBuild {
    pub version: Exact,
    pub digest: String,
    pub created: Option<DateTime<Utc>>,
    pub recipe: Option<String>,
    pub base_name: Option<String>,
    pub base_digest: Option<String>,
    /// What the line's floating tag `X.Y` resolves to now; it lags behind
    /// `digest` when a run died between the exact push and the promotion.
    pub line_tag_digest: Option<String>,
    /// The newest build of the line that `golden rollback` did not withdraw,
    /// and its digest: where the floating tags belong. The same as
    /// `version` unless newer builds were withdrawn; `None` when all were.
    pub release: Option<(Exact, String)>,
    /// The line's builds that a rollback withdrew.
    pub withdrawn: Vec<Exact>,
}

/// A repository's exact versions and the ones a rollback withdrew.
#[derive(Debug, Clone, Default)]
struct TagList {
    versions: Vec<Exact>,
    withdrawn: Vec<Exact>,
}

/// Everything observed about one image.
#[derive(Debug, Clone)]
pub struct Observation {
    /// Every exact version in the image's repository, all lines, sorted.
    pub versions: Vec<Exact>,
    pub last_build: Option<LastBuild>,
    /// The digest the final FROM resolves to now (`None` for scratch).
    pub base_digest: Option<String>,
    /// The recipe digest of the context as it is now.
    pub recipe: String,
    /// The context entries the recipe covers, reused for the build.
    pub entries: Vec<Entry>,
}

/// Why an image could not be observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObserveError {
    /// The error, its causes and a hint, one per line.
    pub message: String,
    /// The registry could not be reached at all (exit code 3).
    pub unreachable: bool,
}

impl std::fmt::Display for ObserveError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.message)
    }
}

impl From<String> for ObserveError {
    fn from(message: String) -> Self {
        ObserveError {
            message,
            unreachable: false,
        }
    }
}

/// Observations by image id; an `Err` is that image's failed lookup.
pub type Observations = BTreeMap<String, Result<Observation, ObserveError>>;

/// Observes every image in `ids`.
pub async fn observe(project: &Project, registry: &dyn Registry, ids: &[String]) -> Observations {
    let config = &project.config;
    let repositories: BTreeSet<String> = ids
        .iter()
        .filter_map(|id| config.image(id))
        .map(|image| config.repository(image))
        .collect();
    let tag_lists: BTreeMap<String, Result<TagList, ObserveError>> = stream::iter(repositories)
        .map(|repository| async move {
            let result = match Reference::parse(&repository) {
                Ok(reference) => registry
                    .tags(&reference)
                    .await
                    .map(|tags| TagList {
                        versions: exact_versions(tags.iter().map(String::as_str)),
                        withdrawn: withdrawn_versions(tags.iter().map(String::as_str)),
                    })
                    .map_err(|e| render(&e, None)),
                Err(error) => Err(ObserveError::from(error.to_string())),
            };
            (repository, result)
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    // Many images share a base: each distinct one is resolved once.
    let upstreams: BTreeMap<String, &Upstream> = ids
        .iter()
        .filter_map(|id| project.graph.nodes.get(id))
        .filter_map(|node| {
            let reference = node.upstream.reference()?;
            Some((reference.to_string(), &node.upstream))
        })
        .collect();
    let bases: BTreeMap<String, Result<Option<String>, ObserveError>> = stream::iter(upstreams)
        .map(|(text, upstream)| async move { (text, base_digest(registry, upstream).await) })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let tag_lists = Arc::new(tag_lists);
    let bases = Arc::new(bases);
    stream::iter(ids.iter().cloned())
        .map(|id| {
            let tag_lists = tag_lists.clone();
            let bases = bases.clone();
            async move {
                let result = observe_image(project, registry, &id, &tag_lists, &bases).await;
                (id, result)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await
}

/// A registry error as an observation error, with its hint.
fn render(error: &RegistryError, context: Option<String>) -> ObserveError {
    let text = match context {
        Some(context) => format!("{context}: {error}"),
        None => error.to_string(),
    };
    let message = match error.hint() {
        Some(hint) => format!("{text}\nhint: {hint}"),
        None => text,
    };
    ObserveError {
        message,
        unreachable: error.is_unreachable(),
    }
}

async fn observe_image(
    project: &Project,
    registry: &dyn Registry,
    id: &str,
    tag_lists: &BTreeMap<String, Result<TagList, ObserveError>>,
    bases: &BTreeMap<String, Result<Option<String>, ObserveError>>,
) -> Result<Observation, ObserveError> {
    let config = &project.config;
    let image = config
        .image(id)
        .ok_or_else(|| format!("unknown image `{id}`"))?;
    let node = project
        .graph
        .nodes
        .get(id)
        .ok_or_else(|| format!("unknown image `{id}`"))?;
    let repository_text = config.repository(image);
    let repository = Reference::parse(&repository_text).map_err(|e| e.to_string())?;
    let list = tag_lists
        .get(&repository_text)
        .cloned()
        .unwrap_or_else(|| Ok(TagList::default()))?;
    let versions = list.versions;
    let recipe = recipe_of(image);
    let last_build = last_build(registry, &repository, &versions, &list.withdrawn, image);
    let base_digest = match node.upstream.reference() {
        Some(reference) => bases
            .get(&reference.to_string())
            .cloned()
            .unwrap_or(Ok(None)),
        None => Ok(None),
    };
    let (recipe, last_build) = futures::join!(recipe, last_build);
    let (recipe, entries) = recipe?;
    Ok(Observation {
        versions,
        last_build: last_build?,
        base_digest: base_digest?,
        recipe,
        entries,
    })
}

async fn last_build(
    registry: &dyn Registry,
    repository: &Reference,
    versions: &[Exact],
    withdrawn: &[Exact],
    image: &Image,
) -> Result<Option<LastBuild>, ObserveError> {
    let Some(version) = newest_in_line(image.version, versions) else {
        return Ok(None);
    };
    let release = release_in_line(image.version, versions, withdrawn);
    let reference = repository.with_tag(&version.to_string());
    let line_tag = repository.with_tag(&image.version.to_string());
    // The release's digest costs a request only when it is not the newest.
    let held = release.filter(|release| *release != version);
    let release_digest = async {
        match held {
            Some(release) => {
                let reference = repository.with_tag(&release.to_string());
                registry.manifest_digest(&reference).await
            }
            None => Ok(None),
        }
    };
    let (config, line_tag_digest, release_digest) = futures::join!(
        registry.image_config(&reference),
        registry.manifest_digest(&line_tag),
        release_digest
    );
    let config = config.map_err(|e| render(&e, None))?;
    let line_tag_digest = line_tag_digest.map_err(|e| render(&e, None))?;
    let release_digest = release_digest.map_err(|e| render(&e, None))?;
    let release = match (release, release_digest) {
        (Some(release), _) if release == version => Some((release, config.digest.clone())),
        (Some(release), Some(digest)) => Some((release, digest)),
        _ => None,
    };
    let label = |key: &str| config.label(key);
    Ok(Some(LastBuild {
        version,
        digest: config.digest.clone(),
        created: config
            .created()
            .and_then(|text| DateTime::parse_from_rfc3339(&text).ok())
            .map(|time| time.with_timezone(&Utc)),
        recipe: label(labels::RECIPE),
        base_name: label(labels::BASE_NAME),
        base_digest: label(labels::BASE_DIGEST),
        line_tag_digest,
        release,
        withdrawn: withdrawn
            .iter()
            .copied()
            .filter(|v| v.line == image.version)
            .collect(),
    }))
}

async fn base_digest(
    registry: &dyn Registry,
    upstream: &Upstream,
) -> Result<Option<String>, ObserveError> {
    let Some(reference) = upstream.reference() else {
        return Ok(None);
    };
    if let Some(digest) = reference.digest() {
        return Ok(Some(digest.to_string()));
    }
    match registry.manifest_digest(reference).await {
        Ok(Some(digest)) => Ok(Some(digest)),
        // A golden parent that was never pushed is built earlier in the run.
        Ok(None) if matches!(upstream, Upstream::Golden { .. }) => Ok(None),
        Ok(None) => Err(ObserveError::from(format!(
            "base image `{reference}` does not exist in its registry\nhint: push it, or fix the FROM line and build args"
        ))),
        Err(error) => Err(render(&error, Some(format!("failed to resolve base image `{reference}`")))),
    }
}

/// The recipe digest and the entries it covers, hashed on a blocking thread.
async fn recipe_of(image: &Image) -> Result<(String, Vec<Entry>), String> {
    let context = image.context.clone();
    let dockerfile = image.dockerfile.clone();
    let build_args = image.build_args.clone();
    let labels = image.labels.clone();
    tokio::task::spawn_blocking(move || {
        let ignore = Ignore::load(&context).map_err(|e| e.to_string())?;
        let list = entries(&context, &ignore, &[dockerfile.as_str(), ".dockerignore"])
            .map_err(|e| format!("{e}: {}", error_source(&e)))?;
        let inputs = RecipeInputs {
            dockerfile: &dockerfile,
            build_args: &build_args,
            labels: &labels,
        };
        let digest = recipe_digest(&context, &list, &inputs)
            .map_err(|e| format!("{e}: {}", error_source(&e)))?;
        Ok((digest, list))
    })
    .await
    .map_err(|e| format!("hashing the context failed: {e}"))?
}

fn error_source(error: &dyn std::error::Error) -> String {
    error.source().map(|s| s.to_string()).unwrap_or_default()
}

/// The config repository's commit, when the config lives in a git checkout.
pub async fn revision(config: &Config) -> Option<String> {
    let directory = config
        .source
        .path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let output = tokio::process::Command::new("git")
        .arg("-C")
        .arg(directory)
        .args(["rev-parse", "HEAD"])
        .output()
        .await
        .ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    let commit = text.trim();
    (output.status.success() && commit.len() >= 40).then(|| commit.to_string())
}
