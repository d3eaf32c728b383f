//! The daemon's `--git-pull`: before each tick, the checkout holding
//! golden.toml is fast-forwarded to its upstream branch, so merged
//! Dockerfile changes are built without a restart. A pull that fails
//! (the remote is down, the branches diverged, a local edit is in the
//! way) is logged and the tick builds the checkout as it is: a broken
//! remote never stops the builds that are due.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// The longest one pull may take before the tick goes on without it.
pub const PULL_TIMEOUT: Duration = Duration::from_secs(120);

/// A checkout golden pulls before each tick.
#[derive(Debug, Clone)]
pub struct Checkout {
    directory: PathBuf,
    /// The upstream branch, as git names it (`origin/main`).
    pub upstream: String,
}

/// What a pull did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pulled {
    /// Already at the upstream's commit.
    Current,
    /// Moved from one commit to another.
    Moved { from: String, to: String },
    /// It failed: the first line git said, or why it did not finish.
    Failed(String),
}

impl Checkout {
    /// The checkout holding `config`, with an upstream branch to pull
    /// from; the error says what is missing.
    pub async fn of(config: &Path) -> Result<Checkout, String> {
        let directory = crate::revision::directory_of(config).to_path_buf();
        let upstream = git(
            &directory,
            &["rev-parse", "--abbrev-ref", "--symbolic-full-name", "@{upstream}"],
        )
        .await
        .map_err(|error| {
            format!(
                "--git-pull needs `{}` in a git checkout whose branch tracks a remote one ({error}); clone the repository, or `git branch --set-upstream-to=origin/main`",
                directory.display()
            )
        })?;
        Ok(Checkout {
            directory,
            upstream,
        })
    }

    /// Fast-forwards the checkout to its upstream branch.
    pub async fn pull(&self) -> Pulled {
        let before = git(&self.directory, &["rev-parse", "HEAD"]).await.ok();
        if let Err(error) = git(&self.directory, &["pull", "--ff-only", "--quiet"]).await {
            return Pulled::Failed(error);
        }
        let after = git(&self.directory, &["rev-parse", "HEAD"]).await.ok();
        match (before, after) {
            (Some(from), Some(to)) if from != to => Pulled::Moved { from, to },
            _ => Pulled::Current,
        }
    }

    /// Pulls and logs what happened.
    pub async fn pull_and_log(&self) {
        match self.pull().await {
            Pulled::Current => tracing::debug!("git pull: `{}` is current", self.upstream),
            Pulled::Moved { from, to } => tracing::info!(
                "git pull: {}..{} from `{}`",
                short(&from),
                short(&to),
                self.upstream
            ),
            Pulled::Failed(error) => tracing::warn!(
                "git pull from `{}` in `{}` failed: {error}; this tick builds the checkout as it is",
                self.upstream,
                self.directory.display()
            ),
        }
    }
}

fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

/// Runs git in `directory` without a terminal to prompt on, bounded by
/// [`PULL_TIMEOUT`]; its first output line, or the first line of its
/// complaint.
async fn git(directory: &Path, args: &[&str]) -> Result<String, String> {
    let child = tokio::process::Command::new("git")
        .arg("-C")
        .arg(directory)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = match tokio::time::timeout(PULL_TIMEOUT, child).await {
        Err(_) => {
            return Err(format!(
                "git {} took longer than {}s",
                args[0],
                PULL_TIMEOUT.as_secs()
            ))
        }
        Ok(Err(error)) => return Err(format!("git could not be run: {error}")),
        Ok(Ok(output)) => output,
    };
    let first = |bytes: &[u8]| {
        String::from_utf8_lossy(bytes)
            .lines()
            .map(str::trim)
            .find(|line| !line.is_empty())
            .unwrap_or_default()
            .to_string()
    };
    if output.status.success() {
        Ok(first(&output.stdout))
    } else {
        let said = first(&output.stderr);
        Err(match said.is_empty() {
            true => format!("git {} exited with {}", args[0], output.status),
            false => crate::sanitize::terminal(&said).into_owned(),
        })
    }
}
