//! Shared helpers of the end-to-end tests: a private copy of the offline
//! stack under its own registry namespace (so tests run in parallel), the
//! real `golden` binary, and registry checks through the distribution HTTP
//! API, never through golden.

pub mod engines;
pub mod oci;
pub mod proxy;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub const REGISTRY: &str = "127.0.0.1:5000";
pub const SEED: &str = "127.0.0.1:5000/upstream/busybox:1.36";
const MANIFEST_TYPES: &str = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json";

/// Fails with instructions when the engine or the registry is not up.
pub fn require_environment() {
    let engine = Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .output();
    let engine_ok = engine.as_ref().is_ok_and(|o| o.status.success());
    let registry_ok = ureq::get(&format!("http://{REGISTRY}/v2/")).call().is_ok();
    assert!(
        engine_ok && registry_ok,
        "end-to-end tests need a Docker Engine and a registry on {REGISTRY} (engine up: {engine_ok}, registry up: {registry_ok}); \
         start both with `scripts/env` (as root), then run the tests again"
    );
}

/// A private copy of `examples/offline` whose images live under a unique
/// namespace and start from a private copy of the upstream base.
pub struct Stack {
    pub directory: tempfile::TempDir,
    pub namespace: String,
}

/// `git ARGS` in `directory` with a test identity; its stdout, trimmed.
pub fn git(directory: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .arg("-C")
        .arg(directory)
        .args([
            "-c",
            "user.name=golden-tests",
            "-c",
            "user.email=tests@example.com",
        ])
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

impl Stack {
    /// Copies the offline stack for test `name`.
    pub fn new(name: &str) -> Stack {
        require_environment();
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let namespace = format!(
            "e2e-{}-{}-{}-{nanos}",
            name.replace('_', "-"),
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let directory = tempfile::tempdir().unwrap();
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/offline");
        let stack = Stack {
            directory,
            namespace,
        };
        copy_tree(&source, stack.path(), &|text| stack.rewrite(text));
        stack.push_upstream_copy();
        stack
    }

    pub fn path(&self) -> &Path {
        self.directory.path()
    }

    /// The private upstream reference that replaces the shared seed.
    pub fn upstream(&self) -> String {
        format!("{REGISTRY}/{}-upstream/busybox:1.36", self.namespace)
    }

    /// `<registry>/<namespace>/<name>`.
    pub fn repository(&self, name: &str) -> String {
        format!("{REGISTRY}/{}/{name}", self.namespace)
    }

    fn rewrite(&self, text: &str) -> String {
        text.replace(SEED, &self.upstream())
            .replace("golden-offline", &self.namespace)
    }

    fn push_upstream_copy(&self) {
        docker(&["pull", "-q", SEED]);
        docker(&["tag", SEED, &self.upstream()]);
        docker(&["push", &self.upstream()]);
    }

    /// Publishes a changed upstream image under the same tag, as an
    /// upstream security update would.
    pub fn update_upstream(&self, marker: &str) {
        build_and_push(
            &self.upstream(),
            &format!(
                "FROM {}\nRUN echo '{marker}' > /etc/upstream-patch\n",
                self.upstream()
            ),
        );
    }

    /// `<registry>/<namespace>-upstream/<name>`: a vendor's repository of
    /// this test's own (see [`Stack::publish_upstream`]).
    pub fn upstream_repository(&self, name: &str) -> String {
        format!("{REGISTRY}/{}-upstream/{name}", self.namespace)
    }

    /// Publishes `tag` of the vendor repository `name` (see
    /// [`Stack::upstream_repository`]), an image made FROM this test's
    /// upstream copy whose config sets `env` and `labels`, as a vendor
    /// publishes a release (`10.0.1-noble` with `ENV ASPNET_VERSION=10.0.1`).
    /// Returns its digest.
    pub fn publish_upstream(
        &self,
        name: &str,
        tag: &str,
        env: &[(&str, &str)],
        labels: &[(&str, &str)],
    ) -> String {
        let reference = format!("{}:{tag}", self.upstream_repository(name));
        let mut dockerfile = format!("FROM {}\n", self.upstream());
        for (key, value) in env {
            dockerfile.push_str(&format!("ENV {key}={value}\n"));
        }
        for (key, value) in labels {
            dockerfile.push_str(&format!("LABEL {key}=\"{value}\"\n"));
        }
        // A file of its own, so two releases never share a digest.
        dockerfile.push_str(&format!("RUN echo '{tag}' > /etc/upstream-release\n"));
        build_and_push(&reference, &dockerfile);
        let (repository, tag) = reference.rsplit_once(':').unwrap();
        digest(repository, tag).expect("the release just pushed resolves")
    }

    pub fn config(&self) -> PathBuf {
        self.path().join("golden.toml")
    }

    /// Appends text to golden.toml.
    pub fn append_config(&self, text: &str) {
        let mut config = std::fs::read_to_string(self.config()).unwrap();
        config.push_str(&self.rewrite(text));
        std::fs::write(self.config(), config).unwrap();
    }

    /// Writes a file inside the stack directory.
    pub fn write(&self, relative: &str, content: &str) {
        let path = self.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, self.rewrite(content)).unwrap();
    }

    /// Makes the stack a git checkout and returns its commit.
    pub fn commit(&self) -> String {
        let git = |args: &[&str]| git(self.path(), args);
        git(&["init", "-q"]);
        git(&["add", "-A"]);
        git(&["commit", "-q", "-m", "stack"]);
        git(&["rev-parse", "HEAD"])
    }

    /// Runs `golden -c <stack>/golden.toml ARGS`.
    pub fn golden(&self, args: &[&str]) -> Run {
        self.golden_with_env(args, &[])
    }

    pub fn golden_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut golden = Golden::at(&self.config()).args(args);
        for (key, value) in env {
            golden = golden.env(key, value);
        }
        golden.run()
    }

    /// Starts `golden -c <stack>/golden.toml ARGS` in the background.
    pub fn spawn_golden(&self, args: &[&str]) -> Running {
        Golden::at(&self.config()).args(args).spawn()
    }
}

