//! The command line: arguments, logging, the observe -> plan -> execute
//! sequence of each command, and the mapping of errors to exit codes
//! (0 success or nothing due, 1 an image failed, 2 usage or configuration,
//! 3 engine or registry unreachable).

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::{ConfigError, DEFAULT_FILE};
use crate::credentials::Credentials;
use crate::diagnostic::closest;
use crate::distribution::{Distribution, Settings};
use crate::docker::DockerEngine;
use crate::execute::{render_chain, Runner, Stop};
use crate::observe::observe;
use crate::plan::{plan, Decision, Selection};
use crate::progress::{Bars, Lines, Progress, Silent};
use crate::project::Project;
use crate::registry::Registry;
use crate::report::{plan_report, plan_text, run_report, run_text, Report};
use crate::revision::revision;

mod history;

/// Keeps golden base images fresh: builds, tags and pushes each on its own schedule.
#[derive(Debug, Parser)]
#[command(name = "golden", version, about)]
pub struct Cli {
    /// The config file [default: ./golden.toml]
    #[arg(short, long, global = true, env = "GOLDEN_CONFIG", value_name = "PATH")]
    config: Option<PathBuf>,
    /// More log output on stderr (-v: build output, -vv: requests); RUST_LOG overrides
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// No progress on stderr, only errors; results still go to stdout
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// The Docker Engine (unix://, tcp://, https://); over DOCKER_HOST, [engine] host and the docker context
    #[arg(long, global = true, value_name = "HOST")]
    engine: Option<String>,
    /// Log lines on stderr as text, or one JSON object per line for log shippers
    #[arg(long, global = true, value_enum, env = "GOLDEN_LOG_FORMAT", default_value_t = crate::logging::LogFormat::Text)]
    log_format: crate::logging::LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Build and push the images that are due, in dependency order
    Build {
        /// Every configured image
        #[arg(long, conflicts_with = "ids")]
        all: bool,
        /// Image ids from golden.toml
        ids: Vec<String>,
        #[command(flatten)]
        options: RunOptions,
        #[command(flatten)]
        build: BuildOptions,
    },
    /// Build these images now, whatever their schedule, then everything built on them
    Rebuild {
        #[arg(required = true)]
        ids: Vec<String>,
        /// Run every build step, whatever `cache` says (the default for a rebuild)
        #[arg(long, conflicts_with = "cache")]
        no_cache: bool,
        /// Let the builds of this run use the engine's build cache
        #[arg(long)]
        cache: bool,
        #[command(flatten)]
        options: RunOptions,
        #[command(flatten)]
        build: BuildOptions,
    },
    /// Keep running: evaluate the plan every interval and build what is due
    Daemon {
        /// Time between evaluations: seconds, or with a unit (90s, 5m, 1h)
        #[arg(long, default_value = "60s", value_parser = crate::duration::parse_duration)]
        interval: std::time::Duration,
        #[command(flatten)]
        build: BuildOptions,
        #[command(flatten)]
        web: crate::daemon::web::WebOptions,
    },
    /// Show what the registry holds for one image line: floating tags and provenance
    Inspect {
        /// An image id from golden.toml
        id: String,
        /// Output format on stdout
        #[arg(long, value_enum, default_value_t = Output::Human)]
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
        #[arg(long, value_enum, default_value_t = CheckOutput::Human)]
        output: CheckOutput,
    },
    /// Remove every local image golden built for this config from the engine (the registry is not touched)
    Clean {
        /// Image ids (default: all)
        ids: Vec<String>,
    },
    /// List each line's exact versions in the registry and the floating tags on them
    Ls {
        /// Image ids (default: all)
        ids: Vec<String>,
        /// Output format on stdout
        #[arg(long, value_enum, default_value_t = Output::Human)]
        output: Output,
    },
    /// Delete old builds, keeping the newest N of each line and every build a tag needs (dry run unless --apply)
    Prune {
        /// Image ids (default: all)
        ids: Vec<String>,
        /// Builds to keep per line [default: `[retention] keep` of each image]
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        keep: Option<u32>,
        /// Delete; without it, only show what would go and what stays
        #[arg(long)]
        apply: bool,
        /// Output format on stdout
        #[arg(long, value_enum, default_value_t = Output::Human)]
        output: Output,
        /// When a build of this config is running, wait this long for it (0, 90s, 5m), then exit 4
        #[arg(long, value_name = "DURATION", default_value = "0", value_parser = parse_wait)]
        wait_lock: std::time::Duration,
    },
    /// Move a line's floating tags back to its previous build (or --to), withdrawing the newer ones
    Rollback {
        /// An image id from golden.toml
        id: String,
        /// The exact version to go back to [default: the one before the build X.Y points at]
        #[arg(long, value_name = "X.Y.N")]
        to: Option<crate::version::Exact>,
        /// Show what would move without moving anything
        #[arg(long)]
        dry_run: bool,
        /// Output format on stdout
        #[arg(long, value_enum, default_value_t = Output::Human)]
        output: Output,
        /// When a build of this config is running, wait this long for it (0, 90s, 5m), then exit 4
        #[arg(long, value_name = "DURATION", default_value = "0", value_parser = parse_wait)]
        wait_lock: std::time::Duration,
    },
    /// Show what `build` would do and why, without building
    Plan {
        /// Image ids (default: all)
        ids: Vec<String>,
        #[command(flatten)]
        options: RunOptions,
    },
}

