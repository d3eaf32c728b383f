//! Notifications: after a run that built or failed something, POST a JSON
//! message to the `[notify]` webhook: a one-line summary, a Slack- and
//! Mattermost-compatible `text`, and the run report (SPEC section 4) of the
//! images that did not stay up to date.
//!
//! A notification never changes the run: it is sent after the report is
//! printed, every attempt and backoff together take at most `timeout`, and
//! a failure is a warning. The webhook URL is a secret and appears in no
//! message: errors name the key it came from, and HTTP errors are stripped
//! of their URL.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::config::{Config, NotifySettings};
use crate::report::Report;

/// The longest error line an image contributes to `text`.
const ERROR_LINE: usize = 300;
/// The first wait before a retry; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(4);

/// Whether a run went well or not, as the webhook is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// An image failed or was skipped, or the run failed before building.
    Failure,
    /// Images were built or promoted and none failed.
    Success,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Failure => "failure",
            Outcome::Success => "success",
        }
    }
}

/// Sends the notification of `report` if `[notify]` asks for it; logs a
/// warning (never the URL) when it cannot be delivered.
pub async fn after_run(config: &Config, report: &Report) {
    let Some(settings) = &config.notify else {
        return;
    };
    let Some(body) = message(config, settings, report).map(|body| shaped(settings.format, body))
    else {
        tracing::debug!("no notification: nothing was built or failed, or `on` leaves it out");
        return;
    };
    let started = Instant::now();
    match deliver(settings, &body).await {
        Ok(attempts) => {
            tracing::info!(
                attempts,
                seconds = started.elapsed().as_secs_f64(),
                "notification sent to the webhook set by {}",
                settings.source
            );
            let notices = report
                .images
                .iter()
                .filter_map(|image| Some((image.id.clone(), image.notice?)))
                .collect();
            crate::failures::said(config, &notices, chrono::Utc::now());
        }
        Err(error) => tracing::warn!(
            "failed to send the notification to the webhook set by {} (the run's result is unchanged): {}",
            settings.source,
            scrub(&error.to_string(), settings)
        ),
    }
    // At once: each owner's `timeout` bounds its own delivery, so N slow
    // receivers hold the run no longer than one.
    futures::future::join_all(
        settings
            .owners
            .iter()
            .map(|route| notify_owner(config, settings, route, report)),
    )
    .await;
}

/// Sends `route`'s owner the run's notification cut to its images (those
/// whose `owner` label names it), when one of them is in it.
async fn notify_owner(
    config: &Config,
    settings: &NotifySettings,
    route: &crate::config::OwnerRoute,
    report: &Report,
) {
    let mut owned = report.clone();
    owned.images.retain(|image| {
        config
            .image(&image.id)
            .is_some_and(|image| image.labels.get("owner") == Some(&route.owner))
    });
    if owned.images.is_empty() {
        return;
    }
    owned.totals = totals_of(&owned);
    let Some(body) = message(config, settings, &owned).map(|body| shaped(settings.format, body))
    else {
        return;
    };
    let routed = NotifySettings {
        url: route.url.clone(),
        source: route.source.clone(),
        ..settings.clone()
    };
    match deliver(&routed, &body).await {
        Ok(attempts) => tracing::info!(
            attempts,
            owner = %route.owner,
            "notification sent to the webhook of owner `{}` set by {}",
            route.owner,
            route.source
        ),
        Err(error) => tracing::warn!(
            "failed to send the notification to the webhook of owner `{}` set by {} (the run's result is unchanged): {}",
            route.owner,
            route.source,
            scrub(&error.to_string(), &routed)
        ),
    }
}

/// The counts of `report`'s images, for a report cut to some of them; its
/// time and requests are the run's, and `unreachable` at most its failed
/// (an image's report does not say whether its failure was one).
fn totals_of(report: &Report) -> golden_core::report::Totals {
    use golden_core::report::ImageDecision;
    let count = |decision: ImageDecision| {
        report
            .images
            .iter()
            .filter(|image| image.decision == decision)
            .count()
    };
    let failed = count(ImageDecision::Failed);
    golden_core::report::Totals {
        built: count(ImageDecision::Built),
        promoted: count(ImageDecision::Promoted),
        up_to_date: count(ImageDecision::UpToDate),
        failed,
        unreachable: report.totals.unreachable.min(failed),
        skipped: count(ImageDecision::Skipped),
        ..report.totals.clone()
    }
}

