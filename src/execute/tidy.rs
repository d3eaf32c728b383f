//! Local tags an engine no longer needs: a build that was not pushed, the
//! per-platform tags of a multi-platform build, and the older builds of a
//! line once a newer one is pushed (the engine keeps one build per line,
//! whose layers serve the next build's cache).

use super::{Built, Job, Runner};
use crate::pool::Member;
use crate::reference::Reference;
use crate::version::Exact;

impl Runner<'_> {
    /// Removes the local tag `exact` from each of `members`.
    pub(super) async fn forget_on(&self, members: &[usize], exact: &Reference) {
        for member in members {
            self.forget(*member, exact).await;
        }
    }

    /// Removes the local tag `exact` of a build that was not pushed from
    /// member `index`; an engine the run lost is left alone.
    pub(super) async fn forget(&self, index: usize, exact: &Reference) {
        if self.pool.is_down(index) {
            return;
        }
        if let Err(error) = self.member(index).engine.remove_local(exact).await {
            tracing::warn!(tag = %exact, "could not remove the local tag of a build that was not pushed: {error}");
        }
    }

    /// Removes every local tag of a build that was not pushed: `exact`
    /// from the members holding it, and its per-platform tags.
    pub(super) async fn forget_build(&self, exact: &Reference, built: &Built) {
        self.forget_on(&built.members(), exact).await;
        self.forget_platforms(built).await;
    }

    /// Removes the local per-platform tags of a multi-platform build.
    pub(super) async fn forget_platforms(&self, built: &Built) {
        if let Built::Platforms { builds, .. } = built {
            for build in builds {
                self.forget(build.member, &build.local).await;
            }
        }
    }

    /// After `version` of the line is pushed, removes the local tags of the
    /// line's older builds: the engine keeps the newest build of each line
    /// (its layers serve the next build's cache) and nothing else, so an
    /// hourly cron does not fill the disk.
    pub(super) async fn tidy(&self, member: &Member, job: &Job<'_>, version: Exact) {
        let tags = match member.engine.local_tags(&job.repository.reference()).await {
            Ok(tags) => tags,
            Err(error) => {
                tracing::warn!(image = %job.id, "could not list local images to tidy: {error}");
                return;
            }
        };
        let older = job
            .image
            .versioning
            .exact_versions(tags.iter().map(String::as_str))
            .into_iter()
            .filter(|other| other.line == version.line && *other != version);
        for other in older {
            let reference = job.repository.tag(&other.tag());
            match member.engine.remove_local(&reference).await {
                Ok(()) => {
                    tracing::info!(tag = %reference, "removed the local tag of an older build")
                }
                Err(error) => {
                    tracing::warn!(tag = %reference, "could not remove the local tag of an older build: {error}")
                }
            }
        }
    }
}
