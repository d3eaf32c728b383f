//! End to end: a registry with TLS (a certificate authority made by the
//! test, trusted through /etc/docker/certs.d/HOST:PORT/ca.crt as the engine
//! does) and htpasswd auth, against the real engine.

mod common;

use std::path::Path;
use std::process::Command;

use common::{PrivateRegistry, Run, SEED};

/// A CA and a server certificate for 127.0.0.1, made with openssl.
fn certificates(directory: &Path) {
    let run = |args: &[&str]| {
        let output = Command::new("openssl")
            .args(args)
            .current_dir(directory)
            .output()
            .expect("openssl is installed");
        assert!(
            output.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=golden test CA",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    std::fs::write(
        directory.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
}

/// A password whose standard base64, in the JSON the engine is sent, has
/// `+` or `/`: engines that decode URL-safe base64 drop it silently.
fn awkward_password() -> String {
    use base64::Engine as _;
    let symbols: Vec<char> = "~?>}|{^_=<;:/.-,+*)(&%$#!@]".chars().collect();
    let mut candidates = Vec::new();
    for a in &symbols {
        for b in &symbols {
            for c in &symbols {
                candidates.push(format!("golden{a}{b}{c}~?>~"));
            }
        }
    }
    for password in candidates {
        let json = serde_json::to_string(&bollard::auth::DockerCredentials {
            username: Some("ci".into()),
            password: Some(password.clone()),
            serveraddress: Some("127.0.0.1:1".into()),
            ..Default::default()
        })
        .unwrap();
        let encoded = base64::engine::general_purpose::STANDARD.encode(json);
        if encoded.contains('+') && encoded.contains('/') {
            return password;
        }
    }
    unreachable!("some combination gives both characters")
}

fn curl(ca: &Path, user: &str, url: &str) -> String {
    let output = Command::new("curl")
        .args(["-sS", "--cacert"])
        .arg(ca)
        .args(["-u", user, url])
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout).to_string()
}

#[test]
fn tls_and_htpasswd_right_credentials_push_wrong_ones_fail_with_a_hint_and_none_leak() {
    let directory = tempfile::tempdir().unwrap();
    certificates(directory.path());
    let password = awkward_password();
    let hash = bcrypt::hash_with_result(&password, 5)
        .unwrap()
        .format_for_version(bcrypt::Version::TwoA);
    std::fs::write(directory.path().join("htpasswd"), format!("ci:{hash}\n")).unwrap();
    let tls = format!(
        "  tls:\n    certificate: {0}/server.crt\n    key: {0}/server.key\nauth:\n  htpasswd:\n    realm: golden-test\n    path: {0}/htpasswd\n",
        directory.path().display()
    );
    let registry = PrivateRegistry::start(&tls);
    let host = registry.host();
    let certs = Path::new("/etc/docker/certs.d").join(&host);
    std::fs::create_dir_all(&certs).unwrap();
    std::fs::copy(directory.path().join("ca.crt"), certs.join("ca.crt")).unwrap();

    let context = directory.path().join("base");
    std::fs::create_dir_all(&context).unwrap();
    std::fs::write(
        context.join("Dockerfile"),
        format!("FROM {SEED}\nRUN echo secured > /etc/secured\n"),
    )
    .unwrap();
    let config = directory.path().join("golden.toml");
    std::fs::write(&config, format!("[registry]\nhost = \"{host}\"\nnamespace = \"golden\"\nretries = 0\n[images.base]\nversion = \"1.0\"\ncontext = \"base\"\n")).unwrap();
    let report = directory.path().join("report.json");
    let golden = |password: &str| {
        Run::from(
            Command::new(env!("CARGO_BIN_EXE_golden"))
                .arg("-c")
                .arg(&config)
                .args(["-vv", "build", "--all", "--report"])
                .arg(&report)
                .env("GOLDEN_REGISTRY_USERNAME", "ci")
                .env("GOLDEN_REGISTRY_PASSWORD", password)
                .env("DOCKER_CONFIG", directory.path().join("no-docker-config"))
                .env_remove("RUST_LOG")
                .output()
                .unwrap(),
        )
    };

    let wrong = golden("not-the-password").expect(1);
    assert!(wrong.stdout.contains("HTTP 401"), "{}", wrong.stdout);
    assert!(
        wrong.stdout.contains(&format!("docker login {host}")),
        "a 401 says how to log in:\n{}",
        wrong.stdout
    );

    let right = golden(&password).expect(0);
    let ca = directory.path().join("ca.crt");
    let tags = curl(
        &ca,
        &format!("ci:{password}"),
        &format!("https://{host}/v2/golden/base/tags/list"),
    );
    for tag in ["\"1.0.0\"", "\"1.0\"", "\"1\"", "\"latest\""] {
        assert!(tags.contains(tag), "{tag} in {tags}");
    }
    let report_text = std::fs::read_to_string(&report).unwrap();
    for (name, text) in [
        ("stdout", &right.stdout),
        ("stderr at -vv", &right.stderr),
        ("report", &report_text),
        ("failed stderr", &wrong.stderr),
    ] {
        assert!(!text.contains(&password), "the password leaked into {name}");
        assert!(
            !text.contains("not-the-password"),
            "the wrong password leaked into {name}"
        );
    }
    let _ = std::fs::remove_dir_all(&certs);
}
