//! Upstream versions (`MAJOR.MINOR.PATCH[-PRERELEASE]`, as the upstream
//! image says it) and their semver prereleases.

use std::fmt;
use std::str::FromStr;

use super::{number, Exact, Line, VersionError};
use crate::name::Tag;

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
pub struct UpstreamVersion(pub(super) Exact);

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
