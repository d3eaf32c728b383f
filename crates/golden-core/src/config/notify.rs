//! `[notify]`: where to POST the summary of a run and when. The webhook URL
//! is a secret (a Slack or Mattermost incoming webhook carries its token in
//! the path), so it is read from the file, the environment or a file of its
//! own, and no message of this module ever contains it: problems name the
//! key, and a caret under a literal `webhook` shows it masked.
//!
//! Part of the key-by-key reader of `reader.rs`: reads the environment variable
//! and the file it is told to, nothing else; no network.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::Reader;
use crate::diagnostic::{closest, Diagnostic, SourceFile};
use crate::duration::{self, ConfigDuration};
use crate::files::Files;

pub(super) const NOTIFY_KEYS: &[&str] = &[
    "webhook",
    "webhook_env",
    "webhook_file",
    "on",
    "timeout",
    "retries",
    "format",
    "signing_secret_env",
    "owners",
];
const FORMAT_VALUES: &[&str] = &["slack", "teams"];
const FORMAT_EXPECTED: &str = "\"slack\" (the default: JSON with a Slack-ready `text`, the summary and the report) or \"teams\" (a Microsoft Teams Adaptive Card)";
const SOURCE_KEYS: &[&str] = &["webhook", "webhook_env", "webhook_file"];

mod owners;
pub use owners::OwnerRoute;
const ON_VALUES: &[&str] = &["failure", "success", "always"];
const ON_EXPECTED: &str =
    "a list of \"failure\", \"success\" or \"always\", e.g. [\"failure\"] (the default)";
const TIMEOUT_EXPECTED: &str =
    "a duration up to 2m such as \"10s\" (the default), \"1m30s\" or \"2500ms\"";
const RETRIES_EXPECTED: &str = "a whole number from 0 to 10";
/// How long one notification may take, every attempt included, by default.
pub const DEFAULT_NOTIFY_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest `timeout` may be: a run must never wait long on a receiver.
pub const MAX_NOTIFY_TIMEOUT: Duration = Duration::from_secs(120);
/// Retries of a failed delivery unless `retries` says otherwise.
pub const DEFAULT_NOTIFY_RETRIES: u32 = 3;
const MAX_NOTIFY_RETRIES: u32 = 10;
/// The largest `webhook_file` read: a URL, not a document.
const MAX_WEBHOOK_FILE: u64 = crate::files::MAX_SECRET;

/// A webhook URL. Its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl(String);

impl SecretUrl {
    /// The URL itself, for the request only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("SecretUrl(<redacted>)")
    }
}

impl fmt::Display for SecretUrl {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("<redacted>")
    }
}

/// Which key the webhook URL came from, for messages that must not show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookSource {
    /// `webhook = "URL"`.
    Literal,
    /// `webhook_env = "NAME"`.
    Environment(String),
    /// `webhook_file = "PATH"`, resolved against the config's directory.
    File(PathBuf),
}

impl fmt::Display for WebhookSource {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WebhookSource::Literal => write!(formatter, "`webhook` in [notify]"),
            WebhookSource::Environment(name) => {
                write!(formatter, "`webhook_env = \"{name}\"` in [notify]")
            }
            WebhookSource::File(path) => {
                write!(
                    formatter,
                    "`webhook_file` in [notify] (`{}`)",
                    path.display()
                )
            }
        }
    }
}

/// Which runs are notified; a run that built nothing and failed nothing
/// never is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotifyOn {
    /// A run with a failed or skipped image, or one that failed before building.
    pub failure: bool,
    /// A run that built or promoted images and failed none.
    pub success: bool,
}

/// The shape of the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NotifyFormat {
    /// golden's JSON document, with a `text` Slack and Mattermost show.
    #[default]
    Slack,
    /// A Microsoft Teams message holding an Adaptive Card.
    Teams,
}

/// The key messages are signed with (`signing_secret_env`): never shown.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret {
    secret: String,
    /// The environment variable it came from, for messages.
    pub variable: String,
}

