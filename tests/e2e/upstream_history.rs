//! End to end: `golden ls`, `inspect`, `rollback`, `prune` and `check` on a
//! line under `versioning = "upstream"` (builds `X.Y.Z-rN`, floating tags
//! `X.Y.Z`, `X.Y`, `X`, `latest`), against the real registry. The builds
//! are made by hand, as golden labels them (its recipe label and
//! `org.opencontainers.image.version` = the exact tag), so these tests
//! need nothing of the build path.

use crate::support;

use std::process::Command;

use support::{assert_tags_at, digest, golden_at, retag, tags, Stack, REGISTRY};

/// A stack whose golden.toml holds one upstream-versioned line, aspnet
/// 10.0, and a line-versioned base 1.0 in another repository.
fn upstream_stack(name: &str) -> (Stack, String) {
    let stack = Stack::new(name);
    stack.write(
        "images/aspnet/Dockerfile",
        &format!("FROM {}\nRUN true\n", stack.upstream()),
    );
    std::fs::write(
        stack.config(),
        format!(
            "[registry]\nhost = \"{REGISTRY}\"\nnamespace = \"{}\"\n\n\
[images.aspnet]\nversion = \"10.0\"\ncontext = \"images/aspnet\"\n\
versioning = \"upstream\"\nupstream_version = {{ env = \"ASPNET_VERSION\" }}\n\n\
[images.base]\nversion = \"1.0\"\ncontext = \"images/base\"\n",
            stack.namespace
        ),
    )
    .unwrap();
    let repository = stack.repository("aspnet");
    (stack, repository)
}

