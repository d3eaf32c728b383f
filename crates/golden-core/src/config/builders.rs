//! `builder` (per image, in `[defaults]`, `[engine]` and `[[engines]]`)
//! and `[images.<id>.secrets]`: which builder runs a build and the build
//! secrets it is served. Read here with the rest of golden.toml: only the
//! shape of a secret (its id and where its value is read), never its
//! value, which the build reads just before it starts.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::PathBuf;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::Reader;

pub(super) const BUILDER_EXPECTED: &str = "\"auto\", \"buildkit\" or \"classic\"";
const SECRET_KEYS: &[&str] = &["env", "file"];

/// The builder that runs a build.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, schemars::JsonSchema,
)]
pub enum Builder {
    /// The engine's legacy builder (`POST /build`, version 1).
    #[serde(rename = "classic")]
    Classic,
    /// BuildKit (`POST /build?version=2` with a session).
    #[serde(rename = "buildkit")]
    BuildKit,
}

impl Builder {
    /// The name golden.toml and golden's output use.
    pub fn name(self) -> &'static str {
        match self {
            Builder::Classic => "classic",
            Builder::BuildKit => "buildkit",
        }
    }
}

impl std::fmt::Display for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// `builder = "auto" | "buildkit" | "classic"`: what an image needs, or
/// what an engine may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BuilderChoice {
    /// BuildKit when the engine offers it, the classic builder otherwise.
    #[default]
    Auto,
    BuildKit,
    Classic,
}

impl BuilderChoice {
    pub fn name(self) -> &'static str {
        match self {
            BuilderChoice::Auto => "auto",
            BuilderChoice::BuildKit => "buildkit",
            BuilderChoice::Classic => "classic",
        }
    }
}

impl<'de> serde::Deserialize<'de> for BuilderChoice {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        match text.as_str() {
            "auto" => Ok(BuilderChoice::Auto),
            "buildkit" => Ok(BuilderChoice::BuildKit),
            "classic" => Ok(BuilderChoice::Classic),
            other => Err(serde::de::Error::custom(format!(
                "`{other}` is not a builder: use \"auto\" (BuildKit when the engine offers it, else the classic builder), \"buildkit\" or \"classic\""
            ))),
        }
    }
}

/// Where a build secret's value is read, just before the build.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum SecretSource {
    /// `{ env = "NAME" }`: an environment variable of golden's process.
    Env(String),
    /// `{ file = "PATH" }`: a file (relative to golden.toml's directory).
    File(PathBuf),
}

impl std::fmt::Display for SecretSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretSource::Env(name) => write!(f, "env {name}"),
            SecretSource::File(path) => write!(f, "file {}", path.display()),
        }
    }
}

/// Why no builder can run an image's build on an engine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoBuilder {
    #[error("image `{image}` needs BuildKit ({why}), but engine `{engine}` {offers}")]
    NeedsBuildKit {
        image: String,
        why: String,
        engine: String,
        /// "does not offer it" or "is set to `builder = \"classic\"`".
        offers: String,
    },
}

/// The builder of one build: the image's `builder`, else the engine's,
/// else BuildKit when the engine offers it. An image that needs BuildKit
/// (`builder = "buildkit"`, or secrets) on an engine without it is
/// refused, never built classic; so is an `auto` image on an engine set
/// to `builder = "buildkit"` that does not offer it (BuildKit or nothing).
pub fn choose(
    image: BuilderChoice,
    needs_buildkit: Option<&str>,
    engine: BuilderChoice,
    offers_buildkit: bool,
) -> Result<Builder, (String, String)> {
    let engine_allows = engine != BuilderChoice::Classic && offers_buildkit;
    let wanted = match (image, needs_buildkit) {
        (BuilderChoice::Classic, _) => return Ok(Builder::Classic),
        (BuilderChoice::BuildKit, _) => Some("`builder = \"buildkit\"`".to_string()),
        (BuilderChoice::Auto, Some(why)) => Some(why.to_string()),
        // An engine set to `buildkit` builds with BuildKit or not at all.
        (BuilderChoice::Auto, None) if engine == BuilderChoice::BuildKit => {
            Some("its engine's `builder = \"buildkit\"`".to_string())
        }
        (BuilderChoice::Auto, None) => None,
    };
    match wanted {
        Some(_) if engine_allows => Ok(Builder::BuildKit),
        Some(why) => {
            let offers = if engine == BuilderChoice::Classic {
                "is set to `builder = \"classic\"`".to_string()
            } else {
                "does not offer it".to_string()
            };
            Err((why, offers))
        }
        None if engine_allows => Ok(Builder::BuildKit),
        None => Ok(Builder::Classic),
    }
}

