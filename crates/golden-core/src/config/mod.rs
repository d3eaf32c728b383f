//! `golden.toml` (SPEC section 1): parsed key by key from the spanned TOML
//! tree so that every problem in the file is reported at once, each with its
//! file, line, column, key and what would be valid.
//!
//! Reads only the files it is pointed at (the config, context directories and
//! Dockerfiles to check they exist); no network, no engine.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::diagnostic::{Diagnostic, Diagnostics, SourceFile};
use crate::duration::ConfigDuration;
use crate::files::Files;
use crate::schedule::Schedule;
use crate::version::Line;

/// The file name looked for in the working directory.
pub const DEFAULT_FILE: &str = "golden.toml";
/// The schedule of images that set none.
pub const DEFAULT_SCHEDULE: &str = "@weekly";
/// Labels golden writes itself; the config may not set them.
pub const RESERVED_LABELS: &[&str] = &[
    "org.opencontainers.image.version",
    "org.opencontainers.image.created",
    "org.opencontainers.image.title",
    "org.opencontainers.image.base.name",
    "org.opencontainers.image.base.digest",
    "org.opencontainers.image.revision",
    "io.golden.recipe",
    "io.golden.recipe.parts",
    "io.golden.upstream.version",
];

const TOP_KEYS: &[&str] = &[
    "registry", "engine", "engines", "defaults", "images", "policy", "notify",
];
const DEFAULT_KEYS: &[&str] = &[
    "schedule",
    "pull",
    "cache",
    "build_args",
    "labels",
    "test",
    "test_timeout",
    "retention",
    "platforms",
    "engine_labels",
    "versioning",
    "upstream_version",
    "floating",
    "adopt",
];
const RETENTION_KEYS: &[&str] = &["keep"];
pub(crate) const CACHE_EXPECTED: &str = "\"auto\", \"always\" or \"never\"";
const KEEP_EXPECTED: &str = "a whole number of exact versions to keep per line, at least 1";
/// How long a smoke test may run unless `test_timeout` says otherwise.
pub const DEFAULT_TEST_TIMEOUT: Duration = Duration::from_secs(300);
const IMAGE_KEYS: &[&str] = &[
    "version",
    "context",
    "dockerfile",
    "name",
    "build_args",
    "labels",
    "schedule",
    "depends_on",
    "pull",
    "cache",
    "test",
    "test_timeout",
    "retention",
    "platforms",
    "engine_labels",
    "versioning",
    "upstream_version",
    "floating",
    "track",
    "adopt",
];

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
    /// `[notify]`: where runs are reported; `None` without the table.
    pub notify: Option<NotifySettings>,
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
        reference
            .repository()
            .strip_prefix(self.registry.host.as_str())
            .and_then(|rest| rest.strip_prefix('/'))
            .and_then(|rest| rest.strip_prefix(self.registry.namespace.as_str()))
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

/// `[defaults]` as written.
#[derive(Default)]
struct Defaults {
    schedule: Option<Schedule>,
    pull: Option<bool>,
    cache: Option<crate::config::Cache>,
    test: Option<Vec<String>>,
    test_timeout: Option<Duration>,
    keep: Option<u32>,
    platforms: Option<Vec<crate::platform::Platform>>,
    engine_labels: Option<Vec<String>>,
    versioning: Option<crate::version::Versioning>,
    upstream_version: Option<Spanned<crate::upstream::Source>>,
    /// Whether `upstream_version` is written there, valid or not.
    upstream_version_written: bool,
    floating: Option<versioning::FloatingList>,
    adopt: Option<crate::upstream::Adopt>,
    build_args: BTreeMap<String, String>,
    build_arg_spans: BTreeMap<String, Range<usize>>,
    labels: BTreeMap<String, String>,
    label_spans: BTreeMap<String, Range<usize>>,
    /// Whether `[defaults]` alone is over a size limit (already reported).
    build_args_too_large: bool,
    labels_too_large: bool,
}

