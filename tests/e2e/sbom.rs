//! SBOMs, on the real engine and registry: a build whose image carries a
//! dpkg status file, an os-release and a .NET runtime directory (all made
//! by the test) gets a CycloneDX SBOM listing them, attached beside the
//! build. The test finds it as an independent reader would: its own code
//! walking the registry API (the referrers API, absent on distribution,
//! then the `sha256-<hex>` fallback tag), and CycloneDX's own Python
//! library validates it against the 1.5 JSON schema.

use crate::support;

use std::process::Command;

use support::{all_tags, digest, manifest, Stack};

const STATUS: &str = "\
Package: libssl3
Status: install ok installed
Architecture: amd64
Source: openssl
Version: 3.0.11-1~deb12u2
Maintainer: Debian OpenSSL Team <pkg-openssl-devel@alioth-lists.debian.net>

Package: ca-certificates
Status: install ok installed
Architecture: all
Version: 20230311

Package: purged-long-ago
Status: deinstall ok config-files
Architecture: amd64
Version: 0.1
";

/// The venv `scripts/env` installs CycloneDX's Python library into.
const CYCLONEDX_PYTHON: &str = "/var/lib/golden-env/cyclonedx-venv/bin/python";

/// A blob of `repository`, read through the registry API.
pub(crate) fn blob(repository: &str, digest: &str) -> Vec<u8> {
    let (host, path) = repository.split_once('/').unwrap();
    let response = ureq::get(&format!("http://{host}/v2/{path}/blobs/{digest}"))
        .call()
        .unwrap_or_else(|e| panic!("GET blob {digest}: {e}"));
    let mut body = Vec::new();
    std::io::Read::read_to_end(&mut response.into_reader(), &mut body).unwrap();
    body
}

/// The artifacts attached to `subject`, as a reader walks the registry:
/// the referrers API first, the fallback tag's index when the registry
/// has no such API. Returns the index's `manifests`.
pub(crate) fn referrers(repository: &str, subject: &str) -> Vec<serde_json::Value> {
    let (host, path) = repository.split_once('/').unwrap();
    match ureq::get(&format!("http://{host}/v2/{path}/referrers/{subject}")).call() {
        Err(ureq::Error::Status(404, _)) => {}
        other => panic!("distribution 2.8 has no referrers API, yet it answered {other:?}"),
    }
    let tag = subject.replace(':', "-");
    if digest(repository, &tag).is_none() {
        return Vec::new();
    }
    let (body, media_type) = manifest(repository, &tag);
    assert_eq!(media_type, "application/vnd.oci.image.index.v1+json");
    let index: serde_json::Value = serde_json::from_slice(&body).unwrap();
    index["manifests"].as_array().unwrap().clone()
}

/// The SBOM attached to `subject`: the artifact manifest (checked) and
/// the document it holds.
fn sbom_of(repository: &str, subject: &str) -> serde_json::Value {
    let listed = referrers(repository, subject);
    let sboms: Vec<_> = listed
        .iter()
        .filter(|entry| entry["artifactType"] == "application/vnd.cyclonedx+json")
        .collect();
    assert_eq!(sboms.len(), 1, "one SBOM, not duplicated: {listed:#?}");
    let (body, _) = manifest(repository, sboms[0]["digest"].as_str().unwrap());
    let artifact: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(artifact["artifactType"], "application/vnd.cyclonedx+json");
    assert_eq!(artifact["subject"]["digest"], subject);
    assert_eq!(
        artifact["config"]["mediaType"],
        "application/vnd.oci.empty.v1+json"
    );
    let layer = &artifact["layers"][0];
    assert_eq!(layer["mediaType"], "application/vnd.cyclonedx+json");
    serde_json::from_slice(&blob(repository, layer["digest"].as_str().unwrap())).unwrap()
}

fn component<'a>(sbom: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    sbom["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|component| component["name"] == name)
        .unwrap_or_else(|| panic!("no component {name}: {sbom:#}"))
}

