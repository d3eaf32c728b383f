//! The revision label: the commit of the config repository a build came
//! from. A working tree with changes is marked `<sha>-dirty` (and warned
//! about), since the build may hold edits no commit has. Where git is
//! missing or refuses the directory (not a checkout, or "dubious
//! ownership" in a CI container), the CI system's own commit variable is
//! used; `-v` says which source won.

use std::path::Path;

use crate::config::Config;

/// CI variables that name the commit being built, in the order tried.
const CI_VARIABLES: &[&str] = &[
    "GITHUB_SHA",
    "CI_COMMIT_SHA",
    "BUILD_SOURCEVERSION",
    "CIRCLE_SHA1",
    "BITBUCKET_COMMIT",
    "BUILDKITE_COMMIT",
    "DRONE_COMMIT_SHA",
    "GIT_COMMIT",
];

/// The first CI commit variable that is set, and its value. Pure: the
/// environment is handed in.
pub fn from_ci(variable: impl Fn(&str) -> Option<String>) -> Option<(&'static str, String)> {
    CI_VARIABLES.iter().find_map(|name| {
        let value = variable(name)?;
        let value = value.trim();
        let plausible =
            !value.is_empty() && value.len() <= 64 && value.bytes().all(|b| b.is_ascii_hexdigit());
        plausible.then(|| (*name, value.to_string()))
    })
}

/// The revision to record for builds of `config`.
pub async fn revision(config: &Config) -> Option<String> {
    let directory = config
        .source
        .path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    match from_git(directory).await {
        Some(revision) => Some(revision),
        None => {
            let (name, value) = from_ci(|name| std::env::var(name).ok())?;
            tracing::info!(
                "revision {value} from ${name} (no usable git checkout at `{}`)",
                directory.display()
            );
            Some(value)
        }
    }
}

/// `HEAD` of the checkout holding `directory`, `-dirty` when its working
/// tree has changes; `None` when git is missing or refuses.
async fn from_git(directory: &Path) -> Option<String> {
    let git = |args: &'static [&'static str]| {
        tokio::process::Command::new("git")
            .arg("-C")
            .arg(directory)
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
    };
    let head = git(&["rev-parse", "--verify", "HEAD"]).await.ok()?;
    let commit = String::from_utf8(head.stdout).ok()?.trim().to_string();
    if !head.status.success() || commit.len() < 40 {
        return None;
    }
    let status = git(&["status", "--porcelain"]).await.ok()?;
    if !status.status.success() {
        return None;
    }
    if status.stdout.is_empty() {
        tracing::info!("revision {commit} from git at `{}`", directory.display());
        return Some(commit);
    }
    let changed = String::from_utf8_lossy(&status.stdout).lines().count();
    tracing::warn!(
        "the config repository at `{}` has {changed} uncommitted change(s): builds are labelled {commit}-dirty",
        directory.display()
    );
    Some(format!("{commit}-dirty"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_plausible_ci_commit_wins() {
        const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(key, _)| *key == name)
                    .map(|(_, value)| value.to_string())
            }
        };
        assert_eq!(from_ci(env(&[])), None);
        assert_eq!(
            from_ci(env(&[("CI_COMMIT_SHA", SHA)])),
            Some(("CI_COMMIT_SHA", SHA.to_string()))
        );
        assert_eq!(
            from_ci(env(&[("GIT_COMMIT", SHA), ("GITHUB_SHA", "abc123")])),
            Some(("GITHUB_SHA", "abc123".to_string()))
        );
        // Junk (a branch name, a newline trick) is not a commit.
        assert_eq!(from_ci(env(&[("GITHUB_SHA", "main\nx")])), None);
        assert_eq!(from_ci(env(&[("GITHUB_SHA", "")])), None);
    }
}
