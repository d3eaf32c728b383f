//! `golden completions SHELL` and `golden man`: text generated from the
//! command-line definition itself, so it cannot drift from the arguments;
//! `golden schema config|report`: the JSON Schemas of the core. None reads
//! a config or connects to anything.

use clap::CommandFactory;

use crate::cli::Cli;
use crate::exit::{Exit, Failure};

/// Prints the completion script for `shell` on stdout: it asks `golden`
/// (on the PATH) for each completion (`GOLDEN_COMPLETE=SHELL golden -- ...`), so
/// image ids come from the golden.toml the command line would use, and
/// commands and options from the binary that answers.
pub fn completions(shell: clap_complete::Shell) -> Result<Exit, Failure> {
    use clap_complete::env::EnvCompleter;
    let completer: &dyn EnvCompleter = match shell {
        clap_complete::Shell::Bash => &clap_complete::env::Bash,
        clap_complete::Shell::Zsh => &clap_complete::env::Zsh,
        clap_complete::Shell::Fish => &clap_complete::env::Fish,
        clap_complete::Shell::Elvish => &clap_complete::env::Elvish,
        clap_complete::Shell::PowerShell => &clap_complete::env::Powershell,
        _ => {
            return Err(Failure::usage(anyhow::anyhow!(
                "golden has no completions for {shell}"
            )))
        }
    };
    let mut script = Vec::new();
    completer
        .write_registration(
            crate::cli::COMPLETE_VARIABLE,
            "golden",
            "golden",
            "golden",
            &mut script,
        )
        .map_err(|error| Failure::usage(anyhow::Error::new(error)))?;
    crate::ui::output::stdout(&String::from_utf8_lossy(&script));
    Ok(Exit::Success)
}

/// Prints the JSON Schema of `document` on stdout.
pub fn schema(document: crate::cli::SchemaDocument) -> Result<Exit, Failure> {
    use golden_core::schema::Document;
    let document = match document {
        crate::cli::SchemaDocument::Config => Document::Config,
        crate::cli::SchemaDocument::Report => Document::Report,
    };
    let schema = golden_core::schema::of(document, crate::ui::output::JSON_VERSION);
    crate::ui::output::stdout(&crate::ui::output::json_plain(&schema));
    Ok(Exit::Success)
}

/// Prints golden(1), or golden-`command`(1), (roff) on stdout.
pub fn man(command: Option<&str>) -> Result<Exit, Failure> {
    if command == Some("golden.toml") {
        let page = super::config_page::render(&golden_core::schema::config());
        crate::ui::output::stdout(&page);
        return Ok(Exit::Success);
    }
    let cli = Cli::command();
    let page = match command {
        None => clap_mangen::Man::new(cli.clone()),
        Some(name) => {
            let Some(sub) = cli.find_subcommand(name) else {
                let names: Vec<&str> = cli
                    .get_subcommands()
                    .map(clap::Command::get_name)
                    .filter(|name| *name != "help")
                    .collect();
                return Err(Failure::usage(anyhow::Error::new(
                    crate::hint::Hinted::new(
                        format!("`{name}` is not a golden command"),
                        format!(
                            "one of: {}; or golden.toml, for golden.toml(5)",
                            names.join(", ")
                        ),
                    ),
                )));
            };
            let title = format!("golden-{name}");
            clap_mangen::Man::new(sub.clone().bin_name(title.clone())).title(title)
        }
    };
    let mut roff = Vec::new();
    page.render(&mut roff).map_err(|error| {
        Failure::usage(anyhow::Error::new(error).context("failed to render the man page"))
    })?;
    let mut text = String::from_utf8_lossy(&roff).into_owned();
    match command {
        None => text.push_str(&extra_sections(&cli)),
        // The page's NAME is the command's: `golden-build`, not `build`.
        Some(name) => {
            text = text.replacen(
                &format!(".SH NAME\n{name} \\-"),
                &format!(".SH NAME\ngolden\\-{name} \\-"),
                1,
            );
        }
    }
    crate::ui::output::stdout(&text);
    Ok(Exit::Success)
}

