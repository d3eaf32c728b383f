//! End to end: a docker config whose `credsStore` helper has nothing for
//! the registry (`credentials not found in native keychain`, the answer of
//! docker-credential-pass, -secretservice and -desktop for a host never
//! logged in to) reads anonymously, as `docker pull` does; a helper that
//! fails otherwise is still an error naming the store.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::support;

use support::{one_image_config, Golden, REGISTRY, SEED};

/// A docker config directory whose `credsStore` is a helper script that
/// prints `answer` and exits 1; the directory also holds the helper.
fn store_answering(directory: &Path, answer: &str) {
    std::fs::write(
        directory.join("config.json"),
        r#"{"credsStore": "golden-e2e-store"}"#,
    )
    .unwrap();
    let helper = directory.join("docker-credential-golden-e2e-store");
    // It reads the server from stdin first, as real helpers do: one that
    // exits before golden has written it makes the write fail (EPIPE).
    std::fs::write(
        &helper,
        format!("#!/bin/sh\nread -r server\necho '{answer}'\nexit 1\n"),
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn plan_with_store(answer: &str) -> support::Run {
    let (directory, config) = one_image_config(
        REGISTRY,
        &format!("e2e-credential-store-{}", std::process::id()),
        "app",
        &format!("FROM {SEED}\n"),
        "",
    );
    let store = directory.path().join("docker");
    std::fs::create_dir_all(&store).unwrap();
    store_answering(&store, answer);
    let path = format!(
        "{}:{}",
        store.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Golden::at(&config)
        .args(["plan"])
        .env("DOCKER_CONFIG", &store)
        .env("PATH", path)
        .env_remove("GOLDEN_REGISTRY_USERNAME")
        .run()
}

#[test]
fn a_credential_store_with_nothing_for_the_registry_reads_anonymously() {
    let run = plan_with_store("credentials not found in native keychain").expect(0);
    assert!(run.stdout.contains("app"), "{}", run.stdout);
}

#[test]
fn a_credential_store_that_fails_otherwise_is_an_error_naming_it() {
    let run = plan_with_store("gpg: decryption failed: No secret key").expect(2);
    assert!(
        run.stderr
            .contains("the docker credential store failed for `127.0.0.1:5000`"),
        "{}",
        run.stderr
    );
}
