//! `golden init [DIR]`: writes a first golden.toml in DIR from the
//! Dockerfiles under it (see `golden_core::scaffold`), then checks it as
//! `golden validate` does. It never overwrites a golden.toml unless told.

use std::path::{Path, PathBuf};

use crate::exit::{Exit, Failure};
use crate::hint::Hinted;
use crate::scaffold::{golden_toml, Found};

/// Directories never searched: not build contexts.
const SKIPPED: &[&str] = &[".git", "target", "node_modules", ".venv", "vendor"];
/// How deep Dockerfiles are looked for.
const MAX_DEPTH: usize = 5;

pub fn run(directory: &Path, host: &str, namespace: &str, force: bool) -> Result<Exit, Failure> {
    let config = directory.join("golden.toml");
    if config.exists() && !force {
        return Err(Failure::usage(anyhow::Error::new(Hinted::new(
            format!("`{}` exists already", config.display()),
            "edit it, or run `golden init --force` to replace it",
        ))));
    }
    let found = dockerfiles(directory);
    if found.is_empty() {
        return Err(Failure::usage(anyhow::Error::new(Hinted::new(
            format!(
                "no Dockerfile or Containerfile under `{}` (searched {MAX_DEPTH} levels deep)",
                directory.display()
            ),
            "run it in the repository of your golden images, or name it: `golden init images/`",
        ))));
    }
    let text = golden_toml(&found, host, namespace);
    // Without --force, one written meanwhile is not replaced either.
    let mut options = std::fs::OpenOptions::new();
    match force {
        true => options.write(true).create(true).truncate(true),
        false => options.write(true).create_new(true),
    };
    let written = options
        .open(&config)
        .and_then(|mut file| std::io::Write::write_all(&mut file, text.as_bytes()));
    written.map_err(|error| {
        Failure::usage(
            anyhow::Error::new(error).context(format!("failed to write `{}`", config.display())),
        )
    })?;
    let ids: Vec<String> = text
        .lines()
        .filter_map(|line| line.strip_prefix("[images.")?.strip_suffix(']'))
        .map(str::to_string)
        .collect();
    crate::ui::output::stdout(&format!(
        "wrote {} with {} image(s): {}\n",
        config.display(),
        ids.len(),
        ids.join(", ")
    ));
    // As `validate` reads it: located errors, exit 2.
    crate::load::project(&config).map_err(|error| {
        crate::ui::output::stderr_line(&format!(
            "{} was written; fix what follows in it, then run `golden validate`:",
            config.display()
        ));
        Failure::usage(anyhow::Error::new(error))
    })?;
    crate::ui::output::stdout(&format!(
        "{}: valid. Next: set each line's `version`, then `golden plan`.\n",
        config.display()
    ));
    Ok(Exit::Success)
}

/// Every Dockerfile and Containerfile under `root`, in path order.
fn dockerfiles(root: &Path) -> Vec<Found> {
    let mut found: Vec<(PathBuf, String)> = walkdir::WalkDir::new(root)
        .max_depth(MAX_DEPTH)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|entry| {
            entry.depth() == 0
                || !(entry.file_type().is_dir()
                    && SKIPPED.contains(&entry.file_name().to_string_lossy().as_ref()))
        })
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_file())
        .filter_map(|entry| {
            let name = entry.file_name().to_str()?.to_string();
            matches!(name.as_str(), "Dockerfile" | "Containerfile").then(|| {
                let directory = entry
                    .path()
                    .parent()
                    .and_then(|parent| parent.strip_prefix(root).ok())
                    .map(Path::to_path_buf)
                    .unwrap_or_default();
                (directory, name)
            })
        })
        .collect();
    found.sort();
    found
        .into_iter()
        .map(|(directory, file)| Found {
            directory: directory
                .components()
                .map(|part| part.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/"),
            file,
        })
        .collect()
}
