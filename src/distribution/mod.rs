//! The HTTP adapter of [`Registry`] for the distribution (OCI) API: tag
//! lists with pagination, manifest HEAD/GET with every manifest media type
//! accepted (so registry 2.8 never downgrades to schema 1), config blobs,
//! manifest PUT for registry-side tag moves, anonymous bearer tokens, and
//! plain HTTP only for insecure or loopback hosts. Bodies are size-capped and
//! every request is counted; `wire.rs` has the stateless HTTP details.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use reqwest::{Method, Response, StatusCode};
use sha2::{Digest, Sha256};

use crate::credentials::Credentials;
use crate::reference::Reference;
use crate::registry::{ImageConfig, Registry, RegistryError};

mod tls;
mod wire;

pub use tls::ClientIdentity;

pub use wire::backoff;
use wire::*;

const MANIFEST_LIMIT: usize = 4 * 1024 * 1024;
const CONFIG_LIMIT: usize = 8 * 1024 * 1024;
const TAGS_LIMIT: usize = 16 * 1024 * 1024;
const TOKEN_LIMIT: usize = 1024 * 1024;
/// Pages of a tag list followed at most (1,000 tags each).
const MAX_TAG_PAGES: usize = 100;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How long one request (or one engine push) may go on being retried: a
/// registry that still fails after this is failing, not blinking, and a
/// run should say so rather than wait minutes (`retries = 10`, a
/// Retry-After of a minute, or the engine's own retries of a push).
pub const RETRY_BUDGET: Duration = Duration::from_secs(20);

/// A distribution API client shared by every request of a run.
pub struct Distribution {
    client: reqwest::Client,
    /// Clients of hosts with their own TLS: insecure, or a client certificate.
    clients: HashMap<String, reqwest::Client>,
    /// Hosts allowed to fall back to plain HTTP.
    insecure: Vec<String>,
    /// The scheme each host answered on.
    schemes: Mutex<HashMap<String, &'static str>>,
    /// Bearer tokens by (host, scope).
    tokens: Mutex<HashMap<(String, String), String>>,
    requests: AtomicU64,
    /// How many times a transient failure is retried.
    retries: u32,
    /// Credentials by registry host; other hosts are read anonymously.
    credentials: HashMap<String, Credentials>,
    /// Hosts that asked for basic auth: later requests send it at once.
    basic: Mutex<HashSet<String>>,
    /// Manifests fetched by digest (content-addressed, so never stale):
    /// moving three floating tags to one build GETs its manifest once.
    manifests: Mutex<HashMap<String, (Vec<u8>, String)>>,
}

