//! Orchestration against in-memory fakes of the engine and the registry
//! that record every call: order, failure isolation, and that no floating
//! tag moves unless the exact tag was pushed and confirmed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::*;
use crate::diagnostic::SourceFile;
use crate::engine::EngineError;
use crate::observe::Observation;
use crate::plan::{plan, Selection};
use crate::registry::{ImageConfig, RegistryError};

const CONFIG: &str = "[registry]\nhost = \"registry.local:5000\"\nnamespace = \"golden\"\n\
[images.base]\nversion = \"1.0\"\ncontext = \"images/base\"\n\
[images.app]\nversion = \"1.0\"\ncontext = \"images/app\"\n";

#[derive(Default)]
struct FakeRegistry {
    /// repository -> tag -> digest
    tags: Mutex<BTreeMap<String, BTreeMap<String, String>>>,
    calls: Mutex<Vec<String>>,
}

impl FakeRegistry {
    fn put(&self, repository: &str, tag: &str, digest: &str) {
        self.tags
            .lock()
            .unwrap()
            .entry(repository.to_string())
            .or_default()
            .insert(tag.to_string(), digest.to_string());
    }

    fn get(&self, repository: &str, tag: &str) -> Option<String> {
        self.tags
            .lock()
            .unwrap()
            .get(repository)
            .and_then(|tags| tags.get(tag).cloned())
    }
}

#[async_trait]
impl Registry for FakeRegistry {
    async fn check(&self, _: &Reference) -> Result<(), RegistryError> {
        Ok(())
    }
    async fn tags(&self, repository: &Reference) -> Result<Vec<String>, RegistryError> {
        Ok(self
            .tags
            .lock()
            .unwrap()
            .get(&repository.repository())
            .map(|t| t.keys().cloned().collect())
            .unwrap_or_default())
    }
    async fn manifest_digest(
        &self,
        reference: &Reference,
    ) -> Result<Option<String>, RegistryError> {
        Ok(self.get(&reference.repository(), reference.tag().unwrap_or("latest")))
    }
    async fn image_config(&self, _: &Reference) -> Result<ImageConfig, RegistryError> {
        Ok(ImageConfig::default())
    }
    async fn copy_tag(
        &self,
        repository: &Reference,
        digest: &str,
        tag: &str,
    ) -> Result<(), RegistryError> {
        self.calls.lock().unwrap().push(format!(
            "copy {}:{tag} -> {digest}",
            repository.repository()
        ));
        self.put(&repository.repository(), tag, digest);
        Ok(())
    }
    fn requests(&self) -> u64 {
        0
    }
}

struct FakeEngine {
    registry: Arc<FakeRegistry>,
    failing_builds: BTreeSet<String>,
    failing_pushes: BTreeSet<String>,
    calls: Mutex<Vec<String>>,
}

#[async_trait]
impl Engine for FakeEngine {
    async fn build(&self, request: BuildRequest) -> Result<String, EngineError> {
        let base_label = request
            .labels
            .get(crate::labels::BASE_DIGEST)
            .cloned()
            .unwrap_or_default();
        self.calls
            .lock()
            .unwrap()
            .push(format!("build {} on {base_label}", request.tag));
        if self.failing_builds.contains(&request.image) {
            return Err(EngineError::BuildFailed {
                image: request.image,
                step: Some("Step 2/2 : RUN false".into()),
                message: "exit 1".into(),
                tail: vec![],
            });
        }
        Ok(format!("image-{}", request.tag))
    }
    async fn push(&self, reference: &Reference) -> Result<String, EngineError> {
        self.calls.lock().unwrap().push(format!("push {reference}"));
        if self
            .failing_pushes
            .iter()
            .any(|name| reference.path().ends_with(name.as_str()))
        {
            return Err(EngineError::PushFailed {
                reference: reference.to_string(),
                message: "connection reset".into(),
            });
        }
        let digest = format!(
            "sha256:{}",
            reference.tag().unwrap_or_default().replace('.', "")
        );
        self.registry.put(
            &reference.repository(),
            reference.tag().unwrap_or_default(),
            &digest,
        );
        Ok(digest)
    }
}

const UPSTREAM: &str = "sha256:upstream";

fn project() -> Project {
    Project::from_source(SourceFile::new(
        Path::new("tests/fixtures/config/golden.toml"),
        CONFIG,
    ))
    .unwrap()
}

fn never_built() -> Observations {
    let observation = |base: Option<&str>| Observation {
        versions: Vec::new(),
        last_build: None,
        base_digest: base.map(str::to_string),
        recipe: "sha256:recipe".into(),
        entries: Vec::new(),
    };
    let mut observations = Observations::new();
    observations.insert("base".into(), Ok(observation(Some(UPSTREAM))));
    observations.insert("app".into(), Ok(observation(None)));
    observations
}

struct Harness {
    registry: Arc<FakeRegistry>,
    engine: FakeEngine,
}