#[derive(Debug, Clone, Args)]
struct RunOptions {
    /// Output format on stdout
    #[arg(long, value_enum, default_value_t = Output::Human)]
    output: Output,
    /// Evaluate schedules as if it were this time (RFC 3339), to test schedules
    #[arg(long, value_name = "RFC3339", value_parser = parse_time)]
    now: Option<DateTime<Utc>>,
    /// Also write the JSON report to FILE (stdout keeps the chosen output)
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
}

/// How a build run goes.
#[derive(Debug, Clone, Args)]
pub(crate) struct BuildOptions {
    /// Most images built at once [default: the number of CPUs]
    #[arg(long, short = 'j', value_name = "N", default_value_t = default_jobs(), value_parser = clap::value_parser!(u16).range(1..))]
    jobs: u16,
    /// Start no new image after the first failure (running ones finish)
    #[arg(long)]
    fail_fast: bool,
    /// When another run of this config is building, wait this long for it
    /// (0, 90s, 5m, 1h), then exit 4
    #[arg(long, value_name = "DURATION", default_value = "0", value_parser = parse_wait)]
    wait_lock: std::time::Duration,
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
enum CheckOutput {
    Human,
    Json,
    Sarif,
}

fn parse_build_arg(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .filter(|(name, _)| !name.is_empty())
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .ok_or_else(|| format!("`{text}` is not NAME=VALUE"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Output {
    Human,
    Json,
}

fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.with_timezone(&Utc))
        .map_err(|error| format!("{error}; expected RFC 3339 such as 2026-03-01T03:00:00Z"))
}

/// Exit codes of SPEC section 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Success = 0,
    ImageFailed = 1,
    Usage = 2,
    Unreachable = 3,
    /// Another run of the same config holds the lock.
    Locked = 4,
    /// Stopped by SIGINT.
    Interrupted = 130,
    /// Stopped by SIGTERM.
    Terminated = 143,
}

/// A failure that ends the command with `exit`.
pub(crate) struct Failure {
    pub(crate) exit: Exit,
    pub(crate) error: anyhow::Error,
}

impl Failure {
    fn new(exit: Exit, error: impl Into<anyhow::Error>) -> Failure {
        Failure {
            exit,
            error: error.into(),
        }
    }
}

/// Parses the arguments, runs the command and returns its exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let daemon = matches!(cli.command, Command::Daemon { .. });
    let progress = init_output(cli.verbose, cli.quiet, cli.log_format, daemon);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: failed to start the async runtime\nCaused by: {error}");
            return ExitCode::from(Exit::Usage as u8);
        }
    };
    let result = runtime.block_on(run(cli, progress));
    if matches!(&result, Err(failure) if matches!(failure.exit, Exit::Interrupted | Exit::Terminated))
    {
        // A blocking task abandoned by the signal (hashing a large context)
        // must not hold the exit up.
        runtime.shutdown_background();
    }
    match result {
        Ok(exit) => ExitCode::from(exit as u8),
        Err(failure) => {
            let text = match failure.error.downcast_ref::<ConfigError>() {
                Some(ConfigError::Invalid(problems)) => problems.to_string(),
                _ => format!("error: {}", render_chain(&failure.error)),
            };
            eprintln!("{}", crate::sanitize::terminal(text.trim_end()));
            ExitCode::from(failure.exit as u8)
        }
    }
}

