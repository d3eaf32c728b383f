//! What the daemon knows about itself between ticks: the last tick and how
//! it ended, each line's row for the status page, the recent runs, and the
//! health rule `/healthz` answers with.
//!
//! Pure: the loop hands it reports and times; it reads no clock and does
//! no I/O.

use std::collections::VecDeque;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::report::{ImageReport, Report};

/// Runs kept for the status page.
pub const RECENT_RUNS: usize = 20;
/// Events kept per line: what its recent ticks did to it.
pub const LINE_HISTORY: usize = 5;

/// One tick that did something to a line (up-to-date ticks are not kept).
#[derive(Debug, Clone, PartialEq)]
pub struct LineEvent {
    pub at: DateTime<Utc>,
    pub result: ImageResult,
    /// The version built or promoted.
    pub version: Option<String>,
    /// Build, test and push, when it was built.
    pub seconds: Option<f64>,
}

/// How one tick ended.
#[derive(Debug, Clone, PartialEq)]
pub enum TickResult {
    /// The run happened; its images may still have failed.
    Ran(Counts),
    /// golden.toml could not be loaded; nothing was looked at.
    ConfigInvalid(String),
    /// The run stopped before deciding any image (engine or registry
    /// unreachable, lock held).
    RunFailed(String),
}

impl TickResult {
    /// The `result` label of `golden_runs_total`.
    pub fn label(&self) -> &'static str {
        match self {
            TickResult::Ran(counts) if counts.failed + counts.skipped > 0 => "images_failed",
            TickResult::Ran(_) => "ok",
            TickResult::ConfigInvalid(_) => "config_invalid",
            TickResult::RunFailed(_) => "run_failed",
        }
    }
}

/// The image counts of one run.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Counts {
    pub built: usize,
    pub promoted: usize,
    pub up_to_date: usize,
    pub failed: usize,
    pub skipped: usize,
    pub seconds: f64,
}

impl Counts {
    /// The counts of a run's report.
    pub fn of(report: &Report) -> Counts {
        let totals = &report.totals;
        Counts {
            built: totals.built,
            promoted: totals.promoted,
            up_to_date: totals.up_to_date,
            failed: totals.failed,
            skipped: totals.skipped,
            seconds: totals.seconds,
        }
    }

    /// Nothing was built, moved, failed or skipped.
    pub fn idle(&self) -> bool {
        self.built + self.promoted + self.failed + self.skipped == 0
    }
}

/// One finished tick.
#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    pub started: DateTime<Utc>,
    pub finished: DateTime<Utc>,
    pub result: TickResult,
}

/// What an image's report says after a run, for the page and the metrics.
/// The one place that reads the report's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageResult {
    Built,
    Promoted,
    UpToDate,
    Failed,
    Skipped,
}

impl ImageResult {
    /// The result of `image` in a run report.
    pub fn of(image: &ImageReport) -> ImageResult {
        use crate::report::ImageDecision;
        match image.decision {
            ImageDecision::Built => ImageResult::Built,
            ImageDecision::Promoted => ImageResult::Promoted,
            ImageDecision::UpToDate => ImageResult::UpToDate,
            ImageDecision::Skipped => ImageResult::Skipped,
            // A plan's decisions never reach a run report.
            ImageDecision::Build | ImageDecision::Promote | ImageDecision::Failed => {
                ImageResult::Failed
            }
        }
    }

    /// As the report spells it.
    pub fn name(self) -> &'static str {
        match self {
            ImageResult::Built => "built",
            ImageResult::Promoted => "promoted",
            ImageResult::UpToDate => "up-to-date",
            ImageResult::Failed => "failed",
            ImageResult::Skipped => "skipped",
        }
    }
}

