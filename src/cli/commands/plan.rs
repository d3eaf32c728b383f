//! `golden plan [ID...]`: what `build` would do and why, without building.

use std::collections::BTreeSet;

use chrono::Utc;

use crate::cli::ReportArgs;
use crate::exit::{Exit, Failure};
use crate::observe::observe;
use crate::plan::{plan, Selection};
use crate::registry::Registry;
use crate::report::{plan_report, plan_text, plan_text_wide};
use crate::session::Session;

pub(super) async fn run(
    session: &Session,
    ids: &[String],
    report: &ReportArgs,
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
    let observations = observe(project, &registry, &selection.ids).await;
    let now = report.now.unwrap_or_else(Utc::now);
    let steps = plan(project, &observations, &selection, now);
    let plan = plan_report(project, &steps, registry.requests());
    let text = if wide { plan_text_wide } else { plan_text };
    super::deliver(&plan, &report.delivery(), text)?;
    Ok(Exit::of_report(&plan))
}
