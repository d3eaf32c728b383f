//! End to end: an engine pool (`[[engines]]`) of the machine's Docker
//! Engine and a second dockerd the test starts. What each engine built is
//! read from the engine itself (its image events), never from golden; tags
//! from the registry. Covers the stack spread over both engines, a child
//! built on the other engine than its parent, an engine killed mid-build,
//! an engine down at start, `golden engines`, and the pool's config errors.

use crate::support;

use std::path::Path;
use std::time::Duration;

use support::engines::{
    dead_socket, pulled_in, tagged_in, DockerCli, Engine, ImageEvent, MAIN_ENGINE,
};
use support::{assert_floating, digest, entry, tags, Golden, Run, Stack, REGISTRY};

/// Each test's runs end within this or fail: a scheduler that waits on a
/// dead engine must fail the test, not stall the suite.
const LIMIT: Duration = Duration::from_secs(150);

/// `[[engines]]` tables, one per `(name, host, jobs, labels)`.
fn pool(engines: &[(&str, &str, u32, &[&str])]) -> String {
    engines
        .iter()
        .map(|(name, host, jobs, labels)| {
            let labels: Vec<String> = labels.iter().map(|l| format!("\"{l}\"")).collect();
            format!(
                "\n[[engines]]\nname = \"{name}\"\nhost = \"{host}\"\njobs = {jobs}\nlabels = [{}]\n",
                labels.join(", ")
            )
        })
        .collect()
}

/// Adds `line` at the top of table `[images.ID]` of the stack's config.
fn set_in_image(stack: &Stack, id: &str, line: &str) {
    let text = std::fs::read_to_string(stack.config()).unwrap();
    let header = format!("[images.{id}]\n");
    assert!(text.contains(&header), "no {header} in\n{text}");
    std::fs::write(
        stack.config(),
        text.replacen(&header, &format!("{header}{line}\n"), 1),
    )
    .unwrap();
}

/// Adds image `id` (context `images/ID`, one `RUN` step) to the stack.
fn add_image(stack: &Stack, id: &str, run: &str, extra: &str) {
    stack.write(
        &format!("images/{id}/Dockerfile"),
        &format!("FROM {}\nRUN {run}\n", stack.upstream()),
    );
    stack.append_config(&format!(
        "\n[images.{id}]\nversion = \"1.0\"\ncontext = \"images/{id}\"\n{extra}"
    ));
}

/// Builds the stack's images with the classic builder: what a test reads
/// from the engines (pulls in their image events, build containers) is
/// what the classic builder does; BuildKit pulls and runs steps inside
/// the engine's BuildKit, where events and `docker ps` do not see them
/// (tests/e2e/buildkit.rs covers a pool on BuildKit).
fn classic(stack: &Stack) {
    let text = std::fs::read_to_string(stack.config()).unwrap();
    assert!(text.contains("[defaults]\n"), "{text}");
    std::fs::write(
        stack.config(),
        text.replacen("[defaults]\n", "[defaults]\nbuilder = \"classic\"\n", 1),
    )
    .unwrap();
}

fn golden(stack: &Stack, args: &[&str]) -> Run {
    Golden::at(&stack.config()).args(args).run_within(LIMIT)
}

/// The engine names the run report gives for image `id`.
fn engines_of(report: &serde_json::Value, id: &str) -> Vec<String> {
    let engines = entry(report, id)["engines"]
        .as_array()
        .unwrap_or_else(|| panic!("no `engines` list for `{id}` in {report:#}"));
    engines
        .iter()
        .map(|name| name.as_str().unwrap().to_string())
        .collect()
}

