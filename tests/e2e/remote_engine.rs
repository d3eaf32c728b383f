//! End to end: a second Docker Engine the test starts on
//! `tcp://127.0.0.1:PORT` with `--tlsverify` (certificates made by the test
//! with openssl), driven through `DOCKER_HOST`, `DOCKER_TLS_VERIFY` and
//! `DOCKER_CERT_PATH` as GitLab's docker-in-docker sets them; and a wrong
//! certificate path, which is exit 3 naming the file.

use crate::support;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::engines::Engine;
use support::{one_image_config, openssl, REGISTRY, SEED};

/// A CA, a server certificate for 127.0.0.1 and a client certificate, as
/// Docker's "protect the daemon socket" guide makes them.
fn certificates(directory: &Path) -> PathBuf {
    openssl(
        directory,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca-key.pem",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=golden engine CA",
        ],
    );
    for (name, extensions) in [
        (
            "server",
            "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        ),
        ("client", "extendedKeyUsage=clientAuth\n"),
    ] {
        openssl(
            directory,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                &format!("{name}-key.pem"),
                "-out",
                &format!("{name}.csr"),
                "-subj",
                &format!("/CN={name}"),
            ],
        );
        std::fs::write(directory.join(format!("{name}.cnf")), extensions).unwrap();
        openssl(
            directory,
            &[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca-key.pem",
                "-CAcreateserial",
                "-out",
                &format!("{name}-cert.pem"),
                "-days",
                "2",
                "-extfile",
                &format!("{name}.cnf"),
            ],
        );
    }
    let client = directory.join("client");
    std::fs::create_dir_all(&client).unwrap();
    std::fs::copy(directory.join("ca.pem"), client.join("ca.pem")).unwrap();
    std::fs::copy(directory.join("client-cert.pem"), client.join("cert.pem")).unwrap();
    std::fs::copy(directory.join("client-key.pem"), client.join("key.pem")).unwrap();
    client
}

/// A second dockerd of the test's own on `tcp://127.0.0.1:PORT` with
/// `--tlsverify`, its state and certificates in `directory`.
fn start_engine(directory: &Path) -> Engine {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let host = format!("tcp://127.0.0.1:{port}");
    let flags = |pairs: &[(&str, &str)]| -> Vec<OsString> {
        pairs
            .iter()
            .flat_map(|(flag, file)| [OsString::from(flag), directory.join(file).into()])
            .collect()
    };
    let mut daemon = vec![OsString::from("--tlsverify")];
    daemon.extend(flags(&[
        ("--tlscacert", "ca.pem"),
        ("--tlscert", "server-cert.pem"),
        ("--tlskey", "server-key.pem"),
    ]));
    let mut cli = vec![OsString::from("--tlsverify")];
    cli.extend(flags(&[
        ("--tlscacert", "ca.pem"),
        ("--tlscert", "client-cert.pem"),
        ("--tlskey", "client-key.pem"),
    ]));
    Engine::start_in(directory, &host, &daemon, cli)
}

fn golden_with(config: &Path, args: &[&str], env: &[(&str, &str)]) -> support::Run {
    env.iter()
        .fold(
            support::Golden::at(config).args(args),
            |golden, (key, value)| golden.env(key, value),
        )
        .run()
}

#[test]
fn a_tls_engine_on_tcp_is_driven_through_the_docker_environment() {
    support::require_environment();
    let directory = tempfile::tempdir().unwrap();
    let client = certificates(directory.path());
    let engine = start_engine(directory.path());
    let namespace = format!("e2e-tls-engine-{}", std::process::id());
    let (_config_directory, config) = one_image_config(
        REGISTRY,
        &namespace,
        "remote",
        &format!("FROM {SEED}\nRUN echo built remotely > /where\n"),
        "",
    );
    let repository = format!("{REGISTRY}/{namespace}/remote");
    let cert_path = client.to_str().unwrap();
    let environment = [
        ("DOCKER_HOST", engine.host()),
        ("DOCKER_TLS_VERIFY", "1"),
        ("DOCKER_CERT_PATH", cert_path),
    ];
    let run = golden_with(&config, &["build", "--all"], &environment);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(support::digest(&repository, "1.0.0").is_some());
    // Built on the second engine, not on the local one.
    let remote = engine
        .cli()
        .output(&["images", &repository, "--format", "{{.Tag}}"]);
    assert_eq!(String::from_utf8_lossy(&remote.stdout).trim(), "1.0.0");
    let local = Command::new("docker")
        .args(["images", &repository, "--format", "{{.Tag}}"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&local.stdout).trim(), "");

    // A wrong certificate path is exit 3 naming the file.
    let wrong = [
        ("DOCKER_HOST", engine.host()),
        ("DOCKER_TLS_VERIFY", "1"),
        ("DOCKER_CERT_PATH", "/nonexistent/certs"),
    ];
    let run = golden_with(&config, &["build", "--all"], &wrong);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr.contains("the TLS file `/nonexistent/certs/ca.pem` does not exist (the engine address comes from DOCKER_HOST"),
        "{}",
        run.stderr
    );
    // Without TLS the engine refuses: an error, not a hang or a fallback.
    let plain = golden_with(
        &config,
        &["rebuild", "remote"],
        &[("DOCKER_HOST", engine.host())],
    );
    assert_eq!(plain.code, 3, "{}", plain.stderr);
    // `--engine` wins over DOCKER_HOST.
    let flagged = golden_with(
        &config,
        &["--engine", "unix:///nonexistent.sock", "build", "--all"],
        &environment,
    );
    assert_eq!(flagged.code, 3, "{}", flagged.stderr);
    assert!(
        flagged.stderr.contains("no socket at `/nonexistent.sock`"),
        "{}",
        flagged.stderr
    );
}
