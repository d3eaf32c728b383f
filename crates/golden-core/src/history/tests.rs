//! The pure decisions of prune and rollback, on inventories written out by
//! hand, and `Inventory::read` against the in-memory registry.

use super::prune::{self, KeepReason, Target};
use super::rollback::{self, RollbackError};
use super::Inventory;
use crate::provenance::Foreign;
use crate::testing::FakeRegistry;
use crate::version::{Exact, Floating, Line, Versioning};
use std::collections::{BTreeMap, BTreeSet};

fn inventory(tags: &[(&str, &str)]) -> Inventory {
    Inventory {
        tags: tags
            .iter()
            .map(|(tag, digest)| {
                (
                    tag.to_string(),
                    format!("sha256:{digest:0<64}").as_str().into(),
                )
            })
            .collect(),
        unresolved: Default::default(),
        versioning: Versioning::Line,
    }
}

/// A line that moves every floating tag (no `floating` list written).
fn every(line: Line) -> rollback::Target<'static> {
    rollback::Target {
        line,
        floating: None,
    }
}

fn exact(text: &str) -> Exact {
    text.parse().unwrap()
}

fn target(id: &str, line: &str, keep: u32) -> Target {
    Target {
        id: id.into(),
        line: line.parse().unwrap(),
        keep,
    }
}

/// Every exact version of `inventory` as a golden build.
fn all_golden(inventory: &Inventory) -> BTreeMap<Exact, Result<(), Foreign>> {
    inventory
        .versions()
        .into_iter()
        .map(|v| (v, Ok(())))
        .collect()
}

fn prune_all_golden(repository: &str, inventory: &Inventory, targets: &[Target]) -> prune::Plan {
    let golden = all_golden(inventory);
    let facts = prune::Facts {
        golden: &golden,
        indexes: &BTreeMap::new(),
    };
    prune::plan(&repository.parse().unwrap(), inventory, targets, &facts)
}

fn rollback_all_golden(
    id: &str,
    repository: &str,
    inventory: &Inventory,
    line: Line,
    to: Option<Exact>,
) -> Result<rollback::Plan, RollbackError> {
    let higher: BTreeSet<Line> = inventory
        .versions()
        .into_iter()
        .map(|v| v.line)
        .filter(|l| *l > line)
        .collect();
    rollback::plan(
        id,
        &repository.parse().unwrap(),
        inventory,
        every(line),
        to,
        &all_golden(inventory),
        &crate::provenance::Higher::both(higher),
    )
}

/// (version, kept?) newest first, for one line of a prune plan.
fn decisions(plan: &prune::Plan, line: usize) -> Vec<(String, bool)> {
    plan.lines[line]
        .versions
        .iter()
        .map(|entry| (entry.version.clone(), entry.keep.is_some()))
        .collect()
}

#[test]
fn prune_keeps_the_newest_and_whatever_a_tag_needs() {
    // Five builds of 1.0; 1.0 (the line tag) was rolled back to 1.0.2, which
    // also withdrew 1.0.3 and 1.0.4; `stable` is a tag golden did not write.
    let inventory = inventory(&[
        ("1.0.0", "a0"),
        ("1.0.1", "a1"),
        ("1.0.2", "a2"),
        ("1.0.3", "a3"),
        ("1.0.4", "a4"),
        ("1.0.3-withdrawn", "a3"),
        ("1.0.4-withdrawn", "a4"),
        ("1.0", "a2"),
        ("1", "a2"),
        ("stable", "a0"),
        ("2.0.0", "b0"),
        ("latest", "b0"),
    ]);
    let plan = prune_all_golden("r/x", &inventory, &[target("x", "1.0", 2)]);
    assert_eq!(
        decisions(&plan, 0),
        vec![
            ("1.0.4".into(), true),
            ("1.0.3".into(), true),
            ("1.0.2".into(), true),
            ("1.0.1".into(), false),
            ("1.0.0".into(), true),
        ]
    );
    assert_eq!(
        plan.lines[0].versions[2].keep,
        Some(KeepReason::Tagged {
            tags: vec!["1".into(), "1.0".into()]
        })
    );
    assert_eq!(
        plan.lines[0].versions[4].keep,
        Some(KeepReason::Tagged {
            tags: vec!["stable".into()]
        })
    );
    assert_eq!(plan.deletions.len(), 1);
    assert_eq!(
        plan.deletions[0].digest,
        "sha256:a100000000000000000000000000000000000000000000000000000000000000"
    );
    assert_eq!(plan.deletions[0].tags, vec!["1.0.1"]);
}

