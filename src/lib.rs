//! golden keeps a company's golden base images fresh: it builds each one on
//! its own schedule, tags it with semantic versions and pushes it to the
//! internal registry. A run observes the registry and the engine, plans
//! (pure), then executes; the modules follow that split.

// stdout and stderr are written by `output` only (print_stdout and
// std::io::stdout are denied crate-wide in Cargo.toml and clippy.toml).
#![deny(clippy::print_stderr)]

// The core's modules, at the root as before: `crate::version` is
// `golden_core::version` (README "Architecture").
#[cfg(test)]
pub(crate) use golden_core::testing;
pub use golden_core::{
    build_args, check, config, diagnostic, diff, dockerfile, dockerignore, duration, failing,
    files, graph, hint, history, index, labels, name, observation, outcome, pipeline, plan,
    platform, project, provenance, reference, referrers, report, sanitize, sbom, scaffold, scan,
    schedule, signing, upstream, version,
};

pub mod checkout;
pub mod cli;
pub mod context;
pub mod daemon;
pub mod discover;
pub mod engine;
pub mod error;
pub mod execute;
pub mod exit;
pub mod failures;
pub mod inspect;
pub mod keys;
pub mod load;
pub mod lock;
pub mod notify;
pub mod observe;
pub mod pool;
pub mod registry;
pub mod regular_file;
pub mod retry;
pub mod revision;
pub mod run;
pub mod session;
pub mod signals;
pub mod stop;
pub mod ui;
