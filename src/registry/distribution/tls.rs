//! TLS for registry connections, trusted as the engine trusts them: the
//! system store, `ca_file` and `/etc/docker/certs.d/HOST:PORT/*.crt`. A
//! certificate listed there that is the server's own (Docker's self-signed
//! recipe, CA:TRUE) is accepted when the server presents exactly it and the
//! name matches; handshake signatures are always verified. This module only
//! builds rustls configurations and reads handshake errors; it never sends a
//! request and never turns verification off except for `insecure` hosts.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// A client certificate and key presented to one registry (mutual TLS).
#[derive(Debug, Clone)]
pub struct ClientIdentity {
    /// `client.cert`: PEM certificate chain.
    pub certificate: PathBuf,
    /// `client.key`: PEM private key.
    pub key: PathBuf,
}

/// What went wrong setting up TLS.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read CA file `{}`: {source}", .path.display())]
    ReadCa {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("CA file `{}` holds no PEM certificate", .path.display())]
    NoCertificate { path: PathBuf },
    #[error("CA file `{}` is not PEM certificates: {message}", .path.display())]
    NotPem { path: PathBuf, message: String },
    #[error("cannot use the client certificate `{}`: {message}", .path.display())]
    Identity { path: PathBuf, message: String },
    #[error("cannot set up TLS: {0}")]
    Config(#[from] rustls::Error),
}

/// Certificates read from the PEM files golden was told to trust.
#[derive(Debug, Clone, Default)]
pub struct Trust {
    extra: Vec<CertificateDer<'static>>,
}

impl Trust {
    /// Reads every certificate of `files` (ca_file, certs.d `*.crt`).
    pub fn read(files: &[PathBuf]) -> Result<Trust, TlsError> {
        let mut extra = Vec::new();
        for path in files {
            // A regular file only: a FIFO swapped in since the config was
            // checked must not hang the run.
            let pem = crate::regular_file::read(
                path,
                crate::regular_file::MAX_TEXT,
                crate::regular_file::Symlinks::Follow,
            )
            .map_err(|problem| TlsError::ReadCa {
                path: path.clone(),
                source: std::io::Error::other(format!("it {problem}")),
            })?;
            let certificates = CertificateDer::pem_slice_iter(&pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| TlsError::NotPem {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
            if certificates.is_empty() {
                return Err(TlsError::NoCertificate { path: path.clone() });
            }
            extra.extend(certificates);
        }
        Ok(Trust { extra })
    }

    /// A rustls configuration: verified (system roots, extra roots, pins)
    /// unless `verify` is false, presenting `identity` when given.
    pub fn client_config(
        &self,
        verify: bool,
        identity: Option<&ClientIdentity>,
    ) -> Result<rustls::ClientConfig, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier: Arc<dyn ServerCertVerifier> = if verify {
            Arc::new(PinningVerifier::new(self, provider.clone()))
        } else {
            Arc::new(PinningVerifier::unverified(provider.clone()))
        };
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        Ok(match identity {
            None => builder.with_no_client_auth(),
            Some(identity) => {
                let (chain, key) = read_identity(identity)?;
                builder.with_client_auth_cert(chain, key)?
            }
        })
    }
}

fn read_identity(
    identity: &ClientIdentity,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
    let failed = |path: &Path, message: String| TlsError::Identity {
        path: path.to_path_buf(),
        message,
    };
    let chain = CertificateDer::pem_file_iter(&identity.certificate)
        .and_then(|certificates| certificates.collect::<Result<Vec<_>, _>>())
        .map_err(|e| failed(&identity.certificate, e.to_string()))?;
    if chain.is_empty() {
        return Err(failed(
            &identity.certificate,
            "it holds no PEM certificate".to_string(),
        ));
    }
    let key = PrivateKeyDer::from_pem_file(&identity.key)
        .map_err(|e| failed(&identity.key, e.to_string()))?;
    Ok((chain, key))
}

/// WebPKI verification against the system and extra roots, then pinning of
/// a listed certificate that the server presents as its own. Without
/// `webpki` (`insecure = true`, as the engine's insecure-registries) any
/// certificate is accepted; handshake signatures are checked either way.
/// The system store is read at the first handshake, not before: a run that
/// only speaks plain HTTP never pays for it.
#[derive(Debug)]
struct PinningVerifier {
    webpki: Option<OnceLock<Result<Arc<WebPkiServerVerifier>, String>>>,
    pinned: Vec<CertificateDer<'static>>,
    provider: Arc<CryptoProvider>,
}

impl PinningVerifier {
    fn new(trust: &Trust, provider: Arc<CryptoProvider>) -> PinningVerifier {
        PinningVerifier {
            webpki: Some(OnceLock::new()),
            pinned: trust.extra.clone(),
            provider,
        }
    }

