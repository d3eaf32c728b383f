//! One file per command: each turns its arguments into settings, opens a
//! [`Session`], calls the library and prints the result on stdout.

use std::path::PathBuf;
use std::sync::Arc;

use super::{Cli, Command, Delivery, Output};
use crate::exit::{Exit, Failure};
use crate::report::Report;
use crate::session::Session;
use crate::ui::color::Palette;
use crate::ui::progress::Progress;

mod build;
mod check;
mod clean;
mod config_page;
mod daemon;
mod diff;
mod docs;
mod engines;
mod init;
mod inspect;
mod ls;
mod plan;
mod promote;
mod prune;
mod rollback;
mod sbom;
mod validate;
mod verify;

/// Runs the command `cli` names; its exit code, or the failure that ended
/// it. With `--output json`, a failure before any result (the config, the
/// engine, the registry, the lock) still prints a JSON document with the
/// error on stdout, and `--report FILE` is still written.
pub async fn run(cli: Cli, progress: Arc<dyn Progress>) -> Result<Exit, Failure> {
    let (json, report_file) = machine_output(&cli.command);
    let started = std::time::Instant::now();
    let result = dispatch(cli, progress).await;
    if let Err(failure) = &result {
        let rendered = failure.render();
        let error = rendered.strip_prefix("error: ").unwrap_or(&rendered);
        let report = Report::failed(error.to_string(), started.elapsed().as_secs_f64());
        if json && !crate::ui::output::stdout_written() {
            crate::ui::output::stdout(&crate::ui::output::json(&report));
        }
        if let Some(path) = report_file {
            let _ = std::fs::write(path, crate::ui::output::json(&report));
        }
    }
    result
}

/// Whether the command prints JSON on stdout, and where `--report` goes.
fn machine_output(command: &Command) -> (bool, Option<PathBuf>) {
    let json = |output: &Output| *output == Output::Json;
    match command {
        Command::Build { report, .. } | Command::Rebuild { report, .. } => {
            (json(&report.output), report.report.clone())
        }
        Command::Plan { output, report, .. } => {
            (*output == super::PlanOutput::Json, report.clone())
        }
        Command::Promote { output, .. } => (json(output), None),
        Command::Inspect { output, .. }
        | Command::Diff { output, .. }
        | Command::Sbom { output, .. }
        | Command::Verify { output, .. }
        | Command::Ls { output, .. }
        | Command::Prune { output, .. }
        | Command::Rollback { output, .. }
        | Command::Clean { output, .. }
        | Command::Engines { output, .. }
        | Command::Validate { output } => (json(output), None),
        Command::Check { output, .. } => (*output == super::CheckOutput::Json, None),
        Command::Daemon { .. }
        | Command::Completions { .. }
        | Command::Man { .. }
        | Command::Schema { .. }
        | Command::Init { .. } => (false, None),
    }
}

/// Runs the command: completions and the manual need no project, the
/// daemon opens its own sessions; every other command runs in a
/// [`Session`] of the config.
async fn dispatch(cli: Cli, progress: Arc<dyn Progress>) -> Result<Exit, Failure> {
    // Before looking for golden.toml: a new shell sources completions
    // from wherever it starts.
    let command = match cli.command {
        Command::Completions { shell } => return docs::completions(shell),
        Command::Man { command } => return docs::man(command.as_deref()),
        Command::Schema { document } => return docs::schema(document),
        Command::Init {
            directory,
            registry,
            namespace,
            force,
        } => return init::run(&directory, &registry, &namespace, force),
        command => command,
    };
    let path = match &cli.config {
        Some(path) => path.clone(),
        None => find_config()?,
    };
    match command {
        Command::Daemon {
            interval,
            git_pull,
            build,
            web,
        } => daemon::run(&path, cli.engine, interval, git_pull, &build, &web).await,
        command => {
            let session = Session::open(&path, cli.engine)?;
            in_session(&session, command, progress).await
        }
    }
}

/// Runs a command that works on one project: those that observe and plan
/// (build, rebuild, plan, promote) here, their arguments turned into the
/// command's settings; the others through [`outside_pipeline`].
async fn in_session(
    session: &Session,
    command: Command,
    progress: Arc<dyn Progress>,
) -> Result<Exit, Failure> {
    match command {
        Command::Build {
            all,
            ids,
            no_promote,
            report,
            build,
        } => {
            let mut settings = build.settings();
            settings.promote = !no_promote;
            build::build(session, all, &ids, &report, &settings, progress).await
        }
        Command::Rebuild {
            ids,
            no_cache,
            cache,
            report,
            build,
        } => {
            let cache = rebuild_cache(no_cache, cache);
            build::rebuild(session, &ids, cache, &report, &build, progress).await
        }
        Command::Plan {
            ids,
            output,
            now,
            report,
            wide,
        } => plan::run(session, &ids, output, now, report, wide).await,
        Command::Promote {
            ids,
            output,
            wait_lock,
        } => promote::run(session, &ids, output, wait_lock, progress).await,
        command => outside_pipeline(session, command).await,
    }
}

