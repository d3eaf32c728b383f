//! `golden diff ID A B`: what changed between two builds of one line, as
//! the registry holds them (see `golden_core::diff`).

use crate::cli::Output;
use crate::exit::{Exit, Failure};
use crate::hint::Hinted;
use crate::registry::Registry;
use crate::session::Session;
use crate::version::Exact;

pub(super) async fn run(
    session: &Session,
    id: &str,
    from: &str,
    to: &str,
    output: Output,
) -> Result<Exit, Failure> {
    let image = session.image(id)?;
    let exact = |text: &str| {
        text.parse::<Exact>().map_err(|_| {
            Failure::usage(anyhow::Error::new(Hinted::new(
                format!("`{text}` is not an exact version of a golden build"),
                format!(
                    "name two builds of `{id}` as its exact tags, e.g. `golden diff {id} 1.0.2 1.0.3` (`golden ls {id}` lists them)"
                ),
            )))
        })
    };
    let (from_version, to_version) = (exact(from)?, exact(to)?);
    let registry = session.connect_registry(session.credentials()?).await?;
    let repository = session.project.config.repository(image);
    let read = |version: Exact| {
        let reference = repository.tag(&version.tag());
        let registry = &registry;
        async move {
            let config = registry.image_config(&reference).await?;
            let platforms: Vec<String> = registry
                .index(&reference)
                .await?
                .map(|index| index.platforms().iter().map(ToString::to_string).collect())
                .unwrap_or_default();
            Ok::<_, crate::registry::RegistryError>((config, platforms))
        }
    };
    let (a, b) = futures::join!(read(from_version), read(to_version));
    let failed =
        |error: crate::registry::RegistryError| Failure::new(Exit::of_registry(&error), error);
    let ((config_a, platforms_a), (config_b, platforms_b)) =
        (a.map_err(failed)?, b.map_err(failed)?);
    let mut diff = crate::diff::diff(
        id,
        &crate::diff::Build {
            version: from,
            config: &config_a,
            platforms: &platforms_a,
        },
        &crate::diff::Build {
            version: to,
            config: &config_b,
            platforms: &platforms_b,
        },
    );
    match super::sbom::packages(&registry, &repository, &config_a.digest, &config_b.digest).await {
        Ok(packages) => diff.packages = Some(packages),
        Err(why) => diff.packages_not_compared = Some(why),
    }
    super::print(
        output,
        || crate::diff::render_text(&diff),
        || crate::ui::output::json(&diff),
    );
    Ok(Exit::Success)
}
