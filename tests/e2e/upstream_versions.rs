//! Upstream versioning end to end (issue 27, section 1): exact tags
//! `X.Y.Z-rN` carrying the upstream version read before the build, the
//! floating tags `X.Y.Z`, `X.Y`, `X`, `latest` moved by the usual rules,
//! and every refusal happening before anything is pushed.

use crate::support;

use support::{assert_floating, digest, labels, retag, tags, Stack, REGISTRY};

/// Writes golden.toml with the test's registry namespace and `images`.
fn configure(stack: &Stack, images: &str) {
    std::fs::write(
        stack.config(),
        format!(
            "[registry]\nhost = \"{REGISTRY}\"\nnamespace = \"{}\"\n\n{images}",
            stack.namespace
        ),
    )
    .unwrap();
}

/// An image `id` built FROM the vendor's `aspnet:<tag>`, versioned by
/// `ASPNET_VERSION` on `line`, with `extra` keys.
fn aspnet(stack: &Stack, id: &str, from_tag: &str, line: &str, extra: &str) -> String {
    stack.write(
        &format!("images/{id}/Dockerfile"),
        &format!(
            "FROM {}:{from_tag}\nRUN echo {id} > /etc/golden-image\n",
            stack.upstream_repository("aspnet")
        ),
    );
    format!(
        "[images.{id}]\nversion = \"{line}\"\ncontext = \"images/{id}\"\nversioning = \"upstream\"\nupstream_version = {{ env = \"ASPNET_VERSION\" }}\n{extra}\n"
    )
}

/// Everything a run printed: the report (stdout, with each failure's
/// `Caused by:` and `hint:` lines) and the progress (stderr).
fn printed(run: &support::Run) -> String {
    format!("{}\n{}", run.stdout, run.stderr)
}

fn publish(stack: &Stack, tag: &str, version: &str) -> String {
    stack.publish_upstream("aspnet", tag, &[("ASPNET_VERSION", version)], &[])
}

#[test]
fn upstream_versioning_tags_builds_x_y_z_rn_and_counts_revisions_past_foreign_tags() {
    let stack = Stack::new("upstream_revisions");
    publish(&stack, "10.0.0-noble", "10.0.0");
    publish(&stack, "10.0.1-noble", "10.0.1");
    configure(
        &stack,
        &aspnet(&stack, "aspnet", "10.0.1-noble", "10.0", ""),
    );
    let repository = stack.repository("aspnet");
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
        tags(&repository),
        ["10", "10.0", "10.0.1", "10.0.1-r1", "latest"]
    );

    // A rebuild with no upstream change: the next revision, tags follow.
    stack.golden(&["rebuild", "aspnet"]).expect(0);
    let second = assert_floating(
        &repository,
        "10.0.1-r2",
        &["10.0.1", "10.0", "10", "latest"],
    );
    assert_ne!(first, second);
    assert_eq!(
        labels(&repository, "10.0.1-r2")["org.opencontainers.image.version"],
        "10.0.1-r2"
    );

    // `10.0.1` left behind on r1 (a run that died mid-move): the next
    // run moves it forward again, without building.
    retag(&repository, "10.0.1-r1", "10.0.1");
    stack.golden(&["build", "--all"]).expect(0);
    assert_floating(
        &repository,
        "10.0.1-r2",
        &["10.0.1", "10.0", "10", "latest"],
    );
    assert!(!tags(&repository).contains(&"10.0.1-r3".to_string()));

    // Someone else pushed 10.0.1-r3: its number is never reused, and it
    // is never released.
    retag(&repository, "10.0.1-r1", "10.0.1-r3");
    stack.golden(&["rebuild", "aspnet"]).expect(0);
    assert_floating(
        &repository,
        "10.0.1-r4",
        &["10.0.1", "10.0", "10", "latest"],
    );
    assert_eq!(digest(&repository, "10.0.1-r3"), Some(first));

    // Nothing changed: a plain build is up to date (no new revision).
    stack.golden(&["build", "--all"]).expect(0);
    assert!(!tags(&repository).contains(&"10.0.1-r5".to_string()));
}

