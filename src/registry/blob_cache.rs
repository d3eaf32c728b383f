//! The on-disk cache of content-addressed registry objects: manifests
//! fetched by digest and image config blobs, kept under
//! `$XDG_CACHE_HOME/golden` (else `~/.cache/golden`) by digest. They are
//! immutable, so a cached one is never stale; tags are mutable and never
//! cached. Every read hashes the file again: one that does not match its
//! digest (a torn disk, an edit) is deleted and reported as a miss, so the
//! object is fetched again. Writes go to a temporary file renamed into
//! place, so runs sharing the directory never see half a file. The size is
//! bounded: past [`LIMIT`] bytes the oldest files are removed.
//!
//! Beside them it remembers which manifest digest each exact tag (`X.Y.N`)
//! resolved to (`tags/`): exact tags are immutable by contract, so a
//! repeated run need not ask again. That memory is not content-addressed,
//! so it is trusted less: each file names its tag in full (a file that
//! names another is discarded), it is forgotten [`TAG_TTL`] after the
//! registry last confirmed it, and the caller (`observe`) trusts it only
//! when the line's floating tags, asked of the registry every run, point
//! at the remembered digest; otherwise it asks the registry again.
//!
//! It also remembers each repository's tag list (`tag-lists/`), under the
//! same rules: a repeated run answers a line's tag list from memory only
//! when the line's floating tags, asked every run, confirm its remembered
//! newest build; a line the run would build or promote is observed again
//! from the registry before anything is pushed (`observe::observe_until`);
//! any write golden makes to a repository forgets its list.
//!
//! Every file starts with a line that names what it holds (a manifest's
//! media type, a memory's tag or repository) and a checksum of that line's
//! name and the rest of the file: a file whose checksum does not match is
//! deleted and is a miss, so nothing read back is trusted unchecked.
//!
//! The directory is used only when it is safely the user's: the cache root
//! and each directory golden creates under it owned by the user running
//! golden and writable by no one else, and every directory above it owned
//! by that user or root and not writable by group or others (unless
//! sticky, as `/tmp`). Otherwise golden warns once and runs without the
//! disk cache, so another user can never plant files or symlinks for
//! golden (as root) to read or to write through. Temporary files get
//! random names and are created with `O_EXCL | O_NOFOLLOW`.
//!
//! `--no-cache-dir` (or `GOLDEN_NO_CACHE_DIR=1`) turns it off: nothing is
//! read or written.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::SystemTime;

use crate::name::Digest;
use crate::regular_file::Symlinks;

mod directory;

use directory::create_last_level;
pub use directory::{secure, secure_with, Identity, UnsafeDirectory};

/// The largest file the cache reads back or writes: far above any
/// manifest, config or tag list.
const MAX_FILE: u64 = 64 * 1024 * 1024;

/// Bytes the cache may hold before its oldest files are removed (manifests
/// and configs are a few KiB each: this keeps about 100,000 of them).
pub const LIMIT: u64 = 256 * 1024 * 1024;

/// How long a remembered exact tag or tag list is trusted after the
/// registry last confirmed it: an exact tag pushed over by hand (which the
/// contract forbids), or one added or deleted without its floating tags
/// moving, is noticed within this time at the latest.
pub const TAG_TTL: std::time::Duration = std::time::Duration::from_secs(24 * 60 * 60);

/// Set by `--no-cache-dir` before any registry client is made.
static DISABLED: AtomicBool = AtomicBool::new(false);

/// Set when the checked cache root of this process was removed or
/// replaced while it ran: the disk cache stays off from then on.
static LOST: AtomicBool = AtomicBool::new(false);

/// Turns the cache off for this process (`--no-cache-dir`).
pub fn disable() {
    DISABLED.store(true, Ordering::Relaxed);
}

/// What a cached object is: the two live in their own directories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A manifest, stored as its media type and a checksum on one line,
    /// then its bytes.
    Manifest,
    /// An image config blob, stored as is.
    Config,
}

/// The directory of remembered exact tags: per tag, a file named by the
/// hash of the tag's full name, holding that name and a checksum, a
/// newline and the digest (see [`BlobCache::remembered_tag`]).
const TAGS: &str = "tags";

