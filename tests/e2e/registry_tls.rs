//! End to end: golden trusts a registry's TLS as the engine does (Docker's
//! self-signed recipe in certs.d, the system store, client certificates)
//! and never falls back to plain HTTP when a handshake fails. Every file a
//! test puts in /etc/docker/certs.d or the system store is removed on drop.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::{golden_at, one_image_config, PrivateRegistry, Run, SEED};

/// Docker's recipe: one self-signed (CA:TRUE) certificate, the server's own.
fn self_signed(directory: &Path) {
    support::openssl(
        directory,
        &[
            "req",
            "-newkey",
            "rsa:4096",
            "-nodes",
            "-sha256",
            "-keyout",
            "domain.key",
            "-x509",
            "-days",
            "365",
            "-out",
            "domain.crt",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
    );
}

/// A CA `NAME.crt` and a leaf `NAME-leaf.crt` it signs, for `extensions`.
fn signed(directory: &Path, name: &str, extensions: &str) {
    let run = |args: &[&str]| support::openssl(directory, args);
    let (ca, ca_key) = (format!("{name}.crt"), format!("{name}.key"));
    let (leaf, leaf_key) = (format!("{name}-leaf.crt"), format!("{name}-leaf.key"));
    let csr = format!("{name}-leaf.csr");
    let subject = format!("/CN=golden test {name}");
    run(&[
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", &ca_key, "-out", &ca, "-days",
        "2", "-subj", &subject,
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        &leaf_key,
        "-out",
        &csr,
        "-subj",
        "/CN=127.0.0.1",
    ]);
    let extfile = format!("{name}.cnf");
    std::fs::write(directory.join(&extfile), extensions).unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        &csr,
        "-CA",
        &ca,
        "-CAkey",
        &ca_key,
        "-CAcreateserial",
        "-out",
        &leaf,
        "-days",
        "2",
        "-extfile",
        &extfile,
    ]);
}

const SERVER: &str =
    "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n";
const CLIENT: &str = "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n";

/// A TLS registry serving `certificate`/`key` of `directory`; `more` is
/// appended under `http.tls`.
fn tls_registry(directory: &Path, certificate: &str, key: &str, more: &str) -> PrivateRegistry {
    PrivateRegistry::start(&format!(
        "  tls:\n    certificate: {0}/{certificate}\n    key: {0}/{key}\n{more}",
        directory.display()
    ))
}

/// Files copied into `/etc/docker/certs.d/HOST:PORT/`, removed on drop.
struct CertsDirectory {
    path: PathBuf,
}

impl CertsDirectory {
    fn new(host: &str, files: &[(&Path, &str)]) -> CertsDirectory {
        let path = Path::new("/etc/docker/certs.d").join(host);
        let guard = CertsDirectory { path };
        std::fs::create_dir_all(&guard.path).unwrap();
        for (source, name) in files {
            std::fs::copy(source, guard.path.join(name)).unwrap();
        }
        guard
    }
}

impl Drop for CertsDirectory {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A CA in the system store (update-ca-certificates), removed on drop.
struct SystemCa {
    path: PathBuf,
}

impl SystemCa {
    fn install(ca: &Path) -> SystemCa {
        let name = format!(
            "golden-test-{}-{}.crt",
            std::process::id(),
            fastrand_suffix()
        );
        let path = Path::new("/usr/local/share/ca-certificates").join(name);
        let guard = SystemCa { path };
        std::fs::copy(ca, &guard.path).unwrap();
        update_ca_certificates();
        guard
    }
}

impl Drop for SystemCa {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        update_ca_certificates();
    }
}

