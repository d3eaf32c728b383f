//! The whole of golden.toml: the top-level keys, each section read in turn
//! (`[registry]`, `[engine]` and `[[engines]]`, `[defaults]`, `[policy]`,
//! `[notify]`, the `[images.<id>]` tables), then the checks across them.

use std::ops::Range;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::defaults::Defaults;
use super::{Config, EngineSettings, Image, Reader, RegistrySettings};

pub(super) const TOP_KEYS: &[&str] = &[
    "registry", "engine", "engines", "defaults", "images", "policy", "notify", "backoff", "signing",
];

impl Reader<'_> {
    /// The whole document: each section in turn, then the checks across
    /// them; `None` when no config can be made.
    pub(super) fn config(&mut self, document: &DeTable<'_>, span: Range<usize>) -> Option<Config> {
        self.check_keys(document, "the top level", TOP_KEYS);
        let registry = self.required_registry(document);
        let engine = self.engine_and_pool(document);
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
        let backoff = document
            .get("backoff")
            .map(|v| self.backoff(v))
            .unwrap_or_default();
        let signing = document
            .get("signing")
            .map(|v| self.signing(v))
            .unwrap_or_default();
        let mut images = self.image_tables(document, &span, &defaults);
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
            backoff,
            signing,
            notify_problems: std::mem::take(&mut self.notify_problems),
            reported: std::mem::take(&mut self.reported),
            by_id: std::sync::OnceLock::new(),
            floating_by_name: std::sync::OnceLock::new(),
        })
    }

    /// `[registry]`, which must be written.
    fn required_registry(&mut self, document: &DeTable<'_>) -> Option<RegistrySettings> {
        match document.get("registry") {
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
        }
    }

    /// `[engine]`, with the pool of `[[engines]]` when there is one.
    fn engine_and_pool(&mut self, document: &DeTable<'_>) -> EngineSettings {
        let mut engine = document
            .get("engine")
            .map(|v| self.engine(v))
            .unwrap_or_default();
        if let Some(engines) = document.get("engines") {
            engine.pool = self.engines(engines, engine.builder);
            self.check_one_engine_setting(document);
        }
        engine
    }

    /// The `[images.<id>]` tables that make images, in the order written;
    /// an image whose table has a problem is remembered as reported.
    fn image_tables(
        &mut self,
        document: &DeTable<'_>,
        span: &Range<usize>,
        defaults: &Defaults,
    ) -> Vec<Image> {
        let mut images = Vec::new();
        match document.get("images") {
            Some(value) => {
                if let Some(table) = self.table(value, "images") {
                    for (id, value) in table.iter() {
                        let before = self.problems.len();
                        let image = self.image(id, value, defaults);
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
        images
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
