//! The client's memory of tags between runs (the core's `TagMemory`
//! port), kept in its disk cache: tag lists by repository and the
//! manifest of each exact tag. Without a disk cache (`--no-cache-dir`) it
//! remembers nothing.

use golden_core::name::{Digest, Repository};
use golden_core::reference::Reference;
use golden_core::registry::TagMemory;

use super::Distribution;

impl TagMemory for Distribution {
    fn remembered_tags(&self, repository: &Repository) -> Option<Vec<String>> {
        self.disk
            .as_ref()?
            .remembered_tag_list(&repository.to_string())
    }

    fn remember_tags(&self, repository: &Repository, tags: &[String]) {
        if let Some(disk) = &self.disk {
            disk.remember_tag_list(&repository.to_string(), tags);
        }
    }

    fn forget_tags(&self, repository: &Repository) {
        if let Some(disk) = &self.disk {
            disk.forget_tag_list(&repository.to_string());
        }
    }

    fn remembered_exact(&self, reference: &Reference) -> Option<Digest> {
        self.disk.as_ref()?.remembered_tag(&reference.to_string())
    }

    fn remember_exact(&self, reference: &Reference, digest: &Digest) {
        if let Some(disk) = &self.disk {
            disk.remember_tag(&reference.to_string(), digest);
        }
    }

    fn forget_exact(&self, reference: &Reference) {
        if let Some(disk) = &self.disk {
            disk.forget_tag(&reference.to_string());
        }
    }
}
