//! golden keeps a company's golden base images fresh: it builds each one on
//! its own schedule, tags it with semantic versions and pushes it to the
//! internal registry. A run observes the registry and the engine, plans
//! (pure), then executes; the modules follow that split.

pub mod config;
pub mod diagnostic;
pub mod dockerfile;
pub mod graph;
pub mod project;
pub mod reference;
pub mod schedule;
pub mod version;
