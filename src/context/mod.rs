//! Build contexts: which files `.dockerignore` keeps (Docker's rules: Go
//! `filepath.Match` globs with `**`, `!` exceptions, the last match wins,
//! a pattern matching a directory excludes what is below it) and the recipe
//! digest over them. The context as a tar, hashed as it is sent, is
//! `upload`'s; both record entries through [`ContextHash`], so a recipe
//! hashed before a build and one hashed while sending the same tree are
//! the same digest.
//!
//! Non-regular files go in as the docker CLI sends them: a FIFO or a device
//! as a header of its type (devices with major and minor), never opened or
//! read; a socket is left out with a warning. Regular files are opened
//! without blocking and checked to still be regular files, so a file that
//! became a FIFO since the listing cannot hang a run either.
//!
//! Synchronous file I/O only: callers run it on a blocking thread.

pub mod upload;

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

pub use crate::dockerignore::Ignore;
use crate::dockerignore::Matched;
use crate::dockerignore::DOCKERIGNORE;
pub use golden_core::context::*;

/// The entries of `context` that `.dockerignore` keeps, sorted by path.
/// Symlinks are listed as links and never followed. `always` (the
/// Dockerfile and `.dockerignore`) is kept even when a pattern excludes it,
/// as the docker CLI does.
pub fn entries(
    context: &Path,
    ignore: &Ignore,
    always: &[&str],
) -> Result<Vec<Entry>, ContextError> {
    let mut entries = Vec::new();
    // How the patterns matched each directory above the current entry.
    let mut parents: Vec<(String, Matched)> = Vec::new();
    let mut walker = walkdir::WalkDir::new(context)
        .follow_links(false)
        .sort_by_file_name()
        .min_depth(1)
        .into_iter();
    while let Some(item) = walker.next() {
        let item = item.map_err(|error| ContextError::Read {
            path: error.path().unwrap_or(context).to_path_buf(),
            source: error
                .into_io_error()
                .unwrap_or_else(|| io::Error::other("filesystem loop")),
        })?;
        let relative = item.path().strip_prefix(context).unwrap_or(item.path());
        let path = relative.to_string_lossy().replace('\\', "/");
        let file_type = item.file_type();
        while parents.last().is_some_and(|(dir, _)| !is_below(&path, dir)) {
            parents.pop();
        }
        let matched = ignore.matches(&path, parents.last().map(|(_, m)| m));
        let excluded = matched.excluded;
        if file_type.is_dir() {
            parents.push((path.clone(), matched));
        }
        if excluded && !always.contains(&path.as_str()) {
            // The docker CLI walks into an excluded directory only when an
            // exception starts with it; one holding an always-sent file is
            // walked too.
            let holds_always = always.iter().any(|kept| is_below(kept, &path));
            if file_type.is_dir() && !ignore.walks_into(&path) && !holds_always {
                walker.skip_current_dir();
            }
            continue;
        }
        let Some(kind) = kind_of(&item, relative, &path, context)? else {
            continue;
        };
        entries.push(Entry { path, kind });
    }
    Ok(entries)
}

/// The kind of the walked entry `item` (`relative` to the context, named
/// `path` in it), without following a symlink: `None` for a socket, which
/// is left out with a warning.
fn kind_of(
    item: &walkdir::DirEntry,
    relative: &Path,
    path: &str,
    context: &Path,
) -> Result<Option<Kind>, ContextError> {
    let file_type = item.file_type();
    if relative.to_str().is_none() {
        // Entries are UTF-8 paths; a lossy name would be sent as a file
        // that does not exist.
        return Err(ContextError::Read {
            path: item.path().to_path_buf(),
            source: io::Error::new(
                io::ErrorKind::InvalidData,
                "its name is not UTF-8, which golden cannot send in a build context; rename it, or leave it out with .dockerignore",
            ),
        });
    }
    let kind = if file_type.is_symlink() {
        let target = std::fs::read_link(item.path()).map_err(|source| ContextError::Read {
            path: item.path().to_path_buf(),
            source,
        })?;
        Kind::Symlink { target }
    } else if file_type.is_dir() {
        Kind::Directory
    } else {
        let metadata = item.metadata().map_err(|error| ContextError::Read {
            path: item.path().to_path_buf(),
            source: error
                .into_io_error()
                .unwrap_or_else(|| io::Error::other("metadata")),
        })?;
        match special_kind(&metadata) {
            Special::Regular => Kind::File {
                executable: is_executable(&metadata),
            },
            Special::Kind(kind) => kind,
            Special::Socket => {
                tracing::warn!(
                    "skipping the socket `{path}` in the build context `{}`: a socket cannot be sent to the engine (the docker CLI skips it too)",
                    context.display()
                );
                return Ok(None);
            }
        }
    };
    Ok(Some(kind))
}

