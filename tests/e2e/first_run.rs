//! The README's first two commands on a fresh or shared machine:
//! `scripts/demo` and `scripts/test` find cargo's target directory where
//! cargo puts it (CARGO_TARGET_DIR, relative ones from the caller's
//! directory, `build.target-dir`), the demo publishes under a namespace of
//! its own run, and the environment scripts install only what their users
//! need. No engine or registry needed: the scripts' print modes stop before
//! anything is installed or built.

use std::path::{Path, PathBuf};
use std::process::Command;

use golden::graph::Upstream;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs a script of the checkout from `directory` with only the target
/// directory settings given; its stdout, trimmed.
fn run(script: &str, arguments: &[&str], directory: &Path, env: &[(&str, &str)]) -> String {
    let mut command = Command::new(root().join(script));
    command
        .args(arguments)
        .current_dir(directory)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET_DIR");
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{script} {arguments:?}: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

#[test]
fn the_demo_runs_the_binary_in_cargo_target_dir() {
    let temp = tempfile::tempdir().unwrap();
    let target = temp.path().join("shared-target");
    let binary = run(
        "scripts/demo",
        &["--print-binary"],
        &root(),
        &[("CARGO_TARGET_DIR", target.to_str().unwrap())],
    );
    assert_eq!(PathBuf::from(binary), target.join("release/golden"));
    // Nothing was built or created for the question.
    assert!(!target.exists());
}

#[test]
fn a_relative_cargo_target_dir_is_taken_from_where_the_script_is_started() {
    let temp = tempfile::tempdir().unwrap();
    let binary = run(
        "scripts/demo",
        &["--print-binary"],
        temp.path(),
        &[("CARGO_TARGET_DIR", "relative/target")],
    );
    assert_eq!(
        PathBuf::from(binary),
        temp.path().join("relative/target/release/golden")
    );
    let directory = run(
        "scripts/test",
        &["--print-target-dir"],
        temp.path(),
        &[("CARGO_TARGET_DIR", "relative/target")],
    );
    assert_eq!(
        PathBuf::from(directory),
        temp.path().join("relative/target")
    );
}

#[test]
fn the_scripts_follow_build_target_dir_as_cargo_does() {
    // CARGO_BUILD_TARGET_DIR is `build.target-dir` of a cargo config.
    let temp = tempfile::tempdir().unwrap();
    let target = temp.path().join("configured");
    let target_text = target.to_str().unwrap();
    let binary = run(
        "scripts/demo",
        &["--print-binary"],
        &root(),
        &[("CARGO_BUILD_TARGET_DIR", target_text)],
    );
    assert_eq!(PathBuf::from(binary), target.join("release/golden"));
    let directory = run(
        "scripts/test",
        &["--print-target-dir"],
        &root(),
        &[("CARGO_BUILD_TARGET_DIR", target_text)],
    );
    assert_eq!(PathBuf::from(directory), target);
}

fn namespace(env: &[(&str, &str)]) -> String {
    run("scripts/demo", &["--print-namespace"], &root(), env)
}

#[test]
fn every_demo_run_publishes_under_a_namespace_of_its_own() {
    let first = namespace(&[("USER", "alice")]);
    let second = namespace(&[("USER", "alice")]);
    // Two runs of one person in the same second still differ.
    assert_ne!(first, second);
    assert!(first.starts_with("demo-alice-"), "{first}");
    // Two people differ by name; sudo keeps the person's.
    let bob = namespace(&[("USER", "root"), ("SUDO_USER", "Bob.Smith")]);
    assert!(bob.starts_with("demo-bob-smith-"), "{bob}");
    for namespace in [&first, &second, &bob] {
        assert!(
            namespace.split('-').all(|part| !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())),
            "{namespace}: not lowercase letters and digits joined by single dashes"
        );
    }
}

