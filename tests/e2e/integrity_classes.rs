//! End to end: what counts as a golden build, a rollback marker and a
//! release. A build number golden cannot follow is never published; a
//! marker counts only when golden wrote it (a copy of its build); a release
//! is a whole build (an index whose images are all there; for a
//! multi-platform line, an index of every platform); a marker generation
//! never wraps. Real engine (arm64 under QEMU), real registry.

use crate::support;

use support::oci::{self, delete_manifest, get, json, one_line, upload};
use support::{
    assert_tags_at, digest, entry, golden_at, one_image_config, push_as, put_manifest,
    reason_kinds, retag, tags, Stack, REGISTRY,
};

/// Removes the test's local images (by a namespace in their name) when
/// dropped.
struct LocalImages(String);

impl Drop for LocalImages {
    fn drop(&mut self) {
        support::engines::DockerCli::main().remove_tagged(&self.0);
    }
}

/// A namespace of the test's own.
fn namespace(name: &str) -> String {
    oci::namespace("cls", name)
}

/// The version entries `golden ls ID --output json` lists for `id`.
fn listed(config: &std::path::Path, id: &str) -> Vec<serde_json::Value> {
    let report = golden_at(config, &["ls", id, "--output", "json"])
        .expect(0)
        .json();
    report["images"][0]["versions"]
        .as_array()
        .unwrap_or_else(|| panic!("{report}"))
        .clone()
}

/// The entry of `version` in `versions` (from [`listed`]).
fn version<'a>(versions: &'a [serde_json::Value], version: &str) -> &'a serde_json::Value {
    versions
        .iter()
        .find(|v| v["version"] == version)
        .unwrap_or_else(|| panic!("{version} is not listed: {versions:#?}"))
}

/// `build --all` finds every image of the stack up to date.
#[track_caller]
fn assert_all_up_to_date(stack: &Stack) {
    let built = stack
        .golden(&["build", "--all", "--output", "json"])
        .expect(0)
        .json();
    for id in ["base", "tools", "tools-lts", "runtime"] {
        assert_eq!(
            entry(&built, id)["decision"],
            "up-to-date",
            "{id}: {built:#}"
        );
    }
}

#[test]
fn a_foreign_tag_at_the_top_of_the_build_numbers_stops_numbering_and_moves_no_tag_back() {
    let stack = Stack::new("top_of_range");
    let _local = LocalImages(stack.namespace.clone());
    let base = stack.repository("base");
    let tools = stack.repository("tools");
    stack.golden(&["build", "--all"]).expect(0);
    stack.golden(&["rebuild", "base"]).expect(0);
    stack.golden(&["build", "--all"]).expect(0);
    let release = digest(&base, "1.0.1").expect("1.0.1 was built");
    assert_tags_at(&base, &["1.0", "1", "latest"], &release);
    let tools_release = digest(&tools, "2.1").unwrap();
    // Someone pushes a plain image as the highest build number golden gives.
    push_as(&stack.upstream(), &base, "1.0.4294967295");

    let run = stack.golden(&["rebuild", "base", "--output", "json"]);
    let report = run.expect(1).json();
    let failed = entry(&report, "base");
    assert_eq!(failed["decision"], "failed", "{failed:#}");
    let error = failed["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("`1.0.4294967295`") && error.contains("hint: ") && error.contains("delete"),
        "the error names the foreign tag and how to fix it: {error}"
    );
    let published = tags(&base);
    assert!(
        !published.iter().any(|tag| tag == "1.0.4294967296"),
        "a build number golden cannot follow was published: {published:?}"
    );
    assert_tags_at(&base, &["1.0", "1", "latest"], &release);

    // Nothing is behind: the floating tags stay on 1.0.1, the child stays.
    let plan = stack.golden(&["plan", "--output", "json"]).expect(0).json();
    assert_eq!(entry(&plan, "base")["decision"], "up-to-date", "{plan:#}");
    let foreign: Vec<&str> = entry(&plan, "base")["foreign"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["tag"].as_str().unwrap())
        .collect();
    assert_eq!(foreign, ["1.0.4294967295"], "{plan:#}");
    assert_all_up_to_date(&stack);
    assert_tags_at(&base, &["1.0", "1", "latest"], &release);
    assert_eq!(digest(&tools, "2.1").unwrap(), tools_release);
    // `ls` lists the tag, as foreign, instead of hiding it.
    let versions = listed(&stack.config(), "base");
    assert_eq!(
        version(&versions, "1.0.4294967295")["foreign"]["kind"],
        "no-golden-labels"
    );
}

