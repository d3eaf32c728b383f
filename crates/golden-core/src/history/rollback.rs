//! `golden rollback ID [--to X.Y.N]`: move a line's floating tags back to
//! the previous build (or the one given) without rebuilding, by copying its
//! manifest to each tag in the registry, so no layer moves.
//!
//! The builds newer than the target are withdrawn first: a marker tag
//! `X.Y.N-withdrawn` on each (see [`crate::version::WITHDRAWN_SUFFIX`]).
//! From then on the planner treats the newest build not withdrawn as the
//! line's release, so `golden build` neither moves the tags forward again
//! nor rebuilds until something changes; a new build is released as usual.
//! `X` and `latest` follow the same forward-only rules as a build: they
//! move only when no higher golden line would own them. `X.Y` moves last,
//! so a rollback cut short is finished by the next `golden build`.
//!
//! Under `upstream` versioning the builds are `X.Y.Z-rN` and each
//! upstream version's `X.Y.Z` is a floating tag too: a rollback within an
//! upstream version (withdraw `10.0.1-r2`) moves `10.0.1` back to
//! `10.0.1-r1` with `10.0`; a rollback across versions (withdraw
//! `10.0.2-r1`) moves `10.0`, `10` and `latest` back to `10.0.1-rN`, and
//! leaves `10.0.2` where it is when it has no build left to go to: golden
//! never points an upstream version's tag at a build of another version,
//! so the plan lists it in `left` (the next build of 10.0.2 moves it).
//!
//! Naming a withdrawn build restores it (a marker of a newer generation,
//! `X.Y.N-restored.G`, see [`crate::version::Marker`]): a rollback is undone
//! by the same command. Only golden builds are withdrawn or counted, and
//! only whole ones (see [`crate::provenance::completeness`]) are targets;
//! only golden's own markers say what is withdrawn (see
//! [`super::Inventory::withdrawn`]).

use serde::Serialize;

use std::collections::BTreeMap;

use super::Inventory;
use crate::name::short_digest;
use crate::name::{Digest, Repository, Tag};
use crate::provenance::{floating_tags, Foreign, Higher, Incomplete};
use crate::version::{next_marker, Exact, Floating, Line, Marker};

/// Why a rollback cannot be done; each says what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RollbackError {
    #[error("line {line} of `{repository}` has no build to roll back to")]
    NothingBuilt { repository: String, line: Line },
    #[error("{version} is not a build of line {line} of `{repository}`")]
    UnknownVersion {
        repository: String,
        line: Line,
        version: Box<Exact>,
        versions: Vec<Exact>,
    },
    #[error("{version} is not a golden build ({why}): golden never releases it")]
    Foreign {
        version: Box<Exact>,
        why: Foreign,
        versions: Vec<Exact>,
    },
    #[error("line {line} has no build older than {current} to roll back to")]
    NothingOlder {
        line: Line,
        current: Box<Exact>,
        versions: Vec<Exact>,
    },
    /// A build to withdraw whose index names a manifest that is gone: the
    /// registry refuses its marker (a copy of that index), and with no
    /// marker it would stay the newest build not withdrawn, so the next
    /// `golden build` would build again and release past the target.
    #[error("cannot withdraw {version} of `{repository}`: {why}, so it cannot carry a marker")]
    Broken {
        repository: String,
        version: Box<Exact>,
        digest: Digest,
        why: Box<Incomplete>,
        id: String,
    },
    /// The next marker's generation would pass the highest there is.
    #[error(transparent)]
    Marker(Box<crate::version::NumberingError>),
}

// The versions are boxed: an `Exact` holds its prerelease inline.
impl From<crate::version::NumberingError> for RollbackError {
    fn from(error: crate::version::NumberingError) -> Self {
        RollbackError::Marker(Box::new(error))
    }
}

fn list(versions: &[Exact]) -> String {
    if versions.is_empty() {
        return "none".to_string();
    }
    versions
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl crate::hint::Hint for RollbackError {
    fn hint(&self) -> Option<std::borrow::Cow<'_, str>> {
        Some(match self {
            RollbackError::NothingBuilt { .. } => "build it first with `golden build`".into(),
            RollbackError::Marker(error) => return error.hint(),
            RollbackError::Broken {
                repository,
                digest,
                id,
                ..
            } => {
                // The registry's host never holds a `/`.
                let path = repository.split_once('/').map_or("", |(_, path)| path);
                format!(
                    "`golden rebuild {id}` releases a new whole build instead; to roll back, delete the broken build first (`DELETE /v2/{path}/manifests/{digest}` on the registry), then run the rollback again"
                )
                .into()
            }
            RollbackError::UnknownVersion { versions, .. }
            | RollbackError::Foreign { versions, .. }
            | RollbackError::NothingOlder { versions, .. } => {
                format!("builds that can be released: {}", list(versions)).into()
            }
        })
    }
}

