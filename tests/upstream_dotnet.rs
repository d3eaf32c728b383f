//! The .NET team's day, end to end (issue 27's "done when"): a vendor
//! repository publishes `10.0.0-noble`, `10.0.1-noble` and
//! `11.0.0-preview.1-noble`, each setting `ENV ASPNET_VERSION`; the golden
//! line tracks `10.0.*-noble` under upstream versioning. Tags read like
//! the vendor's own, a scheduled rebuild is a new revision, and a new
//! release is adopted as `upstream-released`. Against the real engine and
//! registry.

mod common;

use common::{assert_floating, entry, labels, reason_kinds, tags, Stack, REGISTRY};

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
    let first = assert_floating(&repository, "10.0.1-r1", &["10.0.1", "10.0", "10", "latest"]);
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
    assert_eq!(reason_kinds(&plan, "aspnet-core"), vec!["schedule-fired"], "{plan:#}");
    stack
        .golden(&["build", "--all", "--now", "2099-01-01T00:00:00Z"])
        .expect(0);
    let second = assert_floating(&repository, "10.0.1-r2", &["10.0.1", "10.0", "10", "latest"]);
    assert_ne!(first, second);

    // The vendor's monthly patch: `plan` says why, the build is 10.0.2-r1.
    publish(&stack, "10.0.2-noble", "10.0.2");
    let text = stack.golden(&["plan"]).expect(0).stdout;
    assert!(text.contains("upstream released 10.0.2-noble"), "{text}");
    let plan = stack.golden(&["plan", "--output", "json"]).expect(0).json();
    assert_eq!(entry(&plan, "aspnet-core")["reasons"][0]["kind"], "upstream-released", "{plan:#}");
    stack.golden(&["build", "--all"]).expect(0);
    assert_floating(&repository, "10.0.2-r1", &["10.0.2", "10.0", "10", "latest"]);
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
        common::digest(&repository, "10.0.2-r1").unwrap()
    );

    // An application Dockerfile may name the upstream version or the build.
    for tag in ["10.0.2", "10.0.2-r1", "10.0"] {
        let app = stack.path().join(format!("app-{tag}.Dockerfile"));
        std::fs::write(&app, format!("FROM {repository}:{tag}\n")).unwrap();
        let run = stack.golden(&["check", app.to_str().unwrap()]);
        assert_eq!(run.code, 0, "FROM {tag}: {}{}", run.stdout, run.stderr);
    }
}
