//! The labels every golden image carries (SPEC section 2). All of them are
//! always set, so a child never inherits its golden parent's values. The
//! recipe's two are set last, by `upload`, from the bytes the engine got.
//!
//! Pure: values are handed in.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};

pub const VERSION: &str = "org.opencontainers.image.version";
pub const CREATED: &str = "org.opencontainers.image.created";
pub const TITLE: &str = "org.opencontainers.image.title";
pub const BASE_NAME: &str = "org.opencontainers.image.base.name";
pub const BASE_DIGEST: &str = "org.opencontainers.image.base.digest";
pub const REVISION: &str = "org.opencontainers.image.revision";
/// Where the config repository lives (an `https://` URL); golden.toml may
/// set it itself.
pub const SOURCE: &str = "org.opencontainers.image.source";
pub const RECIPE: &str = "io.golden.recipe";
/// Why the build was made: its reasons as `plan` says them, `; `-separated.
pub const REASONS: &str = "io.golden.reasons";
/// The longest [`REASONS`] value: the reasons of one build, not a log.
pub const MAX_REASONS: usize = 1000;
/// Short hashes of the recipe's parts (see `context::RecipeParts`).
pub const RECIPE_PARTS: &str = "io.golden.recipe.parts";
/// The upstream version a build holds (`10.0.3` of `10.0.3-r2`), under
/// `versioning = "upstream"`; empty on a line-versioned build.
pub const UPSTREAM_VERSION: &str = "io.golden.upstream.version";
/// An annotation of a multi-platform build's index only (no label, so no
/// image inherits it): the image of the base's index each platform was
/// built FROM, as `os/arch=digest` joined by commas. It lets a base update
/// say which platforms changed.
pub const BASE_PLATFORMS: &str = "io.golden.base.platforms";