/// One floating tag moved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Move {
    pub tag: Tag,
    /// Null when the tag did not exist.
    pub from: Option<Digest>,
    /// The exact version `from` was, if any.
    pub from_version: Option<String>,
    pub to: Digest,
}

/// A build withdrawn by the rollback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Withdrawal {
    pub version: String,
    /// The marker tag, `X.Y.N-withdrawn`.
    pub tag: Tag,
    pub digest: Digest,
}

/// An `X.Y.Z` floating tag (upstream versioning) the rollback leaves on a
/// build it withdraws (or withdrew): no build of that upstream version is
/// left to move it to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Left {
    pub tag: Tag,
    pub digest: Digest,
    /// The exact version `digest` is, if any.
    pub version: Option<String>,
}

/// What a rollback does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub id: String,
    pub repository: String,
    pub line: String,
    /// The build `X.Y` pointed at before (the release when `X.Y` pointed
    /// at no build of the line, or the line does not move `X.Y`).
    pub from: String,
    pub to: String,
    pub digest: Digest,
    /// The withdrawn build rolled back to, restored by a newer marker
    /// (`X.Y.N-restored.G`) before anything else moves.
    pub restore: Option<Withdrawal>,
    /// Builds withdrawn now, oldest first.
    pub withdraw: Vec<Withdrawal>,
    /// In the order they are made: `X.Y` last.
    pub moves: Vec<Move>,
    /// `X.Y.Z` tags of newer upstream versions than the target's, left
    /// where they are (upstream versioning only; empty otherwise).
    pub left: Vec<Left>,
}

/// The line a rollback moves: which builds and floating tags it has.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub line: Line,
    /// The line's `floating` list (None: not written, every kind).
    pub floating: Option<&'a [Floating]>,
}

/// Decides a rollback of `line` to `to`, or to the build before the one
/// `X.Y` points at now.
pub fn plan(
    id: &str,
    repository: &Repository,
    inventory: &Inventory,
    line: Target,
    to: Option<Exact>,
    golden: &BTreeMap<Exact, Result<(), Foreign>>,
    higher: &Higher,
) -> Result<Plan, RollbackError> {
    let Target { line, floating } = line;
    let reading = Reading {
        repository,
        inventory,
        line,
        golden,
    };
    let builds = reading.builds(to);
    let Some(newest_releasable) = builds.releasable.last().copied() else {
        return Err(RollbackError::NothingBuilt {
            repository: repository.to_string(),
            line,
        });
    };
    let current = reading.current(&builds, floating, newest_releasable);
    let target = reading.target(&builds, to, current)?;
    let digest = inventory
        .version_digest(target)
        .cloned()
        .ok_or_else(|| reading.unknown(target, builds.releasable.clone()))?;
    let withdraw = reading.withdrawals(&builds, target, id)?;
    let moves = reading.moves(target, &digest, higher, floating);
    let left = reading.left(target);
    let restore = match builds.restore {
        Some(version) => Some(Withdrawal {
            version: version.to_string(),
            tag: next_marker(inventory.names(), version, Marker::Restored)?,
            digest: digest.clone(),
        }),
        None => None,
    };
    Ok(Plan {
        id: id.to_string(),
        repository: repository.to_string(),
        line: line.to_string(),
        from: current.to_string(),
        to: target.to_string(),
        digest,
        restore,
        withdraw,
        moves,
        left,
    })
}

/// What a rollback of one line reads: the repository's tags and which of
/// the line's builds are golden (and whole).
struct Reading<'a> {
    repository: &'a Repository,
    inventory: &'a Inventory,
    line: Line,
    golden: &'a BTreeMap<Exact, Result<(), Foreign>>,
}

/// The builds of the line a rollback weighs, each list oldest first.
struct Builds {
    /// Golden builds that resolve, whole or not: those newer than the
    /// target are withdrawn.
    built: Vec<Exact>,
    /// The whole ones: only they are rolled back to.
    whole: Vec<Exact>,
    /// Builds withdrawn before, less the one being restored.
    withdrawn: Vec<Exact>,
    /// The withdrawn build named as the target, restored by the rollback.
    restore: Option<Exact>,
    /// Whole builds not withdrawn: those that can be released.
    releasable: Vec<Exact>,
}

