//! Connecting to an engine: the address checked (TLS files, ssh ports),
//! the engine's first answer awaited within the probe timeout (telling an
//! engine that is down from one that is slow), the API version agreed
//! (the lower of the server's and the client's, so Engine API 1.41 works),
//! and the bollard client for the address's scheme.

use std::collections::HashMap;
use std::io;
use std::time::Duration;

use bollard::errors::Error as BollardError;
use bollard::{ClientVersion, Docker, API_DEFAULT_VERSION};

use super::{describe, DockerEngine};
use crate::engine::address::{EngineAddress, TlsFiles};
use crate::engine::EngineError;
use crate::platform::Platform;

/// The oldest API every engine answers; used only to ask for the real one.
const PROBE_VERSION: ClientVersion = ClientVersion {
    major_version: 1,
    minor_version: 24,
};
/// How long the first contact waits for an answer unless `[engine]
/// probe_timeout` says otherwise.
pub const DEFAULT_PROBE_TIMEOUT: Duration = Duration::from_secs(10);
/// Builds and pushes may take long; this bounds a stalled connection.
const REQUEST_TIMEOUT_SECONDS: u64 = 3600;

impl DockerEngine {
    /// Connects to `address` (see [`crate::engine::address`]), waiting up to
    /// `probe_timeout` for the engine's first answer.
    pub async fn connect(
        address: &EngineAddress,
        probe_timeout: Duration,
    ) -> Result<DockerEngine, EngineError> {
        let host = address.host.clone();
        let tls = address.tls.as_ref();
        let unreachable = |message: String| EngineError::Unreachable {
            host: host.clone(),
            message,
        };
        if let Some(missing) = tls.and_then(TlsFiles::missing) {
            return Err(unreachable(format!(
                "the TLS file `{}` does not exist (the engine address comes from {}; set DOCKER_CERT_PATH to the directory holding ca.pem, cert.pem and key.pem)",
                missing.display(),
                address.source
            )));
        }
        if let Some(rest) = host.strip_prefix("ssh://") {
            // The ssh connection takes its port from the ssh config: a port
            // in the URL would be read as part of the host name.
            let authority = rest.split('/').next().unwrap_or_default();
            if let Some((name, port)) = authority.rsplit_once(':') {
                let machine = name.rsplit('@').next().unwrap_or(name);
                return Err(unreachable(format!(
                    "a port in an ssh:// engine address is not supported: give `{machine}` its port {port} in ~/.ssh/config (`Host {machine}` with `Port {port}`) and use `ssh://{name}`"
                )));
            }
        }
        tracing::debug!(%host, source = %address.source, tls = tls.is_some(), "engine address");
        let Probed {
            api: server,
            platform,
            podman,
        } = probe(&host, tls, probe_timeout).await?;
        let chosen = if (server.major_version, server.minor_version)
            < (
                API_DEFAULT_VERSION.major_version,
                API_DEFAULT_VERSION.minor_version,
            ) {
            server
        } else {
            *API_DEFAULT_VERSION
        };
        let docker = client(&host, tls, &chosen, REQUEST_TIMEOUT_SECONDS)
            .map_err(|e| unreachable(e.to_string()))?;
        let api_version = format!("{}.{}", chosen.major_version, chosen.minor_version);
        // BuildKit sessions are in the API from 1.39 (Docker 18.09) on
        // Linux engines; Podman answers the API with builds of its own.
        let linux = platform.as_ref().is_none_or(|p| p.os() == "linux");
        let dialer = super::session::Dialer::of(&host, tls);
        let buildkit = !podman
            && linux
            && dialer.is_some()
            && (chosen.major_version, chosen.minor_version) >= (1, 39);
        tracing::debug!(%host, api_version, podman, buildkit, "connected to the Docker Engine");
        Ok(DockerEngine {
            docker: docker.with_request_modifier(url_safe_registry_auth),
            host,
            api_version,
            credentials: HashMap::new(),
            owner: None,
            platform,
            dialer,
            buildkit,
            podman,
            bridge: tokio::sync::OnceCell::new(),
            proxies: Vec::new(),
        })
    }
}

/// What the engine said of itself at the first contact.
struct Probed {
    api: ClientVersion,
    platform: Option<Platform>,
    /// Podman's Docker-compatible service, not dockerd.
    podman: bool,
}

/// The engine's API version, asked within `timeout`. Connecting first
/// tells an engine that is down (no socket, nothing listening: fails at
/// once) from one that accepts the connection but does not answer in time.
async fn probe(
    host: &str,
    tls: Option<&TlsFiles>,
    timeout: Duration,
) -> Result<Probed, EngineError> {
    let unreachable = |message: String| EngineError::Unreachable {
        host: host.to_string(),
        message,
    };
    let started = std::time::Instant::now();
    connectable(host, timeout).await.map_err(unreachable)?;
    let remaining = timeout.saturating_sub(started.elapsed());
    let seconds = timeout.as_secs().max(1);
    let probe =
        client(host, tls, &PROBE_VERSION, seconds).map_err(|e| unreachable(describe(&e)))?;
    let slow = || EngineError::Slow {
        host: host.to_string(),
        waited: timeout,
    };
    let version = match tokio::time::timeout(remaining, probe.version()).await {
        Err(_) => return Err(slow()),
        Ok(Err(BollardError::RequestTimeoutError)) => return Err(slow()),
        Ok(Err(error)) => return Err(unreachable(describe(&error))),
        Ok(Ok(version)) => version,
    };
    tracing::debug!(%host, server = ?version.version, "the Docker Engine answered");
    let platform = version
        .os
        .as_deref()
        .zip(version.arch.as_deref())
        .and_then(|(os, arch)| Platform::from_descriptor(os, arch, None));
    let api = version
        .api_version
        .as_deref()
        .and_then(parse_version)
        .ok_or_else(|| unreachable("the engine did not report its API version".to_string()))?;
    let podman = version
        .components
        .iter()
        .flatten()
        .any(|component| component.name.to_ascii_lowercase().contains("podman"));
    Ok(Probed {
        api,
        platform,
        podman,
    })
}