#[test]
fn an_upstream_version_outside_the_line_fails_before_any_push() {
    let stack = Stack::new("upstream_outside_line");
    publish(&stack, "10.0.1-noble", "10.0.1");
    publish(&stack, "11.0.1-noble", "11.0.1");
    let images = aspnet(&stack, "aspnet", "10.0.1-noble", "10.0", "")
        + &aspnet(&stack, "stray", "11.0.1-noble", "10.0", "");
    configure(&stack, &images);
    let run = stack.golden(&["build", "--all"]).expect(1);
    assert!(
        printed(&run).contains(
            "upstream_version { env = \"ASPNET_VERSION\" } found `11.0.1`, outside the line 10.0 this image builds"
        ),
        "{}",
        printed(&run)
    );
    assert!(
        printed(&run).contains("hint: the upstream version must be 10.0.*"),
        "{}",
        printed(&run)
    );
    assert!(
        tags(&stack.repository("stray")).is_empty(),
        "nothing pushed"
    );
    // The other image built all the same.
    assert_floating(
        &stack.repository("aspnet"),
        "10.0.1-r1",
        &["10.0.1", "latest"],
    );
}

#[test]
fn a_preview_line_takes_its_own_tags_never_the_major_or_latest() {
    let stack = Stack::new("upstream_preview");
    publish(&stack, "10.0.1-noble", "10.0.1");
    publish(&stack, "11.0.0-preview.1-noble", "11.0.0-preview.1");
    let images = aspnet(&stack, "aspnet", "10.0.1-noble", "10.0", "")
        + &aspnet(
            &stack,
            "aspnet-preview",
            "11.0.0-preview.1-noble",
            "11.0",
            "name = \"aspnet\"",
        );
    configure(&stack, &images);
    stack.golden(&["build", "--all"]).expect(0);
    let repository = stack.repository("aspnet");
    assert_floating(
        &repository,
        "11.0.0-preview.1-r1",
        &["11.0", "11.0.0-preview.1"],
    );
    // The preview line is no "higher line": 10.0 keeps 10 and latest.
    assert_floating(
        &repository,
        "10.0.1-r1",
        &["10.0.1", "10.0", "10", "latest"],
    );
    assert!(
        !tags(&repository).contains(&"11".to_string()),
        "{:?}",
        tags(&repository)
    );
}

#[test]
fn a_floating_list_of_x_y_z_moves_only_the_upstream_tag() {
    let stack = Stack::new("upstream_floating_list");
    publish(&stack, "10.0.1-noble", "10.0.1");
    configure(
        &stack,
        &aspnet(
            &stack,
            "aspnet",
            "10.0.1-noble",
            "10.0",
            "floating = [\"X.Y.Z\"]",
        ),
    );
    stack.golden(&["build", "--all"]).expect(0);
    let repository = stack.repository("aspnet");
    assert_floating(&repository, "10.0.1-r1", &["10.0.1"]);
    assert_eq!(tags(&repository), ["10.0.1", "10.0.1-r1"]);
}

#[test]
fn switching_a_line_to_upstream_versioning_refuses_to_move_an_old_exact_tag() {
    let stack = Stack::new("upstream_switch");
    publish(&stack, "10.0.1-noble", "10.0.1");
    let repository = stack.repository("aspnet");
    // The counter scheme first: builds 10.0.0 and 10.0.1.
    let line = aspnet(&stack, "aspnet", "10.0.1-noble", "10.0", "");
    let counter = line
        .replace("versioning = \"upstream\"\n", "")
        .replace("upstream_version = { env = \"ASPNET_VERSION\" }\n", "");
    configure(&stack, &counter);
    stack.golden(&["build", "--all"]).expect(0);
    stack.golden(&["rebuild", "aspnet"]).expect(0);
    let old = assert_floating(&repository, "10.0.1", &["10.0", "latest"]);
    // Now upstream 10.0.1: its floating tag would be the old exact 10.0.1.
    configure(&stack, &line);
    let run = stack.golden(&["rebuild", "aspnet"]).expect(1);
    assert!(
        printed(&run).contains("refusing to build `aspnet` under upstream versioning")
            && printed(&run).contains("an exact tag of `versioning = \"line\"`"),
        "{}",
        printed(&run)
    );
    assert!(printed(&run).contains("hint: delete"), "{}", printed(&run));
    assert!(
        !printed(&run).contains("Step 1/"),
        "refused before building: {}",
        run.stderr
    );
    assert_eq!(digest(&repository, "10.0.1"), Some(old.clone()));
    assert_tags_unchanged(&repository, &["10", "10.0", "10.0.0", "10.0.1", "latest"]);
}

