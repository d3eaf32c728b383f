//! Progress of a run, for people: on a terminal (indicatif), a header with
//! the count (`3/12 done, 2 running, 7 queued: ...`) above a live line per
//! running image; otherwise timestamped plain lines (through tracing),
//! each finished image counted (`[3/12]`); nothing with `--quiet`.
//! Progress goes to stderr only.
//!
//! The count is kept by [`Tally`] and the text is made by pure functions,
//! so what a person reads is tested without a terminal.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::outcome::Status;
use crate::ui::color::{Palette, Tone};

mod tally;

pub use tally::{Count, Tally};

/// Something that happened during a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The run will build (or promote) `total` images; the others it
    /// reports are up to date or failed before it started.
    Planned {
        total: usize,
    },
    /// `image`, one of those, waits for its parents or a free job.
    Queued {
        image: String,
    },
    /// The build of `tag` started, on the Docker engine named `engine`
    /// when the run has several.
    Started {
        image: String,
        tag: String,
        engine: Option<String>,
    },
    /// A build step started ("Step 3/12 : RUN make").
    Step {
        image: String,
        step: String,
    },
    Testing {
        image: String,
    },
    Pushing {
        image: String,
    },
    /// The image is done; `summary` is one line ("built 1.0.3", "failed").
    Finished {
        image: String,
        status: Status,
        summary: String,
    },
}

impl Event {
    /// The image it is about (none for [`Event::Planned`]).
    pub fn image(&self) -> Option<&str> {
        match self {
            Event::Planned { .. } => None,
            Event::Queued { image }
            | Event::Started { image, .. }
            | Event::Step { image, .. }
            | Event::Testing { image }
            | Event::Pushing { image }
            | Event::Finished { image, .. } => Some(image),
        }
    }
}

/// Where progress events go.
pub trait Progress: Send + Sync {
    fn event(&self, event: Event);
}

/// `--quiet`: no progress at all.
pub struct Silent;

impl Progress for Silent {
    fn event(&self, _: Event) {}
}

/// Plain, timestamped lines on stderr (CI logs, pipes), never coloured.
#[derive(Default)]
pub struct Lines {
    tally: Mutex<Tally>,
}

impl Progress for Lines {
    fn event(&self, event: Event) {
        let count = self
            .tally
            .lock()
            .ok()
            .and_then(|mut tally| tally.apply(&event));
        match &event {
            // With -v the whole build output, steps included, is logged
            // already; a second, shortened copy would only repeat it.
            Event::Step { .. } if tracing::enabled!(target: "golden::build", tracing::Level::INFO) =>
                {}
            Event::Queued { image } => tracing::debug!(image, "queued"),
            _ => {
                if let (Some(image), Some(text)) = (event.image(), line_text(&event, count)) {
                    tracing::info!(image, "{text}")
                }
            }
        }
    }
}

/// The message [`Lines`] logs for `event` (`count` when it finished an
/// image of the count); `None` for what it does not log.
pub fn line_text(event: &Event, count: Option<Count>) -> Option<String> {
    Some(match event {
        // The plan's own log line says how many are due.
        Event::Planned { .. } | Event::Queued { .. } => return None,
        Event::Started { tag, engine, .. } => started_text(tag, engine.as_deref()),
        Event::Step { step, .. } => short_step(step),
        Event::Testing { .. } => "running the smoke test".to_string(),
        Event::Pushing { .. } => "pushing".to_string(),
        Event::Finished { summary, .. } => match count {
            Some(count) => format!("{count} {summary}"),
            None => summary.clone(),
        },
    })
}

/// "building TAG", and the engine it runs on when it is named.
pub fn started_text(tag: &str, engine: Option<&str>) -> String {
    match engine {
        Some(engine) => format!("building {tag} on `{engine}`"),
        None => format!("building {tag}"),
    }
}

/// Live lines on a terminal: a header with the count and the queued
/// images, then one spinner per running image; a line above them for
/// each image that finished, coloured by how it ended.
pub struct Bars {
    multi: MultiProgress,
    style: ProgressStyle,
    palette: Palette,
    state: Mutex<Screen>,
}

/// What [`Bars`] shows now.
#[derive(Default)]
struct Screen {
    tally: Tally,
    header: Option<ProgressBar>,
    bars: HashMap<String, ProgressBar>,
}

