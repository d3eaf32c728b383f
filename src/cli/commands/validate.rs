//! `golden validate`: the config and every image's Dockerfile and build
//! context, checked offline (no engine, no registry). Exit 0 when golden
//! would accept them, 2 with the same located errors `build` gives.

use anyhow::anyhow;

use crate::cli::Output;
use crate::context::{RecipeInputs, Recipes};
use crate::exit::{Exit, Failure};
use crate::session::Session;

pub(super) fn run(session: &Session, output: Output) -> Result<Exit, Failure> {
    let config = &session.project.config;
    let recipes = Recipes::default();
    let mut problems = Vec::new();
    for image in &config.images {
        let inputs = RecipeInputs {
            dockerfile: &image.dockerfile,
            build_args: &image.build_args,
            labels: &image.labels,
            secrets: &image.recipe_secrets,
        };
        if let Err(error) = recipes.recipe(&image.context, &inputs) {
            problems.push(format!("image `{}`: {error}", image.id));
        }
    }
    if !problems.is_empty() {
        return Err(Failure::usage(anyhow!(
            "the build context of {} is not usable\n{}",
            if problems.len() == 1 {
                "one image"
            } else {
                "some images"
            },
            problems.join("\n")
        )));
    }
    let path = config.source.path.display().to_string();
    let ids: Vec<&str> = session
        .project
        .graph
        .order
        .iter()
        .map(String::as_str)
        .collect();
    super::print(
        output,
        || format!("{path}: valid ({} images: {})\n", ids.len(), ids.join(", ")),
        || {
            crate::ui::output::json(
                &serde_json::json!({ "config": path, "valid": true, "images": ids }),
            )
        },
    );
    Ok(Exit::Success)
}
