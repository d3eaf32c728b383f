//! `golden.toml` (SPEC section 1): parsed key by key from the spanned TOML
//! tree so that every problem in the file is reported at once, each with its
//! file, line, column, key and what would be valid.
//!
//! Reads only the files it is pointed at (the config, context directories and
//! Dockerfiles to check they exist); no network, no engine.
//!
//! This file holds what a loaded config is ([`Config`], [`Image`]) and its
//! lookups. The reading: `reader.rs` (the `Reader` and its generic steps),
//! `document.rs` (the top level, section by section), then a file per
//! section or concern (`registry.rs`, `engine.rs`, `engines.rs`,
//! `defaults.rs`, `images.rs`, `policy.rs`, `notify.rs`; `inherited.rs`,
//! `platforms.rs`, `versioning.rs` and `limits.rs` for keys images and
//! `[defaults]` share; `paths.rs` for the paths it names).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use toml::de::DeTable;
use toml::Spanned;

use crate::diagnostic::{Diagnostic, Diagnostics, SourceFile};
use crate::files::Files;
use crate::schedule::Schedule;
use crate::version::Line;

/// The file name looked for in the working directory.
pub const DEFAULT_FILE: &str = "golden.toml";
/// The schedule of images that set none.
pub const DEFAULT_SCHEDULE: &str = "@weekly";
/// How long a smoke test may run unless `test_timeout` says otherwise.
pub const DEFAULT_TEST_TIMEOUT: Duration = Duration::from_secs(300);
/// How long a scan may run unless `scan_timeout` says otherwise.
pub const DEFAULT_SCAN_TIMEOUT: Duration = Duration::from_secs(900);

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file is missing, unreadable, too large or not a
    /// regular file (a FIFO, a device, a directory).
    #[error("the config file `{path}` {problem}")]
    Read {
        path: PathBuf,
        problem: crate::files::RegularFileError,
    },
    #[error("{0}")]
    Invalid(Diagnostics),
}

/// A command run in a container of a new image before anything is pushed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmokeTest {
    /// The container command, e.g. `["sh", "-c", "dotnet --info"]`.
    pub command: Vec<String>,
    pub timeout: Duration,
}

/// The scan gate: a command run on the host after a build's exact tag is
/// pushed and before any floating tag moves; `{image}` in it is the pushed
/// image by digest. Exit 0 releases the build; anything else (a timeout
/// too) withdraws it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanGate {
    /// e.g. `["trivy", "image", "--exit-code", "1", "{image}"]`.
    pub command: Vec<String>,
    pub timeout: Duration,
    /// `scan_report`: where the command writes its report (`{output}`
    /// is a file golden makes for it); the report is attached to the
    /// build. `None`: the command names no report.
    pub report: Option<String>,
}

