//! Stamps the binary with the git commit it was built from, for
//! `golden --version`: `0.1.0 (abc1234)`, `0.1.0 (abc1234-dirty)` with
//! uncommitted changes, `0.1.0 (unknown)` outside a git checkout (a
//! source tarball, `cargo install` from a registry).

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let commit = commit().unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=GOLDEN_GIT_COMMIT={commit}");
    println!("cargo:rerun-if-env-changed=GOLDEN_GIT_COMMIT");
    for path in watched() {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}

/// `git` with its answer trimmed; `None` when it fails or is missing.
fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    if !output.status.success() {
        return None;
    }
    Some(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// The short commit, with `-dirty` when tracked files differ from it.
fn commit() -> Option<String> {
    if let Ok(given) = std::env::var("GOLDEN_GIT_COMMIT") {
        return Some(given);
    }
    let short = git(&["rev-parse", "--short", "HEAD"]).filter(|hash| !hash.is_empty())?;
    let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
        .is_some_and(|status| !status.is_empty());
    Some(if dirty {
        format!("{short}-dirty")
    } else {
        short
    })
}

/// What changes the answer: HEAD, the branch it points at, packed refs,
/// the index, and the tracked sources (for the dirty mark).
fn watched() -> Vec<PathBuf> {
    let mut paths = ["src", "tests", "build.rs", "Cargo.toml", "Cargo.lock"]
        .map(PathBuf::from)
        .to_vec();
    let (Some(git_dir), Some(common)) = (
        git(&["rev-parse", "--git-dir"]),
        git(&["rev-parse", "--git-common-dir"]),
    ) else {
        return paths;
    };
    let (git_dir, common) = (PathBuf::from(git_dir), PathBuf::from(common));
    paths.push(git_dir.join("HEAD"));
    paths.push(git_dir.join("index"));
    paths.push(common.join("packed-refs"));
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        paths.push(common.join(branch));
    }
    paths.into_iter().filter(|path| path.exists()).collect()
}
