//! The build context as the engine gets it: a tar of the listed entries,
//! written one file at a time to any `io::Write` (never held in memory) and
//! hashed as it is written, with the Dockerfile as its last entry.
//!
//! The engine's classic builder reads the whole tar before it reads the
//! Dockerfile, so the Dockerfile golden sends can wait until every other
//! byte is sent: its `LABEL` step then carries the recipe of exactly those
//! bytes. A build reads its context once, here, unless the plan compared
//! recipes (a line built before, not forced: observe hashed it first), and the recipe label
//! never names a context the engine did not get: when the context changed
//! since observe hashed it, the image is labelled with what was sent, and
//! the next run compares the context with that.
//!
//! When the build's sources are known (see `dockerfile::context_sources`)
//! only they are sent; every entry is hashed all the same, so the recipe
//! is the whole context's whichever entries went.
//!
//! A Dockerfile that cannot carry a `LABEL` line (its last instruction ends
//! in a line continuation) sends its labels through the build API, before
//! the tar: its recipe is hashed first, and a context that changes before
//! the tar is through fails the build instead of being labelled with a
//! recipe it does not have.
//!
//! Synchronous file I/O only: callers run it on a blocking thread.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::context::{
    content_digest, is_executable, open_regular, recipe, ContextError, ContextHash, Entry, Kind,
    Recipe, RecipeInputs,
};
use golden_core::engine::BuildRequest;

/// The mtime of every entry: what `tar::HeaderMode::Deterministic` sets.
const FIXED_MTIME: u64 = 1153704088;
/// Bytes read from a file at once.
const READ_SIZE: usize = 256 * 1024;
const BLOCK: u64 = 512;

/// One build's context, ready to be sent.
pub struct Upload {
    context: PathBuf,
    entries: Vec<Entry>,
    /// The Dockerfile's path inside the context.
    dockerfile: String,
    /// The Dockerfile to send (base pinned), before golden's labels.
    content: String,
    /// Every label but the recipe's.
    labels: BTreeMap<String, String>,
    build_args: BTreeMap<String, String>,
    configured_labels: BTreeMap<String, String>,
    /// The secrets' sources the recipe covers (see `RecipeInputs`).
    recipe_secrets: BTreeMap<String, String>,
    /// The recipe hashed before the build, if it was.
    observed: Option<Recipe>,
    /// The paths the build reads; `None`: all of them.
    sources: Option<Vec<String>>,
}

impl Upload {
    /// The upload of `request`'s context.
    pub fn of(request: &BuildRequest) -> Upload {
        Upload {
            context: request.context.clone(),
            entries: request.entries.clone(),
            dockerfile: request.dockerfile.clone(),
            content: request.dockerfile_content.clone(),
            labels: request.labels.clone(),
            build_args: request.build_args.clone(),
            configured_labels: request.configured_labels.clone(),
            recipe_secrets: request.recipe_secrets.clone(),
            observed: request.observed_recipe.clone(),
            sources: request
                .sources
                .clone()
                .filter(|sources| !through_symlink(&request.entries, sources)),
        }
    }

