//! SIGTERM and SIGINT: the first asks the run to start nothing new (the
//! images in flight finish, floating tags included); the second exits at
//! once with 143 or 130.

use std::sync::Arc;

use tokio::sync::Notify;

use crate::execute::Stop;

/// Exit code after SIGINT.
pub const INTERRUPTED: i32 = 130;
/// Exit code after SIGTERM.
pub const TERMINATED: i32 = 143;

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
                tracing::warn!("second signal: exiting now");
                std::process::exit(code);
            }
            tracing::warn!("signal received: starting nothing new; images in flight finish (a second signal exits now)");
            stop.request_by(code);
            wake.notify_one();
        }
    });
}
