//! End to end: CI matrix mode. `golden plan --output matrix` / `gitlab`
//! cut the due images into waves, each wave job runs `golden build ID
//! --no-promote` (exact tags only, children built on their parents' new
//! builds), and `golden promote` moves the floating tags once. The example
//! pipelines in `contrib/` are run as the sequence of commands they would
//! run, against the real engine and registry.

use crate::support;

use std::collections::BTreeMap;

use serde_json::Value as Json;
use serde_norway::Value as Yaml;
use support::{assert_floating, digest, entry, labels, push_as, tags, Stack};

/// The offline stack plus `app` on `tools:2.1`: three waves
/// (base, runtime) -> (tools, tools-lts) -> (app).
fn three_wave_stack(name: &str) -> Stack {
    let stack = Stack::new(name);
    stack.write(
        "images/app/Dockerfile",
        "FROM 127.0.0.1:5000/golden-offline/tools:2.1\nCOPY app.txt /etc/app.txt\n",
    );
    stack.write("images/app/app.txt", "the app layer\n");
    stack.append_config("\n[images.app]\nversion = \"5.0\"\ncontext = \"images/app\"\n");
    stack
}

/// Each image's repository name and the floating tags its line owns.
const FLOATING: [(&str, &str, &[&str]); 5] = [
    ("base", "base", &["1.0", "1", "latest"]),
    ("runtime", "runtime", &["3.0", "3", "latest"]),
    ("tools", "tools", &["2.1", "2", "latest"]),
    ("tools-lts", "tools", &["1.4", "1"]),
    ("app", "app", &["5.0", "5", "latest"]),
];

/// Where every floating tag of the stack points.
fn floating_snapshot(stack: &Stack) -> BTreeMap<String, Option<String>> {
    let mut all = BTreeMap::new();
    for (_, name, floating) in FLOATING {
        for tag in floating {
            let at = digest(&stack.repository(name), tag);
            all.insert(format!("{name}:{tag}"), at);
        }
    }
    all
}

/// Shell words of one command line (double quotes grouped), cut at a
/// redirection.
fn words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ' ' if !quoted => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            '>' if !quoted => break,
            _ => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// The `golden` commands of a script (a `run:` block or a `script:` list).
fn golden_commands(script: &str) -> Vec<Vec<String>> {
    script
        .lines()
        .map(str::trim)
        .filter(|line| line.starts_with("golden "))
        .map(|line| words(line)[1..].to_vec())
        .collect()
}

fn read_yaml(relative: &str) -> Yaml {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    serde_norway::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn text(value: &Yaml) -> &str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a string: {value:?}"))
}

/// The golden commands of every `run` step of a GitHub Actions job.
fn job_commands(job: &Yaml) -> Vec<Vec<String>> {
    job["steps"]
        .as_sequence()
        .unwrap()
        .iter()
        .flat_map(|step| {
            // golden's action runs `golden COMMAND` (see action.yml).
            let action = step["uses"]
                .as_str()
                .is_some_and(|uses| uses.starts_with("example-corp/golden@"));
            match (step.get("run"), action) {
                (Some(run), _) => golden_commands(text(run)),
                (None, true) => match step["with"]["command"].as_str() {
                    // An expression is one word, as the action's
                    // `read -a` gets it once GitHub has replaced it.
                    Some(command) => golden_commands(&format!(
                        "golden {}",
                        command.replace("${{", "\"${{").replace("}}", "}}\"")
                    )),
                    None => Vec::new(),
                },
                (None, false) => Vec::new(),
            }
        })
        .collect()
}

/// Runs golden with `args`, `--output json` added, and returns the report.
fn run_json(stack: &Stack, args: &[String], code: i32) -> Json {
    let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
    args.extend(["--output", "json"]);
    stack.golden(&args).expect(code).json()
}

fn wave_ids(matrix: &Json, wave: usize) -> Vec<String> {
    matrix["waves"][wave]["include"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["id"].as_str().unwrap().to_string())
        .collect()
}

