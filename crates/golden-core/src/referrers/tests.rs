use super::*;
use crate::testing::FakeRegistry;

fn repository() -> Repository {
    Repository::parse("registry.local:5000/golden/base").unwrap()
}

fn subject() -> Subject {
    Subject {
        media_type: OCI_MANIFEST.to_string(),
        digest: Digest::of(b"the build"),
        size: 1234,
    }
}

fn sbom(platform: &str, text: &str) -> Artifact {
    Artifact {
        artifact_type: "application/vnd.cyclonedx+json".to_string(),
        bytes: text.as_bytes().to_vec(),
        annotations: [("dev.golden.platform".to_string(), platform.to_string())].into(),
    }
}

fn run<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(future)
}

#[test]
fn the_manifest_carries_the_artifact_type_the_empty_config_and_the_subject() {
    let artifact = sbom("linux/amd64", "{}");
    let layer = Digest::of(&artifact.bytes);
    let manifest: Value = serde_json::from_slice(&manifest(&artifact, &layer, &subject())).unwrap();
    assert_eq!(manifest["artifactType"], "application/vnd.cyclonedx+json");
    assert_eq!(manifest["config"]["mediaType"], EMPTY_MEDIA_TYPE);
    assert_eq!(
        manifest["config"]["digest"],
        "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    );
    assert_eq!(manifest["layers"][0]["digest"], layer.to_string());
    assert_eq!(manifest["subject"]["digest"], subject().digest.to_string());
    assert_eq!(manifest["subject"]["size"], 1234);
    assert_eq!(
        manifest["annotations"]["dev.golden.platform"],
        "linux/amd64"
    );
}

#[test]
fn without_the_referrers_api_the_fallback_tag_lists_each_artifact_once() {
    let registry = FakeRegistry::default();
    let amd = run(attach(
        &registry,
        &repository(),
        &subject(),
        &sbom("linux/amd64", "amd"),
    ))
    .unwrap();
    let arm = run(attach(
        &registry,
        &repository(),
        &subject(),
        &sbom("linux/arm64", "arm"),
    ))
    .unwrap();
    let tag = format!("sha256-{}", subject().digest.hex());
    assert_eq!(amd.fallback.as_ref().map(Tag::as_str), Some(tag.as_str()));
    assert!(!amd.existed && !arm.existed);
    // Attached again (a resumed run): the one there is kept.
    let again = run(attach(
        &registry,
        &repository(),
        &subject(),
        &sbom("linux/amd64", "amd, later"),
    ))
    .unwrap();
    assert_eq!((again.existed, &again.digest), (true, &amd.digest));
    let listed = run(list(&registry, &repository(), &subject().digest)).unwrap();
    assert_eq!(
        listed.iter().map(|r| r.digest.clone()).collect::<Vec<_>>(),
        [amd.digest.clone(), arm.digest]
    );
    assert_eq!(
        listed[0].artifact_type.as_deref(),
        Some("application/vnd.cyclonedx+json")
    );
    assert_eq!(
        run(document(&registry, &repository(), &amd.digest)).unwrap(),
        b"amd"
    );
    let index: Value = serde_json::from_slice(
        &registry.stored.lock().unwrap()
            [&Digest::parse(&registry.get(&repository().to_string(), &tag).unwrap()).unwrap()],
    )
    .unwrap();
    assert_eq!(index["mediaType"], OCI_INDEX);
    assert_eq!(index["manifests"].as_array().unwrap().len(), 2);
}

#[test]
fn with_the_referrers_api_no_fallback_tag_is_written() {
    let registry = FakeRegistry {
        referrers_api: true,
        ..FakeRegistry::default()
    };
    let attached = run(attach(
        &registry,
        &repository(),
        &subject(),
        &sbom("linux/amd64", "amd"),
    ))
    .unwrap();
    assert_eq!(attached.fallback, None);
    assert!(registry.tags.lock().unwrap().is_empty());
    let again = run(attach(
        &registry,
        &repository(),
        &subject(),
        &sbom("linux/amd64", "amd"),
    ))
    .unwrap();
    assert!(again.existed);
    assert_eq!(
        run(list(&registry, &repository(), &subject().digest))
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn a_fallback_tag_that_is_not_an_index_is_an_error_not_overwritten() {
    let registry = FakeRegistry::default();
    let image = br#"{"schemaVersion":2,"layers":[]}"#.to_vec();
    let tag = fallback_tag(&subject().digest);
    run(registry.put_manifest_bytes(&repository(), &tag, OCI_MANIFEST, image.clone())).unwrap();
    let error = run(attach(
        &registry,
        &repository(),
        &subject(),
        &sbom("linux/amd64", "x"),
    ))
    .unwrap_err();
    assert!(error.to_string().contains("not an image index"), "{error}");
    assert_eq!(
        registry
            .get(&repository().to_string(), tag.as_str())
            .unwrap(),
        Digest::of(&image).to_string()
    );
}