/// The stack with `base` carrying the test's package databases.
fn stack_with_packages() -> Stack {
    let stack = Stack::new("sbom");
    stack.write("images/base/sbom/status", STATUS);
    stack.write(
        "images/base/sbom/os-release",
        "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n",
    );
    stack.write(
        "images/base/sbom/dotnet/shared/Microsoft.NETCore.App/10.0.1/System.Runtime.dll",
        "not really a dll",
    );
    let dockerfile = stack.path().join("images/base/Dockerfile");
    let mut text = std::fs::read_to_string(&dockerfile).unwrap();
    text.push_str(
        "COPY sbom/status /var/lib/dpkg/status\nCOPY sbom/os-release /etc/os-release\nCOPY sbom/dotnet/ /usr/share/dotnet/\n",
    );
    std::fs::write(dockerfile, text).unwrap();
    stack
}

#[test]
fn each_build_gets_a_cyclonedx_sbom_of_its_packages_found_through_the_fallback_tag() {
    let stack = stack_with_packages();
    let built = stack.golden(&["build", "base"]).expect(0);
    let repository = stack.repository("base");
    let build = digest(&repository, "1.0.0").unwrap();
    assert!(
        built
            .stderr
            .contains(&format!("attached the SBOM of {build}")),
        "{}",
        built.stderr
    );
    let sbom = sbom_of(&repository, &build);
    assert_eq!(sbom["bomFormat"], "CycloneDX");
    assert_eq!(sbom["specVersion"], "1.5");
    let this = &sbom["metadata"]["component"];
    assert_eq!(this["name"], repository.as_str());
    assert_eq!(this["version"], "1.0.0");
    assert!(
        this["purl"]
            .as_str()
            .unwrap()
            .contains(&build.replace(':', "%3A")),
        "{this:#}"
    );
    let ssl = component(&sbom, "libssl3");
    assert_eq!(ssl["version"], "3.0.11-1~deb12u2");
    assert_eq!(
        ssl["purl"],
        "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12&upstream=openssl"
    );
    assert_eq!(component(&sbom, "ca-certificates")["version"], "20230311");
    assert!(
        !sbom.to_string().contains("purged-long-ago"),
        "a removed package is not listed"
    );
    let runtime = component(&sbom, "Microsoft.NETCore.App");
    assert_eq!(
        (&runtime["type"], &runtime["version"]),
        (&"framework".into(), &"10.0.1".into())
    );
    assert_eq!(component(&sbom, "debian")["type"], "operating-system");
    // The upstream base, by reference and digest.
    let upstream = stack.upstream();
    let (upstream_name, _) = upstream.rsplit_once(':').unwrap();
    let base = component(&sbom, upstream_name);
    let (upstream_repository, upstream_tag) = upstream.rsplit_once(':').unwrap();
    let upstream_digest = digest(upstream_repository, upstream_tag).unwrap();
    assert!(
        base["purl"]
            .as_str()
            .unwrap()
            .contains(&upstream_digest.replace(':', "%3A")),
        "{base:#}"
    );

    // CycloneDX's own library validates it against the 1.5 JSON schema.
    let path = stack.path().join("sbom.json");
    std::fs::write(&path, sbom.to_string()).unwrap();
    let check = "import sys\n\
                 from cyclonedx.schema import SchemaVersion\n\
                 from cyclonedx.validation.json import JsonStrictValidator\n\
                 error = JsonStrictValidator(SchemaVersion.V1_5).validate_str(open(sys.argv[1]).read())\n\
                 sys.exit(str(error) if error else 0)\n";
    let valid = Command::new(CYCLONEDX_PYTHON)
        .args(["-c", check])
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("{CYCLONEDX_PYTHON} (scripts/env installs it): {e}"));
    assert!(
        valid.status.success(),
        "{}",
        String::from_utf8_lossy(&valid.stderr)
    );

    // `golden sbom` prints the same document, and lists the packages.
    let printed = stack
        .golden(&["sbom", "base", "1.0.0", "--output", "json"])
        .expect(0);
    assert_eq!(printed.json(), sbom);
    let listed = stack.golden(&["sbom", "base"]).expect(0);
    assert!(
        listed.stdout.contains("libssl3") && listed.stdout.contains("3.0.11-1~deb12u2"),
        "{}",
        listed.stdout
    );

    // A second build, with a security update and a new package, has its
    // own SBOM, and `golden diff` shows the packages that changed.
    stack.write(
        "images/base/sbom/status",
        &STATUS
            .replace("3.0.11-1~deb12u2", "3.0.13-1~deb12u1")
            .replace(
                "Package: ca-certificates",
                "Package: curl\nStatus: install ok installed\nArchitecture: amd64\nVersion: 7.88.1-10+deb12u5\n\nPackage: ca-certificates",
            ),
    );
    stack.golden(&["build", "base"]).expect(0);
    let second = digest(&repository, "1.0.1").unwrap();
    let newer = sbom_of(&repository, &second);
    assert_eq!(component(&newer, "libssl3")["version"], "3.0.13-1~deb12u1");
    let diff = stack.golden(&["diff", "base", "1.0.0", "1.0.1"]).expect(0);
    assert!(
        diff.stdout.contains("packages: 2 changed")
            && diff.stdout.contains("+ curl 7.88.1-10+deb12u5")
            && diff
                .stdout
                .contains("~ libssl3 3.0.11-1~deb12u2 -> 3.0.13-1~deb12u1"),
        "{}",
        diff.stdout
    );
    let json = stack
        .golden(&["diff", "base", "1.0.0", "1.0.1", "--output", "json"])
        .expect(0)
        .json();
    assert_eq!(
        json["packages"]["changes"].as_array().unwrap().len(),
        2,
        "{json:#}"
    );
    let mut fallback: Vec<String> = all_tags(&repository)
        .into_iter()
        .filter(|tag| tag.starts_with("sha256-"))
        .collect();
    fallback.sort();
    let mut expected = vec![build.replace(':', "-"), second.replace(':', "-")];
    expected.sort();
    assert_eq!(fallback, expected);
    let ls = stack.golden(&["ls", "base"]).expect(0);
    assert!(!ls.stdout.contains("sha256-"), "{}", ls.stdout);

    // Pruning the first build deletes its SBOM and fallback index too.
    let first_sbom = referrers(&repository, &build)[0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    stack
        .golden(&["prune", "base", "--keep", "1", "--apply"])
        .expect(0);
    assert_eq!(digest(&repository, &build.replace(':', "-")), None);
    assert_eq!(digest(&repository, &first_sbom), None, "its SBOM is gone");
    assert!(digest(&repository, &second.replace(':', "-")).is_some());
}

