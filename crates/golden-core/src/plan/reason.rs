//! Why an image is built, promoted or skipped: the `reasons[]` of the
//! report (SPEC section 4), and how each reads in the plan's text.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::name::short_digest;

/// Why an image is built (or, for `parent-failed`, skipped): the
/// `reasons[]` of the report (SPEC section 4), tagged by `kind`.
#[deny(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Reason {
    /// The line has no golden build in the registry.
    NeverBuilt,
    /// The schedule fired after the last build was made.
    ScheduleFired {
        /// When it fired.
        #[serde(serialize_with = "rfc3339")]
        at: DateTime<Utc>,
    },
    /// The upstream base resolves to another digest than the last build
    /// was made on.
    BaseUpdated {
        /// The digest the last build was made on, null when it did not say.
        old: Option<String>,
        /// The digest it resolves to now.
        new: String,
        /// For a multi-platform base (`old` and `new` are its index),
        /// the platforms whose image changed; left out when unknown.
        #[serde(skip_serializing_if = "Vec::is_empty", default)]
        platforms: Vec<String>,
    },
    /// The recipe (Dockerfile, context, build args, labels) hashes to
    /// another key than the last build's.
    RecipeChanged {
        /// The last build's recipe key, null when it did not record one.
        old: Option<String>,
        /// The recipe key now.
        new: String,
        /// What changed, when the last build recorded its parts: the
        /// Dockerfile, `build arg NAME`, `label KEY`, a top-level entry.
        #[serde(skip_serializing_if = "Vec::is_empty", default)]
        changed: Vec<String>,
    },
    /// A golden parent is built in this run.
    ParentRebuilt {
        /// The parent's image id.
        parent: String,
    },
    /// The golden parent's floating tag this image is built FROM moves to
    /// another build of the parent in this run.
    ParentPromoted {
        /// The parent's image id.
        parent: String,
        /// The floating tag that moves.
        tag: String,
    },
    /// The golden parent has a build newer than the one this image was
    /// made on.
    ParentNewer {
        /// The parent's image id.
        parent: String,
        /// The parent digest the last build was made on.
        old: Option<String>,
        /// The parent digest the FROM resolves to now.
        new: String,
    },
    /// With `track`: the upstream published a newer tag the pattern
    /// matches than the one the last build was made FROM (its
    /// `org.opencontainers.image.base.name`). Said instead of
    /// `base-updated`: the base moved because its tag did.
    UpstreamReleased {
        /// The tag the last build was made FROM.
        old: String,
        /// The tag this build is made FROM.
        new: String,
    },
    /// The platforms configured are not those of the last build (an
    /// empty list: the engine's own platform, a single image).
    PlatformsChanged {
        /// The last build's platforms.
        old: Vec<String>,
        /// The platforms configured now.
        new: Vec<String>,
    },
    /// The build the floating tags would belong on is not whole (an image
    /// its index names is gone, or a push stopped before the index): it is
    /// never released, so the line is built again.
    Incomplete {
        /// The exact version.
        version: String,
        /// What is missing.
        why: crate::provenance::Incomplete,
    },
    /// `golden rebuild` named it.
    Forced,
    /// Held: the line's last build failed, nothing it is built from
    /// changed since, and its backoff has not elapsed (`golden rebuild`
    /// builds it now). Its would-be reasons follow it.
    Failing {
        /// The first failure in a row.
        #[serde(serialize_with = "rfc3339")]
        since: DateTime<Utc>,
        /// Failures in a row.
        attempts: u32,
        /// When the same inputs are built again.
        #[serde(serialize_with = "rfc3339")]
        retry_at: DateTime<Utc>,
        /// The last failure's first line.
        error: String,
    },
    /// Skipped: a golden parent failed or was skipped in this run.
    ParentFailed {
        /// The parent's image id.
        parent: String,
    },
    /// A signal (`SIGINT`, `SIGTERM`) stopped the run before this image
    /// started; only in run reports.
    Interrupted {
        /// `SIGINT`, `SIGTERM` or `a stop request`.
        signal: String,
    },
    /// The release was pushed but never released: none of its floating
    /// tags points at it (a run stopped between its push and its floating
    /// tags, or `--no-promote` pushed it). `build` resumes it: the SBOM,
    /// scan and signature it lacks, then its floating tags
    /// (`floating-behind` follows, one per tag).
    Unreleased {
        /// Its exact version.
        version: String,
    },
    /// The release's floating tag `tag` points elsewhere (`old`, null when
    /// missing): a run died before promoting it, or someone moved it.
    /// Nothing is rebuilt; the tag is moved back registry-side.
    FloatingBehind {
        /// The floating tag (`X.Y`, `X`, `latest`).
        tag: String,
        /// The digest it points at, null when it is missing.
        old: Option<String>,
        /// The release's digest, where it belongs.
        new: String,
    },
}