/// Whether `path` is inside the directory `dir`.
fn is_below(path: &str, dir: &str) -> bool {
    path.len() > dir.len() && path.starts_with(dir) && path.as_bytes()[dir.len()] == b'/'
}

/// A file that is neither a directory nor a symlink, by its type.
enum Special {
    Regular,
    Kind(Kind),
    Socket,
}

#[cfg(unix)]
fn special_kind(metadata: &std::fs::Metadata) -> Special {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let file_type = metadata.file_type();
    let (major, minor) = device_numbers(metadata.rdev());
    if file_type.is_fifo() {
        Special::Kind(Kind::Fifo)
    } else if file_type.is_char_device() {
        Special::Kind(Kind::CharDevice { major, minor })
    } else if file_type.is_block_device() {
        Special::Kind(Kind::BlockDevice { major, minor })
    } else if file_type.is_socket() {
        Special::Socket
    } else {
        Special::Regular
    }
}

#[cfg(not(unix))]
fn special_kind(_: &std::fs::Metadata) -> Special {
    Special::Regular
}

/// Major and minor of a device number, in Linux's (glibc's) encoding.
fn device_numbers(device: u64) -> (u32, u32) {
    let major = ((device >> 32) & 0xffff_f000) | ((device >> 8) & 0x0000_0fff);
    let minor = ((device >> 12) & 0xffff_ff00) | (device & 0x0000_00ff);
    (major as u32, minor as u32)
}

/// Opens `path` for reading only if it is a regular file: without
/// following a symlink and without blocking (a FIFO put in its place since
/// the listing would otherwise block the open forever).
pub(crate) fn open_regular(path: &Path) -> io::Result<std::fs::File> {
    use crate::regular_file::{open, RegularFileError, Symlinks};
    match open(path, Symlinks::Refuse) {
        Ok((file, _)) => Ok(file),
        Err(RegularFileError::Io(error)) => Err(error),
        Err(RegularFileError::Missing) => Err(io::Error::from_raw_os_error(libc::ENOENT)),
        Err(RegularFileError::Symlink | RegularFileError::SymlinkLoop) => {
            Err(io::Error::from_raw_os_error(libc::ELOOP))
        }
        Err(_) => Err(io::Error::other(
            "it is no longer a regular file (it changed after golden listed the context)",
        )),
    }
}

