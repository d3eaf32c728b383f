//! Loading a project from disk: golden.toml read as a regular file (never
//! blocking on a FIFO nor reading a device without end: the daemon reads
//! it again on every tick), then validated by the core over the real
//! [`Disk`].

use std::path::Path;

use crate::config::ConfigError;
use crate::project::Project;
use crate::regular_file::{Disk, Symlinks, MAX_TEXT};

/// Reads and validates `path` and the Dockerfiles it names.
pub fn project(path: &Path) -> Result<Project, ConfigError> {
    let bytes = crate::regular_file::read(path, MAX_TEXT, Symlinks::Follow).map_err(|problem| {
        ConfigError::Read {
            path: path.to_path_buf(),
            problem,
        }
    })?;
    Project::from_bytes(path, bytes, &Disk)
}

#[cfg(test)]
mod tests;