/// A config of one image `id` (context `id/` holding `dockerfile`) in a new
/// directory, pushing to `host` under `namespace`; `extra` is appended.
pub fn one_image_config(
    host: &str,
    namespace: &str,
    id: &str,
    dockerfile: &str,
    extra: &str,
) -> (tempfile::TempDir, PathBuf) {
    let directory = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(directory.path().join(id)).unwrap();
    std::fs::write(directory.path().join(id).join("Dockerfile"), dockerfile).unwrap();
    let config = directory.path().join("golden.toml");
    std::fs::write(
        &config,
        format!("[registry]\nhost = \"{host}\"\nnamespace = \"{namespace}\"\n{extra}[images.{id}]\nversion = \"1.0\"\ncontext = \"{id}\"\n"),
    )
    .unwrap();
    (directory, config)
}

/// [`one_image_config`] of image `x` FROM the seed with `step` after it,
/// keeping one build per line (`[retention] keep = 1`), for prune tests.
pub fn prunable_config(host: &str, namespace: &str, step: &str) -> (tempfile::TempDir, PathBuf) {
    let (directory, config) =
        one_image_config(host, namespace, "x", &format!("FROM {SEED}\n{step}\n"), "");
    let text = std::fs::read_to_string(&config).unwrap() + "[images.x.retention]\nkeep = 1\n";
    std::fs::write(&config, text).unwrap();
    (directory, config)
}

/// Runs `golden -c CONFIG ARGS`.
pub fn golden_at(config: &Path, args: &[&str]) -> Run {
    Golden::at(config).args(args).run()
}

/// Starts `golden -c CONFIG ARGS` in the background.
pub fn spawn_golden(config: &Path, args: &[&str]) -> Running {
    Golden::at(config).args(args).spawn()
}

/// The tests' `XDG_STATE_HOME`, made private to this user.
pub fn state_home() -> PathBuf {
    use std::os::unix::fs::DirBuilderExt;
    let home = Path::new(env!("CARGO_TARGET_TMPDIR")).join("state");
    let _ = std::fs::DirBuilder::new().mode(0o700).create(&home);
    home
}

/// How long a golden run may take before the test kills it and fails: a
/// regression that hangs fails the suite instead of stalling it.
pub const RUN_LIMIT: Duration = Duration::from_secs(600);

/// One invocation of the real `golden` binary, the only place tests start
/// it: `-c CONFIG`, no `RUST_LOG` from the caller's environment, stdin
/// closed, and never waited on without a deadline.
pub struct Golden {
    command: Command,
}

