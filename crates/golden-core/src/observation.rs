//! What observe learns, as plain data for the planner: each image's
//! versions, its newest build and the labels it recorded, where its
//! floating tags point, the digest of its base and the entries (and, when
//! the plan needs it, the recipe) of its context; or why it could not be
//! observed. Pure types: nothing here performs I/O, so `plan` depends on
//! this module and not on `observe`.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::context::{Entry, Recipe};
use crate::name::{Digest, Tag};
use crate::provenance::{Class, ForeignTag};
use crate::registry::RegistryError;
use crate::version::Exact;

/// What the newest golden build of a line recorded about itself: the
/// build the plan compares with. Under upstream versioning that is the
/// newest build a rollback did not withdraw, when there is one (a line is
/// built forward only from it, see `execute`'s forward check).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastBuild {
    pub version: Exact,
    pub digest: Digest,
    pub created: Option<DateTime<Utc>>,
    pub recipe: Option<String>,
    /// The build's recipe parts label, for saying what changed.
    pub recipe_parts: Option<String>,
    /// Why it was built (its `io.golden.reasons` label); `None` for a
    /// build made before golden recorded it.
    pub reasons: Option<String>,
    pub base_name: Option<String>,
    /// The base digest label, as the build wrote it.
    pub base_digest: Option<String>,
    /// The floating tags that belong on the release and what each resolves
    /// to now; one elsewhere was left behind by a run that died, or moved
    /// by someone else.
    pub floating: Vec<FloatingTag>,
    /// The newest golden build of the line that `golden rollback` did not
    /// withdraw, and its digest: where the floating tags belong. The same
    /// as `version` unless newer builds were withdrawn; `None` when all were.
    pub release: Option<(Exact, Digest)>,
    /// The newest build not withdrawn when it is not whole (see
    /// [`crate::provenance::Incomplete`]): `release` is then `None`, so no
    /// floating tag moves, and the line is built again.
    pub incomplete: Option<(Exact, crate::provenance::Incomplete)>,
    /// The line's builds that a rollback withdrew.
    pub withdrawn: Vec<Exact>,
    /// The platforms of the build's index, in index order; empty when it
    /// is a single image manifest.
    pub platforms: Vec<crate::platform::Platform>,
}

/// Where one floating tag points now (`None`: missing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FloatingTag {
    pub tag: Tag,
    pub digest: Option<Digest>,
}

/// Everything observed about one image.
#[derive(Debug, Clone)]
pub struct Observation {
    /// Every exact version in the image's repository, all lines, golden
    /// or not, sorted: the next build number skips past all of them.
    pub versions: Vec<Exact>,
    pub last_build: Option<LastBuild>,
    /// Exact tags of the line that are not golden builds (those read).
    pub foreign: Vec<ForeignTag>,
    /// What was learnt about the repository's exact tags.
    pub known: BTreeMap<Exact, Class>,
    /// The digest the final FROM resolves to now (`None` for scratch).
    pub base_digest: Option<Digest>,
    /// When the upstream base of a multi-platform line moved since its
    /// last build: the platforms whose image in the base's index changed.
    /// Empty when the base did not move or the last build did not record
    /// its base per platform.
    pub base_platforms_changed: Vec<String>,
    /// The recipe of the context as it is now, when the plan compares it
    /// with the last build's (see [`crate::plan::compares_recipe`]);
    /// `None` otherwise: the build hashes the context as it sends it.
    pub recipe: Option<Recipe>,
    /// The context entries to send (and the recipe covers).
    pub entries: Vec<Entry>,
    /// The repository's tag list was answered from what an earlier run
    /// remembered, confirmed by the floating tags but possibly missing an
    /// exact tag added or deleted since: never acted on (see
    /// `observe::observe_until`).
    pub tags_remembered: bool,
    /// With `track`: the upstream tag the final FROM was resolved to.
    pub tracked: Option<Tracked>,
    /// The line's last build failed: its record (see [`crate::failing`]).
    pub failing: Option<crate::failing::Failing>,
}

/// What a `track` pattern resolved an image's final FROM to: the newest
/// matching tag of the FROM's repository, never below the tag written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracked {
    /// The tag the Dockerfile's FROM names (the floor).
    pub written: String,
    /// The reference built FROM: the FROM's repository and the tag picked.
    pub resolved: crate::reference::Reference,
    /// With `adopt = "on-schedule"`, when `resolved` is newer than the tag
    /// the last build was made FROM (its `org.opencontainers.image.base.name`)
    /// and that tag still matches the pattern, is not below the floor and
    /// exists: that tag and its digest now. While the release waits for the
    /// schedule, the plan compares the base with it and builds FROM it.
    pub held: Option<Held>,
}

