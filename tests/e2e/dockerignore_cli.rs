//! `.dockerignore` against the docker CLI itself: for each case of a corpus
//! of patterns over one tree of tricky names, the paths golden puts into
//! the build context must be exactly the paths `docker build`
//! (DOCKER_BUILDKIT=0) sends. The CLI talks to a stand-in engine on a unix
//! socket of the test's own that answers the ping and records the body of
//! `POST /build`: the tar the CLI made, before any engine touches it.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use golden::context::entries;

const FILES: &[&str] = &[
    "Dockerfile",
    "README.md",
    "a.txt",
    "b.txt",
    "!.txt",
    "c.log",
    "keep.log",
    "abc",
    "a.c",
    "axc",
    "a?c",
    "a]c",
    "a[b]c",
    "{a,b}",
    "xa",
    "x{a,b}",
    "foo",
    "foobar",
    "barfoo",
    "foo.bar",
    "foodir/inner",
    "# not a comment",
    ".hidden",
    ".git/config",
    "docs/README.md",
    "docs/guide.md",
    "docs/a/b.txt",
    "docs/img/logo.png",
    "src/main.rs",
    "src/lib.rs",
    "src/node_modules/x.js",
    "src/nested/deep/file.rs",
    "node_modules/y.js",
    "secret/public/x",
    "secret/private",
    "p/c",
    "p/d",
    "sub/keep.txt",
    "sub/drop.txt",
    "sub/inner/keep.txt",
    "dir with space/file one.txt",
    "build/app.Dockerfile",
    "build/notes.txt",
    "ünï/çødé.txt",
];

/// (what it shows, .dockerignore, Dockerfile)
const CASES: &[(&str, &str, &str)] = &[
    ("a star stays in its directory", "*.md", "Dockerfile"),
    ("**/ spans directories and none", "**/*.md", "Dockerfile"),
    ("a directory excludes its contents", "docs", "Dockerfile"),
    ("leading and trailing slashes", "/docs/", "Dockerfile"),
    ("a leading ./", "./docs\n./src/./lib.rs", "Dockerfile"),
    ("dir/* keeps the directory", "docs/*", "Dockerfile"),
    ("the last match wins", "*.log\n!keep.log", "Dockerfile"),
    ("an early exception loses", "!keep.log\n*.log", "Dockerfile"),
    (
        "an exception inside an excluded directory",
        "secret\n!secret/public",
        "Dockerfile",
    ),
    ("? is one character but not /", "a?c", "Dockerfile"),
    ("a range", "[a-b].txt", "Dockerfile"),
    ("[^x] is negation", "[^a].txt", "Dockerfile"),
    ("[!x] is the class of ! and x", "[!a].txt", "Dockerfile"),
    ("no {a,b} alternation", "{a,b}\nx{a,b}", "Dockerfile"),
    ("escapes", "a\\?c\na\\]c\na\\[b\\]c", "Dockerfile"),
    ("**name is a suffix", "**foo", "Dockerfile"),
    ("name** is a prefix", "foo**", "Dockerfile"),
    ("dir/** keeps the directory itself", "docs/**", "Dockerfile"),
    ("** excludes everything", "**", "Dockerfile"),
    ("**/name at any depth", "**/node_modules", "Dockerfile"),
    ("a name only at the top", "node_modules", "Dockerfile"),
    ("star over two levels", "*/*.rs\nsrc/**/*.rs", "Dockerfile"),
    (
        "an exception reopens its directory",
        "*\n!sub/keep.txt",
        "Dockerfile",
    ),
    (
        "an exception that does not start with the directory",
        "*\n!**/keep.txt",
        "Dockerfile",
    ),
    (
        "a parent's moot pattern is not inherited",
        "p/c\n!p",
        "Dockerfile",
    ),
    (
        "# starts a comment only in column one",
        "  # not a comment\n# a.txt\n",
        "Dockerfile",
    ),
    (
        "patterns are cleaned like filepath.Clean",
        "a/../b.txt\n../a.txt\ndocs/a/../img",
        "Dockerfile",
    ),
    ("spaces in names", "dir with space", "Dockerfile"),
    (
        "POSIX classes and a star inside a class",
        "[[:alpha:]].txt\na[*]c",
        "Dockerfile",
    ),
    (
        "escaped dots and other regexp characters",
        "foo.bar\n*.bar\nx{a,b}*",
        "Dockerfile",
    ),
    ("dot files and a BOM", "\u{feff}.git\n.h*", "Dockerfile"),
    ("non-ASCII names", "ünï/*.txt", "Dockerfile"),
    (
        "the Dockerfile and .dockerignore are always sent",
        "Dockerfile\n.dockerignore\n*.txt",
        "Dockerfile",
    ),
    (
        "a named Dockerfile in an excluded directory",
        "build\n*.md",
        "build/app.Dockerfile",
    ),
    (
        "exceptions and prefixes together",
        "sub\n!sub/inner\nsub/inner/keep.txt\n!*.log",
        "Dockerfile",
    ),
];

