//! The paths golden.toml names (contexts, Dockerfiles, the registry's CA
//! file): whether each is what it must be, found by `stat` alone.

use std::path::Path;

use super::Reader;
use crate::files::{Files, Stat};

/// What a path named in the config must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum PathKind {
    File,
    Directory,
}

/// Why `path` is not a `kind`, as `(what is wrong, caret label)`; `None`
/// when it is one. Only `stat`s the path: opening a FIFO blocks until a
/// writer comes, and a device never ends.
pub(super) fn path_problem(
    files: &dyn Files,
    path: &Path,
    kind: PathKind,
) -> Option<(String, &'static str)> {
    let found = match (files.stat(path), kind) {
        (Stat::File { .. }, PathKind::File) | (Stat::Directory, PathKind::Directory) => {
            return None
        }
        (Stat::SymlinkLoop, _) => return Some(("is a symlink loop".into(), "symlink loop")),
        (Stat::Missing, PathKind::File) => return Some(("does not exist".into(), "no such file")),
        (Stat::Missing, PathKind::Directory) => {
            return Some(("does not exist".into(), "no such directory"))
        }
        (Stat::Unreadable(error), _) => {
            return Some((format!("cannot be read: {error}"), "unreadable"))
        }
        (Stat::File { .. }, _) => "a regular file",
        (Stat::Directory, _) => "a directory",
        (Stat::Other { kind }, _) => kind,
    };
    Some(match kind {
        PathKind::File => (
            format!("is not a regular file (it is {found})"),
            "not a regular file",
        ),
        PathKind::Directory => (
            format!("is not a directory (it is {found})"),
            "not a directory",
        ),
    })
}

impl Reader<'_> {
    /// [`path_problem`] of an image's context or Dockerfile, remembering
    /// the paths that had none.
    pub(super) fn image_path_problem(
        &mut self,
        path: &Path,
        kind: PathKind,
    ) -> Option<(String, &'static str)> {
        let key = (path.to_path_buf(), kind);
        if self.found.contains(&key) {
            return None;
        }
        let problem = path_problem(self.files, path, kind);
        if problem.is_none() {
            self.found.insert(key);
        }
        problem
    }
}