/// Whether the recipe records a file as executable (any execute bit).
#[cfg(unix)]
pub(crate) fn is_executable(metadata: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    metadata.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
pub(crate) fn is_executable(_: &std::fs::Metadata) -> bool {
    false
}

/// sha256 over the Dockerfile path, every kept file's path, content and
/// executable bit, every symlink's target, every directory's path, every
/// FIFO's path and every device's path and numbers (never their content),
/// the build args and the labels, in sorted order. Timestamps, owners and permission
/// bits other than "executable" are left out, so two checkouts of the same
/// tree give the same digest.
pub fn recipe_digest(
    context: &Path,
    entries: &[Entry],
    inputs: &RecipeInputs<'_>,
) -> Result<String, ContextError> {
    Ok(recipe(context, entries, inputs)?.digest)
}

/// The recipe of `entries` of `context` as they are on disk now.
pub fn recipe(
    context: &Path,
    entries: &[Entry],
    inputs: &RecipeInputs<'_>,
) -> Result<Recipe, ContextError> {
    let hashed = hash_context(context, entries, inputs.dockerfile, None)?;
    Ok(hashed.finish(inputs))
}

/// The recipe hashed as far as the context goes: the Dockerfile path and
/// every entry, recorded in the order of the listing. What is left (build
/// args, labels) differs by image, so one context shared by many images is
/// hashed once (see [`Recipes`]). The pre-build hash here and the hash of
/// the tar as it is sent (`upload`) both record through it.
#[derive(Clone)]
pub(crate) struct ContextHash {
    hasher: Sha256,
    parts: PartHashers,
    dockerfile: String,
}

impl ContextHash {
    /// A recipe of a context whose Dockerfile is `dockerfile`, no entry yet.
    pub(crate) fn new(dockerfile: &str) -> ContextHash {
        let mut hasher = Sha256::new();
        hasher.update(format!("golden-recipe-v1\ndockerfile {dockerfile:?}\n"));
        ContextHash {
            hasher,
            parts: PartHashers::default(),
            dockerfile: dockerfile.to_string(),
        }
    }

    /// Records the next entry. A regular file (`Kind::File`) is recorded
    /// with the executable bit its kind says and `content`, the sha256 of
    /// its bytes as the caller read them (hex); every other kind by its
    /// entry alone.
    pub(crate) fn record(&mut self, entry: &Entry, content: &str) {
        let line = match &entry.kind {
            Kind::Directory => format!("D {:?}\n", entry.path),
            Kind::Symlink { target } => format!("L {:?} {:?}\n", entry.path, target),
            Kind::Fifo => format!("P {:?}\n", entry.path),
            Kind::CharDevice { major, minor } => format!("C {:?} {major}:{minor}\n", entry.path),
            Kind::BlockDevice { major, minor } => format!("B {:?} {major}:{minor}\n", entry.path),
            Kind::File { executable } => {
                let mode = if *executable { "755" } else { "644" };
                format!("F {:?} {mode} {content}\n", entry.path)
            }
        };
        self.hasher.update(&line);
        self.parts
            .add(&part_of(&entry.path, &self.dockerfile), &line);
    }

    /// The recipe: what was recorded, then the build args, labels and
    /// secrets' sources ([`RecipeInputs::lines`]).
    pub(crate) fn finish(&self, inputs: &RecipeInputs<'_>) -> Recipe {
        let mut hasher = self.hasher.clone();
        let mut parts = self.parts.clone();
        for (part, line) in inputs.lines() {
            hasher.update(&line);
            parts.add(&part, &line);
        }
        Recipe {
            digest: format!("sha256:{:x}", hasher.finalize()),
            parts: parts.finish(),
        }
    }
}

/// The sha256 (hex) of everything `reader` yields, read through `buffer`.
pub(crate) fn content_digest(reader: &mut impl Read, buffer: &mut [u8]) -> io::Result<String> {
    let mut content = Sha256::new();
    loop {
        let count = reader.read(buffer)?;
        if count == 0 {
            break;
        }
        content.update(&buffer[..count]);
    }
    Ok(format!("{:x}", content.finalize()))
}

/// A regular file as it was when its content was hashed: the same file,
/// unchanged, has the same key (within one run).
#[derive(Clone, PartialEq, Eq, Hash)]
struct FileKey {
    path: PathBuf,
    device: u64,
    inode: u64,
    size: u64,
    modified: Option<std::time::SystemTime>,
}

impl FileKey {
    fn of(path: &Path, metadata: &std::fs::Metadata) -> FileKey {
        #[cfg(unix)]
        let (device, inode) = {
            use std::os::unix::fs::MetadataExt;
            (metadata.dev(), metadata.ino())
        };
        #[cfg(not(unix))]
        let (device, inode) = (0, 0);
        FileKey {
            path: path.to_path_buf(),
            device,
            inode,
            size: metadata.len(),
            modified: metadata.modified().ok(),
        }
    }
}

/// Content hashes of files already read in this run.
type FileHashes = std::sync::Mutex<std::collections::HashMap<FileKey, String>>;

fn hash_context(
    context: &Path,
    entries: &[Entry],
    dockerfile: &str,
    files: Option<&FileHashes>,
) -> Result<ContextHash, ContextError> {
    let mut hash = ContextHash::new(dockerfile);
    let mut buffer = vec![0u8; 64 * 1024];
    for entry in entries {
        let content = match &entry.kind {
            Kind::File { .. } => {
                let path = context.join(&entry.path);
                let read = |source| ContextError::Read {
                    path: path.clone(),
                    source,
                };
                let mut file = open_regular(&path).map_err(read)?;
                let key = match files {
                    Some(_) => Some(FileKey::of(&path, &file.metadata().map_err(read)?)),
                    None => None,
                };
                let known = match (files, &key) {
                    (Some(files), Some(key)) => lock(files).get(key).cloned(),
                    _ => None,
                };
                match known {
                    Some(content) => content,
                    None => {
                        let content = content_digest(&mut file, &mut buffer).map_err(read)?;
                        if let (Some(files), Some(key)) = (files, key) {
                            lock(files).insert(key, content.clone());
                        }
                        content
                    }
                }
            }
            _ => String::new(),
        };
        hash.record(entry, &content);
    }
    Ok(hash)
}

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A context as observe read it: its recipe when it was hashed, and its
/// entries.
pub type ContextRead = (Option<Recipe>, std::sync::Arc<Vec<Entry>>);

/// What one run learnt of one context: its entries once listed, its
/// recipe once hashed (only when something asked for it).
#[derive(Default)]
struct Scan {
    listed: std::sync::OnceLock<Result<std::sync::Arc<Vec<Entry>>, String>>,
    hashed: std::sync::OnceLock<Result<std::sync::Arc<ContextHash>, String>>,
}

/// Recipes of one run. Each context directory (with its Dockerfile, which
/// picks the ignore file and is always sent) is listed once and hashed at
/// most once, however many images share it; a file read for one context
/// is not read again for another while its inode, size and mtime stay the
/// same. Callers on several threads asking for the same context wait for
/// the first one.
#[derive(Default)]
pub struct Recipes {
    scans: std::sync::Mutex<std::collections::HashMap<(PathBuf, String), std::sync::Arc<Scan>>>,
    files: FileHashes,
    hashed: std::sync::atomic::AtomicUsize,
}

impl Recipes {
    /// The recipe of an image whose context is `context` and the entries
    /// it covers; errors are rendered with their cause. Blocking: run it
    /// on a blocking thread.
    pub fn recipe(
        &self,
        context: &Path,
        inputs: &RecipeInputs<'_>,
    ) -> Result<(Recipe, std::sync::Arc<Vec<Entry>>), String> {
        let scan = self.scan(context, inputs.dockerfile);
        let entries = self.list(&scan, context, inputs.dockerfile)?;
        let hash = scan
            .hashed
            .get_or_init(|| {
                self.hashed
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let started = std::time::Instant::now();
                let hashed = hash_context(context, &entries, inputs.dockerfile, Some(&self.files));
                tracing::debug!(
                    context = %context.display(),
                    entries = entries.len(),
                    seconds = started.elapsed().as_secs_f64(),
                    "hashed the build context"
                );
                hashed
                    .map(std::sync::Arc::new)
                    .map_err(|error| render(&error))
            })
            .clone()?;
        Ok((hash.finish(inputs), entries))
    }

    /// The entries of `context` that go to the engine, listed but not
    /// read. Blocking: run it on a blocking thread.
    pub fn entries(
        &self,
        context: &Path,
        dockerfile: &str,
    ) -> Result<std::sync::Arc<Vec<Entry>>, String> {
        let scan = self.scan(context, dockerfile);
        self.list(&scan, context, dockerfile)
    }

    /// What [`Recipes::recipe`] (with `hash`) or [`Recipes::entries`]
    /// would answer when its work is done already, so no blocking thread
    /// is needed; `None` when it is not (yet).
    pub fn ready(
        &self,
        context: &Path,
        inputs: &RecipeInputs<'_>,
        hash: bool,
    ) -> Option<Result<ContextRead, String>> {
        let scan = lock(&self.scans)
            .get(&(context.to_path_buf(), inputs.dockerfile.to_string()))?
            .clone();
        let entries = match scan.listed.get()? {
            Ok(entries) => entries.clone(),
            Err(error) => return Some(Err(error.clone())),
        };
        if !hash {
            return Some(Ok((None, entries)));
        }
        match scan.hashed.get()? {
            Ok(hashed) => Some(Ok((Some(hashed.finish(inputs)), entries))),
            Err(error) => Some(Err(error.clone())),
        }
    }

    /// How many contexts were hashed so far.
    pub fn contexts_hashed(&self) -> usize {
        self.hashed.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn scan(&self, context: &Path, dockerfile: &str) -> std::sync::Arc<Scan> {
        lock(&self.scans)
            .entry((context.to_path_buf(), dockerfile.to_string()))
            .or_default()
            .clone()
    }

    fn list(
        &self,
        scan: &Scan,
        context: &Path,
        dockerfile: &str,
    ) -> Result<std::sync::Arc<Vec<Entry>>, String> {
        scan.listed
            .get_or_init(|| {
                let listed = load_ignore_for(context, dockerfile).and_then(|(ignore, file)| {
                    entries(context, &ignore, &[dockerfile, file.as_str()])
                });
                listed
                    .map(std::sync::Arc::new)
                    .map_err(|error| render(&error))
            })
            .clone()
    }
}

/// An error with its cause, on one line.
fn render(error: &ContextError) -> String {
    match std::error::Error::source(error) {
        Some(source) => format!("{error}: {source}"),
        None => error.to_string(),
    }
}

/// The part of the recipe a context path belongs to: the Dockerfile, or
/// its top-level file or directory (`certs/`).
fn part_of(path: &str, dockerfile: &str) -> String {
    if path == dockerfile {
        return "Dockerfile".to_string();
    }
    match path.split_once('/') {
        Some((top, _)) => format!("{top}/"),
        None => path.to_string(),
    }
}

#[derive(Default, Clone)]
struct PartHashers(std::collections::BTreeMap<String, Sha256>);

impl PartHashers {
    fn add(&mut self, part: &str, line: &str) {
        self.0.entry(part.to_string()).or_default().update(line);
    }

    fn finish(self) -> RecipeParts {
        RecipeParts(
            self.0
                .into_iter()
                .map(|(part, hasher)| {
                    (
                        part,
                        golden_core::context::short_hash(&format!("{:x}", hasher.finalize())),
                    )
                })
                .collect(),
        )
    }
}

/// The bytes of the ignore file `path`, `None` when there is none. It must
/// be a regular file: a FIFO there is refused rather than waited on.
fn read_ignore_file(path: &Path) -> Result<Option<Vec<u8>>, ContextError> {
    use crate::regular_file::{read, RegularFileError, Symlinks, MAX_TEXT};
    match read(path, MAX_TEXT, Symlinks::Follow) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(RegularFileError::Missing) => Ok(None),
        Err(RegularFileError::Io(error)) if error.kind() == std::io::ErrorKind::NotADirectory => {
            Ok(None)
        }
        Err(RegularFileError::Io(source)) => Err(ContextError::Read {
            path: path.to_path_buf(),
            source,
        }),
        Err(problem) => Err(ContextError::Read {
            path: path.to_path_buf(),
            source: std::io::Error::other(format!("it {problem}")),
        }),
    }
}

/// Reads the ignore file of a context whose Dockerfile is `dockerfile`
/// (relative to it): `<dockerfile>.dockerignore` when there is one,
/// else `.dockerignore`; none means nothing is ignored. Also returns
/// the file's path relative to the context, which is always sent.
pub fn load_ignore_for(context: &Path, dockerfile: &str) -> Result<(Ignore, String), ContextError> {
    let specific = format!("{dockerfile}{DOCKERIGNORE}");
    for name in [specific.as_str(), DOCKERIGNORE] {
        let path = context.join(name);
        if let Some(bytes) = read_ignore_file(&path)? {
            let text = String::from_utf8_lossy(&bytes);
            return Ok((
                Ignore::parse(&text, &path).map_err(ContextError::from)?,
                name.to_string(),
            ));
        }
    }
    Ok((Ignore::default(), DOCKERIGNORE.to_string()))
}

/// Reads `<context>/.dockerignore`; no file means nothing is ignored.
pub fn load_ignore(context: &Path) -> Result<Ignore, ContextError> {
    let path = context.join(DOCKERIGNORE);
    match read_ignore_file(&path)? {
        Some(bytes) => Ok(Ignore::parse(&String::from_utf8_lossy(&bytes), &path)?),
        None => Ok(Ignore::default()),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn ignore(text: &str) -> Ignore {
        Ignore::parse(text, Path::new(".dockerignore")).unwrap()
    }

    #[test]
    fn dockerignore_follows_docker_rules() {
        let cases: Vec<(&str, &str, bool)> = vec![
            ("*.md", "README.md", true),
            ("*.md", "docs/README.md", false),
            ("**/*.md", "docs/README.md", true),
            ("**/*.md", "README.md", true),
            ("docs", "docs/a/b.txt", true),
            ("/docs/", "docs/a/b.txt", true),
            ("./docs", "docs", true),
            ("docs/*", "docs/a", true),
            ("docs/*", "docsx", false),
            ("*.log\n!keep.log", "keep.log", false),
            ("*.log\n!keep.log", "other.log", true),
            ("!keep.log\n*.log", "keep.log", true),
            ("secret\n!secret/public", "secret/public/x", false),
            ("secret\n!secret/public", "secret/private", true),
            ("a?c", "abc", true),
            ("a?c", "a/c", false),
            ("[a-c]x", "bx", true),
            ("# comment\n\n  tmp  ", "tmp", true),
            ("node_modules", "src/node_modules", false),
            ("**/node_modules", "src/node_modules/x.js", true),
            ("a/../b", "b", true),
        ];
        for (patterns, path, excluded) in cases {
            assert_eq!(
                ignore(patterns).excludes(path),
                excluded,
                "{patterns:?} on {path}"
            );
        }
    }

    #[test]
    fn bad_patterns_are_errors() {
        assert!(Ignore::parse("[z-a", Path::new(".dockerignore")).is_err());
    }

    pub(crate) fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("src/nested")).unwrap();
        std::fs::create_dir_all(root.join("cache")).unwrap();
        std::fs::write(root.join("Dockerfile"), "FROM busybox\n").unwrap();
        std::fs::write(root.join(".dockerignore"), "cache\n*.tmp\nDockerfile\n").unwrap();
        std::fs::write(root.join("src/a.txt"), "a").unwrap();
        std::fs::write(root.join("src/nested/b.txt"), "b").unwrap();
        std::fs::write(root.join("cache/big.bin"), "x".repeat(1000)).unwrap();
        std::fs::write(root.join("scratch.tmp"), "t").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink("/etc/passwd", root.join("outside")).unwrap();
        dir
    }

    #[test]
    fn entries_skip_ignored_keep_dockerfile_and_never_follow_links() {
        let dir = tree();
        let ignore = load_ignore(dir.path()).unwrap();
        let entries = entries(dir.path(), &ignore, &["Dockerfile", ".dockerignore"]).unwrap();
        let paths: Vec<&str> = entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            vec![
                ".dockerignore",
                "Dockerfile",
                "outside",
                "src",
                "src/a.txt",
                "src/nested",
                "src/nested/b.txt"
            ]
        );
        let link = entries.iter().find(|e| e.path == "outside").unwrap();
        assert_eq!(
            link.kind,
            Kind::Symlink {
                target: PathBuf::from("/etc/passwd")
            }
        );
    }

    #[test]
    fn a_dockerfile_in_an_ignored_directory_is_still_sent() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("docker")).unwrap();
        std::fs::write(dir.path().join("docker/Dockerfile"), "FROM busybox\n").unwrap();
        std::fs::write(dir.path().join("docker/notes.txt"), "x").unwrap();
        let ignore = Ignore::parse("docker\n", Path::new(".dockerignore")).unwrap();
        let list = entries(dir.path(), &ignore, &["docker/Dockerfile"]).unwrap();
        let paths: Vec<&str> = list.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, vec!["docker/Dockerfile"]);
    }

    #[test]
    fn recipe_ignores_timestamps_and_excluded_files_but_not_content() {
        let dir = tree();
        let ignore = load_ignore(dir.path()).unwrap();
        let args = BTreeMap::from([("A".to_string(), "1".to_string())]);
        let labels = BTreeMap::new();
        let inputs = RecipeInputs {
            dockerfile: "Dockerfile",
            build_args: &args,
            labels: &labels,
            secrets: &BTreeMap::new(),
        };
        let digest = |root: &Path| {
            let list = entries(root, &ignore, &["Dockerfile"]).unwrap();
            recipe_digest(root, &list, &inputs).unwrap()
        };
        let first = digest(dir.path());
        assert!(first.starts_with("sha256:") && first.len() == 71);
        std::fs::write(dir.path().join("cache/big.bin"), "changed").unwrap();
        std::fs::write(dir.path().join("scratch.tmp"), "changed").unwrap();
        let file = std::fs::File::options()
            .append(true)
            .open(dir.path().join("src/a.txt"))
            .unwrap();
        file.set_modified(std::time::SystemTime::UNIX_EPOCH)
            .unwrap();
        assert_eq!(
            digest(dir.path()),
            first,
            "ignored files and mtimes must not count"
        );
        let copy = tree();
        assert_eq!(
            digest(copy.path()),
            first,
            "a second checkout gives the same digest"
        );
        std::fs::write(dir.path().join("src/a.txt"), "A").unwrap();
        assert_ne!(digest(dir.path()), first, "content counts");
        let other_args = BTreeMap::from([("A".to_string(), "2".to_string())]);
        let list = entries(copy.path(), &ignore, &["Dockerfile"]).unwrap();
        let changed = recipe_digest(
            copy.path(),
            &list,
            &RecipeInputs {
                dockerfile: "Dockerfile",
                build_args: &other_args,
                labels: &labels,
                secrets: &BTreeMap::new(),
            },
        )
        .unwrap();
        assert_ne!(changed, first, "build args count");
    }

    /// Images published before build secrets existed keep their recipe: an
    /// upgrade must not make every image due. The digest was computed on
    /// the code before secrets (commit f189d2f).
    #[test]
    fn a_recipe_without_secrets_keeps_the_digest_it_had_before_secrets() {
        let dir = tree();
        let ignore = load_ignore(dir.path()).unwrap();
        let list = entries(dir.path(), &ignore, &["Dockerfile"]).unwrap();
        let args = BTreeMap::from([("A".to_string(), "1".to_string())]);
        let labels = BTreeMap::from([("team".to_string(), "platform".to_string())]);
        let none = BTreeMap::new();
        let inputs = RecipeInputs {
            dockerfile: "Dockerfile",
            build_args: &args,
            labels: &labels,
            secrets: &none,
        };
        let digest = |inputs: &RecipeInputs<'_>| recipe(dir.path(), &list, inputs).unwrap();
        let before = digest(&inputs);
        assert_eq!(
            before.digest,
            "sha256:fe3bd6d249d5f17e772e8dbf0ffcd3e10555f5b890e749928d54fb7f3abd68f7"
        );
        // A secret counts by its id and source, and says which part changed.
        let env = BTreeMap::from([("token".to_string(), "env NUGET_TOKEN".to_string())]);
        let with = digest(&RecipeInputs {
            secrets: &env,
            ..inputs
        });
        assert_ne!(with.digest, before.digest);
        assert_eq!(
            with.parts.changed_since(&before.parts.label()),
            Some(vec!["secret token".to_string()])
        );
        let file = BTreeMap::from([("token".to_string(), "file secrets/token".to_string())]);
        let moved = digest(&RecipeInputs {
            secrets: &file,
            ..inputs
        });
        assert_ne!(moved.digest, with.digest, "a secret read from elsewhere");
    }

    /// A context holding a FIFO `pipe`, a socket `sock` and a file `a.txt`;
    /// the socket's listener is returned to keep it open.
    #[cfg(unix)]
    pub(crate) fn special_tree() -> (tempfile::TempDir, std::os::unix::net::UnixListener) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), "a").unwrap();
        let status = std::process::Command::new("mkfifo")
            .arg(dir.path().join("pipe"))
            .status()
            .unwrap();
        assert!(status.success(), "mkfifo");
        let socket = std::os::unix::net::UnixListener::bind(dir.path().join("sock")).unwrap();
        (dir, socket)
    }

    /// Runs `work` on a thread and fails the test if it blocks: a FIFO
    /// that is opened for reading blocks until a writer comes.
    pub(crate) fn without_blocking<T: Send + 'static>(
        work: impl FnOnce() -> T + Send + 'static,
    ) -> T {
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || sender.send(work()));
        receiver
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("blocked on a FIFO in the context")
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_listed_and_hashed_without_being_read_and_a_socket_is_skipped() {
        let (dir, _socket) = special_tree();
        let root = dir.path().to_path_buf();
        let list = entries(&root, &Ignore::default(), &[]).unwrap();
        let kinds: Vec<(&str, &Kind)> = list.iter().map(|e| (e.path.as_str(), &e.kind)).collect();
        assert_eq!(
            kinds,
            vec![
                ("a.txt", &Kind::File { executable: false }),
                ("pipe", &Kind::Fifo)
            ],
            "the socket is skipped"
        );
        let digest = without_blocking(move || {
            let none = BTreeMap::new();
            let recipe = RecipeInputs {
                dockerfile: "Dockerfile",
                build_args: &none,
                labels: &none,
                secrets: &BTreeMap::new(),
            };
            recipe_digest(&root, &list, &recipe).unwrap()
        });
        assert!(digest.starts_with("sha256:"));
    }

    #[test]
    fn a_device_counts_in_the_recipe_by_its_numbers() {
        let dir = tempfile::tempdir().unwrap();
        // Never touched on disk: a device is recorded from its kind.
        let list = vec![Entry {
            path: "dev/null".to_string(),
            kind: Kind::CharDevice { major: 1, minor: 3 },
        }];
        let none = BTreeMap::new();
        let inputs = RecipeInputs {
            dockerfile: "Dockerfile",
            build_args: &none,
            labels: &none,
            secrets: &BTreeMap::new(),
        };
        let mut other = list.clone();
        other[0].kind = Kind::CharDevice { major: 1, minor: 5 };
        assert_ne!(
            recipe_digest(dir.path(), &list, &inputs).unwrap(),
            recipe_digest(dir.path(), &other, &inputs).unwrap(),
            "a device's numbers count"
        );
        assert_eq!(device_numbers(0x0103), (1, 3));
        // glibc's makedev(259, 261): minor bits above 8 sit at bit 20.
        assert_eq!(device_numbers(0x11_0305), (259, 261));
    }

    #[test]
    fn a_context_shared_by_many_images_is_hashed_once_per_run() {
        let dir = tree();
        let labels = BTreeMap::new();
        let recipes = Recipes::default();
        let mut digests = std::collections::BTreeSet::new();
        for i in 0..50 {
            let args = BTreeMap::from([("N".to_string(), i.to_string())]);
            let inputs = RecipeInputs {
                dockerfile: "Dockerfile",
                build_args: &args,
                labels: &labels,
                secrets: &BTreeMap::new(),
            };
            let (recipe, entries) = recipes.recipe(dir.path(), &inputs).unwrap();
            let alone = recipe_digest(dir.path(), &entries, &inputs).unwrap();
            assert_eq!(recipe.digest, alone, "the cached recipe is the recipe");
            digests.insert(recipe.digest);
        }
        assert_eq!(digests.len(), 50, "build args still count per image");
        assert_eq!(recipes.contexts_hashed(), 1);
        let other = RecipeInputs {
            dockerfile: "Dockerfile.other",
            build_args: &labels,
            labels: &labels,
            secrets: &BTreeMap::new(),
        };
        let listed = recipes.entries(dir.path(), "Dockerfile.other").unwrap();
        assert_eq!(recipes.contexts_hashed(), 1, "listing reads no file");
        assert!(
            matches!(
                recipes.ready(dir.path(), &other, false),
                Some(Ok((None, _)))
            ),
            "listed already"
        );
        assert!(
            recipes.ready(dir.path(), &other, true).is_none(),
            "not hashed yet"
        );
        let (_, entries) = recipes.recipe(dir.path(), &other).unwrap();
        assert_eq!(entries, listed, "listed once");
        assert_eq!(
            recipes.contexts_hashed(),
            2,
            "another Dockerfile is another context"
        );
        assert_eq!(
            lock(&recipes.files).len(),
            4,
            "the files both contexts share were read once"
        );
    }
}

#[cfg(test)]
mod ignore_file_tests {
    use super::*;

    #[test]
    fn an_ignore_file_that_is_a_fifo_is_refused_not_waited_on() {
        let context = tempfile::tempdir().unwrap();
        let fifo = context.path().join(DOCKERIGNORE);
        let name = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
        let directory = context.path().to_path_buf();
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let loaded = load_ignore_for(&directory, "Dockerfile").map(|_| ());
            let _ = sender.send(loaded.map_err(|error| format!("{error:#}: {:?}", error)));
        });
        let loaded = receiver
            .recv_timeout(std::time::Duration::from_secs(5))
            .expect("reading a FIFO .dockerignore returned within 5 seconds");
        let message = loaded.unwrap_err();
        assert!(
            message.contains("is not a regular file (it is a FIFO)"),
            "{message}"
        );
        // None at all is nothing ignored.
        std::fs::remove_file(&fifo).unwrap();
        assert!(load_ignore(context.path()).is_ok());
    }
}
