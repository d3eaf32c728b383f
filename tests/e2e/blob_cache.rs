//! End to end against the real registry: the on-disk cache of manifests
//! and configs, and of the digests exact tags and the tag lists resolved
//! to. A repeated no-op run asks the registry only about the three
//! floating tags of each line; a line due is observed again before it is
//! built, so a tag added meanwhile is seen; an exact tag pushed over by
//! someone else, with its floating tags, is asked again and never
//! published from memory; a corrupted cache file is detected, fetched
//! again and does not change the result; `--no-cache-dir` and
//! `GOLDEN_NO_CACHE_DIR` leave the cache directory untouched.

use crate::support;

use std::path::{Path, PathBuf};

use support::{Golden, REGISTRY, SEED};

/// Lines (one image each, in its own repository) of the test project.
const LINES: u64 = 3;

struct Project {
    directory: tempfile::TempDir,
    namespace: String,
}

impl Project {
    fn new(name: &str) -> Project {
        support::require_environment();
        let directory = tempfile::tempdir().unwrap();
        let namespace = format!("e2e-blob-cache-{name}-{}", std::process::id());
        let mut config =
            format!("[registry]\nhost = \"{REGISTRY}\"\nnamespace = \"{namespace}\"\n");
        for i in 1..=LINES {
            let context = directory.path().join(format!("img{i}"));
            std::fs::create_dir_all(&context).unwrap();
            std::fs::write(context.join("motd"), format!("{namespace} image {i}\n")).unwrap();
            std::fs::write(
                context.join("Dockerfile"),
                format!("FROM {SEED}\nCOPY motd /etc/motd\n"),
            )
            .unwrap();
            config.push_str(&format!(
                "\n[images.img{i}]\nversion = \"1.0\"\ncontext = \"img{i}\"\n"
            ));
        }
        std::fs::write(directory.path().join("golden.toml"), config).unwrap();
        Project {
            directory,
            namespace,
        }
    }

    fn cache_home(&self, name: &str) -> PathBuf {
        self.directory.path().join(name)
    }

    /// `golden ARGS --report FILE` with `XDG_CACHE_HOME=cache_home`: the
    /// report's totals.
    fn run(&self, cache_home: &Path, args: &[&str], env: &[(&str, &str)]) -> serde_json::Value {
        self.report(cache_home, args, env)["totals"].clone()
    }

