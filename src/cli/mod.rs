//! The command line: the arguments as clap parses them, and their
//! conversion, once, into the settings the commands and the library take
//! (`RunSettings`, `Delivery`). One file per command under `commands/`.
//!
//! Nothing here connects, builds or prints.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::run::RunSettings;

pub mod commands;

/// `golden --version`: the crate version and the git commit it was built
/// from (`build.rs`).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("GOLDEN_GIT_COMMIT"),
    ")"
);

/// Keeps golden base images fresh: builds, tags and pushes each on its own schedule.
#[derive(Debug, Parser)]
#[command(name = "golden", version = VERSION, about)]
pub struct Cli {
    /// The config file [default: the nearest golden.toml in . or a parent directory]
    #[arg(short, long, global = true, env = "GOLDEN_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// More log output on stderr (-v: build output, -vv: requests); RUST_LOG overrides
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// No progress on stderr, only errors; results still go to stdout
    #[arg(
        short,
        long,
        global = true,
        env = "GOLDEN_QUIET",
        conflicts_with = "verbose"
    )]
    pub quiet: bool,
    /// The Docker Engine (unix://, tcp://, https://, ssh://), or the name of an [[engines]] member; over DOCKER_HOST, [engine] host and the docker context
    #[arg(long, global = true, env = "GOLDEN_ENGINE", value_name = "HOST")]
    pub engine: Option<String>,
    /// Log lines on stderr as text, or one JSON object per line for log shippers
    #[arg(long, global = true, value_enum, env = "GOLDEN_LOG_FORMAT", default_value_t = crate::ui::logging::LogFormat::Text)]
    pub log_format: crate::ui::logging::LogFormat,
    /// When to colour output: auto (on a terminal, unless NO_COLOR is set; CLICOLOR_FORCE forces it), always or never
    #[arg(long, global = true, value_enum, env = "GOLDEN_COLOR", value_name = "WHEN", default_value_t = crate::ui::color::ColorChoice::Auto)]
    pub color: crate::ui::color::ColorChoice,
    /// Neither read nor write the cache of manifests, configs and remembered tags under $XDG_CACHE_HOME/golden
    #[arg(long, global = true, env = "GOLDEN_NO_CACHE_DIR", value_parser = clap::builder::BoolishValueParser::new())]
    pub no_cache_dir: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build and push the images that are due, in dependency order
    Build {
        /// Every configured image
        #[arg(long, conflicts_with = "ids")]
        all: bool,
        /// Image ids from golden.toml
        #[arg(add = clap_complete::ArgValueCandidates::new(image_ids))]
        ids: Vec<String>,
        /// Push the exact tags only; floating tags move later with `golden promote` (CI matrix jobs)
        #[arg(long)]
        no_promote: bool,
        #[command(flatten)]
        report: ReportArgs,
        #[command(flatten)]
        build: BuildArgs,
    },
    /// Build these images now, whatever their schedule, then everything built on them
    Rebuild {
        #[arg(required = true, add = clap_complete::ArgValueCandidates::new(image_ids))]
        ids: Vec<String>,
        /// Run every build step, whatever `cache` says (the default for a rebuild)
        #[arg(long, conflicts_with = "cache")]
        no_cache: bool,
        /// Let the builds of this run use the engine's build cache
        #[arg(long)]
        cache: bool,
        #[command(flatten)]
        report: ReportArgs,
        #[command(flatten)]
        build: BuildArgs,
    },
    /// Keep running: evaluate the plan every interval and build what is due
    Daemon {
        /// Time between evaluations: seconds, or a duration with units (90s, 5m, 1h30m, 500ms)
        #[arg(long, env = "GOLDEN_INTERVAL", default_value = "60s", value_parser = crate::duration::parse_duration)]
        interval: std::time::Duration,
        /// Before each tick, fast-forward the checkout holding golden.toml to its upstream branch (git pull --ff-only); a failed pull is logged and the tick builds the checkout as it is
        #[arg(long, env = "GOLDEN_GIT_PULL", value_parser = clap::builder::BoolishValueParser::new())]
        git_pull: bool,
        #[command(flatten)]
        build: BuildArgs,
        #[command(flatten)]
        web: crate::daemon::web::WebOptions,
    },
    /// Show what the registry holds for one image line: floating tags and provenance
    Inspect {
        /// An image id from golden.toml
        #[arg(add = clap_complete::ArgValueCandidates::new(image_ids))]
        id: String,
        /// Output format on stdout
        #[arg(long, value_enum, env = "GOLDEN_OUTPUT", default_value_t = Output::Human)]
        output: Output,
    },
    /// Check that a build is signed by [signing] public_key_file's key (cosign's keyed format): exit 0, or 1 with why not
    Verify {
        /// The build: HOST/PATH:TAG or HOST/PATH@sha256:...
        reference: String,
        /// Output format on stdout
        #[arg(long, value_enum, env = "GOLDEN_OUTPUT", default_value_t = Output::Human)]
        output: Output,
    },
    /// Print the CycloneDX SBOM attached to a build (the line's newest when no version is named)
    Sbom {
        /// An image id from golden.toml
        #[arg(add = clap_complete::ArgValueCandidates::new(image_ids))]
        id: String,
        /// The build's exact version (golden ls lists them); default: the line's newest build
        version: Option<String>,
        /// For a multi-platform build: the platform whose SBOM to print (os/arch[/variant])
        #[arg(long)]
        platform: Option<String>,
        /// Output format on stdout: the components, or the document as stored (json)
        #[arg(long, value_enum, env = "GOLDEN_OUTPUT", default_value_t = Output::Human)]
        output: Output,
    },
    /// Show what changed between two builds of one line: base, recipe, commit, why it was built, labels, platforms, size, layers
    Diff {
        /// An image id from golden.toml
        #[arg(add = clap_complete::ArgValueCandidates::new(image_ids))]
        id: String,
        /// The older build's exact version (golden ls lists them)
        from: String,
        /// The newer build's exact version
        to: String,
        /// Output format on stdout
        #[arg(long, value_enum, env = "GOLDEN_OUTPUT", default_value_t = Output::Human)]
        output: Output,
    },
    /// Check that application Dockerfiles start FROM golden images
    Check {
        /// Dockerfiles, or directories searched for Dockerfile, *.Dockerfile, Dockerfile.*, Containerfile
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// A build arg for the ARGs of FROM lines, NAME=VALUE (repeatable)
        #[arg(long = "build-arg", value_name = "NAME=VALUE", value_parser = parse_build_arg)]
        build_args: Vec<(String, String)>,
        /// Output format on stdout
        #[arg(long, value_enum, env = "GOLDEN_OUTPUT", default_value_t = CheckOutput::Human)]
        output: CheckOutput,
        /// Also read the registry: a golden image named by digest must be a build golden published (for a multi-platform line, its index, not one platform's image)
        #[arg(long)]
        verify_digests: bool,
        /// Also read the registry: each golden image a FROM names must be signed by [signing] public_key_file's key (finding `unsigned`)
        #[arg(long)]
        verify_signatures: bool,
    },
    /// Remove every local image golden built for this config from the engine (the registry is not touched)
    Clean {
        /// Image ids (default: all)
        #[arg(add = clap_complete::ArgValueCandidates::new(image_ids))]
        ids: Vec<String>,
        /// Output format on stdout
        #[arg(long, value_enum, env = "GOLDEN_OUTPUT", default_value_t = Output::Human)]
        output: Output,
    },
    /// List the engines builds run on ([[engines]], or the one engine) with platforms, API version, state and load: exit 3 when one does not answer
    Engines {
        /// Output format on stdout
        #[arg(long, value_enum, env = "GOLDEN_OUTPUT", default_value_t = Output::Human)]
        output: Output,
        /// Builds at once on each engine (an [[engines]] entry's `jobs` wins) [default: the number of CPUs]
        #[arg(long, short = 'j', env = "GOLDEN_JOBS", value_name = "N", default_value_t = default_jobs(), value_parser = clap::value_parser!(u16).range(1..))]
        jobs: u16,
    },
    /// List each line's exact versions in the registry and the floating tags on them
    Ls {
        /// Image ids (default: all)
        #[arg(add = clap_complete::ArgValueCandidates::new(image_ids))]
        ids: Vec<String>,
        /// Also say why each build was made (its `io.golden.reasons` label)
        #[arg(long)]
        wide: bool,
        /// Output format on stdout
        #[arg(long, value_enum, env = "GOLDEN_OUTPUT", default_value_t = Output::Human)]
        output: Output,
    },
    /// Delete old builds, keeping the newest N of each line and every build a tag needs (dry run unless --apply)
    Prune {
        /// Image ids (default: all)
        #[arg(add = clap_complete::ArgValueCandidates::new(image_ids))]
        ids: Vec<String>,
        /// Builds to keep per line [default: `[retention] keep` of each image]
        #[arg(long, env = "GOLDEN_KEEP", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        keep: Option<u32>,
        /// Delete; without it, only show what would go and what stays
        #[arg(long)]
        apply: bool,
        /// Output format on stdout
        #[arg(long, value_enum, env = "GOLDEN_OUTPUT", default_value_t = Output::Human)]
        output: Output,
        /// When a build of this config is running, wait this long for it (0, 90s, 5m), then exit 4
        #[arg(long, env = "GOLDEN_WAIT_LOCK", value_name = "DURATION", default_value = "0", value_parser = parse_wait)]
        wait_lock: std::time::Duration,
    },
    /// Move a line's floating tags back to its previous build (or --to), withdrawing the newer ones
    Rollback {
        /// An image id from golden.toml
        #[arg(add = clap_complete::ArgValueCandidates::new(image_ids))]
        id: String,
        /// The exact version to go back to: X.Y.N, or X.Y.Z-rN under upstream versioning [default: the one before the build X.Y points at]
        #[arg(long, value_name = "VERSION")]
        to: Option<crate::version::Exact>,
        /// Show what would move without moving anything
        #[arg(long)]
        dry_run: bool,
        /// Output format on stdout
        #[arg(long, value_enum, env = "GOLDEN_OUTPUT", default_value_t = Output::Human)]
        output: Output,
        /// When a build of this config is running, wait this long for it (0, 90s, 5m), then exit 4
        #[arg(long, env = "GOLDEN_WAIT_LOCK", value_name = "DURATION", default_value = "0", value_parser = parse_wait)]
        wait_lock: std::time::Duration,
    },
    /// Print a shell completion script on stdout (source it, or install it where the shell looks)
    Completions {
        /// The shell the script is for
        shell: clap_complete::Shell,
    },
    /// Check the config, the Dockerfiles and the build contexts offline (no engine, no registry): exit 0, or 2 with the errors
    Validate {
        /// Output format on stdout
        #[arg(long, value_enum, env = "GOLDEN_OUTPUT", default_value_t = Output::Human)]
        output: Output,
    },
    /// Write a first golden.toml from the Dockerfiles under DIR, then check it as validate does
    Init {
        /// Where to look for Dockerfiles and write golden.toml
        #[arg(default_value = ".")]
        directory: PathBuf,
        /// The registry golden pushes to (HOST:PORT)
        #[arg(long, default_value = "registry.local:5000")]
        registry: String,
        /// The namespace the images are pushed under
        #[arg(long, default_value = "golden")]
        namespace: String,
        /// Replace a golden.toml that exists
        #[arg(long)]
        force: bool,
    },
    /// Print a JSON Schema on stdout: of golden.toml (for editors: taplo, Even Better TOML) or of the JSON report
    Schema {
        /// Which document
        document: SchemaDocument,
    },
    /// Print the man page (roff) on stdout: `golden man | man -l -`, or a command's own: `golden man build`
    Man {
        /// A command: its page, golden-COMMAND(1); or `golden.toml`: golden.toml(5)
        command: Option<String>,
    },
    /// Show what `build` would do and why, without building
    Plan {
        /// Image ids (default: all)
        #[arg(add = clap_complete::ArgValueCandidates::new(image_ids))]
        ids: Vec<String>,
        /// Output format on stdout: also `matrix` (waves as JSON for a CI matrix) or `gitlab` (a child pipeline)
        #[arg(long, value_enum, env = "GOLDEN_OUTPUT", default_value_t = PlanOutput::Human)]
        output: PlanOutput,
        /// Evaluate schedules as if it were this time (RFC 3339), to test schedules
        #[arg(long, value_name = "RFC3339", value_parser = parse_time)]
        now: Option<DateTime<Utc>>,
        /// Also write the JSON report to FILE (stdout keeps the chosen output)
        #[arg(long, env = "GOLDEN_REPORT", value_name = "FILE")]
        report: Option<PathBuf>,
        /// Every cell in full, however wide (without it the table fits 100 columns)
        #[arg(long)]
        wide: bool,
    },
    /// Move the floating tags of completed builds (after `build --no-promote`) to each line's newest golden build
    Promote {
        /// Image ids (default: all)
        #[arg(add = clap_complete::ArgValueCandidates::new(image_ids))]
        ids: Vec<String>,
        /// Output format on stdout
        #[arg(long, value_enum, env = "GOLDEN_OUTPUT", default_value_t = Output::Human)]
        output: Output,
        /// When a build of this config is running, wait this long for it (0, 90s, 5m), then exit 4
        #[arg(long, env = "GOLDEN_WAIT_LOCK", value_name = "DURATION", default_value = "0", value_parser = parse_wait)]
        wait_lock: std::time::Duration,
    },
}

