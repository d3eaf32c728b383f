//! The report of a plan or a run: the JSON document of SPEC section 4 (a
//! contract for CI jobs; fields may be added, never renamed) and the human
//! text printed on stdout.
//!
//! Here: the document's types and what the two reports share (an image's
//! fields from its step, the reasons, the hold and the warnings as text);
//! `plan` and `run` make each report and its text, `columns` lays rows out
//! as columns, `paint` colours the text.
//!
//! Pure: it formats data handed to it.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::outcome::Status;
use crate::plan::{Decision, Reason, Step};
use crate::project::Project;
use crate::provenance::ForeignTag;

mod columns;
mod paint;
pub mod palette;
mod plan;
mod run;

pub(crate) use columns::table;
pub use paint::{paint_plan_text, paint_run_text};
pub use plan::{plan_report, plan_text, plan_text_wide, plan_text_within, PLAN_WIDTH};
pub use run::{run_report, run_text};

/// One image in the report. `Default` is an up-to-date image with nothing
/// known, for tests to fill in.
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct ImageReport {
    /// The image id from golden.toml.
    pub id: String,
    /// The repository its builds are pushed to (`host/namespace/name`).
    pub repository: String,
    /// The line, `X.Y`.
    pub version: String,
    /// Plan: `build`, `promote`, `up-to-date` or `failed`; run: `built`,
    /// `promoted`, `up-to-date`, `failed` or `skipped`.
    pub decision: ImageDecision,
    /// Why it is (or was) built, promoted or skipped (`reasons[].kind`).
    pub reasons: Vec<Reason>,
    /// The exact tag pushed (`X.Y.N`, or `X.Y.Z-rN` under upstream
    /// versioning, in `repository`), null when nothing was.
    pub tag: Option<String>,
    /// The upstream version `tag` holds (`10.0.3` of `10.0.3-r2`); absent
    /// under line versioning or when nothing was pushed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag_upstream: Option<String>,
    /// Floating tags moved to it.
    pub floating: Vec<String>,
    /// `false` for a build of `build --no-promote`: no floating tag moved;
    /// absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub promoted: Option<bool>,
    /// With `promoted: false`, the floating tags `golden promote` will
    /// move to it; absent when none.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub pending: Vec<String>,
    /// The manifest digest pushed.
    pub digest: Option<String>,
    /// Wall time spent on this image.
    pub seconds: Option<f64>,
    /// Time spent building.
    pub build_seconds: Option<f64>,
    /// Time spent in the smoke test.
    pub test_seconds: Option<f64>,
    /// Time spent pushing and moving tags.
    pub push_seconds: Option<f64>,
    /// Why it failed or was not started, with its causes and hint.
    pub error: Option<String>,
    /// The newest exact version in the registry before this run.
    pub last_version: Option<String>,
    /// The upstream version `last_version` holds; absent under line
    /// versioning.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_upstream: Option<String>,
    /// When that version was created.
    pub last_built: Option<String>,
    /// Why that version was built (its `io.golden.reasons` label); absent
    /// for builds made before golden recorded it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_reasons: Option<String>,
    /// For up-to-date images, when the schedule fires next.
    pub next_due: Option<String>,
    /// With `adopt = "on-schedule"`: a newer upstream tag the image waits
    /// to adopt (`old`, `new`, `adopt_at`); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting: Option<crate::plan::Waiting>,
    /// The build the line's floating tags belong on; older than
    /// `last_version` when `golden rollback` withdrew newer builds.
    pub release: Option<String>,
    /// The line's builds a rollback withdrew.
    pub withdrawn: Vec<String>,
    /// The floating tags found on `release` before this run (`floating`
    /// says which moved in it).
    pub floating_on_release: Vec<String>,
    /// The final FROM's reference (after ARG substitution) and what it
    /// resolves to now.
    pub upstream: Option<String>,
    /// The digest `upstream` resolves to now.
    pub upstream_digest: Option<String>,
    /// Exact tags of the line that are not golden builds: never released,
    /// moved onto or deleted.
    pub foreign: Vec<ForeignTag>,
    /// What golden warns about in the config or Dockerfile of the image.
    pub warnings: Vec<String>,
    /// After a build: the builder that ran it (`buildkit` or `classic`);
    /// absent when nothing was built.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub builder: Option<crate::engine::Builder>,
    /// For a build: whether it may use the engine's build cache (false:
    /// every step runs and the base is pulled); null when nothing is built.
    pub cache: Option<bool>,
    /// With `[[engines]]`: in a plan, the engines that may build it (they
    /// carry its `engine_labels`); after a run, the engines that built it,
    /// one per platform. Empty with one engine.
    pub engines: Vec<String>,
    /// With `[[engines]]`, for a multi-platform build: which engine built
    /// each platform.
    pub builds: Vec<BuildPlace>,
    /// After a run, for a line failing before or after it: what
    /// notifications say of it (`failing` when it starts failing,
    /// `still-failing` as a reminder, `quiet` when it was said recently,
    /// `recovered` when it built again); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notice: Option<crate::failing::Notice>,
}

