//! `builder` (per image, in `[defaults]`, `[engine]` and `[[engines]]`)
//! and `[images.<id>.secrets]`: which builder runs a build and the build
//! secrets it is served.

use std::path::PathBuf;

use crate::engine::Builder;

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
/// refused, never built classic.
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
    }
}
