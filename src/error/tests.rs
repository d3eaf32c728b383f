//! Rendered error chains: the text stderr shows and the report's `error`.

use super::*;
use crate::engine::EngineError;
use crate::lock::LockError;
use crate::observation::ObserveError;
use crate::registry::RegistryError;
use anyhow::Context;

fn unreachable_registry() -> RegistryError {
    RegistryError::Unreachable {
        registry: "registry.local:5000".into(),
        message: "connection refused".into(),
    }
}

#[test]
fn a_registry_error_under_context_shows_its_cause_then_its_hint() {
    let error = anyhow::Error::new(unreachable_registry())
        .context("failed to list the tags of `registry.local:5000/golden/base`");
    insta::assert_snapshot!(render(&error));
}

#[test]
fn an_engine_error_deep_in_the_chain_gives_the_hint() {
    let error: anyhow::Result<()> = Err(EngineError::PushFailed {
        reference: "registry.local:5000/golden/base:1.0.3".into(),
        message: "server gave HTTP response to HTTPS client".into(),
    }
    .into());
    let error = error
        .context("failed to publish `base` 1.0.3")
        .context("image `base` failed")
        .unwrap_err();
    insta::assert_snapshot!(render(&error));
}

#[test]
fn the_outermost_hint_wins() {
    let error = Hinted::new(
        "cannot take the lock of `golden.toml`",
        "the outer advice, which knows more",
    )
    .caused_by(LockError::Busy {
        path: "/run/golden/lock".into(),
        holder: None,
        waited: 0,
    });
    let error = anyhow::Error::new(error);
    let text = render(&error);
    assert!(
        text.ends_with("\nhint: the outer advice, which knows more"),
        "{text}"
    );
    assert_eq!(text.matches("hint:").count(), 1, "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn a_hinted_error_of_golden_own_prints_its_hint_after_its_causes() {
    let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "permission denied");
    let error = anyhow::Error::new(
        Hinted::new(
            "cannot write the report to `/report.json`; nothing was built",
            "pass a --report path in a directory this user can write",
        )
        .caused_by(io),
    );
    insta::assert_snapshot!(render(&error));
}

#[test]
fn a_cause_already_written_into_the_line_above_is_not_repeated() {
    let error = ObserveError::registry(
        unreachable_registry(),
        Some("failed to resolve base image `registry.local:5000/up/busybox:1`".into()),
    );
    insta::assert_snapshot!(text(&error));
}

#[test]
fn no_hint_no_hint_line() {
    let error = anyhow::anyhow!("the engine said no").context("failed to build `base`");
    assert_eq!(
        render(&error),
        "error: failed to build `base`\nCaused by: the engine said no"
    );
}

#[test]
fn display_carries_no_hint() {
    let error = Hinted::new("message", "advice");
    assert_eq!(error.to_string(), "message");
    assert_eq!(
        unreachable_registry().to_string().matches("hint").count(),
        0
    );
}

#[test]
fn located_problems_keep_their_own_renderer() {
    use crate::diagnostic::{Diagnostic, Diagnostics};
    let problems = Diagnostics(vec![Diagnostic::in_file(
        std::path::Path::new("golden.toml"),
        "no [registry] section",
    )
    .hint("add `[registry]` with `url = \"registry.local:5000\"`")]);
    let error = anyhow::Error::new(crate::config::ConfigError::Invalid(problems.clone()));
    let text = render(&error);
    assert_eq!(text, problems.to_string());
    insta::assert_snapshot!(text);
}
