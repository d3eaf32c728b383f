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
    #[error("`{0}` is not a version MAJOR.MINOR.PATCH, with an optional -PRERELEASE (such as \"10.0.3\" or \"11.0.0-preview.7\")")]
    NotUpstream(String),
}

/// A version line, `MAJOR.MINOR`, as configured per image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Line {
    pub major: u64,
    pub minor: u64,
}

/// An exact, immutable version: `MAJOR.MINOR.PATCH` under
/// `versioning = "line"` (golden counts builds in `PATCH`), or
/// `MAJOR.MINOR.PATCH[-PRERELEASE]-rN` under `versioning = "upstream"`
/// (the upstream version the build holds, then golden's revision `N` of
/// it, counted from 1). The two spellings never overlap, so a tag reads
/// as one or the other; which of them are a repository's builds is the
/// line's [`Versioning`] to say.
///
/// Ordered by version first, then revision: `10.0.4-r1` is newer than
/// `10.0.3-r9`, and a prerelease is older than its release (semver's
/// precedence).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Exact {
    pub line: Line,
    /// The build number under `line` versioning; the upstream patch
    /// under `upstream`.
    pub patch: u64,
    /// The upstream prerelease (`preview.7` of `11.0.0-preview.7`).
    pub pre: Option<Prerelease>,
    /// `N` of `-rN`: `Some` exactly under `upstream` versioning.
    pub revision: Option<u64>,
}

impl Ord for Exact {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.line
            .cmp(&other.line)
            .then(self.patch.cmp(&other.patch))
            .then_with(|| match (&self.pre, &other.pre) {
                (None, None) => std::cmp::Ordering::Equal,
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (Some(a), Some(b)) => a.cmp(b),
            })
            .then(self.revision.cmp(&other.revision))
    }
}

impl PartialOrd for Exact {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// How a line names its builds (`versioning` in golden.toml).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Versioning {
    /// `X.Y.N`: golden counts the line's builds.
    #[default]
    Line,
    /// `X.Y.Z-rN`: the upstream version the build holds, and golden's
    /// revision of it.
    Upstream,
}

impl Versioning {
    /// Whether `version` is spelt as this scheme's builds are.
    pub fn names(self, version: &Exact) -> bool {
        match self {
            Versioning::Line => version.revision.is_none(),
            Versioning::Upstream => version.revision.is_some(),
        }
    }

    /// The exact versions among a repository's tags that are this
    /// scheme's builds, sorted (see [`exact_versions`]).
    pub fn exact_versions<'a>(self, tags: impl IntoIterator<Item = &'a str>) -> Vec<Exact> {
        let mut versions: Vec<Exact> = tags
            .into_iter()
            .filter_map(|tag| tag.parse::<Exact>().ok())
            .filter(|version| self.names(version))
            .collect();
        versions.sort();
        versions
    }
}

impl fmt::Display for Versioning {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Versioning::Line => "line",
            Versioning::Upstream => "upstream",
        })
    }
}

/// The longest prerelease golden reads (`preview.7.25380.108` is 19).
pub const PRERELEASE_MAX: usize = 40;

/// A semver prerelease (`preview.7`, `rc.1`), held inline so that
/// [`Exact`] stays `Copy`. Ordered by semver's precedence: identifiers
/// compared left to right, numeric ones as numbers and below alphanumeric
/// ones, a shorter list first when one is a prefix of the other.
#[derive(Clone, Copy)]
pub struct Prerelease {
    len: u8,
    bytes: [u8; PRERELEASE_MAX],
}

impl Prerelease {
    /// A prerelease as semver spells one: dot-separated identifiers of
    /// ASCII letters, digits and `-`, numeric ones without leading zeros.
    pub fn new(text: &str) -> Option<Prerelease> {
        if text.is_empty() || text.len() > PRERELEASE_MAX {
            return None;
        }
        for identifier in text.split('.') {
            let numeric = identifier.bytes().all(|b| b.is_ascii_digit());
            let valid = !identifier.is_empty()
                && identifier
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !(numeric && identifier.len() > 1 && identifier.starts_with('0'));
            if !valid {
                return None;
            }
        }
        let mut bytes = [0; PRERELEASE_MAX];
        bytes[..text.len()].copy_from_slice(text.as_bytes());
        Some(Prerelease {
            len: text.len() as u8,
            bytes,
        })
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII is ever stored (see `new`).
        std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or_default()
    }
}