#[test]
fn a_marker_someone_else_pushed_neither_withdraws_nor_restores_a_build() {
    let stack = Stack::new("foreign_marker");
    let _local = LocalImages(stack.namespace.clone());
    let base = stack.repository("base");
    let tools = stack.repository("tools");
    stack.golden(&["build", "--all"]).expect(0);
    stack.golden(&["rebuild", "base"]).expect(0);
    stack.golden(&["build", "--all"]).expect(0);
    let newest = digest(&base, "1.0.1").unwrap();
    let older = digest(&base, "1.0.0").unwrap();
    let tools_release = digest(&tools, "2.1").unwrap();
    // An unrelated image pushed under a marker's name.
    push_as(&stack.upstream(), &base, "1.0.1-withdrawn.7");

    let versions = listed(&stack.config(), "base");
    assert_eq!(
        version(&versions, "1.0.1")["withdrawn"],
        false,
        "{versions:#?}"
    );
    assert_all_up_to_date(&stack);
    assert_tags_at(&base, &["1.0", "1", "latest"], &newest);
    assert_eq!(digest(&tools, "2.1").unwrap(), tools_release);

    // A deliberate rollback, then an unrelated image as a newer "restored"
    // marker: the rollback stands.
    let rolled = stack
        .golden(&["rollback", "base", "--output", "json"])
        .expect(0)
        .json();
    let marker = rolled["rollback"]["withdraw"][0]["tag"]
        .as_str()
        .unwrap_or_else(|| panic!("{rolled:#}"))
        .to_string();
    assert_eq!(marker, "1.0.1-withdrawn.8", "above every marker tag");
    assert_tags_at(&base, &["1.0", "1", "latest"], &older);
    stack.golden(&["build", "--all"]).expect(0);
    push_as(&stack.upstream(), &base, "1.0.1-restored.9");
    let versions = listed(&stack.config(), "base");
    assert_eq!(
        version(&versions, "1.0.1")["withdrawn"],
        true,
        "{versions:#?}"
    );
    let plan = stack.golden(&["plan", "--output", "json"]).expect(0).json();
    assert_eq!(entry(&plan, "base")["decision"], "up-to-date", "{plan:#}");
    assert_eq!(entry(&plan, "base")["release"], "1.0.0", "{plan:#}");
    stack.golden(&["build", "--all"]).expect(0);
    assert_tags_at(&base, &["1.0", "1", "latest"], &older);
}

#[test]
fn a_marker_generation_at_the_top_is_refused_not_wrapped() {
    let namespace = namespace("generation");
    let _local = LocalImages(namespace.clone());
    let (_directory, config) = one_image_config(
        REGISTRY,
        &namespace,
        "x",
        &format!("FROM {}\nRUN echo generation > /etc/x\n", support::SEED),
        "",
    );
    let x = format!("{REGISTRY}/{namespace}/x");
    golden_at(&config, &["-q", "build", "x"]).expect(0);
    golden_at(&config, &["-q", "rebuild", "x"]).expect(0);
    golden_at(&config, &["-q", "rebuild", "x"]).expect(0);
    golden_at(&config, &["rollback", "x", "--to", "1.0.0"]).expect(0);
    let held = digest(&x, "1.0.0").unwrap();
    assert_tags_at(&x, &["1.0", "1", "latest"], &held);
    // A copy of 1.0.1's manifest at the last generation there is: it counts.
    let top = "1.0.1-withdrawn.18446744073709551615";
    retag(&x, "1.0.1", top);

    let refused = golden_at(&config, &["rollback", "x", "--to", "1.0.1"]).expect(2);
    assert!(
        refused.stderr.contains(&format!("`{top}`")) && refused.stderr.contains("hint: "),
        "{}",
        refused.stderr
    );
    let written = tags(&x);
    assert!(
        !written.iter().any(|tag| tag.starts_with("1.0.1-restored")),
        "{written:?}"
    );
    assert_tags_at(&x, &["1.0", "1", "latest"], &held);
    let plan = golden_at(&config, &["plan", "--output", "json"])
        .expect(0)
        .json();
    assert_eq!(entry(&plan, "x")["decision"], "up-to-date", "{plan:#}");
    assert_eq!(entry(&plan, "x")["release"], "1.0.0", "{plan:#}");
}

