//! The daemon's Prometheus metrics (`/metrics`), in the OpenMetrics text
//! format, or Prometheus text 0.0.4 for a scraper that asks for it
//! (`Accept: text/plain`). Names carry the `golden_` prefix, base units
//! (`_seconds`) and `_total` on counters.
//!
//! Updated once per tick from the run's report; encoding reads no clock.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use std::sync::atomic::AtomicU64;

use chrono::{DateTime, Utc};

use super::state::{ImageResult, LineRow, TickResult};
use crate::report::Report;

/// The content type of [`Metrics::encode`].
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Build and push times: from seconds to an hour.
const DURATION_BUCKETS: [f64; 12] = [
    1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0,
];

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RunLabels {
    result: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    image: String,
    result: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ImageLabels {
    image: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildInfo {
    version: String,
    commit: String,
}

type Timestamp = Gauge<f64, AtomicU64>;

/// Every metric the daemon exports, registered once.
pub struct Metrics {
    registry: Registry,
    runs: Family<RunLabels, Counter>,
    builds: Family<BuildLabels, Counter>,
    last_success: Family<ImageLabels, Timestamp>,
    next_due: Family<ImageLabels, Timestamp>,
    failing: Family<ImageLabels, Gauge>,
    build_info: Family<BuildInfo, Gauge>,
    last_tick: Timestamp,
    build_seconds: Histogram,
    push_seconds: Histogram,
    registry_requests: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// The metrics of a daemon that has not ticked yet.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("golden");
        let metrics = Metrics {
            runs: Family::default(),
            builds: Family::default(),
            last_success: Family::default(),
            next_due: Family::default(),
            failing: Family::default(),
            build_info: Family::default(),
            last_tick: Timestamp::default(),
            build_seconds: Histogram::new(DURATION_BUCKETS),
            push_seconds: Histogram::new(DURATION_BUCKETS),
            registry_requests: Counter::default(),
            registry: Registry::default(),
        };
        metrics
            .build_info
            .get_or_create(&BuildInfo {
                version: env!("CARGO_PKG_VERSION").to_string(),
                commit: env!("GOLDEN_GIT_COMMIT").to_string(),
            })
            .set(1);
        metrics.register(&mut registry);
        Metrics {
            registry,
            ..metrics
        }
    }

    /// Names and explains each metric in `registry`.
    fn register(&self, registry: &mut Registry) {
        let metrics = self;
        registry.register(
            "runs",
            "Daemon ticks by result: ok, images_failed, run_failed (nothing decided), config_invalid",
            metrics.runs.clone(),
        );
        registry.register(
            "builds",
            "Images that were built, promoted, failed or skipped, by image and result",
            metrics.builds.clone(),
        );
        registry.register_with_unit(
            "last_success_timestamp",
            "When the newest build of each line was made (Unix time)",
            Unit::Seconds,
            metrics.last_success.clone(),
        );
        registry.register_with_unit(
            "next_due_timestamp",
            "When each up-to-date line is due next by its schedule (Unix time)",
            Unit::Seconds,
            metrics.next_due.clone(),
        );
        registry.register(
            "image_failing",
            "1 while a line fails (its last build failed, or it is held as failing), else 0",
            metrics.failing.clone(),
        );
        registry.register(
            "build_info",
            "The golden that runs: its version and the commit it was built from (always 1)",
            metrics.build_info.clone(),
        );
        registry.register_with_unit(
            "last_tick_timestamp",
            "When the last tick finished (Unix time)",
            Unit::Seconds,
            metrics.last_tick.clone(),
        );
        registry.register_with_unit(
            "build_duration",
            "Time to build an image (the engine's build)",
            Unit::Seconds,
            metrics.build_seconds.clone(),
        );
        registry.register_with_unit(
            "push_duration",
            "Time to push an image and move its floating tags",
            Unit::Seconds,
            metrics.push_seconds.clone(),
        );
        registry.register(
            "registry_requests",
            "HTTP requests golden sent to registries",
            metrics.registry_requests.clone(),
        );
    }

    /// Counts the tick that finished at `at`; `report` and `lines` are its
    /// run's, when it decided images.
    pub fn record(
        &self,
        at: DateTime<Utc>,
        result: &TickResult,
        report: Option<&Report>,
        lines: &[LineRow],
    ) {
        self.runs
            .get_or_create(&RunLabels {
                result: result.label().to_string(),
            })
            .inc();
        self.last_tick.set(seconds(at));
        let Some(report) = report else {
            return;
        };
        self.registry_requests
            .inc_by(report.totals.registry_requests);
        for line in lines {
            if line.result != ImageResult::UpToDate {
                self.builds
                    .get_or_create(&BuildLabels {
                        image: line.id.clone(),
                        result: line.result.name().to_string(),
                    })
                    .inc();
            }
            if let Some(value) = line.build_seconds {
                self.build_seconds.observe(value);
            }
            if let Some(value) = line.push_seconds {
                self.push_seconds.observe(value);
            }
        }
        // Lines that left the config leave these gauges too.
        self.last_success.clear();
        self.next_due.clear();
        self.failing.clear();
        for line in lines {
            let labels = ImageLabels {
                image: line.id.clone(),
            };
            if let Some(built) = line.last_built {
                self.last_success.get_or_create(&labels).set(seconds(built));
            }
            if let Some(due) = line.next_due {
                self.next_due.get_or_create(&labels).set(seconds(due));
            }
            self.failing
                .get_or_create(&labels)
                .set(i64::from(line.failing()));
        }
    }

    /// The exposition, ending in `# EOF`.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        if let Err(error) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            tracing::warn!("failed to encode the metrics: {error}");
        }
        text
    }
}

