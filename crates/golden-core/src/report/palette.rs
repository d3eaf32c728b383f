//! Colour for people: how a result looks on a terminal (built green,
//! failed red, skipped yellow, up to date dim) and plain text everywhere
//! else. Whether colour is wanted is decided by the binary, once per
//! stream (`ui::color::wanted`); the reports ask a [`Palette`].
//!
//! Colour is added to text already made safe for the terminal
//! (`crate::sanitize`): it never passes through the sanitiser, which
//! would escape it.

use crate::outcome::Status;

/// The look of a piece of text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Built or promoted: green.
    Good,
    /// Failed: red.
    Bad,
    /// Skipped or interrupted: yellow.
    Warn,
    /// Nothing to do: dim.
    Dim,
    /// Headers and counters: bold.
    Strong,
}

impl Tone {
    /// The tone of an image that ended with `status`.
    pub fn of(status: Status) -> Tone {
        match status {
            Status::Built | Status::Promoted => Tone::Good,
            Status::Failed => Tone::Bad,
            Status::Skipped => Tone::Warn,
            Status::UpToDate => Tone::Dim,
        }
    }

    /// Its SGR parameters.
    fn code(self) -> &'static str {
        match self {
            Tone::Good => "32",
            Tone::Bad => "31",
            Tone::Warn => "33",
            Tone::Dim => "2",
            Tone::Strong => "1",
        }
    }
}

/// Paints text, or leaves it plain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Palette {
    enabled: bool,
}

impl Palette {
    /// Colour on.
    pub const COLOR: Palette = Palette { enabled: true };
    /// Plain text.
    pub const PLAIN: Palette = Palette { enabled: false };

    /// Colour when `enabled`.
    pub fn new(enabled: bool) -> Palette {
        Palette { enabled }
    }

    /// Whether it paints.
    pub fn enabled(self) -> bool {
        self.enabled
    }

    /// `text` in `tone` (as it is when plain or empty).
    pub fn paint(self, tone: Tone, text: &str) -> String {
        if !self.enabled || text.is_empty() {
            return text.to_string();
        }
        format!("\u{1b}[{}m{text}\u{1b}[0m", tone.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_result_has_its_colour_and_plain_stays_plain() {
        let table = [
            (Status::Built, "\u{1b}[32mx\u{1b}[0m"),
            (Status::Promoted, "\u{1b}[32mx\u{1b}[0m"),
            (Status::Failed, "\u{1b}[31mx\u{1b}[0m"),
            (Status::Skipped, "\u{1b}[33mx\u{1b}[0m"),
            (Status::UpToDate, "\u{1b}[2mx\u{1b}[0m"),
        ];
        for (status, painted) in table {
            assert_eq!(Palette::COLOR.paint(Tone::of(status), "x"), painted);
            assert_eq!(Palette::PLAIN.paint(Tone::of(status), "x"), "x");
        }
        assert_eq!(Palette::COLOR.paint(Tone::Bad, ""), "");
    }
}
