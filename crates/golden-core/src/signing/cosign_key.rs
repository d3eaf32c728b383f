//! cosign's own encrypted private key (`cosign generate-key-pair`): a PEM
//! block `ENCRYPTED SIGSTORE PRIVATE KEY` (`ENCRYPTED COSIGN PRIVATE KEY`
//! before cosign 2) whose bytes are a JSON document: the key derivation
//! (`scrypt`, its `N`, `r`, `p` and salt), the cipher (`nacl/secretbox`,
//! XSalsa20-Poly1305, and its nonce), and the sealed PKCS#8 DER key. The
//! box key is scrypt's 32 bytes of the password.
//!
//! Written here because no maintained crate reads it: sigstore-rs does,
//! but pulls its whole client (TUF, Rekor, OIDC) for these few steps.

use base64::Engine as _;
use crypto_secretbox::aead::{Aead as _, KeyInit as _};
use serde::Deserialize;

use super::KeyError;

/// The largest scrypt cost accepted, so a planted key cannot make golden
/// spend gigabytes: cosign writes N = 32768, r = 8, p = 1 (32 MiB).
const MAX_N: u32 = 1 << 16;
const MAX_R: u32 = 8;
const MAX_P: u32 = 1;

#[derive(Deserialize)]
struct Document {
    kdf: Kdf,
    cipher: Cipher,
    ciphertext: String,
}

#[derive(Deserialize)]
struct Kdf {
    name: String,
    params: Params,
    salt: String,
}

#[derive(Deserialize)]
struct Params {
    #[serde(rename = "N")]
    n: u32,
    r: u32,
    p: u32,
}

#[derive(Deserialize)]
struct Cipher {
    name: String,
    nonce: String,
}

fn format(message: impl Into<String>) -> KeyError {
    KeyError::Format(format!("a cosign key: {}", message.into()))
}

fn base64(text: &str, what: &str) -> Result<Vec<u8>, KeyError> {
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| format(format!("its {what} is not base64 ({e})")))
}

/// The PKCS#8 DER key sealed in the cosign key `pem`.
pub(super) fn decrypt(pem: &str, password: &[u8]) -> Result<zeroize::Zeroizing<Vec<u8>>, KeyError> {
    let body: String = pem
        .lines()
        .map(str::trim)
        .skip_while(|line| !line.starts_with("-----BEGIN "))
        .skip(1)
        .take_while(|line| !line.starts_with("-----END "))
        .collect();
    let json = base64(&body, "PEM body")?;
    let document: Document = serde_json::from_slice(&json)
        .map_err(|e| format(format!("its document is not what cosign writes ({e})")))?;
    if document.kdf.name != "scrypt" || document.cipher.name != "nacl/secretbox" {
        return Err(format(format!(
            "it uses {} and {}, where cosign uses scrypt and nacl/secretbox",
            document.kdf.name, document.cipher.name
        )));
    }
    let Params { n, r, p } = document.kdf.params;
    if !n.is_power_of_two()
        || !(2..=MAX_N).contains(&n)
        || !(1..=MAX_R).contains(&r)
        || !(1..=MAX_P).contains(&p)
    {
        return Err(format(format!(
            "its scrypt cost (N={n}, r={r}, p={p}) is past what cosign writes (N={MAX_N}, r={MAX_R}, p={MAX_P} at most)"
        )));
    }
    let salt = base64(&document.kdf.salt, "salt")?;
    let nonce = base64(&document.cipher.nonce, "nonce")?;
    let sealed = base64(&document.ciphertext, "ciphertext")?;
    if nonce.len() != 24 {
        return Err(format("its nonce is not 24 bytes"));
    }
    let params = scrypt::Params::new(n.ilog2() as u8, r, p, 32)
        .map_err(|e| format(format!("its scrypt parameters: {e}")))?;
    let mut key = zeroize::Zeroizing::new([0u8; 32]);
    scrypt::scrypt(password, &salt, &params, key.as_mut())
        .map_err(|e| format(format!("scrypt: {e}")))?;
    let cipher =
        crypto_secretbox::XSalsa20Poly1305::new(crypto_secretbox::Key::from_slice(key.as_ref()));
    cipher
        .decrypt(
            crypto_secretbox::Nonce::from_slice(&nonce),
            sealed.as_slice(),
        )
        .map(zeroize::Zeroizing::new)
        .map_err(|_| KeyError::Decrypt)
}
