//! `golden ls [ID...]`: per line, every exact version in the registry
//! (sorted as versions), the floating tags on each, when it was created and
//! what it was built on, which builds a rollback withdrew (by golden's own
//! markers only) and which are foreign or incomplete.

use std::collections::BTreeMap;

use futures::stream::{self, StreamExt};
use serde::Serialize;

pub use super::Floating;
use super::{Inventory, CONCURRENCY};
use crate::config::{Config, Image};
use crate::index::Index;
use crate::labels;
use crate::name::short_digest;
use crate::name::{Digest, Repository};
use crate::provenance::{check_complete, provenance, Foreign, Incomplete};
use crate::registry::{ImageConfig, Registry, RegistryError};
use crate::version::{Exact, Line};

/// One exact version of a line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Version {
    pub version: String,
    /// The upstream version the build holds (`10.0.3` of `10.0.3-r2`),
    /// under `upstream` versioning; left out under `line` versioning.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream: Option<String>,
    /// The exact tag with the upstream version, for people:
    /// `10.0.3-r2 (upstream 10.0.3)`; the exact tag under `line`.
    #[serde(skip)]
    pub described: String,
    pub digest: Digest,
    pub created: Option<String>,
    pub base_name: Option<String>,
    pub base_digest: Option<String>,
    /// Why golden made this build (its `io.golden.reasons` label, as
    /// `plan` said them); null for a build made before golden recorded it.
    pub reasons: Option<String>,
    /// Withdrawn by `golden rollback`: no floating tag goes back to it.
    pub withdrawn: bool,
    /// The line's floating tags (`X.Y`, `X.Y.Z` under upstream
    /// versioning, `X`, `latest`) on this build.
    pub floating: Vec<String>,
    /// Why this tag is not a golden build; null for a golden build.
    pub foreign: Option<Foreign>,
    /// Why this golden build is not whole (an image its index names is
    /// gone, or a single image where the line publishes an index): never
    /// released or rolled back to. Null when it is whole, or foreign.
    pub incomplete: Option<Incomplete>,
    /// The platforms of a multi-platform build's index; left out for a
    /// single image.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub platforms: Vec<String>,
}

/// One configured line and its history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listing {
    pub id: String,
    pub repository: String,
    pub line: String,
    /// `[retention] keep`, when configured.
    pub keep: Option<u32>,
    /// Oldest first.
    pub versions: Vec<Version>,
    pub floating: Vec<Floating>,
}

/// Reads the history of each image in `images`, in that order; lines that
/// share a repository share one read of its tags.
pub async fn list(
    config: &Config,
    images: &[&Image],
    registry: &dyn Registry,
) -> Result<Vec<Listing>, RegistryError> {
    let mut inventories: BTreeMap<Repository, Inventory> = BTreeMap::new();
    let mut listings = Vec::new();
    for image in images {
        let repository = config.repository(image);
        if !inventories.contains_key(&repository) {
            let inventory = Inventory::read(registry, &repository)
                .await?
                .under(image.versioning);
            inventories.insert(repository.clone(), inventory);
        }
        let inventory = &inventories[&repository];
        listings.push(list_one(image, &repository, inventory, registry).await?);
    }
    Ok(listings)
}

/// The history of one image's line: each build with its config, the
/// floating tags on it and whether it is withdrawn, foreign or incomplete.
async fn list_one(
    image: &Image,
    repository: &Repository,
    inventory: &Inventory,
    registry: &dyn Registry,
) -> Result<Listing, RegistryError> {
    let withdrawn = inventory.withdrawn();
    let floating_tags = inventory.floating_tags(image.version);
    let mut versions = Vec::new();
    for read in read_builds(image, repository, inventory, registry).await {
        let (version, digest) = (read.version, read.digest);
        let found = read.config?;
        let (index, complete) = read.complete?;
        let platforms = index
            .map(|index| index.platforms().iter().map(ToString::to_string).collect())
            .unwrap_or_default();
        let foreign = provenance(&version.to_string(), &found).err();
        versions.push(Version {
            version: version.to_string(),
            upstream: version.upstream().map(|upstream| upstream.to_string()),
            described: version.describe(),
            floating: floating_tags
                .iter()
                .filter(|tag| inventory.digest(tag) == Some(&digest))
                .cloned()
                .collect(),
            digest,
            created: found.created(),
            base_name: found.label(labels::BASE_NAME),
            base_digest: found.label(labels::BASE_DIGEST),
            reasons: found
                .label(labels::REASONS)
                .filter(|reasons| !reasons.is_empty()),
            withdrawn: withdrawn.contains(&version),
            incomplete: foreign.is_none().then(|| complete.err()).flatten(),
            foreign,
            platforms,
        });
    }
    Ok(Listing {
        id: image.id.clone(),
        repository: repository.to_string(),
        line: image.version.to_string(),
        keep: image.keep,
        versions,
        floating: floating_targets(inventory, &floating_tags, image.version),
    })
}

/// What was read of one build: its config, and its index (if it is one)
/// with whether the build is whole.
struct Read {
    version: Exact,
    digest: Digest,
    config: Result<ImageConfig, RegistryError>,
    complete: Result<(Option<Index>, Result<(), Incomplete>), RegistryError>,
}

