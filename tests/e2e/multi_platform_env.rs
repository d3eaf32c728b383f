//! The multi-platform environment that `scripts/env` sets up: QEMU user
//! emulation for linux/arm64 and the 2-platform upstreams
//! `upstream/busybox-multi:1.36` (a Docker manifest list) and
//! `upstream/busybox-multi-oci:1.36` (an OCI image index). Each child's
//! config must say its architecture, the arm64 child must run, and an index
//! as golden writes it must be taken by the registry and the engine.

use crate::support;

use std::collections::BTreeMap;
use std::process::Command;

use golden::index::{self, build_index, parse_index, Child, IndexFormat};
use golden::platform::Platform;
use support::{manifest, require_environment, REGISTRY};

const DOCKER_UPSTREAM: &str = "upstream/busybox-multi";
const OCI_UPSTREAM: &str = "upstream/busybox-multi-oci";
const TAG: &str = "1.36";

fn platforms() -> [Platform; 2] {
    [Platform::linux_amd64(), Platform::linux_arm64()]
}

/// The seeded index at `path:1.36`, failing with how to seed it.
fn seeded(path: &str) -> index::Index {
    require_environment();
    let repository = format!("{REGISTRY}/{path}");
    assert!(
        support::digest(&repository, TAG).is_some(),
        "`{repository}:{TAG}` is missing; seed it with `scripts/env` (as root)"
    );
    let (body, media_type) = manifest(&repository, TAG);
    parse_index(&body, Some(&media_type))
        .unwrap_or_else(|e| panic!("`{repository}:{TAG}` ({media_type}): {e}"))
}

fn get_json(url: &str, accept: &str) -> serde_json::Value {
    ureq::get(url)
        .set("Accept", accept)
        .call()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
        .into_json()
        .unwrap()
}

/// The image config blob of the manifest `path@digest`.
fn image_config(path: &str, digest: &str, media_type: &str) -> serde_json::Value {
    let manifest = get_json(
        &format!("http://{REGISTRY}/v2/{path}/manifests/{digest}"),
        media_type,
    );
    assert_eq!(manifest["mediaType"], media_type, "{path}@{digest}");
    let config = manifest["config"]["digest"].as_str().unwrap();
    get_json(
        &format!("http://{REGISTRY}/v2/{path}/blobs/{config}"),
        "*/*",
    )
}

/// `uname -m` in a container of `reference` run as `platform`; the pulled
/// image is removed again.
fn machine(reference: &str, platform: &str) -> String {
    let run = Command::new("docker")
        .args(["run", "--rm", "--pull", "always", "--platform", platform])
        .args([reference, "uname", "-m"])
        .output()
        .unwrap();
    let _ = Command::new("docker").args(["rmi", reference]).output();
    assert!(
        run.status.success(),
        "docker run --platform {platform} {reference}: {}\n\
         (an arm64 image needs QEMU user emulation: run `scripts/env` as root)",
        String::from_utf8_lossy(&run.stderr)
    );
    String::from_utf8_lossy(&run.stdout).trim().to_string()
}

#[test]
fn both_upstreams_list_amd64_and_arm64_and_each_config_says_its_architecture() {
    for (path, format) in [
        (DOCKER_UPSTREAM, IndexFormat::Docker),
        (OCI_UPSTREAM, IndexFormat::Oci),
    ] {
        let index = seeded(path);
        assert_eq!(index.format, format, "{path}");
        assert_eq!(index.platforms(), platforms(), "{path}");
        let mut digests = Vec::new();
        for platform in platforms() {
            let child = index.select(&platform).unwrap();
            assert_eq!(child.media_type, format.child_media_type(), "{path}");
            let config = image_config(path, &child.digest, &child.media_type);
            assert_eq!(
                (config["os"].as_str(), config["architecture"].as_str()),
                (Some(platform.os()), Some(platform.architecture())),
                "the config of {path}@{} ({platform})",
                child.digest
            );
            digests.push(child.digest.clone());
        }
        assert_ne!(digests[0], digests[1], "{path}: one image for both");
    }
}

