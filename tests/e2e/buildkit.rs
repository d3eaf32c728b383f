//! End to end: BuildKit builds on the real engine. A build secret is
//! served to `RUN --mount=type=secret` for the build and found nowhere
//! after it (history, config, layers, golden's output and report); a cache
//! mount persists between builds; a missing or unset secret stops before
//! anything is built; a failing step shows its output; the classic
//! builder refuses what only BuildKit builds.

use std::process::Command;

use crate::support;

use support::{digest, golden_at, one_image_config, Golden, REGISTRY, SEED};

/// The token the tests serve: never written to any file golden reads.
const TOKEN: &str = "nuget-Tok3n-7f31c0de-never-in-an-image";

fn namespace(name: &str) -> String {
    format!("e2e-buildkit-{name}-{}", std::process::id())
}

fn sha256_hex(text: &str) -> String {
    support::oci::sha256(text.as_bytes())
        .trim_start_matches("sha256:")
        .to_string()
}

/// What `docker` prints for `args` (stdout and stderr, bytes kept).
fn docker_output(args: &[&str]) -> Vec<u8> {
    let output = Command::new("docker").args(args).output().unwrap();
    assert!(
        output.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut bytes = output.stdout;
    bytes.extend(output.stderr);
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

/// Every place a built image could hold `needle`: its history, its config
/// and every layer (`docker save`), as `(place, found)`.
fn image_holds(image: &str, needle: &str) -> Vec<(&'static str, bool)> {
    vec![
        (
            "docker history --no-trunc",
            contains(&docker_output(&["history", "--no-trunc", image]), needle),
        ),
        (
            "docker image inspect",
            contains(&docker_output(&["image", "inspect", image]), needle),
        ),
        (
            "docker save (config and every layer tar)",
            contains(&docker_output(&["save", image]), needle),
        ),
    ]
}

#[test]
fn a_secret_and_a_cache_mount_build_and_push_and_the_secret_is_nowhere_after() {
    let ns = namespace("secret");
    // The step proves it read the secret (its hash, not its value, is in
    // the Dockerfile); the cache step leaves a file in a cache mount of
    // this test's own.
    let cache = format!("type=cache,target=/cache,id={ns}");
    let secret_step = format!(
        "FROM {SEED}\n\
         RUN --mount=type=secret,id=nuget_token,required=true \\\n    \
         test \"$(sha256sum /run/secrets/nuget_token | cut -d' ' -f1)\" = \"{}\" && echo \"token-$((6 * 7))-ok {ns}\"\n",
        sha256_hex(TOKEN)
    );
    let dockerfile =
        format!("{secret_step}RUN --mount={cache} touch /cache/from-the-first-build\n");
    let (directory, config) = one_image_config(REGISTRY, &ns, "sdk", &dockerfile, "");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(
        "cache = \"always\"\n[images.sdk.secrets]\nnuget_token = { env = \"NUGET_TOKEN\" }\n",
    );
    std::fs::write(&config, &text).unwrap();
    let report = directory.path().join("report.json");
    let run = Golden::at(&config)
        .args([
            "-vv",
            "build",
            "--all",
            "--report",
            report.to_str().unwrap(),
        ])
        .env("NUGET_TOKEN", TOKEN)
        .run()
        .expect(0);
    let repository = format!("{REGISTRY}/{ns}/sdk");
    assert!(
        digest(&repository, "1.0.0").is_some(),
        "pushed:\n{}",
        run.stderr
    );
    let report_text = std::fs::read_to_string(&report).unwrap();
    for (place, text) in [
        ("stdout", &run.stdout),
        ("stderr at -vv", &run.stderr),
        ("the report", &report_text),
    ] {
        assert!(!text.contains(TOKEN), "the secret is in {place}:\n{text}");
    }
    // The step ran (its output, not its name, says 42) and read the secret.
    assert!(
        run.stderr.contains(&format!("token-42-ok {ns}")),
        "the step read the secret:\n{}",
        run.stderr
    );
    let image = format!("{repository}:1.0.0");
    docker_output(&["pull", "-q", &image]);
    for (place, found) in image_holds(&image, TOKEN) {
        assert!(!found, "the secret is in {place}");
    }
    let labels = support::labels(&repository, "1.0.0");
    assert!(!format!("{labels:?}").contains(TOKEN));

    // The cache mount persists: a second build, whose step lists the
    // mount, finds the first one's file in it.
    std::fs::write(
        directory.path().join("sdk/Dockerfile"),
        format!("{secret_step}RUN --mount={cache} ls /cache > /etc/cache-before\n"),
    )
    .unwrap();
    Golden::at(&config)
        .args(["build", "--all"])
        .env("NUGET_TOKEN", TOKEN)
        .run()
        .expect(0);
    let second = format!("{repository}:1.0.1");
    docker_output(&["pull", "-q", &second]);
    let before = docker_output(&[
        "run",
        "--rm",
        "--network",
        "none",
        &second,
        "cat",
        "/etc/cache-before",
    ]);
    assert!(
        contains(&before, "from-the-first-build"),
        "the second build's cache mount held the first one's file: {}",
        String::from_utf8_lossy(&before)
    );
    for reference in [&image, &second] {
        let _ = Command::new("docker").args(["rmi", reference]).output();
    }
}

#[test]
fn the_search_for_a_secret_finds_one_that_a_step_copies_into_the_image() {
    // The positive control of the test above: the same search finds the
    // secret when a Dockerfile does leak it into a layer.
    let ns = namespace("leak");
    let dockerfile =
        format!("FROM {SEED}\nRUN --mount=type=secret,id=token cp /run/secrets/token /leaked\n");
    let (_directory, config) = one_image_config(REGISTRY, &ns, "leaky", &dockerfile, "");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("[images.leaky.secrets]\ntoken = { env = \"LEAKY_TOKEN\" }\n");
    std::fs::write(&config, &text).unwrap();
    Golden::at(&config)
        .args(["build", "--all"])
        .env("LEAKY_TOKEN", TOKEN)
        .run()
        .expect(0);
    let image = format!("{REGISTRY}/{ns}/leaky:1.0.0");
    docker_output(&["pull", "-q", &image]);
    let found = image_holds(&image, TOKEN);
    assert!(
        found
            .iter()
            .any(|(place, found)| *found && place.starts_with("docker save")),
        "{found:?}"
    );
    let _ = Command::new("docker").args(["rmi", &image]).output();
}

#[test]
fn an_unset_secret_variable_stops_the_image_before_it_builds_naming_it() {
    let ns = namespace("unset");
    let dockerfile = format!(
        "FROM {SEED}\nRUN --mount=type=secret,id=nuget_token cat /run/secrets/nuget_token\n"
    );
    let (_directory, config) = one_image_config(REGISTRY, &ns, "sdk", &dockerfile, "");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("[images.sdk.secrets]\nnuget_token = { env = \"GOLDEN_E2E_UNSET_TOKEN\" }\n");
    std::fs::write(&config, &text).unwrap();
    let run = Golden::at(&config)
        .args(["build", "--all"])
        .env_remove("GOLDEN_E2E_UNSET_TOKEN")
        .run()
        .expect(1);
    assert!(
        run.stderr
            .contains("the secret `nuget_token` of image `sdk` (env GOLDEN_E2E_UNSET_TOKEN)")
            && run
                .stderr
                .contains("`GOLDEN_E2E_UNSET_TOKEN` is not set; export it"),
        "{}",
        run.stderr
    );
    assert!(support::tags(&format!("{REGISTRY}/{ns}/sdk")).is_empty());
}

#[test]
fn a_secret_the_config_does_not_provide_is_a_located_error_before_anything_runs() {
    let ns = namespace("missing");
    let dockerfile = format!(
        "FROM {SEED}\nRUN --mount=type=secret,id=nuget_token cat /run/secrets/nuget_token\n"
    );
    let (_directory, config) = one_image_config(REGISTRY, &ns, "sdk", &dockerfile, "");
    for command in [
        ["validate"].as_slice(),
        ["plan"].as_slice(),
        ["build", "--all"].as_slice(),
    ] {
        let run = golden_at(&config, command).expect(2);
        assert!(
            run.stderr.contains("nuget_token") && run.stderr.contains("Dockerfile:2"),
            "{command:?}:\n{}",
            run.stderr
        );
        assert!(
            run.stderr.contains("[images.sdk.secrets]"),
            "the hint shows what to add:\n{}",
            run.stderr
        );
    }
    assert!(support::tags(&format!("{REGISTRY}/{ns}/sdk")).is_empty());
}

#[test]
fn a_failing_buildkit_step_shows_the_step_and_its_last_lines() {
    let ns = namespace("fails");
    let dockerfile = format!(
        "FROM {SEED}\nRUN echo restoring packages; echo 'error NU1101: Unable to find package Contoso.Tools' >&2; exit 3\n"
    );
    let (_directory, config) = one_image_config(REGISTRY, &ns, "sdk", &dockerfile, "");
    let run = golden_at(&config, &["build", "--all"]).expect(1);
    assert!(
        run.stderr.contains("[2/2] RUN echo restoring packages")
            && run
                .stderr
                .contains("error NU1101: Unable to find package Contoso.Tools")
            && run.stderr.contains("restoring packages")
            && run.stderr.contains("exit code: 3"),
        "{}",
        run.stderr
    );
    assert!(support::tags(&format!("{REGISTRY}/{ns}/sdk")).is_empty());
}

#[test]
fn the_classic_builder_with_a_mount_is_a_validate_error_and_auto_says_it_used_buildkit() {
    let ns = namespace("classic");
    let dockerfile = format!("FROM {SEED}\nRUN --mount=type=cache,target=/cache touch /cache/x\n");
    let (_directory, config) = one_image_config(REGISTRY, &ns, "app", &dockerfile, "");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("{text}builder = \"classic\"\n")).unwrap();
    let run = golden_at(&config, &["validate"]).expect(2);
    assert!(
        run.stderr.contains("Dockerfile:2") && run.stderr.contains("builder"),
        "{}",
        run.stderr
    );
    std::fs::write(&config, &text).unwrap();
    let run = golden_at(&config, &["-v", "build", "--all", "--output", "json"]).expect(0);
    assert!(
        run.stderr.contains("builder=buildkit"),
        "-v says which builder ran:\n{}",
        run.stderr
    );
    let report = run.json();
    assert_eq!(
        support::entry(&report, "app")["builder"],
        "buildkit",
        "{report:#}"
    );
}

#[test]
fn a_syntax_line_naming_a_frontend_the_engine_cannot_pull_fails_with_the_way_out() {
    // This machine reaches no public registry, as a locked-down build
    // network does not.
    let ns = namespace("syntax");
    let dockerfile = format!("# syntax=docker/dockerfile:1\nFROM {SEED}\nRUN true\n");
    let (_directory, config) = one_image_config(REGISTRY, &ns, "app", &dockerfile, "");
    let run = golden_at(&config, &["build", "--all"]).expect(1);
    assert!(
        run.stdout.contains("docker/dockerfile:1")
            && run
                .stdout
                .contains("`# syntax=` line names a frontend image the engine could not pull"),
        "{}",
        run.stdout
    );
    assert!(support::tags(&format!("{REGISTRY}/{ns}/app")).is_empty());
}

/// What `command` prints in a container of `reference` run as `platform`
/// (its stdout only).
fn run_as(reference: &str, platform: &str, command: &[&str]) -> String {
    let output = Command::new("docker")
        .args([
            "run",
            "--rm",
            "--pull",
            "always",
            "--network",
            "none",
            "--platform",
            platform,
        ])
        .arg(reference)
        .args(command)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "docker run --platform {platform} {reference}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

#[test]
fn a_two_platform_image_builds_each_platform_with_buildkit() {
    let ns = namespace("platforms");
    let dockerfile = format!(
        "FROM {REGISTRY}/{}:1.36\nRUN --mount=type=cache,target=/cache uname -m > /etc/golden-arch\n",
        support::oci::SEEDED
    );
    let (_directory, config) = one_image_config(REGISTRY, &ns, "multi", &dockerfile, "");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("{text}{}\n", support::oci::PLATFORMS)).unwrap();
    let run = golden_at(&config, &["build", "--all", "--output", "json"]).expect(0);
    assert_eq!(support::entry(&run.json(), "multi")["builder"], "buildkit");
    let image = format!("{REGISTRY}/{ns}/multi:1.0.0");
    // Each platform's RUN ran as that platform (QEMU for arm64).
    assert_eq!(
        run_as(&image, "linux/arm64", &["cat", "/etc/golden-arch"]),
        "aarch64"
    );
    assert_eq!(
        run_as(&image, "linux/amd64", &["cat", "/etc/golden-arch"]),
        "x86_64"
    );
    let _ = Command::new("docker").args(["rmi", &image]).output();
}

#[test]
fn a_pool_of_two_engines_builds_with_buildkit_on_each_with_its_secrets() {
    let side = support::engines::Engine::start();
    let ns = namespace("pool");
    let (directory, config) = one_image_config(
        REGISTRY,
        &ns,
        "on-main",
        &format!("FROM {SEED}\nRUN --mount=type=secret,id=token,required=true test -s /run/secrets/token && echo main > /where\n"),
        &format!(
            "[[engines]]\nname = \"main\"\nhost = \"{}\"\nlabels = [\"main\"]\n\n[[engines]]\nname = \"side\"\nhost = \"{}\"\nlabels = [\"side\"]\n\n",
            support::engines::MAIN_ENGINE,
            side.host()
        ),
    );
    std::fs::create_dir_all(directory.path().join("on-side")).unwrap();
    std::fs::write(
        directory.path().join("on-side/Dockerfile"),
        format!("FROM {SEED}\nRUN --mount=type=secret,id=token,required=true test -s /run/secrets/token && echo side > /where\n"),
    )
    .unwrap();
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(
        "engine_labels = [\"main\"]\n[images.on-main.secrets]\ntoken = { file = \"token\" }\n",
    );
    text.push_str("\n[images.on-side]\nversion = \"1.0\"\ncontext = \"on-side\"\nengine_labels = [\"side\"]\n[images.on-side.secrets]\ntoken = { file = \"token\" }\n");
    std::fs::write(&config, text).unwrap();
    std::fs::write(directory.path().join("token"), TOKEN).unwrap();
    let run = golden_at(&config, &["build", "--all", "--output", "json"]).expect(0);
    let report = run.json();
    for (id, engine) in [("on-main", "main"), ("on-side", "side")] {
        let entry = support::entry(&report, id);
        assert_eq!(entry["builder"], "buildkit", "{entry:#}");
        assert_eq!(entry["engines"], serde_json::json!([engine]), "{entry:#}");
        assert!(digest(&format!("{REGISTRY}/{ns}/{id}"), "1.0.0").is_some());
    }
    assert!(!run.stdout.contains(TOKEN) && !run.stderr.contains(TOKEN));
}

#[test]
fn a_step_that_prints_its_secret_shows_it_masked_everywhere() {
    // A file secret as `echo TOKEN > file` writes it (with a newline),
    // printed by the step that then fails: the failure tail, `-v` and the
    // report show `****`.
    let ns = namespace("printed");
    let dockerfile = format!(
        "FROM {SEED}\nRUN --mount=type=secret,id=token echo {ns}; cat /run/secrets/token; exit 1\n"
    );
    let (directory, config) = one_image_config(REGISTRY, &ns, "sdk", &dockerfile, "");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("[images.sdk.secrets]\ntoken = { file = \"token\" }\n");
    std::fs::write(&config, &text).unwrap();
    std::fs::write(directory.path().join("token"), format!("{TOKEN}\n")).unwrap();
    let report = directory.path().join("report.json");
    let run = golden_at(
        &config,
        &["-v", "build", "--all", "--report", report.to_str().unwrap()],
    )
    .expect(1);
    let report = std::fs::read_to_string(&report).unwrap();
    for (place, text) in [
        ("stdout", &run.stdout),
        ("stderr", &run.stderr),
        ("report", &report),
    ] {
        assert!(!text.contains(TOKEN), "the secret is in {place}:\n{text}");
    }
    assert!(
        run.stdout.contains("last lines of output:") && run.stdout.contains("****"),
        "the tail shows the step's output, masked:\n{}",
        run.stdout
    );
}
