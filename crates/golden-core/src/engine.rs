//! The container engine as golden uses it (the port): build an image from
//! a context, test it, push one tag. The trait takes and returns golden's
//! own types; the bollard adapter lives in the binary (`engine::docker`),
//! in-memory fakes in `testing`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;

// Defined beside `builder = ...` (config sits below engine).
pub use crate::config::builders::Builder;
use crate::config::{Network, SmokeTest};
use crate::context::{ContextError, Entry, Recipe};
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
    /// Every label of the image but the recipe's two, which the upload
    /// sets from the bytes it sends (see `upload`).
    pub labels: BTreeMap<String, String>,
    /// The labels configured for the image, which the recipe covers.
    pub configured_labels: BTreeMap<String, String>,
    /// Each build secret's source as written, which the recipe covers
    /// (the image's `recipe_secrets`); never a value.
    pub recipe_secrets: BTreeMap<String, String>,
    /// The recipe observe hashed before the build, when the plan needed it
    /// (`None` otherwise: the upload hashes the context as it sends it).
    pub observed_recipe: Option<Recipe>,
    /// The context paths the build reads, when golden could tell (see
    /// `dockerfile::context_sources`): only they (and what is under them)
    /// are sent, though every entry is hashed for the recipe; `None` sends
    /// every entry.
    pub sources: Option<Vec<String>>,
    pub network: Network,
    pub pull: bool,
    /// Run every step instead of reusing the build cache (and pull the base).
    pub no_cache: bool,
    /// The tag the built image gets locally (the exact version).
    pub tag: Reference,
    /// The platform to build for; `None` builds for the engine's own.
    pub platform: Option<crate::platform::Platform>,
    /// The builder that runs this build (chosen by
    /// [`crate::config::builders::choose`]).
    pub builder: Builder,
    /// The build secrets by id, served to `RUN --mount=type=secret` for
    /// the length of the build (BuildKit only; empty on the classic path).
    pub secrets: BTreeMap<String, SecretValue>,
}

/// A build secret's bytes, held in memory for the length of one build.
/// It never prints (`Debug` shows only its length) and is overwritten
/// when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(zeroize::Zeroizing<Vec<u8>>);

impl SecretValue {
    pub fn new(bytes: Vec<u8>) -> SecretValue {
        SecretValue(zeroize::Zeroizing::new(bytes))
    }

    /// The bytes, for the one place that serves them to the builder.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretValue(<{} bytes, not shown>)", self.0.len())
    }
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
    /// Whether a build failed because an image it had just chosen (a
    /// cached step, found by the classic builder) was removed before the
    /// build used it: another line's tidy, or another run on the same
    /// engine, removed the last tag above it. The same build started
    /// again finds no such cache and runs the step.
    pub fn is_vanished_image(&self) -> bool {
        let EngineError::BuildFailed { message, .. } = self else {
            return false;
        };
        message.contains("unable to find image \"sha256:")
            || message.contains("No such image: sha256:")
    }

    /// Whether a BuildKit build failed inside the engine, not in the
    /// Dockerfile: BuildKit in Docker 20.10 sometimes fails a step of one
    /// of several concurrent builds with `bytes remaining on stream`, and
    /// the same build started again runs.
    pub fn is_buildkit_hiccup(&self) -> bool {
        let EngineError::BuildFailed { message, .. } = self else {
            return false;
        };
        message.contains("bytes remaining on stream")
    }

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

    /// Whether the engine, or the registry a push went to, could not be
    /// reached; a registry that answered (HTTP 500, 429) was reached.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, EngineError::Unreachable { .. })
            || (self.is_transient() && !self.registry_answered())
    }

    /// Whether a push failed on the registry's own answer: a server error
    /// (a full disk answers 500) or throttling.
    fn registry_answered(&self) -> bool {
        let EngineError::PushFailed { message, .. } = self else {
            return false;
        };
        let message = message.to_ascii_lowercase();
        [
            "500 internal server error",
            "429 too many requests",
            "toomanyrequests",
        ]
        .iter()
        .any(|needle| message.contains(needle))
    }
}