impl Reading<'_> {
    /// What the line holds: only golden builds are withdrawn or counted
    /// (each was classified from the digest it resolves to), and only whole
    /// ones are rolled back to: an incomplete one is withdrawn with the
    /// rest, unless its index names a manifest that is gone (no marker can
    /// copy it). Naming a withdrawn build restores it.
    fn builds(&self, to: Option<Exact>) -> Builds {
        let built: Vec<Exact> = self
            .inventory
            .line_versions(self.line)
            .into_iter()
            .filter(|version| {
                matches!(
                    self.golden.get(version),
                    Some(Ok(()) | Err(Foreign::Incomplete { .. }))
                )
            })
            .filter(|version| self.inventory.version_digest(*version).is_some())
            .collect();
        let whole: Vec<Exact> = built
            .iter()
            .copied()
            .filter(|version| matches!(self.golden.get(version), Some(Ok(()))))
            .collect();
        let mut withdrawn = self.inventory.withdrawn();
        // Naming a withdrawn build restores it: a rollback undoes a rollback.
        let restore = to.filter(|version| withdrawn.contains(version) && whole.contains(version));
        if let Some(restored) = restore {
            withdrawn.retain(|version| *version != restored);
        }
        let releasable: Vec<Exact> = whole
            .iter()
            .copied()
            .filter(|version| !withdrawn.contains(version))
            .collect();
        Builds {
            built,
            whole,
            withdrawn,
            restore,
            releasable,
        }
    }

    /// The build `X.Y` points at now, or the newest releasable one when it
    /// points at no build of the line. A line whose `floating` list leaves
    /// out `X.Y` never moves it: the tag (left from before the list) says
    /// nothing about the release.
    fn current(
        &self,
        builds: &Builds,
        floating: Option<&[Floating]>,
        newest_releasable: Exact,
    ) -> Exact {
        let moves_line_tag = floating.is_none_or(|list| list.contains(&Floating::Line));
        self.inventory
            .digest(&self.line.to_string())
            .filter(|_| moves_line_tag)
            .and_then(|digest| {
                builds
                    .built
                    .iter()
                    .rev()
                    .copied()
                    .find(|version| self.inventory.version_digest(*version) == Some(digest))
            })
            .unwrap_or(newest_releasable)
    }

    /// The build rolled back to: `to` when it is a whole golden build of the
    /// line, else the newest releasable one older than `current`.
    fn target(
        &self,
        builds: &Builds,
        to: Option<Exact>,
        current: Exact,
    ) -> Result<Exact, RollbackError> {
        let releasable = builds.releasable.clone();
        match to {
            Some(version) if version.line == self.line && !builds.whole.contains(&version) => {
                match self.golden.get(&version) {
                    Some(Err(why)) => Err(RollbackError::Foreign {
                        version: Box::new(version),
                        why: why.clone(),
                        versions: releasable,
                    }),
                    _ => Err(self.unknown(version, releasable)),
                }
            }
            Some(version) if version.line != self.line || !builds.whole.contains(&version) => {
                Err(self.unknown(version, releasable))
            }
            Some(version) => Ok(version),
            None => builds
                .releasable
                .iter()
                .rev()
                .copied()
                .find(|version| *version < current)
                .ok_or(RollbackError::NothingOlder {
                    line: self.line,
                    current: Box::new(current),
                    versions: releasable,
                }),
        }
    }

    /// `version` is no build of the line that can be released.
    fn unknown(&self, version: Exact, releasable: Vec<Exact>) -> RollbackError {
        RollbackError::UnknownVersion {
            repository: self.repository.to_string(),
            line: self.line,
            version: Box::new(version),
            versions: releasable,
        }
    }

    /// What may be withdrawn: every build newer than `target` not withdrawn
    /// yet, oldest first, each with its next marker; refused when one of
    /// them cannot carry a marker.
    fn withdrawals(
        &self,
        builds: &Builds,
        target: Exact,
        id: &str,
    ) -> Result<Vec<Withdrawal>, RollbackError> {
        let mut withdraw = Vec::new();
        for version in builds
            .built
            .iter()
            .filter(|version| **version > target && !builds.withdrawn.contains(version))
        {
            let Some(digest) = self.inventory.version_digest(*version) else {
                continue;
            };
            if let Some(Err(Foreign::Incomplete {
                why: why @ Incomplete::MissingImage { .. },
            })) = self.golden.get(version)
            {
                return Err(RollbackError::Broken {
                    repository: self.repository.to_string(),
                    version: Box::new(*version),
                    digest: digest.clone(),
                    why: Box::new(why.clone()),
                    id: id.to_string(),
                });
            }
            withdraw.push(Withdrawal {
                version: version.to_string(),
                tag: next_marker(self.inventory.names(), *version, Marker::Withdrawn)?,
                digest: digest.clone(),
            });
        }
        Ok(withdraw)
    }

    /// The floating tags that move to `digest`, the target's, in the order
    /// they are made: `X.Y` (first from `floating_tags`) last.
    fn moves(
        &self,
        target: Exact,
        digest: &Digest,
        higher: &Higher,
        floating: Option<&[Floating]>,
    ) -> Vec<Move> {
        let mut moves: Vec<Move> = floating_tags(target, higher, floating)
            .into_iter()
            .filter_map(|tag| {
                let from = self.inventory.digest(tag.as_str()).cloned();
                (from.as_ref() != Some(digest)).then(|| Move {
                    from_version: from
                        .as_ref()
                        .and_then(|from| self.inventory.version_of(from, self.line))
                        .map(|version| version.to_string()),
                    tag,
                    from,
                    to: digest.clone(),
                })
            })
            .collect();
        if !moves.is_empty() && moves[0].tag == self.line.tag() {
            let line_tag = moves.remove(0);
            moves.push(line_tag);
        }
        moves
    }

    /// The `X.Y.Z` tags left where they are: an upstream version newer than
    /// the target's keeps its tag, for every build of it is withdrawn, and
    /// no build of another version is ever tagged as it.
    fn left(&self, target: Exact) -> Vec<Left> {
        let Some(upstream) = target.upstream() else {
            return Vec::new();
        };
        self.inventory
            .upstream_floating(self.line)
            .into_iter()
            .filter(|(version, _)| *version > upstream)
            .filter_map(|(_, tag)| {
                let digest = self.inventory.digest(tag)?.clone();
                Some(Left {
                    tag: Tag::from_valid(tag.to_string()),
                    version: self
                        .inventory
                        .version_of(&digest, self.line)
                        .map(|version| version.to_string()),
                    digest,
                })
            })
            .collect()
    }
}

