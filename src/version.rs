//! Version lines (`X.Y`), exact versions (`X.Y.N`) and the tag rules of
//! SPEC section 2: the next build number and which floating tags may move.
//!
//! Pure: it reads tag lists handed to it and performs no I/O.

use std::fmt;
use std::str::FromStr;

use crate::name::Tag;

/// Why a version string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    #[error("`{0}` is not MAJOR.MINOR: expected two whole numbers without leading zeros, like \"8.0\" (golden assigns the patch)")]
    NotALine(String),
    #[error("`{0}` is not MAJOR.MINOR.PATCH")]
    NotExact(String),
}

/// A version line, `MAJOR.MINOR`, as configured per image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Line {
    pub major: u64,
    pub minor: u64,
}

/// An exact, immutable version `MAJOR.MINOR.PATCH`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Exact {
    pub line: Line,
    pub patch: u64,
}

fn number(text: &str) -> Option<u64> {
    let leading_zero = text.len() > 1 && text.starts_with('0');
    if text.is_empty() || leading_zero || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

impl FromStr for Line {
    type Err = VersionError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || VersionError::NotALine(text.to_string());
        let (major, minor) = text.split_once('.').ok_or_else(invalid)?;
        Ok(Line {
            major: number(major).ok_or_else(invalid)?,
            minor: number(minor).ok_or_else(invalid)?,
        })
    }
}

impl FromStr for Exact {
    type Err = VersionError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || VersionError::NotExact(text.to_string());
        let (line, patch) = text.rsplit_once('.').ok_or_else(invalid)?;
        Ok(Exact {
            line: line.parse().map_err(|_| invalid())?,
            patch: number(patch).ok_or_else(invalid)?,
        })
    }
}

impl Line {
    /// The floating tag `X.Y` of the line.
    pub fn tag(&self) -> Tag {
        Tag::from_valid(self.to_string())
    }

    /// The floating tag `X` of the line's major version.
    pub fn major_tag(&self) -> Tag {
        Tag::from_valid(self.major.to_string())
    }
}

impl Exact {
    /// The exact tag `X.Y.N`.
    pub fn tag(&self) -> Tag {
        Tag::from_valid(self.to_string())
    }
}

impl fmt::Display for Line {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}.{}", self.major, self.minor)
    }
}

impl fmt::Display for Exact {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}.{}", self.line, self.patch)
    }
}

impl<'de> serde::Deserialize<'de> for Line {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// What a golden image's tag follows: every line (`latest` or none), one
/// major (`X`), one line (`X.Y`), one exact build (`X.Y.N`), or nothing golden
/// produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagTarget {
    Latest,
    Major(u64),
    Line(Line),
    Exact(Exact),
    Unknown,
}

impl TagTarget {
    /// Reads a tag; no tag means `latest`.
    pub fn parse(tag: Option<&str>) -> TagTarget {
        match tag {
            None | Some("latest") => TagTarget::Latest,
            Some(tag) => {
                if let Ok(line) = tag.parse() {
                    TagTarget::Line(line)
                } else if let Ok(exact) = tag.parse() {
                    TagTarget::Exact(exact)
                } else if let Ok(major) = tag.parse() {
                    TagTarget::Major(major)
                } else {
                    TagTarget::Unknown
                }
            }
        }
    }

    /// Whether builds of `line` can carry this tag.
    pub fn follows(self, line: Line) -> bool {
        match self {
            TagTarget::Latest => true,
            TagTarget::Major(major) => line.major == major,
            TagTarget::Line(wanted) => line == wanted,
            TagTarget::Exact(exact) => exact.line == line,
            TagTarget::Unknown => false,
        }
    }
}

/// The highest build number golden gives: a line whose tags reach it (or
/// pass it) gets no further build (see [`next_build`]).
pub const PATCH_MAX: u64 = u32::MAX as u64;

/// The exact versions among a repository's tags, whatever their patch
/// number (one past [`PATCH_MAX`] stops the line's numbering rather than
/// being overlooked); other tags are ignored.
pub fn exact_versions<'a>(tags: impl IntoIterator<Item = &'a str>) -> Vec<Exact> {
    let mut versions: Vec<Exact> = tags
        .into_iter()
        .filter_map(|tag| tag.parse::<Exact>().ok())
        .collect();
    versions.sort();
    versions
}

