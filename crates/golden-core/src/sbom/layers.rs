//! What an SBOM needs of an image's layers, read one layer at a time and
//! merged bottom up as the engine stacks them: the package databases and
//! release files (read whole), the .NET runtimes and SDKs present (by their
//! directories), the package databases golden cannot read (named, so the
//! SBOM says it is incomplete), and each layer's whiteouts.
//!
//! A layer's facts depend only on its bytes, so the binary may keep them
//! by the layer's digest.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// The files read whole: dpkg's status (and distroless `status.d`),
/// apk's installed database, and the OS release file.
const READ: &[&str] = &[
    "var/lib/dpkg/status",
    "lib/apk/db/installed",
    "etc/os-release",
    "usr/lib/os-release",
];
/// The directory of distroless images' per-package dpkg status files.
const STATUS_D: &str = "var/lib/dpkg/status.d/";
/// Package databases golden does not read: their presence makes the SBOM
/// say it is incomplete.
const UNREAD: &[&str] = &[
    "var/lib/rpm/Packages",
    "var/lib/rpm/rpmdb.sqlite",
    "usr/lib/sysimage/rpm/rpmdb.sqlite",
    "usr/lib/sysimage/rpm/Packages.db",
];
/// Where .NET is installed: Microsoft's images (`/usr/share/dotnet`),
/// distributions' packages (`/usr/lib/dotnet`, `/usr/lib64/dotnet`) and
/// tarball installs (`/opt/dotnet`).
pub const DOTNET_ROOTS: &[&str] = &[
    "usr/share/dotnet",
    "usr/lib/dotnet",
    "usr/lib64/dotnet",
    "opt/dotnet",
];
/// The largest file read whole (a dpkg status of thousands of packages
/// is a few MiB).
pub const FILE_LIMIT: u64 = 64 << 20;
/// The most a layer's files read whole may hold together (distroless
/// images keep one small status file per package in `status.d`), so a
/// hostile layer cannot make golden hold gigabytes.
pub const LAYER_LIMIT: u64 = 256 << 20;

/// What one entry of a layer's tar is to the SBOM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interest {
    /// Read the file whole (a regular file only).
    Read,
    /// Note that this path exists (a .NET version directory, an unread
    /// package database), under the normalized path given.
    Mark(String),
    /// A whiteout: the path given is deleted from the layers below.
    Removes(String),
    /// An opaque whiteout: everything under the directory given is
    /// deleted from the layers below.
    Opaque(String),
    /// Nothing the SBOM needs.
    None,
}

/// A tar entry's path as the layers name files: no leading `./` or `/`,
/// no trailing `/`.
pub fn normalize(path: &str) -> &str {
    let path = path.trim_start_matches("./").trim_start_matches('/');
    path.trim_end_matches('/')
}

/// What the entry at `path` (normalized) is to the SBOM.
pub fn interest(path: &str) -> Interest {
    let (dir, name) = match path.rsplit_once('/') {
        Some((dir, name)) => (dir, name),
        None => ("", path),
    };
    if name == ".wh..wh..opq" {
        return Interest::Opaque(dir.to_string());
    }
    if let Some(removed) = name.strip_prefix(".wh.") {
        return Interest::Removes(join(dir, removed));
    }
    if READ.contains(&path) {
        return Interest::Read;
    }
    if let Some(file) = path.strip_prefix(STATUS_D) {
        if !file.is_empty() && !file.contains('/') && !file.ends_with(".md5sums") {
            return Interest::Read;
        }
    }
    if UNREAD.contains(&path) {
        return Interest::Mark(path.to_string());
    }
    dotnet_mark(path).map_or(Interest::None, Interest::Mark)
}