impl Harness {
    fn new(failing_builds: &[&str], failing_pushes: &[&str]) -> Harness {
        let registry = Arc::new(FakeRegistry::default());
        let engine = FakeEngine {
            registry: registry.clone(),
            failing_builds: failing_builds.iter().map(|s| s.to_string()).collect(),
            failing_pushes: failing_pushes.iter().map(|s| s.to_string()).collect(),
            calls: Mutex::new(Vec::new()),
        };
        Harness { registry, engine }
    }

    fn run(&self, observations: &Observations) -> Vec<Outcome> {
        let project = project();
        let selection = Selection {
            ids: project.graph.order.clone(),
            forced: BTreeSet::new(),
        };
        let steps = plan(&project, observations, &selection, chrono::Utc::now());
        let runner = Runner {
            project: &project,
            engine: &self.engine,
            registry: self.registry.as_ref(),
            observations,
            revision: None,
            stop: Stop::default(),
        };
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(runner.run(&steps))
    }

    fn engine_calls(&self) -> Vec<String> {
        self.engine.calls.lock().unwrap().clone()
    }

    fn copies(&self) -> Vec<String> {
        self.registry.calls.lock().unwrap().clone()
    }
}

#[test]
fn parents_build_first_and_children_build_on_the_pushed_digest() {
    let harness = Harness::new(&[], &[]);
    let outcomes = harness.run(&never_built());
    let statuses: Vec<(&str, Status)> =
        outcomes.iter().map(|o| (o.id.as_str(), o.status)).collect();
    assert_eq!(
        statuses,
        vec![("base", Status::Built), ("app", Status::Built)]
    );
    assert_eq!(
        harness.engine_calls(),
        vec![
            "build registry.local:5000/golden/base:1.0.0 on sha256:upstream",
            "push registry.local:5000/golden/base:1.0.0",
            "build registry.local:5000/golden/app:1.0.0 on sha256:100",
            "push registry.local:5000/golden/app:1.0.0",
        ]
    );
    assert_eq!(outcomes[0].floating, vec!["1.0", "1", "latest"]);
    assert_eq!(
        harness
            .registry
            .get("registry.local:5000/golden/base", "latest")
            .as_deref(),
        Some("sha256:100")
    );
}

#[test]
fn a_failed_build_skips_its_dependents_and_pushes_nothing() {
    let harness = Harness::new(&["base"], &[]);
    let outcomes = harness.run(&never_built());
    assert_eq!(outcomes[0].status, Status::Failed);
    assert!(outcomes[0]
        .error
        .as_deref()
        .unwrap()
        .contains("Step 2/2 : RUN false"));
    assert_eq!(outcomes[1].status, Status::Skipped);
    assert_eq!(
        outcomes[1].reasons,
        vec![Reason::ParentFailed {
            parent: "base".into()
        }]
    );
    assert_eq!(
        harness.engine_calls(),
        vec!["build registry.local:5000/golden/base:1.0.0 on sha256:upstream"]
    );
    assert!(harness.copies().is_empty());
}

#[test]
fn a_failed_push_moves_no_floating_tag() {
    let harness = Harness::new(&[], &["base"]);
    harness
        .registry
        .put("registry.local:5000/golden/base", "1.0", "sha256:previous");
    let outcomes = harness.run(&never_built());
    assert_eq!(outcomes[0].status, Status::Failed);
    assert!(outcomes[0].floating.is_empty());
    assert!(harness.copies().is_empty(), "{:?}", harness.copies());
    assert_eq!(
        harness
            .registry
            .get("registry.local:5000/golden/base", "1.0")
            .as_deref(),
        Some("sha256:previous")
    );
    assert_eq!(outcomes[1].status, Status::Skipped);
}

#[test]
fn an_exact_tag_that_appeared_meanwhile_is_never_overwritten() {
    let harness = Harness::new(&[], &[]);
    harness.registry.put(
        "registry.local:5000/golden/base",
        "1.0.0",
        "sha256:someone-else",
    );
    let outcomes = harness.run(&never_built());
    assert_eq!(outcomes[0].status, Status::Failed);
    assert!(outcomes[0]
        .error
        .as_deref()
        .unwrap()
        .contains("never overwritten"));
    assert!(!harness
        .engine_calls()
        .iter()
        .any(|call| call.starts_with("push")));
    assert_eq!(
        harness
            .registry
            .get("registry.local:5000/golden/base", "1.0.0")
            .as_deref(),
        Some("sha256:someone-else")
    );
}

#[test]
fn a_stop_request_starts_nothing_new() {
    let harness = Harness::new(&[], &[]);
    let project = project();
    let observations = never_built();
    let selection = Selection {
        ids: project.graph.order.clone(),
        forced: BTreeSet::new(),
    };
    let steps = plan(&project, &observations, &selection, chrono::Utc::now());
    let stop = Stop::default();
    stop.request();
    let runner = Runner {
        project: &project,
        engine: &harness.engine,
        registry: harness.registry.as_ref(),
        observations: &observations,
        revision: None,
        stop,
    };
    let outcomes = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(runner.run(&steps));
    assert!(outcomes.iter().all(|o| o.status == Status::Skipped));
    assert!(harness.engine_calls().is_empty());
}
