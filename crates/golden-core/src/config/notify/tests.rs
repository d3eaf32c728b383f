//! Table tests of `[notify]`: good tables load with defaults applied; bad
//! ones report file, line and fix, rendered and snapshotted, and no message
//! ever contains the webhook URL.

use std::path::Path;
use std::time::Duration;

use crate::config::{ConfigError, NotifyOn, WebhookSource};
use crate::diagnostic::SourceFile;
use crate::project::Project;

/// Fixture contexts live beside this path; paths in messages stay relative.
const PATH: &str = "tests/fixtures/config/golden.toml";
const HEAD: &str = "[registry]\nhost = \"registry.local:5000\"\nnamespace = \"golden\"\n\n[images.base]\nversion = \"1.0\"\ncontext = \"images/base\"\n\n";
/// The secret part of the URLs below; it must appear in no message.
const TOKEN: &str = "s3cr3t-T0KEN";
/// A variable no test environment sets.
const UNSET: &str = "GOLDEN_NOTIFY_TEST_VARIABLE_THAT_IS_NEVER_SET";

fn load(text: &str) -> Result<Project, ConfigError> {
    Project::from_source(
        SourceFile::new(Path::new(PATH), text),
        &crate::testing::TestDisk,
    )
}

fn notify(table: &str) -> crate::config::NotifySettings {
    let text = format!("{HEAD}[notify]\n{table}");
    let project = load(&text).unwrap_or_else(|error| panic!("{error}\n{text}"));
    project.config.notify.expect("[notify] is read")
}

#[test]
fn a_literal_webhook_loads_with_defaults_applied() {
    let settings = notify(&format!(
        "webhook = \"https://chat.example.com/hooks/{TOKEN}\"\n"
    ));
    assert_eq!(
        settings.url.expose(),
        format!("https://chat.example.com/hooks/{TOKEN}")
    );
    assert_eq!(settings.source, WebhookSource::Literal);
    assert_eq!(
        settings.on,
        NotifyOn {
            failure: true,
            success: false
        }
    );
    assert_eq!(settings.timeout, Duration::from_secs(10));
    assert_eq!(settings.retries, 3);
    assert!(
        !format!("{settings:?}").contains(TOKEN),
        "Debug hides the URL"
    );
    assert!(
        !settings.url.to_string().contains(TOKEN),
        "Display hides it"
    );
}

#[test]
fn on_timeout_and_retries_are_read() {
    let cases = [
        ("[\"success\"]", (false, true)),
        ("[\"failure\", \"success\"]", (true, true)),
        ("[\"always\"]", (true, true)),
        ("[\"failure\"]", (true, false)),
    ];
    for (on, (failure, success)) in cases {
        let settings = notify(&format!(
            "webhook = \"http://127.0.0.1:9/x\"\non = {on}\ntimeout = \"1m\"\nretries = 0\n"
        ));
        assert_eq!(settings.on, NotifyOn { failure, success }, "{on}");
        assert_eq!(settings.timeout, Duration::from_secs(60));
        assert_eq!(settings.retries, 0);
    }
    assert!(load(HEAD).unwrap().config.notify.is_none());
}

#[test]
fn timeout_takes_every_duration_form_up_to_two_minutes() {
    for (text, millis) in [
        ("500ms", 500),
        ("1m30s", 90_000),
        ("2m", 120_000),
        ("2.5s", 2500),
    ] {
        let settings = notify(&format!(
            "webhook = \"http://127.0.0.1:9/x\"\ntimeout = \"{text}\"\n"
        ));
        assert_eq!(settings.timeout, Duration::from_millis(millis), "{text}");
    }
    let Err(error) = load(&format!(
        "{HEAD}[notify]\nwebhook = \"http://127.0.0.1:9/x\"\ntimeout = \"2m500ms\"\n"
    )) else {
        panic!("2m500ms is over the limit");
    };
    let shown = error.to_string();
    assert!(
        shown.contains("`timeout` in [notify] is 2m 500ms, more than 2m"),
        "{shown}"
    );
}

#[test]
fn webhook_file_is_read_relative_to_the_config_and_trimmed() {
    let directory = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(directory.path().join("images/base")).unwrap();
    std::fs::write(
        directory.path().join("images/base/Dockerfile"),
        "FROM scratch\n",
    )
    .unwrap();
    std::fs::write(
        directory.path().join("webhook.url"),
        format!("  https://hooks.example.com/services/{TOKEN}\n\n"),
    )
    .unwrap();
    let path = directory.path().join("golden.toml");
    let text = format!("{HEAD}[notify]\nwebhook_file = \"webhook.url\"\n");
    let project =
        Project::from_source(SourceFile::new(&path, &text), &crate::testing::TestDisk).unwrap();
    let settings = project.config.notify.unwrap();
    assert_eq!(
        settings.url.expose(),
        format!("https://hooks.example.com/services/{TOKEN}")
    );
    assert_eq!(
        settings.source,
        WebhookSource::File(directory.path().join("webhook.url"))
    );
}