/// The directory of remembered tag lists: per repository, a file named by
/// the hash of the repository's full name, holding that name and then one
/// tag per line (see [`BlobCache::remembered_tag_list`]).
const TAG_LISTS: &str = "tag-lists";

impl Kind {
    fn directory(self) -> &'static str {
        match self {
            Kind::Manifest => "manifests",
            Kind::Config => "configs",
        }
    }
}

/// Every directory golden creates under the cache root.
const DIRECTORIES: [&str; 4] = ["manifests", "configs", TAGS, TAG_LISTS];

/// A cache directory.
#[derive(Debug)]
pub struct BlobCache {
    dir: PathBuf,
    limit: u64,
    /// The root as it was checked: every use makes sure it is still that
    /// directory, with that owner and mode.
    root: Option<Identity>,
    /// The root was found removed or replaced: nothing is read or written.
    lost: AtomicBool,
    /// Whether losing the root turns off the process's cache
    /// ([`BlobCache::from_env`]) rather than this value's alone.
    process_wide: bool,
    /// Bytes on disk, counted on the first write of the run.
    size: Mutex<Option<u64>>,
}

/// A truthy environment value (`1`, `true`, `yes`, `on`).
fn truthy(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "1" | "y" | "yes" | "t" | "true" | "on"
    )
}

/// The default directory: `$XDG_CACHE_HOME/golden`, else `$HOME/.cache/golden`.
pub fn default_dir() -> Option<PathBuf> {
    let absolute = |value: std::ffi::OsString| {
        let path = PathBuf::from(value);
        path.is_absolute().then_some(path)
    };
    if let Some(base) = std::env::var_os("XDG_CACHE_HOME").and_then(absolute) {
        return Some(base.join("golden"));
    }
    std::env::var_os("HOME")
        .and_then(absolute)
        .map(|home| home.join(".cache").join("golden"))
}

impl BlobCache {
    /// The cache of this process: `None` when turned off (`--no-cache-dir`,
    /// `GOLDEN_NO_CACHE_DIR`) or when there is no home to put it in.
    /// The directory is checked once per process: one that is not safely
    /// the user's is warned about once, and the run goes on without it.
    pub fn from_env() -> Option<BlobCache> {
        let off = std::env::var("GOLDEN_NO_CACHE_DIR").is_ok_and(|value| truthy(&value));
        if off || DISABLED.load(Ordering::Relaxed) || LOST.load(Ordering::Relaxed) {
            return None;
        }
        static CHECKED: OnceLock<Option<(PathBuf, Identity)>> = OnceLock::new();
        let checked = CHECKED.get_or_init(|| {
            let dir = default_dir()?;
            match secure(&dir) {
                Ok(dir) => Some((dir.clone(), Identity::of(&dir)?)),
                // No home to write in (a read-only root, HOME=/nonexistent)
                // is not a danger: the run goes on without, as before.
                Err(problem @ UnsafeDirectory::Io { .. }) => {
                    tracing::debug!(%problem, "no disk cache");
                    None
                }
                Err(problem) => {
                    tracing::warn!(
                        "not using the cache directory `{}`: {problem}; running without the disk cache \
                         (hint: point XDG_CACHE_HOME at a directory of your own that only you can write, \
                         or `chmod go-w` the one named if it is yours; --no-cache-dir silences this)",
                        dir.display()
                    );
                    None
                }
            }
        });
        let (dir, root) = checked.clone()?;
        let mut cache = BlobCache::at(dir, LIMIT);
        cache.root = Some(root);
        cache.process_wide = true;
        Some(cache)
    }

    /// A cache in `dir` holding at most about `limit` bytes, used as it
    /// is (see [`secure`] for a directory not known to be safe).
    /// The root must exist: golden never creates it after the check, and
    /// it is held to the identity it has now.
    pub fn at(dir: PathBuf, limit: u64) -> BlobCache {
        BlobCache {
            root: Identity::of(&dir),
            dir,
            limit,
            size: Mutex::new(None),
            lost: AtomicBool::new(false),
            process_wide: false,
        }
    }

