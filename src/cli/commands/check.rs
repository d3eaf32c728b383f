//! `golden check PATH...`: whether application Dockerfiles start FROM
//! golden images; 1 when any breaks the policy, else 0. With
//! `--verify-digests`, the golden images named by digest are looked up in
//! the registry (see [`published`]).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use crate::check::Published;
use crate::cli::CheckOutput;
use crate::exit::{Exit, Failure};
use crate::hint::Hinted;
use crate::history::Inventory;
use crate::name::Repository;
use crate::registry::Registry;
use crate::session::Session;

pub(super) async fn run(
    session: &Session,
    paths: &[PathBuf],
    build_args: BTreeMap<String, String>,
    output: CheckOutput,
    verify_digests: bool,
) -> Result<Exit, Failure> {
    let files = find_dockerfiles(paths).map_err(|error| Failure::usage(anyhow::anyhow!(error)))?;
    if files.is_empty() {
        return Err(Failure::usage(Hinted::new(
            "no Dockerfile found in the paths given",
            "name Dockerfiles, or directories holding Dockerfile, *.Dockerfile, Dockerfile.* or Containerfile",
        )));
    }
    let mut findings = Vec::new();
    let mut pins = Vec::new();
    for file in &files {
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
            &build_args,
        ));
        if verify_digests {
            pins.extend(crate::check::digest_pins(
                &session.project.config,
                file,
                &text,
                &build_args,
            ));
        }
    }
    if !pins.is_empty() {
        let registry = session.connect_registry(session.credentials()?).await?;
        let repositories: BTreeSet<String> =
            pins.iter().map(|pin| pin.reference.repository()).collect();
        let mut known = BTreeMap::new();
        for repository in repositories {
            let found = published(session, &registry, &repository).await?;
            known.insert(repository, found);
        }
        findings.extend(crate::check::check_pins(&pins, &known));
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
