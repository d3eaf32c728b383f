use super::*;
use p256::pkcs8::{EncodePrivateKey as _, EncodePublicKey as _};

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32].into()).unwrap()
}

fn digest(text: &str) -> Digest {
    Digest::of(text.as_bytes())
}

#[test]
fn a_signature_verifies_for_its_digest_only_and_with_its_key_only() {
    let build = digest("build");
    let payload = payload("registry.local:5000/golden/base", &build);
    let signature = sign(&key(1), &payload);
    let public = *key(1).verifying_key();
    assert_eq!(check(&public, &payload, &signature, &build), Ok(()));
    assert_eq!(
        check(&public, &payload, &signature, &digest("other")),
        Err(Rejected::OtherImage(build.to_string()))
    );
    assert_eq!(
        check(key(2).verifying_key(), &payload, &signature, &build),
        Err(Rejected::WrongKey)
    );
    let mut tampered = payload.clone();
    tampered[10] ^= 1;
    assert_eq!(
        check(&public, &tampered, &signature, &build),
        Err(Rejected::WrongKey)
    );
    assert_eq!(
        check(&public, &payload, "%%%", &build),
        Err(Rejected::Malformed)
    );
}

#[test]
fn the_manifest_holds_the_payload_as_its_layer_with_the_signature() {
    let build = digest("build");
    let payload = payload("r/x", &build);
    let made = signature_manifest(&payload, "c2ln");
    let found = signatures_in(&made.manifest);
    assert_eq!(
        found,
        vec![Found {
            payload: Digest::of(&payload),
            signature: "c2ln".into()
        }]
    );
    let document: Value = serde_json::from_slice(&made.manifest).unwrap();
    assert_eq!(
        document["config"]["digest"],
        Digest::of(&made.config).to_string()
    );
    assert_eq!(
        signature_tag(&build).to_string(),
        format!(
            "sha256-{}.sig",
            build.to_string().trim_start_matches("sha256:")
        )
    );
    let text: Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(text["critical"]["identity"]["docker-reference"], "r/x");
    assert_eq!(text["optional"], Value::Null);
}

#[test]
fn keys_are_read_as_pkcs8_sec1_and_encrypted_pkcs8() {
    let signing = key(3);
    let pkcs8 = signing.to_pkcs8_pem(Default::default()).unwrap();
    assert_eq!(signing_key(&pkcs8, None).unwrap(), signing);
    let sec1 = p256::SecretKey::from_bytes(&signing.to_bytes())
        .unwrap()
        .to_sec1_pem(Default::default())
        .unwrap();
    assert_eq!(signing_key(&sec1, None).unwrap(), signing);
    // Made by `openssl pkcs8 -topk8 -v2 aes-256-cbc -passout pass:s3cret`
    // (PBKDF2), a key for this test only, with its public key.
    let decrypted = signing_key(ENCRYPTED, Some(b"s3cret")).unwrap();
    assert_eq!(
        *decrypted.verifying_key(),
        verifying_key(ENCRYPTED_PUBLIC).unwrap()
    );
    assert_eq!(signing_key(ENCRYPTED, None), Err(KeyError::NoPassword));
    assert_eq!(
        signing_key(ENCRYPTED, Some(b"wrong")),
        Err(KeyError::Decrypt)
    );
    let broken = "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nabc\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n";
    assert!(matches!(
        signing_key(broken, Some(b"x")),
        Err(KeyError::Format(_))
    ));
    let public = signing
        .verifying_key()
        .to_public_key_pem(Default::default())
        .unwrap();
    assert_eq!(verifying_key(&public).unwrap(), *signing.verifying_key());
}

const ENCRYPTED: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIHsMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAjavHB280cilwICCAAw\nDAYIKoZIhvcNAgkFADAdBglghkgBZQMEASoEEM1+T2IkWdtUCPrq1qhaJe0EgZAV\nyKhZ0Dx5WftNcHNHJ2f4iAxOuvEKMJbipW4z/k9YcD8Xh5lKzmIKvi8l51P3xn7i\ntDsieBZs6jS9lkgC7mreQVLG/ZkLjgKc6OJpn/8m/zig22SxriPdNwoZDcMy2Via\nR1HiPZyapIsTGa3zSVHTqSBKRfxPYftq92rvLHfW/EzAbddDM6373Vkes2QV29s=\n-----END ENCRYPTED PRIVATE KEY-----\n";
const ENCRYPTED_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEeZA3IHEdMCgqGABohVsttM7iVYVq\nZsG5nEU8phXViEMDelyesq8sFrw315ExCXsyhF5pxPal7evh6egy65R30Q==\n-----END PUBLIC KEY-----\n";

/// cosign's own encrypted format, made independently of golden by
/// `cosign_key_fixture.py` (Python's hashlib.scrypt and PyNaCl's
/// SecretBox, as cosign's Go code does), password
/// `cosign-test-password`, with its public key.
const COSIGN_KEY: &str = include_str!("cosign.key");
const COSIGN_PUBLIC: &str = include_str!("cosign.pub");

#[test]
fn cosigns_encrypted_key_is_read_with_its_password_only() {
    let key = signing_key(COSIGN_KEY, Some(b"cosign-test-password")).unwrap();
    assert_eq!(*key.verifying_key(), verifying_key(COSIGN_PUBLIC).unwrap());
    assert_eq!(
        signing_key(COSIGN_KEY, Some(b"wrong")),
        Err(KeyError::Decrypt)
    );
    assert_eq!(signing_key(COSIGN_KEY, None), Err(KeyError::NoPassword));
    // cosign before 2.0 named the block differently.
    let older = COSIGN_KEY.replace("SIGSTORE", "COSIGN");
    assert!(signing_key(&older, Some(b"cosign-test-password")).is_ok());
}

#[test]
fn a_cosign_key_asking_for_a_huge_scrypt_cost_is_refused_before_deriving() {
    use base64::Engine as _;
    let engine = base64::engine::general_purpose::STANDARD;
    let body: String = COSIGN_KEY
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    let mut document: Value = serde_json::from_slice(&engine.decode(body).unwrap()).unwrap();
    document["kdf"]["params"]["N"] = (1u64 << 24).into();
    let pem = format!(
        "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n{}\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n",
        engine.encode(serde_json::to_vec(&document).unwrap())
    );
    let error = signing_key(&pem, Some(b"cosign-test-password")).unwrap_err();
    assert!(error.to_string().contains("scrypt cost"), "{error}");
}
