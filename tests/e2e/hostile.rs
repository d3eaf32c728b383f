//! Hostile input: a registry that answers with junk (bad JSON, huge bodies,
//! wrong content types, redirects to other hosts, junk tags, wrong digests)
//! and malformed config, reference and Dockerfile text. Every case must end
//! in a specific error, never a panic or a hang.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use golden::diagnostic::SourceFile;
use golden::dockerfile::Dockerfile;
use golden::project::Project;
use golden::reference::Reference;
use golden::registry::distribution::{Distribution, Settings};
use golden::registry::{Registry, RegistryError};

const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// One scripted answer.
#[derive(Clone)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn answer(status: u16, headers: &[(&str, &str)], body: impl Into<Vec<u8>>) -> Answer {
    Answer {
        status,
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body: body.into(),
    }
}

/// A tiny HTTP server on loopback answering by path prefix; unknown paths 404.
fn serve(routes: Vec<(&'static str, Answer)>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let routes = Arc::new(routes);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let routes = routes.clone();
            std::thread::spawn(move || handle(stream, &routes));
        }
    });
    address
}

fn handle(mut stream: TcpStream, routes: &[(&str, Answer)]) {
    // A TLS probe never sends a blank line: give up on it quickly, as a
    // real plain-HTTP server answers it at once.
    stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .ok();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head).to_string();
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
    let answer = routes
        .iter()
        .find(|(prefix, _)| path.starts_with(prefix))
        .map(|(_, answer)| answer.clone())
        .unwrap_or_else(|| answer(404, &[], r#"{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}"#));
    let mut response = format!(
        "HTTP/1.1 {} Scripted\r\nConnection: close\r\n",
        answer.status
    );
    let has_length = answer
        .headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-length"));
    for (key, value) in &answer.headers {
        response.push_str(&format!("{key}: {value}\r\n"));
    }
    if !has_length {
        response.push_str(&format!("Content-Length: {}\r\n", answer.body.len()));
    }
    response.push_str("\r\n");
    let _ = stream.write_all(response.as_bytes());
    if !head.starts_with("HEAD") {
        let _ = stream.write_all(&answer.body);
    }
}

fn client() -> Distribution {
    Distribution::new(Settings {
        retries: 0,
        ..Settings::default()
    })
    .unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Runs `operation` against a registry answering `routes`; returns the error.
fn failure(routes: Vec<(&'static str, Answer)>, operation: &str) -> RegistryError {
    let address = serve(routes);
    let reference = Reference::parse(&format!("{address}/golden/base:1.0.0")).unwrap();
    let client = client();
    runtime().block_on(async {
        let result = tokio::time::timeout(Duration::from_secs(30), async {
            match operation {
                "tags" => client.tags(&reference.repository_name()).await.map(|_| ()),
                "digest" => client.manifest_digest(&reference).await.map(|_| ()),
                "config" => client.image_config(&reference).await.map(|_| ()),
                "copy" => {
                    let digest = golden::name::Digest::parse(DIGEST).unwrap();
                    let tag = golden::name::Tag::parse("1.0").unwrap();
                    client
                        .copy_tag(&reference.repository_name(), &digest, &tag)
                        .await
                }
                other => panic!("unknown operation {other}"),
            }
        })
        .await
        .expect("the client never hangs");
        result.expect_err("hostile answers are errors")
    })
}

fn manifest_with_config(config_digest: &str) -> String {
    format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","size":2,"digest":"{config_digest}"}},"layers":[]}}"#
    )
}

#[test]
fn hostile_registry_answers_are_specific_errors() {
    let manifest_type = (
        "Content-Type",
        "application/vnd.docker.distribution.manifest.v2+json",
    );
    let good_config = b"{}".to_vec();
    let good_config_digest = format!("sha256:{}", sha256_hex(&good_config));
    let huge = vec![b'a'; 17 * 1024 * 1024];
    // (name, operation, routes, text the error must contain)
    type Case = (
        &'static str,
        &'static str,
        Vec<(&'static str, Answer)>,
        &'static str,
    );
    let cases: Vec<Case> = vec![
        (
            "tag list is not JSON",
            "tags",
            vec![(
                "/v2/golden/base/tags/list",
                answer(200, &[], "<html>oops</html>"),
            )],
            "invalid answer",
        ),
        (
            "tag list has junk tags",
            "tags",
            vec![(
                "/v2/golden/base/tags/list",
                answer(200, &[], r#"{"tags":[1,{"x":2}]}"#),
            )],
            "invalid answer",
        ),
        (
            "tag list is truncated JSON",
            "tags",
            vec![(
                "/v2/golden/base/tags/list",
                answer(200, &[], r#"{"tags":["1.0.0""#),
            )],
            "invalid answer",
        ),
        (
            "tag list is huge",
            "tags",
            vec![("/v2/golden/base/tags/list", answer(200, &[], huge.clone()))],
            "larger than",
        ),
        (
            "tag list claims a huge length",
            "tags",
            vec![(
                "/v2/golden/base/tags/list",
                answer(200, &[("Content-Length", "99999999999")], "{}"),
            )],
            "larger than",
        ),
        (
            "tag list is refused",
            "tags",
            vec![(
                "/v2/golden/base/tags/list",
                answer(403, &[], r#"{"errors":[{"code":"DENIED","message":"no"}]}"#),
            )],
            "HTTP 403",
        ),
        (
            "tag list needs a login",
            "tags",
            vec![("/v2/golden/base/tags/list", answer(401, &[], ""))],
            "HTTP 401",
        ),
        (
            "tag list is a server error",
            "tags",
            vec![("/v2/golden/base/tags/list", answer(500, &[], "boom"))],
            "HTTP 500",
        ),
        (
            "tag list is throttled",
            "tags",
            vec![(
                "/v2/golden/base/tags/list",
                answer(429, &[("Retry-After", "1")], ""),
            )],
            "HTTP 429",
        ),
        (
            "tag list is a bad request",
            "tags",
            vec![(
                "/v2/golden/base/tags/list",
                answer(400, &[], "not json at all"),
            )],
            "HTTP 400",
        ),
        (
            "tag list redirects to another host",
            "tags",
            vec![(
                "/v2/golden/base/tags/list",
                answer(
                    307,
                    &[("Location", "http://127.0.0.2:9/v2/golden/base/tags/list")],
                    "",
                ),
            )],
            "another host",
        ),
        (
            "bearer challenge without realm",
            "tags",
            vec![(
                "/v2/golden/base/tags/list",
                answer(401, &[("WWW-Authenticate", "Bearer service=\"x\"")], ""),
            )],
            "HTTP 401",
        ),
        (
            "token endpoint answers junk",
            "tags",
            vec![
                (
                    "/v2/golden/base/tags/list",
                    answer(
                        401,
                        &[("WWW-Authenticate", "Bearer realm=\"http://REPLACE/token\"")],
                        "",
                    ),
                ),
                ("/token", answer(200, &[], "not a token")),
            ],
            "token response",
        ),
        (
            "manifest digest header disagrees with the content",
            "digest",
            vec![(
                "/v2/golden/base/manifests/1.0.0",
                answer(
                    200,
                    &[("Docker-Content-Digest", "md5:zz"), manifest_type],
                    "{}",
                ),
            )],
            "not the announced md5:zz",
        ),
        (
            "manifest is refused",
            "digest",
            vec![("/v2/golden/base/manifests/1.0.0", answer(403, &[], ""))],
            "HTTP 403",
        ),
        (
            "manifest is not JSON",
            "config",
            vec![(
                "/v2/golden/base/manifests/1.0.0",
                answer(200, &[manifest_type], "\u{0}\u{1}binary"),
            )],
            "invalid answer",
        ),
        (
            "manifest has no config",
            "config",
            vec![(
                "/v2/golden/base/manifests/1.0.0",
                answer(200, &[manifest_type], r#"{"schemaVersion":2}"#),
            )],
            "no config blob",
        ),
        (
            "manifest config digest is junk",
            "config",
            vec![(
                "/v2/golden/base/manifests/1.0.0",
                answer(
                    200,
                    &[manifest_type],
                    manifest_with_config("sha256:../../etc/passwd"),
                ),
            )],
            "no config blob",
        ),
        (
            "manifest is huge",
            "config",
            vec![(
                "/v2/golden/base/manifests/1.0.0",
                answer(200, &[manifest_type], huge.clone()),
            )],
            "larger than",
        ),
        (
            "manifest with the wrong content type and junk",
            "config",
            vec![(
                "/v2/golden/base/manifests/1.0.0",
                answer(200, &[("Content-Type", "text/html")], "<html></html>"),
            )],
            "invalid answer",
        ),
        (
            "index points at a missing manifest",
            "config",
            vec![(
                "/v2/golden/base/manifests/1.0.0",
                answer(
                    200,
                    &[("Content-Type", "application/vnd.oci.image.index.v1+json")],
                    format!(
                        r#"{{"manifests":[{{"digest":"{DIGEST}","platform":{{"os":"linux","architecture":"amd64"}}}}]}}"#
                    ),
                ),
            )],
            "does not exist",
        ),
        (
            "config blob does not match its digest",
            "config",
            vec![
                (
                    "/v2/golden/base/manifests/1.0.0",
                    answer(200, &[manifest_type], manifest_with_config(DIGEST)),
                ),
                (
                    "/v2/golden/base/blobs/",
                    answer(200, &[], r#"{"config":{"Labels":{"a":"b"}}}"#),
                ),
            ],
            "does not match",
        ),
        (
            "config blob is not JSON",
            "config",
            vec![
                (
                    "/v2/golden/base/manifests/1.0.0",
                    answer(
                        200,
                        &[manifest_type],
                        manifest_with_config(&format!("sha256:{}", sha256_hex(b"nope"))),
                    ),
                ),
                ("/v2/golden/base/blobs/", answer(200, &[], "nope")),
            ],
            "invalid answer",
        ),
        (
            "config labels are not strings",
            "config",
            vec![
                (
                    "/v2/golden/base/manifests/1.0.0",
                    answer(
                        200,
                        &[manifest_type],
                        manifest_with_config(&format!(
                            "sha256:{}",
                            sha256_hex(br#"{"config":{"Labels":{"a":1}}}"#)
                        )),
                    ),
                ),
                (
                    "/v2/golden/base/blobs/",
                    answer(200, &[], r#"{"config":{"Labels":{"a":1}}}"#),
                ),
            ],
            "invalid answer",
        ),
        (
            "config blob is huge",
            "config",
            vec![
                (
                    "/v2/golden/base/manifests/1.0.0",
                    answer(
                        200,
                        &[manifest_type],
                        manifest_with_config(&good_config_digest),
                    ),
                ),
                ("/v2/golden/base/blobs/", answer(200, &[], huge.clone())),
            ],
            "larger than",
        ),
        (
            "copy of a manifest that is missing",
            "copy",
            vec![],
            "not in the registry",
        ),
        (
            "copy whose manifest does not hash to its digest",
            "copy",
            vec![(
                "/v2/golden/base/manifests/sha256:",
                answer(200, &[manifest_type], "{}"),
            )],
            "manifest content has digest",
        ),
    ];
    assert!(cases.len() >= 25);
    for (name, operation, mut routes, expected) in cases {
        if name == "token endpoint answers junk" {
            // The realm must name the server itself, known only once it runs.
            let address = serve(vec![("/token", answer(200, &[], "not a token"))]);
            routes[0].1 = answer(
                401,
                &[(
                    "WWW-Authenticate",
                    &format!("Bearer realm=\"http://{address}/token\""),
                )],
                "",
            );
        }

        let error = failure(routes, operation).to_string();
        assert!(
            error.contains(expected),
            "{name}: expected `{expected}` in: {error}"
        );
        assert!(
            error.contains("127.0.0.1:"),
            "{name}: the error names the registry: {error}"
        );
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    format!("{:x}", sha2::Sha256::digest(bytes))
}

#[test]
fn malformed_text_never_panics() {
    let configs: Vec<String> = vec![
        "\u{0}\u{1}\u{2}".into(),
        "[registry".into(),
        "[[images]]\nversion = 1".into(),
        "registry = [1, 2, 3]".into(),
        format!("[registry]\nhost = \"{}\"\nnamespace = \"g\"", "a".repeat(10_000)),
        format!("x = {}", "[".repeat(10_000)),
        "[registry]\nhost = \"r:5000\"\nnamespace = \"g\"\n[images.\"\"]\nversion = \"1.0\"\ncontext = \".\"".into(),
        "[registry]\nhost = \"r:5000\"\nnamespace = \"g\"\n[images.a]\nversion = \"99999999999999999999999.0\"\ncontext = \".\"".into(),
        "[registry]\nhost = \"r:5000\"\nnamespace = \"g\"\n[images.a]\nversion = \"1.0\"\ncontext = \"/nonexistent/\\u0000\"".into(),
        "[registry]\nhost = \"r:5000\"\nnamespace = \"g\"\n[images.a]\nversion = \"1.0\"\ncontext = \".\"\ndepends_on = [\"a\", \"a\"]".into(),
        "[registry]\nhost = \"[::1\"\nnamespace = \"g\"".into(),
        "[registry]\nhost = \"r:5000\"\nnamespace = \"g/../h\"".into(),
    ];
    for text in &configs {
        let result = Project::from_source(
            SourceFile::new(Path::new("/nonexistent/golden.toml"), text),
            &golden::regular_file::Disk,
        );
        let message = result.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            message.contains("error"),
            "{text:?} gives an error: {message}"
        );
    }
    let references = [
        "\u{0}",
        "a@",
        "@sha256:",
        "a:b:c",
        "a/b/c:",
        "A:1",
        "host:/x",
        "a/../b",
        "a b",
        "😀",
        "a:b@sha256:",
        "[:::]/a",
        "a//b",
        "a:-b",
    ];
    for text in references {
        assert!(Reference::parse(text).is_err(), "{text:?}");
    }
    let dockerfiles = [
        "FROM",
        "FROM \\",
        "FROM ${",
        "FROM \"unterminated",
        "ARG X=${\nFROM $X",
        "FROM a AS",
        "FROM --platform",
        "FROM a b c d",
        "\u{0}FROM a",
        "FROM ${A:?x}",
    ];
    for text in dockerfiles {
        assert!(
            Dockerfile::parse(text, &BTreeMap::new()).is_err(),
            "{text:?}"
        );
    }
}