impl Bars {
    /// Bars on stderr; `color` false honours NO_COLOR.
    pub fn new(color: bool) -> Bars {
        Bars::drawn_on(ProgressDrawTarget::stderr(), color)
    }

    fn drawn_on(target: ProgressDrawTarget, color: bool) -> Bars {
        let template = if color {
            "{spinner:.cyan} {prefix:<16.bold} {elapsed:>4} {wide_msg}"
        } else {
            "{spinner} {prefix:<16} {elapsed:>4} {wide_msg}"
        };
        let style = ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_spinner())
            .tick_chars("|/-\\ ");
        Bars {
            multi: MultiProgress::with_draw_target(target),
            style,
            palette: Palette::new(color),
            state: Mutex::new(Screen::default()),
        }
    }

    fn bar(&self, screen: &mut Screen, image: &str) -> ProgressBar {
        screen
            .bars
            .entry(image.to_string())
            .or_insert_with(|| {
                let bar = self
                    .multi
                    .add(ProgressBar::new_spinner().with_style(self.style.clone()));
                bar.set_prefix(image.to_string());
                bar.enable_steady_tick(Duration::from_millis(120));
                bar
            })
            .clone()
    }

    /// The header above the image lines, made when the run has images due.
    fn header(&self, screen: &mut Screen) -> Option<ProgressBar> {
        if screen.header.is_none() && screen.tally.total() > 0 {
            let style = ProgressStyle::with_template("{wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner());
            let bar = self
                .multi
                .insert(0, ProgressBar::new_spinner().with_style(style));
            screen.header = Some(bar);
        }
        screen.header.clone()
    }
}

impl Progress for Bars {
    fn event(&self, event: Event) {
        let Ok(mut screen) = self.state.lock() else {
            return;
        };
        if let Event::Planned { .. } = event {
            if let Some(old) = screen.header.take() {
                old.finish_and_clear();
            }
        }
        let count = screen.tally.apply(&event);
        match &event {
            Event::Planned { .. } | Event::Queued { .. } => {}
            Event::Started { image, tag, engine } => self
                .bar(&mut screen, image)
                .set_message(started_text(tag, engine.as_deref())),
            Event::Step { image, step } => {
                self.bar(&mut screen, image).set_message(short_step(step))
            }
            Event::Testing { image } => self.bar(&mut screen, image).set_message("smoke test"),
            Event::Pushing { image } => self.bar(&mut screen, image).set_message("pushing"),
            Event::Finished {
                image,
                status,
                summary,
            } => {
                if let Some(bar) = screen.bars.remove(image) {
                    bar.finish_and_clear();
                }
                let line = finished_line(self.palette, count, image, *status, summary);
                let _ = self.multi.println(line);
            }
        }
        if screen.tally.finished() {
            if let Some(header) = screen.header.take() {
                header.finish_and_clear();
            }
        } else if let Some(header) = self.header(&mut screen) {
            header.set_message(header_text(&screen.tally, self.palette));
        }
    }
}

/// The header of [`Bars`]: `3/12 done, 2 running, 7 queued: a, b, ...`
/// (the terminal cuts what does not fit).
pub fn header_text(tally: &Tally, palette: Palette) -> String {
    let count = format!("{}/{} done", tally.done(), tally.total());
    let mut text = format!(
        "{}, {} running, {} queued",
        palette.paint(Tone::Strong, &count),
        tally.running().len(),
        tally.queued().len()
    );
    if !tally.queued().is_empty() {
        text.push_str(": ");
        text.push_str(&tally.queued().join(", "));
    }
    text
}

/// The line [`Bars`] prints when `image` finished: its count, when it
/// was one of the images due, and the summary in the colour of `status`.
pub fn finished_line(
    palette: Palette,
    count: Option<Count>,
    image: &str,
    status: Status,
    summary: &str,
) -> String {
    let summary = crate::sanitize::text(summary);
    let count = count
        .map(|count| format!("{} ", palette.paint(Tone::Strong, &count.to_string())))
        .unwrap_or_default();
    format!(
        "{count}{image}: {}",
        palette.paint(Tone::of(status), &summary)
    )
}

/// "Step 3/12 : RUN apt-get update && ..." cut to fit one line.
fn short_step(step: &str) -> String {
    const WIDTH: usize = 72;
    if step.chars().count() <= WIDTH {
        step.to_string()
    } else {
        let cut: String = step.chars().take(WIDTH - 1).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests;
