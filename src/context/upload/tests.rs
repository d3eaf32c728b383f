use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use super::*;
use crate::context::{entries, Recipes};
use crate::labels::{RECIPE, RECIPE_PARTS};

/// A build request for `context` with the listing observe would make.
fn request(context: &Path, dockerfile: &str, content: &str) -> BuildRequest {
    let (ignore, ignore_file) = crate::context::load_ignore_for(context, dockerfile).unwrap();
    let list = entries(context, &ignore, &[dockerfile, ignore_file.as_str()]).unwrap();
    BuildRequest {
        image: "app".to_string(),
        context: context.to_path_buf(),
        entries: list,
        dockerfile: dockerfile.to_string(),
        dockerfile_content: content.to_string(),
        build_args: BTreeMap::from([("SDK".to_string(), "8.0".to_string())]),
        labels: BTreeMap::from([
            ("owner".to_string(), "platform".to_string()),
            (
                "org.opencontainers.image.version".to_string(),
                "1.0.3".to_string(),
            ),
        ]),
        configured_labels: BTreeMap::from([("owner".to_string(), "platform".to_string())]),
        observed_recipe: None,
        sources: None,
        network: crate::config::Network::Default,
        pull: false,
        no_cache: false,
        tag: "127.0.0.1:5000/golden/app:1.0.3".parse().unwrap(),
        platform: None,
        // A secret's source is in the recipe observe hashes and in the one
        // of what is sent.
        recipe_secrets: BTreeMap::from([("token".to_string(), "env NUGET_TOKEN".to_string())]),
        builder: golden_core::engine::Builder::Classic,
        secrets: BTreeMap::new(),
    }
}

/// The recipe observe hashes before a build of `request`.
fn observed(request: &BuildRequest) -> Recipe {
    let inputs = RecipeInputs {
        dockerfile: &request.dockerfile,
        build_args: &request.build_args,
        labels: &request.configured_labels,
        secrets: &request.recipe_secrets,
    };
    Recipes::default()
        .recipe(&request.context, &inputs)
        .unwrap()
        .0
}

/// A tar entry: path, type, mode, link target, content.
type TarEntry = (String, tar::EntryType, u32, Option<String>, Vec<u8>);

/// Every entry of a tar in order.
fn read_tar(bytes: &[u8]) -> Vec<TarEntry> {
    let mut archive = tar::Archive::new(bytes);
    archive
        .entries()
        .unwrap()
        .map(|entry| {
            let mut entry = entry.unwrap();
            let header = entry.header().clone();
            let mut content = Vec::new();
            entry.read_to_end(&mut content).unwrap();
            (
                entry.path().unwrap().to_string_lossy().to_string(),
                header.entry_type(),
                header.mode().unwrap(),
                entry
                    .link_name()
                    .unwrap()
                    .map(|link| link.to_string_lossy().to_string()),
                content,
            )
        })
        .collect()
}

