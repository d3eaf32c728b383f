//! The count of a run in progress: how many images it will build, which
//! wait (queued), which run and how many are done. Fed the run's events;
//! pure.

use super::Event;

/// `[3/12]`: the images of the count done, of all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count {
    pub done: usize,
    pub total: usize,
}

impl std::fmt::Display for Count {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "[{}/{}]", self.done, self.total)
    }
}

/// Where the images of a run are. Only the images [`Event::Queued`]
/// named are counted: up-to-date images finish without ever being due.
#[derive(Debug, Default)]
pub struct Tally {
    total: usize,
    done: usize,
    /// Waiting, in the order they were queued.
    queued: Vec<String>,
    /// Started and not finished, in the order they started.
    running: Vec<String>,
}

impl Tally {
    /// Takes `event` into account; for an image of the count that
    /// finished, the count with it.
    pub fn apply(&mut self, event: &Event) -> Option<Count> {
        match event {
            Event::Planned { total } => {
                *self = Tally {
                    total: *total,
                    ..Tally::default()
                };
            }
            Event::Queued { image } => {
                if !self.queued.contains(image) && !self.running.contains(image) {
                    self.queued.push(image.clone());
                }
            }
            Event::Started { image, .. }
            | Event::Step { image, .. }
            | Event::Testing { image }
            | Event::Pushing { image } => {
                if take(&mut self.queued, image) {
                    self.running.push(image.clone());
                }
            }
            Event::Finished { image, .. } => {
                let queued = take(&mut self.queued, image);
                let running = take(&mut self.running, image);
                if queued || running {
                    self.done = (self.done + 1).min(self.total);
                    return Some(Count {
                        done: self.done,
                        total: self.total,
                    });
                }
            }
        }
        None
    }

    /// Images the run builds or promotes.
    pub fn total(&self) -> usize {
        self.total
    }

    /// Of those, the ones that finished (built, failed or skipped).
    pub fn done(&self) -> usize {
        self.done
    }

    /// Images waiting for their parents or a free job.
    pub fn queued(&self) -> &[String] {
        &self.queued
    }

    /// Images being built, tested or pushed.
    pub fn running(&self) -> &[String] {
        &self.running
    }

    /// Whether every image of the count is done (false without any).
    pub fn finished(&self) -> bool {
        self.total > 0 && self.done >= self.total
    }
}

/// Removes `image` from `images`; whether it was there.
fn take(images: &mut Vec<String>, image: &str) -> bool {
    let before = images.len();
    images.retain(|other| other != image);
    images.len() != before
}
