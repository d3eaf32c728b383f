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
//! `--no-cache-dir` (or `GOLDEN_NO_CACHE_DIR=1`) turns it off: nothing is
//! read or written.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::SystemTime;

use crate::name::Digest;

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

/// Turns the cache off for this process (`--no-cache-dir`).
pub fn disable() {
    DISABLED.store(true, Ordering::Relaxed);
}

/// What a cached object is: the two live in their own directories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A manifest, stored as its media type, a newline, then its bytes.
    Manifest,
    /// An image config blob, stored as is.
    Config,
}

/// The directory of remembered exact tags: per tag, a file named by the
/// hash of the tag's full name, holding that name, a newline and the
/// digest (see [`BlobCache::remembered_tag`]).
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

/// A cache directory.
#[derive(Debug)]
pub struct BlobCache {
    dir: PathBuf,
    limit: u64,
    /// Bytes on disk, counted on the first write of the run.
    size: Mutex<Option<u64>>,
    temporaries: AtomicU64,
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
    pub fn from_env() -> Option<BlobCache> {
        let off = std::env::var("GOLDEN_NO_CACHE_DIR").is_ok_and(|value| truthy(&value));
        if off || DISABLED.load(Ordering::Relaxed) {
            return None;
        }
        Some(BlobCache::at(default_dir()?, LIMIT))
    }

    /// A cache in `dir` holding at most about `limit` bytes.
    pub fn at(dir: PathBuf, limit: u64) -> BlobCache {
        BlobCache {
            dir,
            limit,
            size: Mutex::new(None),
            temporaries: AtomicU64::new(0),
        }
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
        let path = self.path(kind, digest)?;
        let mut bytes = fs::read(&path).ok()?;
        let media_type = match kind {
            Kind::Config => String::new(),
            Kind::Manifest => {
                let newline = bytes.iter().position(|&b| b == b'\n');
                let Some(newline) = newline else {
                    return self.discard(&path, digest);
                };
                let body = bytes.split_off(newline + 1);
                let mut head = std::mem::replace(&mut bytes, body);
                head.truncate(newline);
                let Ok(media_type) = String::from_utf8(head) else {
                    return self.discard(&path, digest);
                };
                media_type
            }
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
        let path = self.memory_path(directory, name);
        let file = fs::File::open(&path).ok()?;
        let modified = file.metadata().and_then(|m| m.modified()).ok()?;
        let fresh = SystemTime::now()
            .duration_since(modified)
            .is_ok_and(|age| age <= TAG_TTL);
        if !fresh {
            let _ = fs::remove_file(&path);
            return None;
        }
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::BufReader::new(file), &mut text).ok()?;
        match text.split_once('\n') {
            Some((named, body)) if named == name => Some(body.to_string()),
            _ => {
                tracing::warn!(path = %path.display(), "remembered file names something else; removed");
                let _ = fs::remove_file(&path);
                None
            }
        }
    }

    /// Remembers `body` under `name` in `directory`; the same content
    /// again renews the file in place (its age is the confirmation's).
    fn record(&self, directory: &str, name: &str, body: &str) {
        if name.contains('\n') {
            return;
        }
        let path = self.memory_path(directory, name);
        let content = format!("{name}\n{body}");
        if fs::read(&path).is_ok_and(|old| old == content.as_bytes()) {
            let renewed = fs::File::options()
                .append(true)
                .open(&path)
                .and_then(|file| file.set_modified(SystemTime::now()));
            if renewed.is_ok() {
                return;
            }
        }
        if let Err(error) = self.write(&path, content.as_bytes()) {
            tracing::debug!(path = %path.display(), %error, "not remembered");
            return;
        }
        self.grew(content.len() as u64);
    }

    fn forget(&self, directory: &str, name: &str) {
        let _ = fs::remove_file(self.memory_path(directory, name));
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
        if Digest::of(bytes) != *digest || media_type.contains('\n') || path.exists() {
            return;
        }
        let mut content = Vec::with_capacity(bytes.len() + media_type.len() + 1);
        if kind == Kind::Manifest {
            content.extend_from_slice(media_type.as_bytes());
            content.push(b'\n');
        }
        content.extend_from_slice(bytes);
        if let Err(error) = self.write(&path, &content) {
            tracing::debug!(path = %path.display(), %error, "not cached");
            return;
        }
        self.grew(content.len() as u64);
    }

    /// Writes `content` to a temporary file beside `path`, then renames it.
    fn write(&self, path: &Path, content: &[u8]) -> std::io::Result<()> {
        let parent = path.parent().unwrap_or(&self.dir);
        fs::create_dir_all(parent)?;
        let temporary = parent.join(format!(
            ".tmp-{}-{}",
            std::process::id(),
            self.temporaries.fetch_add(1, Ordering::Relaxed)
        ));
        let written = fs::File::create(&temporary)
            .and_then(|mut file| file.write_all(content))
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
        let directories = [
            Kind::Manifest.directory(),
            Kind::Config.directory(),
            TAGS,
            TAG_LISTS,
        ];
        for directory in directories {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("golden-blob-cache-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
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
