//! Whether colour is wanted on a stream: decided once per stream, from the
//! stream being a terminal and the environment (`NO_COLOR`, `TERM=dumb`).
//! The rest of golden asks the core's [`Palette`].

pub use crate::report::palette::{Palette, Tone};

/// Whether a stream that `is_terminal` gets colour: not with `NO_COLOR`
/// set to anything but the empty string (no-color.org), nor on a terminal
/// that declares it has none (`TERM=dumb`).
pub fn wanted(is_terminal: bool) -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
    let dumb = std::env::var_os("TERM").is_some_and(|term| term == "dumb");
    is_terminal && !no_color && !dumb
}
