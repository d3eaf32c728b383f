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
    git_pull: bool,
    build: &BuildArgs,
    web: &crate::daemon::web::WebOptions,
) -> Result<Exit, Failure> {
    let checkout = match git_pull {
        true => {
            let checkout = crate::checkout::Checkout::of(path)
                .await
                .map_err(|error| Failure::usage(anyhow::anyhow!(error)))?;
            // The first tick builds what the remote holds.
            checkout.pull_and_log().await;
            Some(checkout)
        }
        false => None,
    };
    Session::open(path, engine.clone())?;
    let settings = crate::run::RunSettings {
        interval: Some(interval),
        ..build.settings()
    };
    crate::daemon::run(path, engine, interval, checkout, &settings, web)
        .await
        .map_err(|error| Failure::new(Exit::Usage, error))
}
