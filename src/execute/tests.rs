//! Orchestration against in-memory fakes of the engine and the registry
//! that record every call: order, failure isolation, and that no floating
//! tag moves unless the exact tag was pushed and confirmed.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;

use super::*;
use crate::diagnostic::SourceFile;
use crate::engine::EngineError;
use crate::graph::Upstream;
use crate::name::{Digest, Tag};
use crate::observation::Observation;
use crate::plan::{plan, Selection};
use crate::testing::{FakeEngine, FakeRegistry};
use crate::ui::progress::Silent;

const CONFIG: &str = "[registry]\nhost = \"registry.local:5000\"\nnamespace = \"golden\"\n\
[images.base]\nversion = \"1.0\"\ncontext = \"images/base\"\n\
[images.app]\nversion = \"1.0\"\ncontext = \"images/app\"\n";

const UPSTREAM: &str = "sha256:ab00000000000000000000000000000000000000000000000000000000000000";

/// base <- app, plus two independent images; `side` has a smoke test.
const WIDE: &str = "[registry]\nhost = \"registry.local:5000\"\nnamespace = \"golden\"\n\
[images.base]\nversion = \"1.0\"\ncontext = \"images/base\"\n\
[images.app]\nversion = \"1.0\"\ncontext = \"images/app\"\n\
[images.side]\nversion = \"1.0\"\ncontext = \"images/base\"\ntest = [\"sh\", \"-c\", \"true\"]\n\
[images.other]\nversion = \"1.0\"\ncontext = \"images/base\"\n";

fn project(config: &str) -> Project {
    Project::from_source(
        SourceFile::new(Path::new("tests/fixtures/config/golden.toml"), config),
        &crate::regular_file::Disk,
    )
    .unwrap()
}

/// Nothing built yet; golden parents have no digest until pushed.
fn never_built(project: &Project) -> Observations {
    project
        .config
        .images
        .iter()
        .map(|image| {
            let golden_parent = matches!(
                project.graph.nodes[&image.id].upstream,
                Upstream::Golden { .. }
            );
            let observation = Observation {
                versions: Vec::new(),
                last_build: None,
                foreign: Vec::new(),
                known: Default::default(),
                base_digest: (!golden_parent).then(|| Digest::parse(UPSTREAM).unwrap()),
                base_platforms_changed: Vec::new(),
                recipe: None,
                entries: Vec::new(),
                tags_remembered: false,
                failing: None,
                tracked: None,
            };
            (image.id.clone(), Ok(observation))
        })
        .collect()
}

#[derive(Default)]
struct Faults {
    builds: &'static [&'static str],
    tests: &'static [&'static str],
    pushes: &'static [&'static str],
}

struct Harness {
    project: Project,
    registry: Arc<FakeRegistry>,
    engine: Arc<FakeEngine>,
}

impl Harness {
    fn new(config: &str, faults: Faults) -> Harness {
        Harness::with_project(project(config), faults)
    }

    fn with_project(project: Project, faults: Faults) -> Harness {
        let registry = Arc::new(FakeRegistry::default());
        let set = |names: &[&str]| names.iter().map(|s| s.to_string()).collect();
        let engine = Arc::new(FakeEngine {
            failing_builds: set(faults.builds),
            failing_tests: set(faults.tests),
            failing_pushes: set(faults.pushes),
            ..FakeEngine::new(registry.clone())
        });
        Harness {
            project,
            registry,
            engine,
        }
    }

    fn run(&self, jobs: usize, fail_fast: bool, stop: Stop) -> Vec<Outcome> {
        self.run_with(never_built(&self.project), jobs, fail_fast, stop)
    }

    fn run_with(
        &self,
        observations: Observations,
        jobs: usize,
        fail_fast: bool,
        stop: Stop,
    ) -> Vec<Outcome> {
        let pool = crate::pool::Pool::single("fake", self.engine.clone(), jobs);
        self.run_on(&pool, observations, fail_fast, stop)
    }

    fn run_on(
        &self,
        pool: &crate::pool::Pool,
        observations: Observations,
        fail_fast: bool,
        stop: Stop,
    ) -> Vec<Outcome> {
        self.run_against(self.registry.as_ref(), pool, observations, fail_fast, stop)
    }

