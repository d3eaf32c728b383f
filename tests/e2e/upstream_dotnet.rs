//! The .NET team's day, end to end (issue 27's "done when"): a vendor
//! repository publishes `10.0.0-noble`, `10.0.1-noble` and
//! `11.0.0-preview.1-noble`, each setting `ENV ASPNET_VERSION`; the golden
//! line tracks `10.0.*-noble` under upstream versioning. Tags read like
//! the vendor's own, a scheduled rebuild is a new revision, and a new
//! release is adopted as `upstream-released`. Against the real engine and
//! registry.

use crate::support;

use support::{assert_floating, entry, labels, reason_kinds, tags, Stack, REGISTRY};

fn publish(stack: &Stack, tag: &str, version: &str) -> String {
    stack.publish_upstream("aspnet", tag, &[("ASPNET_VERSION", version)], &[])
}

/// golden.toml: `aspnet-core` (line 10.0, tracking `10.0.*-noble`, read
/// from `ASPNET_VERSION`, weekly) and `app`, FROM golden `aspnet-core:10.0`.
fn configure(stack: &Stack) {
    let upstream = stack.upstream_repository("aspnet");
    stack.write(
        "images/aspnet-core/Dockerfile",
        &format!("FROM {upstream}:10.0.0-noble\nRUN echo golden > /etc/golden\n"),
    );
    stack.write(
        "images/app/Dockerfile",
        &format!(
            "FROM {}:10.0\nRUN echo app > /etc/app\n",
            stack.repository("aspnet-core")
        ),
    );
    std::fs::write(
        stack.config(),
        format!(
            "[registry]\nhost = \"{REGISTRY}\"\nnamespace = \"{}\"\n\n\
             [images.aspnet-core]\nversion = \"10.0\"\ncontext = \"images/aspnet-core\"\n\
             versioning = \"upstream\"\nupstream_version = {{ env = \"ASPNET_VERSION\" }}\n\
             track = \"10.0.*-noble\"\nschedule = \"@weekly\"\n\n\
             [images.app]\nversion = \"1.0\"\ncontext = \"images/app\"\n",
            stack.namespace
        ),
    )
    .unwrap();
}

#[test]
fn a_tracked_upstream_line_is_named_by_the_vendor_s_versions_and_adopts_a_release() {
    let stack = Stack::new("dotnet-day");
    publish(&stack, "10.0.0-noble", "10.0.0");
    publish(&stack, "10.0.1-noble", "10.0.1");
    publish(&stack, "11.0.0-preview.1-noble", "11.0.0-preview.1");
    configure(&stack);
    let repository = stack.repository("aspnet-core");

    // The first build: the newest 10.0 release, named by its version.
    stack.golden(&["build", "--all"]).expect(0);
    let first = assert_floating(
        &repository,
        "10.0.1-r1",
        &["10.0.1", "10.0", "10", "latest"],
    );
    let built = labels(&repository, "10.0.1-r1");
    assert_eq!(built["org.opencontainers.image.version"], "10.0.1-r1");
    assert_eq!(built["io.golden.upstream.version"], "10.0.1");
    assert_eq!(
        built["org.opencontainers.image.base.name"],
        format!("{}:10.0.1-noble", stack.upstream_repository("aspnet"))
    );
    let text = stack.golden(&["ls", "aspnet-core"]).expect(0).stdout;
    assert!(text.contains("10.0.1-r1 (upstream 10.0.1)"), "{text}");

    // The schedule fires a week later, the vendor published nothing:
    // the next revision of the same upstream version.
    let plan = stack
        .golden(&["plan", "--now", "2099-01-01T00:00:00Z", "--output", "json"])
        .expect(0)
        .json();
    assert_eq!(
        reason_kinds(&plan, "aspnet-core"),
        vec!["schedule-fired"],
        "{plan:#}"
    );
    stack
        .golden(&["build", "--all", "--now", "2099-01-01T00:00:00Z"])
        .expect(0);
    let second = assert_floating(
        &repository,
        "10.0.1-r2",
        &["10.0.1", "10.0", "10", "latest"],
    );
    assert_ne!(first, second);

    // The vendor's monthly patch: `plan` says why, the build is 10.0.2-r1.
    publish(&stack, "10.0.2-noble", "10.0.2");
    let text = stack.golden(&["plan", "--wide"]).expect(0).stdout;
    assert!(
        text.contains("upstream released 10.0.2-noble (was 10.0.1-noble)"),
        "{text}"
    );
    let plan = stack.golden(&["plan", "--output", "json"]).expect(0).json();
    assert_eq!(
        entry(&plan, "aspnet-core")["reasons"][0]["kind"],
        "upstream-released",
        "{plan:#}"
    );
    stack.golden(&["build", "--all"]).expect(0);
    assert_floating(
        &repository,
        "10.0.2-r1",
        &["10.0.2", "10.0", "10", "latest"],
    );
    // The older version's floating tag stays with its newest build.
    assert_floating(&repository, "10.0.1-r2", &["10.0.1"]);
    // The preview never got near the line.
    assert!(
        tags(&repository).iter().all(|tag| !tag.starts_with("11")),
        "{:?}",
        tags(&repository)
    );
    // The child was built on the new release in the same run.
    let app = labels(&stack.repository("app"), "1.0");
    assert_eq!(
        app["org.opencontainers.image.base.digest"],
        support::digest(&repository, "10.0.2-r1").unwrap()
    );

    // An application Dockerfile may name the upstream version or the build.
    for tag in ["10.0.2", "10.0.2-r1", "10.0"] {
        let app = stack.path().join(format!("app-{tag}.Dockerfile"));
        std::fs::write(&app, format!("FROM {repository}:{tag}\n")).unwrap();
        let run = stack.golden(&["check", app.to_str().unwrap()]);
        assert_eq!(run.code, 0, "FROM {tag}: {}{}", run.stdout, run.stderr);
    }
}