#[test]
fn prune_deletes_withdrawn_markers_with_their_build_and_spares_other_lines() {
    // 1.0.1 was withdrawn and is old enough to go; 1.0.0 shares its manifest
    // with 2.0.0 of another line, which is not being pruned.
    let inventory = inventory(&[
        ("1.0.0", "5a"),
        ("1.0.1", "a1"),
        ("1.0.1-withdrawn", "a1"),
        ("1.0.2", "a2"),
        ("1.0.3", "a3"),
        ("1.0", "a3"),
        ("2.0.0", "5a"),
    ]);
    let plan = prune_all_golden("r/x", &inventory, &[target("x", "1.0", 2)]);
    assert_eq!(
        decisions(&plan, 0),
        vec![
            ("1.0.3".into(), true),
            ("1.0.2".into(), true),
            ("1.0.1".into(), false),
            ("1.0.0".into(), true),
        ]
    );
    assert_eq!(plan.deletions[0].tags, vec!["1.0.1", "1.0.1-withdrawn"]);
    // Pruning both lines together lets the shared manifest go once 2.0.0 goes
    // too; keeping one of 2.0 keeps it.
    let both = prune_all_golden(
        "r/x",
        &inventory,
        &[target("x", "1.0", 2), target("y", "2.0", 1)],
    );
    assert_eq!(both.deletions.len(), 1, "2.0.0 is the newest of its line");
}

#[test]
fn prune_with_keep_above_the_count_deletes_nothing() {
    let inventory = inventory(&[("1.0.0", "a0"), ("1.0.1", "a1"), ("1.0", "a1")]);
    let plan = prune_all_golden("r/x", &inventory, &[target("x", "1.0", 5)]);
    assert!(plan.deletions.is_empty());
    assert!(prune::render_text(&[plan], false).contains("nothing to delete"));
}

#[test]
fn rollback_goes_to_the_previous_build_and_withdraws_newer_ones() {
    let inventory = inventory(&[
        ("1.0.0", "a0"),
        ("1.0.1", "a1"),
        ("1.0.2", "a2"),
        ("1.0", "a2"),
        ("1", "a2"),
        ("latest", "a2"),
    ]);
    let plan = rollback_all_golden("x", "r/x", &inventory, "1.0".parse().unwrap(), None).unwrap();
    assert_eq!(plan.from, "1.0.2");
    assert_eq!(plan.to, "1.0.1");
    let withdrawn: Vec<(&str, &str, &str)> = plan
        .withdraw
        .iter()
        .map(|w| (w.version.as_str(), w.tag.as_str(), w.digest.as_str()))
        .collect();
    assert_eq!(
        withdrawn,
        vec![(
            "1.0.2",
            "1.0.2-withdrawn",
            "sha256:a200000000000000000000000000000000000000000000000000000000000000"
        )]
    );
    let moved: Vec<&str> = plan.moves.iter().map(|m| m.tag.as_str()).collect();
    assert_eq!(moved, vec!["1", "latest", "1.0"], "X.Y moves last");
    assert!(plan
        .moves
        .iter()
        .all(|m| m.from.as_ref().map(|d| d.as_str())
            == Some("sha256:a200000000000000000000000000000000000000000000000000000000000000")
            && m.to == "sha256:a100000000000000000000000000000000000000000000000000000000000000"));
    let text = rollback::render_text(&plan, true);
    assert!(
        text.contains("moved 1.0: sha256:a20000000000 (1.0.2) -> sha256:a10000000000 (1.0.1)"),
        "{text}"
    );
}

