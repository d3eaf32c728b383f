//! End to end: tags golden did not write. A foreign `X.Y.N` (pushed by
//! hand, or a golden manifest retagged under another number) is never
//! released, promoted, rolled back to, counted toward `keep` or deleted; a
//! floating tag someone moved is put back; an index that names a build
//! keeps it from prune. Real engine, real registry.

use crate::support;

use std::time::Duration;

use support::{assert_tags_at, digest, entry, push_as, put_manifest, retag, tags, Stack};

fn has(tags: &[String], tag: &str) -> bool {
    tags.iter().any(|t| t == tag)
}

#[test]
fn foreign_exact_tags_are_never_released_rolled_back_to_or_pruned() {
    let stack = Stack::new("foreign_exact");
    let tools = stack.repository("tools");
    stack.golden(&["build", "--all"]).expect(0);
    stack.golden(&["rebuild", "tools"]).expect(0);
    let release = digest(&tools, "2.1.1").expect("2.1.1 was built");
    // Someone pushes a plain image as 2.1.99 and retags 2.1.0 as 2.1.200.
    push_as(&stack.upstream(), &tools, "2.1.99");
    retag(&tools, "2.1.0", "2.1.200");
    let old = digest(&tools, "2.1.0").unwrap();

    let plan = stack.golden(&["plan", "--output", "json"]).expect(0);
    let report = plan.json();
    let image = entry(&report, "tools");
    assert_eq!(image["decision"], "up-to-date", "{image:#}");
    assert_eq!(image["last_version"], "2.1.1", "{image:#}");
    let foreign: Vec<&str> = image["foreign"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["tag"].as_str().unwrap())
        .collect();
    assert_eq!(foreign, ["2.1.200", "2.1.99"], "{image:#}");
    let text = stack.golden(&["plan"]).expect(0).stdout;
    assert!(
        text.contains(
            "warning: tools: `2.1.200` is not a golden build (its version label says 2.1.0)"
        ) && text.contains(
            "warning: tools: `2.1.99` is not a golden build (it carries no golden labels)"
        ),
        "{text}"
    );

    // Before: the retagged 2.1.0 was promoted to 2.1, 2 and latest.
    stack.golden(&["build", "--all"]).expect(0);
    assert_tags_at(&tools, &["2.1", "2", "latest"], &release);

    // The build number still skips past every exact tag.
    let rebuilt = stack
        .golden(&["rebuild", "tools", "--output", "json"])
        .expect(0)
        .json();
    assert_eq!(entry(&rebuilt, "tools")["tag"], "2.1.201", "{rebuilt:#}");
    assert_eq!(
        digest(&tools, "2.1").unwrap(),
        digest(&tools, "2.1.201").unwrap()
    );

    let refused = stack
        .golden(&["rollback", "tools", "--to", "2.1.99"])
        .expect(2);
    assert!(
        refused
            .stderr
            .contains("2.1.99 is not a golden build (it carries no golden labels)"),
        "{}",
        refused.stderr
    );

    // An index someone made that names 2.1.1 keeps it, like the foreign tags.
    let (_, media_type) = support::manifest(&tools, "2.1.1");
    let (child, _) = support::manifest(&tools, "2.1.1");
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": media_type,
            "digest": release,
            "size": child.len(),
            "platform": {"architecture": "amd64", "os": "linux"}
        }]
    });
    put_manifest(
        &tools,
        "multi",
        &serde_json::to_vec(&index).unwrap(),
        "application/vnd.oci.image.index.v1+json",
    );
    stack.golden(&["rebuild", "tools"]).expect(0);
    let ls = stack.golden(&["ls", "tools"]).expect(0).stdout;
    assert!(
        ls.contains("(foreign)") && ls.contains("warning: `2.1.99` is not a golden build"),
        "{ls}"
    );

    let pruned = stack
        .golden(&["prune", "tools", "--keep", "1", "--apply"])
        .expect(0)
        .stdout;
    let left = tags(&tools);
    // keep = 1 counts golden builds only: 2.1.202 stays, 2.1.201 goes;
    // 2.1.1 stays for the index, 2.1.0 for the foreign 2.1.200 on it.
    assert!(!has(&left, "2.1.201"), "{left:?}\n{pruned}");
    for tag in ["2.1.202", "2.1.1", "2.1.0", "2.1.99", "2.1.200", "multi"] {
        assert!(has(&left, tag), "{tag} was deleted: {left:?}\n{pruned}");
    }
    assert_eq!(digest(&tools, "2.1.0").unwrap(), old);
    assert!(pruned.contains("named by an image index"), "{pruned}");
    assert!(pruned.contains("never deleted"), "{pruned}");
}

