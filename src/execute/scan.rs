//! The scan gate (`scan` in golden.toml): after a build's exact tag is
//! pushed and before any floating tag moves, a command runs on the host
//! with the pushed image by digest. Exit 0 releases the build; any other
//! end (a non-zero exit, a timeout, a command that cannot start) withdraws
//! it as `golden rollback` does (`X.Y.N-withdrawn`), so no floating tag
//! ever moves to it, and fails the image as `scan-failed` with the
//! scanner's last lines. The decisions (the command, the error) are the
//! core's `scan`.

use std::process::Stdio;
use std::time::Duration;

use super::{Job, Runner};
use crate::name::Digest;
use crate::scan::ScanFailed;
use crate::version::{marker_tag, Exact, Marker};

impl Runner<'_> {
    /// Runs `job`'s scan gate on the build pushed as `version` with
    /// `digest`; `Ok` when it passed or there is none.
    pub(super) async fn scan_gate(
        &self,
        job: &Job<'_>,
        version: Exact,
        digest: &Digest,
    ) -> anyhow::Result<()> {
        let Some(gate) = &job.image.scan else {
            return Ok(());
        };
        let by_digest = job.repository.digest(digest).to_string();
        let command = crate::scan::command(gate, &by_digest);
        let quoted = shlex::try_join(command.iter().map(String::as_str))
            .unwrap_or_else(|_| format!("{command:?}"));
        tracing::info!(image = %job.id, "scanning {by_digest}: {quoted}");
        let Some((outcome, output)) = run(&command, gate.timeout).await else {
            tracing::info!(image = %job.id, "the scan passed");
            return Ok(());
        };
        let withdrawn = self.withdraw(job, version, digest).await;
        Err(anyhow::Error::new(ScanFailed {
            image: by_digest,
            command: quoted,
            outcome,
            exact: job.repository.tag(&version.tag()).to_string(),
            withdrawn,
            output,
        }))
    }
}

impl Runner<'_> {
    /// Withdraws the pushed build `version` (`digest`) of `job` as `golden
    /// rollback` does: its marker tag, or why it could not be pushed.
    pub(super) async fn withdraw(
        &self,
        job: &Job<'_>,
        version: Exact,
        digest: &Digest,
    ) -> Result<String, String> {
        let marker = marker_tag(version, 0, Marker::Withdrawn);
        self.registry
            .copy_tag(&job.repository, digest, &marker)
            .await
            .map(|()| marker.to_string())
            .map_err(|error| error.to_string())
    }
}

/// Runs `command` within `timeout`: `None` when it exited 0, else how it
/// ended and the last lines of what it printed (stdout, then stderr).
async fn run(command: &[String], timeout: Duration) -> Option<(String, Vec<String>)> {
    let child = tokio::process::Command::new(&command[0])
        .args(&command[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn();
    let child = match child {
        Ok(child) => child,
        Err(error) => return Some((format!("could not start: {error}"), Vec::new())),
    };
    match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Err(_) => Some((
            format!("timed out after {}", crate::duration::display(timeout)),
            Vec::new(),
        )),
        Ok(Err(error)) => Some((format!("failed: {error}"), Vec::new())),
        Ok(Ok(output)) if output.status.success() => None,
        Ok(Ok(output)) => {
            let printed = format!(
                "{}\n{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            let outcome = match output.status.code() {
                Some(code) => format!("exited with code {code}"),
                None => "was killed by a signal".to_string(),
            };
            Some((outcome, crate::scan::tail(&printed)))
        }
    }
}