/// Where one platform of a multi-platform image was built.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct BuildPlace {
    /// `os/arch[/variant]`.
    pub platform: String,
    /// The `[[engines]]` name.
    pub engine: String,
}

/// What a plan decided for an image, or how a run ended it: the
/// `decision` field of the report, serialized as the kebab-case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ImageDecision {
    /// Plan: it will be built.
    Build,
    /// Plan: only its floating tags move, to a build that exists.
    Promote,
    /// Plan and run: nothing to do.
    #[default]
    UpToDate,
    /// Plan and run: it could not be observed, built or pushed.
    Failed,
    /// Run: built and pushed.
    Built,
    /// Run: its floating tags moved to a build that existed.
    Promoted,
    /// Run: not started (a parent failed, `--fail-fast`, a signal).
    Skipped,
}

impl ImageDecision {
    /// The name in the report (`up-to-date`).
    pub fn name(self) -> &'static str {
        match self {
            ImageDecision::Build => "build",
            ImageDecision::Promote => "promote",
            ImageDecision::UpToDate => "up-to-date",
            ImageDecision::Failed => "failed",
            ImageDecision::Built => "built",
            ImageDecision::Promoted => "promoted",
            ImageDecision::Skipped => "skipped",
        }
    }
}

impl std::fmt::Display for ImageDecision {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.name())
    }
}

impl From<Decision> for ImageDecision {
    fn from(decision: Decision) -> ImageDecision {
        match decision {
            Decision::Build => ImageDecision::Build,
            Decision::Promote => ImageDecision::Promote,
            Decision::UpToDate => ImageDecision::UpToDate,
            Decision::Failed => ImageDecision::Failed,
            // Held by a failing line's backoff: not built in this run.
            Decision::Held => ImageDecision::Skipped,
        }
    }
}

impl From<Status> for ImageDecision {
    fn from(status: Status) -> ImageDecision {
        match status {
            Status::Built => ImageDecision::Built,
            Status::Promoted => ImageDecision::Promoted,
            Status::UpToDate => ImageDecision::UpToDate,
            Status::Failed => ImageDecision::Failed,
            Status::Skipped => ImageDecision::Skipped,
        }
    }
}

/// Counts for a run.
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct Totals {
    /// Images built and pushed.
    pub built: usize,
    /// Images whose floating tags moved to a build that already existed.
    pub promoted: usize,
    /// Images with nothing to do.
    pub up_to_date: usize,
    /// Images that failed.
    pub failed: usize,
    /// Of the failed, those that failed because the engine or a registry
    /// could not be reached.
    pub unreachable: usize,
    /// Images not started (a parent failed, `--fail-fast`, a signal).
    pub skipped: usize,
    /// Wall time of the run.
    pub seconds: f64,
    /// HTTP requests made to registries.
    pub registry_requests: u64,
}

/// The whole document.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Report {
    /// Every selected image, in build order.
    pub images: Vec<ImageReport>,
    /// The counts.
    pub totals: Totals,
    /// Why the run stopped before any image was decided (the lock, the
    /// engine or the registry); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Report {
    /// The report of a run that failed before deciding any image.
    pub fn failed(error: String, seconds: f64) -> Report {
        Report {
            images: Vec::new(),
            totals: Totals {
                seconds,
                ..Totals::default()
            },
            error: Some(error),
        }
    }
}

/// `value` as RFC 3339 in whole seconds.
fn time(value: Option<DateTime<Utc>>) -> Option<String> {
    value.map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
}

/// The fields of an image's report that a plan and a run share, from its
/// step; the decision is the plan's or the run's to set.
fn base_report(project: &Project, step: &Step) -> ImageReport {
    let (repository, version) = project
        .config
        .image(&step.id)
        .map(|image| {
            let repository = project.config.repository(image).to_string();
            (repository, image.version.to_string())
        })
        .unwrap_or_default();
    ImageReport {
        id: step.id.clone(),
        repository,
        version,
        decision: ImageDecision::UpToDate,
        reasons: step.reasons().to_vec(),
        tag: None,
        tag_upstream: None,
        floating: Vec::new(),
        promoted: None,
        pending: Vec::new(),
        digest: None,
        seconds: None,
        build_seconds: None,
        test_seconds: None,
        push_seconds: None,
        error: step.error().map(str::to_string),
        last_version: step.last_build().map(|last| last.version.to_string()),
        last_upstream: step
            .last_build()
            .and_then(|last| last.version.upstream())
            .map(|upstream| upstream.to_string()),
        last_built: time(step.last_build().and_then(|last| last.created)),
        last_reasons: step.last_build().and_then(|last| last.reasons.clone()),
        next_due: time(step.next_due()),
        waiting: step.waiting().cloned(),
        release: step
            .last_build()
            .and_then(|last| last.release.as_ref())
            .map(|(version, _)| version.to_string()),
        withdrawn: step
            .last_build()
            .map(|last| last.withdrawn.iter().map(ToString::to_string).collect())
            .unwrap_or_default(),
        floating_on_release: step
            .last_build()
            .map(|last| {
                let release = last.release.as_ref().map(|(_, digest)| digest);
                last.floating
                    .iter()
                    .filter(|tag| tag.digest.as_ref().is_some_and(|d| Some(d) == release))
                    .map(|tag| tag.tag.to_string())
                    .collect()
            })
            .unwrap_or_default(),
        // With `track`, the tag picked.
        upstream: step
            .observed()
            .and_then(|observed| observed.upstream.clone())
            .or_else(|| {
                let node = project.graph.nodes.get(&step.id)?;
                node.upstream.reference().map(ToString::to_string)
            }),
        upstream_digest: step.observed().and_then(|o| o.upstream_digest.clone()),
        foreign: step
            .observed()
            .map(|o| o.foreign.clone())
            .unwrap_or_default(),
        warnings: project.warnings.get(&step.id).cloned().unwrap_or_default(),
        builder: None,
        cache: step.cache(),
        engines: Vec::new(),
        builds: Vec::new(),
        notice: None,
    }
}

