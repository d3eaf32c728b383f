//! A BuildKit session: the connection a BuildKit build asks its client
//! for what only the client has. golden opens it itself (`POST /session`,
//! upgraded to HTTP/2, on a connection of its own to the engine), serves
//! gRPC on it for the length of one build and closes it after:
//! - health (the engine checks the session is alive);
//! - secrets, from memory: the values `RUN --mount=type=secret` reads;
//! - registry credentials, by host: BuildKit pulls FROM images itself and
//!   asks the session, not the build request, for them.
//!
//! Why not bollard's own session: it serves credentials only, no secrets.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bollard::moby::buildkit::secrets::v1::secrets_server::{Secrets, SecretsServer};
use bollard::moby::buildkit::secrets::v1::{GetSecretRequest, GetSecretResponse};
use bollard::moby::filesync::v1::auth_server::{Auth, AuthServer};
use bollard::moby::filesync::v1::{
    CredentialsRequest, CredentialsResponse, FetchTokenRequest, FetchTokenResponse,
    GetTokenAuthorityRequest, GetTokenAuthorityResponse, VerifyTokenAuthorityRequest,
    VerifyTokenAuthorityResponse,
};
use bytes::Bytes;
use futures::StreamExt;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::engine::address::TlsFiles;
use crate::engine::{EngineError, SecretValue};

/// The gRPC methods the session offers (the engine routes only these).
const METHODS: &[&str] = &[
    "/grpc.health.v1.Health/Check",
    "/moby.buildkit.secrets.v1.Secrets/GetSecret",
    "/moby.filesync.v1.Auth/Credentials",
    "/moby.filesync.v1.Auth/FetchToken",
    "/moby.filesync.v1.Auth/GetTokenAuthority",
    "/moby.filesync.v1.Auth/VerifyTokenAuthority",
];
/// How long closing waits for the engine to let go of the session.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long opening may take (connect, upgrade).
const OPEN_TIMEOUT: Duration = Duration::from_secs(30);

/// How golden reaches the engine for a session: the engine's own address.
#[derive(Debug, Clone)]
pub(super) enum Dialer {
    Unix(PathBuf),
    Tcp(String),
    Tls {
        address: String,
        server_name: String,
        files: TlsFiles,
    },
    /// `ssh [user@]host docker system dial-stdio`, as the docker CLI does.
    Ssh(String),
}

impl Dialer {
    /// The dialer of the engine address `host` (`unix://`, `tcp://`,
    /// `https://`, `ssh://`), with the TLS files a tcp:// engine uses.
    pub(super) fn of(host: &str, tls: Option<&TlsFiles>) -> Option<Dialer> {
        if let Some(path) = host.strip_prefix("unix://") {
            return Some(Dialer::Unix(PathBuf::from(path)));
        }
        if let Some(rest) = host.strip_prefix("ssh://") {
            let authority = rest.split('/').next().unwrap_or_default();
            return (!authority.is_empty()).then(|| Dialer::Ssh(authority.to_string()));
        }
        let address = super::connect::tcp_address(host)?;
        match tls {
            Some(files) => {
                let server_name = address
                    .rsplit_once(':')
                    .map_or(address.as_str(), |(name, _)| name)
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_string();
                Some(Dialer::Tls {
                    address,
                    server_name,
                    files: files.clone(),
                })
            }
            None => Some(Dialer::Tcp(address)),
        }
    }

