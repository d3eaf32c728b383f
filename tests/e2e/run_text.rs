//! What a person reads, snapshotted through the real binary: the text of
//! `plan`, `build` and `rebuild` on a small stack, and how error chains
//! read (configuration problems, an unreachable registry, an unknown image
//! id, a base image the registry does not have). Digests, times,
//! durations, ports, the registry namespace and temporary paths are
//! filtered, so the snapshots hold on any machine and on every run.

use crate::support;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use support::{Golden, REGISTRY, SEED};

/// A config in a directory of its own, pushing under a namespace of its
/// own whose length never changes (so table columns line up the same way).
struct Fixture {
    directory: tempfile::TempDir,
    namespace: String,
    /// Extra `(pattern, replacement)` filters of this fixture.
    filters: Vec<(String, String)>,
}

impl Fixture {
    fn new() -> Fixture {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let namespace = format!(
            "e2e-text-{:010}-{:03}-{nanos:09}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed) % 1000
        );
        Fixture {
            directory: tempfile::tempdir().unwrap(),
            namespace,
            filters: Vec::new(),
        }
    }

    fn path(&self) -> &Path {
        self.directory.path()
    }

    fn config(&self) -> PathBuf {
        self.path().join("golden.toml")
    }

    /// Writes `relative` in the fixture, `[ns]` standing for its namespace.
    fn write(&self, relative: &str, content: &str) {
        let path = self.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content.replace("[ns]", &self.namespace)).unwrap();
    }

    /// `$ golden ARGS`, what it printed on `streams` and its exit code.
    fn transcript(&self, args: &[&str], streams: Streams) -> String {
        let run = Golden::at(&self.config()).args(args).run();
        let mut text = format!("$ golden {}\n", args.join(" "));
        text.push_str(&run.stdout);
        if matches!(streams, Streams::Both) {
            text.push_str(&run.stderr);
        }
        text.push_str(&format!("[exit {}]\n", run.code));
        text
    }

    /// Asserts `text` matches snapshot `name`, filtered.
    fn assert_snapshot(&self, name: &str, text: &str) {
        let mut settings = insta::Settings::clone_current();
        for (pattern, replacement) in &self.filters {
            settings.add_filter(pattern, replacement.as_str());
        }
        settings.add_filter(&escape(&self.path().display().to_string()), "[dir]");
        // Placeholders as long as what they stand for keep tables aligned.
        settings.add_filter(
            &escape(&self.namespace),
            same_length("[ns", &self.namespace),
        );
        settings.add_filter(r"sha256:[0-9a-f]{64}", format!("sha256:{}", "x".repeat(64)));
        settings.add_filter(r"sha256:[0-9a-f]{12}", "sha256:xxxxxxxxxxxx");
        settings.add_filter(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "YYYY-MM-DDTHH:MM:SSZ");
        settings.add_filter(r"\b\d+(\.\d+)?s\b", "[secs]");
        settings.bind(|| insta::assert_snapshot!(name, text));
    }
}

#[derive(Clone, Copy)]
enum Streams {
    /// Stdout only (stderr holds progress and logs).
    Stdout,
    /// Stdout, then stderr.
    Both,
}

/// `start`, dashes and `]`, as long as `like`.
fn same_length(start: &str, like: &str) -> String {
    format!("{start}{}]", "-".repeat(like.len() - start.len() - 1))
}