/// One golden image line, with `[defaults]` applied.
#[derive(Debug, Clone)]
pub struct Image {
    pub id: String,
    pub name: String,
    pub version: Line,
    /// The build context directory.
    pub context: PathBuf,
    /// The Dockerfile's path inside the context, `/`-separated.
    pub dockerfile: String,
    pub build_args: BTreeMap<String, String>,
    /// Where each of the image's own `build_args` keys is written (keys
    /// from `[defaults]` are in [`Config::default_build_args`]).
    pub build_arg_spans: BTreeMap<String, Range<usize>>,
    pub labels: BTreeMap<String, String>,
    pub schedule: Schedule,
    pub pull: bool,
    /// Whether builds may use the engine's build cache.
    pub cache: crate::config::Cache,
    pub depends_on: Vec<Spanned<String>>,
    pub test: Option<SmokeTest>,
    /// `scan`: the gate between the push and the floating tags.
    pub scan: Option<ScanGate>,
    /// `sbom` (default true): a CycloneDX SBOM of each build is attached
    /// to it before its floating tags move.
    pub sbom: bool,
    /// `[retention] keep`: how many exact versions of the line `golden
    /// prune` keeps; `None` when neither the image nor `[defaults]` says.
    pub keep: Option<u32>,
    /// The platforms to build, in the order written; empty builds for the
    /// engine's own platform.
    pub platforms: Vec<crate::platform::Platform>,
    /// Labels an engine must carry to build it (`[[engines]] labels`).
    pub engine_labels: Vec<String>,
    /// How builds are named: `X.Y.N` or `X.Y.Z-rN` (`versioning`).
    pub versioning: crate::version::Versioning,
    /// Where the upstream version is read (`upstream_version`); always
    /// set under upstream versioning.
    pub upstream_version: Option<crate::upstream::Source>,
    /// The floating tags the line moves (`floating`); `None`: every kind
    /// (a prerelease then takes neither `X` nor `latest`).
    pub floating: Option<Vec<crate::version::Floating>>,
    /// The upstream tags the final FROM follows (`track`).
    pub track: Option<crate::upstream::Track>,
    /// When a newer tracked upstream tag is built (`adopt`).
    pub adopt: crate::upstream::Adopt,
    /// The builder the image needs (`builder`, or `[defaults]`).
    pub builder: builders::BuilderChoice,
    /// Where that `builder` is written (the image's table or
    /// `[defaults]`); `None` when neither sets it.
    pub builder_span: Option<Range<usize>>,
    /// `[images.<id>.secrets]`: build secrets by id (their sources, never
    /// their values).
    pub secrets: BTreeMap<String, builders::SecretSource>,
    /// Where each secret's id is written in `[images.<id>.secrets]`.
    pub secret_spans: BTreeMap<String, Range<usize>>,
    /// Each secret's source as the recipe covers it: `env NAME`, or `file
    /// PATH` with PATH as written (a checkout elsewhere has the same
    /// recipe). See [`crate::context::RecipeInputs`].
    pub recipe_secrets: BTreeMap<String, String>,
    /// Where `[images.<id>]` is written, for later diagnostics.
    pub span: Range<usize>,
}

impl Image {
    /// The Dockerfile on disk.
    pub fn dockerfile_path(&self) -> PathBuf {
        self.context.join(&self.dockerfile)
    }
}

/// A whole, valid golden.toml.
#[derive(Debug, Clone)]
pub struct Config {
    pub source: SourceFile,
    pub registry: RegistrySettings,
    pub engine: EngineSettings,
    /// Sorted by id.
    pub images: Vec<Image>,
    pub policy: Policy,
    /// Where each `[defaults] build_args` key is written.
    pub default_build_args: BTreeMap<String, Range<usize>>,
    /// `[notify]`: where runs are reported; `None` without the table, or
    /// when its webhook cannot be read (`notify_problems`).
    pub notify: Option<NotifySettings>,
    /// `[backoff]`: how a failing line waits and is notified again.
    pub backoff: BackoffSettings,
    /// `[signing]`: the key builds are signed with, and the one verified.
    pub signing: SigningSettings,
    /// Why `[notify]`'s webhook cannot be read now (its variable unset,
    /// its file missing): an error only for the commands that notify
    /// (`build`, `rebuild`, `daemon`), so a `validate`, `plan` or `check`
    /// gate does not depend on a secret it never uses.
    pub notify_problems: Vec<crate::diagnostic::Diagnostic>,
    /// Images whose own table already has a problem (empty in a valid config).
    pub reported: ReportedImages,
    /// Where each id is in `images`, made on the first lookup.
    by_id: std::sync::OnceLock<std::collections::HashMap<String, usize>>,
    /// The `floating` lists written, by repository name, then line: made
    /// on the first lookup (see [`Config::floating_lists`]).
    floating_by_name: std::sync::OnceLock<
        std::collections::HashMap<
            String,
            BTreeMap<crate::version::Line, Vec<crate::version::Floating>>,
        >,
    >,
}

/// The images whose `[images.<id>]` table has a problem, by id and by
/// repository name. One mistake gives one error: what follows from such an
/// image (a `depends_on` or a FROM naming it, its Dockerfile, its build
/// args) is not reported again, since fixing the table may change it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportedImages {
    ids: BTreeSet<String>,
    names: BTreeSet<String>,
}

impl ReportedImages {
    /// Whether the image with this id has a problem already reported.
    pub fn has_image(&self, id: &str) -> bool {
        self.ids.contains(id)
    }

    /// Whether a golden repository name may be that of such an image: its
    /// `name`, or its id (the name it has without one).
    pub fn has_name(&self, name: &str) -> bool {
        self.names.contains(name) || self.ids.contains(name)
    }

