//! golden's core: everything that decides, over values handed in. The
//! config and its checks, the image graph, references and versions, the
//! engine and registry ports, provenance, the plan, history decisions and
//! the reports. No module here reads files, the environment, processes or
//! the clock, or names tokio, bollard, reqwest, hyper or axum: the
//! `golden` binary observes, executes and prints (README "Architecture").

#![deny(clippy::print_stderr)]
// The rule (clippy.toml: no files, environment, processes or clock) is
// the production code's; tests build fixtures in temporary directories.
#![cfg_attr(test, allow(clippy::disallowed_methods, clippy::disallowed_types))]

pub mod build_args;
pub mod buildkit;
pub mod check;
pub mod config;
pub mod context;
pub mod diagnostic;
pub mod diff;
pub mod dockerfile;
pub mod dockerignore;
pub mod duration;
pub mod engine;
pub mod failing;
pub mod files;
pub mod graph;
pub mod hint;
pub mod history;
pub mod index;
pub mod labels;
pub mod name;
pub mod observation;
pub mod outcome;
pub mod pipeline;
pub mod plan;
pub mod platform;
pub mod project;
pub mod provenance;
pub mod referrers;
pub mod registry;
/// The reference grammar, where everyone names it (`name::reference`).
pub use name::reference;
#[deny(missing_docs)]
pub mod report;
pub mod sanitize;
pub mod sbom;
pub mod scaffold;
pub mod scan;
pub mod schedule;
pub mod schema;
pub mod signing;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod upstream;
pub mod version;