    fn run_against(
        &self,
        registry: &dyn Registry,
        pool: &crate::pool::Pool,
        observations: Observations,
        fail_fast: bool,
        stop: Stop,
    ) -> Vec<Outcome> {
        let selection = Selection {
            ids: self.project.graph.order.clone(),
            forced: BTreeSet::new(),
            cache: None,
        };
        let steps = plan(&self.project, &observations, &selection, chrono::Utc::now());
        let runner = Runner {
            project: &self.project,
            pool,
            registry,
            observations: &observations,
            revision: None,
            source: None,
            stop,
            fail_fast,
            promote: true,
            signing: None,
            verify_with: None,
            progress: Arc::new(Silent),
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        runtime.block_on(runner.run(&steps))
    }

    fn engine_calls(&self) -> Vec<String> {
        self.engine.calls.lock().unwrap().clone()
    }

    /// The registry's tag writes (copies, indexes), without the
    /// artifacts attached to builds (SBOMs and their fallback indexes).
    fn copies(&self) -> Vec<String> {
        self.registry
            .calls
            .lock()
            .unwrap()
            .iter()
            .filter(|call| !call.starts_with("put blob") && !call.starts_with("put manifest"))
            .cloned()
            .collect()
    }
}

fn status(outcomes: &[Outcome], id: &str) -> Status {
    outcomes.iter().find(|o| o.id == id).unwrap().status
}

#[test]
fn parents_build_first_and_children_build_on_the_pushed_digest() {
    let harness = Harness::new(CONFIG, Faults::default());
    let outcomes = harness.run(1, false, Stop::default());
    let statuses: Vec<(&str, Status)> =
        outcomes.iter().map(|o| (o.id.as_str(), o.status)).collect();
    assert_eq!(
        statuses,
        vec![("base", Status::Built), ("app", Status::Built)]
    );
    let copies: Vec<String> = harness
        .copies()
        .into_iter()
        .filter(|c| c.contains("golden/base:"))
        .collect();
    assert_eq!(
        copies,
        vec![
            "copy registry.local:5000/golden/base:1.0 -> sha256:1000000000000000000000000000000000000000000000000000000000000000",
            "copy registry.local:5000/golden/base:1 -> sha256:1000000000000000000000000000000000000000000000000000000000000000",
            "copy registry.local:5000/golden/base:latest -> sha256:1000000000000000000000000000000000000000000000000000000000000000",
        ],
        "X.Y moves first; plan checks every floating tag, so the order no longer hides a tag left behind"
    );
    assert_eq!(
        harness.engine_calls(),
        vec![
            "build registry.local:5000/golden/base:1.0.0 on sha256:ab00000000000000000000000000000000000000000000000000000000000000",
            "push registry.local:5000/golden/base:1.0.0",
            "build registry.local:5000/golden/app:1.0.0 on sha256:1000000000000000000000000000000000000000000000000000000000000000",
            "push registry.local:5000/golden/app:1.0.0",
        ]
    );
    assert_eq!(outcomes[0].floating, vec!["1.0", "1", "latest"]);
    assert_eq!(
        harness
            .registry
            .get("registry.local:5000/golden/base", "latest")
            .as_deref(),
        Some("sha256:1000000000000000000000000000000000000000000000000000000000000000")
    );
}

#[test]
fn never_more_than_jobs_builds_at_once_and_independent_images_overlap() {
    use std::sync::atomic::Ordering::SeqCst;
    let serial = Harness::new(WIDE, Faults::default());
    serial.run(1, false, Stop::default());
    assert_eq!(serial.engine.most.load(SeqCst), 1);
    let parallel = Harness::new(WIDE, Faults::default());
    let outcomes = parallel.run(2, false, Stop::default());
    assert_eq!(parallel.engine.most.load(SeqCst), 2);
    assert!(
        outcomes.iter().all(|o| o.status == Status::Built),
        "{outcomes:?}"
    );
    // The child still starts only after its parent was pushed.
    let calls = parallel.engine_calls();
    let pushed_base = calls
        .iter()
        .position(|c| c == "push registry.local:5000/golden/base:1.0.0")
        .unwrap();
    let built_app = calls
        .iter()
        .position(|c| c.starts_with("build registry.local:5000/golden/app"))
        .unwrap();
    assert!(pushed_base < built_app, "{calls:?}");
    let wide = Harness::new(WIDE, Faults::default());
    wide.run(8, false, Stop::default());
    assert_eq!(
        wide.engine.most.load(SeqCst),
        3,
        "base, side and other are independent"
    );
}

#[test]
fn a_failed_build_skips_its_dependents_and_pushes_nothing() {
    let harness = Harness::new(
        WIDE,
        Faults {
            builds: &["base"],
            ..Faults::default()
        },
    );
    let outcomes = harness.run(2, false, Stop::default());
    assert_eq!(status(&outcomes, "base"), Status::Failed);
    assert!(outcomes[0]
        .error
        .as_deref()
        .unwrap()
        .contains("Step 2/2 : RUN false"));
    let app = outcomes.iter().find(|o| o.id == "app").unwrap();
    assert_eq!(app.status, Status::Skipped);
    assert_eq!(
        app.reasons,
        vec![Reason::ParentFailed {
            parent: "base".into()
        }]
    );
    assert_eq!(
        status(&outcomes, "side"),
        Status::Built,
        "siblings still build"
    );
    assert_eq!(status(&outcomes, "other"), Status::Built);
    assert!(!harness
        .engine_calls()
        .iter()
        .any(|c| c.contains("golden/base:1.0.0") && c.starts_with("push")));
    assert!(!harness.copies().iter().any(|c| c.contains("golden/base:")));
}

#[test]
fn fail_fast_starts_nothing_new_after_the_first_failure() {
    let harness = Harness::new(
        WIDE,
        Faults {
            builds: &["base"],
            ..Faults::default()
        },
    );
    let outcomes = harness.run(1, true, Stop::default());
    assert_eq!(status(&outcomes, "base"), Status::Failed);
    for id in ["app", "side", "other"] {
        assert_eq!(status(&outcomes, id), Status::Skipped, "{id}");
    }
    let other = outcomes.iter().find(|o| o.id == "other").unwrap();
    assert!(other
        .error
        .as_deref()
        .unwrap()
        .contains("--fail-fast after `base` failed"));
    assert_eq!(harness.engine_calls().len(), 1);
}

#[test]
fn a_failed_smoke_test_pushes_nothing_and_moves_no_floating_tag() {
    let harness = Harness::new(
        WIDE,
        Faults {
            tests: &["side"],
            ..Faults::default()
        },
    );
    harness.registry.put(
        "registry.local:5000/golden/side",
        "1.0",
        "sha256:ee00000000000000000000000000000000000000000000000000000000000000",
    );
    let outcomes = harness.run(2, false, Stop::default());
    let side = outcomes.iter().find(|o| o.id == "side").unwrap();
    assert_eq!(side.status, Status::Failed);
    assert!(
        side.error
            .as_deref()
            .unwrap()
            .contains("smoke test `sh -c true`"),
        "{:?}",
        side.error
    );
    assert!(side.test_seconds.is_some());
    let calls = harness.engine_calls();
    assert!(
        calls.contains(&"test registry.local:5000/golden/side:1.0.0".to_string()),
        "{calls:?}"
    );
    assert!(!calls
        .iter()
        .any(|c| c.starts_with("push registry.local:5000/golden/side")));
    assert_eq!(
        harness
            .registry
            .get("registry.local:5000/golden/side", "1.0")
            .as_deref(),
        Some("sha256:ee00000000000000000000000000000000000000000000000000000000000000")
    );
    assert!(
        !calls
            .iter()
            .any(|c| c.starts_with("test registry.local:5000/golden/other")),
        "images without a test run none"
    );
}

#[test]
fn a_failed_push_moves_no_floating_tag() {
    let harness = Harness::new(
        CONFIG,
        Faults {
            pushes: &["base"],
            ..Faults::default()
        },
    );
    harness.registry.put(
        "registry.local:5000/golden/base",
        "1.0",
        "sha256:ee00000000000000000000000000000000000000000000000000000000000000",
    );
    let outcomes = harness.run(2, false, Stop::default());
    assert_eq!(outcomes[0].status, Status::Failed);
    assert!(outcomes[0].floating.is_empty());
    assert!(harness.copies().is_empty(), "{:?}", harness.copies());
    assert_eq!(
        harness
            .registry
            .get("registry.local:5000/golden/base", "1.0")
            .as_deref(),
        Some("sha256:ee00000000000000000000000000000000000000000000000000000000000000")
    );
    assert_eq!(outcomes[1].status, Status::Skipped);
}

#[test]
fn an_exact_tag_that_appeared_meanwhile_is_never_overwritten_and_the_next_number_is_taken() {
    let harness = Harness::new(CONFIG, Faults::default());
    harness.registry.put(
        "registry.local:5000/golden/base",
        "1.0.0",
        "sha256:5e00000000000000000000000000000000000000000000000000000000000000",
    );
    let outcomes = harness.run(2, false, Stop::default());
    assert_eq!(outcomes[0].status, Status::Built, "{:?}", outcomes[0].error);
    assert_eq!(
        outcomes[0].version.map(|v| v.to_string()).as_deref(),
        Some("1.0.1")
    );
    assert_eq!(
        harness
            .registry
            .get("registry.local:5000/golden/base", "1.0.0")
            .as_deref(),
        Some("sha256:5e00000000000000000000000000000000000000000000000000000000000000")
    );
    assert_eq!(
        harness
            .registry
            .get("registry.local:5000/golden/base", "1.0")
            .as_deref(),
        Some("sha256:1010000000000000000000000000000000000000000000000000000000000000")
    );
    let pushes: Vec<String> = harness
        .engine_calls()
        .into_iter()
        .filter(|c| c.starts_with("push registry.local:5000/golden/base"))
        .collect();
    assert_eq!(pushes, vec!["push registry.local:5000/golden/base:1.0.1"]);
    let builds = harness
        .engine_calls()
        .into_iter()
        .filter(|c| c.starts_with("build registry.local:5000/golden/base"))
        .count();
    assert_eq!(builds, 2, "rebuilt with the new number in its labels");
}

#[test]
fn a_stop_request_starts_nothing_new() {
    let harness = Harness::new(CONFIG, Faults::default());
    let stop = Stop::default();
    stop.request();
    let outcomes = harness.run(2, false, stop);
    assert!(outcomes.iter().all(|o| o.status == Status::Skipped));
    assert!(harness.engine_calls().is_empty());
}

#[test]
fn a_build_whose_promotion_was_cut_off_is_promoted_on_the_next_run() {
    let harness = Harness::new(CONFIG, Faults::default());
    let repository = "registry.local:5000/golden/base";
    harness.registry.put(
        repository,
        "1.0.0",
        "sha256:1000000000000000000000000000000000000000000000000000000000000000",
    );
    let mut observations = never_built(&harness.project);
    for (id, digest) in [
        ("base", crate::testing::digest("100")),
        ("app", crate::testing::digest("aa")),
    ] {
        if let Some(Ok(observation)) = observations.get_mut(id) {
            observation.versions = vec!["1.0.0".parse().unwrap()];
            observation.base_digest = Some(if id == "base" {
                Digest::parse(UPSTREAM).unwrap()
            } else {
                crate::testing::digest("100")
            });
            observation.last_build = Some(crate::observation::LastBuild {
                version: "1.0.0".parse().unwrap(),
                digest: digest.clone(),
                created: Some(chrono::Utc::now()),
                recipe: Some("sha256:recipe".into()),
                recipe_parts: None,
                reasons: None,
                base_name: None,
                base_digest: observation.base_digest.as_ref().map(ToString::to_string),
                floating: vec![crate::observation::FloatingTag {
                    tag: crate::name::Tag::parse("1.0").unwrap(),
                    digest: (id == "app").then(|| digest.clone()),
                }],
                release: Some(("1.0.0".parse().unwrap(), digest.clone())),
                incomplete: None,
                withdrawn: Vec::new(),
                platforms: Vec::new(),
            });
        }
    }
    let outcomes = harness.run_with(observations, 2, false, Stop::default());
    assert_eq!(
        outcomes[0].status,
        Status::Promoted,
        "{:?}",
        outcomes[0].error
    );
    assert_eq!(outcomes[0].floating, vec!["1.0", "1", "latest"]);
    assert_eq!(outcomes[1].status, Status::UpToDate);
    assert!(
        harness.engine_calls().is_empty(),
        "nothing is rebuilt or pushed again"
    );
    assert_eq!(
        harness.registry.get(repository, "latest").as_deref(),
        Some("sha256:1000000000000000000000000000000000000000000000000000000000000000")
    );
}

/// Two lines of one repository, both new: the higher goes first, so the
/// lower never takes `1`... `latest` even for a moment.
const LINES: &str = "[registry]\nhost = \"registry.local:5000\"\nnamespace = \"golden\"\n\
[images.tools-lts]\nname = \"tools\"\nversion = \"1.4\"\ncontext = \"images/base\"\n\
[images.tools]\nname = \"tools\"\nversion = \"2.1\"\ncontext = \"images/base\"\n";

#[test]
fn the_higher_line_of_a_repository_is_pushed_first_so_the_lower_never_takes_latest() {
    let harness = Harness::new(LINES, Faults::default());
    let outcomes = harness.run(4, false, Stop::default());
    let lts = outcomes.iter().find(|o| o.id == "tools-lts").unwrap();
    assert_eq!(lts.floating, vec!["1.4", "1"], "{:?}", harness.copies());
    let pushes: Vec<String> = harness
        .engine_calls()
        .into_iter()
        .filter(|c| c.starts_with("push"))
        .collect();
    assert_eq!(
        pushes,
        vec![
            "push registry.local:5000/golden/tools:2.1.0",
            "push registry.local:5000/golden/tools:1.4.0"
        ]
    );
    assert!(
        !harness
            .copies()
            .iter()
            .any(|c| c.contains("tools:latest -> sha256:1400000000000000000000000000000000000000000000000000000000000000")),
        "{:?}",
        harness.copies()
    );
    // A failed higher line does not skip the lower one.
    let failing = Harness::new(
        LINES,
        Faults {
            builds: &["tools"],
            ..Faults::default()
        },
    );
    let outcomes = failing.run(4, false, Stop::default());
    assert_eq!(
        outcomes
            .iter()
            .find(|o| o.id == "tools-lts")
            .unwrap()
            .status,
        Status::Built
    );
}

#[test]
fn line_order_never_deadlocks_when_lines_are_built_on_each_other() {
    // 3.0 is built FROM 1.0 of its own repository: 1.0 cannot wait for 3.0.
    let dir = tempfile::tempdir().unwrap();
    for (name, from) in [
        ("one", "127.0.0.1:5000/upstream/busybox:1.36"),
        ("two", "127.0.0.1:5000/upstream/busybox:1.36"),
        ("three", "registry.local:5000/golden/base:1.0"),
    ] {
        std::fs::create_dir_all(dir.path().join(name)).unwrap();
        std::fs::write(
            dir.path().join(name).join("Dockerfile"),
            format!("FROM {from}\n"),
        )
        .unwrap();
    }
    let config = "[registry]\nhost = \"registry.local:5000\"\nnamespace = \"golden\"\n\
[images.one]\nname = \"base\"\nversion = \"1.0\"\ncontext = \"one\"\n\
[images.two]\nname = \"base\"\nversion = \"2.0\"\ncontext = \"two\"\n\
[images.three]\nname = \"base\"\nversion = \"3.0\"\ncontext = \"three\"\n";
    let project = Project::from_source(
        SourceFile::new(&dir.path().join("golden.toml"), config),
        &crate::regular_file::Disk,
    )
    .unwrap();
    let outcomes = Harness::with_project(project, Faults::default()).run(2, false, Stop::default());
    assert!(
        outcomes.iter().all(|o| o.status == Status::Built),
        "{outcomes:?}"
    );
}

#[test]
fn an_engine_lost_during_a_build_is_left_and_the_build_retried_on_another() {
    let harness = Harness::new(CONFIG, Faults::default());
    let doomed = Arc::new(FakeEngine {
        lose_on: BTreeSet::from(["app".to_string()]),
        ..FakeEngine::new(harness.registry.clone())
    });
    let pool = pool_of(vec![("a", doomed.clone()), ("b", harness.engine.clone())]);
    let outcomes = harness.run_on(&pool, never_built(&harness.project), false, Stop::default());
    let built_on = |id: &str| {
        outcomes
            .iter()
            .find(|o| o.id == id)
            .unwrap()
            .built_on
            .clone()
    };
    assert_eq!(status(&outcomes, "base"), Status::Built);
    assert_eq!(status(&outcomes, "app"), Status::Built);
    // The first engine is preferred while idle, lost on `app`, never used again.
    assert_eq!(built_on("base"), [(None, "a".to_string())]);
    assert_eq!(built_on("app"), [(None, "b".to_string())]);
    assert!(pool.is_down(0));
    let tried: Vec<String> = doomed.calls.lock().unwrap().clone();
    assert!(
        tried
            .iter()
            .any(|c| c.starts_with("build registry.local:5000/golden/app:1.0.0")),
        "{tried:?}"
    );
    assert!(harness
        .engine_calls()
        .iter()
        .any(|c| c.starts_with("build registry.local:5000/golden/app:1.0.0")));
    // Pushed once, from the engine that holds the build.
    assert!(harness
        .engine_calls()
        .contains(&"push registry.local:5000/golden/app:1.0.0".to_string()));
}

/// The definition `higher_lines` replaced, pair by pair over the run:
/// for each step, every line of the run in the same repository with a
/// higher version that is not built on it.
fn higher_lines_pairwise<'s>(project: &Project, steps: &'s [Step]) -> Vec<Vec<&'s str>> {
    let config = &project.config;
    let in_plan: BTreeSet<&str> = steps.iter().map(|step| step.id.as_str()).collect();
    steps
        .iter()
        .map(|step| {
            let Some(image) = config.image(&step.id) else {
                return Vec::new();
            };
            in_plan
                .iter()
                .copied()
                .filter(|other| {
                    config
                        .image(other)
                        .is_some_and(|o| o.name == image.name && o.version > image.version)
                        && !project.graph.ancestors(other).contains(&step.id)
                })
                .collect()
        })
        .collect()
}

