//! What a line knows of its upstream (SPEC section 7): where the upstream
//! version a build holds is read (`upstream_version`), which upstream tags
//! it follows (`track`) and when a new one is taken (`adopt`).
//!
//! Pure: values are handed in, nothing is read here.

use std::fmt;

use crate::version::UpstreamVersion;

/// Where the upstream version of a build is read (`upstream_version`).
#[derive(Debug, Clone)]
pub enum Source {
    /// An `ENV` of the built image (`ASPNET_VERSION`).
    Env(String),
    /// A label of the upstream image (`org.opencontainers.image.version`).
    Label(String),
    /// The value of a build arg.
    BuildArg(String),
    /// The first capture group of a pattern over the final FROM's tag.
    FromTag(FromTag),
}

/// `{ from_tag = "REGEX" }`: the pattern, anchored as written.
#[derive(Debug, Clone)]
pub struct FromTag {
    pub pattern: String,
    pub regex: regex::Regex,
}

impl FromTag {
    /// The pattern, refused without a capture group.
    pub fn new(pattern: &str) -> Result<FromTag, String> {
        let regex = regex::Regex::new(pattern).map_err(|error| {
            // A syntax error is drawn over lines; its last one says what.
            let text = error.to_string();
            let last = text.lines().last().unwrap_or_default();
            last.strip_prefix("error: ").unwrap_or(last).to_string()
        })?;
        if regex.captures_len() < 2 {
            return Err("it has no capture group: write the version part in parentheses, like \"^([0-9.]+)-noble$\"".to_string());
        }
        Ok(FromTag {
            pattern: pattern.to_string(),
            regex,
        })
    }
}

impl PartialEq for FromTag {
    fn eq(&self, other: &Self) -> bool {
        self.pattern == other.pattern
    }
}

impl Eq for FromTag {}

impl PartialEq for Source {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Source::Env(a), Source::Env(b))
            | (Source::Label(a), Source::Label(b))
            | (Source::BuildArg(a), Source::BuildArg(b)) => a == b,
            (Source::FromTag(a), Source::FromTag(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for Source {}

impl fmt::Display for Source {
    /// As golden.toml writes it: `{ env = "ASPNET_VERSION" }`.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (key, value) = match self {
            Source::Env(name) => ("env", name.as_str()),
            Source::Label(key) => ("label", key.as_str()),
            Source::BuildArg(name) => ("build_arg", name.as_str()),
            Source::FromTag(from_tag) => ("from_tag", from_tag.pattern.as_str()),
        };
        write!(formatter, "{{ {key} = {value:?} }}")
    }
}

/// The keys of an `upstream_version` table, as written.
pub const SOURCE_KEYS: &[&str] = &["env", "label", "build_arg", "from_tag"];

/// Why no upstream version could be read for a build.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionReadError {
    #[error("upstream_version {from} found nothing: {missing}")]
    Missing { from: String, missing: String },
    #[error("upstream_version {from} found `{value}`, which is not a version MAJOR.MINOR.PATCH[-PRERELEASE]")]
    NotAVersion { from: String, value: String },
    /// A value spelt like golden's exact tag of an upstream build
    /// (`10.0.100-r3`, read from a golden parent's version label): taken
    /// as a version, its `-r3` would be a prerelease.
    #[error("upstream_version {from} found `{value}`, which is spelt like golden's exact tag of a build (upstream {upstream}, revision {revision}), not an upstream version")]
    ExactTag {
        from: String,
        value: String,
        upstream: String,
        revision: u64,
    },
    #[error("upstream_version {from} found `{value}`, outside the line {line} this image builds")]
    OutsideLine {
        from: String,
        value: String,
        line: crate::version::Line,
    },
}

/// When a newer upstream tag a line tracks is built (`adopt`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Adopt {
    /// At the next run that sees it.
    #[default]
    Immediately,
    /// When the image's schedule next fires.
    OnSchedule,
}

impl Adopt {
    pub fn parse(text: &str) -> Option<Adopt> {
        match text {
            "immediately" => Some(Adopt::Immediately),
            "on-schedule" => Some(Adopt::OnSchedule),
            _ => None,
        }
    }
}

/// A `track` pattern (`10.0.*-noble`): literal text with `*` standing
/// for one version component (a whole number without leading zeros).
/// Tags that match are ordered by their components, as numbers.
#[derive(Debug, Clone)]
pub struct Track {
    pub pattern: String,
    regex: regex::Regex,
}

impl PartialEq for Track {
    fn eq(&self, other: &Self) -> bool {
        self.pattern == other.pattern
    }
}

impl Eq for Track {}

