//! Registry authentication: the challenges a registry answers 401 with
//! (`WWW-Authenticate`), bearer tokens fetched from the realm they name
//! (anonymously, or with the host's credentials) and kept by host and
//! scope, and basic auth for hosts that ask for it. Credentials go to a
//! token server only over HTTPS unless golden may use plain HTTP there; as
//! Docker does, they go to the realm the registry names, on whatever host
//! (a plain-HTTP realm off the loopback is warned about). A token that is
//! not a valid header value is the token server's error, not the network's.
//! Credentials a host refuses are sent to it no more in this run: every
//! later request to it fails at once with the same error, naming where
//! they came from (a locked account is worse than a failed run).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use reqwest::header::{HeaderValue, AUTHORIZATION, WWW_AUTHENTICATE};
use reqwest::{Method, RequestBuilder, Response};

use super::transport::Transport;
use super::wire::*;
use crate::name::Repository;
use crate::registry::credentials::Credentials;
use crate::registry::RegistryError;

const TOKEN_LIMIT: usize = 1024 * 1024;

/// The token scope a request needs: pull for reads, delete for deletes,
/// pull and push for writes.
pub(super) fn scope(repository: &Repository, method: &Method) -> String {
    let actions = if method == Method::GET || method == Method::HEAD {
        "pull"
    } else if method == Method::DELETE {
        "delete"
    } else {
        "pull,push"
    };
    format!("repository:{}:{actions}", repository.path())
}

/// What to do after a 401.
pub(super) enum Challenged {
    /// Send the request again: a token or basic auth is ready.
    Retry,
    /// The answer stands (no usable challenge, or credentials refused).
    Answer,
}

pub(super) struct Auth {
    /// Credentials by registry host; other hosts are read anonymously.
    credentials: HashMap<String, Credentials>,
    /// Bearer tokens by (host, scope).
    tokens: Mutex<HashMap<(String, String), String>>,
    /// Hosts that asked for basic auth: later requests send it at once.
    basic: Mutex<HashSet<String>>,
    /// Plain-HTTP realms already warned about.
    warned: Mutex<HashSet<String>>,
    /// Hosts that refused their credentials.
    refused: Mutex<HashSet<String>>,
}

impl Auth {
    pub fn new(credentials: HashMap<String, Credentials>) -> Auth {
        Auth {
            credentials,
            tokens: Mutex::new(HashMap::new()),
            basic: Mutex::new(HashSet::new()),
            warned: Mutex::new(HashSet::new()),
            refused: Mutex::new(HashSet::new()),
        }
    }

    /// The error of `host` when it refused its credentials earlier in the
    /// run: nothing more is sent to it.
    pub fn refused(&self, host: &str) -> Option<RegistryError> {
        let refused = self.refused.lock().ok()?.contains(host);
        refused.then(|| self.refusal(host)).flatten()
    }

    /// Records that `host` refused its credentials; the error that says so.
    pub fn refuse(&self, host: &str) -> Option<RegistryError> {
        let error = self.refusal(host)?;
        if let Ok(mut refused) = self.refused.lock() {
            refused.insert(host.to_string());
        }
        Some(error)
    }

    fn refusal(&self, host: &str) -> Option<RegistryError> {
        let credentials = self.credentials.get(host)?;
        Some(RegistryError::CredentialsRefused {
            registry: host.to_string(),
            user: credentials.username.clone(),
            from: credentials.source.describe(),
            fix: credentials.source.fix(host, &credentials.username),
        })
    }

    /// `request` with what `host` is known to want for `scope`: a bearer
    /// token, else basic auth once the host asked for it; and whether basic
    /// credentials were sent.
    pub fn authorize(
        &self,
        request: RequestBuilder,
        host: &str,
        scope: &str,
    ) -> (RequestBuilder, bool) {
        if let Some(token) = self.token_for(host, scope) {
            (
                request.header(AUTHORIZATION, format!("Bearer {token}")),
                false,
            )
        } else if let Some(credentials) = self.basic_credentials(host) {
            let request = request.basic_auth(&credentials.username, Some(credentials.password()));
            (request, true)
        } else {
            (request, false)
        }
    }

    /// Answers the challenge of a 401 `response` to a request for `scope`
    /// (`sent_basic`: it carried basic credentials already).
    pub async fn answer(
        &self,
        transport: &Transport,
        response: &Response,
        host: &str,
        scope: &str,
        sent_basic: bool,
        action: &str,
    ) -> Result<Challenged, RegistryError> {
        let Some(challenge) = response
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
        else {
            return Ok(Challenged::Answer);
        };
        if is_basic(&challenge) && self.credentials.contains_key(host) {
            // Every request met at once by the challenge retries, not only
            // the first to record it; one that already carried the
            // credentials was refused them.
            self.basic
                .lock()
                .map_err(|_| poisoned(host))?
                .insert(host.to_string());
            if sent_basic {
                if let Some(refused) = self.refuse(host) {
                    return Err(refused);
                }
                return Ok(Challenged::Answer);
            }
            return Ok(Challenged::Retry);
        }
        let Some(token) = self
            .fetch_token(transport, host, &challenge, scope, action)
            .await?
        else {
            return Ok(Challenged::Answer);
        };
        self.tokens
            .lock()
            .map_err(|_| poisoned(host))?
            .insert((host.to_string(), scope.to_string()), token);
        Ok(Challenged::Retry)
    }

