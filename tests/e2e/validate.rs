//! `golden validate`: the config, Dockerfiles and contexts checked with no
//! engine and no registry to reach.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A copy of `examples/offline` whose registry and engine do not exist.
fn offline_copy() -> (tempfile::TempDir, PathBuf) {
    let directory = tempfile::tempdir().unwrap();
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/offline");
    for entry in walkdir::WalkDir::new(&source) {
        let entry = entry.unwrap();
        let target = directory
            .path()
            .join(entry.path().strip_prefix(&source).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
    let config = directory.path().join("golden.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("127.0.0.1:5000", "127.0.0.1:9")).unwrap();
    (directory, config)
}

fn validate(config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_golden"))
        .arg("-c")
        .arg(config)
        .arg("validate")
        .args(args)
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .env("GOLDEN_ENGINE", "unix:///nonexistent/docker.sock")
        .env_remove("GOLDEN_OUTPUT")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_valid_config_passes_offline() {
    let (_directory, config) = offline_copy();
    let output = validate(&config, &[]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(
        text(&output.stdout).contains("valid (4 images"),
        "{output:?}"
    );
    let json = validate(&config, &["--output", "json"]);
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["valid"], true);
    assert_eq!(report["images"].as_array().unwrap().len(), 4);
}

#[test]
fn a_dockerfile_without_from_is_a_located_error() {
    let (directory, config) = offline_copy();
    let dockerfile = directory.path().join("images/base/Dockerfile");
    std::fs::write(&dockerfile, "RUN echo hi\n").unwrap();
    let output = validate(&config, &[]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = text(&output.stderr);
    assert!(stderr.contains("has no FROM instruction"), "{stderr}");
    assert!(
        stderr.contains(&dockerfile.display().to_string()),
        "{stderr}"
    );
}

#[test]
fn a_config_mistake_names_file_line_and_column() {
    let (directory, config) = offline_copy();
    let text_before = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text_before.replace("images/tools\"", "images/missing\""),
    )
    .unwrap();
    let output = validate(&config, &[]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = text(&output.stderr);
    assert!(stderr.contains("images/missing"), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:", config.display())),
        "{stderr}"
    );
    assert!(stderr.contains("does not exist"), "{stderr}");
    drop(directory);
}
