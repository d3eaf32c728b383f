//! Builds: the build context streamed to the engine as tar while it is
//! written (the writer runs off the runtime, a few chunks ahead of the
//! request body), the build options, and the engine's build output read
//! line by line: steps to the progress, the tail kept for the error of a
//! failed build. A BuildKit build runs with a session of golden's own
//! (`session`) and its output is BuildKit's trace (`trace`); on Podman,
//! `network = "none"` is sent in Podman's own words.

use std::collections::{HashMap, VecDeque};
use std::io::{self, Write};

use bollard::auth::DockerCredentials;
use bollard::errors::Error as BollardError;
use bollard::models::{BuildInfo, BuildInfoAux};
use bollard::query_parameters::{BuildImageOptions, BuildImageOptionsBuilder};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::session::{Services, Session};
use super::trace::Trace;
use super::{describe, strip_escapes, DockerEngine, TAIL_LINES};
use crate::config::Network;
use crate::context::upload::Upload;
use crate::context::{ContextError, Recipe};
use crate::engine::{BuildRequest, Builder, EngineError, OnStep};

/// Chunks of tar in flight between the file reader and the HTTP body.
const CHUNKS_IN_FLIGHT: usize = 8;
const CHUNK_SIZE: usize = 64 * 1024;

impl DockerEngine {
    /// One build of `request`; the id of the image built. A BuildKit build
    /// runs with a session of its own open (secrets, registry
    /// credentials), closed when the build ends however it ends.
    pub(super) async fn build_image(
        &self,
        request: BuildRequest,
        on_step: OnStep,
    ) -> Result<String, EngineError> {
        let image = request.image.clone();
        let upload = upload_of(&request).await?;
        // Labels go into the Dockerfile as one LABEL step (see `upload`).
        let api_labels: HashMap<String, String> = upload.api_labels().into_iter().collect();
        let session = match request.builder {
            Builder::BuildKit => Some(self.open_session(&request).await?),
            Builder::Classic => None,
        };
        let network = self.build_network(&request).await;
        let docker = match &session {
            Some(session) => self
                .docker
                .clone()
                .with_request_modifier(buildkit_request(session.id.clone())),
            None if self.podman && network == Network::None.as_str() => {
                self.docker.clone().with_request_modifier(podman_no_network)
            }
            None => self.docker.clone(),
        };
        let (body, writer) = stream_context(upload);
        let stream = docker.build_image(
            build_options(&request, &api_labels, network, &self.proxies),
            Some(self.registry_credentials()),
            Some(bollard::body_try_stream(body)),
        );
        let built = match &session {
            Some(_) => {
                let secrets = request.secrets.values().map(|value| value.expose());
                read_buildkit_output(stream, &image, &on_step, Trace::masking(secrets)).await
            }
            None => read_build_output(stream, &image, &on_step).await,
        };
        if let Some(session) = session {
            session.close().await;
        }
        if let Ok(Err(source)) = writer.await {
            return Err(EngineError::Context { image, source });
        }
        built
    }

    /// The network mode the build's RUN steps get. On an engine without a
    /// `bridge` network (dockerd `--bridge=none`), `network = "default"`
    /// gives the classic builder's containers no network, while BuildKit
    /// fails (`network bridge not found`): there a BuildKit build gets
    /// `none`, as the classic one does.
    async fn build_network(&self, request: &BuildRequest) -> &'static str {
        if request.builder != Builder::BuildKit || request.network != Network::Default {
            return request.network.as_str();
        }
        let bridge = self
            .bridge
            .get_or_init(|| async {
                let options = None::<bollard::query_parameters::InspectNetworkOptions>;
                !matches!(
                    self.docker.inspect_network("bridge", options).await,
                    Err(BollardError::DockerResponseServerError {
                        status_code: 404,
                        ..
                    })
                )
            })
            .await;
        if *bridge {
            return request.network.as_str();
        }
        tracing::debug!(image = %request.image, "the engine has no bridge network: the BuildKit build runs with network none, as classic builds do there");
        Network::None.as_str()
    }

    /// A BuildKit session for `request`: its secrets, and the credentials
    /// golden has for registries (BuildKit pulls FROM images with them).
    async fn open_session(&self, request: &BuildRequest) -> Result<Session, EngineError> {
        let dialer = self.dialer.as_ref().ok_or_else(|| EngineError::Api {
            action: format!("open a BuildKit session for `{}`", request.image),
            message: format!(
                "golden cannot open BuildKit sessions to the engine at `{}`; set `builder = \"classic\"` for it",
                self.host
            ),
        })?;
        let credentials = self
            .credentials
            .iter()
            .map(|(host, credentials)| {
                // An identity token goes with no user: BuildKit then
                // trades it at the token server as a refresh token.
                let user = match credentials.token() {
                    Some(_) => String::new(),
                    None => credentials.username.clone(),
                };
                let pair = (user, credentials.password().to_string());
                (host.clone(), pair)
            })
            .collect();
        let services = Services {
            secrets: request.secrets.clone(),
            credentials,
        };
        Session::open(dialer, &self.api_version, &request.image, services).await
    }

    /// The credentials sent with a build: the engine pulls the FROM images
    /// itself, with only the credentials it is sent (X-Registry-Config), as
    /// a push does.
    fn registry_credentials(&self) -> HashMap<String, DockerCredentials> {
        self.credentials
            .keys()
            .filter_map(|host| Some((host.clone(), self.docker_credentials(host)?)))
            .collect()
    }
}