/// The content type of [`prometheus_text`].
pub const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Whether a scraper's `Accept` header asks for Prometheus text 0.0.4
/// rather than OpenMetrics: it names `text/plain` and not
/// `application/openmetrics-text` ahead of it (Prometheus itself lists
/// OpenMetrics first when it can read it).
pub fn wants_prometheus_text(accept: Option<&str>) -> bool {
    let Some(accept) = accept else {
        return false;
    };
    let position = |kind: &str| accept.to_ascii_lowercase().find(kind);
    match (
        position("text/plain"),
        position("application/openmetrics-text"),
    ) {
        (Some(_), None) => true,
        (Some(text), Some(open)) => text < open,
        _ => false,
    }
}

/// An OpenMetrics exposition as Prometheus text 0.0.4: no `# EOF` or
/// `# UNIT`, and a counter's `# HELP` and `# TYPE` name its `_total`
/// sample, as that format wants.
pub fn prometheus_text(openmetrics: &str) -> String {
    let counters: std::collections::BTreeSet<&str> = openmetrics
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.strip_suffix(" counter"))
        .collect();
    let mut text = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(name)
                .then(|| format!("{prefix}{name}_total {tail}"))
        });
        let line = match renamed {
            Some(line) => line,
            None => line.replace(" unknown", " untyped"),
        };
        text.push_str(&line);
        text.push('\n');
    }
    text
}

fn seconds(at: DateTime<Utc>) -> f64 {
    at.timestamp_millis() as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::state::Counts;

    fn line(id: &str, result: ImageResult) -> LineRow {
        LineRow {
            id: id.to_string(),
            repository: format!("registry.local/golden/{id}"),
            version: "1.0".to_string(),
            release: Some("1.0.3".to_string()),
            held: None,
            floating: vec!["1.0".to_string()],
            last_build: Some("1.0.3".to_string()),
            last_built: DateTime::from_timestamp(1_700_000_000, 0),
            last_reasons: None,
            next_due: DateTime::from_timestamp(1_700_600_000, 0),
            result,
            reasons: Vec::new(),
            error: None,
            build_seconds: (result == ImageResult::Built).then_some(12.5),
            push_seconds: (result == ImageResult::Built).then_some(2.0),
            failing_since: (result == ImageResult::Failed)
                .then(|| DateTime::from_timestamp(1_700_000_050, 0).unwrap()),
            history: Vec::new(),
        }
    }

    #[test]
    fn a_tick_shows_in_every_family() {
        let metrics = Metrics::new();
        let mut report = Report::failed(String::new(), 1.0);
        report.error = None;
        report.totals.registry_requests = 7;
        let lines = [
            line("base", ImageResult::Built),
            line("tools", ImageResult::UpToDate),
            line("broken", ImageResult::Failed),
        ];
        let at = DateTime::from_timestamp(1_700_000_100, 0).unwrap();
        metrics.record(
            at,
            &TickResult::Ran(Counts::default()),
            Some(&report),
            &lines,
        );
        let text = metrics.encode();
        for expected in [
            "golden_runs_total{result=\"ok\"} 1\n",
            "golden_builds_total{image=\"base\",result=\"built\"} 1\n",
            "golden_last_success_timestamp_seconds{image=\"tools\"} 1700000000.0\n",
            "golden_next_due_timestamp_seconds{image=\"base\"} 1700600000.0\n",
            "golden_build_duration_seconds_count 1\n",
            "golden_push_duration_seconds_sum 2.0\n",
            "golden_registry_requests_total 7\n",
            "# UNIT golden_build_duration_seconds seconds\n",
            "golden_image_failing{image=\"broken\"} 1\n",
            "golden_image_failing{image=\"tools\"} 0\n",
            "golden_build_info{version=\"",
        ] {
            assert!(text.contains(expected), "no {expected:?} in\n{text}");
        }
        assert!(!text.contains("result=\"up-to-date\""), "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn prometheus_text_names_counters_by_their_samples_and_has_no_eof() {
        let metrics = Metrics::new();
        metrics.record(
            DateTime::from_timestamp(1_700_000_100, 0).unwrap(),
            &TickResult::Ran(Counts::default()),
            None,
            &[],
        );
        let text = prometheus_text(&metrics.encode());
        assert!(
            text.contains("# TYPE golden_runs_total counter\n"),
            "{text}"
        );
        assert!(
            text.contains("# HELP golden_runs_total Daemon ticks"),
            "{text}"
        );
        assert!(
            text.contains("golden_runs_total{result=\"ok\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE golden_last_tick_timestamp_seconds gauge\n"),
            "{text}"
        );
        assert!(
            !text.contains("# EOF") && !text.contains("# UNIT"),
            "{text}"
        );
    }

    #[test]
    fn the_accept_header_picks_the_format() {
        for (accept, text) in [
            (None, false),
            (Some("*/*"), false),
            (Some("text/plain;version=0.0.4;q=0.5,*/*;q=0.1"), true),
            (
                Some("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"),
                false,
            ),
        ] {
            assert_eq!(wants_prometheus_text(accept), text, "{accept:?}");
        }
    }
}