fn update_ca_certificates() {
    let output = Command::new("update-ca-certificates")
        .output()
        .expect("update-ca-certificates is installed (ca-certificates)");
    assert!(
        output.status.success(),
        "update-ca-certificates: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn fastrand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// `golden plan` of one image pushed to `host`, with `extra` in [registry].
fn plan(host: &str, extra: &str) -> (tempfile::TempDir, Run) {
    let (directory, config) = one_image_config(
        host,
        "golden-tls",
        "base",
        &format!("FROM {SEED}\n"),
        &format!("retries = 0\n{extra}"),
    );
    let run = golden_at(&config, &["plan", "--output", "json"]);
    (directory, run)
}

fn output(run: &Run) -> String {
    format!("{}\n{}", run.stdout, run.stderr)
}

/// A failed handshake must be reported, never retried as plain HTTP.
fn assert_no_http_fallback(run: &Run) {
    let text = output(run);
    assert!(
        !text.contains("HTTP 400"),
        "fell back to plain HTTP:\n{text}"
    );
    assert!(
        !text.contains("http://"),
        "fell back to plain HTTP:\n{text}"
    );
}

#[test]
fn an_untrusted_certificate_is_an_error_naming_the_host_and_problem_never_an_http_fallback() {
    let directory = tempfile::tempdir().unwrap();
    signed(directory.path(), "unknown-ca", SERVER);
    let registry = tls_registry(
        directory.path(),
        "unknown-ca-leaf.crt",
        "unknown-ca-leaf.key",
        "",
    );
    let host = registry.host();
    let (_config, run) = plan(&host, "");
    let run = run.expect(3);
    let text = output(&run);
    assert!(
        text.contains(&format!("cannot connect to registry `{host}` over TLS")),
        "{text}"
    );
    assert!(text.contains("unknown authority"), "{text}");
    assert!(
        text.contains(&format!("/etc/docker/certs.d/{host}/ca.crt")) && text.contains("ca_file"),
        "the hint says where to put the CA:\n{text}"
    );
    assert_no_http_fallback(&run);

    // Docker's self-signed certificate, not trusted: the same, not HTTP 400.
    self_signed(directory.path());
    let pinned = tls_registry(directory.path(), "domain.crt", "domain.key", "");
    let (_config, run) = plan(&pinned.host(), "");
    let run = run.expect(3);
    assert!(output(&run).contains("over TLS"), "{}", output(&run));
    assert_no_http_fallback(&run);
}

#[test]
fn dockers_self_signed_recipe_in_certs_d_is_trusted_for_plan_and_build() {
    let directory = tempfile::tempdir().unwrap();
    self_signed(directory.path());
    let registry = tls_registry(directory.path(), "domain.crt", "domain.key", "");
    let host = registry.host();
    let _certs = CertsDirectory::new(&host, &[(&directory.path().join("domain.crt"), "ca.crt")]);

    let (_config, run) = plan(&host, "");
    let report = run.expect(0).json();
    assert_eq!(
        support::reason_kinds(&report, "base"),
        vec!["never-built".to_string()]
    );

    let (_context, config) = one_image_config(
        &host,
        "golden-tls",
        "base",
        &format!("FROM {SEED}\nRUN echo pinned > /etc/pinned\n"),
        "retries = 0\n",
    );
    golden_at(&config, &["build", "--all"]).expect(0);
    let report = golden_at(&config, &["plan", "--output", "json"])
        .expect(0)
        .json();
    assert!(
        support::reason_kinds(&report, "base").is_empty(),
        "built and pushed over TLS, nothing is due:\n{report:#}"
    );
}

#[test]
fn insecure_true_reads_a_registry_whose_certificate_nobody_trusts() {
    let directory = tempfile::tempdir().unwrap();
    signed(directory.path(), "nobody", SERVER);
    let registry = tls_registry(directory.path(), "nobody-leaf.crt", "nobody-leaf.key", "");
    let host = registry.host();
    let (_config, run) = plan(&host, "insecure = true\n");
    let report = run.expect(0).json();
    assert_eq!(
        support::reason_kinds(&report, "base"),
        vec!["never-built".to_string()]
    );
}

#[test]
fn a_ca_in_the_system_store_is_trusted_without_certs_d() {
    let directory = tempfile::tempdir().unwrap();
    signed(directory.path(), "system", SERVER);
    let registry = tls_registry(directory.path(), "system-leaf.crt", "system-leaf.key", "");
    let host = registry.host();
    let _system = SystemCa::install(&directory.path().join("system.crt"));
    let (_config, run) = plan(&host, "");
    let report = run.expect(0).json();
    assert_eq!(
        support::reason_kinds(&report, "base"),
        vec!["never-built".to_string()]
    );
}

#[test]
fn mutual_tls_presents_client_cert_from_certs_d_and_without_it_says_so() {
    let directory = tempfile::tempdir().unwrap();
    signed(directory.path(), "server", SERVER);
    signed(directory.path(), "client", CLIENT);
    let clientcas = format!(
        "    clientcas:\n      - {}/client.crt\n",
        directory.path().display()
    );
    let registry = tls_registry(
        directory.path(),
        "server-leaf.crt",
        "server-leaf.key",
        &clientcas,
    );
    let host = registry.host();
    let ca = directory.path().join("server.crt");

    let certs = CertsDirectory::new(&host, &[(&ca, "ca.crt")]);
    let (_config, run) = plan(&host, "");
    let run = run.expect(3);
    let text = output(&run);
    assert!(text.contains(&format!("`{host}`")), "{text}");
    assert!(text.contains("client certificate"), "{text}");
    assert!(
        text.contains(&format!("/etc/docker/certs.d/{host}/client.cert")),
        "{text}"
    );
    assert_no_http_fallback(&run);
    drop(certs);

    let _certs = CertsDirectory::new(
        &host,
        &[
            (&ca, "ca.crt"),
            (&directory.path().join("client-leaf.crt"), "client.cert"),
            (&directory.path().join("client-leaf.key"), "client.key"),
        ],
    );
    let (_config, run) = plan(&host, "");
    let report = run.expect(0).json();
    assert_eq!(
        support::reason_kinds(&report, "base"),
        vec!["never-built".to_string()]
    );
}
