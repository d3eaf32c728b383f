//! The bollard adapter of [`Engine`]: connects to the Docker Engine API,
//! agreeing on the lower of the server's and the client's API version (so
//! Engine API 1.41 works), streams build contexts as tar, and turns bollard
//! errors into [`EngineError`]. Build output goes to tracing; it never prints.
//!
//! This file holds the client and the short operations of the port; the
//! rest, one concern a file: `connect.rs` (reaching the engine, telling
//! dockerd from Podman and whether it offers BuildKit), `build.rs` (the
//! build request, its context stream and output), `session.rs` (the
//! BuildKit session: secrets and registry credentials), `trace.rs`
//! (BuildKit's progress trace), `container.rs` (smoke-test containers)
//! and `push.rs`.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use bollard::auth::DockerCredentials;
use bollard::errors::Error as BollardError;
use bollard::Docker;

use crate::config::SmokeTest;
use crate::engine::{BuildRequest, Engine, EngineError, OnStep, RunOwner};
use crate::platform::Platform;
use crate::reference::Reference;
use crate::registry::credentials::Credentials;

mod build;
mod connect;
mod container;
mod push;
mod session;
mod trace;

pub use connect::DEFAULT_PROBE_TIMEOUT;

/// Lines of output (a build's, a smoke test's) kept for the error of a failure.
const TAIL_LINES: usize = 12;

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
    /// How a BuildKit session reaches the engine (`None`: it cannot).
    dialer: Option<session::Dialer>,
    /// Whether the engine offers BuildKit builds golden can drive.
    buildkit: bool,
    /// Podman's Docker-compatible service.
    podman: bool,
    /// Whether the engine has a `bridge` network (asked once, at the
    /// first BuildKit build that would use it).
    bridge: tokio::sync::OnceCell<bool>,
    /// The docker config's proxies, as build args (see `engine::proxies`).
    proxies: Vec<(String, String)>,
}

/// What `golden engines` shows of a live engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineStatus {
    pub containers_running: Option<i64>,
    pub cpus: Option<i64>,
    pub server_version: Option<String>,
}

impl DockerEngine {
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

    /// What the engine is sent for `host`, if golden has credentials for it.
    fn docker_credentials(&self, host: &str) -> Option<DockerCredentials> {
        self.credentials
            .get(host)
            .map(|credentials| match credentials.token() {
                // The engine trades it at the token server itself.
                Some(token) => DockerCredentials {
                    identitytoken: Some(token.to_string()),
                    serveraddress: Some(host.to_string()),
                    ..DockerCredentials::default()
                },
                None => DockerCredentials {
                    username: Some(credentials.username.clone()),
                    password: Some(credentials.password().to_string()),
                    serveraddress: Some(host.to_string()),
                    ..DockerCredentials::default()
                },
            })
    }

    /// Passes `proxies` (build args) to every build, below golden.toml's.
    pub fn with_proxies(mut self, proxies: Vec<(String, String)>) -> DockerEngine {
        self.proxies = proxies;
        self
    }

    /// Whether the engine is Podman's Docker-compatible service.
    pub fn is_podman(&self) -> bool {
        self.podman
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

/// How long a lost engine may take to answer a ping before it counts as gone.
const ALIVE_TIMEOUT: Duration = Duration::from_secs(5);

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

/// The `Env` of an inspected image. Nothing else of the answer is used:
/// engines from API 1.52 omit empty `Labels`, `Parent` is deprecated, and
/// with the containerd image store the `Id` is the manifest digest.
fn env_of(inspected: bollard::models::ImageInspect) -> Vec<String> {
    inspected
        .config
        .and_then(|config| config.env)
        .unwrap_or_default()
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

#[async_trait]
impl Engine for DockerEngine {
    async fn build(&self, request: BuildRequest, on_step: OnStep) -> Result<String, EngineError> {
        self.build_image(request, on_step).await
    }

    async fn test(&self, image: &str, test: &SmokeTest) -> Result<(), EngineError> {
        self.smoke_test(image, test).await
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
        Ok(env_of(inspected))
    }

    fn offers_buildkit(&self) -> bool {
        self.buildkit
    }

    async fn alive(&self) -> bool {
        matches!(
            tokio::time::timeout(ALIVE_TIMEOUT, self.docker.ping()).await,
            Ok(Ok(_))
        )
    }

    async fn push(&self, reference: &Reference) -> Result<String, EngineError> {
        self.push_tag(reference).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_image_answer_of_a_newer_engine_gives_its_env() {
        // Shaped as Docker 29 with the containerd image store answers: the
        // Id is the manifest digest, no `Parent`, no empty `Labels`.
        let answer = r#"{
            "Id": "sha256:9f3c1e0a2b4d6f8091a3c5e7f9b1d3f5a7c9e1b3d5f7a9c1e3b5d7f9a1c3e5b7",
            "RepoTags": ["registry.local:5000/golden/aspnet-core:10.0.3-r1"],
            "RepoDigests": [],
            "Created": "2026-12-07T05:00:00Z",
            "Config": {"Env": ["PATH=/usr/bin", "ASPNET_VERSION=10.0.3"], "Cmd": ["sh"]},
            "Architecture": "amd64",
            "Os": "linux",
            "RootFS": {"Type": "layers", "Layers": []}
        }"#;
        let inspected: bollard::models::ImageInspect = serde_json::from_str(answer).unwrap();
        assert_eq!(
            env_of(inspected),
            ["PATH=/usr/bin", "ASPNET_VERSION=10.0.3"]
        );
        let without_config: bollard::models::ImageInspect =
            serde_json::from_str(r#"{"Id": "sha256:00"}"#).unwrap();
        assert!(env_of(without_config).is_empty());
    }
}