/// What `golden plan` prints on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanOutput {
    /// A table.
    Human,
    /// The JSON report (SPEC section 4).
    Json,
    /// The due images as waves, for `fromJSON` in a GitHub Actions matrix.
    Matrix,
    /// A GitLab child pipeline: one `parallel:matrix` job per wave, then promote.
    Gitlab,
}

#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// Output format on stdout
    #[arg(long, value_enum, env = "GOLDEN_OUTPUT", default_value_t = Output::Human)]
    pub output: Output,
    /// Evaluate schedules as if it were this time (RFC 3339), to test schedules
    #[arg(long, value_name = "RFC3339", value_parser = parse_time)]
    pub now: Option<DateTime<Utc>>,
    /// Also write the JSON report to FILE (stdout keeps the chosen output)
    #[arg(long, env = "GOLDEN_REPORT", value_name = "FILE")]
    pub report: Option<PathBuf>,
}

/// How a build run goes, as given.
#[derive(Debug, Clone, Args)]
pub struct BuildArgs {
    /// Builds at once on each engine (an [[engines]] entry's `jobs` wins) [default: the number of CPUs]
    #[arg(long, short = 'j', env = "GOLDEN_JOBS", value_name = "N", default_value_t = default_jobs(), value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: u16,
    /// Start no new image after the first failure (running ones finish)
    #[arg(long, env = "GOLDEN_FAIL_FAST")]
    pub fail_fast: bool,
    /// When another run of this config is building, wait this long for it
    /// (0, 90s, 5m, 1h), then exit 4
    #[arg(long, env = "GOLDEN_WAIT_LOCK", value_name = "DURATION", default_value = "0", value_parser = parse_wait)]
    pub wait_lock: std::time::Duration,
}

