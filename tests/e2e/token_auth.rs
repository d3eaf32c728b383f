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
/// `ci`'s identity token: what `docker login` stores as `identitytoken`
/// for a registry whose token server issues refresh tokens.
const CI_IDENTITY_TOKEN: &str = "identity-token-of-ci-4";

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
            "ci": {"password": CI_PASSWORD, "refresh_token": CI_IDENTITY_TOKEN, "grants": [["e2e-token-*", ["pull", "push", "delete"]]]},
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
        self.entries()
            .iter()
            .map(|entry| {
                let text = |key: &str| entry[key].as_str().unwrap_or("(none)").to_string();
                (text("user"), text("scope"), text("agent"))
            })
            .collect()
    }

    /// Every request logged so far, as the server wrote it.
    fn entries(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
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

/// The tags of `host/path` that name images (not the SBOMs' fallback
/// indexes), read with a pull token.
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
                .filter(|tag| !support::is_fallback_tag(tag))
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

/// An identity token (`identitytoken` in the docker config, as `docker
/// login` stores it for a registry that issues refresh tokens) is traded at
/// the token server by golden and by the engine, as the docker CLI does;
/// one the server does not know is refused by name, never printed. The
/// containers auth file's `identitytoken` is read the same way.
#[test]
fn an_identity_token_is_traded_at_the_token_server_by_golden_and_the_engine() {
    let directory = tempfile::tempdir().unwrap();
    let server = TokenServer::start(directory.path());
    let registry = PrivateRegistry::start(&server.registry_config(directory.path()));
    let host = registry.host();
    let namespace = format!("e2e-token-identity-{}", std::process::id());
    let login = directory.path().join("login");
    let upstream = format!("{host}/{namespace}-upstream/busybox:1.36");
    docker(&login, &["pull", "-q", SEED], "");
    docker(
        &login,
        &["login", "-u", "ci", "--password-stdin", &host],
        CI_PASSWORD,
    );
    docker(&login, &["tag", SEED, &upstream], "");
    docker(&login, &["push", "-q", &upstream], "");
    std::fs::create_dir_all(directory.path().join("base")).unwrap();
    std::fs::write(
        directory.path().join("base/Dockerfile"),
        format!("FROM {upstream}\nENV IDENTITY=1\n"),
    )
    .unwrap();
    let config_path = directory.path().join("golden.toml");
    std::fs::write(
        &config_path,
        format!("[registry]\nhost = \"{host}\"\nnamespace = \"{namespace}\"\n[images.base]\nversion = \"1.0\"\ncontext = \"base\"\n"),
    )
    .unwrap();
    let with_token = |token: &str| {
        let config = directory.path().join(format!("docker-{}", token.len()));
        std::fs::create_dir_all(&config).unwrap();
        let auths = serde_json::json!({"auths": {host.clone(): {"identitytoken": token}}});
        std::fs::write(config.join("config.json"), auths.to_string()).unwrap();
        config
    };
    let golden = |docker_config: &Path, args: &[&str]| {
        Golden::at(&config_path)
            .args(args)
            .env("DOCKER_CONFIG", docker_config)
            .env_remove("GOLDEN_REGISTRY_USERNAME")
            .env_remove("REGISTRY_AUTH_FILE")
            .env("XDG_RUNTIME_DIR", directory.path().join("no-runtime"))
            .env("HOME", directory.path())
            .run()
    };

    // A token the server does not know: refused by name, never printed.
    let wrong = golden(&with_token("not-an-identity-token"), &["build", "--all"]).expect(1);
    let said = format!("{}{}", wrong.stdout, wrong.stderr);
    eprintln!("an unknown identity token printed:\n{said}");
    assert!(
        said.contains(&format!(
            "registry `{host}` refused the credentials of user `<token>` from the docker config"
        )),
        "{said}"
    );
    assert!(said.contains(&format!("docker login {host}")), "{said}");
    assert!(!said.contains("not-an-identity-token"), "{said}");

    // ci's token: golden reads and the engine pulls and pushes with it.
    let before = server.entries().len();
    let build = golden(
        &with_token(CI_IDENTITY_TOKEN),
        &["build", "--all", "--output", "json"],
    )
    .expect(0);
    assert_eq!(
        build.json()["totals"]["built"],
        1,
        "{}\n{}",
        build.stdout,
        build.stderr
    );
    assert_eq!(
        tags(&server, &host, &format!("{namespace}/base")),
        ["1", "1.0", "1.0.0", "latest"]
    );
    let traded: Vec<serde_json::Value> = server.entries()[before..]
        .iter()
        .filter(|entry| entry["grant"] == "refresh_token")
        .cloned()
        .collect();
    let by = |agent: &str| {
        traded
            .iter()
            .filter(|entry| entry["agent"].as_str().unwrap_or("").starts_with(agent))
            .map(|entry| {
                (
                    entry["user"].as_str().unwrap_or("").to_string(),
                    entry["scope"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect::<Vec<_>>()
    };
    let golden_trades = by("golden/");
    assert!(
        golden_trades.contains(&(
            "ci".to_string(),
            format!("repository:{namespace}/base:pull,push")
        )),
        "golden traded the token for pull,push: {traded:#?}"
    );
    assert!(
        !by("docker/").is_empty(),
        "the engine traded it too (it pushed): {traded:#?}"
    );
    // (BuildKit's resolver, `containerd/` in the log, tries the token as a
    // password before it trades it; golden and the engine trade at once.)
    let refused: Vec<serde_json::Value> = server.entries()[before..]
        .iter()
        .filter(|entry| {
            let agent = entry["agent"].as_str().unwrap_or("");
            entry["user"].is_null() && !agent.starts_with("containerd/")
        })
        .cloned()
        .collect();
    assert!(refused.is_empty(), "{refused:#?}");

    // The containers auth file's identitytoken, named by REGISTRY_AUTH_FILE.
    let auth_file = directory.path().join("auth.json");
    let auths = serde_json::json!({"auths": {host.clone(): {"identitytoken": CI_IDENTITY_TOKEN}}});
    std::fs::write(&auth_file, auths.to_string()).unwrap();
    let before = server.entries().len();
    let plan = Golden::at(&config_path)
        .args(["plan", "--output", "json"])
        .env("DOCKER_CONFIG", directory.path().join("no-docker-config"))
        .env_remove("GOLDEN_REGISTRY_USERNAME")
        .env("REGISTRY_AUTH_FILE", &auth_file)
        .run()
        .expect(0);
    assert_eq!(
        plan.json()["images"][0]["decision"],
        "up-to-date",
        "{}",
        plan.stdout
    );
    assert!(
        server.entries()[before..]
            .iter()
            .any(|entry| entry["grant"] == "refresh_token" && entry["user"] == "ci"),
        "{:#?}",
        &server.entries()[before..]
    );
}
