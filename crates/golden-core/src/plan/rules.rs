//! The reason rules: why an image is due (forced, never built, its
//! schedule, its upstream release, its base, its recipe, its platforms, its
//! parents in this run) and which floating tags are behind its release.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use super::{Decided, Decision, Reason, Selection};
use crate::config::Image;
use crate::graph::{Node, Upstream};
use crate::observation::{LastBuild, Observation};

/// Every reason `id` is due: forced, never built, its schedule, its base,
/// its recipe, its parents in this run; and an upstream release held for
/// the schedule (`old`, `new`), which is no reason by itself.
pub(super) fn due(
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
/// released a tag `track` follows, the base moved, the last build is not
/// whole or not for the platforms configured, the recipe changed. Returns
/// a release held for the schedule (`adopt = "on-schedule"`).
fn own_reasons(
    reasons: &mut Vec<Reason>,
    image: &Image,
    node: &Node,
    observation: &Observation,
    last: &LastBuild,
    now: DateTime<Utc>,
) -> Option<(String, String)> {
    reasons.extend(schedule_fired(image, last, now));
    let held = adopt_or_hold(reasons, image, observation, last);
    let adopting = reasons
        .iter()
        .any(|reason| matches!(reason, Reason::UpstreamReleased { .. }));
    reasons.extend(base_moved(
        node,
        observation,
        last,
        held.is_some(),
        adopting,
    ));
    reasons.extend(incomplete(last));
    reasons.extend(platforms_changed(image, last));
    reasons.extend(recipe_changed(observation, last));
    held
}

/// The schedule fired after the last build was made.
fn schedule_fired(image: &Image, last: &LastBuild, now: DateTime<Utc>) -> Option<Reason> {
    match (image.schedule.previous_fire(now), last.created) {
        (Some(at), Some(created)) if at > created => Some(Reason::ScheduleFired { at }),
        // A build that does not say when it was made is treated as
        // older than any schedule.
        (Some(at), None) => Some(Reason::ScheduleFired { at }),
        _ => None,
    }
}

/// An upstream release `track` follows: a reason when the image adopts it
/// now; on schedule, it is adopted when the schedule fired (or `golden
/// rebuild` forced the build), and until then returned, held.
fn adopt_or_hold(
    reasons: &mut Vec<Reason>,
    image: &Image,
    observation: &Observation,
    last: &LastBuild,
) -> Option<(String, String)> {
    let released = upstream_released(image, observation, last);
    let adopted = reasons
        .iter()
        .any(|reason| matches!(reason, Reason::ScheduleFired { .. } | Reason::Forced));
    match (released, image.adopt) {
        (Some((old, new)), crate::upstream::Adopt::Immediately) => {
            reasons.push(Reason::UpstreamReleased { old, new });
        }
        (Some((old, new)), crate::upstream::Adopt::OnSchedule) if adopted => {
            reasons.push(Reason::UpstreamReleased { old, new });
        }
        (Some(release), crate::upstream::Adopt::OnSchedule) => return Some(release),
        (None, _) => {}
    }
    None
}

/// The base (or the golden parent) resolves to another digest than the
/// last build was made on. The base moved because its tag did (`adopting`
/// a release): said as the release only. While a release is `held`, the
/// base is the tag the last build was made FROM (re-pushed by the vendor:
/// `base-updated`).
fn base_moved(
    node: &Node,
    observation: &Observation,
    last: &LastBuild,
    held: bool,
    adopting: bool,
) -> Option<Reason> {
    let current = match (held, &observation.tracked) {
        (true, Some(tracked)) => tracked.held.as_ref().map(|held| &held.digest),
        (true, None) => None,
        (false, _) if adopting => None,
        (false, _) => observation.base_digest.as_ref(),
    }?;
    if last.base_digest.as_deref() == Some(current.as_str()) {
        return None;
    }
    let (old, new) = (last.base_digest.clone(), current.to_string());
    Some(match &node.upstream {
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
    })
}

/// The build the floating tags would belong on is not whole.
fn incomplete(last: &LastBuild) -> Option<Reason> {
    let (version, why) = last.incomplete.as_ref()?;
    Some(Reason::Incomplete {
        version: version.to_string(),
        why: why.clone(),
    })
}

/// The platforms configured are not those the last build was made for.
/// An incomplete last build's platforms are not what it was built for.
fn platforms_changed(image: &Image, last: &LastBuild) -> Option<Reason> {
    let last_whole = last
        .incomplete
        .as_ref()
        .is_none_or(|(version, _)| *version != last.version);
    if !last_whole || same_platforms(&image.platforms, &last.platforms) {
        return None;
    }
    let names = |platforms: &[crate::platform::Platform]| {
        platforms.iter().map(ToString::to_string).collect()
    };
    Some(Reason::PlatformsChanged {
        old: names(&last.platforms),
        new: names(&image.platforms),
    })
}

/// The recipe hashes to another key than the last build's, with what
/// changed when the last build recorded its parts. The recipe is observed
/// for every line built before that is not forced (see
/// [`compares_recipe`]); a forced build needs no other reason.
fn recipe_changed(observation: &Observation, last: &LastBuild) -> Option<Reason> {
    let recipe = observation.recipe.as_ref()?;
    if last.recipe.as_deref() == Some(recipe.digest.as_str()) {
        return None;
    }
    let changed = last
        .recipe_parts
        .as_deref()
        .and_then(|recorded| recipe.parts.changed_since(recorded))
        .unwrap_or_default();
    Some(Reason::RecipeChanged {
        old: last.recipe.clone(),
        new: recipe.digest.clone(),
        changed,
    })
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

/// Whether observe hashes an image's recipe before the build: for a line
/// built before, which the plan compares with the last build's, and for
/// a line with a failing record, whose inputs decide whether it is held
/// (see [`crate::failing`]); never for a line `golden rebuild` forces. A
/// line never built, or forced, is due whatever its recipe: its build
/// hashes the context as it sends it, and a failed one is hashed after
/// the run, so a plan over thousands of new lines reads no context.
pub fn compares_recipe(forced: bool, last_build: bool, failing: bool) -> bool {
    !forced && (last_build || failing)
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
    let Some((version, release)) = &last.release else {
        return Vec::new();
    };
    let behind: Vec<Reason> = last
        .floating
        .iter()
        .filter(|floating| floating.digest.as_ref() != Some(release))
        .map(|floating| Reason::FloatingBehind {
            tag: floating.tag.to_string(),
            old: floating.digest.as_ref().map(ToString::to_string),
            new: release.to_string(),
        })
        .collect();
    // No floating tag on the newest build at all: it was never released
    // (after a rollback, the release is an older build that was).
    if !behind.is_empty() && behind.len() == last.floating.len() && last.version == *version {
        let unreleased = Reason::Unreleased {
            version: version.to_string(),
        };
        return std::iter::once(unreleased).chain(behind).collect();
    }
    behind
}