// Multi-platform lines: the seeded 2-platform upstream copied into a
// repository of the test's own (as multi_platform.rs does).

/// Copies the seeded upstream to `<namespace>-upstream/busybox-multi:1.36`.
fn private_upstream(namespace: &str) -> String {
    oci::copy_upstream(oci::SEEDED, namespace)
}

/// The arm64 entry of the index `repository:tag`: its digest and media type.
fn arm64_of(repository: &str, tag: &str) -> (String, String) {
    oci::child_of(repository, tag, "linux/arm64")
}

/// Leaves the exact tag `tag` as golden leaves it when its push stops
/// after the platform images, before the index: holding the arm64 image of
/// that build (golden's labels, its version label the tag). Made from the
/// arm64 image of `from`, relabelled.
fn half_pushed(repository: &str, from: &str, tag: &str) {
    let path = repository.split_once('/').unwrap().1;
    let (arm64, child_type) = arm64_of(repository, from);
    let (body, _) = get(&format!("{path}/manifests/{arm64}"), &child_type);
    let mut child = json(&body);
    let config_digest = child["config"]["digest"].as_str().unwrap().to_string();
    let (config, _) = get(&format!("{path}/blobs/{config_digest}"), "*/*");
    let mut config = json(&config);
    config["config"]["Labels"]["org.opencontainers.image.version"] = serde_json::json!(tag);
    let config = serde_json::to_vec(&config).unwrap();
    child["config"]["digest"] = serde_json::json!(upload(path, &config));
    child["config"]["size"] = serde_json::json!(config.len());
    put_manifest(
        repository,
        tag,
        &serde_json::to_vec(&child).unwrap(),
        &child_type,
    );
}

#[test]
fn a_half_pushed_multi_platform_build_is_never_promoted_or_rolled_back_to() {
    let namespace = namespace("half-pushed");
    let _local = LocalImages(namespace.clone());
    let upstream = private_upstream(&namespace);
    let (_directory, config) = one_line(&namespace, &upstream);
    let base = format!("{REGISTRY}/{namespace}/base");
    golden_at(&config, &["-q", "build", "base"]).expect(0);
    golden_at(&config, &["-q", "rebuild", "base"]).expect(0);
    let release = digest(&base, "1.0.1").unwrap();
    assert_tags_at(&base, &["1.0", "1", "latest"], &release);
    half_pushed(&base, "1.0.1", "1.0.2");
    assert_eq!(
        support::labels(&base, "1.0.2")["org.opencontainers.image.version"],
        "1.0.2"
    );

    let promoted = golden_at(&config, &["promote", "--output", "json"])
        .expect(0)
        .json();
    assert_eq!(
        entry(&promoted, "base")["decision"],
        "up-to-date",
        "{promoted:#}"
    );
    assert_tags_at(&base, &["1.0", "1", "latest"], &release);
    let refused = golden_at(&config, &["rollback", "base", "--to", "1.0.2"]).expect(2);
    assert!(
        refused.stderr.contains("1.0.2") && refused.stderr.contains("incomplete"),
        "{}",
        refused.stderr
    );
    assert_tags_at(&base, &["1.0", "1", "latest"], &release);
    let versions = listed(&config, "base");
    assert_eq!(
        version(&versions, "1.0.2")["incomplete"]["kind"],
        "not-an-index",
        "{versions:#?}"
    );
    assert!(version(&versions, "1.0.1")["incomplete"].is_null());

    // The plan builds the line again, and says why.
    let plan = golden_at(&config, &["plan", "--output", "json"])
        .expect(0)
        .json();
    assert_eq!(entry(&plan, "base")["decision"], "build", "{plan:#}");
    assert_eq!(reason_kinds(&plan, "base"), ["incomplete"], "{plan:#}");
    let built = golden_at(&config, &["build", "base", "--output", "json"])
        .expect(0)
        .json();
    assert_eq!(entry(&built, "base")["tag"], "1.0.3", "{built:#}");
    let whole = digest(&base, "1.0.3").unwrap();
    assert_tags_at(&base, &["1.0", "1", "latest"], &whole);
    arm64_of(&base, "1.0");
}