/// Manifests kept by digest; the cache is emptied when it is full.
const CACHED_MANIFESTS: usize = 256;

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
    /// A client for every registry of a run.
    pub fn new(settings: Settings) -> Result<Distribution, RegistryError> {
        let setup = |message: String| RegistryError::Unreachable {
            registry: "(all)".to_string(),
            message,
        };
        let trust = tls::Trust::read(&settings.roots).map_err(|e| setup(e.to_string()))?;
        let build = |verify: bool, identity: Option<&ClientIdentity>| {
            let config = trust
                .client_config(verify, identity)
                .map_err(|e| setup(e.to_string()))?;
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::custom(redirect_policy))
                .connect_timeout(CONNECT_TIMEOUT)
                .timeout(REQUEST_TIMEOUT)
                .user_agent(concat!("golden/", env!("CARGO_PKG_VERSION")))
                .use_preconfigured_tls(config)
                .build()
                .map_err(|error| setup(error.to_string()))
        };
        let client = build(true, None)?;
        let mut clients = HashMap::new();
        let hosts = settings.insecure.iter().chain(settings.identities.keys());
        for host in hosts.collect::<HashSet<_>>() {
            let verify = !settings.insecure.contains(host);
            clients.insert(host.clone(), build(verify, settings.identities.get(host))?);
        }
        Ok(Distribution {
            client,
            clients,
            insecure: settings.insecure,
            schemes: Mutex::new(HashMap::new()),
            tokens: Mutex::new(HashMap::new()),
            requests: AtomicU64::new(0),
            retries: settings.retries,
            credentials: settings.credentials,
            basic: Mutex::new(HashSet::new()),
            manifests: Mutex::new(HashMap::new()),
        })
    }

    /// The client for `host`: its own TLS settings, or the shared one.
    fn client_for(&self, host: &str) -> &reqwest::Client {
        self.clients.get(host).unwrap_or(&self.client)
    }

    fn may_use_http(&self, host: &str) -> bool {
        let name = host.rsplit_once(':').map_or(host, |(name, _)| name);
        let loopback = name == "localhost"
            || name == "[::1]"
            || name
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        loopback || self.insecure.iter().any(|h| h == host)
    }

    /// Sends one request: picks the scheme, adds a token, and fetches a
    /// token once when the registry asks for one.
    async fn send(
        &self,
        method: Method,
        reference: &Reference,
        path: &str,
        headers: HeaderMap,
        body: Option<Vec<u8>>,
        action: &str,
    ) -> Result<Response, RegistryError> {
        let host = reference.registry().to_string();
        let scope = format!(
            "repository:{}:{}",
            reference.registry_path(),
            if method == Method::GET || method == Method::HEAD {
                "pull"
            } else if method == Method::DELETE {
                "delete"
            } else {
                "pull,push"
            }
        );
        let mut retried_auth = false;
        loop {
            let scheme = self.scheme(&host, action).await?;
            let url = format!("{scheme}://{host}{path}");
            let mut request = self
                .client_for(&host)
                .request(method.clone(), &url)
                .headers(headers.clone());
            let mut sent_basic = false;
            if let Some(token) = self.token_for(&host, &scope) {
                request = request.header(AUTHORIZATION, format!("Bearer {token}"));
            } else if let Some(credentials) = self.basic_credentials(&host) {
                request = request.basic_auth(&credentials.username, Some(credentials.password()));
                sent_basic = true;
            }
            if let Some(body) = &body {
                request = request.body(body.clone());
            }
            let response = self
                .send_with_retries(request, &method, &url, &host)
                .await?;
            if response.status() == StatusCode::UNAUTHORIZED && !retried_auth {
                if let Some(challenge) = response
                    .headers()
                    .get(WWW_AUTHENTICATE)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
                {
                    if is_basic(&challenge) && self.credentials.contains_key(&host) {
                        // Every request met at once by the challenge retries,
                        // not only the first to record it; one that already
                        // carried the credentials was refused them.
                        self.basic
                            .lock()
                            .map_err(|_| poisoned(&host))?
                            .insert(host.clone());
                        if sent_basic {
                            return Ok(response);
                        }
                        retried_auth = true;
                        continue;
                    }
                    if let Some(token) = self.fetch_token(&host, &challenge, &scope, action).await?
                    {
                        self.tokens
                            .lock()
                            .map_err(|_| poisoned(&host))?
                            .insert((host.clone(), scope.clone()), token);
                        retried_auth = true;
                        continue;
                    }
                }
            }
            if retried_auth && response.status() == StatusCode::UNAUTHORIZED {
                if let Some(error) = self.insufficient_scope(&response, &host, &scope, action) {
                    return Err(error);
                }
            }
            return Ok(response);
        }
    }

    /// A 401 that a fresh token did not cure because the token server
    /// granted less than `scope` (`error="insufficient_scope"`): the
    /// credentials lack a permission, which logging in again cannot fix.
    fn insufficient_scope(
        &self,
        response: &Response,
        host: &str,
        scope: &str,
        action: &str,
    ) -> Option<RegistryError> {
        let challenge = response.headers().get(WWW_AUTHENTICATE)?.to_str().ok()?;
        let parameters = parse_challenge(challenge.strip_prefix("Bearer ")?);
        if parameters.get("error").map(String::as_str) != Some("insufficient_scope") {
            return None;
        }
        let user = self
            .credentials
            .get(host)
            .map_or("anonymous".to_string(), |c| {
                format!("user `{}`", c.username)
            });
        Some(RegistryError::Status {
            registry: host.to_string(),
            action: action.to_string(),
            status: 401,
            detail: format!("insufficient_scope: the token server did not grant {user} `{scope}`"),
        })
    }

    /// Sends `request`, retrying transient failures (connection refused or
    /// reset, timeouts, 5xx, 429) with capped exponential backoff and
    /// jitter, honouring Retry-After, for at most `retries` tries and
    /// [`RETRY_BUDGET`]. Other answers return at once.
    async fn send_with_retries(
        &self,
        request: reqwest::RequestBuilder,
        method: &Method,
        url: &str,
        host: &str,
    ) -> Result<Response, RegistryError> {
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            let Some(this_try) = request.try_clone() else {
                self.requests.fetch_add(1, Ordering::Relaxed);
                return request
                    .send()
                    .await
                    .map_err(|error| unreachable(host, &error));
            };
            self.requests.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(%method, %url, attempt, "registry request");
            let result = this_try.send().await;
            let wait = match &result {
                Ok(response) if is_transient_status(response.status()) => {
                    Some(retry_after(response))
                }
                Ok(_) => None,
                Err(error) if matches!(tls::failure(error), tls::Failure::Tls(_)) => None,
                Err(error) if error.is_connect() || error.is_timeout() || error.is_request() => {
                    Some(None)
                }
                Err(_) => None,
            };
            let delay = wait.map(|hint| hint.unwrap_or_else(|| backoff(attempt)));
            match delay {
                Some(delay)
                    if attempt < self.retries && started.elapsed() + delay <= RETRY_BUDGET =>
                {
                    let why = match &result {
                        Ok(response) => format!("HTTP {}", response.status().as_u16()),
                        Err(error) => error.to_string(),
                    };
                    tracing::warn!(%method, %url, attempt = attempt + 1, "registry request failed ({why}); retrying in {:.1}s", delay.as_secs_f64());
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                _ => {
                    if delay.is_some() && attempt < self.retries {
                        tracing::warn!(%method, %url, attempts = attempt + 1, "registry request still failing after {:.1}s; not retried past {}s", started.elapsed().as_secs_f64(), RETRY_BUDGET.as_secs());
                    }
                    return result.map_err(|error| {
                        if error.is_redirect() {
                            invalid(host, "follow a redirect", chain(&error))
                        } else {
                            unreachable(host, &error)
                        }
                    });
                }
            }
        }
    }

    /// A plain GET of `path` on the registry of `reference`.
    async fn get(
        &self,
        reference: &Reference,
        path: &str,
        action: &str,
    ) -> Result<Response, RegistryError> {
        self.send(Method::GET, reference, path, HeaderMap::new(), None, action)
            .await
    }

    /// The credentials of `host` once it asked for basic auth.
    fn basic_credentials(&self, host: &str) -> Option<&Credentials> {
        let asked = self.basic.lock().ok()?.contains(host);
        asked.then(|| self.credentials.get(host)).flatten()
    }

    fn token_for(&self, host: &str, scope: &str) -> Option<String> {
        self.tokens
            .lock()
            .ok()?
            .get(&(host.to_string(), scope.to_string()))
            .cloned()
    }

    /// The scheme `host` answers on: HTTPS, or plain HTTP for insecure and
    /// loopback hosts when HTTPS fails, as the engine does.
    async fn scheme(&self, host: &str, action: &str) -> Result<&'static str, RegistryError> {
        if let Some(scheme) = self.schemes.lock().map_err(|_| poisoned(host))?.get(host) {
            return Ok(scheme);
        }
        let scheme = if !self.may_use_http(host) {
            "https"
        } else {
            self.requests.fetch_add(1, Ordering::Relaxed);
            let probe = self.client_for(host).get(format!("https://{host}/v2/"));
            match probe.send().await {
                Ok(_) => "https",
                // Plain HTTP only when the server does not speak TLS (or
                // cannot be reached at all); a failed handshake is reported.
                Err(error) => {
                    let failure = tls::failure(&error);
                    tracing::debug!(host, ?failure, "HTTPS probe failed");
                    match failure {
                        tls::Failure::Tls(_) => return Err(unreachable(host, &error)),
                        tls::Failure::NotTls => "http",
                        tls::Failure::Other => {
                            if self.speaks_tls(host).await {
                                // TLS 1.3 sends a refusal after the handshake:
                                // the connection just closes.
                                return Err(RegistryError::Tls {
                                    registry: host.to_string(),
                                    message: format!(
                                        "the registry speaks TLS but closed the connection during the handshake ({}); it may require a client certificate, or refuse the one presented",
                                        chain(&error)
                                    ),
                                });
                            }
                            "http"
                        }
                    }
                }
            }
        };
        tracing::debug!(host, scheme, action, "registry scheme");
        self.schemes
            .lock()
            .map_err(|_| poisoned(host))?
            .insert(host.to_string(), scheme);
        Ok(scheme)
    }

    /// Whether `host` answers a plain HTTP request the way a TLS server
    /// does ("Client sent an HTTP request to an HTTPS server", HTTP 400):
    /// then an HTTPS failure is a TLS problem, never a reason for HTTP.
    async fn speaks_tls(&self, host: &str) -> bool {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let Ok(response) = self
            .client_for(host)
            .get(format!("http://{host}/v2/"))
            .send()
            .await
        else {
            return false;
        };
        if response.status() != StatusCode::BAD_REQUEST {
            return false;
        }
        read_capped(response, TOKEN_LIMIT, host, "probe")
            .await
            .is_ok_and(|body| String::from_utf8_lossy(&body).contains("HTTPS server"))
    }

    /// An anonymous bearer token for `scope` from the realm in `challenge`;
    /// `None` when the challenge is not a bearer one.
    async fn fetch_token(
        &self,
        host: &str,
        challenge: &str,
        scope: &str,
        action: &str,
    ) -> Result<Option<String>, RegistryError> {
        let Some(parameters) = challenge.strip_prefix("Bearer ").map(parse_challenge) else {
            return Ok(None);
        };
        let Some(realm) = parameters.get("realm") else {
            return Ok(None);
        };
        // Credentials go to a token server only over HTTPS, unless the
        // registry itself is one golden may reach over plain HTTP.
        let realm_host = reqwest::Url::parse(realm)
            .ok()
            .and_then(|url| url.host_str().map(str::to_string))
            .unwrap_or_default();
        if !realm.starts_with("https://")
            && self.credentials.contains_key(host)
            && !self.may_use_http(host)
            && !self.may_use_http(&realm_host)
        {
            return Err(invalid(host, action, format!("the token server `{realm}` is not HTTPS; golden will not send credentials to it")));
        }
        let mut query: Vec<(&str, &str)> = vec![("scope", scope)];
        if let Some(service) = parameters.get("service") {
            query.push(("service", service));
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        let mut request = self.client_for(&realm_host).get(realm).query(&query);
        if let Some(credentials) = self.credentials.get(host) {
            request = request.basic_auth(&credentials.username, Some(credentials.password()));
        }
        let response = request
            .send()
            .await
            .map_err(|error| unreachable(host, &error))?;
        let status = response.status();
        let body = read_capped(response, TOKEN_LIMIT, host, action).await?;
        if !status.is_success() {
            return Err(status_error(
                host,
                &format!("issue a token to {action}"),
                status,
                &body,
            ));
        }
        #[derive(serde::Deserialize)]
        struct Token {
            token: Option<String>,
            access_token: Option<String>,
        }
        let token: Token = serde_json::from_slice(&body)
            .map_err(|e| invalid(host, action, format!("token response: {e}")))?;
        Ok(token.token.or(token.access_token))
    }

    /// A manifest's bytes, media type and digest; one fetched by digest is
    /// answered from the cache after the first time.
    async fn manifest(
        &self,
        reference: &Reference,
        action: &str,
    ) -> Result<Option<(Vec<u8>, String, String)>, RegistryError> {
        let host = reference.registry();
        let key = reference
            .digest()
            .map(|digest| format!("{host}/{}@{digest}", reference.registry_path()));
        if let Some(key) = &key {
            let cached = self
                .manifests
                .lock()
                .map_err(|_| poisoned(host))?
                .get(key)
                .cloned();
            if let Some((body, media_type)) = cached {
                let digest = reference.digest().unwrap_or_default().to_string();
                return Ok(Some((body, media_type, digest)));
            }
        }
        let found = self.fetch_manifest(reference, action).await?;
        if let (Some(key), Some((body, media_type, _))) = (key, &found) {
            let mut cache = self.manifests.lock().map_err(|_| poisoned(host))?;
            if cache.len() >= CACHED_MANIFESTS {
                cache.clear();
            }
            cache.insert(key, (body.clone(), media_type.clone()));
        }
        Ok(found)
    }

    async fn fetch_manifest(
        &self,
        reference: &Reference,
        action: &str,
    ) -> Result<Option<(Vec<u8>, String, String)>, RegistryError> {
        let path = manifest_path(reference);
        let response = self
            .send(
                Method::GET,
                reference,
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
        let media_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let header_digest = header(&response, "docker-content-digest");
        let body = read_capped(response, MANIFEST_LIMIT, host, action).await?;
        if !status.is_success() {
            return Err(status_error(host, action, status, &body));
        }
        // The digest is what the bytes hash to; a registry that says
        // otherwise is not trusted.
        let computed = format!("sha256:{:x}", Sha256::digest(&body));
        for (what, claimed) in [
            ("requested", reference.digest().map(str::to_string)),
            ("announced", header_digest),
        ] {
            if let Some(claimed) = claimed.filter(|claimed| *claimed != computed) {
                return Err(invalid(
                    host,
                    action,
                    format!("manifest content has digest {computed}, not the {what} {claimed}"),
                ));
            }
        }
        Ok(Some((body, media_type, computed)))
    }
}

#[async_trait]
impl Registry for Distribution {
    async fn check(&self, repository: &Reference) -> Result<(), RegistryError> {
        let action = "answer the API version check";
        let host = repository.registry();
        let scheme = self.scheme(host, action).await?;
        let url = format!("{scheme}://{host}/v2/");
        let response = self
            .send_with_retries(self.client_for(host).get(&url), &Method::GET, &url, host)
            .await?;
        // Any answer but a server error means a registry is there (401 is
        // normal before logging in). A gateway's 502, 503 or 504 means no
        // registry answers behind it; a 500 is the registry itself failing.
        let status = response.status();
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            let body = read_capped(response, TOKEN_LIMIT, host, action).await?;
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

    async fn tags(&self, repository: &Reference) -> Result<Vec<String>, RegistryError> {
        let host = repository.registry().to_string();
        let action = format!("list the tags of `{}`", repository.repository());
        let mut path = format!("/v2/{}/tags/list?n=1000", repository.registry_path());
        let mut tags = Vec::new();
        let mut seen = HashSet::new();
        loop {
            if !seen.insert(path.clone()) || seen.len() > MAX_TAG_PAGES {
                return Err(invalid(
                    &host,
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
                .and_then(|link| link.split(';').next())
                .map(|target| {
                    target
                        .trim()
                        .trim_start_matches('<')
                        .trim_end_matches('>')
                        .to_string()
                });
            let body = read_capped(response, TAGS_LIMIT, &host, &action).await?;
            if status == StatusCode::NOT_FOUND {
                return Ok(tags);
            }
            if !status.is_success() {
                return Err(status_error(&host, &action, status, &body));
            }
            #[derive(serde::Deserialize)]
            struct TagList {
                tags: Option<Vec<String>>,
            }
            let list: TagList = serde_json::from_slice(&body)
                .map_err(|e| invalid(&host, &action, e.to_string()))?;
            tags.extend(list.tags.unwrap_or_default());
            match next.as_deref().and_then(|link| same_host_path(link, &host)) {
                Some(next) => path = next,
                None => return Ok(tags),
            }
        }
    }

    async fn manifest_digest(
        &self,
        reference: &Reference,
    ) -> Result<Option<String>, RegistryError> {
        let action = format!("resolve `{reference}`");
        let path = manifest_path(reference);
        let response = self
            .send(
                Method::HEAD,
                reference,
                &path,
                accept_manifests(),
                None,
                &action,
            )
            .await?;
        let status = response.status();
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(status_error(reference.registry(), &action, status, &[]));
        }
        let digest = header(&response, "docker-content-digest");
        match digest {
            Some(digest) if crate::reference::validate_digest(&digest).is_ok() => Ok(Some(digest)),
            // Some registries omit the header on HEAD: hash the manifest instead.
            _ => Ok(self
                .manifest(reference, &action)
                .await?
                .map(|(_, _, digest)| digest)),
        }
    }

    async fn image_config(&self, reference: &Reference) -> Result<ImageConfig, RegistryError> {
        let action = format!("read the config of `{reference}`");
        let host = reference.registry().to_string();
        let (body, _, digest) = self
            .manifest(reference, &action)
            .await?
            .ok_or_else(|| invalid(&host, &action, "the manifest does not exist".to_string()))?;
        let mut manifest: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| invalid(&host, &action, e.to_string()))?;
        if let Some(child) = platform_manifest(&manifest) {
            let child_reference = reference.with_digest(&child);
            let (child_body, _, _) =
                self.manifest(&child_reference, &action)
                    .await?
                    .ok_or_else(|| {
                        invalid(
                            &host,
                            &action,
                            format!("manifest {child} of the index does not exist"),
                        )
                    })?;
            manifest = serde_json::from_slice(&child_body)
                .map_err(|e| invalid(&host, &action, e.to_string()))?;
        }
        let config_digest = manifest["config"]["digest"]
            .as_str()
            .filter(|d| crate::reference::validate_digest(d).is_ok())
            .ok_or_else(|| {
                invalid(
                    &host,
                    &action,
                    "the manifest names no config blob".to_string(),
                )
            })?
            .to_string();
        let path = format!("/v2/{}/blobs/{config_digest}", reference.registry_path());
        let response = self.get(reference, &path, &action).await?;
        let status = response.status();
        let blob = read_capped(response, CONFIG_LIMIT, &host, &action).await?;
        if !status.is_success() {
            return Err(status_error(&host, &action, status, &blob));
        }
        if format!("sha256:{:x}", Sha256::digest(&blob)) != config_digest {
            return Err(invalid(
                &host,
                &action,
                format!("config blob does not match its digest {config_digest}"),
            ));
        }
        #[derive(serde::Deserialize)]
        struct Blob {
            created: Option<String>,
            config: Option<Inner>,
        }
        #[derive(serde::Deserialize)]
        struct Inner {
            #[serde(rename = "Labels")]
            labels: Option<std::collections::BTreeMap<String, String>>,
        }
        let parsed: Blob =
            serde_json::from_slice(&blob).map_err(|e| invalid(&host, &action, e.to_string()))?;
        let layers = manifest["layers"].as_array().map_or(0, |layers| {
            layers
                .iter()
                .filter_map(|layer| layer["size"].as_u64())
                .sum::<u64>()
        });
        Ok(ImageConfig {
            digest,
            labels: parsed.config.and_then(|c| c.labels).unwrap_or_default(),
            created: parsed.created,
            size: layers + manifest["config"]["size"].as_u64().unwrap_or(0),
        })
    }

    async fn index_children(&self, reference: &Reference) -> Result<Vec<String>, RegistryError> {
        let action = format!("read the manifest `{reference}`");
        let host = reference.registry().to_string();
        let Some((body, _, _)) = self.manifest(reference, &action).await? else {
            return Ok(Vec::new());
        };
        let manifest: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| invalid(&host, &action, e.to_string()))?;
        Ok(manifest["manifests"]
            .as_array()
            .map(|entries| {
                entries
                    .iter()
                    .filter_map(|entry| entry["digest"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn copy_tag(
        &self,
        repository: &Reference,
        digest: &str,
        tag: &str,
    ) -> Result<(), RegistryError> {
        let action = format!("tag `{}` as `{tag}`", repository.with_digest(digest));
        let host = repository.registry().to_string();
        let source = repository.with_digest(digest);
        let (body, media_type, _) = self.manifest(&source, &action).await?.ok_or_else(|| {
            invalid(
                &host,
                &action,
                format!("manifest {digest} is not in the registry"),
            )
        })?;
        let mut headers = HeaderMap::new();
        let content_type = HeaderValue::from_str(&media_type)
            .map_err(|e| invalid(&host, &action, e.to_string()))?;
        headers.insert(CONTENT_TYPE, content_type);
        let path = format!("/v2/{}/manifests/{tag}", repository.registry_path());
        let response = self
            .send(Method::PUT, repository, &path, headers, Some(body), &action)
            .await?;
        let status = response.status();
        let written = header(&response, "docker-content-digest");
        let allow = header(&response, "allow");
        let reply = read_capped(response, MANIFEST_LIMIT, &host, &action).await?;
        if !status.is_success() {
            return Err(write_error(
                &host,
                &action,
                &Method::PUT,
                status,
                allow.as_deref(),
                &reply,
            ));
        }
        match written {
            Some(written) if written != digest => Err(invalid(
                &host,
                &action,
                format!("the registry stored {written}, not {digest}"),
            )),
            _ => Ok(()),
        }
    }

    async fn delete_manifest(
        &self,
        repository: &Reference,
        digest: &str,
    ) -> Result<(), RegistryError> {
        let action = format!("delete `{}`", repository.with_digest(digest));
        let host = repository.registry().to_string();
        let path = format!("/v2/{}/manifests/{digest}", repository.registry_path());
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
        let reply = read_capped(response, MANIFEST_LIMIT, &host, &action).await?;
        if status.is_success() {
            return Ok(());
        }
        // Gone already (another prune, or a concurrent delete) is done; a
        // registry that answers 404 but still serves the manifest has no
        // delete at that route, and must not be reported as pruned.
        if status == StatusCode::NOT_FOUND {
            let source = repository.with_digest(digest);
            return match self.manifest_digest(&source).await? {
                None => Ok(()),
                Some(_) => Err(RegistryError::Status {
                    registry: host.clone(),
                    action,
                    status: 404,
                    detail: "UNSUPPORTED: it answered 404 but still serves the manifest"
                        .to_string(),
                }),
            };
        }
        Err(write_error(
            &host,
            &action,
            &Method::DELETE,
            status,
            allow.as_deref(),
            &reply,
        ))
    }

    fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
}

/// For an index or manifest list, the digest of the linux/amd64 manifest
/// (else the first); `None` for a single-platform manifest.
fn platform_manifest(manifest: &serde_json::Value) -> Option<String> {
    let entries = manifest["manifests"].as_array()?;
    let chosen = entries
        .iter()
        .find(|m| m["platform"]["os"] == "linux" && m["platform"]["architecture"] == "amd64")
        .or_else(|| entries.first())?;
    chosen["digest"].as_str().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn indexes_pick_linux_amd64() {
        let index = serde_json::json!({"manifests": [
            {"digest": "sha256:arm", "platform": {"os": "linux", "architecture": "arm64"}},
            {"digest": "sha256:amd", "platform": {"os": "linux", "architecture": "amd64"}}
        ]});
        assert_eq!(platform_manifest(&index).as_deref(), Some("sha256:amd"));
        assert_eq!(platform_manifest(&serde_json::json!({"config": {}})), None);
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
            assert!(client.may_use_http(host), "{host}");
        }
        for host in [
            "registry.lan",
            "example.com:5000",
            "10.0.0.1:5000",
            "127.example.com:5000",
        ] {
            assert!(!client.may_use_http(host), "{host}");
        }
    }
}