impl SigningSecret {
    /// The key, for the one place that signs.
    pub fn expose(&self) -> &[u8] {
        self.secret.as_bytes()
    }
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "SigningSecret({}: <redacted>)", self.variable)
    }
}

/// A whole, valid `[notify]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifySettings {
    pub url: SecretUrl,
    pub source: WebhookSource,
    pub on: NotifyOn,
    /// The bound of one notification, every attempt and backoff included.
    pub timeout: Duration,
    pub retries: u32,
    pub format: NotifyFormat,
    /// When set, each message carries `X-Golden-Signature-256`.
    pub signing: Option<SigningSecret>,
    /// `[notify.owners.NAME]`: the webhooks that get the images whose
    /// `owner` label is NAME, beside `url`, which gets every image.
    pub owners: Vec<OwnerRoute>,
}

impl Reader<'_> {
    /// `[notify]`; `None` (with problems reported) when it is not usable.
    pub(super) fn notify(
        &mut self,
        value: &Spanned<DeValue<'_>>,
        variable: &dyn Fn(&str) -> Option<std::ffi::OsString>,
    ) -> Option<NotifySettings> {
        let table = self.table(value, "notify")?;
        let section = "[notify]";
        self.check_keys(table, section, NOTIFY_KEYS);
        let webhook = self.webhook(table, section, value.span(), variable);
        let on = self.notify_on(table);
        let timeout = self.value::<ConfigDuration>(table, section, "timeout", TIMEOUT_EXPECTED);
        let timeout = match timeout {
            Some(timeout) if timeout.get_ref().0 > MAX_NOTIFY_TIMEOUT => {
                self.problem(
                    timeout.span(),
                    format!(
                        "`timeout` in {section} is {}, more than {}",
                        duration::display(timeout.get_ref().0),
                        duration::display(MAX_NOTIFY_TIMEOUT)
                    ),
                    "too long",
                    Some(format!("a run waits for its notification up to `timeout`; `timeout` must be {TIMEOUT_EXPECTED}")),
                );
                None
            }
            Some(timeout) => Some(timeout.into_inner().0),
            None if table.contains_key("timeout") => None,
            None => Some(DEFAULT_NOTIFY_TIMEOUT),
        };
        let retries = match self.value::<u32>(table, section, "retries", RETRIES_EXPECTED) {
            Some(count) if *count.get_ref() > MAX_NOTIFY_RETRIES => {
                self.problem(
                    count.span(),
                    format!(
                        "`retries` in {section} is {}, more than {MAX_NOTIFY_RETRIES}",
                        count.get_ref()
                    ),
                    "too many",
                    Some(format!(
                        "`retries` must be {RETRIES_EXPECTED}; every attempt shares `timeout`"
                    )),
                );
                None
            }
            Some(count) => Some(count.into_inner()),
            None if table.contains_key("retries") => None,
            None => Some(DEFAULT_NOTIFY_RETRIES),
        };
        let format = self.notify_format(table);
        let signing = self.signing_secret(table, variable);
        let owners = self.owner_routes(table, variable);
        let (url, source) = webhook?;
        Some(NotifySettings {
            url,
            source,
            on: on?,
            timeout: timeout?,
            retries: retries?,
            format: format?,
            signing: signing?,
            owners: owners?,
        })
    }

    /// `format`; the default when it is not written.
    fn notify_format(&mut self, table: &DeTable<'_>) -> Option<NotifyFormat> {
        let Some(format) = self.value::<String>(table, "[notify]", "format", FORMAT_EXPECTED)
        else {
            return (!table.contains_key("format")).then_some(NotifyFormat::Slack);
        };
        match format.get_ref().as_str() {
            "slack" => Some(NotifyFormat::Slack),
            "teams" => Some(NotifyFormat::Teams),
            other => {
                let suggestion = closest(other, FORMAT_VALUES)
                    .map(|near| format!("did you mean \"{near}\"? "))
                    .unwrap_or_default();
                self.problem(
                    format.span(),
                    format!("unknown `format` \"{other}\" in [notify]"),
                    "unknown format",
                    Some(format!("{suggestion}`format` must be {FORMAT_EXPECTED}")),
                );
                None
            }
        }
    }

    /// `signing_secret_env`: `Some(None)` when not written; the variable
    /// must be set (for the commands that notify) and not empty.
    fn signing_secret(
        &mut self,
        table: &DeTable<'_>,
        variable: &dyn Fn(&str) -> Option<std::ffi::OsString>,
    ) -> Option<Option<SigningSecret>> {
        if !table.contains_key("signing_secret_env") {
            return Some(None);
        }
        let name = self.value::<String>(
            table,
            "[notify]",
            "signing_secret_env",
            "the name of an environment variable holding the key, e.g. \"GOLDEN_WEBHOOK_SECRET\"",
        )?;
        let text = name.get_ref().clone();
        let set_it = format!("set `{text}` to the shared key the receiver checks `X-Golden-Signature-256` with (a CI secret, `Environment=` of a systemd unit, a Kubernetes secret)");
        match variable(&text).map(|value| value.into_string()) {
            Some(Ok(secret)) if !secret.is_empty() => Some(Some(SigningSecret {
                secret,
                variable: text,
            })),
            found => {
                let what = match found {
                    None => "is not set",
                    Some(Err(_)) => "is not valid UTF-8",
                    Some(Ok(_)) => "is empty",
                };
                self.notify_problem(
                    name.span(),
                    format!("environment variable `{text}` named by `signing_secret_env` in [notify] {what}"),
                    "no signing key",
                    Some(set_it),
                );
                None
            }
        }
    }

    /// The one of `webhook`, `webhook_env` and `webhook_file` that is set,
    /// read and checked to be an http(s) URL.
    pub(super) fn webhook(
        &mut self,
        table: &DeTable<'_>,
        section: &str,
        span: Range<usize>,
        variable: &dyn Fn(&str) -> Option<std::ffi::OsString>,
    ) -> Option<(SecretUrl, WebhookSource)> {
        let given: Vec<&str> = SOURCE_KEYS
            .iter()
            .copied()
            .filter(|key| table.contains_key(*key))
            .collect();
        match given.as_slice() {
            [] => {
                self.problem(
                    span.start..span.start,
                    format!("{section} names no webhook"),
                    "in this table",
                    Some("add `webhook_env = \"GOLDEN_WEBHOOK\"` (the URL in that environment variable), `webhook_file = \"PATH\"` or `webhook = \"https://...\"`; remove [notify] to send nothing".into()),
                );
                return None;
            }
            [_] => {}
            [_, second, ..] => {
                let at = table
                    .get_key_value(*second)
                    .map_or(span.clone(), |(key, _)| key.span());
                self.problem(
                    at,
                    format!("{section} sets more than one of {}", given.join(", ")),
                    "second webhook",
                    Some("keep one of `webhook`, `webhook_env` and `webhook_file`".into()),
                );
                return None;
            }
        }
        if table.contains_key("webhook") {
            self.literal_webhook(table, section)
        } else if table.contains_key("webhook_env") {
            self.environment_webhook(table, section, variable)
        } else {
            self.file_webhook(table, section)
        }
    }

    fn literal_webhook(
        &mut self,
        table: &DeTable<'_>,
        section: &str,
    ) -> Option<(SecretUrl, WebhookSource)> {
        let url = self.value::<String>(table, section, "webhook", "an http(s) URL in quotes")?;
        if let Err(problem) = check_url(url.get_ref()) {
            self.secret_problem(
                url.span(),
                format!("`webhook` in {section} is not an http(s) URL: {problem}"),
                "not an http(s) URL",
                "write the incoming-webhook URL your chat or alerting tool gave you, e.g. \"https://chat.example.com/hooks/...\"; keep a secret URL out of golden.toml with `webhook_env` or `webhook_file`",
            );
            return None;
        }
        Some((SecretUrl(url.into_inner()), WebhookSource::Literal))
    }

    fn environment_webhook(
        &mut self,
        table: &DeTable<'_>,
        section: &str,
        variable: &dyn Fn(&str) -> Option<std::ffi::OsString>,
    ) -> Option<(SecretUrl, WebhookSource)> {
        let name = self.value::<String>(
            table,
            section,
            "webhook_env",
            "the name of an environment variable, e.g. \"GOLDEN_WEBHOOK\"",
        )?;
        let text = name.get_ref();
        if text.is_empty() || text.contains(['=', '\0']) {
            self.problem(
                name.span(),
                format!("`webhook_env` in {section} is not an environment variable name"),
                "invalid name",
                Some("name the variable that holds the URL, e.g. \"GOLDEN_WEBHOOK\"".into()),
            );
            return None;
        }
        let set_it = format!("set `{text}` to the webhook URL in the environment golden runs in (`Environment=` of a systemd unit, a masked CI variable, a Kubernetes secret)");
        let url = match variable(text).map(|value| value.into_string()) {
            None => {
                self.notify_problem(
                    name.span(),
                    format!("environment variable `{text}` named by `webhook_env` in {section} is not set"),
                    "not set",
                    Some(set_it),
                );
                return None;
            }
            Some(Err(_)) => Err("it is not valid UTF-8".to_string()),
            Some(Ok(url)) => check_url(url.trim()).map(|()| url.trim().to_string()),
        };
        match url {
            Ok(url) => Some((SecretUrl(url), WebhookSource::Environment(text.clone()))),
            Err(problem) => {
                self.notify_problem(
                    name.span(),
                    format!("environment variable `{text}` named by `webhook_env` in {section} does not hold an http(s) URL: {problem}"),
                    "not an http(s) URL",
                    Some(set_it),
                );
                None
            }
        }
    }

    fn file_webhook(
        &mut self,
        table: &DeTable<'_>,
        section: &str,
    ) -> Option<(SecretUrl, WebhookSource)> {
        let file = self.value::<String>(
            table,
            section,
            "webhook_file",
            "a path to a file holding the URL, relative to the config file",
        )?;
        let path = self
            .file
            .path
            .parent()
            .unwrap_or(Path::new("."))
            .join(file.get_ref());
        let read = self
            .files
            .read_text(&path, MAX_WEBHOOK_FILE)
            .map_err(|problem| (problem.to_string(), problem.label()));
        let url = read.and_then(|text| {
            let url = text.trim().to_string();
            check_url(&url).map(|()| url).map_err(|problem| {
                (
                    format!("does not hold an http(s) URL: {problem}"),
                    "not an http(s) URL",
                )
            })
        });
        match url {
            Ok(url) => {
                warn_if_exposed(self.files, &path);
                Some((SecretUrl(url), WebhookSource::File(path)))
            }
            Err((problem, label)) => {
                self.notify_problem(
                    file.span(),
                    format!("webhook file `{}` named by `webhook_file` in {section} {problem}", path.display()),
                    label,
                    Some("the file holds the webhook URL on one line, readable by the user golden runs as; paths are relative to the directory of golden.toml".into()),
                );
                None
            }
        }
    }

    fn notify_on(&mut self, table: &DeTable<'_>) -> Option<NotifyOn> {
        let section = "[notify]";
        let Some(values) = self.value::<Vec<Spanned<String>>>(table, section, "on", ON_EXPECTED)
        else {
            return (!table.contains_key("on")).then_some(NotifyOn {
                failure: true,
                success: false,
            });
        };
        if values.get_ref().is_empty() {
            self.problem(
                values.span(),
                format!("`on` in {section} is empty: nothing would ever be sent"),
                "empty list",
                Some(format!(
                    "`on` must be {ON_EXPECTED}; remove [notify] to send nothing"
                )),
            );
            return None;
        }
        let mut on = NotifyOn {
            failure: false,
            success: false,
        };
        let mut valid = true;
        for value in values.get_ref() {
            match value.get_ref().as_str() {
                "failure" => on.failure = true,
                "success" => on.success = true,
                "always" => (on.failure, on.success) = (true, true),
                other => {
                    let suggestion = closest(other, ON_VALUES)
                        .map(|near| format!("did you mean \"{near}\"? "))
                        .unwrap_or_default();
                    self.problem(
                        value.span(),
                        format!("unknown `on` value \"{other}\" in {section}"),
                        "unknown value",
                        Some(format!("{suggestion}`on` must be {ON_EXPECTED}")),
                    );
                    valid = false;
                }
            }
        }
        valid.then_some(on)
    }

    /// A problem at the literal `webhook` value, shown with the value masked.
    fn secret_problem(&mut self, span: Range<usize>, message: String, label: &str, hint: &str) {
        let file = masked(self.file, span.clone());
        self.problems
            .push(Diagnostic::at(&file, span, message).label(label).hint(hint));
    }
}

