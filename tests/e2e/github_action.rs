//! golden's GitHub Action (`action.yml`) and the workflows of
//! `contrib/github-actions` that use it, played by a small runner: `run:`
//! steps through `bash -eo pipefail` with the workflow, job and step `env`,
//! `$GITHUB_PATH`, `$GITHUB_ENV`, `$GITHUB_OUTPUT` and
//! `$GITHUB_STEP_SUMMARY` as a runner gives them; `if:` with `always()`
//! and `vars.NAME == 'value'`; golden's action run from its `action.yml`
//! (a composite action: its steps with `${{ inputs.* }}` from `with:`);
//! `actions/checkout`, `upload-artifact` and `upload-sarif` played by the
//! test.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::contrib::{
    application, assert_stack_built, copy_directory, decisions, install_overrides,
    path_without_golden, read_report, root, text, yaml,
};
use crate::support::{tags, Stack};
use serde_norway::Value as Yaml;

/// The action workflows name for golden's own.
const GOLDEN_ACTION: &str = "example-corp/golden";

/// What a job did: each step's name and whether it passed, what its steps
/// printed, its summary, and what it uploaded (by file name).
struct JobRun {
    steps: Vec<(String, bool)>,
    success: bool,
    log: String,
    summary: String,
    uploads: tempfile::TempDir,
}

impl JobRun {
    fn upload(&self, name: &str) -> serde_json::Value {
        read_report(&self.uploads.path().join(name))
    }
}

/// One job's runner: its directories, files and environment.
struct Runner {
    directory: tempfile::TempDir,
    workspace: PathBuf,
    path: String,
    environment: BTreeMap<String, String>,
    /// Repository variables (`vars.NAME`).
    vars: BTreeMap<String, String>,
    log: String,
}

impl Runner {
    fn new(environment: BTreeMap<String, String>, vars: &[(&str, &str)]) -> Runner {
        let directory = tempfile::tempdir().unwrap();
        let workspace = directory.path().join("workspace");
        std::fs::create_dir_all(&workspace).unwrap();
        std::fs::create_dir_all(directory.path().join("temp")).unwrap();
        Runner {
            directory,
            workspace,
            path: path_without_golden(),
            environment,
            vars: vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            log: String::new(),
        }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.directory.path().join(name)
    }

    /// `value` with `${{ env.NAME }}`, `${{ inputs.NAME }}` and `${{
    /// vars.NAME }}` replaced; any other expression is refused.
    fn expand(&self, value: &str, inputs: &BTreeMap<String, String>) -> String {
        let mut text = value.to_string();
        while let Some(start) = text.find("${{") {
            let end = start + text[start..].find("}}").expect("a closed expression");
            let expression = text[start + 3..end].trim();
            let replacement = if let Some(name) = expression.strip_prefix("env.") {
                self.environment.get(name).cloned().unwrap_or_default()
            } else if let Some(name) = expression.strip_prefix("inputs.") {
                inputs.get(name).cloned().unwrap_or_default()
            } else if let Some(name) = expression.strip_prefix("secrets.") {
                format!("(secret {name})")
            } else {
                panic!("the runner does not play `{expression}`")
            };
            text.replace_range(start..end + 2, &replacement);
        }
        text
    }

    /// Whether a step with `condition` runs, `failed` when an earlier one
    /// failed: `always()` runs after a failure; `vars.NAME == 'value'`
    /// reads the repository variables.
    fn runs(&self, condition: Option<&str>, failed: bool) -> bool {
        let Some(condition) = condition else {
            return !failed;
        };
        let condition = condition
            .trim()
            .trim_start_matches("${{")
            .trim_end_matches("}}");
        let mut always = false;
        let mut holds = true;
        for term in condition.split("&&").map(str::trim) {
            if term == "always()" {
                always = true;
            } else if let Some((name, value)) =
                term.strip_prefix("vars.").and_then(|t| t.split_once("=="))
            {
                let value = value.trim().trim_matches('\'');
                holds &= self.vars.get(name.trim()).map(String::as_str) == Some(value);
            } else {
                panic!("the runner does not play the condition `{term}`");
            }
        }
        holds && (always || !failed)
    }

