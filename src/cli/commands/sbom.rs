//! `golden sbom ID [VERSION]`: the CycloneDX SBOM attached to a build (the
//! line's newest build when no version is named), found as any reader
//! finds it: the referrers API, else the `sha256-<hex>` fallback tag.
//! Human output lists its components; `--output json` prints the document
//! byte for byte as stored, so its digest can be checked.

use crate::cli::Output;
use crate::exit::{Exit, Failure};
use crate::hint::Hinted;
use crate::name::{Digest, Repository};
use crate::referrers::{self, Referrer};
use crate::registry::{Registry, RegistryError};
use crate::sbom;
use crate::session::Session;
use crate::version::Exact;

pub(super) async fn run(
    session: &Session,
    id: &str,
    version: Option<String>,
    platform: Option<String>,
    output: Output,
) -> Result<Exit, Failure> {
    let platform = platform.as_deref();
    let image = session.image(id)?;
    let registry = session.connect_registry(session.credentials()?).await?;
    let failed = |error: RegistryError| Failure::new(Exit::of_registry(&error), error);
    let repository = session.project.config.repository(image);
    let version = match version.as_deref() {
        Some(text) => text.parse::<Exact>().map_err(|_| {
            Failure::usage(anyhow::Error::new(Hinted::new(
                format!("`{text}` is not an exact version of a golden build"),
                format!("name a build of `{id}` by its exact tag, e.g. `golden sbom {id} 1.0.2` (`golden ls {id}` lists them)"),
            )))
        })?,
        None => newest(&registry, &repository, image).await.map_err(failed)?.ok_or_else(|| {
            Failure::new(Exit::ImageFailed, anyhow::anyhow!("`{id}` has no build in `{repository}` yet"))
        })?,
    };
    let reference = repository.tag(&version.tag());
    let digest = registry
        .manifest_digest(&reference)
        .await
        .map_err(failed)?
        .ok_or_else(|| {
            Failure::new(
                Exit::ImageFailed,
                anyhow::anyhow!("`{reference}` is not in the registry"),
            )
        })?;
    let listed = referrers::list(&registry, &repository, &digest)
        .await
        .map_err(failed)?;
    let chosen = choose(&listed, platform, id, &reference)?;
    let document = referrers::document(&registry, &repository, &chosen.digest)
        .await
        .map_err(failed)?;
    match output {
        Output::Json => {
            // As stored, byte for byte (no newline added): its digest is
            // the artifact's layer digest.
            let text = String::from_utf8(document).map_err(|_| {
                Failure::new(
                    Exit::ImageFailed,
                    anyhow::anyhow!(
                        "the SBOM {} of `{reference}` is not UTF-8 JSON",
                        chosen.digest
                    ),
                )
            })?;
            crate::ui::output::stdout(&text);
        }
        Output::Human => {
            let entries = sbom::components(&document).map_err(|message| {
                Failure::new(
                    Exit::ImageFailed,
                    anyhow::anyhow!(
                        "the SBOM {} of `{reference}` cannot be read: {message}",
                        chosen.digest
                    ),
                )
            })?;
            let page = human(&reference.to_string(), &digest, chosen, &entries);
            crate::ui::output::stdout(&crate::sanitize::terminal(&page));
        }
    }
    Ok(Exit::Success)
}

/// The packages of the builds `old` and `new` of `repository`, compared
/// from their SBOMs (one platform's, for multi-platform builds: the
/// first both have, `linux/amd64` first); `Err` says why they were not.
pub(super) async fn packages(
    registry: &dyn Registry,
    repository: &Repository,
    old: &Digest,
    new: &Digest,
) -> Result<crate::diff::Packages, String> {
    let sboms = |digest: &Digest| {
        let digest = digest.clone();
        async move {
            let listed = referrers::list(registry, repository, &digest)
                .await
                .map_err(|error| {
                    format!("the artifacts attached to {digest} could not be listed: {error}")
                })?;
            Ok::<_, String>(
                cyclonedx(&listed)
                    .into_iter()
                    .map(|referrer| {
                        let platform = referrer.annotations.get(sbom::PLATFORM_ANNOTATION).cloned();
                        (platform, referrer.digest.clone())
                    })
                    .collect::<Vec<_>>(),
            )
        }
    };
    let (a, b) = (sboms(old).await?, sboms(new).await?);
    for (digest, listed) in [(old, &a), (new, &b)] {
        if listed.is_empty() {
            return Err(format!("{digest} has no SBOM attached"));
        }
    }
    let mut common: Vec<&Option<String>> = a
        .iter()
        .map(|(platform, _)| platform)
        .filter(|platform| b.iter().any(|(other, _)| other == *platform))
        .collect();
    common.sort_by_key(|platform| {
        (
            platform.as_deref() != Some("linux/amd64"),
            (*platform).clone(),
        )
    });
    let platform = common
        .first()
        .cloned()
        .ok_or_else(|| "the two builds' SBOMs are for different platforms".to_string())?;
    let read = |listed: &Vec<(Option<String>, Digest)>| {
        let digest = listed
            .iter()
            .find(|(of, _)| of == platform)
            .map(|(_, digest)| digest.clone())
            .expect("a common platform");
        async move {
            let document = referrers::document(registry, repository, &digest)
                .await
                .map_err(|error| format!("the SBOM {digest} could not be read: {error}"))?;
            sbom::components(&document)
                .map_err(|message| format!("the SBOM {digest} cannot be read: {message}"))
        }
    };
    let (old_entries, new_entries) = (read(&a).await?, read(&b).await?);
    Ok(crate::diff::packages(
        &old_entries,
        &new_entries,
        platform.clone(),
    ))
}