/// Serializes `time` as RFC 3339 in whole seconds, `Z` for UTC.
pub(super) fn rfc3339<S: serde::Serializer>(
    time: &DateTime<Utc>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&time.to_rfc3339_opts(SecondsFormat::Secs, true))
}

impl std::fmt::Display for Reason {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::NeverBuilt => write!(formatter, "never built"),
            Reason::ScheduleFired { at } => write!(
                formatter,
                "schedule fired at {}",
                at.to_rfc3339_opts(SecondsFormat::Secs, true)
            ),
            Reason::BaseUpdated {
                old,
                new,
                platforms,
            } => {
                moved(formatter, "base updated", old, new)?;
                if !platforms.is_empty() {
                    write!(formatter, " ({})", platforms.join(", "))?;
                }
                Ok(())
            }
            Reason::RecipeChanged { changed, .. } if !changed.is_empty() => {
                write!(formatter, "recipe changed: {}", changed.join(", "))
            }
            Reason::RecipeChanged { old, new, .. } => moved(formatter, "recipe changed", old, new),
            Reason::ParentRebuilt { parent } => write!(formatter, "parent {parent} rebuilt"),
            Reason::ParentPromoted { parent, tag } => {
                write!(formatter, "parent {parent}'s tag {tag} moves")
            }
            Reason::ParentNewer { parent, old, new } => {
                moved(formatter, &format!("parent {parent} newer"), old, new)
            }
            Reason::UpstreamReleased { old, new } => {
                write!(formatter, "upstream released {new} (was {old})")
            }
            Reason::PlatformsChanged { old, new } => {
                let list = |platforms: &[String]| match platforms.is_empty() {
                    true => "the engine's own".to_string(),
                    false => platforms.join(", "),
                };
                write!(
                    formatter,
                    "platforms changed {} -> {}",
                    list(old),
                    list(new)
                )
            }
            Reason::Incomplete { version, why } => {
                write!(formatter, "{version} is incomplete: {why}")
            }
            Reason::Forced => write!(formatter, "forced"),
            Reason::Failing {
                since,
                attempts,
                retry_at,
                ..
            } => write!(
                formatter,
                "failing since {} ({attempts} failed build{}; retry at {}, or `golden rebuild`)",
                since.to_rfc3339_opts(SecondsFormat::Secs, true),
                if *attempts == 1 { "" } else { "s" },
                retry_at.to_rfc3339_opts(SecondsFormat::Secs, true)
            ),
            Reason::ParentFailed { parent } => write!(formatter, "parent {parent} failed"),
            Reason::Interrupted { signal } => {
                write!(formatter, "not started: stopped by {signal}; run again")
            }
            Reason::Unreleased { version } => write!(
                formatter,
                "{version} not released (no floating tag on it: its run stopped after the push, it was pushed with --no-promote, or its tags were moved away): its SBOM, scan and signature are finished as needed, then its floating tags move"
            ),
            Reason::FloatingBehind { tag, old, new } => {
                moved(formatter, &format!("floating tag {tag} behind"), old, new)
            }
        }
    }
}

/// `what old -> new`, both digests short (`none` when there was none).
fn moved(
    formatter: &mut std::fmt::Formatter<'_>,
    what: &str,
    old: &Option<String>,
    new: &str,
) -> std::fmt::Result {
    let old = old.as_deref().map_or("none".to_string(), short_digest);
    write!(formatter, "{what} {old} -> {}", short_digest(new))
}

impl From<&crate::failing::Failing> for Reason {
    /// The reason a held line shows.
    fn from(failing: &crate::failing::Failing) -> Reason {
        Reason::Failing {
            since: failing.since,
            attempts: failing.attempts,
            retry_at: failing.retry_at,
            error: failing.error.clone(),
        }
    }
}