/// Pushes a build golden would have made of upstream `exact`'s version as
/// `repository:exact`, labelled as golden labels one; returns its digest.
fn push_build(stack: &Stack, repository: &str, exact: &str) -> String {
    let upstream = exact.rsplit_once("-r").unwrap().0;
    let context = tempfile::tempdir().unwrap();
    std::fs::write(
        context.path().join("Dockerfile"),
        format!("FROM {}\nENV ASPNET_VERSION={upstream}\n", stack.upstream()),
    )
    .unwrap();
    let reference = format!("{repository}:{exact}");
    let output = support::docker_build(
        Command::new("docker")
            .env("DOCKER_BUILDKIT", "0")
            .args(["build", "-q", "-t", &reference])
            .args(["--label", &format!("io.golden.recipe=sha256:{exact}")])
            .args([
                "--label",
                &format!("org.opencontainers.image.version={exact}"),
            ])
            .args(["--label", &format!("io.golden.upstream.version={upstream}")])
            .arg(context.path()),
    );
    assert!(
        output.status.success(),
        "docker build: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    support::docker(&["push", "-q", &reference]);
    support::docker(&["rmi", &reference]);
    digest(repository, exact).expect("the build just pushed resolves")
}

/// Points each of `floating` at the build `exact`.
fn float(repository: &str, exact: &str, floating: &[&str]) {
    for tag in floating {
        retag(repository, exact, tag);
    }
}

/// 10.0.1-r1, 10.0.1-r2 (`10.0.1` on it), 10.0.2-r1 (`10.0.2`, `10.0`,
/// `10`, `latest` on it).
fn three_builds(stack: &Stack, repository: &str) -> [String; 3] {
    let r1 = push_build(stack, repository, "10.0.1-r1");
    let r2 = push_build(stack, repository, "10.0.1-r2");
    let next = push_build(stack, repository, "10.0.2-r1");
    float(repository, "10.0.1-r2", &["10.0.1"]);
    float(repository, "10.0.2-r1", &["10.0.2", "10.0", "10", "latest"]);
    [r1, r2, next]
}

#[test]
fn ls_and_inspect_show_the_upstream_version_and_x_y_z_tags() {
    let (stack, repository) = upstream_stack("upstream-ls");
    three_builds(&stack, &repository);

    let ls = golden_at(&stack.config(), &["ls", "aspnet"]).expect(0);
    assert!(
        ls.stdout.contains("line 10.0 (3 version(s))"),
        "{}",
        ls.stdout
    );
    for row in [
        "10.0.1-r1 (upstream 10.0.1)",
        "10.0.1-r2 (upstream 10.0.1)",
        "10.0.2-r1 (upstream 10.0.2)",
    ] {
        assert!(ls.stdout.contains(row), "{row}:\n{}", ls.stdout);
    }
    let row = |exact: &str| {
        ls.stdout
            .lines()
            .find(|line| line.trim_start().starts_with(exact))
            .unwrap_or_else(|| panic!("{exact}:\n{}", ls.stdout))
            .to_string()
    };
    assert!(row("10.0.1-r2").ends_with(" 10.0.1"), "{}", ls.stdout);
    assert!(
        row("10.0.2-r1").ends_with("10.0 10.0.2 10 latest"),
        "{}",
        ls.stdout
    );
    assert!(!ls.stdout.contains("warning"), "{}", ls.stdout);
    let json = golden_at(&stack.config(), &["ls", "aspnet", "--output", "json"])
        .expect(0)
        .json();
    let versions = json["images"][0]["versions"].as_array().unwrap();
    let read: Vec<(&str, &str)> = versions
        .iter()
        .map(|v| {
            (
                v["version"].as_str().unwrap(),
                v["upstream"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        read,
        [
            ("10.0.1-r1", "10.0.1"),
            ("10.0.1-r2", "10.0.1"),
            ("10.0.2-r1", "10.0.2")
        ]
    );
    assert!(versions.iter().all(|v| v["foreign"].is_null()), "{json}");

    let inspect = golden_at(&stack.config(), &["inspect", "aspnet"]).expect(0);
    assert!(
        inspect
            .stdout
            .contains("\n10.0.2-r1 (upstream 10.0.2)  sha256:"),
        "{}",
        inspect.stdout
    );
    assert!(
        inspect.stdout.contains("10.0.1   -> 10.0.1-r2"),
        "{}",
        inspect.stdout
    );
    assert!(
        inspect.stdout.contains("10.0.2   -> 10.0.2-r1"),
        "{}",
        inspect.stdout
    );
    let json = golden_at(&stack.config(), &["inspect", "aspnet", "--output", "json"])
        .expect(0)
        .json();
    assert_eq!(json["versions"][0]["version"], "10.0.2-r1");
    assert_eq!(json["versions"][0]["upstream"], "10.0.2");
    let floating: Vec<&str> = json["floating"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["tag"].as_str().unwrap())
        .collect();
    assert_eq!(floating, ["10.0", "10.0.1", "10.0.2", "10", "latest"]);
}

#[test]
fn rollback_within_an_upstream_version_moves_x_y_z_and_x_y_back() {
    let (stack, repository) = upstream_stack("upstream-rollback-within");
    let r1 = push_build(&stack, &repository, "10.0.1-r1");
    push_build(&stack, &repository, "10.0.1-r2");
    float(
        &repository,
        "10.0.1-r2",
        &["10.0.1", "10.0", "10", "latest"],
    );

    let run = golden_at(&stack.config(), &["rollback", "aspnet"]).expect(0);
    assert!(
        run.stdout
            .contains("rolled back 10.0.1-r2 (upstream 10.0.1) -> 10.0.1-r1 (upstream 10.0.1)"),
        "{}",
        run.stdout
    );
    assert_tags_at(&repository, &["10.0.1", "10.0", "10", "latest"], &r1);
    assert!(
        tags(&repository).contains(&"10.0.1-r2-withdrawn".to_string()),
        "{:?}",
        tags(&repository)
    );
    let ls = golden_at(&stack.config(), &["ls", "aspnet"]).expect(0);
    assert!(ls.stdout.contains("(withdrawn)"), "{}", ls.stdout);
}

#[test]
fn rollback_across_upstream_versions_leaves_the_newer_x_y_z_and_to_takes_the_new_spelling() {
    let (stack, repository) = upstream_stack("upstream-rollback-across");
    let [_, r2, next] = three_builds(&stack, &repository);

    let run = golden_at(&stack.config(), &["rollback", "aspnet"]).expect(0);
    assert!(
        run.stdout
            .contains("rolled back 10.0.2-r1 (upstream 10.0.2) -> 10.0.1-r2 (upstream 10.0.1)"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("left 10.0.2 on"), "{}", run.stdout);
    assert_tags_at(&repository, &["10.0.1", "10.0", "10", "latest"], &r2);
    // No build of 10.0.2 is left to move its tag to: it stays.
    assert_tags_at(&repository, &["10.0.2", "10.0.2-r1-withdrawn"], &next);

    // Naming the withdrawn build, spelt X.Y.Z-rN, restores it.
    let run = golden_at(
        &stack.config(),
        &[
            "rollback",
            "aspnet",
            "--to",
            "10.0.2-r1",
            "--output",
            "json",
        ],
    )
    .expect(0);
    let json = run.json();
    assert_eq!(json["rollback"]["to"], "10.0.2-r1");
    assert_tags_at(&repository, &["10.0.2", "10.0", "10", "latest"], &next);
    // `10.0.1` is a floating tag, not a build, under upstream versioning.
    let refused = golden_at(&stack.config(), &["rollback", "aspnet", "--to", "10.0.1"]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains("builds that can be released: 10.0.1-r1, 10.0.1-r2, 10.0.2-r1"),
        "{}",
        refused.stderr
    );
}

#[test]
fn prune_keep_counts_builds_across_upstream_versions_and_keeps_what_x_y_z_needs() {
    let (stack, repository) = upstream_stack("upstream-prune");
    let [r1, r2, _] = three_builds(&stack, &repository);
    let newest = push_build(&stack, &repository, "10.0.2-r2");
    float(
        &repository,
        "10.0.2-r2",
        &["10.0.2", "10.0", "10", "latest"],
    );

    let dry = golden_at(&stack.config(), &["prune", "aspnet", "--keep", "1"]).expect(0);
    for expected in [
        "keep     10.0.2-r2 (upstream 10.0.2)  among the newest 1",
        "delete   10.0.2-r1 (upstream 10.0.2)",
        "keep     10.0.1-r2 (upstream 10.0.1)  same manifest as 10.0.1",
        "delete   10.0.1-r1 (upstream 10.0.1)",
        "dry run: 2 manifest(s) would be deleted",
    ] {
        assert!(dry.stdout.contains(expected), "{expected}:\n{}", dry.stdout);
    }
    golden_at(
        &stack.config(),
        &["prune", "aspnet", "--keep", "1", "--apply"],
    )
    .expect(0);
    let left = tags(&repository);
    assert!(!left.contains(&"10.0.1-r1".to_string()), "{left:?}");
    assert!(!left.contains(&"10.0.2-r1".to_string()), "{left:?}");
    assert_tags_at(&repository, &["10.0.1-r2", "10.0.1"], &r2);
    assert_tags_at(&repository, &["10.0.2-r2", "10.0.2", "10.0"], &newest);
    assert!(digest(&repository, "10.0.1-r1").is_none(), "{r1} is gone");
}

#[test]
fn check_accepts_x_y_z_and_revision_tags_of_an_upstream_line_only() {
    let (stack, repository) = upstream_stack("upstream-check");
    let base = stack.repository("base");
    for (file, from) in [
        ("floating.Dockerfile", format!("{repository}:10.0.1")),
        ("exact.Dockerfile", format!("{repository}:10.0.1-r2")),
        ("line.Dockerfile", format!("{repository}:10.0")),
    ] {
        stack.write(&format!("apps/good/{file}"), &format!("FROM {from}\n"));
    }
    let good = golden_at(
        &stack.config(),
        &[
            "check",
            &stack.path().join("apps/good").display().to_string(),
        ],
    )
    .expect(0);
    assert!(
        good.stdout
            .contains("3 Dockerfile(s) checked: all start FROM golden images"),
        "{}",
        good.stdout
    );
    // A line-versioned image never carries an upstream-spelt tag.
    stack.write("apps/bad/Dockerfile", &format!("FROM {base}:1.0.4-r1\n"));
    let bad = golden_at(
        &stack.config(),
        &[
            "check",
            &stack.path().join("apps/bad").display().to_string(),
        ],
    )
    .expect(1);
    assert!(bad.stdout.contains("[unconfigured-line]"), "{}", bad.stdout);
}

/// The root golden.toml (the .NET example) tags its builds as .NET does:
/// upstream versioning read from the ENV Microsoft's images set, tracking
/// Microsoft's `10.0.*-noble` tags.
#[test]
fn the_dotnet_example_uses_upstream_versioning_with_tracking() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("golden.toml");
    let project = golden::load::project(&path).unwrap();
    for (id, env) in [
        ("aspnet-core", "ASPNET_VERSION"),
        ("dotnetcore-sdk", "DOTNET_SDK_VERSION"),
    ] {
        let image = project.config.image(id).unwrap();
        assert_eq!(image.versioning.to_string(), "upstream", "{id}");
        assert_eq!(
            image.upstream_version.as_ref().map(ToString::to_string),
            Some(format!("{{ env = \"{env}\" }}")),
            "{id}"
        );
        assert_eq!(
            image.track.as_ref().map(|track| track.pattern.as_str()),
            Some("10.0.*-noble"),
            "{id}"
        );
    }
}
