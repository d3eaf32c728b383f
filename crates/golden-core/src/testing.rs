//! In-memory fakes of the ports for unit tests (feature `testing`): a
//! registry (tags by repository, image configs by digest, a log of every
//! tag move and delete), an engine that builds into it and records every
//! call, and files held in memory.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::config::SmokeTest;
use crate::engine::{BuildRequest, Engine, EngineError, OnStep};
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
    /// Blobs and manifests stored whole (artifacts), by digest.
    pub stored: Mutex<BTreeMap<Digest, Vec<u8>>>,
    /// Whether it keeps the referrers API (indexing each manifest PUT with
    /// a `subject`), as registries past distribution 3 may.
    pub referrers_api: bool,
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
            stored: Mutex::default(),
            referrers_api: false,
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

    async fn put_blob(
        &self,
        repository: &Repository,
        bytes: Vec<u8>,
    ) -> Result<Digest, RegistryError> {
        let digest = Digest::of(&bytes);
        self.calls
            .lock()
            .unwrap()
            .push(format!("put blob {repository}@{digest}"));
        self.stored.lock().unwrap().insert(digest.clone(), bytes);
        Ok(digest)
    }
    async fn put_manifest_bytes(
        &self,
        repository: &Repository,
        tag: &Tag,
        _media_type: &str,
        bytes: Vec<u8>,
    ) -> Result<Digest, RegistryError> {
        let digest = Digest::of(&bytes);
        self.calls
            .lock()
            .unwrap()
            .push(format!("put manifest {repository}:{tag} -> {digest}"));
        self.stored.lock().unwrap().insert(digest.clone(), bytes);
        self.put(&repository.to_string(), tag.as_str(), digest.as_str());
        Ok(digest)
    }
    async fn put_manifest_by_digest(
        &self,
        repository: &Repository,
        _media_type: &str,
        bytes: Vec<u8>,
    ) -> Result<(Digest, bool), RegistryError> {
        let digest = Digest::of(&bytes);
        self.calls
            .lock()
            .unwrap()
            .push(format!("put manifest {repository}@{digest}"));
        self.stored.lock().unwrap().insert(digest.clone(), bytes);
        Ok((digest, self.referrers_api))
    }
    async fn referrers_api(
        &self,
        _repository: &Repository,
        digest: &Digest,
    ) -> Result<Option<Vec<u8>>, RegistryError> {
        if !self.referrers_api {
            return Ok(None);
        }
        let manifests: Vec<serde_json::Value> = self
            .stored
            .lock()
            .unwrap()
            .iter()
            .filter_map(|(stored, bytes)| {
                let manifest: serde_json::Value = serde_json::from_slice(bytes).ok()?;
                (manifest["subject"]["digest"].as_str() == Some(digest.as_str())).then(|| {
                    serde_json::json!({
                        "mediaType": manifest["mediaType"],
                        "digest": stored.to_string(),
                        "size": bytes.len(),
                        "artifactType": manifest["artifactType"],
                        "annotations": manifest.get("annotations").cloned().unwrap_or_default(),
                    })
                })
            })
            .collect();
        Ok(Some(
            serde_json::to_vec(&serde_json::json!({ "schemaVersion": 2, "manifests": manifests }))
                .expect("JSON"),
        ))
    }
    async fn blob(
        &self,
        repository: &Repository,
        digest: &Digest,
    ) -> Result<Vec<u8>, RegistryError> {
        self.stored
            .lock()
            .unwrap()
            .get(digest)
            .cloned()
            .ok_or_else(|| RegistryError::Invalid {
                registry: repository.registry().to_string(),
                action: format!("read the blob {digest}"),
                message: "not stored".to_string(),
            })
    }
    async fn layer_facts(
        &self,
        _repository: &Repository,
        _digest: &Digest,
    ) -> Result<crate::sbom::LayerFacts, RegistryError> {
        // The fake's images hold no files.
        Ok(crate::sbom::LayerFacts::default())
    }
    async fn manifest_bytes(
        &self,
        reference: &Reference,
    ) -> Result<Option<Vec<u8>>, RegistryError> {
        let digest = match reference.digest() {
            Some(digest) => Some(digest.clone()),
            None => self.lookup(&reference.repository(), reference.tag().unwrap_or("latest")),
        };
        Ok(digest.and_then(|digest| self.stored.lock().unwrap().get(&digest).cloned()))
    }
}