    /// Whether the root is still the directory that was checked. One
    /// removed (perhaps made again by another user in a sticky `/tmp`),
    /// or whose owner or mode changed, turns the cache off with one
    /// warning: nothing is read from or written into it again.
    fn intact(&self) -> bool {
        if self.lost.load(Ordering::Relaxed) {
            return false;
        }
        let now = Identity::of(&self.dir);
        if now.is_some() && now == self.root {
            return true;
        }
        // Once per value, and once per process for the process's cache.
        let already = self.lost.swap(true, Ordering::Relaxed)
            || (self.process_wide && LOST.swap(true, Ordering::Relaxed));
        if !already {
            tracing::warn!(
                "the cache directory `{}` was removed or replaced while golden ran; running without the disk cache from now on",
                self.dir.display()
            );
        }
        false
    }

    /// Where the cache lives.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of `digest`; only sha256 ones are cached (the digest the
    /// bytes are checked against on read).
    fn path(&self, kind: Kind, digest: &Digest) -> Option<PathBuf> {
        let (algorithm, hex) = digest.as_str().split_once(':')?;
        let valid =
            algorithm == "sha256" && hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit());
        valid.then(|| self.dir.join(kind.directory()).join(hex))
    }

    /// The stored bytes of `digest` (for a manifest: media type and body),
    /// when present and intact. A file whose content does not hash to its
    /// digest is deleted.
    pub fn get(&self, kind: Kind, digest: &Digest) -> Option<(String, Vec<u8>)> {
        if !self.intact() {
            return None;
        }
        let path = self.path(kind, digest)?;
        let bytes = read_back(&path)?;
        let (media_type, bytes) = match kind {
            Kind::Config => (String::new(), bytes),
            // The media type is sent back when a tag moves: checked too.
            Kind::Manifest => match unseal(bytes) {
                Some(unsealed) => unsealed,
                None => return self.discard(&path, digest),
            },
        };
        if Digest::of(&bytes) != *digest {
            return self.discard(&path, digest);
        }
        Some((media_type, bytes))
    }

    /// The manifest digest the exact tag `name` (`host/path:tag`) resolved
    /// to when the registry last confirmed it, within [`TAG_TTL`].
    pub fn remembered_tag(&self, name: &str) -> Option<Digest> {
        let body = self.recall(TAGS, name)?;
        let digest = Digest::parse(body.trim_end()).ok();
        if digest.is_none() {
            self.forget(TAGS, name);
        }
        digest
    }

    /// Remembers that the exact tag `name` resolves to `digest` now (the
    /// registry just said so); a newer confirmation renews it.
    pub fn remember_tag(&self, name: &str, digest: &Digest) {
        self.record(TAGS, name, &format!("{digest}\n"));
    }

    /// Forgets what was remembered about the exact tag `name`.
    pub fn forget_tag(&self, name: &str) {
        self.forget(TAGS, name);
    }

    /// The tags the repository `name` (`host/path`) listed when the
    /// registry last said so, within [`TAG_TTL`].
    pub fn remembered_tag_list(&self, name: &str) -> Option<Vec<String>> {
        let body = self.recall(TAG_LISTS, name)?;
        Some(body.lines().map(str::to_string).collect())
    }

    /// Remembers the tags the repository `name` lists now. A list with a
    /// tag that cannot be one line is not remembered.
    pub fn remember_tag_list(&self, name: &str, tags: &[String]) {
        if tags.iter().any(|tag| tag.is_empty() || tag.contains('\n')) {
            self.forget(TAG_LISTS, name);
            return;
        }
        let mut body = String::with_capacity(tags.iter().map(|tag| tag.len() + 1).sum());
        for tag in tags {
            body.push_str(tag);
            body.push('\n');
        }
        self.record(TAG_LISTS, name, &body);
    }

    /// Forgets the tag list remembered for the repository `name`.
    pub fn forget_tag_list(&self, name: &str) {
        self.forget(TAG_LISTS, name);
    }

    /// What `directory` remembers under `name`: the file's content after
    /// its first line, which must be `name`, while the file is younger
    /// than [`TAG_TTL`]. A stale file, or one naming something else, is
    /// removed.
    fn recall(&self, directory: &str, name: &str) -> Option<String> {
        if !self.intact() {
            return None;
        }
        let path = self.memory_path(directory, name);
        let modified = fs::symlink_metadata(&path)
            .and_then(|m| m.modified())
            .ok()?;
        let fresh = SystemTime::now()
            .duration_since(modified)
            .is_ok_and(|age| age <= TAG_TTL);
        if !fresh {
            let _ = fs::remove_file(&path);
            return None;
        }
        let unsealed = unseal(read_back(&path)?)
            .and_then(|(named, body)| Some((named, String::from_utf8(body).ok()?)));
        match unsealed {
            Some((named, body)) if named == name => Some(body),
            _ => {
                tracing::warn!(path = %path.display(), "remembered file names something else or does not match its checksum; removed");
                let _ = fs::remove_file(&path);
                None
            }
        }
    }

    /// Remembers `body` under `name` in `directory`; the same content
    /// again renews the file in place (its age is the confirmation's).
    fn record(&self, directory: &str, name: &str, body: &str) {
        if name.contains('\n') || !self.intact() {
            return;
        }
        let path = self.memory_path(directory, name);
        let content = seal(name, body.as_bytes());
        if read_back(&path).is_some_and(|old| old == content) {
            let renewed = no_follow(fs::File::options().append(true))
                .open(&path)
                .and_then(|file| file.set_modified(SystemTime::now()));
            if renewed.is_ok() {
                return;
            }
        }
        if let Err(error) = self.write(&path, &content) {
            tracing::debug!(path = %path.display(), %error, "not remembered");
            return;
        }
        self.grew(content.len() as u64);
    }

    fn forget(&self, directory: &str, name: &str) {
        if self.intact() {
            let _ = fs::remove_file(self.memory_path(directory, name));
        }
    }

    /// The file remembering `name` in `directory`: named by the hash of
    /// the full name.
    fn memory_path(&self, directory: &str, name: &str) -> PathBuf {
        self.dir
            .join(directory)
            .join(Digest::of(name.as_bytes()).hex())
    }

    fn discard<T>(&self, path: &Path, digest: &Digest) -> Option<T> {
        tracing::warn!(path = %path.display(), %digest, "cached object does not match its digest; removed, fetching it again");
        let _ = fs::remove_file(path);
        None
    }

    /// Stores `bytes` under `digest` (with `media_type` for a manifest)
    /// when they hash to it. Failures only cost a fetch next time: they
    /// are logged, never returned.
    pub fn put(&self, kind: Kind, digest: &Digest, media_type: &str, bytes: &[u8]) {
        let Some(path) = self.path(kind, digest) else {
            return;
        };
        let too_large = bytes.len() as u64 > MAX_FILE / 2;
        if too_large || Digest::of(bytes) != *digest || media_type.contains('\n') || path.exists() {
            return;
        }
        let content = match kind {
            Kind::Manifest => seal(media_type, bytes),
            Kind::Config => bytes.to_vec(),
        };
        if let Err(error) = self.write(&path, &content) {
            tracing::debug!(path = %path.display(), %error, "not cached");
            return;
        }
        self.grew(content.len() as u64);
    }

    /// Writes `content` to a new temporary file beside `path` (a random
    /// name, created exclusively, never through a symlink), then renames
    /// it over `path`.
    /// Only the directory the file goes in is made where missing (one
    /// level under the root, checked as the user's alone); the root and
    /// anything above it never are.
    fn write(&self, path: &Path, content: &[u8]) -> std::io::Result<()> {
        if !self.intact() {
            return Err(std::io::Error::other(
                "the cache directory was removed or replaced",
            ));
        }
        let parent = path.parent().unwrap_or(&self.dir);
        if parent != self.dir {
            create_last_level(parent)?;
        }
        let (temporary, mut file) = create_temporary(parent)?;
        let written = file
            .write_all(content)
            .and_then(|()| fs::rename(&temporary, path));
        if written.is_err() {
            let _ = fs::remove_file(&temporary);
        }
        written
    }

    /// Counts `added` bytes and evicts the oldest files past the limit.
    fn grew(&self, added: u64) {
        let Ok(mut size) = self.size.lock() else {
            return;
        };
        let total = match *size {
            Some(total) => total + added,
            None => self.files().iter().map(|(_, _, len)| len).sum(),
        };
        *size = Some(if total > self.limit {
            self.evict(self.limit / 4 * 3)
        } else {
            total
        });
    }

    /// Every cached file: path, modification time, length.
    fn files(&self) -> Vec<(PathBuf, SystemTime, u64)> {
        let mut files = Vec::new();
        for directory in DIRECTORIES {
            let Ok(entries) = fs::read_dir(self.dir.join(directory)) else {
                continue;
            };
            for entry in entries.flatten() {
                let Ok(metadata) = entry.metadata() else {
                    continue;
                };
                if metadata.is_file() {
                    let modified = metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                    files.push((entry.path(), modified, metadata.len()));
                }
            }
        }
        files
    }

    /// Removes the oldest files until at most `target` bytes remain;
    /// returns what remains.
    fn evict(&self, target: u64) -> u64 {
        if !self.intact() {
            return 0;
        }
        let mut files = self.files();
        files.sort_by_key(|(_, modified, _)| *modified);
        let mut total: u64 = files.iter().map(|(_, _, len)| len).sum();
        for (path, _, len) in files {
            if total <= target {
                break;
            }
            if fs::remove_file(&path).is_ok() {
                total -= len;
            }
        }
        total
    }
}

