//! How golden retries what may work on another try (a registry request,
//! an engine push): capped exponential backoff with jitter, within one
//! budget of time. Shared by the registry client and the executor, so
//! neither names the other.

use std::time::Duration;

/// How long one request (or one engine push) may go on being retried: a
/// registry that still fails after this is failing, not blinking, and a
/// run should say so rather than wait minutes (`retries = 10`, a
/// Retry-After of a minute, or the engine's own retries of a push).
pub const RETRY_BUDGET: Duration = Duration::from_secs(20);

/// 250 ms, 500 ms, 1 s, ... capped at 8 s, each with up to half of it
/// taken off at random so many clients do not retry in step.
pub fn backoff(attempt: u32) -> Duration {
    let base = Duration::from_millis(250)
        .saturating_mul(1 << attempt.min(5))
        .min(Duration::from_secs(8));
    base.mul_f64(1.0 - fastrand::f64() / 2.0)
}
