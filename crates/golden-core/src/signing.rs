//! Signatures of golden builds in cosign's keyed format, so `cosign verify
//! --key cosign.pub --insecure-ignore-tlog` accepts them and `golden
//! verify` checks them: a "simple signing" payload naming the repository
//! and the manifest digest, signed with ECDSA P-256 over SHA-256 (DER,
//! base64), stored as one layer of an OCI image manifest whose annotation
//! `dev.cosignproject.cosign/signature` holds the signature, tagged
//! `sha256-<hex>.sig` beside the build.
//!
//! Pure: keys and documents are handed in as text and bytes.

use base64::Engine as _;
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::ecdsa::DerSignature;
pub use p256::ecdsa::{SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey as _, DecodePublicKey as _};
use serde_json::{json, Value};

use crate::name::{Digest, Tag};

/// The layer media type of a cosign signature's payload.
pub const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The layer annotation holding the signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// The payload's type.
pub const PAYLOAD_TYPE: &str = "cosign container image signature";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";

/// Why a key cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("it is not a PEM key golden reads ({0}); golden reads EC P-256 keys as cosign writes them (`ENCRYPTED SIGSTORE PRIVATE KEY`, with `password_env`), PKCS#8 (`PRIVATE KEY`, or `ENCRYPTED PRIVATE KEY` with `password_env`) or SEC1 (`EC PRIVATE KEY`)")]
    Format(String),
    #[error("it is encrypted and no password was given: set `password_env` in [signing]")]
    NoPassword,
    #[error("it could not be decrypted with the password given (wrong password?)")]
    Decrypt,
}

/// The signing key in `pem`, decrypted with `password` when it is an
/// encrypted PKCS#8 key.
pub fn signing_key(pem: &str, password: Option<&[u8]>) -> Result<SigningKey, KeyError> {
    let label = pem
        .lines()
        .find_map(|line| line.trim().strip_prefix("-----BEGIN "))
        .and_then(|rest| rest.strip_suffix("-----"))
        .unwrap_or("no PEM block");
    match label {
        "PRIVATE KEY" => {
            SigningKey::from_pkcs8_pem(pem).map_err(|e| KeyError::Format(e.to_string()))
        }
        "EC PRIVATE KEY" => {
            use p256::elliptic_curve::SecretKey;
            SecretKey::<p256::NistP256>::from_sec1_pem(pem)
                .map(SigningKey::from)
                .map_err(|e| KeyError::Format(e.to_string()))
        }
        "ENCRYPTED PRIVATE KEY" => {
            let password = password.ok_or(KeyError::NoPassword)?;
            SigningKey::from_pkcs8_encrypted_pem(pem, password).map_err(|_| KeyError::Decrypt)
        }
        "ENCRYPTED SIGSTORE PRIVATE KEY" | "ENCRYPTED COSIGN PRIVATE KEY" => {
            let password = password.ok_or(KeyError::NoPassword)?;
            let der = cosign_key::decrypt(pem, password)?;
            SigningKey::from_pkcs8_der(&der).map_err(|e| KeyError::Format(e.to_string()))
        }
        other => Err(KeyError::Format(format!("a `{other}` block"))),
    }
}

mod cosign_key;

/// The public key in `pem` (`PUBLIC KEY`, as `cosign generate-key-pair`
/// and `openssl ec -pubout` write it).
pub fn verifying_key(pem: &str) -> Result<VerifyingKey, KeyError> {
    VerifyingKey::from_public_key_pem(pem).map_err(|e| KeyError::Format(e.to_string()))
}

/// The tag a build's signature is stored under: `sha256-<hex>.sig`.
pub fn signature_tag(digest: &Digest) -> Tag {
    Tag::from_valid(format!("{}.sig", digest.to_string().replacen(':', "-", 1)))
}

/// The simple signing payload for the manifest `digest` of `repository`
/// (`host/path`), in cosign's field order.
pub fn payload(repository: &str, digest: &Digest) -> Vec<u8> {
    let document = json!({
        "critical": {
            "identity": { "docker-reference": repository },
            "image": { "docker-manifest-digest": digest.to_string() },
            "type": PAYLOAD_TYPE,
        },
        "optional": null,
    });
    serde_json::to_vec(&document).expect("a JSON value")
}

/// `payload` signed with `key`: the DER signature, base64.
pub fn sign(key: &SigningKey, payload: &[u8]) -> String {
    let signature: DerSignature = key.sign(payload);
    base64::engine::general_purpose::STANDARD.encode(signature.as_bytes())
}

/// The signature manifest's documents: its config blob and the manifest
/// itself (the payload is its one layer, pushed as a blob).
pub struct SignatureManifest {
    pub config: Vec<u8>,
    pub manifest: Vec<u8>,
    pub media_type: &'static str,
}