/// Sets up logging and picks how progress is shown: live lines on a
/// terminal, timestamped lines otherwise (always for JSON logs and the
/// daemon), nothing with `--quiet`.
fn init_output(
    verbose: u8,
    quiet: bool,
    format: crate::logging::LogFormat,
    daemon: bool,
) -> Arc<dyn Progress> {
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let color = terminal && std::env::var_os("NO_COLOR").is_none();
    let live = terminal && verbose == 0 && format == crate::logging::LogFormat::Text;
    let progress: Arc<dyn Progress> = if quiet {
        Arc::new(Silent)
    } else if live {
        Arc::new(Bars::new(color))
    } else {
        Arc::new(Lines)
    };
    let default = crate::logging::default_filter(quiet, verbose, live && !daemon, daemon);
    crate::logging::init(default, format, color);
    progress
}

async fn run(cli: Cli, progress: Arc<dyn Progress>) -> Result<Exit, Failure> {
    let path = cli
        .config
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_FILE));
    if let Command::Daemon {
        interval,
        build,
        web,
    } = &cli.command
    {
        // Checked once up front so a broken config fails the start, not a tick.
        load(&path)?;
        return crate::daemon::run(&path, *interval, build, web)
            .await
            .map_err(|error| Failure::new(Exit::Usage, error));
    }
    let mut project = load(&path)?;
    project.config.engine.flag_host = cli.engine.clone();
    match cli.command {
        Command::Build {
            all,
            ids,
            options,
            build,
        } => {
            if !all && ids.is_empty() {
                return Err(Failure::new(
                    Exit::Usage,
                    anyhow::anyhow!("name the images to build, or pass --all\nhint: `golden build --all` builds every image that is due"),
                ));
            }
            let selected = select(&project, &ids)?;
            let selection = Selection {
                ids: in_order(&project, &selected),
                forced: BTreeSet::new(),
                cache: None,
            };
            execute(&project, selection, &options, &build, progress).await
        }
        Command::Rebuild {
            ids,
            no_cache,
            cache,
            options,
            build,
        } => {
            let selected = select(&project, &ids)?;
            let selection = Selection {
                ids: project.graph.with_dependents(&selected),
                forced: selected,
                cache: match (no_cache, cache) {
                    (true, _) => Some(false),
                    (_, true) => Some(true),
                    _ => None,
                },
            };
            execute(&project, selection, &options, &build, progress).await
        }
        Command::Plan { ids, options } => {
            let selected = select(&project, &ids)?;
            let selection = Selection {
                ids: in_order(&project, &selected),
                forced: BTreeSet::new(),
                cache: None,
            };
            show_plan(&project, selection, &options).await
        }
        Command::Daemon { .. } => Ok(Exit::Success),
        Command::Inspect { id, output } => {
            select(&project, std::slice::from_ref(&id))?;
            let image = project.config.image(&id).ok_or_else(|| {
                Failure::new(Exit::Usage, anyhow::anyhow!("unknown image `{id}`"))
            })?;
            let registry = connect_registry(&project, credentials(&project)?).await?;
            let inspection = crate::inspect::inspect(&project.config, image, &registry)
                .await
                .map_err(|error| Failure::new(registry_exit(&error), error))?;
            let text = match output {
                Output::Json => serde_json::to_string_pretty(&inspection)
                    .map(|json| json + "\n")
                    .unwrap_or_default(),
                Output::Human => {
                    crate::sanitize::terminal(&crate::inspect::render_text(&inspection))
                        .into_owned()
                }
            };
            let mut stdout = std::io::stdout().lock();
            let _ = stdout
                .write_all(text.as_bytes())
                .and_then(|_| stdout.flush());
            Ok(Exit::Success)
        }
        Command::Check {
            paths,
            build_args,
            output,
        } => check(&project, &paths, build_args.into_iter().collect(), output),
        Command::Ls { ids, output } => history::ls(&project, &ids, output).await,
        Command::Clean { ids } => clean(&project, &ids).await,
        Command::Prune {
            ids,
            keep,
            apply,
            output,
            wait_lock,
        } => {
            let options = history::PruneOptions {
                keep,
                apply,
                output,
                wait_lock,
            };
            history::prune(&project, &ids, &options).await
        }
        Command::Rollback {
            id,
            to,
            dry_run,
            output,
            wait_lock,
        } => history::rollback(&project, &id, to, dry_run, output, wait_lock).await,
    }
}

