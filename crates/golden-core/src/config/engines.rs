//! `[[engines]]`: the Docker Engines of a build pool, each with the
//! platforms it builds natively, how many builds it takes at once and the
//! labels images may require (`engine_labels`). Part of the same key-by-key
//! reader as `mod.rs`; reads no engine.

use std::collections::BTreeSet;
use std::ops::Range;
use std::path::PathBuf;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::builders::BuilderChoice;
use super::Reader;

pub(super) const POOL_ENGINE_KEYS: &[&str] = &[
    "name",
    "host",
    "platforms",
    "jobs",
    "labels",
    "cert_path",
    "builder",
];
const LABELS_EXPECTED: &str = "a list of labels such as [\"gpu\", \"fast-disk\"]";

/// One `[[engines]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolEngine {
    /// Unique in the pool; the host when not written.
    pub name: String,
    pub name_span: Range<usize>,
    pub host: String,
    /// What it builds natively; empty: what the engine reports.
    pub platforms: Vec<crate::platform::Platform>,
    /// Builds at once; `None`: `--jobs`.
    pub jobs: Option<usize>,
    /// Capabilities images may require with `engine_labels`.
    pub labels: Vec<String>,
    /// A directory with ca.pem, cert.pem and key.pem: TLS to a tcp:// host.
    pub cert_path: Option<PathBuf>,
    /// `builder`: what this engine may run (else `[engine] builder`).
    pub builder: super::builders::BuilderChoice,
    pub span: Range<usize>,
}

impl Reader<'_> {
    /// The `[[engines]]` entries, each with `builder` (else `builder`, that
    /// of `[engine]`); problems are reported, never fatal here.
    pub(super) fn engines(
        &mut self,
        value: &Spanned<DeValue<'_>>,
        builder: BuilderChoice,
    ) -> Vec<PoolEngine> {
        let DeValue::Array(entries) = value.get_ref() else {
            self.problem(
                value.span(),
                "`engines` must be an array of tables".into(),
                "expected `[[engines]]`",
                Some(
                    "write each engine as its own `[[engines]]` table with `host = \"...\"`".into(),
                ),
            );
            return Vec::new();
        };
        let mut engines: Vec<PoolEngine> = Vec::new();
        for entry in entries {
            let Some(table) = self.table(entry, "engines") else {
                continue;
            };
            if let Some(engine) = self.pool_engine(table, entry.span(), builder) {
                if engines.iter().any(|e| e.name == engine.name) {
                    self.problem(
                        engine.name_span.clone(),
                        format!("two [[engines]] are named `{}`", engine.name),
                        "named twice",
                        Some("give each engine its own `name` (it is shown in plans, reports and `golden engines`)".into()),
                    );
                    continue;
                }
                engines.push(engine);
            }
        }
        if entries.is_empty() {
            self.problem(
                value.span(),
                "`engines` lists no engine".into(),
                "empty",
                Some("add `[[engines]]` tables with `host = \"...\"`, or remove `engines` to use `[engine]`".into()),
            );
        }
        engines
    }

    /// One `[[engines]]` entry; `None` without a valid `host`.
    fn pool_engine(
        &mut self,
        table: &DeTable<'_>,
        span: Range<usize>,
        builder: BuilderChoice,
    ) -> Option<PoolEngine> {
        let section = "[[engines]]";
        self.check_keys(table, section, POOL_ENGINE_KEYS);
        let host: Option<Spanned<String>> = self.value(
            table,
            section,
            "host",
            "a string such as \"unix:///var/run/docker.sock\" or \"tcp://build-2:2376\"",
        );
        let Some(host) = host else {
            if !table.contains_key("host") {
                self.problem(
                    span,
                    "an [[engines]] entry has no `host`".into(),
                    "missing `host`",
                    Some("add `host = \"unix:///var/run/docker.sock\"` (or tcp://, https://, ssh://)".into()),
                );
            }
            return None;
        };
        let valid_host = self.check_engine_host(&host);
        let name = self.engine_name(table, section);
        let jobs = self.engine_jobs(table, section, name.as_ref(), &host);
        let labels = self
            .label_list(table, section, "labels")
            .unwrap_or_default();
        let platforms = self.platforms(table, section).unwrap_or_default();
        let cert_path = self.cert_path(table, section);
        let builder = self
            .builder(table, section)
            .map_or(builder, Spanned::into_inner);
        let name_span = name.as_ref().map_or(host.span(), |n| n.span());
        valid_host.then(|| PoolEngine {
            name: name
                .map(Spanned::into_inner)
                .unwrap_or_else(|| host.get_ref().clone()),
            name_span,
            host: host.into_inner(),
            platforms,
            jobs,
            labels,
            cert_path,
            builder,
            span,
        })
    }

    /// `name` of an engine as written; an invalid one is reported.
    fn engine_name(&mut self, table: &DeTable<'_>, section: &str) -> Option<Spanned<String>> {
        let name: Option<Spanned<String>> =
            self.value(table, section, "name", "a short name such as \"arm-1\"");
        if let Some(name) = name
            .as_ref()
            .filter(|name| !valid_engine_name(name.get_ref()))
        {
            self.problem(
                name.span(),
                format!("invalid engine name `{}`", name.get_ref()),
                "invalid name",
                Some("use letters, digits, `.`, `_` and `-` (at most 64)".into()),
            );
        }
        name
    }

    /// `jobs` of the engine `name` at `host`: 1 to 256 (a number out of
    /// range is reported, and read as `None` when below 0).
    fn engine_jobs(
        &mut self,
        table: &DeTable<'_>,
        section: &str,
        name: Option<&Spanned<String>>,
        host: &Spanned<String>,
    ) -> Option<usize> {
        let jobs: Option<Spanned<i64>> = self.value(
            table,
            section,
            "jobs",
            "how many builds this engine runs at once, at least 1",
        );
        if let Some(jobs) = jobs
            .as_ref()
            .filter(|jobs| !(1..=256).contains(jobs.get_ref()))
        {
            // By its name when it has one (as plans and reports show it),
            // the host in parentheses.
            let engine = match name {
                Some(name) => format!("`{}` (`{}`)", name.get_ref(), host.get_ref()),
                None => format!("`{}`", host.get_ref()),
            };
            self.problem(
                jobs.span(),
                format!("`jobs` of engine {engine} is {}", jobs.get_ref()),
                "out of range",
                Some("`jobs` is how many builds the engine runs at once: 1 to 256".into()),
            );
        }
        jobs.and_then(|jobs| usize::try_from(*jobs.get_ref()).ok())
    }

    /// `cert_path`, relative to the config file (not checked here).
    fn cert_path(&mut self, table: &DeTable<'_>, section: &str) -> Option<PathBuf> {
        let cert_path: Option<Spanned<String>> = self.value(
            table,
            section,
            "cert_path",
            "a directory holding ca.pem, cert.pem and key.pem",
        );
        cert_path.map(|path| {
            let directory = self.file.path.parent().unwrap_or(std::path::Path::new("."));
            directory.join(path.get_ref())
        })
    }

    /// A list of engine labels under `key` (`labels` of an engine,
    /// `engine_labels` of an image).
    pub(super) fn label_list(
        &mut self,
        table: &DeTable<'_>,
        section: &str,
        key: &str,
    ) -> Option<Vec<String>> {
        let list = self.value::<Vec<Spanned<String>>>(table, section, key, LABELS_EXPECTED)?;
        let mut labels = BTreeSet::new();
        for label in list.get_ref() {
            if !valid_engine_name(label.get_ref()) {
                self.problem(
                    label.span(),
                    format!("invalid engine label `{}` in {section}", label.get_ref()),
                    "invalid label",
                    Some("use letters, digits, `.`, `_` and `-`, e.g. \"gpu\"".into()),
                );
                continue;
            }
            labels.insert(label.get_ref().clone());
        }
        Some(labels.into_iter().collect())
    }
}

