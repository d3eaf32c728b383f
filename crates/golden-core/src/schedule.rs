//! Update schedules: 5-field cron expressions in UTC, or in an image's
//! `timezone` (DST as cron does it: see [`Schedule::placed`]), or the
//! nicknames `@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly`; each
//! image's fire times shifted by a fixed part of its `jitter`.
//!
//! Pure: every question takes `now` as an argument; nothing reads the clock.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use croner::parser::{CronParser, Seconds};
use croner::Cron;

use crate::diagnostic::closest;

/// What a schedule that does not parse expects.
const EXPECTED: &str = "expected 5 cron fields in UTC or `timezone` (minute hour day-of-month month day-of-week, e.g. \"0 3 * * 1\") or @hourly, @daily, @weekly, @monthly";

/// The nicknames a schedule may be.
const NICKNAMES: &[&str] = &["hourly", "daily", "weekly", "monthly", "yearly", "annually"];

/// A schedule string that is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// `@weakly`: `suggestion` is the closest nickname.
    #[error("`{text}` is not a valid schedule: unknown nickname `@{nickname}`{}; the nicknames are @hourly, @daily, @weekly, @monthly and @yearly", did_you_mean(.suggestion))]
    UnknownNickname {
        text: String,
        nickname: String,
        suggestion: Option<String>,
    },
    /// Not 5 fields; `suggestion` is a nickname a single word is close to.
    #[error("`{text}` is not a valid schedule: it has {count} field{}, not 5{}{}; {EXPECTED}", if *.count == 1 { "" } else { "s" }, if *.count > 5 { " (schedules have minute resolution: no seconds or years field)" } else { "" }, did_you_mean(.suggestion))]
    FieldCount {
        text: String,
        count: usize,
        suggestion: Option<String>,
    },
    /// Fields that are out of range or malformed, each named.
    #[error("`{text}` is not a valid schedule: {}; {EXPECTED}", join(.problems))]
    Fields {
        text: String,
        problems: Vec<FieldProblem>,
    },
    /// Refused by the cron parser for a reason no single field shows.
    #[error("`{text}` is not a valid schedule: {reason}; {EXPECTED}")]
    Invalid { text: String, reason: String },
    /// Well formed, but no date ever matches it (`0 0 30 2 *`).
    #[error("`{text}` never fires: {reason}; name a day every month it names has, or `L` for the last day of the month (e.g. \"0 0 L 2 *\")")]
    NeverFires { text: String, reason: String },
}

fn did_you_mean(suggestion: &Option<String>) -> String {
    suggestion
        .as_ref()
        .map(|near| format!(" (did you mean `{near}`?)"))
        .unwrap_or_default()
}

fn join(problems: &[FieldProblem]) -> String {
    let texts: Vec<String> = problems.iter().map(ToString::to_string).collect();
    texts.join("; ")
}

/// One of the five cron fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub low: u32,
    pub high: u32,
    /// Every form the field takes, for a message.
    pub forms: &'static str,
}

/// The fields in order, each with its valid range.
pub const FIELDS: [Field; 5] = [
    Field {
        name: "minute",
        low: 0,
        high: 59,
        forms: "0-59",
    },
    Field {
        name: "hour",
        low: 0,
        high: 23,
        forms: "0-23",
    },
    Field {
        name: "day-of-month",
        low: 1,
        high: 31,
        forms: "1-31, L for the last day or 15W for the weekday nearest the 15th",
    },
    Field {
        name: "month",
        low: 1,
        high: 12,
        forms: "1-12 or JAN-DEC",
    },
    Field {
        name: "day-of-week",
        low: 0,
        high: 7,
        forms: "0-7 or SUN-SAT with 0 and 7 both Sunday, 5L for the last Friday or 1#2 for the second Monday",
    },
];

/// What is wrong with one field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldProblem {
    /// `number` in `value` is outside the field's range.
    #[error("{}", range_message(.field, .value, *.number))]
    OutOfRange {
        field: Field,
        value: String,
        number: u64,
    },
    /// Not a value, list, range or step the field takes.
    #[error("the {} field `{value}` is not valid: write {}, `*`, a list (1,15), a range (1-5) or a step (*/10)", .field.name, .field.forms)]
    Malformed { field: Field, value: String },
}

/// "the hour field is `25`, outside its range 0-23".
fn range_message(field: &Field, value: &str, number: u64) -> String {
    let range = format!("{}-{}", field.low, field.high);
    let what = if value == number.to_string() {
        format!("the {} field is `{value}`", field.name)
    } else {
        format!("the {} field `{value}` has {number}", field.name)
    };
    let forms = if field.forms == range {
        String::new()
    } else {
        format!(" (it takes {})", field.forms)
    };
    format!("{what}, outside its range {range}{forms}")
}