/// Why golden cannot give the next build number or marker.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberingError {
    #[error("cannot number the next build of line {line}: `{tag}` is at or past {PATCH_MAX}, the highest build number golden gives")]
    BuildNumbers { line: Line, tag: Tag },
    #[error("cannot mark {version} withdrawn or restored again: its marker `{tag}` has the highest generation a marker can have")]
    MarkerGenerations { version: Exact, tag: Tag },
}

impl crate::error::Hint for NumberingError {
    fn hint(&self) -> Option<std::borrow::Cow<'_, str>> {
        Some(match self {
            NumberingError::BuildNumbers { tag, .. } => format!(
                "golden does not build past `{tag}` (a tag pushed by hand or another tool, most likely): delete it from the registry (`DELETE /v2/<repository>/manifests/<its digest>`, after checking nothing else is tagged on that digest), then build again"
            )
            .into(),
            NumberingError::MarkerGenerations { tag, .. } => format!(
                "delete the tag `{tag}` from the registry (golden never writes such a generation itself), then roll back again"
            )
            .into(),
        })
    }
}

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

/// The newest exact version of `line` among `versions` that was not
/// withdrawn: the build the line's floating tags belong on.
pub fn release_in_line(line: Line, versions: &[Exact], withdrawn: &[Exact]) -> Option<Exact> {
    versions
        .iter()
        .copied()
        .filter(|v| v.line == line && !withdrawn.contains(v))
        .max()
}

/// The newest exact version of `line` among `versions`.
pub fn newest_in_line(line: Line, versions: &[Exact]) -> Option<Exact> {
    versions.iter().copied().filter(|v| v.line == line).max()
}

/// The version the next build of `line` gets: one more than the highest
/// `X.Y.n` present (compared as numbers), or `X.Y.0`. None when that
/// would pass [`PATCH_MAX`]: a build number golden could not follow is
/// never given (its next build would not see it as the newest).
pub fn next_build(line: Line, versions: &[Exact]) -> Result<Exact, NumberingError> {
    let patch = match newest_in_line(line, versions) {
        None => 0,
        Some(newest) if newest.patch >= PATCH_MAX => {
            return Err(NumberingError::BuildNumbers {
                line,
                tag: newest.tag(),
            })
        }
        Some(newest) => newest.patch + 1,
    };
    Ok(Exact { line, patch })
}

