//! End to end: the order and safety of golden's registry writes in
//! `rollback` and `promote` (issue 26). A rollback never writes a marker
//! before the moves it stands for can succeed, a write the registry applied
//! but a proxy reported as failed is read back and counted as done, a child
//! is never promoted onto a parent build that is not promoted with it, and
//! a half-pushed multi-platform parent is named as an incomplete build.

use crate::support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};

use support::oci::{self, delete_manifest};
use support::proxy;
use support::{
    assert_floating, assert_tags_at, digest, entry, golden_at, manifest, one_image_config,
    put_manifest, tags, Stack, REGISTRY, SEED,
};

/// A loopback proxy in front of a registry (adapted from
/// `support::DelayProxy`) that forwards every request, but answers a
/// manifest PUT whose path contains `path` with a 503 once the registry
/// has applied it, as a gateway that timed out on the reply would.
struct Fail503AfterPut {
    port: u16,
}

impl Fail503AfterPut {
    fn start(upstream: &str, path: &str) -> Fail503AfterPut {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (upstream, path) = (upstream.to_string(), path.to_string());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let (upstream, path) = (upstream.clone(), path.clone());
                std::thread::spawn(move || forward(client, &upstream, &path));
            }
        });
        Fail503AfterPut { port }
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

/// One request of `client` passed to `upstream`; a manifest PUT whose path
/// contains `path` is answered 503 once the registry has applied it.
fn forward(mut client: TcpStream, upstream: &str, path: &str) {
    let Some(request) = proxy::read_request(&mut client) else {
        return;
    };
    let fail = request.method == "PUT"
        && request.target.contains("/manifests/")
        && request.target.contains(path);
    let Some(mut server) = proxy::open_upstream(&client, &request, upstream) else {
        return;
    };
    if !fail {
        return proxy::pass_reply(server, client);
    }
    // The registry's answer is read in full (so the write is applied),
    // then dropped.
    let mut reply = Vec::new();
    let _ = server.read_to_end(&mut reply);
    let _ = client.write_all(
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    proxy::close(server, client);
}

/// A copy of `config` (next to it) that reaches the registry at `host`.
fn config_via(config: &Path, host: &str) -> PathBuf {
    let text = std::fs::read_to_string(config).unwrap();
    let via = config.with_file_name("via-proxy.toml");
    std::fs::write(&via, text.replace(REGISTRY, host)).unwrap();
    via
}

/// Copies the seeded two-platform upstream to
/// `<namespace>-upstream/busybox-multi:1.36`; returns the repository.
fn private_multi_upstream(namespace: &str) -> String {
    oci::copy_upstream(oci::SEEDED, namespace)
}

/// A config of one two-platform line `base` 1.0 FROM `upstream:1.36`.
fn multi_platform_line(namespace: &str, upstream: &str) -> (tempfile::TempDir, PathBuf) {
    let (directory, config) = one_image_config(
        REGISTRY,
        namespace,
        "base",
        &format!("FROM {upstream}:1.36\nRUN uname -m > /etc/golden-arch\n"),
        "",
    );
    let text = std::fs::read_to_string(&config).unwrap();
    let platforms = "platforms = [\"linux/amd64\", \"linux/arm64\"]\n";
    std::fs::write(&config, text + platforms).unwrap();
    (directory, config)
}

/// The child manifest of `platform` in the index `repository:tag`.
fn child_of(repository: &str, tag: &str, platform: &str) -> String {
    oci::child_of(repository, tag, platform).0
}

/// A unique registry namespace for one test.
fn namespace(name: &str) -> String {
    oci::namespace("w", name)
}

#[test]
fn promote_of_a_child_alone_refuses_a_release_built_on_the_unpromoted_parent() {
    let stack = Stack::new("writes_promote_child");
    stack.golden(&["build", "--all"]).expect(0);
    let base = stack.repository("base");
    let tools = stack.repository("tools");
    let old_base = digest(&base, "1.0").unwrap();
    let old_tools = digest(&tools, "2.1").unwrap();
    // A matrix run: base gets a new build, tools is built on it, neither
    // is promoted yet.
    stack.update_upstream("CVE-2026-0026 fixed");
    stack.golden(&["build", "base", "--no-promote"]).expect(0);
    stack.golden(&["build", "tools", "--no-promote"]).expect(0);
    assert!(
        tags(&tools).contains(&"2.1.1".to_string()),
        "{:?}",
        tags(&tools)
    );

    // Promoting the child alone would publish a build on a parent build
    // that base:1.0 does not name.
    let run = stack
        .golden(&["promote", "tools", "--output", "json"])
        .expect(1);
    let report = run.json();
    let refused = entry(&report, "tools");
    assert_eq!(refused["decision"], "failed", "{report:#}");
    let error = refused["error"].as_str().unwrap();
    assert!(
        error.contains("refusing to promote 2.1.1 of `tools`")
            && error.contains("1.0.1")
            && error.contains("not promoted"),
        "{error}"
    );
    assert!(error.contains("golden promote base tools"), "{error}");
    assert_eq!(digest(&tools, "2.1"), Some(old_tools), "tools:2.1 moved");
    assert_eq!(digest(&base, "1.0"), Some(old_base), "base:1.0 moved");

    // The command the hint names promotes both, and the plan agrees.
    stack.golden(&["promote", "base", "tools"]).expect(0);
    assert_floating(&base, "1.0.1", &["1.0", "1", "latest"]);
    assert_floating(&tools, "2.1.1", &["2.1", "2", "latest"]);
    let plan = stack
        .golden(&["plan", "tools", "--output", "json"])
        .expect(0);
    assert_eq!(
        entry(&plan.json(), "tools")["decision"],
        "up-to-date",
        "{}",
        plan.stdout
    );
    stack.golden(&["clean"]).expect(0);
}

#[test]
fn rollback_counts_a_marker_write_a_proxy_answered_503_for_as_done() {
    support::require_environment();
    let namespace = namespace("writes-503");
    let (_directory, config) = one_image_config(
        REGISTRY,
        &namespace,
        "x",
        &format!("FROM {SEED}\nRUN echo one > /etc/x\n"),
        "retries = 1\n",
    );
    golden_at(&config, &["-q", "build", "--all"]).expect(0);
    golden_at(&config, &["-q", "rebuild", "x"]).expect(0);
    let repository = format!("{REGISTRY}/{namespace}/x");
    let first = digest(&repository, "1.0.0").unwrap();
    let second = assert_floating(&repository, "1.0.1", &["1.0", "1", "latest"]);
    assert_ne!(first, second);

    // The marker's PUT reaches the registry, the caller sees a 503.
    let proxy = Fail503AfterPut::start(REGISTRY, "-withdrawn");
    let via = config_via(&config, &proxy.host());
    let run = golden_at(&via, &["rollback", "x"]);
    assert_eq!(
        digest(&repository, "1.0.1-withdrawn"),
        Some(second.clone()),
        "the proxy did not forward the marker; stderr: {}",
        run.stderr
    );
    let run = run.expect(0);
    assert!(
        run.stdout.contains("withdrew 1.0.1 (tag 1.0.1-withdrawn)"),
        "{}",
        run.stdout
    );
    assert!(
        !run.stderr.contains("no floating tag was moved"),
        "{}",
        run.stderr
    );
    assert_tags_at(&repository, &["1.0", "1", "latest"], &first);
    // The rollback is complete: the next build holds the line there.
    let plan = golden_at(&config, &["plan", "--output", "json"]).expect(0);
    assert_eq!(
        entry(&plan.json(), "x")["decision"],
        "up-to-date",
        "{}",
        plan.stdout
    );
    golden_at(&config, &["clean"]).expect(0);
}

#[test]
fn rollback_to_an_index_with_a_deleted_child_writes_no_marker_and_later_builds_pass() {
    support::require_environment();
    let namespace = namespace("writes-deleted-child");
    let upstream = private_multi_upstream(&namespace);
    let (_directory, config) = multi_platform_line(&namespace, &upstream);
    golden_at(&config, &["-q", "build", "base"]).expect(0);
    golden_at(&config, &["-q", "rebuild", "base"]).expect(0);
    let base = format!("{REGISTRY}/{namespace}/base");
    let release = assert_floating(&base, "1.0.1", &["1.0", "1", "latest"]);
    // Someone deletes the arm64 image of 1.0.0 by hand: its index can no
    // longer be tagged (the registry answers MANIFEST_BLOB_UNKNOWN).
    let arm64 = child_of(&base, "1.0.0", "linux/arm64");
    assert_ne!(arm64, child_of(&base, "1.0.1", "linux/arm64"));
    delete_manifest(&base, &arm64);
    let before = tags(&base);

    let run = golden_at(&config, &["rollback", "base"]);
    assert_eq!(
        run.code, 2,
        "rollback onto a broken index must be refused\nstdout: {}\nstderr: {}",
        run.stdout, run.stderr
    );
    assert_eq!(tags(&base), before, "the refused rollback wrote tags");
    assert!(
        !tags(&base).iter().any(|tag| tag.contains("withdrawn")),
        "{:?}",
        tags(&base)
    );
    assert_tags_at(&base, &["1.0", "1", "latest"], &release);
    // Nothing is left for later runs to trip on.
    golden_at(&config, &["build", "base"]).expect(0);
    assert_tags_at(&base, &["1.0", "1", "latest"], &release);
    golden_at(&config, &["clean"]).expect(0);
}

#[test]
fn a_child_on_a_half_pushed_multi_platform_parent_names_the_incomplete_build() {
    support::require_environment();
    let namespace = namespace("writes-half-pushed");
    let upstream = private_multi_upstream(&namespace);
    let (directory, config) = multi_platform_line(&namespace, &upstream);
    std::fs::create_dir_all(directory.path().join("app")).unwrap();
    std::fs::write(
        directory.path().join("app/Dockerfile"),
        format!("FROM {REGISTRY}/{namespace}/base:1.0\nRUN echo app > /etc/app\n"),
    )
    .unwrap();
    let text = std::fs::read_to_string(&config).unwrap()
        + "\n[images.app]\nversion = \"2.0\"\ncontext = \"app\"\nplatforms = [\"linux/amd64\", \"linux/arm64\"]\n";
    std::fs::write(&config, text).unwrap();
    golden_at(&config, &["-q", "build", "--all"]).expect(0);
    let base = format!("{REGISTRY}/{namespace}/base");
    // A push of base cut short after its first platform: `1.0` holds one
    // platform's image, golden's labels and all, and no index.
    let amd64 = child_of(&base, "1.0.0", "linux/amd64");
    let (body, media_type) = manifest(&base, &amd64);
    put_manifest(&base, "1.0", &body, &media_type);

    let run = golden_at(&config, &["build", "app", "--output", "json"]).expect(1);
    let report = run.json();
    let error = entry(&report, "app")["error"].as_str().unwrap().to_string();
    assert!(
        error.contains("incomplete build 1.0.0 of `base`"),
        "{error}"
    );
    assert!(error.contains("golden rebuild base"), "{error}");
    assert!(!error.contains("remove `platforms`"), "{error}");

    // The fix the hint names: base is built and pushed whole, app on it.
    golden_at(&config, &["-q", "rebuild", "base"]).expect(0);
    assert_floating(&base, "1.0.1", &["1.0", "1", "latest"]);
    let app = format!("{REGISTRY}/{namespace}/app");
    assert_floating(&app, "2.0.1", &["2.0", "2", "latest"]);
    golden_at(&config, &["clean"]).expect(0);
}

#[test]
fn rollback_away_from_a_release_with_a_deleted_child_is_refused_before_any_write() {
    support::require_environment();
    let namespace = namespace("writes-broken-release");
    let upstream = private_multi_upstream(&namespace);
    let (_directory, config) = multi_platform_line(&namespace, &upstream);
    golden_at(&config, &["-q", "build", "base"]).expect(0);
    golden_at(&config, &["-q", "rebuild", "base"]).expect(0);
    let base = format!("{REGISTRY}/{namespace}/base");
    let first = digest(&base, "1.0.0").unwrap();
    let release = assert_floating(&base, "1.0.1", &["1.0", "1", "latest"]);
    // Someone deletes the arm64 image of the release by hand: its index
    // can no longer be copied to a marker (MANIFEST_BLOB_UNKNOWN).
    let arm64 = child_of(&base, "1.0.1", "linux/arm64");
    delete_manifest(&base, &arm64);
    let before = tags(&base);

    let run = golden_at(&config, &["rollback", "base"]);
    assert_eq!(
        run.code, 2,
        "a rollback that cannot withdraw the broken release must be refused\nstdout: {}\nstderr: {}",
        run.stdout, run.stderr
    );
    assert!(
        run.stderr.contains("cannot withdraw 1.0.1") && run.stderr.contains("golden rebuild base"),
        "{}",
        run.stderr
    );
    assert_eq!(tags(&base), before, "the refused rollback wrote tags");
    assert_tags_at(&base, &["1.0", "1", "latest"], &release);

    // The first way out the hint names: a new whole build is released.
    golden_at(&config, &["-q", "rebuild", "base"]).expect(0);
    let rebuilt = assert_floating(&base, "1.0.2", &["1.0", "1", "latest"]);
    assert_ne!(rebuilt, release);
    // The second: with the broken build deleted, the rollback goes through
    // and the next build holds the line there.
    delete_manifest(&base, &release);
    golden_at(&config, &["rollback", "base"]).expect(0);
    assert_tags_at(&base, &["1.0", "1", "latest"], &first);
    let plan = golden_at(&config, &["plan", "--output", "json"]).expect(0);
    assert_eq!(
        entry(&plan.json(), "base")["decision"],
        "up-to-date",
        "{}",
        plan.stdout
    );
    golden_at(&config, &["clean"]).expect(0);
}
