//! A line whose build failed: what it was built from, since when it fails
//! and when the same inputs may be built again. The plan holds such a line
//! (`failing` reason) while nothing it is built from changed and its
//! backoff has not elapsed; `golden rebuild` always builds it. Which
//! notifications a failure or a recovery sends is decided here too.
//!
//! Pure: the binary keeps the records on disk and hands in `now`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// `[backoff] first` when neither the config nor the daemon's interval
/// says otherwise.
pub const DEFAULT_FIRST: Duration = Duration::from_secs(5 * 60);
/// `[backoff] max`: a failing line is tried at least once a day.
pub const DEFAULT_MAX: Duration = Duration::from_secs(24 * 60 * 60);
/// `[backoff] remind`: a line still failing is notified again at most this
/// often.
pub const DEFAULT_REMIND: Duration = Duration::from_secs(24 * 60 * 60);

/// How long a failing line waits before the same inputs are built again:
/// `first` after the first failure, doubling after each one, at most `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
    /// How often a line still failing is notified again.
    pub remind: Duration,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff {
            first: DEFAULT_FIRST,
            max: DEFAULT_MAX,
            remind: DEFAULT_REMIND,
        }
    }
}

impl Backoff {
    /// The wait after the `attempts`-th failure in a row (1 for the first).
    pub fn delay(&self, attempts: u32) -> Duration {
        let doublings = attempts.saturating_sub(1).min(31);
        self.first
            .checked_mul(1u32 << doublings)
            .map_or(self.max, |wait| wait.min(self.max))
    }
}

/// A failing line, as recorded after its last failed build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failing {
    /// What the failed build was made from (see [`inputs`]); `None` when
    /// that was not known (a line never built before: its recipe is only
    /// hashed once it has a record), which never matches.
    pub inputs: Option<String>,
    /// The first failure of this run of failures.
    pub since: DateTime<Utc>,
    /// The last failure.
    pub last: DateTime<Utc>,
    /// Failures in a row.
    pub attempts: u32,
    /// When the same inputs may be built again.
    pub retry_at: DateTime<Utc>,
    /// The last failure's first line.
    pub error: String,
    /// When a notification last said the line fails; `None`: never.
    #[serde(default)]
    pub notified: Option<DateTime<Utc>>,
}

impl Failing {
    /// Whether a build from `inputs` at `now` waits: the same inputs as
    /// the failed build, and its backoff has not elapsed.
    pub fn holds(&self, inputs: Option<&str>, now: DateTime<Utc>) -> bool {
        now < self.retry_at && inputs.is_some() && self.inputs.as_deref() == inputs
    }
}

/// What a build is made from, as one key: its recipe, the digest it is
/// built FROM (the upstream base, or the golden parent's build), its
/// platforms, and the `settings` outside the recipe a fix may change (the
/// smoke test, the builder). `None` when the recipe was not hashed.
pub fn inputs(
    recipe: Option<&str>,
    from: Option<&str>,
    platforms: &[String],
    settings: &[String],
) -> Option<String> {
    let recipe = recipe?;
    let mut hash = Sha256::new();
    hash.update(recipe.as_bytes());
    hash.update(b"\0from\0");
    hash.update(from.unwrap_or("scratch").as_bytes());
    for platform in platforms {
        hash.update(format!("\0platform\0{platform}").as_bytes());
    }
    for setting in settings {
        hash.update(format!("\0setting\0{setting}").as_bytes());
    }
    Some(format!("sha256:{:x}", hash.finalize()))
}

/// The record after a build from `inputs` failed at `now` with `error`.
/// Failures in a row count up (other inputs too: the line still fails);
/// the first failure starts a new run of failures.
pub fn after_failure(
    previous: Option<&Failing>,
    inputs: Option<String>,
    error: &str,
    now: DateTime<Utc>,
    backoff: &Backoff,
) -> Failing {
    let attempts = previous.map_or(1, |previous| previous.attempts.saturating_add(1));
    // A wait too long for the calendar (a `max` of millennia) waits until
    // the end of it rather than panicking.
    let retry_at = chrono::Duration::from_std(backoff.delay(attempts))
        .ok()
        .and_then(|delay| now.checked_add_signed(delay))
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    Failing {
        inputs,
        since: previous.map_or(now, |previous| previous.since),
        last: now,
        attempts,
        retry_at,
        error: error.lines().next().unwrap_or("").to_string(),
        notified: previous.and_then(|previous| previous.notified),
    }
}

/// What notifications say about a line after a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Notice {
    /// It started failing: notified.
    Failing,
    /// It still fails and was last notified `remind` ago or more.
    StillFailing,
    /// It still fails and was notified recently: not said again.
    Quiet,
    /// It was failing and built: notified as recovered.
    Recovered,
}

