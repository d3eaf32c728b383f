//! Results in colour on a terminal and plain everywhere else: the real
//! binary run on a pseudo-terminal (`script`), in a pipe, and with
//! `NO_COLOR`. The live progress counts the images due (`[2/3]`).

use crate::support;

use std::path::{Path, PathBuf};

use support::{Golden, Run, REGISTRY, SEED};

/// SGR colour sequences (`ESC [ 32 m`); cursor moves of the live lines
/// are not colour.
fn colours(text: &str) -> Vec<String> {
    regex::Regex::new("\u{1b}\\[[0-9;]*m")
        .unwrap()
        .find_iter(text)
        .map(|found| found.as_str().escape_debug().to_string())
        .collect()
}

/// The end of what a terminal showed, escapes visible (the live lines
/// before it are long).
fn tail(screen: &str) -> String {
    let shown: Vec<char> = screen.escape_debug().collect();
    shown[shown.len().saturating_sub(6000)..].iter().collect()
}

/// Three images under a namespace of their own: `ok` builds, `broken`
/// fails, `child` (built on `broken`) is skipped.
fn config() -> (tempfile::TempDir, PathBuf) {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let namespace = format!("e2e-color-{}-{nanos}", std::process::id());
    let directory = tempfile::tempdir().unwrap();
    let write = |id: &str, dockerfile: String| {
        std::fs::create_dir_all(directory.path().join(id)).unwrap();
        std::fs::write(directory.path().join(id).join("Dockerfile"), dockerfile).unwrap();
    };
    write("ok", format!("FROM {SEED}\nRUN echo ok > /ok\n"));
    write("broken", format!("FROM {SEED}\nRUN echo nope && exit 3\n"));
    write(
        "child",
        format!("FROM {REGISTRY}/{namespace}/broken:0.1\nRUN true\n"),
    );
    let config = directory.path().join("golden.toml");
    let mut text = format!("[registry]\nhost = \"{REGISTRY}\"\nnamespace = \"{namespace}\"\n");
    for id in ["ok", "broken", "child"] {
        text.push_str(&format!(
            "[images.{id}]\nversion = \"0.1\"\ncontext = \"{id}\"\n"
        ));
    }
    std::fs::write(&config, text).unwrap();
    (directory, config)
}

/// `golden ARGS` on a terminal that takes colour (`TERM=xterm`, no
/// `NO_COLOR`); stderr to `stderr_to` when given.
fn on_terminal(config: &Path, args: &[&str], stderr_to: Option<&Path>) -> Run {
    // Each run builds the broken line again (this test is about colour).
    Golden::at(config)
        .forgetting_failures()
        .args(args)
        .env("TERM", "xterm")
        .env_remove("NO_COLOR")
        .in_terminal(stderr_to)
        .run()
}

