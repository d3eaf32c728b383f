//! An in-memory registry for unit tests: tags by repository, image configs
//! by digest, and a log of every tag move and delete.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::index::{Index, NewIndex};
use crate::name::{Digest, Repository, Tag};
use crate::reference::Reference;
use crate::registry::{ImageConfig, ManifestInfo, Registry, RegistryError};

/// A valid digest for a test: `short` (hex digits) padded with zeros, so
/// `digest("a1")` reads as `sha256:a1000…`.
pub fn digest(short: &str) -> Digest {
    Digest::parse(&format!("sha256:{short:0<64}")).expect("a test digest is hex")
}

pub struct FakeRegistry {
    /// repository -> tag -> digest
    pub tags: Mutex<BTreeMap<String, BTreeMap<String, Digest>>>,
    pub calls: Mutex<Vec<String>>,
    /// What `image_config` answers, by manifest digest.
    pub configs: Mutex<BTreeMap<Digest, ImageConfig>>,
    /// Whether deletes are enabled, as `storage.delete.enabled`.
    pub deletes: bool,
    /// Index digest -> the manifests it names.
    pub indexes: Mutex<BTreeMap<Digest, Vec<Digest>>>,
    /// The references `manifest_digest` was asked for (HEADs), in order.
    pub heads: Mutex<Vec<String>>,
    /// What `index` answers, by manifest digest (none: a single image).
    pub documents: Mutex<BTreeMap<Digest, Index>>,
}

impl Default for FakeRegistry {
    fn default() -> Self {
        FakeRegistry {
            tags: Mutex::default(),
            calls: Mutex::default(),
            configs: Mutex::default(),
            deletes: true,
            indexes: Mutex::default(),
            heads: Mutex::default(),
            documents: Mutex::default(),
        }
    }
}

impl FakeRegistry {
    /// Tags `repository:tag` with `digest` (a valid one).
    pub fn put(&self, repository: &str, tag: &str, digest: impl AsRef<str>) {
        let digest = Digest::parse(digest.as_ref()).expect("a test digest is valid");
        self.tags
            .lock()
            .unwrap()
            .entry(repository.to_string())
            .or_default()
            .insert(tag.to_string(), digest);
    }

    /// The digest `repository:tag` points at, as text.
    pub fn get(&self, repository: &str, tag: &str) -> Option<String> {
        self.lookup(repository, tag)
            .map(|digest| digest.to_string())
    }

    fn lookup(&self, repository: &str, tag: &str) -> Option<Digest> {
        self.tags
            .lock()
            .unwrap()
            .get(repository)
            .and_then(|tags| tags.get(tag).cloned())
    }
}

