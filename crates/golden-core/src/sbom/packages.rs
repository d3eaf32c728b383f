//! The packages an image holds, read from its merged files: dpkg's status
//! (and distroless `status.d`), apk's installed database, and the .NET
//! runtimes and SDKs under the dotnet roots; the OS from its release file.

use std::collections::BTreeMap;

use super::layers::Filesystem;

/// Where a package came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Deb,
    Apk,
    /// A .NET shared framework (`Microsoft.NETCore.App`, ...).
    DotnetRuntime,
    DotnetSdk,
}

/// One package found in the image.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Package {
    pub kind: Kind,
    pub name: String,
    pub version: String,
    pub arch: Option<String>,
    /// The source package (dpkg `Source`, apk origin), when it differs.
    pub source: Option<String>,
    /// The license the database names (apk).
    pub license: Option<String>,
    pub maintainer: Option<String>,
    /// The file or directory it was found in.
    pub found_in: String,
}

/// The OS, from `/etc/os-release` (else `/usr/lib/os-release`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Os {
    /// `ID` (`debian`, `alpine`, ...).
    pub id: String,
    /// `VERSION_ID`, when it has one.
    pub version: Option<String>,
    pub pretty: Option<String>,
}

/// The OS named by the image's release file, if any.
pub fn os(files: &Filesystem) -> Option<Os> {
    let text = files
        .files
        .get("etc/os-release")
        .or_else(|| files.files.get("usr/lib/os-release"))?;
    let fields: BTreeMap<String, String> = String::from_utf8_lossy(text)
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| {
            let value = value.trim().trim_matches('"').trim_matches('\'');
            (key.trim().to_string(), value.to_string())
        })
        .collect();
    Some(Os {
        id: fields.get("ID").filter(|id| !id.is_empty())?.clone(),
        version: fields.get("VERSION_ID").cloned(),
        pretty: fields.get("PRETTY_NAME").cloned(),
    })
}

/// Every package found, sorted.
pub fn packages(files: &Filesystem) -> Vec<Package> {
    let mut found = Vec::new();
    for (path, bytes) in &files.files {
        let text = String::from_utf8_lossy(bytes);
        if path == "var/lib/dpkg/status" || path.starts_with("var/lib/dpkg/status.d/") {
            found.extend(dpkg(&text, path));
        } else if path == "lib/apk/db/installed" {
            found.extend(apk(&text, path));
        }
    }
    found.extend(files.marks.iter().filter_map(|mark| dotnet(mark)));
    found.sort();
    found.dedup_by(|a, b| {
        a.kind == b.kind && a.name == b.name && a.version == b.version && a.arch == b.arch
    });
    found
}

/// The stanzas of a Debian control file: each a map of its fields
/// (continuation lines joined).
fn stanzas(text: &str) -> Vec<BTreeMap<String, String>> {
    let mut all = Vec::new();
    let mut current: BTreeMap<String, String> = BTreeMap::new();
    let mut last: Option<String> = None;
    for line in text.lines() {
        if line.trim().is_empty() {
            if !current.is_empty() {
                all.push(std::mem::take(&mut current));
            }
            last = None;
        } else if line.starts_with([' ', '\t']) {
            if let Some(value) = last.as_ref().and_then(|key| current.get_mut(key)) {
                value.push('\n');
                value.push_str(line.trim());
            }
        } else if let Some((key, value)) = line.split_once(':') {
            current.insert(key.trim().to_string(), value.trim().to_string());
            last = Some(key.trim().to_string());
        }
    }
    if !current.is_empty() {
        all.push(current);
    }
    all
}

/// The installed packages of a dpkg status file (a stanza with no
/// `Status`, as distroless writes them, is installed).
fn dpkg(text: &str, path: &str) -> Vec<Package> {
    stanzas(text)
        .into_iter()
        .filter(|stanza| {
            stanza
                .get("Status")
                .is_none_or(|status| status.split_whitespace().nth(2) == Some("installed"))
        })
        .filter_map(|stanza| {
            let name = stanza.get("Package")?.clone();
            let version = stanza.get("Version")?.clone();
            let source = stanza
                .get("Source")
                .and_then(|source| source.split_whitespace().next())
                .filter(|source| *source != name)
                .map(str::to_string);
            Some(Package {
                kind: Kind::Deb,
                name,
                version,
                arch: stanza.get("Architecture").cloned(),
                source,
                license: None,
                maintainer: stanza.get("Maintainer").cloned(),
                found_in: path.to_string(),
            })
        })
        .collect()
}

