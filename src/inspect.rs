//! `golden inspect ID`: what the registry holds for one line: where its
//! floating tags point and, for its newest exact versions, the provenance
//! golden recorded in their labels (created, base name and digest, recipe,
//! revision), their size and, for a multi-platform build, its platforms.

use futures::future::join_all;
use serde::Serialize;

use crate::config::{Config, Image};
use crate::labels;
use crate::name::{Digest, Repository};
use crate::reference::Reference;
use crate::registry::{Registry, RegistryError};
use crate::version::{Exact, UpstreamVersion, Versioning};

/// Exact versions shown, newest first.
pub const SHOWN_VERSIONS: usize = 5;

pub use crate::history::Floating;

/// One exact version and its provenance.
#[derive(Debug, Clone, Serialize)]
pub struct Version {
    pub version: String,
    /// The upstream version the build holds (`10.0.3` of `10.0.3-r2`),
    /// under `upstream` versioning; left out under `line` versioning.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream: Option<String>,
    pub digest: Digest,
    pub created: Option<String>,
    pub base_name: Option<String>,
    pub base_digest: Option<String>,
    pub recipe: Option<String>,
    pub revision: Option<String>,
    /// Why it was built (`io.golden.reasons`); left out for builds made
    /// before golden recorded it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasons: Option<String>,
    pub size: u64,
    /// Why this tag is not a golden build; null for a golden build.
    pub foreign: Option<crate::provenance::Foreign>,
    /// The platforms of a multi-platform build's index, in index order;
    /// left out for a single image.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub platforms: Vec<String>,
}

/// The whole answer.
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    pub id: String,
    pub repository: String,
    pub line: String,
    pub floating: Vec<Floating>,
    pub versions: Vec<Version>,
}

/// Reads what the registry holds for `image`.
pub async fn inspect(
    config: &Config,
    image: &Image,
    registry: &dyn Registry,
) -> Result<Inspection, RegistryError> {
    let repository = config.repository(image);
    let tags = registry.tags(&repository).await?;
    let line_versions: Vec<_> = image
        .versioning
        .exact_versions(tags.iter().map(String::as_str))
        .into_iter()
        .filter(|version| version.line == image.version)
        .collect();
    // The upstream versions the line built, before the list is cut.
    let built: Vec<String> = line_versions
        .iter()
        .filter_map(|version| Some(version.upstream()?.to_string()))
        .collect();
    let versions = newest_versions(registry, &repository, line_versions).await?;
    let floating = floating(registry, &repository, image, &tags, &versions, &built).await?;
    Ok(Inspection {
        id: image.id.clone(),
        repository: repository.to_string(),
        line: image.version.to_string(),
        floating,
        versions,
    })
}

/// The newest [`SHOWN_VERSIONS`] of `line_versions` (the line's exact
/// versions, oldest first), newest first, each with the provenance its
/// config records and, for an index, its platforms.
async fn newest_versions(
    registry: &dyn Registry,
    repository: &Repository,
    mut line_versions: Vec<Exact>,
) -> Result<Vec<Version>, RegistryError> {
    line_versions.reverse();
    line_versions.truncate(SHOWN_VERSIONS);
    let exact: Vec<Reference> = line_versions
        .iter()
        .map(|version| repository.tag(&version.tag()))
        .collect();
    let configs = join_all(exact.iter().map(|reference| async move {
        let config = registry.image_config(reference).await;
        let index = registry.index(reference).await;
        (config, index)
    }))
    .await;
    let mut versions = Vec::new();
    for (version, (found, index)) in line_versions.iter().zip(configs) {
        let found = found?;
        let platforms = index?
            .map(|index| index.platforms().iter().map(ToString::to_string).collect())
            .unwrap_or_default();
        let label = |key: &str| found.label(key);
        versions.push(Version {
            version: version.to_string(),
            upstream: version.upstream().map(|upstream| upstream.to_string()),
            digest: found.digest.clone(),
            created: found.created(),
            base_name: label(labels::BASE_NAME),
            base_digest: label(labels::BASE_DIGEST),
            recipe: label(labels::RECIPE),
            revision: label(labels::REVISION),
            reasons: label(labels::REASONS).filter(|reasons| !reasons.is_empty()),
            size: found.size,
            foreign: crate::provenance::provenance(&version.to_string(), &found).err(),
            platforms,
        });
    }
    Ok(versions)
}

/// Where each floating tag `image` can carry points now, and the version
/// shown there when it is one of `versions`. Under upstream versioning an
/// `X.Y.Z` tag counts only on a build of that upstream version (one of
/// `built`, the line's upstream versions).
async fn floating(
    registry: &dyn Registry,
    repository: &Repository,
    image: &Image,
    tags: &[String],
    versions: &[Version],
    built: &[String],
) -> Result<Vec<Floating>, RegistryError> {
    let floating_tags = floating_tags(image, tags);
    let references: Vec<Reference> = floating_tags
        .iter()
        .map(|tag| repository.tag(tag))
        .collect();
    let digests = join_all(
        references
            .iter()
            .map(|reference| registry.manifest_digest(reference)),
    )
    .await;
    let mut floating = Vec::new();
    for (tag, digest) in floating_tags.iter().zip(digests) {
        let digest = digest?;
        let found = digest
            .as_ref()
            .and_then(|digest| versions.iter().find(|v| &v.digest == digest));
        // An `X.Y.Z` tag is floating only on a build of that upstream
        // version: after a switch from `line` versioning, `10.0.3` is an
        // old build of the counting scheme (no `10.0.3-rN` exists, or it
        // is not on one).
        let upstream = image.versioning == Versioning::Upstream
            && tag.as_str().parse::<UpstreamVersion>().is_ok();
        let on_other = found.is_some_and(|v| v.upstream.as_deref() != Some(tag.as_str()));
        if upstream && (on_other || !built.iter().any(|built| built == tag.as_str())) {
            continue;
        }
        let version = found.map(|v| v.version.clone());
        floating.push(Floating {
            tag: tag.to_string(),
            digest,
            version,
        });
    }
    Ok(floating)
}

