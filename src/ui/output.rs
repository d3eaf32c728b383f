//! The one place that writes to stdout and stderr directly (the crate
//! denies `print!`-style macros elsewhere): results on stdout, the final
//! error on stderr. Logs and progress go through `tracing` and `progress`.
//!
//! A closed pipe is not an error: a reader that went away (`| head`) gets
//! what it read.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether anything was written on stdout yet.
static WRITTEN: AtomicBool = AtomicBool::new(false);

/// Whether a result already went to stdout (so a failure after it does not
/// add a second JSON document).
pub fn stdout_written() -> bool {
    WRITTEN.load(Ordering::Relaxed)
}

/// Writes `text` on stdout as it is, and flushes.
#[allow(clippy::disallowed_methods)] // the one writer
pub fn stdout(text: &str) {
    WRITTEN.store(true, Ordering::Relaxed);
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush());
}

/// How results on stdout look: coloured on a terminal, unless the
/// environment says otherwise (`crate::ui::color::wanted`); plain in a pipe
/// or a file.
#[allow(clippy::disallowed_methods)] // only asks whether it is a terminal
pub fn stdout_palette() -> crate::ui::color::Palette {
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stdout());
    crate::ui::color::Palette::new(crate::ui::color::wanted(terminal))
}

/// The columns of the terminal stdout is, `None` when stdout is not a
/// terminal (a pipe, a file, a CI log): then nothing is cut to a width.
#[allow(clippy::disallowed_methods)] // only asks whether it is a terminal
pub fn stdout_columns() -> Option<usize> {
    if !std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        return None;
    }
    let mut size = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one `winsize` into `size`, which lives
    // for the call; fd 1 is stdout.
    let answered = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) } == 0;
    (answered && size.ws_col > 0).then_some(usize::from(size.ws_col))
}

/// Writes `text` and a newline on stderr.
pub fn stderr_line(text: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "{text}").and_then(|_| stderr.flush());
}

/// The format version every JSON document golden prints carries first
/// (`"version": 1`): fields may be added within a version; one that
/// renames or removes a field, or changes its meaning, bumps it.
pub const JSON_VERSION: u32 = 1;

/// `value`, a JSON object, as a pretty JSON document with a final newline
/// (empty if it cannot be), `"version"` ([`JSON_VERSION`]) its first field.
pub fn json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    versioned(&json_plain(value))
}

/// `value` as pretty JSON with a final newline, as it is: for a document
/// whose shape another tool fixes (a CI matrix).
pub fn json_plain<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string_pretty(value)
        .map(|json| json + "\n")
        .unwrap_or_default()
}

/// `text`, a pretty-printed JSON object, with `"version"` as its first
/// field; anything else as it is.
fn versioned(text: &str) -> String {
    if let Some(rest) = text.strip_prefix("{\n") {
        format!("{{\n  \"version\": {JSON_VERSION},\n{rest}")
    } else if text == "{}\n" {
        format!("{{\n  \"version\": {JSON_VERSION}\n}}\n")
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_document_says_its_version_first() {
        let document = json(&serde_json::json!({ "images": [1], "b": {} }));
        let value: serde_json::Value = serde_json::from_str(&document).unwrap();
        assert_eq!(value["version"], JSON_VERSION);
        assert!(document.starts_with("{\n  \"version\": 1,\n"), "{document}");
        let empty: serde_json::Value = serde_json::from_str(&json(&serde_json::json!({}))).unwrap();
        assert_eq!(empty, serde_json::json!({ "version": 1 }));
        assert_eq!(json(&[1, 2]), json_plain(&[1, 2]));
    }
}