#[async_trait]
impl Registry for FakeRegistry {
    async fn check(&self, _: &Repository) -> Result<(), RegistryError> {
        Ok(())
    }
    async fn tags(&self, repository: &Repository) -> Result<Vec<String>, RegistryError> {
        Ok(self
            .tags
            .lock()
            .unwrap()
            .get(&repository.to_string())
            .map(|t| t.keys().cloned().collect())
            .unwrap_or_default())
    }
    async fn manifest_digest(
        &self,
        reference: &Reference,
    ) -> Result<Option<Digest>, RegistryError> {
        self.heads.lock().unwrap().push(reference.to_string());
        if let Some(digest) = reference.digest() {
            // A manifest is there while a tag holds it.
            let tags = self.tags.lock().unwrap();
            let held = tags
                .get(&reference.repository())
                .is_some_and(|tags| tags.values().any(|held| held == digest));
            return Ok(held.then(|| digest.clone()));
        }
        Ok(self.lookup(&reference.repository(), reference.tag().unwrap_or("latest")))
    }
    async fn image_config(&self, reference: &Reference) -> Result<ImageConfig, RegistryError> {
        let digest = match reference.digest() {
            Some(digest) => Some(digest.clone()),
            None => self.lookup(&reference.repository(), reference.tag().unwrap_or("latest")),
        };
        let Some(digest) = digest else {
            return Ok(ImageConfig::empty(self::digest("0")));
        };
        let mut config = self
            .configs
            .lock()
            .unwrap()
            .get(&digest)
            .cloned()
            .unwrap_or_else(|| ImageConfig::empty(digest.clone()));
        config.digest = digest;
        Ok(config)
    }
    async fn index_children(&self, reference: &Reference) -> Result<Vec<Digest>, RegistryError> {
        let digest = match reference.digest() {
            Some(digest) => Some(digest.clone()),
            None => self.lookup(&reference.repository(), reference.tag().unwrap_or("latest")),
        };
        Ok(digest
            .and_then(|digest| self.indexes.lock().unwrap().get(&digest).cloned())
            .unwrap_or_default())
    }
    async fn index(&self, reference: &Reference) -> Result<Option<Index>, RegistryError> {
        let digest = match reference.digest() {
            Some(digest) => Some(digest.clone()),
            None => self.lookup(&reference.repository(), reference.tag().unwrap_or("latest")),
        };
        Ok(digest.and_then(|digest| self.documents.lock().unwrap().get(&digest).cloned()))
    }
    async fn manifest_info(
        &self,
        reference: &Reference,
    ) -> Result<Option<ManifestInfo>, RegistryError> {
        let digest = match reference.digest() {
            Some(digest) => Some(digest.clone()),
            None => self.lookup(&reference.repository(), reference.tag().unwrap_or("latest")),
        };
        Ok(digest.map(|digest| ManifestInfo {
            media_type: crate::index::IndexFormat::Docker
                .child_media_type()
                .to_string(),
            digest,
            size: 0,
        }))
    }
    async fn put_index(
        &self,
        repository: &Repository,
        tag: &Tag,
        index: &NewIndex,
    ) -> Result<Digest, RegistryError> {
        let digest = Digest::parse(&index.digest).expect("a new index has a valid digest");
        self.calls
            .lock()
            .unwrap()
            .push(format!("put index {repository}:{tag} -> {digest}"));
        self.put(&repository.to_string(), tag.as_str(), digest.as_str());
        Ok(digest)
    }
    async fn copy_tag(
        &self,
        repository: &Repository,
        digest: &Digest,
        tag: &Tag,
    ) -> Result<(), RegistryError> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("copy {repository}:{tag} -> {digest}"));
        self.put(&repository.to_string(), tag.as_str(), digest);
        Ok(())
    }
    async fn delete_manifest(
        &self,
        repository: &Repository,
        digest: &Digest,
    ) -> Result<(), RegistryError> {
        let name = repository.to_string();
        self.calls
            .lock()
            .unwrap()
            .push(format!("delete {name}@{digest}"));
        if !self.deletes {
            return Err(RegistryError::Status {
                registry: repository.registry().to_string(),
                action: format!("delete `{}`", repository.digest(digest)),
                status: 405,
                detail: "UNSUPPORTED".to_string(),
            });
        }
        if let Some(tags) = self.tags.lock().unwrap().get_mut(&name) {
            tags.retain(|_, target| target != digest);
        }
        Ok(())
    }
}

/// The machine's files, for the core's own tests, which build real
/// directories (contexts, Dockerfiles, webhook files) in temporary ones
/// or read the workspace's fixtures: a relative path is the workspace
/// root's (`tests/fixtures/config/...`, as the snapshots show it). The
/// binary hands in its own reader (`regular_file::Disk`); no production
/// code of the core reads a file.
#[cfg(test)]
#[allow(clippy::disallowed_methods, clippy::disallowed_types)]
pub(crate) struct TestDisk;