#[test]
fn rollback_leaves_latest_and_major_to_higher_lines() {
    let inventory = inventory(&[
        ("1.4.0", "c0"),
        ("1.4.1", "c1"),
        ("1.4", "c1"),
        ("1", "c1"),
        ("2.1.0", "d0"),
        ("2.1", "d0"),
        ("2", "d0"),
        ("latest", "d0"),
    ]);
    let plan = rollback_all_golden("lts", "r/x", &inventory, "1.4".parse().unwrap(), None).unwrap();
    let moved: Vec<&str> = plan.moves.iter().map(|m| m.tag.as_str()).collect();
    assert_eq!(moved, vec!["1", "1.4"]);
    // Tags read by name only (a higher line) count the same.
    let mut by_name = inventory.clone();
    by_name.tags.remove("2.1.0");
    by_name.unresolved.insert("2.1.0".into());
    // A marker counts only resolved, as a copy of its build.
    by_name.unresolved.insert("1.4.1-withdrawn".into());
    let plan = rollback_all_golden("lts", "r/x", &by_name, "1.4".parse().unwrap(), None).unwrap();
    assert_eq!((plan.to.as_str(), plan.withdraw.len()), ("1.4.0", 1));
    by_name.unresolved.remove("1.4.1-withdrawn");
    by_name.tags.insert(
        "1.4.1-withdrawn".into(),
        "sha256:c100000000000000000000000000000000000000000000000000000000000000".into(),
    );
    // 1.4.1 withdrawn but `1.4` still on it (a rollback cut short): it goes
    // to 1.4.0 and withdraws nothing more.
    let plan = rollback_all_golden("lts", "r/x", &by_name, "1.4".parse().unwrap(), None).unwrap();
    assert_eq!((plan.to.as_str(), plan.withdraw.len()), ("1.4.0", 0));
    by_name.tags.remove("1.4.1-withdrawn");
    let plan = rollback_all_golden("lts", "r/x", &by_name, "1.4".parse().unwrap(), None).unwrap();
    let moved: Vec<&str> = plan.moves.iter().map(|m| m.tag.as_str()).collect();
    assert_eq!(moved, vec!["1", "1.4"], "latest stays with 2.1");
    // A lower 1.x line never takes `1` from 1.4.
    let mut with_lower = inventory.clone();
    with_lower.tags.insert(
        "1.3.0".into(),
        "sha256:e000000000000000000000000000000000000000000000000000000000000000".into(),
    );
    with_lower.tags.insert(
        "1.3.1".into(),
        "sha256:e100000000000000000000000000000000000000000000000000000000000000".into(),
    );
    with_lower.tags.insert(
        "1.3".into(),
        "sha256:e100000000000000000000000000000000000000000000000000000000000000".into(),
    );
    let plan =
        rollback_all_golden("old", "r/x", &with_lower, "1.3".parse().unwrap(), None).unwrap();
    let moved: Vec<&str> = plan.moves.iter().map(|m| m.tag.as_str()).collect();
    assert_eq!(moved, vec!["1.3"]);
}

#[test]
fn rollback_to_a_given_version_and_the_refusals() {
    let inventory = inventory(&[
        ("1.0.0", "a0"),
        ("1.0.1", "a1"),
        ("1.0.2", "a2"),
        ("1.0.3", "a3"),
        ("1.0.3-withdrawn", "a3"),
        ("1.0", "a2"),
        ("2.0.0", "b0"),
    ]);
    let line = "1.0".parse().unwrap();
    let plan = rollback_all_golden("x", "r/x", &inventory, line, Some(exact("1.0.0"))).unwrap();
    let withdrawn: Vec<&str> = plan.withdraw.iter().map(|w| w.tag.as_str()).collect();
    assert_eq!(withdrawn, vec!["1.0.1-withdrawn", "1.0.2-withdrawn"]);
    // Rolling back again from the held build goes one further back.
    let plan = rollback_all_golden("x", "r/x", &inventory, line, None).unwrap();
    assert_eq!((plan.from.as_str(), plan.to.as_str()), ("1.0.2", "1.0.1"));
    // Naming the withdrawn 1.0.3 restores it: the rollback is undone.
    let plan = rollback_all_golden("x", "r/x", &inventory, line, Some(exact("1.0.3"))).unwrap();
    let restore = plan.restore.as_ref().expect("1.0.3 is restored");
    assert_eq!(
        (restore.tag.as_str(), restore.digest.as_str()),
        (
            "1.0.3-restored.1",
            "sha256:a300000000000000000000000000000000000000000000000000000000000000"
        )
    );
    assert!(plan.withdraw.is_empty());
    let moved: Vec<&str> = plan.moves.iter().map(|m| m.tag.as_str()).collect();
    assert_eq!(moved, vec!["1", "1.0"], "2.0 keeps `latest`");
    let mut restored = inventory.clone();
    restored.tags.insert(
        "1.0.3-restored.1".into(),
        "sha256:a300000000000000000000000000000000000000000000000000000000000000".into(),
    );
    assert!(restored.withdrawn().is_empty());
    let refusals = [
        (Some("1.0.9"), "is not a build of line 1.0"),
        (Some("2.0.0"), "is not a build of line 1.0"),
    ];
    for (to, expected) in refusals {
        let error = rollback_all_golden("x", "r/x", &inventory, line, to.map(exact)).unwrap_err();
        let text = crate::hint::text_of(&error);
        assert!(text.contains(expected), "{to:?}: {text}");
        assert!(text.contains("hint:"), "{text}");
    }
    let oldest = inventory_with_line_tag_on("a0");
    assert!(matches!(
        rollback_all_golden("x", "r/x", &oldest, line, None),
        Err(RollbackError::NothingOlder { .. })
    ));
    assert!(matches!(
        rollback_all_golden("x", "r/x", &inventory, "3.0".parse().unwrap(), None),
        Err(RollbackError::NothingBuilt { .. })
    ));
}

fn inventory_with_line_tag_on(digest: &str) -> Inventory {
    inventory(&[("1.0.0", "a0"), ("1.0.1", "a1"), ("1.0", digest)])
}

