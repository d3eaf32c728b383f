//! Loading from disk: what only the real filesystem shows (FIFOs, symlink
//! loops, bytes that are not UTF-8) through the real reader.

const REGISTRY: &str = "[registry]\nhost = \"registry.local:5000\"\nnamespace = \"golden\"\n";

/// A config in a fresh directory, for problems that need the filesystem
/// (FIFOs, symlink loops, bytes that are not UTF-8); the directory is shown
/// as `<dir>` so snapshots are stable.
struct Scratch {
    directory: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        let directory = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(directory.path().join("base")).unwrap();
        std::fs::write(
            directory.path().join("base/Dockerfile"),
            "FROM 127.0.0.1:5000/upstream/busybox:1.36\n",
        )
        .unwrap();
        Scratch { directory }
    }

    fn path(&self, relative: &str) -> std::path::PathBuf {
        self.directory.path().join(relative)
    }

    fn fifo(&self, relative: &str) {
        let status = std::process::Command::new("mkfifo")
            .arg(self.path(relative))
            .status()
            .unwrap();
        assert!(status.success(), "mkfifo");
    }

    /// Loads `golden.toml` holding `bytes`, rendered with the directory hidden.
    fn rendered(&self, bytes: &[u8]) -> String {
        let config = self.path("golden.toml");
        std::fs::write(&config, bytes).unwrap();
        match crate::load::project(&config) {
            Ok(_) => panic!("expected problems in:\n{}", String::from_utf8_lossy(bytes)),
            Err(error) => error
                .to_string()
                .replace(&self.directory.path().display().to_string(), "<dir>"),
        }
    }
}

const SCRATCH_IMAGE: &str = "[images.base]\nversion = \"1.0\"\ncontext = \"base\"\n";

#[test]
fn a_ca_file_that_is_a_fifo_is_refused_without_opening_it() {
    let scratch = Scratch::new();
    scratch.fifo("ca.pem");
    // Opening the FIFO would block this test forever: no writer comes.
    let rendered =
        scratch.rendered(format!("{REGISTRY}ca_file = \"ca.pem\"\n{SCRATCH_IMAGE}").as_bytes());
    assert!(
        rendered.contains("is not a regular file (it is a FIFO)"),
        "{rendered}"
    );
    insta::assert_snapshot!("registry_ca_file_fifo", rendered);
}

#[test]
fn a_dockerfile_that_is_a_fifo_is_refused_without_opening_it() {
    let scratch = Scratch::new();
    std::fs::create_dir_all(scratch.path("piped")).unwrap();
    scratch.fifo("piped/Dockerfile");
    let rendered = scratch.rendered(
        format!("{REGISTRY}[images.piped]\nversion = \"1.0\"\ncontext = \"piped\"\n").as_bytes(),
    );
    assert!(
        rendered.contains("is not a regular file (it is a FIFO)"),
        "{rendered}"
    );
}

#[test]
fn a_context_in_a_symlink_loop_says_symlink_loop() {
    let scratch = Scratch::new();
    std::os::unix::fs::symlink("loop-b", scratch.path("loop-a")).unwrap();
    std::os::unix::fs::symlink("loop-a", scratch.path("loop-b")).unwrap();
    let rendered = scratch.rendered(
        format!("{REGISTRY}[images.looped]\nversion = \"1.0\"\ncontext = \"loop-a\"\n").as_bytes(),
    );
    assert!(rendered.contains("is a symlink loop"), "{rendered}");
    assert!(!rendered.contains("does not exist"), "{rendered}");
    insta::assert_snapshot!("context_symlink_loop", rendered);
}

#[test]
fn a_config_that_is_not_utf8_names_the_byte_offset_and_line() {
    let scratch = Scratch::new();
    let mut bytes = format!("{REGISTRY}{SCRATCH_IMAGE}").into_bytes();
    // `labels = { owner = "Jos\xe9" }`: Latin-1, as an old editor saves it.
    bytes.extend_from_slice(b"labels = { owner = \"Jos\xe9\" }\n");
    let rendered = scratch.rendered(&bytes);
    let offset = bytes.iter().position(|b| *b == 0xe9).unwrap();
    assert!(
        rendered.contains(&format!(
            "invalid byte 0xE9 at offset {offset} (line 7, column 24)"
        )),
        "{rendered}"
    );
    insta::assert_snapshot!("config_not_utf8", rendered);
    let utf16 = scratch.rendered(&[0xFF, 0xFE, b'[', 0]);
    assert!(utf16.contains("offset 0 (line 1, column 1)"), "{utf16}");
    assert!(utf16.contains("UTF-16"), "{utf16}");
}
