//! Colour for the human pages of a report on a terminal: each image's
//! result word in its colour (built green, failed red, skipped yellow, up
//! to date dim) in the run summary, the decisions in the plan's table, and
//! the non-zero counts of the totals.
//!
//! Pure. It paints a page already made safe for the terminal
//! (`crate::sanitize::terminal`, which would escape the colour), and only
//! where golden's own layout puts a word: the start of a run summary line
//! and the plan's DECISION column, never inside text from the registry.

use super::ImageDecision;
use crate::report::palette::{Palette, Tone};

/// Every decision, to read one back from its name.
const DECISIONS: [ImageDecision; 7] = [
    ImageDecision::Build,
    ImageDecision::Promote,
    ImageDecision::UpToDate,
    ImageDecision::Failed,
    ImageDecision::Built,
    ImageDecision::Promoted,
    ImageDecision::Skipped,
];

/// The decision named `word` (`up-to-date`), if one is.
fn decision(word: &str) -> Option<ImageDecision> {
    DECISIONS.into_iter().find(|d| d.name() == word)
}

/// How a decision looks: results in their colours, what a plan will do
/// in bold.
fn tone(decision: ImageDecision) -> Tone {
    match decision {
        ImageDecision::Built | ImageDecision::Promoted => Tone::Good,
        ImageDecision::Failed => Tone::Bad,
        ImageDecision::Skipped => Tone::Warn,
        ImageDecision::UpToDate => Tone::Dim,
        ImageDecision::Build | ImageDecision::Promote => Tone::Strong,
    }
}

/// `line` with its first `length` bytes in `tone`.
fn paint_start(line: &str, length: usize, tone: Tone, palette: Palette) -> String {
    format!(
        "{}{}",
        palette.paint(tone, &line[..length]),
        &line[length..]
    )
}