/// The floating tags `image` can carry, in the order shown: `X.Y`, then
/// under `upstream` versioning each `X.Y.Z[-PRE]` tag of the line in
/// `tags` (oldest first), then `X` and `latest`.
fn floating_tags(image: &Image, tags: &[String]) -> Vec<crate::name::Tag> {
    let [line, major, latest] = crate::history::line_floating_tags(image.version);
    let mut upstream: Vec<UpstreamVersion> = match image.versioning {
        Versioning::Line => Vec::new(),
        Versioning::Upstream => tags
            .iter()
            .filter(|tag| crate::version::parse_marker(tag).is_none())
            .filter(|tag| {
                tag.parse::<Exact>()
                    .map_or(true, |exact| exact.revision.is_none())
            })
            .filter_map(|tag| {
                let version = tag.parse::<UpstreamVersion>().ok()?;
                (version.line() == image.version && version.to_string() == *tag).then_some(version)
            })
            .collect(),
    };
    upstream.sort();
    let mut all = vec![line];
    all.extend(upstream.iter().map(UpstreamVersion::tag));
    all.extend([major, latest]);
    all
}

/// The human view: floating tags, then one block per version.
pub fn render_text(inspection: &Inspection) -> String {
    let short = |digest: Option<&str>| digest.map_or("-".to_string(), crate::name::short_digest);
    let mut text = format!(
        "{} (line {}) in {}\n\nfloating tags:\n",
        inspection.id, inspection.line, inspection.repository
    );
    for floating in &inspection.floating {
        let target = match (&floating.digest, &floating.version) {
            (None, _) => "not in the registry".to_string(),
            (Some(digest), Some(version)) => {
                format!("{version}  {}", crate::name::short_digest(digest))
            }
            (Some(digest), None) => format!(
                "another line or an older build  {}",
                crate::name::short_digest(digest)
            ),
        };
        text.push_str(&format!("  {:<8} -> {target}\n", floating.tag));
    }
    if inspection.versions.is_empty() {
        text.push_str("\nno exact version of this line in the registry yet\n");
    }
    for version in &inspection.versions {
        text.push_str(&format!(
            "\n{}  {}\n  created   {}\n  base      {} @ {}\n  recipe    {}\n  revision  {}\n  size      {:.1} MiB\n",
            version
                .version
                .parse::<Exact>()
                .map_or_else(|_| version.version.clone(), |exact| exact.describe()),
            version.digest,
            version.created.as_deref().unwrap_or("-"),
            version.base_name.as_deref().unwrap_or("-"),
            short(version.base_digest.as_deref()),
            short(version.recipe.as_deref()),
            version.revision.as_deref().unwrap_or("-"),
            version.size as f64 / (1024.0 * 1024.0),
        ));
        if !version.platforms.is_empty() {
            text.push_str(&format!("  platforms {}\n", version.platforms.join(", ")));
        }
        if let Some(reasons) = &version.reasons {
            text.push_str(&format!("  because   {reasons}\n"));
        }
        if let Some(why) = &version.foreign {
            let foreign = crate::provenance::ForeignTag {
                tag: version.version.clone(),
                digest: version.digest.clone(),
                why: why.clone(),
            };
            text.push_str(&format!("  warning: {foreign}\n"));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Review finding 9: after a switch from `line` versioning the old
    /// exact tags `10.0.0`, `10.0.1` were listed as `X.Y.Z` floating tags.
    #[tokio::test]
    async fn an_old_counter_tag_after_a_switch_to_upstream_versioning_is_no_floating_tag() {
        let (config, problems) = Config::parse(
            crate::diagnostic::SourceFile::new(
                std::path::Path::new("golden.toml"),
                "[registry]\nhost = \"registry.local:5000\"\nnamespace = \"golden\"\n\
[images.aspnet]\nversion = \"10.0\"\ncontext = \".\"\nversioning = \"upstream\"\n\
upstream_version = { env = \"ASPNET_VERSION\" }\n",
            ),
            &crate::regular_file::Disk,
        );
        assert!(problems.is_empty(), "{problems:?}");
        let config = config.unwrap();
        let image = config.image("aspnet").unwrap();
        let registry = crate::testing::FakeRegistry::default();
        let path = "registry.local:5000/golden/aspnet";
        let digest = crate::testing::digest;
        for (tag, at) in [
            ("10.0.0", "c0"),
            ("10.0.1", "c1"),
            ("10.0.5-r1", "a1"),
            ("10.0.5", "a1"),
            ("10.0", "a1"),
        ] {
            registry.put(path, tag, digest(at));
        }
        let inspection = inspect(&config, image, &registry).await.unwrap();
        let floating: Vec<&str> = inspection
            .floating
            .iter()
            .map(|floating| floating.tag.as_str())
            .collect();
        assert_eq!(floating, ["10.0", "10.0.5", "10", "latest"]);
    }
}