fn assert_tags_unchanged(repository: &str, expected: &[&str]) {
    assert_eq!(tags(repository), expected);
}

#[test]
fn a_built_env_other_than_the_version_read_before_the_build_is_never_pushed() {
    let stack = Stack::new("upstream_env_mismatch");
    // The vendor's config says 10.0.1, but a trigger sets 10.0.2 in every
    // image built FROM it: the build holds something else than was read.
    let base = format!("{}:10.0.1-noble", stack.upstream_repository("aspnet"));
    support::build_and_push(
        &base,
        &format!(
            "FROM {}\nENV ASPNET_VERSION=10.0.1\nONBUILD ENV ASPNET_VERSION=10.0.2\n",
            stack.upstream()
        ),
    );
    configure(
        &stack,
        &aspnet(&stack, "aspnet", "10.0.1-noble", "10.0", ""),
    );
    let run = stack.golden(&["build", "--all"]).expect(1);
    assert!(
        printed(&run).contains(
            "sets ASPNET_VERSION to `10.0.2`, but golden read `10.0.1` from the base image"
        ),
        "{}",
        printed(&run)
    );
    assert!(
        printed(&run).contains("hint: set `ENV ASPNET_VERSION=<version>`"),
        "{}",
        printed(&run)
    );
    assert!(
        tags(&stack.repository("aspnet")).is_empty(),
        "nothing pushed"
    );

    // An ENV set from a variable cannot be read before the build.
    stack.write(
        "images/aspnet/Dockerfile",
        &format!(
            "FROM {}\nARG PATCHED=10.0.3\nENV ASPNET_VERSION=${{PATCHED}}\n",
            stack.upstream()
        ),
    );
    let run = stack.golden(&["build", "--all"]).expect(1);
    assert!(
        printed(&run).contains("sets ENV ASPNET_VERSION from a variable"),
        "{}",
        printed(&run)
    );
    assert!(tags(&stack.repository("aspnet")).is_empty());
}

#[test]
fn from_tag_and_label_sources_each_build_once() {
    let stack = Stack::new("upstream_sources");
    stack.publish_upstream(
        "aspnet",
        "10.0.2-noble",
        &[],
        &[("org.opencontainers.image.version", "10.0.2")],
    );
    for id in ["by-tag", "by-label"] {
        stack.write(
            &format!("images/{id}/Dockerfile"),
            &format!(
                "FROM {}:10.0.2-noble\nRUN echo {id} > /etc/golden-image\n",
                stack.upstream_repository("aspnet")
            ),
        );
    }
    configure(
        &stack,
        "[images.by-tag]\nversion = \"10.0\"\ncontext = \"images/by-tag\"\nversioning = \"upstream\"\nupstream_version = { from_tag = \"^([0-9.]+)-noble$\" }\n\n\
         [images.by-label]\nversion = \"10.0\"\ncontext = \"images/by-label\"\nversioning = \"upstream\"\nupstream_version = { label = \"org.opencontainers.image.version\" }\n",
    );
    stack.golden(&["build", "--all"]).expect(0);
    for id in ["by-tag", "by-label"] {
        let repository = stack.repository(id);
        assert_floating(
            &repository,
            "10.0.2-r1",
            &["10.0.2", "10.0", "10", "latest"],
        );
        assert_eq!(
            labels(&repository, "10.0.2-r1")["io.golden.upstream.version"],
            "10.0.2"
        );
    }
}