/// `builder` and `[images.<id>.secrets]` of one image, `[defaults]` applied.
pub(super) struct Builds {
    pub(super) builder: BuilderChoice,
    /// Where the `builder` it takes is written (its table or `[defaults]`).
    pub(super) builder_span: Option<Range<usize>>,
    pub(super) secrets: BTreeMap<String, SecretSource>,
    /// Where each secret's id is written.
    pub(super) secret_spans: BTreeMap<String, Range<usize>>,
    /// Each secret's source as written: what the recipe covers.
    pub(super) recipe_secrets: BTreeMap<String, String>,
}

impl Reader<'_> {
    /// `builder` of `table`, as written.
    pub(super) fn builder(
        &mut self,
        table: &DeTable<'_>,
        section: &str,
    ) -> Option<Spanned<BuilderChoice>> {
        self.value(table, section, "builder", BUILDER_EXPECTED)
    }

    /// The `builder` and `secrets` of the image `id`, whose table is
    /// `table`, over the `builder` of `[defaults]`. Secrets with
    /// `builder = "classic"` are a problem: only BuildKit serves them.
    pub(super) fn builds(
        &mut self,
        table: &DeTable<'_>,
        id: &str,
        default: Option<&Spanned<BuilderChoice>>,
    ) -> Builds {
        let section = format!("[images.{id}]");
        let own = self.builder(table, &section);
        let (builder, builder_span, origin) = match (&own, default) {
            (Some(own), _) => (*own.get_ref(), Some(own.span()), section.as_str()),
            (None, Some(default)) => (*default.get_ref(), Some(default.span()), "[defaults]"),
            (None, None) => (BuilderChoice::Auto, None, ""),
        };
        let mut builds = Builds {
            builder,
            builder_span,
            secrets: BTreeMap::new(),
            secret_spans: BTreeMap::new(),
            recipe_secrets: BTreeMap::new(),
        };
        self.secrets(table, id, &mut builds);
        if let (BuilderChoice::Classic, Some(value)) = (builder, table.get("secrets")) {
            let at = builds.builder_span.as_ref().map_or(0, |span| span.start);
            let (line, _) = self.file.line_column(at);
            let path = self.file.path.display();
            self.problem(
                value.span(),
                format!("[images.{id}.secrets] needs BuildKit, but the image builds with `builder = \"classic\"`"),
                "secrets need BuildKit",
                Some(format!("only BuildKit serves build secrets: set `builder = \"buildkit\"` or `\"auto\"` ({origin} sets \"classic\" at {path}:{line}), or remove the secrets")),
            );
        }
        builds
    }

    /// `[images.<id>.secrets]` into `builds`: each secret's source, where
    /// its id is, and its source as written.
    fn secrets(&mut self, table: &DeTable<'_>, id: &str, builds: &mut Builds) {
        let name = format!("images.{id}.secrets");
        let Some(entries) = table.get("secrets").and_then(|v| self.table(v, &name)) else {
            return;
        };
        for (key, entry) in entries.iter() {
            let secret = key.get_ref().to_string();
            if !valid_secret_id(&secret) {
                self.problem(
                    key.span(),
                    format!("secret id `{secret}` in [{name}] is invalid"),
                    "invalid id",
                    Some("an id is letters, digits, `_`, `-` and `.`, as `RUN --mount=type=secret,id=ID` names it".into()),
                );
                continue;
            }
            let at = format!("secret `{secret}` of [{name}]");
            if let Some((source, written)) = self.secret_source(entry, &at, &secret) {
                builds.secrets.insert(secret.clone(), source);
                builds.secret_spans.insert(secret.clone(), key.span());
                builds.recipe_secrets.insert(secret, written);
            }
        }
    }

    /// One secret's `{ env = "NAME" }` or `{ file = "PATH" }`, and that
    /// source as written (`env NAME`, `file PATH`).
    fn secret_source(
        &mut self,
        entry: &Spanned<DeValue<'_>>,
        at: &str,
        id: &str,
    ) -> Option<(SecretSource, String)> {
        let forms = format!("`{id} = {{ env = \"NAME\" }}` (an environment variable of golden's process) or `{id} = {{ file = \"PATH\" }}` (a file, relative to golden.toml's directory)");
        let DeValue::Table(table) = entry.get_ref() else {
            self.problem(
                entry.span(),
                format!("{at} must be a table, not {}", entry.get_ref().type_str()),
                "expected a table",
                Some(format!("write {forms}")),
            );
            return None;
        };
        self.check_keys(table, at, SECRET_KEYS);
        let written = |key: &str| table.contains_key(key);
        let problem = if written("env") && written("file") {
            (
                entry.span(),
                format!("{at} names two sources, `env` and `file`"),
                "one source",
                format!("keep one: {forms}"),
            )
        } else if written("env") {
            let env: Spanned<String> =
                self.value(table, at, "env", "the name of an environment variable")?;
            if valid_env_name(env.get_ref()) {
                let written = format!("env {}", env.get_ref());
                return Some((SecretSource::Env(env.into_inner()), written));
            }
            (
                env.span(),
                format!("`{}` in {at} is not an environment variable name", env.get_ref()),
                "invalid name",
                "a name is letters, digits and `_`, not starting with a digit, e.g. \"NUGET_TOKEN\"".to_string(),
            )
        } else if written("file") {
            let file: Spanned<String> = self.value(
                table,
                at,
                "file",
                "a path relative to golden.toml's directory",
            )?;
            if !file.get_ref().is_empty() {
                let base = self.file.path.parent().unwrap_or(std::path::Path::new("."));
                let written = format!("file {}", file.get_ref());
                return Some((SecretSource::File(base.join(file.get_ref())), written));
            }
            (
                file.span(),
                format!("`file` of {at} is empty"),
                "empty path",
                "give the file that holds the secret, relative to golden.toml's directory or absolute, e.g. \"/run/secrets/nuget\"".to_string(),
            )
        } else if table.is_empty() {
            (
                entry.span(),
                format!("{at} names no source"),
                "no source",
                format!("write {forms}"),
            )
        } else {
            // Only unknown keys: each is reported, with the closest one.
            return None;
        };
        let (span, message, label, hint) = problem;
        self.problem(span, message, label, Some(hint));
        None
    }
}

