//! End to end: a build sends the engine only the context paths its
//! Dockerfile's `COPY` and `ADD` read, when golden can tell, and the whole
//! context when it cannot (here: an `ONBUILD` trigger in the base). The
//! recipe still covers the whole context either way.

use crate::support;

use std::path::Path;
use std::process::Command;

use support::{entry, one_image_config, reason_kinds, Golden, REGISTRY, SEED};

/// Bytes of the file the build does not copy.
const BIG: usize = 2 * 1024 * 1024;

fn namespace(name: &str) -> String {
    format!("e2e-sources-{name}-{}", std::process::id())
}

/// Writes `relative` under `root`, with its directories.
fn write(root: &Path, relative: &str, content: &[u8]) {
    let path = root.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

/// `golden ARGS` with debug logs: the run, checked for exit 0.
fn golden_debug(config: &Path, args: &[&str]) -> support::Run {
    Golden::at(config)
        .args(args)
        .env("DOCKER_BUILDKIT", "0")
        .env("RUST_LOG", "golden=debug")
        .run()
        .expect(0)
}

/// Entries and bytes of the one upload in `log` (its `sent the build
/// context` line).
fn sent(log: &str) -> (u64, u64) {
    let lines: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("sent the build context"))
        .collect();
    assert_eq!(lines.len(), 1, "{log}");
    let field = |name: &str| -> u64 {
        let start = lines[0]
            .find(&format!(" {name}="))
            .unwrap_or_else(|| panic!("no {name} in {}", lines[0]))
            + name.len()
            + 2;
        let rest = &lines[0][start..];
        let end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        rest[..end].parse().unwrap()
    };
    (field("sent_entries"), field("bytes"))
}

/// `docker run --rm IMAGE sh -c SCRIPT`: its stdout.
fn run_in(image: &str, script: &str) -> String {
    let output = Command::new("docker")
        .args([
            "run",
            "--rm",
            "--network",
            "none",
            image,
            "sh",
            "-c",
            script,
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "docker run {image} {script}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).to_string()
}

/// Removes the local images of `namespace` (best effort).
fn clean_local(namespace: &str) {
    support::engines::DockerCli::main().remove_tagged(namespace);
}

fn big() -> Vec<u8> {
    (0..BIG).map(|i| (i * 31 % 253) as u8).collect()
}

#[test]
fn only_what_the_dockerfile_copies_is_sent_and_the_recipe_covers_the_rest() {
    support::require_environment();
    let namespace = namespace("copied");
    let dockerfile = format!("FROM {SEED}\nCOPY small.txt /small.txt\nCOPY conf /etc/app\n");
    let (directory, config) = one_image_config(REGISTRY, &namespace, "app", &dockerfile, "");
    let context = directory.path().join("app");
    write(&context, "small.txt", b"small\n");
    write(&context, "big.bin", &big());
    write(&context, "conf/app.conf", b"port = 80\n");
    write(&context, "conf/sub/extra", b"extra\n");

    let run = golden_debug(&config, &["build", "--all"]);
    let (entries, bytes) = sent(&run.stderr);
    // small.txt, conf, conf/app.conf, conf/sub, conf/sub/extra; the
    // Dockerfile goes last and is not counted.
    assert_eq!(entries, 5, "{}", run.stderr);
    assert!(bytes < 64 * 1024, "{bytes} bytes sent\n{}", run.stderr);
    let image = format!("{REGISTRY}/{namespace}/app:1.0.0");
    support::docker(&["pull", "-q", &image]);
    let files = run_in(
        &image,
        "cat /small.txt /etc/app/app.conf /etc/app/sub/extra; test ! -e /big.bin && echo no-big",
    );
    assert_eq!(files, "small\nport = 80\nextra\nno-big\n");

    // The label is the recipe of the whole context, as observe hashes it:
    // the next run finds nothing due.
    let again = golden_debug(&config, &["build", "--all", "--output", "json"]).json();
    assert_eq!(again["totals"]["built"], 0, "{again}");
    // A file the build does not read still changes the recipe (SPEC: the
    // recipe covers the context's files).
    let mut changed = big();
    changed[7] ^= 1;
    write(&context, "big.bin", &changed);
    let plan = golden_debug(&config, &["plan", "--output", "json"]).json();
    assert_eq!(
        reason_kinds(&plan, "app"),
        ["recipe-changed"],
        "{}",
        entry(&plan, "app")
    );
    clean_local(&namespace);
}

#[test]
fn a_base_with_an_onbuild_trigger_gets_the_whole_context() {
    support::require_environment();
    let namespace = namespace("onbuild");
    // A base whose trigger copies the whole context of any build FROM it.
    let base = format!("{REGISTRY}/{namespace}-upstream/onbuild:1");
    let base_context = tempfile::tempdir().unwrap();
    write(
        base_context.path(),
        "Dockerfile",
        format!("FROM {SEED}\nONBUILD COPY . /app\n").as_bytes(),
    );
    let built = support::docker_build(
        Command::new("docker")
            .env("DOCKER_BUILDKIT", "0")
            .args(["build", "-q", "-t", &base])
            .arg(base_context.path()),
    );
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    support::docker(&["push", &base]);

    let dockerfile = format!("FROM {base}\nCOPY small.txt /small.txt\n");
    let (directory, config) = one_image_config(REGISTRY, &namespace, "app", &dockerfile, "");
    let context = directory.path().join("app");
    write(&context, "small.txt", b"small\n");
    write(&context, "big.bin", &big());

    let run = golden_debug(&config, &["build", "--all"]);
    let (entries, bytes) = sent(&run.stderr);
    assert_eq!(entries, 2, "big.bin and small.txt\n{}", run.stderr);
    assert!(bytes >= BIG as u64, "{bytes} bytes sent\n{}", run.stderr);
    assert!(
        run.stderr.contains("has ONBUILD triggers"),
        "{}",
        run.stderr
    );
    let image = format!("{REGISTRY}/{namespace}/app:1.0.0");
    support::docker(&["pull", "-q", &image]);
    let size = run_in(&image, "wc -c < /app/big.bin; cat /small.txt");
    assert_eq!(
        size.split_whitespace().collect::<Vec<_>>(),
        [&BIG.to_string(), "small"]
    );
    clean_local(&namespace);
}
