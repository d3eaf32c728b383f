//! The report of `golden build` and `golden rebuild`: the document of how
//! the run ended each image, and its text, a line per image and the totals.

use super::{base_report, described, foreign_text, held_text, reasons_text};
use super::{BuildPlace, ImageDecision, ImageReport, Report, Totals};
use crate::name::short_digest;
use crate::outcome::{Outcome, Status};
use crate::plan::Step;
use crate::project::Project;

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
                builder: outcome.builder,
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

/// Seconds rounded to hundredths, as the report gives them.
fn round(seconds: f64) -> f64 {
    (seconds * 100.0).round() / 100.0
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

/// The human summary of a run: one line per image, then the totals.
pub fn run_text(report: &Report) -> String {
    let mut text = String::new();
    // An error several images met is said in full once (with its hint).
    let mut first_with: Vec<(&str, &str)> = Vec::new();
    for image in &report.images {
        let failed = matches!(
            image.decision,
            ImageDecision::Failed | ImageDecision::Build | ImageDecision::Promote
        );
        let line = image
            .error
            .as_deref()
            .filter(|_| failed)
            .map(|error| error.lines().next().unwrap_or_default());
        match line.and_then(|line| first_with.iter().find(|(seen, _)| *seen == line)) {
            Some((_, first)) => text.push_str(&format!(
                "failed      {}\n            the same error as `{first}`",
                image.id
            )),
            None => {
                if let Some(line) = line {
                    first_with.push((line, &image.id));
                }
                text.push_str(&image_text(image));
            }
        }
        text.push('\n');
    }
    text.push_str(&foreign_text(report));
    text.push_str(&totals_text(&report.totals));
    text
}

/// How the run ended one image: what it pushed and why, or why not.
fn image_text(image: &ImageReport) -> String {
    match image.decision {
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
    }
}

/// The run's last line: what it did, or that nothing was due.
fn totals_text(totals: &Totals) -> String {
    if totals.built + totals.promoted + totals.failed + totals.skipped == 0 {
        return format!("nothing due: {} image(s) up to date\n", totals.up_to_date);
    }
    let promoted = match totals.promoted {
        0 => String::new(),
        count => format!("{count} promoted, "),
    };
    format!(
        "{} built, {promoted}{} up to date, {} failed, {} skipped in {:.1}s\n",
        totals.built, totals.up_to_date, totals.failed, totals.skipped, totals.seconds
    )
}
