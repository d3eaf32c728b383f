//! The HTTP adapter of [`Registry`] for the distribution (OCI) API: tag
//! lists with pagination, manifest HEAD/GET with every manifest media type
//! accepted (so registry 2.8 never downgrades to schema 1), config blobs,
//! manifest PUT for registry-side tag moves and manifest DELETE. Bodies are
//! size-capped. The parts: `transport.rs` (clients, scheme, retries, the
//! request count), `auth.rs` (challenges, tokens, basic auth), `fetch.rs`
//! (manifest and config reads, verified and cached by digest),
//! `manifest.rs` (the documents, typed), `wire.rs` (stateless HTTP details)
//! and `tls.rs` (trust and client certificates).

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Mutex;

use async_trait::async_trait;
use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use reqwest::{Method, Response, StatusCode};

use crate::index::Index;
use crate::index::{parse_index, IndexError, NewIndex};
use crate::name::{Digest, Repository, Tag};
use crate::reference::Reference;
use crate::registry::blob_cache::{BlobCache, Kind};
use crate::registry::credentials::Credentials;
use crate::registry::TagMemory;
use crate::registry::{ImageConfig, ManifestInfo, Registry, RegistryError};

mod auth;
mod fetch;
mod manifest;
mod memory;
mod tls;
mod transport;
mod wire;

pub use manifest::Manifest;
pub use tls::ClientIdentity;

pub use crate::retry::{backoff, RETRY_BUDGET};
mod artifacts;
mod layer;

use auth::{Auth, Challenged};
use fetch::Head;
use manifest::{ConfigBlob, Document};
use transport::Transport;
use wire::*;

const MANIFEST_LIMIT: usize = 4 * 1024 * 1024;
const TAGS_LIMIT: usize = 16 * 1024 * 1024;
const PROBE_LIMIT: usize = 1024 * 1024;
/// Pages of a tag list followed at most (1,000 tags each).
const MAX_TAG_PAGES: usize = 100;

/// A distribution API client shared by every request of a run.
pub struct Distribution {
    transport: Transport,
    auth: Auth,
    /// Manifests fetched by digest (content-addressed, so never stale):
    /// moving three floating tags to one build GETs its manifest once.
    manifests: Mutex<HashMap<String, Manifest>>,
    /// Manifests and configs by digest on disk, across runs (`None` with
    /// `--no-cache-dir`): with it, a manifest asked for by tag is resolved
    /// with a HEAD and read from the disk.
    disk: Option<BlobCache>,
    /// What each layer read for an SBOM held (by its digest, checked when
    /// read): lines built FROM one base read its layers once a run.
    layer_facts: Mutex<HashMap<Digest, crate::sbom::LayerFacts>>,
    /// The registries that answered that they have no referrers API: not
    /// asked again this run.
    without_referrers: Mutex<std::collections::HashSet<String>>,
}

/// How to build a [`Distribution`] client.
#[derive(Debug, Default)]
pub struct Settings {
    /// Hosts allowed plain HTTP besides loopback ones.
    pub insecure: Vec<String>,
    /// Retries of a transient failure.
    pub retries: u32,
    /// PEM files of extra certificate authorities to trust.
    pub roots: Vec<PathBuf>,
    /// Client certificates by registry host (certs.d `client.cert`/`client.key`).
    pub identities: HashMap<String, ClientIdentity>,
    pub credentials: HashMap<String, Credentials>,
}

impl Distribution {
    /// How many HTTP requests this client has sent.
    pub fn requests(&self) -> u64 {
        self.transport.requests()
    }

    /// A client for every registry of a run.
    pub fn new(settings: Settings) -> Result<Distribution, RegistryError> {
        Ok(Distribution {
            transport: Transport::new(&settings)?,
            auth: Auth::new(settings.credentials),
            manifests: Mutex::new(HashMap::new()),
            disk: BlobCache::from_env(),
            layer_facts: Mutex::new(HashMap::new()),
            without_referrers: Mutex::default(),
        })
    }

    /// The same client with `disk` as its on-disk cache (`None`: none).
    pub fn with_disk_cache(mut self, disk: Option<BlobCache>) -> Distribution {
        self.disk = disk;
        self
    }

