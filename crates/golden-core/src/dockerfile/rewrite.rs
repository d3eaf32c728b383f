//! Rewrites a Dockerfile's text: a FROM pinned to a digest, the build's
//! labels appended as one `LABEL` instruction.

use std::collections::BTreeMap;

use super::instructions::escape_directive;
use super::{Dockerfile, Stage};
use crate::reference::Reference;

impl Dockerfile {
    /// `text` with the FROM of `stage` rewritten to start from `pinned`,
    /// keeping the stage's flags and name and every other line's number.
    pub fn pin(&self, text: &str, stage: &Stage, pinned: &Reference) -> String {
        let mut from = String::from("FROM ");
        if let Some(platform) = &stage.platform {
            from.push_str(&format!("--platform={platform} "));
        }
        from.push_str(&pinned.to_string());
        if let Some(name) = &stage.name {
            from.push_str(&format!(" AS {name}"));
        }
        let mut output = String::with_capacity(text.len() + 80);
        for (index, line) in text.split_inclusive('\n').enumerate() {
            let number = index + 1;
            if number == stage.first_line {
                output.push_str(&from);
                output.push('\n');
            } else if number > stage.first_line && number <= stage.last_line {
                output.push('\n');
            } else {
                output.push_str(line);
            }
        }
        output
    }
}

/// `text` with one `LABEL` instruction appended that sets every label in
/// `labels` on the final stage, quoted for the file's escape character, and
/// the labels a Dockerfile cannot carry (a key or value with a line break or
/// other control character), which the caller passes another way.
///
/// The engine's classic builder turns each label passed through the build
/// API into a `LABEL` step of its own, each committing a container; one
/// instruction makes that a single step. A file whose last instruction ends
/// in a line continuation would swallow an appended line, so it is left
/// as it is and every label is returned for the API.
pub fn with_labels(
    text: &str,
    labels: &BTreeMap<String, String>,
) -> (String, BTreeMap<String, String>) {
    if !takes_labels(text) {
        return (text.to_string(), labels.clone());
    }
    let escape = escape_directive(text);
    let quote = |word: &str| {
        let mut quoted = String::with_capacity(word.len() + 2);
        quoted.push('"');
        for c in word.chars() {
            if c == '"' || c == '$' || c == escape {
                quoted.push(escape);
            }
            quoted.push(c);
        }
        quoted.push('"');
        quoted
    };
    let (plain, rest): (Vec<_>, Vec<_>) = labels.iter().partition(|(key, value)| {
        !key.is_empty() && !key.chars().chain(value.chars()).any(char::is_control)
    });
    let mut output = text.to_string();
    if !plain.is_empty() {
        if !output.ends_with('\n') && !output.is_empty() {
            output.push('\n');
        }
        output.push_str("LABEL");
        for (key, value) in plain {
            output.push_str(&format!(" {}={}", quote(key), quote(value)));
        }
        output.push('\n');
    }
    let rest = rest
        .into_iter()
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    (output, rest)
}

/// Whether [`with_labels`] can append a `LABEL` instruction to `text`:
/// not when its last instruction ends in a line continuation.
pub fn takes_labels(text: &str) -> bool {
    let escape = escape_directive(text);
    !text
        .lines()
        .map(str::trim)
        .rfind(|line| !line.is_empty() && !line.starts_with('#'))
        .is_some_and(|line| line.ends_with(escape))
}