impl Track {
    /// A pattern with at least one `*`, made of characters a tag may hold.
    pub fn new(pattern: &str) -> Result<Track, String> {
        if !pattern.contains('*') {
            return Err(
                "it has no `*`: write the part that changes as `*`, like \"10.0.*-noble\"".into(),
            );
        }
        if pattern.contains("**") {
            return Err(
                "`**` is not a version component: `*` stands for one, like \"10.0.*\"".into(),
            );
        }
        let literal = pattern.replace('*', "");
        if let Some(bad) = literal
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || "._-".contains(*c)))
        {
            return Err(format!(
                "`{bad}` cannot be in a tag: a pattern is a tag with `*` for version components"
            ));
        }
        let body = pattern
            .split('*')
            .map(regex::escape)
            .collect::<Vec<_>>()
            .join("(0|[1-9][0-9]{0,18})");
        let regex = regex::Regex::new(&format!("^{body}$")).map_err(|error| error.to_string())?;
        Ok(Track {
            pattern: pattern.to_string(),
            regex,
        })
    }

    /// The components `*` matched in `tag`, or `None` when it does not
    /// match.
    pub fn components(&self, tag: &str) -> Option<Vec<u64>> {
        let captures = self.regex.captures(tag)?;
        captures
            .iter()
            .skip(1)
            .map(|group| group?.as_str().parse().ok())
            .collect()
    }

    /// The highest tag among `tags` that matches, never below `floor`
    /// (the tag the Dockerfile's FROM names, when it matches): the tag to
    /// build FROM.
    pub fn newest<'a>(
        &self,
        tags: impl IntoIterator<Item = &'a str>,
        floor: Option<&str>,
    ) -> Option<&'a str> {
        let floor = floor.and_then(|floor| self.components(floor));
        tags.into_iter()
            .filter_map(|tag| self.components(tag).map(|components| (components, tag)))
            .filter(|(components, _)| floor.as_ref().is_none_or(|floor| components >= floor))
            .max()
            .map(|(_, tag)| tag)
    }
}

/// Reads the upstream version a build holds from what the caller found
/// where `source` points (`found`: the env value, the label, the build
/// arg's value or the FROM's tag), and checks it against the line. `base`
/// is the base image an `env` or `label` source was looked for in (`None`:
/// `FROM scratch`), named when nothing was found there.
pub fn read_version(
    source: &Source,
    found: Option<&str>,
    base: Option<&str>,
    line: crate::version::Line,
) -> Result<UpstreamVersion, VersionReadError> {
    let source_text = source.to_string();
    let missing = |missing: String| VersionReadError::Missing {
        from: source_text.clone(),
        missing,
    };
    let value = match (source, found) {
        (_, None) => {
            return Err(missing(match source {
                Source::Env(name) => match base {
                    Some(base) => format!("neither the Dockerfile's final stage nor the base image `{base}` sets ENV {name}"),
                    None => format!("the Dockerfile's final stage sets no ENV {name}, and it has no base image (FROM scratch)"),
                },
                Source::Label(key) => match base {
                    Some(base) => format!("the base image `{base}` has no label {key}"),
                    None => format!("there is no base image (FROM scratch) to carry the label {key}"),
                },
                Source::BuildArg(name) => format!("no build arg {name} is set"),
                Source::FromTag(_) => "the final FROM names no tag".to_string(),
            }))
        }
        (Source::FromTag(from_tag), Some(tag)) => match from_tag.regex.captures(tag) {
            Some(captures) => match captures.get(1) {
                Some(group) => group.as_str().to_string(),
                None => {
                    return Err(missing(format!(
                        "the pattern's group matched nothing in the tag `{tag}`"
                    )))
                }
            },
            None => {
                return Err(missing(format!(
                    "the pattern does not match the tag `{tag}`"
                )))
            }
        },
        (_, Some(value)) => value.to_string(),
    };
    // `10.0.100-r3` would read as upstream 10.0.100, prerelease `r3`.
    if let Ok(exact) = value.trim().parse::<crate::version::Exact>() {
        if let (Some(upstream), Some(revision)) = (exact.upstream(), exact.revision) {
            return Err(VersionReadError::ExactTag {
                from: source_text,
                value,
                upstream: upstream.to_string(),
                revision,
            });
        }
    }
    let version: UpstreamVersion =
        value
            .trim()
            .parse()
            .map_err(|_| VersionReadError::NotAVersion {
                from: source_text.clone(),
                value: value.clone(),
            })?;
    if version.line() != line {
        return Err(VersionReadError::OutsideLine {
            from: source_text,
            value,
            line,
        });
    }
    Ok(version)
}

