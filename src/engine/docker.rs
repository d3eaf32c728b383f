//! The bollard adapter of [`Engine`]: connects to the Docker Engine API,
//! agreeing on the lower of the server's and the client's API version (so
//! Engine API 1.41 works), streams build contexts as tar, and turns bollard
//! errors into [`EngineError`]. Build output goes to tracing; it never prints.

use std::collections::{HashMap, VecDeque};
use std::io::{self, Write};
use std::time::Duration;

use async_trait::async_trait;
use bollard::auth::DockerCredentials;
use bollard::errors::Error as BollardError;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    BuildImageOptionsBuilder, CreateContainerOptions, KillContainerOptions,
    ListContainersOptionsBuilder, LogsOptionsBuilder, PushImageOptionsBuilder,
    RemoveContainerOptionsBuilder, StartContainerOptions, WaitContainerOptions,
};
use bollard::{ClientVersion, Docker, API_DEFAULT_VERSION};
use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::mpsc;

use crate::config::SmokeTest;
use crate::context::upload::Upload;
use crate::engine::address::{EngineAddress, TlsFiles};
use crate::engine::{
    leftover, process_start, BuildRequest, Engine, EngineError, Leftover, OnStep, RunOwner,
    TestContainer, SMOKE_TEST_LABEL,
};
use crate::platform::Platform;
use crate::reference::Reference;
use crate::registry::credentials::Credentials;

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
/// Lines of build output kept for the error of a failed build.
const TAIL_LINES: usize = 12;
/// Chunks of tar in flight between the file reader and the HTTP body.
const CHUNKS_IN_FLIGHT: usize = 8;
const CHUNK_SIZE: usize = 64 * 1024;

/// A connected Docker Engine.
pub struct DockerEngine {
    docker: Docker,
    host: String,
    api_version: String,
    /// Credentials by registry host, sent with pushes.
    credentials: HashMap<String, Credentials>,
    /// The run, recorded on its smoke-test containers.
    owner: Option<RunOwner>,
    /// The platform the engine runs natively, as it reported it.
    platform: Option<Platform>,
}

/// What `golden engines` shows of a live engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineStatus {
    pub containers_running: Option<i64>,
    pub cpus: Option<i64>,
    pub server_version: Option<String>,
}

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
        let (server, platform) = probe(&host, tls, probe_timeout).await?;
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
        tracing::debug!(%host, api_version, "connected to the Docker Engine");
        Ok(DockerEngine {
            docker: docker.with_request_modifier(url_safe_registry_auth),
            host,
            api_version,
            credentials: HashMap::new(),
            owner: None,
            platform,
        })
    }

    /// The platform the engine runs natively, as it reported it.
    pub fn platform(&self) -> Option<&Platform> {
        self.platform.as_ref()
    }

    /// Load and facts for `golden engines`.
    pub async fn status(&self) -> Result<EngineStatus, EngineError> {
        let info = self.docker.info().await.map_err(|error| EngineError::Api {
            action: "describe itself".to_string(),
            message: describe(&error),
        })?;
        Ok(EngineStatus {
            containers_running: info.containers_running,
            cpus: info.ncpu,
            server_version: info.server_version,
        })
    }

    /// Sends these credentials with pushes to their registries.
    pub fn with_credentials(mut self, credentials: HashMap<String, Credentials>) -> DockerEngine {
        self.credentials = credentials;
        self
    }

    /// Labels smoke-test containers with `owner`, so a later run can tell
    /// whether they outlived it.
    pub fn with_owner(mut self, owner: RunOwner) -> DockerEngine {
        self.owner = Some(owner);
        self
    }

    /// Force-removes the smoke-test containers that runs no longer alive
    /// left behind (a `kill -9` during the test); returns them and why.
    /// Call it holding the lock of the owner's namespace.
    pub async fn remove_leftover_tests(
        &self,
    ) -> Result<Vec<(TestContainer, Leftover)>, EngineError> {
        let Some(owner) = &self.owner else {
            return Ok(Vec::new());
        };
        let failed = |action: &str, error: BollardError| EngineError::Api {
            action: action.to_string(),
            message: describe(&error),
        };
        let filters = HashMap::from([("label", vec![SMOKE_TEST_LABEL])]);
        let options = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&filters)
            .build();
        let listed = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(|e| failed("list smoke-test containers", e))?;
        let mut removed = Vec::new();
        for summary in listed {
            let container = TestContainer {
                id: summary.id.unwrap_or_default(),
                labels: summary.labels.unwrap_or_default().into_iter().collect(),
            };
            let Some(why) = leftover(&container, owner, &process_start) else {
                continue;
            };
            let removal = RemoveContainerOptionsBuilder::new()
                .force(true)
                .v(true)
                .build();
            match self
                .docker
                .remove_container(&container.id, Some(removal))
                .await
            {
                Ok(()) => removed.push((container, why)),
                // Gone already: another run removed it first.
                Err(BollardError::DockerResponseServerError {
                    status_code: 404, ..
                }) => {}
                Err(error) => {
                    let action =
                        format!("remove the smoke-test container `{}`", container.short_id());
                    return Err(failed(&action, error));
                }
            }
        }
        Ok(removed)
    }

    /// What the engine is sent for `host`, if golden has credentials for it.
    fn docker_credentials(&self, host: &str) -> Option<DockerCredentials> {
        self.credentials
            .get(host)
            .map(|credentials| DockerCredentials {
                username: Some(credentials.username.clone()),
                password: Some(credentials.password().to_string()),
                serveraddress: Some(host.to_string()),
                ..DockerCredentials::default()
            })
    }

    /// The engine address in use.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The API version agreed with the engine.
    pub fn api_version(&self) -> &str {
        &self.api_version
    }
}