/// The notice for a line whose build failed, given its record before the
/// run (`None`: it was not failing).
pub fn notice_after_failure(
    previous: Option<&Failing>,
    now: DateTime<Utc>,
    backoff: &Backoff,
) -> Notice {
    let remind = chrono::Duration::from_std(backoff.remind).unwrap_or(chrono::Duration::MAX);
    match previous.and_then(|previous| previous.notified) {
        None => Notice::Failing,
        Some(at) if now.signed_duration_since(at) >= remind => Notice::StillFailing,
        Some(_) => Notice::Quiet,
    }
}

/// How a line ended in a run, as the failing records see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// Built and pushed: a failing line recovered.
    Built,
    /// Its build or smoke test failed: the inputs are broken.
    Broke {
        inputs: Option<String>,
        error: String,
    },
    /// Held by its record: not built.
    Held,
    /// Skipped because its golden parent failed or was held.
    ParentFailed { parent: String },
    /// Anything else: up to date, promoted, or failed for a reason that is
    /// not its inputs' (a registry or engine that failed): the record, if
    /// any, stays as it is.
    Other,
}

/// Updates `records` after a run whose lines ended as `ended` (in build
/// order) and says what notifications should say of each line: a line
/// that starts failing and one due a reminder are said, one that was
/// said recently is quiet, as are the children it skipped.
pub fn after_run(
    records: &mut std::collections::BTreeMap<String, Failing>,
    ended: &[(String, Ended)],
    now: DateTime<Utc>,
    backoff: &Backoff,
) -> std::collections::BTreeMap<String, Notice> {
    let mut notices = std::collections::BTreeMap::new();
    for (id, how) in ended {
        let previous = records.get(id);
        let notice = match how {
            Ended::Built => records.remove(id).map(|_| Notice::Recovered),
            Ended::Broke { inputs, error } => {
                let notice = notice_after_failure(previous, now, backoff);
                let record = after_failure(previous, inputs.clone(), error, now, backoff);
                records.insert(id.clone(), record);
                Some(notice)
            }
            Ended::Held => Some(notice_after_failure(previous, now, backoff)),
            Ended::ParentFailed { parent } => notices
                .get(parent)
                .filter(|notice| **notice == Notice::Quiet)
                .copied(),
            Ended::Other => None,
        };
        if let Some(notice) = notice {
            notices.insert(id.clone(), notice);
        }
    }
    notices
}

