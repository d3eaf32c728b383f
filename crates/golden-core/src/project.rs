//! A loaded project: the validated config and its dependency graph, with
//! every problem of both reported together.
//!
//! The config's text is handed in, the Dockerfiles it names are read
//! through the [`Files`] port; no network, no engine.

use std::collections::BTreeMap;
use std::path::Path;

use crate::config::{Config, ConfigError, Image};
use crate::diagnostic::{Diagnostic, Diagnostics, SourceFile};
use crate::dockerfile::CopySource;
use crate::files::Files;
use crate::graph::{Graph, Node, Upstream};
use crate::reference::Reference;

/// A config whose images and build order are known.
#[derive(Debug, Clone)]
pub struct Project {
    pub config: Config,
    pub graph: Graph,
    /// Warnings by image id that `plan` shows (an ARG nothing sets, a
    /// secret provided and never mounted).
    pub warnings: BTreeMap<String, Vec<String>>,
    /// The lines whose last build failed, by image id (see
    /// [`crate::failing`]): empty until the binary hands in its record,
    /// read by observe (which hashes their recipes) and the plan.
    pub failing: BTreeMap<String, crate::failing::Failing>,
}

impl Project {
    /// Validates the config whose bytes are `bytes`, read from `path`: a
    /// config that is not UTF-8 is pointed at its first bad byte.
    pub fn from_bytes(
        path: &Path,
        bytes: Vec<u8>,
        files: &dyn Files,
    ) -> Result<Project, ConfigError> {
        match String::from_utf8(bytes) {
            Ok(text) => Project::from_source(SourceFile::new(path, &text), files),
            Err(error) => Err(ConfigError::Invalid(Diagnostics(vec![not_utf8(
                path,
                error.as_bytes(),
                error.utf8_error(),
            )]))),
        }
    }

    /// Validates a config whose text is already read.
    pub fn from_source(source: SourceFile, files: &dyn Files) -> Result<Project, ConfigError> {
        let (config, mut problems) = Config::parse(source, files);
        let Some(config) = config else {
            return Err(ConfigError::Invalid(Diagnostics(problems)));
        };
        match Graph::resolve(&config, files) {
            Ok(graph) => {
                problems.extend(untrusted_upstreams(&config, &graph));
                let (undeclared, mut warnings) = crate::build_args::check(&config, &graph);
                problems.extend(undeclared);
                let (unbuildable, more) = crate::buildkit::check(&config, &graph);
                problems.extend(unbuildable);
                for (id, list) in more {
                    warnings.entry(id).or_default().extend(list);
                }
                if problems.is_empty() {
                    Ok(Project {
                        config,
                        graph,
                        warnings,
                        failing: BTreeMap::new(),
                    })
                } else {
                    Err(ConfigError::Invalid(Diagnostics(problems)))
                }
            }
            Err(more) => {
                problems.extend(more);
                Err(ConfigError::Invalid(Diagnostics(problems)))
            }
        }
    }
}

/// A config that is not UTF-8 (TOML must be), pointed at its first bad
/// byte. The text shown is the file with bad bytes replaced; up to that
/// byte it is the file itself, so the offset, line and column are exact.
fn not_utf8(path: &Path, bytes: &[u8], error: std::str::Utf8Error) -> Diagnostic {
    let offset = error.valid_up_to();
    let bad = error.error_len().unwrap_or(bytes.len() - offset);
    let shown: Vec<String> = bytes[offset..offset + bad]
        .iter()
        .map(|byte| format!("0x{byte:02X}"))
        .collect();
    let file = SourceFile::new(path, &String::from_utf8_lossy(bytes));
    let (line, column) = file.line_column(offset);
    let replacement = '\u{FFFD}'.len_utf8();
    let utf16 = bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]);
    Diagnostic::at(
        &file,
        offset..offset + replacement,
        format!(
            "the config file is not UTF-8: invalid byte {} at offset {offset} (line {line}, column {column})",
            shown.join(" ")
        ),
    )
    .label("not UTF-8")
    .hint(if utf16 {
        "the file is UTF-16 (it starts with a byte order mark); TOML must be UTF-8: save it as UTF-8, e.g. `iconv -f UTF-16 -t UTF-8`"
    } else {
        "TOML must be UTF-8: save the file as UTF-8, e.g. `iconv -f LATIN1 -t UTF-8 golden.toml > golden.utf8.toml`"
    })
}