#[tokio::test]
async fn the_inventory_resolves_every_tag() {
    let registry = FakeRegistry::default();
    let repository = "registry.local:5000/golden/x";
    for (tag, digest) in [
        (
            "1.0.0",
            "sha256:a000000000000000000000000000000000000000000000000000000000000000",
        ),
        (
            "1.0",
            "sha256:a000000000000000000000000000000000000000000000000000000000000000",
        ),
        (
            "1.0.1",
            "sha256:b000000000000000000000000000000000000000000000000000000000000000",
        ),
    ] {
        registry.put(repository, tag, digest);
    }
    let reference = repository.parse().unwrap();
    let inventory = Inventory::read(&registry, &reference).await.unwrap();
    assert_eq!(
        inventory.tags_on(
            &"sha256:a000000000000000000000000000000000000000000000000000000000000000".into()
        ),
        vec!["1.0", "1.0.0"]
    );
    assert_eq!(inventory.versions(), vec![exact("1.0.0"), exact("1.0.1")]);
    assert_eq!(
        inventory.version_of(
            &"sha256:a000000000000000000000000000000000000000000000000000000000000000".into(),
            "1.0".parse().unwrap()
        ),
        Some(exact("1.0.0"))
    );
}

#[test]
fn prune_never_counts_or_deletes_a_foreign_tag_nor_what_an_index_names() {
    // 1.0.99 was pushed by hand; 1.0.50 is a copy of 1.0.0 retagged;
    // an index `multi` names 1.0.1's manifest.
    let inventory = inventory(&[
        ("1.0.0", "a0"),
        ("1.0.1", "a1"),
        ("1.0.2", "a2"),
        ("1.0.3", "a3"),
        ("1.0.50", "a0"),
        ("1.0.99", "f9"),
        ("multi", "c1"),
    ]);
    let mut golden = all_golden(&inventory);
    golden.insert(exact("1.0.99"), Err(Foreign::NoGoldenLabels));
    golden.insert(
        exact("1.0.50"),
        Err(Foreign::VersionMismatch {
            label: Some("1.0.0".into()),
        }),
    );
    let indexes = BTreeMap::from([(
        "sha256:c100000000000000000000000000000000000000000000000000000000000000".into(),
        vec!["sha256:a100000000000000000000000000000000000000000000000000000000000000".into()],
    )]);
    let facts = prune::Facts {
        golden: &golden,
        indexes: &indexes,
    };
    let plan = prune::plan(
        &"r/x".parse().unwrap(),
        &inventory,
        &[target("x", "1.0", 1)],
        &facts,
    );
    let keep = |version: &str| {
        plan.lines[0]
            .versions
            .iter()
            .find(|e| e.version == version)
            .unwrap()
            .keep
            .clone()
    };
    // The foreign ones neither count toward keep = 1 nor go.
    assert_eq!(keep("1.0.3"), Some(KeepReason::Newest { keep: 1 }));
    assert!(matches!(keep("1.0.99"), Some(KeepReason::Foreign { .. })));
    assert!(matches!(keep("1.0.50"), Some(KeepReason::Foreign { .. })));
    assert_eq!(keep("1.0.1"), Some(KeepReason::Referenced));
    // 1.0.0 shares its manifest with the foreign 1.0.50, which stays.
    assert_eq!(
        keep("1.0.0"),
        Some(KeepReason::Tagged {
            tags: vec!["1.0.50".into()]
        })
    );
    assert_eq!(keep("1.0.2"), None);
    let deleted: Vec<&str> = plan.deletions.iter().map(|d| d.digest.as_str()).collect();
    assert_eq!(
        deleted,
        ["sha256:a200000000000000000000000000000000000000000000000000000000000000"]
    );
}

fn sha(short: &str) -> crate::name::Digest {
    format!("sha256:{short:0<64}").as_str().into()
}

#[test]
fn prune_deletes_an_index_with_its_children_but_never_a_child_kept_elsewhere() {
    // Four 2-platform builds (indexes e0..e3, children 0a/0b..3a/3b); 1.0.3
    // reuses 1.0.1's amd64 image (1a), the foreign tag `pinned` names 0b
    // and the foreign index `mirror` names 2a.
    let inventory = inventory(&[
        ("1.0.0", "e0"),
        ("1.0.1", "e1"),
        ("1.0.2", "e2"),
        ("1.0.3", "e3"),
        ("1.0", "e3"),
        ("pinned", "0b"),
        ("mirror", "f0"),
    ]);
    let mut indexes = BTreeMap::new();
    for (index, children) in [
        ("e0", ["0a", "0b"]),
        ("e1", ["1a", "1b"]),
        ("e2", ["2a", "2b"]),
        ("e3", ["1a", "3b"]),
    ] {
        indexes.insert(sha(index), children.iter().map(|c| sha(c)).collect());
    }
    indexes.insert(sha("f0"), vec![sha("2a")]);
    let golden = all_golden(&inventory);
    let facts = prune::Facts {
        golden: &golden,
        indexes: &indexes,
    };
    let plan = prune::plan(
        &"r/x".parse().unwrap(),
        &inventory,
        &[target("x", "1.0", 1)],
        &facts,
    );
    let deletion = |index: &str| {
        let found = plan.deletions.iter().find(|d| d.digest == sha(index));
        let found = found.unwrap_or_else(|| panic!("{index} is not deleted: {plan:#?}"));
        (found.children.clone(), found.kept_children.clone())
    };
    assert_eq!(plan.deletions.len(), 3, "{plan:#?}");
    assert_eq!(deletion("e0"), (vec![sha("0a")], vec![sha("0b")]));
    assert_eq!(deletion("e1"), (vec![sha("1b")], vec![sha("1a")]));
    assert_eq!(deletion("e2"), (vec![sha("2b")], vec![sha("2a")]));
    let text = prune::render_text(&[plan], true);
    assert!(
        text.contains("and its 1 platform image(s); keeps sha256:1a"),
        "{text}"
    );
    assert!(text.contains("deleted 6 manifest(s)"), "{text}");
}

