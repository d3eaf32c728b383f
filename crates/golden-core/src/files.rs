//! The files a config names, seen through a port: the core never opens a
//! path or reads the environment itself. The binary hands in the real
//! [`Files`] (stat without opening, reads of regular files only, up to a
//! limit); tests hand in a map.

use std::ffi::OsString;
use std::io;
use std::path::Path;

/// The largest golden.toml or Dockerfile read: text a person writes.
pub const MAX_TEXT: u64 = 16 * 1024 * 1024;

/// The largest secret read from a file (a password, a webhook URL).
pub const MAX_SECRET: u64 = 64 * 1024;

/// What the core may learn of the machine: what is at a path, the text of
/// a regular file, an environment variable.
pub trait Files: Sync {
    /// What is at `path`, symlinks followed, without opening it: opening
    /// a FIFO blocks until a writer comes, and a device never ends.
    fn stat(&self, path: &Path) -> Stat;

    /// The UTF-8 text of the regular file at `path` (symlinks followed),
    /// at most `limit` bytes; anything else is refused unopened.
    fn read_text(&self, path: &Path, limit: u64) -> Result<String, RegularFileError>;

    /// The environment variable `name`, when set.
    fn env(&self, name: &str) -> Option<OsString>;
}

/// What a [`Files::stat`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stat {
    /// A regular file, with its permission bits.
    File {
        mode: u32,
    },
    Directory,
    /// Anything else: "a FIFO", "a character device", ...
    Other {
        kind: &'static str,
    },
    Missing,
    SymlinkLoop,
    /// The stat itself failed: the error's text.
    Unreadable(String),
}

/// Why a file was not read. Each message completes "`PATH` ...".
#[derive(Debug, thiserror::Error)]
pub enum RegularFileError {
    #[error("does not exist")]
    Missing,
    #[error("is a symlink loop")]
    SymlinkLoop,
    #[error("is a symlink, which golden does not follow here")]
    Symlink,
    #[error("is not a regular file (it is {kind})")]
    NotRegular { kind: &'static str },
    #[error("is larger than {limit} bytes, more than such a file ever holds")]
    TooLarge { limit: u64 },
    #[error("is not UTF-8 text")]
    NotUtf8,
    #[error("was replaced while golden opened it")]
    Replaced,
    #[error("cannot be read: {0}")]
    Io(#[source] io::Error),
}

impl RegularFileError {
    /// A short label for a caret under the path in a config diagnostic.
    pub fn label(&self) -> &'static str {
        match self {
            RegularFileError::Missing => "no such file",
            RegularFileError::SymlinkLoop => "symlink loop",
            RegularFileError::Symlink => "a symlink",
            RegularFileError::NotRegular { .. } => "not a regular file",
            RegularFileError::TooLarge { .. } => "too large",
            RegularFileError::NotUtf8 => "not UTF-8",
            RegularFileError::Replaced => "replaced",
            RegularFileError::Io(_) => "unreadable",
        }
    }
}
