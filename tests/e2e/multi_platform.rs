//! End to end: multi-platform golden images (`platforms`) on the real
//! engine (arm64 under QEMU user emulation) and registry. Each test copies
//! the seeded 2-platform upstream into a repository of its own, through
//! the registry API, so it can change one platform of it.

use crate::support;

use std::process::Command;

use golden::index::parse_index;
use golden::platform::Platform;
use support::oci::{self, copy_upstream, get, json, one_line, sha256, upload, PLATFORMS, SEEDED};
use support::{
    assert_floating, digest, entry, golden_at, labels, manifest, put_manifest, tags, REGISTRY,
};

/// The same two platforms as an OCI image index of OCI manifests.
const SEEDED_OCI: &str = "upstream/busybox-multi-oci";

/// A namespace of the test's own.
fn namespace(name: &str) -> String {
    oci::namespace("mp", name)
}

/// Copies the seeded 2-platform upstream (a Docker manifest list) to
/// `<namespace>-upstream/busybox-multi:1.36` (blobs mounted, manifests byte
/// for byte); returns the repository.
fn private_upstream(namespace: &str) -> String {
    copy_upstream(SEEDED, namespace)
}

/// Publishes a changed arm64 image under `upstream:1.36` (a new config,
/// the same layers), as an upstream fix for one platform would; the amd64
/// image stays as it was.
fn update_arm64(upstream: &str) {
    let path = upstream.split_once('/').unwrap().1;
    let (index, media_type) = manifest(upstream, "1.36");
    let mut index = json(&index);
    let entry = index["manifests"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|entry| entry["platform"]["architecture"] == "arm64")
        .unwrap();
    let child_type = entry["mediaType"].as_str().unwrap().to_string();
    let (body, _) = get(
        &format!("{path}/manifests/{}", entry["digest"].as_str().unwrap()),
        &child_type,
    );
    let mut child = json(&body);
    let (config, _) = get(
        &format!(
            "{path}/blobs/{}",
            child["config"]["digest"].as_str().unwrap()
        ),
        "*/*",
    );
    let mut config = json(&config);
    config["created"] = serde_json::json!(chrono::Utc::now().to_rfc3339());
    let config = serde_json::to_vec(&config).unwrap();
    child["config"]["digest"] = serde_json::json!(upload(path, &config));
    child["config"]["size"] = serde_json::json!(config.len());
    let child = serde_json::to_vec(&child).unwrap();
    let child_digest = sha256(&child);
    put_manifest(upstream, &child_digest, &child, &child_type);
    entry["digest"] = serde_json::json!(child_digest);
    entry["size"] = serde_json::json!(child.len());
    let index = serde_json::to_vec(&index).unwrap();
    put_manifest(upstream, "1.36", &index, &media_type);
}

/// The platforms of the index `repository:tag`, failing if it is none.
fn platforms_of(repository: &str, tag: &str) -> Vec<String> {
    let (body, media_type) = manifest(repository, tag);
    let index = parse_index(&body, Some(&media_type))
        .unwrap_or_else(|e| panic!("{repository}:{tag} ({media_type}) is not an index: {e}"));
    index.platforms().iter().map(ToString::to_string).collect()
}

/// The golden labels of `platform`'s image in the index `repository:tag`.
fn child_labels(
    repository: &str,
    tag: &str,
    platform: &Platform,
) -> std::collections::BTreeMap<String, String> {
    let (body, media_type) = manifest(repository, tag);
    let index = parse_index(&body, Some(&media_type)).unwrap();
    let child = index.select(platform).unwrap();
    labels(repository, &child.digest)
}