    async fn dial(&self) -> io::Result<Box<dyn Io>> {
        match self {
            Dialer::Unix(path) => Ok(Box::new(tokio::net::UnixStream::connect(path).await?)),
            Dialer::Tcp(address) => Ok(Box::new(tokio::net::TcpStream::connect(address).await?)),
            Dialer::Tls {
                address,
                server_name,
                files,
            } => {
                let connector = tokio_rustls::TlsConnector::from(Arc::new(tls_config(files)?));
                let name = rustls_pki_types::ServerName::try_from(server_name.clone())
                    .map_err(|error| io::Error::new(io::ErrorKind::InvalidInput, error))?;
                let stream = tokio::net::TcpStream::connect(address).await?;
                Ok(Box::new(connector.connect(name, stream).await?))
            }
            Dialer::Ssh(authority) => {
                let mut child = tokio::process::Command::new("ssh")
                    .args([
                        "-T",
                        "-o",
                        "BatchMode=yes",
                        "-o",
                        "StrictHostKeyChecking=accept-new",
                    ])
                    .args(["--", authority])
                    .args(["docker", "system", "dial-stdio"])
                    .stdin(std::process::Stdio::piped())
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::null())
                    .kill_on_drop(true)
                    .spawn()?;
                let (Some(stdout), Some(stdin)) = (child.stdout.take(), child.stdin.take()) else {
                    return Err(io::Error::other("ssh gave no pipes"));
                };
                // ssh ends when the session closes its pipes; until then
                // this task holds (and then reaps) it.
                tokio::spawn(async move {
                    let _ = child.wait().await;
                });
                Ok(Box::new(tokio::io::join(stdout, stdin)))
            }
        }
    }
}

/// The client configuration of a TLS engine: its CA, golden's certificate.
fn tls_config(files: &TlsFiles) -> io::Result<rustls::ClientConfig> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let invalid = |error: rustls_pki_types::pem::Error| io::Error::other(error.to_string());
    let mut roots = rustls::RootCertStore::empty();
    for certificate in CertificateDer::pem_file_iter(&files.ca).map_err(invalid)? {
        roots
            .add(certificate.map_err(invalid)?)
            .map_err(io::Error::other)?;
    }
    let chain = CertificateDer::pem_file_iter(&files.cert)
        .map_err(invalid)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(invalid)?;
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(invalid)?;
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(io::Error::other)
}

/// What a session serves.
pub(super) struct Services {
    pub secrets: BTreeMap<String, SecretValue>,
    /// `(username, password)` by registry host.
    pub credentials: HashMap<String, (String, String)>,
}

/// An open session; [`Session::close`] ends it.
pub(super) struct Session {
    pub id: String,
    stop: Option<oneshot::Sender<()>>,
    server: JoinHandle<()>,
}

impl Session {
    /// Opens a session on a connection of its own to the engine, at the
    /// API version agreed with it; returns once the engine took it.
    pub(super) async fn open(
        dialer: &Dialer,
        api_version: &str,
        image: &str,
        services: Services,
    ) -> Result<Session, EngineError> {
        let failed = |message: String| EngineError::Api {
            action: format!("open a BuildKit session for `{image}`"),
            message,
        };
        let id = session_id();
        let upgraded = tokio::time::timeout(OPEN_TIMEOUT, upgrade(dialer, api_version, &id))
            .await
            .map_err(|_| failed(format!("no answer within {}s", OPEN_TIMEOUT.as_secs())))?
            .map_err(failed)?;
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(serve(upgraded, services, stopped));
        tracing::debug!(image, session = %id, "BuildKit session open");
        Ok(Session {
            id,
            stop: Some(stop),
            server,
        })
    }

    /// Ends the session (the engine is told with HTTP/2 GOAWAY) and waits
    /// for it, within a bound.
    pub(super) async fn close(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if tokio::time::timeout(CLOSE_TIMEOUT, &mut self.server)
            .await
            .is_err()
        {
            tracing::debug!(session = %self.id, "the BuildKit session did not end in time; dropped");
            self.server.abort();
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // A build that was cancelled (never reached `close`): stopped too,
        // and its server ended within the same bound.
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
            let server = self.server.abort_handle();
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    tokio::time::sleep(CLOSE_TIMEOUT).await;
                    server.abort();
                });
            }
        }
    }
}

/// A session id as BuildKit wants one: unique, no slashes.
fn session_id() -> String {
    format!("golden-{}-{:016x}", std::process::id(), fastrand::u64(..))
}