#[test]
fn prune_keeps_an_index_that_a_kept_index_names() {
    // An index of indexes: `all` (foreign) names 1.0.0's index, which
    // therefore stays, and so do its children.
    let inventory = inventory(&[("1.0.0", "e0"), ("1.0.1", "e1"), ("all", "f0")]);
    let indexes = BTreeMap::from([
        (sha("e0"), vec![sha("0a")]),
        (sha("e1"), vec![sha("1a")]),
        (sha("f0"), vec![sha("e0")]),
    ]);
    let golden = all_golden(&inventory);
    let facts = prune::Facts {
        golden: &golden,
        indexes: &indexes,
    };
    let plan = prune::plan(
        &"r/x".parse().unwrap(),
        &inventory,
        &[target("x", "1.0", 1)],
        &facts,
    );
    assert!(plan.deletions.is_empty(), "{plan:#?}");
    assert_eq!(plan.lines[0].versions[1].keep, Some(KeepReason::Referenced));
}

#[test]
fn rollback_never_targets_a_foreign_tag() {
    let inventory = inventory(&[
        ("1.0.0", "a0"),
        ("1.0.1", "a1"),
        ("1.0.99", "f9"),
        ("1.0", "a1"),
    ]);
    let mut golden = all_golden(&inventory);
    golden.insert(exact("1.0.99"), Err(Foreign::NoGoldenLabels));
    let line: Line = "1.0".parse().unwrap();
    let error = rollback::plan(
        "x",
        &"r/x".parse().unwrap(),
        &inventory,
        every(line),
        Some(exact("1.0.99")),
        &golden,
        &crate::provenance::Higher::default(),
    )
    .unwrap_err();
    assert!(matches!(error, RollbackError::Foreign { .. }), "{error}");
    assert!(error.to_string().contains("not a golden build"), "{error}");
    // Without --to, the build before the release is chosen, the foreign
    // higher number withdrawn by nobody and never a target.
    let plan = rollback::plan(
        "x",
        &"r/x".parse().unwrap(),
        &inventory,
        every(line),
        None,
        &golden,
        &crate::provenance::Higher::default(),
    )
    .unwrap();
    assert_eq!(plan.to, "1.0.0");
    assert_eq!(plan.withdraw.len(), 1);
    assert_eq!(plan.withdraw[0].version, "1.0.1");
}

#[tokio::test]
async fn ls_asks_for_no_image_of_a_foreign_index() {
    let config = "[registry]\nhost = \"registry.local:5000\"\nnamespace = \"golden\"\n\
[images.base]\nversion = \"1.0\"\ncontext = \"images/base\"\n";
    let project = crate::project::Project::from_source(
        crate::diagnostic::SourceFile::new(
            std::path::Path::new("tests/fixtures/config/golden.toml"),
            config,
        ),
        &crate::testing::TestDisk,
    )
    .unwrap();
    let registry = FakeRegistry::default();
    let path = "registry.local:5000/golden/base";
    // Someone pushed an index of two images as 1.0.0: no golden labels.
    let pushed = crate::testing::digest("f0");
    registry.put(path, "1.0.0", pushed.as_str());
    let entry = |child: &str, architecture: &str| {
        serde_json::json!({
            "mediaType": crate::index::DOCKER_MANIFEST,
            "digest": crate::testing::digest(child).to_string(),
            "size": 1,
            "platform": { "os": "linux", "architecture": architecture },
        })
    };
    let document = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": crate::index::DOCKER_MANIFEST_LIST,
        "manifests": [entry("a", "amd64"), entry("b", "arm64")],
    });
    let index = crate::index::parse_index(&serde_json::to_vec(&document).unwrap(), None).unwrap();
    registry.documents.lock().unwrap().insert(pushed, index);
    let images: Vec<_> = project.config.images.iter().collect();
    let listings = super::ls::list(&project.config, &images, &registry)
        .await
        .unwrap();
    let version = &listings[0].versions[0];
    assert!(version.foreign.is_some(), "{version:?}");
    assert_eq!(version.platforms, ["linux/amd64", "linux/arm64"]);
    let by_digest: Vec<String> = registry
        .heads
        .lock()
        .unwrap()
        .iter()
        .filter(|head| head.contains('@'))
        .cloned()
        .collect();
    assert!(by_digest.is_empty(), "{by_digest:?}");
}