/// Reads every build of the image's line (every listed version resolved:
/// a full inventory), oldest first.
async fn read_builds(
    image: &Image,
    repository: &Repository,
    inventory: &Inventory,
    registry: &dyn Registry,
) -> Vec<Read> {
    let resolved: Vec<(Exact, Digest)> = inventory
        .line_versions(image.version)
        .iter()
        .filter_map(|version| Some((*version, inventory.version_digest(*version)?.clone())))
        .collect();
    stream::iter(resolved)
        .map(|(version, digest)| {
            let reference = repository.digest(&digest);
            let platforms = &image.platforms;
            async move {
                let config = registry.image_config(&reference).await;
                // Only a golden build can be incomplete: a foreign one's
                // index is read for its platforms, its images not asked for.
                let golden = config
                    .as_ref()
                    .is_ok_and(|config| provenance(&version.to_string(), config).is_ok());
                let complete = match golden {
                    true => check_complete(registry, repository, &digest, platforms).await,
                    false => registry
                        .index(&reference)
                        .await
                        .map(|index| (index, Ok(()))),
                };
                Read {
                    version,
                    digest,
                    config,
                    complete,
                }
            }
        })
        .buffered(CONCURRENCY)
        .collect()
        .await
}

/// Where each of `tags`, the line's floating tags, points.
fn floating_targets(inventory: &Inventory, tags: &[String], line: Line) -> Vec<Floating> {
    tags.iter()
        .map(|tag| {
            let digest = inventory.digest(tag).cloned();
            let version = digest
                .as_ref()
                .and_then(|digest| inventory.version_of(digest, line))
                .map(|version| version.to_string());
            Floating {
                tag: tag.clone(),
                digest,
                version,
            }
        })
        .collect()
}

/// The human view: a header per line, a row per version, then where the
/// line's floating tags point when that is not a build of the line.
/// `wide` adds why each build was made (`ls --wide`).
pub fn render_text(listings: &[Listing], wide: bool) -> String {
    let mut text = String::new();
    for (index, listing) in listings.iter().enumerate() {
        if index > 0 {
            text.push('\n');
        }
        let keep = listing
            .keep
            .map(|keep| format!(", keep {keep}"))
            .unwrap_or_default();
        text.push_str(&format!(
            "{}  {}  line {} ({} version(s){keep})\n",
            listing.id,
            listing.repository,
            listing.line,
            listing.versions.len()
        ));
        if listing.versions.is_empty() {
            text.push_str("  nothing built yet\n");
            continue;
        }
        for row in crate::report::table(&version_rows(listing, wide)).lines() {
            text.push_str("  ");
            text.push_str(row);
            text.push('\n');
        }
        text.push_str(&floating_elsewhere(listing));
        text.push_str(&warnings(listing));
    }
    text
}

/// The table of a line's builds: a header, then a row per version; the
/// last column, with `wide`, why each was built.
fn version_rows(listing: &Listing, wide: bool) -> Vec<Vec<String>> {
    let mut rows = vec![["VERSION", "DIGEST", "CREATED", "BASE", "TAGS"]
        .map(String::from)
        .to_vec()];
    // A column for platforms only in a line with multi-platform builds.
    let platforms = listing.versions.iter().any(|v| !v.platforms.is_empty());
    if platforms {
        rows[0].push("PLATFORMS".to_string());
    }
    if wide {
        rows[0].push("BECAUSE".to_string());
    }
    for version in &listing.versions {
        let mut tags = version.floating.clone();
        if version.withdrawn {
            tags.push("(withdrawn)".to_string());
        }
        if version.foreign.is_some() {
            tags.push("(foreign)".to_string());
        }
        if version.incomplete.is_some() {
            tags.push("(incomplete)".to_string());
        }
        rows.push(vec![
            version.described.clone(),
            short_digest(&version.digest),
            version.created.clone().unwrap_or_else(|| "-".to_string()),
            version
                .base_digest
                .as_deref()
                .map_or("-".to_string(), short_digest),
            if tags.is_empty() {
                "-".to_string()
            } else {
                tags.join(" ")
            },
        ]);
        if platforms {
            let row = rows.last_mut().expect("a row was just pushed");
            row.push(match version.platforms.is_empty() {
                true => "-".to_string(),
                false => version.platforms.join(","),
            });
        }
        if wide {
            let row = rows.last_mut().expect("a row was just pushed");
            row.push(version.reasons.clone().unwrap_or_else(|| "-".to_string()));
        }
    }
    rows
}

/// A line per floating tag that points at no build of the line.
fn floating_elsewhere(listing: &Listing) -> String {
    let mut text = String::new();
    for floating in &listing.floating {
        let in_line = listing
            .versions
            .iter()
            .any(|version| Some(&version.digest) == floating.digest.as_ref());
        if in_line {
            continue;
        }
        let target = match (&floating.digest, &floating.version) {
            (None, _) => "missing".to_string(),
            (Some(_), Some(version)) => format!("{version} (another line)"),
            (Some(digest), None) => format!("{} (no exact version)", short_digest(digest)),
        };
        text.push_str(&format!("  {} -> {target}\n", floating.tag));
    }
    text
}

/// A warning per build that is foreign or incomplete.
fn warnings(listing: &Listing) -> String {
    let mut text = String::new();
    for version in &listing.versions {
        let why = version.foreign.clone().or_else(|| {
            let why = version.incomplete.clone()?;
            Some(Foreign::Incomplete { why })
        });
        if let Some(why) = why {
            let foreign = crate::provenance::ForeignTag {
                tag: version.version.clone(),
                digest: version.digest.clone(),
                why,
            };
            text.push_str(&format!("  warning: {foreign}\n"));
        }
    }
    text
}