#[test]
fn webhook_env_is_looked_up_and_checked() {
    let file = SourceFile::new(Path::new(PATH), "");
    let text = "[notify]\nwebhook_env = \"HOOK\"\n";
    let (document, _) = toml::de::DeTable::parse_recoverable(text);
    let value = document.get_ref().get("notify").unwrap();
    let lookup = |url: String| {
        move |name: &str| (name == "HOOK").then(|| std::ffi::OsString::from(url.clone()))
    };
    let mut reader = crate::config::Reader::new(&file, &crate::testing::TestDisk);
    let url = format!("https://chat.example.com/hooks/{TOKEN}");
    let settings = reader.notify(value, &lookup(format!(" {url}\n"))).unwrap();
    assert_eq!(settings.url.expose(), url);
    assert_eq!(settings.source, WebhookSource::Environment("HOOK".into()));
    assert!(reader.problems.is_empty());
    let not_a_url = format!("chat.example.com/{TOKEN}");
    assert!(reader.notify(value, &lookup(not_a_url)).is_none());
    // A problem only for the commands that notify.
    assert!(reader.problems.is_empty());
    let problem = reader.notify_problems[0].render();
    assert!(
        problem.contains("does not hold an http(s) URL"),
        "{problem}"
    );
    assert!(problem.contains("`HOOK`"), "{problem}");
    assert!(
        !problem.contains(TOKEN),
        "the value is never shown:\n{problem}"
    );
}

/// (snapshot name, `[notify]` body): each has at least one problem.
fn bad_tables() -> Vec<(&'static str, String)> {
    vec![
        ("notify_no_webhook", "on = [\"failure\"]\n".into()),
        (
            "notify_two_webhooks",
            format!("webhook = \"https://x.example/{TOKEN}\"\nwebhook_env = \"HOOK\"\n"),
        ),
        (
            "notify_webhook_not_http",
            format!("webhook = \"ftp://x.example/{TOKEN}\"\n"),
        ),
        (
            "notify_webhook_no_scheme",
            format!("webhook = \"chat.example.com/hooks/{TOKEN}\"\n"),
        ),
        (
            "notify_webhook_env_unset",
            format!("webhook_env = \"{UNSET}\"\n"),
        ),
        // Cargo sets this one for every test run; it is no URL.
        (
            "notify_webhook_env_not_url",
            "webhook_env = \"CARGO_PKG_NAME\"\n".into(),
        ),
        (
            "notify_webhook_env_bad_name",
            "webhook_env = \"A=B\"\n".into(),
        ),
        (
            "notify_webhook_file_missing",
            "webhook_file = \"secrets/webhook.url\"\n".into(),
        ),
        (
            "notify_webhook_file_device",
            "webhook_file = \"/dev/null\"\n".into(),
        ),
        (
            "notify_on_unknown",
            "webhook = \"https://x.example/hook\"\non = [\"failures\", \"sucess\"]\n".into(),
        ),
        (
            "notify_on_empty",
            "webhook = \"https://x.example/hook\"\non = []\n".into(),
        ),
        (
            "notify_on_not_a_list",
            "webhook = \"https://x.example/hook\"\non = \"failure\"\n".into(),
        ),
        (
            "notify_timeout_too_long",
            "webhook = \"https://x.example/hook\"\ntimeout = \"1h\"\n".into(),
        ),
        (
            "notify_timeout_bad",
            "webhook = \"https://x.example/hook\"\ntimeout = \"soon\"\n".into(),
        ),
        (
            "notify_retries_too_many",
            "webhook = \"https://x.example/hook\"\nretries = 50\n".into(),
        ),
        (
            "notify_unknown_key",
            "webhook = \"https://x.example/hook\"\nurl = \"x\"\n".into(),
        ),
        (
            "notify_unknown_format",
            "webhook = \"https://x.example/hook\"\nformat = \"team\"\n".into(),
        ),
    ]
}

#[test]
fn format_and_signing_key_are_read_and_the_key_never_shown() {
    let settings = notify(&format!(
        "webhook = \"https://chat.example.com/hooks/{TOKEN}\"\nformat = \"teams\"\n"
    ));
    assert_eq!(settings.format, crate::config::NotifyFormat::Teams);
    assert!(settings.signing.is_none());
    let text = format!(
        "{HEAD}[notify]\nwebhook = \"https://x.example/hook\"\nsigning_secret_env = \"{UNSET}\"\n"
    );
    let project = load(&text).unwrap_or_else(|error| panic!("{error}"));
    assert!(project.config.notify.is_none(), "unusable without its key");
    let problem =
        crate::diagnostic::Diagnostics(project.config.notify_problems.clone()).to_string();
    assert!(
        problem.contains(&format!(
            "`{UNSET}` named by `signing_secret_env` in [notify] is not set"
        )),
        "{problem}"
    );
}

