//! The report of a plan or a run: the JSON document of SPEC section 4 (a
//! contract for CI jobs; fields may be added, never renamed) and the human
//! text printed on stdout.
//!
//! Pure: it formats data handed to it.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::name::short_digest;
use crate::outcome::{Outcome, Status};
use crate::plan::{Decision, Reason, Step};
use crate::project::Project;
use crate::provenance::ForeignTag;

mod paint;
pub mod palette;

pub use paint::{paint_plan_text, paint_run_text};

/// One image in the report.
#[derive(Debug, Clone, Serialize)]
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
    #[serde(skip_serializing_if = "Vec::is_empty")]
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
}

/// Where one platform of a multi-platform image was built.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BuildPlace {
    /// `os/arch[/variant]`.
    pub platform: String,
    /// The `[[engines]]` name.
    pub engine: String,
}

/// What a plan decided for an image, or how a run ended it: the
/// `decision` field of the report, serialized as the kebab-case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImageDecision {
    /// Plan: it will be built.
    Build,
    /// Plan: only its floating tags move, to a build that exists.
    Promote,
    /// Plan and run: nothing to do.
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
#[derive(Debug, Clone, Default, Serialize)]
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
#[derive(Debug, Clone, Serialize)]
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

fn time(value: Option<DateTime<Utc>>) -> Option<String> {
    value.map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
}

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
        cache: step.cache(),
        engines: Vec::new(),
        builds: Vec::new(),
    }
}

/// The `[[engines]]` that may build `id`: those carrying its
/// `engine_labels`, in config order; none with one engine.
fn eligible_engines(project: &Project, id: &str) -> Vec<String> {
    let pool = &project.config.engine.pool;
    let Some(image) = project.config.image(id).filter(|_| pool.len() > 1) else {
        return Vec::new();
    };
    pool.iter()
        .filter(|member| {
            image
                .engine_labels
                .iter()
                .all(|label| member.labels.contains(label))
        })
        .map(|member| member.name.clone())
        .collect()
}

/// The report of `golden plan`.
pub fn plan_report(project: &Project, steps: &[Step], registry_requests: u64) -> Report {
    let images: Vec<ImageReport> = steps
        .iter()
        .map(|step| ImageReport {
            decision: step.decision().into(),
            engines: match step.is_build() {
                true => eligible_engines(project, &step.id),
                false => Vec::new(),
            },
            ..base_report(project, step)
        })
        .collect();
    let totals = Totals {
        built: 0,
        promoted: 0,
        up_to_date: steps
            .iter()
            .filter(|s| s.decision() == Decision::UpToDate)
            .count(),
        failed: steps
            .iter()
            .filter(|s| s.decision() == Decision::Failed)
            .count(),
        unreachable: steps.iter().filter(|s| s.unreachable()).count(),
        skipped: 0,
        seconds: 0.0,
        registry_requests,
    };
    Report {
        images,
        totals,
        error: None,
    }
}