    /// `golden ARGS --report FILE` with `XDG_CACHE_HOME=cache_home`: the
    /// whole report.
    fn report(&self, cache_home: &Path, args: &[&str], env: &[(&str, &str)]) -> serde_json::Value {
        let report = self.directory.path().join("report.json");
        let mut golden = Golden::at(&self.directory.path().join("golden.toml"))
            .args(args)
            .args(["--report", report.to_str().unwrap()])
            .env("XDG_CACHE_HOME", cache_home)
            .env("DOCKER_BUILDKIT", "0");
        for (key, value) in env {
            golden = golden.env(key, value);
        }
        golden.run().expect(0);
        let text = std::fs::read_to_string(&report).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    fn no_op(&self, cache_home: &Path, args: &[&str], env: &[(&str, &str)]) -> u64 {
        let mut all = vec!["build", "--all"];
        all.extend_from_slice(args);
        let totals = self.run(cache_home, &all, env);
        assert_eq!(totals["built"], 0, "{totals}");
        assert_eq!(totals["up_to_date"], LINES, "{totals}");
        totals["registry_requests"].as_u64().unwrap()
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        support::engines::DockerCli::main().remove_tagged(&self.namespace);
    }
}

/// The files of `directory`, sorted.
fn files(directory: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(directory)
        .map(|entries| entries.flatten().map(|entry| entry.path()).collect())
        .unwrap_or_default();
    found.sort();
    found
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// The sha256 of `bytes` in hex.
fn sha256(bytes: &[u8]) -> String {
    golden::name::Digest::of(bytes).hex().to_string()
}

#[test]
fn a_repeated_no_op_run_reads_manifests_and_configs_from_the_cache() {
    let project = Project::new("repeat");
    let cache = project.cache_home("cache");
    // Lines never released: no list a later run could confirm, none kept.
    Golden::at(&project.directory.path().join("golden.toml"))
        .args(["plan"])
        .env("XDG_CACHE_HOME", &cache)
        .run()
        .expect(0);
    let unconfirmable = files(&cache.join("golden/tag-lists"));
    assert!(unconfirmable.is_empty(), "{unconfirmable:?}");
    project.run(&cache, &["build", "--all"], &[]);
    let first = project.no_op(&cache, &[], &[]);
    let second = project.no_op(&cache, &[], &[]);
    // Per line: the three floating tags (HEADs); the tag list and the
    // exact tag are remembered, confirmed by them. Per run: the scheme
    // probe, the version check and the base.
    assert!(
        second <= 3 * LINES + 3,
        "the second no-op run made {second} registry requests (the first {first}); at most {} expected",
        3 * LINES + 3
    );
    let remembered = files(&cache.join("golden/tags"));
    assert_eq!(remembered.len() as u64, LINES, "{remembered:?}");
    let lists = files(&cache.join("golden/tag-lists"));
    assert_eq!(lists.len() as u64, LINES, "{lists:?}");
    let configs = files(&cache.join("golden/configs"));
    let manifests = files(&cache.join("golden/manifests"));
    // Each line's build, and the shared base's (its ONBUILD triggers,
    // read before the first build to know what the build reads).
    assert_eq!(configs.len() as u64, LINES + 1, "{configs:?}");
    assert!(manifests.len() as u64 >= LINES, "{manifests:?}");
    for config in &configs {
        let name = config.file_name().unwrap().to_str().unwrap();
        assert_eq!(sha256(&std::fs::read(config).unwrap()), name);
    }
}

#[test]
fn a_corrupted_cache_file_is_fetched_again_and_does_not_change_the_result() {
    let project = Project::new("corrupt");
    let cache = project.cache_home("cache");
    project.run(&cache, &["build", "--all"], &[]);
    project.no_op(&cache, &[], &[]);
    let clean = project.no_op(&cache, &[], &[]);
    // A golden build's config and manifest, which a no-op run reads; the
    // upstream's, cached when the build read its ONBUILD triggers, it
    // does not.
    let config = files(&cache.join("golden/configs"))
        .into_iter()
        .find(|path| contains(&std::fs::read(path).unwrap(), b"io.golden.recipe"))
        .expect("a cached config of a golden build");
    let config_digest = config.file_name().unwrap().to_str().unwrap().to_string();
    let manifest = files(&cache.join("golden/manifests"))
        .into_iter()
        .find(|path| contains(&std::fs::read(path).unwrap(), config_digest.as_bytes()))
        .expect("a cached manifest of a golden build");
    let original = std::fs::read(&config).unwrap();
    // Labels that would make the image look foreign, or out of date.
    std::fs::write(&config, br#"{"config":{"Labels":{}}}"#).unwrap();
    std::fs::write(&manifest, b"application/json\n{\"manifests\":[]}").unwrap();
    let after = project.no_op(&cache, &[], &[]);
    // The two corrupted objects were fetched again, and stored again intact.
    assert!(after > clean && after <= clean + 2, "{after} vs {clean}");
    assert_eq!(std::fs::read(&config).unwrap(), original);
    let manifest_bytes = std::fs::read(&manifest).unwrap();
    let newline = manifest_bytes.iter().position(|&b| b == b'\n').unwrap();
    assert_eq!(
        sha256(&manifest_bytes[newline + 1..]),
        manifest.file_name().unwrap().to_str().unwrap()
    );
    assert_eq!(project.no_op(&cache, &[], &[]), clean);
}

#[test]
fn no_cache_dir_leaves_the_cache_directory_untouched() {
    let project = Project::new("off");
    let cache = project.cache_home("cache");
    project.run(&cache, &["build", "--all"], &[]);
    let flag = project.cache_home("flag");
    std::fs::create_dir_all(&flag).unwrap();
    let uncached = project.no_op(&flag, &["--no-cache-dir"], &[]);
    let again = project.no_op(&flag, &["--no-cache-dir"], &[]);
    assert_eq!(files(&flag), Vec::<PathBuf>::new());
    assert_eq!(uncached, again, "without the cache every run asks the same");
    let variable = project.cache_home("variable");
    std::fs::create_dir_all(&variable).unwrap();
    project.no_op(&variable, &[], &[("GOLDEN_NO_CACHE_DIR", "1")]);
    assert_eq!(files(&variable), Vec::<PathBuf>::new());
    // And with the cache on, the same directory fills.
    project.no_op(&variable, &[], &[]);
    assert!(!files(&variable.join("golden/configs")).is_empty());
}

/// Someone pushes a foreign image over `img1`'s exact tag 1.0.0 and its
/// floating tags (which the contract forbids for the exact tag). The
/// remembered digest of 1.0.0 disagrees with the floating tags asked this
/// run, so golden asks for 1.0.0 again, finds it foreign, builds 1.0.1 and
/// moves the floating tags there. Trusting the memory would have moved
/// them back to the old build, which no exact tag names any more.
#[test]
fn an_exact_tag_pushed_over_is_asked_again_and_not_published_from_memory() {
    let project = Project::new("pushed-over");
    let cache = project.cache_home("cache");
    project.run(&cache, &["build", "--all"], &[]);
    project.no_op(&cache, &[], &[]);
    assert_eq!(files(&cache.join("golden/tags")).len() as u64, LINES);
    let repository = format!("{REGISTRY}/{}/img1", project.namespace);
    let old = support::assert_floating(&repository, "1.0.0", &["1.0", "1", "latest"]);
    support::docker(&["pull", "-q", SEED]);
    for tag in ["1.0.0", "1.0", "1", "latest"] {
        support::push_as(SEED, &repository, tag);
    }
    let foreign = support::assert_floating(&repository, "1.0.0", &["1.0", "1", "latest"]);
    assert_ne!(foreign, old);
    let totals = project.run(&cache, &["build", "--all"], &[]);
    assert_eq!(totals["built"], 1, "{totals}");
    // 1.0.0 stays what was pushed over it; the floating tags follow the
    // new golden build, never the old digest remembered for 1.0.0.
    assert_eq!(support::digest(&repository, "1.0.0"), Some(foreign));
    let new = support::assert_floating(&repository, "1.0.1", &["1.0", "1", "latest"]);
    assert_ne!(new, old);
    assert_eq!(
        support::labels(&repository, "1.0.1")
            .get("org.opencontainers.image.version")
            .map(String::as_str),
        Some("1.0.1")
    );
}

/// Someone pushes `img1:1.0.1` (not a golden build) without moving any
/// floating tag: the remembered tag list, confirmed by the floating tags,
/// does not show it. A forced rebuild makes the line due, so golden lists
/// the tags again before building: it reports the foreign 1.0.1 and
/// numbers the build 1.0.2. (The remembered list would have hidden the
/// foreign tag from the report; the number the executor checks itself.)
#[test]
fn a_line_due_is_observed_again_and_numbered_past_a_tag_added_meanwhile() {
    let project = Project::new("added");
    let cache = project.cache_home("cache");
    project.run(&cache, &["build", "--all"], &[]);
    project.no_op(&cache, &[], &[]);
    let repository = format!("{REGISTRY}/{}/img1", project.namespace);
    support::docker(&["pull", "-q", SEED]);
    support::push_as(SEED, &repository, "1.0.1");
    let foreign = support::digest(&repository, "1.0.1").expect("1.0.1 pushed");
    // A no-op run still answers from memory: nothing is due.
    project.no_op(&cache, &[], &[]);
    let report = project.report(&cache, &["rebuild", "img1"], &[]);
    assert_eq!(report["totals"]["built"], 1, "{report}");
    let image = &report["images"][0];
    assert_eq!(image["id"], "img1", "{report}");
    let warned: Vec<&str> = image["foreign"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|tag| tag["tag"].as_str())
        .collect();
    assert_eq!(warned, ["1.0.1"], "{report}");
    assert_eq!(support::digest(&repository, "1.0.1"), Some(foreign));
    support::assert_floating(&repository, "1.0.2", &["1.0", "1", "latest"]);
}

/// A line the schedule fires, observed from a remembered tag list, is
/// observed again before it is built; its context, hashed in the first
/// pass to compare recipes, is not read again for the second.
#[test]
fn a_line_observed_again_has_its_context_hashed_once() {
    let project = Project::new("hash-once");
    let cache = project.cache_home("cache");
    project.run(&cache, &["build", "--all"], &[]);
    project.no_op(&cache, &[], &[]);
    let next_month = (chrono::Utc::now() + chrono::Duration::days(32))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let run = Golden::at(&project.directory.path().join("golden.toml"))
        .args(["build", "img1", "--now", &next_month])
        .env("XDG_CACHE_HOME", &cache)
        .env("DOCKER_BUILDKIT", "0")
        .env("RUST_LOG", "golden=debug")
        .run()
        .expect(0);
    let log = &run.stderr;
    assert!(
        log.contains("observing again without remembered tag lists"),
        "{log}"
    );
    let hashed = log.matches("hashed the build context").count();
    assert_eq!(hashed, 1, "{log}");
    support::assert_floating(
        &format!("{REGISTRY}/{}/img1", project.namespace),
        "1.0.1",
        &["1.0", "1", "latest"],
    );
}

/// A build pushed elsewhere without moving the floating tags (`build
/// --no-promote` with another cache directory): a machine whose memory
/// predates it sees the line due (its recipe changed), observes it again
/// and promotes that build instead of building another.
#[test]
fn a_build_not_promoted_elsewhere_is_found_by_a_run_that_remembers_the_tags() {
    let project = Project::new("elsewhere");
    let cache = project.cache_home("cache");
    project.run(&cache, &["build", "--all"], &[]);
    project.no_op(&cache, &[], &[]);
    let repository = format!("{REGISTRY}/{}/img1", project.namespace);
    std::fs::write(
        project.directory.path().join("img1/motd"),
        "changed elsewhere\n",
    )
    .unwrap();
    let elsewhere = project.cache_home("elsewhere");
    let totals = project.run(&elsewhere, &["build", "--all", "--no-promote"], &[]);
    assert_eq!(totals["built"], 1, "{totals}");
    let pushed = support::digest(&repository, "1.0.1").expect("1.0.1 pushed");
    assert_ne!(support::digest(&repository, "1.0"), Some(pushed.clone()));
    let totals = project.run(&cache, &["build", "--all"], &[]);
    assert_eq!(totals["built"], 0, "{totals}");
    assert_eq!(
        support::assert_floating(&repository, "1.0.1", &["1.0", "1", "latest"]),
        pushed
    );
    assert_eq!(support::digest(&repository, "1.0.2"), None);
}
