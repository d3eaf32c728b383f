//! End to end: a failure reads in order. The output tail of a failed build
//! starts at the step that failed; a failed smoke test names its command
//! shell-quoted, ready to paste.

use crate::support;

use support::{golden_at, one_image_config, REGISTRY, SEED};

/// A build whose third step fails, with `extra` in golden.toml; its stdout.
fn failed_build(name: &str, extra: &str) -> String {
    support::require_environment();
    let (_directory, config) = one_image_config(
        REGISTRY,
        &format!("e2e-failure-output-{name}-{}", std::process::id()),
        "img",
        &format!("FROM {SEED}\nRUN echo first-step\nRUN echo marker-output; exit 3\n"),
        extra,
    );
    golden_at(&config, &["build", "--all"]).expect(1).stdout
}

/// The lines of the output tail of a failure report.
fn tail_lines(stdout: &str) -> Vec<String> {
    stdout
        .split("last lines of output:\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no output tail:\n{stdout}"))
        .lines()
        .map(|line| line.trim().to_string())
        .take_while(|line| !line.starts_with("hint:"))
        .collect()
}

#[test]
fn a_failed_build_shows_the_failing_step_then_its_output() {
    // BuildKit (the engine's builder here): the step in the failure's
    // first line, then that step's own output only.
    let stdout = failed_build("buildkit", "");
    assert!(
        stdout.contains("failed at `[3/3] RUN echo marker-output; exit 3`"),
        "{stdout}"
    );
    assert_eq!(tail_lines(&stdout), ["marker-output"], "{stdout}");

    // The classic builder: the tail starts at the failing step (step 3 of
    // 4: golden's LABEL step comes last).
    let stdout = failed_build("classic", "[defaults]\nbuilder = \"classic\"\n");
    let lines = tail_lines(&stdout);
    assert!(
        lines[0].starts_with("Step 3/4 : RUN echo marker-output"),
        "{stdout}"
    );
    assert!(lines.contains(&"marker-output".to_string()), "{stdout}");
    assert!(
        !lines.iter().any(|line| line.contains("first-step")),
        "only the failing step's output:\n{stdout}"
    );
}

#[test]
fn a_failed_smoke_test_shows_its_command_shell_quoted() {
    support::require_environment();
    let (_directory, config) = one_image_config(
        REGISTRY,
        &format!("e2e-failure-quoted-{}", std::process::id()),
        "img",
        &format!("FROM {SEED}\n"),
        "",
    );
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("test = [\"sh\", \"-c\", \"echo it's broken; exit 4\"]\n");
    std::fs::write(&config, text).unwrap();
    let run = golden_at(&config, &["build", "--all"]).expect(1);
    assert!(
        run.stdout
            .contains(r#"smoke test `sh -c "echo it's broken; exit 4"`"#)
            || run
                .stdout
                .contains(r#"smoke test `sh -c 'echo it'"'"'s broken; exit 4'`"#),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("it's broken"), "{}", run.stdout);
}