/// Marks the lines whose failure a notification said at `now`.
pub fn notified(
    records: &mut std::collections::BTreeMap<String, Failing>,
    notices: &std::collections::BTreeMap<String, Notice>,
    now: DateTime<Utc>,
) {
    for (id, notice) in notices {
        if matches!(notice, Notice::Failing | Notice::StillFailing) {
            if let Some(record) = records.get_mut(id) {
                record.notified = Some(now);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    #[test]
    fn a_wait_past_the_calendar_waits_to_its_end_without_panicking() {
        let huge = Duration::from_secs(u64::MAX / 4);
        let backoff = Backoff {
            first: huge,
            max: huge,
            remind: DEFAULT_REMIND,
        };
        let record = after_failure(None, None, "x", at(0), &backoff);
        assert_eq!(record.retry_at, DateTime::<Utc>::MAX_UTC);
        let years = Duration::from_secs(300_000 * 365 * 86_400);
        let record = after_failure(
            None,
            None,
            "x",
            at(0),
            &Backoff {
                first: years,
                max: years,
                ..backoff
            },
        );
        assert_eq!(record.retry_at, DateTime::<Utc>::MAX_UTC);
    }

    #[test]
    fn the_wait_doubles_from_first_and_stops_at_max() {
        let backoff = Backoff {
            first: Duration::from_secs(10),
            max: Duration::from_secs(60),
            remind: DEFAULT_REMIND,
        };
        let waits: Vec<u64> = (1..=6).map(|n| backoff.delay(n).as_secs()).collect();
        assert_eq!(waits, [10, 20, 40, 60, 60, 60]);
        assert_eq!(backoff.delay(u32::MAX).as_secs(), 60);
        let default = Backoff::default();
        assert_eq!(default.delay(1).as_secs(), 300);
        assert_eq!(default.delay(40).as_secs(), 86_400);
    }

    #[test]
    fn a_record_holds_only_the_same_inputs_and_only_until_its_retry() {
        let backoff = Backoff::default();
        let first = after_failure(
            None,
            Some("a".into()),
            "step 2 failed\nmore",
            at(0),
            &backoff,
        );
        assert_eq!((first.attempts, first.since), (1, at(0)));
        assert_eq!(first.retry_at, at(300));
        assert_eq!(first.error, "step 2 failed");
        assert!(first.holds(Some("a"), at(299)));
        assert!(!first.holds(Some("a"), at(300)), "the backoff elapsed");
        assert!(!first.holds(Some("b"), at(10)), "something changed");
        assert!(!first.holds(None, at(10)), "unknown inputs build");
        let second = after_failure(Some(&first), Some("a".into()), "again", at(400), &backoff);
        assert_eq!((second.attempts, second.since), (2, at(0)));
        assert_eq!(second.retry_at, at(400 + 600));
        let unknown = after_failure(None, None, "x", at(0), &backoff);
        assert!(
            !unknown.holds(None, at(1)),
            "a record without inputs holds nothing"
        );
    }

    #[test]
    fn inputs_change_with_the_recipe_the_base_the_platforms_and_the_settings() {
        let one = inputs(Some("r1"), Some("sha256:b"), &[], &[]);
        assert!(one.is_some());
        let other = [
            inputs(Some("r2"), Some("sha256:b"), &[], &[]),
            inputs(Some("r1"), Some("sha256:c"), &[], &[]),
            inputs(Some("r1"), None, &[], &[]),
            inputs(Some("r1"), Some("sha256:b"), &["linux/arm64".into()], &[]),
            inputs(
                Some("r1"),
                Some("sha256:b"),
                &[],
                &["test [\"true\"] 30s".into()],
            ),
        ];
        for changed in other {
            assert_ne!(changed, one);
        }
        assert_eq!(inputs(None, Some("sha256:b"), &[], &[]), None);
    }

    #[test]
    fn a_line_is_notified_when_it_starts_failing_then_at_most_every_remind() {
        let backoff = Backoff::default();
        assert_eq!(notice_after_failure(None, at(0), &backoff), Notice::Failing);
        let mut record = after_failure(None, Some("a".into()), "x", at(0), &backoff);
        assert_eq!(
            notice_after_failure(Some(&record), at(10), &backoff),
            Notice::Failing,
            "never notified (no webhook then)"
        );
        record.notified = Some(at(0));
        assert_eq!(
            notice_after_failure(Some(&record), at(3600), &backoff),
            Notice::Quiet
        );
        assert_eq!(
            notice_after_failure(Some(&record), at(86_400), &backoff),
            Notice::StillFailing
        );
    }

    #[test]
    fn a_run_records_failures_clears_recoveries_and_quiets_what_was_said() {
        let backoff = Backoff::default();
        let mut records = std::collections::BTreeMap::new();
        let broke = |inputs: &str| Ended::Broke {
            inputs: Some(inputs.to_string()),
            error: "step failed".into(),
        };
        let run = [
            ("base".to_string(), broke("a")),
            (
                "child".to_string(),
                Ended::ParentFailed {
                    parent: "base".into(),
                },
            ),
        ];
        let notices = after_run(&mut records, &run, at(0), &backoff);
        assert_eq!(notices.get("base"), Some(&Notice::Failing));
        assert_eq!(
            notices.get("child"),
            None,
            "said with its parent's first failure"
        );
        notified(&mut records, &notices, at(0));
        assert_eq!(records["base"].notified, Some(at(0)));
        let held = [
            ("base".to_string(), Ended::Held),
            (
                "child".to_string(),
                Ended::ParentFailed {
                    parent: "base".into(),
                },
            ),
        ];
        let notices = after_run(&mut records, &held, at(60), &backoff);
        assert_eq!(notices.get("base"), Some(&Notice::Quiet));
        assert_eq!(notices.get("child"), Some(&Notice::Quiet));
        assert_eq!(
            records["base"].attempts, 1,
            "a held line is not another failure"
        );
        let again = [("base".to_string(), broke("a"))];
        let notices = after_run(&mut records, &again, at(400), &backoff);
        assert_eq!(notices.get("base"), Some(&Notice::Quiet));
        assert_eq!(records["base"].attempts, 2);
        let other = [("base".to_string(), Ended::Other)];
        after_run(&mut records, &other, at(500), &backoff);
        assert_eq!(
            records["base"].attempts, 2,
            "a push that failed leaves the record"
        );
        let built = [("base".to_string(), Ended::Built)];
        let notices = after_run(&mut records, &built, at(2000), &backoff);
        assert_eq!(notices.get("base"), Some(&Notice::Recovered));
        assert!(records.is_empty());
        let notices = after_run(&mut records, &built, at(3000), &backoff);
        assert!(
            notices.is_empty(),
            "a line that was not failing did not recover"
        );
    }
}