/// The outcome of `report`: `None` for a run that built, promoted and
/// failed nothing.
pub fn outcome(report: &Value) -> Option<Outcome> {
    let count = |key: &str| report["totals"][key].as_u64().unwrap_or(0);
    if report["error"].is_string() || count("failed") + count("skipped") > 0 {
        Some(Outcome::Failure)
    } else if count("built") + count("promoted") > 0 {
        Some(Outcome::Success)
    } else {
        None
    }
}

/// The JSON message for `report`, or `None` when it is not to be sent.
/// Works on the report's JSON document, the contract CI jobs read too.
pub fn message(config: &Config, settings: &NotifySettings, report: &Report) -> Option<Value> {
    let mut document = serde_json::to_value(report).ok()?;
    // A line whose failure was said recently, and the children it kept
    // from building, are not said again (see `golden_core::failing`).
    if let Some(images) = document["images"].as_array_mut() {
        let before = images.len();
        images.retain(|image| image["notice"] != "quiet");
        let quiet = (before - images.len()) as u64;
        let still = |decision: &str| {
            images
                .iter()
                .filter(|image| image["decision"] == decision)
                .count() as u64
        };
        let counts = (quiet > 0).then(|| (still("failed"), still("skipped")));
        if let Some((failed, skipped)) = counts {
            document["totals"]["failed"] = json!(failed);
            document["totals"]["skipped"] = json!(skipped);
        }
    }
    let outcome = outcome(&document)?;
    // A line that recovers closes what its failure opened: said wherever
    // failures are.
    let recovered = document["images"]
        .as_array()
        .is_some_and(|images| images.iter().any(|image| image["notice"] == "recovered"));
    let wanted = match outcome {
        Outcome::Failure => settings.on.failure,
        Outcome::Success => settings.on.success || (recovered && settings.on.failure),
    };
    if !wanted {
        return None;
    }
    if let Some(images) = document["images"].as_array_mut() {
        images.retain(|image| image["decision"] != "up-to-date");
    }
    let place = format!("{}/{}", config.registry.host, config.registry.namespace);
    let summary = summary(&place, &document);
    let text = slack_text(&summary, &document);
    Some(json!({
        "version": 1,
        "text": text,
        "summary": summary,
        "outcome": outcome.as_str(),
        "registry": place,
        "report": document,
    }))
}

/// One line: where, then what failed, was skipped, built and promoted.
fn summary(place: &str, report: &Value) -> String {
    let seconds = report["totals"]["seconds"].as_f64().unwrap_or(0.0);
    if let Some(error) = report["error"].as_str() {
        return format!(
            "golden {place}: the run failed before building anything: {} ({seconds:.1}s)",
            first_line(error)
        );
    }
    let images = report["images"].as_array().map_or(&[][..], Vec::as_slice);
    let mut parts = Vec::new();
    for (decision, shown) in [
        ("failed", "failed"),
        ("skipped", "skipped"),
        ("recovered", "recovered"),
        ("built", "built"),
        ("promoted", "promoted"),
    ] {
        let names: Vec<String> = images
            .iter()
            .filter(|image| match decision {
                "recovered" => image["notice"] == "recovered",
                "built" => image["decision"] == "built" && image["notice"] != "recovered",
                _ => image["decision"] == decision,
            })
            .map(|image| {
                let id = image["id"].as_str().unwrap_or("?");
                match image["tag"].as_str() {
                    Some(tag) if matches!(decision, "built" | "promoted" | "recovered") => {
                        format!("{id} {}", tag.rsplit(':').next().unwrap_or(tag))
                    }
                    _ => id.to_string(),
                }
            })
            .collect();
        if !names.is_empty() {
            parts.push(format!("{} {shown} ({})", names.len(), names.join(", ")));
        }
    }
    format!("golden {place}: {} in {seconds:.1}s", parts.join(", "))
}

