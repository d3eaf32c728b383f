//! End to end: `golden ls`, `golden prune` and `golden rollback` against the
//! real engine and a real registry with deletes enabled (and one without).

use crate::support;

use support::{assert_floating, assert_tags_at, digest, tags, PrivateRegistry, Stack};

/// Builds base `times` more times, each from a changed recipe (a rebuild
/// would rebuild its children too).
fn rebuild_base(stack: &Stack, times: usize) {
    for round in 0..times {
        stack.write("images/base/round.txt", &format!("round {round}\n"));
        stack.golden(&["-q", "build", "base"]).expect(0);
    }
}

fn snapshot_filters(stack: &Stack) -> Vec<(String, String)> {
    vec![
        (regex_escape(&stack.namespace), "[ns]".into()),
        (r"sha256:[0-9a-f]{12}".into(), "sha256:xxxxxxxxxxxx".into()),
        (
            r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ".into(),
            "YYYY-MM-DDTHH:MM:SSZ".into(),
        ),
    ]
}

fn regex_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            if c.is_ascii_alphanumeric() {
                vec![c]
            } else {
                vec!['\\', c]
            }
        })
        .collect()
}

#[test]
fn prune_keeps_the_newest_and_what_floating_tags_need() {
    let stack = Stack::new("prune");
    let base = stack.repository("base");
    stack.golden(&["-q", "build", "base"]).expect(0);
    rebuild_base(&stack, 4);
    let versions = ["1.0.0", "1.0.1", "1.0.2", "1.0.3", "1.0.4"];
    let digests: Vec<String> = versions
        .iter()
        .map(|v| digest(&base, v).unwrap_or_else(|| panic!("{v} was pushed")))
        .collect();
    // Roll back to 1.0.1: the floating tags need it, so prune must keep it.
    stack
        .golden(&["rollback", "base", "--to", "1.0.1"])
        .expect(0);
    let before = tags(&base);

    let dry = stack.golden(&["prune", "base", "--keep", "2"]).expect(0);
    assert_eq!(tags(&base), before, "a dry run deletes nothing");
    for expected in [
        "keep     1.0.4         among the newest 2",
        "keep     1.0.3         among the newest 2",
        "keep     1.0.1         same manifest as 1, 1.0, latest",
        "delete   1.0.2",
        "delete   1.0.0",
        "dry run: 2 manifest(s) would be deleted",
    ] {
        assert!(dry.stdout.contains(expected), "{expected}:\n{}", dry.stdout);
    }

    let applied = stack
        .golden(&[
            "prune", "base", "--keep", "2", "--apply", "--output", "json",
        ])
        .expect(0);
    let report = applied.json();
    assert_eq!(report["applied"], true);
    assert_eq!(
        report["repositories"][0]["deletions"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        tags(&base),
        vec![
            "1",
            "1.0",
            "1.0.1",
            "1.0.3",
            "1.0.3-withdrawn",
            "1.0.4",
            "1.0.4-withdrawn",
            "latest"
        ],
        "1.0.0 and 1.0.2 (with its marker) are gone"
    );
    for tag in tags(&base) {
        assert!(digest(&base, &tag).is_some(), "{tag} still resolves");
    }
    assert_tags_at(&base, &["1.0", "1", "latest"], &digests[1]);
    assert_eq!(digest(&base, "1.0.4").as_ref(), Some(&digests[4]));

    // The children still build on the kept tags, and a second prune finds
    // nothing more to delete.
    stack.golden(&["-q", "build", "--all"]).expect(0);
    let again = stack.golden(&["prune", "base", "--keep", "2"]).expect(0);
    assert!(
        again.stdout.contains("nothing to delete"),
        "{}",
        again.stdout
    );
}

#[test]
fn rollback_restores_the_previous_build_and_respects_lines() {
    let stack = Stack::new("rollback");
    let tools = stack.repository("tools");
    stack.golden(&["-q", "build", "--all"]).expect(0);
    let first_21 = digest(&tools, "2.1.0").unwrap();
    let first_14 = digest(&tools, "1.4.0").unwrap();

    // The older line 1.4: `1.4` and `1` go back, `latest` stays on 2.1.
    stack.golden(&["-q", "rebuild", "tools-lts"]).expect(0);
    let second_14 = digest(&tools, "1.4.1").unwrap();
    assert_eq!(digest(&tools, "1.4").as_ref(), Some(&second_14));
    let rolled = stack.golden(&["rollback", "tools-lts"]).expect(0);
    assert!(
        rolled.stdout.contains("rolled back 1.4.1 -> 1.4.0"),
        "{}",
        rolled.stdout
    );
    assert_eq!(digest(&tools, "1.4").as_ref(), Some(&first_14));
    assert_eq!(digest(&tools, "1").as_ref(), Some(&first_14));
    assert_eq!(digest(&tools, "latest").as_ref(), Some(&first_21));
    assert_eq!(digest(&tools, "1.4.1-withdrawn").as_ref(), Some(&second_14));

    // The current line 2.1 takes `latest` back with it.
    stack.golden(&["-q", "rebuild", "tools"]).expect(0);
    let second_21 = digest(&tools, "2.1.1").unwrap();
    assert_eq!(digest(&tools, "latest").as_ref(), Some(&second_21));
    let dry = stack.golden(&["rollback", "tools", "--dry-run"]).expect(0);
    assert!(dry.stdout.contains("would move latest"), "{}", dry.stdout);
    assert_eq!(digest(&tools, "latest").as_ref(), Some(&second_21));
    stack.golden(&["rollback", "tools"]).expect(0);
    assert_tags_at(&tools, &["2.1", "2", "latest"], &first_21);

    // The next scheduled run neither moves the tags forward again nor
    // rebuilds: the line is held, and the plan says so.
    let plan = stack
        .golden(&["plan", "--wide", "tools", "tools-lts"])
        .expect(0);
    assert!(
        plan.stdout
            .contains("held at 2.1.0 by a rollback (withdrawn: 2.1.1)"),
        "{}",
        plan.stdout
    );
    stack.golden(&["-q", "build", "--all"]).expect(0);
    assert_eq!(digest(&tools, "latest").as_ref(), Some(&first_21));
    assert_eq!(digest(&tools, "1.4").as_ref(), Some(&first_14));

    // The same command undoes it: naming the withdrawn build restores it.
    let undo = stack
        .golden(&["rollback", "tools", "--to", "2.1.1"])
        .expect(0);
    assert!(
        undo.stdout
            .contains("restored 2.1.1 (tag 2.1.1-restored.1)"),
        "{}",
        undo.stdout
    );
    assert_tags_at(&tools, &["2.1", "2", "latest"], &second_21);
    let plan = stack
        .golden(&["plan", "tools", "--output", "json"])
        .expect(0)
        .json();
    assert_eq!(plan["images"][0]["decision"], "up-to-date", "{plan:#}");
    assert_eq!(plan["images"][0]["release"], "2.1.1", "{plan:#}");
    stack.golden(&["-q", "rebuild", "tools"]).expect(0);
    assert_floating(&tools, "2.1.2", &["2.1", "2", "latest"]);

    let listing = stack.golden(&["ls", "tools", "tools-lts"]).expect(0);
    insta::with_settings!({ filters => snapshot_filters(&stack).iter().map(|(a, b)| (a.as_str(), b.as_str())).collect::<Vec<_>>() }, {
        insta::assert_snapshot!("ls_after_rollbacks", listing.stdout);
    });
    let json = stack
        .golden(&["ls", "tools", "--output", "json"])
        .expect(0)
        .json();
    let versions = json["images"][0]["versions"].as_array().unwrap();
    let withdrawn: Vec<bool> = versions.iter().map(|v| v["withdrawn"] == true).collect();
    assert_eq!(withdrawn, vec![false, false, false], "2.1.1 was restored");
    assert_eq!(
        versions[2]["floating"],
        serde_json::json!(["2.1", "2", "latest"])
    );
}

#[test]
fn prune_on_a_registry_without_deletes_says_how_to_enable_them() {
    let registry = PrivateRegistry::start_with(false, "");
    let (_directory, config) =
        support::prunable_config(&registry.host(), "nodeletes", "LABEL purpose=prune-test");
    let golden = |args: &[&str]| support::golden_at(&config, args);
    golden(&["-q", "build", "--all"]).expect(0);
    golden(&["-q", "rebuild", "x"]).expect(0);
    let repository = format!("{}/nodeletes/x", registry.host());
    let before = tags(&repository);
    let failed = golden(&["prune", "--apply"]).expect(1);
    assert!(
        failed.stderr.contains("HTTP 405")
            && failed.stderr.contains("set `storage.delete.enabled: true`"),
        "{}",
        failed.stderr
    );
    assert_eq!(tags(&repository), before, "nothing was deleted");
    // Without a retention anywhere, prune asks for one.
    let config_text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        config_text.replace("[images.x.retention]\nkeep = 1\n", ""),
    )
    .unwrap();
    let missing = golden(&["prune"]).expect(2);
    assert!(
        missing.stderr.contains("no retention is set for `x`"),
        "{}",
        missing.stderr
    );
}
