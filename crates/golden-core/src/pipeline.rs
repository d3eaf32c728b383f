//! CI matrix mode: a plan cut into waves for a CI system's own matrix
//! (`golden plan --output matrix` / `--output gitlab`), the bases a
//! `build --no-promote` job builds on, and what `golden promote` moves.
//!
//! In a pipeline, each wave job runs `golden build ID... --no-promote`:
//! the exact tag is pushed, floating tags stay. A child in a later wave is
//! then built on its parent's *release* (the newest golden build of the
//! parent's line, found by provenance) rather than on the floating tag its
//! FROM names, because that tag moves only at the final `golden promote`,
//! to exactly that release. `golden promote` refuses to publish a child
//! whose release was built on another parent build than the one its FROM
//! will resolve to after the promote (a stale parent).
//!
//! Pure: no I/O, no clock reads.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::graph::Upstream;
use crate::name::short_digest;
use crate::name::Digest;
use crate::observation::{Observation, Observations};
use crate::plan::{Decision, Observed, State, Step};
use crate::project::Project;

/// One image in a wave: what a matrix job needs to build it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// The image id, for `golden build ID --no-promote`.
    pub id: String,
    /// The line, `X.Y`.
    pub version: String,
    /// The repository it is pushed to.
    pub repository: String,
    /// The plan's decision: `build` or `promote`.
    pub decision: &'static str,
    /// The wave it belongs to, from 0.
    pub wave: usize,
}

/// One wave: a GitHub Actions `strategy.matrix` (`include` only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Wave {
    pub include: Vec<Entry>,
}

/// The document of `golden plan --output matrix`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Matrix {
    /// Waves in order; each wave's images depend only on earlier waves.
    pub waves: Vec<Wave>,
    /// Every due image, flat, in build order (each names its wave).
    pub include: Vec<Entry>,
    /// The number of waves (0: nothing is due).
    pub depth: usize,
    /// The ids of each wave joined by spaces, for `golden build $IDS`.
    pub ids: Vec<String>,
}

/// Whether a plan step is work for a pipeline.
fn is_due(step: &Step) -> bool {
    matches!(step.decision(), Decision::Build | Decision::Promote)
}

/// The due steps (build or promote) cut into waves: an image goes one wave
/// after the latest of its due golden parents, into wave 0 when it has
/// none. Within a wave, the plan's build order.
pub fn waves<'s>(project: &Project, steps: &'s [Step]) -> Vec<Vec<&'s Step>> {
    let mut wave_of: BTreeMap<&str, usize> = BTreeMap::new();
    let mut waves: Vec<Vec<&Step>> = Vec::new();
    for step in steps.iter().filter(|step| is_due(step)) {
        let parents = project.graph.nodes.get(&step.id).map(|node| &node.parents);
        let wave = parents
            .into_iter()
            .flatten()
            .filter_map(|parent| wave_of.get(parent.as_str()))
            .map(|wave| wave + 1)
            .max()
            .unwrap_or(0);
        wave_of.insert(&step.id, wave);
        if waves.len() <= wave {
            waves.resize_with(wave + 1, Vec::new);
        }
        waves[wave].push(step);
    }
    waves
}

/// The matrix document of a plan.
pub fn matrix(project: &Project, steps: &[Step]) -> Matrix {
    let waves: Vec<Wave> = waves(project, steps)
        .into_iter()
        .enumerate()
        .map(|(wave, steps)| Wave {
            include: steps
                .into_iter()
                .map(|step| entry(project, step, wave))
                .collect(),
        })
        .collect();
    let mut include: Vec<Entry> = waves.iter().flat_map(|w| w.include.clone()).collect();
    let order: BTreeMap<&str, usize> = steps
        .iter()
        .enumerate()
        .map(|(index, step)| (step.id.as_str(), index))
        .collect();
    include.sort_by_key(|entry| order.get(entry.id.as_str()).copied());
    Matrix {
        depth: waves.len(),
        ids: waves
            .iter()
            .map(|wave| {
                let ids: Vec<&str> = wave.include.iter().map(|e| e.id.as_str()).collect();
                ids.join(" ")
            })
            .collect(),
        waves,
        include,
    }
}

fn entry(project: &Project, step: &Step, wave: usize) -> Entry {
    let image = project.config.image(&step.id);
    Entry {
        id: step.id.clone(),
        version: image.map(|i| i.version.to_string()).unwrap_or_default(),
        repository: image
            .map(|i| project.config.repository(i).to_string())
            .unwrap_or_default(),
        decision: match step.decision() {
            Decision::Promote => "promote",
            _ => "build",
        },
        wave,
    }
}

