//! Durations as users write them: `90` (seconds), `90s`, `5m`, `1h30m`,
//! `500ms`, `2d`, in golden.toml and on the command line alike. Parsed by
//! `humantime`; months and years are refused (they have no fixed length,
//! and `5M` is too easily meant as five minutes).
//!
//! Pure.

use std::time::Duration;

use crate::diagnostic::closest;

/// The forms every duration message names.
pub const ACCEPTED: &str = "a number and a unit such as 500ms, 30s, 5m, 1h30m or 2d (units: ms, s, m, h, d, w; a bare number is seconds)";

/// Units `humantime` reads that a duration here may use, for suggestions.
const UNITS: &[&str] = &[
    "ns", "us", "ms", "msec", "millis", "s", "sec", "secs", "second", "seconds", "m", "min",
    "mins", "minute", "minutes", "h", "hr", "hrs", "hour", "hours", "d", "day", "days", "w", "wk",
    "wks", "week", "weeks",
];

/// Units `humantime` reads that are refused: no fixed length.
const CALENDAR_UNITS: &[&str] = &["M", "month", "months", "y", "yr", "yrs", "year", "years"];

/// A duration that is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("the duration is empty; write {ACCEPTED}")]
    Empty,
    #[error("`{text}` is not a duration: {reason}; write {ACCEPTED}")]
    Invalid { text: String, reason: String },
    #[error("`{text}` uses `{unit}` (months or years), which has no fixed length; write days or weeks such as 30d or 4w (`m` is minutes)")]
    CalendarUnit { text: String, unit: String },
    #[error("`{text}` is zero; a duration must be longer than 0, e.g. 500ms or 30s")]
    Zero { text: String },
}

/// Parses a duration; a bare whole number is seconds.
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(DurationError::Empty);
    }
    let invalid = |reason: String| DurationError::Invalid {
        text: trimmed.to_string(),
        reason,
    };
    let duration = if trimmed.chars().all(|c| c.is_ascii_digit()) {
        let seconds: u64 = trimmed
            .parse()
            .map_err(|_| invalid("the number is too large".into()))?;
        Duration::from_secs(seconds)
    } else {
        humantime::parse_duration(trimmed).map_err(|error| invalid(reason(trimmed, &error)))?
    };
    let calendar = trimmed
        .split(|c: char| !c.is_alphabetic())
        .find(|unit| CALENDAR_UNITS.contains(unit));
    if let Some(unit) = calendar {
        return Err(DurationError::CalendarUnit {
            text: trimmed.to_string(),
            unit: unit.to_string(),
        });
    }
    if duration.is_zero() {
        return Err(DurationError::Zero {
            text: trimmed.to_string(),
        });
    }
    Ok(duration)
}

/// [`parse`] for a command-line value parser.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    parse(text).map_err(|error| error.to_string())
}

/// A duration as this module reads it back: `1h 30m`, `500ms`.
pub fn display(duration: Duration) -> String {
    humantime::format_duration(duration).to_string()
}

/// What `humantime` found wrong, said with the text's own characters.
fn reason(text: &str, error: &humantime::DurationError) -> String {
    use humantime::DurationError as Error;
    let at = |offset: usize| text.get(offset..).and_then(|rest| rest.chars().next());
    if !text.chars().any(|c| c.is_ascii_digit()) {
        return "it has no number".into();
    }
    match error {
        Error::InvalidCharacter(offset) => match at(*offset) {
            Some(c) => format!("`{c}` at column {} is not a digit or a unit", offset + 1),
            None => "it has a character that is not a digit or a unit".into(),
        },
        Error::NumberExpected(offset) => match at(*offset) {
            Some(c) if !c.is_alphabetic() => {
                format!("`{c}` at column {} is not a digit or a unit", offset + 1)
            }
            Some(c) => format!("a number is missing before `{c}` at column {}", offset + 1),
            None => "a number is missing".into(),
        },
        Error::UnknownUnit { unit, value, .. } if unit.is_empty() => {
            format!("`{value}` has no unit")
        }
        Error::UnknownUnit { unit, .. } => {
            // A one- or two-letter unit is near every other one.
            let suggestion = (unit.chars().count() > 2)
                .then(|| closest(unit, UNITS))
                .flatten()
                .map(|near| format!(" (did you mean `{near}`?)"))
                .unwrap_or_default();
            format!("unknown unit `{unit}`{suggestion}")
        }
        Error::NumberOverflow => "the number is too large or finer than 1ns".into(),
        Error::Empty => "it is empty".into(),
    }
}

/// A duration read from golden.toml.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigDuration(pub Duration);

impl<'de> serde::Deserialize<'de> for ConfigDuration {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse(&text)
            .map(ConfigDuration)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn milliseconds(value: u64) -> Result<Duration, DurationError> {
        Ok(Duration::from_millis(value))
    }

    #[test]
    fn every_form_accepted_before_still_parses() {
        for (text, seconds) in [
            ("60", 60),
            (" 60 ", 60),
            ("90s", 90),
            ("30s", 30),
            ("5m", 300),
            ("1h", 3600),
        ] {
            assert_eq!(parse(text), milliseconds(seconds * 1000), "{text}");
        }
    }

    #[test]
    fn compound_and_subsecond_durations_parse() {
        for (text, millis) in [
            ("1h30m", 5_400_000),
            ("1h 30m", 5_400_000),
            ("500ms", 500),
            ("1s500ms", 1500),
            ("2d", 172_800_000),
            ("1w", 604_800_000),
            ("1.5m", 90_000),
            ("10sec", 10_000),
            ("2 minutes", 120_000),
        ] {
            assert_eq!(parse(text), milliseconds(millis), "{text}");
        }
    }

    #[test]
    fn bad_durations_say_what_is_wrong_and_the_accepted_forms() {
        for (text, expected) in [
            ("", "the duration is empty"),
            ("soon", "`soon` is not a duration: it has no number;"),
            ("5m soon", "a number is missing before `s` at column 4"),
            ("5x", "`5x` is not a duration: unknown unit `x`;"),
            ("5 sek", "unknown unit `sek` (did you mean `sec`?)"),
            ("-1", "`-` at column 1 is not a digit or a unit"),
            ("1h-30m", "`-` at column 3 is not a digit or a unit"),
            ("m", "`m` is not a duration: it has no number"),
            ("99999999999999999999", "the number is too large"),
            ("99999999999999999999s", "the number is too large"),
            ("0", "`0` is zero; a duration must be longer than 0"),
            ("0ms", "`0ms` is zero"),
            ("5M", "`5M` uses `M` (months or years)"),
            ("1year", "uses `year`"),
        ] {
            let error = parse(text).expect_err(text).to_string();
            assert!(error.contains(expected), "{text:?}: {error}");
            if !matches!(
                parse(text),
                Err(DurationError::CalendarUnit { .. } | DurationError::Zero { .. })
            ) {
                assert!(error.contains("500ms, 30s, 5m, 1h30m"), "{text:?}: {error}");
            }
        }
    }

    #[test]
    fn durations_display_as_they_are_read() {
        for text in ["1h 30m", "500ms", "10s", "2m"] {
            assert_eq!(display(parse(text).unwrap()), text);
        }
    }
}
