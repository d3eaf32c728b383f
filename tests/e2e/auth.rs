//! End to end: a registry with TLS (a certificate authority made by the
//! test, trusted through /etc/docker/certs.d/HOST:PORT/ca.crt as the engine
//! does) and htpasswd auth, against the real engine.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::{Golden, PrivateRegistry, SEED};

/// A CA and a server certificate for 127.0.0.1, made with openssl.
fn certificates(directory: &Path) {
    let run = |args: &[&str]| support::openssl(directory, args);
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

/// A registry with TLS (its CA trusted by the engine through certs.d) and
/// htpasswd auth for the user `ci`; the engine forgets the CA on drop.
struct Secured {
    registry: PrivateRegistry,
    certs: PathBuf,
}

impl Secured {
    fn start(directory: &Path, password: &str) -> Secured {
        certificates(directory);
        let hash = bcrypt::hash_with_result(password, 5)
            .unwrap()
            .format_for_version(bcrypt::Version::TwoA);
        std::fs::write(directory.join("htpasswd"), format!("ci:{hash}\n")).unwrap();
        let tls = format!(
            "  tls:\n    certificate: {0}/server.crt\n    key: {0}/server.key\nauth:\n  htpasswd:\n    realm: golden-test\n    path: {0}/htpasswd\n",
            directory.display()
        );
        let registry = PrivateRegistry::start(&tls);
        let certs = Path::new("/etc/docker/certs.d").join(registry.host());
        std::fs::create_dir_all(&certs).unwrap();
        std::fs::copy(directory.join("ca.crt"), certs.join("ca.crt")).unwrap();
        Secured { registry, certs }
    }
}

impl Drop for Secured {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.certs);
    }
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
    let password = awkward_password();
    let secured = Secured::start(directory.path(), &password);
    let host = secured.registry.host();

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
        Golden::at(&config)
            .args(["-vv", "build", "--all", "--report"])
            .args([&report])
            .env("GOLDEN_REGISTRY_USERNAME", "ci")
            .env("GOLDEN_REGISTRY_PASSWORD", password)
            .env("DOCKER_CONFIG", directory.path().join("no-docker-config"))
            .run()
    };

    let wrong = golden("not-the-password").expect(1);
    assert!(
        wrong.stdout.contains(&format!(
            "registry `{host}` refused the credentials of user `ci` from GOLDEN_REGISTRY_USERNAME and GOLDEN_REGISTRY_PASSWORD"
        )),
        "{}",
        wrong.stdout
    );
    assert!(
        wrong
            .stdout
            .contains("hint: set GOLDEN_REGISTRY_PASSWORD to the password of `ci`"),
        "a refused password says which variable to fix:\n{}",
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
}