#[test]
fn a_build_pushed_but_not_released_is_resumed_with_only_the_steps_it_lacks() {
    let stack = stack_with_packages();
    let script = crate::scan_gate::scanner(&stack);
    crate::scan_gate::set(&stack, "exit-code", "0");
    crate::scan_gate::scan_base_with(&stack, &script);
    let repository = stack.repository("base");

    // Pushed, its SBOM attached and its scan passed, but not released (a
    // CI matrix leg, or a run stopped before its floating tags).
    stack.golden(&["build", "base", "--no-promote"]).expect(0);
    let build = digest(&repository, "1.0.0").unwrap();
    assert_eq!(digest(&repository, "1.0"), None);
    assert_eq!(crate::scan_gate::scans(&stack), 1);
    sbom_of(&repository, &build);
    let plan = stack
        .golden(&["plan", "base", "--output", "json"])
        .expect(0)
        .json();
    let step = support::entry(&plan, "base");
    assert_eq!(step["decision"], "promote", "{plan:#}");
    assert_eq!(step["reasons"][0]["kind"], "unreleased", "{plan:#}");
    assert_eq!(step["reasons"][0]["version"], "1.0.0", "{plan:#}");
    let text = stack.golden(&["plan", "base"]).expect(0);
    assert!(
        text.stdout
            .contains("1.0.0 not released (no floating tag on it"),
        "{}",
        text.stdout
    );

    // Signing is configured meanwhile: the next run resumes the build. Its
    // SBOM is kept, its scan does not run again (its record says it
    // passed), it is signed, and then its floating tags move.
    let status = Command::new("sh")
        .args([
            "-c",
            "openssl ecparam -name prime256v1 -genkey -noout > signing.key && openssl ec -in signing.key -pubout > signing.pub 2>/dev/null",
        ])
        .current_dir(stack.path())
        .status()
        .unwrap();
    assert!(status.success());
    stack.append_config(
        "\n[signing]\nkey_file = \"signing.key\"\npublic_key_file = \"signing.pub\"\n",
    );
    let resumed = stack.golden(&["build", "base"]).expect(0);
    assert!(
        resumed.stderr.contains("was attached before") && resumed.stderr.contains("signed"),
        "{}",
        resumed.stderr
    );
    assert_eq!(
        crate::scan_gate::scans(&stack),
        1,
        "the scan that passed is not run again"
    );
    support::assert_floating(&repository, "1.0.0", &["1.0", "1", "latest"]);
    sbom_of(&repository, &build);
    let listed = referrers(&repository, &build);
    assert_eq!(listed.len(), 2, "one SBOM and one scan record: {listed:#?}");
    stack
        .golden(&["verify", &format!("{repository}:1.0")])
        .expect(0);

    // Nothing is left to do, and nothing is attached twice.
    stack.golden(&["build", "base"]).expect(0);
    assert_eq!(referrers(&repository, &build).len(), 2);
    assert_eq!(crate::scan_gate::scans(&stack), 1);
}

