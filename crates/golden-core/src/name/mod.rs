//! Typed names of the registry world: a [`Repository`] (registry host and
//! path), a [`Tag`], a content [`Digest`] and a configured [`ImageId`]. Each
//! is validated once, when it is made, so code that holds one never parses
//! it again; a [`Reference`] is what joins them for a request.
//!
//! The reference grammar they share is [`reference`] (also at
//! `crate::reference`): one grammar, one module tree. This module performs
//! no I/O.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};

pub mod reference;

use self::reference::{
    validate_digest, validate_domain, validate_path, validate_tag, Reference, ReferenceError,
};

/// Implements `Display`, `FromStr`, `AsRef<str>`, comparison with `str` and
/// serde as the plain string for a validated string newtype.
macro_rules! string_name {
    ($name:ident) => {
        impl $name {
            /// The name as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = ReferenceError;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                $name::parse(text)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                $name::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

/// A content digest, `<algorithm>:<hex>`: `sha256:` and 64 lowercase hex
/// digits for everything a registry stores (sha512 and other registered
/// algorithms are accepted where a user pins one).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, schemars::JsonSchema)]
pub struct Digest(String);

impl Digest {
    /// Parses and validates `text`.
    pub fn parse(text: &str) -> Result<Digest, ReferenceError> {
        validate_digest(text)?;
        Ok(Digest(text.to_string()))
    }

    /// The sha256 digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Digest {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut text = String::with_capacity(71);
        text.push_str("sha256:");
        for byte in Sha256::digest(bytes) {
            text.push(char::from(HEX[usize::from(byte >> 4)]));
            text.push(char::from(HEX[usize::from(byte & 0xf)]));
        }
        Digest(text)
    }

    /// The encoded part, after `<algorithm>:`.
    pub fn hex(&self) -> &str {
        self.0.split_once(':').map_or("", |(_, hex)| hex)
    }
}

string_name!(Digest);

/// A tag: up to 128 letters, digits, `_`, `.` and `-`, not starting with
/// `.` or `-`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tag(String);

impl Tag {
    /// Parses and validates `text`.
    pub fn parse(text: &str) -> Result<Tag, ReferenceError> {
        validate_tag(text)?;
        Ok(Tag(text.to_string()))
    }

    /// Used by the version types, whose text is always a valid tag.
    pub fn from_valid(text: String) -> Tag {
        Tag(text)
    }

    /// `latest`, the tag a reference without one means.
    pub fn latest() -> Tag {
        Tag("latest".to_string())
    }
}

string_name!(Tag);

/// The id of an image in golden.toml (`[images.<id>]`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ImageId(String);

impl ImageId {
    /// Parses `text`; any non-empty id is one (config keys are checked where
    /// they are read, with their spans).
    pub fn parse(text: &str) -> Result<ImageId, ReferenceError> {
        if text.is_empty() {
            return Err(ReferenceError::Empty);
        }
        Ok(ImageId(text.to_string()))
    }
}

string_name!(ImageId);

/// A repository: the registry host that serves it and its path there
/// (`registry.local:5000` and `golden/base`). Shown as `host/path`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Repository {
    registry: String,
    path: String,
}

impl Repository {
    /// The repository `path` on `registry`, both validated.
    pub fn new(registry: &str, path: &str) -> Result<Repository, ReferenceError> {
        validate_domain(registry)?;
        validate_path(path)?;
        let repository = Repository {
            registry: registry.to_string(),
            path: path.to_string(),
        };
        // The name limit and the grammar as a whole are the reference's.
        Reference::parse(&repository.to_string())?;
        Ok(repository)
    }

    /// Parses `host/path` (a name without tag or digest); a name without a
    /// registry host is a Docker Hub one (`busybox` is
    /// `docker.io/library/busybox`).
    pub fn parse(text: &str) -> Result<Repository, ReferenceError> {
        let reference = Reference::parse(text)?;
        if let Some(tag) = reference.tag() {
            return Err(ReferenceError::InvalidPathComponent(format!(
                "{}:{tag}",
                reference.path().rsplit('/').next().unwrap_or_default()
            )));
        }
        if let Some(digest) = reference.digest() {
            return Err(ReferenceError::InvalidDigest(digest.to_string()));
        }
        Ok(reference.repository_name())
    }

    /// Used by [`Reference::repository_name`], whose parts are valid.
    pub fn from_valid(registry: String, path: String) -> Repository {
        Repository { registry, path }
    }

    /// The registry host.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The path inside the registry (`golden/base`), as the API names it.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The repository as a reference, without tag or digest.
    pub fn reference(&self) -> Reference {
        Reference::from_parts(Some(self.registry.clone()), self.path.clone(), None, None)
    }

    /// `tag` of this repository.
    pub fn tag(&self, tag: &Tag) -> Reference {
        Reference::from_parts(
            Some(self.registry.clone()),
            self.path.clone(),
            Some(tag.to_string()),
            None,
        )
    }

    /// The manifest `digest` in this repository.
    pub fn digest(&self, digest: &Digest) -> Reference {
        Reference::from_parts(
            Some(self.registry.clone()),
            self.path.clone(),
            None,
            Some(digest.clone()),
        )
    }
}

impl fmt::Display for Repository {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}/{}", self.registry, self.path)
    }
}

