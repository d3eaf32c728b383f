//! What people see: the one writer of stdout and stderr (`output`), run
//! progress (lines, bars or silence), colour (when it is wanted) and the
//! log subscriber.

pub mod color;
pub mod logging;
pub mod output;
pub mod progress;
