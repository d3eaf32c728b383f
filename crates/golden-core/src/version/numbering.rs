//! The newest build of a line, its release, and the number the next build
//! gets: one more than every build number (or revision) there is.

use super::{Exact, Line, UpstreamVersion};
use crate::name::Tag;

/// The highest build number golden gives: a line whose tags reach it (or
/// pass it) gets no further build (see [`next_build`]).
pub const PATCH_MAX: u64 = u32::MAX as u64;

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
