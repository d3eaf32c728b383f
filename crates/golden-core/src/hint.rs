//! One error model: errors carry their causes as typed values (a
//! `std::error::Error::source` chain, usually inside an `anyhow::Error`),
//! an error that knows what the user can do about it implements [`Hint`],
//! and one text shows them:
//!
//! ```text
//! error: <the error>
//! Caused by: <its cause>
//! hint: <the first hint in the chain>
//! ```
//!
//! `Display` never carries hint text. Problems located in a user file
//! (golden.toml, Dockerfiles) are [`crate::diagnostic::Diagnostics`], with
//! a hint per problem under a caret.
//!
//! The bottom of the core: it names no other module. Which types of an
//! error chain have hints is a list the binary keeps (its `error` module,
//! where every concrete error type is known); here [`text_with`] takes
//! that lookup, and [`text_of`] serves a typed error whose own hint
//! speaks for its causes.
//!
//! Pure: it formats values; it prints nothing.

use std::borrow::Cow;
use std::error::Error;
use std::fmt;

/// The hint for a registry that refuses writes and deletes because it is
/// in maintenance; the engine's push says so too.
pub const READ_ONLY_HINT: &str = "the registry is in read-only mode (maintenance.readonly): pushes, tag moves and deletes are refused until its operator sets `storage.maintenance.readonly.enabled: false`; run golden again then";

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

/// `error` and its causes, outermost first.
pub fn chain<'a>(
    error: &'a (dyn Error + 'static),
) -> impl Iterator<Item = &'a (dyn Error + 'static)> {
    std::iter::successors(Some(error), |&error| error.source())
}

/// The error, a `Caused by:` line per cause and `hint`: the text of a
/// failure in the report's `error` and the run text. A cause the line
/// above already ends with (`"{context}: {cause}"`) is not repeated.
pub fn text_with(error: &(dyn Error + 'static), hint: Option<String>) -> String {
    let mut text = error.to_string();
    let mut above = text.clone();
    for cause in chain(error).skip(1) {
        let line = cause.to_string();
        if !above.ends_with(&line) {
            text.push_str(&format!("\nCaused by: {line}"));
        }
        above = line;
    }
    if let Some(hint) = hint {
        text.push_str(&format!("\nhint: {hint}"));
    }
    text
}

/// [`text_with`] the error's own hint, or else the first [`Hinted`]
/// cause's: for a typed error that knows its causes' advice.
pub fn text_of<E: Error + Hint + 'static>(error: &E) -> String {
    let hint = error.hint().map(Cow::into_owned).or_else(|| {
        chain(error)
            .skip(1)
            .find_map(|cause| cause.downcast_ref::<Hinted>()?.hint())
            .map(Cow::into_owned)
    });
    text_with(error, hint)
}
