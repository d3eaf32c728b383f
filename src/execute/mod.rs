//! Execute: walk the plan in dependency order; build, push the exact tag,
//! confirm it in the registry, and only then move the floating tags by
//! manifest copy. A failed image skips its dependents and leaves every
//! floating tag where it was; unrelated images go on.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{anyhow, Context as _};
use chrono::Utc;

use crate::engine::{BuildRequest, Engine};
use crate::graph::Upstream;
use crate::labels::{golden_labels, BuildFacts};
use crate::observe::{Observation, Observations};
use crate::plan::{Decision, Reason, Step};
use crate::project::Project;
use crate::reference::Reference;
use crate::registry::Registry;
use crate::version::{floating_tags, next_build, Exact};

/// How an image ended in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Built,
    UpToDate,
    Failed,
    Skipped,
}

/// What happened to one image.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub id: String,
    pub status: Status,
    pub reasons: Vec<Reason>,
    /// The exact version and tag pushed.
    pub version: Option<Exact>,
    pub tag: Option<String>,
    /// Floating tags moved to it.
    pub floating: Vec<String>,
    pub digest: Option<String>,
    pub build_seconds: Option<f64>,
    pub push_seconds: Option<f64>,
    pub seconds: f64,
    pub error: Option<String>,
}

impl Outcome {
    fn new(step: &Step, status: Status) -> Outcome {
        Outcome {
            id: step.id.clone(),
            status,
            reasons: step.reasons.clone(),
            version: None,
            tag: None,
            floating: Vec::new(),
            digest: None,
            build_seconds: None,
            push_seconds: None,
            seconds: 0.0,
            error: step.error.clone(),
        }
    }
}

/// Set when golden is asked to stop: images not yet started are skipped,
/// the one in flight finishes (floating tags included).
#[derive(Debug, Clone, Default)]
pub struct Stop(Arc<AtomicBool>);