/// Which of the two engines tagged `repository:tag` according to their
/// own events: "main", "side", or a failure when none or both did.
#[track_caller]
fn built_by(main: &[ImageEvent], side: &[ImageEvent], repository: &str, tag: &str) -> String {
    let reference = format!("{repository}:{tag}");
    let on_main = tagged_in(main, &reference).contains(&reference);
    let on_side = tagged_in(side, &reference).contains(&reference);
    match (on_main, on_side) {
        (true, false) => "main".to_string(),
        (false, true) => "side".to_string(),
        _ => panic!(
            "{reference} should be tagged by exactly one engine; main: {on_main}, side: {on_side}\n\
             main tagged {:?}\nside tagged {:?}",
            tagged_in(main, repository.rsplit_once('/').unwrap().0),
            tagged_in(side, repository.rsplit_once('/').unwrap().0)
        ),
    }
}

#[test]
fn a_stack_spreads_over_two_engines_and_a_child_builds_on_the_other_engine_than_its_parent() {
    let side = Engine::start();
    let stack = Stack::new("pool-spread");
    classic(&stack);
    // base can build only on the machine's engine and tools only on the
    // test's: the child is built on the other engine than its parent.
    set_in_image(&stack, "base", "engine_labels = [\"main\"]");
    set_in_image(&stack, "tools", "engine_labels = [\"side\"]");
    // Independent images with a few seconds of work each: with one build at
    // a time per engine, both engines must take some of them.
    let token = stack.namespace.clone();
    for id in ["solo1", "solo2", "solo3"] {
        add_image(
            &stack,
            id,
            &format!("sleep 3 && echo {id} {token} > /solo"),
            "",
        );
    }
    stack.append_config(&pool(&[
        ("main", MAIN_ENGINE, 1, &["main"]),
        ("side", side.host(), 1, &["side"]),
    ]));

    let main_watch = DockerCli::main().watch_image_events();
    let side_watch = side.cli().watch_image_events();
    let run = golden(&stack, &["build", "--all", "--output", "json"]).expect(0);
    let main_events = main_watch.stop();
    let side_events = side_watch.stop();
    let report = run.json();

    // Every tag in the registry, as one engine would have made them.
    let exact = [
        ("base", "base", "1.0.0", vec!["1.0", "1", "latest"]),
        ("tools", "tools", "2.1.0", vec!["2.1", "2", "latest"]),
        ("tools-lts", "tools", "1.4.0", vec!["1.4", "1"]),
        ("runtime", "runtime", "3.0.0", vec!["3.0", "3", "latest"]),
        ("solo1", "solo1", "1.0.0", vec!["1.0", "1", "latest"]),
        ("solo2", "solo2", "1.0.0", vec!["1.0", "1", "latest"]),
        ("solo3", "solo3", "1.0.0", vec!["1.0", "1", "latest"]),
    ];
    let mut digests = Vec::new();
    let mut where_built = std::collections::BTreeMap::new();
    for (id, name, tag, floating) in &exact {
        let repository = stack.repository(name);
        let at = assert_floating(&repository, tag, floating);
        assert_eq!(entry(&report, id)["decision"], "built", "{id}");
        assert_eq!(entry(&report, id)["digest"], at.as_str(), "{id}");
        digests.push((repository.clone(), tag.to_string(), at));
        // The engine that built it, by its own events, is the one the
        // report names.
        let engine = built_by(&main_events, &side_events, &repository, tag);
        assert_eq!(
            engines_of(&report, id),
            vec![engine.clone()],
            "report `engines` of `{id}`"
        );
        where_built.insert(id.to_string(), engine);
    }
    assert_eq!(
        tags(&stack.repository("tools")),
        vec!["1", "1.4", "1.4.0", "2", "2.1", "2.1.0", "latest"]
    );

    // engine_labels decided where base and tools went.
    assert_eq!(where_built["base"], "main", "{where_built:?}");
    assert_eq!(where_built["tools"], "side", "{where_built:?}");
    // Independent images landed on both engines.
    let roots = ["runtime", "solo1", "solo2", "solo3"];
    for engine in ["main", "side"] {
        assert!(
            roots.iter().any(|id| where_built[*id] == engine),
            "no independent image was built on `{engine}`: {where_built:?}"
        );
    }
    // The side engine never had base locally: it pulled it from the
    // registry by the digest base was pushed as.
    let base_digest = &digests[0].2;
    let base = stack.repository("base");
    let pulls = pulled_in(&side_events, &base);
    assert!(
        pulls
            .iter()
            .any(|reference| reference.ends_with(&format!("@{base_digest}"))),
        "the side engine did not pull {base} by its digest {base_digest}; its pulls: {:?}",
        pulled_in(&side_events, &stack.namespace)
    );

    // A second run is a no-op: nothing tagged on either engine, nothing
    // moved in the registry.
    let main_watch = DockerCli::main().watch_image_events();
    let side_watch = side.cli().watch_image_events();
    let again = golden(&stack, &["build", "--all", "--output", "json"]).expect(0);
    let main_events = main_watch.stop();
    let side_events = side_watch.stop();
    let report = again.json();
    for (id, _, _, _) in &exact {
        assert_eq!(entry(&report, id)["decision"], "up-to-date", "{id}");
    }
    let ours = stack.repository("");
    assert_eq!(tagged_in(&main_events, &ours), Vec::<String>::new());
    assert_eq!(tagged_in(&side_events, &ours), Vec::<String>::new());
    for (repository, tag, at) in &digests {
        assert_eq!(
            digest(repository, tag).as_ref(),
            Some(at),
            "{repository}:{tag}"
        );
    }
}

