//! The `[images.<id>]` tables of golden.toml and the checks across them:
//! repository names, contexts and Dockerfiles on disk, duplicate lines,
//! unknown `depends_on`. Part of the same key-by-key reader as `mod.rs`.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Component, Path, PathBuf};

use toml::de::DeValue;
use toml::Spanned;

use super::defaults::Defaults;
use super::inherited::{CACHE_EXPECTED, SCHEDULE_EXPECTED};
use super::limits::{BUILD_ARGS, LABELS};
use super::paths::PathKind;
use super::reader::key_spans;
use super::{Image, Reader, RegistrySettings, SmokeTest, DEFAULT_SCHEDULE, DEFAULT_TEST_TIMEOUT};
use crate::diagnostic::closest;
use crate::reference::validate_path;
use crate::schedule::Schedule;
use crate::version::Line;

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

impl Reader<'_> {
    pub(super) fn image(
        &mut self,
        id: &Spanned<std::borrow::Cow<'_, str>>,
        value: &Spanned<DeValue<'_>>,
        defaults: &Defaults,
    ) -> Option<Image> {
        let id_text = id.get_ref().to_string();
        let section = format!("[images.{id_text}]");
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
        let table = self.table(value, &format!("images.{id_text}"))?;
        self.check_keys(table, &section, IMAGE_KEYS);
        let span = id.span();
        let version: Option<Spanned<Line>> = self.required(
            table,
            &span,
            &section,
            "version",
            "a \"MAJOR.MINOR\" string such as \"8.0\"",
        );
        let context: Option<Spanned<String>> = self.required(
            table,
            &span,
            &section,
            "context",
            "a directory path relative to the config file",
        );
        let dockerfile: Option<Spanned<String>> = self.value(
            table,
            &section,
            "dockerfile",
            "a path relative to the context",
        );
        let name: Option<Spanned<String>> = self.value(
            table,
            &section,
            "name",
            "a repository name such as \"aspnet-core\"",
        );
        let schedule: Option<Spanned<Schedule>> =
            self.value(table, &section, "schedule", SCHEDULE_EXPECTED);
        let pull: Option<Spanned<bool>> = self.value(table, &section, "pull", "true or false");
        let cache: Option<Spanned<crate::config::Cache>> =
            self.value(table, &section, "cache", CACHE_EXPECTED);
        let depends_on: Option<Spanned<Vec<Spanned<String>>>> =
            self.value(table, &section, "depends_on", "a list of image ids");
        let test_command = self
            .test_command(table, &section)
            .or_else(|| defaults.test.clone());
        let test_timeout = self.test_timeout(table, &section).or(defaults.test_timeout);
        let keep = self.retention(table, &section).or(defaults.keep);
        let platforms = self
            .platforms(table, &section)
            .or_else(|| defaults.platforms.clone())
            .unwrap_or_default();
        let engine_labels = self
            .label_list(table, &section, "engine_labels")
            .or_else(|| defaults.engine_labels.clone())
            .unwrap_or_default();
        let own_versioning = self.versioning(table, &section);
        let own_source = self.upstream_source(table, &section);
        let own_floating = self.floating(table, &section);
        let track = self.track(table, &section).map(Spanned::into_inner);
        let adopt = self
            .adopt(table, &section)
            .or(defaults.adopt)
            .unwrap_or_default();
        let versioning = own_versioning
            .as_ref()
            .map(|v| *v.get_ref())
            .or(defaults.versioning)
            .unwrap_or_default();
        if let (crate::version::Versioning::Line, Some(source)) = (versioning, &own_source) {
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
        let versioning_valid = self.check_versioning(
            &section,
            &span,
            versioning,
            upstream_version.is_some() || source_written,
            floating.as_ref(),
        ) && (upstream_version.is_some() || !source_written);
        let mut build_args = defaults.build_args.clone();
        build_args.extend(self.strings(table, &section, "build_args"));
        let mut labels = defaults.labels.clone();
        labels.extend(self.labels(table, &section));
        if !defaults.build_args_too_large {
            let own = key_spans(table, "build_args");
            let spans = [&own, &defaults.build_arg_spans];
            let fallback = table.get("build_args").map_or(span.clone(), |v| v.span());
            self.check_size(&BUILD_ARGS, &section, &build_args, spans, fallback);
        }
        if !defaults.labels_too_large {
            let own = key_spans(table, "labels");
            let spans = [&own, &defaults.label_spans];
            let fallback = table.get("labels").map_or(span.clone(), |v| v.span());
            self.check_size(&LABELS, &section, &labels, spans, fallback);
        }

        let name = match name {
            Some(name) => {
                self.check_name(&name, &section);
                name.into_inner()
            }
            None => id_text.clone(),
        };
        if !versioning_valid {
            return None;
        }
        let context = context.and_then(|context| self.context(&context, &section))?;
        let dockerfile_text = dockerfile
            .as_ref()
            .map_or("Dockerfile", |d| d.get_ref().as_str());
        let dockerfile_span = dockerfile.as_ref().map_or(span.clone(), |d| d.span());
        let dockerfile = self.dockerfile(&context, dockerfile_text, dockerfile_span, &section)?;
        let schedule = match (schedule, &defaults.schedule) {
            (Some(schedule), _) => schedule.into_inner(),
            (None, Some(schedule)) => schedule.clone(),
            (None, None) => default_schedule()?,
        };
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
            keep,
            platforms,
            engine_labels,
            versioning,
            upstream_version: match versioning {
                crate::version::Versioning::Line => None,
                crate::version::Versioning::Upstream => upstream_version.map(Spanned::into_inner),
            },
            floating: floating.map(|list| list.kinds),
            track,
            adopt,
            span,
        })
    }

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

    fn dockerfile(
        &mut self,
        context: &Path,
        text: &str,
        span: Range<usize>,
        section: &str,
    ) -> Option<String> {
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
