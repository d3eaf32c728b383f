//! `golden schema config|report`: printed without a config; the config's
//! checked by taplo (the TOML tool behind editors' schema support) against
//! every golden.toml shipped and against configs it must refuse; the
//! report's checked by Python's jsonschema (Debian's python3-jsonschema)
//! against real `plan` and `build` reports of the offline stack.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;

/// `golden schema DOCUMENT` run from `/`, written to a file in `directory`.
fn schema(document: &str, directory: &Path) -> PathBuf {
    let output = Command::new(env!("CARGO_BIN_EXE_golden"))
        .args(["schema", document])
        .current_dir("/")
        .env_remove("GOLDEN_CONFIG")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "golden schema {document}: {output:?}"
    );
    let parsed: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("golden schema {document} is not JSON: {error}"));
    assert!(parsed["$schema"].is_string(), "{parsed}");
    let path = directory.join(format!("{document}.schema.json"));
    std::fs::write(&path, &output.stdout).unwrap();
    path
}

/// `taplo check` of `config` against `schema`: whether it passed, and
/// what it said.
fn taplo(schema: &Path, config: &Path) -> (bool, String) {
    let output = Command::new("taplo")
        .args(["check", "--schema"])
        .arg(format!("file://{}", schema.display()))
        .arg(config)
        .env("RUST_LOG", "warn")
        .output()
        .expect("taplo is installed (scripts/env: npm @taplo/cli)");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), said)
}

/// Every golden.toml in the repository outside build output.
fn shipped_configs() -> Vec<PathBuf> {
    fn walk(directory: &Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(directory).unwrap().flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().to_string();
            if path.is_dir() {
                if !matches!(name.as_str(), "target" | ".git" | "node_modules") {
                    walk(&path, found);
                }
            } else if name.starts_with("golden") && name.ends_with(".toml") {
                found.push(path);
            }
        }
    }
    let mut found = Vec::new();
    walk(Path::new(env!("CARGO_MANIFEST_DIR")), &mut found);
    found.sort();
    found
}

#[test]
fn the_config_schema_accepts_every_shipped_config_and_refuses_wrong_keys() {
    let directory = tempfile::tempdir().unwrap();
    let schema = schema("config", directory.path());
    let configs = shipped_configs();
    assert!(configs.len() >= 4, "{configs:?}");
    for config in &configs {
        let (passed, said) = taplo(&schema, config);
        assert!(passed, "{}: {said}", config.display());
    }
    let valid = "[registry]\nhost = \"registry.local:5000\"\nnamespace = \"golden\"\n\n[images.base]\nversion = \"1.0\"\ncontext = \"images/base\"\n";
    for (what, config, named) in [
        (
            "an unknown top-level key",
            format!("{valid}colour = true\n"),
            "colour",
        ),
        (
            "an unknown image key",
            valid.replace("context =", "contxt ="),
            "contxt",
        ),
        (
            "a string for a bool",
            valid.replace(
                "namespace = \"golden\"\n",
                "namespace = \"golden\"\ninsecure = \"yes\"\n",
            ),
            "insecure",
        ),
        (
            "a builder that is none of the three",
            format!("{valid}builder = \"fast\"\n"),
            "fast",
        ),
    ] {
        let path = directory.path().join("golden.toml");
        std::fs::write(&path, &config).unwrap();
        let (passed, said) = taplo(&schema, &path);
        assert!(!passed, "{what} passed:\n{config}\n{said}");
        assert!(
            said.contains(named),
            "{what}: taplo does not name `{named}`:\n{said}"
        );
    }
    // The valid one passes (the refusals above are the schema's, not taplo's).
    std::fs::write(directory.path().join("golden.toml"), valid).unwrap();
    let (passed, said) = taplo(&schema, &directory.path().join("golden.toml"));
    assert!(passed, "{said}");
}

#[test]
fn real_plan_and_build_reports_match_the_report_schema() {
    let stack = support::Stack::new("schema");
    let schema = schema("report", stack.path());
    let plan = stack.golden(&["plan", "--output", "json"]).expect(0);
    let build = stack
        .golden(&["build", "--all", "--output", "json"])
        .expect(0);
    let mut reports = vec![("plan", plan.stdout), ("build", build.stdout)];
    // A failure, a held line and a skipped child say more fields.
    stack.write(
        "images/base/Dockerfile",
        "FROM 127.0.0.1:5000/upstream/busybox:1.36\nRUN exit 3\n",
    );
    let failed = stack
        .golden(&["build", "--all", "--output", "json"])
        .expect(1);
    reports.push(("failed build", failed.stdout));
    let held = stack.golden(&["plan", "--output", "json"]).expect(1);
    reports.push(("plan with a held line", held.stdout));
    for (what, report) in reports {
        let path = stack.path().join("report.json");
        std::fs::write(&path, &report).unwrap();
        let check = "import json, sys, jsonschema\n\
                     schema = json.load(open(sys.argv[1]))\n\
                     jsonschema.Draft202012Validator.check_schema(schema)\n\
                     errors = list(jsonschema.Draft202012Validator(schema).iter_errors(json.load(open(sys.argv[2]))))\n\
                     [print(list(e.absolute_path), e.message) for e in errors]\n\
                     sys.exit(1 if errors else 0)\n";
        let output = Command::new("/usr/bin/python3")
            .args(["-c", check])
            .arg(&schema)
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "the {what} report does not match its schema:\n{}{}\n{report}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