#[cfg(test)]
#[allow(clippy::disallowed_methods, clippy::disallowed_types)]
impl crate::files::Files for TestDisk {
    fn stat(&self, path: &std::path::Path) -> crate::files::Stat {
        use crate::files::Stat;
        use std::os::unix::fs::{FileTypeExt, PermissionsExt};
        match std::fs::metadata(workspace(path)) {
            Ok(metadata) if metadata.is_file() => Stat::File {
                mode: metadata.permissions().mode(),
            },
            Ok(metadata) if metadata.is_dir() => Stat::Directory,
            Ok(metadata) if metadata.file_type().is_fifo() => Stat::Other { kind: "a FIFO" },
            Ok(metadata) if metadata.file_type().is_char_device() => Stat::Other {
                kind: "a character device",
            },
            Ok(_) => Stat::Other {
                kind: "a special file",
            },
            Err(error) if error.raw_os_error() == Some(40) => Stat::SymlinkLoop,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Stat::Missing,
            Err(error) => Stat::Unreadable(error.to_string()),
        }
    }

    fn read_text(
        &self,
        path: &std::path::Path,
        limit: u64,
    ) -> Result<String, crate::files::RegularFileError> {
        use crate::files::RegularFileError;
        match self.stat(path) {
            crate::files::Stat::File { .. } => {}
            crate::files::Stat::Missing => return Err(RegularFileError::Missing),
            crate::files::Stat::Other { kind } => {
                return Err(RegularFileError::NotRegular { kind })
            }
            crate::files::Stat::Directory => {
                return Err(RegularFileError::NotRegular {
                    kind: "a directory",
                })
            }
            _ => return Err(RegularFileError::SymlinkLoop),
        }
        let bytes = std::fs::read(workspace(path)).map_err(RegularFileError::Io)?;
        if bytes.len() as u64 > limit {
            return Err(RegularFileError::TooLarge { limit });
        }
        String::from_utf8(bytes).map_err(|_| RegularFileError::NotUtf8)
    }

    fn env(&self, name: &str) -> Option<std::ffi::OsString> {
        std::env::var_os(name)
    }
}

/// `path`, relative ones taken from the workspace root.
#[cfg(test)]
fn workspace(path: &std::path::Path) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

/// Files held in memory: a config's Dockerfiles and contexts without a
/// disk, for the benchmark, the fuzz targets and tests. A directory
/// exists when a file below it does or it was added; nothing else does.
#[derive(Debug, Default, Clone)]
pub struct MemoryFiles {
    files: std::collections::BTreeMap<std::path::PathBuf, String>,
    directories: std::collections::BTreeSet<std::path::PathBuf>,
    env: std::collections::BTreeMap<String, std::ffi::OsString>,
}

impl MemoryFiles {
    /// No files, no environment.
    pub fn new() -> MemoryFiles {
        MemoryFiles::default()
    }

    /// Adds the regular file `path` holding `text`, and its directories.
    pub fn file(&mut self, path: impl Into<std::path::PathBuf>, text: impl Into<String>) {
        let path = path.into();
        for ancestor in path.ancestors().skip(1) {
            self.directories.insert(ancestor.to_path_buf());
        }
        self.files.insert(path, text.into());
    }

    /// Sets the environment variable `name`.
    pub fn env_var(&mut self, name: &str, value: &str) {
        self.env.insert(name.to_string(), value.into());
    }
}

impl crate::files::Files for MemoryFiles {
    fn stat(&self, path: &std::path::Path) -> crate::files::Stat {
        if self.files.contains_key(path) {
            crate::files::Stat::File { mode: 0o600 }
        } else if self.directories.contains(path) {
            crate::files::Stat::Directory
        } else {
            crate::files::Stat::Missing
        }
    }

    fn read_text(
        &self,
        path: &std::path::Path,
        limit: u64,
    ) -> Result<String, crate::files::RegularFileError> {
        use crate::files::RegularFileError;
        match self.files.get(path) {
            Some(text) if text.len() as u64 > limit => Err(RegularFileError::TooLarge { limit }),
            Some(text) => Ok(text.clone()),
            None if self.directories.contains(path) => Err(RegularFileError::NotRegular {
                kind: "a directory",
            }),
            None => Err(RegularFileError::Missing),
        }
    }

    fn env(&self, name: &str) -> Option<std::ffi::OsString> {
        self.env.get(name).cloned()
    }
}