/// The .NET version directory `path` is in or is:
/// `<root>/shared/<framework>/<version>` or `<root>/sdk/<version>`.
fn dotnet_mark(path: &str) -> Option<String> {
    let root = DOTNET_ROOTS
        .iter()
        .find(|root| path.starts_with(*root) && path[root.len()..].starts_with('/'))?;
    let mut parts = path[root.len() + 1..].split('/');
    let (kind, named) = match parts.next()? {
        "shared" => ("shared", 2),
        "sdk" => ("sdk", 1),
        _ => return None,
    };
    let rest: Vec<&str> = parts.take(named).collect();
    if rest.len() != named || !rest[named - 1].starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    Some(format!("{root}/{kind}/{}", rest.join("/")))
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// What one layer holds for the SBOM.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerFacts {
    /// The files read whole, by path.
    pub files: BTreeMap<String, Vec<u8>>,
    /// The marked paths present.
    pub marks: BTreeSet<String>,
    /// The paths its whiteouts delete from the layers below.
    pub removes: BTreeSet<String>,
    /// The directories its opaque whiteouts empty.
    pub opaque: BTreeSet<String>,
    /// Why the layer could not be read, when it could not (the SBOM then
    /// says it is incomplete).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unread: Option<String>,
}

impl LayerFacts {
    /// The bytes of the files it holds.
    pub fn bytes(&self) -> u64 {
        self.files.values().map(|file| file.len() as u64).sum()
    }

    /// Records the entry at `path` (as the tar names it); `read` reads a
    /// regular file's bytes when they are wanted.
    pub fn add<E>(
        &mut self,
        path: &str,
        regular: bool,
        read: impl FnOnce() -> Result<Vec<u8>, E>,
    ) -> Result<(), E> {
        let path = normalize(path);
        match interest(path) {
            Interest::Read if regular => {
                self.files.insert(path.to_string(), read()?);
            }
            // A symlink (or anything but a file) there hides the file of
            // the layers below: what it points at is not followed.
            Interest::Read => {
                self.removes.insert(path.to_string());
            }
            Interest::None => {}
            Interest::Mark(mark) => {
                self.marks.insert(mark);
            }
            Interest::Removes(removed) => {
                self.removes.insert(removed);
            }
            Interest::Opaque(dir) => {
                self.opaque.insert(dir);
            }
        }
        Ok(())
    }
}

/// The image's files as the SBOM sees them: the layers' facts merged
/// bottom up, each layer's whiteouts applied to those below it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filesystem {
    pub files: BTreeMap<String, Vec<u8>>,
    pub marks: BTreeSet<String>,
    /// Each layer that could not be read, and why.
    pub unread: Vec<String>,
}

impl Filesystem {
    /// `layers` (bottom first) merged.
    pub fn merge<'a>(layers: impl IntoIterator<Item = &'a LayerFacts>) -> Filesystem {
        let mut merged = Filesystem::default();
        for layer in layers {
            for dir in &layer.opaque {
                merged.files.retain(|path, _| !strictly_under(path, dir));
                merged.marks.retain(|path| !strictly_under(path, dir));
            }
            for removed in &layer.removes {
                merged.files.retain(|path, _| !under(path, removed));
                merged.marks.retain(|path| !under(path, removed));
            }
            merged.files.extend(layer.files.clone());
            merged.marks.extend(layer.marks.iter().cloned());
            merged.unread.extend(layer.unread.clone());
        }
        merged
    }
}

/// Whether `path` is `dir` or inside it.
fn under(path: &str, dir: &str) -> bool {
    path == dir || strictly_under(path, dir)
}

