//! The `[images.<id>]` tables of golden.toml and the checks across them:
//! repository names, contexts and Dockerfiles on disk, duplicate lines,
//! unknown `depends_on`. Part of the same key-by-key reader as `mod.rs`.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::{Component, Path, PathBuf};

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::defaults::Defaults;
use super::inherited::{CACHE_EXPECTED, SCHEDULE_EXPECTED};
use super::limits::{Limit, BUILD_ARGS, LABELS};
use super::paths::PathKind;
use super::reader::key_spans;
use super::{
    Cache, Image, Reader, RegistrySettings, ScanGate, SmokeTest, DEFAULT_SCAN_TIMEOUT,
    DEFAULT_SCHEDULE, DEFAULT_TEST_TIMEOUT,
};
use crate::diagnostic::closest;
use crate::platform::Platform;
use crate::reference::validate_path;
use crate::schedule::Schedule;
use crate::upstream::{Adopt, Source, Track};
use crate::version::{Floating, Line, Versioning};

pub(super) const IMAGE_KEYS: &[&str] = &[
    "version",
    "context",
    "dockerfile",
    "name",
    "build_args",
    "labels",
    "schedule",
    "timezone",
    "jitter",
    "depends_on",
    "pull",
    "cache",
    "test",
    "test_timeout",
    "scan",
    "scan_timeout",
    "scan_report",
    "sbom",
    "retention",
    "platforms",
    "engine_labels",
    "versioning",
    "upstream_version",
    "floating",
    "track",
    "adopt",
    "builder",
    "secrets",
];

/// One `[images.<id>]` table being read.
struct ImageTable<'t, 'i> {
    table: &'t DeTable<'i>,
    /// `[images.<id>]`, as messages name it.
    section: String,
    /// Where the id is written.
    span: Range<usize>,
}

/// `version`, `context`, `dockerfile` and `name` as written.
struct Identity {
    version: Option<Spanned<Line>>,
    context: Option<Spanned<String>>,
    dockerfile: Option<Spanned<String>>,
    name: Option<Spanned<String>>,
}

/// When and how the line is built and tested, `[defaults]` applied
/// (except `schedule`, as written: its default is taken last).
struct BuildSettings {
    schedule: Option<Spanned<Schedule>>,
    timezone: Option<crate::schedule::Zone>,
    jitter: Option<std::time::Duration>,
    pull: bool,
    cache: Cache,
    depends_on: Vec<Spanned<String>>,
    test: Option<SmokeTest>,
    scan: Option<ScanGate>,
    sbom: bool,
    keep: Option<u32>,
    platforms: Vec<Platform>,
    engine_labels: Vec<String>,
}

/// How the line names its builds and follows its upstream, `[defaults]`
/// applied.
struct Naming {
    versioning: Versioning,
    /// Only under upstream versioning.
    upstream_version: Option<Source>,
    floating: Option<Vec<Floating>>,
    track: Option<Track>,
    adopt: Adopt,
    /// Whether the keys agree (else a problem was reported).
    valid: bool,
}

