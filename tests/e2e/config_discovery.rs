//! Without `-c`, golden finds golden.toml in the current directory or its
//! parents, and the paths inside it stay relative to the file.

use crate::support;

use std::process::{Command, Stdio};

use support::{reason_kinds, Run, Stack};

fn golden_in(directory: &std::path::Path, args: &[&str]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_golden"));
    command
        .args(args)
        .current_dir(directory)
        .env_remove("GOLDEN_CONFIG")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    command.output().expect("the golden binary starts").into()
}

#[test]
fn plan_from_a_subdirectory_finds_the_config_and_its_relative_contexts() {
    let stack = Stack::new("discovery");
    let below = stack.path().join("images/tools");
    let run = golden_in(&below, &["plan", "--output", "json"]).expect(0);
    let report = run.json();
    // Contexts are `images/...` relative to golden.toml: resolved against
    // the current directory they would not exist and the plan would fail.
    assert_eq!(reason_kinds(&report, "base"), vec!["never-built"]);
    assert!(reason_kinds(&report, "tools").contains(&"never-built".to_string()));
}

#[test]
fn not_found_names_every_absolute_path_tried() {
    let root = tempfile::tempdir().unwrap();
    let checkout = root.path().join("project");
    let deep = checkout.join("services/api");
    std::fs::create_dir_all(&deep).unwrap();
    std::fs::create_dir(checkout.join(".git")).unwrap();
    // Above the checkout: another project's config, never used.
    std::fs::write(root.path().join("golden.toml"), "[registry]\n").unwrap();
    let run = golden_in(&deep, &["plan"]).expect(2);
    for tried in [
        deep.join("golden.toml"),
        checkout.join("services/golden.toml"),
        checkout.join("golden.toml"),
    ] {
        assert!(
            run.stderr.contains(&format!("  {}\n", tried.display())),
            "{} not named:\n{}",
            tried.display(),
            run.stderr
        );
    }
    assert!(
        !run.stderr
            .contains(&root.path().join("golden.toml").display().to_string()),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("-c/--config"), "{}", run.stderr);
}
