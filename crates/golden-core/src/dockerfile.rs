//! Reads the FROM lines of a Dockerfile the way the engine resolves them:
//! parser directives (`# escape=`), line continuations, comments, lowercase
//! keywords, `ARG`s declared before the first `FROM` (build args override
//! their defaults), `--platform`, and stages named with `AS` and used by later
//! stages. It also rewrites one FROM line to pin its base to a digest.
//!
//! Here: the stages and their parse; `instructions` reads the text into
//! instructions, `expand` substitutes ARGs, `from` reads FROM and
//! `COPY --from`, `env` the final stage's `ENV`, `sources` the context paths
//! COPY and ADD read, `rewrite` pins a FROM and appends labels, `buildkit`
//! what only BuildKit builds and the secrets RUN steps mount.
//!
//! Pure: it takes text and returns data; it never reads files itself.

use std::collections::BTreeMap;

use crate::reference::{Reference, ReferenceError};

mod buildkit;
mod env;
mod expand;
mod from;
mod instructions;
mod rewrite;
mod sources;

pub use buildkit::{buildkit_uses, needs_buildkit, secret_mounts, BuildKitUse, SecretMount};
pub use env::{env_in_final_stage, EnvSet};
pub use rewrite::{takes_labels, with_labels};
pub use sources::context_sources;

use expand::expand_words;
use from::{copy_from, parse_from};
use instructions::{escape_directive, instructions, split_keyword, without_bom};

/// What went wrong, with the 1-based line it went wrong on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DockerfileError {
    #[error("the Dockerfile has no FROM instruction")]
    NoFrom,
    #[error("line {line}: FROM needs an image, e.g. `FROM registry.local:5000/golden/base:1.0`")]
    MissingImage { line: usize },
    #[error("line {line}: `{text}` is not valid in FROM (expected `FROM [--platform=P] IMAGE [AS NAME]`)")]
    InvalidFrom { line: usize, text: String },
    #[error("line {line}: FROM `{text}` is not a valid image reference: {source}")]
    InvalidReference {
        line: usize,
        text: String,
        source: ReferenceError,
    },
    #[error("line {line}: FROM `{original}` expands to an empty image name: set build arg `{variable}` or give the ARG a default")]
    EmptyAfterSubstitution {
        line: usize,
        original: String,
        variable: String,
    },
    #[error("line {line}: unterminated `${{...}}` or quote")]
    Unterminated { line: usize },
    /// `${NAME:?message}` (or `${NAME?message}`) with NAME empty or unset,
    /// which stops the engine's build with the message.
    #[error("line {line}: build arg `{variable}` is required: {message}")]
    RequiredArgument {
        line: usize,
        variable: String,
        message: String,
    },
}

impl DockerfileError {
    /// The 1-based line the error is about, when it is about one.
    pub fn line(&self) -> Option<usize> {
        match self {
            DockerfileError::NoFrom => None,
            DockerfileError::MissingImage { line }
            | DockerfileError::InvalidFrom { line, .. }
            | DockerfileError::InvalidReference { line, .. }
            | DockerfileError::EmptyAfterSubstitution { line, .. }
            | DockerfileError::Unterminated { line }
            | DockerfileError::RequiredArgument { line, .. } => Some(*line),
        }
    }
}

/// What a stage is built on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Base {
    /// An image from a registry.
    Image(Reference),
    /// An earlier stage of the same Dockerfile, by index.
    Stage(usize),
    /// The empty image.
    Scratch,
}

/// One `FROM` and what it resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// The name given with `AS`, lowercased as the engine does.
    pub name: Option<String>,
    pub base: Base,
    /// `--platform` after substitution.
    pub platform: Option<String>,
    /// First and last physical line (1-based) of the FROM instruction.
    pub first_line: usize,
    pub last_line: usize,
}

/// One name an `ARG` instruction declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredArg {
    pub name: String,
    /// `ARG NAME=value`: a build arg need not set it.
    pub default: bool,
    pub line: usize,
}

/// Build args the engine knows without an `ARG` (proxies, and the platform
/// args BuildKit predefines).
pub const PREDEFINED_ARGS: &[&str] = &[
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
    "TARGETPLATFORM",
    "TARGETOS",
    "TARGETARCH",
    "TARGETVARIANT",
    "BUILDPLATFORM",
    "BUILDOS",
    "BUILDARCH",
    "BUILDVARIANT",
];

/// What a `COPY --from=` names when it is not a stage of the Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopySource {
    /// An image the engine pulls to copy from.
    Image(Reference),
    /// A value that is neither a stage nor a valid image reference after
    /// the ARGs before the first FROM are substituted (a stage's own ARG,
    /// say): golden cannot tell what it copies from.
    Unresolved(String),
    /// Flags golden cannot read as the engine does (a quote left open):
    /// a `--from` may hide among them.
    UnreadableFlags(String),
}