impl PartialEq for Prerelease {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Prerelease {}

impl std::hash::Hash for Prerelease {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl Ord for Prerelease {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        use std::cmp::Ordering;
        let mut left = self.as_str().split('.');
        let mut right = other.as_str().split('.');
        loop {
            match (left.next(), right.next()) {
                (None, None) => return Ordering::Equal,
                (None, Some(_)) => return Ordering::Less,
                (Some(_), None) => return Ordering::Greater,
                (Some(a), Some(b)) => {
                    let order = match (a.parse::<u128>(), b.parse::<u128>()) {
                        (Ok(a), Ok(b)) => a.cmp(&b),
                        (Ok(_), Err(_)) => Ordering::Less,
                        (Err(_), Ok(_)) => Ordering::Greater,
                        (Err(_), Err(_)) => a.cmp(b),
                    };
                    if order != Ordering::Equal {
                        return order;
                    }
                }
            }
        }
    }
}

impl PartialOrd for Prerelease {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Debug for Prerelease {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{:?}", self.as_str())
    }
}

impl fmt::Display for Prerelease {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// An upstream version, `MAJOR.MINOR.PATCH[-PRERELEASE]`, as read from
/// the upstream image (its env, a label, a build arg or its tag).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UpstreamVersion(Exact);

impl UpstreamVersion {
    pub fn line(&self) -> Line {
        self.0.line
    }

    pub fn is_prerelease(&self) -> bool {
        self.0.pre.is_some()
    }

    /// The build of this version with golden's revision `revision`.
    pub fn revision(self, revision: u64) -> Exact {
        Exact {
            revision: Some(revision),
            ..self.0
        }
    }

    /// The floating tag `X.Y.Z[-PRERELEASE]` of the newest build of it.
    pub fn tag(&self) -> Tag {
        Tag::from_valid(self.to_string())
    }
}

impl FromStr for UpstreamVersion {
    type Err = VersionError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || VersionError::NotUpstream(text.to_string());
        let (release, pre) = match text.split_once('-') {
            Some((release, pre)) => (release, Some(Prerelease::new(pre).ok_or_else(invalid)?)),
            None => (text, None),
        };
        let (line, patch) = release.rsplit_once('.').ok_or_else(invalid)?;
        Ok(UpstreamVersion(Exact {
            line: line.parse().map_err(|_| invalid())?,
            patch: number(patch).ok_or_else(invalid)?,
            pre,
            revision: None,
        }))
    }
}

impl fmt::Display for UpstreamVersion {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}.{}", self.0.line, self.0.patch)?;
        if let Some(pre) = &self.0.pre {
            write!(formatter, "-{pre}")?;
        }
        Ok(())
    }
}

/// The revision suffix of an upstream build's tag: `-r` then `N`.
const REVISION_PREFIX: &str = "-r";

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

    /// `X.Y.N` (line versioning) or `X.Y.Z[-PRE]-rN` (upstream).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || VersionError::NotExact(text.to_string());
        if let Some((upstream, revision)) = text.rsplit_once(REVISION_PREFIX) {
            if let Some(revision) = number(revision).filter(|r| *r > 0) {
                let upstream: UpstreamVersion = upstream.parse().map_err(|_| invalid())?;
                return Ok(upstream.revision(revision));
            }
        }
        let (line, patch) = text.rsplit_once('.').ok_or_else(invalid)?;
        Ok(Exact {
            line: line.parse().map_err(|_| invalid())?,
            patch: number(patch).ok_or_else(invalid)?,
            pre: None,
            revision: None,
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
    /// The exact tag `X.Y.N` or `X.Y.Z-rN`.
    pub fn tag(&self) -> Tag {
        Tag::from_valid(self.to_string())
    }

    /// The upstream version an upstream-versioned build holds.
    pub fn upstream(&self) -> Option<UpstreamVersion> {
        self.revision.map(|_| {
            UpstreamVersion(Exact {
                revision: None,
                ..*self
            })
        })
    }

    /// Whether the build holds an upstream prerelease.
    pub fn is_prerelease(&self) -> bool {
        self.pre.is_some()
    }

    /// The exact tag with the upstream version it holds, for people:
    /// `10.0.3-r2 (upstream 10.0.3)`; `X.Y.N` as it is.
    pub fn describe(&self) -> String {
        match self.upstream() {
            Some(upstream) => format!("{self} (upstream {upstream})"),
            None => self.to_string(),
        }
    }
}

impl fmt::Display for Line {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}.{}", self.major, self.minor)
    }
}