/// The manifest holding `payload` and its `signature`, as cosign writes it.
pub fn signature_manifest(payload: &[u8], signature: &str) -> SignatureManifest {
    let payload_digest = Digest::of(payload);
    let config = serde_json::to_vec(&json!({
        "architecture": "",
        "created": "0001-01-01T00:00:00Z",
        "history": [{ "created": "0001-01-01T00:00:00Z" }],
        "os": "",
        "rootfs": { "type": "layers", "diff_ids": [payload_digest.to_string()] },
        "config": {},
    }))
    .expect("a JSON value");
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": OCI_CONFIG,
            "size": config.len(),
            "digest": Digest::of(&config).to_string(),
        },
        "layers": [{
            "mediaType": SIMPLE_SIGNING,
            "size": payload.len(),
            "digest": payload_digest.to_string(),
            "annotations": { SIGNATURE_ANNOTATION: signature },
        }],
    }))
    .expect("a JSON value");
    SignatureManifest {
        config,
        manifest,
        media_type: OCI_MANIFEST,
    }
}

/// One signature found in a signature manifest: its payload's digest and
/// the signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub payload: Digest,
    pub signature: String,
}

/// The signatures a signature manifest holds (its simple signing layers
/// with a signature annotation).
pub fn signatures_in(manifest: &[u8]) -> Vec<Found> {
    let Ok(document) = serde_json::from_slice::<Value>(manifest) else {
        return Vec::new();
    };
    document["layers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|layer| layer["mediaType"] == SIMPLE_SIGNING)
        .filter_map(|layer| {
            Some(Found {
                payload: Digest::parse(layer["digest"].as_str()?).ok()?,
                signature: layer["annotations"][SIGNATURE_ANNOTATION]
                    .as_str()?
                    .to_string(),
            })
        })
        .collect()
}

/// Why a signature does not vouch for a build.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Rejected {
    #[error("its signature is not valid base64 DER")]
    Malformed,
    #[error("its signature does not verify with the configured public key (another key, or a changed payload)")]
    WrongKey,
    #[error("its payload is not a cosign simple signing payload")]
    NotAPayload,
    #[error("its payload names another image: {0}")]
    OtherImage(String),
}

/// Whether `payload` and `signature` vouch for the manifest `digest`
/// under `key`.
pub fn check(
    key: &VerifyingKey,
    payload: &[u8],
    signature: &str,
    digest: &Digest,
) -> Result<(), Rejected> {
    let der = base64::engine::general_purpose::STANDARD
        .decode(signature.trim())
        .map_err(|_| Rejected::Malformed)?;
    let signature = DerSignature::from_bytes(&der).map_err(|_| Rejected::Malformed)?;
    key.verify(payload, &signature)
        .map_err(|_| Rejected::WrongKey)?;
    let document: Value = serde_json::from_slice(payload).map_err(|_| Rejected::NotAPayload)?;
    if document["critical"]["type"] != PAYLOAD_TYPE {
        return Err(Rejected::NotAPayload);
    }
    let named = document["critical"]["image"]["docker-manifest-digest"]
        .as_str()
        .ok_or(Rejected::NotAPayload)?;
    if *digest != named {
        return Err(Rejected::OtherImage(named.to_string()));
    }
    Ok(())
}

/// What the signatures beside a build say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    /// How many signatures were found.
    pub signatures: usize,
    /// Whether one verified with the key and named the build.
    pub verified: bool,
    /// Why each of the others does not vouch for it.
    pub rejected: Vec<String>,
}

/// Reads the signatures beside the build `digest` of `repository`
/// (`sha256-<hex>.sig`) and checks each with `key`.
pub async fn verify(
    registry: &dyn crate::registry::Registry,
    repository: &crate::name::Repository,
    digest: &Digest,
    key: &VerifyingKey,
) -> Result<Verdict, crate::registry::RegistryError> {
    let signatures = repository.tag(&signature_tag(digest));
    let found = match registry.manifest_bytes(&signatures).await? {
        Some(manifest) => signatures_in(&manifest),
        None => Vec::new(),
    };
    let mut verdict = Verdict {
        signatures: found.len(),
        ..Verdict::default()
    };
    for signature in &found {
        let checked = match registry.blob(repository, &signature.payload).await {
            Ok(payload) => {
                check(key, &payload, &signature.signature, digest).map_err(|r| r.to_string())
            }
            Err(error) => Err(format!("its payload could not be read: {error}")),
        };
        match checked {
            Ok(()) => verdict.verified = true,
            Err(reason) => verdict.rejected.push(reason),
        }
    }
    Ok(verdict)
}

#[cfg(test)]
mod tests;
