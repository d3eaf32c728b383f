//! The list of every error type that carries a hint, and the renderer of
//! the error that ends a command (see [`crate::hint`] for the model).
//! The core's [`crate::hint`] knows no concrete type; this module, above
//! the engine pool and the lock, names them all, so a hint anywhere in a
//! chain is found.
//!
//! Pure: it formats values; it prints nothing.

use std::borrow::Cow;
use std::error::Error;

use crate::hint::{chain, text_with, Hint, Hinted};

/// The hint of one error, if its type has one. Every type implementing
/// [`Hint`] that can travel in an error chain is listed here.
fn hint_of<'a>(error: &'a (dyn Error + 'static)) -> Option<Cow<'a, str>> {
    fn typed<'a, E: Hint + Error + 'static>(
        error: &'a (dyn Error + 'static),
    ) -> Option<Cow<'a, str>> {
        error.downcast_ref::<E>().and_then(Hint::hint)
    }
    typed::<Hinted>(error)
        .or_else(|| typed::<crate::registry::RegistryError>(error))
        .or_else(|| typed::<crate::engine::EngineError>(error))
        .or_else(|| typed::<crate::lock::LockError>(error))
        .or_else(|| typed::<crate::observation::ObserveError>(error))
        .or_else(|| typed::<crate::index::IndexError>(error))
        .or_else(|| typed::<crate::platform::PlatformError>(error))
        .or_else(|| typed::<crate::history::rollback::RollbackError>(error))
        .or_else(|| typed::<crate::version::NumberingError>(error))
        .or_else(|| typed::<crate::upstream::VersionReadError>(error))
        .or_else(|| typed::<crate::scan::ScanFailed>(error))
}

/// The hint of the outermost error in the chain that has one.
pub fn hint(error: &(dyn Error + 'static)) -> Option<String> {
    chain(error).find_map(hint_of).map(Cow::into_owned)
}

/// The error, a `Caused by:` line per cause and the hint: the text of a
/// failure in the report's `error` and the run text. A cause the line
/// above already ends with (`"{context}: {cause}"`) is not repeated.
pub fn text(error: &(dyn Error + 'static)) -> String {
    text_with(error, hint(error))
}

/// What stderr shows for an error that ends a command: located problems
/// in user files through their own renderer, anything else as `error:`
/// with its causes and hint.
pub fn render(error: &anyhow::Error) -> String {
    use crate::config::ConfigError;
    if let Some(ConfigError::Invalid(problems)) = error.downcast_ref::<ConfigError>() {
        return problems.to_string();
    }
    let error: &(dyn Error + 'static) = error.as_ref();
    format!("error: {}", text(error))
}

#[cfg(test)]
mod tests;
