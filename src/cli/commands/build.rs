//! `golden build` and `golden rebuild`: one build run, its report on
//! stdout (and in `--report FILE`), its exit code.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::cli::{BuildArgs, Delivery, ReportArgs};
use crate::exit::{Exit, Failure};
use crate::hint::Hinted;
use crate::plan::Selection;
use crate::report::{paint_run_text, run_text, Report};
use crate::run::{build_once, RunSettings};
use crate::session::Session;
use crate::stop::Stop;
use crate::ui::progress::Progress;

/// `golden build [--all | ID...]`: the images that are due, in build order.
pub(super) async fn build(
    session: &Session,
    all: bool,
    ids: &[String],
    report: &ReportArgs,
    settings: &RunSettings,
    progress: Arc<dyn Progress>,
) -> Result<Exit, Failure> {
    if !all && ids.is_empty() {
        return Err(Failure::usage(Hinted::new(
            "name the images to build, or pass --all",
            "`golden build --all` builds every image that is due",
        )));
    }
    let selected = session.select(ids)?;
    let selection = Selection {
        ids: session.in_order(&selected),
        forced: BTreeSet::new(),
        cache: None,
    };
    let now = report.now;
    execute(
        session,
        selection,
        now,
        &report.delivery(),
        settings,
        progress,
    )
    .await
}

/// `golden rebuild ID...`: these images whatever their schedule, then
/// everything built on them; `cache` is `--cache` / `--no-cache`.
pub(super) async fn rebuild(
    session: &Session,
    ids: &[String],
    cache: Option<bool>,
    report: &ReportArgs,
    build: &BuildArgs,
    progress: Arc<dyn Progress>,
) -> Result<Exit, Failure> {
    let selected = session.select(ids)?;
    let selection = Selection {
        ids: session.project.graph.with_dependents(&selected),
        forced: selected,
        cache,
    };
    let now = report.now;
    execute(
        session,
        selection,
        now,
        &report.delivery(),
        &build.settings(),
        progress,
    )
    .await
}

async fn execute(
    session: &Session,
    selection: Selection,
    now: Option<chrono::DateTime<chrono::Utc>>,
    delivery: &Delivery,
    settings: &RunSettings,
    progress: Arc<dyn Progress>,
) -> Result<Exit, Failure> {
    check_report_path(delivery)?;
    session.check_notify()?;
    let stop = Stop::default();
    crate::signals::listen(stop.clone(), Arc::new(tokio::sync::Notify::new()));
    let started = std::time::Instant::now();
    let report = match build_once(session, &selection, now, &stop, settings, progress).await {
        Ok(report) => report,
        Err(failure) => {
            // A run that failed before building still leaves its report.
            if let Some(path) = &delivery.file {
                let report = Report::failed(
                    crate::error::text(failure.error.as_ref()),
                    started.elapsed().as_secs_f64(),
                );
                let _ = std::fs::write(path, crate::ui::output::json(&report));
            }
            let seconds = started.elapsed().as_secs_f64();
            crate::notify::after_early_failure(&session.project, &failure, seconds).await;
            return Err(failure);
        }
    };
    super::deliver(&report, delivery, &run_text, paint_run_text)?;
    crate::notify::after_run(&session.project.config, &report).await;
    if let Some(code) = stop.signal_code() {
        tracing::warn!("stopped by a signal after the images in flight finished");
        return Ok(Exit::of_signal(code));
    }
    Ok(Exit::of_report(&report))
}

/// `--report FILE` must be writable before anything is built: a run that
/// builds for an hour and then cannot write its report is exit 2 at once.
fn check_report_path(delivery: &Delivery) -> Result<(), Failure> {
    let Some(path) = &delivery.file else {
        return Ok(());
    };
    let existed = path.exists();
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(|error| {
            Failure::usage(
                Hinted::new(
                    format!(
                        "cannot write the report to `{}`; nothing was built",
                        path.display()
                    ),
                    "pass a --report path in a directory this user can write",
                )
                .caused_by(error),
            )
        })?;
    if !existed {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}
