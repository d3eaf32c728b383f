//! One build run, as `golden build`, `golden rebuild` and each daemon tick
//! make it: take the lock, connect the engine and the registry, observe,
//! plan, execute; the report of it.
//!
//! It prints nothing (progress goes to the `Progress` handed in) and knows
//! nothing of command-line arguments: it takes [`RunSettings`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::execute::Runner;
use crate::exit::{Exit, Failure};
use crate::observation::Observations;
use crate::observe::{observe, observe_until};
use crate::plan::{acted_on, plan, Selection};
use crate::registry::{Registry, TagMemory};
use crate::report::{run_report, Report};
use crate::revision::{revision, source};
use crate::session::Session;
use crate::stop::Stop;
use crate::ui::progress::Progress;

/// How a build run goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunSettings {
    /// Most images built at once (at least 1).
    pub jobs: usize,
    /// Start no new image after the first failure (running ones finish).
    pub fail_fast: bool,
    /// How long to wait for another run of this config that holds the lock.
    pub wait_lock: Duration,
    /// Move floating tags after each push; false for `build --no-promote`
    /// (a CI matrix job), which leaves them to `golden promote`.
    pub promote: bool,
    /// The daemon's interval: a failing line's first wait when `[backoff]
    /// first` is not written.
    pub interval: Option<Duration>,
}

/// One build run: connect, observe, plan, execute; the report of it.
pub async fn build_once(
    session: &Session,
    selection: &Selection,
    now: Option<DateTime<Utc>>,
    stop: &Stop,
    settings: &RunSettings,
    progress: Arc<dyn Progress>,
) -> Result<Report, Failure> {
    let started = Instant::now();
    let now = now.unwrap_or_else(Utc::now);
    let project = &session.project;
    // A key that cannot be used stops the run before anything is built.
    let (signing, verify_with) = crate::keys::for_a_build(&project.config)?;
    // Nothing is built before the plan, so a signal abandons this phase at
    // once instead of waiting for a registry that does not answer.
    let prepare = async {
        let run_lock = session
            .lock(settings.wait_lock, "nothing was built")
            .await?;
        let credentials = session.credentials()?;
        let pool = session.connect_pool(settings.jobs, &credentials).await?;
        let registry = session.connect_registry(credentials).await?;
        let observations = observe_selection(
            project,
            &registry,
            &registry,
            selection,
            now,
            settings.promote,
        );
        let (observations, revision, source) = futures::join!(
            observations,
            revision(&project.config),
            source(&project.config)
        );
        Ok::<_, Failure>((run_lock, pool, registry, observations, revision, source))
    };
    let (_lock, pool, registry, observations, revision, source) = tokio::select! {
        code = crate::signals::stopped(stop) => return Err(stopped_before_building(code)),
        prepared = prepare => prepared?,
    };
    let steps = plan(project, &observations, selection, now);
    let due = steps.iter().filter(|step| step.is_build()).count();
    // Nothing due is said by the report (and the daemon's one tick line).
    if due > 0 {
        tracing::info!(due, images = steps.len(), "planned");
    } else {
        tracing::debug!(due, images = steps.len(), "planned");
    }
    let runner = Runner {
        project,
        pool: &pool,
        registry: &registry,
        observations: &observations,
        revision,
        source,
        stop: stop.clone(),
        fail_fast: settings.fail_fast,
        promote: settings.promote,
        signing,
        verify_with,
        progress,
    };
    let outcomes = runner.run(&steps).await;
    let notices = record_failures(project, &steps, &observations, &outcomes, settings).await;
    forget_acted(project, &steps, &registry);
    let mut report = run_report(
        project,
        &steps,
        &outcomes,
        started.elapsed().as_secs_f64(),
        registry.requests(),
    );
    for image in &mut report.images {
        image.notice = notices.get(&image.id).copied();
    }
    Ok(report)
}

/// Forgets the remembered tag lists of the lines `steps` acted on: the
/// engine pushed exact tags they do not hold.
fn forget_acted(
    project: &crate::project::Project,
    steps: &[crate::plan::Step],
    registry: &dyn TagMemory,
) {
    for step in steps.iter().filter(|step| step.acts()) {
        if let Some(image) = project.config.image(&step.id) {
            registry.forget_tags(&project.config.repository(image));
        }
    }
}

/// Records the lines whose build or smoke test failed (and forgets those
/// that built), with what each failed build was made from; what
/// notifications say of each line. Only a failed line's inputs are
/// worked out, its context hashed here when observe did not.
async fn record_failures(
    project: &crate::project::Project,
    steps: &[crate::plan::Step],
    observations: &Observations,
    outcomes: &[crate::outcome::Outcome],
    settings: &RunSettings,
) -> std::collections::BTreeMap<String, crate::failing::Notice> {
    let broken: std::collections::BTreeSet<&str> = outcomes
        .iter()
        .filter(|outcome| outcome.broken)
        .map(|outcome| outcome.id.as_str())
        .collect();
    let mut inputs = std::collections::BTreeMap::new();
    for step in steps
        .iter()
        .filter(|step| broken.contains(step.id.as_str()))
    {
        let (Some(image), Some(Ok(observation)), Some(observed)) = (
            project.config.image(&step.id),
            observations.get(&step.id),
            step.observed(),
        ) else {
            continue;
        };
        let recipe = match &observation.recipe {
            Some(recipe) => Some(recipe.digest.clone()),
            None => crate::observe::recipe_of(image).await,
        };
        let from = observed.upstream_digest.as_deref();
        let key = crate::plan::build_inputs(image, recipe.as_deref(), from);
        inputs.insert(step.id.clone(), key);
    }
    let backoff = project.config.backoff.resolve(settings.interval);
    crate::failures::record(
        &project.config,
        steps,
        outcomes,
        &inputs,
        Utc::now(),
        &backoff,
    )
}

/// Observes the selected images. With promotion, tag lists come from
/// memory where the floating tags confirm them, and what is due is
/// observed fresh before anything is built. Without (a CI matrix job), the
/// parents' releases decide the bases, so they are observed too (see
/// `pipeline`), fresh: a parent's release may be a build not promoted yet,
/// which only a fresh tag list shows.
async fn observe_selection(
    project: &crate::project::Project,
    registry: &dyn Registry,
    memory: &dyn TagMemory,
    selection: &Selection,
    now: DateTime<Utc>,
    promote: bool,
) -> Observations {
    match promote {
        true => {
            let acted = |observations: &Observations| {
                acted_on(&plan(project, observations, selection, now))
            };
            observe_until(
                project,
                registry,
                memory,
                &selection.ids,
                &selection.forced,
                acted,
            )
            .await
        }
        false => {
            let observed = crate::pipeline::with_parents(project, &selection.ids);
            let mut observations =
                observe(project, registry, memory, &observed, &selection.forced).await;
            crate::pipeline::pin_to_releases(project, &mut observations, &selection.ids);
            observations
        }
    }
}

/// The failure of a run that a signal stopped before it built anything.
fn stopped_before_building(code: i32) -> Failure {
    Failure::new(
        Exit::of_signal(code),
        anyhow::anyhow!(
            "stopped by {} before anything was built (golden was waiting for the lock, the engine or the registry)",
            crate::signals::name(code)
        ),
    )
}