impl fmt::Display for Exact {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.upstream() {
            Some(upstream) => write!(
                formatter,
                "{upstream}{REVISION_PREFIX}{}",
                self.revision.unwrap_or_default()
            ),
            None => write!(formatter, "{}.{}", self.line, self.patch),
        }
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
    /// `X.Y.Z[-PRE]`, the floating tag of an upstream version's newest
    /// build (a tag `X.Y.Z` reads as [`TagTarget::Exact`]; both follow
    /// the same line).
    Upstream(UpstreamVersion),
    Unknown,
}

impl TagTarget {
    /// Reads a tag; no tag means `latest`.
    pub fn parse(tag: Option<&str>) -> TagTarget {
        match tag {
            None | Some("latest") => TagTarget::Latest,
            Some(tag) if parse_marker(tag).is_some() => TagTarget::Unknown,
            Some(tag) => {
                if let Ok(line) = tag.parse() {
                    TagTarget::Line(line)
                } else if let Ok(exact) = tag.parse() {
                    TagTarget::Exact(exact)
                } else if let Ok(upstream) = tag.parse() {
                    TagTarget::Upstream(upstream)
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
            TagTarget::Upstream(upstream) => upstream.line() == line,
            TagTarget::Unknown => false,
        }
    }
}

/// The highest build number golden gives: a line whose tags reach it (or
/// pass it) gets no further build (see [`next_build`]).
pub const PATCH_MAX: u64 = u32::MAX as u64;

/// The `X.Y.N` exact versions among a repository's tags (a line
/// versioned by golden's count), whatever their patch number (one past
/// [`PATCH_MAX`] stops the line's numbering rather than being
/// overlooked); other tags are ignored. See [`Versioning::exact_versions`]
/// for either scheme.
pub fn exact_versions<'a>(tags: impl IntoIterator<Item = &'a str>) -> Vec<Exact> {
    Versioning::Line.exact_versions(tags)
}

/// Why golden cannot give the next build number or marker.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberingError {
    #[error("cannot number the next build of line {line}: `{tag}` is at or past {PATCH_MAX}, the highest build number golden gives")]
    BuildNumbers { line: Line, tag: Tag },
    #[error("cannot mark {version} withdrawn or restored again: its marker `{tag}` has the highest generation a marker can have")]
    MarkerGenerations { version: Exact, tag: Tag },
    #[error("cannot number the next build of upstream version {upstream}: `{tag}` is at or past revision {PATCH_MAX}, the highest golden gives")]
    Revisions { upstream: UpstreamVersion, tag: Tag },
}