/// The floating tags that may point at `new`, given every exact version in
/// the repository: `X.Y` always; `X` unless a higher `X.Z` line exists;
/// `latest` unless a higher line of any major exists.
pub fn floating_tags(new: Exact, versions: &[Exact]) -> Vec<String> {
    let line = new.line;
    let mut tags = vec![line.to_string()];
    let higher_in_major = versions
        .iter()
        .any(|v| v.line.major == line.major && v.line.minor > line.minor);
    if !higher_in_major {
        tags.push(line.major.to_string());
    }
    if !versions.iter().any(|v| v.line > line) {
        tags.push("latest".to_string());
    }
    tags
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(text: &str) -> Exact {
        text.parse().unwrap()
    }

    #[test]
    fn lines_parse_only_major_minor() {
        for good in ["8.0", "0.1", "10.22", "1.4"] {
            assert_eq!(good.parse::<Line>().unwrap().to_string(), good);
        }
        for bad in [
            "8", "8.0.1", "v8.0", "8.x", "08.0", "8.00", "", ".", "8.", "-1.0", " 8.0",
        ] {
            assert_eq!(
                bad.parse::<Line>(),
                Err(VersionError::NotALine(bad.into())),
                "{bad}"
            );
        }
    }

    #[test]
    fn next_build_compares_numbers_not_text() {
        let line: Line = "2.1".parse().unwrap();
        let tags = [
            "2.1.9",
            "2.1.10",
            "2.1",
            "latest",
            "2.2.0",
            "2.1.x",
            "1.4.20",
            "1.4.99999999999999999999",
        ];
        let versions = exact_versions(tags);
        assert_eq!(next_build(line, &versions), Ok(exact("2.1.11")));
        assert_eq!(
            next_build("3.0".parse().unwrap(), &versions),
            Ok(exact("3.0.0"))
        );
        assert_eq!(next_build(line, &[]), Ok(exact("2.1.0")));
    }

    #[test]
    fn a_tag_at_or_past_the_highest_build_number_stops_numbering_and_is_named() {
        let line: Line = "1.0".parse().unwrap();
        assert_eq!(
            next_build(line, &exact_versions(["1.0.1", "1.0.4294967294"])),
            Ok(exact("1.0.4294967295"))
        );
        for (tags, named) in [
            (vec!["1.0.1", "1.0.4294967295"], "1.0.4294967295"),
            (vec!["1.0.1", "1.0.4294967296"], "1.0.4294967296"),
            (
                vec!["1.0.1", "1.0.18446744073709551615"],
                "1.0.18446744073709551615",
            ),
        ] {
            let versions = exact_versions(tags.iter().copied());
            assert!(
                versions.iter().any(|v| v.to_string() == named),
                "{named} is listed, not overlooked"
            );
            let error = next_build(line, &versions).unwrap_err();
            assert_eq!(
                error,
                NumberingError::BuildNumbers {
                    line,
                    tag: Tag::from_valid(named.to_string())
                }
            );
            let text = crate::error::text(&error);
            assert!(text.contains(&format!("`{named}`")), "{text}");
            assert!(text.contains("hint: "), "{text}");
        }
        // Other lines do not care.
        let versions = exact_versions(["1.0.4294967296", "1.1.3"]);
        assert_eq!(
            next_build("1.1".parse().unwrap(), &versions),
            Ok(exact("1.1.4"))
        );
    }

    #[test]
    fn a_marker_generation_at_the_top_is_refused_not_wrapped() {
        let tags = ["1.0.1", "1.0.1-restored.18446744073709551615"];
        let error = next_marker(tags, exact("1.0.1"), Marker::Withdrawn).unwrap_err();
        assert_eq!(
            error,
            NumberingError::MarkerGenerations {
                version: exact("1.0.1"),
                tag: Tag::from_valid("1.0.1-restored.18446744073709551615".to_string())
            }
        );
        assert!(crate::error::text(&error).contains("hint: delete the tag"));
        assert_eq!(
            next_marker(
                ["1.0.1-withdrawn.18446744073709551614"],
                exact("1.0.1"),
                Marker::Restored
            ),
            Ok(Tag::from_valid(
                "1.0.1-restored.18446744073709551615".to_string()
            ))
        );
    }

    /// Withdrawn versions when every marker counts.
    fn withdrawn_versions<'a>(tags: impl IntoIterator<Item = &'a str>) -> Vec<Exact> {
        withdrawn_in(&marker_states(&marker_tags(tags), |_, _| true))
    }

    #[test]
    fn only_the_markers_golden_wrote_say_the_state() {
        let tags = [
            "1.0.1",
            "1.0.2",
            "1.0.2-withdrawn",
            "1.0.2-restored.1",
            "1.0.1-withdrawn.7",
        ];
        let all = marker_tags(tags);
        assert_eq!(
            all[&exact("1.0.2")]
                .iter()
                .map(|(_, _, tag)| tag.as_str())
                .collect::<Vec<_>>(),
            ["1.0.2-restored.1", "1.0.2-withdrawn"],
            "newest first"
        );
        // `1.0.1-withdrawn.7` and `1.0.2-restored.1` were pushed by someone else.
        let golden = ["1.0.2-withdrawn"];
        let states = marker_states(&all, |_, tag| golden.contains(&tag));
        assert_eq!(withdrawn_in(&states), vec![exact("1.0.2")]);
        assert_eq!(
            states.get(&exact("1.0.1")),
            None,
            "a foreign marker says nothing"
        );
        // The next marker still goes above every tag, so none is written over.
        assert_eq!(
            next_marker(tags, exact("1.0.1"), Marker::Restored),
            Ok(Tag::from_valid("1.0.1-restored.8".to_string()))
        );
    }

    #[test]
    fn tags_select_lines() {
        let line: Line = "8.0".parse().unwrap();
        for (tag, follows) in [
            (None, true),
            (Some("latest"), true),
            (Some("8"), true),
            (Some("9"), false),
            (Some("8.0"), true),
            (Some("8.0.3"), true),
            (Some("8.1.0"), false),
            (Some("v8"), false),
        ] {
            assert_eq!(TagTarget::parse(tag).follows(line), follows, "{tag:?}");
        }
        assert_eq!(
            TagTarget::parse(Some("8.0.3")),
            TagTarget::Exact(exact("8.0.3"))
        );
    }

    #[test]
    fn withdrawn_builds_are_not_released() {
        let tags = [
            "8.0.17",
            "8.0.18",
            "8.0.19",
            "8.0.18-withdrawn",
            "8.0.19-withdrawn",
            "8.0-withdrawn",
            "x-withdrawn",
            "8.0",
        ];
        let versions = exact_versions(tags);
        let withdrawn = withdrawn_versions(tags);
        assert_eq!(withdrawn, vec![exact("8.0.18"), exact("8.0.19")]);
        assert_eq!(versions.len(), 3, "markers are not exact versions");
        let line = "8.0".parse().unwrap();
        assert_eq!(
            release_in_line(line, &versions, &withdrawn),
            Some(exact("8.0.17"))
        );
        assert_eq!(release_in_line(line, &versions, &[]), Some(exact("8.0.19")));
        assert_eq!(next_build(line, &versions), Ok(exact("8.0.20")));
        assert_eq!(
            next_marker(tags, exact("8.0.17"), Marker::Withdrawn).unwrap(),
            "8.0.17-withdrawn"
        );
        assert_eq!(
            next_marker(tags, exact("8.0.19"), Marker::Restored).unwrap(),
            "8.0.19-restored.1"
        );
        assert_eq!(
            TagTarget::parse(Some("8.0.19-withdrawn")),
            TagTarget::Unknown
        );
    }

    #[test]
    fn a_newer_marker_undoes_an_older_one() {
        let tags = [
            "1.0.1",
            "1.0.2",
            "1.0.1-withdrawn",
            "1.0.1-restored.1",
            "1.0.2-withdrawn",
            "1.0.2-restored.1",
            "1.0.2-withdrawn.2",
            "1.0.2-restored.01",
            "1.0.2-restored",
            "1.0.2-withdrawn.x",
        ];
        assert_eq!(withdrawn_versions(tags), vec![exact("1.0.2")]);
        assert_eq!(
            next_marker(tags, exact("1.0.2"), Marker::Restored).unwrap(),
            "1.0.2-restored.3"
        );
        assert_eq!(
            next_marker(tags, exact("1.0.1"), Marker::Withdrawn).unwrap(),
            "1.0.1-withdrawn.2"
        );
        assert_eq!(
            parse_marker("1.0.2-withdrawn.2"),
            Some((exact("1.0.2"), 2, Marker::Withdrawn))
        );
        assert_eq!(parse_marker("1.0.2-restored"), None);
        assert_eq!(parse_marker("1.0.2"), None);
    }

    #[test]
    fn floating_tags_move_forward_only() {
        let cases: Vec<(&str, Vec<&str>, Vec<&str>)> = vec![
            ("1.0.0", vec![], vec!["1.0", "1", "latest"]),
            ("2.1.1", vec!["2.1.0", "1.4.0"], vec!["2.1", "2", "latest"]),
            ("1.4.1", vec!["2.1.0", "1.4.0"], vec!["1.4", "1"]),
            ("2.0.3", vec!["2.1.0", "2.0.2"], vec!["2.0"]),
            ("2.1.0", vec!["2.0.5", "1.9.9"], vec!["2.1", "2", "latest"]),
            ("1.9.0", vec!["1.10.0"], vec!["1.9"]),
            ("3.0.0", vec!["2.9.0", "10.0.0"], vec!["3.0", "3"]),
        ];
        for (new, existing, expected) in cases {
            let versions: Vec<Exact> = existing.iter().map(|v| exact(v)).collect();
            assert_eq!(
                floating_tags(exact(new), &versions),
                expected,
                "{new} over {existing:?}"
            );
        }
    }
}
