//! One repository observed: its tag list read once (from memory when
//! allowed), the state of each configured line in it, and the check that
//! what memory answered is confirmed by this run's own answers about the
//! floating tags (else the list and exact tags are asked again).

use std::collections::{BTreeMap, BTreeSet};

use super::ledger::Ledger;
use super::line::{line_state, Markers, Observed};
use super::{Memory, Recall};
use crate::config::Image;
use crate::name::Repository;
use crate::observation::{LastBuild, ObserveError};
use crate::provenance::{Class, ForeignTag};
use crate::registry::{Registry, RegistryError, TagMemory};
use crate::version::{marker_tags, Exact, Floating, Line, Versioning};

/// What the registry says about one line.
#[derive(Debug, Clone)]
pub(super) struct LineState {
    pub(super) versions: Vec<Exact>,
    pub(super) last_build: Option<LastBuild>,
    /// Platform -> base image digest, as the last build's index recorded
    /// them (see [`labels::BASE_PLATFORMS`]).
    pub(super) last_base_platforms: BTreeMap<String, String>,
    pub(super) foreign: Vec<ForeignTag>,
    pub(super) known: BTreeMap<Exact, Class>,
    /// The repository's tag list came from memory (see [`super::observe_until`]).
    pub(super) tags_remembered: bool,
}

/// One line's state as read: its newest golden build, if any.
type LineRead = Result<Option<Observed>, RegistryError>;

/// Reads one repository's tags once and the state of each of `images`'
/// lines in it, by image id.
pub(super) async fn observe_repository(
    registry: &dyn Registry,
    repository: Repository,
    images: Vec<&Image>,
    floating: BTreeMap<Line, Vec<Floating>>,
    memory: Recall<'_>,
) -> Vec<(String, Result<LineState, ObserveError>)> {
    let failed = |error: RegistryError| {
        let error = ObserveError::registry(error, None);
        images
            .iter()
            .map(|image| (image.id.clone(), Err(error.clone())))
            .collect()
    };
    let (mut tags, mut tags_remembered) = match list_tags(registry, &repository, memory).await {
        Ok(listed) => listed,
        Err(error) => return failed(error),
    };
    let (mut ledger, mut states) = read_lines(
        registry,
        memory.memory,
        &repository,
        &images,
        &floating,
        &tags,
    )
    .await;
    let remembered = ledger.remembered();
    let lines_confirmed = !tags_remembered || every_line_confirmed(&states);
    if !lines_confirmed || !confirmed(&remembered, &states) {
        // Something an earlier run remembered is not what this run's
        // answers show (or cannot be checked against them): ask again.
        for version in &remembered {
            memory.memory.forget_exact(&repository.tag(&version.tag()));
        }
        if tags_remembered {
            memory.memory.forget_tags(&repository);
            tags = match registry.tags(&repository).await {
                Ok(tags) => tags,
                Err(error) => return failed(error),
            };
            tags_remembered = false;
        }
        (ledger, states) = read_lines(
            registry,
            memory.memory,
            &repository,
            &images,
            &floating,
            &tags,
        )
        .await;
    }
    // A list is remembered only where the next run can confirm it: a
    // repository with a line never released (or whose floating tags are
    // elsewhere) would be listed again anyway, so writing it is waste.
    if !tags_remembered && every_line_confirmed(&states) {
        memory.memory.remember_tags(&repository, &tags);
    }
    line_states_of(&ledger, &images, states, tags_remembered)
}

/// The repository's tag list, and whether it came from what an earlier
/// run remembered (only with [`Memory::Remembered`]).
async fn list_tags(
    registry: &dyn Registry,
    repository: &Repository,
    memory: Recall<'_>,
) -> Result<(Vec<String>, bool), RegistryError> {
    let remembered_tags = match memory.mode {
        Memory::Remembered => memory.memory.remembered_tags(repository),
        Memory::Fresh => None,
    };
    match remembered_tags {
        Some(tags) => Ok((tags, true)),
        None => Ok((registry.tags(repository).await?, false)),
    }
}

