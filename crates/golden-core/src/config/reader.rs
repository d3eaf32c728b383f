//! The [`Reader`] that walks the spanned TOML tree of golden.toml, and its
//! generic steps: a table, its keys, a value of a type, a required value,
//! each a problem (at its span, with what would be valid) instead of an
//! error that stops the reading. The sections are read in files of their own.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::ops::Range;
use std::path::PathBuf;

use serde::de::DeserializeOwned;
use toml::de::{DeTable, DeValue, ValueDeserializer};
use toml::Spanned;

use super::paths::PathKind;
use super::ReportedImages;
use crate::diagnostic::{closest, Diagnostic, SourceFile};
use crate::files::Files;

/// Walks the spanned TOML tree, collecting problems instead of stopping.
pub(super) struct Reader<'a> {
    pub(super) file: &'a SourceFile,
    /// What is at the paths the config names, and the environment.
    pub(super) files: &'a dyn Files,
    pub(super) problems: Vec<Diagnostic>,
    /// What keeps `[notify]` from sending, found in the environment or on
    /// disk: a problem only for the commands that notify.
    pub(super) notify_problems: Vec<Diagnostic>,
    /// Images with a problem of their own so far.
    pub(super) reported: ReportedImages,
    /// `(section, key)` of each key an unknown key was taken for: a
    /// missing required key that a typo stands for is that one problem.
    suggested: BTreeSet<(String, String)>,
    /// Contexts and Dockerfiles found to be what they must be: lines
    /// sharing a context are `stat`ed once.
    pub(super) found: HashSet<(PathBuf, PathKind)>,
}

impl<'a> Reader<'a> {
    pub(super) fn new(file: &'a SourceFile, files: &'a dyn Files) -> Self {
        Reader {
            file,
            files,
            problems: Vec::new(),
            notify_problems: Vec::new(),
            reported: ReportedImages::default(),
            suggested: BTreeSet::new(),
            found: HashSet::new(),
        }
    }

    /// Records a problem at `span` of the config file.
    pub(super) fn problem(
        &mut self,
        span: Range<usize>,
        message: String,
        label: &str,
        hint: Option<String>,
    ) {
        let diagnostic = self.diagnostic(span, message, label, hint);
        self.problems.push(diagnostic);
    }

    /// Records a problem at `span` that only commands that notify report
    /// (see [`Reader::notify_problems`]).
    pub(super) fn notify_problem(
        &mut self,
        span: Range<usize>,
        message: String,
        label: &str,
        hint: Option<String>,
    ) {
        let diagnostic = self.diagnostic(span, message, label, hint);
        self.notify_problems.push(diagnostic);
    }

    fn diagnostic(
        &self,
        span: Range<usize>,
        message: String,
        label: &str,
        hint: Option<String>,
    ) -> Diagnostic {
        let diagnostic = Diagnostic::at(self.file, span, message).label(label);
        match hint {
            Some(hint) => diagnostic.hint(hint),
            None => diagnostic,
        }
    }

    /// `value` as a table; anything else is a problem.
    pub(super) fn table<'t, 'i>(
        &mut self,
        value: &'t Spanned<DeValue<'i>>,
        section: &str,
    ) -> Option<&'t DeTable<'i>> {
        match value.get_ref() {
            DeValue::Table(table) => Some(table),
            other => {
                self.problem(
                    value.span(),
                    format!("`{section}` must be a table, not {}", other.type_str()),
                    "expected a table",
                    Some(format!("write it as `[{section}]` followed by its keys")),
                );
                None
            }
        }
    }

    /// Reports each key of `table` not in `allowed`, with the closest one.
    pub(super) fn check_keys(&mut self, table: &DeTable<'_>, section: &str, allowed: &[&str]) {
        self.check_keys_except(table, section, allowed, &[]);
    }

    /// [`Reader::check_keys`] but for the keys `misplaced`, which the
    /// caller reports with a message of their own.
    pub(super) fn check_keys_except(
        &mut self,
        table: &DeTable<'_>,
        section: &str,
        allowed: &[&str],
        misplaced: &[&str],
    ) {
        for key in table.keys() {
            let name = key.get_ref().as_ref();
            if allowed.contains(&name) || misplaced.contains(&name) {
                continue;
            }
            let near = closest(name, allowed);
            if let Some(near) = near {
                self.suggested
                    .insert((section.to_string(), near.to_string()));
            }
            let suggestion = near
                .map(|near| format!("did you mean `{near}`? "))
                .unwrap_or_default();
            self.problem(
                key.span(),
                format!("unknown key `{name}` in {section}"),
                "unknown key",
                Some(format!(
                    "{suggestion}valid keys are: {}",
                    allowed.join(", ")
                )),
            );
        }
    }

    /// Deserializes `key` of `table` if present; a bad value is a problem.
    pub(super) fn value<T: DeserializeOwned>(
        &mut self,
        table: &DeTable<'_>,
        section: &str,
        key: &str,
        expected: &str,
    ) -> Option<Spanned<T>> {
        let value = table.get(key)?;
        let span = value.span();
        match T::deserialize(ValueDeserializer::from(value.clone())) {
            Ok(parsed) => Some(Spanned::new(span, parsed)),
            Err(error) => {
                let message = error.message().trim().to_string();
                let at = error.span().filter(|s| !s.is_empty()).unwrap_or(span);
                self.problem(
                    at,
                    format!("invalid `{key}` in {section}: {message}"),
                    "invalid value",
                    Some(format!("`{key}` must be {expected}")),
                );
                None
            }
        }
    }

    /// [`Reader::value`] of a key that must be written.
    pub(super) fn required<T: DeserializeOwned>(
        &mut self,
        table: &DeTable<'_>,
        span: &Range<usize>,
        section: &str,
        key: &str,
        expected: &str,
    ) -> Option<Spanned<T>> {
        if table.get(key).is_none() {
            let typo = (section.to_string(), key.to_string());
            if self.suggested.contains(&typo) {
                // Reported as the unknown key that stands for it.
                return None;
            }
            self.problem(
                span.start..span.start,
                format!("missing required key `{key}` in {section}"),
                "in this table",
                Some(format!("add `{key} = ...`: it must be {expected}")),
            );
            return None;
        }
        self.value(table, section, key, expected)
    }
}

/// The span of each key of the table `key` in `table`.
pub(super) fn key_spans(table: &DeTable<'_>, key: &str) -> BTreeMap<String, Range<usize>> {
    match table.get(key).map(Spanned::get_ref) {
        Some(DeValue::Table(inner)) => inner
            .iter()
            .map(|(name, _)| (name.get_ref().to_string(), name.span()))
            .collect(),
        _ => BTreeMap::new(),
    }
}
