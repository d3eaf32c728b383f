//! The daemon's HTTP endpoints (`--listen ADDR`): `/` the status page,
//! `/status.json` the same as JSON, `/healthz` the health rule of
//! [`State::health`], `/livez` and `/readyz` its two halves for
//! Kubernetes' probes, `/metrics` for Prometheus. Read-only: nothing
//! served changes what the daemon does.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::State as Extract;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Utc};

use super::metrics::{Metrics, CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE};
use super::state::{State, TickResult};
use crate::hint::Hinted;
use crate::report::Report;

/// The daemon's flags for its endpoints.
#[derive(Debug, Clone, clap::Args)]
pub struct WebOptions {
    /// Serve the status page, /status.json, /healthz, /livez, /readyz and
    /// /metrics on ADDR (HOST:PORT, or PORT for 127.0.0.1:PORT; port 0
    /// picks a free one)
    #[arg(long, value_name = "ADDR", env = "GOLDEN_LISTEN", value_parser = parse_listen)]
    pub listen: Option<SocketAddr>,
    /// /healthz reports the loop stalled when one tick runs this long
    #[arg(long, env = "GOLDEN_STALL_AFTER", value_name = "DURATION", default_value = "1h", value_parser = crate::duration::parse_duration)]
    pub stall_after: Duration,
}

/// `HOST:PORT` (IPv6 in brackets), or a bare `PORT` on the loopback.
pub fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    let text = text.trim();
    if let Ok(port) = text.parse::<u16>() {
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
    }
    if let Ok(address) = text.parse::<SocketAddr>() {
        return Ok(address);
    }
    if let Some(port) = text.strip_prefix("localhost:") {
        if let Ok(port) = port.parse::<u16>() {
            return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
        }
    }
    Err(format!(
        "`{text}` is not an address to listen on; expected 127.0.0.1:9184, [::1]:9184, 0.0.0.0:9184 or a port"
    ))
}

/// What the loop and the endpoints share.
pub struct Shared {
    state: Mutex<State>,
    metrics: Metrics,
}

