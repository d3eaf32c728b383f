//! golden keeps a company's golden base images fresh: it builds each one on
//! its own schedule, tags it with semantic versions and pushes it to the
//! internal registry. A run observes the registry and the engine, plans
//! (pure), then executes; the modules follow that split.

// stdout and stderr are written by `output` only (print_stdout and
// std::io::stdout are denied crate-wide in Cargo.toml and clippy.toml).
#![deny(clippy::print_stderr)]

// The core's modules, at the root as before: `crate::version` is
// `golden_core::version` (README "Architecture").
pub use golden_core::{
    diagnostic, dockerfile, dockerignore, duration, files, hint, index, labels, name, platform,
    reference, sanitize, schedule, upstream, version,
};

pub mod build_args;
pub mod check;
pub mod cli;
pub mod config;
pub mod context;
pub mod daemon;
pub mod discover;
pub mod engine;
pub mod error;
pub mod execute;
pub mod exit;
pub mod graph;
pub mod history;
pub mod inspect;
pub mod load;
pub mod lock;
pub mod notify;
pub mod observation;
pub mod observe;
pub mod outcome;
pub mod pipeline;
pub mod plan;
pub mod pool;
pub mod project;
pub mod provenance;
pub mod registry;
pub mod regular_file;
#[deny(missing_docs)]
pub mod report;
pub mod revision;
pub mod run;
pub mod session;
pub mod signals;
pub mod stop;
#[cfg(test)]
pub(crate) mod testing;
pub mod ui;