#[test]
fn a_floating_tag_someone_moved_is_put_back_registry_side() {
    let stack = Stack::new("floating_tampered");
    let base = stack.repository("base");
    stack.golden(&["build", "--all"]).expect(0);
    let release = digest(&base, "1.0.0").unwrap();
    // A foreign image as `latest`, and `1` deleted by pointing it elsewhere.
    push_as(&stack.upstream(), &base, "latest");
    push_as(&stack.upstream(), &base, "1");
    let foreign = digest(&base, "latest").unwrap();
    assert_ne!(foreign, release);

    let report = stack.golden(&["plan", "--output", "json"]).expect(0).json();
    let image = entry(&report, "base");
    assert_eq!(image["decision"], "promote", "{image:#}");
    let behind: Vec<&str> = image["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "floating-behind")
        .map(|r| r["tag"].as_str().unwrap())
        .collect();
    assert_eq!(behind, ["1", "latest"], "{image:#}");

    let run = stack
        .golden(&["build", "--all", "--output", "json"])
        .expect(0)
        .json();
    assert_eq!(entry(&run, "base")["decision"], "promoted", "{run:#}");
    assert_eq!(run["totals"]["promoted"], 1, "{run:#}");
    assert_eq!(
        run["totals"]["built"], 0,
        "a promotion is not a build: {run:#}"
    );
    assert_tags_at(&base, &["1.0", "1", "latest"], &release);
    // Nothing was rebuilt: no new exact tag.
    assert!(!has(&tags(&base), "1.0.1"));
    let again = stack.golden(&["plan", "--output", "json"]).expect(0).json();
    assert_eq!(entry(&again, "base")["decision"], "up-to-date");
}

/// Two machines (here: two spellings of one registry, so two locks) build
/// one line at once. The slow run pushed 2.1.1; before it moved the
/// floating tags, the other run published 2.1.2 and moved them. The slow
/// run's re-read tag list holds 2.1.2, so it leaves the tags there.
#[test]
fn a_slow_run_never_moves_floating_tags_below_a_newer_golden_build() {
    let stack = Stack::new("floating_backwards");
    let tools = stack.repository("tools");
    stack.golden(&["build", "--all"]).expect(0);
    let proxy = support::DelayProxy::start(
        support::REGISTRY,
        &format!("/{}/tools/tags/list", stack.namespace),
        1,
        std::time::Duration::from_secs(10),
    );
    let config = std::fs::read_to_string(stack.config()).unwrap().replace(
        &format!("host = \"{}\"", support::REGISTRY),
        &format!("host = \"127.0.0.1:{}\"", proxy.port),
    );
    let slow_config = stack.path().join("golden-proxy.toml");
    std::fs::write(&slow_config, config).unwrap();
    let slow = support::spawn_golden(&slow_config, &["rebuild", "tools"]);
    // The slow run has pushed its exact tag and waits on its re-read.
    support::wait_until(
        "the slow run to push tools:2.1.1",
        Duration::from_secs(120),
        || has(&tags(&tools), "2.1.1").then_some(()),
    );
    stack.golden(&["rebuild", "tools"]).expect(0);
    let newer = digest(&tools, "2.1.2").expect("the other run published 2.1.2");
    let slow = slow.finish().expect(0);
    if let Err(error) = support::tags_at(&tools, &["2.1", "2", "latest"], &newer) {
        panic!("{error}\n--- the slow run's stderr\n{}", slow.stderr);
    }
    assert!(
        slow.stderr.contains(
            "left the floating tags of line 2.1 alone: 2.1.2, a newer golden build than 2.1.1"
        ),
        "{}",
        slow.stderr
    );
}

/// `127.0.0.1:5000` and `localhost:5000` are one registry: a run through
/// either spelling waits for (here: refuses, exit 4) a run through the other.
#[test]
fn two_spellings_of_one_registry_share_one_lock() {
    let namespace = format!("e2e-lock-spelling-{}", std::process::id());
    let (directory, config) = support::one_image_config(
        support::REGISTRY,
        &namespace,
        "slow",
        &format!("FROM {}\n", support::SEED),
        "",
    );
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("test = [\"sh\", \"-c\", \"sleep 8\"]\n");
    std::fs::write(&config, &text).unwrap();
    let other = directory.path().join("localhost.toml");
    std::fs::write(
        &other,
        text.replace("host = \"127.0.0.1:5000\"", "host = \"localhost:5000\""),
    )
    .unwrap();
    let first = support::spawn_golden(&config, &["build", "--all"]);
    // Its smoke test runs in the engine: the first run holds the lock.
    let image = format!("{}/{namespace}/slow:1.0.0", support::REGISTRY);
    support::wait_until(
        "the engine to run the first run's smoke test",
        Duration::from_secs(120),
        || support::containers(&format!("io.golden.smoke-test={image}"), false).pop(),
    );
    let second = support::golden_at(&other, &["build", "--all"]).expect(4);
    assert!(
        second.stderr.contains("another golden run"),
        "{}",
        second.stderr
    );
    first.finish().expect(0);
}

/// Label text is somebody else's input: `ls` and `inspect` never send its
/// control characters to the terminal.
#[test]
fn label_text_from_the_registry_never_reaches_the_terminal_raw() {
    let stack = Stack::new("sanitised_labels");
    let tools = stack.repository("tools");
    stack.golden(&["build", "--all"]).expect(0);
    push_labelled(
        &stack.upstream(),
        &format!("{tools}:2.1.50"),
        &[
            "org.opencontainers.image.created=\u{1b}[2J\u{1b}]0;owned\u{7}",
            "org.opencontainers.image.base.name=\u{9b}31mred\rover",
            "org.opencontainers.image.revision=\u{1b}[8mhidden",
        ],
    );
    for args in [["ls", "tools"], ["inspect", "tools"]] {
        let run = stack.golden(&args).expect(0);
        let raw: Vec<char> = run
            .stdout
            .chars()
            .filter(|c| c.is_control() && *c != '\n')
            .collect();
        assert!(raw.is_empty(), "{args:?} printed {raw:?}:\n{}", run.stdout);
        assert!(
            run.stdout.contains("\\u{1b}[2J"),
            "{args:?}:\n{}",
            run.stdout
        );
    }
}

/// JSON is for parsers, not terminals: label text with C1 controls and
/// bidirectional overrides reaches `ls --output json` exactly as the
/// registry holds it, as valid JSON (terminal escaping once wrote
/// `\u{85}`, which no JSON parser reads).
#[test]
fn json_output_keeps_label_text_exact_and_valid() {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let namespace = format!("e2e-json-labels-{}-{nanos}", std::process::id());
    let (_directory, config) = support::one_image_config(
        support::REGISTRY,
        &namespace,
        "x",
        &format!("FROM {}\n", support::SEED),
        "",
    );
    let repository = format!("{}/{namespace}/x", support::REGISTRY);
    let label = "evil\u{85}next\u{9b}31m \u{202e}txt.exe\u{202c} \u{1b}[2J";
    push_labelled(
        support::SEED,
        &format!("{repository}:1.0.7"),
        &[&format!("org.opencontainers.image.base.name={label}")],
    );
    assert_eq!(
        support::labels(&repository, "1.0.7")
            .get("org.opencontainers.image.base.name")
            .map(String::as_str),
        Some(label),
        "the registry holds the label as written"
    );

    let run = support::golden_at(&config, &["ls", "--output", "json"]).expect(0);
    // Python's json module, a parser golden does not share code with.
    let mut python = std::process::Command::new("python3")
        .args([
            "-c",
            "import json, sys; print(json.dumps(json.load(sys.stdin)['images'][0]['versions'][0]['base_name']))",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    std::io::Write::write_all(&mut python.stdin.take().unwrap(), run.stdout.as_bytes()).unwrap();
    let parsed = python.wait_with_output().unwrap();
    assert!(
        parsed.status.success(),
        "`ls --output json` is not JSON: {}\n{}",
        String::from_utf8_lossy(&parsed.stderr),
        run.stdout.escape_debug()
    );
    // json.dumps writes it back ASCII-only: compare as JSON values.
    let value: serde_json::Value = serde_json::from_slice(&parsed.stdout).unwrap();
    assert_eq!(value, serde_json::json!(label));
    assert_eq!(run.json()["images"][0]["versions"][0]["base_name"], label);
}

/// Builds `image` FROM `base` with `labels` (`KEY=VALUE`) by the docker
/// CLI, pushes it as someone else would, and removes it locally.
fn push_labelled(base: &str, image: &str, labels: &[&str]) {
    let context = tempfile::tempdir().unwrap();
    std::fs::write(context.path().join("Dockerfile"), format!("FROM {base}\n")).unwrap();
    let mut build = std::process::Command::new("docker");
    build
        .env("DOCKER_BUILDKIT", "0")
        .args(["build", "-q", "-t", image]);
    for label in labels {
        build.args(["--label", label]);
    }
    let output = support::docker_build(build.arg(context.path()));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    support::docker(&["push", "-q", image]);
    support::docker(&["rmi", image]);
}
