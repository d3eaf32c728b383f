//! Plan: a pure function of the project, the observations and `now` that
//! decides, per image and in build order, whether it is built and every
//! reason why. `golden plan` prints exactly this; `golden build` acts on it.
//!
//! No I/O and no clock reads here.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

mod cache;
use crate::config::Image;
use crate::graph::{Node, Upstream};
use crate::observation::{LastBuild, Observation, Observations};
use crate::project::Project;
use crate::provenance::ForeignTag;
pub use cache::uses_cache;

/// Why an image is built (or, for `parent-failed`, skipped): the
/// `reasons[]` of the report (SPEC section 4), tagged by `kind`.
#[deny(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Reason {
    /// The line has no golden build in the registry.
    NeverBuilt,
    /// The schedule fired after the last build was made.
    ScheduleFired {
        /// When it fired.
        #[serde(serialize_with = "rfc3339")]
        at: DateTime<Utc>,
    },
    /// The upstream base resolves to another digest than the last build
    /// was made on.
    BaseUpdated {
        /// The digest the last build was made on, null when it did not say.
        old: Option<String>,
        /// The digest it resolves to now.
        new: String,
        /// For a multi-platform base (`old` and `new` are its index),
        /// the platforms whose image changed; left out when unknown.
        #[serde(skip_serializing_if = "Vec::is_empty", default)]
        platforms: Vec<String>,
    },
    /// The recipe (Dockerfile, context, build args, labels) hashes to
    /// another key than the last build's.
    RecipeChanged {
        /// The last build's recipe key, null when it did not record one.
        old: Option<String>,
        /// The recipe key now.
        new: String,
        /// What changed, when the last build recorded its parts: the
        /// Dockerfile, `build arg NAME`, `label KEY`, a top-level entry.
        #[serde(skip_serializing_if = "Vec::is_empty", default)]
        changed: Vec<String>,
    },
    /// A golden parent is built in this run.
    ParentRebuilt {
        /// The parent's image id.
        parent: String,
    },
    /// The golden parent's floating tag this image is built FROM moves to
    /// another build of the parent in this run.
    ParentPromoted {
        /// The parent's image id.
        parent: String,
        /// The floating tag that moves.
        tag: String,
    },
    /// The golden parent has a build newer than the one this image was
    /// made on.
    ParentNewer {
        /// The parent's image id.
        parent: String,
        /// The parent digest the last build was made on.
        old: Option<String>,
        /// The parent digest the FROM resolves to now.
        new: String,
    },
    /// With `track`: the upstream published a newer tag the pattern
    /// matches than the one the last build was made FROM (its
    /// `org.opencontainers.image.base.name`). Said instead of
    /// `base-updated`: the base moved because its tag did.
    UpstreamReleased {
        /// The tag the last build was made FROM.
        old: String,
        /// The tag this build is made FROM.
        new: String,
    },
    /// The platforms configured are not those of the last build (an
    /// empty list: the engine's own platform, a single image).
    PlatformsChanged {
        /// The last build's platforms.
        old: Vec<String>,
        /// The platforms configured now.
        new: Vec<String>,
    },
    /// The build the floating tags would belong on is not whole (an image
    /// its index names is gone, or a push stopped before the index): it is
    /// never released, so the line is built again.
    Incomplete {
        /// The exact version.
        version: String,
        /// What is missing.
        why: crate::provenance::Incomplete,
    },
    /// `golden rebuild` named it.
    Forced,
    /// Skipped: a golden parent failed or was skipped in this run.
    ParentFailed {
        /// The parent's image id.
        parent: String,
    },
    /// A signal (`SIGINT`, `SIGTERM`) stopped the run before this image
    /// started; only in run reports.
    Interrupted {
        /// `SIGINT`, `SIGTERM` or `a stop request`.
        signal: String,
    },
    /// The release's floating tag `tag` points elsewhere (`old`, null when
    /// missing): a run died before promoting it, or someone moved it.
    /// Nothing is rebuilt; the tag is moved back registry-side.
    FloatingBehind {
        /// The floating tag (`X.Y`, `X`, `latest`).
        tag: String,
        /// The digest it points at, null when it is missing.
        old: Option<String>,
        /// The release's digest, where it belongs.
        new: String,
    },
}

fn rfc3339<S: serde::Serializer>(time: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&time.to_rfc3339_opts(SecondsFormat::Secs, true))
}

