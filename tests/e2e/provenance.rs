//! End to end: trusted upstreams are enforced before any build, and
//! `golden inspect` shows what the registry holds, against the real engine
//! and registry.

use crate::support;

use support::{digest, labels, require_environment, tags, Stack};

#[test]
fn an_upstream_outside_the_allow_list_stops_the_run_before_any_build() {
    let stack = Stack::new("untrusted");
    stack.append_config(
        "\n[policy]\nupstream_allow = [\"mcr.microsoft.com/dotnet/*\", \"docker.io/library/*\"]\n",
    );
    let run = stack.golden(&["build", "--all"]).expect(2);
    assert!(
        run.stderr.contains("image `base` starts FROM"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("upstream_allow does not allow"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("allowed upstreams: mcr.microsoft.com/dotnet/*, docker.io/library/*"),
        "{}",
        run.stderr
    );
    assert!(
        tags(&stack.repository("base")).is_empty(),
        "nothing was built"
    );
    let trusted = stack
        .upstream()
        .rsplit_once('/')
        .map(|(prefix, _)| format!("{prefix}/*"))
        .unwrap();
    let config = std::fs::read_to_string(stack.config()).unwrap();
    std::fs::write(
        stack.config(),
        config.replace("\"docker.io/library/*\"]", &format!("\"{trusted}\"]")),
    )
    .unwrap();
    let plan = stack.golden(&["plan", "--output", "json"]).expect(0).json();
    let base = plan["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|image| image["id"] == "base")
        .unwrap();
    assert_eq!(base["upstream"], stack.upstream().as_str());
    assert_eq!(
        base["upstream_digest"].as_str(),
        digest(&stack.upstream().replace(":1.36", ""), "1.36").as_deref()
    );
}

#[test]
fn inspect_shows_what_the_registry_holds() {
    let stack = Stack::new("inspect");
    stack.golden(&["build", "--all"]).expect(0);
    let tools = stack.repository("tools");
    let report = stack
        .golden(&["inspect", "tools-lts", "--output", "json"])
        .expect(0)
        .json();
    assert_eq!(report["repository"], tools.as_str());
    assert_eq!(report["line"], "1.4");
    let version = &report["versions"][0];
    let exact = digest(&tools, "1.4.0").unwrap();
    assert_eq!(version["version"], "1.4.0");
    assert_eq!(version["digest"], exact.as_str());
    let recorded = labels(&tools, "1.4.0");
    assert_eq!(
        version["base_digest"],
        recorded["org.opencontainers.image.base.digest"].as_str()
    );
    assert_eq!(
        version["base_digest"].as_str(),
        digest(&stack.repository("base"), "1.0.0").as_deref()
    );
    assert_eq!(version["recipe"], recorded["io.golden.recipe"].as_str());
    assert_eq!(
        version["created"],
        recorded["org.opencontainers.image.created"].as_str()
    );
    assert!(version["size"].as_u64().unwrap() > 100_000);
    let floating = report["floating"].as_array().unwrap();
    assert_eq!(floating[0]["tag"], "1.4");
    assert_eq!(floating[0]["version"], "1.4.0");
    assert_eq!(floating[1]["tag"], "1");
    assert_eq!(floating[1]["version"], "1.4.0");
    assert_eq!(floating[2]["tag"], "latest");
    assert_eq!(
        floating[2]["version"],
        serde_json::Value::Null,
        "latest belongs to the 2.1 line"
    );
    assert_eq!(
        floating[2]["digest"].as_str(),
        digest(&tools, "2.1.0").as_deref()
    );
    let human = stack.golden(&["inspect", "tools-lts"]).expect(0);
    assert!(
        human.stdout.contains("1.4      -> 1.4.0"),
        "{}",
        human.stdout
    );
    let unknown = stack.golden(&["inspect", "tool"]).expect(2);
    assert!(
        unknown.stderr.contains("did you mean `tools`?"),
        "{}",
        unknown.stderr
    );
}

#[test]
fn labels_arrive_verbatim_in_one_build_step() {
    require_environment();
    for builder in ["classic", "buildkit"] {
        let namespace = format!("e2e-labels-{builder}-{}", std::process::id());
        let (_directory, config) = support::one_image_config(
            support::REGISTRY,
            &namespace,
            "quoted",
            &format!("# escape=`\nFROM {}\nCOPY Dockerfile /Dockerfile\n", support::SEED),
            &format!("[defaults]\nbuilder = \"{builder}\"\nlabels = {{ \"com.example.note\" = \"say \\\"hi\\\" for $HOME \\\\ and `tick`\", \"com.example.multi\" = \"two\\nlines\" }}\n"),
        );
        let run = support::golden_at(&config, &["-v", "build", "--all"]).expect(0);
        if builder == "classic" {
            // Each build step is logged once with -v (BuildKit logs no
            // step for a LABEL: it only changes the image config).
            let steps = run
                .stderr
                .lines()
                .filter(|line| line.contains(" : LABEL "))
                .count();
            assert_eq!(
                steps, 2,
                "one LABEL step, plus the engine's for the multi-line label:\n{}",
                run.stderr
            );
        }
        let repository = format!("{}/{namespace}/quoted", support::REGISTRY);
        let recorded = labels(&repository, "1.0.0");
        assert_eq!(
            recorded["com.example.note"], "say \"hi\" for $HOME \\ and `tick`",
            "{builder}"
        );
        assert_eq!(recorded["com.example.multi"], "two\nlines", "{builder}");
        assert_eq!(recorded["org.opencontainers.image.version"], "1.0.0");
        assert_eq!(recorded["org.opencontainers.image.title"], "quoted");
    }
}

/// A Dockerfile whose last instruction ends in a line continuation cannot
/// take golden's `LABEL` line: the labels go through the build API, ahead
/// of the context, with a recipe hashed before it is sent; the next run
/// finds that recipe unchanged.
#[test]
fn a_dockerfile_whose_last_line_continues_gets_its_recipe_label_through_the_api() {
    require_environment();
    let namespace = format!("e2e-continued-{}", std::process::id());
    let (directory, config) = support::one_image_config(
        support::REGISTRY,
        &namespace,
        "continued",
        &format!(
            "FROM {}\nCOPY Dockerfile notes.txt /etc/ \\\n",
            support::SEED
        ),
        "",
    );
    std::fs::write(directory.path().join("continued/notes.txt"), "notes\n").unwrap();
    let repository = format!("{}/{namespace}/continued", support::REGISTRY);
    let run = support::golden_at(&config, &["-v", "build", "--all"]).expect(0);
    assert!(
        run.stderr.contains("sent the build context") && run.stderr.contains("builder=buildkit"),
        "{}",
        run.stderr
    );
    let recipe = labels(&repository, "1.0.0")["io.golden.recipe"].clone();
    assert!(recipe.starts_with("sha256:"), "{recipe}");
    let plan = support::golden_at(&config, &["plan", "--output", "json"])
        .expect(0)
        .json();
    assert_eq!(plan["images"][0]["decision"], "up-to-date", "{plan:#}");
    support::golden_at(&config, &["rebuild", "continued"]).expect(0);
    assert_eq!(labels(&repository, "1.0.1")["io.golden.recipe"], recipe);
    let report = support::golden_at(&config, &["build", "--all", "--output", "json"])
        .expect(0)
        .json();
    assert_eq!(report["totals"]["built"], 0, "{report:#}");
}