/// `POST /session` on a fresh connection, upgraded to h2c.
async fn upgrade(
    dialer: &Dialer,
    api_version: &str,
    id: &str,
) -> Result<hyper::upgrade::Upgraded, String> {
    let stream = dialer
        .dial()
        .await
        .map_err(|error| format!("cannot connect to the engine: {error}"))?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|error| error.to_string())?;
    tokio::spawn(async move {
        if let Err(error) = connection.with_upgrades().await {
            tracing::debug!(%error, "BuildKit session connection ended");
        }
    });
    let mut request = http::Request::post(format!("http://docker/v{api_version}/session"))
        .header("Host", "docker")
        .header("Connection", "Upgrade")
        .header("Upgrade", "h2c")
        .header("X-Docker-Expose-Session-Uuid", id)
        .header("X-Docker-Expose-Session-Name", "golden")
        .header("X-Docker-Expose-Session-Sharedkey", id);
    for method in METHODS {
        request = request.header("X-Docker-Expose-Session-Grpc-Method", *method);
    }
    let request = request
        .body(http_body_util::Empty::<Bytes>::new())
        .map_err(|error| error.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|error| error.to_string())?;
    if response.status() != http::StatusCode::SWITCHING_PROTOCOLS {
        return Err(format!(
            "the engine answered {} to POST /session (it does not offer BuildKit sessions; set `builder = \"classic\"` for this engine)",
            response.status()
        ));
    }
    hyper::upgrade::on(response)
        .await
        .map_err(|error| error.to_string())
}

/// Serves the session's gRPC on the upgraded connection until `stopped`.
async fn serve(
    upgraded: hyper::upgrade::Upgraded,
    services: Services,
    stopped: oneshot::Receiver<()>,
) {
    let io = SessionIo(hyper_util::rt::TokioIo::new(upgraded));
    // One connection, then none: the incoming stream stays open until
    // `stopped`, so the server keeps serving that connection; then it
    // ends it gracefully.
    let incoming =
        futures::stream::iter([Ok::<_, io::Error>(io)]).chain(futures::stream::pending());
    let served = tonic::transport::Server::builder()
        .add_service(bollard::health::health_server::HealthServer::new(Healthy))
        .add_service(SecretsServer::new(MemorySecrets(Arc::new(
            services.secrets,
        ))))
        .add_service(AuthServer::new(SessionAuth(Arc::new(services.credentials))))
        .serve_with_incoming_shutdown(incoming, async {
            let _ = stopped.await;
        })
        .await;
    if let Err(error) = served {
        tracing::debug!(%error, "BuildKit session server ended");
    }
}

/// Secrets by id; an id golden was not given is not found (a required
/// mount then fails the build, naming it).
struct MemorySecrets(Arc<BTreeMap<String, SecretValue>>);

#[tonic::async_trait]
impl Secrets for MemorySecrets {
    async fn get_secret(
        &self,
        request: tonic::Request<GetSecretRequest>,
    ) -> Result<tonic::Response<GetSecretResponse>, tonic::Status> {
        let id = &request.get_ref().id;
        tracing::debug!(secret = %id, "the build asked for a secret");
        match self.0.get(id) {
            Some(value) => Ok(tonic::Response::new(GetSecretResponse {
                data: value.expose().to_vec(),
            })),
            None => Err(tonic::Status::not_found(format!(
                "secret {id} is not configured for this image"
            ))),
        }
    }
}

struct Healthy;

#[tonic::async_trait]
impl bollard::health::health_server::Health for Healthy {
    async fn check(
        &self,
        _request: tonic::Request<bollard::health::HealthCheckRequest>,
    ) -> Result<tonic::Response<bollard::health::HealthCheckResponse>, tonic::Status> {
        Ok(tonic::Response::new(bollard::health::HealthCheckResponse {
            status: bollard::health::health_check_response::ServingStatus::Serving as i32,
        }))
    }

    async fn list(
        &self,
        _request: tonic::Request<bollard::health::HealthListRequest>,
    ) -> Result<tonic::Response<bollard::health::HealthListResponse>, tonic::Status> {
        Err(tonic::Status::unimplemented("list"))
    }

    type WatchStream =
        futures::stream::Empty<Result<bollard::health::HealthCheckResponse, tonic::Status>>;