#[test]
fn higher_lines_match_the_pairwise_definition_on_random_configs() {
    let upstream = "127.0.0.1:5000/upstream/busybox:1.36";
    let versions = ["1.0", "1.4", "2.0", "2.1", "3.0", "10.2"];
    let mut waiting = 0;
    for seed in 0..60 {
        let mut random = fastrand::Rng::with_seed(seed);
        let dir = tempfile::tempdir().unwrap();
        let mut config =
            String::from("[registry]\nhost = \"registry.local:5000\"\nnamespace = \"golden\"\n");
        // Lines as (id, name, version); (name, version) pairs are unique.
        let mut lines: Vec<(String, &str, &str)> = Vec::new();
        for index in 0..random.usize(1..24) {
            let name = ["tools", "base", "app"][random.usize(0..3)];
            let version = versions[random.usize(0..versions.len())];
            if lines.iter().any(|(_, n, v)| *n == name && *v == version) {
                continue;
            }
            let id = format!("i{index:02}");
            // FROM an earlier line (often of the same repository) or the
            // upstream; sometimes `depends_on` an earlier one too.
            let from = match lines.len() {
                0 => upstream.to_string(),
                n if random.bool() => {
                    let (_, name, version) = &lines[random.usize(0..n)];
                    format!("registry.local:5000/golden/{name}:{version}")
                }
                _ => upstream.to_string(),
            };
            std::fs::create_dir_all(dir.path().join(&id)).unwrap();
            std::fs::write(
                dir.path().join(&id).join("Dockerfile"),
                format!("FROM {from}\n"),
            )
            .unwrap();
            config.push_str(&format!(
                "[images.{id}]\nname = \"{name}\"\nversion = \"{version}\"\ncontext = \"{id}\"\n"
            ));
            if !lines.is_empty() && random.usize(0..4) == 0 {
                let (parent, _, _) = &lines[random.usize(0..lines.len())];
                config.push_str(&format!("depends_on = [\"{parent}\"]\n"));
            }
            lines.push((id, name, version));
        }
        let project = Project::from_source(
            SourceFile::new(&dir.path().join("golden.toml"), &config),
            &crate::regular_file::Disk,
        )
        .unwrap_or_else(|error| panic!("{error}\n{config}"));
        // A run of some of the lines, in build order.
        let ids: Vec<String> = project
            .graph
            .order
            .iter()
            .filter(|_| random.usize(0..4) != 0)
            .cloned()
            .collect();
        let selection = Selection {
            ids,
            forced: BTreeSet::new(),
            cache: None,
        };
        let steps = plan(
            &project,
            &never_built(&project),
            &selection,
            chrono::Utc::now(),
        );
        let expected = higher_lines_pairwise(&project, &steps);
        waiting += expected.iter().filter(|higher| !higher.is_empty()).count();
        assert_eq!(
            higher_lines(&project, &steps),
            expected,
            "seed {seed}:\n{config}"
        );
    }
    assert!(waiting > 50, "too few lines wait on higher ones: {waiting}");
}

