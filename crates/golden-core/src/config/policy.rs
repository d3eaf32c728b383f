//! `[policy]` of golden.toml: which upstreams golden images may start from
//! (`upstream_allow`, globs on the normalised reference: `*`, `?` and
//! `[...]` stay within one `/`-separated segment, a `**` segment crosses
//! them), which extra bases
//! application Dockerfiles may use (`allow`, e.g. `scratch`), whether every
//! stage is checked (`all_stages`) and whether `latest` or untagged golden
//! references pass (`allow_latest`).

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use toml::de::DeValue;
use toml::Spanned;

use super::Reader;
use crate::reference::Reference;

pub(super) const POLICY_KEYS: &[&str] = &["upstream_allow", "allow", "all_stages", "allow_latest"];

/// Glob patterns compiled for matching, with their text for messages.
#[derive(Debug, Clone, Default)]
pub struct Patterns {
    pub texts: Vec<String>,
    set: GlobSet,
}

impl Patterns {
    /// Whether `reference` (normalised, with and without tag or digest) matches.
    pub fn matches(&self, reference: &Reference) -> bool {
        let normalized = reference.normalized();
        [
            normalized.to_string(),
            normalized.normalized_repository(),
            reference.to_string(),
        ]
        .iter()
        .any(|text| self.set.is_match(text))
    }

    pub fn is_empty(&self) -> bool {
        self.texts.is_empty()
    }
}

/// A pattern of `upstream_allow` or `allow`: `docker.io/library/*` must not
/// admit `docker.io/library/evil/image`, so `*` stops at `/`; a `**`
/// segment (`registry.local:5000/**`) crosses it.
fn glob(pattern: &str) -> Result<globset::Glob, globset::Error> {
    GlobBuilder::new(pattern).literal_separator(true).build()
}

/// The whole `[policy]` table; all of it optional.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Upstreams golden images may start from; empty allows any.
    pub upstream_allow: Patterns,
    /// Extra bases application Dockerfiles may use besides golden images.
    pub allow: Patterns,
    /// Check every stage of application Dockerfiles, not only the final one.
    pub all_stages: bool,
    /// Let application Dockerfiles use `latest` or untagged golden images.
    pub allow_latest: bool,
}

impl Reader<'_> {
    pub(super) fn policy(&mut self, value: &Spanned<DeValue<'_>>) -> Policy {
        let Some(table) = self.table(value, "policy") else {
            return Policy::default();
        };
        let section = "[policy]";
        self.check_keys(table, section, POLICY_KEYS);
        let expected = "a list of glob patterns such as [\"mcr.microsoft.com/dotnet/*\", \"docker.io/library/*\"]";
        let mut patterns = |key: &str| -> Patterns {
            let Some(list) = self.value::<Vec<Spanned<String>>>(table, section, key, expected)
            else {
                return Patterns::default();
            };
            let mut builder = GlobSetBuilder::new();
            let mut texts = Vec::new();
            for pattern in list.into_inner() {
                match glob(pattern.get_ref()) {
                    Ok(glob) => {
                        builder.add(glob);
                        texts.push(pattern.get_ref().clone());
                    }
                    Err(error) => self.problem(
                        pattern.span(),
                        format!(
                            "invalid pattern `{}` in `{key}`: {}",
                            pattern.get_ref(),
                            error.kind()
                        ),
                        "invalid glob",
                        Some(format!("`{key}` must be {expected}")),
                    ),
                }
            }
            let set = builder.build().unwrap_or_default();
            Patterns { texts, set }
        };
        let upstream_allow = patterns("upstream_allow");
        let allow = patterns("allow");
        let flag = |reader: &mut Self, key: &str| {
            reader
                .value::<bool>(table, section, key, "true or false")
                .is_some_and(|v| *v.get_ref())
        };
        Policy {
            upstream_allow,
            allow,
            all_stages: flag(self, "all_stages"),
            allow_latest: flag(self, "allow_latest"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patterns(texts: &[&str]) -> Patterns {
        let mut builder = GlobSetBuilder::new();
        for text in texts {
            builder.add(glob(text).unwrap());
        }
        Patterns {
            texts: texts.iter().map(|text| text.to_string()).collect(),
            set: builder.build().unwrap(),
        }
    }

    #[test]
    fn a_star_stays_within_one_path_segment_and_a_double_star_crosses() {
        let cases = [
            ("docker.io/library/*", "busybox:1.36", true),
            ("docker.io/library/*", "docker.io/library/busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", true),
            ("docker.io/library/*", "docker.io/library/evil/image:1", false),
            ("docker.io/library/*", "evil/image:1", false),
            ("mcr.microsoft.com/dotnet/*", "mcr.microsoft.com/dotnet/sdk:10.0", true),
            ("mcr.microsoft.com/dotnet/*", "mcr.microsoft.com/dotnet/nightly/sdk:10.0", false),
            ("mcr.microsoft.com/dotnet/**", "mcr.microsoft.com/dotnet/nightly/sdk:10.0", true),
            ("mcr.microsoft.com/*/sdk", "mcr.microsoft.com/dotnet/sdk:10.0", true),
            ("*", "docker.io/library/busybox", false),
        ];
        for (pattern, reference, expected) in cases {
            let reference = Reference::parse(reference).unwrap();
            assert_eq!(
                patterns(&[pattern]).matches(&reference),
                expected,
                "{pattern} against {reference}"
            );
        }
    }
}