    /// A 401 that a fresh token did not cure because the token server
    /// granted less than `scope` (`error="insufficient_scope"`): the
    /// credentials lack a permission, which logging in again cannot fix.
    pub fn insufficient_scope(
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

    /// The credentials of `host` once it asked for basic auth.
    /// The credentials sent as basic auth to `host`, once it asked for
    /// them; never an identity token, which only a token server takes.
    fn basic_credentials(&self, host: &str) -> Option<&Credentials> {
        let asked = self.basic.lock().ok()?.contains(host);
        asked
            .then(|| self.credentials.get(host))
            .flatten()
            .filter(|credentials| credentials.token().is_none())
    }

    fn token_for(&self, host: &str, scope: &str) -> Option<String> {
        self.tokens
            .lock()
            .ok()?
            .get(&(host.to_string(), scope.to_string()))
            .cloned()
    }

    /// A bearer token for `scope` from the realm in `challenge`; `None`
    /// when the challenge is not a bearer one.
    async fn fetch_token(
        &self,
        transport: &Transport,
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
            && !transport.may_use_http(host)
            && !transport.may_use_http(&realm_host)
        {
            return Err(invalid(host, action, format!("the token server `{realm}` is not HTTPS; golden will not send credentials to it")));
        }
        let service = parameters.get("service").map(String::as_str);
        let client = transport.client_for(&realm_host);
        let request = match self.credentials.get(host) {
            Some(credentials) => {
                if let Some(warning) = plain_http_realm(realm) {
                    let first = self
                        .warned
                        .lock()
                        .is_ok_and(|mut warned| warned.insert(realm.to_string()));
                    if first {
                        tracing::warn!("registry `{host}`: {warning}");
                    }
                }
                token_request(client, realm, service, scope, credentials)
            }
            None => token_request_anonymous(client, realm, service, scope),
        };
        let response = transport
            .send(request)
            .await
            .map_err(|error| unreachable(host, &error))?;
        let status = response.status();
        let body = read_capped(response, TOKEN_LIMIT, host, action).await?;
        if status == reqwest::StatusCode::UNAUTHORIZED {
            if let Some(refused) = self.refuse(host) {
                return Err(refused);
            }
        }
        if !status.is_success() {
            return Err(status_error(
                host,
                &format!("issue a token to {action}"),
                status,
                &body,
            ));
        }
        token_of(&body, host, realm, action)
    }
}

/// An anonymous token request: `GET realm?scope=...&service=...`.
fn token_request_anonymous(
    client: &reqwest::Client,
    realm: &str,
    service: Option<&str>,
    scope: &str,
) -> RequestBuilder {
    let mut query: Vec<(&str, &str)> = vec![("scope", scope)];
    if let Some(service) = service {
        query.push(("service", service));
    }
    client.get(realm).query(&query)
}

/// A token request with `credentials`: a password as basic auth on the
/// GET, as the docker CLI sends it; an identity token traded in the OAuth2
/// form (`POST`, `grant_type=refresh_token`), as the engine trades it.
fn token_request(
    client: &reqwest::Client,
    realm: &str,
    service: Option<&str>,
    scope: &str,
    credentials: &Credentials,
) -> RequestBuilder {
    let Some(token) = credentials.token() else {
        return token_request_anonymous(client, realm, service, scope)
            .basic_auth(&credentials.username, Some(credentials.password()));
    };
    let mut form: Vec<(&str, &str)> = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", token),
        ("client_id", "golden"),
        ("scope", scope),
    ];
    if let Some(service) = service {
        form.push(("service", service));
    }
    client.post(realm).form(&form)
}

/// The token in a token server's answer (`token`, or OAuth's
/// `access_token`), refused when it could not be sent as a header.
fn token_of(
    body: &[u8],
    host: &str,
    realm: &str,
    action: &str,
) -> Result<Option<String>, RegistryError> {
    #[derive(serde::Deserialize)]
    struct Token {
        token: Option<String>,
        access_token: Option<String>,
    }
    let token: Token = serde_json::from_slice(body)
        .map_err(|e| invalid(host, action, format!("token response: {e}")))?;
    let Some(token) = token.token.or(token.access_token) else {
        return Ok(None);
    };
    if HeaderValue::from_str(&format!("Bearer {token}")).is_err() {
        return Err(invalid(
            host,
            action,
            format!("the token server `{realm}` issued a token that is not a valid HTTP header value (it holds a line break or another control character)"),
        ));
    }
    Ok(Some(token))
}

/// The warning for sending credentials to `realm`: plain HTTP to a host
/// that is not the loopback, where anyone on the path can read them.
fn plain_http_realm(realm: &str) -> Option<String> {
    let url = reqwest::Url::parse(realm).ok()?;
    if url.scheme() != "http" {
        return None;
    }
    let host = url.host_str()?;
    let address = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host.eq_ignore_ascii_case("localhost")
        || address
            .parse::<std::net::IpAddr>()
            .is_ok_and(|address| address.is_loopback());
    (!loopback).then(|| {
        format!("its token server `{realm}` is plain HTTP: the registry credentials sent to it can be read on the way")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_to_a_plain_http_realm_off_the_loopback_are_warned_about() {
        let cases = [
            ("http://auth.example/token", true),
            ("http://10.0.0.1:5001/token", true),
            ("HTTP://auth.example/token", true),
            ("https://auth.example/token", false),
            ("http://127.0.0.1:5001/token", false),
            ("http://localhost:5001/token", false),
            ("http://[::1]:5001/token", false),
            ("junk", false),
        ];
        for (realm, warned) in cases {
            assert_eq!(plain_http_realm(realm).is_some(), warned, "{realm}");
        }
    }
}
