//! `golden ls`, `golden prune` and `golden rollback`: read the inventory,
//! decide (pure, in `crate::history`), then act and print.

use std::collections::BTreeMap;
use std::io::Write;

use anyhow::anyhow;

use super::{connect_registry, credentials, lock, select, Exit, Failure, Output};
use crate::config::Image;
use crate::history::{self, Inventory};
use crate::name::Repository;
use crate::project::Project;
use crate::provenance::Ledger;
use crate::registry::{Registry, RegistryError};
use crate::version::Exact;

/// How `golden prune` runs.
pub(super) struct PruneOptions {
    pub keep: Option<u32>,
    pub apply: bool,
    pub output: Output,
    pub wait_lock: std::time::Duration,
}

/// Writes `text` on stdout; human text has control characters escaped
/// (JSON escapes its own).
fn print(text: &str) {
    let text = crate::sanitize::terminal(text);
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush());
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value)
        .map(|json| json + "\n")
        .unwrap_or_default()
}

/// A registry failure: exit 3 when it could not be reached, else 1 (the
/// error's hint is printed with it).
fn registry_failure(error: RegistryError, what: &str) -> Failure {
    let exit = super::registry_exit(&error);
    Failure::new(exit, anyhow::Error::new(error).context(what.to_string()))
}

/// The images `ids` names, all when none; in config order.
fn images<'p>(project: &'p Project, ids: &[String]) -> Result<Vec<&'p Image>, Failure> {
    let selected = select(project, ids)?;
    Ok(project
        .config
        .images
        .iter()
        .filter(|image| selected.is_empty() || selected.contains(&image.id))
        .collect())
}

pub(super) async fn ls(project: &Project, ids: &[String], output: Output) -> Result<Exit, Failure> {
    let images = images(project, ids)?;
    let registry = connect_registry(project, credentials(project)?).await?;
    let listings = history::ls::list(&project.config, &images, &registry)
        .await
        .map_err(|error| registry_failure(error, "failed to list the registry"))?;
    print(&match output {
        Output::Human => history::ls::render_text(&listings),
        Output::Json => json(&serde_json::json!({ "images": listings })),
    });
    Ok(Exit::Success)
}

