//! The wire details of the distribution API client: redirects, retries,
//! size-capped bodies, errors from status codes, auth challenges and
//! pagination links. No state; `mod.rs` holds the client.

use std::collections::HashMap;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, ACCEPT};
use reqwest::{Method, Response, StatusCode};

use crate::reference::Reference;
use crate::registry::RegistryError;

const MANIFEST_TYPES: &str = "application/vnd.docker.distribution.manifest.v2+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.oci.image.index.v1+json";

/// Follows a registry's redirects on the same host; only blob downloads may
/// go to another host (registries send those to their storage), and the
/// credentials never follow them there.
pub(super) fn redirect_policy(
    attempt: reqwest::redirect::Attempt<'_>,
) -> reqwest::redirect::Action {
    let first = attempt.previous().first().cloned();
    if attempt.previous().len() > 5 {
        return attempt.error("more than 5 redirects");
    }
    let Some(first) = first else {
        return attempt.follow();
    };
    let same_host = first.host_str() == attempt.url().host_str()
        && first.port_or_known_default() == attempt.url().port_or_known_default();
    if same_host || first.path().contains("/blobs/") {
        attempt.follow()
    } else {
        let target = attempt.url().host_str().unwrap_or("?").to_string();
        attempt.error(format!("the registry redirected to another host ({target}), which golden only follows for blob downloads"))
    }
}

/// Statuses worth another try: the registry or a proxy in front of it is
/// overloaded or restarting.
pub(super) fn is_transient_status(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS || matches!(status.as_u16(), 500 | 502 | 503 | 504)
}

/// The wait a 429 or 503 asks for in Retry-After (seconds), capped at a minute.
pub(super) fn retry_after(response: &Response) -> Option<Duration> {
    let seconds: u64 = header(response, "retry-after")?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds.min(60)))
}

/// The path of a pagination link: relative (`/v2/...`), or absolute on the
/// same host: host names compared in any case, and a missing port the
/// link's scheme's default (`https://r.example/` is `r.example:443`).
/// Links elsewhere are not followed.
pub(super) fn same_host_path(link: &str, host: &str) -> Option<String> {
    if link.starts_with("/v2/") {
        return Some(link.to_string());
    }
    let url = reqwest::Url::parse(link).ok()?;
    let default = match url.scheme() {
        "https" => 443,
        "http" => 80,
        _ => return None,
    };
    let port = url.port().unwrap_or(default);
    let (configured, configured_port) = match host.rsplit_once(':') {
        Some((name, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
            (name, port.parse::<u16>().ok()?)
        }
        _ => (host, default),
    };
    let same = url.host_str()?.eq_ignore_ascii_case(configured) && port == configured_port;
    let path = url.path();
    (same && path.starts_with("/v2/")).then(|| match url.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_string(),
    })
}

/// The target of the `rel="next"` link in a `Link` header
/// (`<url>; rel="next", <url>; rel="prev"`); other relations are not
/// followed.
pub(super) fn next_link(header: &str) -> Option<String> {
    let mut rest = header;
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        let close = after.find('>')?;
        let target = &after[..close];
        let parameters = &after[close + 1..];
        let end = parameters.find('<').unwrap_or(parameters.len());
        let next = parameters[..end].split(';').any(|parameter| {
            let Some((name, value)) = parameter.split_once('=') else {
                return false;
            };
            let value = value.trim().trim_end_matches(',').trim().trim_matches('"');
            name.trim().eq_ignore_ascii_case("rel")
                && value
                    .split_whitespace()
                    .any(|relation| relation.eq_ignore_ascii_case("next"))
        });
        if next {
            return Some(target.trim().to_string());
        }
        rest = &parameters[end..];
    }
    None
}

/// The path of the next page of `repository_path`'s tag list that `link`
/// names: on the same host (see [`same_host_path`]) and the same
/// repository's `tags/list`, whatever its query. `None` for a link to any
/// other list, which must not be merged into this one.
pub(super) fn tag_page_path(link: &str, host: &str, repository_path: &str) -> Option<String> {
    let path = same_host_path(link, host)?;
    let list = path.split_once('?').map_or(path.as_str(), |(list, _)| list);
    (list == format!("/v2/{repository_path}/tags/list")).then_some(path)
}

/// A response header as text.
pub(super) fn header(response: &Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string)
}

/// `/v2/<path>/manifests/<tag or digest>`.
pub(super) fn manifest_path(reference: &Reference) -> String {
    format!(
        "/v2/{}/manifests/{}",
        reference.registry_path(),
        reference.manifest_reference()
    )
}

pub(super) fn accept_manifests() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(ACCEPT, HeaderValue::from_static(MANIFEST_TYPES));
    headers
}

