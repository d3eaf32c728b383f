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

/// The error that ends a command, as one JSON log line (`--log-format
/// json`): the shape of the other lines (`timestamp`, `level`, `message`)
/// with the whole rendered `error`, its `hint` and the `exit_code`, so a
/// log shipper gets the failure as one event rather than loose text.
pub fn fatal_json(rendered: &str, exit_code: u8) -> String {
    let rendered = rendered.trim_end();
    let message = rendered
        .lines()
        .next()
        .unwrap_or_default()
        .trim_start_matches("error: ");
    let hint = rendered
        .lines()
        .find_map(|line| line.trim_start().strip_prefix("hint: "));
    let mut line = serde_json::json!({
        "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "level": "ERROR",
        "message": message,
        "error": rendered,
        "exit_code": exit_code,
    });
    if let Some(hint) = hint {
        line["hint"] = serde_json::Value::from(hint);
    }
    line.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fatal_error_is_one_json_line_with_its_hint_and_exit_code() {
        let line = fatal_json(
            "error: failed to connect to the engine\nCaused by: refused\nhint: is dockerd running?\n",
            3,
        );
        assert!(!line.contains('\n'), "{line}");
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["level"], "ERROR");
        assert_eq!(value["message"], "failed to connect to the engine");
        assert_eq!(value["hint"], "is dockerd running?");
        assert_eq!(value["exit_code"], 3);
        assert!(value["error"]
            .as_str()
            .unwrap()
            .contains("Caused by: refused"));
        assert!(value["timestamp"].as_str().unwrap().ends_with('Z'));
    }

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
