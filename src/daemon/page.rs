//! The daemon's status page (`/`): one row per line and the recent runs,
//! rendered on the server as plain HTML that needs no JavaScript and
//! reads on a phone (the table turns into cards on narrow screens).
//!
//! Pure. Everything from the config, the registry or an error is escaped.

use crate::report::described;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use super::state::{span, time, LineRow, RunRecord, State, TickResult};

/// `text` safe inside HTML text and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// `text` escaped for a cell that wraps only between words. A word with a
/// hyphen (a time, `tools-lts`, `10.0.3-noble`) is kept whole in a `.w`
/// span, since browsers break after hyphens; a word's width is then its
/// column's minimum (`overflow-wrap: anywhere` on cells let the table
/// squeeze "Image" into "Ima ge"). Only build errors wrap anywhere.
fn cell(text: &str) -> String {
    let mut html = String::with_capacity(text.len() + 16);
    let escaped = escape(text);
    let mut word = String::new();
    let flush = |word: &mut String, html: &mut String| {
        if word.contains('-') {
            html.push_str("<span class=\"w\">");
            html.push_str(word);
            html.push_str("</span>");
        } else {
            html.push_str(word);
        }
        word.clear();
    };
    for character in escaped.chars() {
        if character.is_whitespace() {
            flush(&mut word, &mut html);
            html.push(character);
        } else {
            word.push(character);
        }
    }
    flush(&mut word, &mut html);
    html
}

/// A time in a table cell: date and time as two words (`2026-12-07
/// 03:00:04 UTC`), so a narrow column wraps between them.
fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// A repository path for a cell: it may wrap after each `/`, never inside
/// one of its parts.
fn path_cell(text: &str) -> String {
    text.split('/').map(cell).collect::<Vec<_>>().join("/<wbr>")
}

