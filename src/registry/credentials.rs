//! Registry credentials: from the environment for golden's own registry
//! (`GOLDEN_REGISTRY_USERNAME` with `GOLDEN_REGISTRY_PASSWORD` or
//! `GOLDEN_REGISTRY_PASSWORD_FILE`), else from the docker CLI's config
//! (`DOCKER_CONFIG` or `~/.docker/config.json`: `auths`, `credsStore`,
//! `credHelpers` through the `docker-credential-*` programs), else from
//! the containers auth file Podman and Buildah write (`podman login`):
//! `REGISTRY_AUTH_FILE` (read first when set), else
//! `$XDG_RUNTIME_DIR/containers/auth.json`, else
//! `~/.config/containers/auth.json`.
//!
//! A password never appears in `Debug` output, logs or messages.

use std::fmt;
use std::path::PathBuf;

use crate::regular_file::{RegularFileError, MAX_SECRET};

/// The user an identity token is stored under by credential helpers.
pub const IDENTITY_TOKEN_USER: &str = "<token>";

/// Environment variable with the username for golden's registry.
pub const USERNAME_VARIABLE: &str = "GOLDEN_REGISTRY_USERNAME";
/// Environment variable with the password.
pub const PASSWORD_VARIABLE: &str = "GOLDEN_REGISTRY_PASSWORD";
/// Environment variable naming a file whose content is the password.
pub const PASSWORD_FILE_VARIABLE: &str = "GOLDEN_REGISTRY_PASSWORD_FILE";

/// A username and password for one registry, or an identity token (an
/// OAuth refresh token from `docker login` to a registry that issues them:
/// `identitytoken` in the config, or a helper's `<token>` user).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    password: String,
    /// `password` is an identity token: it is traded at the token server
    /// (OAuth2 `grant_type=refresh_token`), never sent as basic auth.
    identity_token: bool,
    /// Where they came from, for a registry that refuses them.
    pub source: Source,
}

/// Where golden read a registry's credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `GOLDEN_REGISTRY_USERNAME` and `GOLDEN_REGISTRY_PASSWORD`.
    Environment,
    /// `GOLDEN_REGISTRY_USERNAME` and the file `GOLDEN_REGISTRY_PASSWORD_FILE` names.
    EnvironmentFile,
    /// The docker CLI's config (`auths`, `credsStore`, `credHelpers`).
    DockerConfig,
    /// A containers auth file (`podman login`).
    ContainersAuth(PathBuf),
}

impl Source {
    /// Where, in the words of the message.
    pub fn describe(&self) -> String {
        match self {
            Source::Environment => format!("{USERNAME_VARIABLE} and {PASSWORD_VARIABLE}"),
            Source::EnvironmentFile => {
                format!("{USERNAME_VARIABLE} and the file {PASSWORD_FILE_VARIABLE} names")
            }
            Source::DockerConfig => "the docker config (`docker login`)".to_string(),
            Source::ContainersAuth(path) => {
                format!(
                    "the containers auth file `{}` (`podman login`)",
                    path.display()
                )
            }
        }
    }

    /// What to do when `registry` refuses them.
    pub fn fix(&self, registry: &str, user: &str) -> String {
        match self {
            Source::Environment => format!(
                "set {PASSWORD_VARIABLE} to the password of `{user}` on `{registry}` (a CI secret that expired or changed?), or unset {USERNAME_VARIABLE} to use the docker config"
            ),
            Source::EnvironmentFile => format!(
                "put the password of `{user}` on `{registry}` in the file {PASSWORD_FILE_VARIABLE} names (a rotated secret?), or unset {USERNAME_VARIABLE} to use the docker config"
            ),
            Source::DockerConfig => format!(
                "log in again: `docker login {registry}` (or set {USERNAME_VARIABLE} and {PASSWORD_VARIABLE} for golden alone)"
            ),
            Source::ContainersAuth(path) => format!(
                "log in again: `podman login {registry}` (it writes `{}`), or set {USERNAME_VARIABLE} and {PASSWORD_VARIABLE} for golden alone",
                path.display()
            ),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("identity_token", &self.identity_token)
            .field("source", &self.source)
            .finish()
    }
}

impl Credentials {
    /// Credentials read from `source`.
    pub fn new(
        username: impl Into<String>,
        password: impl Into<String>,
        source: Source,
    ) -> Credentials {
        Credentials {
            username: username.into(),
            password: password.into(),
            identity_token: false,
            source,
        }
    }