/// The engine's API version, asked within `timeout`. Connecting first
/// tells an engine that is down (no socket, nothing listening: fails at
/// once) from one that accepts the connection but does not answer in time.
async fn probe(
    host: &str,
    tls: Option<&TlsFiles>,
    timeout: Duration,
) -> Result<(ClientVersion, Option<Platform>), EngineError> {
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
    Ok((api, platform))
}

/// How long a lost engine may take to answer a ping before it counts as gone.
const ALIVE_TIMEOUT: Duration = Duration::from_secs(5);

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
fn tcp_address(host: &str) -> Option<String> {
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
fn url_safe_registry_auth(mut request: bollard::BollardRequest) -> bollard::BollardRequest {
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

/// A bollard error as one line a user can act on.
fn describe(error: &BollardError) -> String {
    match error {
        BollardError::DockerResponseServerError {
            status_code,
            message,
        } => format!("{message} (HTTP {status_code})"),
        BollardError::DockerStreamError { error } => error.clone(),
        BollardError::SocketNotFoundError(path) => format!("no socket at `{path}`"),
        other => {
            let mut text = other.to_string();
            let mut source = std::error::Error::source(other);
            while let Some(cause) = source {
                text.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            text
        }
    }
}

/// An `io::Write` that hands fixed-size chunks to the request body.
struct ChannelWriter {
    sender: mpsc::Sender<io::Result<Bytes>>,
    buffer: Vec<u8>,
}

impl ChannelWriter {
    fn send(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buffer,
            Vec::with_capacity(CHUNK_SIZE),
        ));
        self.sender.blocking_send(Ok(chunk)).map_err(|_| {
            io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the engine stopped reading the context",
            )
        })
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = CHUNK_SIZE - self.buffer.len();
        let taken = room.min(data.len());
        self.buffer.extend_from_slice(&data[..taken]);
        if self.buffer.len() >= CHUNK_SIZE {
            self.send()?;
        }
        Ok(taken)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

/// What the build stream said, kept for the error of a failed build.
#[derive(Default)]
struct BuildLog {
    step: Option<String>,
    tail: VecDeque<String>,
    image_id: Option<String>,
}

impl BuildLog {
    fn line(&mut self, image: &str, text: &str, on_step: &dyn Fn(&str)) {
        let text = strip_escapes(text);
        for line in text.lines().map(str::trim_end).filter(|l| !l.is_empty()) {
            tracing::info!(target: "golden::build", image, "{line}");
            if line.starts_with("Step ") {
                self.step = Some(line.to_string());
                on_step(line);
                // The tail a failure shows starts at its step.
                self.tail.clear();
            }
            if let Some(id) = line.strip_prefix("Successfully built ") {
                self.image_id.get_or_insert_with(|| id.trim().to_string());
            }
            if line.starts_with("Removing intermediate container ") {
                continue;
            }
            if self.tail.len() == TAIL_LINES {
                // Keep the step line itself first.
                self.tail.remove(1.min(self.tail.len() - 1));
            }
            self.tail.push_back(line.to_string());
        }
    }

    fn failure(&self, image: &str, message: String) -> EngineError {
        EngineError::BuildFailed {
            image: image.to_string(),
            step: self.step.clone(),
            message: message.trim().to_string(),
            tail: self.tail.iter().cloned().collect(),
        }
    }
}

#[async_trait]
impl Engine for DockerEngine {
    async fn build(&self, request: BuildRequest, on_step: OnStep) -> Result<String, EngineError> {
        let image = request.image.clone();
        let context_failed = |source| EngineError::Context {
            image: image.clone(),
            source,
        };
        let mut upload = Upload::of(&request);
        if upload.needs_recipe_first() {
            upload = tokio::task::spawn_blocking(move || upload.hash_first().map(|()| upload))
                .await
                .map_err(|error| EngineError::Api {
                    action: "hash the build context".to_string(),
                    message: error.to_string(),
                })?
                .map_err(context_failed)?;
        }
        // Labels go into the Dockerfile as one LABEL step (see `upload`).
        let api_labels = upload.api_labels();
        let (sender, receiver) = mpsc::channel::<io::Result<Bytes>>(CHUNKS_IN_FLIGHT);
        let writer_sender = sender.clone();
        let writer = tokio::task::spawn_blocking(move || {
            let error_sender = writer_sender.clone();
            let writer = ChannelWriter {
                sender: writer_sender,
                buffer: Vec::with_capacity(CHUNK_SIZE),
            };
            let result = upload.write(writer).and_then(|(mut writer, recipe)| {
                writer
                    .flush()
                    .map(|()| recipe)
                    .map_err(crate::context::ContextError::Write)
            });
            if let Err(error) = &result {
                // The engine sees a truncated body and fails the build; the
                // real cause is reported from here.
                let _ = error_sender.blocking_send(Err(io::Error::other(error.to_string())));
            }
            result
        });
        drop(sender);
        let body = futures::stream::unfold(receiver, |mut receiver| async move {
            receiver.recv().await.map(|item| (item, receiver))
        });
        let build_args: HashMap<String, String> = request.build_args.clone().into_iter().collect();
        let labels: HashMap<String, String> = api_labels.into_iter().collect();
        let tag = request.tag.to_string();
        let mut options = BuildImageOptionsBuilder::new()
            .dockerfile(&request.dockerfile)
            .t(&tag)
            .buildargs(&build_args)
            .labels(&labels)
            .rm(true)
            .forcerm(true)
            .networkmode(request.network.as_str());
        // A build without the cache is for freshness: the pinned base is
        // pulled again too, whatever `pull` says.
        if request.pull || request.no_cache {
            options = options.pull("1");
        }
        if request.no_cache {
            options = options.nocache(true);
        }
        let platform = request.platform.as_ref().map(ToString::to_string);
        if let Some(platform) = &platform {
            options = options.platform(platform);
        }
        // The engine pulls the FROM images itself, with only the
        // credentials it is sent (X-Registry-Config), as a push does.
        let registries: HashMap<String, DockerCredentials> = self
            .credentials
            .keys()
            .filter_map(|host| Some((host.clone(), self.docker_credentials(host)?)))
            .collect();
        let mut stream = self.docker.build_image(
            options.build(),
            Some(registries),
            Some(bollard::body_try_stream(body)),
        );
        let mut log = BuildLog::default();
        let mut failure: Option<String> = None;
        while let Some(item) = stream.next().await {
            match item {
                Ok(info) => {
                    if let Some(text) = &info.stream {
                        log.line(&image, text, on_step.as_ref());
                    }
                    if let Some(status) = &info.status {
                        log.line(&image, status, on_step.as_ref());
                    }
                    if let Some(detail) = &info.error_detail {
                        failure.get_or_insert_with(|| detail.message.clone().unwrap_or_default());
                    }
                    if let Some(id) = info.aux.as_ref().and_then(|aux| aux.id.as_ref()) {
                        log.image_id = Some(id.clone());
                    }
                }
                Err(error) => {
                    failure.get_or_insert_with(|| describe(&error));
                    break;
                }
            }
        }
        drop(stream);
        let written = writer.await;
        if let Ok(Err(source)) = written {
            return Err(context_failed(source));
        }
        if let Some(message) = failure {
            return Err(log.failure(&image, message));
        }
        log.image_id
            .clone()
            .ok_or_else(|| log.failure(&image, "the engine reported no image id".to_string()))
    }

    async fn test(&self, image: &str, test: &SmokeTest) -> Result<(), EngineError> {
        // Shell-quoted, so the message can be pasted into a shell.
        let command = shlex::try_join(test.command.iter().map(String::as_str))
            .unwrap_or_else(|_| format!("{:?}", test.command));
        let failed = |outcome: String, output: Vec<String>| EngineError::TestFailed {
            image: image.to_string(),
            command: command.clone(),
            outcome,
            output,
        };
        let body = ContainerCreateBody {
            image: Some(image.to_string()),
            cmd: Some(test.command.clone()),
            network_disabled: Some(true),
            labels: Some(self.test_labels(image)),
            host_config: Some(HostConfig {
                network_mode: Some("none".to_string()),
                ..HostConfig::default()
            }),
            ..ContainerCreateBody::default()
        };
        let created = self
            .docker
            .create_container(None::<CreateContainerOptions>, body)
            .await
            .map_err(|e| failed(format!("could not start: {}", describe(&e)), Vec::new()))?;
        let id = created.id;
        let result = self.run_test_container(&id, test.timeout).await;
        let output = self.container_output(&id).await;
        let removal = RemoveContainerOptionsBuilder::new()
            .force(true)
            .v(true)
            .build();
        if let Err(error) = self.docker.remove_container(&id, Some(removal)).await {
            tracing::warn!(container = %id, "could not remove the smoke-test container: {}", describe(&error));
        }
        result.map_err(|outcome| failed(outcome, output))
    }

    async fn local_tags(&self, repository: &Reference) -> Result<Vec<String>, EngineError> {
        let name = repository.repository();
        let filters = HashMap::from([("reference".to_string(), vec![name.clone()])]);
        let options = bollard::query_parameters::ListImagesOptions {
            filters: Some(filters),
            ..Default::default()
        };
        let images = self
            .docker
            .list_images(Some(options))
            .await
            .map_err(|error| EngineError::Api {
                action: format!("list the local images of `{name}`"),
                message: describe(&error),
            })?;
        let prefix = format!("{name}:");
        Ok(images
            .into_iter()
            .flat_map(|image| image.repo_tags)
            .filter_map(|tag| tag.strip_prefix(&prefix).map(str::to_string))
            .collect())
    }

    async fn tag_local(&self, image: &str, target: &Reference) -> Result<(), EngineError> {
        let options = bollard::query_parameters::TagImageOptionsBuilder::new()
            .repo(&target.repository())
            .tag(target.tag().unwrap_or("latest"))
            .build();
        self.docker
            .tag_image(image, Some(options))
            .await
            .map_err(|error| EngineError::Api {
                action: format!("tag `{image}` as `{target}`"),
                message: describe(&error),
            })
    }

    async fn remove_local(&self, reference: &Reference) -> Result<(), EngineError> {
        let options = bollard::query_parameters::RemoveImageOptions {
            force: false,
            noprune: false,
            platforms: None,
        };
        match self
            .docker
            .remove_image(&reference.to_string(), Some(options), None)
            .await
        {
            Ok(_) => Ok(()),
            Err(BollardError::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(()),
            Err(error) => Err(EngineError::Api {
                action: format!("remove the local tag `{reference}`"),
                message: describe(&error),
            }),
        }
    }

    async fn image_env(&self, image: &str) -> Result<Vec<String>, EngineError> {
        let inspected =
            self.docker
                .inspect_image(image)
                .await
                .map_err(|error| EngineError::Api {
                    action: format!("inspect the image `{image}`"),
                    message: describe(&error),
                })?;
        Ok(inspected
            .config
            .and_then(|config| config.env)
            .unwrap_or_default())
    }

    async fn alive(&self) -> bool {
        matches!(
            tokio::time::timeout(ALIVE_TIMEOUT, self.docker.ping()).await,
            Ok(Ok(_))
        )
    }

    async fn push(&self, reference: &Reference) -> Result<String, EngineError> {
        let tag = reference.tag().unwrap_or("latest").to_string();
        let repository = reference.repository();
        let failed = |message: String| EngineError::PushFailed {
            reference: reference.to_string(),
            message,
        };
        let options = PushImageOptionsBuilder::new().tag(&tag).build();
        let credentials = self.docker_credentials(reference.registry());
        let mut stream = self
            .docker
            .push_image(&repository, Some(options), credentials);
        let mut digest = None;
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| failed(describe(&e)))?;
            if let Some(detail) = info.error_detail {
                return Err(failed(detail.message.unwrap_or_default()));
            }
            if let Some(status) = info.status {
                tracing::debug!(target: "golden::push", reference = %reference, "{status}");
                if let Some(found) = digest_in_status(&status) {
                    digest = Some(found);
                }
            }
        }
        digest.ok_or_else(|| failed("the engine reported no digest".to_string()))
    }
}

impl DockerEngine {
    /// The labels of a smoke-test container of `image`.
    fn test_labels(&self, image: &str) -> HashMap<String, String> {
        let mut labels: HashMap<String, String> =
            self.owner.iter().flat_map(RunOwner::labels).collect();
        labels.insert(SMOKE_TEST_LABEL.to_string(), image.to_string());
        labels
    }

    /// Starts the container and waits for it; `Err` says how it failed.
    async fn run_test_container(&self, id: &str, timeout: Duration) -> Result<(), String> {
        self.docker
            .start_container(id, None::<StartContainerOptions>)
            .await
            .map_err(|e| format!("could not start: {}", describe(&e)))?;
        let mut wait = self.docker.wait_container(id, None::<WaitContainerOptions>);
        match tokio::time::timeout(timeout, wait.next()).await {
            Err(_) => {
                let _ = self
                    .docker
                    .kill_container(id, None::<KillContainerOptions>)
                    .await;
                Err(format!("timed out after {}s", timeout.as_secs()))
            }
            Ok(Some(Ok(response))) if response.status_code == 0 => Ok(()),
            Ok(Some(Ok(response))) => Err(format!("exited with code {}", response.status_code)),
            Ok(Some(Err(BollardError::DockerContainerWaitError { code, .. }))) => {
                Err(format!("exited with code {code}"))
            }
            Ok(Some(Err(error))) => Err(format!("could not be waited for: {}", describe(&error))),
            Ok(None) => Err("ended without an exit code".to_string()),
        }
    }

    /// The last lines the container wrote, for the error of a failed test.
    async fn container_output(&self, id: &str) -> Vec<String> {
        let options = LogsOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .tail(&TAIL_LINES.to_string())
            .build();
        let mut logs = self.docker.logs(id, Some(options));
        let mut lines = Vec::new();
        while let Some(Ok(chunk)) = logs.next().await {
            let text = strip_escapes(&String::from_utf8_lossy(&chunk.into_bytes()));
            lines.extend(
                text.lines()
                    .map(|line| line.trim_end().to_string())
                    .filter(|l| !l.is_empty()),
            );
        }
        let skip = lines.len().saturating_sub(TAIL_LINES);
        lines.split_off(skip)
    }
}

/// `text` without terminal escape sequences (the engine colours RUN stderr).
fn strip_escapes(text: &str) -> String {
    let mut output = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for next in chars.by_ref() {
                    if next.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        output.push(c);
    }
    output
}

/// The digest in a push status such as `1.0.0: digest: sha256:ab… size: 527`.
fn digest_in_status(status: &str) -> Option<String> {
    let after = status.split("digest: ").nth(1)?;
    let digest = after.split_whitespace().next()?;
    crate::reference::validate_digest(digest).ok()?;
    Some(digest.to_string())
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

    #[test]
    fn push_status_digest_is_read() {
        let digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        assert_eq!(
            digest_in_status(&format!("1.0.0: digest: {digest} size: 527")),
            Some(digest.to_string())
        );
        assert_eq!(digest_in_status("Pushed"), None);
        assert_eq!(digest_in_status("x: digest: sha256:zz size: 1"), None);
    }

    #[test]
    fn build_log_keeps_the_step_and_a_bounded_tail() {
        let mut log = BuildLog::default();
        for index in 0..30 {
            log.line("base", &format!("line {index}\n"), &|_| {});
        }
        let steps = std::sync::Mutex::new(Vec::new());
        let on_step = |step: &str| steps.lock().unwrap().push(step.to_string());
        log.line("base", "Step 3/4 : RUN false\n", &on_step);
        log.line("base", "Successfully built 0123abcd\n", &on_step);
        log.line("base", "\u{1b}[91mdisk full\n\u{1b}[0m", &on_step);
        assert_eq!(*steps.lock().unwrap(), vec!["Step 3/4 : RUN false"]);
        assert_eq!(
            log.tail,
            [
                "Step 3/4 : RUN false",
                "Successfully built 0123abcd",
                "disk full"
            ],
            "the tail starts at the failing step, in the engine's order"
        );
        assert_eq!(log.step.as_deref(), Some("Step 3/4 : RUN false"));
        assert_eq!(log.image_id.as_deref(), Some("0123abcd"));
        // A long step keeps its step line first and its newest output.
        log.line("base", "Step 4/4 : RUN make\n", &on_step);
        log.line("base", "Removing intermediate container 0a1b\n", &on_step);
        for index in 0..30 {
            log.line("base", &format!("make {index}\n"), &|_| {});
        }
        assert_eq!(log.tail.len(), TAIL_LINES);
        assert_eq!(
            log.tail.front().map(String::as_str),
            Some("Step 4/4 : RUN make")
        );
        assert_eq!(log.tail.back().map(String::as_str), Some("make 29"));
        assert!(!log.tail.iter().any(|line| line.starts_with("Removing")));
    }
}