/// `file` with the bytes of `span` inside its quotes replaced by `*`: the
/// same length, so lines, columns and the caret stay where they were.
fn masked(file: &SourceFile, span: Range<usize>) -> SourceFile {
    let mut bytes = file.text.as_bytes().to_vec();
    let inner = span.start.saturating_add(1)..span.end.saturating_sub(1);
    for byte in bytes.get_mut(inner).into_iter().flatten() {
        // Whole UTF-8 sequences become `*`s, so the text stays valid.
        *byte = b'*';
    }
    SourceFile::new(&file.path, &String::from_utf8_lossy(&bytes))
}

/// Warns, once per file and process (the daemon reads the config on every
/// tick), when the webhook file's mode lets other users read or write it.
fn warn_if_exposed(files: &dyn Files, path: &Path) {
    static WARNED: std::sync::Mutex<Vec<std::path::PathBuf>> = std::sync::Mutex::new(Vec::new());
    let crate::files::Stat::File { mode } = files.stat(path) else {
        return;
    };
    let Some(exposure) = exposure(mode) else {
        return;
    };
    let first = WARNED.lock().is_ok_and(|mut warned| {
        let first = !warned.iter().any(|seen| seen == path);
        if first {
            warned.push(path.to_path_buf());
        }
        first
    });
    if first {
        tracing::warn!(
            "webhook file `{}` (mode {:04o}) is {exposure}: the webhook URL is a secret; `chmod 600 {}`",
            path.display(),
            mode & 0o7777,
            path.display()
        );
    }
}