/// An upstream-versioned repository: builds `10.0.1-r1`, `10.0.1-r2`,
/// `10.0.2-r1`, the floating `10.0.1` and `10.0.2` on the newest build
/// of each, `10.0`, `10` and `latest` on `10.0.2-r1`.
fn upstream_inventory() -> Inventory {
    inventory(&[
        ("10.0.1-r1", "a1"),
        ("10.0.1-r2", "a2"),
        ("10.0.2-r1", "b1"),
        ("10.0.1", "a2"),
        ("10.0.2", "b1"),
        ("10.0", "b1"),
        ("10", "b1"),
        ("latest", "b1"),
    ])
    .under(Versioning::Upstream)
}

fn moved(plan: &rollback::Plan) -> Vec<(String, String)> {
    plan.moves
        .iter()
        .map(|step| (step.tag.to_string(), step.to.to_string()))
        .collect()
}

fn sha_of(short: &str) -> String {
    format!("sha256:{short:0<64}")
}

#[test]
fn an_upstream_inventory_counts_revisions_as_builds_and_x_y_z_as_floating() {
    let inventory = upstream_inventory();
    assert_eq!(
        inventory.versions(),
        vec![exact("10.0.1-r1"), exact("10.0.1-r2"), exact("10.0.2-r1")]
    );
    let floating: Vec<&str> = inventory
        .upstream_floating("10.0".parse().unwrap())
        .into_iter()
        .map(|(_, tag)| tag)
        .collect();
    assert_eq!(floating, ["10.0.1", "10.0.2"]);
    assert_eq!(
        inventory.floating_tags("10.0".parse().unwrap()),
        ["10.0", "10.0.1", "10.0.2", "10", "latest"]
    );
    assert_eq!(
        inventory.version_of(&sha("b1"), "10.0".parse().unwrap()),
        Some(exact("10.0.2-r1"))
    );
    // Under line versioning the same tags are builds `10.0.1`, `10.0.2`.
    let line = Inventory {
        versioning: Versioning::Line,
        ..upstream_inventory()
    };
    assert_eq!(line.versions(), vec![exact("10.0.1"), exact("10.0.2")]);
    assert!(line.upstream_floating("10.0".parse().unwrap()).is_empty());
}

#[test]
fn rollback_within_an_upstream_version_moves_its_x_y_z_tag_back() {
    // 10.0.1-r2 is the release: withdrawing it takes 10.0.1 and 10.0 back
    // to 10.0.1-r1.
    let inventory = inventory(&[
        ("10.0.1-r1", "a1"),
        ("10.0.1-r2", "a2"),
        ("10.0.1", "a2"),
        ("10.0", "a2"),
        ("10", "a2"),
        ("latest", "a2"),
    ])
    .under(Versioning::Upstream);
    let line: Line = "10.0".parse().unwrap();
    let plan = rollback_all_golden("x", "r/x", &inventory, line, None).unwrap();
    assert_eq!(
        (plan.from.as_str(), plan.to.as_str()),
        ("10.0.1-r2", "10.0.1-r1")
    );
    assert_eq!(plan.withdraw.len(), 1);
    assert_eq!(plan.withdraw[0].tag.as_str(), "10.0.1-r2-withdrawn");
    assert_eq!(
        moved(&plan),
        [
            ("10.0.1".to_string(), sha_of("a1")),
            ("10".to_string(), sha_of("a1")),
            ("latest".to_string(), sha_of("a1")),
            // X.Y moves last.
            ("10.0".to_string(), sha_of("a1")),
        ]
    );
    assert!(plan.left.is_empty());
    let text = rollback::render_text(&plan, false);
    assert!(
        text.contains("would roll back 10.0.1-r2 (upstream 10.0.1) -> 10.0.1-r1 (upstream 10.0.1)"),
        "{text}"
    );
    assert!(
        text.contains("would withdraw 10.0.1-r2 (upstream 10.0.1) (tag 10.0.1-r2-withdrawn)"),
        "{text}"
    );
}

