//! `golden inspect ID`: what the registry holds for one image line.

use crate::cli::Output;
use crate::exit::{Exit, Failure};
use crate::session::Session;

pub(super) async fn run(session: &Session, id: &str, output: Output) -> Result<Exit, Failure> {
    let image = session.image(id)?;
    let registry = session.connect_registry(session.credentials()?).await?;
    let inspection = crate::inspect::inspect(&session.project.config, image, &registry)
        .await
        .map_err(|error| Failure::new(Exit::of_registry(&error), error))?;
    super::print(
        output,
        || crate::inspect::render_text(&inspection),
        || crate::ui::output::json(&inspection),
    );
    Ok(Exit::Success)
}