/// The ledger of the repository's exact tags in `tags` and the state of
/// each of `images`' lines read through it.
async fn read_lines<'a>(
    registry: &'a dyn Registry,
    memory: &'a dyn TagMemory,
    repository: &Repository,
    images: &[&Image],
    floating: &BTreeMap<Line, Vec<Floating>>,
    tags: &[String],
) -> (Ledger<'a>, Vec<LineRead>) {
    // Images sharing a repository share its versioning (config checks):
    // under upstream versioning `X.Y.Z` tags are floating, never builds.
    let versioning = images
        .first()
        .map_or(Versioning::Line, |image| image.versioning);
    let versions = versioning.exact_versions(tags.iter().map(String::as_str));
    let ledger = Ledger::remembering(registry, memory, repository.clone(), versions)
        .with_floating(floating.clone());
    let markers = marker_tags(tags.iter().map(String::as_str));
    let states = line_states(&ledger, repository, images, &markers).await;
    (ledger, states)
}

/// The state of each of `images`' lines, read at once.
async fn line_states(
    ledger: &Ledger<'_>,
    repository: &Repository,
    images: &[&Image],
    markers: &Markers,
) -> Vec<LineRead> {
    futures::future::join_all(
        images
            .iter()
            .map(|image| line_state(ledger, repository, image, markers)),
    )
    .await
}

/// Each image's [`LineState`] from its line's state as read and what the
/// ledger learnt of the repository.
fn line_states_of(
    ledger: &Ledger<'_>,
    images: &[&Image],
    states: Vec<LineRead>,
    tags_remembered: bool,
) -> Vec<(String, Result<LineState, ObserveError>)> {
    let known = ledger.known();
    images
        .iter()
        .zip(states)
        .map(|(image, state)| {
            let state = state
                .map(|last| LineState {
                    versions: ledger.versions().to_vec(),
                    last_base_platforms: last
                        .as_ref()
                        .map(|(_, recorded)| recorded.clone())
                        .unwrap_or_default(),
                    last_build: last.map(|(last_build, _)| last_build),
                    foreign: ledger.foreign_in(image.version),
                    known: known.clone(),
                    tags_remembered,
                })
                .map_err(|error| ObserveError::registry(error, None));
            (image.id.clone(), state)
        })
        .collect()
}

/// Whether a remembered tag list is confirmed by this run's own answers:
/// every line observed has a release whose floating tags, just asked of
/// the registry, all point at it. A build pushed or promoted since (by
/// another run, another machine, a rollback) moves a floating tag, so the
/// list is asked again; what stays unseen until the list is asked again
/// is an exact tag added or deleted without any floating tag moving.
fn every_line_confirmed(states: &[LineRead]) -> bool {
    states.iter().all(|state| {
        let Ok(Some((last, _))) = state else {
            return false;
        };
        last.release.as_ref().is_some_and(|(_, digest)| {
            !last.floating.is_empty()
                && last
                    .floating
                    .iter()
                    .all(|tag| tag.digest.as_ref() == Some(digest))
        })
    })
}

/// Whether every exact tag answered from memory (`remembered`) is
/// confirmed by this run's own answers: it is the release of a line whose
/// floating tags, just asked of the registry, all point at the remembered
/// digest. Exact tags are immutable by contract; this is what keeps one
/// pushed over (or a registry replaced under the same name) from being
/// acted on: the floating tags then disagree, and the tags are asked again.
fn confirmed(remembered: &BTreeSet<Exact>, states: &[LineRead]) -> bool {
    remembered.iter().all(|version| {
        states.iter().flatten().flatten().any(|(last, _)| {
            last.release.as_ref().is_some_and(|(release, digest)| {
                release == version
                    && !last.floating.is_empty()
                    && last
                        .floating
                        .iter()
                        .all(|tag| tag.digest.as_ref() == Some(digest))
            })
        })
    })
}