/// A GitLab child pipeline for the matrix: one stage per wave, one job per
/// wave with `parallel:matrix` over its images, then one promote job. With
/// nothing due, a single job that says so (a pipeline needs a job).
pub fn gitlab(matrix: &Matrix) -> String {
    let mut yaml = String::from(GITLAB_HEAD);
    if matrix.waves.is_empty() {
        yaml.push_str(
            "stages: [golden]\nnothing-due:\n  stage: golden\n  extends: .golden\n  script:\n    - echo \"golden: nothing is due\"\n",
        );
        return yaml;
    }
    let stages: Vec<String> = (0..matrix.waves.len())
        .map(|wave| format!("wave-{wave}"))
        .chain(std::iter::once("promote".to_string()))
        .collect();
    yaml.push_str(&format!("stages: [{}]\n", stages.join(", ")));
    for (wave, entries) in matrix.waves.iter().enumerate() {
        let ids: Vec<String> = entries
            .include
            .iter()
            .map(|e| serde_json::to_string(&e.id).unwrap_or_default())
            .collect();
        yaml.push_str(&format!(
            "wave-{wave}:\n  stage: wave-{wave}\n  extends: .golden\n  parallel:\n    matrix:\n      - GOLDEN_ID: [{}]\n  script:\n    - golden build \"$GOLDEN_ID\" --no-promote\n",
            ids.join(", ")
        ));
    }
    yaml.push_str(
        "promote:\n  stage: promote\n  extends: .golden\n  script:\n    - golden promote\n",
    );
    yaml
}

/// The start of every generated child pipeline: how its jobs run, from
/// variables the trigger job passes down.
const GITLAB_HEAD: &str = r#"# Generated by `golden plan --output gitlab`: a child pipeline that builds
# each wave with `golden build ID --no-promote`, then runs `golden promote`.
# The trigger job passes GOLDEN_IMAGE (the image with golden), GOLDEN_RUNNER_TAG
# (runners that reach a Docker Engine) and, optionally, DOCKER_CONFIG_JSON.
.golden:
  image:
    name: $GOLDEN_IMAGE
    entrypoint: [""]
  tags: [$GOLDEN_RUNNER_TAG]
  before_script:
    - if [ -n "${DOCKER_CONFIG_JSON:-}" ]; then mkdir -p "$CI_PROJECT_DIR/.docker" && cp "$DOCKER_CONFIG_JSON" "$CI_PROJECT_DIR/.docker/config.json" && export DOCKER_CONFIG="$CI_PROJECT_DIR/.docker"; fi
"#;

/// The ids and their golden parents (what a `--no-promote` run and
/// `promote` observe: the parents' releases decide the bases).
pub fn with_parents(project: &Project, ids: &[String]) -> Vec<String> {
    let mut all: BTreeSet<String> = ids.iter().cloned().collect();
    for id in ids {
        if let Some(node) = project.graph.nodes.get(id) {
            all.extend(node.parents.iter().cloned());
        }
    }
    project
        .graph
        .order
        .iter()
        .filter(|id| all.contains(*id))
        .cloned()
        .collect()
}

/// What the FROM of `id` resolves to once the parent's floating tags are
/// on its release: the release's digest when the tag the FROM names
/// belongs on it, else what it resolves to now. `None` when not a golden
/// child or nothing is known.
fn promoted_base(project: &Project, observations: &Observations, id: &str) -> Option<Digest> {
    let node = project.graph.nodes.get(id)?;
    let Upstream::Golden {
        id: parent,
        reference,
    } = &node.upstream
    else {
        return None;
    };
    if reference.digest().is_some() {
        return None;
    }
    let tag = reference.tag().unwrap_or("latest");
    let last = observations
        .get(parent)?
        .as_ref()
        .ok()?
        .last_build
        .as_ref()?;
    let (_, release) = last.release.as_ref()?;
    last.floating
        .iter()
        .any(|floating| floating.tag.as_str() == tag)
        .then(|| release.clone())
}

/// For a `--no-promote` run: each golden child in `ids` is built on (and
/// judged against) its parent's release, not on the floating tag that
/// moves only at `golden promote`.
pub fn pin_to_releases(project: &Project, observations: &mut Observations, ids: &[String]) {
    for id in ids {
        let Some(digest) = promoted_base(project, observations, id) else {
            continue;
        };
        if let Some(Ok(observation)) = observations.get_mut(id) {
            if observation.base_digest.as_ref() != Some(&digest) {
                tracing::info!(image = %id, base = %digest, "built on its parent's release, not on its floating tag");
                observation.base_digest = Some(digest);
            }
        }
    }
}

/// The steps of `golden promote`: each image whose floating tags are not
/// on its release is promoted (one `floating-behind` reason per tag),
/// unless its release was built on a parent build its FROM will not
/// resolve to after the promote; the rest are up to date.
pub fn promotion(
    project: &Project,
    observations: &Observations,
    ids: &[String],
    now: DateTime<Utc>,
) -> Vec<Step> {
    ids.iter()
        .map(|id| Step {
            id: id.clone(),
            state: match observations.get(id) {
                Some(Ok(observation)) => {
                    promotion_state(project, observations, ids, id, observation, now)
                }
                Some(Err(error)) => State::Failed {
                    error: crate::hint::text_of(error),
                    unreachable: error.is_unreachable(),
                },
                None => State::Failed {
                    error: format!("`{id}` was not observed"),
                    unreachable: false,
                },
            },
        })
        .collect()
}