    fn inputs(&self) -> RecipeInputs<'_> {
        RecipeInputs {
            dockerfile: &self.dockerfile,
            build_args: &self.build_args,
            labels: &self.configured_labels,
            secrets: &self.recipe_secrets,
        }
    }

    /// Whether the labels go into the Dockerfile, the tar's last entry.
    fn labels_in_dockerfile(&self) -> bool {
        crate::dockerfile::takes_labels(&self.content)
    }

    /// Whether the recipe must be hashed before the tar is sent (see
    /// [`Upload::hash_first`]): its labels go through the build API and
    /// observe did not hash it.
    pub fn needs_recipe_first(&self) -> bool {
        !self.labels_in_dockerfile() && self.observed.is_none()
    }

    /// Hashes the context as it is now, for labels sent before the tar.
    /// Blocking: it reads the whole context.
    pub fn hash_first(&mut self) -> Result<(), ContextError> {
        let hashed = recipe(&self.context, &self.entries, &self.inputs())?;
        self.observed = Some(hashed);
        Ok(())
    }

    /// The labels the build API carries, since a Dockerfile line cannot:
    /// a key or value with a control character, or every label (the
    /// recipe's, hashed first, among them) when the Dockerfile cannot
    /// carry a `LABEL` line.
    pub fn api_labels(&self) -> BTreeMap<String, String> {
        if self.labels_in_dockerfile() {
            return crate::dockerfile::with_labels(&self.content, &self.labels).1;
        }
        let mut labels = self.labels.clone();
        if let Some(observed) = &self.observed {
            crate::labels::set_recipe(&mut labels, &observed.digest, &observed.parts.label());
        }
        labels
    }

    /// Whether the entry at `path` is sent: with known sources, a source,
    /// a directory above one (so the engine sees it as it is) or anything
    /// under one.
    fn sends(&self, path: &str) -> bool {
        let Some(sources) = &self.sources else {
            return true;
        };
        sources.iter().any(|source| {
            let below = |outer: &str, inner: &str| {
                inner
                    .strip_prefix(outer)
                    .is_some_and(|rest| rest.starts_with('/'))
            };
            path == source || below(source, path) || below(path, source)
        })
    }

    /// Writes the tar to `writer`: every entry but the Dockerfile in the
    /// listing's order (those the build reads, when the sources are known),
    /// hashed as it goes, entries not sent hashed from disk all the same,
    /// then the Dockerfile with the labels and the recipe of the whole
    /// context. Returns the writer and that recipe.
    pub fn write<W: Write>(&self, writer: W) -> Result<(W, Recipe), ContextError> {
        let started = std::time::Instant::now();
        let mut builder = tar::Builder::new(writer);
        builder.mode(tar::HeaderMode::Deterministic);
        builder.follow_symlinks(false);
        let mut hash = ContextHash::new(&self.dockerfile);
        let mut buffer = vec![0u8; READ_SIZE];
        let (mut bytes, mut sent_entries) = (0u64, 0usize);
        for entry in &self.entries {
            let path = self.context.join(&entry.path);
            let read = |source| ContextError::Read {
                path: path.clone(),
                source,
            };
            if entry.path == self.dockerfile || !self.sends(&entry.path) {
                // The Dockerfile is recorded as it is on disk, where it
                // sorts, and sent last; what the build does not read is
                // recorded as observe would, and not sent.
                record_unsent(&mut hash, entry, &path, &mut buffer)?;
                continue;
            }
            sent_entries += 1;
            match &entry.kind {
                Kind::File { .. } => {
                    let file = open_regular(&path).map_err(read)?;
                    let metadata = file.metadata().map_err(read)?;
                    let content = append_file(
                        &mut builder,
                        &entry.path,
                        &path,
                        file,
                        &metadata,
                        &mut buffer,
                    )?;
                    bytes += metadata.len();
                    let sent = Entry {
                        path: entry.path.clone(),
                        kind: Kind::File {
                            executable: is_executable(&metadata),
                        },
                    };
                    hash.record(&sent, &content);
                }
                kind => {
                    append_described(&mut builder, &entry.path, kind)?;
                    hash.record(entry, "");
                }
            }
        }
        let sent = hash.finish(&self.inputs());
        let dockerfile = self.dockerfile_for(&sent)?;
        let mut header = header(tar::EntryType::Regular, 0o644);
        header.set_size(dockerfile.len() as u64);
        builder
            .append_data(&mut header, &self.dockerfile, dockerfile.as_bytes())
            .map_err(ContextError::Write)?;
        let writer = builder.into_inner().map_err(ContextError::Write)?;
        tracing::debug!(
            context = %self.context.display(),
            entries = self.entries.len(),
            sent_entries,
            bytes,
            recipe = %sent.digest,
            seconds = started.elapsed().as_secs_f64(),
            "sent the build context"
        );
        Ok((writer, sent))
    }

    /// The Dockerfile to send once the context was sent as `sent`.
    fn dockerfile_for(&self, sent: &Recipe) -> Result<String, ContextError> {
        if !self.labels_in_dockerfile() {
            // Its labels went first: they hold only if nothing changed.
            return match &self.observed {
                Some(observed) if observed.digest == sent.digest => Ok(self.content.clone()),
                observed => Err(ContextError::Changed {
                    observed: observed
                        .as_ref()
                        .map_or("not hashed", |o| o.digest.as_str())
                        .to_string(),
                    sent: sent.digest.clone(),
                }),
            };
        }
        if let Some(observed) = self.observed.as_ref().filter(|o| o.digest != sent.digest) {
            tracing::warn!(
                context = %self.context.display(),
                "the build context changed since golden hashed it ({} then, {} as sent): the image is labelled with what was sent, and the next run compares the context with that",
                observed.digest,
                sent.digest
            );
        }
        let mut labels = self.labels.clone();
        crate::labels::set_recipe(&mut labels, &sent.digest, &sent.parts.label());
        Ok(crate::dockerfile::with_labels(&self.content, &labels).0)
    }
}

/// Whether a source is a symlink or under one: the engine follows it to
/// its target, which may be anywhere in the context, so all of it is sent.
/// (A symlink under a source directory is copied as the link itself.)
fn through_symlink(entries: &[Entry], sources: &[String]) -> bool {
    entries
        .iter()
        .filter(|entry| matches!(entry.kind, Kind::Symlink { .. }))
        .any(|link| {
            sources.iter().any(|source| {
                source == &link.path
                    || source
                        .strip_prefix(link.path.as_str())
                        .is_some_and(|rest| rest.starts_with('/'))
            })
        })
}

