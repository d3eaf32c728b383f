//! Plan: a pure function of the project, the observations and `now` that
//! decides, per image and in build order, whether it is built and every
//! reason why. `golden plan` prints exactly this; `golden build` acts on it.
//!
//! No I/O and no clock reads here.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

mod cache;
mod reason;
mod rules;
use crate::config::Image;
use crate::observation::{LastBuild, Observation, Observations};
use crate::project::Project;
use crate::provenance::ForeignTag;
pub use cache::uses_cache;
pub use reason::Reason;
pub use rules::compares_recipe;
use rules::due;
pub(crate) use rules::floating_behind;

pub use crate::name::short_digest;

/// What the plan decided for one image.
#[deny(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Decision {
    /// Due: built in this run.
    Build,
    /// Only move floating tags to the newest build, which exists.
    Promote,
    /// Nothing to do.
    UpToDate,
    /// The image could not be observed.
    Failed,
    /// Due, but its last build failed from the same inputs and its
    /// backoff has not elapsed: not built in this run.
    Held,
}

/// One image's entry in the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub id: String,
    pub state: State,
}

/// What the plan decided for one image, each state with only what it can
/// have: an image that could not be observed has an error and nothing
/// observed; a build always knows whether it uses the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Due: built in this run, for `reasons` (never empty).
    Build {
        observed: Observed,
        reasons: Vec<Reason>,
        /// Whether it may use the engine's build cache (else it runs every
        /// step and pulls its base).
        cache: bool,
        /// A new upstream release held for the schedule: the build is made
        /// FROM the tag the last build was made FROM (see
        /// [`Step::holds_release`]), and the release still waits.
        waiting: Option<Waiting>,
    },
    /// Not due, but floating tags are behind the release: they move back,
    /// one `FloatingBehind` reason each.
    Promote {
        observed: Observed,
        reasons: Vec<Reason>,
        /// When the schedule fires next.
        next_due: Option<DateTime<Utc>>,
        /// A new upstream release held for the schedule.
        waiting: Option<Waiting>,
    },
    /// Nothing to do.
    UpToDate {
        observed: Observed,
        /// When the schedule fires next.
        next_due: Option<DateTime<Utc>>,
        /// A new upstream release held for the schedule.
        waiting: Option<Waiting>,
    },
    /// The image could not be observed.
    Failed {
        error: String,
        /// A registry could not be reached at all.
        unreachable: bool,
    },
    /// Due for `reasons`, but held: its last build failed from the same
    /// inputs and its backoff has not elapsed (see [`crate::failing`]).
    /// `reasons` starts with the `failing` reason.
    Held {
        observed: Observed,
        reasons: Vec<Reason>,
        failing: crate::failing::Failing,
    },
}

/// With `track` and `adopt = "on-schedule"`: an upstream release the
/// image is not built for yet. It waits for the schedule (or `golden
/// rebuild`): another reason builds the image FROM the tag its last build
/// was made FROM, which is compared with the last build's base meanwhile.
/// Not a reason: the image is not due for it (the report's `waiting`).
#[deny(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Waiting {
    /// The tag the last build was made FROM.
    pub old: String,
    /// The newer tag the upstream released.
    pub new: String,
    /// When the schedule fires next and the release is adopted; null when
    /// the schedule never fires again.
    #[serde(serialize_with = "optional_rfc3339")]
    pub adopt_at: Option<DateTime<Utc>>,
}

fn optional_rfc3339<S: serde::Serializer>(
    time: &Option<DateTime<Utc>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match time {
        Some(time) => reason::rfc3339(time, serializer),
        None => serializer.serialize_none(),
    }
}

impl std::fmt::Display for Waiting {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "upstream released {}; ", self.new)?;
        match self.adopt_at {
            Some(at) => write!(
                formatter,
                "adopted at the schedule's next run {}",
                at.to_rfc3339_opts(SecondsFormat::Secs, true)
            ),
            None => write!(
                formatter,
                "waits for the schedule, which never fires again (`golden rebuild` adopts it)"
            ),
        }
    }
}