/// The reasons, `; `-separated, or `-` when there are none.
pub fn reasons_text(reasons: &[Reason]) -> String {
    if reasons.is_empty() {
        "-".to_string()
    } else {
        reasons
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Why a line's floating tags are on a build older than its newest: a
/// rollback withdrew the newer ones. `None` when they are not.
pub fn held_text(image: &ImageReport) -> Option<String> {
    // No release for another reason (an incomplete build) is a reason of
    // the plan, not a hold. Withdrawn builds are those above the release
    // (under upstream versioning the last build is the release then).
    (!image.withdrawn.is_empty()).then(|| {
        format!(
            "held at {} by a rollback (withdrawn: {})",
            image.release.as_deref().unwrap_or("nothing"),
            image.withdrawn.join(", ")
        )
    })
}

/// A warning line per foreign exact tag, after a blank line; empty when
/// there are none.
fn foreign_text(report: &Report) -> String {
    let mut text = String::new();
    for image in &report.images {
        for foreign in &image.foreign {
            text.push_str(&format!("warning: {}: {foreign}\n", image.id));
        }
        for warning in &image.warnings {
            text.push_str(&format!("warning: {}: {warning}\n", image.id));
        }
    }
    if text.is_empty() {
        text
    } else {
        format!("\n{text}")
    }
}

/// An exact tag as people read it: `10.0.3-r2 (upstream 10.0.3)` under
/// upstream versioning, `X.Y.N` as it is.
pub fn described(version: &str) -> String {
    version
        .parse::<crate::version::Exact>()
        .map_or_else(|_| version.to_string(), |exact| exact.describe())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_fitted_table_stays_within_its_width_and_keeps_every_reason() {
        let long = "base updated sha256:000000000000 -> sha256:111111111111, recipe changed Dockerfile, parent base rebuilt";
        let rows: Vec<Vec<String>> = [
            [
                "IMAGE",
                "LINE",
                "DECISION",
                "LAST BUILD",
                "NEXT DUE",
                "UPSTREAM",
                "REASONS",
            ],
            [
                "aspnet-core",
                "8.0",
                "build (no cache)",
                "8.0.3 (2026-03-04T10:00:00Z)",
                "2026-03-08T00:00:00Z",
                "registry.example.com:5000/library/dotnet/aspnet:8.0@sha256:111111111111",
                long,
            ],
        ]
        .iter()
        .map(|row| row.iter().map(|cell| cell.to_string()).collect())
        .collect();
        let text = super::columns::fitted_table(&rows, 100);
        for line in text.lines() {
            assert!(
                line.chars().count() <= 100,
                "{} wide: {line}",
                line.chars().count()
            );
        }
        // The reasons wrap onto lines of their own: all of them are there.
        let squeezed: String = text.split_whitespace().collect();
        let reasons: String = long.split_whitespace().collect();
        assert!(squeezed.contains(&reasons), "reasons fell off:\n{text}");
        assert!(
            text.contains("registry.e") && text.contains("11111111"),
            "{text}"
        );
        // Wide enough: nothing is cut or wrapped.
        assert_eq!(
            super::columns::fitted_table(&rows, 1000),
            super::columns::table(&rows)
        );
    }

    use super::ImageDecision;

    /// The `decision` strings are a contract (SPEC section 4): each
    /// variant serializes to exactly its old string, and `name` agrees.
    #[test]
    fn decisions_serialize_to_the_report_strings() {
        let table = [
            (ImageDecision::Build, "build"),
            (ImageDecision::Promote, "promote"),
            (ImageDecision::UpToDate, "up-to-date"),
            (ImageDecision::Failed, "failed"),
            (ImageDecision::Built, "built"),
            (ImageDecision::Promoted, "promoted"),
            (ImageDecision::Skipped, "skipped"),
        ];
        for (decision, expected) in table {
            let json = serde_json::to_value(decision).unwrap_or_default();
            assert_eq!(json, serde_json::json!(expected), "{decision:?}");
            assert_eq!(decision.name(), expected, "{decision:?}");
        }
    }
}