const STYLE: &str = "
body{font-family:system-ui,-apple-system,sans-serif;margin:0;padding:1rem;color:#1a1a1a;background:#fafafa;line-height:1.4}
h1{font-size:1.4rem;margin:0 0 .5rem}h2{font-size:1.1rem;margin:1.5rem 0 .5rem}
.health{padding:.6rem .8rem;border-radius:6px;margin:.5rem 0 1rem;white-space:pre-wrap;overflow-wrap:anywhere}
.ok{background:#e6f4ea}.bad{background:#fce8e6}.failing{background:#fde7c8}
table{border-collapse:collapse;width:100%;background:#fff;font-size:.9rem}
th,td{text-align:left;padding:.4rem .5rem;border-bottom:1px solid #ddd;vertical-align:top;overflow-wrap:normal}
th{background:#f0f0f0;font-weight:600}
.result-built,.result-promoted,.result-ok{color:#0b6b2b;font-weight:600}.result-failed,.result-skipped{color:#b3261e;font-weight:600}
.error{color:#b3261e;white-space:pre-wrap;font-size:.9em;overflow-wrap:anywhere}
code{font-size:.9em}.w{white-space:nowrap}.why{color:#555;font-size:.85em}
@media (max-width:700px){
table,thead,tbody,tr,th,td{display:block}thead{display:none}
tr{margin:0 0 .8rem;border:1px solid #ddd;border-radius:6px;background:#fff}
td{border:none;padding:.2rem .6rem}
td::before{content:attr(data-label);display:block;font-size:.75rem;color:#666}
}
";

/// The whole page for `state` at `now`.
pub fn render(state: &State, health: &Result<String, String>, now: DateTime<Utc>) -> String {
    let mut page = String::new();
    page.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    page.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    page.push_str("<title>golden daemon</title>\n<style>");
    page.push_str(STYLE);
    page.push_str("</style>\n</head>\n<body>\n<h1>golden daemon</h1>\n");
    let _ = writeln!(
        page,
        "<p>Up since {} ({}), a tick every {}; page rendered {}.</p>",
        cell(&time(state.started)),
        escape(&span((now - state.started).to_std().unwrap_or_default())),
        escape(&span(state.interval)),
        cell(&time(now))
    );
    let failing: Vec<String> = state
        .failing()
        .map(|line| match line.failing_since {
            Some(since) => format!("{} (since {})", line.id, time(since)),
            None => line.id.clone(),
        })
        .collect();
    // The loop may be fine while lines fail: the banner says both.
    let (class, text) = match health {
        Ok(text) if !failing.is_empty() => (
            "failing",
            format!(
                "{} line(s) failing: {}\n{text}",
                failing.len(),
                failing.join(", ")
            ),
        ),
        Ok(text) => ("ok", text.clone()),
        Err(text) => ("bad", text.clone()),
    };
    let _ = writeln!(
        page,
        "<div class=\"health {class}\" id=\"health\">{}</div>",
        cell(&text)
    );
    if let Some(since) = state.running_since {
        let _ = writeln!(
            page,
            "<p>A tick is running since {}.</p>",
            cell(&time(since))
        );
    }
    page.push_str("<h2>Lines</h2>\n");
    lines(&mut page, &state.lines, now);
    page.push_str("<h2>Recent runs</h2>\n");
    runs(&mut page, state.runs.iter());
    page.push_str("</body>\n</html>\n");
    page
}

fn lines(page: &mut String, rows: &[LineRow], now: DateTime<Utc>) {
    if rows.is_empty() {
        page.push_str("<p>No run has decided any line yet.</p>\n");
        return;
    }
    page.push_str("<table id=\"lines\">\n<thead><tr><th>Image</th><th>Line</th><th>Release</th><th>Floating tags</th><th>Last build</th><th>Next due</th><th>Last result</th><th>Reasons</th></tr></thead>\n<tbody>\n");
    for row in rows {
        let dash = || "-".to_string();
        let last_build = match (&row.last_build, row.last_built) {
            (Some(version), Some(at)) => format!("{} at {}", described(version), when(at)),
            (Some(version), None) => described(version),
            _ => dash(),
        };
        let because = row
            .last_reasons
            .as_deref()
            .map(|why| format!("<div class=\"why\">because {}</div>", cell(why)))
            .unwrap_or_default();
        let next_due = row.next_due.map_or_else(dash, |due| {
            let wait = (due - now).to_std().unwrap_or_default();
            format!("{} (in {})", when(due), span(wait))
        });
        let reasons = if row.reasons.is_empty() {
            dash()
        } else {
            row.reasons.join("; ")
        };
        let error = row
            .error
            .as_deref()
            .map(|error| format!("<div class=\"error\">{}</div>", escape(error)))
            .unwrap_or_default();
        let result = row.result.name();
        let recent = recent(row);
        let held = row
            .held
            .as_deref()
            .map(|held| format!("<div class=\"why\">{}</div>", cell(held)))
            .unwrap_or_default();
        let since = row
            .failing_since
            .map(|since| format!("<div>failing since {}</div>", cell(&when(since))))
            .unwrap_or_default();
        let _ = writeln!(
            page,
            "<tr><td data-label=\"Image\"><strong>{}</strong></td><td data-label=\"Line\"><code>{}:{}</code></td><td data-label=\"Release\">{}{held}</td><td data-label=\"Floating tags\">{}</td><td data-label=\"Last build\">{}{because}</td><td data-label=\"Next due\">{}</td><td data-label=\"Last result\" class=\"result-{result}\">{result}{since}{recent}</td><td data-label=\"Reasons\">{}{error}</td></tr>",
            cell(&row.id),
            path_cell(&row.repository),
            cell(&row.version),
            cell(&row.release.as_deref().map_or_else(dash, described)),
            cell(&if row.floating.is_empty() { dash() } else { row.floating.join(", ") }),
            cell(&last_build),
            cell(&next_due),
            cell(&reasons),
        );
    }
    page.push_str("</tbody>\n</table>\n");
}

/// The line's recent history as a cell's block, empty when it has none.
fn recent(row: &LineRow) -> String {
    let recent: Vec<String> = row
        .history
        .iter()
        .map(|event| {
            let what = match (&event.version, event.seconds) {
                (Some(version), Some(seconds)) => {
                    format!(
                        "{} {} in {seconds:.1}s",
                        event.result.name(),
                        described(version)
                    )
                }
                (Some(version), None) => {
                    format!("{} {}", event.result.name(), described(version))
                }
                _ => event.result.name().to_string(),
            };
            format!("{what} at {}", when(event.at))
        })
        .collect();
    match recent.is_empty() {
        true => String::new(),
        false => format!(
            "<div class=\"why\">recent: {}</div>",
            recent
                .iter()
                .map(|text| cell(text))
                .collect::<Vec<_>>()
                .join("; ")
        ),
    }
}

fn runs<'a>(page: &mut String, records: impl ExactSizeIterator<Item = &'a RunRecord>) {
    if records.len() == 0 {
        page.push_str("<p>No tick has finished yet.</p>\n");
        return;
    }
    page.push_str("<table id=\"runs\">\n<thead><tr><th>Time</th><th>Built</th><th>Failed</th><th>Up to date</th><th>Duration</th><th>Result</th></tr></thead>\n<tbody>\n");
    for record in records {
        let seconds = (record.finished - record.started).num_milliseconds() as f64 / 1000.0;
        let (built, failed, up_to_date, result) = match &record.result {
            TickResult::Ran(counts) => (
                counts.built.to_string(),
                (counts.failed + counts.skipped).to_string(),
                counts.up_to_date.to_string(),
                if counts.failed + counts.skipped > 0 {
                    ("failed", "images failed".to_string())
                } else {
                    ("ok", "ok".to_string())
                },
            ),
            TickResult::ConfigInvalid(error) => {
                let text = format!("config not usable: {error}");
                ("-".into(), "-".into(), "-".into(), ("failed", text))
            }
            TickResult::RunFailed(error) => {
                let text = format!("did not run: {error}");
                ("-".into(), "-".into(), "-".into(), ("failed", text))
            }
        };
        let (class, text) = result;
        let _ = writeln!(
            page,
            "<tr><td data-label=\"Time\">{}</td><td data-label=\"Built\">{built}</td><td data-label=\"Failed\">{failed}</td><td data-label=\"Up to date\">{up_to_date}</td><td data-label=\"Duration\">{seconds:.1}s</td><td data-label=\"Result\" class=\"result-{class}\">{}</td></tr>",
            cell(&when(record.started)),
            escape(&text),
        );
    }
    page.push_str("</tbody>\n</table>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::state::{Counts, ImageResult};
    use std::time::Duration;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    #[test]
    fn an_upstream_release_shows_its_upstream_version() {
        let mut state = State::new(at(0), Duration::from_secs(60), Duration::from_secs(3600));
        state.lines.push(LineRow {
            id: "aspnet".to_string(),
            repository: "registry.local/golden/aspnet".to_string(),
            version: "10.0".to_string(),
            release: Some("10.0.3-r2".to_string()),
            held: None,
            floating: vec!["10.0.3".to_string(), "10.0".to_string()],
            last_build: Some("10.0.3-r2".to_string()),
            last_built: Some(at(1)),
            last_reasons: None,
            next_due: None,
            result: ImageResult::Built,
            reasons: Vec::new(),
            error: None,
            build_seconds: None,
            push_seconds: None,
            failing_since: None,
            history: Vec::new(),
        });
        let page = plain(&render(&state, &Ok("ok".to_string()), at(61)));
        assert!(!page.contains("by a rollback"), "{page}");
        for shown in [
            "<td data-label=\"Release\">10.0.3-r2 (upstream 10.0.3)</td>",
            "10.0.3-r2 (upstream 10.0.3) at 2027-01-15 08:00:01 UTC",
            "10.0.3, 10.0",
        ] {
            assert!(page.contains(shown), "no {shown} in\n{page}");
        }
    }

    #[test]
    fn a_line_held_by_a_rollback_says_so_as_plan_does() {
        use crate::report::{ImageDecision, ImageReport};
        let image = ImageReport {
            id: "tools".into(),
            repository: "r/tools".into(),
            version: "1.0".into(),
            decision: ImageDecision::UpToDate,
            release: Some("1.0.1".into()),
            last_version: Some("1.0.2".into()),
            withdrawn: vec!["1.0.2".into()],
            ..ImageReport::default()
        };
        let row = LineRow::of(&image, at(1));
        let held = "held at 1.0.1 by a rollback (withdrawn: 1.0.2)";
        assert_eq!(row.held.as_deref(), Some(held));
        let mut state = State::new(at(0), Duration::from_secs(60), Duration::from_secs(3600));
        state.lines.push(row);
        let page = plain(&render(&state, &Ok("ok".to_string()), at(61)));
        assert!(
            page.contains(&format!(
                "<td data-label=\"Release\">1.0.1<div class=\"why\">{held}</div></td>"
            )),
            "{page}"
        );
        let status = state.document(at(61));
        assert_eq!(status["lines"][0]["held"], held);
    }

    /// The page without the markup that only keeps words whole.
    fn plain(page: &str) -> String {
        page.replace("<span class=\"w\">", "")
            .replace("</span>", "")
            .replace("<wbr>", "")
    }

    #[test]
    fn words_with_hyphens_stay_whole_and_paths_wrap_between_parts() {
        assert_eq!(
            cell("tools-lts at 2027-01-15 08:00:01 UTC\n<b>-x"),
            "<span class=\"w\">tools-lts</span> at <span class=\"w\">2027-01-15</span> 08:00:01 UTC\n<span class=\"w\">&lt;b&gt;-x</span>"
        );
        assert_eq!(
            path_cell("registry.local:5000/golden/aspnet-core"),
            "registry.local:5000/<wbr>golden/<wbr><span class=\"w\">aspnet-core</span>"
        );
    }

    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(
            escape("<img src=x onerror='a'>&\"b\""),
            "&lt;img src=x onerror=&#39;a&#39;&gt;&amp;&quot;b&quot;"
        );
    }

    #[test]
    fn hostile_ids_reasons_and_errors_are_escaped() {
        let mut state = State::new(at(0), Duration::from_secs(60), Duration::from_secs(3600));
        state.lines.push(LineRow {
            id: "<script>alert(1)</script>".to_string(),
            repository: "registry.local/golden/x".to_string(),
            version: "1.0".to_string(),
            release: Some("1.0.0".to_string()),
            held: None,
            floating: vec!["1.0".to_string(), "latest".to_string()],
            last_build: Some("1.0.0".to_string()),
            last_built: Some(at(1)),
            last_reasons: None,
            next_due: Some(at(3600 + 61)),
            result: ImageResult::Failed,
            reasons: vec!["base updated <b>".to_string()],
            error: Some("registry said: <html>500</html>".to_string()),
            build_seconds: None,
            push_seconds: None,
            failing_since: None,
            history: Vec::new(),
        });
        state.runs.push_front(RunRecord {
            started: at(1),
            finished: at(3),
            result: TickResult::RunFailed("lock held by \"<pid 7>\"".to_string()),
        });
        state.runs.push_front(RunRecord {
            started: at(61),
            finished: at(62),
            result: TickResult::Ran(Counts {
                up_to_date: 1,
                ..Counts::default()
            }),
        });
        let page = plain(&render(&state, &Err("config <broken>".to_string()), at(61)));
        for raw in ["<script>", "<b>", "<html>", "<pid 7>", "<broken>"] {
            assert!(!page.contains(raw), "{raw} is not escaped:\n{page}");
        }
        for shown in [
            "&lt;script&gt;alert(1)&lt;/script&gt;",
            "1.0, latest",
            "1.0.0 at 2027-01-15 08:00:01 UTC",
            "(in 1h 0m)",
            "registry said: &lt;html&gt;500&lt;/html&gt;",
            "did not run: lock held by &quot;&lt;pid 7&gt;&quot;",
            "name=\"viewport\"",
        ] {
            assert!(page.contains(shown), "no {shown} in\n{page}");
        }
        assert!(!page.contains("<script"), "no script at all");
    }

    #[test]
    fn a_failing_line_turns_the_banner_even_while_the_loop_is_ok() {
        let mut state = State::new(at(0), Duration::from_secs(60), Duration::from_secs(3600));
        state.lines.push(LineRow {
            id: "broken".to_string(),
            repository: "registry.local/golden/broken".to_string(),
            version: "1.0".to_string(),
            release: None,
            held: None,
            floating: Vec::new(),
            last_build: None,
            last_built: None,
            last_reasons: None,
            next_due: None,
            result: ImageResult::Skipped,
            reasons: vec!["failing since 2027-01-15T08:00:01Z".to_string()],
            error: None,
            build_seconds: None,
            push_seconds: None,
            failing_since: Some(at(1)),
            history: Vec::new(),
        });
        let ok = Ok("ok: last tick finished".to_string());
        let page = plain(&render(&state, &ok, at(61)));
        assert!(
            page.contains("<div class=\"health failing\" id=\"health\">1 line(s) failing: broken (since 2027-01-15T08:00:01Z)\nok: last tick finished</div>"),
            "{page}"
        );
        assert!(
            page.contains("skipped<div>failing since 2027-01-15 08:00:01 UTC</div>"),
            "{page}"
        );
        state.lines[0].failing_since = None;
        let page = render(&state, &ok, at(61));
        assert!(page.contains("<div class=\"health ok\""), "{page}");
    }
}