/// A two-platform upstream-versioned line (its version from a build arg,
/// FROM a 2-platform vendor index): `--no-promote` publishes the index
/// under `10.0.3-r1` alone, `promote` moves `10.0.3`, `10.0`, `10` and
/// `latest` onto it, and a rollback of `-r2` moves them back.
#[test]
fn a_two_platform_upstream_line_promotes_later_and_rolls_back_within_its_version() {
    use support::oci::{copy_upstream, namespace, PLATFORMS, SEEDED};
    let namespace = namespace("up", "two-platform");
    let upstream = copy_upstream(SEEDED, &namespace);
    let directory = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(directory.path().join("sdk")).unwrap();
    std::fs::write(
        directory.path().join("sdk/Dockerfile"),
        format!("FROM {upstream}:1.36\nARG DOTNET_SDK_VERSION\nRUN uname -m > /etc/golden-arch\n"),
    )
    .unwrap();
    let config = directory.path().join("golden.toml");
    std::fs::write(
        &config,
        format!(
            "[registry]\nhost = \"{REGISTRY}\"\nnamespace = \"{namespace}\"\n\n\
             [images.sdk]\nversion = \"10.0\"\ncontext = \"sdk\"\n\
             versioning = \"upstream\"\nupstream_version = {{ build_arg = \"DOTNET_SDK_VERSION\" }}\n\
             build_args = {{ DOTNET_SDK_VERSION = \"10.0.3\" }}\n{PLATFORMS}\n"
        ),
    )
    .unwrap();
    let repository = format!("{REGISTRY}/{namespace}/sdk");
    let golden = |args: &[&str]| support::golden_at(&config, args);

    golden(&["build", "--all", "--no-promote"]).expect(0);
    assert_eq!(tags(&repository), ["10.0.3-r1"], "nothing floating moved");
    for platform in ["linux/amd64", "linux/arm64"] {
        support::oci::child_of(&repository, "10.0.3-r1", platform);
    }
    let plan = golden(&["plan", "--output", "json"]).expect(0).json();
    assert_eq!(entry(&plan, "sdk")["decision"], "promote", "{plan:#}");
    golden(&["promote", "sdk"]).expect(0);
    let first = assert_floating(
        &repository,
        "10.0.3-r1",
        &["10.0.3", "10.0", "10", "latest"],
    );

    golden(&["rebuild", "sdk"]).expect(0);
    assert_floating(
        &repository,
        "10.0.3-r2",
        &["10.0.3", "10.0", "10", "latest"],
    );
    let run = golden(&["rollback", "sdk"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(
        assert_floating(
            &repository,
            "10.0.3-r1",
            &["10.0.3", "10.0", "10", "latest"]
        ),
        first
    );
    assert!(
        tags(&repository).contains(&"10.0.3-r2-withdrawn".to_string()),
        "{:?}",
        tags(&repository)
    );
    let text = golden(&["ls", "sdk"]).expect(0).stdout;
    assert!(text.contains("10.0.3-r2 (upstream 10.0.3)"), "{text}");
}