    /// Sends one request to `path` on the registry of `repository`: picks
    /// the scheme, authorizes, and answers an auth challenge once.
    async fn send(
        &self,
        method: Method,
        repository: &Repository,
        path: &str,
        headers: HeaderMap,
        body: Option<Vec<u8>>,
        action: &str,
    ) -> Result<Response, RegistryError> {
        self.send_within(method, repository, path, (headers, body), action, None)
            .await
    }

    /// [`Distribution::send`], with the whole exchange (body included)
    /// bounded by `timeout` instead of the client's 60 s: a layer read
    /// back streams for as long as the link takes.
    async fn send_within(
        &self,
        method: Method,
        repository: &Repository,
        path: &str,
        (headers, body): (HeaderMap, Option<Vec<u8>>),
        action: &str,
        timeout: Option<std::time::Duration>,
    ) -> Result<Response, RegistryError> {
        let host = repository.registry();
        let scope = auth::scope(repository, &method);
        let mut retried_auth = false;
        loop {
            let scheme = self.transport.scheme(host, action).await?;
            let client = self.transport.client_for(host);
            let (request, url) = match self.transport.url(scheme, host, path) {
                Some(url) => {
                    let text = url.to_string();
                    (client.request(method.clone(), url), text)
                }
                None => {
                    let url = format!("{scheme}://{host}{path}");
                    (client.request(method.clone(), &url), url)
                }
            };
            if let Some(refused) = self.auth.refused(host) {
                return Err(refused);
            }
            let request = request.headers(headers.clone());
            let (mut request, sent_basic) = self.auth.authorize(request, host, &scope);
            if let Some(timeout) = timeout {
                request = request.timeout(timeout);
            }
            if let Some(body) = &body {
                request = request.body(body.clone());
            }
            let response = self
                .transport
                .send_with_retries(request, &method, &url, host)
                .await?;
            if response.status() == StatusCode::UNAUTHORIZED && !retried_auth {
                let answer = self
                    .auth
                    .answer(&self.transport, &response, host, &scope, sent_basic, action)
                    .await?;
                if let Challenged::Retry = answer {
                    retried_auth = true;
                    continue;
                }
            }
            if retried_auth && response.status() == StatusCode::UNAUTHORIZED {
                if let Some(error) = self
                    .auth
                    .insufficient_scope(&response, host, &scope, action)
                {
                    return Err(error);
                }
            }
            // Basic credentials sent and answered 401: refused.
            if sent_basic && response.status() == StatusCode::UNAUTHORIZED {
                if let Some(refused) = self.auth.refuse(host) {
                    return Err(refused);
                }
            }
            return Ok(response);
        }
    }

    /// A plain GET of `path` on the registry of `repository`.
    async fn get(
        &self,
        repository: &Repository,
        path: &str,
        action: &str,
    ) -> Result<Response, RegistryError> {
        self.send(
            Method::GET,
            repository,
            path,
            HeaderMap::new(),
            None,
            action,
        )
        .await
    }

    /// PUTs `bytes` (of `media_type`, hashing to `digest`) as `tag`.
    async fn put_manifest(
        &self,
        repository: &Repository,
        tag: &Tag,
        media_type: &str,
        bytes: Vec<u8>,
        digest: &Digest,
        action: &str,
    ) -> Result<(), RegistryError> {
        // The repository's tags change: what was remembered of them is stale.
        self.forget_tags(repository);
        let host = repository.registry();
        let mut headers = HeaderMap::new();
        let content_type =
            HeaderValue::from_str(media_type).map_err(|e| invalid(host, action, e.to_string()))?;
        headers.insert(CONTENT_TYPE, content_type);
        let path = format!("/v2/{}/manifests/{tag}", repository.path());
        let response = self
            .send(Method::PUT, repository, &path, headers, Some(bytes), action)
            .await?;
        let status = response.status();
        let written = header(&response, "docker-content-digest");
        let allow = header(&response, "allow");
        let reply = read_capped(response, MANIFEST_LIMIT, host, action).await?;
        if !status.is_success() {
            let error = write_error(host, action, &Method::PUT, status, allow.as_deref(), &reply);
            // A 5xx is ambiguous: a proxy or gateway may answer it for a
            // write the registry applied. Read the tag back; if it holds
            // the manifest, the write happened.
            if status.is_server_error() && self.tag_holds(repository, tag, digest).await {
                tracing::warn!(%repository, %tag, %digest, "the registry answered HTTP {} to the write, but the tag holds the manifest: the write was applied", status.as_u16());
                return Ok(());
            }
            return Err(error);
        }
        match written {
            Some(written) if *digest != written.as_str() => Err(invalid(
                host,
                action,
                format!("the registry stored {written}, not {digest}"),
            )),
            _ => Ok(()),
        }
    }

