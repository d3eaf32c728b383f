//! The markers `golden rollback` tags builds with (`X.Y.N-withdrawn`,
//! `X.Y.N-restored.G`) and the state they say.

use super::{Exact, NumberingError};
use crate::name::Tag;

/// What `golden rollback` appends to an exact version's tag to withdraw it:
/// `8.0.19-withdrawn` points at the same manifest as `8.0.19`, and from
/// then on no floating tag is moved to that build again. The marker lives in
/// the registry, beside the build it withdraws, and goes with it on prune.
pub const WITHDRAWN_SUFFIX: &str = "-withdrawn";

/// What a rollback that names a withdrawn build appends to restore it.
pub const RESTORED_SUFFIX: &str = "-restored";

/// A rollback's marker on a build. A registry cannot delete one tag, so a
/// withdrawal is undone by a newer marker: generation 0 is the plain
/// `X.Y.N-withdrawn`, later ones are `X.Y.N-restored.1`,
/// `X.Y.N-withdrawn.2`, ...; the highest generation says the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    Withdrawn,
    Restored,
}

/// The version, generation and kind of a marker tag.
pub fn parse_marker(tag: &str) -> Option<(Exact, u64, Marker)> {
    for (suffix, marker) in [
        (WITHDRAWN_SUFFIX, Marker::Withdrawn),
        (RESTORED_SUFFIX, Marker::Restored),
    ] {
        let Some((version, rest)) = tag.split_once(suffix) else {
            continue;
        };
        let Ok(version) = version.parse::<Exact>() else {
            continue;
        };
        let generation = match rest.strip_prefix('.') {
            None if rest.is_empty() && marker == Marker::Withdrawn => 0,
            Some(number) => match number.parse::<u64>() {
                Ok(generation) if generation > 0 && number == generation.to_string() => generation,
                _ => continue,
            },
            None => continue,
        };
        return Some((version, generation, marker));
    }
    None
}

/// The tag of a marker.
pub fn marker_tag(version: Exact, generation: u64, marker: Marker) -> Tag {
    let suffix = match marker {
        Marker::Withdrawn => WITHDRAWN_SUFFIX,
        Marker::Restored => RESTORED_SUFFIX,
    };
    Tag::from_valid(match generation {
        0 => format!("{version}{suffix}"),
        generation => format!("{version}{suffix}.{generation}"),
    })
}

/// The newest marker of each version that has one.
pub fn markers<'a>(
    tags: impl IntoIterator<Item = &'a str>,
) -> std::collections::BTreeMap<Exact, (u64, Marker)> {
    let mut newest = std::collections::BTreeMap::new();
    for (version, generation, marker) in tags.into_iter().filter_map(parse_marker) {
        let entry = newest.entry(version).or_insert((generation, marker));
        if generation > entry.0 {
            *entry = (generation, marker);
        }
    }
    newest
}

/// The marker tag that changes `version` to `marker` next: generation 0
/// for a first withdrawal, else one above every marker tag of it (golden's
/// or not, so no tag is ever written over). A generation past `u64::MAX`
/// is refused, never wrapped.
pub fn next_marker<'a>(
    tags: impl IntoIterator<Item = &'a str>,
    version: Exact,
    marker: Marker,
) -> Result<Tag, NumberingError> {
    let generation = match markers(tags).get(&version) {
        None => 0,
        Some((newest, kind)) => {
            newest
                .checked_add(1)
                .ok_or_else(|| NumberingError::MarkerGenerations {
                    version,
                    tag: marker_tag(version, *newest, *kind),
                })?
        }
    };
    Ok(marker_tag(version, generation, marker))
}

/// The marker tags of each version, newest generation first. Which of
/// them count is for the caller to say: only golden's own do (see
/// [`marker_states`]).
pub fn marker_tags<'a>(
    tags: impl IntoIterator<Item = &'a str>,
) -> std::collections::BTreeMap<Exact, Vec<(u64, Marker, String)>> {
    let mut all: std::collections::BTreeMap<Exact, Vec<(u64, Marker, String)>> =
        std::collections::BTreeMap::new();
    for tag in tags {
        if let Some((version, generation, marker)) = parse_marker(tag) {
            all.entry(version)
                .or_default()
                .push((generation, marker, tag.to_string()));
        }
    }
    for list in all.values_mut() {
        list.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.2.cmp(&b.2)));
    }
    all
}

/// The state each version's markers say, counting only the markers
/// `golden_wrote` accepts: the newest of those decides. A marker anyone
/// can push (`X.Y.N-withdrawn.7`, an unrelated image) says nothing; golden
/// writes a marker as a copy of the build's manifest, so the caller
/// accepts one whose digest is the build's.
pub fn marker_states(
    tags: &std::collections::BTreeMap<Exact, Vec<(u64, Marker, String)>>,
    mut golden_wrote: impl FnMut(Exact, &str) -> bool,
) -> std::collections::BTreeMap<Exact, Marker> {
    tags.iter()
        .filter_map(|(version, markers)| {
            markers
                .iter()
                .find(|(_, _, tag)| golden_wrote(*version, tag))
                .map(|(_, marker, _)| (*version, *marker))
        })
        .collect()
}

/// The versions whose state is withdrawn.
pub fn withdrawn_in(states: &std::collections::BTreeMap<Exact, Marker>) -> Vec<Exact> {
    states
        .iter()
        .filter(|(_, marker)| **marker == Marker::Withdrawn)
        .map(|(version, _)| *version)
        .collect()
}