/// The report of `golden build` and `golden rebuild`.
pub fn run_report(
    project: &Project,
    steps: &[Step],
    outcomes: &[Outcome],
    seconds: f64,
    registry_requests: u64,
) -> Report {
    let mut totals = Totals {
        seconds,
        registry_requests,
        ..Totals::default()
    };
    let images = steps
        .iter()
        .zip(outcomes)
        .map(|(step, outcome)| {
            match outcome.status {
                Status::Built => totals.built += 1,
                Status::Promoted => totals.promoted += 1,
                Status::UpToDate => totals.up_to_date += 1,
                Status::Failed => {
                    totals.failed += 1;
                    totals.unreachable += usize::from(outcome.unreachable);
                }
                Status::Skipped => totals.skipped += 1,
            }
            let ran = matches!(
                outcome.status,
                Status::Built | Status::Promoted | Status::Failed
            );
            ImageReport {
                decision: outcome.status.into(),
                reasons: outcome.reasons.clone(),
                tag: outcome.version.map(|version| version.to_string()),
                tag_upstream: outcome
                    .version
                    .and_then(|version| version.upstream())
                    .map(|upstream| upstream.to_string()),
                floating: outcome.floating.clone(),
                promoted: outcome.promoted,
                pending: outcome.pending.clone(),
                digest: outcome.digest.as_ref().map(ToString::to_string),
                seconds: ran.then_some(round(outcome.seconds)),
                build_seconds: outcome.build_seconds.map(round),
                test_seconds: outcome.test_seconds.map(round),
                push_seconds: outcome.push_seconds.map(round),
                error: outcome.error.clone(),
                engines: outcome
                    .built_on
                    .iter()
                    .map(|(_, engine)| engine.clone())
                    .collect(),
                builds: outcome
                    .built_on
                    .iter()
                    .filter_map(|(platform, engine)| {
                        Some(BuildPlace {
                            platform: platform.as_ref()?.to_string(),
                            engine: engine.clone(),
                        })
                    })
                    .collect(),
                ..base_report(project, step)
            }
        })
        .collect();
    Report {
        images,
        totals,
        error: None,
    }
}

fn round(seconds: f64) -> f64 {
    (seconds * 100.0).round() / 100.0
}