/// The newest exact version of `image`'s line in `repository`.
async fn newest(
    registry: &dyn Registry,
    repository: &Repository,
    image: &crate::config::Image,
) -> Result<Option<Exact>, RegistryError> {
    let tags = registry.tags(repository).await?;
    Ok(image
        .versioning
        .exact_versions(tags.iter().map(String::as_str))
        .into_iter()
        .filter(|version| version.line == image.version)
        .max())
}

/// The SBOM among `listed` for `platform` (the only one when none is
/// named and there is one).
fn choose<'a>(
    listed: &'a [Referrer],
    platform: Option<&str>,
    id: &str,
    reference: &crate::reference::Reference,
) -> Result<&'a Referrer, Failure> {
    let sboms = cyclonedx(listed);
    let platform_of = |referrer: &Referrer| {
        referrer
            .annotations
            .get(sbom::PLATFORM_ANNOTATION)
            .cloned()
            .unwrap_or_default()
    };
    let matching: Vec<&Referrer> = match platform {
        Some(wanted) => sboms
            .iter()
            .copied()
            .filter(|referrer| platform_of(referrer) == wanted)
            .collect(),
        None => sboms.clone(),
    };
    match matching.as_slice() {
        [one] => Ok(one),
        [] if sboms.is_empty() => Err(Failure::new(
            Exit::ImageFailed,
            anyhow::Error::new(Hinted::new(
                format!("no SBOM is attached to `{reference}`"),
                format!("it was built before golden attached SBOMs, or with `sbom = false`: `golden rebuild {id}` makes a build with one"),
            )),
        )),
        _ => {
            let platforms: Vec<String> = sboms.iter().map(|referrer| platform_of(referrer)).collect();
            Err(Failure::usage(anyhow::Error::new(Hinted::new(
                match platform {
                    Some(wanted) => format!("`{reference}` has no SBOM for `{wanted}`"),
                    None => format!("`{reference}` has one SBOM per platform"),
                },
                format!("name one with --platform: {}", platforms.join(", ")),
            ))))
        }
    }
}

/// The CycloneDX SBOMs among `listed`: golden's own when there are any
/// (another tool may have attached its own beside them).
fn cyclonedx(listed: &[Referrer]) -> Vec<&Referrer> {
    let sboms: Vec<&Referrer> = listed
        .iter()
        .filter(|referrer| referrer.artifact_type.as_deref() == Some(sbom::CYCLONEDX_JSON))
        .collect();
    let ours: Vec<&Referrer> = sboms
        .iter()
        .copied()
        .filter(|referrer| {
            referrer
                .annotations
                .contains_key(referrers::IMAGE_ANNOTATION)
        })
        .collect();
    if ours.is_empty() {
        sboms
    } else {
        ours
    }
}

fn human(reference: &str, digest: &Digest, chosen: &Referrer, entries: &[sbom::Entry]) -> String {
    let platform = chosen
        .annotations
        .get(sbom::PLATFORM_ANNOTATION)
        .map_or_else(String::new, |platform| format!(", {platform}"));
    let mut page = format!(
        "{reference} ({digest}{platform})\nSBOM {} (CycloneDX): {} components; --output json prints the document\n\n",
        chosen.digest,
        entries.len()
    );
    let width =
        |pick: fn(&sbom::Entry) -> &str| entries.iter().map(|e| pick(e).len()).max().unwrap_or(0);
    let (kind, name) = (width(|e| &e.kind).max(4), width(|e| &e.name).max(4));
    page.push_str(&format!("{:kind$}  {:name$}  VERSION\n", "TYPE", "NAME"));
    for entry in entries {
        page.push_str(&format!(
            "{:kind$}  {:name$}  {}\n",
            entry.kind, entry.name, entry.version
        ));
    }
    page
}