/// `header`, a space and the checksum of `header` and `body`, a newline,
/// then `body`: what [`unseal`] accepts.
fn seal(header: &str, body: &[u8]) -> Vec<u8> {
    let mut content = format!("{header} {}\n", checksum(header, body)).into_bytes();
    content.extend_from_slice(body);
    content
}

/// The header and body of a file [`seal`] wrote, if its checksum matches.
fn unseal(mut bytes: Vec<u8>) -> Option<(String, Vec<u8>)> {
    let newline = bytes.iter().position(|&b| b == b'\n')?;
    let body = bytes.split_off(newline + 1);
    bytes.truncate(newline);
    let line = String::from_utf8(bytes).ok()?;
    let (header, sum) = line.rsplit_once(' ')?;
    (sum == checksum(header, &body)).then(|| (header.to_string(), body))
}

fn checksum(header: &str, body: &[u8]) -> String {
    let mut covered = Vec::with_capacity(header.len() + 1 + body.len());
    covered.extend_from_slice(header.as_bytes());
    covered.push(b'\n');
    covered.extend_from_slice(body);
    Digest::of(&covered).hex().to_string()
}

/// The bytes of a cache file: a regular file, not a symlink, not huge.
fn read_back(path: &Path) -> Option<Vec<u8>> {
    crate::regular_file::read(path, MAX_FILE, Symlinks::Refuse).ok()
}

