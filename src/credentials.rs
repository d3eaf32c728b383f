//! Registry credentials: from the environment for golden's own registry
//! (`GOLDEN_REGISTRY_USERNAME` with `GOLDEN_REGISTRY_PASSWORD` or
//! `GOLDEN_REGISTRY_PASSWORD_FILE`), else from the docker CLI's config
//! (`DOCKER_CONFIG` or `~/.docker/config.json`: `auths`, `credsStore`,
//! `credHelpers` through the `docker-credential-*` programs).
//!
//! A password never appears in `Debug` output, logs or messages.

use std::fmt;
use std::path::PathBuf;

/// Environment variable with the username for golden's registry.
pub const USERNAME_VARIABLE: &str = "GOLDEN_REGISTRY_USERNAME";
/// Environment variable with the password.
pub const PASSWORD_VARIABLE: &str = "GOLDEN_REGISTRY_PASSWORD";
/// Environment variable naming a file whose content is the password.
pub const PASSWORD_FILE_VARIABLE: &str = "GOLDEN_REGISTRY_PASSWORD_FILE";

/// A username and password for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl Credentials {
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Credentials {
        Credentials {
            username: username.into(),
            password: password.into(),
        }
    }

    /// The password, for the one place that sends it.
    pub fn password(&self) -> &str {
        &self.password
    }
}

/// Credentials that were configured but could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("failed to read the password file `{path}` named by {PASSWORD_FILE_VARIABLE}")]
    PasswordFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{USERNAME_VARIABLE} is set but neither {PASSWORD_VARIABLE} nor {PASSWORD_FILE_VARIABLE} is")]
    MissingPassword,
    #[error("the docker credential store failed for `{registry}`: {message}")]
    Store { registry: String, message: String },
}

/// Credentials for `registry`; the environment applies only when it is
/// golden's own registry `own`. `None` means anonymous.
pub fn for_registry(registry: &str, own: &str) -> Result<Option<Credentials>, CredentialError> {
    if registry == own {
        if let Some(credentials) = from_environment(|name| std::env::var(name).ok())? {
            return Ok(Some(credentials));
        }
    }
    from_docker_config(registry)
}

/// Reads the `GOLDEN_REGISTRY_*` variables through `variable`.
pub fn from_environment(
    variable: impl Fn(&str) -> Option<String>,
) -> Result<Option<Credentials>, CredentialError> {
    let Some(username) = variable(USERNAME_VARIABLE).filter(|u| !u.is_empty()) else {
        return Ok(None);
    };
    if let Some(password) = variable(PASSWORD_VARIABLE) {
        return Ok(Some(Credentials::new(username, password)));
    }
    let Some(path) = variable(PASSWORD_FILE_VARIABLE).map(PathBuf::from) else {
        return Err(CredentialError::MissingPassword);
    };
    let password = std::fs::read_to_string(&path)
        .map_err(|source| CredentialError::PasswordFile { path, source })?;
    Ok(Some(Credentials::new(
        username,
        password.trim_end_matches(['\n', '\r']),
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
        Ok(DockerCredential::UsernamePassword(username, password)) => {
            Ok(Some(Credentials::new(username, password)))
        }
        Ok(DockerCredential::IdentityToken(_)) => {
            tracing::warn!(registry, "the docker config holds an identity token for this registry, which golden does not use; reading anonymously");
            Ok(None)
        }
        Err(Retrieval::NoCredentialConfigured | Retrieval::ConfigNotFound) => Ok(None),
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
    fn debug_output_never_shows_the_password() {
        let credentials = Credentials::new("ci", "hunter2");
        let shown = format!("{credentials:?}");
        assert!(
            shown.contains("ci") && !shown.contains("hunter2"),
            "{shown}"
        );
    }
}