pub(super) async fn prune(
    project: &Project,
    ids: &[String],
    options: &PruneOptions,
) -> Result<Exit, Failure> {
    let images = images(project, ids)?;
    // Every line needs a number before anything is read.
    let mut by_repository: BTreeMap<Repository, Vec<history::prune::Target>> = BTreeMap::new();
    for image in &images {
        let keep = options.keep.or(image.keep).ok_or_else(|| {
            Failure::new(
                Exit::Usage,
                anyhow!(
                    "no retention is set for `{}`\nhint: pass --keep N, or add `[defaults.retention]` (or `[images.{}.retention]`) with `keep = N` to `{}`",
                    image.id,
                    image.id,
                    project.config.source.path.display()
                ),
            )
        })?;
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
        true => Some(lock(project, options.wait_lock, "nothing was deleted").await?),
        false => None,
    };
    let registry = connect_registry(project, credentials(project)?).await?;
    // Every repository is read and decided before anything is deleted.
    let mut plans = Vec::new();
    let mut references = Vec::new();
    for (repository, targets) in &by_repository {
        let reference = repository.clone();
        let inventory = Inventory::read(&registry, &reference)
            .await
            .map_err(|error| {
                registry_failure(
                    error,
                    &format!("failed to list `{repository}`; nothing was deleted"),
                )
            })?;
        let lines: Vec<_> = targets.iter().map(|target| target.line).collect();
        let read_failed = |error| {
            registry_failure(
                error,
                &format!("failed to read the builds of `{repository}`; nothing was deleted"),
            )
        };
        let golden = history::classify(&registry, &reference, &inventory, &lines)
            .await
            .map_err(read_failed)?;
        let referenced = history::referenced_by_indexes(&registry, &reference, &inventory)
            .await
            .map_err(read_failed)?;
        let facts = history::prune::Facts {
            golden: &golden,
            referenced: &referenced,
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
    print(&match options.output {
        Output::Human => history::prune::render_text(&plans, options.apply),
        Output::Json => json(&serde_json::json!({
            "applied": options.apply,
            "repositories": plans,
        })),
    });
    Ok(Exit::Success)
}

/// Deletes the plan's manifests one by one; `before` were deleted earlier
/// in the run, which a failure reports. Returns the new count.
async fn delete(
    registry: &dyn Registry,
    repository: &Repository,
    plan: &history::prune::Plan,
    before: usize,
) -> Result<usize, Failure> {
    for (index, deletion) in plan.deletions.iter().enumerate() {
        if let Err(error) = registry.delete_manifest(repository, &deletion.digest).await {
            let what = format!(
                "failed to delete {} (tags {}); {} manifest(s) were deleted before it",
                deletion.digest,
                deletion.tags.join(", "),
                before + index
            );
            return Err(registry_failure(error, &what));
        }
        tracing::info!(digest = %deletion.digest, tags = %deletion.tags.join(", "), "deleted");
    }
    Ok(before + plan.deletions.len())
}

pub(super) async fn rollback(
    project: &Project,
    id: &str,
    to: Option<Exact>,
    dry_run: bool,
    output: Output,
    wait_lock: std::time::Duration,
) -> Result<Exit, Failure> {
    let image = images(project, std::slice::from_ref(&id.to_string()))?
        .into_iter()
        .next()
        .ok_or_else(|| Failure::new(Exit::Usage, anyhow!("unknown image `{id}`")))?;
    let _lock = match dry_run {
        true => None,
        false => Some(lock(project, wait_lock, "nothing was rolled back").await?),
    };
    let registry = connect_registry(project, credentials(project)?).await?;
    let repository = project.config.repository(image);
    let reference = repository.clone();
    // Only the line's own builds and its floating tags need a digest; other
    // tags (other lines, withdrawn markers) count by name alone.
    let line = image.version;
    let floating = history::line_floating_tags(line);
    let wanted = |tag: &str| {
        floating.iter().any(|f| f == tag) || tag.parse::<Exact>().is_ok_and(|v| v.line == line)
    };
    let inventory = Inventory::read_some(&registry, &reference, wanted)
        .await
        .map_err(|error| {
            registry_failure(
                error,
                &format!("failed to list `{repository}`; nothing was rolled back"),
            )
        })?;
    let read_failed = |error| {
        registry_failure(
            error,
            &format!("failed to read the builds of `{repository}`; nothing was rolled back"),
        )
    };
    let golden = history::classify(&registry, &reference, &inventory, &[line])
        .await
        .map_err(read_failed)?;
    // `X` and `latest` stay with higher golden lines; foreign tags count
    // for nothing.
    let higher = Ledger::new(&registry, reference.clone(), inventory.versions())
        .golden_lines_above(line)
        .await
        .map_err(read_failed)?;
    let plan = history::rollback::plan(id, &repository, &inventory, line, to, &golden, &higher)
        .map_err(|error| Failure::new(Exit::Usage, anyhow!("{error}")))?;
    if !dry_run {
        // The restored build first: cut short after it, the newest build
        // not withdrawn is still the release, so nothing moves backwards.
        if let Some(restore) = &plan.restore {
            registry
                .copy_tag(&reference, &restore.digest, &restore.tag)
                .await
                .map_err(|error| {
                    registry_failure(
                        error,
                        &format!(
                            "failed to restore with tag `{}`; no floating tag was moved (run the rollback again)",
                            restore.tag
                        ),
                    )
                })?;
        }
        // Oldest first: cut short, the newest build stays the release, so the
        // next build moves nothing.
        for withdrawal in &plan.withdraw {
            let marker = &withdrawal.tag;
            registry
                .copy_tag(&reference, &withdrawal.digest, marker)
                .await
                .map_err(|error| {
                    registry_failure(
                        error,
                        &format!(
                            "failed to withdraw with tag `{marker}`; no floating tag was moved (run the rollback again)"
                        ),
                    )
                })?;
        }
        let mut moved: Vec<&str> = Vec::new();
        for step in &plan.moves {
            registry
                .copy_tag(&reference, &step.to, &step.tag)
                .await
                .map_err(|error| {
                    let so_far = if moved.is_empty() { "none".to_string() } else { moved.join(", ") };
                    registry_failure(
                        error,
                        &format!("failed to move `{}` (moved so far: {so_far}); the next `golden build` finishes the rollback", step.tag),
                    )
                })?;
            moved.push(step.tag.as_str());
        }
    }
    print(&match output {
        Output::Human => history::rollback::render_text(&plan, !dry_run),
        Output::Json => json(&serde_json::json!({ "applied": !dry_run, "rollback": plan })),
    });
    Ok(Exit::Success)
}
