//! One line's state in its repository: the build the plan compares it
//! with (the newest golden build, or under upstream versioning the newest
//! not withdrawn), its release when that is whole, where the release's
//! floating tags point now, and what the build's index recorded.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::ledger::{withdrawn_down_to_release, Ledger};
use crate::config::Image;
use crate::labels;
use crate::name::{Digest, Repository};
use crate::observation::{FloatingTag, LastBuild};
use crate::platform::Platform;
use crate::provenance::{check_complete, floating_tags, Incomplete};
use crate::reference::Reference;
use crate::registry::{ImageConfig, Registry, RegistryError};
use crate::version::{Exact, Marker, Versioning};

/// A line's newest golden build and the base image per platform its
/// index recorded.
pub(super) type Observed = (LastBuild, BTreeMap<String, String>);

/// Every marker tag of the repository, by the version it marks.
pub(super) type Markers = BTreeMap<Exact, Vec<(u64, Marker, String)>>;

/// A golden build of the line as the ledger found it: its version, its
/// digest and, when it was read, its config.
type Found = (Exact, Digest, Option<ImageConfig>);

/// The line's release when it is whole, or else the build that would be
/// and why it is incomplete.
type Release = (Option<(Exact, Digest)>, Option<(Exact, Incomplete)>);

/// The newest golden build of `image`'s line (under upstream versioning,
/// the newest not withdrawn when there is one), its release and where the
/// floating tags that belong on the release point now; with the base
/// images per platform its index recorded. The release is the newest build
/// golden's own markers did not withdraw, and only when it is whole: an
/// incomplete one leaves the floating tags where they are (never on an
/// older build) until a new build replaces it.
pub(super) async fn line_state(
    ledger: &Ledger<'_>,
    repository: &Repository,
    image: &Image,
    markers: &Markers,
) -> Result<Option<Observed>, RegistryError> {
    let registry = ledger.registry();
    let line = image.version;
    let Some(newest) = ledger.newest_golden(line, &[]).await? else {
        return Ok(None);
    };
    let withdrawn = withdrawn_down_to_release(ledger, markers, line).await?;
    let withdrawn = withdrawn.as_slice();
    let not_withdrawn = match withdrawn.contains(&newest.0) {
        false => Some(newest.clone()),
        true => ledger.newest_golden(line, withdrawn).await?,
    };
    let candidate = not_withdrawn
        .as_ref()
        .map(|(release, digest, _)| (*release, digest.clone()));
    let (version, digest, config) = compared(
        registry,
        repository,
        image.versioning,
        newest,
        not_withdrawn,
    )
    .await?;
    let (release, incomplete) = release_of(registry, repository, image, candidate).await?;
    let floating = match &release {
        Some((release, _)) => floating_of(ledger, repository, image, *release, markers).await?,
        None => Vec::new(),
    };
    let (platforms, base_platforms) = index_records(registry, repository, &digest).await?;
    let label = |key: &str| config.label(key);
    let last = LastBuild {
        version,
        digest,
        created: config
            .created()
            .and_then(|text| DateTime::parse_from_rfc3339(&text).ok())
            .map(|time| time.with_timezone(&Utc)),
        recipe: label(labels::RECIPE),
        recipe_parts: label(labels::RECIPE_PARTS),
        reasons: label(labels::REASONS).filter(|reasons| !reasons.is_empty()),
        base_name: label(labels::BASE_NAME),
        base_digest: label(labels::BASE_DIGEST),
        floating,
        release,
        incomplete,
        withdrawn: withdrawn.to_vec(),
        platforms,
    };
    Ok(Some((last, base_platforms)))
}

/// The build the line is compared with, and its config (read now unless
/// the ledger read it). Under upstream versioning the build compared with
/// is the newest not withdrawn: after a rollback across upstream versions,
/// a build of the older version is compared with what it follows, not with
/// the withdrawn newer version (which would make the line due on every
/// run). Under line versioning, the newest build, withdrawn or not.
async fn compared(
    registry: &dyn Registry,
    repository: &Repository,
    versioning: Versioning,
    newest: Found,
    not_withdrawn: Option<Found>,
) -> Result<(Exact, Digest, ImageConfig), RegistryError> {
    let (version, digest, config) = match (versioning, not_withdrawn) {
        (Versioning::Upstream, Some(not_withdrawn)) => not_withdrawn,
        _ => newest,
    };
    let config = match config {
        Some(config) => config,
        None => {
            registry
                .image_config(&repository.tag(&version.tag()))
                .await?
        }
    };
    Ok((version, digest, config))
}

/// The release: the newest build not withdrawn (`candidate`), when it is
/// whole (every platform image of its index there).
async fn release_of(
    registry: &dyn Registry,
    repository: &Repository,
    image: &Image,
    candidate: Option<(Exact, Digest)>,
) -> Result<Release, RegistryError> {
    let Some((candidate, digest)) = candidate else {
        return Ok((None, None));
    };
    let release = match check_complete(registry, repository, &digest, &image.platforms)
        .await?
        .1
    {
        Ok(()) => (Some((candidate, digest)), None),
        Err(why) => (None, Some((candidate, why))),
    };
    Ok(release)
}

/// Where the floating tags that belong on `release` point now (`X` and
/// `latest` stay with higher golden lines).
async fn floating_of(
    ledger: &Ledger<'_>,
    repository: &Repository,
    image: &Image,
    release: Exact,
    markers: &Markers,
) -> Result<Vec<FloatingTag>, RegistryError> {
    let higher = ledger.golden_lines_above(image.version, markers).await?;
    let tags = floating_tags(release, &higher, image.floating.as_deref());
    let references: Vec<Reference> = tags.iter().map(|tag| repository.tag(tag)).collect();
    let registry = ledger.registry();
    let digests = futures::future::join_all(
        references
            .iter()
            .map(|reference| registry.manifest_digest(reference)),
    )
    .await;
    let mut floating = Vec::new();
    for (tag, digest) in tags.into_iter().zip(digests) {
        floating.push(FloatingTag {
            tag,
            digest: digest?,
        });
    }
    Ok(floating)
}

/// The platforms of the build's index and the base image per platform it
/// recorded; none for a single image. A multi-platform build is an index;
/// the exact tag names one platform's image only while a run is pushing
/// (or after it died).
async fn index_records(
    registry: &dyn Registry,
    repository: &Repository,
    digest: &Digest,
) -> Result<(Vec<Platform>, BTreeMap<String, String>), RegistryError> {
    let index = registry.index(&repository.digest(digest)).await?;
    let platforms = index
        .as_ref()
        .map(|index| index.platforms())
        .unwrap_or_default();
    let base_platforms = index
        .as_ref()
        .and_then(|index| index.annotations.get(labels::BASE_PLATFORMS))
        .map(|value| labels::parse_base_platforms(value))
        .unwrap_or_default();
    Ok((platforms, base_platforms))
}
