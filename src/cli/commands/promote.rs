//! `golden promote [ID...]`: after the `build --no-promote` jobs of a CI
//! matrix, moves each line's floating tags to its release (the newest
//! golden build, verified by provenance), once. Decided (pure) in
//! `crate::pipeline::promotion`; carried out by the runner's registry-side
//! promotion, which re-reads the tags first and never moves a tag onto a
//! foreign or older build. A second promote finds nothing behind.

use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;

use crate::cli::{Delivery, Output};
use crate::execute::Runner;
use crate::exit::{Exit, Failure};
use crate::observe::observe;
use crate::pipeline::{promotion, with_parents};
use crate::pool::Pool;
use crate::report::{paint_run_text, run_report, run_text};
use crate::session::Session;
use crate::stop::Stop;
use crate::ui::progress::Progress;

/// Tag moves in flight at once.
const JOBS: usize = 4;

pub(super) async fn run(
    session: &Session,
    ids: &[String],
    output: Output,
    wait_lock: std::time::Duration,
    progress: Arc<dyn Progress>,
) -> Result<Exit, Failure> {
    let started = Instant::now();
    let project = &session.project;
    let ids = session.in_order(&session.select(ids)?);
    let _lock = session.lock(wait_lock, "nothing was promoted").await?;
    let registry = session.connect_registry(session.credentials()?).await?;
    let none = std::collections::BTreeSet::new();
    let observations = observe(
        project,
        &registry,
        &registry,
        &with_parents(project, &ids),
        &none,
    )
    .await;
    let steps = promotion(project, &observations, &ids, Utc::now());
    // Promotion copies manifests registry-side: no engine is needed, so a
    // promote job runs where no Docker Engine is.
    let no_engine = crate::engine::Unavailable {
        why: "`golden promote` uses the registry only".to_string(),
    };
    let pool = Pool::single("none", Arc::new(no_engine), JOBS);
    let runner = Runner {
        project,
        pool: &pool,
        registry: &registry,
        observations: &observations,
        revision: None,
        source: None,
        stop: Stop::default(),
        fail_fast: false,
        promote: true,
        signing: None,
        verify_with: crate::keys::promotion_key(&session.project.config)?,
        progress,
    };
    let outcomes = runner.run(&steps).await;
    let report = run_report(
        project,
        &steps,
        &outcomes,
        started.elapsed().as_secs_f64(),
        registry.requests(),
    );
    let delivery = Delivery { output, file: None };
    super::deliver(&report, &delivery, &run_text, paint_run_text)?;
    Ok(Exit::of_report(&report))
}
