//! SIGTERM and SIGINT: the first asks the run to start nothing new (the
//! images in flight finish, floating tags included); the second exits
//! with 143 or 130 as soon as no floating tag moves are in progress.

use std::sync::Arc;

use tokio::sync::Notify;

use crate::stop::Stop;

/// Exit code after SIGINT.
pub const INTERRUPTED: i32 = 130;
/// Exit code after SIGTERM.
pub const TERMINATED: i32 = 143;

/// Most time a second signal waits for floating tag moves in progress: a
/// move is a few manifest PUTs, so only a registry that stopped answering
/// takes this long, and then the next run repairs the tags.
const TAG_MOVE_GRACE: std::time::Duration = std::time::Duration::from_secs(15);

/// Waits until no floating tag moves are in progress (or the grace ends),
/// so a line's floating tags move as a unit.
async fn finish_tag_moves(stop: &Stop) {
    let started = std::time::Instant::now();
    if stop.held() > 0 {
        tracing::warn!(
            "second signal: finishing the floating tag moves in progress first (at most {}s)",
            TAG_MOVE_GRACE.as_secs()
        );
    }
    while stop.held() > 0 && started.elapsed() < TAG_MOVE_GRACE {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Listens in the background; `wake` is notified on the first signal.
pub fn listen(stop: Stop, wake: Arc<Notify>) {
    tokio::spawn(async move {
        let Ok(mut terminate) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        else {
            tracing::warn!("cannot listen for SIGTERM");
            return;
        };
        loop {
            let code = tokio::select! {
                _ = terminate.recv() => TERMINATED,
                _ = tokio::signal::ctrl_c() => INTERRUPTED,
            };
            if stop.requested() {
                finish_tag_moves(&stop).await;
                tracing::warn!("second signal: exiting now");
                std::process::exit(code);
            }
            tracing::warn!("signal received: starting nothing new; images in flight finish (a second signal exits now)");
            stop.request_by(code);
            wake.notify_one();
        }
    });
}

/// Resolves with the exit code (130, 143) once a signal asked the run to
/// stop, for phases that can be abandoned: a run that has not started to
/// build (waiting for the lock, reading the registry and the engine, hashing
/// contexts) stops at once instead of waiting for a slow registry.
pub async fn stopped(stop: &Stop) -> i32 {
    loop {
        if let Some(code) = stop.signal_code() {
            return code;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The name of the signal behind exit code `code`.
pub fn name(code: i32) -> &'static str {
    if code == INTERRUPTED {
        "SIGINT"
    } else {
        "SIGTERM"
    }
}