    /// Whether `repository:tag` resolves to `digest` now (a failed read
    /// counts as no).
    async fn tag_holds(&self, repository: &Repository, tag: &Tag, digest: &Digest) -> bool {
        matches!(
            self.manifest_digest(&repository.tag(tag)).await,
            Ok(Some(found)) if found == *digest
        )
    }
}

#[async_trait]
impl Registry for Distribution {
    async fn check(&self, repository: &Repository) -> Result<(), RegistryError> {
        let action = "answer the API version check";
        let host = repository.registry();
        let scheme = self.transport.scheme(host, action).await?;
        let url = format!("{scheme}://{host}/v2/");
        let request = self.transport.client_for(host).get(&url);
        let response = self
            .transport
            .send_with_retries(request, &Method::GET, &url, host)
            .await?;
        // Any answer but a server error means a registry is there (401 is
        // normal before logging in). A gateway's 502, 503 or 504 means no
        // registry answers behind it; a 500 is the registry itself failing.
        let status = response.status();
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            let body = read_capped(response, PROBE_LIMIT, host, action).await?;
            return Err(status_error(host, action, status, &body));
        }
        if status.is_server_error() {
            return Err(RegistryError::Unreachable {
                registry: host.to_string(),
                message: format!("`{url}` answered HTTP {}", status.as_u16()),
            });
        }
        Ok(())
    }

    async fn tags(&self, repository: &Repository) -> Result<Vec<String>, RegistryError> {
        let host = repository.registry();
        let action = format!("list the tags of `{repository}`");
        let mut path = format!("/v2/{}/tags/list?n=1000", repository.path());
        let mut tags = Vec::new();
        let mut seen = HashSet::new();
        loop {
            if !seen.insert(path.clone()) || seen.len() > MAX_TAG_PAGES {
                return Err(invalid(
                    host,
                    &action,
                    format!("tag list pages loop or exceed {MAX_TAG_PAGES}"),
                ));
            }
            let response = self.get(repository, &path, &action).await?;
            let status = response.status();
            let next = response
                .headers()
                .get("link")
                .and_then(|v| v.to_str().ok())
                .and_then(next_link);
            let body = read_capped(response, TAGS_LIMIT, host, &action).await?;
            if status == StatusCode::NOT_FOUND {
                return Ok(tags);
            }
            if !status.is_success() {
                return Err(status_error(host, &action, status, &body));
            }
            #[derive(serde::Deserialize)]
            struct TagList {
                tags: Option<Vec<String>>,
            }
            let list: TagList =
                serde_json::from_slice(&body).map_err(|e| invalid(host, &action, e.to_string()))?;
            tags.extend(list.tags.unwrap_or_default());
            let Some(link) = next else {
                return Ok(tags);
            };
            // A page of another repository's list (or another host's) would
            // merge foreign tags into this one; a list cut short would hide
            // exact versions that exist. Neither is an answer.
            match tag_page_path(&link, host, repository.path()) {
                Some(next) => path = next,
                None => {
                    return Err(invalid(
                        host,
                        &action,
                        format!("the next page of the tag list links to `{link}`, which is not this repository's tag list on `{host}`"),
                    ))
                }
            }
        }
    }

    async fn manifest_digest(
        &self,
        reference: &Reference,
    ) -> Result<Option<Digest>, RegistryError> {
        let action = format!("resolve `{reference}`");
        match self.head_digest(reference, &action).await? {
            Head::Missing => Ok(None),
            Head::Digest(digest) => Ok(Some(digest)),
            // Some registries omit the header on HEAD: hash the manifest instead.
            Head::Unannounced => Ok(self
                .fetch_manifest(reference, &action)
                .await?
                .map(|manifest| manifest.digest)),
        }
    }

    async fn image_config(&self, reference: &Reference) -> Result<ImageConfig, RegistryError> {
        let action = format!("read the config of `{reference}`");
        let host = reference.registry();
        let (digest, manifest) = self.image_manifest(reference, &action).await?;
        let config_digest = manifest
            .config
            .as_ref()
            .and_then(|config| config.valid_digest())
            .ok_or_else(|| {
                invalid(
                    host,
                    &action,
                    "the manifest names no config blob".to_string(),
                )
            })?;
        let cached = self
            .disk
            .as_ref()
            .and_then(|disk| disk.get(Kind::Config, &config_digest));
        let blob = match cached {
            Some((_, blob)) => blob,
            None => {
                let blob = self.config_blob(reference, &config_digest, &action).await?;
                if let Some(disk) = &self.disk {
                    disk.put(Kind::Config, &config_digest, "", &blob);
                }
                blob
            }
        };
        let parsed: ConfigBlob =
            serde_json::from_slice(&blob).map_err(|e| invalid(host, &action, e.to_string()))?;
        let (labels, on_build, env) = parsed
            .config
            .map(|c| (c.labels, c.on_build, c.env))
            .unwrap_or_default();
        Ok(ImageConfig {
            digest,
            labels: labels.unwrap_or_default(),
            created: parsed.created,
            size: manifest.size(),
            on_build: on_build.unwrap_or_default(),
            env: env.unwrap_or_default(),
            layers: manifest.layers(&parsed.history),
        })
    }

    async fn index_children(&self, reference: &Reference) -> Result<Vec<Digest>, RegistryError> {
        let action = format!("read the manifest `{reference}`");
        let Some(manifest) = self.manifest(reference, &action).await? else {
            return Ok(Vec::new());
        };
        let document = Document::parse(&manifest.bytes)
            .map_err(|e| invalid(reference.registry(), &action, e.to_string()))?;
        Ok(document.children())
    }

    async fn index(&self, reference: &Reference) -> Result<Option<Index>, RegistryError> {
        let action = format!("read the index `{reference}`");
        let Some(manifest) = self.manifest(reference, &action).await? else {
            return Ok(None);
        };
        match parse_index(&manifest.bytes, Some(&manifest.media_type)) {
            Ok(index) => Ok(Some(index)),
            Err(IndexError::NotAnIndex) => Ok(None),
            Err(error) => Err(invalid(reference.registry(), &action, error.to_string())),
        }
    }

    async fn manifest_info(
        &self,
        reference: &Reference,
    ) -> Result<Option<ManifestInfo>, RegistryError> {
        let action = format!("read the manifest `{reference}`");
        Ok(self
            .manifest(reference, &action)
            .await?
            .map(|manifest| ManifestInfo {
                size: manifest.bytes.len() as u64,
                media_type: manifest
                    .media_type
                    .split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_string(),
                digest: manifest.digest,
            }))
    }

    async fn put_index(
        &self,
        repository: &Repository,
        tag: &Tag,
        index: &NewIndex,
    ) -> Result<Digest, RegistryError> {
        let action = format!("put the index `{repository}:{tag}`");
        let digest = Digest::parse(&index.digest)
            .map_err(|e| invalid(repository.registry(), &action, e.to_string()))?;
        self.put_manifest(
            repository,
            tag,
            index.media_type,
            index.body.clone(),
            &digest,
            &action,
        )
        .await?;
        Ok(digest)
    }

    async fn copy_tag(
        &self,
        repository: &Repository,
        digest: &Digest,
        tag: &Tag,
    ) -> Result<(), RegistryError> {
        let source = repository.digest(digest);
        let action = format!("tag `{source}` as `{tag}`");
        let host = repository.registry();
        let manifest = self.manifest(&source, &action).await?.ok_or_else(|| {
            invalid(
                host,
                &action,
                format!("manifest {digest} is not in the registry"),
            )
        })?;
        self.put_manifest(
            repository,
            tag,
            &manifest.media_type,
            manifest.bytes,
            digest,
            &action,
        )
        .await
    }

    async fn delete_manifest(
        &self,
        repository: &Repository,
        digest: &Digest,
    ) -> Result<(), RegistryError> {
        self.forget_tags(repository);
        let source = repository.digest(digest);
        let action = format!("delete `{source}`");
        let host = repository.registry();
        let path = format!("/v2/{}/manifests/{digest}", repository.path());
        let response = self
            .send(
                Method::DELETE,
                repository,
                &path,
                HeaderMap::new(),
                None,
                &action,
            )
            .await?;
        let status = response.status();
        let allow = header(&response, "allow");
        let reply = read_capped(response, MANIFEST_LIMIT, host, &action).await?;
        if status.is_success() {
            return Ok(());
        }
        // Gone already (another prune, or a concurrent delete) is done; a
        // registry that answers 404 but still serves the manifest has no
        // delete at that route, and must not be reported as pruned.
        if status == StatusCode::NOT_FOUND {
            return match self.manifest_digest(&source).await? {
                None => Ok(()),
                Some(_) => Err(RegistryError::Status {
                    registry: host.to_string(),
                    action,
                    status: 404,
                    detail: "UNSUPPORTED: it answered 404 but still serves the manifest"
                        .to_string(),
                }),
            };
        }
        Err(write_error(
            host,
            &action,
            &Method::DELETE,
            status,
            allow.as_deref(),
            &reply,
        ))
    }

    async fn put_blob(
        &self,
        repository: &Repository,
        bytes: Vec<u8>,
    ) -> Result<Digest, RegistryError> {
        self.upload_blob(repository, bytes).await
    }

    async fn put_manifest_bytes(
        &self,
        repository: &Repository,
        tag: &Tag,
        media_type: &str,
        bytes: Vec<u8>,
    ) -> Result<Digest, RegistryError> {
        self.put_manifest_whole(repository, tag, media_type, bytes)
            .await
    }

    async fn blob(
        &self,
        repository: &Repository,
        digest: &Digest,
    ) -> Result<Vec<u8>, RegistryError> {
        self.read_blob(repository, digest).await
    }

    async fn manifest_bytes(
        &self,
        reference: &Reference,
    ) -> Result<Option<Vec<u8>>, RegistryError> {
        self.read_manifest(reference).await
    }

    async fn put_manifest_by_digest(
        &self,
        repository: &Repository,
        media_type: &str,
        bytes: Vec<u8>,
    ) -> Result<(Digest, bool), RegistryError> {
        self.put_manifest_digest(repository, media_type, bytes)
            .await
    }

    async fn referrers_api(
        &self,
        repository: &Repository,
        digest: &Digest,
    ) -> Result<Option<Vec<u8>>, RegistryError> {
        self.read_referrers(repository, digest).await
    }

    async fn layer_facts(
        &self,
        repository: &Repository,
        digest: &Digest,
    ) -> Result<crate::sbom::LayerFacts, RegistryError> {
        self.read_layer_facts(repository, digest).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hint::Hint;
    use std::time::Duration;

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        for attempt in 0..10 {
            let delay = backoff(attempt);
            let ceiling = Duration::from_millis(250)
                .saturating_mul(1 << attempt.min(5))
                .min(Duration::from_secs(8));
            assert!(
                delay <= ceiling && delay >= ceiling / 2,
                "attempt {attempt}: {delay:?}"
            );
        }
        assert!(!is_transient_status(StatusCode::UNAUTHORIZED));
        assert!(!is_transient_status(StatusCode::NOT_FOUND));
        assert!(is_transient_status(StatusCode::SERVICE_UNAVAILABLE));
        assert!(is_transient_status(StatusCode::TOO_MANY_REQUESTS));
    }

    #[test]
    fn basic_challenges_are_recognised_in_any_case() {
        for challenge in ["Basic realm=\"golden-test\"", "basic realm=x", "  BASIC"] {
            assert!(is_basic(challenge), "{challenge}");
        }
        for challenge in ["Bearer realm=\"https://x/token\"", "Bas", "", "é"] {
            assert!(!is_basic(challenge), "{challenge}");
        }
    }

    #[test]
    fn refused_writes_tell_read_only_from_deletes_disabled_and_server_errors() {
        let host = "registry.local:5000";
        let unsupported =
            br#"{"errors":[{"code":"UNSUPPORTED","message":"The operation is unsupported."}]}"#;
        /// (method, status, Allow, body, expected rendering)
        type Case<'a> = (Method, u16, Option<&'a str>, &'a [u8], &'a str);
        let cases: Vec<Case> = vec![
            // distribution with storage.maintenance.readonly
            (
                Method::DELETE,
                405,
                Some("GET, HEAD"),
                b"Method not allowed\n",
                "HTTP 405 (it is read-only: it allows only GET, HEAD)",
            ),
            (
                Method::PUT,
                405,
                Some("GET, HEAD"),
                b"Method not allowed\n",
                "HTTP 405 (it is read-only: it allows only GET, HEAD)",
            ),
            // distribution with storage.delete.enabled: false
            (
                Method::DELETE,
                405,
                None,
                unsupported,
                "HTTP 405 (UNSUPPORTED: The operation is unsupported.)",
            ),
            (
                Method::DELETE,
                405,
                Some("GET, HEAD, PUT, DELETE"),
                unsupported,
                "HTTP 405 (UNSUPPORTED: The operation is unsupported.)",
            ),
            // other registries that say so in the body
            (
                Method::PUT,
                503,
                None,
                br#"{"errors":[{"code":"DENIED","message":"The system is in read only mode."}]}"#,
                "HTTP 503 (it is read-only: it allows reads only)",
            ),
            (
                Method::PUT,
                500,
                None,
                b"boom",
                "answered HTTP 500 when asked to tag",
            ),
            (Method::PUT, 403, None, b"", "refused to tag x: HTTP 403"),
            // junk in Allow is not echoed
            (
                Method::DELETE,
                405,
                Some("\u{1b}[2J, GET"),
                b"",
                "it allows only GET)",
            ),
        ];
        for (method, status, allow, body, expected) in cases {
            let error = write_error(
                host,
                "tag x",
                &method,
                StatusCode::from_u16(status).unwrap(),
                allow,
                body,
            );
            let text = error.to_string();
            assert!(
                text.contains(expected),
                "{method} {status} {allow:?}: {text}"
            );
            let hint = error.hint().unwrap_or_default();
            assert_eq!(
                hint.starts_with("the registry is in read-only mode (maintenance.readonly)"),
                text.contains("read-only"),
                "{text}: {hint}"
            );
            assert!(!error.is_unreachable(), "{text}");
        }
        let deletes = write_error(
            host,
            "delete `x`",
            &Method::DELETE,
            StatusCode::METHOD_NOT_ALLOWED,
            None,
            unsupported,
        );
        assert!(deletes
            .hint()
            .unwrap()
            .contains("storage.delete.enabled: true"));
    }

    #[test]
    fn server_errors_say_the_registry_answered_and_are_not_unreachable() {
        let error = status_error(
            "registry.local:5000",
            "list the tags of `a`",
            StatusCode::INTERNAL_SERVER_ERROR,
            br#"{"errors":[{"code":"UNKNOWN","message":"unknown error"}]}"#,
        );
        assert_eq!(
            error.to_string(),
            "registry `registry.local:5000` answered HTTP 500 when asked to list the tags of `a` (UNKNOWN: unknown error)"
        );
        assert!(!error.is_unreachable());
        assert!(error
            .hint()
            .unwrap()
            .contains("look at the log of `registry.local:5000`"));
        let refused = status_error("r", "x", StatusCode::NOT_FOUND, b"");
        assert_eq!(refused.to_string(), "registry `r` refused to x: HTTP 404");
    }

    #[test]
    fn tag_pages_follow_only_the_same_repository() {
        let host = "registry.local:5000";
        let cases = [
            (
                "/v2/team/a/tags/list?last=x&n=1",
                Some("/v2/team/a/tags/list?last=x&n=1"),
            ),
            (
                "https://registry.local:5000/v2/team/a/tags/list?last=x",
                Some("/v2/team/a/tags/list?last=x"),
            ),
            ("/v2/team/a/tags/list", Some("/v2/team/a/tags/list")),
            ("/v2/team/other/tags/list?last=x", None),
            ("/v2/team/a/b/tags/list?last=x", None),
            ("/v2/team/tags/list?last=x", None),
            ("/v2/team/a/manifests/latest", None),
            ("https://elsewhere/v2/team/a/tags/list", None),
        ];
        for (link, expected) in cases {
            assert_eq!(
                tag_page_path(link, host, "team/a").as_deref(),
                expected,
                "{link}"
            );
        }
    }

    #[test]
    fn pagination_links_stay_on_the_registry() {
        let host = "registry.local:5000";
        assert_eq!(
            same_host_path("/v2/a/tags/list?last=x&n=1", host).as_deref(),
            Some("/v2/a/tags/list?last=x&n=1")
        );
        assert_eq!(
            same_host_path("https://registry.local:5000/v2/a/tags/list?last=x", host).as_deref(),
            Some("/v2/a/tags/list?last=x")
        );
        assert_eq!(
            same_host_path("https://elsewhere/v2/a/tags/list", host),
            None
        );
        assert_eq!(
            same_host_path("https://registry.local:5000/other", host),
            None
        );
        assert_eq!(same_host_path("junk", host), None);
        // Host names in any case; a missing port is the scheme's default.
        let cases = [
            (
                "https://Registry.Local:5000/v2/a/tags/list",
                "registry.local:5000",
                true,
            ),
            ("https://r.example/v2/a/tags/list", "r.example:443", true),
            ("http://r.example/v2/a/tags/list", "r.example:80", true),
            ("https://r.example:443/v2/a/tags/list", "r.example", true),
            ("https://r.example/v2/a/tags/list", "R.EXAMPLE", true),
            ("https://r.example/v2/a/tags/list", "r.example:5000", false),
            ("https://r.example:8443/v2/a/tags/list", "r.example", false),
            ("http://[::1]:5000/v2/a/tags/list", "[::1]:5000", true),
            ("http://[::1]/v2/a/tags/list", "[::1]", true),
        ];
        for (link, host, same) in cases {
            assert_eq!(
                same_host_path(link, host).is_some(),
                same,
                "{link} on {host}"
            );
        }
    }

    #[test]
    fn only_the_next_link_of_a_tag_list_is_followed() {
        let cases = [
            (
                "</v2/a/tags/list?last=x>; rel=\"next\"",
                Some("/v2/a/tags/list?last=x"),
            ),
            (
                "</v2/a/tags/list?last=x>; rel=next",
                Some("/v2/a/tags/list?last=x"),
            ),
            ("</v2/a/tags/list?last=x>; rel=\"prev\"", None),
            ("</v2/a/tags/list?last=x>", None),
            (
                "</v2/b/tags/list>; rel=\"prev\", </v2/a/tags/list?last=y>; rel=\"next\"",
                Some("/v2/a/tags/list?last=y"),
            ),
            (
                "</v2/a/tags/list?last=z>; REL=\"first next\"",
                Some("/v2/a/tags/list?last=z"),
            ),
            ("junk", None),
        ];
        for (header, expected) in cases {
            assert_eq!(next_link(header).as_deref(), expected, "{header}");
        }
    }

    #[test]
    fn challenges_are_parsed() {
        let parsed = parse_challenge(
            r#"realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull""#,
        );
        assert_eq!(parsed["realm"], "https://auth.example/token");
        assert_eq!(parsed["service"], "registry.example");
        assert_eq!(parsed["scope"], "repository:a/b:pull");
        let unquoted = parse_challenge("realm=https://x/token, service=x");
        assert_eq!(unquoted["realm"], "https://x/token");
        assert_eq!(unquoted["service"], "x");
    }

    #[test]
    fn loopback_and_insecure_hosts_may_use_http() {
        let client = Distribution::new(Settings {
            insecure: vec!["registry.lan:5000".into()],
            ..Settings::default()
        })
        .unwrap();
        for host in [
            "127.0.0.1:5000",
            "localhost:5000",
            "localhost",
            "[::1]:5000",
            "registry.lan:5000",
        ] {
            assert!(client.transport.may_use_http(host), "{host}");
        }
        for host in [
            "registry.lan",
            "example.com:5000",
            "10.0.0.1:5000",
            "127.example.com:5000",
        ] {
            assert!(!client.transport.may_use_http(host), "{host}");
        }
    }
}
