//! The keys that say how a line names its builds and follows its upstream:
//! `versioning`, `upstream_version` and `floating` (in `[defaults]` and
//! `[images.<id>]`), `track` and `adopt`. Part of the same key-by-key
//! reader as `mod.rs`.

use std::ops::Range;

use toml::de::DeTable;
use toml::Spanned;

use super::Reader;
use crate::upstream::{Adopt, FromTag, Source, Track, SOURCE_KEYS};
use crate::version::{Floating, Versioning};

pub(super) const VERSIONING_EXPECTED: &str = "\"line\" (golden counts builds: X.Y.N) or \"upstream\" (the upstream version and a revision: X.Y.Z-rN)";
const SOURCE_EXPECTED: &str = "one of { env = \"NAME\" }, { label = \"KEY\" }, { build_arg = \"NAME\" } or { from_tag = \"REGEX\" }";
const FLOATING_EXPECTED: &str =
    "a list of the floating tags to move: any of \"X.Y.Z\", \"X.Y\", \"X\", \"latest\"";
const TRACK_EXPECTED: &str =
    "an upstream tag pattern with `*` for each version component that moves, like \"10.0.*-noble\"";
const ADOPT_EXPECTED: &str = "\"immediately\" or \"on-schedule\"";

/// `floating` as written, with where it is (for the checks that need the
/// image's versioning).
#[derive(Debug, Clone)]
pub(super) struct FloatingList {
    pub kinds: Vec<Floating>,
    pub span: Range<usize>,
}

