//! The `golden` binary: parses the arguments, sets up logging and the
//! async runtime, runs the command (`golden::cli::commands`) and turns its
//! result into the exit code (`golden::exit`).

#![deny(clippy::print_stderr)]

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use golden::cli::Cli;
use golden::exit::Exit;
use golden::ui::progress::{Bars, Lines, Progress, Silent};

fn main() -> ExitCode {
    // A shell completing a command line (`GOLDEN_COMPLETE=bash golden --
    // ...`, see `golden completions`): answers and exits before anything
    // else. golden's own variable, so a `COMPLETE` set for another tool
    // never turns a golden command into a completion.
    clap_complete::CompleteEnv::with_factory(<Cli as clap::CommandFactory>::command)
        .var(golden::cli::COMPLETE_VARIABLE)
        .complete();
    let cli = Cli::parse();
    if cli.no_cache_dir {
        golden::registry::blob_cache::disable();
    }
    let daemon = matches!(cli.command, golden::cli::Command::Daemon { .. });
    let json_logs = cli.log_format == golden::ui::logging::LogFormat::Json;
    golden::ui::color::choose(cli.color);
    let progress = init_output(cli.verbose, cli.quiet, cli.log_format, daemon);
    let runtime = match runtime(daemon) {
        Ok(runtime) => runtime,
        Err(error) => {
            golden::ui::output::stderr_line(&format!(
                "error: failed to start the async runtime\nCaused by: {error}"
            ));
            return ExitCode::from(Exit::Usage.code());
        }
    };
    let result = runtime.block_on(golden::cli::commands::run(cli, progress));
    if matches!(&result, Err(failure) if failure.is_signal()) {
        // A blocking task abandoned by the signal (hashing a large context)
        // must not hold the exit up.
        runtime.shutdown_background();
    }
    match result {
        Ok(exit) => ExitCode::from(exit.code()),
        Err(failure) => {
            let text = failure.render();
            let code = failure.exit.code();
            let line = match json_logs {
                true => golden::ui::logging::fatal_json(&text, code),
                false => golden::sanitize::terminal(text.trim_end()).into_owned(),
            };
            golden::ui::output::stderr_line(&line);
            ExitCode::from(code)
        }
    }
}

/// The async runtime. A command runs on one thread: its requests and the
/// HTTP connections serving them are polled together, where a pool of
/// worker threads woke another thread for every request and answer (a
/// `golden plan` of 10,000 lines spent about a fifth of its CPU on those
/// wake-ups). Blocking work (hashing contexts, streaming them) still gets
/// threads of its own. The daemon keeps a worker pool: its web server
/// answers while a run plans.
fn runtime(workers: bool) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = if workers {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    builder.enable_all().build()
}

/// Sets up logging and picks how progress is shown: live lines on a
/// terminal, timestamped lines otherwise (always for JSON logs and the
/// daemon), nothing with `--quiet`.
fn init_output(
    verbose: u8,
    quiet: bool,
    format: golden::ui::logging::LogFormat,
    daemon: bool,
) -> Arc<dyn Progress> {
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let color = golden::ui::color::wanted(terminal);
    let live = terminal && verbose == 0 && format == golden::ui::logging::LogFormat::Text;
    let progress: Arc<dyn Progress> = if quiet {
        Arc::new(Silent)
    } else if live {
        Arc::new(Bars::new(color))
    } else {
        Arc::new(Lines::default())
    };
    let default = golden::ui::logging::default_filter(quiet, verbose, live && !daemon, daemon);
    golden::ui::logging::init(default, format, color);
    progress
}
