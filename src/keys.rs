//! The keys of `[signing]`, read by the commands that need them: the
//! private key (a PEM file or variable, with `password_env` for an
//! encrypted one) by the commands that sign, the public key by `golden
//! verify`. A key never appears in output, reports or logs.

use std::sync::Arc;

use crate::config::{Config, KeySource};
use crate::exit::Failure;
use crate::hint::Hinted;
use crate::signing::{SigningKey, VerifyingKey};

/// The largest key file read.
const MAX_KEY: u64 = 64 * 1024;

/// The key builds are signed with; `None` when `[signing]` names none.
pub fn signing_key(config: &Config) -> Result<Option<Arc<SigningKey>>, Failure> {
    let Some(source) = &config.signing.key else {
        return Ok(None);
    };
    let (pem, named) = match source {
        KeySource::File(path) => {
            let text = crate::regular_file::read_text(path, MAX_KEY).map_err(|problem| {
                usage(
                    format!("the signing key file `{}` named by `key_file` in [signing] {problem}", path.display()),
                    "name the PEM private key golden signs with, readable by the user golden runs as",
                )
            })?;
            (text, format!("the key file `{}`", path.display()))
        }
        KeySource::Env(variable) => {
            let text = std::env::var(variable).map_err(|_| {
                usage(
                    format!("environment variable `{variable}` named by `key_env` in [signing] is not set"),
                    &format!("set `{variable}` to the PEM private key golden signs with (a masked CI secret)"),
                )
            })?;
            (text, format!("the key in `{variable}`"))
        }
    };
    let password = match &config.signing.password_env {
        Some(variable) => Some(std::env::var(variable).map_err(|_| {
            usage(
                format!("environment variable `{variable}` named by `password_env` in [signing] is not set"),
                &format!("set `{variable}` to the password of the signing key"),
            )
        })?),
        None => None,
    };
    crate::signing::signing_key(&pem, password.as_deref().map(str::as_bytes))
        .map(|key| Some(Arc::new(key)))
        .map_err(|problem| {
            usage(
                format!("{named} named in [signing] cannot be used: {problem}"),
                "make one with `openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -v2 aes-256-cbc` and its public key with `openssl pkey -pubout`",
            )
        })
}

/// The keys of a build run: the one it signs with, and the one a build
/// it releases but did not make must be signed with (the signing key's
/// public half, else `public_key_file`'s).
pub type RunKeys = (Option<Arc<SigningKey>>, Option<VerifyingKey>);

/// See [`RunKeys`].
pub fn for_a_build(config: &Config) -> Result<RunKeys, Failure> {
    let signing = signing_key(config)?;
    let verify_with = match &signing {
        Some(key) => Some(*key.verifying_key()),
        None => promotion_key(config)?,
    };
    Ok((signing, verify_with))
}

/// The key a build must be signed with before floating tags move to it
/// (`promote`, rollback targets): `public_key_file`'s, else the signing
/// key's own; `None` when `[signing]` names neither.
pub fn promotion_key(config: &Config) -> Result<Option<VerifyingKey>, Failure> {
    if config.signing.public_key_file.is_some() {
        return verifying_key(config).map(Some);
    }
    Ok(signing_key(config)?.map(|key| *key.verifying_key()))
}

/// The public key `golden verify` checks with.
pub fn verifying_key(config: &Config) -> Result<VerifyingKey, Failure> {
    let Some(path) = &config.signing.public_key_file else {
        return Err(usage(
            "[signing] names no `public_key_file` to verify with".to_string(),
            "add `public_key_file = \"cosign.pub\"` (the PEM public key of the signing key) to [signing] in golden.toml",
        ));
    };
    let text = crate::regular_file::read_text(path, MAX_KEY).map_err(|problem| {
        usage(
            format!(
                "the public key file `{}` named by `public_key_file` in [signing] {problem}",
                path.display()
            ),
            "name the PEM public key (`PUBLIC KEY`) of the signing key",
        )
    })?;
    crate::signing::verifying_key(&text).map_err(|problem| {
        usage(
            format!(
                "the public key file `{}` cannot be used: {problem}",
                path.display()
            ),
            "name the PEM public key (`PUBLIC KEY`) of the signing key",
        )
    })
}

fn usage(message: String, hint: &str) -> Failure {
    Failure::usage(anyhow::Error::new(Hinted::new(message, hint.to_string())))
}