impl Reader<'_> {
    fn config(&mut self, document: &DeTable<'_>, span: Range<usize>) -> Option<Config> {
        self.check_keys(document, "the top level", TOP_KEYS);
        let registry = match document.get("registry") {
            Some(value) => self.registry(value),
            None => {
                self.problem(
                    0..0,
                    "missing required table `[registry]`".into(),
                    "expected here",
                    Some("add `[registry]` with `host = \"registry.local:5000\"` and `namespace = \"golden\"`".into()),
                );
                None
            }
        };
        let mut engine = document
            .get("engine")
            .map(|v| self.engine(v))
            .unwrap_or_default();
        if let Some(engines) = document.get("engines") {
            engine.pool = self.engines(engines);
            self.check_one_engine_setting(document);
        }
        let defaults = document
            .get("defaults")
            .map(|v| self.defaults(v))
            .unwrap_or_default();
        let policy = document
            .get("policy")
            .map(|v| self.policy(v))
            .unwrap_or_default();
        let notify = document.get("notify").and_then(|v| {
            let files = self.files;
            self.notify(v, &|name| files.env(name))
        });
        let mut images = Vec::new();
        match document.get("images") {
            Some(value) => {
                if let Some(table) = self.table(value, "images") {
                    for (id, value) in table.iter() {
                        let before = self.problems.len();
                        let image = self.image(id, value, &defaults);
                        if self.problems.len() > before {
                            let name = image.as_ref().map(|image| image.name.clone());
                            let name = name.or_else(|| written_name(value));
                            self.reported.insert(id.get_ref(), name.as_deref());
                        }
                        images.extend(image);
                    }
                }
            }
            None => self.problem(
                span.start..span.start,
                "no golden images are configured".into(),
                "expected `[images.<id>]` tables",
                Some(
                    "add `[images.base]` with `version = \"1.0\"` and `context = \"images/base\"`"
                        .into(),
                ),
            ),
        }
        images.sort_by(|a, b| a.id.cmp(&b.id));
        let registry = registry?;
        self.check_images(&registry, &images);
        self.check_engine_labels(document, &engine, &images);
        Some(Config {
            source: self.file.clone(),
            registry,
            engine,
            images,
            policy,
            default_build_args: defaults.build_arg_spans,
            notify,
            reported: std::mem::take(&mut self.reported),
            by_id: std::sync::OnceLock::new(),
            floating_by_name: std::sync::OnceLock::new(),
        })
    }

    fn defaults(&mut self, value: &Spanned<DeValue<'_>>) -> Defaults {
        let Some(table) = self.table(value, "defaults") else {
            return Defaults::default();
        };
        let section = "[defaults]";
        self.check_keys(table, section, DEFAULT_KEYS);
        let mut defaults = Defaults {
            schedule: self
                .value(table, section, "schedule", SCHEDULE_EXPECTED)
                .map(Spanned::into_inner),
            pull: self
                .value(table, section, "pull", "true or false")
                .map(Spanned::into_inner),
            cache: self
                .value(table, section, "cache", CACHE_EXPECTED)
                .map(Spanned::into_inner),
            build_args: self.strings(table, section, "build_args"),
            build_arg_spans: key_spans(table, "build_args"),
            labels: self.labels(table, section),
            label_spans: key_spans(table, "labels"),
            test: self.test_command(table, section),
            test_timeout: self.test_timeout(table, section),
            keep: self.retention(table, section),
            platforms: self.platforms(table, section),
            engine_labels: self.label_list(table, section, "engine_labels"),
            versioning: self.versioning(table, section).map(Spanned::into_inner),
            upstream_version: self.upstream_source(table, section),
            upstream_version_written: table.get("upstream_version").is_some(),
            floating: self.floating(table, section),
            adopt: self.adopt(table, section),
            build_args_too_large: false,
            labels_too_large: false,
        };
        let none = BTreeMap::new();
        defaults.build_args_too_large = self.check_size(
            &limits::BUILD_ARGS,
            section,
            &defaults.build_args,
            [&defaults.build_arg_spans, &none],
            value.span(),
        );
        defaults.labels_too_large = self.check_size(
            &limits::LABELS,
            section,
            &defaults.labels,
            [&defaults.label_spans, &none],
            value.span(),
        );
        defaults
    }

    /// `[retention]` (`keep = N`) inside `[defaults]` or an image.
    fn retention(&mut self, table: &DeTable<'_>, section: &str) -> Option<u32> {
        let value = table.get("retention")?;
        let name = format!("{}.retention", section.trim_matches(['[', ']']));
        let inner = format!("[{name}]");
        let table = self.table(value, &name)?;
        self.check_keys(table, &inner, RETENTION_KEYS);
        let keep = self.value::<u32>(table, &inner, "keep", KEEP_EXPECTED)?;
        if *keep.get_ref() == 0 {
            self.problem(
                keep.span(),
                format!("`keep` in {inner} is 0: prune would delete every version"),
                "keeps nothing",
                Some(format!("`keep` must be {KEEP_EXPECTED}")),
            );
            return None;
        }
        Some(keep.into_inner())
    }

    /// `test = ["sh", "-c", "..."]`: a non-empty list of strings.
    fn test_command(&mut self, table: &DeTable<'_>, section: &str) -> Option<Vec<String>> {
        let command = self.value::<Vec<String>>(table, section, "test", TEST_EXPECTED)?;
        if command.get_ref().is_empty() || command.get_ref()[0].is_empty() {
            self.problem(
                command.span(),
                format!("`test` in {section} is empty"),
                "empty command",
                Some(format!("`test` must be {TEST_EXPECTED}")),
            );
            return None;
        }
        Some(command.into_inner())
    }

    fn test_timeout(&mut self, table: &DeTable<'_>, section: &str) -> Option<Duration> {
        self.value::<ConfigDuration>(
            table,
            section,
            "test_timeout",
            "a duration such as \"90s\", \"5m\" or \"1h30m\"",
        )
        .map(|timeout| timeout.into_inner().0)
    }

    fn strings(
        &mut self,
        table: &DeTable<'_>,
        section: &str,
        key: &str,
    ) -> BTreeMap<String, String> {
        self.value::<BTreeMap<String, String>>(
            table,
            section,
            key,
            "a table of string values, e.g. { NAME = \"value\" }",
        )
        .map(Spanned::into_inner)
        .unwrap_or_default()
    }

    fn labels(&mut self, table: &DeTable<'_>, section: &str) -> BTreeMap<String, String> {
        let labels = self.strings(table, section, "labels");
        if let Some(value) = table.get("labels") {
            for key in labels.keys() {
                if RESERVED_LABELS.contains(&key.as_str()) || key.is_empty() {
                    self.problem(
                        value.span(),
                        format!("label `{key}` in {section} cannot be set here"),
                        "reserved label",
                        Some("golden writes the org.opencontainers.image.* version, created, title, base and revision labels and io.golden.recipe itself; remove it".into()),
                    );
                }
            }
        }
        self.check_label_keys(table, section, &labels);
        labels
    }
}

