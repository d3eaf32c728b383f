//! `golden prune [ID...]`: deletes old builds, keeping the newest N of
//! each line and every build a tag needs; a dry run unless `--apply`. Every
//! repository is read and decided (pure, in `crate::history::prune`)
//! before anything is deleted.

use std::collections::BTreeMap;

use crate::cli::Output;
use crate::exit::{Exit, Failure};
use crate::hint::Hinted;
use crate::history::{self, Inventory};
use crate::name::Repository;
use crate::registry::Registry;
use crate::session::Session;

/// How `golden prune` runs.
pub(super) struct Settings {
    /// Builds to keep per line, over each image's `[retention] keep`.
    pub keep: Option<u32>,
    /// Delete; otherwise only show what would go.
    pub apply: bool,
    pub output: Output,
    pub wait_lock: std::time::Duration,
}

pub(super) async fn run(
    session: &Session,
    ids: &[String],
    options: &Settings,
) -> Result<Exit, Failure> {
    let project = &session.project;
    let images = session.images(ids)?;
    // Every line needs a number before anything is read.
    let mut by_repository: BTreeMap<Repository, Vec<history::prune::Target>> = BTreeMap::new();
    // Every line of a repository shares its versioning (config validation).
    let mut versioning = BTreeMap::new();
    for image in &images {
        let keep = options.keep.or(image.keep).ok_or_else(|| {
            Failure::usage(Hinted::new(
                format!("no retention is set for `{}`", image.id),
                format!(
                    "pass --keep N, or add `[defaults.retention]` (or `[images.{}.retention]`) with `keep = N` to `{}`",
                    image.id,
                    project.config.source.path.display()
                ),
            ))
        })?;
        versioning.insert(project.config.repository(image), image.versioning);
        by_repository
            .entry(project.config.repository(image))
            .or_default()
            .push(history::prune::Target {
                id: image.id.clone(),
                line: image.version,
                keep,
            });
    }
    // Deleting takes the lock, so no build moves a tag meanwhile.
    let _lock = match options.apply {
        true => Some(
            session
                .lock(options.wait_lock, "nothing was deleted")
                .await?,
        ),
        false => None,
    };
    let registry = session.connect_registry(session.credentials()?).await?;
    // Every repository is read and decided before anything is deleted.
    let mut plans = Vec::new();
    let mut references = Vec::new();
    for (repository, targets) in &by_repository {
        let reference = repository.clone();
        let inventory = Inventory::read(&registry, &reference)
            .await
            .map_err(|error| {
                Failure::registry(
                    error,
                    &format!("failed to list `{repository}`; nothing was deleted"),
                )
            })?
            .under(versioning.get(repository).copied().unwrap_or_default());
        let lines: Vec<_> = targets.iter().map(|target| target.line).collect();
        let read_failed = |error| {
            Failure::registry(
                error,
                &format!("failed to read the builds of `{repository}`; nothing was deleted"),
            )
        };
        let golden = history::classify(&registry, &reference, &inventory, &lines)
            .await
            .map_err(read_failed)?;
        let indexes = history::index_children(&registry, &reference, &inventory)
            .await
            .map_err(read_failed)?;
        let facts = history::prune::Facts {
            golden: &golden,
            indexes: &indexes,
        };
        plans.push(history::prune::plan(
            repository, &inventory, targets, &facts,
        ));
        references.push(reference);
    }
    if options.apply {
        let mut deleted = 0;
        for (plan, reference) in plans.iter().zip(&references) {
            deleted = delete(&registry, reference, plan, deleted).await?;
        }
    }
    super::print(
        options.output,
        || history::prune::render_text(&plans, options.apply),
        || {
            crate::ui::output::json(&serde_json::json!({
                "applied": options.apply,
                "repositories": plans,
            }))
        },
    );
    Ok(Exit::Success)
}

/// Deletes the plan's manifests one by one, an index before its platform
/// images (so no index is ever left naming a deleted image); `before` were
/// deleted earlier in the run, which a failure reports. Returns the new
/// count.
async fn delete(
    registry: &dyn Registry,
    repository: &Repository,
    plan: &history::prune::Plan,
    mut deleted: usize,
) -> Result<usize, Failure> {
    for deletion in &plan.deletions {
        let manifests = std::iter::once(&deletion.digest).chain(&deletion.children);
        for (position, digest) in manifests.enumerate() {
            if let Err(error) = registry.delete_manifest(repository, digest).await {
                let what = match position {
                    0 => format!(
                        "failed to delete {digest} (tags {}); {deleted} manifest(s) were deleted before it",
                        deletion.tags.join(", "),
                    ),
                    _ => format!(
                        "failed to delete {digest}, a platform image of the deleted index {} (tags {}); {deleted} manifest(s) were deleted before it; no tag names it any more, so delete it by digest (`DELETE /v2/{repository_path}/manifests/{digest}`) or with `registry garbage-collect --delete-untagged`",
                        deletion.digest,
                        deletion.tags.join(", "),
                        repository_path = repository.path(),
                    ),
                };
                return Err(Failure::registry(error, &what));
            }
            deleted += 1;
        }
        tracing::info!(
            digest = %deletion.digest,
            tags = %deletion.tags.join(", "),
            children = deletion.children.len(),
            "deleted"
        );
    }
    Ok(deleted)
}