fn promotion_state(
    project: &Project,
    observations: &Observations,
    ids: &[String],
    id: &str,
    observation: &Observation,
    now: DateTime<Utc>,
) -> State {
    let observed = Observed {
        last_build: observation.last_build.clone(),
        upstream: observation
            .tracked
            .as_ref()
            .map(|tracked| tracked.resolved.to_string()),
        upstream_digest: observation.base_digest.as_ref().map(ToString::to_string),
        foreign: observation.foreign.clone(),
    };
    let next_due = project
        .config
        .image(id)
        .and_then(|image| image.schedule.next_fire(now));
    let behind = crate::plan::floating_behind(observation);
    if behind.is_empty() {
        return State::UpToDate {
            observed,
            next_due,
            waiting: None,
        };
    }
    if let Some(error) = stale_parent(project, observations, ids, id, observation) {
        return State::Failed {
            error,
            unreachable: false,
        };
    }
    State::Promote {
        observed,
        reasons: behind,
        next_due,
        waiting: None,
    }
}

/// Why the release of `id` must not be published: it was built on another
/// build of its golden parent than the one its FROM resolves to after the
/// promote. The parent's floating tags move only when the parent is
/// promoted by the same command (in `ids`); otherwise the FROM keeps
/// resolving to what it names now, and a child built on the parent's
/// unpromoted release is refused with the command that promotes both.
/// Only judged when the release is the newest build (whose labels were
/// read).
fn stale_parent(
    project: &Project,
    observations: &Observations,
    ids: &[String],
    id: &str,
    observation: &Observation,
) -> Option<String> {
    let last = observation.last_build.as_ref()?;
    let (release, _) = last.release.as_ref()?;
    if *release != last.version {
        return None;
    }
    let Upstream::Golden { id: parent, .. } = &project.graph.nodes.get(id)?.upstream else {
        return None;
    };
    let after_promote = promoted_base(project, observations, id);
    let parent_promoted = ids.iter().any(|promoted| promoted == parent);
    let expected = match parent_promoted {
        true => after_promote.clone().or(observation.base_digest.clone())?,
        false => observation.base_digest.clone()?,
    };
    let built_on = last.base_digest.as_deref();
    if built_on == Some(expected.as_str()) {
        return None;
    }
    if let Some(parent_release) = after_promote.filter(|digest| built_on == Some(digest.as_str())) {
        let version = observations
            .get(parent)
            .and_then(|observed| observed.as_ref().ok())
            .and_then(|observed| observed.last_build.as_ref())
            .and_then(|last| last.release.as_ref())
            .map_or_else(String::new, |(version, _)| format!("{version} "));
        return Some(format!(
            "refusing to promote {release} of `{id}`: it was built on {version}({}) of `{parent}`, which is not promoted (its floating tag points at {})\nhint: promote both together: `golden promote {parent} {id}`",
            short_digest(&parent_release),
            short_digest(&expected)
        ));
    }
    Some(format!(
        "refusing to promote {release} of `{id}`: it was built on {} of `{parent}`, whose floating tag will point at {}\nhint: rebuild it on the new parent: `golden build {id} --no-promote`, then `golden promote`",
        built_on.map_or("an unknown build".to_string(), short_digest),
        short_digest(&expected)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gitlab_pipeline_has_a_stage_per_wave_and_a_promote() {
        let entry = |id: &str, wave| Entry {
            id: id.to_string(),
            version: "1.0".to_string(),
            repository: format!("r/{id}"),
            decision: "build",
            wave,
        };
        let matrix = Matrix {
            waves: vec![
                Wave {
                    include: vec![entry("a", 0), entry("b", 0)],
                },
                Wave {
                    include: vec![entry("c", 1)],
                },
            ],
            include: vec![entry("a", 0), entry("b", 0), entry("c", 1)],
            depth: 2,
            ids: vec!["a b".into(), "c".into()],
        };
        let yaml: serde_norway::Value = serde_norway::from_str(&gitlab(&matrix)).unwrap();
        assert_eq!(
            yaml["stages"],
            serde_norway::from_str::<serde_norway::Value>("[wave-0, wave-1, promote]").unwrap()
        );
        assert_eq!(
            yaml["wave-0"]["parallel"]["matrix"][0]["GOLDEN_ID"],
            serde_norway::from_str::<serde_norway::Value>("[a, b]").unwrap()
        );
        assert_eq!(yaml["promote"]["script"][0], "golden promote");
        let empty = Matrix {
            waves: vec![],
            include: vec![],
            depth: 0,
            ids: vec![],
        };
        let yaml: serde_norway::Value = serde_norway::from_str(&gitlab(&empty)).unwrap();
        assert!(yaml.get("nothing-due").is_some());
        assert!(yaml.get("promote").is_none());
    }
}