fn escape(text: &str) -> String {
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

/// `base` FROM the seed and `app` FROM `base`, in the fixture's namespace.
fn small_stack() -> Fixture {
    let fixture = Fixture::new();
    fixture.write(
        "golden.toml",
        &format!(
            "[registry]\nhost = \"{REGISTRY}\"\nnamespace = \"[ns]\"\n\
             [images.base]\nversion = \"1.0\"\ncontext = \"base\"\n\
             [images.app]\nversion = \"2.3\"\ncontext = \"app\"\n"
        ),
    );
    fixture.write(
        "base/Dockerfile",
        &format!("FROM {SEED}\nRUN echo base > /base\n"),
    );
    fixture.write(
        "app/Dockerfile",
        &format!("FROM {REGISTRY}/[ns]/base:1.0\nRUN echo app > /app\n"),
    );
    fixture
}

#[test]
fn plan_build_and_rebuild_print_the_same_text_on_every_machine() {
    support::require_environment();
    let stack = small_stack();
    let text = [
        stack.transcript(&["plan", "--wide"], Streams::Stdout),
        stack.transcript(&["-q", "build", "--all"], Streams::Both),
        stack.transcript(&["plan", "--wide"], Streams::Stdout),
        stack.transcript(&["-q", "build", "--all"], Streams::Both),
        stack.transcript(&["-q", "rebuild", "base"], Streams::Both),
    ]
    .join("\n");
    stack.assert_snapshot("small_stack", &text);
}

#[test]
fn config_errors_are_located_with_a_hint_each_and_nothing_is_built() {
    let fixture = Fixture::new();
    fixture.write(
        "golden.toml",
        "[registry]\nhost = \"127.0.0.1:99999\"\n[images.base]\nversion = 1\n",
    );
    let text = fixture.transcript(&["plan", "--wide"], Streams::Both);
    fixture.assert_snapshot("config_errors", &text);
}

#[test]
fn an_unreachable_registry_says_which_and_how_to_check() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut fixture = Fixture::new();
    fixture
        .filters
        .push((format!(r"127\.0\.0\.1:{port}\b"), "127.0.0.1:[port]".into()));
    fixture.write(
        "golden.toml",
        &format!(
            "[registry]\nhost = \"127.0.0.1:{port}\"\nnamespace = \"[ns]\"\nretries = 0\n\
             [images.base]\nversion = \"1.0\"\ncontext = \"base\"\n"
        ),
    );
    fixture.write("base/Dockerfile", &format!("FROM {SEED}\n"));
    let text = [
        fixture.transcript(&["-q", "plan", "--wide"], Streams::Both),
        fixture.transcript(&["-q", "build", "--all"], Streams::Both),
    ]
    .join("\n");
    fixture.assert_snapshot("unreachable_registry", &text);
}

#[test]
fn an_unknown_image_id_lists_the_configured_ones() {
    let stack = small_stack();
    let text = [
        stack.transcript(&["plan", "nosuch"], Streams::Both),
        stack.transcript(&["rebuild", "base", "nosuch"], Streams::Both),
    ]
    .join("\n");
    stack.assert_snapshot("unknown_image_id", &text);
}

#[test]
fn a_base_image_the_registry_does_not_have_fails_that_image_with_a_hint() {
    support::require_environment();
    let fixture = Fixture::new();
    fixture.write(
        "golden.toml",
        &format!(
            "[registry]\nhost = \"{REGISTRY}\"\nnamespace = \"[ns]\"\n\
             [images.orphan]\nversion = \"1.0\"\ncontext = \"orphan\"\n"
        ),
    );
    fixture.write(
        "orphan/Dockerfile",
        &format!("FROM {REGISTRY}/[ns]-upstream/nosuch:9.9\n"),
    );
    let text = [
        fixture.transcript(&["-q", "plan", "--wide"], Streams::Both),
        fixture.transcript(&["-q", "build", "--all"], Streams::Both),
    ]
    .join("\n");
    fixture.assert_snapshot("unknown_base_image", &text);
}

#[test]
fn plan_in_a_pipe_is_never_cut_to_a_width() {
    // An image id long enough that its row is wider than any terminal
    // default: in a pipe (a CI log) every cell is there in full.
    let id = "aspnet-core-runtime-with-the-company-certificates-and-tools";
    let (_directory, config) = support::one_image_config(
        REGISTRY,
        &format!("e2e-plan-width-{}", std::process::id()),
        id,
        &format!("FROM {SEED}\n"),
        "",
    );
    let run = Golden::at(&config).args(["plan"]).run().expect(0);
    let row = run
        .stdout
        .lines()
        .find(|line| line.starts_with(id))
        .unwrap_or_else(|| panic!("no row for {id}:\n{}", run.stdout));
    assert!(
        row.contains(SEED) && !row.contains('…') && row.chars().count() > 100,
        "{row}"
    );
}