#[test]
fn bad_notify_tables_report_file_line_and_fix_without_the_url() {
    for (name, table) in bad_tables() {
        let text = format!("{HEAD}[notify]\n{table}");
        // What the environment or the disk holds is a problem for the
        // commands that notify only (`Config::notify_problems`).
        let rendered = match load(&text) {
            Ok(project) if !project.config.notify_problems.is_empty() => {
                crate::diagnostic::Diagnostics(project.config.notify_problems).to_string()
            }
            Ok(_) => panic!("{name}: expected problems in:\n{text}"),
            Err(error) => error.to_string(),
        };
        assert!(
            rendered.contains(PATH),
            "{name}: no file named:\n{rendered}"
        );
        assert!(rendered.contains("hint:"), "{name}: no hint:\n{rendered}");
        assert!(
            !rendered.contains(TOKEN),
            "{name}: the URL is shown:\n{rendered}"
        );
        insta::assert_snapshot!(name, rendered, &text);
    }
}

#[test]
fn notify_must_be_a_table() {
    let rendered = load(&format!("notify = \"https://x.example/hook\"\n{HEAD}"))
        .err()
        .unwrap()
        .to_string();
    assert!(rendered.contains("`notify` must be a table"), "{rendered}");
}

#[test]
fn webhook_ports_must_be_from_1_to_65535() {
    let cases = [
        ("https://chat.example/hook", true),
        ("https://chat.example:8443/hook", true),
        ("http://127.0.0.1:65535/hook", true),
        ("http://[::1]:9000/hook", true),
        ("http://[::1]/hook", true),
        ("http://user:pass@chat.example/hook", true),
        ("http://chat.example:/hook", true),
        ("https://chat.example:99999/hook", false),
        ("https://chat.example:0/hook", false),
        ("https://chat.example:80x/hook", false),
        ("http://[::1]:70000/hook", false),
        ("https://chat.example:+80/hook", false),
        ("https://chat.example:-1/hook", false),
    ];
    for (url, valid) in cases {
        let checked = super::check_url(url);
        assert_eq!(checked.is_ok(), valid, "{url}: {checked:?}");
        if let Err(reason) = checked {
            assert!(reason.contains("port"), "{url}: {reason}");
        }
    }
}

#[test]
fn webhook_urls_are_checked_by_the_parser_that_sends_them() {
    let refused = [
        ("http://[::1]x:80/hook", "not a valid URL"),
        ("http://[::1/hook", "not a valid URL"),
        ("http://exa mple/hook", "space"),
        ("http:///hook", "no host"),
        ("http://@/hook", "no host"),
        ("ftp://chat.example/hook", "scheme"),
        ("chat.example/hook", "no scheme"),
    ];
    for (url, expected) in refused {
        let reason = super::check_url(url).unwrap_err();
        assert!(reason.contains(expected), "{url}: {reason}");
        assert!(!reason.contains(url), "{url} is quoted: {reason}");
    }
}

#[test]
fn a_webhook_file_readable_or_writable_by_others_is_exposed() {
    let cases = [
        (0o600, None),
        (0o400, None),
        (0o700, None),
        (0o640, Some("readable by other users")),
        (0o644, Some("readable by other users")),
        (0o620, Some("writable by other users")),
        (0o602, Some("writable by other users")),
        (0o666, Some("readable and writable by other users")),
        (0o100666, Some("readable and writable by other users")),
    ];
    for (mode, expected) in cases {
        assert_eq!(super::exposure(mode), expected, "{mode:o}");
    }
}

#[test]
fn owner_routes_load_and_a_bad_one_is_named_by_its_table() {
    let settings = notify(&format!(
        "webhook = \"https://chat.example.com/hooks/{TOKEN}\"\n[notify.owners.payments-team]\nwebhook = \"https://chat.example.com/pay/{TOKEN}\"\n"
    ));
    assert_eq!(settings.owners.len(), 1);
    assert_eq!(settings.owners[0].owner, "payments-team");
    assert_eq!(
        settings.owners[0].url.expose(),
        format!("https://chat.example.com/pay/{TOKEN}")
    );
    for (table, said) in [
        (
            "[notify.owners.payments]\nwebhook = \"https://a.example\"\nwebhook_env = \"X\"\n",
            "[notify.owners.payments] sets more than one of webhook, webhook_env",
        ),
        (
            "[notify.owners.payments]\nurl = \"https://a.example\"\n",
            "[notify.owners.payments]",
        ),
        (
            "[notify.owners]\npayments = \"https://a.example\"\n",
            "[notify.owners.payments]",
        ),
    ] {
        let text = format!(
            "{HEAD}[notify]\nwebhook = \"https://chat.example.com/hooks/{TOKEN}\"\n{table}"
        );
        let error = load(&text).expect_err(table).to_string();
        assert!(error.contains(said), "{table}:\n{error}");
        assert!(!error.contains(TOKEN), "{error}");
    }
}