/// A secret id BuildKit takes: letters, digits, `_`, `-` and `.`.
fn valid_secret_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// An environment variable name: `[A-Za-z_][A-Za-z0-9_]*`.
fn valid_env_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_image_decides_then_the_engine_then_what_it_offers() {
        use BuilderChoice::*;
        assert_eq!(choose(Auto, None, Auto, true), Ok(Builder::BuildKit));
        assert_eq!(choose(Auto, None, Auto, false), Ok(Builder::Classic));
        assert_eq!(choose(Auto, None, Classic, true), Ok(Builder::Classic));
        assert_eq!(choose(Classic, None, Auto, true), Ok(Builder::Classic));
        assert_eq!(choose(BuildKit, None, Auto, true), Ok(Builder::BuildKit));
        assert_eq!(
            choose(Auto, Some("secrets"), Auto, true),
            Ok(Builder::BuildKit)
        );
        let refused = choose(Auto, Some("its secrets"), Auto, false).unwrap_err();
        assert_eq!(refused.0, "its secrets");
        assert_eq!(refused.1, "does not offer it");
        let refused = choose(BuildKit, None, Classic, true).unwrap_err();
        assert!(refused.1.contains("classic"), "{refused:?}");
        // An engine set to `buildkit` that does not offer it builds nothing
        // (an image's own `classic` still builds there).
        assert_eq!(choose(Auto, None, BuildKit, true), Ok(Builder::BuildKit));
        let refused = choose(Auto, None, BuildKit, false).unwrap_err();
        assert_eq!(refused.1, "does not offer it");
        assert_eq!(choose(Classic, None, BuildKit, false), Ok(Builder::Classic));
    }
}
