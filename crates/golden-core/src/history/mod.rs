//! The history each line keeps in the registry, and the commands that read
//! and tidy it: `golden ls` (what is there), `golden prune` (delete old
//! builds no tag needs) and `golden rollback` (move a line's floating tags
//! back to an earlier build and withdraw the newer ones).
//!
//! Each command reads an [`Inventory`] of the repository (every tag and the
//! manifest digest it resolves to), decides with a pure function, then acts
//! through the [`Registry`] trait.

use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

use futures::stream::{self, StreamExt};

use crate::name::{Digest, Repository, Tag};
use crate::provenance::{check_complete, provenance, Foreign};
use crate::registry::{Registry, RegistryError};
use crate::version::{
    marker_states, marker_tags, parse_marker, withdrawn_in, Exact, Line, UpstreamVersion,
    Versioning,
};

pub mod ls;
pub mod prune;
pub mod rollback;

/// Tag lookups in flight at once.
const CONCURRENCY: usize = 16;

/// Every tag of one repository and the manifest digest it resolves to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    /// tag -> manifest digest; a listed tag that no longer resolves is left out.
    pub tags: BTreeMap<String, Digest>,
    /// Listed tags that were not resolved because the reader did not need
    /// their digest (they still count as versions).
    pub unresolved: BTreeSet<String>,
    /// How the repository's lines name their builds: under `upstream`
    /// versioning the builds are `X.Y.Z-rN` and an `X.Y.Z` tag is a
    /// floating tag (the newest build of that upstream version).
    pub versioning: Versioning,
}

impl Inventory {
    /// Lists the tags of `repository` and resolves each one.
    pub async fn read(
        registry: &dyn Registry,
        repository: &Repository,
    ) -> Result<Inventory, RegistryError> {
        Inventory::read_some(registry, repository, |_| true).await
    }