impl crate::hint::Hint for NumberingError {
    fn hint(&self) -> Option<std::borrow::Cow<'_, str>> {
        Some(match self {
            NumberingError::BuildNumbers { tag, .. } | NumberingError::Revisions { tag, .. } => format!(
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
    Ok(Exact {
        line,
        patch,
        pre: None,
        revision: None,
    })
}

/// The version the next build of upstream version `upstream` gets: one
/// revision above every `X.Y.Z-rN` of it in `versions` (golden's or not,
/// so no number is reused), or `-r1`.
pub fn next_revision(
    upstream: UpstreamVersion,
    versions: &[Exact],
) -> Result<Exact, NumberingError> {
    let newest = versions
        .iter()
        .filter(|version| version.upstream() == Some(upstream))
        .max();
    let revision = match newest {
        None => 1,
        Some(newest) if newest.revision.unwrap_or_default() >= PATCH_MAX => {
            return Err(NumberingError::Revisions {
                upstream,
                tag: newest.tag(),
            })
        }
        Some(newest) => newest.revision.unwrap_or_default() + 1,
    };
    Ok(upstream.revision(revision))
}

/// One kind of floating tag a line may move (`floating` in golden.toml).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Floating {
    /// `X.Y.Z[-PRE]`: the newest build of an upstream version (upstream
    /// versioning only).
    Upstream,
    /// `X.Y`: the line's release.
    Line,
    /// `X`: the release of the highest line of the major.
    Major,
    /// `latest`: the release of the highest line.
    Latest,
}

impl Floating {
    /// Every kind, in the order they are written and moved.
    pub const ALL: [Floating; 4] = [
        Floating::Upstream,
        Floating::Line,
        Floating::Major,
        Floating::Latest,
    ];

    /// How golden.toml spells it.
    pub fn name(self) -> &'static str {
        match self {
            Floating::Upstream => "X.Y.Z",
            Floating::Line => "X.Y",
            Floating::Major => "X",
            Floating::Latest => "latest",
        }
    }

    pub fn parse(text: &str) -> Option<Floating> {
        Floating::ALL.into_iter().find(|kind| kind.name() == text)
    }

    /// The kinds a build of `release` may take under a line's `floating`
    /// list (`None`: not written, every kind). Only an upstream build has
    /// an `X.Y.Z`; a prerelease takes `X` and `latest` only when the list
    /// names them.
    pub fn allowed(release: &Exact, floating: Option<&[Floating]>) -> Vec<Floating> {
        Floating::ALL
            .into_iter()
            .filter(|kind| match floating {
                Some(list) => list.contains(kind),
                None => {
                    !(release.is_prerelease() && matches!(kind, Floating::Major | Floating::Latest))
                }
            })
            .filter(|kind| *kind != Floating::Upstream || release.revision.is_some())
            .collect()
    }
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
            let text = crate::hint::text_of(&error);
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
        assert!(crate::hint::text_of(&error).contains("hint: delete the tag"));
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

    #[test]
    fn upstream_builds_read_order_and_number_by_version_then_revision() {
        for text in [
            "10.0.3-r1",
            "10.0.3-r12",
            "11.0.0-preview.7-r2",
            "11.0.0-rc.1.25-r1",
        ] {
            let version = exact(text);
            assert_eq!(version.to_string(), text);
            assert!(Versioning::Upstream.names(&version), "{text}");
            assert!(!Versioning::Line.names(&version), "{text}");
        }
        for not in [
            "10.0.3-r0",
            "10.0.3-r01",
            "10.0.3-r",
            "10.0-r1",
            "10.0.3-x-r1.2",
            "v10.0.3-r1",
        ] {
            assert!(not.parse::<Exact>().is_err(), "{not}");
        }
        let mut versions = [
            "10.0.4-r1",
            "10.0.3-r9",
            "10.0.3-r10",
            "11.0.0-r1",
            "11.0.0-preview.7-r3",
            "11.0.0-preview.10-r1",
            "11.0.0-rc.1-r1",
            "10.0.10-r1",
        ]
        .map(exact);
        versions.sort();
        assert_eq!(
            versions.map(|v| v.to_string()),
            [
                "10.0.3-r9",
                "10.0.3-r10",
                "10.0.4-r1",
                "10.0.10-r1",
                "11.0.0-preview.7-r3",
                "11.0.0-preview.10-r1",
                "11.0.0-rc.1-r1",
                "11.0.0-r1",
            ]
        );
        let tags = [
            "10.0.3-r1",
            "10.0.3-r2",
            "10.0.3",
            "10.0",
            "10.0.2-r7",
            "10.0.3-r5-withdrawn",
        ];
        let builds = Versioning::Upstream.exact_versions(tags);
        assert_eq!(
            builds.len(),
            3,
            "floating X.Y.Z and markers are not builds: {builds:?}"
        );
        assert_eq!(Versioning::Line.exact_versions(tags), vec![exact("10.0.3")]);
        let upstream: UpstreamVersion = "10.0.3".parse().unwrap();
        assert_eq!(next_revision(upstream, &builds), Ok(exact("10.0.3-r3")));
        assert_eq!(
            next_revision("10.0.4".parse().unwrap(), &builds),
            Ok(exact("10.0.4-r1"))
        );
        let top = Versioning::Upstream.exact_versions(["10.0.3-r4294967295"]);
        assert!(matches!(
            next_revision(upstream, &top),
            Err(NumberingError::Revisions { .. })
        ));
        assert_eq!(exact("10.0.3-r2").describe(), "10.0.3-r2 (upstream 10.0.3)");
        assert_eq!(exact("10.0.3").describe(), "10.0.3");
        assert_eq!(exact("10.0.3-r2").upstream().unwrap().tag(), "10.0.3");
        assert_eq!(
            TagTarget::parse(Some("11.0.0-preview.1")),
            TagTarget::Upstream("11.0.0-preview.1".parse().unwrap())
        );
        assert!(TagTarget::parse(Some("10.0.3-r2")).follows("10.0".parse().unwrap()));
    }

    #[test]
    fn a_prerelease_takes_major_and_latest_only_when_listed() {
        let all = Floating::allowed(&exact("10.0.3-r1"), None);
        assert_eq!(all, Floating::ALL);
        let preview = exact("11.0.0-preview.1-r1");
        assert_eq!(
            Floating::allowed(&preview, None),
            [Floating::Upstream, Floating::Line]
        );
        assert_eq!(
            Floating::allowed(&preview, Some(&[Floating::Line, Floating::Latest])),
            [Floating::Line, Floating::Latest]
        );
        assert_eq!(
            Floating::allowed(&exact("10.0.3"), None),
            [Floating::Line, Floating::Major, Floating::Latest],
            "a counted build has no X.Y.Z floating tag"
        );
    }
}