impl Reader<'_> {
    /// One `[images.<id>]` table with `[defaults]` applied; `None` when a
    /// problem leaves no image to build (each problem is reported).
    pub(super) fn image(
        &mut self,
        id: &Spanned<std::borrow::Cow<'_, str>>,
        value: &Spanned<DeValue<'_>>,
        defaults: &Defaults,
    ) -> Option<Image> {
        let id_text = id.get_ref().to_string();
        self.check_id(id);
        let table = self.table(value, &format!("images.{id_text}"))?;
        let at = ImageTable {
            table,
            section: format!("[images.{id_text}]"),
            span: id.span(),
        };
        self.check_keys(table, &at.section, IMAGE_KEYS);
        let Identity {
            version,
            context,
            dockerfile,
            name,
        } = self.identity(&at);
        let settings = self.build_settings(&at, defaults);
        let naming = self.naming(&at, defaults);
        let (build_args, labels) = self.build_args_and_labels(&at, defaults);
        let builds = self.builds(table, &id_text, defaults.builder.as_ref());
        let name = match name {
            Some(name) => {
                self.check_name(&name, &at.section);
                name.into_inner()
            }
            None => id_text.clone(),
        };
        if !naming.valid {
            return None;
        }
        let context = context.and_then(|context| self.context(&context, &at.section))?;
        let dockerfile = self.dockerfile(&context, dockerfile.as_ref(), &at)?;
        let schedule = match (settings.schedule, &defaults.schedule) {
            (Some(schedule), _) => schedule.into_inner(),
            (None, Some(schedule)) => schedule.clone(),
            (None, None) => default_schedule()?,
        };
        let offset = settings
            .jitter
            .map(|jitter| crate::schedule::jitter_offset(&id_text, jitter))
            .unwrap_or_default();
        let schedule = schedule.placed(settings.timezone, offset);
        Some(Image {
            id: id_text,
            name,
            version: version?.into_inner(),
            context,
            dockerfile,
            build_args,
            build_arg_spans: key_spans(table, "build_args"),
            labels,
            schedule,
            pull: settings.pull,
            cache: settings.cache,
            depends_on: settings.depends_on,
            test: settings.test,
            scan: settings.scan,
            sbom: settings.sbom,
            keep: settings.keep,
            platforms: settings.platforms,
            engine_labels: settings.engine_labels,
            versioning: naming.versioning,
            upstream_version: naming.upstream_version,
            floating: naming.floating,
            track: naming.track,
            adopt: naming.adopt,
            builder: builds.builder,
            builder_span: builds.builder_span,
            secrets: builds.secrets,
            secret_spans: builds.secret_spans,
            recipe_secrets: builds.recipe_secrets,
            span: at.span,
        })
    }

    /// Ids are lowercase letters, digits, `.`, `_` and `-`, starting with
    /// a letter or digit.
    fn check_id(&mut self, id: &Spanned<std::borrow::Cow<'_, str>>) {
        let id_text = id.get_ref();
        let valid_id = !id_text.is_empty()
            && id_text.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && id_text
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
        if !valid_id {
            self.problem(
                id.span(),
                format!("image id `{id_text}` is invalid"),
                "invalid id",
                Some("ids are lowercase letters, digits, `.`, `_` and `-`, starting with a letter or digit".into()),
            );
        }
    }

    /// `version` and `context` (both required), `dockerfile` and `name`.
    fn identity(&mut self, at: &ImageTable<'_, '_>) -> Identity {
        let (table, section) = (at.table, at.section.as_str());
        Identity {
            version: self.required(
                table,
                &at.span,
                section,
                "version",
                "a \"MAJOR.MINOR\" string such as \"8.0\"",
            ),
            context: self.required(
                table,
                &at.span,
                section,
                "context",
                "a directory path relative to the config file",
            ),
            dockerfile: self.value(
                table,
                section,
                "dockerfile",
                "a path relative to the context",
            ),
            name: self.value(
                table,
                section,
                "name",
                "a repository name such as \"aspnet-core\"",
            ),
        }
    }

    /// `schedule`, `pull`, `cache`, `depends_on`, `test`, `test_timeout`,
    /// `[retention]`, `platforms` and `engine_labels`.
    fn build_settings(&mut self, at: &ImageTable<'_, '_>, defaults: &Defaults) -> BuildSettings {
        let (table, section) = (at.table, at.section.as_str());
        let schedule = self.value(table, section, "schedule", SCHEDULE_EXPECTED);
        let pull: Option<Spanned<bool>> = self.value(table, section, "pull", "true or false");
        let cache: Option<Spanned<Cache>> = self.value(table, section, "cache", CACHE_EXPECTED);
        let depends_on: Option<Spanned<Vec<Spanned<String>>>> =
            self.value(table, section, "depends_on", "a list of image ids");
        let test_command = self
            .test_command(table, section)
            .or_else(|| defaults.test.clone());
        let test_timeout = self.test_timeout(table, section).or(defaults.test_timeout);
        let scan_command = self
            .scan_command(table, section)
            .or_else(|| defaults.scan.clone());
        let scan_timeout = self.scan_timeout(table, section).or(defaults.scan_timeout);
        let scan_report = self
            .scan_report(table, section)
            .or_else(|| defaults.scan_report.clone());
        let sbom: Option<Spanned<bool>> = self.value(table, section, "sbom", "true or false");
        BuildSettings {
            schedule,
            timezone: self.timezone(table, section).or(defaults.timezone),
            jitter: self.jitter(table, section).or(defaults.jitter),
            pull: pull
                .map(Spanned::into_inner)
                .or(defaults.pull)
                .unwrap_or(true),
            cache: cache
                .map(Spanned::into_inner)
                .or(defaults.cache)
                .unwrap_or_default(),
            depends_on: depends_on.map(Spanned::into_inner).unwrap_or_default(),
            test: test_command.map(|command| SmokeTest {
                command,
                timeout: test_timeout.unwrap_or(DEFAULT_TEST_TIMEOUT),
            }),
            scan: scan_command.map(|command| ScanGate {
                command,
                timeout: scan_timeout.unwrap_or(DEFAULT_SCAN_TIMEOUT),
                report: scan_report,
            }),
            sbom: sbom
                .map(Spanned::into_inner)
                .or(defaults.sbom)
                .unwrap_or(true),
            keep: self.retention(table, section).or(defaults.keep),
            platforms: self
                .platforms(table, section)
                .or_else(|| defaults.platforms.clone())
                .unwrap_or_default(),
            engine_labels: self
                .label_list(table, section, "engine_labels")
                .or_else(|| defaults.engine_labels.clone())
                .unwrap_or_default(),
        }
    }

    /// `versioning`, `upstream_version`, `floating`, `track` and `adopt`,
    /// and whether they agree.
    fn naming(&mut self, at: &ImageTable<'_, '_>, defaults: &Defaults) -> Naming {
        let (table, section) = (at.table, at.section.as_str());
        let own_versioning = self.versioning(table, section);
        let own_source = self.upstream_source(table, section);
        let own_floating = self.floating(table, section);
        let track = self.track(table, section).map(Spanned::into_inner);
        let adopt = self
            .adopt(table, section)
            .or(defaults.adopt)
            .unwrap_or_default();
        let versioning = own_versioning
            .as_ref()
            .map(|v| *v.get_ref())
            .or(defaults.versioning)
            .unwrap_or_default();
        if let (Versioning::Line, Some(source)) = (versioning, &own_source) {
            self.problem(
                source.span(),
                format!("{section} sets `upstream_version` but builds under `versioning = \"line\"`"),
                "not read",
                Some("the upstream version names builds only under upstream versioning: add `versioning = \"upstream\"`, or remove `upstream_version`".into()),
            );
        }
        let upstream_version = own_source.or_else(|| defaults.upstream_version.clone());
        let floating = own_floating.or_else(|| defaults.floating.clone());
        // A source written but invalid is reported as such, not as missing.
        let source_written =
            table.get("upstream_version").is_some() || defaults.upstream_version_written;
        let valid = self.check_versioning(
            section,
            &at.span,
            versioning,
            upstream_version.is_some() || source_written,
            floating.as_ref(),
        ) && (upstream_version.is_some() || !source_written);
        Naming {
            versioning,
            upstream_version: match versioning {
                Versioning::Line => None,
                Versioning::Upstream => upstream_version.map(Spanned::into_inner),
            },
            floating: floating.map(|list| list.kinds),
            track,
            adopt,
            valid,
        }
    }

    /// `build_args` and `labels` over those of `[defaults]`, each within
    /// its size limit (unless `[defaults]` alone is over it: reported there).
    fn build_args_and_labels(
        &mut self,
        at: &ImageTable<'_, '_>,
        defaults: &Defaults,
    ) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
        let mut build_args = defaults.build_args.clone();
        build_args.extend(self.strings(at.table, &at.section, "build_args"));
        let mut labels = defaults.labels.clone();
        labels.extend(self.labels(at.table, &at.section));
        if !defaults.build_args_too_large {
            let spans = &defaults.build_arg_spans;
            self.check_merged_size(at, &BUILD_ARGS, "build_args", &build_args, spans);
        }
        if !defaults.labels_too_large {
            let spans = &defaults.label_spans;
            self.check_merged_size(at, &LABELS, "labels", &labels, spans);
        }
        (build_args, labels)
    }

    /// [`Reader::check_size`] of the table `key` merged over `[defaults]`,
    /// each entry found where the image or `[defaults]` writes it.
    fn check_merged_size(
        &mut self,
        at: &ImageTable<'_, '_>,
        limit: &Limit,
        key: &str,
        merged: &BTreeMap<String, String>,
        default_spans: &BTreeMap<String, Range<usize>>,
    ) {
        let own = key_spans(at.table, key);
        let spans = [&own, default_spans];
        let fallback = at.table.get(key).map_or(at.span.clone(), |v| v.span());
        self.check_size(limit, &at.section, merged, spans, fallback);
    }

    /// A repository `name` is a valid path of the reference grammar.
    fn check_name(&mut self, name: &Spanned<String>, section: &str) {
        if let Err(error) = validate_path(name.get_ref()) {
            self.problem(
                name.span(),
                format!("invalid repository name `{}` in {section}: {error}", name.get_ref()),
                "invalid name",
                Some("use lowercase letters, digits and `.`, `_`, `-` separators, e.g. \"aspnet-core\"".into()),
            );
        }
    }

    /// The `context` directory, relative to the config file.
    fn context(&mut self, context: &Spanned<String>, section: &str) -> Option<PathBuf> {
        let base = self.file.path.parent().unwrap_or(Path::new("."));
        let path = base.join(context.get_ref());
        let Some((problem, label)) = self.image_path_problem(&path, PathKind::Directory) else {
            return Some(path);
        };
        self.problem(
            context.span(),
            format!("context directory `{}` of {section} {problem}", path.display()),
            label,
            Some(match label {
                "symlink loop" => "a symlink on this path points back at itself, directly or through others; point `context` at the real directory".into(),
                _ => "paths are relative to the directory of golden.toml".into(),
            }),
        );
        None
    }

    /// The Dockerfile `written` (else `Dockerfile`) inside `context`, as
    /// the context lists it; a problem when outside it or not a file.
    fn dockerfile(
        &mut self,
        context: &Path,
        written: Option<&Spanned<String>>,
        at: &ImageTable<'_, '_>,
    ) -> Option<String> {
        let text = written.map_or("Dockerfile", |d| d.get_ref().as_str());
        let span = written.map_or(at.span.clone(), |d| d.span());
        let section = at.section.as_str();
        let relative = Path::new(text);
        let escapes = relative.is_absolute()
            || relative
                .components()
                .any(|c| matches!(c, Component::ParentDir));
        if escapes {
            self.problem(
                span,
                format!("Dockerfile `{text}` of {section} is outside its context"),
                "outside the context",
                Some("give a path inside the context directory, e.g. \"Dockerfile\" or \"docker/Dockerfile\"".into()),
            );
            return None;
        }
        let path = context.join(relative);
        if let Some((problem, label)) = self.image_path_problem(&path, PathKind::File) {
            self.problem(
                span,
                format!("Dockerfile `{}` of {section} {problem}", path.display()),
                label,
                Some(
                    "`dockerfile` is relative to the context; it defaults to \"Dockerfile\"".into(),
                ),
            );
            return None;
        }
        // As the context lists it: `/`-separated, no `.` or empty parts.
        let parts: Vec<String> = relative
            .components()
            .filter_map(|c| match c {
                Component::Normal(part) => Some(part.to_string_lossy().to_string()),
                _ => None,
            })
            .collect();
        Some(parts.join("/"))
    }

    /// Checks across images: repository names and (name, version) pairs.
    pub(super) fn check_images(&mut self, registry: &RegistrySettings, images: &[Image]) {
        let mut seen: HashMap<(&str, Line), &str> = HashMap::with_capacity(images.len());
        let mut schemes: HashMap<&str, &Image> = HashMap::with_capacity(images.len());
        for image in images {
            let first = *schemes.entry(image.name.as_str()).or_insert(image);
            if first.versioning != image.versioning {
                self.reported.insert(&image.id, Some(&image.name));
                self.problem(
                    image.span.clone(),
                    format!(
                        "images `{}` and `{}` share repository `{}` but `{}` uses {} versioning and `{}` {}",
                        first.id, image.id, image.name, first.id, first.versioning, image.id, image.versioning
                    ),
                    "mixed versioning",
                    Some("the lines of one repository are named one way: give both the same `versioning`, or give one another `name`".into()),
                );
            }
            // `<host>/<namespace>/<name>`, measured without building it.
            let length = registry.host.len() + 1 + registry.namespace.len() + 1 + image.name.len();
            if length > 255 {
                let repository = format!("{}/{}", registry.namespace, image.name);
                self.reported.insert(&image.id, Some(&image.name));
                self.problem(
                    image.span.clone(),
                    format!(
                        "repository `{}/{repository}` is longer than 255 characters",
                        registry.host
                    ),
                    "name too long",
                    Some("choose a shorter `name` or namespace".into()),
                );
            }
            if let Some(first) = seen.insert((image.name.as_str(), image.version), &image.id) {
                self.reported.insert(&image.id, Some(&image.name));
                self.problem(
                    image.span.clone(),
                    format!(
                        "images `{first}` and `{}` are both line {} of repository `{}`",
                        image.id, image.version, image.name
                    ),
                    "duplicate line",
                    Some(
                        "each (name, version) pair must be unique: change `version` or `name`"
                            .into(),
                    ),
                );
            }
        }
        let ids: Vec<&str> = images.iter().map(|image| image.id.as_str()).collect();
        let known: std::collections::HashSet<&str> = ids.iter().copied().collect();
        for image in images {
            for parent in &image.depends_on {
                let reported = self.reported.has_image(parent.get_ref());
                if !reported && !known.contains(parent.get_ref().as_str()) {
                    self.reported.insert(&image.id, Some(&image.name));
                    let suggestion = closest(parent.get_ref(), &ids)
                        .map(|near| format!("did you mean `{near}`? "))
                        .unwrap_or_default();
                    self.problem(
                        parent.span(),
                        format!(
                            "`depends_on` of [images.{}] names unknown image `{}`",
                            image.id,
                            parent.get_ref()
                        ),
                        "unknown image",
                        Some(format!("{suggestion}configured images: {}", ids.join(", "))),
                    );
                }
            }
        }
    }
}

/// The schedule of an image that names none, parsed once per process
/// (a config of 10,000 images would parse it 10,000 times).
fn default_schedule() -> Option<Schedule> {
    static DEFAULT: std::sync::OnceLock<Option<Schedule>> = std::sync::OnceLock::new();
    DEFAULT
        .get_or_init(|| Schedule::parse(DEFAULT_SCHEDULE).ok())
        .clone()
}