/// What observe found for an image the plan decided on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub last_build: Option<LastBuild>,
    /// With `track`, the reference the image is built FROM: the tag
    /// picked, or while a release waits for the schedule the tag the last
    /// build was made FROM; `None` otherwise: the FROM as written.
    pub upstream: Option<String>,
    /// What the base the image is built FROM resolves to now.
    pub upstream_digest: Option<String>,
    /// Exact tags of the line that are not golden builds.
    pub foreign: Vec<ForeignTag>,
}

impl Step {
    /// The decision of the state.
    pub fn decision(&self) -> Decision {
        match self.state {
            State::Build { .. } => Decision::Build,
            State::Promote { .. } => Decision::Promote,
            State::UpToDate { .. } => Decision::UpToDate,
            State::Failed { .. } => Decision::Failed,
            State::Held { .. } => Decision::Held,
        }
    }

    /// Whether the image is built in this run.
    pub fn is_build(&self) -> bool {
        matches!(self.state, State::Build { .. })
    }

    /// Whether the run pushes for the image: a build or a promotion.
    pub fn acts(&self) -> bool {
        matches!(self.state, State::Build { .. } | State::Promote { .. })
    }

    /// Why it is built or promoted; empty otherwise.
    pub fn reasons(&self) -> &[Reason] {
        match &self.state {
            State::Build { reasons, .. }
            | State::Promote { reasons, .. }
            | State::Held { reasons, .. } => reasons,
            State::UpToDate { .. } | State::Failed { .. } => &[],
        }
    }

    /// What observe found; `None` when the image could not be observed.
    pub fn observed(&self) -> Option<&Observed> {
        match &self.state {
            State::Build { observed, .. }
            | State::Promote { observed, .. }
            | State::UpToDate { observed, .. }
            | State::Held { observed, .. } => Some(observed),
            State::Failed { .. } => None,
        }
    }

    /// The newest build of the line in the registry.
    pub fn last_build(&self) -> Option<&LastBuild> {
        self.observed()?.last_build.as_ref()
    }

    /// When the schedule fires next, for an image that is not due.
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        match &self.state {
            State::Promote { next_due, .. } | State::UpToDate { next_due, .. } => *next_due,
            State::Build { .. } | State::Failed { .. } | State::Held { .. } => None,
        }
    }

    /// An upstream release held for the schedule (`adopt = "on-schedule"`).
    pub fn waiting(&self) -> Option<&Waiting> {
        match &self.state {
            State::Build { waiting, .. }
            | State::Promote { waiting, .. }
            | State::UpToDate { waiting, .. } => waiting.as_ref(),
            State::Failed { .. } | State::Held { .. } => None,
        }
    }

    /// Whether the image is built on the tag its last build was made FROM
    /// while a newer upstream release waits for the schedule (see
    /// [`crate::observation::Observation::base`]).
    pub fn holds_release(&self) -> bool {
        self.waiting().is_some()
    }

    /// For a build, whether it may use the build cache; `None` otherwise.
    pub fn cache(&self) -> Option<bool> {
        match &self.state {
            State::Build { cache, .. } => Some(*cache),
            _ => None,
        }
    }

    /// The failing line's record, for a held image.
    pub fn failing(&self) -> Option<&crate::failing::Failing> {
        match &self.state {
            State::Held { failing, .. } => Some(failing),
            _ => None,
        }
    }

    /// Why the image could not be observed.
    pub fn error(&self) -> Option<&str> {
        match &self.state {
            State::Failed { error, .. } => Some(error),
            _ => None,
        }
    }

    /// Whether it failed because a registry could not be reached at all.
    pub fn unreachable(&self) -> bool {
        matches!(
            self.state,
            State::Failed {
                unreachable: true,
                ..
            }
        )
    }
}