    /// Runs `script` through bash in `directory` with `environment`; what it
    /// adds to $GITHUB_PATH and $GITHUB_ENV applies from the next step on.
    fn script(
        &mut self,
        name: &str,
        script: &str,
        environment: &BTreeMap<String, String>,
        directory: &Path,
    ) -> bool {
        assert!(
            !script.contains("${{"),
            "expressions in run: are not played: {script}"
        );
        let output = Command::new("bash")
            .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script])
            .current_dir(directory)
            .env_clear()
            .envs(environment)
            .env("PATH", &self.path)
            .env("HOME", self.directory.path())
            .env("RUNNER_TEMP", self.file("temp"))
            .env("GITHUB_WORKSPACE", &self.workspace)
            .env("GITHUB_PATH", self.file("github_path"))
            .env("GITHUB_ENV", self.file("github_env"))
            .env("GITHUB_OUTPUT", self.file("github_output"))
            .env("GITHUB_STEP_SUMMARY", self.file("summary"))
            .env("CI", "true")
            .output()
            .unwrap();
        let printed = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        eprintln!("step `{name}`: {}\n{printed}", output.status);
        self.log.push_str(&String::from_utf8_lossy(&output.stdout));
        if let Ok(added) = std::fs::read_to_string(self.file("github_path")) {
            for directory in added.lines().rev().filter(|l| !l.is_empty()) {
                if !self.path.split(':').any(|d| d == directory) {
                    self.path = format!("{directory}:{}", self.path);
                }
            }
        }
        if let Ok(added) = std::fs::read_to_string(self.file("github_env")) {
            for line in added.lines() {
                if let Some((key, value)) = line.split_once('=') {
                    self.environment.insert(key.to_string(), value.to_string());
                }
            }
        }
        output.status.success()
    }

    /// Golden's action, from its action.yml: each composite step with the
    /// inputs `with` gives (over the defaults).
    fn golden_action(&mut self, with: &Yaml) -> bool {
        let action: Yaml =
            serde_norway::from_str(&std::fs::read_to_string(root().join("action.yml")).unwrap())
                .unwrap();
        assert_eq!(text(&action["runs"]["using"]), "composite");
        let mut inputs = BTreeMap::new();
        for (key, input) in action["inputs"].as_mapping().unwrap() {
            inputs.insert(text(key).to_string(), text(&input["default"]).to_string());
        }
        if let Some(map) = with.as_mapping() {
            for (key, value) in map {
                let key = text(key).to_string();
                assert!(
                    inputs.contains_key(&key),
                    "golden's action has no input `{key}`"
                );
                inputs.insert(key, self.expand(text(value), &BTreeMap::new()));
            }
        }
        for step in action["runs"]["steps"].as_sequence().unwrap() {
            assert_eq!(
                text(&step["shell"]),
                "bash",
                "composite steps name their shell"
            );
            let mut environment = self.environment.clone();
            if let Some(map) = step["env"].as_mapping() {
                for (key, value) in map {
                    environment.insert(text(key).to_string(), self.expand(text(value), &inputs));
                }
            }
            let directory = match step["working-directory"].as_str() {
                Some(relative) => self.workspace.join(self.expand(relative, &inputs)),
                None => self.workspace.clone(),
            };
            let name = format!("golden action: {}", text(&step["name"]));
            if !self.script(&name, text(&step["run"]), &environment, &directory) {
                return false;
            }
        }
        true
    }
}

