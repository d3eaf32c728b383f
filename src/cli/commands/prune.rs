//! `golden prune [ID...]`: deletes old builds, keeping the newest N of
//! each line and every build a tag needs; a dry run unless `--apply`. Every
//! repository is read and decided (pure, in `crate::history::prune`)
//! before anything is deleted.

use std::collections::BTreeMap;

use crate::cli::Output;
use crate::config::Image;
use crate::exit::{Exit, Failure};
use crate::hint::Hinted;
use crate::history::{self, Inventory};
use crate::name::Repository;
use crate::project::Project;
use crate::registry::Registry;
use crate::session::Session;
use crate::version::Versioning;

/// How `golden prune` runs.
pub(super) struct Settings {
    /// Builds to keep per line, over each image's `[retention] keep`.
    pub keep: Option<u32>,
    /// Delete; otherwise only show what would go.
    pub apply: bool,
    pub output: Output,
    pub wait_lock: std::time::Duration,
}

/// Numbers every line, reads and decides every repository, then, with
/// `--apply`, deletes; reports what went (or would).
pub(super) async fn run(
    session: &Session,
    ids: &[String],
    options: &Settings,
) -> Result<Exit, Failure> {
    let images = session.images(ids)?;
    // Every line needs a number before anything is read.
    let by_repository = targets(&session.project, &images, options.keep)?;
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
    for (repository, lines) in &by_repository {
        plans.push(decide(&registry, repository, lines).await?);
    }
    if options.apply {
        let mut deleted = 0;
        for (plan, repository) in plans.iter().zip(by_repository.keys()) {
            deleted = delete(&registry, repository, plan, deleted).await?;
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

/// The lines pruned in one repository, and the repository's versioning
/// (every line of a repository shares it: config validation).
#[derive(Default)]
struct Lines {
    versioning: Versioning,
    targets: Vec<history::prune::Target>,
}

/// The lines of `images` by repository, each with the number of builds
/// it keeps (`keep`, over each image's `[retention] keep`); a line
/// without one is a usage error.
fn targets(
    project: &Project,
    images: &[&Image],
    keep: Option<u32>,
) -> Result<BTreeMap<Repository, Lines>, Failure> {
    let mut by_repository: BTreeMap<Repository, Lines> = BTreeMap::new();
    for image in images {
        let keep = keep.or(image.keep).ok_or_else(|| {
            Failure::usage(Hinted::new(
                format!("no retention is set for `{}`", image.id),
                format!(
                    "pass --keep N, or add `[defaults.retention]` (or `[images.{}.retention]`) with `keep = N` to `{}`",
                    image.id,
                    project.config.source.path.display()
                ),
            ))
        })?;
        let lines = by_repository
            .entry(project.config.repository(image))
            .or_default();
        lines.versioning = image.versioning;
        lines.targets.push(history::prune::Target {
            id: image.id.clone(),
            line: image.version,
            keep,
        });
    }
    Ok(by_repository)
}

/// Reads `repository` (its tags, which are golden builds, the platform
/// images of each index) and decides what of it goes.
async fn decide(
    registry: &dyn Registry,
    repository: &Repository,
    lines: &Lines,
) -> Result<history::prune::Plan, Failure> {
    let inventory = Inventory::read(registry, repository)
        .await
        .map_err(|error| {
            Failure::registry(
                error,
                &format!("failed to list `{repository}`; nothing was deleted"),
            )
        })?
        .under(lines.versioning);
    let line_numbers: Vec<_> = lines.targets.iter().map(|target| target.line).collect();
    let read_failed = |error| {
        Failure::registry(
            error,
            &format!("failed to read the builds of `{repository}`; nothing was deleted"),
        )
    };
    let golden = history::classify(registry, repository, &inventory, &line_numbers)
        .await
        .map_err(read_failed)?;
    let indexes = history::index_children(registry, repository, &inventory)
        .await
        .map_err(read_failed)?;
    let facts = history::prune::Facts {
        golden: &golden,
        indexes: &indexes,
    };
    Ok(history::prune::plan(
        repository,
        &inventory,
        &lines.targets,
        &facts,
    ))
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
        // Listed before the build goes: a registry with the referrers API
        // may list nothing for a subject it no longer has.
        let mut attached = Vec::new();
        for digest in std::iter::once(&deletion.digest).chain(&deletion.children) {
            attached.push((digest, list_attached(registry, repository, digest).await));
        }
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
        delete_signature(registry, repository, &deletion.digest).await;
        for (digest, artifacts) in attached {
            delete_attached(registry, repository, digest, &artifacts).await;
        }
    }
    Ok(deleted)
}

/// The artifacts attached to the manifest `digest` (its SBOMs, its scan
/// record); none, with a warning, when they cannot be listed.
async fn list_attached(
    registry: &dyn Registry,
    repository: &Repository,
    digest: &crate::name::Digest,
) -> Vec<crate::referrers::Referrer> {
    crate::referrers::list(registry, repository, digest)
        .await
        .unwrap_or_else(|error| {
            tracing::warn!("could not list the artifacts attached to {digest}: {error}");
            Vec::new()
        })
}

/// Deletes the artifacts `attached` to the deleted manifest `digest` and
/// the fallback index `sha256-<hex>` that listed them. A failure is a
/// warning; the build is gone either way.
async fn delete_attached(
    registry: &dyn Registry,
    repository: &Repository,
    digest: &crate::name::Digest,
    attached: &[crate::referrers::Referrer],
) {
    for artifact in attached {
        if let Err(error) = registry.delete_manifest(repository, &artifact.digest).await {
            tracing::warn!(
                "could not delete the artifact {} attached to the deleted build {digest}: {error}",
                artifact.digest
            );
        }
    }
    let tag = crate::referrers::fallback_tag(digest);
    match registry.manifest_digest(&repository.tag(&tag)).await {
        Ok(Some(index)) => match registry.delete_manifest(repository, &index).await {
            Ok(()) => {
                tracing::info!(%digest, "deleted its {} attached artifact(s) and `{tag}`", attached.len())
            }
            Err(error) => {
                tracing::warn!("could not delete `{tag}` of the deleted build {digest}: {error}")
            }
        },
        Ok(None) => {}
        Err(error) => {
            tracing::warn!("could not look up `{tag}` of the deleted build {digest}: {error}")
        }
    }
}

/// Deletes the signature golden stored beside the deleted build `digest`
/// (`sha256-<hex>.sig`), if there is one: it vouches for nothing now. A
/// failure is a warning; the build is gone either way.
async fn delete_signature(
    registry: &dyn Registry,
    repository: &Repository,
    digest: &crate::name::Digest,
) {
    let tag = crate::signing::signature_tag(digest);
    let signature = match registry.manifest_digest(&repository.tag(&tag)).await {
        Ok(Some(signature)) => signature,
        Ok(None) => return,
        Err(error) => {
            tracing::warn!(
                "could not look up the signature `{tag}` of the deleted build {digest}: {error}"
            );
            return;
        }
    };
    match registry.delete_manifest(repository, &signature).await {
        Ok(()) => tracing::info!(%digest, "deleted its signature `{tag}`"),
        Err(error) => tracing::warn!(
            "could not delete the signature `{tag}` of the deleted build {digest}: {error}"
        ),
    }
}
