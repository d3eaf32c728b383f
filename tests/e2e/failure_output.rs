//! End to end: a failure reads in order. The output tail of a failed build
//! starts at the step that failed; a failed smoke test names its command
//! shell-quoted, ready to paste.

use crate::support;

use support::{golden_at, one_image_config, REGISTRY, SEED};

#[test]
fn a_failed_build_shows_the_failing_step_then_its_output() {
    support::require_environment();
    let (_directory, config) = one_image_config(
        REGISTRY,
        &format!("e2e-failure-output-{}", std::process::id()),
        "img",
        &format!("FROM {SEED}\nRUN echo first-step\nRUN echo marker-output; exit 3\n"),
        "",
    );
    let run = golden_at(&config, &["build", "--all"]).expect(1);
    let tail = run
        .stdout
        .split("last lines of output:\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no output tail:\n{}", run.stdout));
    let lines: Vec<&str> = tail.lines().map(str::trim).collect();
    assert!(
        // Step 3 of 4: golden's LABEL step comes last.
        lines[0].starts_with("Step 3/4 : RUN echo marker-output"),
        "{}",
        run.stdout
    );
    assert!(lines.contains(&"marker-output"), "{}", run.stdout);
    assert!(
        !tail.contains("first-step"),
        "only the failing step's output:\n{}",
        run.stdout
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