impl Reader<'_> {
    pub(super) fn versioning(
        &mut self,
        table: &DeTable<'_>,
        section: &str,
    ) -> Option<Spanned<Versioning>> {
        let text = self.value::<String>(table, section, "versioning", VERSIONING_EXPECTED)?;
        let versioning = match text.get_ref().as_str() {
            "line" => Versioning::Line,
            "upstream" => Versioning::Upstream,
            other => {
                self.problem(
                    text.span(),
                    format!("invalid `versioning` in {section}: `{other}`"),
                    "invalid value",
                    Some(format!("`versioning` must be {VERSIONING_EXPECTED}")),
                );
                return None;
            }
        };
        Some(Spanned::new(text.span(), versioning))
    }

    /// `upstream_version = { env = "NAME" }` and the other sources: a
    /// table with exactly one of their keys.
    pub(super) fn upstream_source(
        &mut self,
        table: &DeTable<'_>,
        section: &str,
    ) -> Option<Spanned<Source>> {
        let value = table.get("upstream_version")?;
        let span = value.span();
        let inner = format!("{section} upstream_version");
        let entries = self.value::<std::collections::BTreeMap<String, Spanned<String>>>(
            table,
            section,
            "upstream_version",
            SOURCE_EXPECTED,
        )?;
        let entries = entries.into_inner();
        if entries.len() != 1 {
            self.problem(
                span,
                format!(
                    "`upstream_version` in {section} must name one source, not {}",
                    entries.len()
                ),
                "one source",
                Some(format!("write {SOURCE_EXPECTED}")),
            );
            return None;
        }
        let (key, text) = entries.into_iter().next()?;
        let value_span = text.span();
        let text = text.into_inner();
        let source = match key.as_str() {
            "env" => Source::Env(text),
            "label" => Source::Label(text),
            "build_arg" => Source::BuildArg(text),
            "from_tag" => match FromTag::new(&text) {
                Ok(from_tag) => Source::FromTag(from_tag),
                Err(why) => {
                    self.problem(
                        value_span,
                        format!("invalid `from_tag` pattern in {inner}: {why}"),
                        "invalid pattern",
                        Some("write a regular expression with one capture group around the version, like \"^([0-9.]+)-noble$\"".into()),
                    );
                    return None;
                }
            },
            other => {
                let near = crate::diagnostic::closest(other, SOURCE_KEYS)
                    .map(|near| format!("did you mean `{near}`? "))
                    .unwrap_or_default();
                self.problem(
                    span,
                    format!("unknown source `{other}` in {inner}"),
                    "unknown source",
                    Some(format!("{near}write {SOURCE_EXPECTED}")),
                );
                return None;
            }
        };
        if matches!(source, Source::Env(ref name) | Source::Label(ref name) | Source::BuildArg(ref name) if name.is_empty())
        {
            self.problem(
                value_span,
                format!("`{key}` in {inner} is empty"),
                "empty",
                Some(format!("name the {key} the upstream version is read from")),
            );
            return None;
        }
        Some(Spanned::new(span, source))
    }

    pub(super) fn floating(&mut self, table: &DeTable<'_>, section: &str) -> Option<FloatingList> {
        let list =
            self.value::<Vec<Spanned<String>>>(table, section, "floating", FLOATING_EXPECTED)?;
        let mut kinds = Vec::new();
        let mut valid = true;
        for entry in list.get_ref() {
            match Floating::parse(entry.get_ref()) {
                Some(kind) if kinds.contains(&kind) => {
                    valid = false;
                    self.problem(
                        entry.span(),
                        format!(
                            "`{}` is listed twice in `floating` of {section}",
                            entry.get_ref()
                        ),
                        "listed twice",
                        Some("list each floating tag once".into()),
                    );
                }
                Some(kind) => kinds.push(kind),
                None => {
                    valid = false;
                    self.problem(
                        entry.span(),
                        format!("unknown floating tag `{}` in {section}", entry.get_ref()),
                        "unknown floating tag",
                        Some(format!(
                            "`floating` is {FLOATING_EXPECTED}, spelt as written here (golden puts the numbers in)"
                        )),
                    );
                }
            }
        }
        kinds.sort();
        valid.then_some(FloatingList {
            kinds,
            span: list.span(),
        })
    }

    pub(super) fn track(&mut self, table: &DeTable<'_>, section: &str) -> Option<Spanned<Track>> {
        let text = self.value::<String>(table, section, "track", TRACK_EXPECTED)?;
        match Track::new(text.get_ref()) {
            Ok(track) => Some(Spanned::new(text.span(), track)),
            Err(why) => {
                self.problem(
                    text.span(),
                    format!("invalid `track` in {section}: {why}"),
                    "invalid pattern",
                    Some(format!("`track` must be {TRACK_EXPECTED}")),
                );
                None
            }
        }
    }

    pub(super) fn adopt(&mut self, table: &DeTable<'_>, section: &str) -> Option<Adopt> {
        let text = self.value::<String>(table, section, "adopt", ADOPT_EXPECTED)?;
        let adopt = Adopt::parse(text.get_ref());
        if adopt.is_none() {
            self.problem(
                text.span(),
                format!("invalid `adopt` in {section}: `{}`", text.get_ref()),
                "invalid value",
                Some(format!("`adopt` must be {ADOPT_EXPECTED}")),
            );
        }
        adopt
    }

    /// The checks between an image's versioning keys, once `[defaults]`
    /// is applied: upstream versioning needs a source; `X.Y.Z` is a
    /// floating tag of upstream versioning only (under line versioning it
    /// is the exact tag itself).
    pub(super) fn check_versioning(
        &mut self,
        section: &str,
        table_span: &Range<usize>,
        versioning: Versioning,
        has_source: bool,
        floating: Option<&FloatingList>,
    ) -> bool {
        let mut valid = true;
        if versioning == Versioning::Upstream && !has_source {
            valid = false;
            self.problem(
                table_span.start..table_span.start,
                format!("{section} has `versioning = \"upstream\"` but no `upstream_version`"),
                "in this table",
                Some(format!(
                    "say where the upstream version is read: `upstream_version = {{ env = \"ASPNET_VERSION\" }}`, or {SOURCE_EXPECTED}"
                )),
            );
        }
        if let Some(list) = floating {
            if versioning == Versioning::Line && list.kinds.contains(&Floating::Upstream) {
                valid = false;
                self.problem(
                    list.span.clone(),
                    format!("`floating` of {section} lists \"X.Y.Z\" under `versioning = \"line\"`"),
                    "only with upstream versioning",
                    Some("under line versioning X.Y.N is each build's immutable exact tag: remove \"X.Y.Z\", or set `versioning = \"upstream\"`".into()),
                );
            }
        }
        valid
    }
}
