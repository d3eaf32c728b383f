//! `[registry]` of golden.toml: where golden images are pushed (`host`,
//! `namespace`), how (`insecure`, `retries`, `ca_file`), and whether a
//! public registry is intended (`allow_public`).

use std::path::{Path, PathBuf};

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::paths::{path_problem, PathKind};
use super::Reader;
use crate::reference::{validate_domain, validate_path};

pub(super) const REGISTRY_KEYS: &[&str] = &[
    "host",
    "namespace",
    "insecure",
    "retries",
    "ca_file",
    "allow_public",
];
/// Registries where anyone can read what is pushed (a new Docker Hub
/// repository is public by default); pushing there needs `allow_public`.
pub const PUBLIC_REGISTRIES: &[&str] = &[
    "docker.io",
    "index.docker.io",
    "registry-1.docker.io",
    "ghcr.io",
    "quay.io",
    "gcr.io",
    "public.ecr.aws",
    "registry.gitlab.com",
    "mcr.microsoft.com",
    "registry.k8s.io",
];
/// Retries of a transient registry failure unless `retries` says otherwise.
pub const DEFAULT_RETRIES: u32 = 4;

/// Where golden images are pushed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrySettings {
    pub host: String,
    pub namespace: String,
    pub insecure: bool,
    /// Retries of a transient failure (connection refused or reset, 5xx, 429).
    pub retries: u32,
    /// A PEM file of certificate authorities to trust for this registry.
    pub ca_file: Option<PathBuf>,
    /// Whether pushing to a public registry is intended.
    pub allow_public: bool,
}

impl Reader<'_> {
    /// `[registry]`; `None` when `host` or `namespace` is missing or
    /// `registry` is not a table (every other problem is reported too).
    pub(super) fn registry(&mut self, value: &Spanned<DeValue<'_>>) -> Option<RegistrySettings> {
        let table = self.table(value, "registry")?;
        let section = "[registry]";
        self.check_keys(table, section, REGISTRY_KEYS);
        let span = value.span();
        let host: Option<Spanned<String>> = self.required(
            table,
            &span,
            section,
            "host",
            "a string `host[:port]`, e.g. \"registry.local:5000\"",
        );
        let namespace: Option<Spanned<String>> = self.required(
            table,
            &span,
            section,
            "namespace",
            "a string of path segments, e.g. \"golden\"",
        );
        let insecure = self
            .value::<bool>(table, section, "insecure", "true or false")
            .map(Spanned::into_inner);
        if let Some(host) = &host {
            self.check_registry_host(host);
        }
        if let Some(namespace) = &namespace {
            self.check_namespace(namespace);
        }
        let retries = self.retries(table, section);
        let ca_file = self.ca_file(table, section);
        let allow_public = self
            .value::<bool>(table, section, "allow_public", "true or false")
            .map(Spanned::into_inner)
            .unwrap_or(false);
        if let Some(host) = &host {
            self.check_public(host, allow_public);
        }
        Some(RegistrySettings {
            host: host?.into_inner(),
            namespace: namespace?.into_inner(),
            insecure: insecure.unwrap_or(false),
            retries,
            ca_file,
            allow_public,
        })
    }

    /// `host` is `host[:port]`, without a scheme.
    fn check_registry_host(&mut self, host: &Spanned<String>) {
        let text = host.get_ref();
        if let Some(stripped) = text.split_once("://") {
            self.problem(
                host.span(),
                format!("registry host `{text}` must not include a scheme"),
                "remove the scheme",
                Some(format!(
                    "write `host = \"{}\"`; set `insecure = true` for plain HTTP",
                    stripped.1
                )),
            );
        } else if let Err(error) = validate_domain(text) {
            self.problem(
                host.span(),
                format!("invalid registry host: {error}"),
                "invalid host",
                Some("write the registry as host[:port], e.g. \"registry.local:5000\"".into()),
            );
        }
    }

    /// `namespace` is lowercase path segments.
    fn check_namespace(&mut self, namespace: &Spanned<String>) {
        if let Err(error) = validate_path(namespace.get_ref()) {
            self.problem(
                namespace.span(),
                format!(
                    "invalid registry namespace `{}`: {error}",
                    namespace.get_ref()
                ),
                "invalid namespace",
                Some(
                    "use lowercase path segments such as \"golden\" or \"platform/golden\"".into(),
                ),
            );
        }
    }

    /// `retries`, at most 10 (more is reported and read as 10);
    /// [`DEFAULT_RETRIES`] when not written or invalid.
    fn retries(&mut self, table: &DeTable<'_>, section: &str) -> u32 {
        let retries = self.value::<u32>(table, section, "retries", "a whole number from 0 to 10");
        if let Some(count) = retries.as_ref().filter(|count| *count.get_ref() > 10) {
            self.problem(
                count.span(),
                format!(
                    "`retries` in {section} is {}, more than 10",
                    count.get_ref()
                ),
                "too many",
                Some("retries back off up to 8s each; 10 is already over a minute".into()),
            );
        }
        retries.map_or(DEFAULT_RETRIES, |count| (*count.get_ref()).min(10))
    }

    /// `ca_file`, relative to the config file: a regular file.
    fn ca_file(&mut self, table: &DeTable<'_>, section: &str) -> Option<PathBuf> {
        let file = self.value::<String>(
            table,
            section,
            "ca_file",
            "a path to a PEM file, relative to the config file",
        )?;
        let path = self
            .file
            .path
            .parent()
            .unwrap_or(Path::new("."))
            .join(file.get_ref());
        let Some((problem, label)) = path_problem(self.files, &path, PathKind::File) else {
            return Some(path);
        };
        self.problem(
            file.span(),
            format!("CA file `{}` {problem}", path.display()),
            label,
            Some(match label {
                "no such file" => "paths are relative to the directory of golden.toml".into(),
                _ => "`ca_file` must name a regular PEM file of CA certificates; golden never opens a pipe or a device".into(),
            }),
        );
        None
    }

    /// A public registry `host` needs `allow_public = true`.
    fn check_public(&mut self, host: &Spanned<String>, allow_public: bool) {
        let name = host.get_ref().split(':').next().unwrap_or_default();
        if PUBLIC_REGISTRIES.contains(&name) && !allow_public {
            self.problem(
                host.span(),
                format!("`{}` is a public registry: golden images pushed there may be readable by anyone", host.get_ref()),
                "public registry",
                Some("push golden images to an internal registry; if this is intended, set `allow_public = true` in [registry] (a new Docker Hub repository is public by default)".into()),
            );
        }
    }
}
