//! Image references: the distribution reference grammar
//! (`[host[:port]/]path[:tag][@digest]`).
//!
//! Parsing keeps exactly what the user wrote; the Docker Hub defaults
//! (`docker.io`, `library/`, `latest`) are applied only by [`Reference::normalized`].
//! This module performs no I/O.

use std::fmt;

use super::{Digest, Repository};

/// The registry that references without a domain point at.
pub const DEFAULT_DOMAIN: &str = "docker.io";
/// Longest repository name (domain and path) the grammar allows.
const NAME_MAX: usize = 255;
/// Longest tag the grammar allows.
const TAG_MAX: usize = 128;

/// Why a reference does not follow the grammar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("the reference is empty")]
    Empty,
    #[error(
        "`{0}` is not a valid registry host (expected host[:port], e.g. `registry.local:5000`)"
    )]
    InvalidDomain(String),
    #[error("port {port} of registry host `{domain}` is out of range: ports are 1 to 65535")]
    PortOutOfRange { domain: String, port: String },
    #[error("repository path component `{0}` is invalid: use lowercase letters, digits and single `.`, `_`, `__` or `-` separators")]
    InvalidPathComponent(String),
    #[error("repository name `{0}` has uppercase letters; repository names must be lowercase")]
    Uppercase(String),
    #[error("repository name is longer than {NAME_MAX} characters")]
    NameTooLong,
    #[error("tag `{0}` is invalid: up to {TAG_MAX} characters of letters, digits, `_`, `.` and `-`, not starting with `.` or `-`")]
    InvalidTag(String),
    #[error("digest `{0}` is invalid: expected `sha256:` followed by 64 lowercase hex digits")]
    InvalidDigest(String),
}