impl PartialEq<&str> for Repository {
    fn eq(&self, other: &&str) -> bool {
        other
            .split_once('/')
            .is_some_and(|(registry, path)| self.registry == registry && self.path == path)
    }
}

impl std::str::FromStr for Repository {
    type Err = ReferenceError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Repository::parse(text)
    }
}

/// Test fixtures write digests and tags as literals.
/// `sha256:0123456789ab` for messages.
pub fn short_digest(digest: impl AsRef<str>) -> String {
    let digest = digest.as_ref();
    digest.chars().take(19).collect()
}

#[cfg(any(test, feature = "testing"))]
impl From<&str> for Digest {
    fn from(text: &str) -> Digest {
        Digest::parse(text).expect("a test digest is valid")
    }
}

#[cfg(any(test, feature = "testing"))]
impl From<&str> for Tag {
    fn from(text: &str) -> Tag {
        Tag::parse(text).expect("a test tag is valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn digests_are_validated_and_round_trip() {
        let digest = Digest::parse(DIGEST).unwrap();
        assert_eq!(digest.to_string(), DIGEST);
        assert_eq!(digest.hex(), &DIGEST[7..]);
        assert_eq!(DIGEST.parse::<Digest>().unwrap(), digest);
        let json = serde_json::to_string(&digest).unwrap();
        assert_eq!(json, format!("\"{DIGEST}\""));
        assert_eq!(serde_json::from_str::<Digest>(&json).unwrap(), digest);
        for bad in [
            "",
            "sha256:",
            "sha256:abc",
            "sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg",
            "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0",
        ] {
            assert!(Digest::parse(bad).is_err(), "{bad}");
            assert!(serde_json::from_str::<Digest>(&format!("\"{bad}\"")).is_err());
        }
    }

    #[test]
    fn a_digest_of_bytes_is_their_sha256() {
        assert_eq!(
            Digest::of(b"").as_str(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn tags_are_validated() {
        for good in ["latest", "1.0.3", "1.0.2-withdrawn", "_x", &"t".repeat(128)] {
            assert_eq!(Tag::parse(good).unwrap().as_str(), good);
        }
        for bad in ["", ".x", "-x", "a:b", "a/b", &"t".repeat(129)] {
            assert!(Tag::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Tag::latest(), "latest");
    }

    #[test]
    fn repositories_name_host_and_path() {
        let repository = Repository::new("registry.local:5000", "golden/base").unwrap();
        assert_eq!(repository.registry(), "registry.local:5000");
        assert_eq!(repository.path(), "golden/base");
        assert_eq!(repository.to_string(), "registry.local:5000/golden/base");
        assert_eq!(
            "registry.local:5000/golden/base"
                .parse::<Repository>()
                .unwrap(),
            repository
        );
        let tag = Tag::parse("1.0.3").unwrap();
        assert_eq!(
            repository.tag(&tag).to_string(),
            "registry.local:5000/golden/base:1.0.3"
        );
        let digest = Digest::parse(DIGEST).unwrap();
        assert_eq!(
            repository.digest(&digest).to_string(),
            format!("registry.local:5000/golden/base@{DIGEST}")
        );
        assert_eq!(
            repository.reference().to_string(),
            "registry.local:5000/golden/base"
        );
        assert_eq!(
            Repository::parse("busybox").unwrap().to_string(),
            "docker.io/library/busybox"
        );
        for (registry, path) in [
            ("registry.local:5000", "Golden/base"),
            ("registry.local:99999", "golden/base"),
            ("bad host", "golden"),
            ("registry.local", ""),
            ("registry.local", &"a".repeat(260)),
        ] {
            assert!(
                Repository::new(registry, path).is_err(),
                "{registry} {path}"
            );
        }
        for bad in [
            "registry.local/a:1",
            &format!("registry.local/a@{DIGEST}"),
            "",
        ] {
            assert!(Repository::parse(bad).is_err(), "{bad}");
        }
    }
}
