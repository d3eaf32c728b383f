//! The registry: the port (trait `Registry`, its types and errors) is the
//! core's, re-exported here beside its adapters: the distribution API
//! over HTTP (`distribution`), credentials (`credentials`) and the disk
//! cache of immutable documents (`blob_cache`).

pub mod blob_cache;
pub mod credentials;
pub mod distribution;

pub use golden_core::registry::*;
