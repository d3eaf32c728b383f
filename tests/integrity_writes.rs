//! End to end: the order and safety of golden's registry writes in
//! `rollback` and `promote` (issue 26). A rollback never writes a marker
//! before the moves it stands for can succeed, a write the registry applied
//! but a proxy reported as failed is read back and counted as done, a child
//! is never promoted onto a parent build that is not promoted with it, and
//! a half-pushed multi-platform parent is named as an incomplete build.

mod common;

use common::{assert_floating, digest, entry, tags, Stack};

#[test]
fn promote_of_a_child_alone_refuses_a_release_built_on_the_unpromoted_parent() {
    let stack = Stack::new("writes_promote_child");
    stack.golden(&["build", "--all"]).expect(0);
    let base = stack.repository("base");
    let tools = stack.repository("tools");
    let old_base = digest(&base, "1.0").unwrap();
    let old_tools = digest(&tools, "2.1").unwrap();
    // A matrix run: base gets a new build, tools is built on it, neither
    // is promoted yet.
    stack.update_upstream("CVE-2026-0026 fixed");
    stack.golden(&["build", "base", "--no-promote"]).expect(0);
    stack.golden(&["build", "tools", "--no-promote"]).expect(0);
    assert!(
        tags(&tools).contains(&"2.1.1".to_string()),
        "{:?}",
        tags(&tools)
    );

    // Promoting the child alone would publish a build on a parent build
    // that base:1.0 does not name.
    let run = stack
        .golden(&["promote", "tools", "--output", "json"])
        .expect(1);
    let report = run.json();
    let refused = entry(&report, "tools");
    assert_eq!(refused["decision"], "failed", "{report:#}");
    let error = refused["error"].as_str().unwrap();
    assert!(
        error.contains("refusing to promote 2.1.1 of `tools`")
            && error.contains("1.0.1")
            && error.contains("not promoted"),
        "{error}"
    );
    assert!(error.contains("golden promote base tools"), "{error}");
    assert_eq!(digest(&tools, "2.1"), Some(old_tools), "tools:2.1 moved");
    assert_eq!(digest(&base, "1.0"), Some(old_base), "base:1.0 moved");

    // The command the hint names promotes both, and the plan agrees.
    stack.golden(&["promote", "base", "tools"]).expect(0);
    assert_floating(&base, "1.0.1", &["1.0", "1", "latest"]);
    assert_floating(&tools, "2.1.1", &["2.1", "2", "latest"]);
    let plan = stack
        .golden(&["plan", "tools", "--output", "json"])
        .expect(0);
    assert_eq!(
        entry(&plan.json(), "tools")["decision"],
        "up-to-date",
        "{}",
        plan.stdout
    );
    stack.golden(&["clean"]).expect(0);
}
