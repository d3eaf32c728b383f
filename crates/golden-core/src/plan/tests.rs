//! Planner table tests over crafted observations: each reason alone and
//! combined, and the schedule edges.

use std::collections::BTreeSet;
use std::path::Path;

use chrono::{DateTime, Utc};

use super::*;
use crate::diagnostic::SourceFile;
use crate::graph::Upstream;
use crate::observation::{LastBuild, Observation};

const CONFIG: &str = "[registry]\nhost = \"registry.local:5000\"\nnamespace = \"golden\"\n\
[images.base]\nversion = \"1.0\"\ncontext = \"images/base\"\nschedule = \"@weekly\"\n\
[images.app]\nversion = \"1.0\"\ncontext = \"images/app\"\nschedule = \"@monthly\"\n";

const BASE_NOW: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const BASE_OLD: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
const GOLDEN_BASE: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
const GOLDEN_BASE_OLD: &str =
    "sha256:3333333333333333333333333333333333333333333333333333333333333333";

fn project() -> Project {
    Project::from_source(
        SourceFile::new(Path::new("tests/fixtures/config/golden.toml"), CONFIG),
        &crate::testing::TestDisk,
    )
    .unwrap()
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn built(created: Option<&str>, base: &str, recipe: &str) -> Option<LastBuild> {
    Some(LastBuild {
        version: "1.0.0".parse().unwrap(),
        digest: crate::testing::digest("b"),
        created: created.map(at),
        recipe: Some(recipe.into()),
        recipe_parts: None,
        reasons: None,
        base_name: None,
        base_digest: Some(base.into()),
        floating: vec![crate::observation::FloatingTag {
            tag: crate::name::Tag::parse("1.0").unwrap(),
            digest: Some(crate::testing::digest("b")),
        }],
        release: Some(("1.0.0".parse().unwrap(), crate::testing::digest("b"))),
        incomplete: None,
        withdrawn: Vec::new(),
        platforms: Vec::new(),
    })
}

fn observation(
    last_build: Option<LastBuild>,
    base: &str,
    recipe: &str,
) -> Result<Observation, crate::observation::ObserveError> {
    Ok(Observation {
        versions: Vec::new(),
        last_build,
        foreign: Vec::new(),
        known: Default::default(),
        base_digest: Some(crate::name::Digest::parse(base).unwrap()),
        base_platforms_changed: Vec::new(),
        recipe: Some(crate::context::Recipe {
            digest: recipe.into(),
            parts: Default::default(),
        }),
        entries: Vec::new(),
        tags_remembered: false,
        failing: None,
        tracked: None,
    })
}

/// Both images built on Wednesday 2026-03-04, matching what exists now.
fn fresh() -> Observations {
    let mut observations = Observations::new();
    observations.insert(
        "base".into(),
        observation(
            built(Some("2026-03-04T10:00:00Z"), BASE_NOW, "r-base"),
            BASE_NOW,
            "r-base",
        ),
    );
    observations.insert(
        "app".into(),
        observation(
            built(Some("2026-03-04T10:05:00Z"), GOLDEN_BASE, "r-app"),
            GOLDEN_BASE,
            "r-app",
        ),
    );
    observations
}

fn run(
    observations: &Observations,
    forced: &[&str],
    now: &str,
) -> Vec<(String, Decision, Vec<Reason>)> {
    let project = project();
    let selection = Selection {
        ids: project.graph.order.clone(),
        forced: forced
            .iter()
            .map(|s| s.to_string())
            .collect::<BTreeSet<_>>(),
        cache: None,
    };
    plan(&project, observations, &selection, at(now))
        .into_iter()
        .map(|step| {
            let (decision, reasons) = (step.decision(), step.reasons().to_vec());
            (step.id, decision, reasons)
        })
        .collect()
}

const THURSDAY: &str = "2026-03-05T12:00:00Z";

#[test]
fn nothing_changed_means_up_to_date_with_next_due() {
    let project = project();
    let selection = Selection {
        ids: project.graph.order.clone(),
        forced: BTreeSet::new(),
        cache: None,
    };
    let steps = plan(&project, &fresh(), &selection, at(THURSDAY));
    assert_eq!(
        steps.iter().map(|s| s.decision()).collect::<Vec<_>>(),
        vec![Decision::UpToDate, Decision::UpToDate]
    );
    assert_eq!(steps[0].next_due(), Some(at("2026-03-08T00:00:00Z")));
    assert_eq!(steps[1].next_due(), Some(at("2026-04-01T00:00:00Z")));
}

#[test]
fn each_reason_alone_and_its_cascade() {
    let mut never = fresh();
    never.insert("base".into(), observation(None, BASE_NOW, "r-base"));
    let mut base_updated = fresh();
    base_updated.insert(
        "base".into(),
        observation(
            built(Some("2026-03-04T10:00:00Z"), BASE_OLD, "r-base"),
            BASE_NOW,
            "r-base",
        ),
    );
    let mut recipe = fresh();
    recipe.insert(
        "app".into(),
        observation(
            built(Some("2026-03-04T10:05:00Z"), GOLDEN_BASE, "r-app"),
            GOLDEN_BASE,
            "r-app-2",
        ),
    );
    let mut parent_newer = fresh();
    parent_newer.insert(
        "app".into(),
        observation(
            built(Some("2026-03-04T10:05:00Z"), GOLDEN_BASE_OLD, "r-app"),
            GOLDEN_BASE,
            "r-app",
        ),
    );

    use Decision::{Build, UpToDate};
    let rebuilt = Reason::ParentRebuilt {
        parent: "base".into(),
    };
    let cases: Vec<(
        &str,
        Observations,
        Vec<&str>,
        &str,
        Vec<(Decision, Vec<Reason>)>,
    )> = vec![
        (
            "never built",
            never,
            vec![],
            THURSDAY,
            vec![
                (Build, vec![Reason::NeverBuilt]),
                (Build, vec![rebuilt.clone()]),
            ],
        ),
        (
            "schedule fired",
            fresh(),
            vec![],
            "2026-03-08T00:00:00Z",
            vec![
                (
                    Build,
                    vec![Reason::ScheduleFired {
                        at: at("2026-03-08T00:00:00Z"),
                    }],
                ),
                (Build, vec![rebuilt.clone()]),
            ],
        ),
        (
            "base updated",
            base_updated,
            vec![],
            THURSDAY,
            vec![
                (
                    Build,
                    vec![Reason::BaseUpdated {
                        old: Some(BASE_OLD.into()),
                        new: BASE_NOW.into(),
                        platforms: Vec::new(),
                    }],
                ),
                (Build, vec![rebuilt.clone()]),
            ],
        ),
        (
            "recipe changed",
            recipe,
            vec![],
            THURSDAY,
            vec![
                (UpToDate, vec![]),
                (
                    Build,
                    vec![Reason::RecipeChanged {
                        old: Some("r-app".into()),
                        new: "r-app-2".into(),
                        changed: Vec::new(),
                    }],
                ),
            ],
        ),
        (
            "parent newer",
            parent_newer,
            vec![],
            THURSDAY,
            vec![
                (UpToDate, vec![]),
                (
                    Build,
                    vec![Reason::ParentNewer {
                        parent: "base".into(),
                        old: Some(GOLDEN_BASE_OLD.into()),
                        new: GOLDEN_BASE.into(),
                    }],
                ),
            ],
        ),
        (
            "forced",
            fresh(),
            vec!["base"],
            THURSDAY,
            vec![
                (Build, vec![Reason::Forced]),
                (Build, vec![rebuilt.clone()]),
            ],
        ),
        (
            "forced child only",
            fresh(),
            vec!["app"],
            THURSDAY,
            vec![(UpToDate, vec![]), (Build, vec![Reason::Forced])],
        ),
    ];
    for (name, observations, forced, now, expected) in cases {
        let got: Vec<(Decision, Vec<Reason>)> = run(&observations, &forced, now)
            .into_iter()
            .map(|(_, d, r)| (d, r))
            .collect();
        assert_eq!(got, expected, "{name}");
    }
}

#[test]
fn reasons_combine_and_parent_rebuilt_replaces_parent_newer() {
    let mut observations = Observations::new();
    observations.insert(
        "base".into(),
        observation(built(None, BASE_OLD, "r-old"), BASE_NOW, "r-base"),
    );
    observations.insert(
        "app".into(),
        observation(
            built(Some("2026-03-04T10:05:00Z"), GOLDEN_BASE_OLD, "r-app"),
            GOLDEN_BASE,
            "r-app",
        ),
    );
    let steps = run(&observations, &["base"], THURSDAY);
    assert_eq!(
        steps[0].2,
        vec![
            Reason::Forced,
            Reason::ScheduleFired {
                at: at("2026-03-01T00:00:00Z")
            },
            Reason::BaseUpdated {
                old: Some(BASE_OLD.into()),
                new: BASE_NOW.into(),
                platforms: Vec::new(),
            },
            Reason::RecipeChanged {
                old: Some("r-old".into()),
                new: "r-base".into(),
                changed: Vec::new()
            },
        ]
    );
    assert_eq!(
        steps[1].2,
        vec![Reason::ParentRebuilt {
            parent: "base".into()
        }]
    );
}

/// What observe does: a line the plan compares gets its recipe, and so
/// does a line a failed build holds (its inputs are compared); a line
/// never built or forced does not (its build hashes what it sends, and a
/// failure is hashed after the run: `plan` over thousands of new lines
/// reads no context).
#[test]
fn only_lines_built_before_or_failing_and_not_forced_need_their_recipe_before_the_build() {
    assert!(compares_recipe(false, true, false));
    assert!(!compares_recipe(true, true, false), "forced");
    assert!(!compares_recipe(false, false, false), "never built");
    assert!(compares_recipe(false, false, true), "never built, failing");
    assert!(!compares_recipe(true, false, true), "forced, failing");

    let mut observations = fresh();
    let mut forced = observation(built(None, BASE_OLD, "r-old"), BASE_NOW, "r-base").unwrap();
    forced.recipe = None;
    observations.insert("base".into(), Ok(forced));
    let mut never = observation(None, GOLDEN_BASE, "r-app").unwrap();
    never.recipe = None;
    observations.insert("app".into(), Ok(never));
    let steps = run(&observations, &["base"], THURSDAY);
    assert_eq!(
        steps[0].2,
        vec![
            Reason::Forced,
            Reason::ScheduleFired {
                at: at("2026-03-01T00:00:00Z")
            },
            Reason::BaseUpdated {
                old: Some(BASE_OLD.into()),
                new: BASE_NOW.into(),
                platforms: Vec::new(),
            },
        ],
        "every reason but the recipe's"
    );
    assert_eq!(steps[1].1, Decision::Build);
    assert_eq!(
        steps[1].2,
        vec![
            Reason::NeverBuilt,
            Reason::ParentRebuilt {
                parent: "base".into()
            }
        ]
    );
}

#[test]
fn schedule_edges() {
    // (created of base, now, fired?)
    let cases = [
        ("2026-03-04T10:00:00Z", "2026-03-07T23:59:59Z", false),
        ("2026-03-04T10:00:00Z", "2026-03-08T00:00:00Z", true),
        ("2026-03-08T00:00:00Z", "2026-03-08T00:00:00Z", false),
        ("2026-03-07T23:59:59Z", "2026-03-08T00:00:01Z", true),
        ("2026-03-08T00:00:01Z", "2026-03-14T23:59:59Z", false),
    ];
    for (created, now, fired) in cases {
        let mut observations = fresh();
        observations.insert(
            "base".into(),
            observation(built(Some(created), BASE_NOW, "r-base"), BASE_NOW, "r-base"),
        );
        let steps = run(&observations, &[], now);
        assert_eq!(
            steps[0].1 == Decision::Build,
            fired,
            "created {created}, now {now}"
        );
    }
    // @monthly across a month end: built on the 31st, due on the 1st.
    let mut observations = fresh();
    observations.insert(
        "app".into(),
        observation(
            built(Some("2026-01-31T12:00:00Z"), GOLDEN_BASE, "r-app"),
            GOLDEN_BASE,
            "r-app",
        ),
    );
    let steps = run(&observations, &[], "2026-02-01T00:00:00Z");
    assert_eq!(
        steps[1].2,
        vec![Reason::ScheduleFired {
            at: at("2026-02-01T00:00:00Z")
        }]
    );
    // No created label: treated as older than the last fire.
    let mut observations = fresh();
    observations.insert(
        "base".into(),
        observation(built(None, BASE_NOW, "r-base"), BASE_NOW, "r-base"),
    );
    let steps = run(&observations, &[], THURSDAY);
    assert_eq!(
        steps[0].2,
        vec![Reason::ScheduleFired {
            at: at("2026-03-01T00:00:00Z")
        }]
    );
}

#[test]
fn a_failed_observation_fails_only_that_image() {
    let mut observations = fresh();
    observations.insert(
        "base".into(),
        Err(crate::observation::ObserveError::registry(
            crate::registry::RegistryError::Unreachable {
                registry: "registry.local:5000".into(),
                message: "connection refused".into(),
            },
            None,
        )),
    );
    let steps = run(&observations, &[], THURSDAY);
    assert_eq!(steps[0].1, Decision::Failed);
    assert_eq!(steps[1].1, Decision::UpToDate);
}

#[test]
fn rendered_plans_are_stable() {
    let project = project();
    let mut observations = fresh();
    observations.insert(
        "base".into(),
        observation(
            built(Some("2026-03-04T10:00:00Z"), BASE_OLD, "r-base"),
            BASE_NOW,
            "r-base",
        ),
    );
    let selection = Selection {
        ids: project.graph.order.clone(),
        forced: BTreeSet::new(),
        cache: None,
    };
    let steps = plan(&project, &observations, &selection, at(THURSDAY));
    let report = crate::report::plan_report(&project, &steps, 7);
    insta::assert_snapshot!("plan_text", crate::report::plan_text(&report));
    insta::assert_json_snapshot!("plan_json", report);
    let up_to_date = plan(&project, &fresh(), &selection, at(THURSDAY));
    insta::assert_snapshot!(
        "plan_text_up_to_date",
        crate::report::plan_text(&crate::report::plan_report(&project, &up_to_date, 7))
    );
}

#[test]
fn a_floating_tag_left_behind_is_promoted_not_rebuilt() {
    for line_tag in [
        None,
        Some("sha256:0100000000000000000000000000000000000000000000000000000000000000"),
    ] {
        let mut observations = fresh();
        let mut last = built(Some("2026-03-04T10:00:00Z"), BASE_NOW, "r-base").unwrap();
        last.floating[0].digest = line_tag.map(Into::into);
        observations.insert("base".into(), observation(Some(last), BASE_NOW, "r-base"));
        let steps = run(&observations, &[], THURSDAY);
        assert_eq!(steps[0].1, Decision::Promote, "{line_tag:?}");
        // Its one floating tag is not on it: it says it was not released.
        assert!(
            matches!(&steps[0].2[0], Reason::Unreleased { version } if version == "1.0.0"),
            "{:?}",
            steps[0].2
        );
        assert_eq!(
            steps[0].2[1..],
            vec![Reason::FloatingBehind {
                tag: "1.0".into(),
                old: line_tag.map(str::to_string),
                new: "sha256:b000000000000000000000000000000000000000000000000000000000000000"
                    .into()
            }]
        );
        // The child is built FROM base:1.0, which moves to a build it was
        // not made on: it is due in the same run.
        assert_eq!(steps[1].1, Decision::Build, "{line_tag:?}");
        assert_eq!(
            steps[1].2,
            vec![Reason::ParentPromoted {
                parent: "base".into(),
                tag: "1.0".into()
            }]
        );
    }
    // After a rollback, the release is an older build: a line tag on it is
    // where it belongs (held), one on the withdrawn newest is moved back.
    for (line_tag, expected) in [
        (
            "sha256:0100000000000000000000000000000000000000000000000000000000000000",
            Decision::UpToDate,
        ),
        (
            "sha256:b000000000000000000000000000000000000000000000000000000000000000",
            Decision::Promote,
        ),
    ] {
        let mut observations = fresh();
        let mut last = built(Some("2026-03-04T10:00:00Z"), BASE_NOW, "r-base").unwrap();
        last.version = "1.0.2".parse().unwrap();
        last.release = Some((
            "1.0.0".parse().unwrap(),
            "sha256:0100000000000000000000000000000000000000000000000000000000000000".into(),
        ));
        last.withdrawn = vec!["1.0.1".parse().unwrap(), "1.0.2".parse().unwrap()];
        last.floating[0].digest = Some(line_tag.into());
        observations.insert("base".into(), observation(Some(last), BASE_NOW, "r-base"));
        let steps = run(&observations, &[], THURSDAY);
        assert_eq!(steps[0].1, expected, "{line_tag}");
        if expected == Decision::Promote {
            assert_eq!(
                steps[0].2,
                vec![Reason::FloatingBehind {
                    tag: "1.0".into(),
                    old: Some(
                        "sha256:b000000000000000000000000000000000000000000000000000000000000000"
                            .into()
                    ),
                    new: "sha256:0100000000000000000000000000000000000000000000000000000000000000"
                        .into()
                }]
            );
        }
    }
    // When the image is due anyway, the build moves the tags.
    let mut observations = fresh();
    let mut last = built(Some("2026-03-04T10:00:00Z"), BASE_OLD, "r-base").unwrap();
    last.floating[0].digest = None;
    observations.insert("base".into(), observation(Some(last), BASE_NOW, "r-base"));
    let steps = run(&observations, &[], THURSDAY);
    assert_eq!(steps[0].1, Decision::Build);
    assert!(!steps[0]
        .2
        .iter()
        .any(|r| matches!(r, Reason::FloatingBehind { .. })));
}

#[test]
fn a_line_is_rebuilt_when_its_platforms_are_not_those_of_its_last_build() {
    let config = CONFIG.replace(
        "context = \"images/base\"\n",
        "context = \"images/base\"\nplatforms = [\"linux/amd64\", \"linux/arm64\"]\n",
    );
    let project = Project::from_source(
        SourceFile::new(Path::new("tests/fixtures/config/golden.toml"), &config),
        &crate::testing::TestDisk,
    )
    .unwrap();
    let selection = Selection {
        ids: project.graph.order.clone(),
        forced: BTreeSet::new(),
        cache: None,
    };
    let base_reasons = |platforms: Vec<crate::platform::Platform>| {
        let mut observations = fresh();
        if let Some(Ok(observation)) = observations.get_mut("base") {
            if let Some(last) = observation.last_build.as_mut() {
                last.platforms = platforms;
            }
        }
        let steps = plan(&project, &observations, &selection, at(THURSDAY));
        let base = steps.iter().find(|step| step.id == "base").unwrap();
        (base.decision(), base.reasons().to_vec())
    };
    // A single image (a build from before `platforms`, or one a run left
    // half-pushed) is not the configured index.
    let (decision, reasons) = base_reasons(Vec::new());
    assert_eq!(decision, Decision::Build);
    assert_eq!(
        reasons,
        vec![Reason::PlatformsChanged {
            old: Vec::new(),
            new: vec!["linux/amd64".into(), "linux/arm64".into()],
        }]
    );
    assert_eq!(
        reasons[0].to_string(),
        "platforms changed the engine's own -> linux/amd64, linux/arm64"
    );
    let (decision, reasons) = base_reasons(vec![crate::platform::Platform::linux_amd64()]);
    assert_eq!(decision, Decision::Build, "{reasons:?}");
    // The same platforms in another order are the same build.
    let (decision, reasons) = base_reasons(vec![
        crate::platform::Platform::linux_arm64(),
        crate::platform::Platform::linux_amd64(),
    ]);
    assert_eq!(decision, Decision::UpToDate, "{reasons:?}");
}

#[test]
fn an_incomplete_release_is_built_again_and_nothing_moves_to_it() {
    let config = CONFIG.replace(
        "context = \"images/base\"\n",
        "context = \"images/base\"\nplatforms = [\"linux/amd64\", \"linux/arm64\"]\n",
    );
    let project = Project::from_source(
        SourceFile::new(Path::new("tests/fixtures/config/golden.toml"), &config),
        &crate::testing::TestDisk,
    )
    .unwrap();
    let selection = Selection {
        ids: project.graph.order.clone(),
        forced: BTreeSet::new(),
        cache: None,
    };
    let why = crate::provenance::Incomplete::NotAnIndex {
        platforms: vec!["linux/amd64".into(), "linux/arm64".into()],
    };
    let mut observations = fresh();
    if let Some(Ok(observation)) = observations.get_mut("base") {
        if let Some(last) = observation.last_build.as_mut() {
            // A push stopped before the index: a single image under 1.0.0,
            // the floating tags on an older build.
            last.platforms = Vec::new();
            last.release = None;
            last.incomplete = Some(("1.0.0".parse().unwrap(), why.clone()));
            last.floating[0].digest = Some(crate::testing::digest("a"));
        }
    }
    let steps = plan(&project, &observations, &selection, at(THURSDAY));
    let base = steps.iter().find(|step| step.id == "base").unwrap();
    assert_eq!(base.decision(), Decision::Build);
    assert_eq!(
        base.reasons(),
        [Reason::Incomplete {
            version: "1.0.0".into(),
            why,
        }],
        "no platforms-changed for a build that is not whole, no tag moved to it"
    );
    assert!(base.reasons()[0]
        .to_string()
        .starts_with("1.0.0 is incomplete: it is a single image"));
}

#[test]
fn a_base_update_of_some_platforms_names_them() {
    let reason = Reason::BaseUpdated {
        old: Some(BASE_OLD.into()),
        new: BASE_NOW.into(),
        platforms: vec!["linux/arm64".into()],
    };
    assert!(reason.to_string().ends_with(" (linux/arm64)"), "{reason}");
    let json = serde_json::to_value(&reason).unwrap();
    assert_eq!(json["platforms"], serde_json::json!(["linux/arm64"]));
    let whole = Reason::BaseUpdated {
        old: None,
        new: BASE_NOW.into(),
        platforms: Vec::new(),
    };
    assert!(serde_json::to_value(&whole)
        .unwrap()
        .get("platforms")
        .is_none());
    assert!(!whole.to_string().contains('('), "{whole}");
}

/// `base` (FROM `127.0.0.1:5000/upstream/busybox:1.36`) tracking `1.*`
/// with `adopt`, last built FROM `1.36`; observe picked `resolved`, whose
/// digest differs from the last build's base.
fn tracked_run(adopt: &str, resolved: &str, now: &str) -> Vec<Step> {
    tracked_run_holding(adopt, resolved, now, None, "r-base")
}

/// [`tracked_run`] where observe resolved `held`, the digest `1.36` (the
/// tag the last build was made FROM) has now, and the context hashes to
/// `recipe`.
fn tracked_run_holding(
    adopt: &str,
    resolved: &str,
    now: &str,
    held: Option<&str>,
    recipe: &str,
) -> Vec<Step> {
    let config = CONFIG.replace(
        "schedule = \"@weekly\"\n",
        &format!("schedule = \"@weekly\"\ntrack = \"1.*\"\nadopt = \"{adopt}\"\n"),
    );
    let project = Project::from_source(
        SourceFile::new(Path::new("tests/fixtures/config/golden.toml"), &config),
        &crate::testing::TestDisk,
    )
    .unwrap();
    let upstream = "127.0.0.1:5000/upstream/busybox";
    let mut last = built(Some("2026-03-04T10:00:00Z"), BASE_OLD, "r-base");
    if let Some(last) = last.as_mut() {
        last.base_name = Some(format!("{upstream}:1.36"));
    }
    let mut base = observation(last, BASE_NOW, recipe).unwrap();
    base.tracked = Some(crate::observation::Tracked {
        written: "1.36".into(),
        resolved: crate::reference::Reference::parse(&format!("{upstream}:{resolved}")).unwrap(),
        held: held.map(|digest| crate::observation::Held {
            reference: crate::reference::Reference::parse(&format!("{upstream}:1.36")).unwrap(),
            digest: crate::name::Digest::parse(digest).unwrap(),
        }),
    });
    let mut observations = fresh();
    observations.insert("base".into(), Ok(base));
    let selection = Selection {
        ids: project.graph.order.clone(),
        forced: BTreeSet::new(),
        cache: None,
    };
    plan(&project, &observations, &selection, at(now))
}

#[test]
fn a_newer_tracked_tag_is_upstream_released_not_base_updated() {
    let steps = tracked_run("immediately", "1.37", THURSDAY);
    let released = Reason::UpstreamReleased {
        old: "1.36".into(),
        new: "1.37".into(),
    };
    assert_eq!(steps[0].reasons(), std::slice::from_ref(&released));
    assert_eq!(released.to_string(), "upstream released 1.37 (was 1.36)");
    assert_eq!(
        serde_json::to_value(&released).unwrap(),
        serde_json::json!({ "kind": "upstream-released", "old": "1.36", "new": "1.37" })
    );
    assert_eq!(
        steps[0].observed().unwrap().upstream.as_deref(),
        Some("127.0.0.1:5000/upstream/busybox:1.37")
    );
    // Its child follows through the cascade.
    assert_eq!(
        steps[1].reasons(),
        [Reason::ParentRebuilt {
            parent: "base".into()
        }]
    );
    // The same tag re-pushed by the vendor is still a base update.
    let steps = tracked_run("immediately", "1.36", THURSDAY);
    assert!(
        matches!(steps[0].reasons(), [Reason::BaseUpdated { .. }]),
        "{:?}",
        steps[0].reasons()
    );
}

#[test]
fn on_schedule_a_new_release_waits_for_the_schedule_and_says_when() {
    let steps = tracked_run("on-schedule", "1.37", THURSDAY);
    assert_eq!(steps[0].decision(), Decision::UpToDate);
    assert_eq!(steps[1].decision(), Decision::UpToDate);
    let waiting = steps[0].waiting().expect("the release waits");
    assert_eq!(
        waiting,
        &Waiting {
            old: "1.36".into(),
            new: "1.37".into(),
            adopt_at: Some(at("2026-03-08T00:00:00Z")),
        }
    );
    assert_eq!(
        waiting.to_string(),
        "upstream released 1.37; adopted at the schedule's next run 2026-03-08T00:00:00Z"
    );
    // The schedule fires: built, adopting it.
    let steps = tracked_run("on-schedule", "1.37", "2026-03-08T00:00:00Z");
    assert_eq!(
        steps[0].reasons(),
        [
            Reason::ScheduleFired {
                at: at("2026-03-08T00:00:00Z")
            },
            Reason::UpstreamReleased {
                old: "1.36".into(),
                new: "1.37".into()
            }
        ]
    );
    assert_eq!(steps[0].waiting(), None);
}

#[test]
fn on_schedule_a_held_release_is_not_adopted_by_another_reason_and_its_tag_is_still_compared() {
    const REPUSHED: &str =
        "sha256:3333333333333333333333333333333333333333333333333333333333333333";
    let held_tag = "127.0.0.1:5000/upstream/busybox:1.36";
    let waiting = Waiting {
        old: "1.36".into(),
        new: "1.37".into(),
        adopt_at: Some(at("2026-03-08T00:00:00Z")),
    };
    // Nothing else changed: up to date, the release waits.
    let steps = tracked_run_holding("on-schedule", "1.37", THURSDAY, Some(BASE_OLD), "r-base");
    assert_eq!(steps[0].decision(), Decision::UpToDate);
    assert_eq!(steps[0].waiting(), Some(&waiting));
    // The vendor re-pushed the tag built FROM (an OS fix): base-updated,
    // built FROM that tag; the release still waits.
    let steps = tracked_run_holding("on-schedule", "1.37", THURSDAY, Some(REPUSHED), "r-base");
    assert_eq!(
        steps[0].reasons(),
        [Reason::BaseUpdated {
            old: Some(BASE_OLD.into()),
            new: REPUSHED.into(),
            platforms: Vec::new(),
        }]
    );
    assert_eq!(steps[0].waiting(), Some(&waiting));
    assert!(steps[0].holds_release());
    let observed = steps[0].observed().unwrap();
    assert_eq!(observed.upstream.as_deref(), Some(held_tag));
    assert_eq!(observed.upstream_digest.as_deref(), Some(REPUSHED));
    assert_eq!(
        steps[1].reasons(),
        [Reason::ParentRebuilt {
            parent: "base".into()
        }]
    );
    // A recipe change while held: built FROM the held tag, not adopting.
    let steps = tracked_run_holding("on-schedule", "1.37", THURSDAY, Some(BASE_OLD), "r-new");
    assert!(
        matches!(steps[0].reasons(), [Reason::RecipeChanged { .. }]),
        "{:?}",
        steps[0].reasons()
    );
    assert!(steps[0].holds_release());
    assert_eq!(
        steps[0].observed().unwrap().upstream.as_deref(),
        Some(held_tag)
    );
    // The schedule fires: the release is adopted, built FROM it.
    let steps = tracked_run_holding(
        "on-schedule",
        "1.37",
        "2026-03-08T00:00:00Z",
        Some(REPUSHED),
        "r-new",
    );
    assert!(
        steps[0].reasons().contains(&Reason::UpstreamReleased {
            old: "1.36".into(),
            new: "1.37".into()
        }),
        "{:?}",
        steps[0].reasons()
    );
    assert!(
        !steps[0]
            .reasons()
            .iter()
            .any(|reason| matches!(reason, Reason::BaseUpdated { .. })),
        "{:?}",
        steps[0].reasons()
    );
    assert!(!steps[0].holds_release());
    assert_eq!(
        steps[0].observed().unwrap().upstream.as_deref(),
        Some("127.0.0.1:5000/upstream/busybox:1.37")
    );
    // With the tag built FROM gone, another reason adopts the release.
    let steps = tracked_run_holding("on-schedule", "1.37", THURSDAY, None, "r-new");
    assert!(
        steps[0].reasons().contains(&Reason::UpstreamReleased {
            old: "1.36".into(),
            new: "1.37".into()
        }),
        "{:?}",
        steps[0].reasons()
    );
    assert!(!steps[0].holds_release());
}

/// `app` FROM `base:<tag>`, where `base` is upstream-versioned with its
/// release `1.0.4-r1` and is built (its recipe changed): `app`'s reasons.
fn child_of_upstream_release(tag: &str) -> Vec<Reason> {
    let mut project = project();
    if let Some(node) = project.graph.nodes.get_mut("app") {
        node.upstream = Upstream::Golden {
            id: "base".into(),
            reference: crate::reference::Reference::parse(&format!(
                "registry.local:5000/golden/base:{tag}"
            ))
            .unwrap(),
        };
    }
    let mut observations = fresh();
    if let Some(Ok(base)) = observations.get_mut("base") {
        base.recipe = Some(crate::context::Recipe {
            digest: "r-new".into(),
            parts: Default::default(),
        });
        if let Some(last) = base.last_build.as_mut() {
            last.version = "1.0.4-r1".parse().unwrap();
            last.release = Some((last.version, last.digest.clone()));
        }
    }
    let selection = Selection {
        ids: project.graph.order.clone(),
        forced: BTreeSet::new(),
        cache: None,
    };
    let steps = plan(&project, &observations, &selection, at(THURSDAY));
    assert_eq!(steps[0].decision(), Decision::Build);
    steps[1].reasons().to_vec()
}

#[test]
fn a_child_from_an_older_upstream_versions_tag_is_not_rebuilt_with_its_parent() {
    // `1.0.3` stays where it is: the parent builds 1.0.4 or later.
    assert_eq!(child_of_upstream_release("1.0.3"), []);
    assert_eq!(child_of_upstream_release("1.0.4-rc.1"), []);
    let rebuilt = [Reason::ParentRebuilt {
        parent: "base".into(),
    }];
    for tag in ["1.0.4", "1.0.5", "1.0", "1", "latest"] {
        assert_eq!(child_of_upstream_release(tag), rebuilt, "FROM base:{tag}");
    }
}

/// `fresh()` with base's recipe changed to `recipe`, and a failing record
/// of a build from `failed_recipe` that may be retried at `retry_at`.
fn failing_base(recipe: &str, failed_recipe: &str, retry_at: &str) -> Observations {
    let project = project();
    let image = project.config.image("base").unwrap();
    let mut observations = fresh();
    let inputs = build_inputs(image, Some(failed_recipe), Some(BASE_NOW));
    assert!(inputs.is_some());
    let mut now = observation(
        built(Some("2026-03-04T10:00:00Z"), BASE_NOW, "r-base"),
        BASE_NOW,
        recipe,
    )
    .unwrap();
    now.failing = Some(crate::failing::Failing {
        inputs,
        since: at("2026-03-05T11:00:00Z"),
        last: at("2026-03-05T11:30:00Z"),
        attempts: 2,
        retry_at: at(retry_at),
        error: "build of `base` failed at `RUN make`".into(),
        notified: None,
    });
    observations.insert("base".into(), Ok(now));
    observations
}

#[test]
fn a_failed_build_is_held_until_its_inputs_change_its_retry_comes_or_it_is_forced() {
    let base = |steps: Vec<(String, Decision, Vec<Reason>)>| {
        steps.into_iter().find(|(id, ..)| id == "base").unwrap()
    };
    // The same inputs before the retry: held, the failure said first.
    let (_, decision, reasons) = base(run(
        &failing_base("r-broken", "r-broken", "2026-03-05T13:00:00Z"),
        &[],
        THURSDAY,
    ));
    assert_eq!(decision, Decision::Held);
    assert!(
        matches!(&reasons[0], Reason::Failing { attempts: 2, .. }),
        "{reasons:?}"
    );
    assert!(
        matches!(&reasons[1], Reason::RecipeChanged { .. }),
        "the reason it would build stays listed: {reasons:?}"
    );
    assert!(reasons[0].to_string().starts_with(
        "failing since 2026-03-05T11:00:00Z (2 failed builds; retry at 2026-03-05T13:00:00Z"
    ));
    // Another recipe (the fix): built at once.
    let (_, decision, reasons) = base(run(
        &failing_base("r-fixed", "r-broken", "2026-03-05T13:00:00Z"),
        &[],
        THURSDAY,
    ));
    assert_eq!(decision, Decision::Build);
    assert!(
        !matches!(&reasons[0], Reason::Failing { .. }),
        "{reasons:?}"
    );
    // The retry came: built.
    let (_, decision, _) = base(run(
        &failing_base("r-broken", "r-broken", "2026-03-05T12:00:00Z"),
        &[],
        THURSDAY,
    ));
    assert_eq!(decision, Decision::Build);
    // `golden rebuild`: built.
    let (_, decision, reasons) = base(run(
        &failing_base("r-broken", "r-broken", "2026-03-05T13:00:00Z"),
        &["base"],
        THURSDAY,
    ));
    assert_eq!(decision, Decision::Build);
    assert!(reasons.contains(&Reason::Forced), "{reasons:?}");
    // Nothing due at all: a failing record alone builds nothing.
    let mut observations = failing_base("r-base", "r-broken", "2026-03-05T13:00:00Z");
    if let Ok(observation) = observations.get_mut("base").unwrap() {
        observation.failing.as_mut().unwrap().inputs = None;
    }
    let (_, decision, _) = base(run(&observations, &[], THURSDAY));
    assert_eq!(decision, Decision::UpToDate);
}
