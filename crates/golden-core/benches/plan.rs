//! P6 of bench/: planning cost for 1,000 synthetic golden images.
//!
//! Three measurements, all pure code (no registry, no engine):
//! - `load_1000`: parse golden.toml and read the 1,000 Dockerfiles it names
//!   into the dependency graph (`Project::from_source`), the part of a run
//!   before any registry request (the files are held in memory: the core
//!   reads through the `Files` port);
//! - `plan_1000/up_to_date`: `plan::plan` when nothing is due, the hourly case;
//! - `plan_1000/ten_percent_due`: the same with every tenth upstream image
//!   on a new base digest, so their golden children are due too.
//!
//! The images: 900 FROM an upstream image and 100 FROM one of the first 100
//! (a golden parent `127.0.0.1:5000/golden/img-NNNN:1.0`), so the graph has
//! edges and the order is not trivial. Run with `cargo bench -p golden-core
//! --bench plan`.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::hint::black_box;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use criterion::{criterion_group, criterion_main, Criterion};
use golden_core::diagnostic::SourceFile;
use golden_core::graph::Upstream;
use golden_core::name::{Digest, Tag};
use golden_core::observation::{LastBuild, Observation, Observations};
use golden_core::plan::{plan, Decision, Selection};
use golden_core::project::Project;
use golden_core::testing::MemoryFiles;

const IMAGES: usize = 1000;
const CHILDREN: usize = 100;
const UPSTREAM: &str = "127.0.0.1:5000/upstream/busybox:1.36";

/// 1,000 contexts in memory and the golden.toml naming them.
struct Fixture {
    files: MemoryFiles,
    config_path: PathBuf,
    config_text: String,
}

fn id(index: usize) -> String {
    format!("img-{index:04}")
}

fn fixture() -> Fixture {
    let root = Path::new("/bench");
    let mut files = MemoryFiles::new();
    let mut config = String::from(
        "[registry]\nhost = \"127.0.0.1:5000\"\nnamespace = \"golden\"\n\n[defaults]\nschedule = \"@weekly\"\n",
    );
    for index in 0..IMAGES {
        let name = id(index);
        let context = root.join("images").join(&name);
        // The last CHILDREN images are built FROM one of the first CHILDREN.
        let from = if index >= IMAGES - CHILDREN {
            format!(
                "127.0.0.1:5000/golden/{}:1.0",
                id(index - (IMAGES - CHILDREN))
            )
        } else {
            UPSTREAM.to_string()
        };
        files.file(
            context.join("Dockerfile"),
            format!("FROM {from}\nCOPY motd /etc/motd\nRUN echo {name} > /etc/golden-id\n"),
        );
        files.file(context.join("motd"), format!("{name}\n"));
        write!(
            config,
            "\n[images.{name}]\nversion = \"1.0\"\ncontext = \"images/{name}\"\n"
        )
        .unwrap();
    }
    let config_path = root.join("golden.toml");
    files.file(&config_path, config.clone());
    Fixture {
        files,
        config_path,
        config_text: config,
    }
}

fn load(files: &MemoryFiles, path: &Path, text: &str) -> Project {
    Project::from_source(SourceFile::new(path, text), files).expect("the synthetic config is valid")
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn digest(kind: &str, index: usize) -> String {
    use sha2::{Digest, Sha256};
    format!("sha256:{:x}", Sha256::digest(format!("{kind}-{index}")))
}

/// What the registry would say for each image: one build 1.0.0 made on
/// Wednesday, floating tags on it, recipe and base unchanged; with
/// `due_every`, every such upstream image sees a new base digest.
fn observations(project: &Project, due_every: Option<usize>) -> Observations {
    let upstream_now = digest("upstream", 0);
    let created = at("2026-03-04T10:00:00Z");
    let mut observations = Observations::new();
    for (index, id) in project.graph.order.iter().enumerate() {
        let node = &project.graph.nodes[id];
        let recorded_base = match &node.upstream {
            Upstream::Golden { id: parent, .. } => digest("golden", parent_index(parent)),
            _ => upstream_now.clone(),
        };
        let base_now = match (&node.upstream, due_every) {
            (Upstream::External(_), Some(every)) if index % every == 0 => digest("upstream", 1),
            _ => recorded_base.clone(),
        };
        let own = Digest::parse(&digest("golden", parent_index(id))).unwrap();
        let recipe = digest("recipe", parent_index(id));
        let version = "1.0.0".parse().unwrap();
        observations.insert(
            id.clone(),
            Ok(Observation {
                versions: vec![version],
                last_build: Some(LastBuild {
                    version,
                    digest: own.clone(),
                    created: Some(created),
                    recipe: Some(recipe.clone()),
                    recipe_parts: None,
                    reasons: None,
                    base_name: Some(UPSTREAM.to_string()),
                    base_digest: Some(recorded_base),
                    floating: ["1.0", "1", "latest"]
                        .into_iter()
                        .map(|tag| golden_core::observation::FloatingTag {
                            tag: Tag::parse(tag).unwrap(),
                            digest: Some(own.clone()),
                        })
                        .collect(),
                    release: Some((version, own)),
                    incomplete: None,
                    withdrawn: Vec::new(),
                    platforms: Vec::new(),
                }),
                foreign: Vec::new(),
                known: Default::default(),
                base_digest: Some(Digest::parse(&base_now).unwrap()),
                base_platforms_changed: Vec::new(),
                recipe: Some(golden_core::context::Recipe {
                    digest: recipe,
                    parts: Default::default(),
                }),
                entries: Vec::new(),
                tags_remembered: false,
                failing: None,
                tracked: None,
            }),
        );
    }
    observations
}

fn parent_index(id: &str) -> usize {
    id.trim_start_matches("img-").parse().unwrap()
}

fn benches(c: &mut Criterion) {
    let fixture = fixture();
    let project = load(&fixture.files, &fixture.config_path, &fixture.config_text);
    assert_eq!(project.graph.order.len(), IMAGES);
    let selection = Selection {
        ids: project.graph.order.clone(),
        forced: BTreeSet::new(),
        cache: None,
    };
    // Thursday: the weekly schedule last fired on Sunday, before the builds.
    let now = at("2026-03-05T12:00:00Z");
    let fresh = observations(&project, None);
    let due = observations(&project, Some(10));

    // The scenarios are what they claim to be.
    let steps = plan(&project, &fresh, &selection, now);
    assert!(steps.iter().all(|s| s.decision() == Decision::UpToDate));
    let due_count = plan(&project, &due, &selection, now)
        .iter()
        .filter(|s| s.decision() == Decision::Build)
        .count();
    assert!(due_count >= IMAGES / 10, "{due_count} due");

    c.bench_function("load_1000", |b| {
        b.iter(|| {
            load(
                &fixture.files,
                black_box(&fixture.config_path),
                black_box(&fixture.config_text),
            )
        })
    });
    let mut group = c.benchmark_group("plan_1000");
    group.bench_function("up_to_date", |b| {
        b.iter(|| plan(black_box(&project), black_box(&fresh), &selection, now))
    });
    group.bench_function("ten_percent_due", |b| {
        b.iter(|| plan(black_box(&project), black_box(&due), &selection, now))
    });
    group.finish();
}

criterion_group! {
    name = plan_benches;
    config = Criterion::default().sample_size(20);
    targets = benches
}
criterion_main!(plan_benches);