impl Golden {
    /// `golden -c CONFIG`, its state directory (failing lines) under
    /// cargo's test scratch directory rather than the user's: each test's
    /// namespace has a file of its own there. A test of the state itself
    /// sets `XDG_STATE_HOME` or `STATE_DIRECTORY`.
    pub fn at(config: &Path) -> Golden {
        let mut command = Command::new(env!("CARGO_BIN_EXE_golden"));
        command
            .arg("-c")
            .arg(config)
            .env_remove("RUST_LOG")
            .env_remove("STATE_DIRECTORY")
            .env("XDG_STATE_HOME", state_home())
            .stdin(Stdio::null());
        Golden { command }
    }

    pub fn args<S: AsRef<std::ffi::OsStr>>(mut self, args: impl IntoIterator<Item = S>) -> Golden {
        self.command.args(args);
        self
    }

    pub fn env(mut self, key: &str, value: impl AsRef<std::ffi::OsStr>) -> Golden {
        self.command.env(key, value);
        self
    }

    /// A state directory of its own, empty: no line is held as failing
    /// by an earlier run's record. For tests whose subject is not the
    /// holding but that run a broken line again.
    pub fn forgetting_failures(self) -> Golden {
        use std::os::unix::fs::DirBuilderExt;
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let home = state_home().join(format!(
            "fresh-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::DirBuilder::new().mode(0o700).create(&home);
        self.env("XDG_STATE_HOME", home)
    }

    pub fn env_remove(mut self, key: &str) -> Golden {
        self.command.env_remove(key);
        self
    }

    pub fn current_dir(mut self, directory: &Path) -> Golden {
        self.command.current_dir(directory);
        self
    }

    /// Runs it on a pseudo-terminal of its own, as a person at a terminal
    /// would: `script` (util-linux) starts it with stdin, stdout and stderr
    /// on the terminal, and the [`Run`]'s stdout is what the terminal
    /// showed (lines end in `\r\n`). With `stderr_to`, stderr goes to that
    /// file instead, so the terminal shows stdout alone.
    pub fn in_terminal(self, stderr_to: Option<&Path>) -> Golden {
        let found = Command::new("script").arg("--version").output();
        assert!(
            found.is_ok_and(|o| o.status.success()),
            "terminal tests need `script` from util-linux (Debian: bsdutils); install it and run the tests again"
        );
        let mut words = vec![self.command.get_program().to_string_lossy().to_string()];
        words.extend(
            self.command
                .get_args()
                .map(|arg| arg.to_string_lossy().to_string()),
        );
        let mut line = shlex::try_join(words.iter().map(String::as_str)).unwrap();
        if let Some(path) = stderr_to {
            line.push_str(" 2>");
            line.push_str(&shlex::try_quote(&path.to_string_lossy()).unwrap());
        }
        let mut command = Command::new("script");
        command
            .args(["-qefc", &line, "/dev/null"])
            .stdin(Stdio::null());
        for (key, value) in self.command.get_envs() {
            match value {
                Some(value) => command.env(key, value),
                None => command.env_remove(key),
            };
        }
        if let Some(directory) = self.command.get_current_dir() {
            command.current_dir(directory);
        }
        Golden { command }
    }

    /// Runs to the end, at most [`RUN_LIMIT`].
    pub fn run(self) -> Run {
        self.run_within(RUN_LIMIT)
    }

    /// Runs to the end; kills it and fails the test after `limit`.
    pub fn run_within(self, limit: Duration) -> Run {
        self.spawn().finish_within(limit)
    }

    /// Starts it with stdout and stderr going to files of its own, so a
    /// test can watch what it says while it runs.
    pub fn spawn(mut self) -> Running {
        let directory = tempfile::tempdir().unwrap();
        let stdout = directory.path().join("stdout");
        let stderr = directory.path().join("stderr");
        let child = self
            .command
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("the golden binary starts");
        Running {
            child: Some(child),
            stdout,
            stderr,
            _directory: directory,
        }
    }
}

/// A golden process running in the background; killed if the test ends
/// before it does.
pub struct Running {
    child: Option<Child>,
    stdout: PathBuf,
    stderr: PathBuf,
    _directory: tempfile::TempDir,
}

impl Running {
    pub fn id(&self) -> u32 {
        self.child.as_ref().expect("still running").id()
    }

    /// What it wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Waits until its stderr says `text`; fails with what it said if it
    /// does not within `limit` or exits first.
    #[track_caller]
    pub fn wait_for_stderr(&mut self, text: &str, limit: Duration) {
        let said = try_wait_until(limit, || {
            if self.stderr().contains(text) {
                return Some(true);
            }
            let exited = self
                .child
                .as_mut()
                .is_none_or(|child| child.try_wait().unwrap().is_some());
            exited.then_some(false)
        });
        assert!(
            said == Some(true),
            "golden never said `{text}` ({})\n--- stderr\n{}",
            if said.is_none() {
                format!("waited {}s", limit.as_secs())
            } else {
                "it exited".to_string()
            },
            self.stderr()
        );
    }

    /// Whether it has exited (it is reaped then, the status kept for
    /// [`Running::finish`]).
    pub fn exited(&mut self) -> bool {
        self.child
            .as_mut()
            .is_none_or(|child| child.try_wait().unwrap().is_some())
    }

    /// Sends `signal` (`TERM`, `INT`, ...) with kill(1).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.id().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal} {}", self.id());
    }

    /// Kills it at once (SIGKILL, as a crash would) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Waits for it to exit, at most [`RUN_LIMIT`].
    pub fn finish(self) -> Run {
        self.finish_within(RUN_LIMIT)
    }

    /// Waits for it to exit; kills it and fails the test with its stderr
    /// after `limit`.
    pub fn finish_within(mut self, limit: Duration) -> Run {
        let mut child = self.child.take().expect("still running");
        let id = child.id();
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = sender.send(child.wait());
        });
        let status = match receiver.recv_timeout(limit) {
            Ok(status) => status.unwrap(),
            Err(_) => {
                let _ = Command::new("kill")
                    .args(["-KILL", &id.to_string()])
                    .status();
                let _ = receiver.recv();
                panic!(
                    "golden still ran after {}s and was killed\n--- stderr\n{}",
                    limit.as_secs(),
                    self.stderr()
                );
            }
        };
        Run {
            code: status.code().unwrap_or(-1),
            stdout: std::fs::read_to_string(&self.stdout).unwrap(),
            stderr: self.stderr(),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Polls `probe` (at 10 ms, backing off to 200 ms) until it returns
/// `Some`, at most `limit`; `None` if it never did.
pub fn try_wait_until<T>(limit: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + limit;
    let mut pause = Duration::from_millis(10);
    loop {
        if let Some(value) = probe() {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(pause.min(deadline.saturating_duration_since(Instant::now())));
        pause = (pause * 2).min(Duration::from_millis(200));
    }
}

/// [`try_wait_until`] that fails the test, naming `what` it waited for.
#[track_caller]
pub fn wait_until<T>(what: &str, limit: Duration, probe: impl FnMut() -> Option<T>) -> T {
    match try_wait_until(limit, probe) {
        Some(value) => value,
        None => panic!("timed out after {}s waiting for {what}", limit.as_secs()),
    }
}

/// The result of one golden run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Run {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).to_string(),
        }
    }
}

