//! Update schedules: 5-field cron expressions in UTC or the nicknames
//! `@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly`.
//!
//! Pure: every question takes `now` as an argument; nothing reads the clock.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use croner::parser::{CronParser, Seconds};
use croner::Cron;

/// A schedule string that is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("`{text}` is not a valid schedule: {reason}; expected 5 cron fields in UTC (minute hour day-of-month month day-of-week, e.g. \"0 3 * * 1\") or @hourly, @daily, @weekly, @monthly")]
    Invalid { text: String, reason: String },
    /// Well formed, but no date ever matches it (`0 0 30 2 *`).
    #[error("`{text}` never fires: {reason}; name a day every month it names has, or `L` for the last day of the month (e.g. \"0 0 L 2 *\")")]
    NeverFires { text: String, reason: String },
}

/// How far ahead a schedule must fire at least once: 28 years is a whole
/// cycle of weekdays and leap years, so a schedule silent that long is
/// silent for good.
const FIRE_HORIZON_YEARS: i32 = 28;

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
        let error = |reason: String| ScheduleError::Invalid {
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
        if let Some(reason) = never_fires(&cron, trimmed) {
            return Err(ScheduleError::NeverFires {
                text: text.to_string(),
                reason,
            });
        }
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

/// Why `cron` never fires, when no minute of [`FIRE_HORIZON_YEARS`] from a
/// fixed epoch matches it (the answer must not depend on the clock). Walks
/// the days rather than asking for the next fire, which would search on to
/// the year 5000.
fn never_fires(cron: &Cron, text: &str) -> Option<String> {
    let pattern = &cron.pattern;
    let matches = |result: Result<bool, _>| result.unwrap_or(false);
    let any_time = (0..24).any(|hour| matches(pattern.hour_match(hour)))
        && (0..60).any(|minute| matches(pattern.minute_match(minute)));
    let epoch = NaiveDate::from_ymd_opt(2000, 1, 1)?;
    let end = NaiveDate::from_ymd_opt(2000 + FIRE_HORIZON_YEARS, 1, 1)?;
    let any_day = epoch.iter_days().take_while(|day| *day < end).any(|day| {
        matches(pattern.month_match(day.month()))
            && matches(pattern.day_match(day.year(), day.month(), day.day()))
    });
    if any_time && any_day {
        return None;
    }
    Some(impossible_dates(cron, text).unwrap_or_else(|| {
        format!("no date in {FIRE_HORIZON_YEARS} years matches its day-of-month, month and day-of-week fields")
    }))
}

/// "February has no 30th": the months named and the first day of month
/// named, when the day-of-week field leaves the day to the day of month.
fn impossible_dates(cron: &Cron, text: &str) -> Option<String> {
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let fields: Vec<&str> = text.split_whitespace().collect();
    let [_, _, day_of_month, _, day_of_week] = fields.as_slice() else {
        return None;
    };
    if !matches!(*day_of_week, "*" | "?") {
        return None;
    }
    // The day-of-month field alone, read against a 31-day month.
    let days = CronParser::builder()
        .seconds(Seconds::Disallowed)
        .build()
        .parse(&format!("0 0 {day_of_month} * *"))
        .ok()?;
    let first_day = (1..=31).find(|day| days.pattern.day_match(2024, 1, *day).unwrap_or(false))?;
    let months: Vec<&str> = (1..=12)
        .filter(|month| cron.pattern.month_match(*month).unwrap_or(false))
        .map(|month| MONTHS[month as usize - 1])
        .collect();
    let (last, others) = months.split_last()?;
    let (names, verb) = match others {
        [] => (last.to_string(), "has"),
        _ => (format!("{} and {last}", others.join(", ")), "have"),
    };
    Some(format!("{names} {verb} no {}", ordinal(first_day)))
}

fn ordinal(day: u32) -> String {
    let suffix = match (day % 10, day % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{day}{suffix}")
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

    #[test]
    fn schedules_that_never_fire_are_refused_with_the_reason() {
        let cases = [
            ("0 0 30 2 *", "February has no 30th"),
            ("0 0 31 2 *", "February has no 31st"),
            (
                "15 4 31 4,6,9,11 *",
                "April, June, September and November have no 31st",
            ),
            ("0 0 30-31 2 ?", "February has no 30th"),
        ];
        for (text, reason) in cases {
            match Schedule::parse(text) {
                Err(ScheduleError::NeverFires { reason: found, .. }) => {
                    assert_eq!(found, reason, "{text}")
                }
                other => panic!("{text}: expected never fires, got {other:?}"),
            }
        }
    }

    #[test]
    fn rare_but_possible_schedules_load() {
        for text in [
            "0 0 29 2 *",
            "0 0 31 1-12 *",
            "0 0 30 2 1",
            "0 0 L 2 *",
            "0 0 31 2,3 *",
            "@yearly",
        ] {
            assert!(Schedule::parse(text).is_ok(), "{text}");
        }
    }
}
