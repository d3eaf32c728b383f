//! How each image ended in a run: its [`Status`] and [`Outcome`], the
//! vocabulary shared by execute (which makes them), the report, progress,
//! colour and notifications (which show them).

use crate::name::Digest;
use crate::plan::{Reason, Step};
use crate::platform::Platform;
use crate::version::Exact;

/// How an image ended in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Built,
    /// Only floating tags moved, to a build that already existed.
    Promoted,
    UpToDate,
    Failed,
    Skipped,
}

/// What happened to one image.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub id: String,
    pub status: Status,
    pub reasons: Vec<Reason>,
    /// The exact version pushed (or promoted), in the image's repository.
    pub version: Option<Exact>,
    /// Floating tags moved to it.
    pub floating: Vec<String>,
    /// In a `--no-promote` run: the floating tags `golden promote` will
    /// move to the build pushed.
    pub pending: Vec<String>,
    /// `Some(false)` for a build of a `--no-promote` run: its floating
    /// tags were left alone.
    pub promoted: Option<bool>,
    pub digest: Option<Digest>,
    /// Which engine built each platform (one entry for a single-platform
    /// image, whose platform is `None`), in platform order.
    pub built_on: Vec<(Option<Platform>, String)>,
    /// The builder that ran its build (its platforms' last, when a pool
    /// gave them different ones).
    pub builder: Option<crate::engine::Builder>,
    pub build_seconds: Option<f64>,
    pub test_seconds: Option<f64>,
    pub push_seconds: Option<f64>,
    pub seconds: f64,
    pub error: Option<String>,
    /// It failed because the engine or a registry could not be reached.
    pub unreachable: bool,
    /// It failed in its build or its smoke test: what it is built from is
    /// broken (see [`crate::failing`]), not the engine or the registry.
    pub broken: bool,
}

impl Outcome {
    pub fn new(step: &Step, status: Status) -> Outcome {
        Outcome {
            id: step.id.clone(),
            status,
            reasons: step.reasons().to_vec(),
            version: None,
            floating: Vec::new(),
            pending: Vec::new(),
            promoted: None,
            digest: None,
            built_on: Vec::new(),
            builder: None,
            build_seconds: None,
            test_seconds: None,
            push_seconds: None,
            seconds: 0.0,
            error: step.error().map(str::to_string),
            unreachable: step.unreachable(),
            broken: false,
        }
    }

    pub fn skipped(step: &Step, error: String) -> Outcome {
        let mut outcome = Outcome::new(step, Status::Skipped);
        outcome.error = Some(error);
        outcome
    }

    /// One line for progress output.
    pub fn summary(&self) -> String {
        match self.status {
            Status::Built => format!(
                "built {} ({}) in {:.1}s",
                self.version.map(|v| v.to_string()).unwrap_or_default(),
                if self.floating.is_empty() && !self.pending.is_empty() {
                    format!("{} left for `golden promote`", self.pending.join(", "))
                } else if self.floating.is_empty() {
                    "no floating tag moved".to_string()
                } else {
                    self.floating.join(", ")
                },
                self.seconds
            ),
            Status::Promoted => format!(
                "moved {} to {}",
                self.floating.join(", "),
                self.version.map(|v| v.to_string()).unwrap_or_default()
            ),
            Status::UpToDate => "up to date".to_string(),
            Status::Failed => format!(
                "failed: {}",
                self.error
                    .as_deref()
                    .and_then(|e| e.lines().next())
                    .unwrap_or("")
            ),
            Status::Skipped => "skipped".to_string(),
        }
    }
}