#[test]
fn an_engine_lost_mid_build_reroutes_only_its_images() {
    let mut side = Engine::start();
    let stack = Stack::new("pool-lost");
    let namespace = stack.namespace.clone();
    // The side engine is listed first and takes two builds at once, the
    // machine's engine one. At the start `a-hold` (only the machine's
    // engine) fills the machine's engine, `p` and `c-side` (only the side
    // engine) the side engine. When `p` is done its child `b-slow` (any
    // engine) becomes due: the machine's engine is still full, so it starts
    // on the side engine, next to `c-side`, whatever order builds ask in.
    let upstream = stack.upstream();
    let images = [
        (
            "a-hold",
            "sleep 20",
            upstream.clone(),
            "engine_labels = [\"main\"]\n",
        ),
        (
            "p",
            "true",
            upstream.clone(),
            "engine_labels = [\"side\"]\n",
        ),
        (
            "c-side",
            "sleep 20",
            upstream.clone(),
            "engine_labels = [\"side\"]\n",
        ),
        ("b-slow", "sleep 8", stack.repository("p") + ":1.0", ""),
    ];
    // The classic builder: the test watches the build containers, which
    // BuildKit's steps do not create (see `classic`).
    let mut config = format!(
        "[registry]\nhost = \"{REGISTRY}\"\nnamespace = \"{namespace}\"\n\n[defaults]\nbuilder = \"classic\"\n"
    );
    config.push_str(&pool(&[
        ("side", side.host(), 2, &["side"]),
        ("main", MAIN_ENGINE, 1, &["main"]),
    ]));
    for (id, work, from, extra) in images {
        stack.write(
            &format!("pool/{id}/Dockerfile"),
            &format!("FROM {from}\nRUN {work} && echo {id} {namespace} > /{id}\n"),
        );
        config.push_str(&format!(
            "\n[images.{id}]\nversion = \"1.0\"\ncontext = \"pool/{id}\"\n{extra}"
        ));
    }
    std::fs::write(stack.config(), config).unwrap();

    let main_watch = DockerCli::main().watch_image_events();
    let mut running = Golden::at(&stack.config())
        .args(["build", "--all", "--output", "json"])
        .spawn();
    // b-slow and c-side are both in their sleep on the side engine.
    let started = support::try_wait_until(Duration::from_secs(90), || {
        let commands = side.cli().running_commands().join("\n");
        if commands.contains("echo b-slow") && commands.contains("echo c-side") {
            return Some(true);
        }
        running.exited().then_some(false)
    });
    assert_eq!(
        started,
        Some(true),
        "b-slow and c-side never ran their sleep together on the side engine (golden {})\n--- stderr\n{}",
        if started.is_none() { "still ran after 90s" } else { "exited" },
        running.stderr()
    );
    side.kill();
    let run = running.finish_within(LIMIT);
    let main_events = main_watch.stop();
    assert_eq!(
        run.code, 1,
        "exit code\n--- stdout\n{}\n--- stderr\n{}",
        run.stdout, run.stderr
    );
    let report = run.json();

    // b-slow was retried once, on the machine's engine, and published.
    let lost = format!(
        "engine `side` ({}) was lost during the build of `b-slow`; retrying",
        side.host()
    );
    let retried = run.stderr.find(&lost).map(|at| &run.stderr[at..]);
    let on_main = |after: &str| {
        after.lines().any(|line| {
            line.contains("building") && line.contains("b-slow") && line.contains("on `main`")
        })
    };
    assert!(
        retried.is_some_and(on_main),
        "no `{lost}` followed by b-slow building on `main`:\n{}",
        run.stderr
    );
    assert_eq!(entry(&report, "b-slow")["decision"], "built");
    assert_eq!(engines_of(&report, "b-slow"), vec!["main"]);
    let slow = stack.repository("b-slow");
    let at = assert_floating(&slow, "1.0.0", &["1.0", "1", "latest"]);
    assert_eq!(entry(&report, "b-slow")["digest"], at.as_str());
    assert!(
        tagged_in(&main_events, &slow).contains(&format!("{slow}:1.0.0")),
        "the machine's engine did not build b-slow: {:?}",
        tagged_in(&main_events, &namespace)
    );

    // Its parent p was built on the side engine before the loss; the
    // machine's engine took p from the registry, by digest.
    assert_eq!(engines_of(&report, "p"), vec!["side"]);
    let parent = stack.repository("p");
    let parent_digest = assert_floating(&parent, "1.0.0", &["1.0", "1", "latest"]);
    assert!(
        pulled_in(&main_events, &parent)
            .iter()
            .any(|reference| reference.ends_with(&format!("@{parent_digest}"))),
        "the machine's engine did not pull {parent} by its digest {parent_digest}: {:?}",
        pulled_in(&main_events, &namespace)
    );

    // c-side had no other engine: it failed naming the lost engine, and
    // nothing of it was published.
    assert_eq!(entry(&report, "c-side")["decision"], "failed");
    let error = entry(&report, "c-side")["error"]
        .as_str()
        .unwrap_or_default();
    assert!(
        error.contains("engine `side` was lost") && error.contains("no other engine can build it"),
        "c-side error: {error}\n--- stderr\n{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("of `c-side`; retrying"),
        "{}",
        run.stderr
    );
    assert_eq!(tags(&stack.repository("c-side")), Vec::<String>::new());

    // a-hold, on the engine that stayed, was not disturbed.
    assert_eq!(entry(&report, "a-hold")["decision"], "built");
    assert_eq!(engines_of(&report, "a-hold"), vec!["main"]);
    assert_floating(
        &stack.repository("a-hold"),
        "1.0.0",
        &["1.0", "1", "latest"],
    );
    assert!(
        !run.stderr.contains("during the build of `a-hold`"),
        "{}",
        run.stderr
    );
}