/// Opens (and closes) one connection to the engine's socket or port; the
/// error says why none could be opened.
async fn connectable(host: &str, timeout: Duration) -> Result<(), String> {
    let connection = if let Some(path) = host.strip_prefix("unix://") {
        tokio::time::timeout(timeout, tokio::net::UnixStream::connect(path))
            .await
            .map(|result| result.map(drop).map_err(|error| (path.to_string(), error)))
    } else if let Some(address) = tcp_address(host) {
        tokio::time::timeout(timeout, tokio::net::TcpStream::connect(address.clone()))
            .await
            .map(|result| result.map(drop).map_err(|error| (address, error)))
    } else {
        // Another scheme (npipe://): the request itself tells.
        return Ok(());
    };
    match connection {
        Err(_) => Err(format!(
            "no connection within {}s",
            timeout.as_secs().max(1)
        )),
        Ok(Ok(())) => Ok(()),
        Ok(Err((place, error))) => Err(match error.kind() {
            io::ErrorKind::NotFound => format!("no socket at `{place}`"),
            io::ErrorKind::ConnectionRefused => {
                format!("connection refused: nothing listens on `{place}`")
            }
            io::ErrorKind::PermissionDenied => {
                format!("permission denied on `{place}` (is this user in the `docker` group?)")
            }
            _ => format!("cannot connect to `{place}`: {error}"),
        }),
    }
}

/// `HOST:PORT` of a `tcp://`, `http://` or `https://` engine address.
pub(super) fn tcp_address(host: &str) -> Option<String> {
    let (scheme, rest) = host.split_once("://")?;
    let authority = rest.split('/').next()?;
    if authority.is_empty() {
        return None;
    }
    let has_port = authority
        .rsplit_once(':')
        .is_some_and(|(_, port)| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()));
    match scheme {
        // ssh:// is reached through the ssh client, which reports itself.
        "tcp" | "http" | "https" if has_port => Some(authority.to_string()),
        "tcp" | "http" => Some(format!("{authority}:2375")),
        "https" => Some(format!("{authority}:2376")),
        _ => None,
    }
}

fn client(
    host: &str,
    tls: Option<&TlsFiles>,
    version: &ClientVersion,
    timeout: u64,
) -> Result<Docker, BollardError> {
    if let Some(path) = host.strip_prefix("unix://") {
        Docker::connect_with_unix(path, timeout, version)
    } else if host.starts_with("ssh://") {
        // The engine's own convention: `ssh HOST docker system dial-stdio`,
        // with the user's ssh config, agent and known hosts.
        Docker::connect_with_ssh(host, timeout, version, None)
    } else if let Some(tls) = tls {
        Docker::connect_with_ssl(host, &tls.key, &tls.cert, &tls.ca, timeout, version)
    } else {
        Docker::connect_with_http(host, timeout, version)
    }
}

/// Re-encodes the X-Registry-Auth and X-Registry-Config headers as URL-safe base64. The engine
/// decodes it as URL-safe (API 1.41 silently drops credentials it cannot
/// decode), while bollard writes standard base64, whose `+` and `/` break
/// it for some passwords.
pub(super) fn url_safe_registry_auth(
    mut request: bollard::BollardRequest,
) -> bollard::BollardRequest {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};
    use base64::Engine as _;
    for name in ["X-Registry-Auth", "X-Registry-Config"] {
        let recoded = request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| STANDARD.decode(value).ok())
            .map(|json| URL_SAFE.encode(json))
            .and_then(|value| http::HeaderValue::from_str(&value).ok());
        if let Some(value) = recoded {
            request.headers_mut().insert(name, value);
        }
    }
    request
}

fn parse_version(text: &str) -> Option<ClientVersion> {
    let (major, minor) = text.split_once('.')?;
    Some(ClientVersion {
        major_version: major.parse().ok()?,
        minor_version: minor.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_auth_is_recoded_url_safe() {
        use base64::engine::general_purpose::{STANDARD, URL_SAFE};
        use base64::Engine as _;
        // A password whose standard encoding has both `+` and `/`.
        let json = r#"{"username":"ci","password":"p>?~>?~"}"#;
        let standard = STANDARD.encode(json);
        assert!(
            standard.contains('+') || standard.contains('/'),
            "{standard}"
        );
        let request = http::Request::builder()
            .header("X-Registry-Auth", &standard)
            .body(bollard::body_full(bytes::Bytes::new()))
            .unwrap();
        let request = url_safe_registry_auth(request);
        let sent = request.headers()["X-Registry-Auth"].to_str().unwrap();
        assert!(!sent.contains('+') && !sent.contains('/'), "{sent}");
        assert_eq!(URL_SAFE.decode(sent).unwrap(), json.as_bytes());
    }

    #[test]
    fn tcp_engine_addresses_get_their_default_port() {
        for (host, address) in [
            ("tcp://127.0.0.1:2375", Some("127.0.0.1:2375")),
            ("tcp://docker.internal", Some("docker.internal:2375")),
            ("http://docker.internal/", Some("docker.internal:2375")),
            ("https://docker.internal", Some("docker.internal:2376")),
            ("https://[::1]:3000/api", Some("[::1]:3000")),
            ("tcp://", None),
            ("npipe:////./pipe/docker_engine", None),
            ("unix:///var/run/docker.sock", None),
        ] {
            assert_eq!(tcp_address(host).as_deref(), address, "{host}");
        }
    }
}