impl crate::hint::Hint for VersionReadError {
    fn hint(&self) -> Option<std::borrow::Cow<'_, str>> {
        Some(match self {
            VersionReadError::Missing { .. } => "point `upstream_version` at what the upstream image sets (`docker image inspect` shows its Env and Labels), or set `versioning = \"line\"`".into(),
            VersionReadError::ExactTag { .. } => format!("read `{}` of a golden parent (`upstream_version = {{ label = \"{}\" }}`), which holds the upstream version alone, or use `from_tag` to capture the version part", crate::labels::UPSTREAM_VERSION, crate::labels::UPSTREAM_VERSION).into(),
            VersionReadError::NotAVersion { .. } => "point `upstream_version` at a value spelt MAJOR.MINOR.PATCH (with `from_tag`, capture only the version part)".into(),
            VersionReadError::OutsideLine { line, .. } => format!("the upstream version must be {line}.*: change the image's `version` to the upstream's line, or build FROM an upstream of line {line}").into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_track_pattern_picks_the_highest_match_never_below_the_floor() {
        let track = Track::new("10.0.*-noble").unwrap();
        let tags = [
            "10.0.0-noble",
            "10.0.9-noble",
            "10.0.10-noble",
            "10.0.11-jammy",
            "11.0.0-preview.1-noble",
            "10.0.01-noble",
            "10.0-noble",
            "latest",
        ];
        assert_eq!(track.newest(tags, None), Some("10.0.10-noble"));
        assert_eq!(
            track.newest(tags, Some("10.0.10-noble")),
            Some("10.0.10-noble")
        );
        assert_eq!(track.newest(["10.0.1-noble"], Some("10.0.2-noble")), None);
        assert_eq!(track.components("10.0.01-noble"), None, "no leading zeros");
        // A prerelease is taken only when the pattern names one.
        let preview = Track::new("11.0.0-preview.*-noble").unwrap();
        assert_eq!(
            preview.newest(
                [
                    "11.0.0-preview.1-noble",
                    "11.0.0-preview.10-noble",
                    "11.0.0-noble"
                ],
                None
            ),
            Some("11.0.0-preview.10-noble")
        );
        for bad in ["10.0.0", "10.0.**", "10.0.*/x", "10.0.* "] {
            assert!(Track::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_upstream_version_is_read_checked_and_explained() {
        let line = "10.0".parse().unwrap();
        let env = Source::Env("ASPNET_VERSION".into());
        assert_eq!(
            read_version(&env, Some("10.0.3"), None, line)
                .unwrap()
                .to_string(),
            "10.0.3"
        );
        let error = read_version(&env, Some("11.0.1"), None, line).unwrap_err();
        assert_eq!(
            error.to_string(),
            "upstream_version { env = \"ASPNET_VERSION\" } found `11.0.1`, outside the line 10.0 this image builds"
        );
        let error = read_version(&env, None, None, line).unwrap_err();
        assert!(
            error.to_string().contains(
                "the Dockerfile's final stage sets no ENV ASPNET_VERSION, and it has no base image"
            ),
            "{error}"
        );
        let error = read_version(&env, Some("10.0"), None, line).unwrap_err();
        assert!(
            matches!(error, VersionReadError::NotAVersion { .. }),
            "{error}"
        );
        let from_tag = Source::FromTag(FromTag::new("^([0-9.]+)-noble$").unwrap());
        assert_eq!(
            read_version(&from_tag, Some("10.0.4-noble"), None, line)
                .unwrap()
                .to_string(),
            "10.0.4"
        );
        assert!(read_version(&from_tag, Some("10.0.4-jammy"), None, line).is_err());
        assert!(FromTag::new("^[0-9.]+-noble$").is_err());
        let preview = read_version(
            &env,
            Some("11.0.0-preview.7"),
            None,
            "11.0".parse().unwrap(),
        )
        .unwrap();
        assert!(preview.is_prerelease());
    }

    #[test]
    fn a_missing_env_or_label_names_the_base_image_inspected_and_the_dockerfile() {
        let line = "10.0".parse().unwrap();
        let base = Some("r/aspnet:10.0.1-noble@sha256:1");
        let env = Source::Env("ASPNET_VERSION".into());
        let error = read_version(&env, None, base, line).unwrap_err();
        assert_eq!(
            error.to_string(),
            "upstream_version { env = \"ASPNET_VERSION\" } found nothing: neither the Dockerfile's final stage nor the base image `r/aspnet:10.0.1-noble@sha256:1` sets ENV ASPNET_VERSION"
        );
        let label = Source::Label("org.opencontainers.image.version".into());
        let error = read_version(&label, None, base, line).unwrap_err();
        assert!(
            error.to_string().contains(
                "the base image `r/aspnet:10.0.1-noble@sha256:1` has no label org.opencontainers.image.version"
            ),
            "{error}"
        );
    }

    #[test]
    fn a_value_spelt_like_a_golden_exact_tag_is_refused_not_read_as_a_prerelease() {
        let line = "10.0".parse().unwrap();
        let label = Source::Label("org.opencontainers.image.version".into());
        let error = read_version(&label, Some("10.0.100-r3"), None, line).unwrap_err();
        assert_eq!(
            error.to_string(),
            "upstream_version { label = \"org.opencontainers.image.version\" } found `10.0.100-r3`, which is spelt like golden's exact tag of a build (upstream 10.0.100, revision 3), not an upstream version"
        );
        let hint = crate::hint::Hint::hint(&error).unwrap_or_default();
        assert!(
            hint.contains("read `io.golden.upstream.version` of a golden parent")
                && hint.contains("use `from_tag` to capture the version part"),
            "{hint}"
        );
        // Captured from a tag the same way; a real prerelease still reads.
        let from_tag = Source::FromTag(FromTag::new("^(.+)-noble$").unwrap());
        assert!(matches!(
            read_version(&from_tag, Some("10.0.2-r1-noble"), None, line),
            Err(VersionReadError::ExactTag { revision: 1, .. })
        ));
        let preview = read_version(&label, Some("10.0.0-rc.1"), None, line).unwrap();
        assert!(preview.is_prerelease());
    }
}
