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
use crate::referrers::{self, Artifact, Subject};
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
        let workspace = ReportDir::new()?;
        let output = workspace.path.join("report");
        let output = output.to_string_lossy();
        let command = crate::scan::command(gate, &by_digest, &output);
        let quoted = shlex::try_join(command.iter().map(String::as_str))
            .unwrap_or_else(|_| format!("{command:?}"));
        let mut report_path = crate::scan::report_path(gate, &output);
        // A fixed `scan_report` path may hold an earlier scan's report:
        // it goes first, so only this scan's is attached (or, when it
        // cannot go, none: the record stands for the scan).
        if let Some(path) = report_path
            .clone()
            .filter(|path| !path.starts_with(&*output))
        {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => {
                    tracing::warn!(image = %job.id, "could not remove the earlier report {path} ({error}): the scan's record is attached instead");
                    report_path = None;
                }
            }
        }
        tracing::info!(image = %job.id, "scanning {by_digest}: {quoted}");
        let ended = run(&command, gate.timeout).await;
        let record = Record {
            image: &by_digest,
            scanner: crate::scan::scanner(gate),
            report: report_path,
            outcome: ended.as_ref().map(|(outcome, _)| outcome.as_str()),
        };
        let report = self.attach_record(job, digest, &record).await;
        let Some((outcome, output)) = ended else {
            if let Err(error) = report {
                let withdrawn = self.withdrawn_text(job, version, digest).await;
                return Err(error.context(format!(
                    "the scan of `{by_digest}` passed, but its report could not be attached, so the build is {withdrawn}"
                )));
            }
            tracing::info!(image = %job.id, "the scan passed");
            return Ok(());
        };
        if let Err(error) = report {
            tracing::warn!(image = %job.id, "the failed scan's report was not attached: {error:#}");
        }
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
    /// Attaches the scan's record to the build `digest`: the report the
    /// scan wrote, or (when it names none or wrote none) what ran and how
    /// it ended; its annotations say whether it passed, so a resumed run
    /// knows the build passed its scan.
    async fn attach_record(
        &self,
        job: &Job<'_>,
        digest: &Digest,
        record: &Record<'_>,
    ) -> anyhow::Result<()> {
        let written = match &record.report {
            Some(path) => match crate::regular_file::read(
                std::path::Path::new(path),
                REPORT_LIMIT,
                crate::regular_file::Symlinks::Follow,
            ) {
                Ok(bytes) if !bytes.is_empty() => Some(bytes),
                Ok(_) | Err(crate::regular_file::RegularFileError::Missing) => {
                    tracing::warn!(image = %job.id, "the scan wrote no report at {path}: its record is attached instead");
                    None
                }
                // Too large, or not a file: the record stands for it, and
                // a scan that passed is not withdrawn for its report.
                Err(error) => {
                    tracing::warn!(image = %job.id, "the scan report {path} {error}: its record is attached instead");
                    None
                }
            },
            None => None,
        };
        let (artifact_type, bytes) = match written {
            Some(bytes) => (crate::scan::report_media_type(&bytes).to_string(), bytes),
            None => (
                crate::scan::RECORD_MEDIA_TYPE.to_string(),
                crate::scan::record(record.image, &record.scanner, record.outcome),
            ),
        };
        let info = self
            .registry
            .manifest_info(&job.repository.digest(digest))
            .await?
            .ok_or_else(|| anyhow::anyhow!("the build {digest} is no longer in the registry"))?;
        let mut annotations =
            crate::scan::record_annotations(&record.scanner, record.outcome.is_none());
        annotations.insert(referrers::IMAGE_ANNOTATION.to_string(), job.id.clone());
        let artifact = Artifact {
            artifact_type,
            bytes,
            annotations,
        };
        let subject = Subject {
            media_type: info.media_type,
            digest: digest.clone(),
            size: info.size,
        };
        let attached =
            referrers::attach(self.registry, &job.repository, &subject, &artifact).await?;
        tracing::info!(image = %job.id, "attached the scan's record ({}) as {}", artifact.artifact_type, attached.digest);
        Ok(())
    }

    /// Whether a scan of the build `digest` passed before (its record is
    /// attached and says so).
    pub(super) async fn scan_passed(&self, job: &Job<'_>, digest: &Digest) -> anyhow::Result<bool> {
        let attached = referrers::list(self.registry, &job.repository, digest).await?;
        Ok(attached.iter().any(|artifact| {
            let said = |key: &str| artifact.annotations.get(key).map(String::as_str);
            said(referrers::IMAGE_ANNOTATION) == Some(job.id.as_str())
                && said(crate::scan::PASSED_ANNOTATION) == Some("true")
        }))
    }

    /// The error of the build pushed as `version` (`digest`) of `job` that
    /// did not pass a step between its push and its floating tags (`what`
    /// says which), after withdrawing it.
    pub(super) async fn withdrawn_after(
        &self,
        job: &Job<'_>,
        version: Exact,
        digest: &Digest,
        error: crate::registry::RegistryError,
        step: GateStep,
    ) -> anyhow::Error {
        let exact = job.repository.tag(&version.tag());
        let withdrawn = self.withdrawn_text(job, version, digest).await;
        let (what, fix) = match step {
            GateStep::Sbom => (
                "its SBOM could not be made or attached",
                " (set `sbom = false` for the image to release builds without one)",
            ),
            GateStep::Signature => ("its signature could not be stored", ""),
        };
        anyhow::Error::new(error).context(format!(
            "`{exact}` was pushed but {what}, so it is {withdrawn}{fix}"
        ))
    }

    /// Withdraws the pushed build `version` (`digest`) of `job` after a
    /// step between its push and its floating tags failed: what became of
    /// it, as the error says it.
    pub(super) async fn withdrawn_text(
        &self,
        job: &Job<'_>,
        version: Exact,
        digest: &Digest,
    ) -> String {
        match self.withdraw(job, version, digest).await {
            Ok(marker) => format!("withdrawn (`{marker}`)"),
            Err(problem) => format!("not withdrawn ({problem}); no floating tag moved to it"),
        }
    }

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

/// A step between a build's push and its floating tags that writes to the
/// registry.
#[derive(Debug, Clone, Copy)]
pub(super) enum GateStep {
    Sbom,
    Signature,
}

/// What a scan ran, and how it ended (`None`: it passed).
struct Record<'a> {
    image: &'a str,
    /// The scanner's program name (its arguments may hold a token).
    scanner: String,
    report: Option<String>,
    outcome: Option<&'a str>,
}

/// The largest scan report attached (a SARIF of a big image is a few MiB).
const REPORT_LIMIT: u64 = 32 << 20;

/// A private directory for the scan's `{output}`, removed with it.
struct ReportDir {
    path: std::path::PathBuf,
}

impl ReportDir {
    fn new() -> anyhow::Result<ReportDir> {
        use std::os::unix::fs::DirBuilderExt as _;
        let path = std::env::temp_dir().join(format!(
            "golden-scan-{}-{:016x}",
            std::process::id(),
            fastrand::u64(..)
        ));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .map_err(|error| {
                anyhow::anyhow!(
                    "could not make a directory for the scan report at {}: {error}",
                    path.display()
                )
            })?;
        Ok(ReportDir { path })
    }
}

impl Drop for ReportDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
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