/// The stand-in engine: answers `/_ping`, sends back each build's body.
fn serve(listener: UnixListener, bodies: mpsc::Sender<Vec<u8>>) {
    for stream in listener.incoming() {
        let Ok(stream) = stream else { return };
        let bodies = bodies.clone();
        std::thread::spawn(move || {
            let _ = connection(stream, &bodies);
        });
    }
}

fn connection(stream: UnixStream, bodies: &mpsc::Sender<Vec<u8>>) -> std::io::Result<()> {
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    loop {
        let mut request = String::new();
        if reader.read_line(&mut request)? == 0 {
            return Ok(());
        }
        let mut length = 0usize;
        let mut chunked = false;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line)?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').unwrap_or((line, ""));
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse().unwrap_or(0),
                "transfer-encoding" => chunked = value.to_ascii_lowercase().contains("chunked"),
                _ => {}
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                let mut size = String::new();
                reader.read_line(&mut size)?;
                let size = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16)
                    .unwrap_or(0);
                let mut chunk = vec![0; size + 2];
                reader.read_exact(&mut chunk)?;
                if size == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..size]);
            }
        } else {
            body.resize(length, 0);
            reader.read_exact(&mut body)?;
        }
        let path = request.split(' ').nth(1).unwrap_or("");
        let reply = if path.contains("/_ping") {
            "OK"
        } else if path.contains("/build") {
            let _ = bodies.send(body);
            "{\"errorDetail\":{\"message\":\"recorded\"},\"error\":\"recorded\"}\n"
        } else {
            "{}"
        };
        let head = request.starts_with("HEAD");
        write!(
            writer,
            "HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nOstype: linux\r\nBuilder-Version: 1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{}",
            reply.len(),
            if head { "" } else { reply }
        )?;
        writer.flush()?;
    }
}

/// The paths in a tar, directories without their trailing `/`.
fn tar_paths(bytes: &[u8]) -> BTreeSet<String> {
    let mut archive = tar::Archive::new(bytes);
    archive
        .entries()
        .expect("the CLI sent a tar")
        .map(|entry| {
            let entry = entry.unwrap();
            let path = entry.path().unwrap().to_string_lossy().to_string();
            path.trim_end_matches('/').to_string()
        })
        .collect()
}

fn tree(root: &Path) {
    for file in FILES {
        let path = root.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, format!("{file}\n")).unwrap();
    }
}