/// A parsed image reference, as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    original: String,
    domain: Option<String>,
    path: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl Reference {
    /// Parses `text` without applying any default.
    pub fn parse(text: &str) -> Result<Self, ReferenceError> {
        if text.is_empty() {
            return Err(ReferenceError::Empty);
        }
        let (rest, digest) = match text.split_once('@') {
            Some((name, digest)) => (name, Some(Digest::parse(digest)?)),
            None => (text, None),
        };
        // A tag is what follows the last ':' when that ':' comes after the last '/'.
        let last_slash = rest.rfind('/');
        let (name, tag) = match rest.rfind(':') {
            Some(colon) if last_slash.is_none_or(|slash| colon > slash) => {
                (&rest[..colon], Some(&rest[colon + 1..]))
            }
            _ => (rest, None),
        };
        if let Some(tag) = tag {
            validate_tag(tag)?;
        }
        if name.is_empty() {
            return Err(ReferenceError::Empty);
        }
        let (domain, path) = split_domain(name);
        // The limit holds for the name as the engine resolves it, with
        // `docker.io/library/` added where it applies.
        let resolved = match domain {
            Some(domain) => domain.len() + 1 + path.len(),
            None if path.contains('/') => DEFAULT_DOMAIN.len() + 1 + path.len(),
            None => DEFAULT_DOMAIN.len() + "/library/".len() + path.len(),
        };
        if resolved > NAME_MAX {
            return Err(ReferenceError::NameTooLong);
        }
        if let Some(domain) = domain {
            validate_domain(domain)?;
        }
        validate_path(path)?;
        Ok(Reference {
            original: text.to_string(),
            domain: domain.map(str::to_string),
            path: path.to_string(),
            tag: tag.map(str::to_string),
            digest,
        })
    }

    /// The text this reference was parsed from.
    pub fn original(&self) -> &str {
        &self.original
    }

    /// The registry host as written, if any.
    pub fn domain(&self) -> Option<&str> {
        self.domain.as_deref()
    }

    /// The registry host, `docker.io` when none was written.
    pub fn registry(&self) -> &str {
        self.domain.as_deref().unwrap_or(DEFAULT_DOMAIN)
    }

    /// The repository path inside its registry, with `library/` added for
    /// single-component Docker Hub names (`busybox` -> `library/busybox`).
    pub fn registry_path(&self) -> String {
        if self.domain.is_none() && !self.path.contains('/') {
            format!("library/{}", self.path)
        } else {
            self.path.clone()
        }
    }

    /// The path as written.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The tag as written, if any.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest as written, if any.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// The repository name as written: domain and path, no tag or digest.
    pub fn repository(&self) -> String {
        match &self.domain {
            Some(domain) => format!("{domain}/{}", self.path),
            None => self.path.clone(),
        }
    }

    /// The repository this reference names, with the Docker Hub defaults
    /// applied (`busybox` is `docker.io/library/busybox`).
    pub fn repository_name(&self) -> Repository {
        Repository::from_valid(self.registry().to_string(), self.registry_path())
    }

    /// The fully qualified repository: `docker.io/library/busybox` for `busybox`.
    pub fn normalized_repository(&self) -> String {
        format!("{}/{}", self.registry(), self.registry_path())
    }

    /// This reference with every Docker Hub default applied, as the engine
    /// would resolve it: domain, `library/` and (without a digest) `latest`.
    pub fn normalized(&self) -> Reference {
        let tag = match (&self.tag, &self.digest) {
            (None, None) => Some("latest".to_string()),
            (tag, _) => tag.clone(),
        };
        Reference::from_parts(
            Some(self.registry().to_string()),
            self.registry_path(),
            tag,
            self.digest.clone(),
        )
    }

    /// The same repository with `tag` and no digest.
    pub fn with_tag(&self, tag: &str) -> Reference {
        Reference::from_parts(
            self.domain.clone(),
            self.path.clone(),
            Some(tag.to_string()),
            None,
        )
    }

    /// The same repository and tag pinned to `digest`.
    pub fn with_digest(&self, digest: &Digest) -> Reference {
        Reference::from_parts(
            self.domain.clone(),
            self.path.clone(),
            self.tag.clone(),
            Some(digest.clone()),
        )
    }

    /// The tag or digest to ask a registry for: the digest wins, then the tag,
    /// then `latest`.
    pub fn manifest_reference(&self) -> &str {
        self.digest
            .as_ref()
            .map(Digest::as_str)
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }

    /// A reference from parts that are valid already.
    pub fn from_parts(
        domain: Option<String>,
        path: String,
        tag: Option<String>,
        digest: Option<Digest>,
    ) -> Reference {
        let mut original = match &domain {
            Some(domain) => format!("{domain}/{path}"),
            None => path.clone(),
        };
        if let Some(tag) = &tag {
            original.push(':');
            original.push_str(tag);
        }
        if let Some(digest) = &digest {
            original.push('@');
            original.push_str(digest.as_str());
        }
        Reference {
            original,
            domain,
            path,
            tag,
            digest,
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.original)
    }
}

impl std::str::FromStr for Reference {
    type Err = ReferenceError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Reference::parse(text)
    }
}

/// Splits `name` into domain and path the way the engine does: the first
/// component is a domain when it has a `.` or `:`, is `localhost`, or has
/// uppercase letters (which a path may not have).
fn split_domain(name: &str) -> (Option<&str>, &str) {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            (Some(first), rest)
        }
        _ => (None, name),
    }
}

/// Checks `host[:port]` where host is a DNS name, an IPv4 address or a
/// bracketed IPv6 address.
pub fn validate_domain(domain: &str) -> Result<(), ReferenceError> {
    let invalid = || ReferenceError::InvalidDomain(domain.to_string());
    let (host, port) = if let Some(rest) = domain.strip_prefix('[') {
        let (address, after) = rest.split_once(']').ok_or_else(invalid)?;
        address
            .parse::<std::net::Ipv6Addr>()
            .map_err(|_| invalid())?;
        match after {
            "" => ("", None),
            _ => ("", Some(after.strip_prefix(':').ok_or_else(invalid)?)),
        }
    } else {
        match domain.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (domain, None),
        }
    };
    if let Some(port) = port {
        if port.is_empty() || !port.chars().all(|c| c.is_ascii_digit()) {
            return Err(invalid());
        }
        if !matches!(port.parse::<u16>(), Ok(1..)) {
            return Err(ReferenceError::PortOutOfRange {
                domain: domain.to_string(),
                port: port.to_string(),
            });
        }
    }
    if !domain.starts_with('[') {
        let valid_component = |component: &str| {
            !component.is_empty()
                && component
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !component.starts_with('-')
                && !component.ends_with('-')
        };
        if !host.split('.').all(valid_component) {
            return Err(invalid());
        }
    }
    Ok(())
}