    /// Accepts any certificate (`insecure = true`).
    fn unverified(provider: Arc<CryptoProvider>) -> PinningVerifier {
        PinningVerifier {
            webpki: None,
            pinned: Vec::new(),
            provider,
        }
    }

    /// The WebPKI verifier over the system roots (or, without a system
    /// store, the compiled-in web roots) and the extra roots.
    fn roots(&self) -> Result<Arc<WebPkiServerVerifier>, String> {
        let mut roots = RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        for error in &native.errors {
            tracing::debug!(%error, "skipping a system certificate");
        }
        roots.add_parsable_certificates(native.certs);
        if roots.is_empty() {
            // No system store (a minimal image without ca-certificates):
            // the web roots golden shipped with before.
            tracing::debug!("no system certificates; using the compiled-in web roots");
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        // A self-signed leaf may not be a valid trust anchor; it is pinned
        // all the same.
        roots.add_parsable_certificates(self.pinned.iter().cloned());
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots), self.provider.clone())
            .build()
            .map_err(|error| format!("no usable trust roots: {error}"))
    }
}

impl ServerCertVerifier for PinningVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(webpki) = &self.webpki else {
            return Ok(ServerCertVerified::assertion());
        };
        let webpki = webpki
            .get_or_init(|| self.roots())
            .as_ref()
            .map_err(|message| rustls::Error::General(message.clone()))?;
        let error = match webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Ok(verified) => return Ok(verified),
            Err(error) => error,
        };
        let pinnable = matches!(
            error,
            rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer | CertificateError::Other(_)
            )
        );
        if pinnable
            && self
                .pinned
                .iter()
                .any(|pin| pin.as_ref() == end_entity.as_ref())
        {
            let parsed = rustls::server::ParsedCertificate::try_from(end_entity)?;
            rustls::client::verify_server_name(&parsed, server_name)?;
            tracing::debug!(?server_name, "accepted a pinned certificate");
            return Ok(ServerCertVerified::assertion());
        }
        Err(error)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// How an HTTPS attempt failed, read from the error chain.
#[derive(Debug, PartialEq)]
pub(super) enum Failure {
    /// The server answered, but not with TLS (a plain HTTP registry).
    NotTls,
    /// The TLS handshake failed: a certificate problem or a refusal.
    Tls(String),
    /// Not a TLS problem (refused, timed out, DNS...).
    Other,
}

/// Classifies `error` by the rustls error somewhere in its chain.
pub(super) fn failure(error: &(dyn std::error::Error + 'static)) -> Failure {
    let mut cause = Some(error);
    while let Some(current) = cause {
        if let Some(rustls_error) = rustls_error(current) {
            return match rustls_error {
                rustls::Error::InvalidMessage(_) => Failure::NotTls,
                other => Failure::Tls(describe(other)),
            };
        }
        cause = current.source();
    }
    Failure::Other
}

/// The rustls error `error` is or wraps (an `io::Error` hides its inner
/// error from `source()`, and connectors box errors once more).
fn rustls_error<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    if let Some(found) = error.downcast_ref::<rustls::Error>() {
        return Some(found);
    }
    if let Some(inner) = error
        .downcast_ref::<std::io::Error>()
        .and_then(|io| io.get_ref())
    {
        return rustls_error(inner);
    }
    None
}

fn describe(error: &rustls::Error) -> String {
    match error {
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            "its certificate is signed by an unknown authority (UnknownIssuer)".to_string()
        }
        rustls::Error::InvalidCertificate(CertificateError::Other(other))
            if other.to_string().contains("CaUsedAsEndEntity") =>
        {
            "its certificate is a CA certificate used as the server's own, and golden was not told to trust it (CaUsedAsEndEntity)".to_string()
        }
        rustls::Error::AlertReceived(rustls::AlertDescription::CertificateRequired)
        | rustls::Error::AlertReceived(rustls::AlertDescription::BadCertificate) => {
            format!("the registry refused the handshake: it requires a client certificate it trusts ({error})")
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wrapped(error: rustls::Error) -> std::io::Error {
        // As tokio-rustls and hyper-util nest it.
        std::io::Error::other(std::io::Error::new(std::io::ErrorKind::InvalidData, error))
    }

    #[test]
    fn handshake_failures_are_told_from_plain_http_and_from_no_answer() {
        let unknown = wrapped(rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer,
        ));
        assert!(matches!(failure(&unknown), Failure::Tls(m) if m.contains("unknown authority")));
        let plain = wrapped(rustls::Error::InvalidMessage(
            rustls::InvalidMessage::InvalidContentType,
        ));
        assert_eq!(failure(&plain), Failure::NotTls);
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(failure(&refused), Failure::Other);
        let alert = wrapped(rustls::Error::AlertReceived(
            rustls::AlertDescription::CertificateRequired,
        ));
        assert!(matches!(failure(&alert), Failure::Tls(m) if m.contains("client certificate")));
    }
}