/// A stack of `app` (any engine) and `gpu` (needs the label only the dead
/// engine has), with the pool `gone` (listed first, nothing listening)
/// and the machine's engine.
fn down_at_start(stack: &Stack) -> String {
    let gone = dead_socket(stack.path());
    let namespace = &stack.namespace;
    // The classic builder: the test watches the build containers, which
    // BuildKit's steps do not create (see `classic`).
    let mut config = format!(
        "[registry]\nhost = \"{REGISTRY}\"\nnamespace = \"{namespace}\"\n\n[defaults]\nbuilder = \"classic\"\n"
    );
    config.push_str(&pool(&[
        ("gone", &gone, 2, &["gpu"]),
        ("main", MAIN_ENGINE, 2, &[]),
    ]));
    for (id, extra) in [("app", ""), ("gpu", "engine_labels = [\"gpu\"]\n")] {
        stack.write(
            &format!("pool/{id}/Dockerfile"),
            &format!(
                "FROM {}\nRUN echo {id} {namespace} > /what\n",
                stack.upstream()
            ),
        );
        config.push_str(&format!(
            "\n[images.{id}]\nversion = \"1.0\"\ncontext = \"pool/{id}\"\n{extra}"
        ));
    }
    std::fs::write(stack.config(), config).unwrap();
    gone
}

