//! Version lines (`X.Y`), exact versions (`X.Y.N`) and the tag rules of
//! SPEC section 2: the next build number and which floating tags may move.
//!
//! Pure: it reads tag lists handed to it and performs no I/O.
//!
//! Here: lines, the versioning schemes, what a tag follows; `exact` holds
//! the builds' exact versions, `upstream` the upstream versions and their
//! prereleases, `numbering` the next build's number, `markers` the
//! rollback markers, `floating` the floating tags a build may take.

use std::fmt;
use std::str::FromStr;

use crate::name::Tag;

mod exact;
mod floating;
mod markers;
mod numbering;
mod upstream;

pub use exact::{exact_versions, Exact};
pub use floating::{floating_tags, Floating};
pub use markers::{
    marker_states, marker_tag, marker_tags, markers, next_marker, parse_marker, withdrawn_in,
    Marker, RESTORED_SUFFIX, WITHDRAWN_SUFFIX,
};
pub use numbering::{
    newest_in_line, next_build, next_revision, release_in_line, NumberingError, PATCH_MAX,
};
pub use upstream::{Prerelease, UpstreamVersion, PRERELEASE_MAX};

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

/// A whole number as golden spells one: digits, no leading zero.
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

impl fmt::Display for Line {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}.{}", self.major, self.minor)
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

#[cfg(test)]
mod tests;
