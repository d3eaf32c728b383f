//! `[engine]` of golden.toml: how to reach the Docker Engine (`host`), the
//! network RUN steps get and how long the first contact may wait; and the
//! check of an engine address, shared with `[[engines]]`.

use std::time::Duration;

use toml::de::DeValue;
use toml::Spanned;

use super::engines::PoolEngine;
use super::Reader;
use crate::duration::ConfigDuration;

/// The engine address schemes golden connects to.
const ENGINE_SCHEMES: &[&str] = &[
    "unix://", "tcp://", "http://", "https://", "ssh://", "npipe://",
];
pub(super) const ENGINE_KEYS: &[&str] = &["host", "network", "probe_timeout", "builder"];

/// The network RUN steps get.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    #[default]
    Default,
    Host,
    None,
}

impl Network {
    /// The engine's name for this network mode.
    pub fn as_str(self) -> &'static str {
        match self {
            Network::Default => "default",
            Network::Host => "host",
            Network::None => "none",
        }
    }
}

/// How to reach the Docker Engine.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EngineSettings {
    pub host: Option<String>,
    pub network: Network,
    /// How long the first contact may wait for an answer (default 10s).
    pub probe_timeout: Option<Duration>,
    /// `--engine` on the command line (never read from the file): over
    /// `DOCKER_HOST` and `host`; with a pool, a member's name or an address.
    pub flag_host: Option<String>,
    /// `[[engines]]`: a build pool; empty for the one engine of `[engine]`.
    pub pool: Vec<PoolEngine>,
    /// `[engine] builder`: what the engine may run; with `[[engines]]`,
    /// what each engine that sets none may run.
    pub builder: super::builders::BuilderChoice,
}

impl Reader<'_> {
    /// `[engine]`; its defaults when it is not a table.
    pub(super) fn engine(&mut self, value: &Spanned<DeValue<'_>>) -> EngineSettings {
        let Some(table) = self.table(value, "engine") else {
            return EngineSettings::default();
        };
        let section = "[engine]";
        self.check_keys(table, section, ENGINE_KEYS);
        let host: Option<Spanned<String>> = self.value(
            table,
            section,
            "host",
            "a string such as \"unix:///var/run/docker.sock\" or \"tcp://127.0.0.1:2375\"",
        );
        if let Some(host) = &host {
            self.check_engine_host(host);
        }
        let network = self.value::<Network>(
            table,
            section,
            "network",
            "one of \"default\", \"host\" or \"none\"",
        );
        let probe_timeout = self.value::<ConfigDuration>(
            table,
            section,
            "probe_timeout",
            "a duration such as \"10s\", \"1m\" or \"1m30s\"",
        );
        EngineSettings {
            host: host.map(Spanned::into_inner),
            network: network.map(Spanned::into_inner).unwrap_or_default(),
            probe_timeout: probe_timeout.map(|timeout| timeout.into_inner().0),
            flag_host: None,
            pool: Vec::new(),
            builder: self
                .builder(table, section)
                .map(Spanned::into_inner)
                .unwrap_or_default(),
        }
    }

    /// Whether an engine host has a scheme golden speaks and a valid port;
    /// reports the problem when not.
    pub(super) fn check_engine_host(&mut self, host: &Spanned<String>) -> bool {
        if !ENGINE_SCHEMES
            .iter()
            .any(|scheme| host.get_ref().starts_with(scheme))
        {
            self.problem(
                host.span(),
                format!("engine host `{}` has no supported scheme", host.get_ref()),
                "unsupported scheme",
                Some(
                    "use unix:///path/to/docker.sock, tcp://HOST:PORT (TLS with DOCKER_TLS_VERIFY and DOCKER_CERT_PATH), https://HOST:PORT or ssh://USER@HOST"
                        .into(),
                ),
            );
            false
        } else if let Some(problem) = engine_port_problem(host.get_ref()) {
            self.problem(
                host.span(),
                format!("engine host `{}`: {problem}", host.get_ref()),
                "invalid port",
                Some("dockerd listens on 2375 (plain) or 2376 (TLS) unless told otherwise, e.g. \"tcp://127.0.0.1:2375\"".into()),
            );
            false
        } else {
            true
        }
    }
}

/// What is wrong with the port of a `tcp://`, `http://` or `https://`
/// engine address, if anything: a port above 65535 must be a configuration
/// error, not a connection that fails later.
fn engine_port_problem(host: &str) -> Option<String> {
    let (scheme, rest) = host.split_once("://")?;
    if !matches!(scheme, "tcp" | "http" | "https") {
        return None;
    }
    let authority = rest.split('/').next().unwrap_or_default();
    let port = match authority.rsplit_once(']') {
        Some((_, after)) => after.strip_prefix(':')?,
        None => authority.rsplit_once(':')?.1,
    };
    if port.is_empty() || !port.chars().all(|c| c.is_ascii_digit()) {
        return Some(format!("port `{port}` is not a number"));
    }
    match port.parse::<u16>() {
        Ok(1..) => None,
        _ => Some(format!("port {port} is out of range: ports are 1 to 65535")),
    }
}