#[test]
fn rollback_across_upstream_versions_leaves_the_newer_versions_tag() {
    let inventory = upstream_inventory();
    let line: Line = "10.0".parse().unwrap();
    let plan = rollback_all_golden("x", "r/x", &inventory, line, None).unwrap();
    assert_eq!(
        (plan.from.as_str(), plan.to.as_str()),
        ("10.0.2-r1", "10.0.1-r2")
    );
    let withdrawn: Vec<&str> = plan.withdraw.iter().map(|w| w.version.as_str()).collect();
    assert_eq!(withdrawn, ["10.0.2-r1"]);
    // 10.0.1 is already on 10.0.1-r2.
    assert_eq!(
        moved(&plan),
        [
            ("10".to_string(), sha_of("a2")),
            ("latest".to_string(), sha_of("a2")),
            ("10.0".to_string(), sha_of("a2")),
        ]
    );
    assert_eq!(plan.left.len(), 1);
    assert_eq!(plan.left[0].tag.as_str(), "10.0.2");
    assert_eq!(plan.left[0].version.as_deref(), Some("10.0.2-r1"));
    let text = rollback::render_text(&plan, true);
    assert!(
        text.contains(
            "left 10.0.2 on sha256:b10000000000 (10.0.2-r1): no other build of upstream 10.0.2"
        ),
        "{text}"
    );

    // Back to the first build of 10.0.1, spelt as upstream builds are.
    let plan = rollback_all_golden("x", "r/x", &inventory, line, Some(exact("10.0.1-r1"))).unwrap();
    let withdrawn: Vec<&str> = plan.withdraw.iter().map(|w| w.version.as_str()).collect();
    assert_eq!(withdrawn, ["10.0.1-r2", "10.0.2-r1"]);
    let tags: Vec<String> = moved(&plan).into_iter().map(|(tag, _)| tag).collect();
    assert_eq!(tags, ["10.0.1", "10", "latest", "10.0"]);
    // `10.0.1` is a floating tag under upstream versioning, not a build.
    let error =
        rollback_all_golden("x", "r/x", &inventory, line, Some(exact("10.0.1"))).unwrap_err();
    assert!(
        matches!(error, RollbackError::UnknownVersion { .. }),
        "{error}"
    );
}

#[test]
fn rollback_moves_only_the_floating_tags_the_line_lists() {
    let inventory = upstream_inventory();
    let line: Line = "10.0".parse().unwrap();
    let floating = [Floating::Upstream, Floating::Line];
    let plan = rollback::plan(
        "x",
        &"r/x".parse().unwrap(),
        &inventory,
        rollback::Target {
            line,
            floating: Some(&floating),
        },
        Some(exact("10.0.1-r1")),
        &all_golden(&inventory),
        &crate::provenance::Higher::default(),
    )
    .unwrap();
    let tags: Vec<String> = moved(&plan).into_iter().map(|(tag, _)| tag).collect();
    assert_eq!(tags, ["10.0.1", "10.0"]);
}

#[test]
fn prune_counts_builds_across_upstream_versions_and_keeps_what_x_y_z_names() {
    let inventory = inventory(&[
        ("10.0.1-r1", "a1"),
        ("10.0.1-r2", "a2"),
        ("10.0.1-r3", "a3"),
        ("10.0.2-r1", "b1"),
        ("10.0.2-r2", "b2"),
        ("10.0.1", "a3"),
        ("10.0.2", "b2"),
        ("10.0", "b2"),
        ("10.0.1-r1-withdrawn", "a1"),
    ])
    .under(Versioning::Upstream);
    let plan = prune_all_golden("r/x", &inventory, &[target("x", "10.0", 2)]);
    assert_eq!(
        decisions(&plan, 0),
        vec![
            ("10.0.2-r2".into(), true),
            ("10.0.2-r1".into(), true),
            // The newest build of 10.0.1: its floating tag keeps it.
            ("10.0.1-r3".into(), true),
            ("10.0.1-r2".into(), false),
            ("10.0.1-r1".into(), false),
        ]
    );
    assert_eq!(
        plan.lines[0].versions[2].keep,
        Some(KeepReason::Tagged {
            tags: vec!["10.0.1".into()]
        })
    );
    let deleted: Vec<Vec<String>> = plan.deletions.iter().map(|d| d.tags.clone()).collect();
    assert_eq!(
        deleted,
        [
            vec!["10.0.1-r1".to_string(), "10.0.1-r1-withdrawn".to_string()],
            vec!["10.0.1-r2".to_string()],
        ]
    );
    assert_eq!(
        plan.lines[0].versions[0].upstream.as_deref(),
        Some("10.0.2")
    );
    let text = prune::render_text(&[plan], false);
    assert!(
        text.contains("delete   10.0.1-r2 (upstream 10.0.1)"),
        "{text}"
    );
}

