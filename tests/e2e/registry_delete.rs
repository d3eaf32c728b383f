//! End to end: a registry that cannot delete through the registry API. A
//! loopback proxy in front of a real registry answers every DELETE with 404
//! MANIFEST_UNKNOWN while still serving the manifest, as a registry without
//! that route does; `golden prune --apply` must fail naming the registry,
//! not report the build pruned.

use crate::support;

use std::io::Write;
use std::net::{TcpListener, TcpStream};

use support::{proxy, PrivateRegistry, SEED};

/// Forwards every request to `upstream` but DELETE, which it answers 404.
fn start_no_delete_proxy(upstream: String) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { continue };
            let upstream = upstream.clone();
            std::thread::spawn(move || forward(client, &upstream));
        }
    });
    port
}

fn forward(mut client: TcpStream, upstream: &str) {
    let Some(request) = proxy::read_request(&mut client) else {
        return;
    };
    if request.method == "DELETE" {
        let body = r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#;
        let _ = write!(
            client,
            "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        return;
    }
    if let Some(server) = proxy::open_upstream(&client, &request, upstream) {
        proxy::pass_reply(server, client);
    }
}

#[test]
fn prune_on_a_registry_that_answers_delete_with_404_but_keeps_the_manifest_fails_and_says_so() {
    let registry = PrivateRegistry::start("");
    let port = start_no_delete_proxy(registry.host());
    let host = format!("127.0.0.1:{port}");
    let (directory, config) = support::prunable_config(&host, "nodelete", "ENV ROUND=1");
    let golden = |args: &[&str]| support::golden_at(&config, args);
    golden(&["-q", "build", "--all"]).expect(0);
    std::fs::write(
        directory.path().join("x/Dockerfile"),
        format!("FROM {SEED}\nENV ROUND=2\n"),
    )
    .unwrap();
    golden(&["-q", "build", "--all"]).expect(0);
    let repository = format!("{}/nodelete/x", registry.host());
    let before = support::tags(&repository);
    assert!(before.contains(&"1.0.0".to_string()), "{before:?}");

    let failed = golden(&["prune", "--apply"]).expect(1);
    eprintln!("prune printed:\n{}", failed.stderr);
    assert!(
        failed.stderr.contains(&format!(
            "registry `{host}` refused to delete `{host}/nodelete/x@sha256:"
        )),
        "{}",
        failed.stderr
    );
    assert!(
        failed
            .stderr
            .contains("HTTP 404 (UNSUPPORTED: it answered 404 but still serves the manifest)"),
        "{}",
        failed.stderr
    );
    assert!(
        failed.stderr.contains(&format!(
            "hint: `{host}` does not delete manifests through the registry API"
        )),
        "{}",
        failed.stderr
    );
    assert!(
        !failed.stdout.contains("deleted 1"),
        "not reported as pruned: {}",
        failed.stdout
    );
    assert_eq!(support::tags(&repository), before, "nothing was deleted");
}
