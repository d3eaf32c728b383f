//! What every command needs before it observes anything: the loaded
//! config, the images it selects (in build order), credentials, the CA
//! roots and client certificates of each registry, the connected (probed)
//! registry and engine, the run lock, and the removal of smoke-test
//! containers that dead runs left behind.
//!
//! Failures come back as [`Failure`]s that carry their exit code; nothing
//! here prints or knows about command-line arguments.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::anyhow;

use std::sync::Arc;

use crate::config::builders::BuilderChoice;
use crate::config::{ConfigError, Image, PoolEngine};
use crate::diagnostic::closest;
use crate::engine::address::EngineAddress;
use crate::engine::docker::DockerEngine;
use crate::engine::{Engine, RunOwner, Unavailable};
use crate::exit::{Exit, Failure};
use crate::hint::Hinted;
use crate::lock::RunLock;
use crate::platform::Platform;
use crate::pool::{Member, Pool};
use crate::project::Project;
use crate::registry::credentials::Credentials;
use crate::registry::distribution::{ClientIdentity, Distribution, Settings};
use crate::registry::Registry;
use crate::regular_file::RegularFileError;

/// Where the engine looks for per-registry CA files and client certificates.
const CERTS_DIRECTORY: &str = "/etc/docker/certs.d";

/// One loaded config and the connections made for it.
pub struct Session {
    /// The config and its image graph.
    pub project: Project,
}

impl From<Project> for Session {
    fn from(project: Project) -> Session {
        Session { project }
    }
}

impl Session {
    /// Loads the config at `path`; a missing or invalid config is a usage
    /// error (2). `engine` is `--engine`, over every other engine setting.
    pub fn open(path: &Path, engine: Option<String>) -> Result<Session, Failure> {
        let mut project = crate::load::project(path).map_err(|error| {
            let hinted = match &error {
                ConfigError::Read { problem, .. } => {
                    let hint = match problem {
                        RegularFileError::Missing | RegularFileError::Io(_) => {
                            "run golden where golden.toml is, or pass -c/--config PATH"
                        }
                        _ => "the config must be a regular file of TOML text; pass -c/--config PATH to one",
                    };
                    anyhow::Error::new(
                        Hinted::new(format!("no usable config at `{}`", path.display()), hint)
                            .caused_by(error),
                    )
                }
                ConfigError::Invalid(_) => anyhow::Error::new(error),
            };
            Failure::usage(hinted)
        })?;
        project.config.engine.flag_host = engine;
        project.failing = crate::failures::load(&project.config);
        Ok(Session { project })
    }

    /// For a command that notifies: `[notify]`'s webhook must be readable
    /// now (exit 2 with the located problem otherwise). Commands that
    /// never notify do not ask.
    pub fn check_notify(&self) -> Result<(), Failure> {
        let problems = &self.project.config.notify_problems;
        if problems.is_empty() {
            return Ok(());
        }
        Err(Failure::usage(ConfigError::Invalid(
            crate::diagnostic::Diagnostics(problems.clone()),
        )))
    }