/// A line as the status page shows it, from the last run that decided it.
#[derive(Debug, Clone, PartialEq)]
pub struct LineRow {
    pub id: String,
    pub repository: String,
    pub version: String,
    /// The exact version the floating tags belong on.
    pub release: Option<String>,
    /// `held at 10.0.1 by a rollback (withdrawn: ...)`, as `plan` says it,
    /// while a rollback keeps the floating tags below the newest build.
    pub held: Option<String>,
    pub floating: Vec<String>,
    /// The newest build of the line and when it was made.
    pub last_build: Option<String>,
    pub last_built: Option<DateTime<Utc>>,
    /// Why the newest build was made.
    pub last_reasons: Option<String>,
    pub next_due: Option<DateTime<Utc>>,
    pub result: ImageResult,
    pub reasons: Vec<String>,
    pub error: Option<String>,
    pub build_seconds: Option<f64>,
    pub push_seconds: Option<f64>,
    /// Since when the line fails: its build failed in the last run, or it
    /// is held by its failing record (`failing` reason). `None`: it builds.
    pub failing_since: Option<DateTime<Utc>>,
    /// Newest first, at most [`LINE_HISTORY`]: what recent ticks did.
    pub history: Vec<LineEvent>,
}

impl LineRow {
    /// The row of `image` after a run that finished at `finished`.
    pub fn of(image: &ImageReport, finished: DateTime<Utc>) -> LineRow {
        let result = ImageResult::of(image);
        let parse = |text: &Option<String>| {
            text.as_deref()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc))
        };
        let built_now = result == ImageResult::Built;
        let (release, floating) = match result {
            ImageResult::Built | ImageResult::Promoted => {
                (image.tag.clone(), image.floating.clone())
            }
            _ => (
                image.release.clone().or_else(|| image.last_version.clone()),
                image.floating_on_release.clone(),
            ),
        };
        LineRow {
            id: image.id.clone(),
            repository: image.repository.clone(),
            version: image.version.clone(),
            release,
            held: crate::report::held_text(image),
            floating,
            last_build: if built_now {
                image.tag.clone()
            } else {
                image.last_version.clone()
            },
            last_built: if built_now {
                Some(finished)
            } else {
                parse(&image.last_built)
            },
            last_reasons: if built_now {
                Some(crate::report::reasons_text(&image.reasons))
            } else {
                image.last_reasons.clone()
            },
            next_due: parse(&image.next_due),
            result,
            reasons: image.reasons.iter().map(ToString::to_string).collect(),
            // A held line shows the error its last build failed with.
            error: image.error.clone().or_else(|| match image.reasons.first() {
                Some(crate::plan::Reason::Failing { error, .. }) => Some(error.clone()),
                _ => None,
            }),
            build_seconds: image.build_seconds,
            push_seconds: image.push_seconds,
            history: Vec::new(),
            failing_since: match (result, image.reasons.first()) {
                (_, Some(crate::plan::Reason::Failing { since, .. })) => Some(*since),
                (ImageResult::Failed, _) => Some(finished),
                _ => None,
            },
        }
    }

    /// Whether the line fails now.
    pub fn failing(&self) -> bool {
        self.failing_since.is_some()
    }
}

/// One entry of the recent-runs list.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    pub started: DateTime<Utc>,
    pub finished: DateTime<Utc>,
    pub result: TickResult,
}

/// Everything the endpoints show.
#[derive(Debug, Clone)]
pub struct State {
    pub started: DateTime<Utc>,
    pub interval: Duration,
    /// A tick running this long means the loop is stuck.
    pub stall_after: Duration,
    /// When the tick in progress started.
    pub running_since: Option<DateTime<Utc>>,
    pub last: Option<Tick>,
    pub lines: Vec<LineRow>,
    /// Newest first, at most [`RECENT_RUNS`].
    pub runs: VecDeque<RunRecord>,
}

impl State {
    /// A daemon that started at `started` and has not ticked yet.
    pub fn new(started: DateTime<Utc>, interval: Duration, stall_after: Duration) -> State {
        State {
            started,
            interval,
            stall_after,
            running_since: None,
            last: None,
            lines: Vec::new(),
            runs: VecDeque::new(),
        }
    }

    /// A tick started at `at`.
    pub fn tick_started(&mut self, at: DateTime<Utc>) {
        self.running_since = Some(at);
    }