    /// An identity token read from `source`; its user is `<token>`, as the
    /// docker CLI's helpers name it.
    pub fn identity_token(token: impl Into<String>, source: Source) -> Credentials {
        Credentials {
            username: IDENTITY_TOKEN_USER.to_string(),
            password: token.into(),
            identity_token: true,
            source,
        }
    }

    /// The password (or the identity token), for the places that send it.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// The identity token, when these are one.
    pub fn token(&self) -> Option<&str> {
        self.identity_token.then_some(self.password.as_str())
    }
}

/// Credentials that were configured but could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// The password file is missing, unreadable, larger than
    /// [`MAX_SECRET`] or not a regular file (a FIFO, `/dev/zero`).
    #[error(
        "failed to read the password file `{path}` named by {PASSWORD_FILE_VARIABLE}: it {problem}"
    )]
    PasswordFile {
        path: PathBuf,
        problem: RegularFileError,
    },
    #[error("{USERNAME_VARIABLE} is set but neither {PASSWORD_VARIABLE} nor {PASSWORD_FILE_VARIABLE} is")]
    MissingPassword,
    #[error("the docker credential store failed for `{registry}`: {message}")]
    Store { registry: String, message: String },
    /// A containers auth file (`REGISTRY_AUTH_FILE`, `podman login`'s)
    /// that cannot be used.
    #[error("the containers auth file `{path}` cannot be used: {problem}")]
    AuthFile { path: PathBuf, problem: String },
}

/// Credentials for `registry`; the environment applies only when it is
/// golden's own registry `own`. `None` means anonymous.
pub fn for_registry(registry: &str, own: &str) -> Result<Option<Credentials>, CredentialError> {
    if registry == own {
        if let Some(credentials) = from_environment(|name| std::env::var(name).ok())? {
            return Ok(Some(credentials));
        }
    }
    let variable = |name: &str| std::env::var_os(name).filter(|value| !value.is_empty());
    // Named on purpose: it wins, as in Podman.
    if let Some(path) = variable("REGISTRY_AUTH_FILE").map(PathBuf::from) {
        if let Some(credentials) = from_containers_auth(&path, registry)? {
            return Ok(Some(credentials));
        }
    }
    if let Some(credentials) = from_docker_config(registry)? {
        return Ok(Some(credentials));
    }
    let defaults = [
        variable("XDG_RUNTIME_DIR").map(|dir| PathBuf::from(dir).join("containers/auth.json")),
        variable("HOME").map(|home| PathBuf::from(home).join(".config/containers/auth.json")),
    ];
    for path in defaults.into_iter().flatten() {
        if let Some(credentials) = from_containers_auth(&path, registry)? {
            return Ok(Some(credentials));
        }
    }
    Ok(None)
}

/// The largest containers auth file read.
const MAX_AUTH_FILE: u64 = 1024 * 1024;