impl std::fmt::Display for Reason {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let short =
            |digest: &Option<String>| digest.as_deref().map_or("none".to_string(), short_digest);
        match self {
            Reason::NeverBuilt => write!(formatter, "never built"),
            Reason::ScheduleFired { at } => write!(
                formatter,
                "schedule fired at {}",
                at.to_rfc3339_opts(SecondsFormat::Secs, true)
            ),
            Reason::BaseUpdated {
                old,
                new,
                platforms,
            } => {
                write!(
                    formatter,
                    "base updated {} -> {}",
                    short(old),
                    short_digest(new)
                )?;
                if !platforms.is_empty() {
                    write!(formatter, " ({})", platforms.join(", "))?;
                }
                Ok(())
            }
            Reason::RecipeChanged { changed, .. } if !changed.is_empty() => {
                write!(formatter, "recipe changed: {}", changed.join(", "))
            }
            Reason::RecipeChanged { old, new, .. } => write!(
                formatter,
                "recipe changed {} -> {}",
                short(old),
                short_digest(new)
            ),
            Reason::ParentRebuilt { parent } => write!(formatter, "parent {parent} rebuilt"),
            Reason::ParentPromoted { parent, tag } => {
                write!(formatter, "parent {parent}'s tag {tag} moves")
            }
            Reason::ParentNewer { parent, old, new } => {
                write!(
                    formatter,
                    "parent {parent} newer {} -> {}",
                    short(old),
                    short_digest(new)
                )
            }
            Reason::UpstreamReleased { old, new } => {
                write!(formatter, "upstream released {new} (was {old})")
            }
            Reason::PlatformsChanged { old, new } => {
                let list = |platforms: &[String]| match platforms.is_empty() {
                    true => "the engine's own".to_string(),
                    false => platforms.join(", "),
                };
                write!(
                    formatter,
                    "platforms changed {} -> {}",
                    list(old),
                    list(new)
                )
            }
            Reason::Incomplete { version, why } => {
                write!(formatter, "{version} is incomplete: {why}")
            }
            Reason::Forced => write!(formatter, "forced"),
            Reason::ParentFailed { parent } => write!(formatter, "parent {parent} failed"),
            Reason::Interrupted { signal } => {
                write!(formatter, "not started: stopped by {signal}; run again")
            }
            Reason::FloatingBehind { tag, old, new } => {
                write!(
                    formatter,
                    "floating tag {tag} behind {} -> {}",
                    short(old),
                    short_digest(new)
                )
            }
        }
    }
}

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
}