    /// Whether no image has a problem.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    fn insert(&mut self, id: &str, name: Option<&str>) {
        self.ids.insert(id.to_string());
        self.names.extend(name.map(str::to_string));
    }
}

impl Config {
    /// `<host>/<namespace>/<name>` of an image. Host, namespace and name
    /// were validated (and their length together) when the config was read.
    pub fn repository(&self, image: &Image) -> crate::name::Repository {
        crate::name::Repository::from_valid(
            self.registry.host.clone(),
            format!("{}/{}", self.registry.namespace, image.name),
        )
    }

    /// The image name a reference names inside golden's namespace
    /// (`<host>/<namespace>/<name>`), configured or not.
    pub fn golden_name(&self, reference: &crate::reference::Reference) -> Option<String> {
        // `<host>/<namespace>/` stripped piece by piece: no string built
        // for each FROM line of each image.
        let host = self.registry.host.as_str();
        let path = match reference.domain() {
            Some(domain) if domain == host => reference.path(),
            Some(_) => return None,
            None => reference.path().strip_prefix(host)?.strip_prefix('/')?,
        };
        path.strip_prefix(self.registry.namespace.as_str())
            .and_then(|rest| rest.strip_prefix('/'))
            .map(str::to_string)
    }

    /// The image with this id, through an index of `images` by id (runs
    /// look images up by id for every pair of images); a scan when the
    /// index is out of date because `images` changed since.
    pub fn image(&self, id: &str) -> Option<&Image> {
        let index = self.by_id.get_or_init(|| {
            self.images
                .iter()
                .enumerate()
                .map(|(index, image)| (image.id.clone(), index))
                .collect()
        });
        match index.get(id).and_then(|&at| self.images.get(at)) {
            Some(image) if image.id == id => Some(image),
            _ => self.images.iter().find(|image| image.id == id),
        }
    }

    /// The `floating` list of each line of repository `name` that writes
    /// one. Every repository of a run asks, so the lists are indexed by
    /// name once (10,000 lines would otherwise scan 10,000 images each).
    pub fn floating_lists(
        &self,
        name: &str,
    ) -> BTreeMap<crate::version::Line, Vec<crate::version::Floating>> {
        self.floating_by_name
            .get_or_init(|| {
                let mut lists: std::collections::HashMap<String, BTreeMap<_, _>> =
                    std::collections::HashMap::new();
                for image in &self.images {
                    if let Some(floating) = &image.floating {
                        lists
                            .entry(image.name.clone())
                            .or_default()
                            .insert(image.version, floating.clone());
                    }
                }
                lists
            })
            .get(name)
            .cloned()
            .unwrap_or_default()
    }

    /// Parses `source`, returning what could be read and every problem found.
    pub fn parse(source: SourceFile, files: &dyn Files) -> (Option<Config>, Vec<Diagnostic>) {
        let text = source.text.clone();
        let (document, syntax_errors) = DeTable::parse_recoverable(&text);
        let mut reader = Reader::new(&source, files);
        for error in syntax_errors {
            let span = error.span().unwrap_or(0..0);
            reader.problem(
                span,
                format!("invalid TOML: {}", error.message().trim()),
                "here",
                Some("fix the TOML syntax at this point; every other check runs once the file parses".into()),
            );
        }
        if !reader.problems.is_empty() {
            return (None, reader.problems);
        }
        let config = reader.config(document.get_ref(), document.span());
        (config, reader.problems)
    }
}

mod backoff;
pub mod builders;
mod cache;
mod defaults;
mod document;
mod engine;
mod engines;
mod images;
mod inherited;
#[cfg(test)]
pub(crate) mod keys;
mod limits;
mod notify;
mod paths;
mod platforms;
mod policy;
mod reader;
mod registry;
mod signing;
mod versioning;

use reader::Reader;

pub use backoff::BackoffSettings;
pub use cache::Cache;
pub use engine::{EngineSettings, Network};
pub use engines::PoolEngine;
pub use inherited::RESERVED_LABELS;
pub use notify::{
    NotifyFormat, NotifyOn, NotifySettings, OwnerRoute, SecretUrl, SigningSecret, WebhookSource,
};
pub use policy::{Patterns, Policy};
pub use registry::{RegistrySettings, DEFAULT_RETRIES, PUBLIC_REGISTRIES};
pub use signing::{KeySource, SigningSettings};

#[cfg(test)]
mod tests;
