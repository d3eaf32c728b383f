//! `[backoff]` of golden.toml: how long a line whose build failed waits
//! before the same inputs are built again (`first`, doubling up to `max`)
//! and how often a line still failing is notified again (`remind`). All
//! optional; see [`crate::failing`].

use std::time::Duration;

use toml::de::DeValue;
use toml::Spanned;

use super::Reader;
use crate::duration::ConfigDuration;

pub(super) const BACKOFF_KEYS: &[&str] = &["first", "max", "remind"];
const EXPECTED: &str = "a duration such as \"5m\", \"1h\" or \"24h\"";

/// `[backoff]` as written: `None` where a key is not.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BackoffSettings {
    /// The first wait; the daemon's `--interval` when not written, else
    /// [`crate::failing::DEFAULT_FIRST`].
    pub first: Option<Duration>,
    pub max: Option<Duration>,
    pub remind: Option<Duration>,
}

impl BackoffSettings {
    /// The backoff of a run whose first wait defaults to `interval` (the
    /// daemon's), or to [`crate::failing::DEFAULT_FIRST`].
    pub fn resolve(&self, interval: Option<Duration>) -> crate::failing::Backoff {
        let first = self
            .first
            .or(interval)
            .unwrap_or(crate::failing::DEFAULT_FIRST);
        crate::failing::Backoff {
            first,
            max: self.max.unwrap_or(crate::failing::DEFAULT_MAX).max(first),
            remind: self.remind.unwrap_or(crate::failing::DEFAULT_REMIND),
        }
    }
}

impl Reader<'_> {
    pub(super) fn backoff(&mut self, value: &Spanned<DeValue<'_>>) -> BackoffSettings {
        let Some(table) = self.table(value, "backoff") else {
            return BackoffSettings::default();
        };
        let section = "[backoff]";
        self.check_keys(table, section, BACKOFF_KEYS);
        let duration = |reader: &mut Self, key: &str| {
            let value = reader.value::<ConfigDuration>(table, section, key, EXPECTED)?;
            let span = value.span();
            let duration = value.into_inner().0;
            if duration.is_zero() {
                reader.problem(
                    span,
                    format!("`{key}` in {section} must be longer than zero"),
                    "zero",
                    Some(format!(
                        "write {EXPECTED}; a failing line is then built again no sooner"
                    )),
                );
                return None;
            }
            Some(duration)
        };
        BackoffSettings {
            first: duration(self, "first"),
            max: duration(self, "max"),
            remind: duration(self, "remind"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unwritten_first_wait_is_the_interval_and_max_never_below_it() {
        let none = BackoffSettings::default();
        assert_eq!(none.resolve(None), crate::failing::Backoff::default());
        assert_eq!(
            none.resolve(Some(Duration::from_secs(10))).first.as_secs(),
            10
        );
        let written = BackoffSettings {
            first: Some(Duration::from_secs(120)),
            max: Some(Duration::from_secs(60)),
            remind: None,
        };
        let backoff = written.resolve(Some(Duration::from_secs(10)));
        assert_eq!((backoff.first.as_secs(), backoff.max.as_secs()), (120, 120));
    }
}