fn reasons_text(reasons: &[Reason]) -> String {
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
fn held_text(image: &ImageReport) -> Option<String> {
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

/// `golden plan` as a table.
pub fn plan_text(report: &Report) -> String {
    plan_text_within(report, Some(PLAN_WIDTH))
}

/// The plan with every cell in full, however wide (`plan --wide`).
pub fn plan_text_wide(report: &Report) -> String {
    plan_text_within(report, None)
}

/// How wide `golden plan` prints without `--wide`.
pub const PLAN_WIDTH: usize = 100;

fn plan_text_within(report: &Report, width: Option<usize>) -> String {
    // With `[[engines]]`, which engines may build each due image.
    let pooled = report.images.iter().any(|image| !image.engines.is_empty());
    let mut header = vec![
        "IMAGE",
        "LINE",
        "DECISION",
        "LAST BUILD",
        "NEXT DUE",
        "UPSTREAM",
    ];
    if pooled {
        header.push("ENGINES");
    }
    header.push("REASONS");
    let mut rows = vec![header.into_iter().map(String::from).collect::<Vec<_>>()];
    for image in &report.images {
        let last = match (&image.last_version, &image.last_built) {
            (Some(version), Some(built)) => format!("{} ({built})", described(version)),
            (Some(version), None) => described(version),
            _ => "-".to_string(),
        };
        let reasons = match &image.error {
            Some(error) => error.lines().next().unwrap_or_default().to_string(),
            None => match (held_text(image), &image.waiting) {
                (Some(held), _) if image.reasons.is_empty() => held,
                (None, Some(waiting)) if image.reasons.is_empty() => waiting.to_string(),
                _ => reasons_text(&image.reasons),
            },
        };
        let decision = match image.cache {
            Some(false) => format!("{} (no cache)", image.decision),
            _ => image.decision.to_string(),
        };
        let mut row = vec![
            image.id.clone(),
            image.version.clone(),
            decision,
            last,
            image.next_due.clone().unwrap_or_else(|| "-".to_string()),
            match (&image.upstream, &image.upstream_digest) {
                (Some(upstream), Some(digest)) => format!("{upstream}@{}", short_digest(digest)),
                (Some(upstream), None) => upstream.clone(),
                _ => "scratch".to_string(),
            },
        ];
        if pooled {
            row.push(match image.engines.is_empty() {
                true => "-".to_string(),
                false => image.engines.join(","),
            });
        }
        row.push(reasons);
        rows.push(row);
    }
    let mut text = match width {
        Some(width) => fitted_table(&rows, width),
        None => table(&rows),
    };
    text.push_str(&foreign_text(report));
    let due = report
        .images
        .iter()
        .filter(|i| i.decision == ImageDecision::Build)
        .count();
    text.push_str(&format!(
        "\n{due} of {} image(s) due\n",
        report.images.len()
    ));
    text
}

/// Columns the plan may shorten, most expendable first, each down to the
/// width it keeps: UPSTREAM (cut in the middle: its name and digest
/// stay), NEXT DUE (its date stays), LAST BUILD (its version stays).
/// Reasons are never cut.
const SHRINKABLE: [(usize, usize); 3] = [(5, 20), (4, 10), (3, 12)];
/// The least room the last column (the reasons) gets before wrapping.
const REASONS_AT_LEAST: usize = 30;

/// Rows as columns that fit `width`: the shrinkable columns cut with `…`
/// (their end kept: a tag or digest), the last column wrapped at words
/// onto indented lines. Never cuts the last column.
pub(crate) fn fitted_table(rows: &[Vec<String>], width: usize) -> String {
    let columns = rows.first().map_or(0, Vec::len);
    if columns == 0 {
        return String::new();
    }
    let mut widths: Vec<usize> = (0..columns)
        .map(|column| {
            rows.iter()
                .map(|row| row[column].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let fixed = |widths: &[usize]| widths[..columns - 1].iter().sum::<usize>() + 2 * (columns - 1);
    for (column, keep) in SHRINKABLE {
        if column + 1 >= columns {
            continue;
        }
        let over = (fixed(&widths) + widths[columns - 1]).saturating_sub(width);
        let room =
            (fixed(&widths) + REASONS_AT_LEAST.min(widths[columns - 1])).saturating_sub(width);
        let cut = over.max(room).min(widths[column].saturating_sub(keep));
        widths[column] -= cut;
    }
    let indent = fixed(&widths);
    // Past the least widths (long ids) the reasons still wrap, never cut.
    let last_width = width.saturating_sub(indent).max(8);
    let mut text = String::new();
    for row in rows {
        let mut line = String::new();
        for (column, cell) in row.iter().enumerate().take(columns - 1) {
            let shown = if column == 5 {
                cut_middle(cell, widths[column])
            } else {
                cut_end(cell, widths[column])
            };
            line.push_str(&format!("{shown:<width$}  ", width = widths[column]));
        }
        let wrapped = wrap(&row[columns - 1], last_width);
        let mut pieces = wrapped.iter();
        line.push_str(pieces.next().map_or("", String::as_str));
        text.push_str(line.trim_end());
        text.push('\n');
        for piece in pieces {
            text.push_str(&" ".repeat(indent));
            text.push_str(piece);
            text.push('\n');
        }
    }
    text
}

/// `text` in at most `width` characters: its start, then `…`.
fn cut_end(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let kept: String = text.chars().take(width.saturating_sub(1)).collect();
    format!("{kept}…")
}

/// `text` in at most `width` characters: its start and end around `…`.
fn cut_middle(text: &str, width: usize) -> String {
    let count = text.chars().count();
    if count <= width {
        return text.to_string();
    }
    let tail = width.saturating_sub(1) / 2;
    let head = width.saturating_sub(1) - tail;
    let start: String = text.chars().take(head).collect();
    let end: String = text.chars().skip(count - tail).collect();
    format!("{start}…{end}")
}

/// `text` in lines of at most `width` characters, broken at spaces (a word
/// longer than a line is split).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    for word in text.split(' ') {
        let mut word: Vec<char> = word.chars().collect();
        loop {
            let used = current.chars().count();
            let needed = if used == 0 {
                word.len()
            } else {
                used + 1 + word.len()
            };
            if needed <= width {
                if used > 0 {
                    current.push(' ');
                }
                current.extend(word.iter());
                break;
            }
            if used > 0 {
                lines.push(std::mem::take(&mut current));
                continue;
            }
            let rest = word.split_off(width);
            lines.push(word.into_iter().collect());
            word = rest;
        }
    }
    if !current.is_empty() || lines.is_empty() {
        lines.push(current);
    }
    lines
}

/// Rows as columns padded to their widest cell.
pub(crate) fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|column| {
            rows.iter()
                .map(|row| row[column].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut text = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(column, cell)| {
                if column + 1 == columns {
                    cell.clone()
                } else {
                    format!("{cell:<width$}", width = widths[column])
                }
            })
            .collect();
        text.push_str(cells.join("  ").trim_end());
        text.push('\n');
    }
    text
}

/// `  on b` or `  on a (linux/amd64), b (linux/arm64)`: where an image was
/// built, with `[[engines]]`.
fn engines_text(image: &ImageReport) -> String {
    if !image.builds.is_empty() {
        let places: Vec<String> = image
            .builds
            .iter()
            .map(|place| format!("{} ({})", place.engine, place.platform))
            .collect();
        format!("  on {}", places.join(", "))
    } else if image.engines.is_empty() {
        String::new()
    } else {
        format!("  on {}", image.engines.join(", "))
    }
}

/// An exact tag as people read it: `10.0.3-r2 (upstream 10.0.3)` under
/// upstream versioning, `X.Y.N` as it is.
pub fn described(version: &str) -> String {
    version
        .parse::<crate::version::Exact>()
        .map_or_else(|_| version.to_string(), |exact| exact.describe())
}

/// The human summary of a run: one line per image, then the totals.
pub fn run_text(report: &Report) -> String {
    let mut text = String::new();
    for image in &report.images {
        let line = match image.decision {
            ImageDecision::Built => format!(
                "built       {}  {}:{}  floating: {}  {}  {:.1}s{}\n            because: {}",
                image.id,
                image.repository,
                image.tag.as_deref().map_or("?".to_string(), described),
                if image.floating.is_empty() {
                    "none".to_string()
                } else {
                    image.floating.join(", ")
                },
                image
                    .digest
                    .as_deref()
                    .map(short_digest)
                    .unwrap_or_default(),
                image.seconds.unwrap_or_default(),
                engines_text(image),
                reasons_text(&image.reasons),
            ),
            ImageDecision::UpToDate => format!(
                "up-to-date  {}  {}{}{}",
                image.id,
                image
                    .release
                    .as_deref()
                    .or(image.last_version.as_deref())
                    .map(|v| format!("{}:{}", image.repository, described(v)))
                    .unwrap_or_default(),
                held_text(image)
                    .map(|held| format!("  {held}"))
                    .unwrap_or_default(),
                image
                    .next_due
                    .as_deref()
                    .map(|d| format!("  next due {d}"))
                    .unwrap_or_default(),
            ),
            ImageDecision::Promoted => format!(
                "promoted    {}  {}:{}  floating: {}\n            because: {}",
                image.id,
                image.repository,
                image.tag.as_deref().map_or("?".to_string(), described),
                image.floating.join(", "),
                reasons_text(&image.reasons),
            ),
            ImageDecision::Skipped => format!(
                "skipped     {}  because: {}",
                image.id,
                reasons_text(&image.reasons)
            ),
            ImageDecision::Failed | ImageDecision::Build | ImageDecision::Promote => format!(
                "failed      {}\n            {}",
                image.id,
                image
                    .error
                    .as_deref()
                    .unwrap_or("unknown error")
                    .replace('\n', "\n            ")
            ),
        };
        text.push_str(&line);
        text.push('\n');
    }
    text.push_str(&foreign_text(report));
    let totals = &report.totals;
    if totals.built + totals.promoted + totals.failed + totals.skipped == 0 {
        text.push_str(&format!(
            "nothing due: {} image(s) up to date\n",
            totals.up_to_date
        ));
    } else {
        let promoted = match totals.promoted {
            0 => String::new(),
            count => format!("{count} promoted, "),
        };
        text.push_str(&format!(
            "{} built, {promoted}{} up to date, {} failed, {} skipped in {:.1}s\n",
            totals.built, totals.up_to_date, totals.failed, totals.skipped, totals.seconds
        ));
    }
    text
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
        let text = super::fitted_table(&rows, 100);
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
        assert_eq!(super::fitted_table(&rows, 1000), super::table(&rows));
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