/// With `track` and `adopt = "on-schedule"`: an upstream release the
/// image is not built for yet. It waits for the schedule (or `golden
/// rebuild`): another reason builds the image FROM the tag its last build
/// was made FROM, which is compared with the last build's base meanwhile.
/// Not a reason: the image is not due for it (the report's `waiting`).
#[deny(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
        Some(time) => rfc3339(time, serializer),
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
            State::Build { reasons, .. } | State::Promote { reasons, .. } => reasons,
            State::UpToDate { .. } | State::Failed { .. } => &[],
        }
    }

    /// What observe found; `None` when the image could not be observed.
    pub fn observed(&self) -> Option<&Observed> {
        match &self.state {
            State::Build { observed, .. }
            | State::Promote { observed, .. }
            | State::UpToDate { observed, .. } => Some(observed),
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
            State::Build { .. } | State::Failed { .. } => None,
        }
    }

    /// An upstream release held for the schedule (`adopt = "on-schedule"`).
    pub fn waiting(&self) -> Option<&Waiting> {
        match &self.state {
            State::Build { waiting, .. }
            | State::Promote { waiting, .. }
            | State::UpToDate { waiting, .. } => waiting.as_ref(),
            State::Failed { .. } => None,
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
    // What the image is (or would be) built FROM.
    let (upstream, upstream_digest) = match &observation.tracked {
        Some(crate::observation::Tracked {
            held: Some(held), ..
        }) if waiting.is_some() => (Some(&held.reference), Some(&held.digest)),
        tracked => (
            tracked.as_ref().map(|tracked| &tracked.resolved),
            observation.base_digest.as_ref(),
        ),
    };
    let observed = Observed {
        last_build: observation.last_build.clone(),
        upstream: upstream.map(ToString::to_string),
        upstream_digest: upstream_digest.map(ToString::to_string),
        foreign: observation.foreign.clone(),
    };
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

/// Every reason `id` is due: forced, never built, its schedule, its base,
/// its recipe, its parents in this run; and an upstream release held for
/// the schedule (`old`, `new`), which is no reason by itself.
fn due(
    selection: &Selection,
    decided: &BTreeMap<&str, Decided>,
    id: &str,
    image: &Image,
    node: &Node,
    observation: &Observation,
    now: DateTime<Utc>,
) -> (Vec<Reason>, Option<(String, String)>) {
    let mut reasons = Vec::new();
    let mut held = None;
    if selection.forced.contains(id) {
        reasons.push(Reason::Forced);
    }
    match &observation.last_build {
        None => reasons.push(Reason::NeverBuilt),
        Some(last) => {
            held = own_reasons(&mut reasons, image, node, observation, last, now);
        }
    }
    parent_reasons(&mut reasons, decided, node, observation);
    // A parent rebuilt in this run makes "parent newer" redundant.
    let rebuilt: BTreeSet<String> = reasons
        .iter()
        .filter_map(|r| match r {
            Reason::ParentRebuilt { parent } => Some(parent.clone()),
            _ => None,
        })
        .collect();
    reasons
        .retain(|r| !matches!(r, Reason::ParentNewer { parent, .. } if rebuilt.contains(parent)));
    (reasons, held)
}

/// What changed since the last build: the schedule fired, the upstream
/// released a tag `track` follows, the base moved, the recipe changed.
/// Returns a release held for the schedule (`adopt = "on-schedule"`).
fn own_reasons(
    reasons: &mut Vec<Reason>,
    image: &Image,
    node: &Node,
    observation: &Observation,
    last: &LastBuild,
    now: DateTime<Utc>,
) -> Option<(String, String)> {
    let fired = image.schedule.previous_fire(now);
    match (fired, last.created) {
        (Some(at), Some(created)) if at > created => reasons.push(Reason::ScheduleFired { at }),
        // A build that does not say when it was made is treated as
        // older than any schedule.
        (Some(at), None) => reasons.push(Reason::ScheduleFired { at }),
        _ => {}
    }
    let released = upstream_released(image, observation, last);
    // On schedule, a release is adopted when the schedule fired (or
    // `golden rebuild` forced the build); until then it is held.
    let adopted = reasons
        .iter()
        .any(|reason| matches!(reason, Reason::ScheduleFired { .. } | Reason::Forced));
    let mut held = None;
    match (released, image.adopt) {
        (Some((old, new)), crate::upstream::Adopt::Immediately) => {
            reasons.push(Reason::UpstreamReleased { old, new });
        }
        (Some((old, new)), crate::upstream::Adopt::OnSchedule) if adopted => {
            reasons.push(Reason::UpstreamReleased { old, new });
        }
        (Some(release), crate::upstream::Adopt::OnSchedule) => held = Some(release),
        (None, _) => {}
    }
    // The base moved because its tag did: said as the release only. While
    // a release is held, the base is the tag the last build was made FROM
    // (re-pushed by the vendor: `base-updated`).
    let adopting = reasons
        .iter()
        .any(|reason| matches!(reason, Reason::UpstreamReleased { .. }));
    let current = match (&held, &observation.tracked) {
        (Some(_), Some(tracked)) => tracked.held.as_ref().map(|held| &held.digest),
        (Some(_), None) => None,
        (None, _) if adopting => None,
        (None, _) => observation.base_digest.as_ref(),
    };
    if let Some(current) = current {
        if last.base_digest.as_deref() != Some(current.as_str()) {
            let (old, new) = (last.base_digest.clone(), current.to_string());
            reasons.push(match &node.upstream {
                Upstream::Golden { id: parent, .. } => Reason::ParentNewer {
                    parent: parent.clone(),
                    old,
                    new,
                },
                _ => Reason::BaseUpdated {
                    old,
                    new,
                    platforms: observation.base_platforms_changed.clone(),
                },
            });
        }
    }
    if let Some((version, why)) = &last.incomplete {
        reasons.push(Reason::Incomplete {
            version: version.to_string(),
            why: why.clone(),
        });
    }
    // An incomplete last build's platforms are not what it was built for.
    let last_whole = last
        .incomplete
        .as_ref()
        .is_none_or(|(version, _)| *version != last.version);
    if last_whole && !same_platforms(&image.platforms, &last.platforms) {
        let names = |platforms: &[crate::platform::Platform]| {
            platforms.iter().map(ToString::to_string).collect()
        };
        reasons.push(Reason::PlatformsChanged {
            old: names(&last.platforms),
            new: names(&image.platforms),
        });
    }
    // Observed for every line built before that is not forced (see
    // `compares_recipe`); a forced build needs no other reason.
    let Some(recipe) = &observation.recipe else {
        return held;
    };
    if last.recipe.as_deref() != Some(recipe.digest.as_str()) {
        let changed = last
            .recipe_parts
            .as_deref()
            .and_then(|recorded| recipe.parts.changed_since(recorded))
            .unwrap_or_default();
        reasons.push(Reason::RecipeChanged {
            old: last.recipe.clone(),
            new: recipe.digest.clone(),
            changed,
        });
    }
    held
}

/// With `track`: the tag the last build was made FROM (read from its
/// `org.opencontainers.image.base.name`) and the newer one observe picked,
/// when the upstream released one since. `None` when the last build named
/// no base of the same repository the pattern matches: its base moving
/// is then `base-updated`, as without `track`.
fn upstream_released(
    image: &Image,
    observation: &Observation,
    last: &LastBuild,
) -> Option<(String, String)> {
    let track = image.track.as_ref()?;
    let tracked = observation.tracked.as_ref()?;
    let built_on = crate::reference::Reference::parse(last.base_name.as_deref()?).ok()?;
    if built_on.repository_name() != tracked.resolved.repository_name() {
        return None;
    }
    let old = built_on.tag()?;
    let new = tracked.tag();
    (track.components(new)? > track.components(old)?).then(|| (old.to_string(), new.to_string()))
}

/// Whether the plan compares an image's recipe with its last build's, so
/// observe hashes its context before the build: a line built before, not
/// forced. A line never built, or one `golden rebuild` forces, is due
/// whatever its recipe: its build hashes the context as it sends it, and
/// the `recipe-changed` reason is left out of a forced build's reasons.
pub fn compares_recipe(forced: bool, last_build: Option<&LastBuild>) -> bool {
    !forced && last_build.is_some()
}

/// Whether a build for `built` is one for `configured`, in any order.
fn same_platforms(
    configured: &[crate::platform::Platform],
    built: &[crate::platform::Platform],
) -> bool {
    configured.len() == built.len() && configured.iter().all(|p| built.contains(p))
}

/// Parents decided earlier in this run: rebuilt, or promoted so that the
/// tag this image is built FROM moves to a build it was not made on.
fn parent_reasons(
    reasons: &mut Vec<Reason>,
    decided: &BTreeMap<&str, Decided>,
    node: &Node,
    observation: &Observation,
) {
    for parent in &node.parents {
        match decided.get(parent.as_str()) {
            Some((Decision::Build, _, release)) => {
                if !build_may_move(node, parent, *release) {
                    continue;
                }
                reasons.push(Reason::ParentRebuilt {
                    parent: parent.clone(),
                });
            }
            Some((Decision::Promote, moved, _)) => {
                if let Upstream::Golden { id, reference } = &node.upstream {
                    let tag = reference.tag().unwrap_or("latest");
                    let built_on = observation
                        .last_build
                        .as_ref()
                        .and_then(|last| last.base_digest.as_ref());
                    let moves = moved
                        .iter()
                        .any(|(moved, new)| moved == tag && built_on != Some(new));
                    if id == parent && moves {
                        reasons.push(Reason::ParentPromoted {
                            parent: parent.clone(),
                            tag: tag.to_string(),
                        });
                    }
                }
            }
            _ => {}
        }
    }
}

/// Whether a build of `parent`, whose release is of upstream version
/// `release`, may move the tag `node` is built FROM. An `X.Y.Z` tag moves
/// only to a build of that upstream version, and a line is built forward
/// only: a tag of an older version than the release never moves again, so
/// a child FROM it is not rebuilt for the parent's builds (`parent-newer`
/// still says when it moves). Every other tag may move.
fn build_may_move(
    node: &Node,
    parent: &str,
    release: Option<crate::version::UpstreamVersion>,
) -> bool {
    use crate::version::{TagTarget, UpstreamVersion};
    let Upstream::Golden { id, reference } = &node.upstream else {
        return true;
    };
    let follows = match TagTarget::parse(reference.tag()) {
        TagTarget::Exact(exact) if exact.revision.is_none() => reference
            .tag()
            .and_then(|tag| tag.parse::<UpstreamVersion>().ok()),
        TagTarget::Upstream(upstream) => Some(upstream),
        _ => None,
    };
    match (follows, release) {
        (Some(follows), Some(release)) if id == parent => follows >= release,
        _ => true,
    }
}

/// Every floating tag that belongs on the release and points elsewhere
/// (left behind by a run that died, or moved by someone else) is moved
/// back, registry-side. Observe found the release among golden builds
/// only, so nothing foreign is ever promoted.
pub(crate) fn floating_behind(observation: &Observation) -> Vec<Reason> {
    let Some(last) = &observation.last_build else {
        return Vec::new();
    };
    let Some((_, release)) = &last.release else {
        return Vec::new();
    };
    last.floating
        .iter()
        .filter(|floating| floating.digest.as_ref() != Some(release))
        .map(|floating| Reason::FloatingBehind {
            tag: floating.tag.to_string(),
            old: floating.digest.as_ref().map(ToString::to_string),
            new: release.to_string(),
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::type_complexity)] // table tests read best as tuples
mod tests;
