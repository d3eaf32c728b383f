//! `[signing]` of golden.toml: the key golden signs each build with (in
//! cosign's keyed format, see [`crate::signing`]) and the public key
//! `golden verify` checks with. Only names are read here: the key file and
//! variables are read by the commands that sign or verify.

use std::path::{Path, PathBuf};

use toml::de::DeValue;
use toml::Spanned;

use super::Reader;

pub(super) const SIGNING_KEYS: &[&str] =
    &["key_file", "key_env", "password_env", "public_key_file"];

/// Where the private key is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// A PEM file (relative paths are from golden.toml's directory).
    File(PathBuf),
    /// An environment variable holding the PEM text.
    Env(String),
}

/// `[signing]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SigningSettings {
    /// `None`: builds are not signed.
    pub key: Option<KeySource>,
    /// The variable holding the password of an encrypted key.
    pub password_env: Option<String>,
    /// The public key `golden verify` checks with.
    pub public_key_file: Option<PathBuf>,
}

impl Reader<'_> {
    pub(super) fn signing(&mut self, value: &Spanned<DeValue<'_>>) -> SigningSettings {
        let Some(table) = self.table(value, "signing") else {
            return SigningSettings::default();
        };
        let section = "[signing]";
        self.check_keys(table, section, SIGNING_KEYS);
        let base = self
            .file
            .path
            .parent()
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let text = |reader: &mut Self, key: &str, expected: &str| {
            reader
                .value::<String>(table, section, key, expected)
                .map(Spanned::into_inner)
                .filter(|value| !value.is_empty())
        };
        let file = text(
            self,
            "key_file",
            "a path to the PEM private key, relative to golden.toml",
        );
        let env = text(
            self,
            "key_env",
            "the name of an environment variable holding the PEM private key",
        );
        let key = match (file, env) {
            (Some(_), Some(_)) => {
                let at = table
                    .get_key_value("key_env")
                    .map_or(value.span(), |(key, _)| key.span());
                self.problem(
                    at,
                    format!("{section} sets both `key_file` and `key_env`"),
                    "second key",
                    Some("keep one: the key in a file (`key_file`) or in an environment variable (`key_env`)".into()),
                );
                None
            }
            (Some(file), None) => Some(KeySource::File(base.join(file))),
            (None, Some(env)) => Some(KeySource::Env(env)),
            (None, None) => None,
        };
        SigningSettings {
            key,
            password_env: text(
                self,
                "password_env",
                "the name of an environment variable holding the key's password",
            ),
            public_key_file: text(
                self,
                "public_key_file",
                "a path to the PEM public key, relative to golden.toml",
            )
            .map(|file| base.join(file)),
        }
    }
}