    /// Lists the tags of `repository` and resolves those `wanted` accepts.
    pub async fn read_some(
        registry: &dyn Registry,
        repository: &Repository,
        wanted: impl Fn(&str) -> bool,
    ) -> Result<Inventory, RegistryError> {
        let (names, unresolved): (Vec<String>, Vec<String>) = registry
            .tags(repository)
            .await?
            .into_iter()
            .partition(|tag| wanted(tag));
        let resolved: Vec<(String, Result<Option<Digest>, RegistryError>)> = stream::iter(names)
            .map(|tag| async move {
                // A listed tag that is not a valid one resolves to nothing.
                let digest = match Tag::parse(&tag) {
                    Ok(valid) => registry.manifest_digest(&repository.tag(&valid)).await,
                    Err(_) => Ok(None),
                };
                (tag, digest)
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let mut tags = BTreeMap::new();
        for (tag, digest) in resolved {
            if let Some(digest) = digest? {
                tags.insert(tag, digest);
            }
        }
        Ok(Inventory {
            tags,
            unresolved: unresolved.into_iter().collect(),
            versioning: Versioning::Line,
        })
    }

    /// The same inventory, read as a repository whose lines use
    /// `versioning` (every line of a repository shares one scheme).
    pub fn under(self, versioning: Versioning) -> Inventory {
        Inventory { versioning, ..self }
    }

    /// Every exact version (a build's tag under the repository's
    /// versioning), all lines, sorted.
    pub fn versions(&self) -> Vec<Exact> {
        self.versioning.exact_versions(self.names())
    }

    /// The `X.Y.Z[-PRE]` floating tags of `line` that resolve, oldest
    /// version first: under `upstream` versioning each is the newest build
    /// of that upstream version; under `line` versioning there are none.
    /// Only a tag on one of its version's `X.Y.Z[-PRE]-rN` builds counts:
    /// a line switched from `line` versioning keeps its old exact tags
    /// `10.0.0`..`10.0.5`, which are builds of the old scheme, not
    /// floating tags (they are never moved, and keep nothing).
    pub fn upstream_floating(&self, line: Line) -> Vec<(UpstreamVersion, &str)> {
        if self.versioning != Versioning::Upstream {
            return Vec::new();
        }
        let versions = self.versions();
        let on_a_build = |upstream: UpstreamVersion, tag: &str| {
            let Some(digest) = self.digest(tag) else {
                return false;
            };
            versions.iter().any(|version| {
                version.upstream() == Some(upstream)
                    && self.version_digest(*version) == Some(digest)
            })
        };
        let mut found: Vec<(UpstreamVersion, &str)> = self
            .tags
            .keys()
            .filter(|tag| parse_marker(tag).is_none())
            .filter(|tag| {
                tag.parse::<Exact>()
                    .map_or(true, |exact| exact.revision.is_none())
            })
            .filter_map(|tag| {
                let upstream = tag.parse::<UpstreamVersion>().ok()?;
                (upstream.line() == line
                    && upstream.to_string() == *tag
                    && on_a_build(upstream, tag))
                .then_some((upstream, tag.as_str()))
            })
            .collect();
        found.sort();
        found
    }

    /// Every floating tag `line` can carry that the inventory names:
    /// `X.Y`, each `X.Y.Z` (upstream versioning), `X`, `latest`.
    pub fn floating_tags(&self, line: Line) -> Vec<String> {
        let [line_tag, major, latest] = line_floating_tags(line);
        let mut tags = vec![line_tag.to_string()];
        tags.extend(
            self.upstream_floating(line)
                .into_iter()
                .map(|(_, tag)| tag.to_string()),
        );
        tags.push(major.to_string());
        tags.push(latest.to_string());
        tags
    }

    /// Every tag listed, resolved or not.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tags
            .keys()
            .chain(self.unresolved.iter())
            .map(String::as_str)
    }

    /// The exact versions of `line`, oldest first.
    pub fn line_versions(&self, line: Line) -> Vec<Exact> {
        self.versions()
            .into_iter()
            .filter(|version| version.line == line)
            .collect()
    }

    /// The builds a rollback withdrew (those whose exact tag still exists),
    /// by golden's own markers only: a marker tag counts when it resolves
    /// to the build's manifest (golden writes markers as copies of it), so
    /// a marker someone else pushed neither withdraws nor restores. A
    /// marker not resolved (see [`Inventory::read_some`]) does not count.
    pub fn withdrawn(&self) -> Vec<Exact> {
        let versions = self.versions();
        let states = marker_states(&marker_tags(self.names()), |version, tag| {
            self.digest(tag)
                .is_some_and(|digest| self.version_digest(version) == Some(digest))
        });
        withdrawn_in(&states)
            .into_iter()
            .filter(|version| versions.contains(version))
            .collect()
    }

    /// The digest `tag` resolves to.
    pub fn digest(&self, tag: &str) -> Option<&Digest> {
        self.tags.get(tag)
    }

    /// The digest of an exact version.
    pub fn version_digest(&self, version: Exact) -> Option<&Digest> {
        self.digest(&version.to_string())
    }

    /// Every tag that resolves to `digest`.
    pub fn tags_on(&self, digest: &Digest) -> Vec<&str> {
        self.tags
            .iter()
            .filter(|(_, target)| *target == digest)
            .map(|(tag, _)| tag.as_str())
            .collect()
    }

    /// The highest exact version with `digest`, preferring `line`.
    pub fn version_of(&self, digest: &Digest, line: Line) -> Option<Exact> {
        let on: Vec<Exact> = self.versioning.exact_versions(self.tags_on(digest));
        on.iter()
            .copied()
            .filter(|version| version.line == line)
            .max()
            .or_else(|| on.iter().copied().max())
    }
}

/// Which exact versions of `lines` are golden builds, from the config of
/// each (read by digest, so two tags on one build cost one manifest read);
/// a foreign one maps to why it is not.
pub async fn classify(
    registry: &dyn Registry,
    repository: &Repository,
    inventory: &Inventory,
    lines: &[Line],
) -> Result<BTreeMap<Exact, Result<(), Foreign>>, RegistryError> {
    let versions: Vec<(Exact, Digest)> = inventory
        .versions()
        .into_iter()
        .filter(|version| lines.contains(&version.line))
        .filter_map(|version| Some((version, inventory.version_digest(version)?.clone())))
        .collect();
    let read: Vec<(Exact, Result<crate::registry::ImageConfig, RegistryError>)> =
        stream::iter(versions)
            .map(|(version, digest)| async move {
                let config = registry.image_config(&repository.digest(&digest)).await;
                (version, config)
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
    let mut classes = BTreeMap::new();
    for (version, config) in read {
        classes.insert(version, provenance(&version.to_string(), &config?));
    }
    Ok(classes)
}

/// [`classify`] for a rollback of `line`, configured for `platforms`: a
/// golden build that is not whole (see [`crate::provenance::completeness`])
/// maps to [`Foreign::Incomplete`], so it is withdrawn with the others but
/// never a target. Each golden build's index is read (already in memory
/// from its config) and each manifest it names asked for.
pub async fn classify_whole(
    registry: &dyn Registry,
    repository: &Repository,
    inventory: &Inventory,
    line: Line,
    platforms: &[crate::platform::Platform],
) -> Result<BTreeMap<Exact, Result<(), Foreign>>, RegistryError> {
    let mut classes = classify(registry, repository, inventory, &[line]).await?;
    let golden: Vec<(Exact, Digest)> = classes
        .iter()
        .filter(|(_, class)| class.is_ok())
        .filter_map(|(version, _)| Some((*version, inventory.version_digest(*version)?.clone())))
        .collect();
    let checked: Vec<(Exact, _)> = stream::iter(golden)
        .map(|(version, digest)| async move {
            let complete = check_complete(registry, repository, &digest, platforms).await;
            (version, complete)
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    for (version, complete) in checked {
        if let Err(why) = complete?.1 {
            classes.insert(version, Err(Foreign::Incomplete { why }));
        }
    }
    Ok(classes)
}

/// The children of every tagged image index (or manifest list) of the
/// repository, by the index's digest; image manifests are left out.
pub async fn index_children(
    registry: &dyn Registry,
    repository: &Repository,
    inventory: &Inventory,
) -> Result<BTreeMap<Digest, Vec<Digest>>, RegistryError> {
    let digests: BTreeSet<&Digest> = inventory.tags.values().collect();
    let children: Vec<(&Digest, Result<Vec<Digest>, RegistryError>)> = stream::iter(digests)
        .map(|digest| async move {
            let children = registry.index_children(&repository.digest(digest)).await;
            (digest, children)
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let mut indexes = BTreeMap::new();
    for (digest, found) in children {
        let found = found?;
        if !found.is_empty() {
            indexes.insert(digest.clone(), found);
        }
    }
    Ok(indexes)
}

/// Where a floating tag points.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Floating {
    pub tag: String,
    pub digest: Option<Digest>,
    /// The exact version of this repository with that digest, if any.
    pub version: Option<String>,
}

/// The floating tags a line can carry: `X.Y`, `X` and `latest`.
pub fn line_floating_tags(line: Line) -> [Tag; 3] {
    [line.tag(), line.major_tag(), Tag::latest()]
}

#[cfg(test)]
mod tests;