/// The summary, then one line per failed image with the first line of its
/// error, escaped as Slack's `text` wants (`&`, `<`, `>`).
fn slack_text(summary: &str, report: &Value) -> String {
    let mut text = summary.to_string();
    for image in report["images"].as_array().into_iter().flatten() {
        let id = image["id"].as_str().unwrap_or("?");
        let failing = &image["reasons"][0];
        if image["decision"] == "skipped" && failing["kind"] == "failing" {
            // A reminder: the line is held, still failing.
            let error = failing["error"]
                .as_str()
                .map(first_line)
                .unwrap_or_default();
            let since = failing["since"].as_str().unwrap_or("?");
            text.push_str(&format!("\n- {id}: still failing since {since}: {error}"));
            continue;
        }
        if image["decision"] != "failed" {
            continue;
        }
        let error = image["error"].as_str().map(first_line).unwrap_or_default();
        text.push_str(&format!("\n- {id}: {error}"));
    }
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The first non-empty line of `text`, cut to [`ERROR_LINE`] characters.
fn first_line(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or_default();
    match line.char_indices().nth(ERROR_LINE) {
        Some((at, _)) => format!("{}...", &line[..at]),
        None => line.to_string(),
    }
}

/// Why a notification was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("the webhook answered HTTP {status} after {attempts} attempt(s)")]
    Status { status: u16, attempts: u32 },
    #[error("the webhook could not be reached after {attempts} attempt(s): {message}")]
    Unreachable { message: String, attempts: u32 },
    #[error("no answer within the `timeout` of {timeout} after {attempts} attempt(s); raise `timeout` in [notify] if the receiver is slow")]
    TimedOut { timeout: String, attempts: u32 },
    #[error("cannot set up the HTTP client: {0}")]
    Client(String),
}

/// What one attempt came to.
enum Attempt {
    Delivered,
    /// Worth another attempt: no connection, a 5xx or 429.
    Transient(DeliveryError),
    Final(DeliveryError),
}

/// POSTs `body` until it is accepted, retrying transient failures with
/// backoff; the whole of it is bounded by `settings.timeout`. Returns the
/// attempts made.
pub async fn deliver(settings: &NotifySettings, body: &Value) -> Result<u32, DeliveryError> {
    let client = client(settings.timeout)?;
    // Signed as sent: the exact bytes of the body.
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let signature = settings
        .signing
        .as_ref()
        .map(|secret| signature(secret.expose(), &bytes));
    let deadline = tokio::time::Instant::now() + settings.timeout;
    let mut attempts = 0;
    let mut backoff = FIRST_BACKOFF;
    let timed_out = |attempts| DeliveryError::TimedOut {
        timeout: crate::duration::display(settings.timeout),
        attempts,
    };
    loop {
        attempts += 1;
        let mut request = client
            .post(settings.url.expose())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(bytes.clone());
        if let Some(signature) = &signature {
            request = request.header(SIGNATURE_HEADER, signature);
        }
        let request = request.send();
        let attempt = match tokio::time::timeout_at(deadline, request).await {
            Err(_) => return Err(timed_out(attempts)),
            Ok(response) => judge(response, attempts),
        };
        let error = match attempt {
            Attempt::Delivered => return Ok(attempts),
            Attempt::Final(error) => return Err(error),
            Attempt::Transient(error) => error,
        };
        if attempts > settings.retries {
            return Err(error);
        }
        tracing::debug!(attempts, "notification not delivered, retrying: {error}");
        if tokio::time::Instant::now() + backoff >= deadline {
            return Err(timed_out(attempts));
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// The header a signed message carries: `sha256=` and the hex HMAC-SHA256
/// of the body under `signing_secret_env`'s key, as GitHub signs its
/// webhooks, so receivers' existing checks work.
pub const SIGNATURE_HEADER: &str = "X-Golden-Signature-256";

/// `sha256=<hex>` of HMAC-SHA256(`key`, `body`).
pub fn signature(key: &[u8], body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    format!("sha256={digest:x}")
}

/// The message in the receiver's shape: golden's document as it is
/// (Slack and Mattermost show its `text`), or a Teams message holding an
/// Adaptive Card with the summary, a line per failed image and the outcome.
pub fn shaped(format: crate::config::NotifyFormat, message: Value) -> Value {
    use crate::config::NotifyFormat;
    if format == NotifyFormat::Slack {
        return message;
    }
    let summary = message["summary"].as_str().unwrap_or_default().to_string();
    let failed = message["outcome"] == "failure";
    let mut body = vec![json!({
        "type": "TextBlock",
        "text": summary,
        "wrap": true,
        "weight": "Bolder",
        "color": if failed { "Attention" } else { "Good" },
    })];
    let facts: Vec<Value> = message["report"]["images"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|image| image["decision"] == "failed")
        .map(|image| {
            json!({
                "title": image["id"].as_str().unwrap_or("?"),
                "value": image["error"].as_str().map(first_line).unwrap_or_default(),
            })
        })
        .collect();
    if !facts.is_empty() {
        body.push(json!({ "type": "FactSet", "facts": facts }));
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": body,
            },
        }],
        "golden": {
            "version": message["version"],
            "outcome": message["outcome"],
            "registry": message["registry"],
        },
    })
}