/// The upload of `request`'s context, its recipe hashed first (off the
/// runtime) when the upload needs it.
async fn upload_of(request: &BuildRequest) -> Result<Upload, EngineError> {
    let mut upload = Upload::of(request);
    if !upload.needs_recipe_first() {
        return Ok(upload);
    }
    tokio::task::spawn_blocking(move || upload.hash_first().map(|()| upload))
        .await
        .map_err(|error| EngineError::Api {
            action: "hash the build context".to_string(),
            message: error.to_string(),
        })?
        .map_err(|source| EngineError::Context {
            image: request.image.clone(),
            source,
        })
}

/// Starts writing `upload` as tar, off the runtime: the request body that
/// streams it, and the writer, whose error (if any) is the real cause of
/// the failed build a truncated body makes.
fn stream_context(
    upload: Upload,
) -> (
    impl Stream<Item = io::Result<Bytes>> + Send + 'static,
    JoinHandle<Result<Recipe, ContextError>>,
) {
    let (sender, receiver) = mpsc::channel::<io::Result<Bytes>>(CHUNKS_IN_FLIGHT);
    let writer = tokio::task::spawn_blocking(move || {
        let error_sender = sender.clone();
        let writer = ChannelWriter {
            sender,
            buffer: Vec::with_capacity(CHUNK_SIZE),
        };
        let result = upload.write(writer).and_then(|(mut writer, recipe)| {
            writer.flush().map(|()| recipe).map_err(ContextError::Write)
        });
        if let Err(error) = &result {
            // The engine sees a truncated body and fails the build; the
            // real cause is reported from here.
            let _ = error_sender.blocking_send(Err(io::Error::other(error.to_string())));
        }
        result
    });
    let body = futures::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    });
    (body, writer)
}

/// The engine's build options for `request`, with the labels the API sets.
fn build_options(
    request: &BuildRequest,
    labels: &HashMap<String, String>,
    network: &str,
    proxies: &[(String, String)],
) -> BuildImageOptions {
    let build_args: HashMap<String, String> =
        crate::engine::proxies::merged(&request.build_args, proxies)
            .into_iter()
            .collect();
    let tag = request.tag.to_string();
    let mut options = BuildImageOptionsBuilder::new()
        .dockerfile(&request.dockerfile)
        .t(&tag)
        .buildargs(&build_args)
        .labels(labels)
        .rm(true)
        .forcerm(true)
        .networkmode(network);
    // A build without the cache is for freshness: the pinned base is
    // pulled again too, whatever `pull` says.
    if request.pull || request.no_cache {
        options = options.pull("1");
    }
    if request.no_cache {
        options = options.nocache(true);
    }
    if let Some(platform) = &request.platform {
        options = options.platform(&platform.to_string());
    }
    options.build()
}

/// Reads the classic builder's output to its end (or its first transport
/// error): the id of the image built, or the first failure it reported.
async fn read_build_output(
    mut stream: impl Stream<Item = Result<BuildInfo, BollardError>> + Unpin,
    image: &str,
    on_step: &OnStep,
) -> Result<String, EngineError> {
    let mut log = BuildLog::default();
    let mut failure: Option<String> = None;
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => {
                if let Some(text) = &info.stream {
                    log.line(image, text, on_step.as_ref());
                }
                if let Some(status) = &info.status {
                    log.line(image, status, on_step.as_ref());
                }
                if let Some(detail) = &info.error_detail {
                    failure.get_or_insert_with(|| detail.message.clone().unwrap_or_default());
                }
                if let Some(id) = image_id(&info) {
                    log.image_id = Some(id.to_string());
                }
            }
            Err(error) => {
                failure.get_or_insert_with(|| describe(&error));
                break;
            }
        }
    }
    if let Some(message) = failure {
        return Err(log.failure(image, message));
    }
    log.image_id
        .clone()
        .ok_or_else(|| log.failure(image, "the engine reported no image id".to_string()))
}

