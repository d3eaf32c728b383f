//! `golden clean [ID...]`: removes the local tags of every selected
//! repository (exact builds golden tagged on each engine of the config), and with them
//! the images and layers nothing else uses. The registry is not touched.

use std::collections::BTreeSet;

use crate::cli::Output;
use crate::engine::Engine as _;
use crate::exit::{Exit, Failure};
use crate::session::Session;

pub(super) async fn run(
    session: &Session,
    ids: &[String],
    output: Output,
) -> Result<Exit, Failure> {
    let selected = session.select(ids)?;
    let config = &session.project.config;
    let repositories: BTreeSet<crate::name::Repository> = config
        .images
        .iter()
        .filter(|image| selected.is_empty() || selected.contains(&image.id))
        .map(|image| config.repository(image))
        .collect();
    let mut engines = Vec::new();
    for (planned, connection) in session.probe_engines().await {
        match connection {
            Ok(engine) => engines.push(engine),
            Err(error) if session.project.config.engine.pool.len() > 1 => tracing::warn!(
                "engine `{}` is unreachable, so its local images stay: {}",
                planned.name,
                crate::error::text(&error)
            ),
            Err(error) => return Err(Failure::new(Exit::Unreachable, error)),
        }
    }
    let mut removed = Vec::new();
    for engine in &engines {
        for repository in &repositories {
            let reference = repository.reference();
            let failed = |error, removed: usize| {
                Failure::new(
                    Exit::ImageFailed,
                    anyhow::Error::new(error).context(format!(
                        "failed to clean `{repository}` on `{}` ({removed} tag(s) removed before)",
                        engine.host()
                    )),
                )
            };
            let tags = engine
                .local_tags(&reference)
                .await
                .map_err(|error| failed(error, removed.len()))?;
            for tag in tags {
                engine
                    .remove_local(&reference.with_tag(&tag))
                    .await
                    .map_err(|error| failed(error, removed.len()))?;
                tracing::info!("removed {repository}:{tag} from {}", engine.host());
                removed.push(format!("{repository}:{tag}"));
            }
        }
    }
    let repositories: Vec<String> = repositories.iter().map(ToString::to_string).collect();
    super::print(
        output,
        || {
            format!(
                "removed {} local tag(s) of {} repository(ies)\n",
                removed.len(),
                repositories.len()
            )
        },
        || {
            crate::ui::output::json(
                &serde_json::json!({ "repositories": repositories, "removed": removed }),
            )
        },
    );
    Ok(Exit::Success)
}