/// Engine names and labels: short, printable, no spaces.
fn valid_engine_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

impl Reader<'_> {
    /// `[engine] host` and `[[engines]]` are two answers to one question.
    pub(super) fn check_one_engine_setting(&mut self, document: &DeTable<'_>) {
        let host = document
            .get("engine")
            .and_then(|engine| match engine.get_ref() {
                DeValue::Table(table) => table.get("host"),
                _ => None,
            });
        if let Some(host) = host {
            self.problem(
                host.span(),
                "`[engine] host` and `[[engines]]` both say which engine to build on".into(),
                "one engine here",
                Some("move this host into an `[[engines]]` entry (keep `network` and `probe_timeout` in [engine]; they apply to every engine), or remove `[[engines]]`".into()),
            );
        }
    }

    /// Every label an image requires is carried by some engine.
    pub(super) fn check_engine_labels(
        &mut self,
        document: &DeTable<'_>,
        engine: &super::EngineSettings,
        images: &[super::Image],
    ) {
        let carried: BTreeSet<&str> = engine
            .pool
            .iter()
            .flat_map(|member| member.labels.iter().map(String::as_str))
            .collect();
        let defaults_span = labels_span(document.get("defaults"));
        for image in images {
            let missing: Vec<&str> = image
                .engine_labels
                .iter()
                .map(String::as_str)
                .filter(|label| !carried.contains(label))
                .collect();
            if missing.is_empty() {
                continue;
            }
            let own = document
                .get("images")
                .and_then(|images| match images.get_ref() {
                    DeValue::Table(table) => table.get(image.id.as_str()),
                    _ => None,
                });
            let span = labels_span(own)
                .or(defaults_span.clone())
                .unwrap_or(image.span.clone());
            let hint = if engine.pool.is_empty() {
                "engine labels need a pool: add `[[engines]]` entries with `labels = [...]`, or remove `engine_labels`".to_string()
            } else {
                let names: Vec<String> = engine
                    .pool
                    .iter()
                    .map(|member| format!("`{}` [{}]", member.name, member.labels.join(", ")))
                    .collect();
                format!(
                    "add the label to an engine's `labels`, or remove it; the engines carry: {}",
                    names.join(", ")
                )
            };
            self.problem(
                span,
                format!(
                    "image `{}` requires engine label{} {} that no engine in [[engines]] carries",
                    image.id,
                    if missing.len() == 1 { "" } else { "s" },
                    missing
                        .iter()
                        .map(|label| format!("`{label}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                "no engine has it",
                Some(hint),
            );
        }
    }
}

/// Where `engine_labels` is written in a table, if it is.
fn labels_span(table: Option<&Spanned<DeValue<'_>>>) -> Option<Range<usize>> {
    match table?.get_ref() {
        DeValue::Table(table) => table.get("engine_labels").map(|value| value.span()),
        _ => None,
    }
}