/// A context with what a recipe must get right: nested directories, an
/// ignore file with exceptions (one into an excluded directory), a
/// symlink, an empty directory, an executable file, a file larger than
/// one read and not a whole number of tar blocks, a name too long for a
/// plain tar header, and the Dockerfile in a subdirectory.
fn rich_tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let write = |path: &str, content: &[u8]| {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    };
    write("docker/Dockerfile", b"FROM busybox\nCOPY . /app\n");
    write(
        "docker/Dockerfile.dockerignore",
        b"*.log\n!keep.log\nbuild\n!build/dist\nsecrets/**\n",
    );
    write("src/main.c", b"int main(void) { return 0; }\n");
    write("src/lib/util.c", b"void util(void) {}\n");
    write("keep.log", b"kept\n");
    write("debug.log", b"ignored\n");
    write("build/tmp/o.o", b"ignored\n");
    write("build/dist/app", b"\x7fELF");
    write("secrets/token", b"ignored\n");
    let big: Vec<u8> = (0..READ_SIZE * 2 + 777)
        .map(|i| (i * 7 % 251) as u8)
        .collect();
    write("data/big.bin", &big);
    let long = format!("deep/{}/{}.txt", "d".repeat(90), "n".repeat(60));
    write(&long, b"long name\n");
    std::fs::create_dir_all(root.join("empty/inner")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        write("run.sh", b"#!/bin/sh\necho hi\n");
        std::fs::set_permissions(root.join("run.sh"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        std::os::unix::fs::symlink("src/main.c", root.join("main-link")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", root.join("outside")).unwrap();
    }
    dir
}

#[test]
fn the_recipe_hashed_while_sending_is_the_recipe_observe_hashes() {
    let dir = rich_tree();
    let request = request(
        dir.path(),
        "docker/Dockerfile",
        "FROM busybox@sha256:aa\nCOPY . /app\n",
    );
    let paths: Vec<&str> = request.entries.iter().map(|e| e.path.as_str()).collect();
    for expected in [
        "keep.log",
        "build/dist/app",
        "empty/inner",
        "main-link",
        "run.sh",
    ] {
        assert!(paths.contains(&expected), "{expected} in {paths:?}");
    }
    for ignored in ["debug.log", "build/tmp/o.o", "secrets/token"] {
        assert!(!paths.contains(&ignored), "{ignored} in {paths:?}");
    }
    assert!(request
        .entries
        .iter()
        .any(|e| e.kind == Kind::File { executable: true }));
    let before = observed(&request);
    let (bytes, sent) = Upload::of(&request).write(Vec::new()).unwrap();
    assert_eq!(sent, before, "the same digest and the same parts");
    // Again with the recipe observe hashed in the request: the same.
    let mut again = request.clone();
    again.observed_recipe = Some(before.clone());
    let (same, resent) = Upload::of(&again).write(Vec::new()).unwrap();
    assert_eq!(resent, before);
    assert_eq!(same, bytes, "the tar does not depend on what observe did");
    // What the recipe covers counts: a file's content, its executable bit.
    std::fs::write(dir.path().join("src/lib/util.c"), b"void util(int) {}\n").unwrap();
    let (_, changed) = Upload::of(&request).write(Vec::new()).unwrap();
    assert_ne!(changed, before);
    assert_eq!(changed, observed(&request));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.path().join("src/main.c");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        let (_, executable) = Upload::of(&request).write(Vec::new()).unwrap();
        assert_ne!(executable, changed, "the executable bit counts");
    }
}

#[test]
fn the_dockerfile_goes_last_with_the_labels_and_the_recipe_of_what_was_sent() {
    let dir = rich_tree();
    let content = "FROM busybox@sha256:aa\nCOPY . /app\n";
    let request = request(dir.path(), "docker/Dockerfile", content);
    let (bytes, sent) = Upload::of(&request).write(Vec::new()).unwrap();
    let tar = read_tar(&bytes);
    let names: Vec<&str> = tar.iter().map(|(name, ..)| name.as_str()).collect();
    let listed: Vec<&str> = request
        .entries
        .iter()
        .map(|e| e.path.as_str())
        .filter(|path| *path != "docker/Dockerfile")
        .chain(["docker/Dockerfile"])
        .collect();
    assert_eq!(names, listed, "the listing's order, the Dockerfile last");
    let (_, _, mode, _, dockerfile) = tar.last().unwrap();
    assert_eq!(*mode, 0o644);
    let (expected, api) = crate::dockerfile::with_labels(content, &{
        let mut labels = request.labels.clone();
        crate::labels::set_recipe(&mut labels, &sent.digest, &sent.parts.label());
        labels
    });
    assert!(api.is_empty());
    assert_eq!(String::from_utf8_lossy(dockerfile), expected);
    assert!(expected.contains(&format!("\"{RECIPE}\"=\"{}\"", sent.digest)));
    assert!(expected.contains(RECIPE_PARTS));
    assert!(Upload::of(&request).api_labels().is_empty());
    let entry = |name: &str| tar.iter().find(|(path, ..)| path == name).unwrap();
    let big = std::fs::read(dir.path().join("data/big.bin")).unwrap();
    assert_eq!(entry("data/big.bin").4, big, "a file of several reads");
    let long = format!("deep/{}/{}.txt", "d".repeat(90), "n".repeat(60));
    assert_eq!(entry(&long).4, b"long name\n");
    assert_eq!(entry("empty/inner").1, tar::EntryType::Directory);
    #[cfg(unix)]
    {
        assert_eq!(entry("run.sh").2, 0o755);
        assert_eq!(entry("src/main.c").2, 0o644);
        assert_eq!(entry("main-link").1, tar::EntryType::Symlink);
        assert_eq!(entry("main-link").3.as_deref(), Some("src/main.c"));
    }
}

#[cfg(unix)]
#[test]
fn directories_and_symlinks_get_the_headers_tar_writes_from_their_metadata() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("dir")).unwrap();
    let target = format!("{}/target", "t".repeat(120));
    std::os::unix::fs::symlink(&target, dir.path().join("link")).unwrap();
    let mut from_metadata = tar::Builder::new(Vec::new());
    from_metadata.mode(tar::HeaderMode::Deterministic);
    from_metadata.follow_symlinks(false);
    let mut described = tar::Builder::new(Vec::new());
    for (name, kind) in [
        ("dir", Kind::Directory),
        (
            "link",
            Kind::Symlink {
                target: target.clone().into(),
            },
        ),
    ] {
        from_metadata
            .append_path_with_name(dir.path().join(name), name)
            .unwrap();
        append_described(&mut described, name, &kind).unwrap();
    }
    assert_eq!(
        described.into_inner().unwrap(),
        from_metadata.into_inner().unwrap(),
        "the engine's build cache sees the headers it saw before"
    );
}

