//! End to end: `golden build` and `golden rebuild` on the offline stack,
//! against the real Docker Engine and registry, checked through the
//! registry's HTTP API.

use crate::support;

use chrono::{DateTime, Utc};
use support::{assert_floating, digest, entry, labels, tags, Stack};

#[test]
fn build_all_publishes_exact_and_floating_tags_with_every_label() {
    let stack = Stack::new("build-all");
    let revision = stack.commit();
    let upstream_digest = digest(&stack.upstream().replace(":1.36", ""), "1.36").unwrap();
    let run = stack
        .golden(&["build", "--all", "--output", "json"])
        .expect(0);
    let report = run.json();

    let base = stack.repository("base");
    let base_digest = assert_floating(&base, "1.0.0", &["1.0", "1", "latest"]);
    assert_eq!(entry(&report, "base")["digest"], base_digest.as_str());
    assert_eq!(entry(&report, "base")["tag"], "1.0.0");
    assert_eq!(entry(&report, "base")["decision"], "built");

    let tools = stack.repository("tools");
    assert_floating(&tools, "2.1.0", &["2.1", "2", "latest"]);
    assert_floating(&tools, "1.4.0", &["1.4", "1"]);
    assert_eq!(
        tags(&tools),
        vec!["1", "1.4", "1.4.0", "2", "2.1", "2.1.0", "latest"]
    );

    let base_labels = labels(&base, "1.0.0");
    assert_eq!(base_labels["org.opencontainers.image.version"], "1.0.0");
    assert_eq!(base_labels["org.opencontainers.image.title"], "base");
    assert_eq!(
        base_labels["org.opencontainers.image.base.name"],
        stack.upstream()
    );
    assert_eq!(
        base_labels["org.opencontainers.image.base.digest"],
        upstream_digest
    );
    assert_eq!(base_labels["org.opencontainers.image.revision"], revision);
    assert_eq!(
        base_labels["org.opencontainers.image.vendor"],
        "Example Corp"
    );
    assert_eq!(base_labels["owner"], "platform-team");
    assert!(base_labels["io.golden.recipe"].starts_with("sha256:"));
    let created: DateTime<Utc> = base_labels["org.opencontainers.image.created"]
        .parse()
        .unwrap();
    assert!(
        (Utc::now() - created).num_minutes().abs() < 10,
        "created {created}"
    );

    // A child records its golden parent's pushed digest, and overrides
    // every golden label it would otherwise inherit.
    let child = labels(&tools, "2.1.0");
    assert_eq!(child["org.opencontainers.image.base.digest"], base_digest);
    assert_eq!(
        child["org.opencontainers.image.base.name"],
        format!("{base}:1.0")
    );
    assert_eq!(child["org.opencontainers.image.version"], "2.1.0");
    assert_eq!(child["org.opencontainers.image.title"], "tools");
    assert_ne!(child["io.golden.recipe"], base_labels["io.golden.recipe"]);
    assert_eq!(
        labels(&tools, "1.4.0")["org.opencontainers.image.version"],
        "1.4.0"
    );
}

#[test]
fn rebuild_takes_the_next_patch_moves_floating_tags_and_keeps_the_old_exact_tag() {
    let stack = Stack::new("rebuild");
    stack.golden(&["build", "--all"]).expect(0);
    let base = stack.repository("base");
    let first = digest(&base, "1.0.0").unwrap();

    let run = stack
        .golden(&["rebuild", "base", "--output", "json"])
        .expect(0);
    let report = run.json();
    let second = assert_floating(&base, "1.0.1", &["1.0", "1", "latest"]);
    assert_ne!(first, second);
    assert_eq!(
        digest(&base, "1.0.0").as_deref(),
        Some(first.as_str()),
        "the old exact tag is immutable"
    );
    assert_eq!(entry(&report, "base")["reasons"][0]["kind"], "forced");
    assert_eq!(
        entry(&report, "base")["floating"],
        serde_json::json!(["1.0", "1", "latest"])
    );
    // Everything built on base is rebuilt on the new digest; runtime is not.
    let tools = stack.repository("tools");
    assert_eq!(
        labels(&tools, "2.1.1")["org.opencontainers.image.base.digest"],
        second
    );
    assert_eq!(
        labels(&tools, "1.4.1")["org.opencontainers.image.base.digest"],
        second
    );
    assert_eq!(
        entry(&report, "tools")["reasons"][0]["kind"],
        "parent-rebuilt"
    );
    assert_eq!(entry(&report, "tools")["reasons"][0]["parent"], "base");
    assert!(report["images"]
        .as_array()
        .unwrap()
        .iter()
        .all(|image| image["id"] != "runtime"));
    assert_eq!(
        tags(&stack.repository("runtime")),
        vec!["3", "3.0", "3.0.0", "latest"]
    );
}