impl Run {
    /// Asserts the exit code, showing the output when it differs.
    pub fn expect(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// The stdout JSON report.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", self.stdout))
    }
}

/// The report entry of image `id`.
pub fn entry<'a>(report: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    report["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|image| image["id"] == id)
        .unwrap_or_else(|| panic!("no `{id}` in report {report:#}"))
}

/// The reason kinds of image `id`.
pub fn reason_kinds(report: &serde_json::Value, id: &str) -> Vec<String> {
    entry(report, id)["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|reason| reason["kind"].as_str().unwrap().to_string())
        .collect()
}

/// Runs `openssl ARGS` in `directory`, failing the test with its stderr.
pub fn openssl(directory: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(directory)
        .output()
        .expect("openssl is installed (scripts/env)");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Runs the `docker build` of `command`, again (at most three times in
/// all) when the classic builder chose a cached image that another test's
/// golden run removed before the build used it ("unable to find image
/// sha256:..."): tests build at once on one engine, and golden's tidy
/// removes the local tags of older builds.
pub fn docker_build(command: &mut Command) -> std::process::Output {
    let mut output = command.output().expect("the docker CLI runs");
    for _ in 0..2 {
        // golden's own rule for such a failure (`execute` retries it too).
        let vanished = golden::engine::EngineError::BuildFailed {
            image: String::new(),
            step: None,
            message: String::from_utf8_lossy(&output.stderr).into_owned(),
            tail: Vec::new(),
        }
        .is_vanished_image();
        if output.status.success() || !vanished {
            break;
        }
        output = command.output().expect("the docker CLI runs");
    }
    output
}

/// Builds `dockerfile` (classic builder, no context files) as `reference`
/// and pushes it.
pub fn build_and_push(reference: &str, dockerfile: &str) {
    let context = tempfile::tempdir().unwrap();
    std::fs::write(context.path().join("Dockerfile"), dockerfile).unwrap();
    let status = docker_build(
        Command::new("docker")
            .env("DOCKER_BUILDKIT", "0")
            .args(["build", "-q", "-t", reference])
            .arg(context.path()),
    );
    assert!(
        status.status.success(),
        "docker build: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    docker(&["push", "-q", reference]);
}

pub fn docker(args: &[&str]) {
    let output = Command::new("docker").args(args).output().unwrap();
    assert!(
        output.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The content of `path` in `image`, read by running `cat` in a container
/// without a network.
pub fn file_in_image(image: &str, path: &str) -> String {
    let output = Command::new("docker")
        .args(["run", "--rm", "--network", "none", image, "cat", path])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "cat {path} in {image}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Every file under `directory` (none if it does not exist).
fn walkdir_files(directory: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(directory) else {
        return Vec::new();
    };
    let mut files = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walkdir_files(&path));
        } else {
            files.push(path);
        }
    }
    files
}

fn copy_tree(source: &Path, target: &Path, rewrite: &dyn Fn(&str) -> String) {
    for entry in std::fs::read_dir(source).unwrap() {
        let entry = entry.unwrap();
        let destination = target.join(entry.file_name());
        let file_type = entry.file_type().unwrap();
        if file_type.is_dir() {
            std::fs::create_dir_all(&destination).unwrap();
            copy_tree(&entry.path(), &destination, rewrite);
        } else {
            let content = std::fs::read(entry.path()).unwrap();
            let content = match String::from_utf8(content) {
                Ok(text) => rewrite(&text).into_bytes(),
                Err(binary) => binary.into_bytes(),
            };
            std::fs::write(&destination, content).unwrap();
            let permissions = entry.metadata().unwrap().permissions();
            std::fs::set_permissions(&destination, permissions).unwrap();
        }
    }
}

/// The digest `repository:tag` resolves to in the registry, if it exists.
pub fn digest(repository: &str, tag: &str) -> Option<String> {
    let (host, path) = repository.split_once('/').unwrap();
    match ureq::head(&format!("http://{host}/v2/{path}/manifests/{tag}"))
        .set("Accept", MANIFEST_TYPES)
        .call()
    {
        Ok(response) => response.header("docker-content-digest").map(str::to_string),
        Err(ureq::Error::Status(404, _)) => None,
        Err(error) => panic!("registry HEAD {repository}:{tag}: {error}"),
    }
}

/// The ids of the engine's containers with label `label`: the running
/// ones, or all of them with `all`.
pub fn containers(label: &str, all: bool) -> Vec<String> {
    let mut args = vec!["ps", "-q", "--no-trunc", "--filter"];
    let filter = format!("label={label}");
    args.push(&filter);
    if all {
        args.push("-a");
    }
    let output = Command::new("docker").args(&args).output().unwrap();
    assert!(output.status.success(), "docker {args:?}");
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// Whether every tag of `tags` in `repository` names the manifest
/// `digest`; the error lists where each tag points instead.
pub fn tags_at(repository: &str, tags: &[&str], digest: &str) -> Result<(), String> {
    let found: Vec<(&str, Option<String>)> = tags
        .iter()
        .map(|tag| (*tag, self::digest(repository, tag)))
        .collect();
    if found.iter().all(|(_, at)| at.as_deref() == Some(digest)) {
        return Ok(());
    }
    let found: Vec<String> = found
        .iter()
        .map(|(tag, at)| format!("{tag} -> {}", at.as_deref().unwrap_or("(no such tag)")))
        .collect();
    Err(format!(
        "tags {tags:?} of {repository} should name {digest}; found {}",
        found.join(", ")
    ))
}

/// Asserts every tag of `tags` in `repository` names `digest`.
#[track_caller]
pub fn assert_tags_at(repository: &str, tags: &[&str], digest: &str) {
    if let Err(error) = tags_at(repository, tags, digest) {
        panic!("{error}");
    }
}

/// Asserts the exact tag `exact` of `repository` exists and each tag of
/// `floating` names the same manifest; returns its digest.
#[track_caller]
pub fn assert_floating(repository: &str, exact: &str, floating: &[&str]) -> String {
    let Some(at) = digest(repository, exact) else {
        panic!(
            "{repository}:{exact} does not exist; tags: {:?}",
            tags(repository)
        );
    };
    assert_tags_at(repository, floating, &at);
    at
}

/// The manifest `repository:tag` as stored: its bytes and media type.
pub fn manifest(repository: &str, tag: &str) -> (Vec<u8>, String) {
    let (host, path) = repository.split_once('/').unwrap();
    let response = ureq::get(&format!("http://{host}/v2/{path}/manifests/{tag}"))
        .set("Accept", MANIFEST_TYPES)
        .call()
        .unwrap_or_else(|e| panic!("registry GET {repository}:{tag}: {e}"));
    let media_type = response.content_type().to_string();
    let mut body = Vec::new();
    std::io::Read::read_to_end(&mut response.into_reader(), &mut body).unwrap();
    (body, media_type)
}

/// Stores `body` as the manifest `repository:tag`, as someone other than
/// golden would (a hand-made index, a retag).
pub fn put_manifest(repository: &str, tag: &str, body: &[u8], media_type: &str) {
    let (host, path) = repository.split_once('/').unwrap();
    ureq::put(&format!("http://{host}/v2/{path}/manifests/{tag}"))
        .set("Content-Type", media_type)
        .send_bytes(body)
        .unwrap_or_else(|e| panic!("registry PUT {repository}:{tag}: {e}"));
}

/// Tags the manifest of `repository:from` as `to` too, byte for byte.
pub fn retag(repository: &str, from: &str, to: &str) {
    let (body, media_type) = manifest(repository, from);
    put_manifest(repository, to, &body, &media_type);
}

/// Pushes `image` (a local image) as `repository:tag` with the docker CLI.
pub fn push_as(image: &str, repository: &str, tag: &str) {
    let target = format!("{repository}:{tag}");
    docker(&["tag", image, &target]);
    docker(&["push", "-q", &target]);
    docker(&["rmi", &target]);
}

/// The tags of `repository` that name images, sorted: every tag but the
/// referrers fallback indexes (`sha256-<hex>`) that list the artifacts
/// attached to a build (its SBOMs), which [`all_tags`] includes.
pub fn tags(repository: &str) -> Vec<String> {
    all_tags(repository)
        .into_iter()
        .filter(|tag| !is_fallback_tag(tag))
        .collect()
}

/// Whether `tag` is a referrers fallback tag: `sha256-` and 64 hex digits.
pub fn is_fallback_tag(tag: &str) -> bool {
    tag.strip_prefix("sha256-")
        .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Every tag of `repository`, sorted.
pub fn all_tags(repository: &str) -> Vec<String> {
    let (host, path) = repository.split_once('/').unwrap();
    match ureq::get(&format!("http://{host}/v2/{path}/tags/list")).call() {
        Ok(response) => {
            let body: serde_json::Value = response.into_json().unwrap();
            let mut tags: Vec<String> = body["tags"]
                .as_array()
                .map(|tags| {
                    tags.iter()
                        .map(|t| t.as_str().unwrap().to_string())
                        .collect()
                })
                .unwrap_or_default();
            tags.sort();
            tags
        }
        Err(ureq::Error::Status(404, _)) => Vec::new(),
        Err(error) => panic!("registry tags of {repository}: {error}"),
    }
}

/// The config labels of `repository:tag`, read from its config blob.
pub fn labels(repository: &str, tag: &str) -> BTreeMap<String, String> {
    let (host, path) = repository.split_once('/').unwrap();
    let manifest: serde_json::Value =
        ureq::get(&format!("http://{host}/v2/{path}/manifests/{tag}"))
            .set("Accept", MANIFEST_TYPES)
            .call()
            .unwrap()
            .into_json()
            .unwrap();
    let config = manifest["config"]["digest"].as_str().unwrap();
    let blob: serde_json::Value = ureq::get(&format!("http://{host}/v2/{path}/blobs/{config}"))
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    serde_json::from_value(blob["config"]["Labels"].clone()).unwrap()
}

/// A registry of the test's own on a free loopback port, which the test may
/// stop and start again (the shared one on 5000 is never touched).
pub struct PrivateRegistry {
    pub port: u16,
    directory: tempfile::TempDir,
    process: Option<std::process::Child>,
}

impl PrivateRegistry {
    /// Starts `docker-registry` with deletes enabled; `extra` is appended
    /// to its YAML config (auth, TLS).
    pub fn start(extra: &str) -> PrivateRegistry {
        PrivateRegistry::start_with(true, extra)
    }

    /// Starts `docker-registry` with `storage.delete.enabled` as given.
    pub fn start_with(deletes: bool, extra: &str) -> PrivateRegistry {
        require_environment();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let directory = tempfile::tempdir().unwrap();
        let config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: {deletes}\nhttp:\n  addr: 127.0.0.1:{port}\n{extra}",
            directory.path().join("data").display()
        );
        std::fs::write(directory.path().join("config.yml"), config).unwrap();
        let mut registry = PrivateRegistry {
            port,
            directory,
            process: None,
        };
        registry.resume();
        registry
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Starts the process again on the same storage and waits until it listens.
    pub fn resume(&mut self) {
        let log = std::fs::File::create(self.directory.path().join("registry.log")).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(self.directory.path().join("config.yml"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("docker-registry is installed by scripts/env");
        self.process = Some(child);
        let port = self.port;
        wait_until(
            &format!("the private registry to listen on port {port}"),
            Duration::from_secs(30),
            || {
                std::net::TcpStream::connect(("127.0.0.1", port))
                    .is_ok()
                    .then_some(())
            },
        );
    }

    /// Bytes the registry has received so far in unfinished blob uploads
    /// to `repository` (a path such as `golden/big`), read from its storage.
    pub fn upload_bytes(&self, repository: &str) -> u64 {
        let uploads = self
            .directory
            .path()
            .join("data/docker/registry/v2/repositories")
            .join(repository)
            .join("_uploads");
        walkdir_files(&uploads)
            .iter()
            .filter(|path| path.file_name().is_some_and(|name| name == "data"))
            .filter_map(|path| std::fs::metadata(path).ok())
            .map(|metadata| metadata.len())
            .sum()
    }

    /// Restarts the registry on the same storage in read-only maintenance
    /// mode (`storage.maintenance.readonly.enabled: true`).
    pub fn read_only(&mut self) {
        self.kill();
        let path = self.directory.path().join("config.yml");
        let config = std::fs::read_to_string(&path).unwrap().replacen(
            "storage:\n",
            "storage:\n  maintenance:\n    readonly:\n      enabled: true\n",
            1,
        );
        std::fs::write(&path, config).unwrap();
        self.resume();
    }

    /// Kills the process at once, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.process.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateRegistry {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A loopback HTTP proxy in front of a registry that can hold back tag
/// list requests: a second registry spelling (another port), and a run
/// made slow at the moment it re-reads the tags. One request per
/// connection (`Connection: close`), bodies passed through untouched.
pub struct DelayProxy {
    pub port: u16,
}

impl DelayProxy {
    /// Proxies to `upstream` (`host:port`); tag list requests whose path
    /// contains `path` are held for `delay` once `after` of them passed.
    pub fn start(
        upstream: &str,
        path: &str,
        after: usize,
        delay: std::time::Duration,
    ) -> DelayProxy {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let upstream = upstream.to_string();
        let path = path.to_string();
        let seen = std::sync::Arc::new(AtomicUsize::new(0));
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(mut client) = client else { continue };
                let (upstream, path, seen) = (upstream.clone(), path.clone(), seen.clone());
                std::thread::spawn(move || {
                    let Some(request) = proxy::read_request(&mut client) else {
                        return;
                    };
                    if request.target.contains(&path)
                        && seen.fetch_add(1, Ordering::SeqCst) >= after
                    {
                        std::thread::sleep(delay);
                    }
                    if let Some(server) = proxy::open_upstream(&client, &request, &upstream) {
                        proxy::pass_reply(server, client);
                    }
                });
            }
        });
        DelayProxy { port }
    }
}