/// Runs a command that plans nothing: the views (inspect, ls, engines),
/// the checks (check, validate) and the housekeeping of the engine and the
/// registry (clean, prune, rollback).
async fn outside_pipeline(session: &Session, command: Command) -> Result<Exit, Failure> {
    match command {
        Command::Inspect { id, output } => inspect::run(session, &id, output).await,
        Command::Verify { reference, output } => verify::run(session, &reference, output).await,
        Command::Sbom {
            id,
            version,
            platform,
            output,
        } => sbom::run(session, &id, version, platform, output).await,
        Command::Diff {
            id,
            from,
            to,
            output,
        } => diff::run(session, &id, &from, &to, output).await,
        Command::Check {
            paths,
            build_args,
            output,
            verify_digests,
            verify_signatures,
        } => {
            let settings = check::Settings {
                build_args: build_args.into_iter().collect(),
                output,
                verify_digests,
                verify_signatures,
            };
            check::run(session, &paths, &settings).await
        }
        Command::Ls { ids, output, wide } => ls::run(session, &ids, output, wide).await,
        Command::Validate { output } => validate::run(session, output),
        Command::Clean { ids, output } => clean::run(session, &ids, output).await,
        Command::Engines { output, jobs } => engines::run(session, usize::from(jobs), output).await,
        Command::Prune {
            ids,
            keep,
            apply,
            output,
            wait_lock,
        } => {
            let settings = prune::Settings {
                keep,
                apply,
                output,
                wait_lock,
            };
            prune::run(session, &ids, &settings).await
        }
        Command::Rollback {
            id,
            to,
            dry_run,
            output,
            wait_lock,
        } => {
            let settings = rollback::Settings {
                to,
                apply: !dry_run,
                output,
                wait_lock,
            };
            rollback::run(session, &id, &settings).await
        }
        // Run without a session (see `dispatch`), or by `in_session`.
        Command::Daemon { .. }
        | Command::Completions { .. }
        | Command::Man { .. }
        | Command::Schema { .. }
        | Command::Init { .. }
        | Command::Build { .. }
        | Command::Rebuild { .. }
        | Command::Plan { .. }
        | Command::Promote { .. } => Ok(Exit::Success),
    }
}

/// Whether `golden rebuild` lets the builds use the engine's build cache:
/// `--no-cache` no, `--cache` yes, neither what each image's `cache` says.
fn rebuild_cache(no_cache: bool, cache: bool) -> Option<bool> {
    match (no_cache, cache) {
        (true, _) => Some(false),
        (_, true) => Some(true),
        _ => None,
    }
}

/// The nearest golden.toml from the current directory up.
fn find_config() -> Result<PathBuf, Failure> {
    let here = std::env::current_dir().map_err(|error| {
        Failure::usage(anyhow::Error::new(error).context("failed to read the current directory"))
    })?;
    crate::discover::find_config(&here).map_err(Failure::usage)
}

/// Writes human text on stdout with control characters escaped, JSON as
/// it is (serde_json escapes what JSON needs; the terminal escapes would
/// make it invalid).
fn print(output: Output, human: impl FnOnce() -> String, json: impl FnOnce() -> String) {
    print_painted(output, human, |page, _| page.to_string(), json)
}

/// [`print`], with the human text coloured by `paint` after it is made
/// safe, when stdout takes colour.
fn print_painted(
    output: Output,
    human: impl FnOnce() -> String,
    paint: impl FnOnce(&str, Palette) -> String,
    json: impl FnOnce() -> String,
) {
    match output {
        Output::Human => {
            let page = crate::sanitize::terminal(&human()).into_owned();
            crate::ui::output::stdout(&paint(&page, crate::ui::output::stdout_palette()))
        }
        Output::Json => crate::ui::output::stdout(&json()),
    }
}

/// Writes the report on stdout (the human text coloured by `paint` on a
/// terminal) and, with `--report FILE`, the JSON document to FILE.
fn deliver(
    report: &Report,
    delivery: &Delivery,
    human: &dyn Fn(&Report) -> String,
    paint: fn(&str, Palette) -> String,
) -> Result<(), Failure> {
    let json = || crate::ui::output::json(report);
    print_painted(delivery.output, || human(report), paint, json);
    if let Some(path) = &delivery.file {
        std::fs::write(path, json()).map_err(|error| {
            Failure::usage(anyhow::Error::new(error).context(format!(
                "failed to write the report to `{}`",
                path.display()
            )))
        })?;
    }
    Ok(())
}