/// Credentials for `registry` in the containers auth file at `path`
/// (`{"auths": {"HOST": {"auth": base64("user:password")}}}`, the key the
/// host, with or without a scheme). A missing file has none; one that
/// cannot be read or parsed is an error naming it.
pub fn from_containers_auth(
    path: &std::path::Path,
    registry: &str,
) -> Result<Option<Credentials>, CredentialError> {
    use base64::Engine as _;
    let unusable = |problem: String| CredentialError::AuthFile {
        path: path.to_path_buf(),
        problem,
    };
    let text = match crate::regular_file::read_text(path, MAX_AUTH_FILE) {
        Ok(text) => text,
        Err(RegularFileError::Missing) => return Ok(None),
        Err(problem) => return Err(unusable(problem.to_string())),
    };
    let document: serde_json::Value = serde_json::from_str(&text)
        .map_err(|error| unusable(format!("it is not JSON: {error}")))?;
    let Some(auths) = document.get("auths").and_then(|auths| auths.as_object()) else {
        return Ok(None);
    };
    let entry = auths.iter().find_map(|(key, entry)| {
        let host = key
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .trim_end_matches('/');
        (host == registry).then_some(entry)
    });
    let identity_token = entry
        .and_then(|entry| entry.get("identitytoken"))
        .and_then(|token| token.as_str())
        .filter(|token| !token.is_empty());
    if let Some(token) = identity_token {
        tracing::debug!(registry, path = %path.display(), "an identity token from the containers auth file");
        return Ok(Some(Credentials::identity_token(
            token,
            Source::ContainersAuth(path.to_path_buf()),
        )));
    }
    let Some(encoded) = entry
        .and_then(|entry| entry.get("auth"))
        .and_then(|auth| auth.as_str())
    else {
        return Ok(None);
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| {
            unusable(format!(
                "the `auth` of `{registry}` is not base64 of user:password"
            ))
        })?;
    let Some((username, password)) = decoded.split_once(':') else {
        return Err(unusable(format!(
            "the `auth` of `{registry}` is not base64 of user:password"
        )));
    };
    tracing::debug!(registry, path = %path.display(), "credentials from the containers auth file");
    Ok(Some(Credentials::new(
        username,
        password,
        Source::ContainersAuth(path.to_path_buf()),
    )))
}

/// Reads the `GOLDEN_REGISTRY_*` variables through `variable`.
pub fn from_environment(
    variable: impl Fn(&str) -> Option<String>,
) -> Result<Option<Credentials>, CredentialError> {
    let Some(username) = variable(USERNAME_VARIABLE).filter(|u| !u.is_empty()) else {
        return Ok(None);
    };
    if let Some(password) = variable(PASSWORD_VARIABLE) {
        return Ok(Some(Credentials::new(
            username,
            password,
            Source::Environment,
        )));
    }
    let Some(path) = variable(PASSWORD_FILE_VARIABLE).map(PathBuf::from) else {
        return Err(CredentialError::MissingPassword);
    };
    let password = crate::regular_file::read_text(&path, MAX_SECRET)
        .map_err(|problem| CredentialError::PasswordFile { path, problem })?;
    Ok(Some(Credentials::new(
        username,
        password.trim_end_matches(['\n', '\r']),
        Source::EnvironmentFile,
    )))
}

fn from_docker_config(registry: &str) -> Result<Option<Credentials>, CredentialError> {
    use docker_credential::{CredentialRetrievalError as Retrieval, DockerCredential};
    let server = if registry == "docker.io" {
        "https://index.docker.io/v1/"
    } else {
        registry
    };
    match docker_credential::get_credential(server) {
        Ok(DockerCredential::UsernamePassword(username, password)) => Ok(Some(Credentials::new(
            username,
            password,
            Source::DockerConfig,
        ))),
        Ok(DockerCredential::IdentityToken(token)) => Ok(Some(Credentials::identity_token(
            token,
            Source::DockerConfig,
        ))),
        Err(Retrieval::NoCredentialConfigured | Retrieval::ConfigNotFound) => Ok(None),
        // A store helper's answer for a host never logged in to
        // (docker-credential-pass, -secretservice, -desktop, -osxkeychain):
        // anonymous, as the docker CLI reads it.
        Err(Retrieval::HelperFailure { stdout, stderr, .. })
            if helper_found_nothing(&stdout) || helper_found_nothing(&stderr) =>
        {
            tracing::debug!(
                registry,
                "the credential store has nothing for this registry; reading anonymously"
            );
            Ok(None)
        }
        Err(Retrieval::ConfigReadError) => {
            tracing::debug!(registry, "no readable docker config; reading anonymously");
            Ok(None)
        }
        Err(error) => Err(CredentialError::Store {
            registry: registry.to_string(),
            message: error.to_string(),
        }),
    }
}

