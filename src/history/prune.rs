//! `golden prune [ID...] [--keep N] [--apply]`: keep the newest `N` exact
//! versions of each selected line and delete the other builds by manifest
//! digest. Deleting a digest removes every tag on it, so a build is deleted
//! only when each tag on its digest is itself going: an exact version being
//! pruned or the withdrawn marker of one. A floating tag, a kept version,
//! another line, or any tag golden did not write keeps it.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::Inventory;
use crate::name::{Digest, Repository};
use crate::plan::short_digest;
use crate::provenance::Foreign;
use crate::version::{parse_marker, Exact, Line};

/// Why a build stays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum KeepReason {
    /// Among the newest `keep` of its line.
    Newest { keep: u32 },
    /// Tags that are not being pruned point at the same manifest.
    Tagged { tags: Vec<String> },
    /// Not a golden build: golden never deletes what it did not make.
    Foreign { why: Foreign },
    /// An image index (or manifest list) in the repository names it.
    Referenced,
}

impl std::fmt::Display for KeepReason {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeepReason::Newest { keep } => write!(formatter, "among the newest {keep}"),
            KeepReason::Tagged { tags } => {
                write!(formatter, "same manifest as {}", tags.join(", "))
            }
            KeepReason::Foreign { why } => {
                write!(formatter, "not a golden build ({why}); never deleted")
            }
            KeepReason::Referenced => {
                write!(formatter, "named by an image index in the repository")
            }
        }
    }
}

/// What happens to one exact version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub version: String,
    pub digest: Digest,
    /// Null when it is deleted.
    pub keep: Option<KeepReason>,
}

/// One line of the prune.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinePlan {
    pub id: String,
    pub line: String,
    pub keep: u32,
    /// Newest first.
    pub versions: Vec<Entry>,
}

/// One manifest to delete and the tags that go with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deletion {
    pub digest: Digest,
    pub tags: Vec<String>,
}

/// The prune of one repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub repository: String,
    pub lines: Vec<LinePlan>,
    pub deletions: Vec<Deletion>,
}

/// One line to prune: its image id, the line and how many builds to keep.
#[derive(Debug, Clone)]
pub struct Target {
    pub id: String,
    pub line: Line,
    pub keep: u32,
}

/// What prune knows of a repository besides its tags.
pub struct Facts<'a> {
    /// Which exact versions are golden builds (see [`crate::provenance`]).
    pub golden: &'a BTreeMap<Exact, Result<(), Foreign>>,
    /// Digests an image index in the repository names.
    pub referenced: &'a BTreeSet<Digest>,
}

/// Decides what goes, for `targets` (lines of one repository). Only golden
/// builds count toward `keep` and only they are ever deleted.
pub fn plan(
    repository: &Repository,
    inventory: &Inventory,
    targets: &[Target],
    facts: &Facts,
) -> Plan {
    let is_golden = |version: &Exact| matches!(facts.golden.get(version), Some(Ok(())));
    // Each line's builds newest first; golden ones past the newest `keep`
    // are candidates.
    let newest_first: Vec<Vec<Exact>> = targets
        .iter()
        .map(|target| {
            inventory
                .line_versions(target.line)
                .into_iter()
                .rev()
                .collect()
        })
        .collect();
    let candidates: BTreeSet<Exact> = targets
        .iter()
        .zip(&newest_first)
        .flat_map(|(target, versions)| {
            versions
                .iter()
                .filter(|version| is_golden(version))
                .skip(target.keep as usize)
                .copied()
        })
        .collect();
    let goes_with = |tag: &str| {
        // A build's rollback markers go with it.
        if let Some((version, _, _)) = parse_marker(tag) {
            return candidates.contains(&version);
        }
        tag.parse::<Exact>()
            .is_ok_and(|version| candidates.contains(&version) && version.to_string() == tag)
    };
    let mut deletions: BTreeMap<Digest, Vec<String>> = BTreeMap::new();
    let mut lines = Vec::new();
    for (target, versions) in targets.iter().zip(&newest_first) {
        let mut entries = Vec::new();
        for version in versions {
            // Every version of a full inventory resolved; one that did not
            // is never a candidate for a delete by digest.
            let Some(digest) = inventory.version_digest(*version) else {
                continue;
            };
            let keep = if let Some(Err(why)) = facts.golden.get(version) {
                Some(KeepReason::Foreign { why: why.clone() })
            } else if !candidates.contains(version) {
                Some(KeepReason::Newest { keep: target.keep })
            } else if facts.referenced.contains(digest) {
                Some(KeepReason::Referenced)
            } else {
                let tags = inventory.tags_on(digest);
                let staying: Vec<String> = tags
                    .iter()
                    .filter(|tag| !goes_with(tag))
                    .map(|tag| tag.to_string())
                    .collect();
                if staying.is_empty() {
                    deletions
                        .entry(digest.clone())
                        .or_insert_with(|| tags.iter().map(|tag| tag.to_string()).collect());
                    None
                } else {
                    Some(KeepReason::Tagged { tags: staying })
                }
            };
            entries.push(Entry {
                version: version.to_string(),
                digest: digest.clone(),
                keep,
            });
        }
        lines.push(LinePlan {
            id: target.id.clone(),
            line: target.line.to_string(),
            keep: target.keep,
            versions: entries,
        });
    }
    Plan {
        repository: repository.to_string(),
        lines,
        deletions: deletions
            .into_iter()
            .map(|(digest, tags)| Deletion { digest, tags })
            .collect(),
    }
}

/// The human view of the plans; `applied` says whether deletes were done.
pub fn render_text(plans: &[Plan], applied: bool) -> String {
    let mut text = String::new();
    for plan in plans {
        for line in &plan.lines {
            let kept = line.versions.iter().filter(|v| v.keep.is_some()).count();
            text.push_str(&format!(
                "{}  {}  line {}: keep {} of {} (keep = {})\n",
                line.id,
                plan.repository,
                line.line,
                kept,
                line.versions.len(),
                line.keep
            ));
            for entry in &line.versions {
                let (action, why) = match &entry.keep {
                    Some(reason) => ("keep", reason.to_string()),
                    None if applied => ("deleted", short_digest(&entry.digest)),
                    None => ("delete", short_digest(&entry.digest)),
                };
                text.push_str(&format!("  {action:<7}  {:<12}  {why}\n", entry.version));
            }
        }
    }
    let manifests: usize = plans.iter().map(|plan| plan.deletions.len()).sum();
    if applied {
        text.push_str(&format!("deleted {manifests} manifest(s)\n"));
        if manifests > 0 {
            text.push_str("the registry frees their layers only when its garbage collector runs: `registry garbage-collect CONFIG.yml` (`docker-registry garbage-collect CONFIG.yml` on Debian), with the registry stopped or in read-only mode\n");
        }
    } else if manifests > 0 {
        text.push_str(&format!(
            "dry run: {manifests} manifest(s) would be deleted; run again with --apply to delete them\n"
        ));
    } else {
        text.push_str("nothing to delete\n");
    }
    text
}