/// Which images a run is about.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Ids in build order.
    pub ids: Vec<String>,
    /// Ids built whatever their state (`golden rebuild`).
    pub forced: BTreeSet<String>,
    /// `rebuild --cache` / `--no-cache`: whether builds use the build
    /// cache, over each image's `cache` policy.
    pub cache: Option<bool>,
}

/// The ids of the steps the run pushes for (see [`Step::acts`]).
pub fn acted_on(steps: &[Step]) -> Vec<String> {
    steps
        .iter()
        .filter(|step| step.acts())
        .map(|step| step.id.clone())
        .collect()
}

/// Decides every selected image, parents before children.
pub fn plan(
    project: &Project,
    observations: &Observations,
    selection: &Selection,
    now: DateTime<Utc>,
) -> Vec<Step> {
    let mut decided: BTreeMap<&str, Decided> = BTreeMap::new();
    let mut steps = Vec::new();
    for id in &selection.ids {
        let step = decide(project, observations, selection, &decided, id, now);
        let moved = step
            .reasons()
            .iter()
            .filter_map(|reason| match reason {
                Reason::FloatingBehind { tag, new, .. } => Some((tag.clone(), new.clone())),
                _ => None,
            })
            .collect();
        let release = step
            .last_build()
            .and_then(|last| last.release.as_ref())
            .and_then(|(version, _)| version.upstream());
        decided.insert(id, (step.decision(), moved, release));
        steps.push(step);
    }
    steps
}

/// A parent's decision, the floating tags it moves without a build (with
/// the digest each moves to) and, under upstream versioning, the upstream
/// version of its release.
type Decided = (
    Decision,
    Vec<(String, String)>,
    Option<crate::version::UpstreamVersion>,
);

fn decide(
    project: &Project,
    observations: &Observations,
    selection: &Selection,
    decided: &BTreeMap<&str, Decided>,
    id: &str,
    now: DateTime<Utc>,
) -> Step {
    let failed = |error: String| State::Failed {
        error,
        unreachable: false,
    };
    let state = match (project.config.image(id), project.graph.nodes.get(id)) {
        (Some(image), Some(node)) => match observations.get(id) {
            Some(Ok(observation)) => {
                let (reasons, held) = due(selection, decided, id, image, node, observation, now);
                decide_observed(selection, image, observation, reasons, held, now)
            }
            Some(Err(error)) => State::Failed {
                error: crate::hint::text_of(error),
                unreachable: error.is_unreachable(),
            },
            None => failed(format!("`{id}` was not observed")),
        },
        _ => failed(format!("unknown image `{id}`")),
    };
    Step {
        id: id.to_string(),
        state,
    }
}

/// The state of an observed image: built when any reason is due, else
/// promoted when floating tags are behind its release, else up to date.
fn decide_observed(
    selection: &Selection,
    image: &Image,
    observation: &Observation,
    mut reasons: Vec<Reason>,
    held: Option<(String, String)>,
    now: DateTime<Utc>,
) -> State {
    // The next fire costs a cron search: it is computed only when it is
    // shown (an image built now, the usual case at scale, needs none).
    let next_fire = std::cell::OnceCell::new();
    let next_due = || *next_fire.get_or_init(|| image.schedule.next_fire(now));
    // A release held for the schedule waits for it; another reason builds
    // FROM the tag the last build was made FROM. Only when that tag is
    // gone (or no longer matches) does another reason adopt the release.
    let can_hold = observation
        .tracked
        .as_ref()
        .is_some_and(|tracked| tracked.held.is_some());
    let waiting = match held {
        Some((old, new)) if reasons.is_empty() || can_hold => Some(Waiting {
            old,
            new,
            adopt_at: next_due(),
        }),
        Some((old, new)) => {
            reasons.push(Reason::UpstreamReleased { old, new });
            None
        }
        None => None,
    };
    let observed = observed(observation, waiting.is_some());
    if let Some(failing) = held_by_failure(image, observation, &observed, &reasons, now) {
        reasons.insert(0, Reason::from(&failing));
        return State::Held {
            observed,
            reasons,
            failing,
        };
    }
    if !reasons.is_empty() {
        let cache = selection
            .cache
            .unwrap_or_else(|| uses_cache(image.cache, &reasons));
        return State::Build {
            observed,
            reasons,
            cache,
            waiting,
        };
    }
    let behind = floating_behind(observation);
    if behind.is_empty() {
        State::UpToDate {
            observed,
            next_due: next_due(),
            waiting,
        }
    } else {
        State::Promote {
            observed,
            reasons: behind,
            next_due: next_due(),
            waiting,
        }
    }
}