/// golden(1)'s sections beyond the arguments: exit status, environment
/// (every option's variable, from the definition), files, see also.
fn extra_sections(cli: &clap::Command) -> String {
    let mut text = exit_status();
    text.push_str(&environment(cli));
    text.push_str(&files());
    let pages: Vec<String> = cli
        .get_subcommands()
        .map(clap::Command::get_name)
        .filter(|name| *name != "help")
        .map(|name| format!("\\fBgolden\\-{}\\fR(1)", escape(name)))
        .collect();
    text.push_str(&format!(".SH \"SEE ALSO\"\n{}\n", pages.join(", ")));
    text
}

/// Text for roff: backslashes and hyphens escaped.
fn escape(text: &str) -> String {
    text.replace('\\', "\\e").replace('-', "\\-")
}

fn exit_status() -> String {
    let mut text = String::from(".SH \"EXIT STATUS\"\n");
    for (code, meaning) in [
        ("0", "success, or nothing due"),
        (
            "1",
            "an image failed (its dependents are skipped), or is held as failing",
        ),
        ("2", "usage or configuration error"),
        ("3", "the engine or the registry is unreachable"),
        (
            "4",
            "another run of the same config is building on this machine",
        ),
        (
            "130, 143",
            "stopped by SIGINT or SIGTERM after the images in flight finished",
        ),
    ] {
        text.push_str(&format!(".TP\n\\fB{code}\\fR\n{}\n", escape(meaning)));
    }
    text
}

/// Every option's variable, taken from the clap definition, then the
/// variables golden reads as the docker CLI does.
fn environment(cli: &clap::Command) -> String {
    let mut text = String::from(".SH ENVIRONMENT\n");
    let mut variables = std::collections::BTreeMap::new();
    for command in std::iter::once(cli).chain(cli.get_subcommands()) {
        for argument in command.get_arguments() {
            if let Some(variable) = argument.get_env() {
                let help = argument
                    .get_help()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                variables
                    .entry(variable.to_string_lossy().into_owned())
                    .or_insert_with(|| (argument.get_id().to_string(), help));
            }
        }
    }
    for (variable, (option, help)) in variables {
        text.push_str(&format!(
            ".TP\n\\fB{}\\fR\n\\-\\-{}: {}\n",
            escape(&variable),
            escape(&option.replace('_', "-")),
            escape(&help)
        ));
    }
    for (variable, meaning) in [
        (
            "GOLDEN_REGISTRY_USERNAME, GOLDEN_REGISTRY_PASSWORD, GOLDEN_REGISTRY_PASSWORD_FILE",
            "credentials for golden's own registry",
        ),
        (
            "DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH, DOCKER_CONTEXT",
            "the engine, as the docker CLI reads them",
        ),
        (
            "DOCKER_CONFIG, REGISTRY_AUTH_FILE",
            "where registry credentials are read",
        ),
        (
            "NO_COLOR, CLICOLOR_FORCE",
            "colour, unless --color says otherwise",
        ),
        (
            "XDG_CACHE_HOME, XDG_STATE_HOME, STATE_DIRECTORY",
            "the cache and the state directories",
        ),
    ] {
        text.push_str(&format!(
            ".TP\n\\fB{}\\fR\n{}\n",
            escape(variable),
            escape(meaning)
        ));
    }
    text
}

fn files() -> String {
    let mut text = String::from(".SH FILES\n");
    for (file, meaning) in [
        (
            "golden.toml",
            "the config: the nearest in the working directory or a parent, or \\-c PATH",
        ),
        (
            "$XDG_CACHE_HOME/golden",
            "documents and tag lists read from registries",
        ),
        (
            "$XDG_STATE_HOME/golden/failing\\-*.json",
            "the lines whose build failed, held until their inputs change or their backoff elapses",
        ),
    ] {
        text.push_str(&format!(".TP\n\\fI{}\\fR\n{}\n", file, escape(meaning)));
    }
    text
}