/// Records an entry that is not sent as it is (the Dockerfile) or not at
/// all (the build does not read it): a file by its content on disk, like
/// observe's hash; anything else by its listed kind, unread.
fn record_unsent(
    hash: &mut ContextHash,
    entry: &Entry,
    path: &Path,
    buffer: &mut [u8],
) -> Result<(), ContextError> {
    let Kind::File { .. } = entry.kind else {
        hash.record(entry, "");
        return Ok(());
    };
    let read = |source| ContextError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut file = open_regular(path).map_err(read)?;
    let metadata = file.metadata().map_err(read)?;
    let content = content_digest(&mut file, buffer).map_err(read)?;
    let recorded = Entry {
        path: entry.path.clone(),
        kind: Kind::File {
            executable: is_executable(&metadata),
        },
    };
    hash.record(&recorded, &content);
    Ok(())
}

/// Appends the regular file `file` (its `metadata` as opened) as `name`:
/// the header, then exactly the size it states, read through `buffer` and
/// hashed on the way. Returns the sha256 (hex) of the bytes sent. A file
/// that got shorter since it was opened is an error (the tar would be
/// broken); one that grew is sent as long as it was.
fn append_file<W: Write>(
    builder: &mut tar::Builder<W>,
    name: &str,
    path: &Path,
    mut file: std::fs::File,
    metadata: &std::fs::Metadata,
    buffer: &mut [u8],
) -> Result<String, ContextError> {
    let read = |source| ContextError::Read {
        path: path.to_path_buf(),
        source,
    };
    let size = metadata.len();
    let mut header = tar::Header::new_gnu();
    header.set_metadata_in_mode(metadata, tar::HeaderMode::Deterministic);
    // The header (with the extra entry of a long name) goes through the
    // builder with no data; the data follows it here, read in large pieces
    // rather than the builder's 8 KiB copies.
    builder
        .append_data(&mut header, name, io::empty())
        .map_err(ContextError::Write)?;
    let out = builder.get_mut();
    let mut content = Sha256::new();
    let mut remaining = size;
    while remaining > 0 {
        let want = buffer
            .len()
            .min(usize::try_from(remaining).unwrap_or(usize::MAX));
        let count = match file.read(&mut buffer[..want]) {
            Ok(0) => return Err(read(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "it got shorter while golden sent it (it changed after golden listed the context)",
            ))),
            Ok(count) => count,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(read(error)),
        };
        content.update(&buffer[..count]);
        out.write_all(&buffer[..count])
            .map_err(ContextError::Write)?;
        remaining -= count as u64;
    }
    let tail = size % BLOCK;
    if tail != 0 {
        out.write_all(&[0u8; BLOCK as usize][..(BLOCK - tail) as usize])
            .map_err(ContextError::Write)?;
    }
    Ok(format!("{:x}", content.finalize()))
}

/// Appends an entry that is not a regular file, from its listed kind
/// alone (nothing is read, so what is sent is what the recipe records):
/// the same headers `tar::HeaderMode::Deterministic` writes from the
/// file's metadata.
fn append_described<W: Write>(
    builder: &mut tar::Builder<W>,
    name: &str,
    kind: &Kind,
) -> Result<(), ContextError> {
    let result = match kind {
        Kind::Directory => {
            let mut header = header(tar::EntryType::Directory, 0o755);
            zero_device(&mut header)?;
            builder.append_data(&mut header, name, io::empty())
        }
        Kind::Symlink { target } => {
            let mut header = header(tar::EntryType::Symlink, 0o755);
            zero_device(&mut header)?;
            builder.append_link(&mut header, name, target)
        }
        Kind::Fifo => {
            let mut header = header(tar::EntryType::Fifo, 0o644);
            builder.append_data(&mut header, name, io::empty())
        }
        Kind::CharDevice { major, minor } | Kind::BlockDevice { major, minor } => {
            let entry_type = match kind {
                Kind::BlockDevice { .. } => tar::EntryType::Block,
                _ => tar::EntryType::Char,
            };
            let mut header = header(entry_type, 0o644);
            header
                .set_device_major(*major)
                .and_then(|()| header.set_device_minor(*minor))
                .map_err(ContextError::Write)?;
            builder.append_data(&mut header, name, io::empty())
        }
        Kind::File { .. } => Err(io::Error::other(
            "a regular file is appended with its content",
        )),
    };
    result.map_err(ContextError::Write)
}

/// A deterministic header of `entry_type` with no content yet.
fn header(entry_type: tar::EntryType, mode: u32) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(entry_type);
    header.set_mode(mode);
    header.set_mtime(FIXED_MTIME);
    header.set_uid(0);
    header.set_gid(0);
    header.set_size(0);
    header
}

/// Device numbers written as zeros, as a header filled from metadata has.
fn zero_device(header: &mut tar::Header) -> Result<(), ContextError> {
    header
        .set_device_major(0)
        .and_then(|()| header.set_device_minor(0))
        .map_err(ContextError::Write)
}

#[cfg(test)]
mod tests;
