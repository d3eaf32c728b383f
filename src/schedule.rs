//! Update schedules: 5-field cron expressions in UTC or the nicknames
//! `@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly`.
//!
//! Pure: every question takes `now` as an argument; nothing reads the clock.

use chrono::{DateTime, Utc};
use croner::parser::{CronParser, Seconds};
use croner::Cron;

/// A schedule string that is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a valid schedule: {reason}; expected 5 cron fields in UTC (minute hour day-of-month month day-of-week, e.g. \"0 3 * * 1\") or @hourly, @daily, @weekly, @monthly")]
pub struct ScheduleError {
    text: String,
    reason: String,
}

/// A parsed update schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    text: String,
    cron: Cron,
}

impl PartialEq for Schedule {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Schedule {
    /// Parses a schedule. Six-field (seconds) and seven-field (years)
    /// expressions are refused: schedules have minute resolution.
    pub fn parse(text: &str) -> Result<Self, ScheduleError> {
        let error = |reason: String| ScheduleError {
            text: text.to_string(),
            reason,
        };
        let trimmed = text.trim();
        if let Some(nickname) = trimmed.strip_prefix('@') {
            let known = ["hourly", "daily", "weekly", "monthly", "yearly", "annually"];
            if !known.contains(&nickname.to_ascii_lowercase().as_str()) {
                return Err(error(format!("unknown nickname `@{nickname}`")));
            }
        } else {
            let fields = trimmed.split_whitespace().count();
            if fields != 5 {
                return Err(error(format!("it has {fields} fields, not 5")));
            }
        }
        let parser = CronParser::builder().seconds(Seconds::Disallowed).build();
        let cron = parser
            .parse(trimmed)
            .map_err(|e| error(e.to_string().trim_end_matches('.').to_lowercase()))?;
        Ok(Schedule {
            text: text.to_string(),
            cron,
        })
    }

    /// The schedule as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The latest time the schedule fired at or before `now`.
    pub fn previous_fire(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron.find_previous_occurrence(&now, true).ok()
    }

    /// The first time the schedule fires after `now`.
    pub fn next_fire(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron.find_next_occurrence(&now, false).ok()
    }
}

impl<'de> serde::Deserialize<'de> for Schedule {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Schedule::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn fire_times_in_utc() {
        let cases = [
            (
                "@daily",
                "2026-03-10T12:00:00Z",
                "2026-03-10T00:00:00Z",
                "2026-03-11T00:00:00Z",
            ),
            (
                "@weekly",
                "2026-03-10T12:00:00Z",
                "2026-03-08T00:00:00Z",
                "2026-03-15T00:00:00Z",
            ),
            (
                "@monthly",
                "2026-03-31T23:59:00Z",
                "2026-03-01T00:00:00Z",
                "2026-04-01T00:00:00Z",
            ),
            (
                "@hourly",
                "2026-03-10T12:00:00Z",
                "2026-03-10T12:00:00Z",
                "2026-03-10T13:00:00Z",
            ),
            (
                "0 3 * * 1",
                "2026-03-10T02:00:00Z",
                "2026-03-09T03:00:00Z",
                "2026-03-16T03:00:00Z",
            ),
            (
                "30 2 31 * *",
                "2026-05-01T00:00:00Z",
                "2026-03-31T02:30:00Z",
                "2026-05-31T02:30:00Z",
            ),
            (
                "0 0 29 2 *",
                "2026-03-01T00:00:00Z",
                "2024-02-29T00:00:00Z",
                "2028-02-29T00:00:00Z",
            ),
        ];
        for (text, now, previous, next) in cases {
            let schedule = Schedule::parse(text).unwrap();
            assert_eq!(
                schedule.previous_fire(at(now)),
                Some(at(previous)),
                "{text} before {now}"
            );
            assert_eq!(
                schedule.next_fire(at(now)),
                Some(at(next)),
                "{text} after {now}"
            );
        }
    }

    #[test]
    fn exactly_at_the_fire_time_counts_as_fired() {
        let schedule = Schedule::parse("0 3 * * *").unwrap();
        let fire = at("2026-03-10T03:00:00Z");
        assert_eq!(schedule.previous_fire(fire), Some(fire));
        assert_eq!(schedule.next_fire(fire), Some(at("2026-03-11T03:00:00Z")));
    }

    #[test]
    fn bad_schedules_are_refused() {
        for bad in [
            "",
            "@fortnightly",
            "* * * *",
            "0 0 * * * *",
            "0 0 * * * * 2026",
            "61 * * * *",
            "0 25 * * *",
            "x * * * *",
            "0 0 32 * *",
        ] {
            assert!(Schedule::parse(bad).is_err(), "{bad:?}");
        }
    }
}
