//! The record of failing lines (see `golden_core::failing`) on disk: one
//! JSON file per registry namespace in golden's state directory,
//! `$STATE_DIRECTORY` (systemd's `StateDirectory=`), else
//! `$XDG_STATE_HOME/golden`, else `~/.local/state/golden`.
//!
//! A run reads it before observing (`load`) and writes it after building
//! (`record`), under the run's lock; `plan` reads it without. The
//! directory is used only when it is safely the user's (the blob cache's
//! rule); a file that cannot be read or parsed is warned about and taken
//! as empty, so the worst a lost record does is one more build. It is
//! replaced by renaming a new file into place, never written through.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::config::Config;
use crate::failing::{Backoff, Ended, Failing, Notice};
use crate::outcome::{Outcome, Status};
use crate::plan::{Reason, Step};
use crate::regular_file::Symlinks;

/// The largest record file read back.
const LIMIT: u64 = 16 * 1024 * 1024;
/// The file's format; another is taken as empty.
const FORMAT: u32 = 1;

#[derive(Debug, Default, Serialize, Deserialize)]
struct Document {
    format: u32,
    /// `<host>/<namespace>`, checked on reading.
    registry: String,
    lines: BTreeMap<String, Failing>,
}

/// The state directory, when there is one to use.
pub fn state_dir() -> Option<PathBuf> {
    let absolute = |value: std::ffi::OsString| {
        let path = PathBuf::from(value);
        path.is_absolute().then_some(path)
    };
    if let Some(first) = std::env::var_os("STATE_DIRECTORY")
        .and_then(|dirs| {
            dirs.to_str()
                .and_then(|d| d.split(':').next())
                .map(Into::into)
        })
        .and_then(absolute)
    {
        return Some(first);
    }
    if let Some(base) = std::env::var_os("XDG_STATE_HOME").and_then(absolute) {
        return Some(base.join("golden"));
    }
    std::env::var_os("HOME")
        .and_then(absolute)
        .map(|home| home.join(".local").join("state").join("golden"))
}

fn place(config: &Config) -> String {
    format!("{}/{}", config.registry.host, config.registry.namespace)
}

/// The record file of `config`'s namespace in the directory, made safe.
fn file(config: &Config) -> Option<PathBuf> {
    let dir = state_dir()?;
    match crate::registry::blob_cache::secure_with(&dir, &[]) {
        Ok(dir) => {
            let key = format!("{:x}", Sha256::digest(place(config).as_bytes()));
            Some(dir.join(format!("failing-{}.json", &key[..24])))
        }
        Err(problem) => {
            tracing::warn!(
                "not using the state directory `{}`: {problem}; failing lines are not remembered, so each run builds them again \
                 (hint: point XDG_STATE_HOME at a directory of your own that only you can write)",
                dir.display()
            );
            None
        }
    }
}

/// The failing lines of `config`'s namespace that it still configures.
/// Nothing is created: without the directory, no line is failing.
pub fn load(config: &Config) -> BTreeMap<String, Failing> {
    if !state_dir().is_some_and(|dir| dir.is_dir()) {
        return BTreeMap::new();
    }
    let Some(path) = file(config) else {
        return BTreeMap::new();
    };
    read(&path, config).unwrap_or_default()
}

fn read(path: &Path, config: &Config) -> Option<BTreeMap<String, Failing>> {
    let bytes = match crate::regular_file::read(path, LIMIT, Symlinks::Refuse) {
        Ok(bytes) => bytes,
        Err(crate::regular_file::RegularFileError::Missing) => return None,
        Err(error) => {
            tracing::warn!("ignoring the record of failing lines: {error}");
            return None;
        }
    };
    match serde_json::from_slice::<Document>(&bytes) {
        Ok(document) if document.format == FORMAT && document.registry == place(config) => {
            let mut lines = document.lines;
            lines.retain(|id, _| config.image(id).is_some());
            Some(lines)
        }
        Ok(_) => None,
        Err(error) => {
            tracing::warn!(
                "ignoring the record of failing lines `{}`: {error}",
                path.display()
            );
            None
        }
    }
}

fn write(path: &Path, config: &Config, lines: &BTreeMap<String, Failing>) -> std::io::Result<()> {
    let document = Document {
        format: FORMAT,
        registry: place(config),
        lines: lines.clone(),
    };
    let text = serde_json::to_vec_pretty(&document).map_err(std::io::Error::other)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let temporary = dir.join(format!(".failing-{:016x}.tmp", fastrand::u64(..)));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    let result = (|| {
        let mut out = options.open(&temporary)?;
        out.write_all(&text)?;
        out.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result
}

/// How each stepped line ended, for the records.
fn ended(
    steps: &[Step],
    outcomes: &[Outcome],
    inputs: &BTreeMap<String, Option<String>>,
) -> Vec<(String, Ended)> {
    let by_id: BTreeMap<&str, &Outcome> = outcomes.iter().map(|o| (o.id.as_str(), o)).collect();
    steps
        .iter()
        .filter_map(|step| {
            let outcome = by_id.get(step.id.as_str())?;
            let how = match outcome.status {
                Status::Built => Ended::Built,
                Status::Failed if outcome.broken => Ended::Broke {
                    inputs: inputs.get(&step.id).cloned().flatten(),
                    error: outcome.error.clone().unwrap_or_default(),
                },
                Status::Skipped if step.failing().is_some() => Ended::Held,
                Status::Skipped => match outcome.reasons.first() {
                    Some(Reason::ParentFailed { parent }) => Ended::ParentFailed {
                        parent: parent.clone(),
                    },
                    _ => Ended::Other,
                },
                _ => Ended::Other,
            };
            Some((step.id.clone(), how))
        })
        .collect()
}

/// Updates the record after a run and returns what notifications say of
/// each line. Lines are marked notified only once a message saying so is
/// delivered ([`said`]).
pub fn record(
    config: &Config,
    steps: &[Step],
    outcomes: &[Outcome],
    inputs: &BTreeMap<String, Option<String>>,
    now: DateTime<Utc>,
    backoff: &Backoff,
) -> BTreeMap<String, Notice> {
    // Read without creating anything: a run where nothing fails (or
    // recovers) leaves no directory behind, nor a warning where the home
    // is read-only.
    let mut lines = load(config);
    let before = lines.clone();
    let notices =
        crate::failing::after_run(&mut lines, &ended(steps, outcomes, inputs), now, backoff);
    if lines == before {
        return notices;
    }
    if let Some(path) = file(config) {
        if let Err(error) = write(&path, config, &lines) {
            tracing::warn!(
                "failed to write the record of failing lines `{}`: {error}; the next run builds them again",
                path.display()
            );
        }
    }
    notices
}

/// Marks the lines whose failure a delivered notification said at `now`
/// (notice `failing` or `still-failing`): they are quiet until `remind`
/// has passed. A message that was not delivered marks nothing, so the next
/// failure says it again.
pub fn said(config: &Config, notices: &BTreeMap<String, Notice>, now: DateTime<Utc>) {
    if !notices
        .values()
        .any(|notice| matches!(notice, Notice::Failing | Notice::StillFailing))
    {
        return;
    }
    let Some(path) = file(config) else {
        return;
    };
    let Some(mut lines) = read(&path, config) else {
        return;
    };
    crate::failing::notified(&mut lines, notices, now);
    if let Err(error) = write(&path, config, &lines) {
        tracing::warn!(
            "failed to write the record of failing lines `{}`: {error}; the next failure is notified again",
            path.display()
        );
    }
}
