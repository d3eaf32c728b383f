//! `golden daemon`: evaluates the plan on a tick and builds what is due,
//! logging each run's summary. The config is read again on every tick, so an
//! edit takes effect without a restart, and a broken edit only skips ticks.
//! On SIGTERM or SIGINT it starts nothing new, lets the image in flight
//! finish (floating tags included) and exits 0; a second signal exits at once.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use crate::execute::{render_chain, Stop};
use crate::exit::Exit;
use crate::plan::Selection;
use crate::progress::Lines;
use crate::project::Project;
use crate::report::{ImageDecision, Report};
use crate::run::{build_once, RunSettings};
use crate::session::Session;

/// Runs until SIGTERM or SIGINT; returns the exit code (0).
pub async fn run(path: &Path, interval: Duration, settings: &RunSettings) -> Exit {
    let stop = Stop::default();
    let wake = Arc::new(Notify::new());
    crate::signals::listen(stop.clone(), wake.clone());
    tracing::info!(config = %path.display(), interval_seconds = interval.as_secs(), "daemon started");
    while !stop.requested() {
        tick(path, &stop, settings).await;
        if stop.requested() {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = wake.notified() => {}
        }
    }
    tracing::info!("daemon stopped");
    Exit::Success
}

async fn tick(path: &Path, stop: &Stop, settings: &RunSettings) {
    let project = match Project::load(path) {
        Ok(project) => project,
        Err(error) => {
            tracing::error!("config not usable, skipping this tick:\n{error}");
            return;
        }
    };
    let selection = Selection {
        ids: project.graph.order.clone(),
        forced: BTreeSet::new(),
        cache: None,
    };
    let session = Session::from(project);
    match build_once(&session, &selection, None, stop, settings, Arc::new(Lines)).await {
        Ok(report) => tracing::info!("{}", summary(&report)),
        Err(failure) => tracing::error!("run failed: {}", render_chain(&failure.error)),
    }
}

/// One line per run: what was built and the counts.
pub fn summary(report: &Report) -> String {
    let built: Vec<String> = report
        .images
        .iter()
        .filter(|image| image.decision == ImageDecision::Built)
        .map(|image| format!("{} {}", image.id, image.tag.as_deref().unwrap_or("?")))
        .collect();
    let totals = &report.totals;
    format!(
        "run finished: {} built{}, {} up to date, {} failed, {} skipped in {:.1}s",
        totals.built,
        if built.is_empty() {
            String::new()
        } else {
            format!(" ({})", built.join(", "))
        },
        totals.up_to_date,
        totals.failed,
        totals.skipped,
        totals.seconds
    )
}