/// `golden check`: 1 when any Dockerfile breaks the policy, else 0.
fn check(
    project: &Project,
    paths: &[PathBuf],
    build_args: std::collections::BTreeMap<String, String>,
    output: CheckOutput,
) -> Result<Exit, Failure> {
    let files = crate::check::find_dockerfiles(paths)
        .map_err(|error| Failure::new(Exit::Usage, anyhow::anyhow!(error)))?;
    if files.is_empty() {
        return Err(Failure::new(
            Exit::Usage,
            anyhow::anyhow!("no Dockerfile found in the paths given\nhint: name Dockerfiles, or directories holding Dockerfile, *.Dockerfile, Dockerfile.* or Containerfile"),
        ));
    }
    let mut findings = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).map_err(|error| {
            Failure::new(
                Exit::Usage,
                anyhow::Error::new(error).context(format!("failed to read `{}`", file.display())),
            )
        })?;
        findings.extend(crate::check::check_text(
            &project.config,
            file,
            &text,
            &build_args,
        ));
    }
    let text = match output {
        CheckOutput::Human => crate::check::render_text(&findings, files.len()),
        CheckOutput::Json => crate::check::render_json(&findings, files.len()),
        CheckOutput::Sarif => crate::check::render_sarif(&findings),
    };
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush());
    Ok(if findings.is_empty() {
        Exit::Success
    } else {
        Exit::ImageFailed
    })
}

/// Loads the project; a missing or invalid config is a usage error (2).
fn load(path: &std::path::Path) -> Result<Project, Failure> {
    Project::load(path).map_err(|error| {
        let hinted = match &error {
            ConfigError::Read { .. } => anyhow::Error::new(error).context(format!(
                "no usable config at `{}`; hint: run golden where golden.toml is, or pass -c/--config PATH",
                path.display()
            )),
            ConfigError::Invalid(_) => anyhow::Error::new(error),
        };
        Failure::new(Exit::Usage, hinted)
    })
}

/// The `selected` ids in build order; every image when none is selected.
fn in_order(project: &Project, selected: &BTreeSet<String>) -> Vec<String> {
    let order = project.graph.order.iter();
    order
        .filter(|id| selected.is_empty() || selected.contains(*id))
        .cloned()
        .collect()
}

/// Checks that every id is configured.
fn select(project: &Project, ids: &[String]) -> Result<BTreeSet<String>, Failure> {
    let known: Vec<&str> = project
        .config
        .images
        .iter()
        .map(|image| image.id.as_str())
        .collect();
    for id in ids {
        if !known.contains(&id.as_str()) {
            let suggestion = closest(id, &known)
                .map(|near| format!("did you mean `{near}`? "))
                .unwrap_or_default();
            return Err(Failure::new(
                Exit::Usage,
                anyhow::anyhow!(
                    "unknown image `{id}` in `{}`\nhint: {suggestion}configured images: {}",
                    project.config.source.path.display(),
                    known.join(", ")
                ),
            ));
        }
    }
    Ok(ids.iter().cloned().collect())
}

/// Every registry host a run talks to: golden's and each upstream's.
fn registry_hosts(project: &Project) -> BTreeSet<String> {
    let mut hosts = BTreeSet::from([project.config.registry.host.clone()]);
    for node in project.graph.nodes.values() {
        if let Some(reference) = node.upstream.reference() {
            hosts.insert(reference.registry().to_string());
        }
    }
    hosts
}

/// Credentials for every host that has some; a broken store is a usage error.
fn credentials(project: &Project) -> Result<HashMap<String, Credentials>, Failure> {
    let mut found = HashMap::new();
    for host in registry_hosts(project) {
        let credentials = crate::credentials::for_registry(&host, &project.config.registry.host)
            .map_err(|error| Failure::new(Exit::Usage, error))?;
        if let Some(credentials) = credentials {
            tracing::debug!(registry = %host, username = %credentials.username, "using credentials");
            found.insert(host, credentials);
        }
    }
    Ok(found)
}

/// The CA files golden trusts besides the system's: `[registry] ca_file`
/// and, as the engine does, `/etc/docker/certs.d/<host>/*.crt`.
fn trusted_roots(project: &Project) -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = project.config.registry.ca_file.iter().cloned().collect();
    for host in registry_hosts(project) {
        let directory = std::path::Path::new(CERTS_DIRECTORY).join(&host);
        let Ok(entries) = std::fs::read_dir(&directory) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|e| e == "crt"))
            .collect();
        files.sort();
        roots.extend(files);
    }
    roots
}

