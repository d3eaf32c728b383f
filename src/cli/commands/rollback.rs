//! `golden rollback ID`: moves a line's floating tags back to its previous
//! build (or `--to`), withdrawing the newer ones. Decided (pure) in
//! `crate::history::rollback`; nothing is written unless the target can be
//! tagged (its platform images all exist); the restored build is tagged first, then
//! the withdrawals, then the moves, so a run cut short never moves a tag
//! backwards.

use std::collections::BTreeMap;

use crate::cli::Output;
use crate::config::Image;
use crate::exit::{Exit, Failure};
use crate::history::{self, Inventory};
use crate::name::Repository;
use crate::observe::ledger::Ledger;
use crate::project::Project;
use crate::provenance::{configured_floating, Foreign, Higher};
use crate::registry::Registry;
use crate::session::Session;
use crate::version::{marker_tags, parse_marker, Exact, UpstreamVersion};

/// How `golden rollback` runs.
pub(super) struct Settings {
    /// The exact version to go back to; the one before the release if none.
    pub to: Option<Exact>,
    /// Move the tags; otherwise only show what would move (`--dry-run`).
    pub apply: bool,
    pub output: Output,
    pub wait_lock: std::time::Duration,
}

/// Reads the line's history, decides the rollback and, unless it is a dry
/// run, tags it; then reports what moved (or would).
pub(super) async fn run(session: &Session, id: &str, settings: &Settings) -> Result<Exit, Failure> {
    let project = &session.project;
    let image = session.image(id)?;
    let _lock = match settings.apply {
        false => None,
        true => Some(
            session
                .lock(settings.wait_lock, "nothing was rolled back")
                .await?,
        ),
    };
    let registry = session.connect_registry(session.credentials()?).await?;
    let repository = project.config.repository(image);
    let line = LineHistory::read(&registry, project, image, &repository).await?;
    let plan = history::rollback::plan(
        id,
        &repository,
        &line.inventory,
        history::rollback::Target {
            line: image.version,
            floating: image.floating.as_deref(),
        },
        settings.to,
        &line.golden,
        &line.higher,
    )
    .map_err(Failure::usage)?;
    if settings.apply {
        // With [signing], floating tags go back only to a signed build.
        if let Some(key) = crate::keys::promotion_key(&project.config)? {
            let verdict = crate::signing::verify(&registry, &repository, &plan.digest, &key)
                .await
                .map_err(|error| Failure::new(Exit::of_registry(&error), error))?;
            if !verdict.verified {
                return Err(Failure::new(
                    Exit::ImageFailed,
                    crate::hint::Hinted::new(
                        format!(
                            "golden rolls `{id}` back to no unsigned build: `{}` ({}) has no signature that verifies with [signing]'s key; nothing was moved",
                            plan.to, plan.digest
                        ),
                        "roll back to a signed build (`golden rollback ID --to X.Y.N`), or sign this one with `cosign sign --key`",
                    ),
                ));
            }
        }
        apply(&registry, &repository, &plan).await?;
    }
    super::print(
        settings.output,
        || history::rollback::render_text(&plan, settings.apply),
        || {
            crate::ui::output::json(
                &serde_json::json!({ "applied": settings.apply, "rollback": plan }),
            )
        },
    );
    Ok(Exit::Success)
}

/// What the registry holds for one line, as the rollback decides on it.
struct LineHistory {
    /// The repository's tags, those of the line resolved.
    inventory: Inventory,
    /// The line's whole golden builds (the targets) and why others are not.
    golden: BTreeMap<Exact, Result<(), Foreign>>,
    /// The higher golden lines that keep `X` and `latest`.
    higher: Higher,
}

impl LineHistory {
    /// Reads `image`'s line in `repository`.
    async fn read(
        registry: &dyn Registry,
        project: &Project,
        image: &Image,
        repository: &Repository,
    ) -> Result<LineHistory, Failure> {
        // Only the line's own builds, its markers (one counts only when it is
        // a copy of its build) and its floating tags (`X.Y.Z` ones included)
        // need a digest; other tags (other lines) count by name alone.
        let line = image.version;
        let floating = history::line_floating_tags(line);
        let upstream = image.versioning == crate::version::Versioning::Upstream;
        let wanted = |tag: &str| {
            floating.iter().any(|f| f == tag)
                || tag.parse::<Exact>().is_ok_and(|v| v.line == line)
                || (upstream
                    && tag
                        .parse::<UpstreamVersion>()
                        .is_ok_and(|v| v.line() == line))
                || parse_marker(tag).is_some_and(|(v, _, _)| v.line == line)
        };
        let inventory = Inventory::read_some(registry, repository, wanted)
            .await
            .map_err(|error| {
                Failure::registry(
                    error,
                    &format!("failed to list `{repository}`; nothing was rolled back"),
                )
            })?
            .under(image.versioning);
        let read_failed = |error| {
            Failure::registry(
                error,
                &format!("failed to read the builds of `{repository}`; nothing was rolled back"),
            )
        };
        // Only a whole build is a target (an index whose images are all there;
        // for a multi-platform line, an index of every platform).
        let golden =
            history::classify_whole(registry, repository, &inventory, line, &image.platforms)
                .await
                .map_err(read_failed)?;
        // `X` and `latest` stay with higher golden lines; foreign tags count
        // for nothing.
        let markers = marker_tags(inventory.names());
        let higher = Ledger::new(registry, repository.clone(), inventory.versions())
            .with_floating(configured_floating(&project.config, repository))
            .golden_lines_above(line, &markers)
            .await
            .map_err(read_failed)?;
        Ok(LineHistory {
            inventory,
            golden,
            higher,
        })
    }
}

/// Tags the rollback: the restored build first (cut short after it, the
/// newest build not withdrawn is still the release, so nothing moves
/// backwards), then the withdrawals, then the floating tags' moves.
async fn apply(
    registry: &dyn Registry,
    repository: &Repository,
    plan: &history::rollback::Plan,
) -> Result<(), Failure> {
    if let Some(restore) = &plan.restore {
        registry
            .copy_tag(repository, &restore.digest, &restore.tag)
            .await
            .map_err(|error| {
                Failure::registry(
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
            .copy_tag(repository, &withdrawal.digest, marker)
            .await
            .map_err(|error| {
                Failure::registry(
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
            .copy_tag(repository, &step.to, &step.tag)
            .await
            .map_err(|error| {
                let so_far = if moved.is_empty() { "none".to_string() } else { moved.join(", ") };
                Failure::registry(
                    error,
                    &format!("failed to move `{}` (moved so far: {so_far}); the next `golden build` finishes the rollback", step.tag),
                )
            })?;
        moved.push(step.tag.as_str());
    }
    Ok(())
}