/// How far ahead a schedule must fire at least once: 28 years is a whole
/// cycle of weekdays and leap years, so a schedule silent that long is
/// silent for good.
const FIRE_HORIZON_YEARS: i32 = 28;

/// A parsed update schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    text: String,
    /// Shared: every image without a schedule of its own holds the
    /// default, and a parsed expression is a few hundred bytes to copy.
    cron: std::sync::Arc<Cron>,
    /// The time zone the fields are read in; `None`: UTC.
    zone: Option<chrono_tz::Tz>,
    /// How far every fire time is moved later (the image's share of its
    /// `jitter`).
    offset: std::time::Duration,
}

impl PartialEq for Schedule {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text && self.zone == other.zone && self.offset == other.offset
    }
}

/// A time zone of the IANA database, as `timezone` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Zone(pub chrono_tz::Tz);

impl std::str::FromStr for Zone {
    type Err = String;

    fn from_str(text: &str) -> Result<Zone, String> {
        if let Ok(zone) = text.parse::<chrono_tz::Tz>() {
            return Ok(Zone(zone));
        }
        let names: Vec<&str> = chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()).collect();
        let near = names
            .iter()
            .find(|name| name.eq_ignore_ascii_case(text))
            .copied()
            .or_else(|| closest(text, &names));
        Err(match near {
            Some(near) => format!(
                "`{text}` is not a time zone of the IANA database; did you mean `{near}`?"
            ),
            None => format!(
                "`{text}` is not a time zone of the IANA database (such as \"Europe/Berlin\", \"America/New_York\" or \"UTC\")"
            ),
        })
    }
}

impl<'de> serde::Deserialize<'de> for Zone {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The fixed share of `jitter` an image's schedule is moved by: spread
/// over the window by its id, and the same on every run, so a line's due
/// time does not wander.
pub fn jitter_offset(id: &str, jitter: std::time::Duration) -> std::time::Duration {
    use sha2::{Digest as _, Sha256};
    let seconds = jitter.as_secs();
    if seconds == 0 {
        return std::time::Duration::ZERO;
    }
    let hash = Sha256::digest(id.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&hash[..8]);
    std::time::Duration::from_secs(u64::from_be_bytes(first) % seconds)
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
            let lower = nickname.to_ascii_lowercase();
            if !NICKNAMES.contains(&lower.as_str()) {
                return Err(ScheduleError::UnknownNickname {
                    text: text.to_string(),
                    nickname: nickname.to_string(),
                    suggestion: closest(&lower, NICKNAMES).map(|near| format!("@{near}")),
                });
            }
        } else {
            let fields: Vec<&str> = trimmed.split_whitespace().collect();
            if fields.len() != 5 {
                let word = fields.first().map(|word| word.to_ascii_lowercase());
                let suggestion = match (fields.len(), word) {
                    (1, Some(word)) => closest(&word, NICKNAMES).map(|near| format!("@{near}")),
                    _ => None,
                };
                return Err(ScheduleError::FieldCount {
                    text: text.to_string(),
                    count: fields.len(),
                    suggestion,
                });
            }
        }
        let cron = parser().parse(trimmed).map_err(|e| {
            let problems = field_problems(trimmed);
            if problems.is_empty() {
                error(e.to_string().trim_end_matches('.').to_lowercase())
            } else {
                ScheduleError::Fields {
                    text: text.to_string(),
                    problems,
                }
            }
        })?;
        if let Some(reason) = never_fires(&cron, trimmed) {
            return Err(ScheduleError::NeverFires {
                text: text.to_string(),
                reason,
            });
        }
        Ok(Schedule {
            text: text.to_string(),
            cron: std::sync::Arc::new(cron),
            zone: None,
            offset: std::time::Duration::ZERO,
        })
    }

    /// The schedule read in `zone` (its wall-clock times: `0 3 * * *`
    /// fires at 03:00 in Berlin, summer and winter) and moved `offset`
    /// later. On the night the clocks go forward a time that does not
    /// exist fires at the next one that does; on the night they go back,
    /// a time that happens twice fires once, at its first.
    pub fn placed(mut self, zone: Option<Zone>, offset: std::time::Duration) -> Schedule {
        self.zone = zone.map(|zone| zone.0);
        self.offset = offset;
        self
    }

    /// The time zone it is read in, when not UTC.
    pub fn zone(&self) -> Option<chrono_tz::Tz> {
        self.zone
    }

    /// The schedule as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The latest time the schedule fired at or before `now`.
    pub fn previous_fire(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let offset = chrono::Duration::from_std(self.offset).ok()?;
        let shifted = now.checked_sub_signed(offset)?;
        let fired = match self.zone {
            None => self.cron.find_previous_occurrence(&shifted, true).ok()?,
            Some(zone) => self
                .cron
                .find_previous_occurrence(&shifted.with_timezone(&zone), true)
                .ok()?
                .with_timezone(&Utc),
        };
        fired.checked_add_signed(offset)
    }

    /// The first time the schedule fires after `now`.
    pub fn next_fire(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let offset = chrono::Duration::from_std(self.offset).ok()?;
        let shifted = now.checked_sub_signed(offset)?;
        let fires = match self.zone {
            None => self.cron.find_next_occurrence(&shifted, false).ok()?,
            Some(zone) => self
                .cron
                .find_next_occurrence(&shifted.with_timezone(&zone), false)
                .ok()?
                .with_timezone(&Utc),
        };
        fires.checked_add_signed(offset)
    }
}