impl crate::hint::Hint for EngineError {
    /// What the user can do about it, when golden knows.
    fn hint(&self) -> Option<std::borrow::Cow<'_, str>> {
        let hint = match self {
            EngineError::Unreachable { .. } => Some(
                "is dockerd running? golden uses `--engine`, else DOCKER_HOST, else `[engine] host` in golden.toml, else the current docker context, else unix:///var/run/docker.sock (`-vv` says which chose it)"
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
                } else if message.contains("HTTP 405") && message.to_ascii_lowercase().contains("method not allowed") {
                    Some(crate::hint::READ_ONLY_HINT.to_string())
                } else if message.contains("500 Internal Server Error") {
                    Some(format!("`{registry}` answered HTTP 500 to the push on every try: the registry itself is failing; look at its log (a full disk or broken storage answers this way)"))
                } else {
                    None
                }
            }
            EngineError::BuildFailed { message, .. } if message.contains("frontend gateway") => Some(
                "the Dockerfile's `# syntax=` line names a frontend image the engine could not pull: remove the line to use the engine's own Dockerfile frontend, or copy that image to a registry the engine reaches and name it there"
                    .to_string(),
            ),
            EngineError::BuildFailed { message, .. } if message.contains("no active session") => Some(
                "the engine did not find golden's BuildKit session: set `builder = \"classic\"` for this engine in golden.toml if its BuildKit cannot use sessions, and report it"
                    .to_string(),
            ),
            EngineError::BuildFailed { .. } => Some("fix the failing step in the Dockerfile, then run `golden build` again".to_string()),
            EngineError::Context {
                source: ContextError::Changed { .. },
                ..
            } => Some(
                "nothing was pushed; run golden again once nothing is writing to the build context"
                    .to_string(),
            ),
            EngineError::TestFailed { .. } => Some(
                "the image was built but not published; fix the image or its `test` in golden.toml, then run `golden build` again"
                    .to_string(),
            ),
            _ => None,
        };
        hint.map(std::borrow::Cow::Owned)
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
    /// network, labelled `io.golden.smoke-test=<image>` and with the run
    /// that started it (the binary's `RunOwner::labels`), removes
    /// the container, and fails on a non-zero exit or the timeout.
    async fn test(&self, image: &str, test: &SmokeTest) -> Result<(), EngineError>;
    /// Pushes exactly the tag `reference` (never every local tag) and
    /// returns the manifest digest the engine reports.
    async fn push(&self, reference: &Reference) -> Result<String, EngineError>;
    /// Tags the local image `image` (an id or reference) as `target` too.
    async fn tag_local(&self, image: &str, target: &Reference) -> Result<(), EngineError>;
    /// The tags of the local images of `repository`.
    async fn local_tags(&self, repository: &Reference) -> Result<Vec<String>, EngineError>;
    /// Removes the local tag `reference`, and its image when no other tag
    /// holds it (with the layers no other image uses). Gone already is done.
    async fn remove_local(&self, reference: &Reference) -> Result<(), EngineError>;
    /// The `Env` of the local image `image` (an id or reference), as
    /// `NAME=value` entries.
    async fn image_env(&self, image: &str) -> Result<Vec<String>, EngineError>;
    /// Whether the engine offers BuildKit builds (`builder = "auto"`
    /// then uses it).
    fn offers_buildkit(&self) -> bool {
        false
    }
    /// Whether the engine still answers (after a failure: was it lost?).
    async fn alive(&self) -> bool {
        true
    }
}

/// An engine golden cannot use: every action fails with `why` (a pool
/// member down at start; `golden promote`, which needs none). Listing or
/// removing local images finds nothing to do.
pub struct Unavailable {
    pub why: String,
}

impl Unavailable {
    fn refuse(&self, action: &str) -> EngineError {
        EngineError::Api {
            action: action.to_string(),
            message: self.why.clone(),
        }
    }
}

#[async_trait]
impl Engine for Unavailable {
    async fn build(&self, _: BuildRequest, _: OnStep) -> Result<String, EngineError> {
        Err(self.refuse("build"))
    }
    async fn test(&self, _: &str, _: &SmokeTest) -> Result<(), EngineError> {
        Err(self.refuse("test"))
    }
    async fn push(&self, _: &Reference) -> Result<String, EngineError> {
        Err(self.refuse("push"))
    }
    async fn tag_local(&self, _: &str, _: &Reference) -> Result<(), EngineError> {
        Err(self.refuse("tag"))
    }
    async fn local_tags(&self, _: &Reference) -> Result<Vec<String>, EngineError> {
        Ok(Vec::new())
    }
    async fn image_env(&self, _: &str) -> Result<Vec<String>, EngineError> {
        Err(self.refuse("inspect an image"))
    }
    async fn remove_local(&self, _: &Reference) -> Result<(), EngineError> {
        Ok(())
    }
    async fn alive(&self) -> bool {
        false
    }
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
