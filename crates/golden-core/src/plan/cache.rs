//! Whether a build may reuse the engine's build cache. A golden image is
//! rebuilt on a schedule to pick up the distribution's security patches
//! (`apt-get upgrade`, `apk upgrade`, a fresh CA bundle); with the cache,
//! every `RUN` step is a hit and the "new" build has the old layers. So a
//! build the schedule fired, one forced by `golden rebuild` and one for a
//! new base run every step and pull the pinned base; a recipe change or a
//! rebuilt parent may use the cache.
//!
//! Pure.

use crate::config::Cache;
use crate::plan::Reason;

/// Whether a build with `reasons` uses the build cache under `policy`.
pub fn uses_cache(policy: Cache, reasons: &[Reason]) -> bool {
    match policy {
        Cache::Always => true,
        Cache::Never => false,
        Cache::Auto => !reasons.iter().any(|reason| {
            matches!(
                reason,
                Reason::ScheduleFired { .. }
                    | Reason::Forced
                    | Reason::BaseUpdated { .. }
                    | Reason::UpstreamReleased { .. }
            )
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freshness_builds_skip_the_cache_under_auto() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-03-09T03:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let fresh = [
            vec![Reason::ScheduleFired { at }],
            vec![Reason::Forced],
            vec![Reason::BaseUpdated {
                old: None,
                new: "sha256:b".into(),
                platforms: Vec::new(),
            }],
            vec![
                Reason::ParentRebuilt {
                    parent: "base".into(),
                },
                Reason::ScheduleFired { at },
            ],
        ];
        for reasons in &fresh {
            assert!(!uses_cache(Cache::Auto, reasons), "{reasons:?}");
            assert!(uses_cache(Cache::Always, reasons));
        }
        let cached = [
            vec![Reason::NeverBuilt],
            vec![Reason::RecipeChanged {
                old: None,
                new: "sha256:r".into(),
                changed: Vec::new(),
            }],
            vec![Reason::ParentRebuilt {
                parent: "base".into(),
            }],
        ];
        for reasons in &cached {
            assert!(uses_cache(Cache::Auto, reasons), "{reasons:?}");
            assert!(!uses_cache(Cache::Never, reasons));
        }
    }
}