/// What `command` prints in a container of `reference` run as `platform`;
/// the pulled image is removed again.
fn run_as(reference: &str, platform: &str, command: &[&str]) -> String {
    let run = Command::new("docker")
        .args(["run", "--rm", "--pull", "always", "--platform", platform])
        .arg(reference)
        .args(command)
        .output()
        .unwrap();
    let _ = Command::new("docker").args(["rmi", reference]).output();
    assert!(
        run.status.success(),
        "docker run --platform {platform} {reference}: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    String::from_utf8_lossy(&run.stdout).trim().to_string()
}

/// Removes the local images of the test's namespace when dropped.
struct LocalImages(String);

impl Drop for LocalImages {
    fn drop(&mut self) {
        let output = Command::new("docker")
            .args([
                "images",
                "--digests",
                "--format",
                "{{.Repository}} {{.Tag}} {{.Digest}}",
            ])
            .output()
            .unwrap();
        let prefix = format!("{REGISTRY}/{}", self.0);
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            let mut fields = line.split_whitespace();
            let (Some(repository), Some(tag), Some(digest)) =
                (fields.next(), fields.next(), fields.next())
            else {
                continue;
            };
            if !repository.starts_with(&prefix) {
                continue;
            }
            // Pulled by digest, an image has no tag: it goes by its digest.
            for reference in [
                (tag != "<none>").then(|| format!("{repository}:{tag}")),
                (digest != "<none>").then(|| format!("{repository}@{digest}")),
            ]
            .into_iter()
            .flatten()
            {
                let _ = Command::new("docker").args(["rmi", &reference]).output();
            }
        }
    }
}