/// An exact version's tag as people read it (`10.0.3-r2 (upstream
/// 10.0.3)`); anything else as it is.
fn described(version: &str) -> String {
    version
        .parse::<Exact>()
        .map_or_else(|_| version.to_string(), |exact| exact.describe())
}

/// The human view of a rollback; `done` says whether it was carried out.
pub fn render_text(plan: &Plan, done: bool) -> String {
    let mut text = String::new();
    let verb = if done {
        "rolled back"
    } else {
        "would roll back"
    };
    text.push_str(&format!(
        "{}  {}  line {}: {verb} {} -> {} ({})\n",
        plan.id,
        plan.repository,
        plan.line,
        described(&plan.from),
        described(&plan.to),
        short_digest(&plan.digest)
    ));
    let (withdrew, move_verb) = if done {
        ("withdrew", "moved")
    } else {
        ("would withdraw", "would move")
    };
    if let Some(restore) = &plan.restore {
        let restored = if done { "restored" } else { "would restore" };
        text.push_str(&format!(
            "  {restored} {} (tag {})\n",
            described(&restore.version),
            restore.tag
        ));
    }
    for withdrawal in &plan.withdraw {
        text.push_str(&format!(
            "  {withdrew} {} (tag {})\n",
            described(&withdrawal.version),
            withdrawal.tag
        ));
    }
    if plan.moves.is_empty() {
        text.push_str("  floating tags already point there\n");
    }
    for moved in &plan.moves {
        let from = match (&moved.from, &moved.from_version) {
            (Some(digest), Some(version)) => format!("{} ({version})", short_digest(digest)),
            (Some(digest), None) => short_digest(digest),
            (None, _) => "none".to_string(),
        };
        text.push_str(&format!(
            "  {move_verb} {}: {from} -> {} ({})\n",
            moved.tag,
            short_digest(&moved.to),
            plan.to
        ));
    }
    for left in &plan.left {
        let on = match &left.version {
            Some(version) => format!("{} ({version})", short_digest(&left.digest)),
            None => short_digest(&left.digest),
        };
        text.push_str(&format!(
            "  left {} on {on}: no other build of upstream {} to move it to (the next build of it moves it)\n",
            left.tag, left.tag
        ));
    }
    text
}
