//! Exact versions, the immutable tags of builds: `X.Y.N` under `line`
//! versioning, `X.Y.Z[-PRE]-rN` under `upstream`, and their order.

use std::fmt;
use std::str::FromStr;

use super::{number, Line, Prerelease, UpstreamVersion, VersionError, Versioning};
use crate::name::Tag;

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

/// The revision suffix of an upstream build's tag: `-r` then `N`.
const REVISION_PREFIX: &str = "-r";

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

/// The `X.Y.N` exact versions among a repository's tags (a line
/// versioned by golden's count), whatever their patch number (one past
/// [`PATCH_MAX`](super::PATCH_MAX) stops the line's numbering rather
/// than being overlooked); other tags are ignored. See
/// [`Versioning::exact_versions`] for either scheme.
pub fn exact_versions<'a>(tags: impl IntoIterator<Item = &'a str>) -> Vec<Exact> {
    Versioning::Line.exact_versions(tags)
}