/// The value of [`BASE_PLATFORMS`] for `(platform, digest)` pairs.
pub fn base_platforms_value(platforms: &[(String, String)]) -> String {
    platforms
        .iter()
        .map(|(platform, digest)| format!("{platform}={digest}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Platform -> base image digest, read back from a [`BASE_PLATFORMS`]
/// value; pairs that do not read are left out.
pub fn parse_base_platforms(value: &str) -> BTreeMap<String, String> {
    value
        .split(',')
        .filter_map(|pair| pair.split_once('='))
        .filter(|(platform, digest)| !platform.is_empty() && digest.starts_with("sha256:"))
        .map(|(platform, digest)| (platform.to_string(), digest.to_string()))
        .collect()
}

/// The facts of one build that its labels record.
pub struct BuildFacts<'a> {
    pub version: &'a str,
    pub created: DateTime<Utc>,
    pub title: &'a str,
    /// The final FROM's upstream reference and digest; `None` for scratch.
    pub base: Option<(&'a str, &'a str)>,
    pub revision: Option<&'a str>,
    /// The config repository's URL.
    pub source: Option<&'a str>,
    /// The upstream version read for an upstream-versioned build.
    pub upstream: Option<&'a str>,
    /// Why it is built (see [`REASONS`]).
    pub reasons: &'a str,
}

/// The configured labels plus golden's own but the recipe's (see
/// [`set_recipe`]). Labels golden does not know a value for are set empty,
/// which hides a parent's value.
pub fn golden_labels(
    configured: &BTreeMap<String, String>,
    facts: &BuildFacts<'_>,
) -> BTreeMap<String, String> {
    let mut labels = configured.clone();
    let (base_name, base_digest) = facts.base.unwrap_or(("", ""));
    let own = [
        (VERSION, facts.version),
        (TITLE, facts.title),
        (BASE_NAME, base_name),
        (BASE_DIGEST, base_digest),
        (REVISION, facts.revision.unwrap_or("")),
        (UPSTREAM_VERSION, facts.upstream.unwrap_or("")),
        (REASONS, &reasons_value(facts.reasons)),
    ];
    for (key, value) in own {
        labels.insert(key.to_string(), value.to_string());
    }
    // The config's own value wins; unknown, it is empty like the others,
    // so no base's source (an upstream vendor's repository) shows through.
    if !configured.contains_key(SOURCE) {
        labels.insert(SOURCE.to_string(), facts.source.unwrap_or("").to_string());
    }
    labels.insert(
        CREATED.to_string(),
        facts.created.to_rfc3339_opts(SecondsFormat::Secs, true),
    );
    labels
}

/// `reasons` on one line, cut to [`MAX_REASONS`] characters.
fn reasons_value(reasons: &str) -> String {
    let line = reasons.replace(['\n', '\r'], " ");
    match line.char_indices().nth(MAX_REASONS) {
        Some((end, _)) => format!("{}…", &line[..end]),
        None => line,
    }
}

/// Sets the recipe's labels: its digest and its parts label.
pub fn set_recipe(labels: &mut BTreeMap<String, String>, digest: &str, parts: &str) {
    labels.insert(RECIPE.to_string(), digest.to_string());
    labels.insert(RECIPE_PARTS.to_string(), parts.to_string());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_golden_label_is_set_and_wins_over_nothing_configured() {
        let configured = BTreeMap::from([("owner".to_string(), "platform".to_string())]);
        let created = DateTime::parse_from_rfc3339("2026-03-10T03:00:00.5Z")
            .unwrap()
            .with_timezone(&Utc);
        let facts = BuildFacts {
            version: "1.0.3",
            created,
            title: "base",
            base: Some(("127.0.0.1:5000/upstream/busybox:1.36", "sha256:abc")),
            revision: None,
            source: Some("https://git.example.com/platform/golden-images"),
            upstream: None,
            reasons: "base updated\nsha256:a → sha256:b",
        };
        let mut labels = golden_labels(&configured, &facts);
        assert!(!labels.contains_key(RECIPE), "the upload sets the recipe");
        set_recipe(&mut labels, "sha256:def", "v1");
        assert_eq!(labels[VERSION], "1.0.3");
        assert_eq!(labels[CREATED], "2026-03-10T03:00:00Z");
        assert_eq!(labels[TITLE], "base");
        assert_eq!(labels[BASE_NAME], "127.0.0.1:5000/upstream/busybox:1.36");
        assert_eq!(labels[BASE_DIGEST], "sha256:abc");
        assert_eq!(labels[REVISION], "");
        assert_eq!(labels[REASONS], "base updated sha256:a → sha256:b");
        assert_eq!(
            labels[SOURCE],
            "https://git.example.com/platform/golden-images"
        );
        let own = BTreeMap::from([(SOURCE.to_string(), "https://example.com/x".to_string())]);
        assert_eq!(
            golden_labels(
                &own,
                &BuildFacts {
                    source: None,
                    ..facts
                }
            )[SOURCE],
            "https://example.com/x",
            "golden.toml's value wins"
        );
        assert_eq!(labels[RECIPE], "sha256:def");
        assert_eq!(labels[RECIPE_PARTS], "v1");
        assert_eq!(labels["owner"], "platform");
        // Empty on a line build: a golden parent's upstream version is hidden.
        assert_eq!(labels[UPSTREAM_VERSION], "");
        let upstream = golden_labels(
            &configured,
            &BuildFacts {
                version: "10.0.3-r2",
                upstream: Some("10.0.3"),
                ..facts
            },
        );
        assert_eq!(upstream[VERSION], "10.0.3-r2");
        assert_eq!(upstream[UPSTREAM_VERSION], "10.0.3");
    }

    #[test]
    fn base_platforms_read_back_what_was_written() {
        let pairs = vec![
            ("linux/amd64".to_string(), "sha256:aa".to_string()),
            ("linux/arm64/v8".to_string(), "sha256:bb".to_string()),
        ];
        let value = base_platforms_value(&pairs);
        assert_eq!(value, "linux/amd64=sha256:aa,linux/arm64/v8=sha256:bb");
        assert_eq!(
            parse_base_platforms(&value),
            pairs.into_iter().collect::<BTreeMap<_, _>>()
        );
        assert!(parse_base_platforms("").is_empty());
        assert_eq!(parse_base_platforms("junk,linux/s390x=md5:1").len(), 0);
    }
}