/// `options` that never open through a symlink nor block on a FIFO.
fn no_follow(options: &mut fs::OpenOptions) -> &mut fs::OpenOptions {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC);
    }
    options
}

/// A new file `.tmp-RANDOM` in `directory`, made by this call (`O_EXCL`).
fn create_temporary(directory: &Path) -> std::io::Result<(PathBuf, fs::File)> {
    let mut attempts = 0;
    loop {
        let path = directory.join(format!(".tmp-{:016x}", fastrand::u64(..)));
        let mut options = fs::File::options();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        match no_follow(&mut options).open(&path) {
            Ok(file) => return Ok((path, file)),
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists && attempts < 8 => {
                attempts += 1;
            }
            Err(error) => return Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("golden-blob-cache-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[cfg(unix)]
    #[test]
    fn a_cache_root_removed_or_replaced_while_golden_runs_is_never_made_again_nor_used() {
        use std::os::unix::fs::PermissionsExt;
        let manifest = |text: &str| {
            let bytes = text.as_bytes().to_vec();
            (Digest::of(&bytes), bytes)
        };
        let home = tempfile::tempdir().unwrap();
        let dir = secure(&home.path().join("golden")).unwrap();
        let cache = BlobCache::at(dir.clone(), LIMIT);
        let (first, bytes) = manifest("{\"first\":1}");
        cache.put(Kind::Manifest, &first, "m", &bytes);
        assert!(cache.get(Kind::Manifest, &first).is_some());

        // Removed: the root (and levels above it) are not made again.
        fs::remove_dir_all(&dir).unwrap();
        let (second, bytes) = manifest("{\"second\":2}");
        cache.put(Kind::Manifest, &second, "m", &bytes);
        cache.remember_tag("r/x:1.0.1", &second);
        assert!(!dir.exists(), "the removed cache root was made again");

        // Made again by someone else (as another user could in /tmp):
        // nothing is read from it or written into it.
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
        fs::create_dir(dir.join("manifests")).unwrap();
        fs::write(dir.join("manifests").join(first.hex()), b"planted").unwrap();
        let (third, bytes) = manifest("{\"third\":3}");
        cache.put(Kind::Manifest, &third, "m", &bytes);
        cache.remember_tag("r/x:1.0.2", &third);
        assert_eq!(cache.get(Kind::Manifest, &first), None);
        let written: Vec<_> = fs::read_dir(dir.join("manifests"))
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(written.len(), 1, "written into the new root: {written:?}");
        assert!(!dir.join(TAGS).exists());

        // The same directory with a mode others can write is not used either.
        let home = tempfile::tempdir().unwrap();
        let dir = secure(&home.path().join("golden")).unwrap();
        let cache = BlobCache::at(dir.clone(), LIMIT);
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
        cache.put(Kind::Manifest, &first, "m", &manifest("{\"first\":1}").1);
        assert!(!dir.join("manifests").join(first.hex()).exists());
    }

    #[test]
    fn a_cache_path_with_a_parent_component_is_refused() {
        let home = tempfile::tempdir().unwrap();
        let dir = home.path().join("missing/../golden");
        let refused = secure(&dir).unwrap_err().to_string();
        assert!(refused.contains("has a `..` component"), "{refused}");
        assert!(!home.path().join("missing").exists());
    }

    #[test]
    fn objects_round_trip_and_corrupt_ones_are_deleted() {
        let dir = scratch("round-trip");
        let cache = BlobCache::at(dir.clone(), LIMIT);
        let manifest = br#"{"schemaVersion":2}"#;
        let digest = Digest::of(manifest);
        assert!(cache.get(Kind::Manifest, &digest).is_none());
        cache.put(Kind::Manifest, &digest, "application/x", manifest);
        let (media_type, bytes) = cache.get(Kind::Manifest, &digest).unwrap();
        assert_eq!(
            (media_type.as_str(), bytes.as_slice()),
            ("application/x", &manifest[..])
        );
        // A manifest is not a config: the kinds do not mix.
        assert!(cache.get(Kind::Config, &digest).is_none());
        cache.put(Kind::Config, &digest, "", manifest);
        assert_eq!(cache.get(Kind::Config, &digest).unwrap().1, manifest);
        // Bytes that are not what the digest names are never stored.
        let other = Digest::of(b"other");
        cache.put(Kind::Config, &other, "", b"not other");
        assert!(!cache.path(Kind::Config, &other).unwrap().exists());
        // A corrupted file is a miss, and is removed.
        let path = cache.path(Kind::Manifest, &digest).unwrap();
        fs::write(&path, b"application/x\n{\"schemaVersion\":3}").unwrap();
        assert!(cache.get(Kind::Manifest, &digest).is_none());
        assert!(!path.exists());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_cached_manifest_whose_media_type_line_was_changed_is_a_miss_and_removed() {
        let dir = scratch("media-type");
        let cache = BlobCache::at(dir.clone(), LIMIT);
        let manifest = br#"{"schemaVersion":2,"layers":[]}"#;
        let digest = Digest::of(manifest);
        let right = "application/vnd.oci.image.manifest.v1+json";
        let wrong = "application/vnd.oci.image.index.v1+json";
        cache.put(Kind::Manifest, &digest, right, manifest);
        assert_eq!(cache.get(Kind::Manifest, &digest).unwrap().0, right);
        let path = cache.path(Kind::Manifest, &digest).unwrap();
        let stored = String::from_utf8(fs::read(&path).unwrap()).unwrap();
        fs::write(&path, stored.replacen(right, wrong, 1)).unwrap();
        assert_eq!(cache.get(Kind::Manifest, &digest), None);
        assert!(!path.exists());
        // A remembered tag list is checked as well: a changed tag is a miss.
        let name = "registry.local:5000/team/app";
        cache.remember_tag_list(name, &["1.0.0".to_string()]);
        let path = cache.memory_path(TAG_LISTS, name);
        let stored = String::from_utf8(fs::read(&path).unwrap()).unwrap();
        fs::write(&path, stored.replace("1.0.0", "1.0.9")).unwrap();
        assert_eq!(cache.remembered_tag_list(name), None);
        assert!(!path.exists());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_oldest_files_go_past_the_limit() {
        let dir = scratch("evict");
        let cache = BlobCache::at(dir.clone(), 4000);
        let digests: Vec<Digest> = (0..10)
            .map(|i| {
                let blob = vec![b'a' + i; 1000];
                let digest = Digest::of(&blob);
                cache.put(Kind::Config, &digest, "", &blob);
                std::thread::sleep(std::time::Duration::from_millis(5));
                digest
            })
            .collect();
        let on_disk: u64 = cache.files().iter().map(|(_, _, len)| len).sum();
        assert!(on_disk <= 4000, "{on_disk}");
        assert!(cache.get(Kind::Config, &digests[9]).is_some());
        assert!(cache.get(Kind::Config, &digests[0]).is_none());
        fs::remove_dir_all(&dir).unwrap();
    }

    /// Ages the file at `path` past [`TAG_TTL`].
    fn expire(path: &Path) {
        let old = SystemTime::now() - TAG_TTL - std::time::Duration::from_secs(60);
        fs::File::options()
            .append(true)
            .open(path)
            .unwrap()
            .set_modified(old)
            .unwrap();
    }

    #[test]
    fn remembered_tags_name_their_tag_and_expire() {
        let dir = scratch("tags");
        let cache = BlobCache::at(dir.clone(), LIMIT);
        let name = "registry.local:5000/team/app:1.0.0";
        let digest = Digest::of(b"manifest");
        assert!(cache.remembered_tag(name).is_none());
        cache.remember_tag(name, &digest);
        assert_eq!(cache.remembered_tag(name), Some(digest.clone()));
        assert!(cache
            .remembered_tag("registry.local:5000/team/app:1.0.1")
            .is_none());
        // A file that names another tag is never an answer for this one.
        let path = cache.memory_path(TAGS, name);
        fs::write(
            &path,
            format!("registry.local:5000/other/app:1.0.0\n{digest}\n"),
        )
        .unwrap();
        assert!(cache.remembered_tag(name).is_none());
        assert!(!path.exists());
        // An old confirmation is forgotten.
        cache.remember_tag(name, &digest);
        expire(&path);
        assert!(cache.remembered_tag(name).is_none());
        cache.remember_tag(name, &digest);
        cache.forget_tag(name);
        assert!(cache.remembered_tag(name).is_none());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn remembered_tag_lists_name_their_repository_and_expire() {
        let dir = scratch("tag-lists");
        let cache = BlobCache::at(dir.clone(), LIMIT);
        let name = "registry.local:5000/team/app";
        let tags: Vec<String> = ["1.0.0", "1.0", "1", "latest"].map(String::from).to_vec();
        assert!(cache.remembered_tag_list(name).is_none());
        cache.remember_tag_list(name, &tags);
        assert_eq!(cache.remembered_tag_list(name), Some(tags.clone()));
        // An empty repository is remembered as empty, not as unknown.
        cache.remember_tag_list("registry.local:5000/team/new", &[]);
        assert_eq!(
            cache.remembered_tag_list("registry.local:5000/team/new"),
            Some(Vec::new())
        );
        // Another repository's file, or the exact tags' memory, never answers.
        assert!(cache
            .remembered_tag_list("registry.local:5000/team/other")
            .is_none());
        assert!(cache.remembered_tag(name).is_none());
        let path = cache.memory_path(TAG_LISTS, name);
        fs::write(&path, "registry.local:5000/other/app\n1.0.0\n").unwrap();
        assert!(cache.remembered_tag_list(name).is_none());
        assert!(!path.exists());
        // A tag that is not one line is never remembered, and clears the list.
        cache.remember_tag_list(name, &tags);
        cache.remember_tag_list(name, &["1.0.0\nlatest".to_string()]);
        assert!(cache.remembered_tag_list(name).is_none());
        // An old list is forgotten, and forgetting works.
        cache.remember_tag_list(name, &tags);
        expire(&path);
        assert!(cache.remembered_tag_list(name).is_none());
        cache.remember_tag_list(name, &tags);
        cache.forget_tag_list(name);
        assert!(cache.remembered_tag_list(name).is_none());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn only_sha256_digests_have_a_file() {
        let cache = BlobCache::at(PathBuf::from("/nonexistent"), LIMIT);
        let sha512 = Digest::parse(&format!("sha512:{}", "a".repeat(128))).unwrap();
        assert!(cache.path(Kind::Config, &sha512).is_none());
        assert!(truthy("1") && truthy("TRUE") && !truthy("0") && !truthy(""));
    }
}
