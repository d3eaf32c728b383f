//! `[defaults]` of golden.toml: the settings every image takes unless its
//! own table sets them, read once and checked on their own (a `[defaults]`
//! over a size limit is reported there, not again for each image).

use std::collections::BTreeMap;
use std::ops::Range;
use std::time::Duration;

use toml::de::DeValue;
use toml::Spanned;

use super::inherited::{CACHE_EXPECTED, SCHEDULE_EXPECTED};
use super::limits::{BUILD_ARGS, LABELS};
use super::reader::key_spans;
use super::versioning::FloatingList;
use super::Reader;
use crate::schedule::Schedule;

pub(super) const DEFAULT_KEYS: &[&str] = &[
    "schedule",
    "timezone",
    "jitter",
    "pull",
    "cache",
    "build_args",
    "labels",
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
    "adopt",
    "builder",
];

/// `[defaults]` as written.
#[derive(Default)]
pub(super) struct Defaults {
    pub(super) schedule: Option<Schedule>,
    pub(super) timezone: Option<crate::schedule::Zone>,
    pub(super) jitter: Option<Duration>,
    pub(super) pull: Option<bool>,
    pub(super) cache: Option<crate::config::Cache>,
    pub(super) test: Option<Vec<String>>,
    pub(super) test_timeout: Option<Duration>,
    pub(super) scan: Option<Vec<String>>,
    pub(super) scan_timeout: Option<Duration>,
    pub(super) scan_report: Option<String>,
    pub(super) sbom: Option<bool>,
    pub(super) keep: Option<u32>,
    pub(super) platforms: Option<Vec<crate::platform::Platform>>,
    pub(super) engine_labels: Option<Vec<String>>,
    pub(super) versioning: Option<crate::version::Versioning>,
    pub(super) upstream_version: Option<Spanned<crate::upstream::Source>>,
    /// Whether `upstream_version` is written there, valid or not.
    pub(super) upstream_version_written: bool,
    pub(super) floating: Option<FloatingList>,
    pub(super) adopt: Option<crate::upstream::Adopt>,
    pub(super) builder: Option<Spanned<super::builders::BuilderChoice>>,
    pub(super) build_args: BTreeMap<String, String>,
    pub(super) build_arg_spans: BTreeMap<String, Range<usize>>,
    pub(super) labels: BTreeMap<String, String>,
    pub(super) label_spans: BTreeMap<String, Range<usize>>,
    /// Whether `[defaults]` alone is over a size limit (already reported).
    pub(super) build_args_too_large: bool,
    pub(super) labels_too_large: bool,
}

impl Reader<'_> {
    /// `[defaults]`; empty when it is not a table.
    pub(super) fn defaults(&mut self, value: &Spanned<DeValue<'_>>) -> Defaults {
        let Some(table) = self.table(value, "defaults") else {
            return Defaults::default();
        };
        let section = "[defaults]";
        if let Some((key, _)) = table.get_key_value("secrets") {
            self.problem(
                key.span(),
                "`secrets` cannot be set in [defaults]: build secrets belong to the images whose Dockerfiles mount them".into(),
                "not in [defaults]",
                Some("put them under `[images.<id>.secrets]` of each such image, e.g. `[images.sdk.secrets]` with `nuget_token = { env = \"NUGET_TOKEN\" }`".into()),
            );
        }
        self.check_keys_except(table, section, DEFAULT_KEYS, &["secrets"]);
        let mut defaults = Defaults {
            schedule: self
                .value(table, section, "schedule", SCHEDULE_EXPECTED)
                .map(Spanned::into_inner),
            timezone: self.timezone(table, section),
            jitter: self.jitter(table, section),
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
            scan: self.scan_command(table, section),
            scan_timeout: self.scan_timeout(table, section),
            scan_report: self.scan_report(table, section),
            sbom: self
                .value(table, section, "sbom", "true or false")
                .map(Spanned::into_inner),
            keep: self.retention(table, section),
            platforms: self.platforms(table, section),
            engine_labels: self.label_list(table, section, "engine_labels"),
            versioning: self.versioning(table, section).map(Spanned::into_inner),
            upstream_version: self.upstream_source(table, section),
            upstream_version_written: table.get("upstream_version").is_some(),
            floating: self.floating(table, section),
            adopt: self.adopt(table, section),
            builder: self.builder(table, section),
            build_args_too_large: false,
            labels_too_large: false,
        };
        let none = BTreeMap::new();
        defaults.build_args_too_large = self.check_size(
            &BUILD_ARGS,
            section,
            &defaults.build_args,
            [&defaults.build_arg_spans, &none],
            value.span(),
        );
        defaults.labels_too_large = self.check_size(
            &LABELS,
            section,
            &defaults.labels,
            [&defaults.label_spans, &none],
            value.span(),
        );
        defaults
    }
}