/// Runs one job of `workflow` the way a runner does (see the module's
/// comment); `overrides` replace environment variables, `vars` are the
/// repository variables; the repositories checkout copies are named in
/// `repositories` ("" for the workflow's own).
fn run_github_job(
    workflow: &Yaml,
    job: &str,
    repositories: &BTreeMap<&str, &Path>,
    overrides: &[(&str, &str)],
    vars: &[(&str, &str)],
) -> JobRun {
    let job_definition = &workflow["jobs"][job];
    let mut environment = BTreeMap::new();
    for scope in [&workflow["env"], &job_definition["env"]] {
        if let Some(map) = scope.as_mapping() {
            for (key, value) in map {
                environment.insert(text(key).to_string(), text(value).to_string());
            }
        }
    }
    for (key, value) in overrides {
        environment.insert(key.to_string(), value.to_string());
    }
    let mut runner = Runner::new(environment, vars);
    let uploads = tempfile::tempdir().unwrap();
    let mut steps = Vec::new();
    let mut success = true;
    for step in job_definition["steps"].as_sequence().expect("steps") {
        if !runner.runs(step["if"].as_str(), !success) {
            continue;
        }
        let name = step["name"]
            .as_str()
            .or(step["uses"].as_str())
            .or(step["run"].as_str())
            .unwrap()
            .to_string();
        let passed = match step["uses"].as_str() {
            Some(action) if action.starts_with(&format!("{GOLDEN_ACTION}@")) => {
                runner.golden_action(&step["with"])
            }
            Some(action) => play_action(
                action,
                &step["with"],
                &runner.workspace,
                repositories,
                uploads.path(),
            ),
            None => {
                let mut step_environment = runner.environment.clone();
                if let Some(map) = step["env"].as_mapping() {
                    for (key, value) in map {
                        step_environment.insert(text(key).to_string(), text(value).to_string());
                    }
                }
                let directory = match step["working-directory"].as_str() {
                    Some(relative) => runner.workspace.join(relative),
                    None => runner.workspace.clone(),
                };
                runner.script(&name, text(&step["run"]), &step_environment, &directory)
            }
        };
        success &= passed;
        steps.push((name, passed));
    }
    let summary = std::fs::read_to_string(runner.file("summary")).unwrap_or_default();
    JobRun {
        steps,
        success,
        log: runner.log,
        summary,
        uploads,
    }
}

fn play_action(
    action: &str,
    with: &Yaml,
    workspace: &Path,
    repositories: &BTreeMap<&str, &Path>,
    uploads: &Path,
) -> bool {
    let upload = |path: &Path| {
        std::fs::copy(path, uploads.join(path.file_name().unwrap())).unwrap();
    };
    let (name, _version) = action
        .split_once('@')
        .expect("actions are pinned to a version");
    match name {
        "actions/checkout" => {
            let repository = with["repository"].as_str().unwrap_or("");
            let source = repositories
                .get(repository)
                .unwrap_or_else(|| panic!("the test has no repository `{repository}`"));
            let target = match with["path"].as_str() {
                Some(relative) => workspace.join(relative),
                None => workspace.to_path_buf(),
            };
            copy_directory(source, &target);
            true
        }
        "actions/upload-artifact" => {
            let path = workspace.join(text(&with["path"]));
            let exists = path.exists();
            if exists {
                upload(&path);
            }
            exists
        }
        "github/codeql-action/upload-sarif" => {
            let path = workspace.join(text(&with["sarif_file"]));
            let sarif: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("SARIF file {}: {e}", path.display())),
            )
            .unwrap_or_else(|e| panic!("SARIF file {} is not JSON: {e}", path.display()));
            assert_eq!(sarif["version"], "2.1.0");
            if let Some(checkout) = with["checkout_path"].as_str() {
                assert!(
                    workspace.join(checkout).is_dir(),
                    "checkout_path {checkout}"
                );
            }
            upload(&path);
            true
        }
        other => panic!("the test does not play action `{other}`"),
    }
}

/// The workflows install golden through its action only: no step repeats
/// the download, and every workflow says its permissions.
#[test]
fn the_workflows_use_goldens_action_and_say_their_permissions() {
    for file in ["golden-build.yml", "golden-check.yml", "golden-matrix.yml"] {
        let relative = format!("contrib/github-actions/{file}");
        let workflow = yaml(&relative);
        assert_eq!(
            text(&workflow["permissions"]["contents"]),
            "read",
            "{file} sets permissions"
        );
        let source = std::fs::read_to_string(root().join(&relative)).unwrap();
        assert!(!source.contains("curl"), "{file} repeats the install steps");
        let mut uses_golden = 0;
        for (name, job) in workflow["jobs"].as_mapping().unwrap() {
            for step in job["steps"].as_sequence().unwrap() {
                if step["uses"]
                    .as_str()
                    .is_some_and(|uses| uses.starts_with(GOLDEN_ACTION))
                {
                    uses_golden += 1;
                }
                if let Some(run) = step["run"].as_str() {
                    let first_golden = job["steps"].as_sequence().unwrap().iter().position(|s| {
                        s["uses"]
                            .as_str()
                            .is_some_and(|uses| uses.starts_with(GOLDEN_ACTION))
                    });
                    let here = job["steps"]
                        .as_sequence()
                        .unwrap()
                        .iter()
                        .position(|s| s == step);
                    if run
                        .lines()
                        .any(|line| line.trim_start().starts_with("golden "))
                    {
                        assert!(
                            first_golden < here,
                            "{file} {}: golden runs before it is installed",
                            text(name)
                        );
                    }
                }
            }
        }
        assert!(uses_golden > 0, "{file}");
    }
}

