use cyclonedx_bom::validation::Validate as _;

use super::*;
use crate::sbom::layers::Filesystem;

fn files(entries: &[(&str, &str)], marks: &[&str]) -> Filesystem {
    Filesystem {
        files: entries
            .iter()
            .map(|(path, text)| (path.to_string(), text.as_bytes().to_vec()))
            .collect(),
        marks: marks.iter().map(|mark| mark.to_string()).collect(),
        unread: Vec::new(),
    }
}

fn identity<'a>(digest: &'a Digest, platform: Option<&'a str>) -> Identity<'a> {
    Identity {
        image: "aspnet",
        repository: "registry.local:5000/golden/aspnet-core",
        version: "10.0.3",
        digest,
        platform,
        created: Some("2026-12-07T10:00:00.123456789Z"),
        upstream: Some((
            "mcr.microsoft.com/dotnet/aspnet:10.0",
            Some("sha256:1111111111111111111111111111111111111111111111111111111111111111"),
        )),
        tool_version: "0.1.0",
    }
}

const STATUS: &str = "Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nSource: glibc\nVersion: 1:2.36-9+deb12u4\n\nPackage: tzdata\nStatus: install ok installed\nArchitecture: all\nVersion: 2024a-0+deb12u1\n";

#[test]
fn the_document_is_valid_cyclonedx_1_5_and_deterministic() {
    let digest = Digest::of(b"build");
    let image = files(
        &[
            ("var/lib/dpkg/status", STATUS),
            (
                "etc/os-release",
                "ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n",
            ),
        ],
        &["usr/share/dotnet/shared/Microsoft.AspNetCore.App/10.0.0"],
    );
    let bytes = document(&identity(&digest, Some("linux/amd64")), &image);
    assert_eq!(
        bytes,
        document(&identity(&digest, Some("linux/amd64")), &image)
    );
    assert_ne!(
        bytes,
        document(&identity(&digest, Some("linux/arm64")), &image)
    );
    let bom = Bom::parse_from_json_v1_5(bytes.as_slice()).expect("cyclonedx-bom reads it back");
    let validation = bom.validate_version(SpecVersion::V1_5);
    assert!(validation.passed(), "{validation:?}");
    let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(value["specVersion"], "1.5");
    assert_eq!(
        value["metadata"]["component"]["name"],
        "registry.local:5000/golden/aspnet-core"
    );
    assert_eq!(value["metadata"]["component"]["version"], "10.0.3");
    assert_eq!(
        value["metadata"]["component"]["purl"],
        format!(
            "pkg:oci/aspnet-core@sha256%3A{}?repository_url=registry.local%3A5000/golden/aspnet-core&tag=10.0.3&arch=amd64",
            digest.hex()
        )
    );
    let entries = components(&bytes).unwrap();
    let purls: Vec<_> = entries
        .iter()
        .filter_map(|entry| entry.purl.as_deref())
        .collect();
    assert!(
        purls.contains(
            &"pkg:deb/debian/libc6@1%3A2.36-9+deb12u4?arch=amd64&distro=debian-12&upstream=glibc"
        ),
        "{purls:?}"
    );
    assert!(purls.contains(&"pkg:deb/debian/tzdata@2024a-0+deb12u1?arch=all&distro=debian-12"));
    let base = entries
        .iter()
        .find(|entry| entry.name == "mcr.microsoft.com/dotnet/aspnet")
        .unwrap();
    assert_eq!(
        (base.kind.as_str(), base.version.as_str()),
        ("container", "10.0")
    );
    assert!(entries.iter().any(|entry| entry.kind == "framework"
        && entry.name == "Microsoft.AspNetCore.App"
        && entry.version == "10.0.0"));
    assert!(entries
        .iter()
        .any(|entry| entry.kind == "operating-system" && entry.version == "12"));
    assert!(value.get("compositions").is_none());
}

#[test]
fn an_unread_database_makes_the_document_say_it_is_incomplete() {
    let digest = Digest::of(b"build");
    let mut image = files(&[], &["var/lib/rpm/rpmdb.sqlite"]);
    image
        .unread
        .push("layer sha256:ab: zstd-compressed layers are not read".into());
    let bytes = document(&identity(&digest, None), &image);
    let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(value["compositions"][0]["aggregate"], "incomplete");
    let unread: Vec<_> = value["metadata"]["component"]["properties"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|property| property["name"] == "golden:unread")
        .map(|property| property["value"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(unread.len(), 2, "{unread:?}");
    assert!(unread[1].contains("/var/lib/rpm/rpmdb.sqlite"));
}

#[test]
fn components_are_read_from_any_cyclonedx_document() {
    let other = br#"{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{"type":"library","name":"zlib","version":"1.3"}]}"#;
    assert_eq!(
        components(other).unwrap(),
        [Entry {
            kind: "library".into(),
            name: "zlib".into(),
            version: "1.3".into(),
            purl: None
        }]
    );
    assert!(components(b"{}").unwrap_err().contains("not a CycloneDX"));
    assert!(components(b"nope").unwrap_err().contains("not JSON"));
}

#[test]
fn a_plus_in_a_qualifier_is_escaped_and_kept_in_a_version() {
    let digest = Digest::of(b"build");
    let status = "Package: libsigc++-2.0-0v5\nStatus: install ok installed\nArchitecture: amd64\nSource: libsigc++-2.0\nVersion: 2.12.0-1+b1\n";
    let bytes = document(
        &identity(&digest, None),
        &files(&[("var/lib/dpkg/status", status)], &[]),
    );
    let purls: Vec<_> = components(&bytes)
        .unwrap()
        .into_iter()
        .filter_map(|entry| entry.purl)
        .collect();
    assert!(
        purls.contains(
            &"pkg:deb/debian/libsigc++-2.0-0v5@2.12.0-1+b1?arch=amd64&upstream=libsigc%2B%2B-2.0"
                .to_string()
        ),
        "{purls:?}"
    );
}