#[test]
fn a_build_of_an_older_upstream_version_is_refused_and_after_a_rollback_builds_once() {
    let stack = Stack::new("upstream_older");
    publish(&stack, "10.0.1-noble", "10.0.1");
    publish(&stack, "10.0.2-noble", "10.0.2");
    let repository = stack.repository("aspnet");
    configure(
        &stack,
        &aspnet(&stack, "aspnet", "10.0.1-noble", "10.0", ""),
    );
    stack.golden(&["build", "--all"]).expect(0);
    let older = assert_floating(
        &repository,
        "10.0.1-r1",
        &["10.0.1", "10.0", "10", "latest"],
    );
    configure(
        &stack,
        &aspnet(&stack, "aspnet", "10.0.2-noble", "10.0", ""),
    );
    stack.golden(&["build", "--all"]).expect(0);
    let newest = assert_floating(
        &repository,
        "10.0.2-r1",
        &["10.0.2", "10.0", "10", "latest"],
    );
    // The Dockerfile goes back to 10.0.1, with a fix of its own.
    stack.write(
        "images/aspnet/Dockerfile",
        &format!(
            "FROM {}:10.0.1-noble\nRUN echo aspnet > /etc/golden-image\nRUN echo fixed > /etc/fix\n",
            stack.upstream_repository("aspnet")
        ),
    );
    let run = stack.golden(&["build", "--all"]).expect(1);
    assert!(
        printed(&run).contains(
            "golden builds a line forward only: upstream 10.0.1 is older than 10.0.2-r1, the line's newest build"
        ),
        "{}",
        printed(&run)
    );
    assert!(
        printed(&run).contains("hint: to go back, `golden rollback aspnet` (withdraws 10.0.2-r1"),
        "{}",
        printed(&run)
    );
    assert!(
        !run.stderr.contains("Step 1/"),
        "refused before building: {}",
        run.stderr
    );
    assert_tags_unchanged(
        &repository,
        &[
            "10",
            "10.0",
            "10.0.1",
            "10.0.1-r1",
            "10.0.2",
            "10.0.2-r1",
            "latest",
        ],
    );
    support::assert_tags_at(&repository, &["10.0", "10", "latest"], &newest);

    // Rolled back, the line follows 10.0.1 again: the fix builds once,
    // compared with 10.0.1-r1 (not the withdrawn 10.0.2-r1) from then on.
    let run = stack.golden(&["rollback", "aspnet"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(
        assert_floating(
            &repository,
            "10.0.1-r1",
            &["10.0.1", "10.0", "10", "latest"]
        ),
        older
    );
    stack.golden(&["build", "--all"]).expect(0);
    let fixed = assert_floating(
        &repository,
        "10.0.1-r2",
        &["10.0.1", "10.0", "10", "latest"],
    );
    let plan = stack.golden(&["plan", "--output", "json"]).expect(0).json();
    assert_eq!(
        support::entry(&plan, "aspnet")["decision"],
        "up-to-date",
        "{plan:#}"
    );
    stack.golden(&["build", "--all"]).expect(0);
    assert!(
        !tags(&repository).contains(&"10.0.1-r3".to_string()),
        "{:?}",
        tags(&repository)
    );
    assert_eq!(digest(&repository, "10.0.1-r2"), Some(fixed));
    // The plan still says why the line is held below 10.0.2-r1.
    let text = stack.golden(&["plan"]).expect(0).stdout;
    assert!(text.contains("held at 10.0.1-r2 by a"), "{text}");
}

#[test]
fn adding_x_y_z_to_floating_after_a_switch_never_promotes_over_an_old_exact_tag() {
    let stack = Stack::new("upstream_switch_promote");
    publish(&stack, "10.0.1-noble", "10.0.1");
    let repository = stack.repository("aspnet");
    let without = aspnet(
        &stack,
        "aspnet",
        "10.0.1-noble",
        "10.0",
        "floating = [\"X.Y\", \"X\", \"latest\"]",
    );
    let counter = without
        .replace("versioning = \"upstream\"\n", "")
        .replace("upstream_version = { env = \"ASPNET_VERSION\" }\n", "")
        .replace("floating = [\"X.Y\", \"X\", \"latest\"]", "");
    configure(&stack, &counter);
    stack.golden(&["build", "--all"]).expect(0);
    stack.golden(&["rebuild", "aspnet"]).expect(0);
    let old = assert_floating(&repository, "10.0.1", &["10.0", "latest"]);
    // Upstream versioning without `X.Y.Z`: 10.0.1-r1 builds, `10.0.1` stays.
    configure(&stack, &without);
    stack.golden(&["build", "--all"]).expect(0);
    let build = assert_floating(&repository, "10.0.1-r1", &["10.0", "10", "latest"]);
    assert_eq!(digest(&repository, "10.0.1"), Some(old.clone()));
    // Then `X.Y.Z` is added: `10.0.1` looks left behind, but it is the
    // counter's exact tag, and promoting would move it.
    configure(
        &stack,
        &without.replace("\"X.Y\", \"X\"", "\"X.Y\", \"X.Y.Z\", \"X\""),
    );
    let run = stack.golden(&["build", "--all"]).expect(1);
    assert!(
        printed(&run)
            .contains("refusing to promote 10.0.1-r1 of `aspnet` under upstream versioning")
            && printed(&run).contains("an exact tag of `versioning = \"line\"`"),
        "{}",
        printed(&run)
    );
    assert!(printed(&run).contains("hint: delete"), "{}", printed(&run));
    assert_eq!(digest(&repository, "10.0.1"), Some(old));
    support::assert_tags_at(&repository, &["10.0", "10", "latest"], &build);
}

#[test]
fn a_version_spelt_like_an_exact_tag_or_a_missing_env_is_refused_naming_where_it_looked() {
    let stack = Stack::new("upstream_read_refusals");
    stack.publish_upstream(
        "sdk",
        "10.0.100-r3",
        &[],
        &[("org.opencontainers.image.version", "10.0.100-r3")],
    );
    publish(&stack, "10.0.1-noble", "10.0.1");
    let bare = stack.publish_upstream("bare", "10.0.1-noble", &[], &[]);
    for (id, from) in [
        (
            "tools",
            format!("{}:10.0.100-r3", stack.upstream_repository("sdk")),
        ),
        (
            "bare",
            format!("{}:10.0.1-noble", stack.upstream_repository("bare")),
        ),
    ] {
        stack.write(
            &format!("images/{id}/Dockerfile"),
            &format!("FROM {from}\nRUN echo {id} > /etc/golden-image\n"),
        );
    }
    configure(
        &stack,
        "[images.tools]\nversion = \"10.0\"\ncontext = \"images/tools\"\nversioning = \"upstream\"\nupstream_version = { label = \"org.opencontainers.image.version\" }\n\n\
         [images.bare]\nversion = \"10.0\"\ncontext = \"images/bare\"\nversioning = \"upstream\"\nupstream_version = { env = \"ASPNET_VERSION\" }\n",
    );
    let run = stack.golden(&["build", "--all"]).expect(1);
    let text = printed(&run);
    assert!(
        text.contains("found `10.0.100-r3`, which is spelt like golden's exact tag of a build (upstream 10.0.100, revision 3)"),
        "{text}"
    );
    assert!(
        text.contains("hint: read `io.golden.upstream.version` of a golden parent"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "neither the Dockerfile's final stage nor the base image `{}:10.0.1-noble@{bare}` sets ENV ASPNET_VERSION",
            stack.upstream_repository("bare")
        )),
        "{text}"
    );
    assert!(
        tags(&stack.repository("tools")).is_empty(),
        "nothing pushed"
    );
    assert!(tags(&stack.repository("bare")).is_empty(), "nothing pushed");
}