/// What the plan shows of an observation: the last build, and what the
/// image is (or would be) built FROM: the held release's tag while a
/// release `waits` for the schedule, else the tag in use.
fn observed(observation: &Observation, waits: bool) -> Observed {
    let (upstream, upstream_digest) = match &observation.tracked {
        Some(crate::observation::Tracked {
            held: Some(held), ..
        }) if waits => (Some(&held.reference), Some(&held.digest)),
        tracked => (
            tracked.as_ref().map(|tracked| &tracked.resolved),
            observation.base_digest.as_ref(),
        ),
    };
    Observed {
        last_build: observation.last_build.clone(),
        upstream: upstream.map(ToString::to_string),
        upstream_digest: upstream_digest.map(ToString::to_string),
        foreign: observation.foreign.clone(),
    }
}

/// The failing record that holds a build for `reasons`: its inputs are
/// those the failed build was made from and its backoff has not elapsed.
fn held_by_failure(
    image: &Image,
    observation: &Observation,
    observed: &Observed,
    reasons: &[Reason],
    now: DateTime<Utc>,
) -> Option<crate::failing::Failing> {
    let failing = observation.failing.as_ref()?;
    // With no reason to build, a record holding the current inputs is a
    // build the scan gate withdrew (a failed build is never pushed, and a
    // built one clears its line's record): the line still fails.
    if !may_hold(reasons) {
        return None;
    }
    let recipe = observation
        .recipe
        .as_ref()
        .map(|recipe| recipe.digest.as_str());
    let inputs = build_inputs(image, recipe, observed.upstream_digest.as_deref());
    failing
        .holds(inputs.as_deref(), now)
        .then(|| failing.clone())
}

/// Whether a build for `reasons` may be held at all: never when it was
/// forced, or when a parent is rebuilt or promoted in the same run (what
/// it is built on changes).
fn may_hold(reasons: &[Reason]) -> bool {
    !reasons.iter().any(|reason| {
        matches!(
            reason,
            Reason::Forced | Reason::ParentRebuilt { .. } | Reason::ParentPromoted { .. }
        )
    })
}

/// What a build of `image` is made from now (see
/// [`crate::failing::inputs`]): its recipe, the digest it is built FROM
/// (the upstream base, or the golden parent's build), its platforms, and
/// its smoke test, scan and builder: a failing line whose test, scan or
/// builder was fixed in golden.toml is built again at once.
pub fn build_inputs(
    image: &Image,
    recipe: Option<&str>,
    from_digest: Option<&str>,
) -> Option<String> {
    let platforms: Vec<String> = image.platforms.iter().map(ToString::to_string).collect();
    let mut settings = vec![format!("builder {:?}", image.builder)];
    if let Some(test) = &image.test {
        settings.push(format!("test {:?} {:?}", test.command, test.timeout));
    }
    if let Some(scan) = &image.scan {
        settings.push(format!("scan {:?} {:?}", scan.command, scan.timeout));
    }
    crate::failing::inputs(recipe, from_digest, &platforms, &settings)
}

#[cfg(test)]
#[allow(clippy::type_complexity)] // table tests read best as tuples
mod tests;