/// What `docker build -f DOCKERFILE CONTEXT` sends, by the stand-in engine.
fn docker_sends(
    socket: &Path,
    bodies: &mpsc::Receiver<Vec<u8>>,
    context: &Path,
    dockerfile: &str,
    home: &Path,
) -> BTreeSet<String> {
    let output = Command::new("docker")
        .args(["build", "-q", "-f"])
        .arg(context.join(dockerfile))
        .arg(context)
        .env("DOCKER_HOST", format!("unix://{}", socket.display()))
        .env("DOCKER_BUILDKIT", "0")
        .env("DOCKER_CONFIG", home)
        .env_remove("DOCKER_CONTEXT")
        .env_remove("DOCKER_TLS_VERIFY")
        .output()
        .expect("the docker CLI runs");
    match bodies.recv_timeout(Duration::from_secs(30)) {
        Ok(body) => tar_paths(&body),
        Err(_) => panic!(
            "the docker CLI sent no build context\n--- stderr\n{}",
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}

fn golden_sends(context: &Path, dockerfile: &str) -> BTreeSet<String> {
    let (ignore, ignore_file) = golden::context::load_ignore_for(context, dockerfile).unwrap();
    entries(context, &ignore, &[dockerfile, ignore_file.as_str()])
        .unwrap()
        .into_iter()
        .map(|entry| entry.path)
        .collect()
}

struct Engine {
    dir: tempfile::TempDir,
    bodies: mpsc::Receiver<Vec<u8>>,
}

impl Engine {
    fn start() -> Engine {
        let dir = tempfile::tempdir().unwrap();
        let listener = UnixListener::bind(dir.path().join("engine.sock")).unwrap();
        let (sender, bodies) = mpsc::channel();
        std::thread::spawn(move || serve(listener, sender));
        std::fs::create_dir(dir.path().join("home")).unwrap();
        Engine { dir, bodies }
    }

    fn sends(&self, context: &Path, dockerfile: &str) -> BTreeSet<String> {
        docker_sends(
            &self.dir.path().join("engine.sock"),
            &self.bodies,
            context,
            dockerfile,
            &self.dir.path().join("home"),
        )
    }
}

fn difference(golden: &BTreeSet<String>, docker: &BTreeSet<String>) -> String {
    let only_golden: Vec<&String> = golden.difference(docker).collect();
    let only_docker: Vec<&String> = docker.difference(golden).collect();
    format!("only golden sends {only_golden:?}; only docker sends {only_docker:?}")
}

#[test]
fn golden_sends_what_the_docker_cli_sends() {
    let engine = Engine::start();
    let mut failures = Vec::new();
    for (what, patterns, dockerfile) in CASES {
        let context = tempfile::tempdir().unwrap();
        tree(context.path());
        std::fs::write(context.path().join(".dockerignore"), patterns).unwrap();
        let docker = engine.sends(context.path(), dockerfile);
        let golden = golden_sends(context.path(), dockerfile);
        if golden != docker {
            failures.push(format!(
                "{what} ({patterns:?}): {}",
                difference(&golden, &docker)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "golden and the docker CLI disagree:\n{}",
        failures.join("\n")
    );
}

/// A Dockerfile's own `<Dockerfile>.dockerignore` wins over the context's
/// `.dockerignore`: golden with the patterns there sends what the CLI
/// sends with the same patterns in `.dockerignore` (the ignore files
/// themselves aside, each side sending the one it reads).
#[test]
fn a_dockerfile_specific_ignore_file_wins() {
    let engine = Engine::start();
    let patterns = "*.md\nsub\n!sub/keep.txt\n";
    let golden_context = tempfile::tempdir().unwrap();
    tree(golden_context.path());
    std::fs::write(golden_context.path().join(".dockerignore"), "*.txt\nsrc\n").unwrap();
    std::fs::write(
        golden_context
            .path()
            .join("build/app.Dockerfile.dockerignore"),
        patterns,
    )
    .unwrap();
    let docker_context = tempfile::tempdir().unwrap();
    tree(docker_context.path());
    std::fs::write(docker_context.path().join(".dockerignore"), patterns).unwrap();
    let ignore_files = [".dockerignore", "build/app.Dockerfile.dockerignore"];
    let without = |set: BTreeSet<String>| -> BTreeSet<String> {
        set.into_iter()
            .filter(|path| !ignore_files.contains(&path.as_str()))
            .collect()
    };
    let golden = golden_sends(golden_context.path(), "build/app.Dockerfile");
    assert!(golden.contains("build/app.Dockerfile.dockerignore"));
    let golden = without(golden);
    let docker = without(engine.sends(docker_context.path(), "build/app.Dockerfile"));
    assert_eq!(golden, docker, "{}", difference(&golden, &docker));
    assert!(golden.contains("a.txt") && golden.contains("src/main.rs"));
}
