//! An in-memory registry for unit tests: tags by repository, image configs
//! by digest, and a log of every tag move and delete.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::reference::Reference;
use crate::registry::{ImageConfig, Registry, RegistryError};

pub struct FakeRegistry {
    /// repository -> tag -> digest
    pub tags: Mutex<BTreeMap<String, BTreeMap<String, String>>>,
    pub calls: Mutex<Vec<String>>,
    /// What `image_config` answers, by manifest digest.
    pub configs: Mutex<BTreeMap<String, ImageConfig>>,
    /// Whether deletes are enabled, as `storage.delete.enabled`.
    pub deletes: bool,
    /// Index digest -> the manifests it names.
    pub indexes: Mutex<BTreeMap<String, Vec<String>>>,
}

impl Default for FakeRegistry {
    fn default() -> Self {
        FakeRegistry {
            tags: Mutex::default(),
            calls: Mutex::default(),
            configs: Mutex::default(),
            deletes: true,
            indexes: Mutex::default(),
        }
    }
}

impl FakeRegistry {
    pub fn put(&self, repository: &str, tag: &str, digest: &str) {
        self.tags
            .lock()
            .unwrap()
            .entry(repository.to_string())
            .or_default()
            .insert(tag.to_string(), digest.to_string());
    }

    pub fn get(&self, repository: &str, tag: &str) -> Option<String> {
        self.tags
            .lock()
            .unwrap()
            .get(repository)
            .and_then(|tags| tags.get(tag).cloned())
    }
}

#[async_trait]
impl Registry for FakeRegistry {
    async fn check(&self, _: &Reference) -> Result<(), RegistryError> {
        Ok(())
    }
    async fn tags(&self, repository: &Reference) -> Result<Vec<String>, RegistryError> {
        Ok(self
            .tags
            .lock()
            .unwrap()
            .get(&repository.repository())
            .map(|t| t.keys().cloned().collect())
            .unwrap_or_default())
    }
    async fn manifest_digest(
        &self,
        reference: &Reference,
    ) -> Result<Option<String>, RegistryError> {
        Ok(self.get(&reference.repository(), reference.tag().unwrap_or("latest")))
    }
    async fn image_config(&self, reference: &Reference) -> Result<ImageConfig, RegistryError> {
        let digest = match reference.digest() {
            Some(digest) => Some(digest.to_string()),
            None => self.get(&reference.repository(), reference.tag().unwrap_or("latest")),
        };
        let Some(digest) = digest else {
            return Ok(ImageConfig::default());
        };
        let mut config = self
            .configs
            .lock()
            .unwrap()
            .get(&digest)
            .cloned()
            .unwrap_or_default();
        config.digest = digest;
        Ok(config)
    }
    async fn index_children(&self, reference: &Reference) -> Result<Vec<String>, RegistryError> {
        let digest = match reference.digest() {
            Some(digest) => Some(digest.to_string()),
            None => self.get(&reference.repository(), reference.tag().unwrap_or("latest")),
        };
        Ok(digest
            .and_then(|digest| self.indexes.lock().unwrap().get(&digest).cloned())
            .unwrap_or_default())
    }
    async fn copy_tag(
        &self,
        repository: &Reference,
        digest: &str,
        tag: &str,
    ) -> Result<(), RegistryError> {
        self.calls.lock().unwrap().push(format!(
            "copy {}:{tag} -> {digest}",
            repository.repository()
        ));
        self.put(&repository.repository(), tag, digest);
        Ok(())
    }
    async fn delete_manifest(
        &self,
        repository: &Reference,
        digest: &str,
    ) -> Result<(), RegistryError> {
        let name = repository.repository();
        self.calls
            .lock()
            .unwrap()
            .push(format!("delete {name}@{digest}"));
        if !self.deletes {
            return Err(RegistryError::Status {
                registry: repository.registry().to_string(),
                action: format!("delete `{}`", repository.with_digest(digest)),
                status: 405,
                detail: "UNSUPPORTED".to_string(),
            });
        }
        if let Some(tags) = self.tags.lock().unwrap().get_mut(&name) {
            tags.retain(|_, target| target != digest);
        }
        Ok(())
    }
    fn requests(&self) -> u64 {
        0
    }
}