impl Stop {
    /// Asks the run to start nothing new.
    pub fn request(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether a stop was asked for.
    pub fn requested(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// The parts a run works with.
pub struct Runner<'a> {
    pub project: &'a Project,
    pub engine: &'a dyn Engine,
    pub registry: &'a dyn Registry,
    pub observations: &'a Observations,
    /// The config repository's commit.
    pub revision: Option<String>,
    pub stop: Stop,
}

impl Runner<'_> {
    /// Carries out `steps` in order and reports every image.
    pub async fn run(&self, steps: &[Step]) -> Vec<Outcome> {
        let mut outcomes: BTreeMap<String, Outcome> = BTreeMap::new();
        // Versions pushed earlier in this run, by repository, so a second
        // line of the same repository sees them when it moves `X` and `latest`.
        let mut pushed: BTreeMap<String, Vec<Exact>> = BTreeMap::new();
        let mut order = Vec::new();
        for step in steps {
            let outcome = match step.decision {
                Decision::UpToDate => Outcome::new(step, Status::UpToDate),
                Decision::Failed => Outcome::new(step, Status::Failed),
                Decision::Build if self.stop.requested() => {
                    let mut outcome = Outcome::new(step, Status::Skipped);
                    outcome.error = Some("not started: golden was asked to stop".to_string());
                    outcome
                }
                Decision::Build => match self.failed_parent(step, &outcomes) {
                    Some(parent) => {
                        let mut outcome = Outcome::new(step, Status::Skipped);
                        outcome.reasons = vec![Reason::ParentFailed { parent }];
                        outcome
                    }
                    None => self.build(step, &outcomes, &pushed).await,
                },
            };
            if let (Some(version), Some(image)) =
                (outcome.version, self.project.config.image(&step.id))
            {
                pushed
                    .entry(self.project.config.repository(image))
                    .or_default()
                    .push(version);
            }
            tracing::info!(image = %outcome.id, status = ?outcome.status, "done");
            order.push(step.id.clone());
            outcomes.insert(step.id.clone(), outcome);
        }
        order
            .into_iter()
            .filter_map(|id| outcomes.remove(&id))
            .collect()
    }

    fn failed_parent(&self, step: &Step, outcomes: &BTreeMap<String, Outcome>) -> Option<String> {
        let node = self.project.graph.nodes.get(&step.id)?;
        node.parents
            .iter()
            .find(|parent| {
                outcomes
                    .get(*parent)
                    .is_some_and(|o| matches!(o.status, Status::Failed | Status::Skipped))
            })
            .cloned()
    }

    async fn build(
        &self,
        step: &Step,
        outcomes: &BTreeMap<String, Outcome>,
        pushed: &BTreeMap<String, Vec<Exact>>,
    ) -> Outcome {
        let started = Instant::now();
        let mut outcome = Outcome::new(step, Status::Built);
        if let Err(error) = self
            .build_and_push(step, outcomes, pushed, &mut outcome)
            .await
        {
            outcome.status = Status::Failed;
            outcome.error = Some(render_chain(&error));
            tracing::error!(image = %step.id, "{}", render_chain(&error));
        }
        outcome.seconds = started.elapsed().as_secs_f64();
        outcome
    }

    async fn build_and_push(
        &self,
        step: &Step,
        outcomes: &BTreeMap<String, Outcome>,
        pushed: &BTreeMap<String, Vec<Exact>>,
        outcome: &mut Outcome,
    ) -> anyhow::Result<()> {
        let config = &self.project.config;
        let image = config
            .image(&step.id)
            .ok_or_else(|| anyhow!("unknown image `{}`", step.id))?;
        let node = &self.project.graph.nodes[&step.id];
        let observation: &Observation = match self.observations.get(&step.id) {
            Some(Ok(observation)) => observation,
            _ => return Err(anyhow!("`{}` was not observed", step.id)),
        };
        let base_digest = match &node.upstream {
            Upstream::Golden { id, .. } => outcomes
                .get(id)
                .and_then(|o| o.digest.clone())
                .or_else(|| observation.base_digest.clone()),
            _ => observation.base_digest.clone(),
        };
        if let (Some(reference), None) = (node.upstream.reference(), &base_digest) {
            return Err(anyhow!(
                "base image `{reference}` is not in the registry; build its golden image first (`golden build --all`)"
            ));
        }
        let base = node.upstream.reference().zip(base_digest.as_deref());
        let dockerfile_content = match base {
            Some((_, digest)) => node
                .pinned_dockerfile(digest)
                .ok_or_else(|| anyhow!("cannot pin the base of `{}`", step.id))?,
            None => node.dockerfile_text.clone(),
        };
        let repository_text = config.repository(image);
        let repository = Reference::parse(&repository_text)?;
        let mut versions = observation.versions.clone();
        versions.extend(pushed.get(&repository_text).into_iter().flatten().copied());
        let version = next_build(image.version, &versions);
        let exact = repository.with_tag(&version.to_string());
        let base_name = node.upstream.reference().map(|r| r.to_string());
        let labels = golden_labels(
            &image.labels,
            &BuildFacts {
                version: &version.to_string(),
                created: Utc::now(),
                title: &image.name,
                base: base_name.as_deref().zip(base_digest.as_deref()),
                revision: self.revision.as_deref(),
                recipe: &observation.recipe,
            },
        );
        tracing::info!(image = %step.id, tag = %exact, "building");
        let build_started = Instant::now();
        self.engine
            .build(BuildRequest {
                image: step.id.clone(),
                context: image.context.clone(),
                entries: observation.entries.clone(),
                dockerfile: image.dockerfile.clone(),
                dockerfile_content,
                build_args: image.build_args.clone(),
                labels,
                network: config.engine.network,
                pull: image.pull,
                tag: exact.clone(),
            })
            .await?;
        outcome.build_seconds = Some(build_started.elapsed().as_secs_f64());
        let push_started = Instant::now();
        self.push_exact(&exact, outcome).await?;
        outcome.version = Some(version);
        self.promote(&repository, version, &versions, outcome)
            .await?;
        outcome.push_seconds = Some(push_started.elapsed().as_secs_f64());
        Ok(())
    }

    /// Pushes the exact tag, then confirms the registry serves that digest.
    async fn push_exact(&self, exact: &Reference, outcome: &mut Outcome) -> anyhow::Result<()> {
        let existing = self
            .registry
            .manifest_digest(exact)
            .await
            .with_context(|| format!("failed to check `{exact}` before pushing"))?;
        if let Some(digest) = existing {
            return Err(anyhow!(
                "`{exact}` appeared in the registry during this run (digest {digest}); exact tags are never overwritten, so nothing was pushed. Run golden again to take the next number"
            ));
        }
        tracing::info!(tag = %exact, "pushing");
        let pushed = self.engine.push(exact).await?;
        let confirmed = self
            .registry
            .manifest_digest(exact)
            .await
            .with_context(|| format!("failed to confirm `{exact}` after pushing"))?;
        match confirmed {
            Some(digest) if digest == pushed => {
                outcome.tag = Some(exact.to_string());
                outcome.digest = Some(digest);
                Ok(())
            }
            Some(digest) => Err(anyhow!(
                "the engine pushed `{exact}` as {pushed} but the registry serves {digest}; no floating tag was moved"
            )),
            None => Err(anyhow!("`{exact}` is not in the registry after the push; no floating tag was moved")),
        }
    }

    /// Moves the floating tags the forward-only rules allow to the pushed digest.
    async fn promote(
        &self,
        repository: &Reference,
        version: Exact,
        existing: &[Exact],
        outcome: &mut Outcome,
    ) -> anyhow::Result<()> {
        let digest = outcome
            .digest
            .clone()
            .ok_or_else(|| anyhow!("nothing was pushed"))?;
        let mut versions = existing.to_vec();
        versions.push(version);
        for tag in floating_tags(version, &versions) {
            self.registry
                .copy_tag(repository, &digest, &tag)
                .await
                .with_context(|| {
                    let moved = if outcome.floating.is_empty() {
                        "none".to_string()
                    } else {
                        outcome.floating.join(", ")
                    };
                    format!(
                        "failed to move `{tag}` to {digest} (floating tags moved so far: {moved})"
                    )
                })?;
            outcome.floating.push(tag);
        }
        Ok(())
    }
}

/// An error and its causes on one line each, with hints where known.
pub fn render_chain(error: &anyhow::Error) -> String {
    let mut text = error.to_string();
    for cause in error.chain().skip(1) {
        text.push_str(&format!("\nCaused by: {cause}"));
    }
    if let Some(hint) = hint(error) {
        text.push_str(&format!("\nhint: {hint}"));
    }
    text
}

/// The hint of the first error in the chain that has one.
pub fn hint(error: &anyhow::Error) -> Option<String> {
    error.chain().find_map(|cause| {
        if let Some(engine) = cause.downcast_ref::<crate::engine::EngineError>() {
            return engine.hint();
        }
        cause
            .downcast_ref::<crate::registry::RegistryError>()
            .and_then(|r| r.hint())
    })
}

#[cfg(test)]
mod tests;