/// Checks a repository path: `/`-separated components of lowercase
/// alphanumerics joined by `.`, `_`, `__` or runs of `-`.
pub fn validate_path(path: &str) -> Result<(), ReferenceError> {
    if path.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(ReferenceError::Uppercase(path.to_string()));
    }
    for component in path.split('/') {
        if !valid_path_component(component) {
            return Err(ReferenceError::InvalidPathComponent(component.to_string()));
        }
    }
    Ok(())
}

fn valid_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alphanumeric = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.is_empty() || !alphanumeric(bytes[0]) || !alphanumeric(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut index = 0;
    while index < bytes.len() {
        if alphanumeric(bytes[index]) {
            index += 1;
            continue;
        }
        let start = index;
        while index < bytes.len() && !alphanumeric(bytes[index]) {
            index += 1;
        }
        let separator = &component[start..index];
        let dashes = separator.bytes().all(|b| b == b'-');
        if !(matches!(separator, "." | "_" | "__") || dashes) {
            return false;
        }
    }
    true
}

/// Checks a tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn validate_tag(tag: &str) -> Result<(), ReferenceError> {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let valid = !tag.is_empty()
        && tag.len() <= TAG_MAX
        && tag.starts_with(word)
        && tag.chars().all(|c| word(c) || c == '.' || c == '-');
    if valid {
        Ok(())
    } else {
        Err(ReferenceError::InvalidTag(tag.to_string()))
    }
}

/// Checks a digest. sha256 (the only algorithm registries use today) must be
/// 64 lowercase hex digits; other algorithms need at least 32 hex digits.
pub fn validate_digest(digest: &str) -> Result<(), ReferenceError> {
    let invalid = || ReferenceError::InvalidDigest(digest.to_string());
    let (algorithm, encoded) = digest.split_once(':').ok_or_else(invalid)?;
    let algorithm_ok = !algorithm.is_empty()
        && algorithm
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+._-".contains(c));
    let hex = |c: char| c.is_ascii_digit() || ('a'..='f').contains(&c);
    let encoded_ok = match algorithm {
        "sha256" => encoded.len() == 64 && encoded.chars().all(hex),
        "sha512" => encoded.len() == 128 && encoded.chars().all(hex),
        _ => encoded.len() >= 32 && encoded.chars().all(|c| c.is_ascii_hexdigit()),
    };
    if algorithm_ok && encoded_ok {
        Ok(())
    } else {
        Err(invalid())
    }
}

/// One spelling per registry host, for keys that must agree however the
/// config names it: every loopback name (`localhost`, `127.x.x.x`, `[::1]`)
/// is `localhost`, the HTTPS default port `:443` is dropped, Docker Hub's
/// aliases are `docker.io`, and case is folded.
pub fn canonical_host(host: &str) -> String {
    let host = host.to_ascii_lowercase();
    let (name, port) = match host.rsplit_once(':') {
        // `[::1]:5000`, `name:5000`; a bare IPv6 address has no brackets.
        Some((name, port))
            if !port.is_empty()
                && port.bytes().all(|b| b.is_ascii_digit())
                && (name.ends_with(']') || !name.contains(':')) =>
        {
            (name.to_string(), Some(port.to_string()))
        }
        _ => (host.clone(), None),
    };
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    let loopback = bare == "localhost"
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    let name = match bare {
        _ if loopback => "localhost".to_string(),
        "index.docker.io" | "registry-1.docker.io" => "docker.io".to_string(),
        _ => name,
    };
    match port.as_deref() {
        None | Some("443") => name,
        Some(port) => format!("{name}:{port}"),
    }
}

