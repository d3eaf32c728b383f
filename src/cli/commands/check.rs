//! `golden check PATH...`: whether application Dockerfiles start FROM
//! golden images; 1 when any breaks the policy, else 0. With
//! `--verify-digests`, the golden images named by digest are looked up in
//! the registry (see [`published`]).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use crate::check::{Pin, Published};
use crate::cli::CheckOutput;
use crate::exit::{Exit, Failure};
use crate::hint::Hinted;
use crate::history::Inventory;
use crate::name::Repository;
use crate::registry::Registry;
use crate::session::Session;

/// How `golden check` runs.
pub(super) struct Settings {
    pub build_args: BTreeMap<String, String>,
    pub output: CheckOutput,
    pub verify_digests: bool,
    pub verify_signatures: bool,
}

pub(super) async fn run(
    session: &Session,
    paths: &[PathBuf],
    settings: &Settings,
) -> Result<Exit, Failure> {
    let output = settings.output;
    // The key is read before anything else: a check that cannot verify
    // must not pass.
    let key = match settings.verify_signatures {
        true => Some(crate::keys::verifying_key(&session.project.config)?),
        false => None,
    };
    let files = find_dockerfiles(paths).map_err(|error| Failure::usage(anyhow::anyhow!(error)))?;
    if files.is_empty() {
        return Err(Failure::usage(Hinted::new(
            "no Dockerfile found in the paths given",
            "name Dockerfiles, or directories holding Dockerfile, *.Dockerfile, Dockerfile.* or Containerfile",
        )));
    }
    let (mut findings, pins, bases) = read_all(session, &files, settings)?;
    // One connection for both lookups, made only when one has work.
    let needs_registry = !pins.is_empty() || (key.is_some() && !bases.is_empty());
    if needs_registry {
        let registry = session.connect_registry(session.credentials()?).await?;
        if !pins.is_empty() {
            let repositories: BTreeSet<String> =
                pins.iter().map(|pin| pin.reference.repository()).collect();
            let mut known = BTreeMap::new();
            for repository in repositories {
                let found = published(session, &registry, &repository).await?;
                known.insert(repository, found);
            }
            findings.extend(crate::check::check_pins(&pins, &known));
        }
        if let Some(key) = &key {
            findings.extend(unsigned(&registry, &bases, key).await?);
        }
        findings.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
    }
    crate::ui::output::stdout(&match output {
        CheckOutput::Human => crate::check::render_text(&findings, files.len()),
        CheckOutput::Json => crate::check::render_json(&findings, files.len()),
        CheckOutput::Sarif => crate::check::render_sarif(&findings),
        CheckOutput::Github => crate::check::render_github(&findings, files.len()),
        CheckOutput::Codequality => crate::check::render_codequality(&findings),
    });
    Ok(if findings.is_empty() {
        Exit::Success
    } else {
        Exit::ImageFailed
    })
}

/// The findings of the files read, and the FROMs naming golden images to
/// look up: by digest (`--verify-digests`) and all (`--verify-signatures`).
type Read = (Vec<crate::check::Finding>, Vec<Pin>, Vec<Pin>);

/// See [`Read`].
fn read_all(session: &Session, files: &[PathBuf], settings: &Settings) -> Result<Read, Failure> {
    let build_args = &settings.build_args;
    let mut findings = Vec::new();
    let mut pins = Vec::new();
    let mut bases = Vec::new();
    for file in files {
        let text = crate::regular_file::read_text(file, crate::regular_file::MAX_TEXT).map_err(
            |problem| {
                Failure::usage(anyhow::anyhow!(
                    "failed to read `{}`: it {problem}",
                    file.display()
                ))
            },
        )?;
        findings.extend(crate::check::check_text(
            &session.project.config,
            file,
            &text,
            build_args,
        ));
        if settings.verify_digests {
            pins.extend(crate::check::digest_pins(
                &session.project.config,
                file,
                &text,
                build_args,
            ));
        }
        if settings.verify_signatures {
            bases.extend(crate::check::golden_froms(
                &session.project.config,
                file,
                &text,
                build_args,
                false,
            ));
        }
    }
    Ok((findings, pins, bases))
}