/// The `name` an image table gives as written, if it is a string.
fn written_name(value: &Spanned<DeValue<'_>>) -> Option<String> {
    let DeValue::Table(table) = value.get_ref() else {
        return None;
    };
    match table.get("name").map(Spanned::get_ref) {
        Some(DeValue::String(name)) => Some(name.to_string()),
        _ => None,
    }
}

const TEST_EXPECTED: &str = "a command as a list of strings, run in the new image before any push, e.g. [\"sh\", \"-c\", \"dotnet --info\"]";
const SCHEDULE_EXPECTED: &str =
    "a 5-field cron expression in UTC such as \"0 3 * * 1\", or @hourly, @daily, @weekly, @monthly";

mod cache;
mod engine;
mod engines;
pub use cache::Cache;
mod images;
mod limits;
mod notify;
mod paths;
mod platforms;
mod policy;
mod reader;
mod registry;
mod versioning;

use reader::{key_spans, Reader};

pub use notify::{NotifyOn, NotifySettings, SecretUrl, WebhookSource};

pub use engine::{EngineSettings, Network};
pub use engines::PoolEngine;
pub use policy::{Patterns, Policy};
pub use registry::{RegistrySettings, DEFAULT_RETRIES, PUBLIC_REGISTRIES};

#[cfg(test)]
mod tests;