#[cfg(test)]
#[allow(clippy::type_complexity)] // table tests read best as tuples
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn good_references_parse_into_their_parts() {
        let long_tag = "t".repeat(128);
        let digest_ref = format!("busybox@{DIGEST}");
        let both = format!("registry.local:5000/golden/sdk:8.0@{DIGEST}");
        let tagged_long = format!("busybox:{long_tag}");
        let cases: Vec<(&str, Option<&str>, &str, Option<&str>, Option<&str>)> = vec![
            ("busybox", None, "busybox", None, None),
            ("busybox:1.36", None, "busybox", Some("1.36"), None),
            ("library/busybox", None, "library/busybox", None, None),
            ("localhost/app", Some("localhost"), "app", None, None),
            (
                "localhost:5000/app:1",
                Some("localhost:5000"),
                "app",
                Some("1"),
                None,
            ),
            (
                "127.0.0.1:5000/upstream/busybox:1.36",
                Some("127.0.0.1:5000"),
                "upstream/busybox",
                Some("1.36"),
                None,
            ),
            (
                "[::1]:5000/app:v1",
                Some("[::1]:5000"),
                "app",
                Some("v1"),
                None,
            ),
            (
                "mcr.microsoft.com/dotnet/sdk:8.0.404-bookworm-slim",
                Some("mcr.microsoft.com"),
                "dotnet/sdk",
                Some("8.0.404-bookworm-slim"),
                None,
            ),
            (
                "Registry.Example/app",
                Some("Registry.Example"),
                "app",
                None,
                None,
            ),
            (
                "a.b/c__d/e-f--g/h.i_j",
                Some("a.b"),
                "c__d/e-f--g/h.i_j",
                None,
                None,
            ),
            (&digest_ref, None, "busybox", None, Some(DIGEST)),
            (
                &both,
                Some("registry.local:5000"),
                "golden/sdk",
                Some("8.0"),
                Some(DIGEST),
            ),
            (&tagged_long, None, "busybox", Some(&long_tag), None),
            ("host:5000/app", Some("host:5000"), "app", None, None),
            ("host:65535/app", Some("host:65535"), "app", None, None),
        ];
        for (text, domain, path, tag, digest) in cases {
            let reference = Reference::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(reference.domain(), domain, "{text}");
            assert_eq!(reference.path(), path, "{text}");
            assert_eq!(reference.tag(), tag, "{text}");
            assert_eq!(reference.digest().map(Digest::as_str), digest, "{text}");
            assert_eq!(reference.original(), text);
            assert_eq!(reference.to_string(), text);
        }
    }

    #[test]
    fn bad_references_say_what_is_wrong() {
        let long_tag = format!("busybox:{}", "t".repeat(129));
        let long_name = format!("a/{}", "b".repeat(255));
        // Regression (found by fuzzing): short enough as written, too long
        // once `docker.io/library/` is added.
        let long_once_normalized = "e".repeat(240);
        let cases: Vec<(&str, ReferenceError)> = vec![
            ("", ReferenceError::Empty),
            (":tag", ReferenceError::Empty),
            ("BusyBox", ReferenceError::Uppercase("BusyBox".into())),
            (
                "registry.local/Golden/app",
                ReferenceError::Uppercase("Golden/app".into()),
            ),
            ("busybox:", ReferenceError::InvalidTag("".into())),
            (
                "busybox:.hidden",
                ReferenceError::InvalidTag(".hidden".into()),
            ),
            ("busybox:a+b", ReferenceError::InvalidTag("a+b".into())),
            (&long_tag, ReferenceError::InvalidTag("t".repeat(129))),
            (
                "busybox@sha256:abc",
                ReferenceError::InvalidDigest("sha256:abc".into()),
            ),
            ("busybox@md5", ReferenceError::InvalidDigest("md5".into())),
            (
                "busybox@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
                ReferenceError::InvalidDigest(
                    "sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef"
                        .into(),
                ),
            ),
            (
                "host:port/app",
                ReferenceError::InvalidDomain("host:port".into()),
            ),
            (
                "-bad.host/app",
                ReferenceError::InvalidDomain("-bad.host".into()),
            ),
            ("[::1/app", ReferenceError::InvalidDomain("[::1".into())),
            (
                "host:123456/app",
                ReferenceError::PortOutOfRange {
                    domain: "host:123456".into(),
                    port: "123456".into(),
                },
            ),
            (
                "host:65536/app",
                ReferenceError::PortOutOfRange {
                    domain: "host:65536".into(),
                    port: "65536".into(),
                },
            ),
            (
                "host:0/app",
                ReferenceError::PortOutOfRange {
                    domain: "host:0".into(),
                    port: "0".into(),
                },
            ),
            ("app//x", ReferenceError::InvalidPathComponent("".into())),
            ("app/-x", ReferenceError::InvalidPathComponent("-x".into())),
            (
                "app/x..y",
                ReferenceError::InvalidPathComponent("x..y".into()),
            ),
            (
                "app/x___y",
                ReferenceError::InvalidPathComponent("x___y".into()),
            ),
            ("app/x_", ReferenceError::InvalidPathComponent("x_".into())),
            (
                "app name",
                ReferenceError::InvalidPathComponent("app name".into()),
            ),
            (&long_name, ReferenceError::NameTooLong),
            (&long_once_normalized, ReferenceError::NameTooLong),
        ];
        for (text, expected) in cases {
            assert_eq!(Reference::parse(text), Err(expected), "{text}");
        }
    }

    #[test]
    fn defaults_apply_only_when_normalized() {
        let reference = Reference::parse("busybox").unwrap();
        assert_eq!(reference.to_string(), "busybox");
        assert_eq!(
            reference.normalized().to_string(),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(
            reference.normalized_repository(),
            "docker.io/library/busybox"
        );
        let pinned = Reference::parse(&format!("busybox@{DIGEST}")).unwrap();
        assert_eq!(
            pinned.normalized().to_string(),
            format!("docker.io/library/busybox@{DIGEST}")
        );
        let local = Reference::parse("127.0.0.1:5000/upstream/busybox:1.36").unwrap();
        assert_eq!(local.normalized(), local);
        assert_eq!(local.registry_path(), "upstream/busybox");
        assert_eq!(local.manifest_reference(), "1.36");
    }

    #[test]
    fn tags_and_digests_can_be_swapped() {
        let reference = Reference::parse("127.0.0.1:5000/golden/base:1.0").unwrap();
        assert_eq!(
            reference.with_tag("1.0.3").to_string(),
            "127.0.0.1:5000/golden/base:1.0.3"
        );
        let pinned = reference.with_digest(&Digest::parse(DIGEST).unwrap());
        assert_eq!(
            pinned.to_string(),
            format!("127.0.0.1:5000/golden/base:1.0@{DIGEST}")
        );
        assert_eq!(pinned.manifest_reference(), DIGEST);
        assert_eq!(Reference::parse(&pinned.to_string()).unwrap(), pinned);
    }

    #[test]
    fn every_spelling_of_one_registry_has_one_canonical_host() {
        for spelling in [
            "127.0.0.1:5000",
            "localhost:5000",
            "LOCALHOST:5000",
            "[::1]:5000",
            "127.1.2.3:5000",
        ] {
            assert_eq!(canonical_host(spelling), "localhost:5000", "{spelling}");
        }
        assert_eq!(canonical_host("registry.local:443"), "registry.local");
        assert_eq!(canonical_host("Registry.Local"), "registry.local");
        assert_eq!(canonical_host("index.docker.io"), "docker.io");
        assert_ne!(canonical_host("127.example.com:5000"), "localhost:5000");
        assert_ne!(
            canonical_host("localhost:5001"),
            canonical_host("localhost:5000")
        );
    }
}