/// What a webhook file's `mode` lets users other than its owner do with
/// it, as ssh checks key files: reading it gives away the secret URL,
/// writing it sends golden's notifications elsewhere. `None` when neither.
fn exposure(mode: u32) -> Option<&'static str> {
    let readable = mode & 0o044 != 0;
    let writable = mode & 0o022 != 0;
    match (readable, writable) {
        (true, true) => Some("readable and writable by other users"),
        (false, true) => Some("writable by other users"),
        (true, false) => Some("readable by other users"),
        (false, false) => None,
    }
}

/// Whether `url` is `http://` or `https://` with a host and, if it names
/// one, a port from 1 to 65535, as the client that sends the webhook
/// parses it (`reqwest::Url`); the reason when it is not, which never
/// quotes the URL.
pub fn check_url(url: &str) -> Result<(), String> {
    if url.is_empty() {
        return Err("it is empty".into());
    }
    // The parser drops these silently; a pasted URL that has them is wrong.
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("it contains a space, line break or control character".into());
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err("it has no scheme; it must start with https:// or http://".into());
    };
    if !matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https") {
        return Err("its scheme is not http or https".into());
    }
    // The parser would take `http:///x` as host `x`.
    if rest.starts_with(['/', '\\', '?', '#']) {
        return Err("it has no host".into());
    }
    // The parser's messages name the part at fault, never the URL.
    let parsed = url::Url::parse(url).map_err(|error| match error.to_string().as_str() {
        "empty host" => "it has no host".to_string(),
        "invalid port number" => "its port is not a number from 1 to 65535".to_string(),
        reason => format!("it is not a valid URL ({reason})"),
    })?;
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("it has no host".into());
    }
    if parsed.port() == Some(0) {
        return Err("its port is not a number from 1 to 65535".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests;
