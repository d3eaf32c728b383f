//! A loaded project: the validated config and its dependency graph, with
//! every problem of both reported together.
//!
//! Reads the config file and the Dockerfiles it names; no network, no engine.

use std::path::Path;

use crate::config::{Config, ConfigError};
use crate::diagnostic::{Diagnostics, SourceFile};
use crate::graph::Graph;

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
            Ok(graph) if problems.is_empty() => Ok(Project { config, graph }),
            Ok(_) => Err(ConfigError::Invalid(Diagnostics(problems))),
            Err(more) => {
                problems.extend(more);
                Err(ConfigError::Invalid(Diagnostics(problems)))
            }
        }
    }
}