    /// Checks that every id is configured.
    pub fn select(&self, ids: &[String]) -> Result<BTreeSet<String>, Failure> {
        let known: Vec<&str> = self
            .project
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
                return Err(Failure::usage(Hinted::new(
                    format!(
                        "unknown image `{id}` in `{}`",
                        self.project.config.source.path.display()
                    ),
                    format!("{suggestion}configured images: {}", known.join(", ")),
                )));
            }
        }
        Ok(ids.iter().cloned().collect())
    }

    /// The `selected` ids in build order; every image when none is selected.
    pub fn in_order(&self, selected: &BTreeSet<String>) -> Vec<String> {
        let order = self.project.graph.order.iter();
        order
            .filter(|id| selected.is_empty() || selected.contains(*id))
            .cloned()
            .collect()
    }

    /// The images `ids` names, all when none; in config order.
    pub fn images(&self, ids: &[String]) -> Result<Vec<&Image>, Failure> {
        let selected = self.select(ids)?;
        Ok(self
            .project
            .config
            .images
            .iter()
            .filter(|image| selected.is_empty() || selected.contains(&image.id))
            .collect())
    }

    /// The one image `id` names.
    pub fn image(&self, id: &str) -> Result<&Image, Failure> {
        self.select(std::slice::from_ref(&id.to_string()))?;
        self.project
            .config
            .image(id)
            .ok_or_else(|| Failure::usage(anyhow!("unknown image `{id}`")))
    }

    /// Every registry host a run talks to: golden's and each upstream's.
    fn registry_hosts(&self) -> BTreeSet<String> {
        let project = &self.project;
        let mut hosts = BTreeSet::from([project.config.registry.host.clone()]);
        for node in project.graph.nodes.values() {
            if let Some(reference) = node.upstream.reference() {
                hosts.insert(reference.registry().to_string());
            }
        }
        hosts
    }

    /// Credentials for every host that has some; a broken store is a usage
    /// error.
    pub fn credentials(&self) -> Result<HashMap<String, Credentials>, Failure> {
        let mut found = HashMap::new();
        for host in self.registry_hosts() {
            let credentials = crate::registry::credentials::for_registry(
                &host,
                &self.project.config.registry.host,
            )
            .map_err(Failure::usage)?;
            if let Some(credentials) = credentials {
                tracing::debug!(registry = %host, username = %credentials.username, "using credentials");
                found.insert(host, credentials);
            }
        }
        Ok(found)
    }

    /// The CA files golden trusts besides the system's: `[registry] ca_file`
    /// and, as the engine does, `/etc/docker/certs.d/<host>/*.crt`.
    fn trusted_roots(&self) -> Vec<PathBuf> {
        let registry = &self.project.config.registry;
        let mut roots: Vec<PathBuf> = registry.ca_file.iter().cloned().collect();
        for host in self.registry_hosts() {
            let directory = Path::new(CERTS_DIRECTORY).join(&host);
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
    fn client_identities(&self) -> HashMap<String, ClientIdentity> {
        let mut identities = HashMap::new();
        for host in self.registry_hosts() {
            let directory = Path::new(CERTS_DIRECTORY).join(&host);
            let certificate = directory.join("client.cert");
            let key = directory.join("client.key");
            if certificate.is_file() && key.is_file() {
                identities.insert(host, ClientIdentity { certificate, key });
            }
        }
        identities
    }

    /// The registry client, once a probe showed golden's registry answers.
    pub async fn connect_registry(
        &self,
        credentials: HashMap<String, Credentials>,
    ) -> Result<Distribution, Failure> {
        let config = &self.project.config;
        let insecure = if config.registry.insecure {
            vec![config.registry.host.clone()]
        } else {
            Vec::new()
        };
        let settings = Settings {
            insecure,
            retries: config.registry.retries,
            roots: self.trusted_roots(),
            identities: self.client_identities(),
            credentials,
        };
        let registry = Distribution::new(settings).map_err(Failure::usage)?;
        let repository = crate::name::Repository::new(
            &config.registry.host,
            &format!("{}/probe", config.registry.namespace),
        )
        .map_err(Failure::usage)?;
        registry
            .check(&repository)
            .await
            .map_err(|error| Failure::new(Exit::of_registry(&error), error))?;
        Ok(registry)
    }

    /// The engine this run talks to: `--engine`, `DOCKER_HOST`, `[engine]
    /// host`, the docker context, the local socket (see `engine_address`).
    pub fn engine_address(&self) -> EngineAddress {
        let settings = &self.project.config.engine;
        let variable = |name: &str| std::env::var(name).ok();
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let named = settings.flag_host.is_some()
            || variable("DOCKER_HOST").is_some_and(|host| !host.is_empty())
            || settings.host.is_some();
        let context = (!named)
            .then(|| crate::engine::address::docker_context(variable, home.as_deref()))
            .flatten();
        crate::engine::address::resolve(
            settings.flag_host.as_deref(),
            settings.host.as_deref(),
            context,
            variable,
            home.as_deref(),
        )
    }

    /// The engines of this run, not yet connected: `[[engines]]` (or the
    /// member `--engine` names, or the one address it gives), else the one
    /// engine of [`Session::engine_address`].
    pub fn pool_plan(&self) -> Vec<PlannedEngine> {
        let settings = &self.project.config.engine;
        let flag = settings.flag_host.as_deref();
        let named = flag.and_then(|flag| settings.pool.iter().find(|member| member.name == flag));
        let members: Vec<&PoolEngine> = match (named, flag) {
            (Some(member), _) => vec![member],
            (None, Some(_)) => Vec::new(),
            (None, None) => settings.pool.iter().collect(),
        };
        if members.is_empty() {
            let address = self.engine_address();
            return vec![PlannedEngine {
                name: address.host.clone(),
                address,
                platforms: Vec::new(),
                jobs: None,
                labels: BTreeSet::new(),
                builder: settings.builder,
            }];
        }
        members
            .into_iter()
            .map(|member| {
                let tls = member
                    .cert_path
                    .as_deref()
                    .map(crate::engine::address::TlsFiles::in_directory);
                let tls = tls.or_else(|| {
                    member
                        .host
                        .starts_with("https://")
                        .then(|| self.engine_address_for(&member.host).tls)
                        .flatten()
                });
                PlannedEngine {
                    name: member.name.clone(),
                    address: EngineAddress {
                        host: member.host.clone(),
                        tls,
                        source: format!("[[engines]] `{}`", member.name),
                    },
                    platforms: member.platforms.clone(),
                    jobs: member.jobs,
                    labels: member.labels.iter().cloned().collect(),
                    builder: member.builder,
                }
            })
            .collect()
    }

    /// The address `host` resolves to as if it were `--engine` (for the
    /// TLS files of an https:// pool member).
    fn engine_address_for(&self, host: &str) -> EngineAddress {
        let variable = |name: &str| std::env::var(name).ok();
        let home = std::env::var_os("HOME").map(PathBuf::from);
        crate::engine::address::resolve(Some(host), None, None, variable, home.as_deref())
    }

    /// Every engine of the run, probed at once: connected, or why not.
    pub async fn probe_engines(
        &self,
    ) -> Vec<(
        PlannedEngine,
        Result<DockerEngine, crate::engine::EngineError>,
    )> {
        let probe_timeout = self
            .project
            .config
            .engine
            .probe_timeout
            .unwrap_or(crate::engine::docker::DEFAULT_PROBE_TIMEOUT);
        let planned = self.pool_plan();
        let connections = futures::future::join_all(
            planned
                .iter()
                .map(|engine| DockerEngine::connect(&engine.address, probe_timeout)),
        )
        .await;
        planned.into_iter().zip(connections).collect()
    }

    /// The pool of this run: every engine that answered, each running
    /// `jobs` builds at once unless its entry says otherwise, with the
    /// credentials and the run's owner, and the smoke-test containers dead
    /// runs left on it removed. An engine that does not answer is reported
    /// and left out; none answering is exit 3.
    pub async fn connect_pool(
        &self,
        jobs: usize,
        credentials: &HashMap<String, Credentials>,
    ) -> Result<Pool, Failure> {
        let probed = self.probe_engines().await;
        let pooled = probed.len() > 1;
        let mut members = Vec::with_capacity(probed.len());
        let mut down = Vec::new();
        let mut first_error = None;
        for (index, (planned, connection)) in probed.into_iter().enumerate() {
            let (engine, platforms): (Arc<dyn Engine>, Vec<Platform>) = match connection {
                Ok(engine) => {
                    let proxies = crate::engine::proxies::from_docker_config(
                        docker_config_directory().as_deref(),
                        engine.host(),
                    );
                    let engine = engine
                        .with_credentials(credentials.clone())
                        .with_owner(self.run_owner())
                        .with_proxies(proxies);
                    remove_leftover_tests(&engine).await;
                    let platforms = match planned.platforms.is_empty() {
                        true => engine.platform().cloned().into_iter().collect(),
                        false => planned.platforms.clone(),
                    };
                    (Arc::new(engine), platforms)
                }
                Err(error) => {
                    if pooled {
                        tracing::warn!(
                            "engine `{}` ({}) is unreachable: {error}; its work goes to the other engines",
                            planned.name,
                            planned.address.host,
                        );
                    }
                    let why = error.to_string();
                    first_error.get_or_insert(error);
                    down.push(index);
                    (Arc::new(Unavailable { why }), planned.platforms.clone())
                }
            };
            members.push(Member {
                name: planned.name,
                host: planned.address.host,
                engine,
                platforms,
                jobs: planned.jobs.unwrap_or(jobs).max(1),
                labels: planned.labels,
                builder: planned.builder,
            });
        }
        if let (true, Some(error)) = (down.len() == members.len(), first_error) {
            let error = anyhow::Error::new(error);
            let error = match pooled {
                true => error.context("no engine of the pool answered; nothing was built"),
                false => error,
            };
            return Err(Failure::new(Exit::Unreachable, error));
        }
        Ok(Pool::new(members, &down))
    }

    /// The lock of the config's registry namespace: exit 4 when another run
    /// holds it past `wait`; `what` says what did not happen.
    pub async fn lock(&self, wait: Duration, what: &'static str) -> Result<RunLock, Failure> {
        let settings = &self.project.config.registry;
        // Every spelling of one registry takes one lock.
        let host = crate::reference::canonical_host(&settings.host);
        crate::lock::acquire(&host, &settings.namespace, wait)
            .await
            .map_err(|error| {
                let exit = Exit::of_lock(&error);
                Failure::new(exit, anyhow::Error::new(error).context(what))
            })
    }

    /// This run as its smoke-test containers record it: the namespace whose
    /// lock it holds (the lock's key), host and process.
    pub fn run_owner(&self) -> RunOwner {
        let settings = &self.project.config.registry;
        RunOwner::current(format!("{}/{}", settings.host, settings.namespace))
    }
}

/// One engine of a run before it is connected.
#[derive(Debug, Clone)]
pub struct PlannedEngine {
    pub name: String,
    pub address: EngineAddress,
    /// Configured native platforms; empty: what the engine reports.
    pub platforms: Vec<Platform>,
    pub jobs: Option<usize>,
    pub labels: BTreeSet<String>,
    /// What the engine may run (`builder` of its entry, or `[engine]`).
    pub builder: BuilderChoice,
}

/// Removes the smoke-test containers that dead runs left running (a
/// `kill -9` during a test). Not being able to is worth a warning only.
pub async fn remove_leftover_tests(engine: &DockerEngine) {
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

/// The docker CLI's config directory: `DOCKER_CONFIG`, else `~/.docker`.
fn docker_config_directory() -> Option<PathBuf> {
    std::env::var_os("DOCKER_CONFIG")
        .filter(|value| !value.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".docker")))
}