/// The machine's files, for the core's own tests, which build real
/// directories (contexts, Dockerfiles, webhook files) in temporary ones
/// or read the workspace's fixtures: a relative path is the workspace
/// root's (`tests/fixtures/config/...`, as the snapshots show it). The
/// binary hands in its own reader (`regular_file::Disk`); no production
/// code of the core reads a file.
#[cfg(test)]
pub(crate) struct TestDisk;

#[cfg(test)]
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

/// An engine that builds, tests and pushes in memory (into a
/// [`FakeRegistry`]), records every call, and fails or dies where told.
pub struct FakeEngine {
    pub registry: Arc<FakeRegistry>,
    pub failing_builds: BTreeSet<String>,
    pub failing_tests: BTreeSet<String>,
    pub failing_pushes: BTreeSet<String>,
    pub calls: Mutex<Vec<String>>,
    /// Local tags removed, in order.
    pub removed: Mutex<Vec<String>>,
    /// Builds running now and the most seen at once.
    pub running: std::sync::atomic::AtomicUsize,
    pub most: std::sync::atomic::AtomicUsize,
    /// Building one of these images kills the engine: the build fails and
    /// it answers no more.
    pub lose_on: BTreeSet<String>,
    /// Pushing one of these images (by path) kills the engine mid-push.
    pub lose_on_push: BTreeSet<String>,
    /// With `lose_on_push`: the engine dies after the registry took the
    /// manifest (a push cut short after its first platform image).
    pub half_push: bool,
    pub lost: std::sync::atomic::AtomicBool,
    /// Builds of these images fail this many more times because a cached
    /// image they chose was removed meanwhile.
    pub vanishing: Mutex<std::collections::BTreeMap<String, usize>>,
}

impl FakeEngine {
    /// An engine that builds, tests and pushes everything into `registry`.
    pub fn new(registry: Arc<FakeRegistry>) -> FakeEngine {
        FakeEngine {
            registry,
            failing_builds: BTreeSet::new(),
            failing_tests: BTreeSet::new(),
            failing_pushes: BTreeSet::new(),
            calls: Mutex::new(Vec::new()),
            removed: Mutex::new(Vec::new()),
            running: Default::default(),
            most: Default::default(),
            lose_on: BTreeSet::new(),
            lose_on_push: BTreeSet::new(),
            half_push: false,
            lost: Default::default(),
            vanishing: Default::default(),
        }
    }
}

#[async_trait]
impl Engine for FakeEngine {
    async fn build(&self, request: BuildRequest, on_step: OnStep) -> Result<String, EngineError> {
        use std::sync::atomic::Ordering::SeqCst;
        let base_label = request
            .labels
            .get(crate::labels::BASE_DIGEST)
            .cloned()
            .unwrap_or_default();
        self.calls
            .lock()
            .unwrap()
            .push(format!("build {} on {base_label}", request.tag));
        on_step("Step 1/1 : RUN true");
        let now = self.running.fetch_add(1, SeqCst) + 1;
        self.most.fetch_max(now, SeqCst);
        pause(std::time::Duration::from_millis(20)).await;
        self.running.fetch_sub(1, SeqCst);
        if self.lose_on.contains(&request.image) {
            self.lost.store(true, SeqCst);
            return Err(EngineError::Api {
                action: "build".into(),
                message: "connection reset by peer".into(),
            });
        }
        if let Some(left) = self.vanishing.lock().unwrap().get_mut(&request.image) {
            if *left > 0 {
                *left -= 1;
                return Err(EngineError::BuildFailed {
                    image: request.image,
                    step: Some("Step 2/3 : COPY motd /etc/motd".into()),
                    message: "unable to find image \"sha256:5293c25821235fb45b278d8d600c481d2c54780bf44789eeefb79155b78e04b3\"".into(),
                    tail: vec![],
                });
            }
        }
        if self.failing_builds.contains(&request.image) {
            return Err(EngineError::BuildFailed {
                image: request.image,
                step: Some("Step 2/2 : RUN false".into()),
                message: "exit 1".into(),
                tail: vec![],
            });
        }
        Ok(format!("image-{}", request.tag))
    }
    async fn test(&self, image: &str, test: &SmokeTest) -> Result<(), EngineError> {
        self.calls.lock().unwrap().push(format!("test {image}"));
        if self
            .failing_tests
            .iter()
            .any(|name| image.contains(&format!("/{name}:")))
        {
            return Err(EngineError::TestFailed {
                image: image.into(),
                command: test.command.join(" "),
                outcome: "exited with code 1".into(),
                output: vec![],
            });
        }
        Ok(())
    }

