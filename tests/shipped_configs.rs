//! The configs shipped in the repository load and resolve: the .NET golden
//! images of golden.toml and the offline stack.

use std::path::Path;

use golden::graph::Upstream;
use golden::project::Project;

fn load(relative: &str) -> Project {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    Project::load(&path).unwrap_or_else(|error| panic!("{relative}: {error}"))
}

fn upstream(project: &Project, id: &str) -> String {
    match &project.graph.nodes[id].upstream {
        Upstream::External(reference) => reference.to_string(),
        other => panic!("{id}: expected an external upstream, got {other:?}"),
    }
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
    let global = std::fs::read_to_string(sdk.context.join("global.json")).unwrap();
    assert!(
        global.contains(&format!(
            "\"version\": \"{}\"",
            sdk.build_args["SDK_VERSION"]
        )),
        "global.json pins the same SDK"
    );
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