pub(super) fn poisoned(host: &str) -> RegistryError {
    invalid(host, "share state", "a lock was poisoned".to_string())
}

/// An error and its causes on one line.
pub(super) fn chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    message
}

pub(super) fn unreachable(host: &str, error: &reqwest::Error) -> RegistryError {
    if let super::tls::Failure::Tls(message) = super::tls::failure(error) {
        return RegistryError::Tls {
            registry: host.to_string(),
            message,
        };
    }
    RegistryError::Unreachable {
        registry: host.to_string(),
        message: chain(error),
    }
}

pub(super) fn invalid(host: &str, action: &str, message: String) -> RegistryError {
    RegistryError::Invalid {
        registry: host.to_string(),
        action: action.to_string(),
        message,
    }
}

pub(super) fn status_error(
    host: &str,
    action: &str,
    status: StatusCode,
    body: &[u8],
) -> RegistryError {
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<ErrorItem>,
    }
    #[derive(serde::Deserialize)]
    struct ErrorItem {
        code: Option<String>,
        message: Option<String>,
    }
    let detail = serde_json::from_slice::<Errors>(body)
        .ok()
        .map(|errors| {
            let parts: Vec<String> = errors
                .errors
                .into_iter()
                .map(|e| {
                    format!(
                        "{}: {}",
                        e.code.unwrap_or_default(),
                        e.message.unwrap_or_default()
                    )
                })
                .collect();
            parts.join("; ")
        })
        .unwrap_or_default();
    let (registry, action, detail) = (
        host.to_string(),
        action.to_string(),
        detail.chars().take(300).collect(),
    );
    if status.is_server_error() {
        RegistryError::ServerError {
            registry,
            action,
            status: status.as_u16(),
            detail,
        }
    } else {
        RegistryError::Status {
            registry,
            action,
            status: status.as_u16(),
            detail,
        }
    }
}

/// The error of a refused write or delete. A registry in read-only mode
/// says so, or (distribution's `maintenance.readonly`) answers 405 with an
/// `Allow` header that leaves the method out; a registry with deletes
/// disabled answers 405 with `Allow` naming DELETE and `UNSUPPORTED`.
pub(super) fn write_error(
    host: &str,
    action: &str,
    method: &Method,
    status: StatusCode,
    allow: Option<&str>,
    body: &[u8],
) -> RegistryError {
    let allowed: Vec<&str> = allow
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|allowed| {
            (1..=16).contains(&allowed.len()) && allowed.chars().all(|c| c.is_ascii_alphabetic())
        })
        .collect();
    let method_left_out = status == StatusCode::METHOD_NOT_ALLOWED
        && !allowed.is_empty()
        && !allowed
            .iter()
            .any(|allowed| allowed.eq_ignore_ascii_case(method.as_str()));
    let text = String::from_utf8_lossy(body).to_ascii_lowercase();
    let says_read_only = ["read-only mode", "read only mode"]
        .iter()
        .any(|phrase| text.contains(phrase));
    if !(method_left_out || says_read_only) {
        return status_error(host, action, status, body);
    }
    RegistryError::ReadOnly {
        registry: host.to_string(),
        action: action.to_string(),
        status: status.as_u16(),
        allowed: if method_left_out {
            format!("only {}", allowed.join(", "))
        } else {
            "reads only".to_string()
        },
    }
}

/// Reads a body, refusing more than `limit` bytes.
pub(super) async fn read_capped(
    mut response: Response,
    limit: usize,
    host: &str,
    action: &str,
) -> Result<Vec<u8>, RegistryError> {
    if response
        .content_length()
        .is_some_and(|length| length as usize > limit)
    {
        return Err(invalid(
            host,
            action,
            format!("the body is larger than {limit} bytes"),
        ));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|error| unreachable(host, &error))?
    {
        if body.len() + chunk.len() > limit {
            return Err(invalid(
                host,
                action,
                format!("the body is larger than {limit} bytes"),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Whether a WWW-Authenticate challenge asks for basic auth.
pub(super) fn is_basic(challenge: &str) -> bool {
    challenge
        .trim_start()
        .get(..5)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("basic"))
}

/// The `key="value"` pairs of a WWW-Authenticate challenge.
pub(super) fn parse_challenge(text: &str) -> HashMap<String, String> {
    let mut parameters = HashMap::new();
    let mut rest = text.trim();
    while let Some((key, after)) = rest.split_once('=') {
        let key = key
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let (value, remaining) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.find('"') {
                Some(end) => (&quoted[..end], &quoted[end + 1..]),
                None => (quoted, ""),
            }
        } else {
            match after.find(',') {
                Some(end) => (&after[..end], &after[end..]),
                None => (after, ""),
            }
        };
        parameters.insert(key, value.to_string());
        rest = remaining.trim_start_matches(',').trim();
    }
    parameters
}
