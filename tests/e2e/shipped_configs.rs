//! The configs shipped in the repository load and resolve: the .NET golden
//! images of golden.toml (what a .NET team reads first) and the offline
//! stack.

use std::path::{Path, PathBuf};

use golden::graph::Upstream;
use golden::project::Project;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn load(relative: &str) -> Project {
    let path = root().join(relative);
    golden::load::project(&path).unwrap_or_else(|error| panic!("{relative}: {error}"))
}

fn upstream(project: &Project, id: &str) -> String {
    match &project.graph.nodes[id].upstream {
        Upstream::External(reference) => reference.to_string(),
        other => panic!("{id}: expected an external upstream, got {other:?}"),
    }
}

/// The .NET images of the root golden.toml.
const DOTNET_IMAGES: [&str; 2] = ["aspnet-core", "dotnetcore-sdk"];

/// What the official mcr.microsoft.com/dotnet images already set (their
/// runtime-deps, aspnet and sdk Dockerfiles), plus the SDK's
/// DOTNET_SKIP_FIRST_TIME_EXPERIENCE, which has done nothing since .NET
/// Core 3.0, and ASPNETCORE_URLS, which would override the official
/// ASPNETCORE_HTTP_PORTS.
const SET_BY_THE_OFFICIAL_IMAGES: &[&str] = &[
    "APP_UID",
    "ASPNETCORE_HTTP_PORTS",
    "ASPNETCORE_URLS",
    "DOTNET_RUNNING_IN_CONTAINER",
    "DOTNET_NOLOGO",
    "NUGET_XMLDOC_MODE",
    "DOTNET_USE_POLLING_FILE_WATCHER",
    "DOTNET_GENERATE_ASPNET_CERTIFICATE",
    "DOTNET_SKIP_FIRST_TIME_EXPERIENCE",
];

/// A Dockerfile's instructions: continuation lines joined, comments and
/// blank lines dropped, as (KEYWORD, arguments).
fn instructions(dockerfile: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(dockerfile).unwrap();
    let mut joined = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(start) => {
                current.push_str(start);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                joined.push(std::mem::take(&mut current));
            }
        }
    }
    joined
        .into_iter()
        .map(|line| {
            let (keyword, arguments) = line.split_once(char::is_whitespace).unwrap_or((&line, ""));
            (keyword.to_uppercase(), arguments.trim().to_string())
        })
        .collect()
}

/// The variables an ENV instruction sets (`ENV A=1 B=2` and `ENV A 1`).
fn env_keys(arguments: &str) -> Vec<String> {
    if !arguments
        .split_whitespace()
        .next()
        .unwrap_or("")
        .contains('=')
    {
        return arguments
            .split_whitespace()
            .take(1)
            .map(str::to_string)
            .collect();
    }
    arguments
        .split_whitespace()
        .filter_map(|word| word.split_once('=').map(|(key, _)| key.to_string()))
        .collect()
}

#[test]
fn the_dotnet_golden_images_pin_exact_lts_versions() {
    let project = load("golden.toml");
    assert_eq!(project.config.registry.host, "registry.local:5000");
    assert_eq!(project.config.registry.namespace, "golden");
    assert_eq!(
        upstream(&project, "dotnetcore-sdk"),
        "mcr.microsoft.com/dotnet/sdk:10.0.100-noble"
    );
    assert_eq!(
        upstream(&project, "aspnet-core"),
        "mcr.microsoft.com/dotnet/aspnet:10.0.0-noble"
    );
    let sdk = project.config.image("dotnetcore-sdk").unwrap();
    assert_eq!(sdk.version.to_string(), "10.0");
    assert_eq!(sdk.labels["framework"], "net10.0");
}

#[test]
fn each_dotnet_version_is_written_once_in_its_from_line() {
    let project = load("golden.toml");
    for id in DOTNET_IMAGES {
        let image = project.config.image(id).unwrap();
        // The exact version is the FROM tag; the golden line is its X.Y.
        let reference = upstream(&project, id);
        let tag = reference.rsplit_once(':').unwrap().1;
        assert!(
            tag.starts_with(&format!("{}.", image.version)),
            "{id}: FROM tag {tag} is not on the golden line {}",
            image.version
        );
        // Not also a build arg (nor an ARG that one could set) ...
        assert!(
            image.build_args.is_empty(),
            "{id}: build args {:?} would be a second place for the version",
            image.build_args
        );
        let arguments: Vec<_> = instructions(&image.dockerfile_path())
            .into_iter()
            .filter(|(keyword, _)| keyword == "ARG")
            .collect();
        assert!(arguments.is_empty(), "{id}: {arguments:?}");
        // ... nor a global.json shipped in the image: the image holds one
        // SDK; applications pin theirs in their own repositories.
        assert!(
            !image.context.join("global.json").exists(),
            "{id}: global.json repeats the SDK version"
        );
    }
}

