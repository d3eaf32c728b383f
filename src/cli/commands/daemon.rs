//! `golden daemon`: checks the config once, so a broken one fails the
//! start rather than a tick, then hands over to `crate::daemon`.

use std::path::Path;
use std::time::Duration;

use crate::cli::BuildArgs;
use crate::exit::{Exit, Failure};
use crate::session::Session;

pub(super) async fn run(
    path: &Path,
    engine: Option<String>,
    interval: Duration,
    build: &BuildArgs,
    web: &crate::daemon::web::WebOptions,
) -> Result<Exit, Failure> {
    Session::open(path, engine.clone())?;
    let settings = crate::run::RunSettings {
        interval: Some(interval),
        ..build.settings()
    };
    crate::daemon::run(path, engine, interval, &settings, web)
        .await
        .map_err(|error| Failure::new(Exit::Usage, error))
}