    async fn local_tags(&self, repository: &Reference) -> Result<Vec<String>, EngineError> {
        let prefix = format!("{}:", repository.repository());
        let removed = self.removed.lock().unwrap().clone();
        Ok(self
            .calls
            .lock()
            .unwrap()
            .iter()
            .filter_map(|call| call.strip_prefix("build "))
            .filter_map(|built| built.split(" on ").next())
            .filter(|tag| !removed.iter().any(|r| r == tag))
            .filter_map(|tag| tag.strip_prefix(&prefix).map(str::to_string))
            .collect())
    }

    async fn tag_local(&self, image: &str, target: &Reference) -> Result<(), EngineError> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("tag {image} as {target}"));
        Ok(())
    }

    async fn remove_local(&self, reference: &Reference) -> Result<(), EngineError> {
        self.removed.lock().unwrap().push(reference.to_string());
        Ok(())
    }

    async fn image_env(&self, image: &str) -> Result<Vec<String>, EngineError> {
        self.calls.lock().unwrap().push(format!("inspect {image}"));
        Ok(Vec::new())
    }

    async fn alive(&self) -> bool {
        !self.lost.load(std::sync::atomic::Ordering::SeqCst)
    }

    async fn push(&self, reference: &Reference) -> Result<String, EngineError> {
        self.calls.lock().unwrap().push(format!("push {reference}"));
        if self
            .lose_on_push
            .iter()
            .any(|name| reference.path().ends_with(name.as_str()))
        {
            self.lost.store(true, std::sync::atomic::Ordering::SeqCst);
            if self.half_push {
                self.registry.put(
                    &reference.repository(),
                    reference.tag().unwrap_or_default(),
                    "sha256:4a00000000000000000000000000000000000000000000000000000000000000",
                );
            }
            return Err(EngineError::PushFailed {
                reference: reference.to_string(),
                message: "error reading a body from connection".into(),
            });
        }
        if self
            .failing_pushes
            .iter()
            .any(|name| reference.path().ends_with(name.as_str()))
        {
            return Err(EngineError::PushFailed {
                reference: reference.to_string(),
                message: "connection reset".into(),
            });
        }
        // `1.0.3-r2` -> sha256:103f2000...: hex, one per tag.
        let digest = format!(
            "sha256:{:0<64}",
            reference
                .tag()
                .unwrap_or_default()
                .replace('.', "")
                .replace("-r", "f")
        );
        self.registry.put(
            &reference.repository(),
            reference.tag().unwrap_or_default(),
            &digest,
        );
        Ok(digest)
    }
}

/// Waits `duration` without a runtime's timer (the core names no
/// runtime): a thread sleeps, then wakes the future.
#[allow(clippy::disallowed_methods)]
async fn pause(duration: std::time::Duration) {
    let (sender, receiver) = futures::channel::oneshot::channel();
    std::thread::spawn(move || {
        std::thread::sleep(duration);
        let _ = sender.send(());
    });
    let _ = receiver.await;
}