/// The ids in the order `golden plan` lists them.
fn plan_order(stack: &Stack) -> Vec<String> {
    let plan = stack.golden(&["plan", "--output", "json"]).expect(0).json();
    plan["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|image| image["id"].as_str().unwrap().to_string())
        .collect()
}

fn assert_three_waves(stack: &Stack, matrix: &Json) {
    let order = plan_order(stack);
    let in_order = |mut ids: Vec<&str>| {
        ids.sort_by_key(|id| order.iter().position(|o| o == id));
        ids.into_iter().map(String::from).collect::<Vec<_>>()
    };
    assert_eq!(matrix["depth"], 3, "{matrix:#}");
    assert_eq!(wave_ids(matrix, 0), in_order(vec!["base", "runtime"]));
    assert_eq!(wave_ids(matrix, 1), in_order(vec!["tools", "tools-lts"]));
    assert_eq!(wave_ids(matrix, 2), vec!["app"]);
    let flat: Vec<&str> = matrix["include"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        flat,
        in_order(vec!["base", "runtime", "tools", "tools-lts", "app"])
    );
    let tools = &matrix["waves"][1]["include"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == "tools")
        .unwrap();
    assert_eq!(tools["version"], "2.1");
    assert_eq!(tools["wave"], 1);
    assert_eq!(tools["decision"], "build");
    assert_eq!(tools["repository"], stack.repository("tools").as_str());
    assert_eq!(
        matrix["ids"][1],
        in_order(vec!["tools", "tools-lts"]).join(" ")
    );
}

/// The pipeline ended with every line's floating tags on its new build
/// `exact`.
fn assert_all_promoted(stack: &Stack, exact: &[(&str, &str)]) {
    for (id, name, floating) in FLOATING {
        let version = exact.iter().find(|(i, _)| *i == id).unwrap().1;
        assert_floating(&stack.repository(name), version, floating);
    }
}

/// The wave jobs of the workflow in `needs` order, with the wave index
/// each takes from the plan and the depth it needs to run.
fn wave_jobs(workflow: &Yaml) -> Vec<(String, usize, usize)> {
    let jobs = workflow["jobs"].as_mapping().unwrap();
    let mut waves = Vec::new();
    for (name, job) in jobs {
        let Some(matrix) = job.get("strategy").and_then(|s| s.get("matrix")) else {
            continue;
        };
        let matrix = text(matrix);
        let index: usize = matrix
            .split("waves[")
            .nth(1)
            .and_then(|rest| rest.split(']').next())
            .unwrap()
            .parse()
            .unwrap();
        let condition = text(&job["if"]);
        let depth: usize = condition
            .rsplit("> ")
            .next()
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert_eq!(
            depth,
            index,
            "`{}` runs when the plan has a wave {index}",
            text(name)
        );
        if index > 0 {
            let needs: Vec<&str> = job["needs"]
                .as_sequence()
                .unwrap()
                .iter()
                .map(text)
                .collect();
            assert!(
                needs.contains(&format!("wave-{}", index - 1).as_str()),
                "{needs:?}"
            );
        }
        waves.push((text(name).to_string(), index, depth));
    }
    waves.sort_by_key(|(_, index, _)| *index);
    waves
}

#[test]
fn the_github_matrix_workflow_builds_wave_by_wave_and_promotes_once() {
    let stack = three_wave_stack("matrix_github");
    stack.golden(&["build", "--all"]).expect(0);
    let before = floating_snapshot(&stack);
    stack.update_upstream("CVE-2026-0002 fixed");

    let workflow = read_yaml("contrib/github-actions/golden-matrix.yml");
    let jobs = &workflow["jobs"];
    let plan = job_commands(&jobs["plan"]);
    assert_eq!(plan.len(), 1, "{plan:?}");
    assert_eq!(plan[0], ["plan", "--output", "matrix"]);
    let args: Vec<&str> = plan[0].iter().map(String::as_str).collect();
    let matrix: Json = stack.golden(&args).expect(0).json();
    assert_three_waves(&stack, &matrix);

    let depth = matrix["depth"].as_u64().unwrap() as usize;
    for (name, index, needs_depth) in wave_jobs(&workflow) {
        if depth <= needs_depth {
            continue;
        }
        for id in wave_ids(&matrix, index) {
            let script = job_commands(&jobs[name.as_str()]);
            assert_eq!(script.len(), 1, "{name}: {script:?}");
            let args: Vec<String> = script[0]
                .iter()
                .map(|word| word.replace("${{ matrix.id }}", &id))
                .collect();
            assert_eq!(args, ["build", id.as_str(), "--no-promote"]);
            let report = run_json(&stack, &args, 0);
            let built = entry(&report, &id);
            assert_eq!(built["decision"], "built", "{report:#}");
            assert_eq!(built["promoted"], false);
            assert_eq!(built["floating"], serde_json::json!([]));
            let owned = FLOATING.iter().find(|(i, _, _)| *i == id).unwrap().2;
            assert_eq!(built["pending"], serde_json::json!(owned));
        }
        assert_eq!(
            floating_snapshot(&stack),
            before,
            "a floating tag moved before the promote (after {name})"
        );
    }

    // Children were built on their parents' new builds, which no floating
    // tag pointed at yet.
    let new_base = digest(&stack.repository("base"), "1.0.1").unwrap();
    assert_ne!(
        Some(new_base.clone()),
        digest(&stack.repository("base"), "1.0")
    );
    for (name, version) in [("tools", "2.1.1"), ("tools", "1.4.1")] {
        let built_on =
            &labels(&stack.repository(name), version)["org.opencontainers.image.base.digest"];
        assert_eq!(built_on, &new_base, "{name}:{version}");
    }
    let new_tools = digest(&stack.repository("tools"), "2.1.1").unwrap();
    assert_eq!(
        labels(&stack.repository("app"), "5.0.1")["org.opencontainers.image.base.digest"],
        new_tools
    );

    let promote = &jobs["promote"];
    assert!(text(&promote["if"]).contains("!failure()"));
    let commands = job_commands(promote);
    assert_eq!(commands, [["promote"]]);
    let report = run_json(&stack, &commands[0], 0);
    assert_eq!(report["totals"]["promoted"], 5, "{report:#}");
    assert_all_promoted(
        &stack,
        &[
            ("base", "1.0.1"),
            ("runtime", "3.0.1"),
            ("tools", "2.1.1"),
            ("tools-lts", "1.4.1"),
            ("app", "5.0.1"),
        ],
    );

    // Once: nothing is due any more, and a second promote moves nothing.
    let after = floating_snapshot(&stack);
    let again = stack.golden(&args).expect(0).json();
    assert_eq!(again["depth"], 0);
    assert_eq!(again["waves"], serde_json::json!([]));
    assert_eq!(again["include"], serde_json::json!([]));
    let second = run_json(&stack, &commands[0], 0);
    assert_eq!(second["totals"]["promoted"], 0, "{second:#}");
    assert_eq!(second["totals"]["up_to_date"], 5);
    assert_eq!(floating_snapshot(&stack), after);
    stack.golden(&["clean"]).expect(0);
}

#[test]
fn the_gitlab_child_pipeline_builds_a_new_stack_and_promotes_it() {
    let stack = three_wave_stack("matrix_gitlab");
    let parent = read_yaml("contrib/gitlab-ci/golden-matrix.gitlab-ci.yml");
    let plan_script: Vec<&str> = parent["golden-plan"]["script"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(text)
        .collect();
    let plan = golden_commands(&plan_script.join("\n"));
    assert_eq!(plan, [["plan", "--output", "gitlab"]]);
    let artifact = text(&parent["golden-plan"]["artifacts"]["paths"][0]);
    let include = &parent["golden-waves"]["trigger"]["include"][0];
    assert_eq!(text(&include["artifact"]), artifact);
    assert_eq!(text(&include["job"]), "golden-plan");

    let args: Vec<&str> = plan[0].iter().map(String::as_str).collect();
    let child_text = stack.golden(&args).expect(0).stdout;
    let child: Yaml = serde_norway::from_str(&child_text).unwrap();
    let matrix = stack
        .golden(&["plan", "--output", "matrix"])
        .expect(0)
        .json();
    assert_three_waves(&stack, &matrix);

    let stages: Vec<&str> = child["stages"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(text)
        .collect();
    assert_eq!(stages, ["wave-0", "wave-1", "wave-2", "promote"]);
    let before = floating_snapshot(&stack);
    for (index, stage) in stages.iter().enumerate() {
        let jobs: Vec<&Yaml> = child
            .as_mapping()
            .unwrap()
            .values()
            .filter(|job| job.get("stage").map(text) == Some(*stage))
            .collect();
        assert_eq!(jobs.len(), 1, "one job in stage {stage}");
        let job = jobs[0];
        assert_eq!(text(&job["extends"]), ".golden");
        let script: Vec<&str> = job["script"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(text)
            .collect();
        let commands = golden_commands(&script.join("\n"));
        if *stage == "promote" {
            assert_eq!(commands, [["promote"]]);
            run_json(&stack, &commands[0], 0);
            continue;
        }
        let ids: Vec<String> = job["parallel"]["matrix"][0]["GOLDEN_ID"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|id| text(id).to_string())
            .collect();
        assert_eq!(ids, wave_ids(&matrix, index), "{stage}");
        for id in ids {
            let args: Vec<String> = commands[0]
                .iter()
                .map(|word| word.replace("$GOLDEN_ID", &id))
                .collect();
            let report = run_json(&stack, &args, 0);
            assert_eq!(entry(&report, &id)["decision"], "built", "{report:#}");
            assert_eq!(entry(&report, &id)["promoted"], false);
        }
        // Nothing floats before the promote: a new stack has no floating tag.
        assert_eq!(floating_snapshot(&stack), before, "after {stage}");
    }
    assert!(before.values().all(Option::is_none));
    let tools = digest(&stack.repository("tools"), "2.1.0").unwrap();
    assert_eq!(
        labels(&stack.repository("app"), "5.0.0")["org.opencontainers.image.base.digest"],
        tools
    );
    assert_all_promoted(
        &stack,
        &[
            ("base", "1.0.0"),
            ("runtime", "3.0.0"),
            ("tools", "2.1.0"),
            ("tools-lts", "1.4.0"),
            ("app", "5.0.0"),
        ],
    );
    let empty: Yaml = serde_norway::from_str(&stack.golden(&args).expect(0).stdout).unwrap();
    assert!(empty.get("nothing-due").is_some(), "{empty:?}");
    assert!(empty.get("promote").is_none());
    stack.golden(&["clean"]).expect(0);
}

#[test]
fn promote_refuses_a_child_built_on_a_stale_parent() {
    let stack = Stack::new("matrix_stale");
    stack.golden(&["build", "--all"]).expect(0);
    let base = stack.repository("base");
    let tools = stack.repository("tools");
    // tools is rebuilt first, on the base release of the time ...
    stack.write("images/tools/bin/extra", "#!/bin/sh\necho extra\n");
    stack.golden(&["build", "tools", "--no-promote"]).expect(0);
    assert!(tags(&tools).contains(&"2.1.1".to_string()));
    // ... then base gets a new build: tools 2.1.1 is on a stale parent.
    stack.update_upstream("CVE-2026-0003 fixed");
    stack.golden(&["build", "base", "--no-promote"]).expect(0);
    let old_tools = digest(&tools, "2.1").unwrap();

    let run = stack.golden(&["promote", "--output", "json"]).expect(1);
    let report = run.json();
    assert_eq!(entry(&report, "base")["decision"], "promoted");
    let refused = entry(&report, "tools");
    assert_eq!(refused["decision"], "failed", "{report:#}");
    let error = refused["error"].as_str().unwrap();
    assert!(
        error.contains("refusing to promote 2.1.1 of `tools`"),
        "{error}"
    );
    assert!(error.contains("golden build tools --no-promote"), "{error}");
    assert_floating(&base, "1.0.1", &["1.0", "1", "latest"]);
    assert_eq!(
        digest(&tools, "2.1"),
        Some(old_tools),
        "tools:2.1 moved onto a stale build"
    );

    // The fix the hint names: rebuilt on the new base, then promoted.
    stack.golden(&["build", "tools", "--no-promote"]).expect(0);
    let new_base = digest(&base, "1.0.1").unwrap();
    assert_eq!(
        labels(&tools, "2.1.2")["org.opencontainers.image.base.digest"],
        new_base
    );
    // A foreign image under a higher exact tag is never promoted onto.
    push_as(&stack.upstream(), &tools, "2.1.9");
    let promoted = stack.golden(&["promote"]).expect(0);
    assert!(promoted.stdout.contains("tools"), "{}", promoted.stdout);
    assert_floating(&tools, "2.1.2", &["2.1", "2", "latest"]);
    stack.golden(&["promote"]).expect(0);
    assert_floating(&tools, "2.1.2", &["2.1", "2", "latest"]);
    stack.golden(&["clean"]).expect(0);
}
