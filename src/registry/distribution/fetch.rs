//! Reading manifests and config blobs: HEAD for where a tag points, GET
//! with every manifest media type accepted, the content checked against
//! the digest asked for and the one announced, an index resolved to its
//! platform's image manifest. Manifests are kept by digest in memory for
//! the run and, with the on-disk cache, across runs (configs too); a tag
//! is resolved with a HEAD each time, never cached.

use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, StatusCode};

use super::manifest::{Document, Manifest};
use super::wire::*;
use super::{Distribution, MANIFEST_LIMIT};
use crate::name::Digest;
use crate::reference::Reference;
use crate::registry::blob_cache::Kind;
use crate::registry::RegistryError;

const CONFIG_LIMIT: usize = 8 * 1024 * 1024;
/// Manifests kept by digest; the cache is emptied when it is full.
const CACHED_MANIFESTS: usize = 256;

/// What a HEAD of a manifest said.
pub(super) enum Head {
    Missing,
    Digest(Digest),
    /// Found, but without a `Docker-Content-Digest` header.
    Unannounced,
}

impl Distribution {
    /// A manifest; one fetched by digest is answered from the cache after
    /// the first time.
    pub(super) async fn manifest(
        &self,
        reference: &Reference,
        action: &str,
    ) -> Result<Option<Manifest>, RegistryError> {
        let host = reference.registry();
        let Some(digest) = reference.digest() else {
            // A tag moves: its digest is asked each time, its content is not.
            if self.disk.is_none() {
                let fetched = self.fetch_manifest(reference, action).await?;
                if let Some(manifest) = &fetched {
                    // Kept by the digest it hashes to, like one asked by
                    // digest: the index check of the same build reads it.
                    let key = format!("{host}/{}@{}", reference.registry_path(), manifest.digest);
                    self.keep(host, key, manifest)?;
                }
                return Ok(fetched);
            }
            return match self.head_digest(reference, action).await? {
                Head::Missing => Ok(None),
                Head::Digest(digest) => {
                    Box::pin(self.manifest(&reference.with_digest(&digest), action)).await
                }
                Head::Unannounced => self.fetch_manifest(reference, action).await,
            };
        };
        let key = format!("{host}/{}@{digest}", reference.registry_path());
        {
            let cache = self.manifests.lock().map_err(|_| poisoned(host))?;
            if let Some(manifest) = cache.get(&key) {
                return Ok(Some(manifest.clone()));
            }
        }
        let on_disk = self.disk.as_ref().and_then(|disk| {
            let (media_type, bytes) = disk.get(Kind::Manifest, digest)?;
            Some(Manifest {
                bytes,
                media_type,
                digest: digest.clone(),
            })
        });
        let found = match on_disk {
            Some(manifest) => Some(manifest),
            None => {
                let fetched = self.fetch_manifest(reference, action).await?;
                if let (Some(disk), Some(manifest)) = (&self.disk, &fetched) {
                    disk.put(
                        Kind::Manifest,
                        digest,
                        &manifest.media_type,
                        &manifest.bytes,
                    );
                }
                fetched
            }
        };
        if let Some(manifest) = &found {
            self.keep(host, key, manifest)?;
        }
        Ok(found)
    }

    /// Keeps `manifest` in memory under `key` (`host/path@digest`).
    fn keep(&self, host: &str, key: String, manifest: &Manifest) -> Result<(), RegistryError> {
        let mut cache = self.manifests.lock().map_err(|_| poisoned(host))?;
        if cache.len() >= CACHED_MANIFESTS {
            cache.clear();
        }
        cache.insert(key, manifest.clone());
        Ok(())
    }