/// A config dir: `base` (FROM `upstream`, both platforms, smoke-tested on
/// each), `app` FROM it on both platforms, and `solo`, FROM it for the
/// engine's own platform only.
fn stack(
    namespace: &str,
    upstream: &str,
    base_test: &str,
) -> (tempfile::TempDir, std::path::PathBuf) {
    let directory = tempfile::tempdir().unwrap();
    let write = |relative: &str, text: &str| {
        let path = directory.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    let base = format!("{REGISTRY}/{namespace}/base:1.0");
    write(
        "base/Dockerfile",
        &format!("FROM {upstream}:1.36\nRUN uname -m > /etc/golden-arch\n"),
    );
    write(
        "app/Dockerfile",
        &format!("FROM {base}\nRUN cat /etc/golden-arch > /etc/app-arch\n"),
    );
    write(
        "solo/Dockerfile",
        &format!("FROM {base}\nRUN echo solo > /etc/solo\n"),
    );
    let config = directory.path().join("golden.toml");
    write(
        "golden.toml",
        &format!(
            "[registry]\nhost = \"{REGISTRY}\"\nnamespace = \"{namespace}\"\n\n\
             [images.base]\nversion = \"1.0\"\ncontext = \"base\"\ntest = {base_test}\n{PLATFORMS}\n\
             [images.app]\nversion = \"2.0\"\ncontext = \"app\"\n{PLATFORMS}\n\
             [images.solo]\nversion = \"3.0\"\ncontext = \"solo\"\n"
        ),
    );
    (directory, config)
}

#[test]
fn a_two_platform_stack_publishes_indexes_reads_them_back_and_follows_one_platform_of_its_upstream()
{
    let namespace = namespace("stack");
    let _local = LocalImages(namespace.clone());
    let upstream = private_upstream(&namespace);
    let (_directory, config) = stack(
        &namespace,
        &upstream,
        r#"["sh", "-c", "test \"$(uname -m)\" = \"$(cat /etc/golden-arch)\""]"#,
    );
    let report = golden_at(&config, &["build", "--all", "--output", "json"])
        .expect(0)
        .json();
    for id in ["base", "app", "solo"] {
        assert_eq!(entry(&report, id)["decision"], "built", "{id}: {report}");
    }
    let both = vec!["linux/amd64".to_string(), "linux/arm64".to_string()];
    let base = format!("{REGISTRY}/{namespace}/base");
    let app = format!("{REGISTRY}/{namespace}/app");
    let base_index = assert_floating(&base, "1.0.0", &["1.0", "1", "latest"]);
    assert_eq!(entry(&report, "base")["digest"], base_index.as_str());
    assert_eq!(platforms_of(&base, "1.0.0"), both);
    assert_floating(&app, "2.0.0", &["2.0", "2", "latest"]);
    assert_eq!(platforms_of(&app, "2.0.0"), both);
    assert_eq!(
        tags(&base),
        vec!["1", "1.0", "1.0.0", "latest"],
        "no tag but the exact and floating ones"
    );
    let upstream_index = digest(&upstream, "1.36").unwrap();
    for platform in [Platform::linux_amd64(), Platform::linux_arm64()] {
        let labels = child_labels(&base, "1.0.0", &platform);
        assert_eq!(
            labels["org.opencontainers.image.version"], "1.0.0",
            "{platform}"
        );
        assert_eq!(
            labels["org.opencontainers.image.base.digest"], upstream_index,
            "{platform}"
        );
        let labels = child_labels(&app, "2.0.0", &platform);
        assert_eq!(
            labels["org.opencontainers.image.version"], "2.0.0",
            "{platform}"
        );
        assert_eq!(
            labels["org.opencontainers.image.base.digest"], base_index,
            "{platform}: a child records its golden parent's index"
        );
    }
    // One SBOM per platform, attached to each platform's image and to the
    // index; `golden sbom` asks which platform.
    let sboms = |subject: &str| -> Vec<String> {
        let mut platforms: Vec<String> = crate::sbom::referrers(&base, subject)
            .iter()
            .filter(|entry| entry["artifactType"] == "application/vnd.cyclonedx+json")
            .map(|entry| {
                entry["annotations"]["dev.golden.platform"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        platforms.sort();
        platforms
    };
    assert_eq!(sboms(&base_index), both);
    let index = json(&manifest(&base, "1.0.0").0);
    for child in index["manifests"].as_array().unwrap() {
        let platform = format!(
            "{}/{}",
            child["platform"]["os"].as_str().unwrap(),
            child["platform"]["architecture"].as_str().unwrap()
        );
        assert_eq!(sboms(child["digest"].as_str().unwrap()), [platform]);
    }
    let which = golden_at(&config, &["sbom", "base"]).expect(2);
    assert!(
        which
            .stderr
            .contains("--platform: linux/amd64, linux/arm64")
            || which
                .stderr
                .contains("--platform: linux/arm64, linux/amd64"),
        "{}",
        which.stderr
    );
    let arm = golden_at(
        &config,
        &[
            "sbom",
            "base",
            "--platform",
            "linux/arm64",
            "--output",
            "json",
        ],
    )
    .expect(0)
    .json();
    assert!(
        arm["metadata"]["component"]["purl"]
            .as_str()
            .unwrap()
            .ends_with("arch=arm64"),
        "{arm:#}"
    );
    // The index carries the same facts as annotations.
    let (body, _) = manifest(&base, "1.0.0");
    assert_eq!(
        json(&body)["annotations"]["org.opencontainers.image.version"],
        "1.0.0"
    );
    // Each platform really is that platform, down to the child's parent.
    assert_eq!(
        run_as(&format!("{base}:1.0.0"), "linux/arm64", &["uname", "-m"]),
        "aarch64"
    );
    assert_eq!(
        run_as(
            &format!("{app}:2.0.0"),
            "linux/arm64",
            &["cat", "/etc/app-arch"]
        ),
        "aarch64"
    );
    assert_eq!(
        run_as(
            &format!("{app}:2.0.0"),
            "linux/amd64",
            &["cat", "/etc/app-arch"]
        ),
        "x86_64"
    );
    // The single-platform image beside them is one image manifest.
    let solo = format!("{REGISTRY}/{namespace}/solo");
    let (body, media_type) = manifest(&solo, "3.0.0");
    assert!(
        parse_index(&body, Some(&media_type)).is_err(),
        "{media_type}"
    );
    assert_eq!(
        labels(&solo, "3.0.0")["org.opencontainers.image.base.digest"],
        base_index
    );

    let again = golden_at(&config, &["build", "--all", "--output", "json"])
        .expect(0)
        .json();
    for id in ["base", "app", "solo"] {
        assert_eq!(entry(&again, id)["decision"], "up-to-date", "{id}: {again}");
    }

    update_arm64(&upstream);
    // The plan says which platform of the upstream changed; `old` and `new`
    // are the upstream's index digests.
    let plan = golden_at(&config, &["plan", "--output", "json"])
        .expect(0)
        .json();
    let reasons = entry(&plan, "base")["reasons"]
        .as_array()
        .unwrap_or_else(|| panic!("{plan}"));
    let updated_base = reasons
        .iter()
        .find(|reason| reason["kind"] == "base-updated")
        .unwrap_or_else(|| panic!("no base-updated reason: {plan}"));
    assert_eq!(
        updated_base["platforms"],
        serde_json::json!(["linux/arm64"]),
        "{updated_base}"
    );
    assert_eq!(updated_base["old"], upstream_index.as_str());
    assert_eq!(
        updated_base["new"],
        digest(&upstream, "1.36").unwrap().as_str()
    );
    let text = golden_at(&config, &["plan", "--wide"]).expect(0).stdout;
    assert!(text.contains("(linux/arm64)"), "{text}");
    let updated = golden_at(&config, &["build", "--all", "--output", "json"])
        .expect(0)
        .json();
    for id in ["base", "app", "solo"] {
        assert_eq!(entry(&updated, id)["decision"], "built", "{id}: {updated}");
    }
    let newer = assert_floating(&base, "1.0.1", &["1.0", "1", "latest"]);
    assert_ne!(newer, base_index);
    assert_eq!(platforms_of(&base, "1.0.1"), both);
    assert_eq!(
        child_labels(&base, "1.0.1", &Platform::linux_arm64())
            ["org.opencontainers.image.base.digest"],
        digest(&upstream, "1.36").unwrap()
    );
    assert_floating(&app, "2.0.1", &["2.0", "2", "latest"]);

    // A rollback moves the floating tags back to the older index, whole.
    golden_at(&config, &["rollback", "base"]).expect(0);
    support::assert_tags_at(&base, &["1.0", "1", "latest"], &base_index);
    assert_eq!(platforms_of(&base, "1.0"), both);

    // `ls` shows the platforms of each multi-platform build, and none for
    // a single image.
    let listed = golden_at(&config, &["ls", "base", "solo", "--output", "json"])
        .expect(0)
        .json();
    let listings = listed["images"]
        .as_array()
        .unwrap_or_else(|| panic!("{listed}"));
    for version in listings[0]["versions"].as_array().unwrap() {
        assert_eq!(version["platforms"], serde_json::json!(both), "{version}");
    }
    for version in listings[1]["versions"].as_array().unwrap() {
        assert!(version.get("platforms").is_none(), "{version}");
    }
    let text = golden_at(&config, &["ls", "base"]).expect(0).stdout;
    assert!(text.contains("PLATFORMS"), "{text}");
    assert!(text.contains("linux/amd64,linux/arm64"), "{text}");
}

#[test]
fn a_failing_arm64_smoke_test_publishes_nothing_of_the_image() {
    let namespace = namespace("arm-fails");
    let _local = LocalImages(namespace.clone());
    let upstream = private_upstream(&namespace);
    let (_directory, config) = stack(
        &namespace,
        &upstream,
        r#"["sh", "-c", "test \"$(uname -m)\" = x86_64"]"#,
    );
    let run = golden_at(&config, &["build", "--all", "--output", "json"]);
    let report = run.json();
    assert_eq!(entry(&report, "base")["decision"], "failed", "{report}");
    let error = entry(&report, "base")["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("linux/arm64"),
        "the failing platform is named: {error}"
    );
    assert!(error.contains("nothing of `base` was pushed"), "{error}");
    for id in ["app", "solo"] {
        assert_eq!(entry(&report, id)["decision"], "skipped", "{id}: {report}");
    }
    for id in ["base", "app", "solo"] {
        assert!(
            tags(&format!("{REGISTRY}/{namespace}/{id}")).is_empty(),
            "{id} has tags"
        );
    }
}

/// The children of the index `repository:tag`, by platform.
fn children_of(repository: &str, tag: &str) -> Vec<(String, String)> {
    let (body, media_type) = manifest(repository, tag);
    let index = parse_index(&body, Some(&media_type)).unwrap();
    index
        .platforms()
        .iter()
        .map(|platform| {
            let child = index.select(platform).unwrap();
            (platform.to_string(), child.digest.clone())
        })
        .collect()
}

#[test]
fn inspect_shows_the_platforms_and_prune_deletes_each_index_with_its_platform_images() {
    let namespace = namespace("prune");
    let _local = LocalImages(namespace.clone());
    let upstream = private_upstream(&namespace);
    let (_directory, config) = one_line(&namespace, &upstream);
    golden_at(&config, &["-q", "build", "base"]).expect(0);
    golden_at(&config, &["-q", "rebuild", "base"]).expect(0);
    golden_at(&config, &["-q", "rebuild", "base"]).expect(0);
    let base = format!("{REGISTRY}/{namespace}/base");
    let both = vec!["linux/amd64".to_string(), "linux/arm64".to_string()];

    // `inspect` names the platforms of each build.
    let inspected = golden_at(&config, &["inspect", "base", "--output", "json"])
        .expect(0)
        .json();
    let versions = inspected["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 3, "{inspected}");
    for version in versions {
        assert_eq!(version["platforms"], serde_json::json!(both), "{version}");
    }
    let text = golden_at(&config, &["inspect", "base"]).expect(0).stdout;
    assert_eq!(
        text.matches("platforms linux/amd64, linux/arm64").count(),
        3,
        "{text}"
    );

    let indexes: Vec<String> = ["1.0.0", "1.0.1", "1.0.2"]
        .iter()
        .map(|version| digest(&base, version).unwrap())
        .collect();
    let children: Vec<Vec<(String, String)>> = ["1.0.0", "1.0.1", "1.0.2"]
        .iter()
        .map(|version| children_of(&base, version))
        .collect();
    for platforms in &children {
        let names: Vec<&String> = platforms.iter().map(|(platform, _)| platform).collect();
        assert_eq!(names, both.iter().collect::<Vec<_>>());
    }
    // Someone else's index names 1.0.0's amd64 image, and someone tagged
    // 1.0.1's arm64 image: those two images stay, whatever prune deletes.
    let (golden_index, index_type) = manifest(&base, "1.0.0");
    let mut mirror = json(&golden_index);
    mirror["manifests"].as_array_mut().unwrap().truncate(1);
    mirror.as_object_mut().unwrap().remove("annotations");
    put_manifest(
        &base,
        "mirror",
        &serde_json::to_vec(&mirror).unwrap(),
        &index_type,
    );
    let arm64_type = json(&golden_index)["manifests"][1]["mediaType"]
        .as_str()
        .unwrap()
        .to_string();
    let (arm64, _) = get(
        &format!("{namespace}/base/manifests/{}", children[1][1].1),
        &arm64_type,
    );
    put_manifest(&base, "pinned-arm64", &arm64, &arm64_type);

    let pruned = golden_at(
        &config,
        &[
            "prune", "base", "--keep", "1", "--apply", "--output", "json",
        ],
    )
    .expect(0)
    .json();
    let deletions = pruned["repositories"][0]["deletions"]
        .as_array()
        .unwrap_or_else(|| panic!("{pruned}"));
    assert_eq!(deletions.len(), 2, "{pruned:#}");
    let exists = |digest: &str| support::digest(&base, digest).is_some();
    // The pruned indexes and their images are gone, but for the two that
    // another index and a tag still name.
    assert!(!exists(&indexes[0]), "1.0.0's index is still there");
    assert!(!exists(&indexes[1]), "1.0.1's index is still there");
    assert!(!exists(&children[0][1].1), "1.0.0's arm64 image is left");
    assert!(!exists(&children[1][0].1), "1.0.1's amd64 image is left");
    assert!(exists(&children[0][0].1), "the image `mirror` names went");
    assert!(
        exists(&children[1][1].1),
        "the image `pinned-arm64` names went"
    );
    // The kept index and all its images still resolve, and so does what
    // names the kept images.
    assert_floating(&base, "1.0.2", &["1.0", "1", "latest"]);
    assert_eq!(digest(&base, "1.0.2").as_ref(), Some(&indexes[2]));
    for (platform, child) in &children[2] {
        assert!(exists(child), "1.0.2's {platform} image is gone");
    }
    assert_eq!(
        tags(&base),
        vec!["1", "1.0", "1.0.2", "latest", "mirror", "pinned-arm64"]
    );
    assert_eq!(
        run_as(&format!("{base}:1.0.2"), "linux/arm64", &["uname", "-m"]),
        "aarch64"
    );
    assert_eq!(
        run_as(&format!("{base}:mirror"), "linux/amd64", &["uname", "-m"]),
        "x86_64"
    );
    let again = golden_at(&config, &["prune", "base", "--keep", "1"])
        .expect(0)
        .stdout;
    assert!(again.contains("nothing to delete"), "{again}");
}

#[test]
fn a_line_from_an_oci_index_upstream_publishes_an_index_of_one_family_for_both_platforms() {
    let namespace = namespace("oci");
    let _local = LocalImages(namespace.clone());
    let upstream = copy_upstream(SEEDED_OCI, &namespace);
    let (upstream_index, upstream_type) = manifest(&upstream, "1.36");
    assert_eq!(upstream_type, "application/vnd.oci.image.index.v1+json");
    let (_directory, config) = one_line(&namespace, &upstream);
    let report = golden_at(&config, &["build", "base", "--output", "json"])
        .expect(0)
        .json();
    assert_eq!(entry(&report, "base")["decision"], "built", "{report}");
    let base = format!("{REGISTRY}/{namespace}/base");
    let published = assert_floating(&base, "1.0.0", &["1.0", "1", "latest"]);
    let (body, media_type) = manifest(&base, "1.0.0");
    let index = parse_index(&body, Some(&media_type))
        .unwrap_or_else(|e| panic!("{media_type} is not an index: {e}"));
    assert_eq!(media_type, index.format.media_type());
    let document = json(&body);
    let children = document["manifests"].as_array().unwrap();
    assert_eq!(children.len(), 2, "{document}");
    for (platform, child) in [Platform::linux_amd64(), Platform::linux_arm64()]
        .iter()
        .zip(children)
    {
        // Each child is of the index's family, as the registry serves it.
        assert_eq!(
            child["mediaType"],
            index.format.child_media_type(),
            "{platform}: {document}"
        );
        let digest = child["digest"].as_str().unwrap();
        let (_, served) = get(
            &format!("{namespace}/base/manifests/{digest}"),
            index.format.child_media_type(),
        );
        assert_eq!(served, index.format.child_media_type(), "{platform}");
        // Each was built FROM the upstream's image of its platform.
        let labels = labels(&base, digest);
        assert_eq!(
            labels["org.opencontainers.image.base.digest"],
            sha256(&upstream_index),
            "{platform}"
        );
    }
    assert_eq!(
        document["annotations"]["io.golden.base.platforms"]
            .as_str()
            .unwrap_or_default()
            .split(',')
            .count(),
        2,
        "{document}"
    );
    assert_eq!(
        run_as(
            &format!("{base}@{published}"),
            "linux/arm64",
            &["cat", "/etc/golden-arch"]
        ),
        "aarch64"
    );
    assert_eq!(
        run_as(
            &format!("{base}@{published}"),
            "linux/amd64",
            &["cat", "/etc/golden-arch"]
        ),
        "x86_64"
    );
    let again = golden_at(&config, &["build", "base", "--output", "json"])
        .expect(0)
        .json();
    assert_eq!(entry(&again, "base")["decision"], "up-to-date", "{again}");

    // `golden check --verify-digests`: an application FROM the index
    // passes; FROM one platform's image is told the index to use.
    let arm64 = children[1]["digest"].as_str().unwrap();
    let apps = _directory.path().join("apps");
    for (app, from) in [
        ("index", format!("{base}@{published}")),
        ("arm64", format!("{base}@{arm64}")),
        ("unknown", format!("{base}@sha256:{}", "0".repeat(64))),
    ] {
        std::fs::create_dir_all(apps.join(app)).unwrap();
        std::fs::write(apps.join(app).join("Dockerfile"), format!("FROM {from}\n")).unwrap();
    }
    let apps_arg = apps.to_str().unwrap();
    golden_at(&config, &["check", apps_arg]).expect(0);
    let checked = golden_at(
        &config,
        &["check", apps_arg, "--verify-digests", "--output", "json"],
    )
    .expect(1)
    .json();
    let findings = checked["findings"].as_array().unwrap();
    let rules: Vec<(&str, &str)> = findings
        .iter()
        .map(|f| {
            let file = f["file"].as_str().unwrap();
            let app = file.rsplit('/').nth(1).unwrap();
            (app, f["rule"].as_str().unwrap())
        })
        .collect();
    assert_eq!(
        rules,
        [("arm64", "platform-image"), ("unknown", "unknown-digest")],
        "{checked:#}"
    );
    assert!(
        findings[0]["message"]
            .as_str()
            .unwrap()
            .contains("linux/arm64 image of 1.0.0"),
        "{checked:#}"
    );
    assert_eq!(
        findings[0]["fix"],
        format!("name the build's index: {base}@{published}").as_str()
    );
}