#[test]
fn ls_shows_the_upstream_version_and_the_x_y_z_tags_of_each_build() {
    let version = |exact_tag: &str, digest: &str, floating: &[&str]| {
        let exact = exact(exact_tag);
        super::ls::Version {
            version: exact.to_string(),
            upstream: exact.upstream().map(|u| u.to_string()),
            described: exact.describe(),
            digest: sha(digest),
            created: None,
            base_name: None,
            base_digest: None,
            reasons: Some(format!("upstream released {}", exact.upstream().unwrap())),
            withdrawn: false,
            floating: floating.iter().map(|t| t.to_string()).collect(),
            foreign: None,
            incomplete: None,
            platforms: Vec::new(),
        }
    };
    let listing = super::ls::Listing {
        id: "aspnet".into(),
        repository: "r/aspnet".into(),
        line: "10.0".into(),
        keep: None,
        versions: vec![
            version("10.0.1-r1", "a1", &["10.0.1"]),
            version("10.0.2-r1", "b1", &["10.0", "10.0.2", "10", "latest"]),
        ],
        floating: Vec::new(),
    };
    let text = super::ls::render_text(std::slice::from_ref(&listing), false);
    assert!(text.contains("10.0.1-r1 (upstream 10.0.1)"), "{text}");
    assert!(
        text.contains("10.0.2-r1 (upstream 10.0.2)  sha256:b1"),
        "{text}"
    );
    assert!(text.contains("10.0 10.0.2 10 latest"), "{text}");
    assert!(!text.contains("BECAUSE"), "{text}");
    // `ls --wide` says why each build was made, after its tags.
    let wide = super::ls::render_text(std::slice::from_ref(&listing), true);
    assert!(wide.contains("TAGS                   BECAUSE"), "{wide}");
    assert!(wide.contains("latest  upstream released 10.0.2"), "{wide}");
    let json = serde_json::to_value(&listing).unwrap();
    assert_eq!(json["versions"][1]["reasons"], "upstream released 10.0.2");
    assert_eq!(json["versions"][0]["upstream"], "10.0.1");
    assert_eq!(json["versions"][0]["version"], "10.0.1-r1");
}

/// Review finding 6: a line whose `floating` list leaves out `X.Y` never
/// moves it, yet a rollback took the build it is on (stale, from before
/// the list) as the current one and went back from there.
#[test]
fn rollback_of_a_line_not_moving_x_y_goes_back_from_its_newest_build_not_a_stale_x_y() {
    let inventory = inventory(&[
        ("10.0.1-r1", "a1"),
        ("10.0.1-r2", "a2"),
        ("10.0.2-r1", "b1"),
        ("10.0.1", "a2"),
        ("10.0.2", "b1"),
        ("latest", "b1"),
        // Left on 10.0.1-r1 before the line's list dropped `X.Y`.
        ("10.0", "a1"),
    ])
    .under(Versioning::Upstream);
    let line: Line = "10.0".parse().unwrap();
    let floating = [Floating::Upstream, Floating::Latest];
    let plan = rollback::plan(
        "x",
        &"r/x".parse().unwrap(),
        &inventory,
        rollback::Target {
            line,
            floating: Some(&floating),
        },
        None,
        &all_golden(&inventory),
        &crate::provenance::Higher::default(),
    )
    .unwrap();
    assert_eq!(
        (plan.from.as_str(), plan.to.as_str()),
        ("10.0.2-r1", "10.0.1-r2")
    );
    let withdrawn: Vec<&str> = plan.withdraw.iter().map(|w| w.version.as_str()).collect();
    assert_eq!(withdrawn, ["10.0.2-r1"]);
    assert_eq!(moved(&plan), [("latest".to_string(), sha_of("a2"))]);
}

/// Review finding 9: after a switch from `line` versioning the old exact
/// tags `10.0.0`, `10.0.1` are spelt like `X.Y.Z` floating tags; `ls`
/// listed them as floating and a rollback could leave them in `left`.
#[test]
fn an_old_counter_tag_after_a_switch_to_upstream_versioning_is_no_floating_tag() {
    let inventory = inventory(&[
        // The counting scheme's builds, before the switch.
        ("10.0.0", "c0"),
        ("10.0.1", "c1"),
        // Upstream versioning since: 10.0.5 is floating on its build.
        ("10.0.5-r1", "a1"),
        ("10.0.5", "a1"),
        ("10.0.6-r1", "b1"),
        ("10.0.6", "b1"),
        ("10.0", "b1"),
    ])
    .under(Versioning::Upstream);
    let line: Line = "10.0".parse().unwrap();
    let floating: Vec<&str> = inventory
        .upstream_floating(line)
        .into_iter()
        .map(|(_, tag)| tag)
        .collect();
    assert_eq!(floating, ["10.0.5", "10.0.6"]);
    assert_eq!(
        inventory.floating_tags(line),
        ["10.0", "10.0.5", "10.0.6", "10", "latest"]
    );
}
