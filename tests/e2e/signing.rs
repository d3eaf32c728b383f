//! Signing (`[signing]`), on the real engine and registry: each build is
//! signed in cosign's keyed format before its floating tags move. The test
//! reads the signature back through the registry API itself and verifies
//! it with Python's `cryptography` over the simple signing payload; `golden
//! verify` accepts it, and rejects a tampered payload, another key and an
//! unsigned image.

use crate::support;

use std::path::Path;
use std::process::Command;

use support::{digest, manifest, put_manifest, Stack};

/// An EC P-256 key pair made with openssl: `signing.key` (PKCS#8,
/// encrypted with `password`) and `signing.pub`, in `directory` under
/// `name`.
fn key_pair(directory: &Path, name: &str, password: &str) {
    let script = format!(
        "set -e; openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -v2 aes-256-cbc -passout pass:{password} > {name}.key; openssl pkey -in {name}.key -passin pass:{password} -pubout > {name}.pub"
    );
    let status = Command::new("sh")
        .args(["-c", &script])
        .current_dir(directory)
        .status()
        .unwrap();
    assert!(status.success());
}

/// A blob of `repository`, read through the registry API.
fn blob(repository: &str, digest: &str) -> Vec<u8> {
    let (host, path) = repository.split_once('/').unwrap();
    let response = ureq::get(&format!("http://{host}/v2/{path}/blobs/{digest}"))
        .call()
        .unwrap_or_else(|e| panic!("GET blob {digest}: {e}"));
    let mut body = Vec::new();
    std::io::Read::read_to_end(&mut response.into_reader(), &mut body).unwrap();
    body
}

/// Uploads `bytes` as a blob of `repository` through the registry API.
fn upload(repository: &str, bytes: &[u8]) -> String {
    use sha2::Digest as _;
    let digest = format!("sha256:{:x}", sha2::Sha256::digest(bytes));
    let (host, path) = repository.split_once('/').unwrap();
    let started = ureq::post(&format!("http://{host}/v2/{path}/blobs/uploads/"))
        .call()
        .unwrap();
    let location = started.header("location").unwrap().to_string();
    let separator = if location.contains('?') { '&' } else { '?' };
    ureq::put(&format!("{location}{separator}digest={digest}"))
        .send_bytes(bytes)
        .unwrap();
    digest
}

#[test]
fn builds_are_signed_as_cosign_does_and_verify_checks_key_payload_and_digest() {
    let stack = Stack::new("signing");
    key_pair(stack.path(), "signing", "pass-of-ci");
    key_pair(stack.path(), "other", "x");
    stack.append_config(
        "\n[signing]\nkey_file = \"signing.key\"\npassword_env = \"GOLDEN_TEST_KEY_PASSWORD\"\npublic_key_file = \"signing.pub\"\n",
    );
    let env = [("GOLDEN_TEST_KEY_PASSWORD", "pass-of-ci")];
    // Without its password the key cannot be used: exit 2, nothing built.
    let locked = stack.golden(&["build", "base"]).expect(2);
    assert!(
        locked
            .stderr
            .contains("`GOLDEN_TEST_KEY_PASSWORD` named by `password_env` in [signing] is not set"),
        "{}",
        locked.stderr
    );
    let built = stack.golden_with_env(&["build", "base"], &env).expect(0);
    assert!(!format!("{}{}", built.stdout, built.stderr).contains("pass-of-ci"));

    // The signature, read back through the registry API.
    let repository = stack.repository("base");
    let build = digest(&repository, "1.0.0").unwrap();
    let tag = format!("{}.sig", build.replace(':', "-"));
    let (body, media_type) = manifest(&repository, &tag);
    assert_eq!(media_type, "application/vnd.oci.image.manifest.v1+json");
    let document: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let layer = &document["layers"][0];
    assert_eq!(
        layer["mediaType"],
        "application/vnd.dev.cosign.simplesigning.v1+json"
    );
    let signature = layer["annotations"]["dev.cosignproject.cosign/signature"]
        .as_str()
        .unwrap()
        .to_string();
    let payload = blob(&repository, layer["digest"].as_str().unwrap());
    let text: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(
        text["critical"]["image"]["docker-manifest-digest"],
        build.as_str()
    );
    assert_eq!(
        text["critical"]["identity"]["docker-reference"],
        repository.as_str()
    );
    assert_eq!(text["critical"]["type"], "cosign container image signature");

    // An independent check: Python's cryptography, ECDSA P-256 over SHA-256.
    std::fs::write(stack.path().join("payload"), &payload).unwrap();
    std::fs::write(stack.path().join("signature"), &signature).unwrap();
    let check = "import base64, sys\n\
                 from cryptography.hazmat.primitives import hashes, serialization\n\
                 from cryptography.hazmat.primitives.asymmetric import ec\n\
                 key = serialization.load_pem_public_key(open(sys.argv[1], 'rb').read())\n\
                 key.verify(base64.b64decode(open(sys.argv[3]).read()), open(sys.argv[2], 'rb').read(), ec.ECDSA(hashes.SHA256()))\n\
                 print('verified')\n";
    let python = |public: &str| {
        Command::new("/usr/bin/python3")
            .args(["-c", check, public, "payload", "signature"])
            .current_dir(stack.path())
            .output()
            .unwrap()
    };
    let verified = python("signing.pub");
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stderr)
    );
    assert!(
        !python("other.pub").status.success(),
        "another key does not verify it"
    );

    // golden verify accepts it, by tag and by digest.
    let by_tag = format!("{repository}:1.0");
    let ok = stack.golden(&["verify", &by_tag]).expect(0);
    assert!(ok.stdout.contains("signed by the key"), "{}", ok.stdout);
    stack
        .golden(&["verify", &format!("{repository}@{build}")])
        .expect(0);

    // An unsigned image (the upstream copy): exit 1, said.
    let unsigned = stack.golden(&["verify", &stack.upstream()]).expect(1);
    assert!(
        unsigned.stdout.contains("not signed"),
        "{}",
        unsigned.stdout
    );

    // Another key: rejected.
    let config = std::fs::read_to_string(stack.config()).unwrap();
    std::fs::write(
        stack.config(),
        config.replace(
            "public_key_file = \"signing.pub\"",
            "public_key_file = \"other.pub\"",
        ),
    )
    .unwrap();
    let other = stack.golden(&["verify", &by_tag]).expect(1);
    assert!(
        other
            .stdout
            .contains("does not verify with the configured public key"),
        "{}",
        other.stdout
    );
    std::fs::write(stack.config(), config).unwrap();

    // A tampered payload (it names another image) under the same signature.
    let forged = String::from_utf8(payload.clone())
        .unwrap()
        .replace(&build, &format!("sha256:{}", "0".repeat(64)));
    let forged_digest = upload(&repository, forged.as_bytes());
    let mut tampered = document.clone();
    tampered["layers"][0]["digest"] = serde_json::Value::from(forged_digest);
    tampered["layers"][0]["size"] = serde_json::Value::from(forged.len());
    put_manifest(
        &repository,
        &tag,
        &serde_json::to_vec(&tampered).unwrap(),
        &media_type,
    );
    let rejected = stack.golden(&["verify", &by_tag]).expect(1);
    assert!(
        rejected.stdout.contains("no signature verifies"),
        "{}",
        rejected.stdout
    );
    assert!(
        rejected.stdout.contains("does not verify"),
        "{}",
        rejected.stdout
    );
    stack.golden(&["clean"]);
}

