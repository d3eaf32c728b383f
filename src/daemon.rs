//! `golden daemon`: evaluates the plan on a tick and builds what is due,
//! logging each run's summary. The config is read again on every tick, so an
//! edit takes effect without a restart, and a broken edit only skips ticks.
//! On SIGTERM or SIGINT it starts nothing new, lets the image in flight
//! finish (floating tags included) and exits 0; a second signal exits at once.
//! With `--listen` it serves a status page, `/healthz` and `/metrics`
//! (`web`); an idle tick logs one line (`log`).

pub mod log;
pub mod metrics;
pub mod page;
pub mod state;
pub mod web;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use crate::exit::Exit;
use crate::plan::Selection;
use crate::report::{ImageDecision, Report};
use crate::run::{build_once, RunSettings};
use crate::session::Session;
use crate::stop::Stop;

/// Runs until SIGTERM or SIGINT; returns the exit code (0), or the error
/// of an address `--listen` cannot bind.
pub async fn run(
    path: &Path,
    engine: Option<String>,
    interval: Duration,
    checkout: Option<crate::checkout::Checkout>,
    settings: &RunSettings,
    options: &web::WebOptions,
) -> anyhow::Result<Exit> {
    let stop = Stop::default();
    let wake = Arc::new(Notify::new());
    let shared = Arc::new(web::Shared::new(interval, options.stall_after));
    let server = match options.listen {
        Some(address) => Some(web::Server::start(address, shared.clone()).await?),
        None => None,
    };
    crate::signals::listen(stop.clone(), wake.clone());
    tracing::info!(config = %path.display(), interval_seconds = interval.as_secs(), "daemon started");
    let mut first = true;
    while !stop.requested() {
        shared.tick_started();
        // The start pulled for the first tick.
        if let Some(checkout) = checkout.as_ref().filter(|_| !first) {
            checkout.pull_and_log().await;
        }
        first = false;
        let (result, report) = tick(path, engine.as_deref(), &stop, settings).await;
        shared.tick_finished(result, report.as_ref());
        if stop.requested() {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = wake.notified() => {}
        }
    }
    if let Some(server) = server {
        server.stop().await;
    }
    tracing::info!("daemon stopped");
    Ok(Exit::Success)
}

/// One tick: how it ended, and the run's report when it decided images.
async fn tick(
    path: &Path,
    engine: Option<&str>,
    stop: &Stop,
    settings: &RunSettings,
) -> (state::TickResult, Option<Report>) {
    let mut project = match crate::load::project(path) {
        Ok(project) => project,
        Err(error) => {
            // With its causes: "failed to read `golden.toml`" alone does not
            // say whether the file is gone, unreadable or out of descriptors.
            let error = crate::error::text(&error);
            tracing::error!("config not usable, skipping this tick:\n{error}");
            return (state::TickResult::ConfigInvalid(error), None);
        }
    };
    if !project.config.notify_problems.is_empty() {
        // The daemon notifies: a webhook it cannot read is a config error.
        let error =
            crate::diagnostic::Diagnostics(project.config.notify_problems.clone()).to_string();
        tracing::error!("config not usable, skipping this tick:\n{error}");
        return (state::TickResult::ConfigInvalid(error), None);
    }
    // `--engine` holds for every tick, over the config re-read each time.
    project.config.engine.flag_host = engine.map(str::to_string);
    project.failing = crate::failures::load(&project.config);
    let selection = Selection {
        ids: project.graph.order.clone(),
        forced: BTreeSet::new(),
        cache: None,
    };
    let started = std::time::Instant::now();
    let session = Session::from(project);
    match build_once(
        &session,
        &selection,
        None,
        stop,
        settings,
        Arc::new(log::Quiet::default()),
    )
    .await
    {
        Ok(report) => {
            let counts = state::Counts::of(&report);
            if counts.idle() {
                tracing::info!("{}", log::idle_line(&report, chrono::Utc::now()));
            } else {
                tracing::info!("{}", summary(&report));
            }
            crate::notify::after_run(&session.project.config, &report).await;
            (state::TickResult::Ran(counts), Some(report))
        }
        Err(failure) => {
            let error = crate::error::text(failure.error.as_ref());
            tracing::error!("run failed: {error}");
            let seconds = started.elapsed().as_secs_f64();
            crate::notify::after_early_failure(&session.project, &failure, seconds).await;
            (state::TickResult::RunFailed(error), None)
        }
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