#[test]
fn an_engine_down_at_start_is_reported_and_its_work_goes_to_the_other() {
    let stack = Stack::new("pool-down");
    let gone = down_at_start(&stack);

    let run = golden(&stack, &["build", "app", "--output", "json"]).expect(0);
    assert!(
        run.stderr
            .contains(&format!("engine `gone` ({gone}) is unreachable"))
            && run.stderr.contains("its work goes to the other"),
        "{}",
        run.stderr
    );
    let report = run.json();
    assert_eq!(engines_of(&report, "app"), vec!["main"]);
    assert_floating(&stack.repository("app"), "1.0.0", &["1.0", "1", "latest"]);

    // An image only the dead engine could build fails, saying why.
    // Exit 1 (an image failed) or 3 (its only engine is unreachable).
    let run = golden(&stack, &["build", "gpu", "--output", "json"]);
    assert!(
        run.code == 1 || run.code == 3,
        "exit {}\n--- stdout\n{}\n--- stderr\n{}",
        run.code,
        run.stdout,
        run.stderr
    );
    assert_eq!(entry(&run.json(), "gpu")["decision"], "failed");
    let error = entry(&run.json(), "gpu")["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        error.contains("gpu") && error.contains("gone"),
        "gpu error: {error}\n--- stderr\n{}",
        run.stderr
    );
    assert_eq!(tags(&stack.repository("gpu")), Vec::<String>::new());

    // `golden engines`: the dead one unreachable (exit 3), the live one
    // with what its engine says of itself.
    let main = DockerCli::main();
    let api = main.version("{{.Server.APIVersion}}");
    let platform = main.version("{{.Server.Os}}/{{.Server.Arch}}");
    let text = golden(&stack, &["engines"]).expect(3);
    let row = |name: &str| -> String {
        text.stdout
            .lines()
            .find(|line| line.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no row `{name}`:\n{}", text.stdout))
            .to_string()
    };
    let main_row = row("main");
    assert!(
        main_row.contains(MAIN_ENGINE)
            && main_row.contains(&api)
            && main_row.contains(&platform)
            && main_row.split_whitespace().any(|word| word == "buildkit"),
        "main row should show {MAIN_ENGINE}, API {api} and {platform}:\n{}",
        text.stdout
    );
    // The dead engine's row says it is down, and golden says why.
    let gone_row = row("gone");
    assert!(
        gone_row.contains(&gone) && gone_row.split_whitespace().any(|word| word == "down"),
        "gone row:\n{}\n{}",
        text.stdout,
        text.stderr
    );
    let said = format!("{}{}", text.stdout, text.stderr);
    assert!(
        said.contains("gone: cannot reach") && said.contains("connection refused"),
        "no reason for `gone`:\n{said}"
    );

    let json = golden(&stack, &["engines", "--output", "json"]).expect(3);
    let document = json.json();
    let engines = document["engines"].as_array().expect("an `engines` list");
    assert_eq!(engines.len(), 2, "{document:#}");
    let (gone_row, main_row) = (&engines[0], &engines[1]);
    assert_eq!(gone_row["name"], "gone");
    assert_eq!(gone_row["host"], gone.as_str());
    assert_eq!(gone_row["reachable"], false);
    assert!(
        gone_row["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{document:#}"
    );
    assert_eq!(gone_row["labels"], serde_json::json!(["gpu"]));
    assert_eq!(main_row["name"], "main");
    assert_eq!(main_row["reachable"], true);
    assert_eq!(main_row["error"], serde_json::Value::Null);
    assert_eq!(main_row["api_version"], api.as_str());
    assert_eq!(main_row["builder"], "buildkit", "{document:#}");
    assert_eq!(main_row["buildkit"], true, "{document:#}");
    assert_eq!(gone_row["builder"], serde_json::Value::Null);
    assert_eq!(main_row["platforms"], serde_json::json!([platform]));
    assert_eq!(main_row["jobs"], 2);
    assert!(
        main_row["cpus"].as_u64().is_some_and(|c| c >= 1),
        "{document:#}"
    );
    assert!(main_row["containers_running"].is_u64(), "{document:#}");
}

/// golden.toml of one image `x` with `extra` appended, in a new directory.
fn config_with(extra: &str) -> (tempfile::TempDir, std::path::PathBuf, String) {
    let directory = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(directory.path().join("x")).unwrap();
    std::fs::write(
        directory.path().join("x/Dockerfile"),
        format!("FROM {}\n", support::SEED),
    )
    .unwrap();
    let text = format!(
        "[registry]\nhost = \"{REGISTRY}\"\nnamespace = \"golden\"\n\n[images.x]\nversion = \"1.0\"\ncontext = \"x\"\n{extra}"
    );
    let config = directory.path().join("golden.toml");
    std::fs::write(&config, &text).unwrap();
    (directory, config, text)
}

/// The 1-based line of the first line of `text` starting with `start`,
/// after `after` such lines.
fn line_of(text: &str, start: &str, after: usize) -> usize {
    text.lines()
        .enumerate()
        .filter(|(_, line)| line.starts_with(start))
        .nth(after)
        .unwrap_or_else(|| panic!("no line {start:?} in\n{text}"))
        .0
        + 1
}

/// `golden plan` refuses the config: exit 2, located at one of `lines` of
/// golden.toml, a hint, every one of `expected`, and no engine contacted.
#[track_caller]
fn refused(config: &Path, lines: &[usize], expected: &[&str]) {
    let run = Golden::at(config)
        .args(["plan"])
        .run_within(Duration::from_secs(60))
        .expect(2);
    assert!(
        lines
            .iter()
            .any(|line| run.stderr.contains(&format!("golden.toml:{line}:"))),
        "not located at golden.toml line {lines:?}:\n{}",
        run.stderr
    );
    assert!(run.stderr.contains("hint:"), "no hint:\n{}", run.stderr);
    for text in expected {
        assert!(run.stderr.contains(text), "no {text:?} in:\n{}", run.stderr);
    }
    assert!(run.stdout.is_empty(), "a plan was printed:\n{}", run.stdout);
}

#[test]
fn pool_config_errors_are_located_with_a_hint() {
    // `[engine] host` and `[[engines]]` at once.
    let (_one, config, text) = config_with(&format!(
        "\n[engine]\nhost = \"{MAIN_ENGINE}\"\n{}",
        pool(&[("main", MAIN_ENGINE, 1, &[])])
    ));
    refused(
        &config,
        &[
            line_of(&text, "host = \"unix", 0),
            line_of(&text, "[[engines]]", 0),
        ],
        &["[[engines]]"],
    );

    // Two engines of one name.
    let (_two, config, text) = config_with(&pool(&[
        ("twin", MAIN_ENGINE, 1, &[]),
        ("twin", "unix:///run/other.sock", 1, &[]),
    ]));
    refused(
        &config,
        &[
            line_of(&text, "name = \"twin\"", 1),
            line_of(&text, "[[engines]]", 1),
        ],
        &["twin"],
    );

    // A key [[engines]] does not know.
    let (_three, config, text) = config_with(&format!(
        "{}platfroms = [\"linux/amd64\"]\n",
        pool(&[("main", MAIN_ENGINE, 1, &[])])
    ));
    refused(&config, &[line_of(&text, "platfroms", 0)], &["platfroms"]);

    // engine_labels no engine of the pool carries.
    let (_four, config, text) = config_with(&format!(
        "engine_labels = [\"gpu\"]\n{}",
        pool(&[("main", MAIN_ENGINE, 1, &["fast"])])
    ));
    refused(&config, &[line_of(&text, "engine_labels", 0)], &["gpu"]);
}