/// An `unsigned` finding for each FROM in `bases` whose golden image has no
/// signature that verifies with `key`.
async fn unsigned(
    registry: &dyn Registry,
    bases: &[crate::check::Pin],
    key: &crate::signing::VerifyingKey,
) -> Result<Vec<crate::check::Finding>, Failure> {
    let failed = |error| {
        Failure::registry(
            error,
            "failed to read the signatures of the golden images named",
        )
    };
    let mut findings = Vec::new();
    // Many Dockerfiles name the same image: each is looked up once.
    let mut said: BTreeMap<String, Option<String>> = BTreeMap::new();
    for base in bases {
        let reference = &base.reference;
        if let Some(why) = said.get(reference.original()) {
            if let Some(message) = why {
                findings.push(unsigned_finding(base, message.clone()));
            }
            continue;
        }
        let digest = match reference.digest() {
            Some(digest) => Some(digest.clone()),
            None => registry.manifest_digest(reference).await.map_err(failed)?,
        };
        let why = match &digest {
            None => Some(format!("`{}` is not in the registry", reference.original())),
            Some(digest) => {
                let verdict =
                    crate::signing::verify(registry, &reference.repository_name(), digest, key)
                        .await
                        .map_err(failed)?;
                match (verdict.verified, verdict.rejected.first()) {
                    (true, _) => None,
                    (false, Some(reason)) => Some(format!("`{}` ({digest}) has no signature that verifies with [signing]'s key: {reason}", reference.original())),
                    (false, None) => Some(format!("`{}` ({digest}) is not signed", reference.original())),
                }
            }
        };
        if let Some(message) = &why {
            findings.push(unsigned_finding(base, message.clone()));
        }
        said.insert(reference.original().to_string(), why);
    }
    Ok(findings)
}

/// The `unsigned` finding of the FROM `base`.
fn unsigned_finding(base: &Pin, message: String) -> crate::check::Finding {
    crate::check::Finding {
        file: base.file.clone(),
        uri: base.uri.clone(),
        line: base.line,
        column: base.column,
        rule: "unsigned",
        message,
        fix: "start FROM a signed golden build (`golden verify REF` says why this one is not); the platform team signs builds with [signing]".to_string(),
    }
}

/// What the golden repository `repository` (`host/path`) holds of the
/// configured lines: each exact build's digest and, for an index, the
/// digest of each platform's image in it.
async fn published(
    session: &Session,
    registry: &dyn Registry,
    repository: &str,
) -> Result<BTreeMap<String, Published>, Failure> {
    let config = &session.project.config;
    let failed = |error| {
        Failure::registry(
            error,
            &format!("failed to read the builds of `{repository}` to verify the digests named"),
        )
    };
    let name =
        Repository::parse(repository).map_err(|error| Failure::usage(anyhow::anyhow!(error)))?;
    let images: Vec<_> = config
        .images
        .iter()
        .filter(|image| config.repository(image) == name)
        .collect();
    let lines: Vec<_> = images.iter().map(|image| image.version).collect();
    // Every line of a repository shares its versioning: under `upstream`
    // an `X.Y.Z` tag is a floating tag, not a build.
    let versioning = images
        .first()
        .map(|image| image.versioning)
        .unwrap_or_default();
    let inventory = Inventory::read_some(registry, &name, |tag| {
        tag.parse::<crate::version::Exact>().is_ok_and(|version| {
            lines.contains(&version.line)
                && versioning.names(&version)
                && version.to_string() == tag
        })
    })
    .await
    .map_err(failed)?;
    let mut published = BTreeMap::new();
    for (tag, digest) in &inventory.tags {
        published.insert(
            digest.to_string(),
            Published::Build {
                version: tag.clone(),
            },
        );
        let Some(index) = registry.index(&name.digest(digest)).await.map_err(failed)? else {
            continue;
        };
        for platform in index.platforms() {
            if let Ok(entry) = index.select(&platform) {
                published
                    .entry(entry.digest.clone())
                    .or_insert_with(|| Published::PlatformImage {
                        version: tag.clone(),
                        platform: platform.to_string(),
                        index: digest.to_string(),
                    });
            }
        }
    }
    Ok(published)
}

/// Every Dockerfile among `paths`: files as given, directories searched for
/// `Dockerfile`, `*.Dockerfile`, `Dockerfile.*` and `Containerfile`.
fn find_dockerfiles(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut found = Vec::new();
    for path in paths {
        let metadata = match std::fs::metadata(path) {
            Ok(metadata) => metadata,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(format!("`{}` does not exist", path.display()));
            }
            Err(error) => return Err(format!("`{}` cannot be read: {error}", path.display())),
        };
        if metadata.is_file() {
            found.push(path.clone());
        } else if metadata.is_dir() {
            let walker = walkdir::WalkDir::new(path)
                .sort_by_file_name()
                .into_iter()
                .filter_entry(|entry| {
                    let name = entry.file_name().to_string_lossy();
                    entry.depth() == 0
                        || !(name.starts_with('.') || name == "node_modules" || name == "target")
                });
            for entry in walker.flatten() {
                let name = entry.file_name().to_string_lossy();
                let dockerfile = name == "Dockerfile"
                    || name == "Containerfile"
                    || name.ends_with(".Dockerfile")
                    || name.starts_with("Dockerfile.");
                if entry.file_type().is_file() && dockerfile {
                    found.push(entry.into_path());
                }
            }
        } else {
            // A device such as /dev/zero, or a FIFO: never opened.
            return Err(format!(
                "`{}` is not a regular file (it is {}); golden checks Dockerfiles, which are regular files",
                path.display(),
                crate::regular_file::kind_name(&metadata.file_type())
            ));
        }
    }
    Ok(found)
}