#[test]
fn the_arm64_child_runs_under_emulation_and_the_amd64_one_natively() {
    let index = seeded(DOCKER_UPSTREAM);
    let child = |platform: &Platform| {
        let digest = &index.select(platform).unwrap().digest;
        format!("{REGISTRY}/{DOCKER_UPSTREAM}@{digest}")
    };
    assert_eq!(
        machine(&child(&Platform::linux_arm64()), "linux/arm64"),
        "aarch64"
    );
    assert_eq!(
        machine(&child(&Platform::linux_amd64()), "linux/amd64"),
        "x86_64"
    );
    let oci = seeded(OCI_UPSTREAM);
    let digest = &oci.select(&Platform::linux_arm64()).unwrap().digest;
    assert_eq!(
        machine(
            &format!("{REGISTRY}/{OCI_UPSTREAM}@{digest}"),
            "linux/arm64"
        ),
        "aarch64"
    );
}

/// Mounts the blobs of `from@digest` into `to` and stores the manifest
/// there by digest, as a push by digest would.
fn copy_by_digest(from: &str, to: &str, digest: &str, media_type: &str) {
    let url = format!("http://{REGISTRY}/v2/{from}/manifests/{digest}");
    let response = ureq::get(&url).set("Accept", media_type).call().unwrap();
    let mut body = Vec::new();
    std::io::Read::read_to_end(&mut response.into_reader(), &mut body).unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let layers = manifest["layers"].as_array().unwrap().iter();
    for blob in layers.chain([&manifest["config"]]) {
        let blob = blob["digest"].as_str().unwrap();
        let mount = format!("http://{REGISTRY}/v2/{to}/blobs/uploads/?mount={blob}&from={from}");
        let reply = ureq::post(&mount).call().unwrap();
        assert_eq!(reply.status(), 201, "mount {blob} into {to}");
    }
    ureq::put(&format!("http://{REGISTRY}/v2/{to}/manifests/{digest}"))
        .set("Content-Type", media_type)
        .send_bytes(&body)
        .unwrap_or_else(|e| panic!("PUT {to}@{digest}: {e}"));
}

fn delete_manifest(path: &str, digest: &str) {
    let url = format!("http://{REGISTRY}/v2/{path}/manifests/{digest}");
    if let Err(error) = ureq::delete(&url).call() {
        eprintln!("cleanup: DELETE {url}: {error}");
    }
}

#[test]
fn an_index_as_golden_builds_it_is_stored_verbatim_and_runs_per_platform() {
    for (upstream, format) in [
        (DOCKER_UPSTREAM, IndexFormat::Docker),
        (OCI_UPSTREAM, IndexFormat::Oci),
    ] {
        let seeded = seeded(upstream);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let path =
            format!("e2e-multi-{format:?}-{}-{nanos}/index", std::process::id()).to_lowercase();
        let children: Vec<Child> = platforms()
            .iter()
            .map(|platform| {
                let entry = seeded.select(platform).unwrap();
                copy_by_digest(upstream, &path, &entry.digest, &entry.media_type);
                Child {
                    media_type: entry.media_type.clone(),
                    digest: entry.digest.clone(),
                    size: entry.size,
                    platform: platform.clone(),
                }
            })
            .collect();
        let annotations = BTreeMap::from([
            (
                "org.opencontainers.image.version".to_string(),
                "1.0.0".to_string(),
            ),
            ("io.golden.recipe".to_string(), "sha256:0123".to_string()),
        ]);
        let new = build_index(&children, &annotations).unwrap();
        assert_eq!(new.media_type, format.media_type());
        let repository = format!("{REGISTRY}/{path}");
        support::put_manifest(&repository, "1.0.0", &new.body, new.media_type);
        let stored = support::digest(&repository, "1.0.0");
        let (body, media_type) = manifest(&repository, "1.0.0");
        let reference = format!("{repository}:1.0.0");
        let arm64 = machine(&reference, "linux/arm64");
        let amd64 = machine(&reference, "linux/amd64");
        delete_manifest(&path, &new.digest);
        for child in &children {
            delete_manifest(&path, &child.digest);
        }

        assert_eq!(stored.as_deref(), Some(new.digest.as_str()), "{path}");
        assert_eq!(media_type, new.media_type, "{path}");
        assert!(body == new.body, "{path}: the registry changed the index");
        let read = parse_index(&body, Some(&media_type)).unwrap();
        assert_eq!(read.annotations, annotations, "{path}");
        assert_eq!((arm64.as_str(), amd64.as_str()), ("aarch64", "x86_64"));
    }
}