#[test]
fn a_context_changed_since_observe_is_labelled_with_what_was_sent() {
    let dir = rich_tree();
    let mut request = request(dir.path(), "docker/Dockerfile", "FROM busybox\n");
    request.observed_recipe = Some(observed(&request));
    std::fs::write(dir.path().join("keep.log"), b"edited after observe\n").unwrap();
    let (bytes, sent) = Upload::of(&request).write(Vec::new()).unwrap();
    assert_ne!(Some(&sent), request.observed_recipe.as_ref());
    assert_eq!(sent, observed(&request), "the recipe of the tree as sent");
    let tar = read_tar(&bytes);
    let dockerfile = String::from_utf8_lossy(&tar.last().unwrap().4).to_string();
    assert!(dockerfile.contains(&sent.digest), "{dockerfile}");
    let stale = &request.observed_recipe.as_ref().unwrap().digest;
    assert!(!dockerfile.contains(stale.as_str()), "{dockerfile}");
}

#[test]
fn a_dockerfile_that_takes_no_label_line_hashes_first_and_fails_if_the_context_changed() {
    let dir = rich_tree();
    let dangling = "FROM busybox\nRUN echo hi \\\n";
    let request = request(dir.path(), "docker/Dockerfile", dangling);
    let mut upload = Upload::of(&request);
    assert!(upload.needs_recipe_first());
    upload.hash_first().unwrap();
    assert!(!upload.needs_recipe_first());
    let api = upload.api_labels();
    let before = observed(&request);
    assert_eq!(api[RECIPE], before.digest);
    assert_eq!(api[RECIPE_PARTS], before.parts.label());
    assert_eq!(api["owner"], "platform");
    let (bytes, sent) = upload.write(Vec::new()).unwrap();
    assert_eq!(sent, before);
    let tar = read_tar(&bytes);
    assert_eq!(String::from_utf8_lossy(&tar.last().unwrap().4), dangling);
    std::fs::write(dir.path().join("keep.log"), b"edited while sending\n").unwrap();
    match upload.write(Vec::new()) {
        Err(ContextError::Changed { observed, sent }) => {
            assert_eq!(observed, before.digest);
            assert_ne!(sent, before.digest);
        }
        other => panic!(
            "expected a changed context, got {:?}",
            other.map(|(_, r)| r)
        ),
    }
}

/// Truncates `path` on its first write: the file shrinks between its
/// header and its content.
struct Truncating {
    path: std::path::PathBuf,
    done: bool,
}

