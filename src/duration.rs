//! Durations as users write them: `90`, `90s`, `5m`, `1h`.
//!
//! Pure.

use std::time::Duration;

/// Parses whole seconds, minutes or hours; a bare number is seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(index) => text.split_at(index),
        None => (text, "s"),
    };
    let value: u64 = number.parse().map_err(|_| {
        format!("`{text}` is not a duration; expected seconds such as 60, 90s, 5m or 1h")
    })?;
    let seconds = match unit {
        "s" => value,
        "m" => value.saturating_mul(60),
        "h" => value.saturating_mul(3600),
        _ => return Err(format!("unknown unit `{unit}` in `{text}`; use s, m or h")),
    };
    if seconds == 0 {
        return Err("the duration must be at least 1s".to_string());
    }
    Ok(Duration::from_secs(seconds))
}

/// A duration read from golden.toml.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigDuration(pub Duration);

impl<'de> serde::Deserialize<'de> for ConfigDuration {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_duration(&text)
            .map(ConfigDuration)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("60"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        for bad in ["", "0", "5d", "m", "-1", "1.5m", "99999999999999999999"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }
}
