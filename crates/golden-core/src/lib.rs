//! golden's core: everything that decides, over values handed in. The
//! config and its checks, the image graph, references and versions, the
//! engine and registry ports, provenance, the plan, history decisions and
//! the reports. No module here reads files, the environment, processes or
//! the clock, or names tokio, bollard, reqwest, hyper or axum: the
//! `golden` binary observes, executes and prints (README "Architecture").

#![deny(clippy::print_stderr)]

pub mod context;
pub mod diagnostic;
pub mod dockerfile;
pub mod dockerignore;
pub mod duration;
pub mod files;
pub mod hint;
pub mod index;
pub mod labels;
pub mod name;
pub mod platform;
pub mod reference;
pub mod sanitize;
pub mod schedule;
pub mod upstream;
pub mod version;
