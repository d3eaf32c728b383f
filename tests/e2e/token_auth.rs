//! End to end: a registry (distribution 2.8) behind a real token server the
//! test starts (tests/fixtures/token_server.py, the distribution token
//! spec: RS256 JWTs with `x5c`, scopes granted per user), driven by the real
//! `golden` binary and the real engine. The token server's log shows which
//! scopes golden asked for.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use support::{Golden, PrivateRegistry, SEED};

const SERVICE: &str = "golden-test-registry";
const ISSUER: &str = "golden-test-token-issuer";
const CI_PASSWORD: &str = "ci-secret-1";
const READER_PASSWORD: &str = "reader-secret-2";

/// The token server process; killed on drop.
struct TokenServer {
    port: u16,
    log: PathBuf,
    process: Child,
}

impl TokenServer {
    /// Signs with a self-signed certificate made here, which the registry
    /// trusts as its `rootcertbundle`. `ci` may pull, push and delete under
    /// `e2e-token-*`; `reader` may only pull there.
    fn start(directory: &Path) -> TokenServer {
        support::openssl(
            directory,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "token.key",
                "-out",
                "token.crt",
                "-days",
                "2",
                "-subj",
                "/CN=golden test token issuer",
            ],
        );
        let rules = serde_json::json!({
            "ci": {"password": CI_PASSWORD, "grants": [["e2e-token-*", ["pull", "push", "delete"]]]},
            "reader": {"password": READER_PASSWORD, "grants": [["e2e-token-*", ["pull"]]]},
        });
        let port_file = directory.join("token.port");
        let log = directory.join("token.log");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/token_server.py");
        let process = Command::new("python3")
            .arg(script)
            .arg(&port_file)
            .arg(&log)
            .arg(directory.join("token.key"))
            .arg(directory.join("token.crt"))
            .args([ISSUER, SERVICE, &rules.to_string()])
            .spawn()
            .expect("python3 is installed (scripts/env)");
        let mut server = TokenServer {
            port: 0,
            log,
            process,
        };
        server.port = support::wait_until(
            "the token server to write its port",
            std::time::Duration::from_secs(30),
            || {
                if let Ok(Some(status)) = server.process.try_wait() {
                    panic!("the token server exited: {status}");
                }
                std::fs::read_to_string(&port_file)
                    .ok()
                    .and_then(|text| text.trim().parse().ok())
            },
        );
        server
    }

    /// The registry's `auth:` config pointing at this server.
    fn registry_config(&self, directory: &Path) -> String {
        format!(
            "auth:\n  token:\n    realm: http://127.0.0.1:{}/token\n    service: {SERVICE}\n    issuer: {ISSUER}\n    rootcertbundle: {}\n",
            self.port,
            directory.join("token.crt").display()
        )
    }

    /// Every request logged so far, as (user, scope, user agent).
    fn requests(&self) -> Vec<(String, String, String)> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|line| {
                let entry: serde_json::Value = serde_json::from_str(line).unwrap();
                let text = |key: &str| entry[key].as_str().unwrap_or("(none)").to_string();
                (text("user"), text("scope"), text("agent"))
            })
            .collect()
    }

    /// The scopes golden itself (not the engine) asked for as `user`.
    fn golden_scopes(&self, user: &str) -> Vec<String> {
        self.requests()
            .into_iter()
            .filter(|(who, _, agent)| who == user && agent.starts_with("golden/"))
            .map(|(_, scope, _)| scope)
            .collect()
    }

    /// A token for `scope` as `ci`, for the test's own reads.
    fn token(&self, scope: &str) -> String {
        use base64::Engine as _;
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("ci:{CI_PASSWORD}"));
        let body: serde_json::Value = ureq::get(&format!("http://127.0.0.1:{}/token", self.port))
            .query("service", SERVICE)
            .query("scope", scope)
            .set("Authorization", &format!("Basic {basic}"))
            .set("User-Agent", "test")
            .call()
            .unwrap()
            .into_json()
            .unwrap();
        body["token"].as_str().unwrap().to_string()
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// The tags of `host/path`, read with a pull token.
fn tags(server: &TokenServer, host: &str, path: &str) -> Vec<String> {
    let token = server.token(&format!("repository:{path}:pull"));
    match ureq::get(&format!("http://{host}/v2/{path}/tags/list"))
        .set("Authorization", &format!("Bearer {token}"))
        .call()
    {
        Ok(response) => {
            let body: serde_json::Value = response.into_json().unwrap();
            let mut tags: Vec<String> = body["tags"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|tag| tag.as_str().unwrap().to_string())
                .collect();
            tags.sort();
            tags
        }
        Err(ureq::Error::Status(404, _)) => Vec::new(),
        Err(error) => panic!("tags of {path}: {error}"),
    }
}