    /// The tick that started last finished at `at` with `result`; the
    /// lines are replaced when the run decided images (`report`).
    pub fn tick_finished(
        &mut self,
        at: DateTime<Utc>,
        result: TickResult,
        report: Option<&Report>,
    ) {
        let started = self.running_since.take().unwrap_or(at);
        if let Some(report) = report {
            // By id: a daemon of thousands of lines looks each up once.
            let mut before: std::collections::HashMap<String, LineRow> =
                std::mem::take(&mut self.lines)
                    .into_iter()
                    .map(|row| (row.id.clone(), row))
                    .collect();
            self.lines = report
                .images
                .iter()
                .map(|image| {
                    let mut row = LineRow::of(image, at);
                    let earlier = before.remove(&row.id);
                    // A line failing again fails since its first failure.
                    if let (Some(since), Some(earlier)) = (
                        row.failing_since,
                        earlier.as_ref().and_then(|old| old.failing_since),
                    ) {
                        row.failing_since = Some(since.min(earlier));
                    }
                    row.history = earlier.map(|old| old.history).unwrap_or_default();
                    if row.result != ImageResult::UpToDate {
                        row.history.insert(
                            0,
                            LineEvent {
                                at,
                                result: row.result,
                                version: match row.result {
                                    ImageResult::Built | ImageResult::Promoted => image.tag.clone(),
                                    _ => None,
                                },
                                seconds: image.seconds.filter(|_| row.result == ImageResult::Built),
                            },
                        );
                        row.history.truncate(LINE_HISTORY);
                    }
                    row
                })
                .collect();
        }
        self.runs.push_front(RunRecord {
            started,
            finished: at,
            result: result.clone(),
        });
        self.runs.truncate(RECENT_RUNS);
        self.last = Some(Tick {
            started,
            finished: at,
            result,
        });
    }

    /// The lines that fail now, in the config's order.
    pub fn failing(&self) -> impl Iterator<Item = &LineRow> {
        self.lines.iter().filter(|line| line.failing())
    }

    /// `/livez`: `Ok` while the loop is alive, ticking or sleeping between
    /// ticks (before the first tick has finished too); `Err` when it is
    /// stalled. A config that does not load or an unreachable registry is
    /// not a reason to restart the process.
    pub fn liveness(&self, now: DateTime<Utc>) -> Result<String, String> {
        match self.health(now) {
            Err(stalled) if stalled.starts_with("stalled:") => Err(stalled),
            _ => Ok(format!(
                "alive: up since {}{}",
                time(self.started),
                self.running_since
                    .map(|since| format!(", a tick running since {}", time(since)))
                    .unwrap_or_default()
            )),
        }
    }

    /// `/readyz`: `Ok` when the last tick loaded the config and reached the
    /// engine and the registry (images may have failed: the lines say so);
    /// `Err` before the first tick and while the last tick could not run.
    pub fn readiness(&self, now: DateTime<Utc>) -> Result<String, String> {
        self.health(now).map(|_| {
            format!(
                "ready: the last tick loaded the config and reached the engine and the registry{}",
                match self.failing().count() {
                    0 => String::new(),
                    n => format!("; {n} line(s) failing"),
                }
            )
        })
    }

    /// `Ok(why it is healthy)` while the loop runs and its last tick ran;
    /// `Err(the reason)` otherwise.
    pub fn health(&self, now: DateTime<Utc>) -> Result<String, String> {
        if let Some(since) = self.running_since {
            let running = elapsed(since, now);
            if running > self.stall_after {
                return Err(format!(
                    "stalled: the tick that started at {} has been running for {} (limit --stall-after {})",
                    time(since),
                    span(running),
                    span(self.stall_after)
                ));
            }
        }
        let Some(last) = &self.last else {
            return Err(format!(
                "starting: the first tick has not finished (started {} ago)",
                span(elapsed(self.started, now))
            ));
        };
        // The loop sleeps one interval between ticks; three without a new
        // one means it is not ticking.
        let quiet = elapsed(last.finished, now);
        if self.running_since.is_none() && quiet > self.interval * 3 + Duration::from_secs(10) {
            return Err(format!(
                "stalled: no tick since {} ({} ago, the interval is {})",
                time(last.finished),
                span(quiet),
                span(self.interval)
            ));
        }
        match &last.result {
            TickResult::Ran(counts) => Ok(format!(
                "ok: last tick finished at {}: {} built, {} up to date, {} failed, {} skipped",
                time(last.finished),
                counts.built,
                counts.up_to_date,
                counts.failed,
                counts.skipped
            )),
            TickResult::ConfigInvalid(error) => Err(format!(
                "config not usable at the tick of {}:\n{error}",
                time(last.finished)
            )),
            TickResult::RunFailed(error) => Err(format!(
                "the last tick failed to run at {}: {error}",
                time(last.finished)
            )),
        }
    }
}

