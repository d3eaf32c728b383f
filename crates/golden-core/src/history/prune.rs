//! `golden prune [ID...] [--keep N] [--apply]`: keep the newest `N` exact
//! versions of each selected line and delete the other builds by manifest
//! digest. Deleting a digest removes every tag on it, so a build is deleted
//! only when each tag on its digest is itself going: an exact version being
//! pruned or the withdrawn marker of one. A floating tag, a kept version,
//! another line, or any tag golden did not write keeps it.
//!
//! Under `upstream` versioning the builds counted are the line's
//! `X.Y.Z-rN`, across its upstream versions (`--keep 2` of `10.0.1-r1`,
//! `10.0.1-r2`, `10.0.2-r1` keeps `10.0.2-r1` and `10.0.1-r2`), and an
//! `X.Y.Z` tag is a floating tag like the others: the build it points at
//! stays.
//!
//! A multi-platform build is an image index and its platform images, which
//! no tag names (the index took their tag): the index and its children go
//! as one unit, index first. A child goes only when no index that stays and
//! no tag that stays names it.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::Inventory;
use crate::name::short_digest;
use crate::name::{Digest, Repository};
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
    /// The upstream version the build holds, under `upstream` versioning.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream: Option<String>,
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

/// One manifest to delete and the tags that go with it; for an image
/// index, its platform images too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deletion {
    pub digest: Digest,
    pub tags: Vec<String>,
    /// The index's platform images deleted with it (after it).
    pub children: Vec<Digest>,
    /// The index's platform images that stay: an index that stays, or a
    /// tag that stays, names them.
    pub kept_children: Vec<Digest>,
}

impl Deletion {
    /// Manifests this deletion removes: the index or image, and children.
    pub fn manifests(&self) -> usize {
        1 + self.children.len()
    }
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
    /// The children of each tagged image index of the repository, by the
    /// index's digest (see [`super::index_children`]).
    pub indexes: &'a BTreeMap<Digest, Vec<Digest>>,
}

/// Decides what goes, for `targets` (lines of one repository). Only golden
/// builds count toward `keep` and only they are ever deleted.
pub fn plan(
    repository: &Repository,
    inventory: &Inventory,
    targets: &[Target],
    facts: &Facts,
) -> Plan {
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
    let pruning = Pruning {
        inventory,
        facts,
        candidates: candidates(targets, &newest_first, facts),
    };
    let mut going = pruning.going_by_tags(&newest_first);
    let referenced = pruning.keep_what_staying_indexes_name(&mut going);
    let lines = targets
        .iter()
        .zip(&newest_first)
        .map(|(target, versions)| pruning.line_plan(target, versions, &going, &referenced))
        .collect();
    Plan {
        repository: repository.to_string(),
        lines,
        deletions: pruning.deletions(going, &referenced),
    }
}

/// The golden builds past the newest `keep` of their line (each line's
/// builds given newest first): those that may go.
fn candidates(targets: &[Target], newest_first: &[Vec<Exact>], facts: &Facts) -> BTreeSet<Exact> {
    let is_golden = |version: &Exact| matches!(facts.golden.get(version), Some(Ok(())));
    targets
        .iter()
        .zip(newest_first)
        .flat_map(|(target, versions)| {
            versions
                .iter()
                .filter(|version| is_golden(version))
                .skip(target.keep as usize)
                .copied()
        })
        .collect()
}

/// A prune of one repository under way: what it reads and the builds that
/// may go.
struct Pruning<'a> {
    inventory: &'a Inventory,
    facts: &'a Facts<'a>,
    /// See [`candidates`].
    candidates: BTreeSet<Exact>,
}

/// The manifests that go, by digest, each with the tags that go with it.
type Going = BTreeMap<Digest, Vec<String>>;