fn parse_wait(text: &str) -> Result<std::time::Duration, String> {
    match text.trim() {
        "0" | "0s" => Ok(std::time::Duration::ZERO),
        other => crate::duration::parse_duration(other),
    }
}

fn default_jobs() -> u16 {
    std::thread::available_parallelism().map_or(1, |n| u16::try_from(n.get()).unwrap_or(u16::MAX))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckOutput {
    Human,
    Json,
    Sarif,
    /// GitHub Actions annotations (`::error file=...,line=...::...`)
    Github,
    /// GitLab's Code Quality report (JSON)
    Codequality,
}

fn parse_build_arg(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .filter(|(name, _)| !name.is_empty())
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .ok_or_else(|| format!("`{text}` is not NAME=VALUE"))
}

/// The documents `golden schema` describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SchemaDocument {
    /// golden.toml
    Config,
    /// The JSON report of plan, build, rebuild and promote (`--output json`)
    Report,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Human,
    Json,
}

fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.with_timezone(&Utc))
        .map_err(|error| format!("{error}; expected RFC 3339 such as 2026-03-01T03:00:00Z"))
}

impl BuildArgs {
    /// The settings of a build run.
    pub fn settings(&self) -> RunSettings {
        RunSettings {
            jobs: usize::from(self.jobs).max(1),
            fail_fast: self.fail_fast,
            wait_lock: self.wait_lock,
            promote: true,
            interval: None,
        }
    }
}

