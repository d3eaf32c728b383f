//! One error model: errors carry their causes as typed values (a
//! `std::error::Error::source` chain, usually inside an `anyhow::Error`),
//! an error that knows what the user can do about it implements [`Hint`],
//! and one renderer prints them:
//!
//! ```text
//! error: <the error>
//! Caused by: <its cause>
//! hint: <the first hint in the chain>
//! ```
//!
//! `Display` never carries hint text. Problems located in a user file
//! (golden.toml, Dockerfiles) are [`crate::diagnostic::Diagnostics`], with
//! a hint per problem under a caret; [`render`] prints them through their
//! own renderer, as they are.
//!
//! Pure: it formats values; it prints nothing.

use std::borrow::Cow;
use std::error::Error;
use std::fmt;

/// What the user can do about an error, when golden knows.
pub trait Hint {
    /// The advice, one line, without a `hint:` prefix.
    fn hint(&self) -> Option<Cow<'_, str>>;
}

/// An error golden raises itself, with its hint and optionally its cause.
#[derive(Debug)]
pub struct Hinted {
    message: String,
    hint: String,
    source: Option<anyhow::Error>,
}

impl Hinted {
    /// `message`, with `hint` on what to do about it.
    pub fn new(message: impl Into<String>, hint: impl Into<String>) -> Hinted {
        Hinted {
            message: message.into(),
            hint: hint.into(),
            source: None,
        }
    }

    /// The same, caused by `source`.
    pub fn caused_by(mut self, source: impl Into<anyhow::Error>) -> Hinted {
        self.source = Some(source.into());
        self
    }
}

impl fmt::Display for Hinted {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.message)
    }
}

impl Error for Hinted {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        let source: &(dyn Error + 'static) = self.source.as_ref()?.as_ref();
        Some(source)
    }
}

impl Hint for Hinted {
    fn hint(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(&self.hint))
    }
}

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
}

/// `error` and its causes, outermost first.
fn chain<'a>(error: &'a (dyn Error + 'static)) -> impl Iterator<Item = &'a (dyn Error + 'static)> {
    std::iter::successors(Some(error), |&error| error.source())
}

/// The hint of the outermost error in the chain that has one.
pub fn hint(error: &(dyn Error + 'static)) -> Option<String> {
    chain(error).find_map(hint_of).map(Cow::into_owned)
}

/// The error, a `Caused by:` line per cause and the hint: the text of a
/// failure in the report's `error` and the run text. A cause the line
/// above already ends with (`"{context}: {cause}"`) is not repeated.
pub fn text(error: &(dyn Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut above = text.clone();
    for cause in chain(error).skip(1) {
        let line = cause.to_string();
        if !above.ends_with(&line) {
            text.push_str(&format!("\nCaused by: {line}"));
        }
        above = line;
    }
    if let Some(hint) = hint(error) {
        text.push_str(&format!("\nhint: {hint}"));
    }
    text
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