/// Regression: only the first of the requests that met the Basic challenge
/// at once retried with credentials; the others returned the 401, so most
/// images of a stack failed on every run.
#[test]
fn an_htpasswd_registry_serves_eight_images_observed_at_once_with_env_or_docker_config_credentials()
{
    const IMAGES: usize = 8;
    let directory = tempfile::tempdir().unwrap();
    let password = "golden-eight-at-once";
    let secured = Secured::start(directory.path(), password);
    let host = secured.registry.host();
    let docker_config = directory.path().join("docker-config");
    let docker = |args: &[&str], input: Option<&str>| {
        use std::io::Write as _;
        let mut child = Command::new("docker")
            .args(args)
            .env("DOCKER_CONFIG", &docker_config)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input.unwrap_or("").as_bytes()).unwrap();
        drop(stdin);
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "docker {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    let upstream = format!("{host}/upstream/busybox:1.36");
    docker(&["pull", "-q", SEED], None);
    docker(
        &["login", "-u", "ci", "--password-stdin", &host],
        Some(password),
    );
    docker(&["tag", SEED, &upstream], None);
    docker(&["push", "-q", &upstream], None);

    let mut config = format!("[registry]\nhost = \"{host}\"\nnamespace = \"golden\"\n");
    for index in 0..IMAGES {
        let id = format!("image{index}");
        let context = directory.path().join(&id);
        std::fs::create_dir_all(&context).unwrap();
        std::fs::write(
            context.join("Dockerfile"),
            format!("FROM {upstream}\nENV IMAGE={index}\n"),
        )
        .unwrap();
        config.push_str(&format!(
            "[images.{id}]\nversion = \"1.0\"\ncontext = \"{id}\"\n"
        ));
    }
    let config_path = directory.path().join("golden.toml");
    std::fs::write(&config_path, config).unwrap();
    let golden = |args: &[&str], environment: bool| {
        let golden = Golden::at(&config_path)
            .args(args)
            .env_remove("GOLDEN_REGISTRY_USERNAME")
            .env_remove("GOLDEN_REGISTRY_PASSWORD");
        if environment {
            golden
                .env("GOLDEN_REGISTRY_USERNAME", "ci")
                .env("GOLDEN_REGISTRY_PASSWORD", password)
                .env("DOCKER_CONFIG", directory.path().join("no-docker-config"))
        } else {
            golden.env("DOCKER_CONFIG", &docker_config)
        }
        .run()
    };
    let ids: Vec<String> = (0..IMAGES).map(|index| format!("image{index}")).collect();

    // Credentials from the environment, then from the docker CLI's config.
    for environment in [true, false] {
        let plan = golden(&["plan", "--output", "json"], environment).expect(0);
        let report = plan.json();
        for id in &ids {
            assert_eq!(
                support::entry(&report, id)["decision"],
                "build",
                "{id} planned (environment credentials: {environment})\n{}",
                plan.stderr
            );
        }
        assert_eq!(report["totals"]["failed"], 0, "{}", plan.stdout);
    }

    let build = golden(&["build", "--all", "--output", "json"], false).expect(0);
    let report = build.json();
    assert_eq!(report["totals"]["built"], IMAGES, "{}", build.stdout);
    let ca = directory.path().join("ca.crt");
    for id in &ids {
        assert_eq!(support::entry(&report, id)["decision"], "built", "{id}");
        let tags = curl(
            &ca,
            &format!("ci:{password}"),
            &format!("https://{host}/v2/golden/{id}/tags/list"),
        );
        for tag in ["\"1.0.0\"", "\"1.0\"", "\"1\"", "\"latest\""] {
            assert!(tags.contains(tag), "{id}: {tag} in {tags}");
        }
    }
    let again = golden(&["plan", "--output", "json"], true).expect(0).json();
    for id in &ids {
        assert_eq!(
            support::entry(&again, id)["decision"],
            "up-to-date",
            "{id} reads its own tags back"
        );
    }
}

#[test]
fn a_refused_password_names_where_it_came_from_once_and_plan_counts_what_it_could_not_see() {
    let directory = tempfile::tempdir().unwrap();
    let secured = Secured::start(directory.path(), "the-right-one");
    let host = secured.registry.host();
    let mut config =
        format!("[registry]\nhost = \"{host}\"\nnamespace = \"golden\"\nretries = 0\n");
    for id in ["one", "two", "three"] {
        let context = directory.path().join(id);
        std::fs::create_dir_all(&context).unwrap();
        std::fs::write(context.join("Dockerfile"), format!("FROM {SEED}\n")).unwrap();
        config.push_str(&format!(
            "[images.{id}]\nversion = \"1.0\"\ncontext = \"{id}\"\n"
        ));
    }
    let config_path = directory.path().join("golden.toml");
    std::fs::write(&config_path, config).unwrap();
    let golden = |args: &[&str]| {
        Golden::at(&config_path)
            .args(args)
            .env("GOLDEN_REGISTRY_USERNAME", "ci")
            .env("GOLDEN_REGISTRY_PASSWORD", "a-wrong-one")
            .env("DOCKER_CONFIG", directory.path().join("no-docker-config"))
            .run()
    };
    let plan = golden(&["plan"]);
    let all = format!("{}{}", plan.stdout, plan.stderr);
    assert_eq!(plan.code, 1, "nothing could be observed:\n{all}");
    let refused = format!(
        "registry `{host}` refused the credentials of user `ci` from GOLDEN_REGISTRY_USERNAME and GOLDEN_REGISTRY_PASSWORD"
    );
    assert_eq!(all.matches(&refused).count(), 1, "said once:\n{all}");
    assert!(
        !all.contains("docker login"),
        "the password came from the environment, not docker login:\n{all}"
    );
    assert!(
        plan.stdout
            .contains("0 of 3 image(s) due, 3 could not be observed"),
        "{}",
        plan.stdout
    );
    assert!(!all.contains("a-wrong-one"), "{all}");
}

