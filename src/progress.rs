//! Progress of a run, for people: a live line per running image on a
//! terminal (indicatif), timestamped plain lines otherwise (through
//! tracing), or nothing with `--quiet`. Progress goes to stderr only.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Something that happened to one image during a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The build of `tag` started.
    Started {
        image: String,
        tag: String,
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
        summary: String,
    },
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

/// Plain, timestamped lines on stderr (CI logs, pipes).
pub struct Lines;

impl Progress for Lines {
    fn event(&self, event: Event) {
        match event {
            Event::Started { image, tag } => tracing::info!(image, "building {tag}"),
            // With -v the whole build output, steps included, is logged
            // already; a second, shortened copy would only repeat it.
            Event::Step { image, step } => {
                if !tracing::enabled!(target: "golden::build", tracing::Level::INFO) {
                    tracing::info!(image, "{}", short_step(&step))
                }
            }
            Event::Testing { image } => tracing::info!(image, "running the smoke test"),
            Event::Pushing { image } => tracing::info!(image, "pushing"),
            Event::Finished { image, summary } => tracing::info!(image, "{summary}"),
        }
    }
}

/// Live lines on a terminal: one spinner per running image.
pub struct Bars {
    multi: MultiProgress,
    bars: Mutex<HashMap<String, ProgressBar>>,
    style: ProgressStyle,
}

impl Bars {
    /// Bars on stderr; `color` false honours NO_COLOR.
    pub fn new(color: bool) -> Bars {
        let template = if color {
            "{spinner:.cyan} {prefix:<16.bold} {elapsed:>4} {wide_msg}"
        } else {
            "{spinner} {prefix:<16} {elapsed:>4} {wide_msg}"
        };
        let style = ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_spinner())
            .tick_chars("|/-\\ ");
        Bars {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            bars: Mutex::new(HashMap::new()),
            style,
        }
    }

    fn with_bar(&self, image: &str, update: impl FnOnce(&ProgressBar)) {
        let Ok(mut bars) = self.bars.lock() else {
            return;
        };
        let bar = bars.entry(image.to_string()).or_insert_with(|| {
            let bar = self
                .multi
                .add(ProgressBar::new_spinner().with_style(self.style.clone()));
            bar.set_prefix(image.to_string());
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        update(bar);
    }
}

impl Progress for Bars {
    fn event(&self, event: Event) {
        match event {
            Event::Started { image, tag } => {
                self.with_bar(&image, |bar| bar.set_message(format!("building {tag}")))
            }
            Event::Step { image, step } => {
                self.with_bar(&image, |bar| bar.set_message(short_step(&step)))
            }
            Event::Testing { image } => self.with_bar(&image, |bar| bar.set_message("smoke test")),
            Event::Pushing { image } => self.with_bar(&image, |bar| bar.set_message("pushing")),
            Event::Finished { image, summary } => {
                if let Ok(mut bars) = self.bars.lock() {
                    if let Some(bar) = bars.remove(&image) {
                        bar.finish_and_clear();
                    }
                }
                let _ = self.multi.println(format!("{image}: {summary}"));
            }
        }
    }
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
mod tests {
    use super::*;

    #[test]
    fn long_steps_are_cut_to_one_line() {
        assert_eq!(short_step("Step 1/2 : RUN true"), "Step 1/2 : RUN true");
        let long = format!("Step 1/2 : RUN {}", "x".repeat(100));
        assert_eq!(short_step(&long).chars().count(), 72);
        assert!(short_step(&long).ends_with('…'));
    }
}