#[test]
fn rebuilding_the_older_line_never_takes_latest_or_the_major_of_the_newer_one() {
    let stack = Stack::new("older-line");
    let tools = stack.repository("tools");
    // Older line first: with no newer line yet, 1.4.0 may take `1` and `latest`.
    stack.golden(&["build", "base", "tools-lts"]).expect(0);
    let first_old = digest(&tools, "1.4.0").unwrap();
    assert_eq!(digest(&tools, "latest"), Some(first_old.clone()));
    // The newer line takes `latest` and `2`, and leaves `1` alone.
    stack.golden(&["build", "tools"]).expect(0);
    let newer = digest(&tools, "2.1.0").unwrap();
    assert_eq!(digest(&tools, "latest"), Some(newer.clone()));
    assert_eq!(digest(&tools, "2"), Some(newer.clone()));
    assert_eq!(digest(&tools, "1"), Some(first_old.clone()));
    // Rebuilding the older line moves only its own floating tags.
    let report = stack
        .golden(&["rebuild", "tools-lts", "--output", "json"])
        .expect(0)
        .json();
    let second_old = digest(&tools, "1.4.1").unwrap();
    assert_eq!(
        entry(&report, "tools-lts")["floating"],
        serde_json::json!(["1.4", "1"])
    );
    assert_eq!(digest(&tools, "1.4"), Some(second_old.clone()));
    assert_eq!(digest(&tools, "1"), Some(second_old));
    assert_eq!(digest(&tools, "latest"), Some(newer.clone()));
    assert_eq!(digest(&tools, "2"), Some(newer.clone()));
    // Both lines in one run, newer first in build order: still the same.
    stack.golden(&["rebuild", "tools", "tools-lts"]).expect(0);
    let newest = digest(&tools, "2.1.1").unwrap();
    assert_eq!(digest(&tools, "latest"), Some(newest.clone()));
    assert_eq!(digest(&tools, "2"), Some(newest));
    assert_eq!(digest(&tools, "1"), digest(&tools, "1.4.2"));
}

#[test]
fn a_failing_run_step_exits_1_pushes_nothing_and_names_the_step() {
    let stack = Stack::new("broken");
    stack.write(
        "images/broken/Dockerfile",
        "FROM 127.0.0.1:5000/upstream/busybox:1.36\nRUN echo preparing\nRUN echo 'disk full' >&2 && exit 3\n",
    );
    stack.append_config("\n[images.broken]\nversion = \"0.1\"\ncontext = \"images/broken\"\n");
    let run = stack.golden(&["build", "--all"]).expect(1);
    assert!(run.stdout.contains("failed      broken"), "{}", run.stdout);
    // BuildKit (the engine's builder here) numbers the step `[3/3]`.
    assert!(
        run.stdout
            .contains("failed at `[3/3] RUN echo 'disk full' >&2 && exit 3`"),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains('\u{1b}'),
        "no terminal escapes in the output:\n{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("disk full"),
        "the last build output is shown:\n{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("4 built, 0 up to date, 1 failed, 0 skipped"),
        "{}",
        run.stdout
    );
    assert!(
        tags(&stack.repository("broken")).is_empty(),
        "no tag of a failed image is pushed"
    );
    assert!(
        digest(&stack.repository("base"), "1.0.0").is_some(),
        "unrelated images are published"
    );
    // Run again with nothing changed: the line is held, not rebuilt, and
    // still counts as failing; `rebuild` builds it.
    let held = stack
        .golden(&["build", "broken", "--output", "json"])
        .expect(1)
        .json();
    assert_eq!(entry(&held, "broken")["decision"], "skipped");
    assert_eq!(entry(&held, "broken")["reasons"][0]["kind"], "failing");
    let json = stack
        .golden(&["rebuild", "broken", "--output", "json"])
        .expect(1)
        .json();
    assert_eq!(entry(&json, "broken")["decision"], "failed");
    assert!(entry(&json, "broken")["error"]
        .as_str()
        .unwrap()
        .contains("exit 3"));
    assert_eq!(entry(&json, "broken")["tag"], serde_json::Value::Null);
}

#[test]
fn an_unreachable_engine_exits_3_with_a_hint() {
    let stack = Stack::new("no-engine");
    let run = stack
        .golden_with_env(
            &["build", "--all"],
            &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
        )
        .expect(3);
    assert!(
        run.stderr.contains("unix:///nonexistent/docker.sock"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("hint:") && run.stderr.contains("DOCKER_HOST"),
        "{}",
        run.stderr
    );
    assert!(tags(&stack.repository("base")).is_empty());
}

#[test]
fn a_bad_config_exits_2_naming_file_line_and_fix() {
    let stack = Stack::new("bad-config");
    let unknown = stack.golden(&["rebuild", "bsae"]).expect(2);
    assert!(
        unknown.stderr.contains("unknown image `bsae`"),
        "{}",
        unknown.stderr
    );
    assert!(
        unknown.stderr.contains("did you mean `base`?"),
        "{}",
        unknown.stderr
    );
    stack.append_config("\n[images.extra]\nversion = \"8\"\ncontext = \"images/base\"\n");
    let run = stack.golden(&["build", "--all"]).expect(2);
    assert!(run.stderr.contains("golden.toml:"), "{}", run.stderr);
    assert!(
        run.stderr.contains("`8` is not MAJOR.MINOR"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("hint:"), "{}", run.stderr);
    assert!(
        tags(&stack.repository("base")).is_empty(),
        "nothing is built on a bad config"
    );
}

#[test]
fn the_state_directory_appears_only_when_a_line_fails_and_only_its_user_can_read_it() {
    use std::os::unix::fs::PermissionsExt;
    let (directory, config) = support::one_image_config(
        support::REGISTRY,
        &format!("e2e-state-dir-{}", std::process::id()),
        "x",
        &format!("FROM {}\nRUN true\n", support::SEED),
        "",
    );
    let home = directory.path().join("state-home");
    let golden = |args: &[&str]| {
        support::Golden::at(&config)
            .args(args)
            .env("XDG_STATE_HOME", &home)
            .run()
    };
    golden(&["build", "--all"]).expect(0);
    assert!(
        !home.exists(),
        "a run where nothing failed made {}",
        home.display()
    );
    std::fs::write(
        directory.path().join("x/Dockerfile"),
        format!("FROM {}\nRUN exit 3\n", support::SEED),
    )
    .unwrap();
    golden(&["build", "--all"]).expect(1);
    let state = home.join("golden");
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&state), 0o700, "{}", state.display());
    let files: Vec<_> = std::fs::read_dir(&state)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(mode(&files[0]), 0o600, "{}", files[0].display());
}
