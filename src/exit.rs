//! Exit codes (SPEC section 3), decided here and nowhere else: from the
//! kind of an error that ends a command, and from a run's report.
//!
//! Pure: it maps values to codes; it prints nothing.

use crate::lock::LockError;
use crate::registry::RegistryError;
use crate::report::Report;

/// Exit codes of SPEC section 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Success, or nothing was due.
    Success = 0,
    /// An image failed (or was skipped because of a failure).
    ImageFailed = 1,
    /// A usage or configuration error.
    Usage = 2,
    /// The engine or a registry could not be reached.
    Unreachable = 3,
    /// Another run of the same config holds the lock.
    Locked = 4,
    /// Stopped by SIGINT.
    Interrupted = 130,
    /// Stopped by SIGTERM.
    Terminated = 143,
}

impl Exit {
    /// The process exit code.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// 3 when every failure was an unreachable engine or registry, 1 when
    /// an image failed or was skipped, else 0.
    pub fn of_report(report: &Report) -> Exit {
        let totals = &report.totals;
        if totals.failed > 0 && totals.failed == totals.unreachable {
            Exit::Unreachable
        } else if totals.failed + totals.skipped > 0 {
            Exit::ImageFailed
        } else {
            Exit::Success
        }
    }

    /// A registry failure: 3 when it could not be reached, else 1 (a
    /// registry that answers HTTP 500 was reached).
    pub fn of_registry(error: &RegistryError) -> Exit {
        if error.is_unreachable() {
            Exit::Unreachable
        } else {
            Exit::ImageFailed
        }
    }

    /// The lock: 4 when another run holds it, else 2 (the lock directory
    /// is not usable).
    pub fn of_lock(error: &LockError) -> Exit {
        match error {
            LockError::Busy { .. } => Exit::Locked,
            _ => Exit::Usage,
        }
    }

    /// A signal that stopped the run (`crate::signals` codes).
    pub fn of_signal(code: i32) -> Exit {
        if code == crate::signals::TERMINATED {
            Exit::Terminated
        } else {
            Exit::Interrupted
        }
    }
}

/// A failure that ends a command with `exit`.
#[derive(Debug)]
pub struct Failure {
    /// The exit code it ends with.
    pub exit: Exit,
    /// What went wrong, with its causes.
    pub error: anyhow::Error,
}

impl Failure {
    /// A failure ending with `exit`.
    pub fn new(exit: Exit, error: impl Into<anyhow::Error>) -> Failure {
        Failure {
            exit,
            error: error.into(),
        }
    }

    /// A usage or configuration error (2).
    pub fn usage(error: impl Into<anyhow::Error>) -> Failure {
        Failure::new(Exit::Usage, error)
    }

    /// A registry failure, with `what` did or did not happen as context.
    pub fn registry(error: RegistryError, what: &str) -> Failure {
        let exit = Exit::of_registry(&error);
        Failure::new(exit, anyhow::Error::new(error).context(what.to_string()))
    }

    /// Whether a signal ended the command.
    pub fn is_signal(&self) -> bool {
        matches!(self.exit, Exit::Interrupted | Exit::Terminated)
    }

    /// The text printed on stderr ([`crate::error::render`]).
    pub fn render(&self) -> String {
        crate::error::render(&self.error)
    }
}
