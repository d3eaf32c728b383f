//! The revision label: the commit of the config repository a build came
//! from. A working tree with changes is marked `<sha>-dirty` (and warned
//! about), since the build may hold edits no commit has. Where git is
//! missing or refuses the directory (not a checkout, or "dubious
//! ownership" in a CI container), the CI system's own commit variable is
//! used; `-v` says which source won.
//!
//! The source label (`org.opencontainers.image.source`): where that
//! repository lives, from the checkout's `origin` remote or else the CI's
//! own variables, as an `https://` URL without credentials (a CI checkout's
//! remote often carries its token).

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

/// The directory holding the config file `path` (`.` for a bare name).
pub fn directory_of(path: &Path) -> &Path {
    path.parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// The revision to record for builds of `config`.
pub async fn revision(config: &Config) -> Option<String> {
    let directory = directory_of(&config.source.path);
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

/// CI variables that name the repository being built: one URL, or a
/// server and a path joined by `/`.
const CI_SOURCES: &[&[&str]] = &[
    &["GITHUB_SERVER_URL", "GITHUB_REPOSITORY"],
    &["CI_PROJECT_URL"],
    &["BUILD_REPOSITORY_URI"],
    &["CIRCLE_REPOSITORY_URL"],
    &["BITBUCKET_GIT_HTTP_ORIGIN"],
    &["BUILDKITE_REPO"],
    &["DRONE_GIT_HTTP_URL"],
];

/// The repository URL the first set CI variables name. Pure.
pub fn source_from_ci(variable: impl Fn(&str) -> Option<String>) -> Option<(String, String)> {
    CI_SOURCES.iter().find_map(|names| {
        let parts: Vec<String> = names
            .iter()
            .map(|name| variable(name).filter(|value| !value.trim().is_empty()))
            .collect::<Option<_>>()?;
        let joined = parts
            .iter()
            .map(|part| part.trim().trim_end_matches('/'))
            .collect::<Vec<_>>()
            .join("/");
        Some((names.join(" and "), web_url(&joined)?))
    })
}

/// A git remote as a web URL: `https://host/path`, without user, password,
/// query or `.git`; `git@host:path` and `ssh://` become `https://`. `None`
/// for a local path or anything else that is not a remote on a host.
pub fn web_url(remote: &str) -> Option<String> {
    let remote = remote.trim();
    let (scheme, rest, ssh) = match remote.split_once("://") {
        Some((scheme, rest)) => match scheme.to_ascii_lowercase().as_str() {
            "https" => ("https", rest.to_string(), false),
            "http" => ("http", rest.to_string(), false),
            "ssh" | "git" | "git+ssh" | "ssh+git" => ("https", rest.to_string(), true),
            _ => return None,
        },
        // scp-like `user@host:path` (a `:` before any `/`).
        None => {
            let (host, path) = remote.split_once(':')?;
            if host.contains('/') || path.starts_with('/') {
                return None;
            }
            ("https", format!("{host}/{path}"), true)
        }
    };
    let (authority, path) = rest.split_once('/')?;
    let host = authority.rsplit('@').next()?;
    // An ssh port is not the web server's.
    let host = if ssh { host.split(':').next()? } else { host };
    if host.is_empty() || host.contains(|c: char| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let path = path.split(['?', '#']).next()?.trim_end_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    if path.is_empty() || path.contains(|c: char| c.is_control() || c == ' ') {
        return None;
    }
    Some(format!("{scheme}://{host}/{path}"))
}

/// The source to record for builds of `config`.
pub async fn source(config: &Config) -> Option<String> {
    let directory = directory_of(&config.source.path);
    let origin = tokio::process::Command::new("git")
        .arg("-C")
        .arg(directory)
        .args(["remote", "get-url", "origin"])
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .ok()
        .filter(|output| output.status.success())
        .and_then(|output| String::from_utf8(output.stdout).ok());
    if let Some(url) = origin.as_deref().and_then(web_url) {
        tracing::info!("source {url} from the checkout's origin remote");
        return Some(url);
    }
    let (names, url) = source_from_ci(|name| std::env::var(name).ok())?;
    tracing::info!("source {url} from ${names}");
    Some(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An environment holding `pairs`.
    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name: &str| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.to_string())
        }
    }

    #[test]
    fn remotes_become_web_urls_without_credentials() {
        let cases = [
            (
                "https://ci-token:s3cret@git.example.com/platform/golden-images.git",
                Some("https://git.example.com/platform/golden-images"),
            ),
            (
                "git@github.com:platform/golden-images.git",
                Some("https://github.com/platform/golden-images"),
            ),
            (
                "ssh://git@git.example.com:2222/platform/golden-images.git",
                Some("https://git.example.com/platform/golden-images"),
            ),
            (
                "https://git.example.com:8443/group/sub/project/",
                Some("https://git.example.com:8443/group/sub/project"),
            ),
            ("/srv/git/golden-images.git", None),
            ("file:///srv/git/golden-images.git", None),
            ("C:/repos/x", None),
            ("https://host", None),
        ];
        for (remote, expected) in cases {
            assert_eq!(web_url(remote).as_deref(), expected, "{remote}");
        }
    }

    #[test]
    fn ci_variables_name_the_repository() {
        assert_eq!(source_from_ci(env(&[])), None);
        assert_eq!(
            source_from_ci(env(&[
                ("GITHUB_SERVER_URL", "https://github.com"),
                ("GITHUB_REPOSITORY", "platform/golden-images"),
            ]))
            .map(|(_, url)| url),
            Some("https://github.com/platform/golden-images".to_string())
        );
        // One of a pair alone names nothing.
        assert_eq!(
            source_from_ci(env(&[("GITHUB_REPOSITORY", "platform/golden-images")])),
            None
        );
        assert_eq!(
            source_from_ci(env(&[(
                "CI_PROJECT_URL",
                "https://gitlab.example.com/group/golden-images"
            )]))
            .map(|(_, url)| url),
            Some("https://gitlab.example.com/group/golden-images".to_string())
        );
    }

    #[test]
    fn the_first_plausible_ci_commit_wins() {
        const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
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
