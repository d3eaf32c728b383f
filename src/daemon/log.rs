//! What the daemon logs: one line for a tick where nothing was due, the
//! per-image lines only with `-v` (debug); a tick that builds logs its
//! builds as `golden build` does.

use chrono::{DateTime, Utc};

use super::state::{span, time};
use crate::outcome::Status;
use crate::report::Report;
use crate::ui::progress::{Event, Lines, Progress};

/// The daemon's progress: [`Lines`], with "up to date" demoted to debug.
#[derive(Default)]
pub struct Quiet {
    lines: Lines,
}

impl Progress for Quiet {
    fn event(&self, event: Event) {
        match event {
            Event::Finished {
                image,
                status: Status::UpToDate,
                summary,
            } => {
                tracing::debug!(image, "{summary}");
            }
            other => self.lines.event(other),
        }
    }
}

/// The one line of a tick where nothing was built, moved, failed or
/// skipped: `tick: 12 up to date, next due base at T (in 2h 5m)`.
pub fn idle_line(report: &Report, now: DateTime<Utc>) -> String {
    let next = report
        .images
        .iter()
        .filter_map(|image| {
            let due = image.next_due.as_deref()?;
            let due = DateTime::parse_from_rfc3339(due).ok()?.with_timezone(&Utc);
            Some((due, image.id.as_str()))
        })
        .min();
    idle_text(report.totals.up_to_date, next, now)
}

fn idle_text(up_to_date: usize, next: Option<(DateTime<Utc>, &str)>, now: DateTime<Utc>) -> String {
    let mut line = format!("tick: {up_to_date} up to date");
    if let Some((due, id)) = next {
        let wait = (due - now).to_std().unwrap_or_default();
        line.push_str(&format!(
            ", next due {id} at {} (in {})",
            time(due),
            span(wait)
        ));
    }
    line
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
    fn the_idle_line_names_the_next_image_due() {
        let now = at("2030-01-05T22:00:00Z");
        assert_eq!(
            idle_text(2, Some((at("2030-01-06T00:00:00Z"), "base")), now),
            "tick: 2 up to date, next due base at 2030-01-06T00:00:00Z (in 2h 0m)"
        );
        assert_eq!(idle_text(2, None, now), "tick: 2 up to date");
    }
}
