//! Finding the config when no `-c/--config` names one: `golden.toml` in
//! the current directory, else in its parents, up to and including the
//! root of the git checkout it is in (a directory holding `.git`), else up
//! to the filesystem root. A config above the checkout belongs to another
//! project, so the search never crosses that boundary.
//!
//! It only looks at the file system; it reads no config.

use std::path::{Path, PathBuf};

use crate::config::DEFAULT_FILE;

/// No `golden.toml` in any directory searched.
#[derive(Debug, thiserror::Error)]
#[error(
    "no `{DEFAULT_FILE}` found in `{}` or its parents; looked for:\n{}\nhint: run golden in the directory of golden.toml or below it, or pass -c/--config PATH (or set GOLDEN_CONFIG)",
    start.display(),
    tried.iter().map(|path| format!("  {}", path.display())).collect::<Vec<_>>().join("\n")
)]
pub struct NotFound {
    /// Where the search started.
    pub start: PathBuf,
    /// Every absolute path looked at, nearest first.
    pub tried: Vec<PathBuf>,
}

/// The nearest `golden.toml` from `start` (absolute) upwards.
pub fn find_config(start: &Path) -> Result<PathBuf, NotFound> {
    let mut tried = Vec::new();
    for directory in start.ancestors() {
        let candidate = directory.join(DEFAULT_FILE);
        // Anything by that name is the nearest config, even a FIFO, a
        // directory or a dangling link: loading it says what is wrong,
        // where skipping it would silently use a config further up.
        if std::fs::symlink_metadata(&candidate).is_ok() {
            return Ok(candidate);
        }
        tried.push(candidate);
        if directory.join(".git").exists() {
            break;
        }
    }
    Err(NotFound {
        start: start.to_path_buf(),
        tried,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_config_wins_and_the_search_stops_at_the_checkout_root() {
        let root = tempfile::tempdir().unwrap();
        let outer = root.path().join("outer");
        let checkout = outer.join("checkout");
        let deep = checkout.join("a/b");
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::write(outer.join(DEFAULT_FILE), "").unwrap();
        std::fs::create_dir(checkout.join(".git")).unwrap();

        let missing = find_config(&deep).unwrap_err();
        assert_eq!(
            missing.tried,
            vec![
                deep.join(DEFAULT_FILE),
                checkout.join("a").join(DEFAULT_FILE),
                checkout.join(DEFAULT_FILE)
            ]
        );
        let message = missing.to_string();
        assert!(
            message.contains(&checkout.join(DEFAULT_FILE).display().to_string()),
            "{message}"
        );

        std::fs::write(checkout.join(DEFAULT_FILE), "").unwrap();
        assert_eq!(find_config(&deep).unwrap(), checkout.join(DEFAULT_FILE));
        std::fs::write(deep.join(DEFAULT_FILE), "").unwrap();
        assert_eq!(find_config(&deep).unwrap(), deep.join(DEFAULT_FILE));
    }

    #[test]
    fn a_golden_toml_that_is_not_a_regular_file_is_found_not_skipped() {
        let root = tempfile::tempdir().unwrap();
        let deep = root.path().join("a/b");
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::create_dir(root.path().join(".git")).unwrap();
        std::fs::write(root.path().join(DEFAULT_FILE), "").unwrap();
        let fifo = deep.join(DEFAULT_FILE);
        let name = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
        assert_eq!(find_config(&deep).unwrap(), fifo);
        std::fs::remove_file(&fifo).unwrap();
        std::os::unix::fs::symlink("missing.toml", &fifo).unwrap();
        assert_eq!(find_config(&deep).unwrap(), fifo);
    }

    #[test]
    fn outside_a_checkout_the_search_goes_up_to_the_root() {
        let root = tempfile::tempdir().unwrap();
        let deep = root.path().join("x/y");
        std::fs::create_dir_all(&deep).unwrap();
        match find_config(&deep) {
            Err(missing) => {
                assert_eq!(
                    missing.tried.last().unwrap(),
                    &Path::new("/").join(DEFAULT_FILE)
                );
            }
            // A golden.toml above the temporary directory is found, as it should be.
            Ok(found) => assert!(!found.starts_with(root.path())),
        }
    }
}