impl Write for Truncating {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if !self.done {
            std::fs::write(&self.path, b"").unwrap();
            self.done = true;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_file_that_shrinks_while_it_is_sent_fails_the_upload() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Dockerfile"), "FROM busybox\n").unwrap();
    std::fs::write(dir.path().join("a.bin"), vec![1u8; 5000]).unwrap();
    let request = request(dir.path(), "Dockerfile", "FROM busybox\n");
    let writer = Truncating {
        path: dir.path().join("a.bin"),
        done: false,
    };
    let error = Upload::of(&request).write(writer).err().unwrap();
    let text = format!("{error}: {}", std::error::Error::source(&error).unwrap());
    assert!(
        text.contains("a.bin") && text.contains("got shorter"),
        "{text}"
    );
}

#[cfg(unix)]
#[test]
fn a_fifo_is_sent_as_a_header_without_being_read() {
    let (dir, _socket) = crate::context::tests::special_tree();
    let root = dir.path().to_path_buf();
    std::fs::write(root.join("Dockerfile"), "FROM busybox\n").unwrap();
    let request = request(&root, "Dockerfile", "FROM busybox\n");
    let before = observed(&request);
    let (bytes, sent) = crate::context::tests::without_blocking(move || {
        Upload::of(&request).write(Vec::new()).unwrap()
    });
    assert_eq!(sent, before);
    let headers: Vec<(String, tar::EntryType, usize)> = read_tar(&bytes)
        .into_iter()
        .map(|(name, kind, _, _, content)| (name, kind, content.len()))
        .collect();
    assert_eq!(
        headers[..2],
        [
            ("a.txt".to_string(), tar::EntryType::Regular, 1),
            ("pipe".to_string(), tar::EntryType::Fifo, 0)
        ]
    );
    assert_eq!(headers[2].0, "Dockerfile");
}

#[test]
fn devices_go_into_the_tar_as_headers_with_their_numbers() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Dockerfile"), "FROM busybox\n").unwrap();
    let mut request = request(dir.path(), "Dockerfile", "FROM busybox\n");
    // Never touched on disk: a device's entry is written from its kind.
    request.entries = vec![
        Entry {
            path: "dev/null".to_string(),
            kind: Kind::CharDevice { major: 1, minor: 3 },
        },
        Entry {
            path: "dev/loop0".to_string(),
            kind: Kind::BlockDevice { major: 7, minor: 0 },
        },
    ];
    let (bytes, _) = Upload::of(&request).write(Vec::new()).unwrap();
    let mut archive = tar::Archive::new(bytes.as_slice());
    let headers: Vec<(String, tar::EntryType, Option<u32>, Option<u32>)> = archive
        .entries()
        .unwrap()
        .take(2)
        .map(|entry| {
            let header = entry.unwrap().header().clone();
            (
                header.path().unwrap().to_string_lossy().to_string(),
                header.entry_type(),
                header.device_major().unwrap(),
                header.device_minor().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        headers,
        [
            (
                "dev/null".to_string(),
                tar::EntryType::Char,
                Some(1),
                Some(3)
            ),
            (
                "dev/loop0".to_string(),
                tar::EntryType::Block,
                Some(7),
                Some(0)
            )
        ]
    );
}

#[test]
fn ignored_files_are_not_sent_and_the_dockerfile_is_replaced() {
    let dir = crate::context::tests::tree();
    let request = request(dir.path(), "Dockerfile", "FROM pinned\n");
    let (bytes, _) = Upload::of(&request).write(Vec::new()).unwrap();
    let seen: BTreeMap<String, Vec<u8>> = read_tar(&bytes)
        .into_iter()
        .map(|(name, _, _, _, content)| (name, content))
        .collect();
    let dockerfile = String::from_utf8_lossy(&seen["Dockerfile"]).to_string();
    assert!(
        dockerfile.starts_with("FROM pinned\nLABEL "),
        "{dockerfile}"
    );
    assert_eq!(seen["src/nested/b.txt"], b"b");
    assert!(!seen.contains_key("cache/big.bin"));
    assert!(!seen.contains_key("scratch.tmp"));
}

#[test]
fn with_known_sources_only_they_are_sent_and_the_recipe_is_the_whole_contexts() {
    let dir = rich_tree();
    let content = "FROM busybox@sha256:aa\nCOPY src /src\nCOPY data/big.bin run.sh /\n";
    let mut request = request(dir.path(), "docker/Dockerfile", content);
    let whole = Upload::of(&request).write(Vec::new()).unwrap().1;
    request.sources = crate::dockerfile::context_sources(content);
    assert_eq!(
        request.sources.as_deref(),
        Some(
            &[
                "data/big.bin".to_string(),
                "run.sh".to_string(),
                "src".to_string()
            ][..]
        )
    );
    let (bytes, sent) = Upload::of(&request).write(Vec::new()).unwrap();
    assert_eq!(sent, whole, "the recipe covers every entry, sent or not");
    assert_eq!(sent, observed(&request));
    let paths: Vec<String> = read_tar(&bytes).into_iter().map(|e| e.0).collect();
    assert_eq!(
        paths,
        [
            "data",
            "data/big.bin",
            "run.sh",
            "src",
            "src/lib",
            "src/lib/util.c",
            "src/main.c",
            "docker/Dockerfile"
        ],
        "the sources, the directories above them and what is under them, the Dockerfile last"
    );
    // A file the build does not read still changes the recipe.
    std::fs::write(dir.path().join("keep.log"), b"changed\n").unwrap();
    let (_, changed) = Upload::of(&request).write(Vec::new()).unwrap();
    assert_ne!(changed, sent);
    assert_eq!(changed, observed(&request));
}

#[cfg(unix)]
#[test]
fn a_source_that_is_a_symlink_or_under_one_sends_the_whole_context() {
    let dir = rich_tree();
    std::os::unix::fs::symlink("src", dir.path().join("src-link")).unwrap();
    for content in [
        "FROM busybox@sha256:aa\nCOPY main-link /main.c\n",
        "FROM busybox@sha256:aa\nCOPY src-link/main.c /main.c\n",
    ] {
        let mut request = request(dir.path(), "docker/Dockerfile", content);
        request.sources = crate::dockerfile::context_sources(content);
        assert!(request.sources.is_some(), "{content}");
        let (bytes, _) = Upload::of(&request).write(Vec::new()).unwrap();
        let paths: Vec<String> = read_tar(&bytes).into_iter().map(|e| e.0).collect();
        assert!(
            paths.iter().any(|p| p == "src/main.c"),
            "{content}: {paths:?}"
        );
        assert!(
            paths.iter().any(|p| p == "keep.log"),
            "{content}: {paths:?}"
        );
    }
}
