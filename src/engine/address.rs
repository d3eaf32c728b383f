//! Which Docker Engine golden talks to, and how: the address and, for TCP,
//! the TLS files, chosen as the docker CLI chooses them. Precedence: the
//! `--engine` flag, then `DOCKER_HOST`, then `[engine] host` in
//! golden.toml, then the current docker context (`DOCKER_CONTEXT`, else
//! `currentContext` in the docker config), then the local socket.
//!
//! TLS: a `tcp://` address with `DOCKER_TLS_VERIFY` set, an `https://`
//! address, or a context with TLS material uses `ca.pem`, `cert.pem` and
//! `key.pem` from `DOCKER_CERT_PATH` (default `~/.docker`) or the
//! context's TLS directory, as the docker CLI does. A missing file is an
//! error naming it.
//!
//! [`resolve`] is pure (the environment and the context are handed in);
//! [`docker_context`] reads the docker CLI's context store.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The local socket, when nothing names an engine.
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// The client certificate and the CA a TLS engine is reached with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TlsFiles {
    /// `ca.pem`, `cert.pem` and `key.pem` in `directory`.
    pub fn in_directory(directory: &Path) -> TlsFiles {
        TlsFiles {
            ca: directory.join("ca.pem"),
            cert: directory.join("cert.pem"),
            key: directory.join("key.pem"),
        }
    }

    /// The first of the three files that is not a readable regular file.
    pub fn missing(&self) -> Option<&Path> {
        [&self.ca, &self.cert, &self.key]
            .into_iter()
            .find(|path| !path.is_file())
            .map(PathBuf::as_path)
    }
}

/// An engine endpoint of a docker context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextEndpoint {
    pub name: String,
    pub host: String,
    /// The context's TLS directory, when it has one.
    pub tls: Option<TlsFiles>,
}

/// Where the engine is, how to reach it and which setting said so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineAddress {
    pub host: String,
    pub tls: Option<TlsFiles>,
    /// `--engine`, `DOCKER_HOST`, `[engine] host`, `docker context NAME` or
    /// `the local socket`.
    pub source: String,
}

/// The engine address by the precedence above; `variable` reads the
/// environment, `home` is the user's home directory.
pub fn resolve(
    flag: Option<&str>,
    configured: Option<&str>,
    context: Option<ContextEndpoint>,
    variable: impl Fn(&str) -> Option<String>,
    home: Option<&Path>,
) -> EngineAddress {
    let set = |name: &str| variable(name).filter(|value| !value.is_empty());
    let named = flag
        .map(|host| (host.to_string(), "--engine".to_string()))
        .or_else(|| set("DOCKER_HOST").map(|host| (host, "DOCKER_HOST".to_string())))
        .or_else(|| configured.map(|host| (host.to_string(), "[engine] host".to_string())));
    let (host, source) = match named {
        Some(named) => named,
        None => match context {
            Some(context) => {
                return EngineAddress {
                    host: context.host,
                    tls: context.tls,
                    source: format!("docker context `{}`", context.name),
                }
            }
            None => (DEFAULT_HOST.to_string(), "the local socket".to_string()),
        },
    };
    let tls_wanted = host.starts_with("https://")
        || (host.starts_with("tcp://") && set("DOCKER_TLS_VERIFY").is_some());
    let tls = tls_wanted.then(|| {
        let directory = set("DOCKER_CERT_PATH")
            .map(PathBuf::from)
            .or_else(|| home.map(|home| home.join(".docker")))
            .unwrap_or_else(|| PathBuf::from(".docker"));
        TlsFiles::in_directory(&directory)
    });
    EngineAddress { host, tls, source }
}

