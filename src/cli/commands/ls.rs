//! `golden ls [ID...]`: each line's exact versions in the registry and the
//! floating tags on them.

use crate::cli::Output;
use crate::exit::{Exit, Failure};
use crate::history;
use crate::session::Session;

pub(super) async fn run(
    session: &Session,
    ids: &[String],
    output: Output,
    wide: bool,
) -> Result<Exit, Failure> {
    let images = session.images(ids)?;
    let registry = session.connect_registry(session.credentials()?).await?;
    let listings = history::ls::list(&session.project.config, &images, &registry)
        .await
        .map_err(|error| Failure::registry(error, "failed to list the registry"))?;
    super::print(
        output,
        || history::ls::render_text(&listings, wide),
        || crate::ui::output::json(&serde_json::json!({ "images": listings })),
    );
    Ok(Exit::Success)
}