impl Pruning<'_> {
    /// Whether `tag` goes with the candidates: the exact tag of one, or a
    /// rollback marker of one (a build's markers go with it).
    fn goes_with(&self, tag: &str) -> bool {
        if let Some((version, _, _)) = parse_marker(tag) {
            return self.candidates.contains(&version);
        }
        tag.parse::<Exact>()
            .is_ok_and(|version| self.candidates.contains(&version) && version.to_string() == tag)
    }

    /// What goes by its tags alone: a candidate whose every tag goes with it.
    fn going_by_tags(&self, newest_first: &[Vec<Exact>]) -> Going {
        let mut going = Going::new();
        for versions in newest_first {
            for version in versions.iter().filter(|v| self.candidates.contains(v)) {
                let Some(digest) = self.inventory.version_digest(*version) else {
                    continue;
                };
                let tags = self.inventory.tags_on(digest);
                if tags.iter().all(|tag| self.goes_with(tag)) {
                    going.insert(
                        digest.clone(),
                        tags.iter().map(|tag| tag.to_string()).collect(),
                    );
                }
            }
        }
        going
    }

    /// The manifests an index that stays names.
    fn named_by_staying(&self, going: &Going) -> BTreeSet<Digest> {
        self.facts
            .indexes
            .iter()
            .filter(|(index, _)| !going.contains_key(*index))
            .flat_map(|(_, children)| children.iter().cloned())
            .collect()
    }

    /// Takes out of `going` what an index that stays names, until nothing
    /// changes (keeping an index keeps what it names); returns what the
    /// indexes that stay name.
    fn keep_what_staying_indexes_name(&self, going: &mut Going) -> BTreeSet<Digest> {
        let mut referenced = self.named_by_staying(going);
        loop {
            let before = going.len();
            going.retain(|digest, _| !referenced.contains(digest));
            if going.len() == before {
                return referenced;
            }
            referenced = self.named_by_staying(going);
        }
    }

    /// What happens to each build of one line (given newest first).
    fn line_plan(
        &self,
        target: &Target,
        versions: &[Exact],
        going: &Going,
        referenced: &BTreeSet<Digest>,
    ) -> LinePlan {
        let mut entries = Vec::new();
        for version in versions {
            // Every version of a full inventory resolved; one that did not
            // is never a candidate for a delete by digest.
            let Some(digest) = self.inventory.version_digest(*version) else {
                continue;
            };
            let keep = if let Some(Err(why)) = self.facts.golden.get(version) {
                Some(KeepReason::Foreign { why: why.clone() })
            } else if !self.candidates.contains(version) {
                Some(KeepReason::Newest { keep: target.keep })
            } else if going.contains_key(digest) {
                None
            } else if referenced.contains(digest) {
                Some(KeepReason::Referenced)
            } else {
                let tags = self.inventory.tags_on(digest);
                Some(KeepReason::Tagged {
                    tags: tags
                        .iter()
                        .filter(|tag| !self.goes_with(tag))
                        .map(|tag| tag.to_string())
                        .collect(),
                })
            };
            entries.push(Entry {
                version: version.to_string(),
                upstream: version.upstream().map(|upstream| upstream.to_string()),
                digest: digest.clone(),
                keep,
            });
        }
        LinePlan {
            id: target.id.clone(),
            line: target.line.to_string(),
            keep: target.keep,
            versions: entries,
        }
    }

    /// The deletions, with the children of each index that goes: each
    /// deleted once, and only when nothing that stays names it.
    fn deletions(&self, going: Going, referenced: &BTreeSet<Digest>) -> Vec<Deletion> {
        let mut claimed: BTreeSet<Digest> = going.keys().cloned().collect();
        going
            .into_iter()
            .map(|(digest, tags)| {
                let (mut children, mut kept_children) = (Vec::new(), Vec::new());
                for child in self.facts.indexes.get(&digest).into_iter().flatten() {
                    let tagged = self
                        .inventory
                        .tags_on(child)
                        .iter()
                        .any(|tag| !self.goes_with(tag));
                    if referenced.contains(child) || tagged {
                        kept_children.push(child.clone());
                    } else if claimed.insert(child.clone()) {
                        children.push(child.clone());
                    }
                }
                Deletion {
                    digest,
                    tags,
                    children,
                    kept_children,
                }
            })
            .collect()
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
                let what = || {
                    let mut what = short_digest(&entry.digest);
                    let deletion = plan.deletions.iter().find(|d| d.digest == entry.digest);
                    if let Some(deletion) = deletion.filter(|d| !d.children.is_empty()) {
                        what.push_str(&format!(
                            " and its {} platform image(s)",
                            deletion.children.len()
                        ));
                    }
                    if let Some(deletion) = deletion.filter(|d| !d.kept_children.is_empty()) {
                        let kept: Vec<String> =
                            deletion.kept_children.iter().map(short_digest).collect();
                        what.push_str(&format!(
                            "; keeps {} (named by a tag or index that stays)",
                            kept.join(", ")
                        ));
                    }
                    what
                };
                let (action, why) = match &entry.keep {
                    Some(reason) => ("keep", reason.to_string()),
                    None if applied => ("deleted", what()),
                    None => ("delete", what()),
                };
                let version = match &entry.upstream {
                    Some(upstream) => format!("{} (upstream {upstream})", entry.version),
                    None => entry.version.clone(),
                };
                text.push_str(&format!("  {action:<7}  {version:<12}  {why}\n"));
            }
        }
    }
    let manifests: usize = plans
        .iter()
        .flat_map(|plan| &plan.deletions)
        .map(Deletion::manifests)
        .sum();
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