fn judge(response: Result<reqwest::Response, reqwest::Error>, attempts: u32) -> Attempt {
    match response {
        Ok(response) if response.status().is_success() => Attempt::Delivered,
        Ok(response) => {
            let status = response.status();
            let error = DeliveryError::Status {
                status: status.as_u16(),
                attempts,
            };
            if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
                Attempt::Transient(error)
            } else {
                Attempt::Final(error)
            }
        }
        Err(error) => Attempt::Transient(DeliveryError::Unreachable {
            message: chain(error),
            attempts,
        }),
    }
}

/// `error` and its causes, without the URL reqwest puts in its message.
fn chain(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// `text` with the webhook URL (and its path, where tokens live) masked,
/// whatever put it there.
fn scrub(text: &str, settings: &NotifySettings) -> String {
    let url = settings.url.expose();
    let mut text = text.replace(url, "<webhook>");
    if let Some((_, rest)) = url.split_once("://") {
        if let Some((_, path)) = rest.split_once('/') {
            if path.len() >= 4 {
                text = text.replace(path, "<redacted>");
            }
        }
    }
    text
}

/// An HTTP client that trusts the system's certificate authorities (an
/// internal chat server) and follows no redirects (a redirected POST turns
/// into a GET).
fn client(timeout: Duration) -> Result<reqwest::Client, DeliveryError> {
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for certificate in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(certificate);
    }
    if roots.is_empty() {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| DeliveryError::Client(error.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(timeout)
        .timeout(timeout)
        .user_agent(concat!("golden/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|error| DeliveryError::Client(chain(error)))
}

/// Notifies `[notify]` of a run that failed before building: not when
/// another run holds the lock (that run reports) or a signal stopped it.
pub async fn after_early_failure(
    project: &crate::project::Project,
    failure: &crate::exit::Failure,
    seconds: f64,
) {
    use crate::exit::Exit;
    if !matches!(
        failure.exit,
        Exit::Locked | Exit::Interrupted | Exit::Terminated
    ) {
        let report =
            crate::report::Report::failed(crate::error::text(failure.error.as_ref()), seconds);
        after_run(&project.config, &report).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_in_githubs_form() {
        // RFC 4231-style known answer (the Wikipedia HMAC example).
        assert_eq!(
            signature(b"key", b"The quick brown fox jumps over the lazy dog"),
            "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
    }

    fn report(images: Value, totals: Value, error: Option<&str>) -> Value {
        let mut report = json!({ "images": images, "totals": totals });
        if let Some(error) = error {
            report["error"] = json!(error);
        }
        report
    }

    #[test]
    fn outcome_is_failure_success_or_nothing() {
        let cases = [
            (json!({"built": 1}), None, Some(Outcome::Success)),
            (json!({"promoted": 1}), None, Some(Outcome::Success)),
            (
                json!({"built": 2, "failed": 1}),
                None,
                Some(Outcome::Failure),
            ),
            (json!({"skipped": 1}), None, Some(Outcome::Failure)),
            (json!({}), Some("the lock"), Some(Outcome::Failure)),
            (json!({"up_to_date": 4}), None, None),
        ];
        for (totals, error, expected) in cases {
            let report = report(json!([]), totals.clone(), error);
            assert_eq!(outcome(&report), expected, "{totals} {error:?}");
        }
    }

    #[test]
    fn summary_names_each_image_and_text_escapes_for_slack() {
        let images = json!([
            { "id": "base", "decision": "failed", "tag": null, "error": "\nfailed to build `base`: exit 7 <&>\nCaused by: more" },
            { "id": "tools", "decision": "skipped", "tag": null },
            { "id": "runtime", "decision": "built", "tag": "r.local/g/runtime:3.0.1" },
        ]);
        let report = report(images, json!({"seconds": 12.34}), None);
        let summary = summary("r.local/g", &report);
        assert_eq!(
            summary,
            "golden r.local/g: 1 failed (base), 1 skipped (tools), 1 built (runtime 3.0.1) in 12.3s"
        );
        assert_eq!(
            slack_text(&summary, &report),
            format!("{summary}\n- base: failed to build `base`: exit 7 &lt;&amp;&gt;")
        );
        let early = self::report(
            json!([]),
            json!({"seconds": 0.5}),
            Some("registry down\nhint: x"),
        );
        assert_eq!(
            super::summary("r/g", &early),
            "golden r/g: the run failed before building anything: registry down (0.5s)"
        );
    }

    #[test]
    fn first_line_cuts_long_errors() {
        let long = "x".repeat(1000);
        assert_eq!(first_line(&long).len(), ERROR_LINE + 3);
        assert_eq!(first_line("  \n ok \n no"), "ok");
    }
}
