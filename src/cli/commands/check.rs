//! `golden check PATH...`: whether application Dockerfiles start FROM
//! golden images; 1 when any breaks the policy, else 0.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::cli::CheckOutput;
use crate::error::Hinted;
use crate::exit::{Exit, Failure};
use crate::session::Session;

pub(super) fn run(
    session: &Session,
    paths: &[PathBuf],
    build_args: BTreeMap<String, String>,
    output: CheckOutput,
) -> Result<Exit, Failure> {
    let files = crate::check::find_dockerfiles(paths)
        .map_err(|error| Failure::usage(anyhow::anyhow!(error)))?;
    if files.is_empty() {
        return Err(Failure::usage(Hinted::new(
            "no Dockerfile found in the paths given",
            "name Dockerfiles, or directories holding Dockerfile, *.Dockerfile, Dockerfile.* or Containerfile",
        )));
    }
    let mut findings = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).map_err(|error| {
            Failure::usage(
                anyhow::Error::new(error).context(format!("failed to read `{}`", file.display())),
            )
        })?;
        findings.extend(crate::check::check_text(
            &session.project.config,
            file,
            &text,
            &build_args,
        ));
    }
    crate::output::stdout(&match output {
        CheckOutput::Human => crate::check::render_text(&findings, files.len()),
        CheckOutput::Json => crate::check::render_json(&findings, files.len()),
        CheckOutput::Sarif => crate::check::render_sarif(&findings),
    });
    Ok(if findings.is_empty() {
        Exit::Success
    } else {
        Exit::ImageFailed
    })
}