/// Reads a BuildKit build's output to its end: its trace to the progress
/// and the log, the id of the image built, or its first failure.
async fn read_buildkit_output(
    mut stream: impl Stream<Item = Result<BuildInfo, BollardError>> + Unpin,
    image: &str,
    on_step: &OnStep,
    mut trace: Trace,
) -> Result<String, EngineError> {
    let mut image_id_seen = None;
    let mut failure: Option<String> = None;
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => {
                if let Some(BuildInfoAux::BuildKit(status)) = &info.aux {
                    trace.read(image, status, on_step.as_ref());
                }
                if let Some(id) = image_id(&info) {
                    image_id_seen = Some(id.to_string());
                }
                if let Some(detail) = &info.error_detail {
                    failure.get_or_insert_with(|| detail.message.clone().unwrap_or_default());
                }
            }
            Err(error) => {
                failure.get_or_insert_with(|| describe(&error));
                break;
            }
        }
    }
    if let Some(message) = failure {
        return Err(trace.failure(image, &message));
    }
    trace.finish(image);
    image_id_seen.ok_or_else(|| trace.failure(image, "the engine reported no image id"))
}

/// Podman's Docker-compatible `/build` ignores `networkmode`: its RUN
/// steps get no network only with its own namespace option and
/// `NetworkDisabled` (Podman 4.3).
fn podman_no_network(request: bollard::BollardRequest) -> bollard::BollardRequest {
    const NO_NETWORK: &str =
        "networkmode=NetworkDisabled&nsoptions=%5B%7B%22Name%22%3A%22network%22%2C%22Host%22%3Afalse%2C%22Path%22%3A%22%22%7D%5D";
    rewrite_build_query(super::connect::url_safe_registry_auth(request), |pairs| {
        pairs.retain(|pair| !pair.starts_with("networkmode=") && !pair.starts_with("nsoptions="));
        pairs.push(NO_NETWORK.to_string());
    })
}

/// `request` with the query of a `/build` request changed by `change`
/// (its `key=value` pairs, still encoded); other requests as they are.
fn rewrite_build_query(
    mut request: bollard::BollardRequest,
    change: impl FnOnce(&mut Vec<String>),
) -> bollard::BollardRequest {
    if !request.uri().path().ends_with("/build") {
        return request;
    }
    let query = request.uri().query().unwrap_or_default();
    let mut pairs: Vec<String> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(str::to_string)
        .collect();
    change(&mut pairs);
    let uri = format!("{}?{}", request.uri().path(), pairs.join("&"));
    let mut parts = request.uri().clone().into_parts();
    match uri.parse() {
        Ok(path_and_query) => {
            parts.path_and_query = Some(path_and_query);
            if let Ok(rewritten) = http::Uri::from_parts(parts) {
                *request.uri_mut() = rewritten;
            }
        }
        Err(error) => tracing::warn!(%error, "could not rewrite the build request"),
    }
    request
}

/// The image id a build reports (`moby.image.id`, or the classic `aux`).
fn image_id(info: &BuildInfo) -> Option<&str> {
    match info.aux.as_ref()? {
        BuildInfoAux::Default(id) => id.id.as_deref(),
        BuildInfoAux::BuildKit(_) => None,
    }
}

/// The engine's `/build` request made a BuildKit build bound to the
/// session `id`: bollard sends `version=1` (so it opens no session of its
/// own), and this turns it into `version=2&session=ID`. Every other
/// request passes as the engine's client sends it.
fn buildkit_request(
    id: String,
) -> impl Fn(bollard::BollardRequest) -> bollard::BollardRequest + Send + Sync + 'static {
    move |request| {
        let request = super::connect::url_safe_registry_auth(request);
        rewrite_build_query(request, |pairs| {
            pairs.retain(|pair| !pair.starts_with("version=") && !pair.starts_with("session="));
            pairs.push("version=2".to_string());
            pairs.push(format!("session={id}"));
        })
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
            // `Step 2/5 : RUN make` (dockerd), `STEP 2/5: RUN make` (Podman).
            if line.starts_with("Step ") || line.starts_with("STEP ") {
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

#[cfg(test)]
mod tests {
    use super::*;

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
