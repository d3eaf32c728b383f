//! End to end: Podman 4.3's Docker-compatible service (`podman system
//! service`, started by scripts/env on /run/podman-golden.sock) as golden's
//! engine, found through `--engine` like any other: the offline stack
//! builds, is smoke-tested and pushed through it, with digests from the
//! push; `auto` picks Podman's own builder; `network = "none"` holds for
//! RUN steps; a second run finds everything up to date.

use std::process::Command;

use crate::support;

use support::{assert_floating, golden_at, one_image_config, Stack, REGISTRY, SEED};

const PODMAN: &str = "unix:///run/podman-golden.sock";

/// Podman's service must answer: scripts/env starts it.
fn require_podman() {
    let answered = Command::new("curl")
        .args([
            "-fsS",
            "--unix-socket",
            "/run/podman-golden.sock",
            "http://podman/_ping",
        ])
        .output()
        .is_ok_and(|output| output.status.success());
    assert!(
        answered,
        "the Podman service does not answer on {PODMAN}: run scripts/env (as root), then the tests again"
    );
}

#[test]
fn the_offline_stack_builds_tests_and_pushes_through_podman_with_its_own_builder() {
    require_podman();
    let stack = Stack::new("podman");
    // A smoke test on the base, run by Podman.
    let config_text = std::fs::read_to_string(stack.config()).unwrap().replacen(
        "[images.base]\n",
        "[images.base]\ntest = [\"sh\", \"-c\", \"test -x /bin/busybox\"]\n",
        1,
    );
    std::fs::write(stack.config(), config_text).unwrap();
    let run = stack
        .golden(&[
            "--engine", PODMAN, "-v", "build", "--all", "--output", "json",
        ])
        .expect(0);
    assert!(
        run.stderr.contains("building with classic"),
        "auto picks Podman's own builder:\n{}",
        run.stderr
    );
    let report = run.json();
    for (id, name, exact, floating) in [
        ("base", "base", "1.0.0", &["1.0", "1", "latest"][..]),
        ("tools", "tools", "2.1.0", &["2.1", "2", "latest"][..]),
        ("tools-lts", "tools", "1.4.0", &["1.4", "1"][..]),
        ("runtime", "runtime", "3.0.0", &["3.0", "3", "latest"][..]),
    ] {
        let pushed = assert_floating(&stack.repository(name), exact, floating);
        let entry = support::entry(&report, id);
        assert_eq!(
            entry["digest"], pushed,
            "the report's digest is the registry's, taken from the push: {entry:#}"
        );
        assert_eq!(entry["builder"], "classic", "{entry:#}");
    }
    let again = stack
        .golden(&["--engine", PODMAN, "build", "--all"])
        .expect(0);
    assert!(
        again.stdout.contains("nothing due: 4 image(s) up to date"),
        "{}",
        again.stdout
    );

    let engines = stack
        .golden(&["--engine", PODMAN, "engines", "--output", "json"])
        .expect(0)
        .json();
    let row = &engines["engines"][0];
    assert_eq!(row["builder"], "classic", "{engines:#}");
    assert_eq!(row["buildkit"], false, "{engines:#}");
}

#[test]
fn network_none_holds_for_run_steps_on_podman() {
    require_podman();
    let namespace = format!("e2e-podman-net-{}", std::process::id());
    let dockerfile = format!(
        "FROM {SEED}\nRUN echo {namespace} > /built-for && cut -d: -f1 /proc/net/dev | tail -n +3 | tr -d ' ' | tr '\\n' ' ' > /interfaces\n"
    );
    let (_directory, config) = one_image_config(
        REGISTRY,
        &namespace,
        "net",
        &dockerfile,
        "[engine]\nnetwork = \"none\"\n",
    );
    golden_at(&config, &["--engine", PODMAN, "build", "--all"]).expect(0);
    let image = format!("{REGISTRY}/{namespace}/net:1.0.0");
    assert_eq!(
        crate::support::file_in_image(&image, "/interfaces").trim(),
        "lo",
        "the RUN step saw only the loopback interface"
    );
    let _ = Command::new("docker").args(["rmi", &image]).output();
}
