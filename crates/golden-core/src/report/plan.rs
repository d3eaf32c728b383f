//! The report of `golden plan`: the document of what each selected image
//! is decided to do, and its text, a table fitted to the terminal.

use super::columns::{fitted_table, table};
use super::{base_report, described, foreign_text, held_text, reasons_text};
use super::{ImageDecision, ImageReport, Report, Totals};
use crate::name::short_digest;
use crate::plan::{Decision, Reason, Step};
use crate::project::Project;

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
        skipped: steps
            .iter()
            .filter(|s| s.decision() == Decision::Held)
            .count(),
        seconds: 0.0,
        registry_requests,
    };
    Report {
        images,
        totals,
        error: None,
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

/// The plan cut to `width` columns (`None`: every cell in full).
pub fn plan_text_within(report: &Report, width: Option<usize>) -> String {
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
    // An error several images met (a registry that refused the credentials,
    // one that is down) is said in full once, on its first image's row.
    let mut first_with: Vec<(&str, &str)> = Vec::new();
    for image in &report.images {
        let mut row = plan_row(image, pooled);
        if let Some(error) = &image.error {
            let line = error.lines().next().unwrap_or_default();
            match first_with.iter().find(|(seen, _)| *seen == line) {
                Some((_, first)) => {
                    if let Some(reasons) = row.last_mut() {
                        *reasons = format!("the same error as `{first}`");
                    }
                }
                None => first_with.push((line, &image.id)),
            }
        }
        rows.push(row);
    }
    let mut text = match width {
        Some(width) => fitted_table(&rows, width),
        None => table(&rows),
    };
    text.push_str(&foreign_text(report));
    text.push_str(&plan_summary(report));
    text
}

/// The plan's last lines: how many images are due, held or unobserved,
/// then each distinct error's hint once.
fn plan_summary(report: &Report) -> String {
    let due = report
        .images
        .iter()
        .filter(|i| i.decision == ImageDecision::Build)
        .count();
    let held = report
        .images
        .iter()
        .filter(|i| matches!(i.reasons.first(), Some(Reason::Failing { .. })))
        .count();
    let held = match held {
        0 => String::new(),
        held => format!(", {held} held while failing (`golden rebuild ID` builds one now)"),
    };
    let unobserved = report
        .images
        .iter()
        .filter(|i| i.decision == ImageDecision::Failed)
        .count();
    let unobserved = match unobserved {
        0 => String::new(),
        count => format!(", {count} could not be observed"),
    };
    let mut text = format!(
        "\n{due} of {} image(s) due{unobserved}{held}\n",
        report.images.len()
    );
    // Each distinct error's hint, once.
    let mut hints: Vec<&str> = Vec::new();
    for image in &report.images {
        let hint = image
            .error
            .as_deref()
            .and_then(|error| error.lines().find(|line| line.starts_with("hint: ")));
        if let Some(hint) = hint.filter(|hint| !hints.contains(hint)) {
            hints.push(hint);
        }
    }
    for hint in hints {
        text.push_str(hint);
        text.push('\n');
    }
    text
}

/// One image's row of the plan: the ENGINES cell only when `pooled`.
fn plan_row(image: &ImageReport, pooled: bool) -> Vec<String> {
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
    row
}
