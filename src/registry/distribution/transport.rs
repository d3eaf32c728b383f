//! The transport under the registry client: an HTTP client per TLS setting
//! (verified, insecure, with a client certificate), the scheme each host
//! answers on (HTTPS, or plain HTTP for insecure and loopback hosts when
//! HTTPS fails, as the engine does) and retries of transient failures.
//! Every request to a registry or token server goes out through
//! [`Transport::send`], the one place requests are counted. No
//! authentication here (`auth.rs`) and no API knowledge (`mod.rs`).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::{Method, Response, StatusCode};

use super::tls::{self, ClientIdentity};
use super::wire::*;
use super::Settings;
use crate::registry::RegistryError;
use crate::retry::{backoff, RETRY_BUDGET};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Largest probe answer read.
const PROBE_LIMIT: usize = 1024 * 1024;

pub(super) struct Transport {
    client: reqwest::Client,
    /// Clients of hosts with their own TLS: insecure, or a client certificate.
    clients: HashMap<String, reqwest::Client>,
    /// Hosts allowed to fall back to plain HTTP.
    insecure: Vec<String>,
    /// The scheme each host answered on.
    schemes: Mutex<HashMap<String, &'static str>>,
    /// `scheme://host` of each registry, parsed once (see [`Transport::url`]).
    bases: Mutex<HashMap<String, reqwest::Url>>,
    requests: AtomicU64,
    /// How many times a transient failure is retried.
    retries: u32,
}

impl Transport {
    pub fn new(settings: &Settings) -> Result<Transport, RegistryError> {
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
        Ok(Transport {
            client,
            clients,
            insecure: settings.insecure.clone(),
            schemes: Mutex::new(HashMap::new()),
            bases: Mutex::new(HashMap::new()),
            requests: AtomicU64::new(0),
            retries: settings.retries,
        })
    }

    /// The URL of `path` (`/v2/...`, with its query) on `scheme://host`.
    /// The base is parsed once per host and the path set on a copy, so a
    /// run of 10,000 requests does not parse 10,000 URLs whole. `None`
    /// when the base does not parse (the caller sends the text, and the
    /// client reports it as before).
    /// `None` where building it from the parsed base could differ from
    /// parsing the whole (a `#` in a pagination link starts a fragment,
    /// which a request never sends): the caller then parses the whole.
    pub fn url(&self, scheme: &str, host: &str, path: &str) -> Option<reqwest::Url> {
        if path.contains('#') {
            return None;
        }
        let base = format!("{scheme}://{host}");
        let mut url = {
            let mut bases = self.bases.lock().ok()?;
            match bases.get(&base) {
                Some(url) => url.clone(),
                None => {
                    let url = reqwest::Url::parse(&base).ok()?;
                    bases.insert(base, url.clone());
                    url
                }
            }
        };
        let (path, query) = path
            .split_once('?')
            .map_or((path, None), |(path, query)| (path, Some(query)));
        url.set_path(path);
        url.set_query(query);
        Some(url)
    }

    /// The client for `host`: its own TLS settings, or the shared one.
    pub fn client_for(&self, host: &str) -> &reqwest::Client {
        self.clients.get(host).unwrap_or(&self.client)
    }

    /// Sends `request` once; every request golden sends passes here.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> reqwest::Result<Response> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        request.send().await
    }

    /// How many requests were sent.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    pub fn may_use_http(&self, host: &str) -> bool {
        let name = host.rsplit_once(':').map_or(host, |(name, _)| name);
        let loopback = name == "localhost"
            || name == "[::1]"
            || name
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        loopback || self.insecure.iter().any(|h| h == host)
    }

    /// Sends `request`, retrying transient failures (connection refused or
    /// reset, timeouts, 5xx, 429) with capped exponential backoff and
    /// jitter, honouring Retry-After, for at most `retries` tries and
    /// [`RETRY_BUDGET`]. Other answers return at once.
    pub async fn send_with_retries(
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
                return self
                    .send(request)
                    .await
                    .map_err(|error| unreachable(host, &error));
            };
            tracing::debug!(%method, %url, attempt, "registry request");
            let result = self.send(this_try).await;
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

    /// The scheme `host` answers on: HTTPS, or plain HTTP for insecure and
    /// loopback hosts when HTTPS fails, as the engine does.
    pub async fn scheme(&self, host: &str, action: &str) -> Result<&'static str, RegistryError> {
        if let Some(scheme) = self.schemes.lock().map_err(|_| poisoned(host))?.get(host) {
            return Ok(scheme);
        }
        let scheme = if !self.may_use_http(host) {
            "https"
        } else {
            let probe = self.client_for(host).get(format!("https://{host}/v2/"));
            match self.send(probe).await {
                Ok(_) => "https",
                // Plain HTTP only when the server does not speak TLS (or
                // cannot be reached at all); a failed handshake is reported.
                Err(error) => self.after_failed_probe(host, &error).await?,
            }
        };
        tracing::debug!(host, scheme, action, "registry scheme");
        self.schemes
            .lock()
            .map_err(|_| poisoned(host))?
            .insert(host.to_string(), scheme);
        Ok(scheme)
    }

    /// The scheme after an HTTPS probe of `host` failed with `error`.
    async fn after_failed_probe(
        &self,
        host: &str,
        error: &reqwest::Error,
    ) -> Result<&'static str, RegistryError> {
        let failure = tls::failure(error);
        tracing::debug!(host, ?failure, "HTTPS probe failed");
        match failure {
            tls::Failure::Tls(_) => Err(unreachable(host, error)),
            tls::Failure::NotTls => Ok("http"),
            // TLS 1.3 sends a refusal after the handshake: the connection
            // just closes.
            tls::Failure::Other if self.speaks_tls(host).await => Err(RegistryError::Tls {
                registry: host.to_string(),
                message: format!(
                    "the registry speaks TLS but closed the connection during the handshake ({}); it may require a client certificate, or refuse the one presented",
                    chain(error)
                ),
            }),
            tls::Failure::Other => Ok("http"),
        }
    }

    /// Whether `host` answers a plain HTTP request the way a TLS server
    /// does ("Client sent an HTTP request to an HTTPS server", HTTP 400):
    /// then an HTTPS failure is a TLS problem, never a reason for HTTP.
    async fn speaks_tls(&self, host: &str) -> bool {
        let probe = self.client_for(host).get(format!("http://{host}/v2/"));
        let Ok(response) = self.send(probe).await else {
            return false;
        };
        if response.status() != StatusCode::BAD_REQUEST {
            return false;
        }
        read_capped(response, PROBE_LIMIT, host, "probe")
            .await
            .is_ok_and(|body| String::from_utf8_lossy(&body).contains("HTTPS server"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_url_is_the_one_a_whole_parse_makes() {
        let transport = Transport::new(&Settings::default()).unwrap();
        let paths = [
            "/v2/a/tags/list",
            "/v2/a/tags/list?n=1000&last=x",
            "/v2/a/tags/list?last=x#fragment",
            "/v2/a/tags/list?last=a%20b&n=1",
            "/v2/a/b/manifests/sha256:0123",
            "/v2/a/../b/tags/list",
        ];
        for path in paths {
            let whole = reqwest::Url::parse(&format!("http://127.0.0.1:5000{path}")).unwrap();
            let built = transport.url("http", "127.0.0.1:5000", path);
            assert!(
                built.as_ref().is_none_or(|built| *built == whole),
                "{path}: {built:?}, a whole parse gives {whole}"
            );
        }
    }
}
