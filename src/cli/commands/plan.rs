//! `golden plan [ID...]`: what `build` would do and why, without building;
//! with `--output matrix` / `gitlab`, the due images as CI waves.

use std::collections::BTreeSet;
use std::path::PathBuf;

use chrono::{DateTime, Utc};

use crate::cli::{Delivery, Output, PlanOutput};
use crate::exit::{Exit, Failure};
use crate::observe::observe_until;
use crate::plan::{acted_on, plan, Selection};
use crate::report::{paint_plan_text, plan_report, plan_text_wide, plan_text_within, Report};
use crate::session::Session;

pub(super) async fn run(
    session: &Session,
    ids: &[String],
    output: PlanOutput,
    now: Option<DateTime<Utc>>,
    file: Option<PathBuf>,
    wide: bool,
) -> Result<Exit, Failure> {
    let selected = session.select(ids)?;
    let selection = Selection {
        ids: session.in_order(&selected),
        forced: BTreeSet::new(),
        cache: None,
    };
    let project = &session.project;
    let registry = session.connect_registry(session.credentials()?).await?;
    let now = now.unwrap_or_else(Utc::now);
    let acted = |observations: &_| acted_on(&plan(project, observations, &selection, now));
    let observations = observe_until(
        project,
        &registry,
        &registry,
        &selection.ids,
        &selection.forced,
        acted,
    )
    .await;
    let steps = plan(project, &observations, &selection, now);
    let report = plan_report(project, &steps, registry.requests());
    let stdout = match output {
        PlanOutput::Human => Output::Human,
        PlanOutput::Json => Output::Json,
        PlanOutput::Matrix | PlanOutput::Gitlab => {
            let matrix = crate::pipeline::matrix(project, &steps);
            match output {
                PlanOutput::Gitlab => crate::ui::output::stdout(&crate::pipeline::gitlab(&matrix)),
                // GitHub reads every top-level key as a matrix axis.
                _ => crate::ui::output::stdout(&crate::ui::output::json_plain(&matrix)),
            }
            if let Some(path) = &file {
                write_report(path, &crate::ui::output::json(&report))?;
            }
            return Ok(Exit::of_report(&report));
        }
    };
    super::deliver(
        &report,
        &Delivery {
            output: stdout,
            file,
        },
        // Cut to the terminal's width; in a pipe or a CI log, never cut.
        &|report: &Report| match wide {
            true => plan_text_wide(report),
            false => plan_text_within(report, crate::ui::output::stdout_columns()),
        },
        paint_plan_text,
    )?;
    Ok(Exit::of_report(&report))
}

fn write_report(path: &std::path::Path, json: &str) -> Result<(), Failure> {
    std::fs::write(path, json).map_err(|error| {
        Failure::usage(anyhow::Error::new(error).context(format!(
            "failed to write the report to `{}`",
            path.display()
        )))
    })
}
