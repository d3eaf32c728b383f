//! The keys an image sets in its own table or takes from `[defaults]`,
//! read the same way in both places: `test`, `test_timeout`, `[retention]`,
//! `build_args` and `labels`, and what `schedule` and `cache` must be. (The
//! others have files of their own: platforms.rs, versioning.rs, engines.rs.)

use std::collections::BTreeMap;
use std::time::Duration;

use toml::de::DeTable;
use toml::Spanned;

use super::Reader;
use crate::duration::ConfigDuration;

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
    "io.golden.reasons",
    "io.golden.upstream.version",
];

const RETENTION_KEYS: &[&str] = &["keep"];
pub(super) const CACHE_EXPECTED: &str = "\"auto\", \"always\" or \"never\"";
const KEEP_EXPECTED: &str = "a whole number of exact versions to keep per line, at least 1";
const TEST_EXPECTED: &str = "a command as a list of strings, run in the new image before any push, e.g. [\"sh\", \"-c\", \"dotnet --info\"]";
pub(super) const SCHEDULE_EXPECTED: &str =
    "a 5-field cron expression in UTC such as \"0 3 * * 1\", or @hourly, @daily, @weekly, @monthly";

impl Reader<'_> {
    /// `[retention]` (`keep = N`) inside `[defaults]` or an image.
    pub(super) fn retention(&mut self, table: &DeTable<'_>, section: &str) -> Option<u32> {
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
    pub(super) fn test_command(
        &mut self,
        table: &DeTable<'_>,
        section: &str,
    ) -> Option<Vec<String>> {
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

    /// `scan = ["trivy", "image", ..., "{image}"]`: a non-empty list of
    /// strings that names `{image}`, the pushed image by digest.
    pub(super) fn scan_command(
        &mut self,
        table: &DeTable<'_>,
        section: &str,
    ) -> Option<Vec<String>> {
        const SCAN_EXPECTED: &str = "a command as a list of strings naming `{image}`, e.g. [\"trivy\", \"image\", \"--exit-code\", \"1\", \"{image}\"]";
        let command = self.value::<Vec<String>>(table, section, "scan", SCAN_EXPECTED)?;
        let problem = if command.get_ref().is_empty() || command.get_ref()[0].is_empty() {
            Some((format!("`scan` in {section} is empty"), "empty command"))
        } else if !command
            .get_ref()
            .iter()
            .any(|word| word.contains("{image}"))
        {
            Some((
                format!("`scan` in {section} does not name `{{image}}`, the image to scan"),
                "no {image}",
            ))
        } else {
            None
        };
        if let Some((message, label)) = problem {
            self.problem(
                command.span(),
                message,
                label,
                Some(format!("`scan` must be {SCAN_EXPECTED}: golden puts the pushed image by digest in place of `{{image}}`")),
            );
            return None;
        }
        Some(command.into_inner())
    }

    /// `scan_report = "{output}"` (or a fixed path): where the scan
    /// command writes its report.
    pub(super) fn scan_report(&mut self, table: &DeTable<'_>, section: &str) -> Option<String> {
        let report = self.value::<String>(
            table,
            section,
            "scan_report",
            "a path where the scan command writes its report, usually \"{output}\" (a file golden makes and names in `scan` as `{output}`)",
        )?;
        if report.get_ref().trim().is_empty() {
            self.problem(
                report.span(),
                format!("`scan_report` in {section} is empty"),
                "empty path",
                Some("set it to \"{output}\" and name `{output}` in `scan` where the scanner takes its output file, or remove it".into()),
            );
            return None;
        }
        Some(report.into_inner())
    }

    pub(super) fn scan_timeout(&mut self, table: &DeTable<'_>, section: &str) -> Option<Duration> {
        self.value::<ConfigDuration>(
            table,
            section,
            "scan_timeout",
            "a duration such as \"10m\" (default 15m): a scan that runs longer fails the gate",
        )
        .map(|timeout| timeout.into_inner().0)
    }

    /// `timezone`: the IANA time zone the schedule is read in.
    pub(super) fn timezone(
        &mut self,
        table: &DeTable<'_>,
        section: &str,
    ) -> Option<crate::schedule::Zone> {
        self.value::<crate::schedule::Zone>(
            table,
            section,
            "timezone",
            "an IANA time zone such as \"Europe/Berlin\" (the schedule's fields are then its wall-clock time; default UTC)",
        )
        .map(Spanned::into_inner)
    }

    /// `jitter`: the window a line's fire times are spread over, more than
    /// zero and at most a week.
    pub(super) fn jitter(&mut self, table: &DeTable<'_>, section: &str) -> Option<Duration> {
        const JITTER_EXPECTED: &str =
            "a duration from 1s to 7d such as \"30m\": each line fires a fixed part of it after its schedule";
        let value = self.value::<ConfigDuration>(table, section, "jitter", JITTER_EXPECTED)?;
        let span = value.span();
        let jitter = value.into_inner().0;
        if jitter.is_zero() || jitter > Duration::from_secs(7 * 24 * 3600) {
            self.problem(
                span,
                format!("`jitter` in {section} must be more than zero and at most 7d"),
                "out of range",
                Some(format!("write {JITTER_EXPECTED}; leave it out for none")),
            );
            return None;
        }
        Some(jitter)
    }

    pub(super) fn test_timeout(&mut self, table: &DeTable<'_>, section: &str) -> Option<Duration> {
        self.value::<ConfigDuration>(
            table,
            section,
            "test_timeout",
            "a duration such as \"90s\", \"5m\" or \"1h30m\"",
        )
        .map(|timeout| timeout.into_inner().0)
    }

    pub(super) fn strings(
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

    pub(super) fn labels(
        &mut self,
        table: &DeTable<'_>,
        section: &str,
    ) -> BTreeMap<String, String> {
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