/// The docker CLI's current context, when it names one other than
/// `default`: `DOCKER_CONTEXT`, else `currentContext` in
/// `$DOCKER_CONFIG/config.json` (default `~/.docker`). A context that
/// cannot be read is logged and ignored.
pub fn docker_context(
    variable: impl Fn(&str) -> Option<String>,
    home: Option<&Path>,
) -> Option<ContextEndpoint> {
    let directory = variable("DOCKER_CONFIG")
        .filter(|value| !value.is_empty())
        .map(PathBuf::from)
        .or_else(|| home.map(|home| home.join(".docker")))?;
    let name = variable("DOCKER_CONTEXT")
        .filter(|value| !value.is_empty())
        .or_else(|| {
            let text = std::fs::read_to_string(directory.join("config.json")).ok()?;
            let config: serde_json::Value = serde_json::from_str(&text).ok()?;
            config["currentContext"].as_str().map(str::to_string)
        })
        .filter(|name| name != "default")?;
    // The CLI stores a context under the sha256 of its name.
    let id = format!("{:x}", Sha256::digest(name.as_bytes()));
    let meta = directory.join("contexts/meta").join(&id).join("meta.json");
    let parsed = std::fs::read_to_string(&meta)
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok());
    let Some(host) = parsed
        .as_ref()
        .and_then(|meta| meta["Endpoints"]["docker"]["Host"].as_str())
    else {
        tracing::warn!(
            "docker context `{name}` has no engine endpoint in `{}`; ignoring it",
            meta.display()
        );
        return None;
    };
    let tls_directory = directory.join("contexts/tls").join(&id).join("docker");
    let tls = tls_directory
        .is_dir()
        .then(|| TlsFiles::in_directory(&tls_directory));
    Some(ContextEndpoint {
        name,
        host: host.to_string(),
        tls,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.to_string())
        }
    }

    #[test]
    fn the_flag_then_docker_host_then_the_config_then_a_context_then_the_socket() {
        let home = Path::new("/home/ops");
        let context = || {
            Some(ContextEndpoint {
                name: "remote".into(),
                host: "tcp://build.lan:2376".into(),
                tls: None,
            })
        };
        let docker_host = env(&[("DOCKER_HOST", "unix:///tmp/env.sock")]);
        let chosen = |flag, configured, context, variable: &dyn Fn(&str) -> Option<String>| {
            let address = resolve(flag, configured, context, variable, Some(home));
            (address.host, address.source)
        };
        assert_eq!(
            chosen(
                Some("unix:///tmp/flag.sock"),
                Some("unix:///tmp/config.sock"),
                context(),
                &docker_host
            ),
            ("unix:///tmp/flag.sock".into(), "--engine".into())
        );
        assert_eq!(
            chosen(
                None,
                Some("unix:///tmp/config.sock"),
                context(),
                &docker_host
            ),
            ("unix:///tmp/env.sock".into(), "DOCKER_HOST".into())
        );
        assert_eq!(
            chosen(
                None,
                Some("unix:///tmp/config.sock"),
                context(),
                &env(&[("DOCKER_HOST", "")])
            ),
            ("unix:///tmp/config.sock".into(), "[engine] host".into())
        );
        assert_eq!(
            chosen(None, None, context(), &env(&[])),
            (
                "tcp://build.lan:2376".into(),
                "docker context `remote`".into()
            )
        );
        assert_eq!(
            chosen(None, None, None, &env(&[])),
            (DEFAULT_HOST.into(), "the local socket".into())
        );
    }

    #[test]
    fn tls_follows_docker_tls_verify_and_docker_cert_path() {
        let home = Some(Path::new("/home/ops"));
        let plain = resolve(
            None,
            None,
            None,
            env(&[("DOCKER_HOST", "tcp://127.0.0.1:2375")]),
            home,
        );
        assert_eq!(plain.tls, None);
        let verified = resolve(
            None,
            None,
            None,
            env(&[
                ("DOCKER_HOST", "tcp://127.0.0.1:2376"),
                ("DOCKER_TLS_VERIFY", "1"),
                ("DOCKER_CERT_PATH", "/certs/client"),
            ]),
            home,
        );
        assert_eq!(
            verified.tls,
            Some(TlsFiles::in_directory(Path::new("/certs/client")))
        );
        let https = resolve(Some("https://engine.lan:2376"), None, None, env(&[]), home);
        assert_eq!(
            https.tls,
            Some(TlsFiles::in_directory(Path::new("/home/ops/.docker")))
        );
    }

    #[test]
    fn a_context_is_read_from_the_docker_config() {
        let directory = tempfile::tempdir().unwrap();
        let docker = directory.path().join(".docker");
        let id = format!("{:x}", Sha256::digest(b"remote"));
        std::fs::create_dir_all(docker.join("contexts/meta").join(&id)).unwrap();
        std::fs::create_dir_all(docker.join("contexts/tls").join(&id).join("docker")).unwrap();
        std::fs::write(
            docker.join("contexts/meta").join(&id).join("meta.json"),
            r#"{"Name":"remote","Endpoints":{"docker":{"Host":"tcp://build.lan:2376","SkipTLSVerify":false}}}"#,
        )
        .unwrap();
        std::fs::write(docker.join("config.json"), r#"{"currentContext":"remote"}"#).unwrap();
        let found = docker_context(env(&[]), Some(directory.path())).unwrap();
        assert_eq!(found.host, "tcp://build.lan:2376");
        assert_eq!(
            found.tls,
            Some(TlsFiles::in_directory(
                &docker.join("contexts/tls").join(&id).join("docker")
            ))
        );
        std::fs::write(
            docker.join("config.json"),
            r#"{"currentContext":"default"}"#,
        )
        .unwrap();
        assert_eq!(docker_context(env(&[]), Some(directory.path())), None);
    }
}