/// Where a plan or run report goes: stdout in `output`, and the JSON
/// document to `file` with `--report FILE`.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The format on stdout.
    pub output: Output,
    /// Where the JSON document is also written.
    pub file: Option<PathBuf>,
}

impl ReportArgs {
    /// Where the report goes.
    pub fn delivery(&self) -> Delivery {
        Delivery {
            output: self.output,
            file: self.report.clone(),
        }
    }
}

/// The variable that asks golden for completions, as the scripts of
/// `golden completions` set it.
pub const COMPLETE_VARIABLE: &str = "GOLDEN_COMPLETE";

/// The image ids of the config a command line would use, for completion
/// (`GOLDEN_COMPLETE=bash golden -- golden ...`): its `-c PATH`, else
/// `GOLDEN_CONFIG`, else the nearest golden.toml. Read as plain TOML: a
/// config with errors still completes.
fn image_ids() -> Vec<clap_complete::CompletionCandidate> {
    let named = config_in(std::env::args_os().skip_while(|arg| arg != "--"))
        .or_else(|| std::env::var_os("GOLDEN_CONFIG").filter(|value| !value.is_empty()));
    let path = match named {
        Some(path) => PathBuf::from(path),
        None => {
            let Ok(here) = std::env::current_dir() else {
                return Vec::new();
            };
            let Ok(path) = crate::discover::find_config(&here) else {
                return Vec::new();
            };
            path
        }
    };
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Vec::new();
    };
    let Ok(document) = text.parse::<toml::Table>() else {
        return Vec::new();
    };
    let Some(images) = document.get("images").and_then(toml::Value::as_table) else {
        return Vec::new();
    };
    images
        .iter()
        .map(|(id, image)| {
            let version = image.get("version").and_then(toml::Value::as_str);
            let candidate = clap_complete::CompletionCandidate::new(id);
            match version {
                Some(version) => candidate.help(Some(format!("line {version}").into())),
                None => candidate,
            }
        })
        .collect()
}

/// The value of `-c`/`--config` in a command line being completed.
fn config_in(args: impl Iterator<Item = std::ffi::OsString>) -> Option<std::ffi::OsString> {
    let mut args = args.peekable();
    while let Some(arg) = args.next() {
        if arg == "-c" || arg == "--config" {
            return args.next();
        }
        if let Some(value) = arg.to_str().and_then(|arg| arg.strip_prefix("--config=")) {
            return Some(value.into());
        }
    }
    None
}
