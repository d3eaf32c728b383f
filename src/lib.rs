//! golden keeps a company's golden base images fresh: it builds each one on
//! its own schedule, tags it with semantic versions and pushes it to the
//! internal registry. A run observes the registry and the engine, plans
//! (pure), then executes; the modules follow that split.

pub mod build_args;
pub mod cache;
pub mod check;
pub mod cli;
pub mod config;
pub mod context;
pub mod credentials;
pub mod daemon;
pub mod diagnostic;
pub mod distribution;
pub mod docker;
pub mod dockerfile;
pub mod dockerignore;
pub mod duration;
pub mod engine;
pub mod engine_address;
pub mod execute;
pub mod graph;
pub mod history;
pub mod inspect;
pub mod labels;
pub mod lock;
pub mod observe;
pub mod plan;
pub mod progress;
pub mod project;
pub mod provenance;
pub mod reference;
pub mod registry;
pub mod report;
pub mod revision;
pub mod sanitize;
pub mod schedule;
pub mod signals;
#[cfg(test)]
pub(crate) mod testing;
pub mod version;