/// The run summary (`run_text`) with colour: each image's line starts
/// with its result word, an up-to-date line is dim as a whole; warnings
/// are yellow; the totals show their non-zero counts in colour.
pub fn paint_run_text(page: &str, palette: Palette) -> String {
    if !palette.enabled() {
        return page.to_string();
    }
    let lines: Vec<&str> = page.split('\n').collect();
    let last = lines.iter().rposition(|line| !line.is_empty());
    lines
        .iter()
        .enumerate()
        .map(|(index, line)| {
            let word = line.split(' ').next().unwrap_or_default();
            match decision(word) {
                Some(ImageDecision::UpToDate) => palette.paint(Tone::Dim, line),
                Some(decision) => paint_start(line, word.len(), tone(decision), palette),
                None if word == "warning:" => paint_start(line, word.len(), Tone::Warn, palette),
                None if Some(index) == last => paint_totals(line, palette),
                None => line.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `2 built, 1 up to date, 1 failed, 0 skipped in 3.2s` with the counts
/// that matter in colour; `nothing due: ...` dim.
fn paint_totals(line: &str, palette: Palette) -> String {
    if line.starts_with("nothing due") {
        return palette.paint(Tone::Dim, line);
    }
    line.split(", ")
        .map(|piece| {
            let mut words = piece.splitn(3, ' ');
            let (Some(count), Some(word)) = (words.next(), words.next()) else {
                return piece.to_string();
            };
            let tone = match word {
                "built" | "promoted" => Tone::Good,
                "failed" => Tone::Bad,
                "skipped" => Tone::Warn,
                _ => return piece.to_string(),
            };
            match count.parse::<usize>() {
                Ok(count) if count > 0 => {}
                _ => return piece.to_string(),
            }
            paint_start(piece, count.len() + 1 + word.len(), tone, palette)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The plan's table (`plan_text`) with each DECISION in its colour and the
/// header in bold. The column starts where the header's `DECISION` does
/// (the cells before it, the image id and its line, come from golden's
/// config); the table's rows are the lines up to the first blank one,
/// except those that start with a space (a wrapped reason).
pub fn paint_plan_text(page: &str, palette: Palette) -> String {
    let mut lines = page.split('\n');
    let (true, Some(header)) = (palette.enabled(), lines.next()) else {
        return page.to_string();
    };
    let Some(column) = header.find("DECISION") else {
        return page.to_string();
    };
    let mut painted = vec![palette.paint(Tone::Strong, header)];
    let mut in_table = true;
    for line in lines {
        in_table &= !line.is_empty();
        let word = match line.get(column..) {
            Some(rest) if in_table && !line.starts_with(' ') && line[..column].ends_with(' ') => {
                rest.split(' ').next().unwrap_or_default()
            }
            _ => "",
        };
        painted.push(match decision(word) {
            Some(decision) => format!(
                "{}{}",
                &line[..column],
                paint_start(&line[column..], word.len(), tone(decision), palette)
            ),
            None => line.to_string(),
        });
    }
    painted.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{plan_text, run_text, ImageReport, Report, Totals};

    fn image(id: &str, decision: ImageDecision) -> ImageReport {
        let built = matches!(decision, ImageDecision::Built | ImageDecision::Promoted);
        ImageReport {
            id: id.into(),
            repository: format!("registry.local:5000/golden/{id}"),
            version: "1.0".into(),
            decision,
            reasons: Vec::new(),
            tag: built.then(|| "1.0.3".into()),
            tag_upstream: None,
            floating: if built {
                vec!["1.0".into(), "1".into(), "latest".into()]
            } else {
                Vec::new()
            },
            promoted: None,
            pending: Vec::new(),
            digest: built.then(|| format!("sha256:{}", "ab".repeat(32))),
            seconds: built.then_some(2.5),
            build_seconds: None,
            test_seconds: None,
            push_seconds: None,
            error: (decision == ImageDecision::Failed).then(|| {
                "build of `tools` failed at `Step 3/4 : RUN make`\nhint: fix the failing step"
                    .into()
            }),
            last_version: Some("1.0.2".into()),
            last_upstream: None,
            last_built: None,
            last_reasons: None,
            next_due: None,
            waiting: None,
            release: Some("1.0.2".into()),
            withdrawn: Vec::new(),
            floating_on_release: Vec::new(),
            upstream: Some("registry.local:5000/upstream/busybox:1.36".into()),
            upstream_digest: None,
            foreign: Vec::new(),
            warnings: Vec::new(),
            builder: None,
            cache: None,
            engines: Vec::new(),
            builds: Vec::new(),
            notice: None,
        }
    }

    fn report(images: Vec<ImageReport>) -> Report {
        let count = |decision| images.iter().filter(|i| i.decision == decision).count();
        let totals = Totals {
            built: count(ImageDecision::Built),
            promoted: count(ImageDecision::Promoted),
            up_to_date: count(ImageDecision::UpToDate),
            failed: count(ImageDecision::Failed),
            unreachable: 0,
            skipped: count(ImageDecision::Skipped),
            seconds: 4.2,
            registry_requests: 9,
        };
        Report {
            images,
            totals,
            error: None,
        }
    }

    #[test]
    fn an_error_several_images_met_is_said_once_with_its_hint_once() {
        let images = vec![
            image("a", ImageDecision::Failed),
            image("b", ImageDecision::Failed),
            image("c", ImageDecision::Build),
        ];
        let plan = plan_text(&report(images.clone()));
        assert_eq!(plan.matches("build of `tools` failed").count(), 1, "{plan}");
        assert!(plan.contains("the same error as `a`"), "{plan}");
        assert!(
            plan.contains(
                "1 of 3 image(s) due, 2 could not be observed\nhint: fix the failing step\n"
            ),
            "{plan}"
        );
        let run = run_text(&report(images));
        assert_eq!(
            run.matches("hint: fix the failing step").count(),
            1,
            "{run}"
        );
        assert!(
            run.contains("failed      b\n            the same error as `a`\n"),
            "{run}"
        );
    }

    #[test]
    fn an_upstream_build_is_shown_with_its_upstream_version() {
        let mut aspnet = image("aspnet", ImageDecision::Built);
        aspnet.tag = Some("10.0.3-r2".into());
        aspnet.tag_upstream = Some("10.0.3".into());
        aspnet.floating = vec!["10.0".into(), "10.0.3".into()];
        let mut plan = image("aspnet", ImageDecision::Build);
        plan.last_version = Some("10.0.3-r1".into());
        plan.last_upstream = Some("10.0.3".into());
        let text = run_text(&report(vec![aspnet.clone()]));
        assert!(
            text.contains("aspnet  registry.local:5000/golden/aspnet:10.0.3-r2 (upstream 10.0.3)  floating: 10.0, 10.0.3"),
            "{text}"
        );
        let text = plan_text(&report(vec![plan.clone()]));
        assert!(text.contains("10.0.3-r1 (upstream 10.0.3)"), "{text}");
        let json = serde_json::to_value(&aspnet).unwrap();
        assert_eq!(json["tag"], "10.0.3-r2");
        assert_eq!(json["tag_upstream"], "10.0.3");
        let json = serde_json::to_value(&plan).unwrap();
        assert_eq!(json["last_version"], "10.0.3-r1");
        assert_eq!(json["last_upstream"], "10.0.3");
        // Line versioning: neither field is written.
        let json = serde_json::to_value(image("base", ImageDecision::Built)).unwrap();
        assert!(json.get("tag_upstream").is_none(), "{json}");
        assert!(json.get("last_upstream").is_none(), "{json}");
    }

    /// ESC written `\e`, so a snapshot shows where the colour goes.
    fn visible(text: &str) -> String {
        text.replace('\u{1b}', "\\e")
    }

    #[test]
    fn the_run_summary_is_coloured_by_result() {
        let mut runtime = image("runtime", ImageDecision::UpToDate);
        runtime.warnings = vec!["`latest` is set in the Dockerfile".into()];
        let report = report(vec![
            image("base", ImageDecision::Built),
            image("web", ImageDecision::Promoted),
            runtime,
            image("tools", ImageDecision::Failed),
            image("app", ImageDecision::Skipped),
        ]);
        let page = run_text(&report);
        assert_eq!(paint_run_text(&page, Palette::PLAIN), page);
        let painted = paint_run_text(&page, Palette::COLOR);
        // Only colour is added.
        let stripped = regex::Regex::new("\u{1b}\\[[0-9]+m")
            .map(|sgr| sgr.replace_all(&painted, "").to_string())
            .unwrap_or_default();
        assert_eq!(stripped, page);
        insta::assert_snapshot!("run_text_painted", visible(&painted));
        let idle = report_idle();
        insta::assert_snapshot!(
            "run_text_painted_idle",
            visible(&paint_run_text(&run_text(&idle), Palette::COLOR))
        );
    }

    fn report_idle() -> Report {
        report(vec![image("base", ImageDecision::UpToDate)])
    }

    #[test]
    fn the_plan_colours_its_decisions_only() {
        let mut tools = image("tools", ImageDecision::Failed);
        tools.error = Some(format!("{} failed", "a long reason that wraps ".repeat(5)));
        let mut web = image("web", ImageDecision::Build);
        web.cache = Some(false);
        let report = report(vec![
            image("base", ImageDecision::Build),
            web,
            image("runtime", ImageDecision::UpToDate),
            image("app", ImageDecision::Promote),
            tools,
        ]);
        let page = plan_text(&report);
        assert_eq!(paint_plan_text(&page, Palette::PLAIN), page);
        insta::assert_snapshot!(
            "plan_text_painted",
            visible(&paint_plan_text(&page, Palette::COLOR))
        );
    }
}