#[test]
fn podman_users_credentials_are_read_from_registry_auth_file_or_the_runtime_dir() {
    use base64::Engine as _;
    let directory = tempfile::tempdir().unwrap();
    let password = "podman-login-password";
    let secured = Secured::start(directory.path(), password);
    let host = secured.registry.host();
    let context = directory.path().join("base");
    std::fs::create_dir_all(&context).unwrap();
    std::fs::write(
        context.join("Dockerfile"),
        format!("FROM {SEED}\nRUN true\n"),
    )
    .unwrap();
    let config = directory.path().join("golden.toml");
    std::fs::write(&config, format!("[registry]\nhost = \"{host}\"\nnamespace = \"golden\"\nretries = 0\n[images.base]\nversion = \"1.0\"\ncontext = \"base\"\n")).unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("ci:{password}"));
    let auth_file = |dir: &Path| {
        std::fs::create_dir_all(dir).unwrap();
        let path = dir.join("auth.json");
        std::fs::write(
            &path,
            format!(r#"{{"auths": {{"{host}": {{"auth": "{auth}"}}}}}}"#),
        )
        .unwrap();
        path
    };
    let golden = |args: &[&str], env: &[(&str, &Path)]| {
        let mut golden = Golden::at(&config)
            .args(args)
            .env_remove("GOLDEN_REGISTRY_USERNAME")
            .env_remove("GOLDEN_REGISTRY_PASSWORD")
            .env_remove("REGISTRY_AUTH_FILE")
            .env("DOCKER_CONFIG", directory.path().join("no-docker-config"))
            .env("XDG_RUNTIME_DIR", directory.path().join("no-runtime-dir"));
        for (key, value) in env {
            golden = golden.env(key, value);
        }
        golden.run()
    };
    // Anonymous: refused.
    golden(&["plan"], &[]).expect(1);
    // REGISTRY_AUTH_FILE, and it is what the engine pushes with too.
    let named = auth_file(&directory.path().join("named"));
    let build = golden(&["build", "--all"], &[("REGISTRY_AUTH_FILE", &named)]);
    assert_eq!(build.code, 0, "{}{}", build.stdout, build.stderr);
    let tags = curl(
        &directory.path().join("ca.crt"),
        &format!("ci:{password}"),
        &format!("https://{host}/v2/golden/base/tags/list"),
    );
    assert!(tags.contains("\"1.0.0\""), "{tags}");
    // `podman login`'s own place: $XDG_RUNTIME_DIR/containers/auth.json.
    let runtime = directory.path().join("runtime");
    auth_file(&runtime.join("containers"));
    golden(&["plan"], &[("XDG_RUNTIME_DIR", &runtime)]).expect(0);
    // A wrong password there says where it came from, and how to fix it.
    std::fs::write(
        &named,
        format!(
            r#"{{"auths": {{"{host}": {{"auth": "{}"}}}}}}"#,
            base64::engine::general_purpose::STANDARD.encode("ci:wrong")
        ),
    )
    .unwrap();
    let refused = golden(&["plan"], &[("REGISTRY_AUTH_FILE", &named)]).expect(1);
    assert!(
        refused.stdout.contains("(`podman login`)") && refused.stdout.contains("podman login"),
        "{}",
        refused.stdout
    );
}
