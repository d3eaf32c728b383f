//! `golden promote [ID...]`: after the `build --no-promote` jobs of a CI
//! matrix, moves each line's floating tags to its release (the newest
//! golden build, verified by provenance), once. Decided (pure) in
//! `crate::pipeline::promotion`; carried out by the runner's registry-side
//! promotion, which re-reads the tags first and never moves a tag onto a
//! foreign or older build. A second promote finds nothing behind.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use chrono::Utc;

use crate::cli::{Delivery, Output};
use crate::engine::{BuildRequest, Engine, EngineError, OnStep};
use crate::execute::{Runner, Stop};
use crate::exit::{Exit, Failure};
use crate::observe::observe;
use crate::pipeline::{promotion, with_parents};
use crate::progress::Progress;
use crate::reference::Reference;
use crate::registry::Registry;
use crate::report::{paint_run_text, run_report, run_text};
use crate::session::Session;

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
    let observations = observe(project, &registry, &with_parents(project, &ids)).await;
    let steps = promotion(project, &observations, &ids, Utc::now());
    let runner = Runner {
        project,
        engine: &RegistryOnly,
        registry: &registry,
        observations: &observations,
        revision: None,
        stop: Stop::default(),
        jobs: JOBS,
        fail_fast: false,
        promote: true,
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
    super::deliver(&report, &delivery, run_text, paint_run_text)?;
    Ok(Exit::of_report(&report))
}

/// Promotion copies manifests registry-side: no engine is needed, so a
/// promote job runs where no Docker Engine is.
struct RegistryOnly;

fn no_engine(action: &str) -> EngineError {
    EngineError::Api {
        action: action.to_string(),
        message: "`golden promote` uses the registry only".to_string(),
    }
}

#[async_trait]
impl Engine for RegistryOnly {
    async fn build(&self, _: BuildRequest, _: OnStep) -> Result<String, EngineError> {
        Err(no_engine("build"))
    }
    async fn test(&self, _: &str, _: &crate::config::SmokeTest) -> Result<(), EngineError> {
        Err(no_engine("test"))
    }
    async fn push(&self, _: &Reference) -> Result<String, EngineError> {
        Err(no_engine("push"))
    }
    async fn tag_local(&self, _: &str, _: &Reference) -> Result<(), EngineError> {
        Err(no_engine("tag"))
    }
    async fn local_tags(&self, _: &Reference) -> Result<Vec<String>, EngineError> {
        Ok(Vec::new())
    }
    async fn remove_local(&self, _: &Reference) -> Result<(), EngineError> {
        Ok(())
    }
}