impl Shared {
    /// A daemon started now with these settings.
    pub fn new(interval: Duration, stall_after: Duration) -> Shared {
        Shared {
            state: Mutex::new(State::new(Utc::now(), interval, stall_after)),
            metrics: Metrics::new(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the plain data half
        // written in a way the page cannot show.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A tick starts now.
    pub fn tick_started(&self) {
        self.state().tick_started(Utc::now());
    }

    /// The tick finished now with `result`; `report` when it decided images.
    pub fn tick_finished(&self, result: TickResult, report: Option<&Report>) {
        let now = Utc::now();
        let mut state = self.state();
        state.tick_finished(now, result.clone(), report);
        self.metrics.record(now, &result, report, &state.lines);
    }

    /// The health now.
    pub fn health(&self) -> Result<String, String> {
        self.state().health(Utc::now())
    }

    /// Whether the loop is alive now.
    pub fn liveness(&self) -> Result<String, String> {
        self.state().liveness(Utc::now())
    }

    /// Whether the last tick could run (config, engine, registry).
    pub fn readiness(&self) -> Result<String, String> {
        self.state().readiness(Utc::now())
    }
}

/// The running HTTP server.
pub struct Server {
    shutdown: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Binds `address` and serves; an address that cannot be bound is an
    /// error at start.
    pub async fn start(address: SocketAddr, shared: Arc<Shared>) -> anyhow::Result<Server> {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .map_err(|error| {
                Hinted::new(
                    format!("failed to listen on `{address}`"),
                    "pick a free port with --listen, or 0 for any",
                )
                .caused_by(error)
            })?;
        let bound = listener.local_addr()?;
        if !bound.ip().is_loopback() {
            tracing::warn!(
                "the status page and /metrics on {bound} are reachable from other machines; they have no authentication"
            );
        }
        tracing::info!(
            "serving status on http://{bound}/ (/status.json, /healthz, /livez, /readyz, /metrics)"
        );
        let router = Router::new()
            .route("/", get(page))
            .route("/status.json", get(status_json))
            .route("/healthz", get(healthz))
            .route("/livez", get(livez))
            .route("/readyz", get(readyz))
            .route("/metrics", get(metrics))
            .with_state(shared);
        let (shutdown, signal) = tokio::sync::oneshot::channel::<()>();
        let limit = connection_limit(open_files_limit());
        let task = tokio::spawn(accept_loop(listener, router, limit, signal));
        Ok(Server { shutdown, task })
    }

    /// Stops accepting and gives open requests a moment to finish.
    pub async fn stop(self) {
        let _ = self.shutdown.send(());
        let _ = tokio::time::timeout(Duration::from_secs(5), self.task).await;
    }
}

/// The most connections served at once, whatever the open-files limit.
pub const MAX_CONNECTIONS: usize = 256;

/// How long a client may take to send a request's headers, counted from
/// when the server starts waiting for them (an idle connection included).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest a connection is served, whatever the client does: one that
/// sends slowly or never reads its answer loses its slot after this.
pub const CONNECTION_DEADLINE: Duration = Duration::from_secs(30);

/// Failed accepts in a row: the first of a burst is worth a warning, the
/// rest (every 100 ms while out of descriptors) are not.
#[derive(Debug, Default)]
struct AcceptFailures {
    in_a_row: u64,
}

impl AcceptFailures {
    /// An accept failed: whether to warn about it.
    fn failed(&mut self) -> bool {
        self.in_a_row += 1;
        self.in_a_row == 1
    }

    /// An accept succeeded: how many failed before it, when any did.
    fn accepted(&mut self) -> Option<u64> {
        let failed = std::mem::take(&mut self.in_a_row);
        (failed > 0).then_some(failed)
    }
}

/// The soft `RLIMIT_NOFILE` of this process, when it can be read.
fn open_files_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct it is given.
    let status = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    (status == 0 && limit.rlim_cur != libc::RLIM_INFINITY).then_some(limit.rlim_cur)
}

/// Connections served at once: [`MAX_CONNECTIONS`], and never more than a
/// quarter of the open-files limit, so the build loop (config, contexts,
/// sockets to the engine and registry) keeps the rest.
fn connection_limit(open_files: Option<u64>) -> usize {
    let share = open_files.map_or(MAX_CONNECTIONS as u64, |limit| (limit / 4).max(1));
    share.min(MAX_CONNECTIONS as u64) as usize
}

/// Accepts until `signal`: a connection past `limit` is closed at once, a
/// served one gets [`HEADER_TIMEOUT`] for its request's headers, one
/// request and [`CONNECTION_DEADLINE`] in all. An accept that fails (out of
/// file descriptors) waits a moment instead of spinning, warning once a burst.
async fn accept_loop(
    listener: tokio::net::TcpListener,
    router: Router,
    limit: usize,
    mut signal: tokio::sync::oneshot::Receiver<()>,
) {
    let permits = Arc::new(tokio::sync::Semaphore::new(limit));
    let mut connections = tokio::task::JoinSet::new();
    let (closing, closed) = tokio::sync::watch::channel(false);
    let mut failures = AcceptFailures::default();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = &mut signal => break,
            Some(_) = connections.join_next() => continue,
        };
        let stream = match accepted {
            Ok((stream, _)) => {
                if let Some(failed) = failures.accepted() {
                    tracing::info!(
                        "the status server accepts connections again after {failed} failed accepts"
                    );
                }
                stream
            }
            Err(error) => {
                if failures.failed() {
                    tracing::warn!("the status server could not accept a connection: {error} (retrying every 100 ms)");
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tracing::debug!(
                "the status server serves {limit} connections already; closing one more"
            );
            drop(stream);
            continue;
        };
        let service = hyper_util::service::TowerToHyperService::new(router.clone());
        let mut closed = closed.clone();
        connections.spawn(async move {
            let _permit = permit;
            let io = hyper_util::rt::TokioIo::new(stream);
            // One request per connection (the page and the probes need no
            // keep-alive): a client cannot hold a slot by asking again and
            // again, and none holds one past the deadline.
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .keep_alive(false)
                .serve_connection(io, service);
            let mut connection = std::pin::pin!(connection);
            let served = async {
                tokio::select! {
                    _ = connection.as_mut() => {}
                    _ = closed.changed() => {
                        connection.as_mut().graceful_shutdown();
                        let _ = connection.as_mut().await;
                    }
                }
            };
            let _ = tokio::time::timeout(CONNECTION_DEADLINE, served).await;
        });
    }
    drop(listener);
    let _ = closing.send(true);
    while connections.join_next().await.is_some() {}
}

async fn page(Extract(shared): Extract<Arc<Shared>>) -> Html<String> {
    let now: DateTime<Utc> = Utc::now();
    let state = shared.state();
    let health = state.health(now);
    Html(super::page::render(&state, &health, now))
}

async fn status_json(Extract(shared): Extract<Arc<Shared>>) -> Response {
    let now: DateTime<Utc> = Utc::now();
    let document = shared.state().document(now);
    (
        [(header::CONTENT_TYPE, "application/json")],
        document.to_string(),
    )
        .into_response()
}

/// 200 with the text when `Ok`, 503 with it otherwise.
fn probe(result: Result<String, String>) -> Response {
    let (status, text) = match result {
        Ok(text) => (StatusCode::OK, text),
        Err(text) => (StatusCode::SERVICE_UNAVAILABLE, text),
    };
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text + "\n",
    )
        .into_response()
}

async fn healthz(Extract(shared): Extract<Arc<Shared>>) -> Response {
    probe(shared.health())
}

async fn livez(Extract(shared): Extract<Arc<Shared>>) -> Response {
    probe(shared.liveness())
}

async fn readyz(Extract(shared): Extract<Arc<Shared>>) -> Response {
    probe(shared.readiness())
}

async fn metrics(
    Extract(shared): Extract<Arc<Shared>>,
    headers: axum::http::HeaderMap,
) -> Response {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok());
    let text = shared.metrics.encode();
    if super::metrics::wants_prometheus_text(accept) {
        (
            [(header::CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE)],
            super::metrics::prometheus_text(&text),
        )
            .into_response()
    } else {
        ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_stay_within_a_quarter_of_the_open_files_limit() {
        assert_eq!(connection_limit(None), MAX_CONNECTIONS);
        assert_eq!(connection_limit(Some(1_048_576)), MAX_CONNECTIONS);
        assert_eq!(connection_limit(Some(1024)), 256);
        assert_eq!(connection_limit(Some(200)), 50);
        assert_eq!(connection_limit(Some(2)), 1);
    }

    #[test]
    fn a_burst_of_failed_accepts_warns_once() {
        let mut failures = AcceptFailures::default();
        let warned: Vec<bool> = (0..50).map(|_| failures.failed()).collect();
        assert_eq!(warned.iter().filter(|&&warn| warn).count(), 1);
        assert!(warned[0]);
        assert_eq!(failures.accepted(), Some(50));
        assert_eq!(failures.accepted(), None);
        assert!(failures.failed(), "a new burst warns again");
    }

    #[test]
    fn listen_addresses_default_to_the_loopback() {
        let cases = [
            ("9184", Ok("127.0.0.1:9184")),
            ("localhost:9184", Ok("127.0.0.1:9184")),
            ("0.0.0.0:9184", Ok("0.0.0.0:9184")),
            ("[::1]:0", Ok("[::1]:0")),
            ("127.0.0.1", Err("is not an address")),
            ("host:x", Err("is not an address")),
        ];
        for (text, expected) in cases {
            match (parse_listen(text), expected) {
                (Ok(address), Ok(want)) => assert_eq!(address.to_string(), want, "{text}"),
                (Err(error), Err(want)) => assert!(error.contains(want), "{text}: {error}"),
                (got, want) => panic!("{text}: got {got:?}, want {want:?}"),
            }
        }
    }
}