/// Client certificates to present, as the engine does: certs.d
/// `<host>/client.cert` with `client.key`.
fn client_identities(project: &Project) -> HashMap<String, crate::distribution::ClientIdentity> {
    let mut identities = HashMap::new();
    for host in registry_hosts(project) {
        let directory = std::path::Path::new(CERTS_DIRECTORY).join(&host);
        let certificate = directory.join("client.cert");
        let key = directory.join("client.key");
        if certificate.is_file() && key.is_file() {
            identities.insert(
                host,
                crate::distribution::ClientIdentity { certificate, key },
            );
        }
    }
    identities
}

/// Where the engine looks for per-registry CA files.
const CERTS_DIRECTORY: &str = "/etc/docker/certs.d";

async fn connect_registry(
    project: &Project,
    credentials: HashMap<String, Credentials>,
) -> Result<Distribution, Failure> {
    let config = &project.config;
    let insecure = if config.registry.insecure {
        vec![config.registry.host.clone()]
    } else {
        Vec::new()
    };
    let settings = Settings {
        insecure,
        retries: config.registry.retries,
        roots: trusted_roots(project),
        identities: client_identities(project),
        credentials,
    };
    let registry = Distribution::new(settings).map_err(|e| Failure::new(Exit::Usage, e))?;
    let repository = crate::name::Repository::new(
        &config.registry.host,
        &format!("{}/probe", config.registry.namespace),
    )
    .map_err(|e| Failure::new(Exit::Usage, e))?;
    registry
        .check(&repository)
        .await
        .map_err(|error| Failure::new(registry_exit(&error), error))?;
    Ok(registry)
}

/// The exit code of a registry failure: 3 when it could not be reached,
/// else 1 (a registry that answers HTTP 500 was reached).
fn registry_exit(error: &crate::registry::RegistryError) -> Exit {
    if error.is_unreachable() {
        Exit::Unreachable
    } else {
        Exit::ImageFailed
    }
}

async fn show_plan(
    project: &Project,
    selection: Selection,
    options: &RunOptions,
) -> Result<Exit, Failure> {
    let registry = connect_registry(project, credentials(project)?).await?;
    let observations = observe(project, &registry, &selection.ids).await;
    let now = options.now.unwrap_or_else(Utc::now);
    let steps = plan(project, &observations, &selection, now);
    let report = plan_report(project, &steps, registry.requests());
    print(&report, options, plan_text)?;
    Ok(exit_of(&report))
}

async fn execute(
    project: &Project,
    selection: Selection,
    options: &RunOptions,
    build: &BuildOptions,
    progress: Arc<dyn Progress>,
) -> Result<Exit, Failure> {
    check_report_path(options)?;
    let stop = Stop::default();
    crate::signals::listen(stop.clone(), Arc::new(tokio::sync::Notify::new()));
    let started = std::time::Instant::now();
    let report = match build_once(project, &selection, options.now, &stop, build, progress).await {
        Ok(report) => report,
        Err(failure) => {
            // A run that failed before building still leaves its report.
            if let Some(path) = &options.report {
                let report = Report::failed(
                    render_chain(&failure.error),
                    started.elapsed().as_secs_f64(),
                );
                let _ = std::fs::write(path, json_of(&report));
            }
            notify_early_failure(project, &failure, started.elapsed().as_secs_f64()).await;
            return Err(failure);
        }
    };
    print(&report, options, run_text)?;
    crate::notify::after_run(&project.config, &report).await;
    if let Some(code) = stop.signal_code() {
        tracing::warn!("stopped by a signal after the images in flight finished");
        return Ok(if code == crate::signals::TERMINATED {
            Exit::Terminated
        } else {
            Exit::Interrupted
        });
    }
    Ok(exit_of(&report))
}

/// Notifies `[notify]` of a run that failed before building: not when
/// another run holds the lock (that run reports) or a signal stopped it.
pub(crate) async fn notify_early_failure(project: &Project, failure: &Failure, seconds: f64) {
    if !matches!(
        failure.exit,
        Exit::Locked | Exit::Interrupted | Exit::Terminated
    ) {
        let report = Report::failed(render_chain(&failure.error), seconds);
        crate::notify::after_run(&project.config, &report).await;
    }
}