/// The packages of apk's installed database (`P:` name, `V:` version, a
/// blank line between packages).
fn apk(text: &str, path: &str) -> Vec<Package> {
    let mut all = Vec::new();
    let mut fields: BTreeMap<char, String> = BTreeMap::new();
    let mut flush = |fields: &mut BTreeMap<char, String>| {
        if let (Some(name), Some(version)) = (fields.get(&'P'), fields.get(&'V')) {
            all.push(Package {
                kind: Kind::Apk,
                name: name.clone(),
                version: version.clone(),
                arch: fields.get(&'A').cloned(),
                source: fields.get(&'o').filter(|origin| *origin != name).cloned(),
                license: fields.get(&'L').cloned(),
                maintainer: fields.get(&'m').cloned(),
                found_in: path.to_string(),
            });
        }
        fields.clear();
    };
    for line in text.lines() {
        let mut chars = line.chars();
        match (chars.next(), chars.next()) {
            (Some(key), Some(':')) => {
                fields.insert(key, chars.as_str().to_string());
            }
            _ if line.trim().is_empty() => flush(&mut fields),
            _ => {}
        }
    }
    flush(&mut fields);
    all
}

/// The .NET runtime or SDK a version directory mark names.
fn dotnet(mark: &str) -> Option<Package> {
    let root = super::layers::DOTNET_ROOTS
        .iter()
        .find(|root| mark.starts_with(*root))?;
    let parts: Vec<&str> = mark[root.len() + 1..].split('/').collect();
    let (kind, name, version) = match parts.as_slice() {
        ["shared", framework, version] => (Kind::DotnetRuntime, *framework, *version),
        ["sdk", version] => (Kind::DotnetSdk, ".NET SDK", *version),
        _ => return None,
    };
    Some(Package {
        kind,
        name: name.to_string(),
        version: version.to_string(),
        arch: None,
        source: None,
        license: None,
        maintainer: None,
        found_in: format!("/{mark}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filesystem(files: &[(&str, &str)], marks: &[&str]) -> Filesystem {
        Filesystem {
            files: files
                .iter()
                .map(|(path, text)| (path.to_string(), text.as_bytes().to_vec()))
                .collect(),
            marks: marks.iter().map(|mark| mark.to_string()).collect(),
            unread: Vec::new(),
        }
    }

    const STATUS: &str = "\
Package: libc6
Status: install ok installed
Priority: optional
Architecture: amd64
Source: glibc
Version: 2.36-9+deb12u4
Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>
Description: GNU C Library: Shared libraries
 Contains the standard libraries.

Package: removed-one
Status: deinstall ok config-files
Version: 1.0
Architecture: amd64

Package: tzdata
Status: install ok installed
Architecture: all
Version: 2024a-0+deb12u1
Source: tzdata (2024a-0+deb12u1)
";

    #[test]
    fn dpkg_status_lists_installed_packages_only() {
        let found = packages(&filesystem(&[("var/lib/dpkg/status", STATUS)], &[]));
        let names: Vec<_> = found
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str()))
            .collect();
        assert_eq!(
            names,
            [("libc6", "2.36-9+deb12u4"), ("tzdata", "2024a-0+deb12u1")]
        );
        assert_eq!(found[0].source.as_deref(), Some("glibc"));
        assert_eq!(found[0].arch.as_deref(), Some("amd64"));
        // A source named as the package itself is not repeated.
        assert_eq!(found[1].source, None);
    }

    #[test]
    fn apk_distroless_and_dotnet_are_found() {
        let apk_db = "C:Q1abc=\nP:musl\nV:1.2.4-r2\nA:x86_64\nL:MIT\no:musl\n\nP:busybox\nV:1.36.1-r15\nA:x86_64\nL:GPL-2.0-only\n";
        let files = filesystem(
            &[
                ("lib/apk/db/installed", apk_db),
                (
                    "var/lib/dpkg/status.d/base",
                    "Package: base-files\nVersion: 12.4\nArchitecture: amd64\n",
                ),
            ],
            &[
                "usr/share/dotnet/shared/Microsoft.AspNetCore.App/10.0.0",
                "usr/share/dotnet/sdk/10.0.100",
            ],
        );
        let found: Vec<_> = packages(&files)
            .into_iter()
            .map(|p| (p.kind, p.name, p.version))
            .collect();
        assert_eq!(
            found,
            [
                (Kind::Deb, "base-files".into(), "12.4".into()),
                (Kind::Apk, "busybox".into(), "1.36.1-r15".into()),
                (Kind::Apk, "musl".into(), "1.2.4-r2".into()),
                (
                    Kind::DotnetRuntime,
                    "Microsoft.AspNetCore.App".into(),
                    "10.0.0".into()
                ),
                (Kind::DotnetSdk, ".NET SDK".into(), "10.0.100".into()),
            ]
        );
    }

    #[test]
    fn os_release_is_read() {
        let files = filesystem(
            &[(
                "usr/lib/os-release",
                "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n",
            )],
            &[],
        );
        let os = os(&files).unwrap();
        assert_eq!(
            (os.id.as_str(), os.version.as_deref()),
            ("debian", Some("12"))
        );
        assert_eq!(super::os(&filesystem(&[], &[])), None);
    }
}