fn strictly_under(path: &str, dir: &str) -> bool {
    dir.is_empty() || (path.starts_with(dir) && path[dir.len()..].starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(entries: &[(&str, &str)]) -> LayerFacts {
        let mut facts = LayerFacts::default();
        for (path, text) in entries {
            facts
                .add::<()>(path, true, || Ok(text.as_bytes().to_vec()))
                .unwrap();
        }
        facts
    }

    #[test]
    fn entries_are_read_marked_or_skipped() {
        assert_eq!(interest("var/lib/dpkg/status"), Interest::Read);
        assert_eq!(interest("var/lib/dpkg/status-old"), Interest::None);
        assert_eq!(interest("var/lib/dpkg/status.d/base"), Interest::Read);
        assert_eq!(
            interest("var/lib/dpkg/status.d/base.md5sums"),
            Interest::None
        );
        assert_eq!(interest("lib/apk/db/installed"), Interest::Read);
        assert_eq!(
            interest("usr/share/dotnet/shared/Microsoft.NETCore.App/10.0.1/System.dll"),
            Interest::Mark("usr/share/dotnet/shared/Microsoft.NETCore.App/10.0.1".into())
        );
        assert_eq!(
            interest("usr/share/dotnet/sdk/10.0.100"),
            Interest::Mark("usr/share/dotnet/sdk/10.0.100".into())
        );
        assert_eq!(
            interest("usr/share/dotnet/sdk/NuGetFallbackFolder/x"),
            Interest::None
        );
        assert_eq!(
            interest("usr/share/dotnet/shared/Microsoft.NETCore.App"),
            Interest::None
        );
        assert_eq!(interest("usr/share/dotnetx/sdk/1.0"), Interest::None);
        assert_eq!(
            interest("var/lib/rpm/rpmdb.sqlite"),
            Interest::Mark("var/lib/rpm/rpmdb.sqlite".into())
        );
        assert_eq!(
            interest("usr/share/dotnet/.wh.sdk"),
            Interest::Removes("usr/share/dotnet/sdk".into())
        );
        assert_eq!(interest("var/.wh..wh..opq"), Interest::Opaque("var".into()));
        assert_eq!(normalize("./var/lib/dpkg/status"), "var/lib/dpkg/status");
        assert_eq!(normalize("/usr/share/dotnet/"), "usr/share/dotnet");
    }

    #[test]
    fn a_symlink_at_a_read_path_is_not_read_and_hides_the_file_below() {
        let mut link = LayerFacts::default();
        link.add::<()>("etc/os-release", false, || panic!("not read"))
            .unwrap();
        assert!(link.files.is_empty());
        let base = layer(&[
            ("etc/os-release", "ID=old"),
            ("usr/lib/os-release", "ID=debian"),
        ]);
        let merged = Filesystem::merge([&base, &link]);
        assert_eq!(
            merged.files.keys().collect::<Vec<_>>(),
            ["usr/lib/os-release"]
        );
    }

    #[test]
    fn upper_layers_replace_and_whiteouts_delete() {
        let base = layer(&[
            ("var/lib/dpkg/status", "old"),
            ("etc/os-release", "ID=debian"),
            (
                "usr/share/dotnet/shared/Microsoft.NETCore.App/8.0.1/a.dll",
                "",
            ),
            ("usr/share/dotnet/sdk/8.0.100/dotnet.dll", ""),
        ]);
        let upper = layer(&[
            ("var/lib/dpkg/status", "new"),
            ("usr/share/dotnet/.wh.sdk", ""),
            (
                "usr/share/dotnet/shared/Microsoft.NETCore.App/.wh.8.0.1",
                "",
            ),
            (
                "usr/share/dotnet/shared/Microsoft.NETCore.App/8.0.2/a.dll",
                "",
            ),
        ]);
        let merged = Filesystem::merge([&base, &upper]);
        assert_eq!(merged.files["var/lib/dpkg/status"], b"new");
        assert_eq!(merged.files["etc/os-release"], b"ID=debian");
        assert_eq!(
            merged.marks.iter().collect::<Vec<_>>(),
            ["usr/share/dotnet/shared/Microsoft.NETCore.App/8.0.2"]
        );
    }

    #[test]
    fn an_opaque_directory_hides_only_the_layers_below() {
        let base = layer(&[("var/lib/dpkg/status", "old"), ("etc/os-release", "ID=x")]);
        let upper = layer(&[
            ("var/.wh..wh..opq", ""),
            ("var/lib/dpkg/status.d/base", "new"),
        ]);
        let merged = Filesystem::merge([&base, &upper]);
        assert_eq!(
            merged.files.keys().collect::<Vec<_>>(),
            ["etc/os-release", "var/lib/dpkg/status.d/base"]
        );
        // A whiteout of a file inside a version directory keeps it.
        let dotnet = layer(&[("usr/lib/dotnet/sdk/9.0.100/x.dll", "")]);
        let trimmed = layer(&[("usr/lib/dotnet/sdk/9.0.100/.wh.x.dll", "")]);
        assert_eq!(Filesystem::merge([&dotnet, &trimmed]).marks.len(), 1);
    }
}