/// The harness's registry, where another run pushes over `repository:tag`
/// once: when this run lists the tags before moving floating tags
/// (`Race::BeforeMoves`) or when it moves the first one
/// (`Race::DuringMoves`).
struct Racing {
    inner: Arc<FakeRegistry>,
    repository: &'static str,
    tag: &'static str,
    race: Race,
    other: &'static str,
    done: std::sync::atomic::AtomicBool,
    /// A tag of `repository` whose lookup fails once the race happened.
    unreadable: Option<&'static str>,
}

#[derive(PartialEq)]
enum Race {
    BeforeMoves,
    DuringMoves,
}

impl Racing {
    fn strike(&self, now: Race) {
        let pushed = self.inner.get(self.repository, self.tag).is_some();
        if now == self.race && pushed && !self.done.swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            self.inner.put(self.repository, self.tag, self.other);
        }
    }
}

#[async_trait]
impl Registry for Racing {
    async fn check(&self, repository: &Repository) -> Result<(), crate::registry::RegistryError> {
        self.inner.check(repository).await
    }
    async fn tags(
        &self,
        repository: &Repository,
    ) -> Result<Vec<String>, crate::registry::RegistryError> {
        self.strike(Race::BeforeMoves);
        self.inner.tags(repository).await
    }
    async fn manifest_digest(
        &self,
        reference: &Reference,
    ) -> Result<Option<Digest>, crate::registry::RegistryError> {
        let raced = self.done.load(std::sync::atomic::Ordering::SeqCst);
        if raced && self.unreadable.is_some() && reference.tag() == self.unreadable {
            return Err(crate::registry::RegistryError::Unreachable {
                registry: "registry.local:5000".into(),
                message: "connection refused".into(),
            });
        }
        self.inner.manifest_digest(reference).await
    }
    async fn image_config(
        &self,
        reference: &Reference,
    ) -> Result<crate::registry::ImageConfig, crate::registry::RegistryError> {
        self.inner.image_config(reference).await
    }
    async fn index_children(
        &self,
        reference: &Reference,
    ) -> Result<Vec<Digest>, crate::registry::RegistryError> {
        self.inner.index_children(reference).await
    }
    async fn index(
        &self,
        reference: &Reference,
    ) -> Result<Option<crate::index::Index>, crate::registry::RegistryError> {
        self.inner.index(reference).await
    }
    async fn manifest_info(
        &self,
        reference: &Reference,
    ) -> Result<Option<crate::registry::ManifestInfo>, crate::registry::RegistryError> {
        self.inner.manifest_info(reference).await
    }
    async fn put_index(
        &self,
        repository: &Repository,
        tag: &Tag,
        index: &crate::index::NewIndex,
    ) -> Result<Digest, crate::registry::RegistryError> {
        self.inner.put_index(repository, tag, index).await
    }
    async fn copy_tag(
        &self,
        repository: &Repository,
        digest: &Digest,
        tag: &Tag,
    ) -> Result<(), crate::registry::RegistryError> {
        let copied = self.inner.copy_tag(repository, digest, tag).await;
        self.strike(Race::DuringMoves);
        copied
    }
    async fn delete_manifest(
        &self,
        repository: &Repository,
        digest: &Digest,
    ) -> Result<(), crate::registry::RegistryError> {
        self.inner.delete_manifest(repository, digest).await
    }
    async fn put_blob(
        &self,
        repository: &Repository,
        bytes: Vec<u8>,
    ) -> Result<Digest, crate::registry::RegistryError> {
        self.inner.put_blob(repository, bytes).await
    }
    async fn put_manifest_bytes(
        &self,
        repository: &Repository,
        tag: &Tag,
        media_type: &str,
        bytes: Vec<u8>,
    ) -> Result<Digest, crate::registry::RegistryError> {
        self.inner
            .put_manifest_bytes(repository, tag, media_type, bytes)
            .await
    }
    async fn put_manifest_by_digest(
        &self,
        repository: &Repository,
        media_type: &str,
        bytes: Vec<u8>,
    ) -> Result<(Digest, bool), crate::registry::RegistryError> {
        self.inner
            .put_manifest_by_digest(repository, media_type, bytes)
            .await
    }
    async fn manifest_bytes(
        &self,
        reference: &Reference,
    ) -> Result<Option<Vec<u8>>, crate::registry::RegistryError> {
        self.inner.manifest_bytes(reference).await
    }
    async fn layer_facts(
        &self,
        repository: &Repository,
        digest: &Digest,
    ) -> Result<crate::sbom::LayerFacts, crate::registry::RegistryError> {
        self.inner.layer_facts(repository, digest).await
    }
}