#[test]
fn an_index_whose_platform_image_was_deleted_is_never_a_release_or_a_rollback_target() {
    let namespace = namespace("deleted-child");
    let _local = LocalImages(namespace.clone());
    let upstream = private_upstream(&namespace);
    let (_directory, config) = one_line(&namespace, &upstream);
    let base = format!("{REGISTRY}/{namespace}/base");
    golden_at(&config, &["-q", "build", "base"]).expect(0);
    golden_at(&config, &["-q", "rebuild", "base"]).expect(0);
    let release = digest(&base, "1.0.1").unwrap();
    // Someone deletes 1.0.0's arm64 image by hand.
    let (arm64, _) = arm64_of(&base, "1.0.0");
    delete_manifest(&base, &arm64);

    let refused = golden_at(
        &config,
        &["rollback", "base", "--dry-run", "--output", "json"],
    )
    .expect(2);
    assert!(
        refused
            .stderr
            .contains("no build older than 1.0.1 to roll back to"),
        "1.0.0 is no target: {}",
        refused.stderr
    );
    let refused = golden_at(&config, &["rollback", "base", "--to", "1.0.0"]).expect(2);
    assert!(
        refused.stderr.contains("incomplete") && refused.stderr.contains(&arm64),
        "{}",
        refused.stderr
    );
    assert_tags_at(&base, &["1.0", "1", "latest"], &release);

    // Then someone deletes the release's arm64 image: `latest` is broken
    // for arm64, so the line is not up to date.
    let (arm64, _) = arm64_of(&base, "1.0.1");
    delete_manifest(&base, &arm64);
    let plan = golden_at(&config, &["plan", "--output", "json"])
        .expect(0)
        .json();
    assert_eq!(entry(&plan, "base")["decision"], "build", "{plan:#}");
    assert_eq!(reason_kinds(&plan, "base"), ["incomplete"], "{plan:#}");
    let text = golden_at(&config, &["plan", "--wide"]).expect(0).stdout;
    assert!(
        text.contains("1.0.1 is incomplete: its linux/arm64 image"),
        "{text}"
    );
    let versions = listed(&config, "base");
    for listed_version in ["1.0.0", "1.0.1"] {
        assert_eq!(
            version(&versions, listed_version)["incomplete"]["kind"],
            "missing-image",
            "{versions:#?}"
        );
    }
    let promoted = golden_at(&config, &["promote", "--output", "json"])
        .expect(0)
        .json();
    assert_eq!(
        entry(&promoted, "base")["decision"],
        "up-to-date",
        "{promoted:#}"
    );
    assert_tags_at(&base, &["1.0", "1", "latest"], &release);
    golden_at(&config, &["-q", "build", "base"]).expect(0);
    let whole = digest(&base, "1.0.2").unwrap();
    assert_tags_at(&base, &["1.0", "1", "latest"], &whole);
}