    async fn watch(
        &self,
        _request: tonic::Request<bollard::health::HealthCheckRequest>,
    ) -> Result<tonic::Response<Self::WatchStream>, tonic::Status> {
        Err(tonic::Status::unimplemented("watch"))
    }
}

/// Registry credentials by host, as the engine asks for them when it
/// pulls a FROM image; a host golden has none for is anonymous.
struct SessionAuth(Arc<HashMap<String, (String, String)>>);

impl SessionAuth {
    fn lookup(&self, host: &str) -> Option<&(String, String)> {
        let docker_hub = ["registry-1.docker.io", "docker.io", "index.docker.io"];
        self.0.get(host).or_else(|| {
            docker_hub
                .contains(&host)
                .then(|| docker_hub.iter().find_map(|name| self.0.get(*name)))
                .flatten()
        })
    }
}

#[tonic::async_trait]
impl Auth for SessionAuth {
    async fn credentials(
        &self,
        request: tonic::Request<CredentialsRequest>,
    ) -> Result<tonic::Response<CredentialsResponse>, tonic::Status> {
        let host = &request.get_ref().host;
        let (username, secret) = self.lookup(host).cloned().unwrap_or_default();
        tracing::debug!(%host, known = !username.is_empty(), "the build asked for registry credentials");
        Ok(tonic::Response::new(CredentialsResponse {
            username,
            secret,
        }))
    }

    async fn fetch_token(
        &self,
        _request: tonic::Request<FetchTokenRequest>,
    ) -> Result<tonic::Response<FetchTokenResponse>, tonic::Status> {
        // The engine then fetches the token itself with the credentials.
        Err(tonic::Status::unimplemented("fetch_token"))
    }

    async fn get_token_authority(
        &self,
        _request: tonic::Request<GetTokenAuthorityRequest>,
    ) -> Result<tonic::Response<GetTokenAuthorityResponse>, tonic::Status> {
        Err(tonic::Status::unavailable(
            "client-side authentication disabled",
        ))
    }

    async fn verify_token_authority(
        &self,
        _request: tonic::Request<VerifyTokenAuthorityRequest>,
    ) -> Result<tonic::Response<VerifyTokenAuthorityResponse>, tonic::Status> {
        Err(tonic::Status::unavailable(
            "client-side authentication disabled",
        ))
    }
}

/// A connection to the engine, whatever carries it.
trait Io: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Io for T {}

/// The upgraded connection, as tonic's server takes a connection.
struct SessionIo(hyper_util::rt::TokioIo<hyper::upgrade::Upgraded>);

impl tonic::transport::server::Connected for SessionIo {
    type ConnectInfo = ();
    fn connect_info(&self) {}
}

impl AsyncRead for SessionIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for SessionIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_is_dialled_where_the_engine_is() {
        assert!(matches!(
            Dialer::of("unix:///var/run/docker.sock", None),
            Some(Dialer::Unix(path)) if path == std::path::Path::new("/var/run/docker.sock")
        ));
        assert!(matches!(
            Dialer::of("tcp://127.0.0.1", None),
            Some(Dialer::Tcp(address)) if address == "127.0.0.1:2375"
        ));
        assert!(matches!(
            Dialer::of("ssh://ci@build-host", None),
            Some(Dialer::Ssh(authority)) if authority == "ci@build-host"
        ));
        let files = TlsFiles::in_directory(std::path::Path::new("/certs"));
        assert!(matches!(
            Dialer::of("tcp://[::1]:2376", Some(&files)),
            Some(Dialer::Tls { address, server_name, .. }) if address == "[::1]:2376" && server_name == "::1"
        ));
        assert!(Dialer::of("npipe:////./pipe/docker_engine", None).is_none());
    }

    #[test]
    fn docker_hub_credentials_answer_for_every_name_buildkit_uses() {
        let auth = SessionAuth(Arc::new(HashMap::from([(
            "docker.io".to_string(),
            ("ci".to_string(), "pw".to_string()),
        )])));
        assert_eq!(
            auth.lookup("registry-1.docker.io").map(|c| c.0.as_str()),
            Some("ci")
        );
        assert_eq!(auth.lookup("127.0.0.1:5000"), None);
    }
}