impl State {
    /// `/status.json`: what the page shows, for scripts. `version` is the
    /// document's format; fields may be added.
    pub fn document(&self, now: DateTime<Utc>) -> serde_json::Value {
        use serde_json::json;
        let at = |t: Option<DateTime<Utc>>| t.map(time);
        let probe = |result: Result<String, String>| match result {
            Ok(text) => json!({"ok": true, "message": text}),
            Err(text) => json!({"ok": false, "message": text}),
        };
        let lines: Vec<serde_json::Value> = self
            .lines
            .iter()
            .map(|line| {
                json!({
                    "id": line.id,
                    "repository": line.repository,
                    "version": line.version,
                    "release": line.release,
                    "held": line.held,
                    "floating": line.floating,
                    "last_build": line.last_build,
                    "last_built": at(line.last_built),
                    "last_reasons": line.last_reasons,
                    "next_due": at(line.next_due),
                    "result": line.result.name(),
                    "reasons": line.reasons,
                    "error": line.error,
                    "failing": line.failing(),
                    "failing_since": at(line.failing_since),
                    "history": line.history.iter().map(|event| json!({
                        "at": time(event.at),
                        "result": event.result.name(),
                        "version": event.version,
                        "seconds": event.seconds,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        let last = self.last.as_ref().map(|tick| {
            let (result, error) = match &tick.result {
                TickResult::Ran(_) => (tick.result.label(), None),
                TickResult::ConfigInvalid(error) | TickResult::RunFailed(error) => {
                    (tick.result.label(), Some(error.clone()))
                }
            };
            json!({
                "started": time(tick.started),
                "finished": time(tick.finished),
                "result": result,
                "error": error,
            })
        });
        json!({
            "version": 1,
            "golden": env!("CARGO_PKG_VERSION"),
            "now": time(now),
            "started": time(self.started),
            "interval_seconds": self.interval.as_secs_f64(),
            "running_since": at(self.running_since),
            "health": probe(self.health(now)),
            "live": probe(self.liveness(now)),
            "ready": probe(self.readiness(now)),
            "last_tick": last,
            "failing": self.failing().map(|line| line.id.clone()).collect::<Vec<_>>(),
            "lines": lines,
        })
    }
}

fn elapsed(since: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    (now - since).to_std().unwrap_or_default()
}

/// RFC 3339 in UTC, to the second.
pub fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A duration for people: `45s`, `12m 5s`, `3h 20m`, `6d 23h`.
pub fn span(duration: Duration) -> String {
    let seconds = duration.as_secs();
    let (days, hours, minutes) = (seconds / 86_400, seconds / 3600 % 24, seconds / 60 % 60);
    match seconds {
        0..60 => format!("{seconds}s"),
        60..3600 => format!("{minutes}m {}s", seconds % 60),
        3600..86_400 => format!("{hours}h {minutes}m"),
        _ => format!("{days}d {hours}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    fn state() -> State {
        State::new(at(0), Duration::from_secs(60), Duration::from_secs(3600))
    }

    fn ran() -> TickResult {
        TickResult::Ran(Counts {
            up_to_date: 3,
            ..Counts::default()
        })
    }

    #[test]
    fn health_follows_the_last_tick_and_the_loop() {
        let mut state = state();
        let starting = state.health(at(5)).unwrap_err();
        assert!(starting.starts_with("starting:"), "{starting}");

        state.tick_started(at(1));
        state.tick_finished(at(2), ran(), None);
        assert!(state.health(at(30)).unwrap().starts_with("ok:"));
        // A tick in progress keeps it healthy until --stall-after.
        state.tick_started(at(62));
        assert!(state.health(at(62 + 3599)).is_ok());
        let stalled = state.health(at(62 + 3601)).unwrap_err();
        assert!(stalled.contains("has been running for 1h 0m"), "{stalled}");

        state.tick_finished(
            at(70),
            TickResult::ConfigInvalid("unknown key `x`".into()),
            None,
        );
        let broken = state.health(at(71)).unwrap_err();
        assert!(broken.starts_with("config not usable") && broken.contains("unknown key `x`"));

        state.tick_started(at(130));
        state.tick_finished(
            at(131),
            TickResult::RunFailed("registry unreachable".into()),
            None,
        );
        assert!(state.health(at(132)).unwrap_err().contains("failed to run"));

        state.tick_started(at(190));
        state.tick_finished(at(191), ran(), None);
        assert!(state.health(at(191 + 190)).is_ok());
        let quiet = state.health(at(191 + 191)).unwrap_err();
        assert!(quiet.starts_with("stalled: no tick since"), "{quiet}");
    }

    #[test]
    fn each_line_keeps_what_its_recent_ticks_did_newest_first() {
        let report = |decision: &str, tag: Option<&str>| {
            use crate::report::{ImageDecision, ImageReport};
            let image = ImageReport {
                id: "base".into(),
                repository: "r/base".into(),
                version: "1.0".into(),
                decision: match decision {
                    "built" => ImageDecision::Built,
                    "failed" => ImageDecision::Failed,
                    "skipped" => ImageDecision::Skipped,
                    _ => ImageDecision::UpToDate,
                },
                tag: tag.map(str::to_string),
                seconds: Some(3.5),
                ..ImageReport::default()
            };
            let mut report = Report::failed(String::new(), 1.0);
            report.error = None;
            report.images = vec![image];
            report
        };
        let mut state = state();
        for (second, decision, tag) in [
            (1, "built", Some("1.0.0")),
            (2, "up-to-date", None),
            (3, "failed", None),
            (4, "up-to-date", None),
        ] {
            state.tick_started(at(second * 60));
            state.tick_finished(at(second * 60 + 1), ran(), Some(&report(decision, tag)));
        }
        let history = &state.lines[0].history;
        assert_eq!(
            history.len(),
            2,
            "up-to-date ticks are not kept: {history:?}"
        );
        assert_eq!(history[0].result, ImageResult::Failed);
        assert_eq!(history[1].result, ImageResult::Built);
        assert_eq!(history[1].version.as_deref(), Some("1.0.0"));
        assert_eq!(history[1].seconds, Some(3.5));
        for second in 5..20 {
            state.tick_finished(at(second * 60), ran(), Some(&report("skipped", None)));
        }
        assert_eq!(state.lines[0].history.len(), LINE_HISTORY);
    }

    #[test]
    fn recent_runs_keep_the_newest() {
        let mut state = state();
        for second in 0..(RECENT_RUNS as i64 + 5) {
            state.tick_started(at(second * 60));
            state.tick_finished(at(second * 60 + 1), ran(), None);
        }
        assert_eq!(state.runs.len(), RECENT_RUNS);
        assert_eq!(
            state.runs[0].finished,
            at((RECENT_RUNS as i64 + 4) * 60 + 1)
        );
    }

    #[test]
    fn run_results_are_labelled() {
        let failed = TickResult::Ran(Counts {
            failed: 1,
            ..Counts::default()
        });
        assert_eq!(failed.label(), "images_failed");
        assert_eq!(ran().label(), "ok");
        assert_eq!(TickResult::RunFailed(String::new()).label(), "run_failed");
        assert_eq!(
            TickResult::ConfigInvalid(String::new()).label(),
            "config_invalid"
        );
    }

    #[test]
    fn spans_read_as_people_write_them() {
        let cases = [
            (0, "0s"),
            (59, "59s"),
            (61, "1m 1s"),
            (3600, "1h 0m"),
            (90_061, "1d 1h"),
        ];
        for (seconds, text) in cases {
            assert_eq!(span(Duration::from_secs(seconds)), text);
        }
    }
}
