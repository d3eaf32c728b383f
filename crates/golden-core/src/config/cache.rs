//! `cache = "auto" | "always" | "never"`: the build-cache policy value of
//! golden.toml (what it means for a build is the plan's rule,
//! [`crate::plan::uses_cache`]).

use serde::Serialize;

/// `cache = "auto" | "always" | "never"`, per image or in `[defaults]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cache {
    /// No cache when the build is for freshness (schedule, forced, base).
    #[default]
    Auto,
    Always,
    Never,
}

impl<'de> serde::Deserialize<'de> for Cache {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        match text.as_str() {
            "auto" => Ok(Cache::Auto),
            "always" => Ok(Cache::Always),
            "never" => Ok(Cache::Never),
            other => Err(serde::de::Error::custom(format!(
                "`{other}` is not a cache policy: use \"auto\" (no cache for scheduled, forced and base-updated builds), \"always\" or \"never\""
            ))),
        }
    }
}
