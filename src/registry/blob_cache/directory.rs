//! Whether a cache directory is safely the user's, and making it so where
//! golden creates it: the check behind [`super::BlobCache::from_env`].
//! Only looks at and creates directories; never reads or writes a file.

use std::fs;
use std::path::{Path, PathBuf};

use super::DIRECTORIES;

/// Why a cache directory is not used: someone else could change it.
#[derive(Debug, thiserror::Error)]
pub enum UnsafeDirectory {
    #[error("`{path}` belongs to another user (uid {owner})")]
    Owner { path: PathBuf, owner: u32 },
    #[error("`{path}` is writable by group or others (mode {mode:o})")]
    Writable { path: PathBuf, mode: u32 },
    #[error("`{path}` is not a directory (it is {kind})")]
    NotDirectory { path: PathBuf, kind: &'static str },
    #[error("`{path}` cannot be used: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{path}` has a `..` component, which golden does not resolve for a cache directory")]
    ParentComponent { path: PathBuf },
}

/// What a directory is, as checked: a later look that finds another
/// directory at the path (removed and made again, by anyone) or the same
/// one with another owner or mode sees another identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    device: u64,
    inode: u64,
    owner: u32,
    mode: u32,
}

impl Identity {
    /// The identity of the directory at `path` itself (a symlink is not
    /// followed); `None` when nothing is there.
    #[cfg(unix)]
    pub fn of(path: &Path) -> Option<Identity> {
        use std::os::unix::fs::MetadataExt;
        let metadata = fs::symlink_metadata(path).ok()?;
        metadata.is_dir().then(|| Identity {
            device: metadata.dev(),
            inode: metadata.ino(),
            owner: metadata.uid(),
            mode: metadata.mode(),
        })
    }

    #[cfg(not(unix))]
    pub fn of(path: &Path) -> Option<Identity> {
        fs::symlink_metadata(path)
            .ok()?
            .is_dir()
            .then_some(Identity {
                device: 0,
                inode: 0,
                owner: 0,
                mode: 0,
            })
    }
}

/// Creates the one directory `directory` (its parent must exist) readable
/// by its owner only, and checks it is the user's alone; one already there
/// is checked as it is.
pub(super) fn create_last_level(directory: &Path) -> std::io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    match builder.create(directory) {
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        other => other,
    }?;
    check_directory(directory, true)
        .map_err(|problem| std::io::Error::new(std::io::ErrorKind::PermissionDenied, problem))
}

/// Creates `directory` and any missing parent readable by its owner only;
/// one already there is left as it is.
fn create_private_dir(directory: &Path) -> std::io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    match builder.create(directory) {
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        other => other,
    }
}

/// The cache root `dir`, made safe to use: created where missing (mode
/// 0700), with the directories under it. It, and each directory golden
/// creates under it, must be the running user's and writable by no one
/// else; each directory above it the user's or root's and not writable by
/// others unless sticky. Returns the path with symlinks resolved, which
/// the cache then uses, so a symlink above it cannot be turned later.
pub fn secure(dir: &Path) -> Result<PathBuf, UnsafeDirectory> {
    secure_with(dir, &DIRECTORIES)
}

/// [`secure`] with `directories` under the root instead of the cache's.
pub fn secure_with(dir: &Path, directories: &[&str]) -> Result<PathBuf, UnsafeDirectory> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| UnsafeDirectory::Io { path, source }
    };
    if dir
        .components()
        .any(|component| component == std::path::Component::ParentDir)
    {
        return Err(UnsafeDirectory::ParentComponent {
            path: dir.to_path_buf(),
        });
    }
    let existing = dir
        .ancestors()
        .find(|ancestor| fs::symlink_metadata(ancestor).is_ok())
        .unwrap_or(Path::new("/"));
    let mut resolved = fs::canonicalize(existing).map_err(io(existing))?;
    let above: Vec<PathBuf> = resolved.ancestors().map(Path::to_path_buf).collect();
    let root_exists = existing == dir;
    // From `/` down, so the warning names the highest level at fault.
    for (depth, path) in above.iter().enumerate().rev() {
        let strict = root_exists && depth == 0;
        check_directory(path, strict)?;
    }
    let missing = dir.strip_prefix(existing).unwrap_or(Path::new(""));
    let count = missing.components().count();
    for (index, component) in missing.components().enumerate() {
        resolved.push(component);
        create_private_dir(&resolved).map_err(io(&resolved))?;
        check_directory(&resolved, index + 1 == count)?;
    }
    for directory in directories {
        let path = resolved.join(directory);
        create_private_dir(&path).map_err(io(&path))?;
        check_directory(&path, true)?;
    }
    Ok(resolved)
}

/// Whether `path` is a directory (not a symlink) only the running user
/// (`strict`), or also root, can change.
#[cfg(unix)]
fn check_directory(path: &Path, strict: bool) -> Result<(), UnsafeDirectory> {
    use std::os::unix::fs::MetadataExt;
    let metadata = fs::symlink_metadata(path).map_err(|source| UnsafeDirectory::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if !metadata.is_dir() {
        return Err(UnsafeDirectory::NotDirectory {
            path: path.to_path_buf(),
            kind: crate::regular_file::kind_name(&metadata.file_type()),
        });
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let user = unsafe { libc::geteuid() };
    let owner = metadata.uid();
    if owner != user && (strict || owner != 0) {
        return Err(UnsafeDirectory::Owner {
            path: path.to_path_buf(),
            owner,
        });
    }
    let mode = metadata.mode() & 0o7777;
    let sticky = mode & 0o1000 != 0;
    if mode & 0o022 != 0 && (strict || !sticky) {
        return Err(UnsafeDirectory::Writable {
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_directory(_: &Path, _: bool) -> Result<(), UnsafeDirectory> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::blob_cache::{TAGS, TAG_LISTS};

    #[cfg(unix)]
    #[test]
    fn a_directory_others_can_write_is_not_used() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let home = tempfile::tempdir().unwrap();
        let root = home.path().join("cache/golden");
        // Made where missing, readable by the user only, every level.
        let secured = secure(&root).unwrap();
        assert_eq!(secured, fs::canonicalize(&root).unwrap());
        for level in ["", "manifests", "configs", TAGS, TAG_LISTS] {
            let mode = fs::metadata(root.join(level)).unwrap().mode() & 0o777;
            assert_eq!(mode, 0o700, "{level}");
        }
        assert!(secure(&root).is_ok());
        let writable = |path: &Path, mode: u32| {
            fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
        };
        for level in ["", "manifests", TAG_LISTS] {
            let path = root.join(level);
            writable(&path, 0o777);
            let refused = secure(&root).unwrap_err().to_string();
            assert!(
                refused.contains("is writable by group or others (mode 777)"),
                "{refused}"
            );
            writable(&path, 0o700);
        }
        // Above the cache root: group or others may write only if sticky.
        writable(&home.path().join("cache"), 0o777);
        assert!(secure(&root).is_err());
        writable(&home.path().join("cache"), 0o1777);
        assert!(secure(&root).is_ok());
        // A level that is a symlink is not followed.
        let elsewhere = home.path().join("elsewhere");
        fs::create_dir(&elsewhere).unwrap();
        fs::remove_dir(root.join(TAGS)).unwrap();
        std::os::unix::fs::symlink(&elsewhere, root.join(TAGS)).unwrap();
        let refused = secure(&root).unwrap_err().to_string();
        assert!(
            refused.contains("is not a directory (it is a symlink)"),
            "{refused}"
        );
    }
}
