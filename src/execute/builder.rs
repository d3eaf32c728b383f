//! The builder of one build and the secrets it is served: the builder
//! chosen from the image's `builder`, its engine's and what the engine
//! offers; each secret read from its source just before the build, into
//! memory only.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use anyhow::anyhow;

use crate::config::builders::{self, BuilderChoice, SecretSource};
use crate::config::Image;
use crate::engine::{Builder, SecretValue};
use crate::graph::Node;
use crate::pool::Member;

/// The most a secret may hold: a token or a small file, not a payload.
const MAX_SECRET: u64 = 512 * 1024;

/// The builder that runs `image` on `member`. `needs_buildkit` says why
/// the image cannot build without BuildKit (its secrets, its Dockerfile),
/// if it cannot: such an image is refused on an engine without it, never
/// built with the classic builder.
pub(super) fn builder_for(
    member: &Member,
    image: &Image,
    needs_buildkit: Option<&str>,
) -> anyhow::Result<Builder> {
    let offers = member.engine.offers_buildkit();
    builders::choose(image.builder, needs_buildkit, member.builder, offers).map_err(
        |(why, offers)| {
            anyhow!(
                "image `{}` needs BuildKit ({why}), but engine `{}` {offers}; build it on an engine that offers BuildKit (Docker 18.09 or later; Podman has none)",
                image.id,
                member.name
            )
        },
    )
}

/// Why `image` cannot build without BuildKit, when it cannot: its
/// secrets, else what its Dockerfile (`node`) uses that only BuildKit
/// builds.
pub(super) fn needs_buildkit(image: &Image, node: &Node) -> Option<String> {
    let ids: Vec<&str> = image.secrets.keys().map(String::as_str).collect();
    if !ids.is_empty() {
        return Some(format!("its secrets {}", ids.join(", ")));
    }
    node.buildkit
        .as_ref()
        .map(|used| format!("its Dockerfile's {used}"))
}

/// Whether only an engine running BuildKit can build `image`.
pub(super) fn needs_a_buildkit_engine(image: &Image, node: &Node) -> bool {
    match image.builder {
        BuilderChoice::Classic => false,
        BuilderChoice::BuildKit => true,
        BuilderChoice::Auto => needs_buildkit(image, node).is_some(),
    }
}

/// The values of `image`'s secrets, read from their sources now. An
/// unset variable, an unreadable or oversized file is an error naming the
/// secret, its source and the fix; nothing is built then.
pub(super) fn read_secrets(image: &Image) -> anyhow::Result<BTreeMap<String, SecretValue>> {
    image
        .secrets
        .iter()
        .map(|(id, source)| {
            let value = match source {
                SecretSource::Env(name) => from_env(name),
                SecretSource::File(path) => from_file(path),
            };
            value.map(|value| (id.clone(), value)).map_err(|why| {
                anyhow!(
                    "the secret `{id}` of image `{}` ({source}) {why}; nothing was built",
                    image.id
                )
            })
        })
        .collect()
}

fn from_env(name: &str) -> Result<SecretValue, String> {
    match std::env::var_os(name) {
        Some(value) if !value.is_empty() => {
            use std::os::unix::ffi::OsStringExt;
            Ok(SecretValue::new(value.into_vec()))
        }
        Some(_) => Err(format!(
            "is empty: the environment variable `{name}` is set but empty; export the value before running golden"
        )),
        None => Err(format!(
            "cannot be read: the environment variable `{name}` is not set; export it before running golden (e.g. from your CI's secret store)"
        )),
    }
}

fn from_file(path: &Path) -> Result<SecretValue, String> {
    let shown = path.display();
    let metadata = std::fs::metadata(path)
        .map_err(|error| format!("cannot be read from `{shown}`: {error}; create the file or fix the path in golden.toml"))?;
    if !metadata.is_file() {
        return Err(format!(
            "cannot be read from `{shown}`: it is not a regular file; point `file` at the file holding the value"
        ));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(MAX_SECRET + 1).read_to_end(&mut bytes))
        .map_err(|error| format!("cannot be read from `{shown}`: {error}"))?;
    if bytes.len() as u64 > MAX_SECRET {
        return Err(format!(
            "is too large: `{shown}` holds more than {} KiB; a build secret is a token or a small file",
            MAX_SECRET / 1024
        ));
    }
    Ok(SecretValue::new(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_from_a_file_is_read_whole_and_a_bad_source_says_how_to_fix_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("nuget");
        std::fs::write(&file, b"token\n").unwrap();
        assert_eq!(from_file(&file).unwrap().expose(), b"token\n");
        let missing = from_file(&dir.path().join("absent")).err().unwrap();
        assert!(
            missing.contains("create the file or fix the path"),
            "{missing}"
        );
        let directory = from_file(dir.path()).err().unwrap();
        assert!(directory.contains("not a regular file"), "{directory}");
        std::fs::write(&file, vec![b'x'; MAX_SECRET as usize + 1]).unwrap();
        assert!(from_file(&file).err().unwrap().contains("too large"));
        let unset = from_env("GOLDEN_TEST_SECRET_THAT_IS_NOT_SET")
            .err()
            .unwrap();
        assert!(
            unset.contains("`GOLDEN_TEST_SECRET_THAT_IS_NOT_SET` is not set"),
            "{unset}"
        );
    }
}