const OTHER_RUN: &str = "sha256:0e00000000000000000000000000000000000000000000000000000000000000";
const BASE: &str = "registry.local:5000/golden/base";

/// Runs the harness's stack with another run pushing `base:1.0.0` over
/// this run's build at `race`.
fn run_racing(harness: &Harness, race: Race) -> Vec<Outcome> {
    run_racing_with(harness, race, None)
}

/// [`run_racing`], with the lookup of `base:unreadable` failing after the
/// race.
fn run_racing_with(
    harness: &Harness,
    race: Race,
    unreadable: Option<&'static str>,
) -> Vec<Outcome> {
    let racing = Racing {
        inner: harness.registry.clone(),
        repository: BASE,
        tag: "1.0.0",
        race,
        other: OTHER_RUN,
        done: Default::default(),
        unreadable,
    };
    let pool = crate::pool::Pool::single("fake", harness.engine.clone(), 1);
    let outcomes = harness.run_against(
        &racing,
        &pool,
        never_built(&harness.project),
        false,
        Stop::default(),
    );
    assert!(
        racing.done.load(std::sync::atomic::Ordering::SeqCst),
        "no race happened"
    );
    outcomes
}

/// The build that lost `1.0.0` is not released: it is built again as
/// 1.0.1, which takes the floating tags; `1.0.0` keeps the other run's.
#[track_caller]
fn assert_republished(harness: &Harness, outcomes: &[Outcome]) {
    let base = &outcomes[0];
    assert_eq!(base.status, Status::Built, "{:?}", base.error);
    assert_eq!(
        base.version.map(|v| v.to_string()).as_deref(),
        Some("1.0.1")
    );
    let released = harness.registry.get(BASE, "1.0.1");
    assert_eq!(base.digest.as_ref().map(ToString::to_string), released);
    assert_eq!(
        harness.registry.get(BASE, "1.0.0").as_deref(),
        Some(OTHER_RUN)
    );
    for floating in ["1.0", "1", "latest"] {
        assert_eq!(harness.registry.get(BASE, floating), released, "{floating}");
    }
    assert_eq!(base.floating, ["1.0", "1", "latest"]);
    let builds = harness
        .engine_calls()
        .into_iter()
        .filter(|c| c.starts_with("build registry.local:5000/golden/base"))
        .count();
    assert_eq!(builds, 2, "built again with the next number in its labels");
    // The child builds on the release, not on the lost build.
    assert_eq!(status(outcomes, "app"), Status::Built);
}