#[test]
fn the_build_workflow_installs_golden_builds_the_stack_and_summarises_it() {
    let stack = Stack::new("github_action_build");
    let workflow = yaml("contrib/github-actions/golden-build.yml");
    let overrides = install_overrides();
    let overrides: Vec<(&str, &str)> = overrides.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let repositories = BTreeMap::from([("", stack.path())]);

    // A binary whose sha256 is not the one given is refused.
    let tampered = run_github_job(
        &workflow,
        "build",
        &repositories,
        &[overrides[0], ("GOLDEN_SHA256", &"0".repeat(64))],
        &[],
    );
    assert!(!tampered.success);
    assert_eq!(tampered.steps[1], ("Build what is due".to_string(), false));
    assert_eq!(tags(&stack.repository("base")), Vec::<String>::new());

    let run = run_github_job(&workflow, "build", &repositories, &overrides, &[]);
    assert!(run.success, "{:?}", run.steps);
    let names: Vec<&str> = run.steps.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "actions/checkout@v4",
            "Build what is due",
            "actions/upload-artifact@v4"
        ]
    );
    assert_stack_built(&stack, &run.upload("golden-report.json"));
    assert!(
        run.summary
            .contains("### `golden build --all --report golden-report.json`: exit 0"),
        "{}",
        run.summary
    );
    assert!(
        run.summary
            .lines()
            .any(|line| line.starts_with("built ") && line.contains(" base ")),
        "{}",
        run.summary
    );
    assert_eq!(
        tags(&stack.repository("base")),
        ["1", "1.0", "1.0.0", "latest"]
    );
    let report = stack.golden(&["plan", "--output", "json"]).expect(0).json();
    assert!(
        decisions(&report).values().all(|d| d == "up-to-date"),
        "{report}"
    );
    stack.golden(&["clean"]);
}

#[test]
fn the_check_workflow_annotates_each_finding_and_uploads_sarif_when_asked() {
    let stack = Stack::new("github_action_check");
    let workflow = yaml("contrib/github-actions/golden-check.yml");
    let overrides = install_overrides();
    let overrides: Vec<(&str, &str)> = overrides.iter().map(|(k, v)| (*k, v.as_str())).collect();

    let good = application(&format!("{}:1.0", stack.repository("base")));
    let repositories = BTreeMap::from([
        ("", good.path()),
        ("example-corp/golden-images", stack.path()),
    ]);
    let run = run_github_job(&workflow, "golden-check", &repositories, &overrides, &[]);
    assert!(run.success, "{:?}", run.steps);
    assert!(!run.log.contains("::error"), "{}", run.log);
    assert_eq!(
        run.steps.len(),
        3,
        "no SARIF without GOLDEN_SARIF: {:?}",
        run.steps
    );

    let bad = application("docker.io/library/debian:12");
    let repositories = BTreeMap::from([
        ("", bad.path()),
        ("example-corp/golden-images", stack.path()),
    ]);
    let run = run_github_job(&workflow, "golden-check", &repositories, &overrides, &[]);
    assert!(!run.success, "{:?}", run.steps);
    let annotation = run
        .log
        .lines()
        .find(|line| line.starts_with("::error "))
        .unwrap_or_else(|| panic!("no annotation in\n{}", run.log));
    assert!(
        annotation.contains("file=./service/Dockerfile,line=1,col=6,")
            && annotation.contains(",title=golden check%3A not-golden::")
            && annotation.contains("is not a golden image Fix: start FROM a golden image"),
        "{annotation}"
    );
    assert!(run.summary.contains(": exit 1"), "{}", run.summary);

    // With the repository variable, SARIF for code scanning too.
    let run = run_github_job(
        &workflow,
        "golden-check",
        &repositories,
        &overrides,
        &[("GOLDEN_SARIF", "true")],
    );
    assert!(!run.success);
    assert_eq!(
        run.steps.last().unwrap(),
        &("github/codeql-action/upload-sarif@v3".to_string(), true)
    );
    let report = run.upload("golden.sarif");
    let results = report["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 1, "{report}");
    assert_eq!(results[0]["ruleId"], "not-golden");
}
