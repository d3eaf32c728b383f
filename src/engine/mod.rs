//! The container engine: the port (trait `Engine`, its requests and
//! errors) is the core's, re-exported here beside its adapters: the
//! bollard adapter (`docker`), engine addresses (`address`), and who owns
//! a smoke-test container (`owner`), the docker config's proxies for
//! builds (`proxies`), so a run can tell what a dead run
//! left running from a live run's test ([`leftover`] decides; it does no
//! I/O).

pub mod address;
pub mod docker;
pub mod owner;
pub mod proxies;

pub use golden_core::engine::*;
pub use owner::{
    leftover, process_start, Leftover, Process, RunOwner, TestContainer, RUN_HOST_LABEL,
    RUN_NAMESPACE_LABEL, RUN_PID_LABEL, RUN_PROCESS_LABEL, SMOKE_TEST_LABEL,
};
