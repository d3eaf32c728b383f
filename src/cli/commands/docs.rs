//! `golden completions SHELL` and `golden man`: text generated from the
//! command-line definition itself, so it cannot drift from the arguments.
//! Neither reads a config or connects to anything.

use clap::CommandFactory;

use crate::cli::Cli;
use crate::exit::{Exit, Failure};

/// Prints the completion script for `shell` on stdout.
pub fn completions(shell: clap_complete::Shell) -> Result<Exit, Failure> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "golden", &mut script);
    crate::ui::output::stdout(&String::from_utf8_lossy(&script));
    Ok(Exit::Success)
}

/// Prints the man page (roff) on stdout.
pub fn man() -> Result<Exit, Failure> {
    let page = clap_mangen::Man::new(Cli::command());
    let mut roff = Vec::new();
    page.render(&mut roff).map_err(|error| {
        Failure::usage(anyhow::Error::new(error).context("failed to render the man page"))
    })?;
    crate::ui::output::stdout(&String::from_utf8_lossy(&roff));
    Ok(Exit::Success)
}
