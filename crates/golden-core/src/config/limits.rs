//! What the engine can take of `build_args` and `labels`: label keys a
//! Dockerfile `LABEL` line can carry, and sizes that fit the engine's limits
//! (labels go into one `LABEL` line, which the engine's Dockerfile parser
//! caps at 64 KiB; build args go into the build request's URL, which dockerd
//! refuses past 1 MiB once JSON- and percent-encoded, up to 9 bytes a byte).
//! Part of the same key-by-key reader as `mod.rs`.

use std::collections::BTreeMap;
use std::ops::Range;

use toml::de::DeTable;

use super::reader::key_spans;
use super::Reader;

/// The most bytes of names and values of one image's build args.
pub const BUILD_ARGS_LIMIT: usize = 64 * 1024;
/// The most bytes one image's configured labels take in the `LABEL` line
/// golden writes (quoted and escaped), leaving room for golden's own.
pub const LABELS_LIMIT: usize = 32 * 1024;

/// A table of strings that goes to the engine, and how much it may hold.
pub(super) struct Limit {
    /// "build args" or "labels".
    what: &'static str,
    limit: usize,
    /// The bytes one entry costs.
    measure: fn(&str, &str) -> usize,
    hint: &'static str,
}

pub(super) const BUILD_ARGS: Limit = Limit {
    what: "build args",
    limit: BUILD_ARGS_LIMIT,
    measure: |key, value| key.len() + value.len(),
    hint: "the engine takes build args in the URL of its build request and refuses one over 1 MiB; put large inputs in a file in the context and COPY it instead",
};

pub(super) const LABELS: Limit = Limit {
    what: "labels",
    limit: LABELS_LIMIT,
    measure: |key, value| quoted_len(key) + quoted_len(value) + 2,
    hint: "golden writes the labels as one LABEL line of the Dockerfile, and the engine refuses a line over 64 KiB; put large documents in a file in the image instead",
};

/// The length of `word` as a double-quoted, escaped `LABEL` word.
fn quoted_len(word: &str) -> usize {
    let escaped = word
        .chars()
        .filter(|c| matches!(c, '"' | '$' | '\\' | '`'))
        .count();
    word.len() + escaped + 2
}

impl Reader<'_> {
    /// Refuses label keys a `LABEL` line cannot carry: docker ends a key at
    /// its first `=`, and a line break or other control character in a key
    /// is not a label anyone can query.
    pub(super) fn check_label_keys(
        &mut self,
        table: &DeTable<'_>,
        section: &str,
        labels: &BTreeMap<String, String>,
    ) {
        let spans = key_spans(table, "labels");
        for key in labels.keys() {
            let span = spans.get(key).cloned().unwrap_or(0..0);
            let shown = key.escape_debug();
            if let Some(control) = key.chars().find(|c| c.is_control()) {
                self.problem(
                    span,
                    format!(
                        "label key `{shown}` in {section} contains the control character U+{:04X}",
                        u32::from(control)
                    ),
                    "control character in key",
                    Some("a label key is one line of printable text, e.g. \"org.example.team\"; remove the line break or control character".into()),
                );
            } else if key.contains('=') {
                self.problem(
                    span,
                    format!("label key `{shown}` in {section} contains `=`"),
                    "`=` in key",
                    Some("docker reads a label up to its first `=` as the key; name labels with letters, digits, `.` and `-`, e.g. \"org.example.team\"".into()),
                );
            }
        }
    }

    /// Reports `entries` (merged with `[defaults]` for an image) when they
    /// are more than `limit` takes, at the largest entry. `own` and
    /// `inherited` are where keys are written; `fallback` is used for a key
    /// found in neither. Returns whether the entries are too large.
    pub(super) fn check_size(
        &mut self,
        limit: &Limit,
        section: &str,
        entries: &BTreeMap<String, String>,
        spans: [&BTreeMap<String, Range<usize>>; 2],
        fallback: Range<usize>,
    ) -> bool {
        let cost = |(key, value): (&String, &String)| (limit.measure)(key, value);
        let total: usize = entries.iter().map(cost).sum();
        if total <= limit.limit {
            return false;
        }
        let Some((key, value)) = entries.iter().max_by_key(|entry| cost(*entry)) else {
            return false;
        };
        let largest = cost((key, value));
        let span = spans
            .iter()
            .find_map(|spans| spans.get(key))
            .cloned()
            .unwrap_or(fallback);
        let shown = key.escape_debug();
        let message = if largest > limit.limit {
            format!(
                "{} `{shown}` in {section} takes {largest} bytes, more than the {} bytes golden can pass to the engine",
                limit.what.trim_end_matches('s'),
                limit.limit
            )
        } else {
            format!(
                "{} of {section} take {total} bytes, more than the {} bytes golden can pass to the engine (the largest is `{shown}`, {largest} bytes)",
                limit.what, limit.limit
            )
        };
        self.problem(span, message, "too large", Some(limit.hint.into()));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_cost_counts_quotes_and_escapes() {
        assert_eq!((LABELS.measure)("a", "b"), 8);
        assert_eq!((LABELS.measure)("a", "say \"$x\""), 3 + 13 + 2);
        assert_eq!((BUILD_ARGS.measure)("A", "value"), 6);
    }
}