/// The tag a tracked image's last build was made FROM, resolved now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// The FROM's repository and the tag the last build was made FROM.
    pub reference: crate::reference::Reference,
    /// What it resolves to now.
    pub digest: Digest,
}

impl Tracked {
    /// The tag picked.
    pub fn tag(&self) -> &str {
        self.resolved.tag().unwrap_or_default()
    }
}

impl Observation {
    /// The reference the final FROM is built on and the digest it resolves
    /// to now: with `held` (the plan holds a release for the schedule, see
    /// [`crate::plan::Step::holds_release`]) the tag the last build was
    /// made FROM, else the tag `track` picked, else the FROM as written
    /// (`None` for scratch).
    pub fn base<'a>(
        &'a self,
        upstream: &'a crate::graph::Upstream,
        held: bool,
    ) -> (Option<&'a crate::reference::Reference>, Option<&'a Digest>) {
        match &self.tracked {
            Some(Tracked {
                held: Some(base), ..
            }) if held => (Some(&base.reference), Some(&base.digest)),
            Some(tracked) => (Some(&tracked.resolved), self.base_digest.as_ref()),
            None => (upstream.reference(), self.base_digest.as_ref()),
        }
    }
}

/// Why an image could not be observed.
#[derive(Debug, Clone)]
pub enum ObserveError {
    /// A registry request failed; `context` says what golden was doing
    /// when the error alone does not. Shared by the images of a repository.
    Registry {
        context: Option<String>,
        error: Arc<RegistryError>,
    },
    /// The base image the final FROM names is not in its registry.
    BaseMissing { reference: String },
    /// The build context could not be read or hashed.
    Context(String),
    /// The image was not among those observed.
    NotObserved(String),
}

impl std::fmt::Display for ObserveError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ObserveError::Registry {
                context: Some(context),
                error,
            } => write!(formatter, "{context}: {error}"),
            ObserveError::Registry {
                context: None,
                error,
            } => write!(formatter, "{error}"),
            ObserveError::BaseMissing { reference } => {
                write!(
                    formatter,
                    "base image `{reference}` does not exist in its registry"
                )
            }
            ObserveError::Context(message) => formatter.write_str(message),
            ObserveError::NotObserved(id) => write!(formatter, "`{id}` was not observed"),
        }
    }
}

impl std::error::Error for ObserveError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ObserveError::Registry { error, .. } => Some(error.as_ref()),
            _ => None,
        }
    }
}

impl ObserveError {
    /// A failed registry request, with what golden was doing.
    pub fn registry(error: RegistryError, context: Option<String>) -> ObserveError {
        ObserveError::Registry {
            context,
            error: Arc::new(error),
        }
    }

    /// Whether the registry could not be reached at all (exit code 3).
    pub fn is_unreachable(&self) -> bool {
        match self {
            ObserveError::Registry { error, .. } => error.is_unreachable(),
            _ => false,
        }
    }
}

impl crate::hint::Hint for ObserveError {
    /// A registry error speaks for itself: its hint is this one's.
    fn hint(&self) -> Option<std::borrow::Cow<'_, str>> {
        match self {
            ObserveError::BaseMissing { .. } => {
                Some("push it, or fix the FROM line and build args".into())
            }
            ObserveError::Registry { error, .. } => error.hint(),
            ObserveError::Context(_) | ObserveError::NotObserved(_) => None,
        }
    }
}

/// Observations by image id; an `Err` is that image's failed lookup.
pub type Observations = BTreeMap<String, Result<Observation, ObserveError>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_failures_keep_their_cause_and_render_as_before() {
        let error = ObserveError::registry(
            RegistryError::Unreachable {
                registry: "registry.local:5000".into(),
                message: "connection refused".into(),
            },
            Some("failed to resolve base image `registry.local:5000/up/busybox:1`".into()),
        );
        assert!(error.is_unreachable());
        let cause = std::error::Error::source(&error)
            .and_then(|source| source.downcast_ref::<RegistryError>());
        assert!(matches!(cause, Some(RegistryError::Unreachable { .. })));
        assert_eq!(
            crate::hint::text_of(&error),
            "failed to resolve base image `registry.local:5000/up/busybox:1`: cannot reach registry `registry.local:5000`: connection refused\nhint: is the registry at `registry.local:5000` running and reachable from this machine?"
        );
        let missing = ObserveError::BaseMissing {
            reference: "busybox:1".into(),
        };
        assert!(!missing.is_unreachable());
        assert_eq!(
            crate::hint::text_of(&missing),
            "base image `busybox:1` does not exist in its registry\nhint: push it, or fix the FROM line and build args"
        );
    }
}
