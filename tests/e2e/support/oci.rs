//! Registry documents by hand, through the distribution HTTP API: reading
//! manifests and blobs, copying the seeded two-platform upstream into a
//! test's own repository, and changing or deleting what golden published,
//! as a person or another tool would.

use super::{manifest, put_manifest, require_environment, REGISTRY};

/// The seeded two-platform upstream (a Docker manifest list), tag `1.36`.
pub const SEEDED: &str = "upstream/busybox-multi";
/// The `platforms` line of a two-platform golden line.
pub const PLATFORMS: &str = r#"platforms = ["linux/amd64", "linux/arm64"]"#;

/// A registry namespace of the test's own, `e2e-<prefix>-<name>-...`.
pub fn namespace(prefix: &str, name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("e2e-{prefix}-{name}-{}-{nanos}", std::process::id())
}

/// `GET /v2/<path>` of the shared registry with `accept`: the body and its
/// media type.
pub fn get(path: &str, accept: &str) -> (Vec<u8>, String) {
    let response = ureq::get(&format!("http://{REGISTRY}/v2/{path}"))
        .set("Accept", accept)
        .call()
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let media_type = response.content_type().to_string();
    let mut body = Vec::new();
    std::io::Read::read_to_end(&mut response.into_reader(), &mut body).unwrap();
    (body, media_type)
}

pub fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes).unwrap()
}

pub fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    format!("sha256:{:x}", sha2::Sha256::digest(bytes))
}

/// Mounts blob `digest` of `from` into `to` (paths in the shared registry).
pub fn mount(to: &str, from: &str, digest: &str) {
    let response = ureq::post(&format!(
        "http://{REGISTRY}/v2/{to}/blobs/uploads/?mount={digest}&from={from}"
    ))
    .call()
    .unwrap_or_else(|e| panic!("mount {digest} into {to}: {e}"));
    assert_eq!(
        response.status(),
        201,
        "mount {digest} from {from} into {to}"
    );
}

/// Uploads `bytes` as a blob of `to`; returns its digest.
pub fn upload(to: &str, bytes: &[u8]) -> String {
    let digest = sha256(bytes);
    let started = ureq::post(&format!("http://{REGISTRY}/v2/{to}/blobs/uploads/"))
        .call()
        .unwrap();
    let location = started.header("location").unwrap().to_string();
    let location = if location.starts_with("http") {
        location
    } else {
        format!("http://{REGISTRY}{location}")
    };
    let separator = if location.contains('?') { '&' } else { '?' };
    ureq::put(&format!("{location}{separator}digest={digest}"))
        .set("Content-Type", "application/octet-stream")
        .send_bytes(bytes)
        .unwrap_or_else(|e| panic!("upload to {to}: {e}"));
    digest
}

/// Copies the seeded upstream `seeded:1.36` to `<namespace>-<seeded>:1.36`
/// (blobs mounted, manifests byte for byte); returns the repository.
pub fn copy_upstream(seeded: &str, namespace: &str) -> String {
    require_environment();
    let path = format!("{namespace}-{seeded}");
    let (index, media_type) = manifest(&format!("{REGISTRY}/{seeded}"), "1.36");
    for child in json(&index)["manifests"].as_array().unwrap() {
        let child_digest = child["digest"].as_str().unwrap();
        let child_type = child["mediaType"].as_str().unwrap();
        let (body, _) = get(&format!("{seeded}/manifests/{child_digest}"), child_type);
        let document = json(&body);
        let mut blobs = vec![document["config"]["digest"].as_str().unwrap().to_string()];
        for layer in document["layers"].as_array().unwrap() {
            blobs.push(layer["digest"].as_str().unwrap().to_string());
        }
        for blob in blobs {
            mount(&path, seeded, &blob);
        }
        put_manifest(
            &format!("{REGISTRY}/{path}"),
            child_digest,
            &body,
            child_type,
        );
    }
    put_manifest(&format!("{REGISTRY}/{path}"), "1.36", &index, &media_type);
    format!("{REGISTRY}/{path}")
}

/// A config dir with one two-platform line `base` 1.0 FROM
/// `upstream:1.36`, whose image records the architecture it ran on.
pub fn one_line(namespace: &str, upstream: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let directory = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(directory.path().join("base")).unwrap();
    std::fs::write(
        directory.path().join("base/Dockerfile"),
        format!("FROM {upstream}:1.36\nRUN uname -m > /etc/golden-arch\n"),
    )
    .unwrap();
    let config = directory.path().join("golden.toml");
    std::fs::write(
        &config,
        format!(
            "[registry]\nhost = \"{REGISTRY}\"\nnamespace = \"{namespace}\"\n\n\
             [images.base]\nversion = \"1.0\"\ncontext = \"base\"\n{PLATFORMS}\n"
        ),
    )
    .unwrap();
    (directory, config)
}

/// The entry of `platform` (`os/architecture`) in the index
/// `repository:tag`: its digest and media type.
pub fn child_of(repository: &str, tag: &str, platform: &str) -> (String, String) {
    let (body, _) = manifest(repository, tag);
    let index = json(&body);
    let (os, architecture) = platform.split_once('/').unwrap();
    let entry = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| {
            entry["platform"]["os"] == os && entry["platform"]["architecture"] == architecture
        })
        .unwrap_or_else(|| panic!("no {platform} in {repository}:{tag}: {index}"));
    (
        entry["digest"].as_str().unwrap().to_string(),
        entry["mediaType"].as_str().unwrap().to_string(),
    )
}

/// Deletes the manifest `digest` of `repository` by hand (registry API).
pub fn delete_manifest(repository: &str, digest: &str) {
    let (host, path) = repository.split_once('/').unwrap();
    let response = ureq::delete(&format!("http://{host}/v2/{path}/manifests/{digest}"))
        .call()
        .unwrap_or_else(|e| panic!("DELETE {repository}@{digest}: {e}"));
    assert_eq!(response.status(), 202, "DELETE {repository}@{digest}");
}