#[test]
fn a_build_whose_exact_tag_another_run_pushed_over_before_the_moves_is_not_released() {
    let harness = Harness::new(CONFIG, Faults::default());
    let outcomes = run_racing(&harness, Race::BeforeMoves);
    assert_republished(&harness, &outcomes);
    // No floating tag ever moved to the lost build.
    let lost = "sha256:1000000000000000000000000000000000000000000000000000000000000000";
    assert!(
        !harness
            .copies()
            .iter()
            .any(|c| c.starts_with(&format!("copy {BASE}:")) && c.ends_with(lost)),
        "{:?}",
        harness.copies()
    );
}

#[test]
fn a_build_whose_exact_tag_another_run_pushed_over_during_the_moves_is_not_released() {
    let harness = Harness::new(CONFIG, Faults::default());
    let outcomes = run_racing(&harness, Race::DuringMoves);
    assert_republished(&harness, &outcomes);
}

#[test]
fn an_engine_lost_during_a_push_is_left_and_the_image_built_again_on_another() {
    let harness = Harness::new(CONFIG, Faults::default());
    let doomed = Arc::new(FakeEngine {
        lose_on_push: BTreeSet::from(["base".to_string()]),
        ..FakeEngine::new(harness.registry.clone())
    });
    let pool = pool_of(vec![("a", doomed.clone()), ("b", harness.engine.clone())]);
    let outcomes = harness.run_on(&pool, never_built(&harness.project), false, Stop::default());
    assert_eq!(outcomes[0].status, Status::Built, "{:?}", outcomes[0].error);
    assert_eq!(outcomes[0].built_on, [(None, "b".to_string())]);
    assert_eq!(
        outcomes[0].version.map(|v| v.to_string()).as_deref(),
        Some("1.0.0")
    );
    assert!(pool.is_down(0));
    assert!(harness
        .engine_calls()
        .contains(&"push registry.local:5000/golden/base:1.0.0".to_string()));
    // Tried once on the lost engine: no retry of a push it cannot make.
    let pushes = doomed
        .calls
        .lock()
        .unwrap()
        .iter()
        .filter(|c| c.starts_with("push "))
        .count();
    assert_eq!(pushes, 1);
    assert_eq!(status(&outcomes, "app"), Status::Built);
}

