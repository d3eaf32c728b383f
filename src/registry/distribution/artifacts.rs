//! Artifacts beside a build (signatures): a blob uploaded whole (a POST
//! for an upload session, then one PUT with its digest, as the
//! distribution API's monolithic upload goes), a manifest PUT as given,
//! and both read back whole.

use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE, LOCATION};
use reqwest::Method;

use super::wire::*;
use super::{Distribution, MANIFEST_LIMIT};
use crate::name::{Digest, Repository, Tag};
use crate::reference::Reference;
use crate::registry::RegistryError;

impl Distribution {
    pub(super) async fn upload_blob(
        &self,
        repository: &Repository,
        bytes: Vec<u8>,
    ) -> Result<Digest, RegistryError> {
        let digest = Digest::of(&bytes);
        let action = format!("upload the blob {digest} to `{repository}`");
        let host = repository.registry();
        let start = format!("/v2/{}/blobs/uploads/", repository.path());
        let response = self
            .send(
                Method::POST,
                repository,
                &start,
                HeaderMap::new(),
                Some(Vec::new()),
                &action,
            )
            .await?;
        let answered = written(response, Method::POST, host, &action).await?;
        let location = header_value(answered.get(LOCATION));
        let path = upload_path(location, host, &action)?;
        let separator = if path.contains('?') { '&' } else { '?' };
        let finish = format!("{path}{separator}digest={digest}");
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        let response = self
            .send(
                Method::PUT,
                repository,
                &finish,
                headers,
                Some(bytes),
                &action,
            )
            .await?;
        written(response, Method::PUT, host, &action).await?;
        Ok(digest)
    }

    pub(super) async fn put_manifest_whole(
        &self,
        repository: &Repository,
        tag: &Tag,
        media_type: &str,
        bytes: Vec<u8>,
    ) -> Result<Digest, RegistryError> {
        let digest = Digest::of(&bytes);
        let action = format!("put the manifest `{repository}:{tag}`");
        self.put_manifest(repository, tag, media_type, bytes, &digest, &action)
            .await?;
        Ok(digest)
    }

    pub(super) async fn read_blob(
        &self,
        repository: &Repository,
        digest: &Digest,
    ) -> Result<Vec<u8>, RegistryError> {
        let action = format!("read the blob {digest} of `{repository}`");
        self.config_blob(&repository.digest(digest), digest, &action)
            .await
    }

    pub(super) async fn read_manifest(
        &self,
        reference: &Reference,
    ) -> Result<Option<Vec<u8>>, RegistryError> {
        let action = format!("read the manifest `{reference}`");
        Ok(self
            .manifest(reference, &action)
            .await?
            .map(|manifest| manifest.bytes))
    }
}

impl Distribution {
    /// PUTs an artifact manifest by its digest; whether the registry
    /// answered `OCI-Subject` (it indexed the subject itself).
    pub(super) async fn put_manifest_digest(
        &self,
        repository: &Repository,
        media_type: &str,
        bytes: Vec<u8>,
    ) -> Result<(Digest, bool), RegistryError> {
        let digest = Digest::of(&bytes);
        let action = format!("put the artifact manifest {digest} to `{repository}`");
        let host = repository.registry();
        let mut headers = HeaderMap::new();
        let content_type =
            HeaderValue::from_str(media_type).map_err(|e| invalid(host, &action, e.to_string()))?;
        headers.insert(CONTENT_TYPE, content_type);
        let path = format!("/v2/{}/manifests/{digest}", repository.path());
        let response = self
            .send(
                Method::PUT,
                repository,
                &path,
                headers,
                Some(bytes),
                &action,
            )
            .await?;
        let answered = written(response, Method::PUT, host, &action).await?;
        Ok((digest, answered.contains_key("oci-subject")))
    }

    /// The referrers API's index of `digest`, `None` when the registry
    /// has no such API (distribution answers 404 to the path).
    pub(super) async fn read_referrers(
        &self,
        repository: &Repository,
        digest: &Digest,
    ) -> Result<Option<Vec<u8>>, RegistryError> {
        let action = format!("list the artifacts attached to {digest} in `{repository}`");
        let host = repository.registry();
        if self.without_referrers.lock().unwrap().contains(host) {
            return Ok(None);
        }
        let mut headers = HeaderMap::new();
        headers.insert(
            reqwest::header::ACCEPT,
            HeaderValue::from_static(crate::index::OCI_INDEX),
        );
        let path = format!("/v2/{}/referrers/{digest}", repository.path());
        let response = self
            .send(Method::GET, repository, &path, headers, None, &action)
            .await?;
        let status = response.status();
        let json = header(&response, "content-type")
            .is_some_and(|kind| kind.starts_with(crate::index::OCI_INDEX));
        let reply = read_capped(response, MANIFEST_LIMIT, host, &action).await?;
        match status.as_u16() {
            200 if json => Ok(Some(reply)),
            200 | 400 | 404 | 405 | 501 => {
                self.without_referrers
                    .lock()
                    .unwrap()
                    .insert(host.to_string());
                Ok(None)
            }
            _ => Err(status_error(host, &action, status, &reply)),
        }
    }
}

/// The headers of the answer to a write (`method`), once its body is
/// read; the registry's error when it refused.
async fn written(
    response: reqwest::Response,
    method: Method,
    host: &str,
    action: &str,
) -> Result<HeaderMap, RegistryError> {
    let status = response.status();
    let headers = response.headers().clone();
    let reply = read_capped(response, MANIFEST_LIMIT, host, action).await?;
    if !status.is_success() {
        return Err(write_error(host, action, &method, status, None, &reply));
    }
    Ok(headers)
}

/// The path of an upload session from its `Location`: absolute
/// (`http://host/v2/...`) or a path, on this registry either way, never
/// another host.
fn upload_path(
    location: Option<String>,
    host: &str,
    action: &str,
) -> Result<String, RegistryError> {
    let location = location.ok_or_else(|| {
        invalid(
            host,
            action,
            "the upload session has no Location".to_string(),
        )
    })?;
    match location.split_once("://") {
        Some((_, rest)) => match rest.split_once('/') {
            Some((at, path)) if at == host => Ok(format!("/{path}")),
            _ => Err(invalid(
                host,
                action,
                format!("the upload session is on another host: `{location}`"),
            )),
        },
        None => Ok(location),
    }
}

fn header_value(value: Option<&HeaderValue>) -> Option<String> {
    value
        .and_then(|value| value.to_str().ok())
        .map(str::to_string)
}
