//! Log output on stderr through `tracing`: which levels by default (from
//! `-v`, `--quiet`, the terminal and the command) and in which format,
//! human lines or one JSON object per line (`--log-format json`) for log
//! shippers. `RUST_LOG` overrides the levels.

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Timestamped lines for people
    #[default]
    Text,
    /// One JSON object per line: timestamp, level, message and fields
    Json,
}

/// The default filter. `live` is true when progress is drawn as live lines
/// on a terminal, which say what info logs would; the `daemon` does not
/// repeat where its revision comes from on every tick.
pub fn default_filter(quiet: bool, verbose: u8, live: bool, daemon: bool) -> &'static str {
    match (quiet, verbose, live, daemon) {
        (true, _, _, _) => "error",
        (false, 0, true, false) => "warn",
        (false, 0, _, true) => {
            "golden=info,golden::build=warn,golden::push=warn,golden::revision=warn"
        }
        (false, 0, false, false) => "golden=info,golden::build=warn,golden::push=warn",
        (false, 1, _, _) => "golden=debug,golden::build=info,golden::push=info",
        _ => "golden=trace",
    }
}

/// Installs the subscriber on stderr.
pub fn init(default: &str, format: LogFormat, color: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = match format {
        LogFormat::Text => builder.with_ansi(color).try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_flags() {
        assert_eq!(default_filter(true, 0, true, false), "error");
        assert_eq!(default_filter(false, 0, true, false), "warn");
        assert!(default_filter(false, 0, false, false).starts_with("golden=info,"));
        // The daemon logs its ticks on a terminal too.
        let daemon = default_filter(false, 0, true, true);
        assert!(daemon.starts_with("golden=info,") && daemon.ends_with("golden::revision=warn"));
        assert!(default_filter(false, 1, false, true).starts_with("golden=debug,"));
        assert_eq!(default_filter(false, 2, true, false), "golden=trace");
    }
}
