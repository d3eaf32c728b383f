//! A loaded project: the validated config and its dependency graph, with
//! every problem of both reported together.
//!
//! Reads the config file and the Dockerfiles it names; no network, no engine.

use std::path::Path;

use crate::config::{Config, ConfigError};
use crate::diagnostic::{Diagnostic, Diagnostics, SourceFile};
use crate::graph::{Graph, Upstream};

/// A config whose images and build order are known.
#[derive(Debug, Clone)]
pub struct Project {
    pub config: Config,
    pub graph: Graph,
}

impl Project {
    /// Reads and validates `path` and the Dockerfiles it names.
    pub fn load(path: &Path) -> Result<Project, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Project::from_source(SourceFile::new(path, &text))
    }

    /// Validates a config whose text is already read.
    pub fn from_source(source: SourceFile) -> Result<Project, ConfigError> {
        let (config, mut problems) = Config::parse(source);
        let Some(config) = config else {
            return Err(ConfigError::Invalid(Diagnostics(problems)));
        };
        match Graph::resolve(&config) {
            Ok(graph) => {
                problems.extend(untrusted_upstreams(&config, &graph));
                if problems.is_empty() {
                    Ok(Project { config, graph })
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

/// Golden images whose upstream `[policy] upstream_allow` does not allow:
/// a configuration error, found before anything is built.
fn untrusted_upstreams(config: &Config, graph: &Graph) -> Vec<Diagnostic> {
    let allowed = &config.policy.upstream_allow;
    if allowed.is_empty() {
        return Vec::new();
    }
    let mut problems = Vec::new();
    for image in &config.images {
        let Some(Upstream::External(reference)) =
            graph.nodes.get(&image.id).map(|node| &node.upstream)
        else {
            continue;
        };
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
    problems
}
