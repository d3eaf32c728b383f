//! Text from the registry (tags, labels, digests a registry claims) is
//! somebody else's input: before it reaches a terminal, control characters
//! (ESC sequences, carriage returns, C1 controls, bidirectional overrides)
//! are shown escaped, so a label can neither rewrite the screen nor hide
//! what golden says next to it.
//!
//! Pure.

use std::borrow::Cow;

/// Whether `c` must not reach a terminal as it is.
fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
}

/// `text` with every control character written as `\u{..}` (tab and
/// newline included: a value is shown on one line).
pub fn text(text: &str) -> Cow<'_, str> {
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut clean = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            clean.push_str(&c.escape_unicode().to_string());
        } else {
            clean.push(c);
        }
    }
    Cow::Owned(clean)
}

/// A whole human page (a table, a report, an error) for the terminal:
/// like [`text`], but its own line breaks stay.
pub fn terminal(page: &str) -> Cow<'_, str> {
    if !page.chars().any(|c| c != '\n' && unsafe_char(c)) {
        return Cow::Borrowed(page);
    }
    Cow::Owned(page.split('\n').map(text).collect::<Vec<_>>().join("\n"))
}

/// Like [`text`] for an optional value.
pub fn option(value: &Option<String>) -> Option<String> {
    value.as_deref().map(|value| text(value).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_controls_never_pass() {
        for (input, shown) in [
            ("2.1.0", "2.1.0"),
            ("\u{1b}[2J\u{1b}[31mok", "\\u{1b}[2J\\u{1b}[31mok"),
            ("a\rb\nc\td", "a\\u{d}b\\u{a}c\\u{9}d"),
            ("\u{9b}31m", "\\u{9b}31m"),
            ("abc\u{202e}txt", "abc\\u{202e}txt"),
            ("ünïcode ok", "ünïcode ok"),
        ] {
            assert_eq!(text(input), shown, "{input:?}");
        }
        assert_eq!(
            terminal("line 1\nlabel \u{1b}]0;pwned\u{7}\n"),
            "line 1\nlabel \\u{1b}]0;pwned\\u{7}\n"
        );
    }
}