/// One `COPY --from=` naming an image, not a stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyFrom {
    pub source: CopySource,
    /// First physical line (1-based) of the COPY instruction.
    pub line: usize,
}

/// The stages of a Dockerfile, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    pub stages: Vec<Stage>,
    /// The `COPY --from=` of any stage that name an image: the engine pulls
    /// it and copies its files into the stage.
    pub copies: Vec<CopyFrom>,
}

impl Dockerfile {
    /// Parses `text`, substituting `build_args` for the ARGs declared before
    /// the first FROM.
    pub fn parse(
        text: &str,
        build_args: &BTreeMap<String, String>,
    ) -> Result<Self, DockerfileError> {
        let text = without_bom(text);
        let escape = escape_directive(text);
        let mut arguments: BTreeMap<String, String> = BTreeMap::new();
        let mut stages: Vec<Stage> = Vec::new();
        let mut copies = Vec::new();
        for instruction in instructions(text, escape) {
            let (keyword, rest) = split_keyword(&instruction.text);
            match keyword.to_ascii_uppercase().as_str() {
                "ARG" if stages.is_empty() => {
                    let words = expand_words(rest, &arguments, escape)
                        .map_err(|error| error.at(instruction.first_line))?;
                    for word in words {
                        let (name, default) = match word.split_once('=') {
                            Some((name, value)) => (name.to_string(), Some(value.to_string())),
                            None => (word.clone(), None),
                        };
                        // Neither a build arg nor a default: unset, as the
                        // engine has it (`${NAME-word}` gives `word`).
                        match build_args.get(&name).cloned().or(default) {
                            Some(value) => arguments.insert(name, value),
                            None => arguments.remove(&name),
                        };
                    }
                }
                "FROM" => {
                    let stage = parse_from(&instruction, rest, &arguments, escape, &stages)?;
                    stages.push(stage);
                }
                "COPY" => {
                    let from = copy_from(rest, &arguments, escape, &stages);
                    copies.extend(from.into_iter().map(|source| CopyFrom {
                        source,
                        line: instruction.first_line,
                    }));
                }
                // A trigger runs in the build of an image FROM this one,
                // where this file's stages do not exist: any name is an image.
                "ONBUILD" => {
                    let (keyword, rest) = split_keyword(rest);
                    if keyword.eq_ignore_ascii_case("COPY") {
                        let from = copy_from(rest, &arguments, escape, &[]);
                        copies.extend(from.into_iter().map(|source| CopyFrom {
                            source,
                            line: instruction.first_line,
                        }));
                    }
                }
                _ => {}
            }
        }
        if stages.is_empty() {
            return Err(DockerfileError::NoFrom);
        }
        Ok(Dockerfile { stages, copies })
    }

    /// Every `ARG` the Dockerfile declares, in any stage, before or after a
    /// FROM: its name, whether it has a default, and its line.
    pub fn declared_args(text: &str) -> Vec<DeclaredArg> {
        let text = without_bom(text);
        let escape = escape_directive(text);
        let mut declared = Vec::new();
        for instruction in instructions(text, escape) {
            let (keyword, rest) = split_keyword(&instruction.text);
            if !keyword.eq_ignore_ascii_case("ARG") {
                continue;
            }
            for word in rest.split_whitespace() {
                let (name, default) = match word.split_once('=') {
                    Some((name, _)) => (name, true),
                    None => (word, false),
                };
                if !name.is_empty() {
                    declared.push(DeclaredArg {
                        name: name.to_string(),
                        default,
                        line: instruction.first_line,
                    });
                }
            }
        }
        declared
    }

    /// The stage whose image the build produces.
    pub fn final_stage(&self) -> &Stage {
        // `parse` refuses a Dockerfile without stages.
        &self.stages[self.stages.len() - 1]
    }

    /// Follows the final stage through earlier stages to the stage that
    /// starts from an image or from scratch.
    pub fn final_root(&self) -> &Stage {
        let mut stage = self.final_stage();
        while let Base::Stage(index) = stage.base {
            stage = &self.stages[index];
        }
        stage
    }

    /// Every image reference a stage starts from, with its line.
    pub fn images(&self) -> impl Iterator<Item = (&Reference, usize)> {
        self.stages.iter().filter_map(|stage| match &stage.base {
            Base::Image(reference) => Some((reference, stage.first_line)),
            _ => None,
        })
    }
}

#[cfg(test)]
#[allow(clippy::type_complexity)] // table tests read best as tuples
mod tests;
