//! The container engine as golden uses it: build an image from a context,
//! push one tag. The trait takes and returns golden's own types; the bollard
//! adapter lives in `docker.rs`, in-memory fakes in tests.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;

use crate::config::{Network, SmokeTest};
use crate::context::{ContextError, Entry};
use crate::reference::Reference;

/// Everything one build needs.
#[derive(Debug, Clone)]
pub struct BuildRequest {
    /// The golden image id, for messages.
    pub image: String,
    pub context: PathBuf,
    /// The context entries to send (after `.dockerignore`).
    pub entries: Vec<Entry>,
    /// The Dockerfile's path inside the context.
    pub dockerfile: String,
    /// The Dockerfile content to send in its place (base pinned by digest).
    pub dockerfile_content: String,
    pub build_args: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    pub network: Network,
    pub pull: bool,
    /// The tag the built image gets locally (the exact version).
    pub tag: Reference,
}

/// Why the engine could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot reach the Docker Engine at `{host}`: {message}")]
    Unreachable { host: String, message: String },
    /// The engine accepted the connection but did not answer in time.
    #[error("the Docker Engine at `{host}` did not answer within {}s: it is up but slow (busy?)", .waited.as_secs())]
    Slow { host: String, waited: Duration },
    #[error("build of `{image}` failed{}: {message}{}", step_text(.step), tail_text(.tail))]
    BuildFailed {
        image: String,
        step: Option<String>,
        message: String,
        tail: Vec<String>,
    },
    #[error("smoke test `{command}` of `{image}` {outcome}; nothing was pushed{}", tail_text(.output))]
    TestFailed {
        image: String,
        command: String,
        /// "exited with code 3", "timed out after 5s", ...
        outcome: String,
        output: Vec<String>,
    },
    #[error("failed to push `{reference}`: {message}")]
    PushFailed { reference: String, message: String },
    #[error("failed to send the build context of `{image}`")]
    Context {
        image: String,
        #[source]
        source: ContextError,
    },
    #[error("the engine failed to {action}: {message}")]
    Api { action: String, message: String },
}

fn step_text(step: &Option<String>) -> String {
    step.as_ref()
        .map(|step| format!(" at `{step}`"))
        .unwrap_or_default()
}

fn tail_text(tail: &[String]) -> String {
    if tail.is_empty() {
        String::new()
    } else {
        format!("\nlast lines of output:\n  {}", tail.join("\n  "))
    }
}

impl EngineError {
    /// Whether trying the same push again may work: the registry was
    /// unreachable, reset the connection or answered 5xx/429.
    pub fn is_transient(&self) -> bool {
        let EngineError::PushFailed { message, .. } = self else {
            return false;
        };
        let message = message.to_ascii_lowercase();
        [
            "connection refused",
            "connection reset",
            "broken pipe",
            "eof",
            "i/o timeout",
            "timeout",
            "502 bad gateway",
            "503 service unavailable",
            "504 gateway",
            "500 internal server error",
            "429 too many requests",
            "toomanyrequests",
        ]
        .iter()
        .any(|needle| message.contains(needle))
    }

    /// What the user can do about it, when golden knows.
    pub fn hint(&self) -> Option<String> {
        match self {
            EngineError::Unreachable { .. } => Some(
                "is dockerd running? golden uses `[engine] host` in golden.toml, else DOCKER_HOST, else unix:///var/run/docker.sock"
                    .to_string(),
            ),
            EngineError::Slow { waited, .. } => Some(format!(
                "run golden again when the engine is less busy, or let it wait longer: `[engine] probe_timeout = \"{}s\"` in golden.toml (now {}s)",
                waited.as_secs().saturating_mul(3).max(30),
                waited.as_secs()
            )),
            EngineError::PushFailed { message, reference } => {
                let registry = reference.split('/').next().unwrap_or_default();
                if message.contains("HTTP response to HTTPS client") {
                    Some(format!(
                        "the registry speaks plain HTTP: add \"{registry}\" to \"insecure-registries\" in /etc/docker/daemon.json, restart dockerd, and set `insecure = true` in [registry]"
                    ))
                } else if message.contains("unauthorized") || message.contains("authentication required") || message.contains("denied") {
                    Some(format!("log in to the registry: `docker login {registry}`"))
                } else {
                    None
                }
            }
            EngineError::BuildFailed { .. } => Some("fix the failing step in the Dockerfile, then run `golden build` again".to_string()),
            EngineError::TestFailed { .. } => Some(
                "the image was built but not published; fix the image or its `test` in golden.toml, then run `golden build` again"
                    .to_string(),
            ),
            _ => None,
        }
    }
}

/// Hears each build step as it starts.
pub type OnStep = std::sync::Arc<dyn Fn(&str) + Send + Sync>;

/// The engine operations golden needs.
#[async_trait]
pub trait Engine: Send + Sync {
    /// Builds the image and tags it `request.tag`; returns the image id.
    /// `on_step` hears each step as it starts ("Step 3/12 : RUN make").
    async fn build(&self, request: BuildRequest, on_step: OnStep) -> Result<String, EngineError>;
    /// Runs `test` in a new container of `image` (a local reference) with no
    /// network, labelled `io.golden.smoke-test=<image>`, removes
    /// the container, and fails on a non-zero exit or the timeout.
    async fn test(&self, image: &str, test: &SmokeTest) -> Result<(), EngineError>;
    /// Pushes exactly the tag `reference` (never every local tag) and
    /// returns the manifest digest the engine reports.
    async fn push(&self, reference: &Reference) -> Result<String, EngineError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_network_and_server_push_errors_are_transient() {
        let push = |message: &str| EngineError::PushFailed {
            reference: "r/a:1".into(),
            message: message.into(),
        };
        assert!(push("Put \"http://127.0.0.1:5000/v2/a/blobs/uploads/x\": dial tcp 127.0.0.1:5000: connect: connection refused").is_transient());
        assert!(push("received unexpected HTTP status: 503 Service Unavailable").is_transient());
        assert!(push("unexpected EOF").is_transient());
        assert!(!push("unauthorized: authentication required").is_transient());
        assert!(!push("denied: requested access to the resource is denied").is_transient());
        assert!(!EngineError::Api {
            action: "x".into(),
            message: "connection refused".into()
        }
        .is_transient());
    }
}