/// Whether a credential helper's output is the docker-credential-helpers
/// "not found" answer (`credentials not found in native keychain`).
fn helper_found_nothing(output: &str) -> bool {
    output
        .trim()
        .eq_ignore_ascii_case("credentials not found in native keychain")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn the_environment_gives_a_password_or_a_password_file() {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), "s3cr3t+/==\n").unwrap();
        let path = file.path().to_string_lossy().to_string();
        type Case<'a> = (Vec<(&'a str, &'a str)>, Option<&'a str>);
        let cases: Vec<Case> = vec![
            (vec![], None),
            (
                vec![(USERNAME_VARIABLE, "ci"), (PASSWORD_VARIABLE, "p+/w")],
                Some("p+/w"),
            ),
            (
                vec![(USERNAME_VARIABLE, "ci"), (PASSWORD_FILE_VARIABLE, &path)],
                Some("s3cr3t+/=="),
            ),
        ];
        for (variables, expected) in cases {
            let map: HashMap<&str, &str> = variables.into_iter().collect();
            let found = from_environment(|name| map.get(name).map(|v| v.to_string())).unwrap();
            assert_eq!(found.as_ref().map(Credentials::password), expected);
        }
        let missing =
            from_environment(|name| (name == USERNAME_VARIABLE).then(|| "ci".to_string()));
        assert!(matches!(missing, Err(CredentialError::MissingPassword)));
    }

    #[test]
    fn a_password_file_that_is_a_device_a_fifo_or_huge_is_refused_without_reading_it() {
        let directory = tempfile::tempdir().unwrap();
        let fifo = directory.path().join("fifo");
        let name = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
        let huge = directory.path().join("huge");
        std::fs::File::create(&huge)
            .unwrap()
            .set_len(MAX_SECRET + 1)
            .unwrap();
        let cases = [
            // The FIFO first: without the check it hangs, and the test
            // stops there rather than reading /dev/zero without end.
            (
                fifo.display().to_string(),
                "is not a regular file (it is a FIFO)",
            ),
            (huge.display().to_string(), "is larger than 65536 bytes"),
            (
                "/dev/zero".to_string(),
                "is not a regular file (it is a character device)",
            ),
        ];
        for (path, expected) in cases {
            let (sender, receiver) = std::sync::mpsc::channel();
            let file = path.clone();
            std::thread::spawn(move || {
                let found = from_environment(|name| match name {
                    USERNAME_VARIABLE => Some("ci".to_string()),
                    PASSWORD_FILE_VARIABLE => Some(file.clone()),
                    _ => None,
                });
                let _ = sender.send(found.map(|_| ()).map_err(|error| error.to_string()));
            });
            let found = receiver
                .recv_timeout(std::time::Duration::from_secs(5))
                .unwrap_or_else(|_| panic!("reading `{path}` did not return within 5 seconds"));
            let message = found.expect_err(&path);
            assert!(
                message.contains(&path) && message.contains(expected),
                "{message}"
            );
        }
    }

    #[test]
    fn a_containers_auth_file_gives_the_hosts_credentials() {
        use base64::Engine as _;
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("auth.json");
        let auth = base64::engine::general_purpose::STANDARD.encode("ci:pa:ss");
        std::fs::write(
            &path,
            format!(
                r#"{{"auths": {{"https://registry.local:5000": {{"auth": "{auth}"}}, "other.example": {{"auth": "!!"}}}}}}"#
            ),
        )
        .unwrap();
        let found = from_containers_auth(&path, "registry.local:5000")
            .unwrap()
            .expect("the entry");
        assert_eq!(found.username, "ci");
        assert_eq!(found.password(), "pa:ss", "the first colon splits");
        assert_eq!(found.source, Source::ContainersAuth(path.clone()));
        assert!(from_containers_auth(&path, "nowhere.example")
            .unwrap()
            .is_none());
        let bad = from_containers_auth(&path, "other.example")
            .unwrap_err()
            .to_string();
        assert!(
            bad.contains("not base64 of user:password") && bad.contains("auth.json"),
            "{bad}"
        );
        assert!(
            from_containers_auth(&directory.path().join("none.json"), "x")
                .unwrap()
                .is_none()
        );
        std::fs::write(&path, "{").unwrap();
        let broken = from_containers_auth(&path, "x").unwrap_err().to_string();
        assert!(broken.contains("is not JSON"), "{broken}");
    }

    #[test]
    fn debug_output_never_shows_the_password() {
        let credentials = Credentials::new("ci", "hunter2", Source::Environment);
        let shown = format!("{credentials:?}");
        assert!(
            shown.contains("ci") && !shown.contains("hunter2"),
            "{shown}"
        );
    }
}