#[test]
fn the_demo_copy_of_the_offline_stack_publishes_only_under_its_namespace() {
    // The copy the demo builds: golden accepts its namespace, and the
    // golden children still build on base, from the same namespace.
    let temp = tempfile::tempdir().unwrap();
    let config = run(
        "scripts/demo",
        &["--prepare", "run"],
        temp.path(),
        &[("USER", "Carol")],
    );
    assert_eq!(PathBuf::from(&config), temp.path().join("run/golden.toml"));
    let project =
        golden::load::project(Path::new(&config)).unwrap_or_else(|error| panic!("{error}"));
    let namespace = &project.config.registry.namespace;
    assert!(namespace.starts_with("demo-carol-"), "{namespace}");
    for id in ["tools", "tools-lts"] {
        assert!(
            matches!(&project.graph.nodes[id].upstream, Upstream::Golden { id, .. } if id == "base"),
            "{id}: {:?}",
            project.graph.nodes[id].upstream
        );
    }
    // Nothing in the copy still names the shipped namespace.
    let leftovers = Command::new("grep")
        .args(["-rl", "golden-offline"])
        .arg(temp.path())
        .output()
        .unwrap();
    assert!(
        leftovers.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&leftovers.stdout)
    );
    // The shipped stack is untouched.
    let shipped = std::fs::read_to_string(root().join("examples/offline/golden.toml")).unwrap();
    assert!(shipped.contains("namespace = \"golden-offline\""));
}

/// The Debian packages a script installs: every `missing+=(...)`.
fn installs(script: &str) -> Vec<String> {
    let text = std::fs::read_to_string(root().join(script)).unwrap();
    text.split("missing+=(")
        .skip(1)
        .map(|rest| rest.split(')').next().unwrap().to_string())
        .collect()
}

#[test]
fn bench_only_tools_come_with_bench_and_not_with_the_tests() {
    let tests = installs("scripts/env");
    let bench = installs("bench/env");
    for tool in ["hyperfine", "time", "bc"] {
        assert!(
            !tests.contains(&tool.to_string()),
            "scripts/env installs {tool}"
        );
        assert!(
            bench.contains(&tool.to_string()),
            "bench/env does not install {tool}"
        );
    }
    // Installed for nothing: no script, test or runner file uses them.
    assert!(
        !tests.contains(&"tmux".to_string()),
        "scripts/env installs tmux"
    );
    // What the tests and the demo need stays.
    for needed in [
        "docker.io",
        "docker-registry",
        "busybox-static",
        "curl",
        "python3",
        "openssl",
        // The 2-platform upstreams are pushed by digest with it.
        "skopeo",
    ] {
        assert!(
            tests.contains(&needed.to_string()),
            "scripts/env lost {needed}"
        );
    }
    for script in ["bench/run", "bench/lib.sh"] {
        let text = std::fs::read_to_string(root().join(script)).unwrap();
        assert!(
            text.contains("bench/env"),
            "{script} does not bring up bench/env"
        );
        assert!(
            !text.contains("target/release"),
            "{script} assumes ./target"
        );
    }
}

#[test]
fn the_readme_installs_with_the_lock_file() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    assert!(readme.contains("cargo install --locked --path ."));
    assert!(!readme.contains("cargo install --path ."));
}

#[test]
fn golden_init_writes_a_config_that_plans_against_the_real_registry() {
    let directory = tempfile::tempdir().unwrap();
    let golden = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_golden"))
            .args(args)
            .current_dir(directory.path())
            .env_remove("GOLDEN_CONFIG")
            .output()
            .unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).to_string(),
            String::from_utf8_lossy(&output.stderr).to_string(),
        )
    };
    // Nothing to read: exit 2, saying where it looked.
    let (code, _, stderr) = golden(&["init"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("no Dockerfile or Containerfile"),
        "{stderr}"
    );

    for (id, step) in [("web", "RUN true"), ("worker", "RUN echo work")] {
        let context = directory.path().join("images").join(id);
        std::fs::create_dir_all(&context).unwrap();
        std::fs::write(
            context.join("Dockerfile"),
            format!("FROM {}\n{step}\n", crate::support::SEED),
        )
        .unwrap();
    }
    std::fs::create_dir_all(directory.path().join("node_modules/x")).unwrap();
    std::fs::write(
        directory.path().join("node_modules/x/Dockerfile"),
        "FROM scratch\n",
    )
    .unwrap();
    let namespace = format!("e2e-init-{}", std::process::id());
    let (code, stdout, stderr) = golden(&[
        "init",
        "--registry",
        crate::support::REGISTRY,
        "--namespace",
        &namespace,
    ]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("with 2 image(s): web, worker"), "{stdout}");
    assert!(stdout.contains("valid"), "{stdout}");
    // The config it wrote is the one golden finds, and plans.
    let (code, stdout, stderr) = golden(&["plan", "--output", "json"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let plan: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let decisions: Vec<&str> = plan["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|image| image["decision"].as_str().unwrap())
        .collect();
    assert_eq!(decisions, ["build", "build"], "{plan:#}");
    // It does not overwrite.
    let (code, _, stderr) = golden(&["init"]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("exists already") && stderr.contains("--force"),
        "{stderr}"
    );
}