/// The cron parser every schedule goes through: five fields, no seconds.
fn parser() -> CronParser {
    CronParser::builder().seconds(Seconds::Disallowed).build()
}

/// Each field of a 5-field `text` the cron parser refuses on its own (put
/// in an expression that is otherwise `0 0 * * *`), said with its range.
fn field_problems(text: &str) -> Vec<FieldProblem> {
    let fields: Vec<&str> = text.split_whitespace().collect();
    let mut problems = Vec::new();
    for (index, (value, field)) in fields.iter().zip(FIELDS).enumerate() {
        let mut probe = ["0", "0", "*", "*", "*"];
        probe[index] = value;
        if parser().parse(&probe.join(" ")).is_ok() {
            continue;
        }
        let value = value.to_string();
        problems.push(match out_of_range(&value, &field) {
            Some(number) => FieldProblem::OutOfRange {
                field,
                value,
                number,
            },
            None => FieldProblem::Malformed { field, value },
        });
    }
    problems
}

/// The first number `value` names (outside steps and `#`) that is outside
/// the range of `field`.
fn out_of_range(value: &str, field: &Field) -> Option<u64> {
    value
        .split(',')
        .filter_map(|item| item.split('/').next())
        .flat_map(|range| range.split('-'))
        .filter_map(|part| {
            let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
            digits.parse::<u64>().ok()
        })
        .find(|number| *number < u64::from(field.low) || *number > u64::from(field.high))
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
    let days = parser().parse(&format!("0 0 {day_of_month} * *")).ok()?;
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

    /// The message of `text`, which must not parse.
    fn message(text: &str) -> String {
        match Schedule::parse(text) {
            Ok(_) => panic!("{text:?} parsed"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn a_bad_field_is_named_with_its_range() {
        let cases = [
            ("61 * * * *", "the minute field is `61`, outside its range 0-59;"),
            ("0 25 * * *", "the hour field is `25`, outside its range 0-23;"),
            ("0 0-25 * * *", "the hour field `0-25` has 25, outside its range 0-23"),
            ("0 0 32 * *", "the day-of-month field is `32`, outside its range 1-31 (it takes 1-31, L"),
            ("0 0 0 * *", "the day-of-month field is `0`, outside its range 1-31"),
            ("0 0 * 13 *", "the month field is `13`, outside its range 1-12 (it takes 1-12 or JAN-DEC)"),
            ("0 0 * 1,2,14 *", "the month field `1,2,14` has 14, outside its range 1-12"),
            ("0 0 * * 8", "the day-of-week field is `8`, outside its range 0-7 (it takes 0-7 or SUN-SAT with 0 and 7 both Sunday"),
            ("x * * * *", "the minute field `x` is not valid: write 0-59, `*`, a list"),
            ("0 0 * FOO *", "the month field `FOO` is not valid: write 1-12 or JAN-DEC"),
            ("0 0 * * 1#9", "the day-of-week field `1#9` is not valid"),
        ];
        for (text, expected) in cases {
            let shown = message(text);
            assert!(shown.contains(expected), "{text:?}: {shown}");
            assert!(
                shown.contains("expected 5 cron fields"),
                "{text:?}: {shown}"
            );
        }
    }

    #[test]
    fn every_bad_field_is_named_once() {
        let shown = message("61 25 * * *");
        assert!(
            shown.contains("the minute field is `61`, outside its range 0-59; the hour field is `25`, outside its range 0-23;"),
            "{shown}"
        );
        match Schedule::parse("61 25 * * *") {
            Err(ScheduleError::Fields { problems, .. }) => {
                let names: Vec<&str> = problems
                    .iter()
                    .map(|problem| match problem {
                        FieldProblem::OutOfRange { field, .. }
                        | FieldProblem::Malformed { field, .. } => field.name,
                    })
                    .collect();
                assert_eq!(names, ["minute", "hour"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_mistyped_nickname_suggests_the_closest() {
        let cases = [
            ("@weakly", "unknown nickname `@weakly` (did you mean `@weekly`?); the nicknames are"),
            ("@dialy", "(did you mean `@daily`?)"),
            ("@Hourli", "did you mean `@hourly`?"),
            ("@montly", "did you mean `@monthly`?"),
            ("weekly", "it has 1 field, not 5 (did you mean `@weekly`?); expected 5 cron fields"),
            ("@fortnightly", "unknown nickname `@fortnightly`; the nicknames are"),
            ("0 0 3 * * 1", "it has 6 fields, not 5 (schedules have minute resolution: no seconds or years field);"),
        ];
        for (text, expected) in cases {
            let shown = message(text);
            assert!(shown.contains(expected), "{text:?}: {shown}");
        }
        assert!(!message("@fortnightly").contains("did you mean"));
    }
}
#[cfg(test)]
mod zone_tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn fires(schedule: &Schedule, from: &str, count: usize) -> Vec<String> {
        let mut now = at(from);
        (0..count)
            .map(|_| {
                now = schedule.next_fire(now).unwrap();
                now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            })
            .collect()
    }

    fn berlin(expression: &str) -> Schedule {
        let zone: Zone = "Europe/Berlin".parse().unwrap();
        Schedule::parse(expression)
            .unwrap()
            .placed(Some(zone), std::time::Duration::ZERO)
    }

    #[test]
    fn a_zone_keeps_the_wall_clock_time_summer_and_winter() {
        let three = berlin("0 3 * * *");
        assert_eq!(
            fires(&three, "2026-07-01T12:00:00Z", 1),
            ["2026-07-02T01:00:00Z"]
        );
        assert_eq!(
            fires(&three, "2026-01-15T12:00:00Z", 1),
            ["2026-01-16T02:00:00Z"]
        );
        assert_eq!(
            three.previous_fire(at("2026-07-02T00:59:00Z")),
            Some(at("2026-07-01T01:00:00Z"))
        );
    }

    #[test]
    fn dst_nights_fire_a_missing_time_at_the_gap_end_and_a_doubled_one_once() {
        // 2026-03-29: 02:00 CET becomes 03:00 CEST; 02:30 does not exist.
        assert_eq!(
            fires(&berlin("30 2 * * *"), "2026-03-28T12:00:00Z", 2),
            ["2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"]
        );
        // 2026-10-25: 03:00 CEST becomes 02:00 CET; 02:30 happens twice.
        assert_eq!(
            fires(&berlin("30 2 * * *"), "2026-10-24T12:00:00Z", 2),
            ["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"]
        );
    }

    #[test]
    fn jitter_moves_each_line_by_its_own_fixed_share() {
        let window = std::time::Duration::from_secs(30 * 60);
        let offsets: std::collections::BTreeSet<u64> = (0..50)
            .map(|n| jitter_offset(&format!("line-{n}"), window).as_secs())
            .collect();
        assert!(offsets.iter().all(|&offset| offset < 1800));
        assert!(offsets.len() > 40, "spread over the window: {offsets:?}");
        assert_eq!(
            jitter_offset("base", window),
            jitter_offset("base", window),
            "the same on every run"
        );
        let weekly = Schedule::parse("@weekly")
            .unwrap()
            .placed(None, std::time::Duration::from_secs(600));
        assert_eq!(
            fires(&weekly, "2026-12-07T12:00:00Z", 1),
            ["2026-12-13T00:10:00Z"]
        );
        assert_eq!(
            weekly.previous_fire(at("2026-12-13T00:05:00Z")),
            Some(at("2026-12-06T00:10:00Z")),
            "not fired until its share of the window has passed"
        );
    }

    #[test]
    fn a_misspelt_zone_gets_a_suggestion() {
        let error = "Europe/Berln".parse::<Zone>().unwrap_err();
        assert!(error.contains("did you mean `Europe/Berlin`?"), "{error}");
        let error = "europe/berlin".parse::<Zone>().unwrap_err();
        assert!(error.contains("`Europe/Berlin`"), "{error}");
    }
}