/// The digest `host/path:tag` resolves to.
fn digest(server: &TokenServer, host: &str, path: &str, tag: &str) -> String {
    let token = server.token(&format!("repository:{path}:pull"));
    ureq::head(&format!("http://{host}/v2/{path}/manifests/{tag}"))
        .set("Authorization", &format!("Bearer {token}"))
        .set(
            "Accept",
            "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json",
        )
        .call()
        .unwrap_or_else(|e| panic!("HEAD {path}:{tag}: {e}"))
        .header("docker-content-digest")
        .unwrap()
        .to_string()
}

/// `docker ARGS` with the test's own docker config (its login).
fn docker(config: &Path, args: &[&str], input: &str) {
    use std::io::Write as _;
    let mut child = Command::new("docker")
        .args(args)
        .env("DOCKER_CONFIG", config)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).unwrap();
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn a_token_server_grants_golden_the_scopes_each_step_needs_and_a_reader_cannot_move_tags() {
    const IMAGES: usize = 3;
    let directory = tempfile::tempdir().unwrap();
    let server = TokenServer::start(directory.path());
    let registry = PrivateRegistry::start(&server.registry_config(directory.path()));
    let host = registry.host();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let namespace = format!("e2e-token-{}-{nanos}", std::process::id());

    // The upstream base, pushed by the docker CLI logged in as `ci`.
    let docker_config = directory.path().join("docker-config");
    let upstream = format!("{host}/{namespace}-upstream/busybox:1.36");
    docker(&docker_config, &["pull", "-q", SEED], "");
    docker(
        &docker_config,
        &["login", "-u", "ci", "--password-stdin", &host],
        CI_PASSWORD,
    );
    docker(&docker_config, &["tag", SEED, &upstream], "");
    docker(&docker_config, &["push", "-q", &upstream], "");

    let mut config = format!("[registry]\nhost = \"{host}\"\nnamespace = \"{namespace}\"\n");
    for index in 0..IMAGES {
        let id = format!("image{index}");
        std::fs::create_dir_all(directory.path().join(&id)).unwrap();
        std::fs::write(
            directory.path().join(&id).join("Dockerfile"),
            format!("FROM {upstream}\nENV IMAGE={index}\n"),
        )
        .unwrap();
        config.push_str(&format!(
            "[images.{id}]\nversion = \"1.0\"\ncontext = \"{id}\"\n"
        ));
    }
    let config_path = directory.path().join("golden.toml");
    std::fs::write(&config_path, config).unwrap();
    let golden = |user: &str, password: &str, args: &[&str]| {
        Golden::at(&config_path)
            .args(args)
            .env("GOLDEN_REGISTRY_USERNAME", user)
            .env("GOLDEN_REGISTRY_PASSWORD", password)
            .env("DOCKER_CONFIG", directory.path().join("no-docker-config"))
            .run()
    };
    let ci = |args: &[&str]| golden("ci", CI_PASSWORD, args);

    // A wrong password: the token server's 401, said once, naming where
    // the password came from; the other images say they met the same.
    let wrong = golden("ci", "not-the-password", &["build", "--all"]).expect(1);
    let said = format!("{}{}", wrong.stdout, wrong.stderr);
    eprintln!("wrong password printed:\n{said}");
    let refused = format!(
        "registry `{host}` refused the credentials of user `ci` from GOLDEN_REGISTRY_USERNAME and GOLDEN_REGISTRY_PASSWORD"
    );
    assert_eq!(wrong.stdout.matches(&refused).count(), 1, "{said}");
    assert_eq!(
        wrong.stdout.matches("the same error as `").count(),
        IMAGES - 1,
        "{said}"
    );
    assert!(!said.contains("docker login"), "{said}");
    assert!(!said.contains("not-the-password"), "{said}");

    // Build: exact and floating tags of every image.
    let build = ci(&["build", "--all", "--output", "json"]).expect(0);
    assert_eq!(
        build.json()["totals"]["built"],
        IMAGES,
        "{}\n{}",
        build.stdout,
        build.stderr
    );
    for index in 0..IMAGES {
        let path = format!("{namespace}/image{index}");
        assert_eq!(
            tags(&server, &host, &path),
            ["1", "1.0", "1.0.0", "latest"],
            "{path}"
        );
    }
    let scopes = server.golden_scopes("ci");
    for index in 0..IMAGES {
        let repository = format!("repository:{namespace}/image{index}");
        assert!(
            scopes.contains(&format!("{repository}:pull")),
            "golden reads {repository} with a pull scope: {scopes:#?}"
        );
        assert!(
            scopes.contains(&format!("{repository}:pull,push")),
            "golden moves the floating tags of {repository} with pull,push: {scopes:#?}"
        );
    }
    assert!(
        scopes.contains(&format!("repository:{namespace}-upstream/busybox:pull")),
        "golden reads the upstream digest with pull only: {scopes:#?}"
    );
    for scope in &scopes {
        assert!(
            !scope.contains("delete") && !scope.ends_with("-upstream/busybox:pull,push"),
            "a build never asks to delete, nor to push upstream: {scope}"
        );
    }

    // A second build of image0, then image1, so there is something to roll
    // back to and something to prune.
    for id in ["image0", "image1"] {
        std::fs::write(
            directory.path().join(id).join("Dockerfile"),
            format!("FROM {upstream}\nENV IMAGE={id} ROUND=2\n"),
        )
        .unwrap();
        ci(&["-q", "build", id]).expect(0);
    }
    let image0 = format!("{namespace}/image0");
    let first = digest(&server, &host, &image0, "1.0.0");
    assert_ne!(digest(&server, &host, &image0, "1.0"), first);

    // `reader` may read but not move a tag: exit 1 with what and a hint.
    let refused = golden("reader", READER_PASSWORD, &["rollback", "image0"]).expect(1);
    let said = format!("{}{}", refused.stdout, refused.stderr);
    eprintln!("reader rollback printed:\n{said}");
    assert!(
        said.contains(&format!("registry `{host}` refused to tag")),
        "{said}"
    );
    assert!(said.contains("HTTP 401"), "{said}");
    assert!(
        said.contains(&format!(
            "the token server did not grant user `reader` `repository:{image0}:pull,push`"
        )),
        "{said}"
    );
    assert!(
        said.contains("hint: these credentials are valid but lack that permission"),
        "not `docker login`, which cannot help: {said}"
    );
    assert_eq!(refused.code, 1);
    assert!(
        server
            .golden_scopes("reader")
            .contains(&format!("repository:{image0}:pull,push")),
        "the refused move asked for pull,push: {:#?}",
        server.requests()
    );
    assert_ne!(
        digest(&server, &host, &image0, "1.0"),
        first,
        "nothing moved"
    );

    // `ci` rolls back: only tag writes, never a delete.
    let before = server.golden_scopes("ci").len();
    ci(&["rollback", "image0"]).expect(0);
    assert_eq!(digest(&server, &host, &image0, "1.0"), first);
    let rollback_scopes = server.golden_scopes("ci")[before..].to_vec();
    assert!(
        rollback_scopes
            .iter()
            .all(|scope| !scope.contains("delete")),
        "rollback never deletes: {rollback_scopes:#?}"
    );

    // `reader` cannot prune, and is told why.
    let image1 = format!("{namespace}/image1");
    let refused = golden(
        "reader",
        READER_PASSWORD,
        &["prune", "image1", "--keep", "1", "--apply"],
    )
    .expect(1);
    let said = format!("{}{}", refused.stdout, refused.stderr);
    eprintln!("reader prune printed:\n{said}");
    assert!(
        said.contains(&format!("registry `{host}` refused to delete")),
        "{said}"
    );
    assert!(
        said.contains(&format!(
            "the token server did not grant user `reader` `repository:{image1}:delete`"
        )),
        "{said}"
    );
    assert!(said.contains("lack that permission"), "{said}");
    assert!(tags(&server, &host, &image1).contains(&"1.0.0".to_string()));

    // Prune asks for delete on exactly the repository it prunes.
    let before = server.golden_scopes("ci").len();
    let prune = ci(&["prune", "image1", "--keep", "1", "--apply"]).expect(0);
    assert!(
        !tags(&server, &host, &image1).contains(&"1.0.0".to_string()),
        "1.0.0 pruned: {}",
        prune.stdout
    );
    let prune_scopes = server.golden_scopes("ci")[before..].to_vec();
    assert!(
        prune_scopes.contains(&format!("repository:{image1}:delete")),
        "prune deletes with the delete scope: {prune_scopes:#?}"
    );
    for scope in &prune_scopes {
        assert!(
            !scope.ends_with(":delete") || scope == &format!("repository:{image1}:delete"),
            "delete asked only for the pruned repository: {scope}"
        );
    }
}
