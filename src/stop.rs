//! The cancellation token of a run: a signal or a stop request asks it to
//! start nothing new, and floating tag moves hold it so they finish as a
//! unit. Shared by execute, the signal handlers, the daemon and `run`.

use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::Arc;

/// Set when golden is asked to stop: images not yet started are skipped,
/// those in flight finish (floating tags included). Floating tag moves
/// hold it, so a second signal lets them finish as a unit first.
#[derive(Debug, Clone, Default)]
pub struct Stop(Arc<AtomicI32>, Arc<AtomicUsize>);

/// Held while floating tags move; see [`Stop::hold`].
pub struct Hold(Arc<AtomicUsize>);

impl Drop for Hold {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Stop {
    /// Asks the run to start nothing new.
    pub fn request(&self) {
        self.request_by(-1);
    }

    /// Asks the run to stop because of a signal; `code` is the exit code
    /// it calls for (130, 143).
    pub fn request_by(&self, code: i32) {
        let _ = self
            .0
            .compare_exchange(0, code, Ordering::SeqCst, Ordering::SeqCst);
    }

    /// Whether a stop was asked for.
    pub fn requested(&self) -> bool {
        self.0.load(Ordering::SeqCst) != 0
    }

    /// Marks a unit of tag moves in progress until the guard is dropped.
    pub fn hold(&self) -> Hold {
        self.1.fetch_add(1, Ordering::SeqCst);
        Hold(self.1.clone())
    }

    /// How many units of tag moves are in progress.
    pub fn held(&self) -> usize {
        self.1.load(Ordering::SeqCst)
    }

    /// The exit code of the signal that stopped the run, if one did.
    pub fn signal_code(&self) -> Option<i32> {
        Some(self.0.load(Ordering::SeqCst)).filter(|code| *code > 0)
    }
}