#[test]
fn an_engine_lost_during_a_push_fails_the_image_when_no_other_engine_can_build_it() {
    let harness = Harness::new(CONFIG, Faults::default());
    let doomed = Arc::new(FakeEngine {
        lose_on_push: BTreeSet::from(["base".to_string()]),
        ..FakeEngine::new(harness.registry.clone())
    });
    let pool = crate::pool::Pool::single("only", doomed, 1);
    let outcomes = harness.run_on(&pool, never_built(&harness.project), false, Stop::default());
    assert_eq!(outcomes[0].status, Status::Failed);
    let error = outcomes[0].error.clone().unwrap_or_default();
    assert!(
        error.contains(
            "engine `only` was lost during the push of `base`, and no other engine can build it"
        ),
        "{error}"
    );
    assert!(pool.is_down(0));
    assert_eq!(harness.registry.get(BASE, "1.0"), None);
}

#[test]
fn a_second_image_pushing_on_the_same_lost_engine_is_built_again_too() {
    let two = "[registry]\nhost = \"registry.local:5000\"\nnamespace = \"golden\"\n\
[images.side]\nversion = \"1.0\"\ncontext = \"images/base\"\n\
[images.other]\nversion = \"1.0\"\ncontext = \"images/base\"\n\
[images.third]\nversion = \"1.0\"\ncontext = \"images/base\"\n";
    let harness = Harness::new(two, Faults::default());
    // Least loaded first: two of the three build side by side on `a`, one
    // on `b`; `a` dies during the first push on it, and the second push
    // there fails on an engine already down.
    let doomed = Arc::new(FakeEngine {
        lose_on_push: BTreeSet::from(["side", "other", "third"].map(String::from)),
        ..FakeEngine::new(harness.registry.clone())
    });
    let member = |name: &str, engine: Arc<FakeEngine>, jobs: usize| crate::pool::Member {
        name: name.into(),
        host: format!("unix:///{name}.sock"),
        engine,
        platforms: Vec::new(),
        jobs,
        labels: BTreeSet::new(),
        builder: crate::config::builders::BuilderChoice::Auto,
    };
    let pool = crate::pool::Pool::new(
        vec![
            member("a", doomed.clone(), 2),
            member("b", harness.engine.clone(), 1),
        ],
        &[],
    );
    let outcomes = harness.run_on(&pool, never_built(&harness.project), false, Stop::default());
    let pushed_on_a: Vec<String> = doomed
        .calls
        .lock()
        .unwrap()
        .iter()
        .filter(|c| c.starts_with("push "))
        .cloned()
        .collect();
    assert_eq!(pushed_on_a.len(), 2, "two pushed on `a`: {pushed_on_a:?}");
    assert!(pool.is_down(0));
    for outcome in &outcomes {
        let id = &outcome.id;
        assert_eq!(outcome.status, Status::Built, "{id}: {:?}", outcome.error);
        assert_eq!(outcome.built_on, [(None, "b".to_string())], "{id}");
    }
    assert_eq!(outcomes.len(), 3);
}

/// An engine that dies pushing `names`, after the registry took the
/// manifest when `half_push`.
fn doomed_on_push(
    registry: &Arc<FakeRegistry>,
    names: &[&str],
    half_push: bool,
) -> Arc<FakeEngine> {
    Arc::new(FakeEngine {
        lose_on_push: names.iter().map(|name| name.to_string()).collect(),
        half_push,
        ..FakeEngine::new(registry.clone())
    })
}

fn pool_of(engines: Vec<(&str, Arc<FakeEngine>)>) -> crate::pool::Pool {
    let members = engines
        .into_iter()
        .map(|(name, engine)| crate::pool::Member {
            name: name.into(),
            host: format!("unix:///{name}.sock"),
            engine,
            platforms: Vec::new(),
            jobs: 1,
            labels: BTreeSet::new(),
            builder: crate::config::builders::BuilderChoice::Auto,
        })
        .collect();
    crate::pool::Pool::new(members, &[])
}

#[test]
fn an_exact_tag_holding_this_runs_own_cut_short_push_is_not_blamed_on_other_runs() {
    let harness = Harness::new(CONFIG, Faults::default());
    // `a` dies after the registry took 1.0.0; the retry on `b` finds its
    // own half-push there and takes 1.0.1, which `b` dies pushing too.
    let pool = pool_of(vec![
        ("a", doomed_on_push(&harness.registry, &["base"], true)),
        ("b", doomed_on_push(&harness.registry, &["base"], true)),
        ("c", harness.engine.clone()),
    ]);
    let outcomes = harness.run_on(&pool, never_built(&harness.project), false, Stop::default());
    assert_eq!(outcomes[0].status, Status::Failed);
    let error = outcomes[0].error.clone().unwrap_or_default();
    assert!(!error.contains("taken by other runs"), "{error}");
    assert!(
        error.contains("exact tags 1.0.0 of `registry.local:5000/golden/base` hold this run's own pushes, cut short by a lost engine"),
        "{error}"
    );
    assert!(error.contains("`a`, `b`"), "{error}");
}