/// With `[signing]`, floating tags move only to signed builds: `promote`
/// refuses a build pushed unsigned (before signing was configured), and
/// so does a rollback to it; a rebuild signs and releases.
#[test]
fn promote_and_rollback_refuse_an_unsigned_build() {
    let stack = Stack::new("signing-promote");
    key_pair(stack.path(), "signing", "pw");
    let repository = stack.repository("base");
    // Pushed before signing was configured, its floating tags left to
    // `promote` (the CI matrix's way).
    stack.golden(&["build", "base", "--no-promote"]).expect(0);
    assert!(digest(&repository, "1.0.0").is_some());
    assert_eq!(digest(&repository, "1.0"), None);
    stack.append_config(
        "\n[signing]\nkey_file = \"signing.key\"\npassword_env = \"GOLDEN_TEST_KEY_PASSWORD\"\npublic_key_file = \"signing.pub\"\n",
    );
    let env = [("GOLDEN_TEST_KEY_PASSWORD", "pw")];
    let refused = stack.golden_with_env(&["promote", "base"], &env).expect(1);
    let said = format!("{}{}", refused.stdout, refused.stderr);
    assert!(said.contains("golden moves no floating tag to"), "{said}");
    assert!(said.contains("it is not signed"), "{said}");
    assert_eq!(digest(&repository, "1.0"), None, "nothing moved");

    // A rebuild signs and releases; a rollback to the unsigned build is refused.
    stack.golden_with_env(&["rebuild", "base"], &env).expect(0);
    let signed = digest(&repository, "1.0.1").unwrap();
    let signed_digest = signed.clone();
    assert_eq!(digest(&repository, "1.0"), Some(signed.clone()));
    let rollback = stack
        .golden_with_env(&["rollback", "base", "--to", "1.0.0"], &env)
        .expect(1);
    let said = format!("{}{}", rollback.stdout, rollback.stderr);
    assert!(
        said.contains("golden rolls `base` back to no unsigned build"),
        "{said}"
    );
    assert_eq!(digest(&repository, "1.0"), Some(signed));

    // `check --verify-signatures`: an application FROM the signed line
    // passes; one FROM the unsigned build fails with `unsigned`.
    let check = |from: &str| {
        let application = tempfile::tempdir().unwrap();
        std::fs::write(
            application.path().join("Dockerfile"),
            format!("FROM {from}\n"),
        )
        .unwrap();
        let output = Command::new(env!("CARGO_BIN_EXE_golden"))
            .arg("-c")
            .arg(stack.config())
            .args(["check", "--verify-signatures", "--output", "json"])
            .arg(application.path())
            .output()
            .unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
        )
    };
    let (code, report) = check(&format!("{repository}:1.0"));
    assert_eq!(code, Some(0), "{report}");
    let (code, report) = check(&format!("{repository}:1.0.0"));
    assert_eq!(code, Some(1), "{report}");
    let findings: serde_json::Value = serde_json::from_str(&report).unwrap();
    let rules: Vec<&str> = findings["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|finding| finding["rule"].as_str().unwrap())
        .collect();
    assert!(rules.contains(&"unsigned"), "{report}");
    assert!(report.contains("is not signed"), "{report}");

    // Pruning a signed build deletes its signature too.
    stack.golden_with_env(&["rebuild", "base"], &env).expect(0);
    let signature = format!("{}.sig", signed_digest.replace(':', "-"));
    assert!(digest(&repository, &signature).is_some());
    stack
        .golden(&["prune", "base", "--keep", "1", "--apply"])
        .expect(0);
    assert_eq!(digest(&repository, "1.0.1"), None, "1.0.1 was pruned");
    assert_eq!(digest(&repository, &signature), None, "and its signature");
    stack.golden(&["clean"]);
}