#[test]
fn results_are_coloured_on_a_terminal_and_plain_in_a_pipe_or_with_no_color() {
    support::require_environment();
    let (directory, config) = config();

    // On a terminal: results and progress in colour.
    let run = on_terminal(&config, &["build", "--all"], None).expect(1);
    let screen = run.stdout.replace("\r\n", "\n");
    for painted in [
        "\u{1b}[32mbuilt\u{1b}[0m       ok",
        "\u{1b}[31mfailed\u{1b}[0m      broken",
        "\u{1b}[33mskipped\u{1b}[0m     child",
        "\u{1b}[32m1 built\u{1b}[0m, 0 up to date, \u{1b}[31m1 failed\u{1b}[0m, \u{1b}[33m1 skipped\u{1b}[0m",
        // The live progress: each image due counted as it finishes.
        "ok: \u{1b}[32mbuilt 0.1.0",
        "broken: \u{1b}[31mfailed: build of `broken` failed",
        "child: \u{1b}[33mskipped\u{1b}[0m",
    ] {
        assert!(
            screen.contains(painted),
            "the terminal lacks {:?}:\n{}",
            painted.escape_debug().to_string(),
            tail(&screen)
        );
    }
    for count in ["[1/3]", "[2/3]", "[3/3]"] {
        assert!(
            screen.contains(&format!("\u{1b}[1m{count}\u{1b}[0m ")),
            "{count}:\n{}",
            tail(&screen)
        );
    }
    let plan = on_terminal(&config, &["plan"], None).expect(0);
    assert!(
        plan.stdout.contains("\u{1b}[1mbuild\u{1b}[0m")
            && plan.stdout.contains("\u{1b}[2mup-to-date\u{1b}[0m"),
        "{}",
        plan.stdout.escape_debug()
    );

    // In a pipe: no escape byte at all, and the count on plain lines.
    let run = Golden::at(&config)
        .forgetting_failures()
        .args(["build", "--all"])
        .env("TERM", "xterm")
        .env_remove("NO_COLOR")
        .run()
        .expect(1);
    for (stream, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
        assert!(
            !text.contains('\u{1b}'),
            "{stream}:\n{}",
            text.escape_debug()
        );
    }
    assert!(run.stdout.contains("up-to-date  ok"), "{}", run.stdout);
    assert!(
        run.stderr
            .contains("[1/2] failed: build of `broken` failed")
            && run.stderr.contains("[2/2] skipped"),
        "{}",
        run.stderr
    );

    // On a terminal with NO_COLOR: the results carry no escape byte, the
    // live lines no colour.
    let stderr = directory.path().join("stderr");
    for args in [&["build", "--all"][..], &["plan"]] {
        let run = Golden::at(&config)
            .forgetting_failures()
            .args(args)
            .env("TERM", "xterm")
            .env("NO_COLOR", "1")
            .in_terminal(Some(&stderr))
            .run();
        assert!(
            !run.stdout.contains('\u{1b}'),
            "{args:?}:\n{}",
            run.stdout.escape_debug()
        );
        assert!(run.stdout.contains("broken"), "{args:?}:\n{}", run.stdout);
    }
    let run = Golden::at(&config)
        .args(["build", "--all"])
        .env("TERM", "xterm")
        .env("NO_COLOR", "1")
        .in_terminal(None)
        .run()
        .expect(1);
    assert!(
        run.stdout.contains("[2/2] child: skipped"),
        "{}",
        tail(&run.stdout)
    );
    assert_eq!(
        colours(&run.stdout),
        Vec::<String>::new(),
        "{}",
        tail(&run.stdout)
    );
}

#[test]
fn color_always_and_clicolor_force_colour_a_pipe_and_color_never_a_terminal() {
    support::require_environment();
    let (_directory, config) = config();
    let plan = |color: Option<&str>, env: &[(&str, &str)], terminal: bool| {
        let mut golden = Golden::at(&config)
            .args(["plan"])
            .env("TERM", "xterm")
            .env_remove("NO_COLOR")
            .env_remove("CLICOLOR_FORCE")
            .env_remove("GOLDEN_COLOR");
        if let Some(color) = color {
            golden = golden.args(["--color", color]);
        }
        for (key, value) in env {
            golden = golden.env(key, value);
        }
        if terminal {
            golden = golden.in_terminal(None);
        }
        golden.run().expect(0).stdout
    };
    let painted = |stdout: &str| stdout.contains("\u{1b}[1mbuild\u{1b}[0m");
    // A pipe: plain by default, coloured when asked.
    assert!(!painted(&plan(None, &[], false)));
    assert!(painted(&plan(Some("always"), &[], false)));
    assert!(painted(&plan(None, &[("CLICOLOR_FORCE", "1")], false)));
    assert!(painted(&plan(None, &[("GOLDEN_COLOR", "always")], false)));
    // The flag wins over the environment, both ways.
    assert!(painted(&plan(Some("always"), &[("NO_COLOR", "1")], false)));
    assert!(!painted(&plan(
        Some("never"),
        &[("CLICOLOR_FORCE", "1")],
        false
    )));
    // A terminal: coloured by default, plain when told.
    assert!(painted(&plan(None, &[], true)));
    let never = plan(Some("never"), &[], true);
    assert!(
        !never.contains('\u{1b}') && never.contains("build"),
        "{}",
        never.escape_debug()
    );
}