/// Golden images whose upstream `[policy] upstream_allow` does not allow:
/// a configuration error, found before anything is built. Besides the final
/// FROM, every other stage's FROM and every `COPY --from=` that names an
/// image (not a stage) must be allowed or be a golden image of this config.
fn untrusted_upstreams(config: &Config, graph: &Graph) -> Vec<Diagnostic> {
    let allowed = &config.policy.upstream_allow;
    if allowed.is_empty() {
        return Vec::new();
    }
    let mut problems = Vec::new();
    for image in &config.images {
        if config.reported.has_image(&image.id) {
            continue;
        }
        let Some(node) = graph.nodes.get(&image.id) else {
            continue;
        };
        if let Upstream::External(reference) = &node.upstream {
            if !allowed.matches(reference) {
                problems.push(
                    Diagnostic::at(
                        &config.source,
                        image.span.clone(),
                        format!(
                            "image `{}` starts FROM `{}` ({}), which [policy] upstream_allow does not allow",
                            image.id,
                            reference,
                            reference.normalized()
                        ),
                    )
                    .label("untrusted upstream")
                    .hint(format!(
                        "allowed upstreams: {}; add a pattern to `upstream_allow` or change the FROM line",
                        allowed.texts.join(", ")
                    )),
                );
            }
        }
        problems.extend(untrusted_sources(config, image, node));
    }
    problems
}

/// The stage FROMs (besides the final one) and `COPY --from=` images of
/// `node` that `upstream_allow` does not allow, at their Dockerfile lines.
fn untrusted_sources(config: &Config, image: &Image, node: &Node) -> Vec<Diagnostic> {
    let allowed = &config.policy.upstream_allow;
    let file = SourceFile::new(&image.dockerfile_path(), &node.dockerfile_text);
    let final_line = node.dockerfile.final_root().first_line;
    // A golden image is trusted only when this config defines it: any
    // other repository under the namespace is whatever someone pushed.
    let trusted = |reference: &Reference| {
        config
            .golden_name(reference)
            .is_some_and(|name| config.images.iter().any(|image| image.name == name))
            || allowed.matches(reference)
    };
    let mut sources: Vec<(usize, String, &str)> = Vec::new();
    for (reference, line) in node.dockerfile.images() {
        if line != final_line && !trusted(reference) {
            let what = format!(
                "has a stage FROM `{reference}` ({})",
                reference.normalized()
            );
            sources.push((line, what, "untrusted stage base"));
        }
    }
    for copy in &node.dockerfile.copies {
        let what = match &copy.source {
            CopySource::Image(reference) if trusted(reference) => continue,
            CopySource::Image(reference) => format!(
                "copies files from `{reference}` ({}) with COPY --from",
                reference.normalized()
            ),
            CopySource::Unresolved(text) => format!(
                "copies files with `COPY --from={text}`, which names no earlier stage and no image golden can check"
            ),
            CopySource::UnreadableFlags(text) => format!(
                "copies files with `COPY {text}`, whose flags golden cannot read (a `--from` may hide among them)"
            ),
        };
        sources.push((copy.line, what, "untrusted COPY --from"));
    }
    sources
        .into_iter()
        .map(|(line, what, label)| {
            Diagnostic::at(
                &file,
                file.line_span(line),
                format!("image `{}` {what}, which [policy] upstream_allow does not allow", image.id),
            )
            .label(label)
            .hint(format!(
                "every stage's FROM and every image COPY --from names must match upstream_allow ({}) or be a golden image; add a pattern or change the line",
                allowed.texts.join(", ")
            ))
        })
        .collect()
}