    /// Where the tag (or digest) `reference` points now, with a HEAD.
    pub(super) async fn head_digest(
        &self,
        reference: &Reference,
        action: &str,
    ) -> Result<Head, RegistryError> {
        let path = manifest_path(reference);
        let repository = reference.repository_name();
        let response = self
            .send(
                Method::HEAD,
                &repository,
                &path,
                accept_manifests(),
                None,
                action,
            )
            .await?;
        let status = response.status();
        if status == StatusCode::NOT_FOUND {
            return Ok(Head::Missing);
        }
        if !status.is_success() {
            return Err(status_error(reference.registry(), action, status, &[]));
        }
        let announced = header(&response, "docker-content-digest");
        Ok(
            match announced.and_then(|digest| Digest::parse(&digest).ok()) {
                Some(digest) => Head::Digest(digest),
                None => Head::Unannounced,
            },
        )
    }

    /// GETs the manifest `reference` names (`None`: not found); its digest
    /// is what its bytes hash to, and a registry that names another one
    /// for it is not trusted.
    pub(super) async fn fetch_manifest(
        &self,
        reference: &Reference,
        action: &str,
    ) -> Result<Option<Manifest>, RegistryError> {
        let path = manifest_path(reference);
        let repository = reference.repository_name();
        let response = self
            .send(
                Method::GET,
                &repository,
                &path,
                accept_manifests(),
                None,
                action,
            )
            .await?;
        let host = reference.registry();
        let status = response.status();
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let media_type = header(&response, CONTENT_TYPE.as_str()).unwrap_or_default();
        let header_digest = header(&response, "docker-content-digest");
        let bytes = read_capped(response, MANIFEST_LIMIT, host, action).await?;
        if !status.is_success() {
            return Err(status_error(host, action, status, &bytes));
        }
        // The digest is what the bytes hash to; a registry that says
        // otherwise is not trusted.
        let digest = Digest::of(&bytes);
        for (what, claimed) in [
            ("requested", reference.digest().map(Digest::to_string)),
            ("announced", header_digest),
        ] {
            if let Some(claimed) = claimed.filter(|claimed| digest != claimed.as_str()) {
                return Err(invalid(
                    host,
                    action,
                    format!("manifest content has digest {digest}, not the {what} {claimed}"),
                ));
            }
        }
        Ok(Some(Manifest {
            bytes,
            media_type,
            digest,
        }))
    }

    /// The image manifest `reference` names: for an index, the one of its
    /// platform (linux/amd64, else the first).
    pub(super) async fn image_manifest(
        &self,
        reference: &Reference,
        action: &str,
    ) -> Result<(Digest, Document), RegistryError> {
        let host = reference.registry();
        let parse = |manifest: &Manifest| {
            Document::parse(&manifest.bytes).map_err(|e| invalid(host, action, e.to_string()))
        };
        let top = self
            .manifest(reference, action)
            .await?
            .ok_or_else(|| invalid(host, action, "the manifest does not exist".to_string()))?;
        let document = parse(&top)?;
        let Some(child) = document.platform_manifest() else {
            return Ok((top.digest, document));
        };
        let missing = || {
            let named = child.digest.as_deref().unwrap_or_default();
            invalid(
                host,
                action,
                format!("manifest {named} of the index does not exist"),
            )
        };
        let child = child.valid_digest().ok_or_else(missing)?;
        let manifest = self
            .manifest(&reference.with_digest(&child), action)
            .await?
            .ok_or_else(missing)?;
        Ok((top.digest, parse(&manifest)?))
    }

    /// The config blob `digest` of `reference`'s repository, verified.
    pub(super) async fn config_blob(
        &self,
        reference: &Reference,
        digest: &Digest,
        action: &str,
    ) -> Result<Vec<u8>, RegistryError> {
        let host = reference.registry();
        let path = format!("/v2/{}/blobs/{digest}", reference.registry_path());
        let response = self
            .get(&reference.repository_name(), &path, action)
            .await?;
        let status = response.status();
        let blob = read_capped(response, CONFIG_LIMIT, host, action).await?;
        if !status.is_success() {
            return Err(status_error(host, action, status, &blob));
        }
        if Digest::of(&blob) != *digest {
            return Err(invalid(
                host,
                action,
                format!("config blob does not match its digest {digest}"),
            ));
        }
        Ok(blob)
    }
}