#[test]
fn a_failure_after_a_lost_race_still_names_the_floating_tags_it_stranded() {
    let harness = Harness::new(CONFIG, Faults::default());
    // `1.0` moved to this run's 1.0.0 before another run pushed over it;
    // the retry as 1.0.1 fails before its push.
    let outcomes = run_racing_with(&harness, Race::DuringMoves, Some("1.0.1"));
    assert_eq!(outcomes[0].status, Status::Failed);
    let error = outcomes[0].error.clone().unwrap_or_default();
    assert!(
        error.contains("failed to check `registry.local:5000/golden/base:1.0.1` before pushing"),
        "{error}"
    );
    assert!(
        error.contains("1.0, 1, latest point at sha256:1000000000000000000000000000000000000000000000000000000000000000, which no exact tag holds"),
        "{error}"
    );
}

#[test]
fn a_lost_race_under_upstream_versioning_builds_the_next_revision() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("images/base")).unwrap();
    std::fs::write(
        dir.path().join("images/base/Dockerfile"),
        "FROM registry.local:5000/upstream/busybox:1.36\nARG V\nRUN true\n",
    )
    .unwrap();
    let config = "[registry]\nhost = \"registry.local:5000\"\nnamespace = \"golden\"\n\
        [images.base]\nversion = \"1.0\"\ncontext = \"images/base\"\nversioning = \"upstream\"\n\
        upstream_version = { build_arg = \"V\" }\nbuild_args = { V = \"1.0.3\" }\n";
    let project = Project::from_source(
        SourceFile::new(&dir.path().join("golden.toml"), config),
        &crate::regular_file::Disk,
    )
    .unwrap_or_else(|error| panic!("{error}"));
    let harness = Harness::with_project(project, Faults::default());
    let racing = Racing {
        inner: harness.registry.clone(),
        repository: BASE,
        tag: "1.0.3-r1",
        race: Race::BeforeMoves,
        other: OTHER_RUN,
        done: Default::default(),
        unreadable: None,
    };
    let pool = crate::pool::Pool::single("fake", harness.engine.clone(), 1);
    let outcomes = harness.run_against(
        &racing,
        &pool,
        never_built(&harness.project),
        false,
        Stop::default(),
    );
    assert!(racing.done.load(std::sync::atomic::Ordering::SeqCst));
    let base = &outcomes[0];
    assert_eq!(base.status, Status::Built, "{:?}", base.error);
    assert_eq!(
        base.version.map(|v| v.to_string()).as_deref(),
        Some("1.0.3-r2")
    );
    let released = harness.registry.get(BASE, "1.0.3-r2");
    assert!(released.is_some());
    assert_eq!(
        harness.registry.get(BASE, "1.0.3-r1").as_deref(),
        Some(OTHER_RUN)
    );
    assert_eq!(base.floating, ["1.0", "1.0.3", "1", "latest"]);
    for floating in ["1.0", "1.0.3", "1", "latest"] {
        assert_eq!(harness.registry.get(BASE, floating), released, "{floating}");
    }
}

fn vanishing(harness: &Harness, image: &str, times: usize) {
    harness
        .engine
        .vanishing
        .lock()
        .unwrap()
        .insert(image.to_string(), times);
}

fn builds_of(harness: &Harness, image: &str) -> usize {
    let prefix = format!("build registry.local:5000/golden/{image}:");
    harness
        .engine_calls()
        .iter()
        .filter(|call| call.starts_with(&prefix))
        .count()
}

#[test]
fn a_build_whose_cached_image_was_removed_meanwhile_is_built_again() {
    let harness = Harness::new(CONFIG, Faults::default());
    vanishing(&harness, "app", 2);
    let outcomes = harness.run(2, false, Stop::default());
    assert_eq!(status(&outcomes, "app"), Status::Built, "{outcomes:?}");
    assert_eq!(builds_of(&harness, "app"), 3);
    assert_eq!(builds_of(&harness, "base"), 1);
}

#[test]
fn a_build_whose_cached_images_keep_vanishing_fails_after_three_attempts() {
    let harness = Harness::new(CONFIG, Faults::default());
    vanishing(&harness, "app", 3);
    let outcomes = harness.run(2, false, Stop::default());
    assert_eq!(status(&outcomes, "app"), Status::Failed, "{outcomes:?}");
    assert_eq!(builds_of(&harness, "app"), 3);
}

#[test]
fn only_a_vanished_cached_image_is_a_reason_to_build_again() {
    let failed = |message: &str| EngineError::BuildFailed {
        image: "app".into(),
        step: Some("Step 2/3 : COPY motd /etc/motd".into()),
        message: message.into(),
        tail: vec![],
    };
    assert!(failed("unable to find image \"sha256:22774f25c3745626578012a772de597b1931e9a35f810c1c3e7b022c21b7b381\"").is_vanished_image());
    assert!(failed("No such image: sha256:22774f25c374").is_vanished_image());
    // A FROM that names a missing image is the Dockerfile's mistake.
    assert!(!failed("pull access denied for nope, repository does not exist").is_vanished_image());
    assert!(!failed("unable to find image \"nope:1\" locally").is_vanished_image());
    assert!(
        !failed("The command '/bin/sh -c false' returned a non-zero code: 1").is_vanished_image()
    );
    assert!(!EngineError::Api {
        action: "build".into(),
        message: "unable to find image \"sha256:1\"".into()
    }
    .is_vanished_image());
    // BuildKit's internal failure of one of several concurrent builds.
    assert!(failed("bytes remaining on stream").is_buildkit_hiccup());
    assert!(
        !failed("executor failed running [/bin/sh -c false]: exit code: 1").is_buildkit_hiccup()
    );
}