/// `--report FILE` must be writable before anything is built: a run that
/// builds for an hour and then cannot write its report is exit 2 at once.
fn check_report_path(options: &RunOptions) -> Result<(), Failure> {
    let Some(path) = &options.report else {
        return Ok(());
    };
    let existed = path.exists();
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(|error| {
            Failure::new(
                Exit::Usage,
                anyhow::Error::new(error).context(format!(
                    "cannot write the report to `{}`; nothing was built\nhint: pass a --report path in a directory this user can write",
                    path.display()
                )),
            )
        })?;
    if !existed {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

fn json_of(report: &Report) -> String {
    serde_json::to_string_pretty(report)
        .map(|json| json + "\n")
        .unwrap_or_default()
}

/// 3 when every failure was an unreachable engine or registry, 1 when an
/// image failed or was skipped, else 0.
pub(crate) fn exit_of(report: &Report) -> Exit {
    let totals = &report.totals;
    if totals.failed > 0 && totals.failed == totals.unreachable {
        Exit::Unreachable
    } else if totals.failed + totals.skipped > 0 {
        Exit::ImageFailed
    } else {
        Exit::Success
    }
}

/// The lock of the config's registry namespace: exit 4 when another run
/// holds it past `wait`; `what` says what did not happen.
async fn lock(
    project: &Project,
    wait: std::time::Duration,
    what: &'static str,
) -> Result<crate::lock::RunLock, Failure> {
    let settings = &project.config.registry;
    // Every spelling of one registry takes one lock.
    let host = crate::reference::canonical_host(&settings.host);
    crate::lock::acquire(&host, &settings.namespace, wait)
        .await
        .map_err(|error| {
            let exit = match error {
                crate::lock::LockError::Busy { .. } => Exit::Locked,
                _ => Exit::Usage,
            };
            Failure::new(exit, anyhow::Error::new(error).context(what))
        })
}

/// The failure of a run that a signal stopped before it built anything.
fn stopped_before_building(code: i32) -> Failure {
    let exit = if code == crate::signals::INTERRUPTED {
        Exit::Interrupted
    } else {
        Exit::Terminated
    };
    Failure::new(
        exit,
        anyhow::anyhow!(
            "stopped by {} before anything was built (golden was waiting for the lock, the engine or the registry)",
            crate::signals::name(code)
        ),
    )
}

/// This run as its smoke-test containers record it: the namespace whose
/// lock it holds (the lock's key), host and process.
fn run_owner(project: &Project) -> crate::engine::RunOwner {
    let settings = &project.config.registry;
    crate::engine::RunOwner::current(format!("{}/{}", settings.host, settings.namespace))
}

/// Removes the smoke-test containers that dead runs left running (a
/// `kill -9` during a test). Not being able to is worth a warning only.
async fn remove_leftover_tests(engine: &DockerEngine) {
    match engine.remove_leftover_tests().await {
        Ok(removed) => {
            for (container, why) in removed {
                tracing::warn!(
                    "removed smoke-test container `{}` of `{}`, {why}",
                    container.short_id(),
                    container.image()
                );
            }
        }
        Err(error) => tracing::warn!("{error}; smoke-test containers of earlier runs may be left"),
    }
}

/// The engine this run talks to: `--engine`, `DOCKER_HOST`, `[engine]
/// host`, the docker context, the local socket (see `engine_address`).
fn engine_address(project: &Project) -> crate::engine_address::EngineAddress {
    let settings = &project.config.engine;
    let variable = |name: &str| std::env::var(name).ok();
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let named = settings.flag_host.is_some()
        || variable("DOCKER_HOST").is_some_and(|host| !host.is_empty())
        || settings.host.is_some();
    let context = (!named)
        .then(|| crate::engine_address::docker_context(variable, home.as_deref()))
        .flatten();
    crate::engine_address::resolve(
        settings.flag_host.as_deref(),
        settings.host.as_deref(),
        context,
        variable,
        home.as_deref(),
    )
}

/// `golden clean`: removes the local tags of every selected repository
/// (exact builds golden tagged on this engine), and with them the images
/// and layers nothing else uses. The registry is not touched.
async fn clean(project: &Project, ids: &[String]) -> Result<Exit, Failure> {
    use crate::engine::Engine as _;
    let selected = select(project, ids)?;
    let config = &project.config;
    let repositories: BTreeSet<crate::name::Repository> = config
        .images
        .iter()
        .filter(|image| selected.is_empty() || selected.contains(&image.id))
        .map(|image| config.repository(image))
        .collect();
    let probe_timeout = config
        .engine
        .probe_timeout
        .unwrap_or(crate::docker::DEFAULT_PROBE_TIMEOUT);
    let engine = DockerEngine::connect(&engine_address(project), probe_timeout)
        .await
        .map_err(|error| Failure::new(Exit::Unreachable, error))?;
    let mut removed = 0;
    for repository in &repositories {
        let reference = repository.reference();
        let failed = |error, removed| {
            Failure::new(
                Exit::ImageFailed,
                anyhow::Error::new(error).context(format!(
                    "failed to clean `{repository}` ({removed} tag(s) removed before)"
                )),
            )
        };
        let tags = engine
            .local_tags(&reference)
            .await
            .map_err(|error| failed(error, removed))?;
        for tag in tags {
            engine
                .remove_local(&reference.with_tag(&tag))
                .await
                .map_err(|error| failed(error, removed))?;
            tracing::info!("removed {repository}:{tag}");
            removed += 1;
        }
    }
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(
        stdout,
        "removed {removed} local tag(s) of {} repository(ies)",
        repositories.len()
    );
    Ok(Exit::Success)
}

/// One build run: connect, observe, plan, execute; the report of it.
pub(crate) async fn build_once(
    project: &Project,
    selection: &Selection,
    now: Option<DateTime<Utc>>,
    stop: &Stop,
    build: &BuildOptions,
    progress: Arc<dyn Progress>,
) -> Result<Report, Failure> {
    let started = Instant::now();
    // Nothing is built before the plan, so a signal abandons this phase at
    // once instead of waiting for a registry that does not answer.
    let prepare = async {
        let run_lock = lock(project, build.wait_lock, "nothing was built").await?;
        let credentials = credentials(project)?;
        let engine_settings = &project.config.engine;
        let probe_timeout = engine_settings
            .probe_timeout
            .unwrap_or(crate::docker::DEFAULT_PROBE_TIMEOUT);
        let engine = DockerEngine::connect(&engine_address(project), probe_timeout)
            .await
            .map_err(|error| Failure::new(Exit::Unreachable, error))?
            .with_credentials(credentials.clone())
            .with_owner(run_owner(project));
        remove_leftover_tests(&engine).await;
        let registry = connect_registry(project, credentials).await?;
        let (observations, revision) = futures::join!(
            observe(project, &registry, &selection.ids),
            revision(&project.config)
        );
        Ok::<_, Failure>((run_lock, engine, registry, observations, revision))
    };
    let (_lock, engine, registry, observations, revision) = tokio::select! {
        code = crate::signals::stopped(stop) => return Err(stopped_before_building(code)),
        prepared = prepare => prepared?,
    };
    let steps = plan(
        project,
        &observations,
        selection,
        now.unwrap_or_else(Utc::now),
    );
    let due = steps
        .iter()
        .filter(|s| s.decision == Decision::Build)
        .count();
    // Nothing due is said by the report (and the daemon's one tick line).
    if due > 0 {
        tracing::info!(due, images = steps.len(), "planned");
    } else {
        tracing::debug!(due, images = steps.len(), "planned");
    }
    let runner = Runner {
        project,
        engine: &engine,
        registry: &registry,
        observations: &observations,
        revision,
        stop: stop.clone(),
        jobs: usize::from(build.jobs),
        fail_fast: build.fail_fast,
        progress,
    };
    let outcomes = runner.run(&steps).await;
    Ok(run_report(
        project,
        &steps,
        &outcomes,
        started.elapsed().as_secs_f64(),
        registry.requests(),
    ))
}

/// Writes the report on stdout (a closed pipe is not an error) and, with
/// `--report FILE`, the JSON document to FILE.
fn print(
    report: &Report,
    options: &RunOptions,
    human: fn(&Report) -> String,
) -> Result<(), Failure> {
    let json = || json_of(report);
    let text = match options.output {
        Output::Json => json(),
        Output::Human => crate::sanitize::terminal(&human(report)).into_owned(),
    };
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush());
    if let Some(path) = &options.report {
        std::fs::write(path, json()).map_err(|error| {
            Failure::new(
                Exit::Usage,
                anyhow::Error::new(error).context(format!(
                    "failed to write the report to `{}`",
                    path.display()
                )),
            )
        })?;
    }
    Ok(())
}