#[test]
fn every_dotnet_image_has_a_smoke_test_and_retention() {
    let project = load("golden.toml");
    assert_eq!(project.config.images.len(), DOTNET_IMAGES.len());
    for id in DOTNET_IMAGES {
        let image = project.config.image(id).unwrap();
        let test = image
            .test
            .as_ref()
            .unwrap_or_else(|| panic!("{id}: no smoke test"));
        assert!(
            test.command.iter().any(|word| word.contains("dotnet --"))
                || test.command[0] == "dotnet",
            "{id}: the smoke test {:?} does not run dotnet",
            test.command
        );
        let keep = image.keep.unwrap_or_else(|| panic!("{id}: no retention"));
        assert!(keep >= 5, "{id}: keep {keep} leaves little to roll back to");
    }
    let sdk = project.config.image("dotnetcore-sdk").unwrap();
    assert_eq!(sdk.test.as_ref().unwrap().command, ["dotnet", "--info"]);
}

#[test]
fn the_upstream_policy_allows_only_microsofts_dotnet_images() {
    let project = load("golden.toml");
    assert_eq!(
        project.config.policy.upstream_allow.texts,
        ["mcr.microsoft.com/dotnet/*"]
    );
    // The policy is what admits the images: with another registry's pattern
    // the same config is refused, naming every image.
    let copy = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join("golden.toml"))
        .unwrap()
        .replace(
            "upstream_allow = [\"mcr.microsoft.com/dotnet/*\"]",
            "upstream_allow = [\"docker.io/library/*\"]",
        );
    std::fs::write(copy.path().join("golden.toml"), text).unwrap();
    copy_tree(&root().join("images"), &copy.path().join("images"));
    let Err(error) = golden::load::project(&copy.path().join("golden.toml")) else {
        panic!("a config whose policy excludes mcr.microsoft.com loads");
    };
    let error = error.to_string();
    for id in DOTNET_IMAGES {
        assert!(
            error.contains(&format!("image `{id}` starts FROM"))
                && error.contains("upstream_allow does not allow"),
            "{id}: {error}"
        );
    }
}

#[test]
fn the_dotnet_dockerfiles_do_not_repeat_what_the_official_images_set() {
    let project = load("golden.toml");
    for id in DOTNET_IMAGES {
        let image = project.config.image(id).unwrap();
        for (keyword, arguments) in instructions(&image.dockerfile_path()) {
            if keyword != "ENV" {
                continue;
            }
            for key in env_keys(&arguments) {
                assert!(
                    !SET_BY_THE_OFFICIAL_IMAGES.contains(&key.as_str()),
                    "{id}: ENV {key} is already set by the official image (or obsolete)"
                );
            }
        }
    }
}

#[test]
fn every_image_of_the_example_is_built_for_amd64_and_arm64() {
    let project = golden::load::project(&root().join("golden.toml")).unwrap();
    let both = vec![
        golden::platform::Platform::linux_amd64(),
        golden::platform::Platform::linux_arm64(),
    ];
    assert!(!project.config.images.is_empty());
    for image in &project.config.images {
        assert_eq!(image.platforms, both, "{}", image.id);
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn the_offline_stack_has_a_golden_child_and_two_lines_of_one_repository() {
    let project = load("examples/offline/golden.toml");
    assert_eq!(
        project.graph.order,
        vec!["base", "runtime", "tools", "tools-lts"]
    );
    assert!(
        matches!(&project.graph.nodes["tools"].upstream, Upstream::Golden { id, .. } if id == "base")
    );
    let tools = project.config.image("tools").unwrap();
    let lts = project.config.image("tools-lts").unwrap();
    assert_eq!((tools.name.as_str(), lts.name.as_str()), ("tools", "tools"));
    assert_eq!(
        (tools.version.to_string(), lts.version.to_string()),
        ("2.1".to_string(), "1.4".to_string())
    );
}