/// A registry in front of the real one that refuses every manifest PUT by
/// digest (the artifacts golden attaches), as registries that take no OCI
/// artifacts answer; everything else passes.
fn refusing_artifacts(upstream: &'static str) -> String {
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let host = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(mut client) = client else { continue };
            std::thread::spawn(move || {
                let Some(request) = support::proxy::read_request(&mut client) else {
                    return;
                };
                let refuse =
                    request.method == "PUT" && request.target.contains("/manifests/sha256:");
                let Some(mut server) = support::proxy::open_upstream(&client, &request, upstream)
                else {
                    return;
                };
                if !refuse {
                    return support::proxy::pass_reply(server, client);
                }
                let mut ignored = Vec::new();
                let _ = server.read_to_end(&mut ignored);
                let body = r#"{"errors":[{"code":"MANIFEST_INVALID","message":"manifest invalid","detail":"artifacts are not accepted"}]}"#;
                let _ = write!(
                    client,
                    "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                support::proxy::close(server, client);
            });
        }
    });
    host
}

#[test]
fn a_registry_refusing_the_sbom_withdraws_the_build_and_moves_no_floating_tag() {
    let host = refusing_artifacts(support::REGISTRY);
    let namespace = format!("e2e-sbom-refused-{}", std::process::id());
    let (_directory, config) = support::one_image_config(
        &host,
        &namespace,
        "base",
        &format!("FROM {}\nRUN echo one > /etc/one\n", support::SEED),
        "",
    );
    let repository = format!("{host}/{namespace}/base");
    let run = support::golden_at(&config, &["build", "base", "--output", "json"]).expect(1);
    let error = support::entry(&run.json(), "base")["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        error.contains("was pushed but its SBOM could not be made or attached, so it is withdrawn (`1.0.0-withdrawn`)")
            && error.contains("HTTP 400 (MANIFEST_INVALID")
            && error.contains("sbom = false"),
        "{error}"
    );
    assert_eq!(digest(&repository, "1.0"), None, "no floating tag moved");
    assert!(digest(&repository, "1.0.0-withdrawn").is_some());

    // Without SBOMs, the same registry releases the next build (`rebuild`:
    // the line is held by its failure meanwhile).
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replacen("[images.base]\n", "[images.base]\nsbom = false\n", 1),
    )
    .unwrap();
    support::golden_at(&config, &["rebuild", "base"]).expect(0);
    support::assert_floating(&repository, "1.0.1", &["1.0", "1", "latest"]);
}
