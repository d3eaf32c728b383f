//! The runner files in `contrib/` and the `Dockerfile` that packages golden:
//! each checked by its own validator where one exists (`systemd-analyze
//! verify`, a cron parser, a YAML parser) and run the way its runner would
//! run it, against the real engine and registry, with golden installed by
//! the file's own steps.

use crate::support;

use serde_norway::Value as Yaml;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use support::*;

pub(crate) fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub(crate) fn golden_binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_golden"))
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(root().join(relative))
        .unwrap_or_else(|e| panic!("read `{relative}`: {e}"))
}

pub(crate) fn yaml(relative: &str) -> Yaml {
    serde_norway::from_str(&read(relative))
        .unwrap_or_else(|e| panic!("`{relative}` is not valid YAML: {e}"))
}

pub(crate) fn text(value: &Yaml) -> &str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a string: {value:?}"))
}

fn strings(value: &Yaml) -> Vec<String> {
    value
        .as_sequence()
        .unwrap_or_else(|| panic!("not a list: {value:?}"))
        .iter()
        .map(|item| text(item).to_string())
        .collect()
}

/// Whether a shell line runs golden (not just names it in a path or URL).
fn runs_golden(line: &str) -> bool {
    line.split(|c: char| c.is_whitespace() || c == ';' || c == '&' || c == '|' || c == '(')
        .any(|word| word == "golden")
}

/// The system PATH without any directory that holds a `golden`, so only an
/// install step can put golden on it.
pub(crate) fn path_without_golden() -> String {
    let path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    path.split(':')
        .filter(|directory| !Path::new(directory).join("golden").exists())
        .collect::<Vec<_>>()
        .join(":")
}

pub(crate) fn sha256(path: &Path) -> String {
    let output = Command::new("sha256sum").arg(path).output().unwrap();
    assert!(output.status.success(), "sha256sum {}", path.display());
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

fn run_checked(command: &mut Command) -> String {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed\n--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).to_string()
}

fn git(directory: &Path, args: &[&str]) -> String {
    run_checked(
        Command::new("git")
            .args([
                "-c",
                "user.name=golden-tests",
                "-c",
                "user.email=tests@example.com",
            ])
            .args(args)
            .current_dir(directory),
    )
}

pub(crate) fn copy_directory(source: &Path, target: &Path) {
    std::fs::create_dir_all(target).unwrap();
    run_checked(
        Command::new("cp")
            .arg("-a")
            .arg(source.join("."))
            .arg(target),
    );
}

/// An application repository with one Dockerfile FROM `from`.
pub(crate) fn application(from: &str) -> tempfile::TempDir {
    let directory = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(directory.path().join("service")).unwrap();
    std::fs::write(
        directory.path().join("service/Dockerfile"),
        format!("FROM {from}\nCOPY . /app\n"),
    )
    .unwrap();
    directory
}

/// The five build results of a report, by image id.
pub(crate) fn decisions(report: &serde_json::Value) -> BTreeMap<String, String> {
    report["images"]
        .as_array()
        .unwrap_or_else(|| panic!("no images in the report: {report}"))
        .iter()
        .map(|image| {
            (
                image["id"].as_str().unwrap().to_string(),
                image["decision"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

pub(crate) fn read_report(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("no report at {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("report is not JSON ({e}):\n{text}"))
}

/// Asserts the offline stack's four images were built and pushed.
pub(crate) fn assert_stack_built(stack: &Stack, report: &serde_json::Value) {
    let decisions = decisions(report);
    for id in ["base", "runtime", "tools", "tools-lts"] {
        assert_eq!(
            decisions.get(id).map(String::as_str),
            Some("built"),
            "{id} in {report}"
        );
    }
    assert!(tags(&stack.repository("base")).contains(&"1.0.0".to_string()));
    assert!(tags(&stack.repository("tools")).contains(&"1.4.0".to_string()));
}

// ---------------------------------------------------------------- systemd

const UNITS: [&str; 3] = ["golden.service", "golden.timer", "golden-daemon.service"];

/// `systemd-analyze verify --root` over a tree holding the units, the
/// system's own units and the programs they start; returns its stderr.
fn verify_units(units: &[(&str, String)]) -> (bool, String) {
    let analyze = Command::new("systemd-analyze").arg("--version").output();
    assert!(
        analyze.is_ok_and(|o| o.status.success()),
        "`systemd-analyze` is missing: it verifies contrib/systemd; install it with `scripts/env` (Debian package `systemd`)"
    );
    let tree = tempfile::tempdir().unwrap();
    let units_directory = tree.path().join("etc/systemd/system");
    std::fs::create_dir_all(&units_directory).unwrap();
    std::fs::create_dir_all(tree.path().join("usr/lib/systemd")).unwrap();
    run_checked(
        Command::new("cp")
            .arg("-a")
            .arg("/usr/lib/systemd/system")
            .arg(tree.path().join("usr/lib/systemd/")),
    );
    for (name, content) in units {
        std::fs::write(units_directory.join(name), content).unwrap();
    }
    for (program, source) in [
        ("usr/local/bin/golden", golden_binary()),
        ("usr/bin/git", Path::new("/usr/bin/git")),
    ] {
        let target = tree.path().join(program);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(source, &target).unwrap();
    }
    let output = Command::new("systemd-analyze")
        .arg("verify")
        .arg(format!("--root={}", tree.path().display()))
        .args(units.iter().map(|(name, _)| name))
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).to_string(),
    )
}

/// `key=value` settings of one unit file, comments and sections left out.
fn settings(unit: &str) -> Vec<(String, String)> {
    unit.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with(['#', ';', '[']))
        .map(|line| {
            let (key, value) = line
                .split_once('=')
                .unwrap_or_else(|| panic!("not key=value: {line}"));
            (key.to_string(), value.to_string())
        })
        .collect()
}

fn setting<'a>(settings: &'a [(String, String)], key: &str) -> &'a str {
    settings
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {key}= in the unit"))
}

#[test]
fn systemd_units_pass_systemd_analyze_verify_without_a_warning() {
    let units: Vec<(&str, String)> = UNITS
        .iter()
        .map(|name| (*name, read(&format!("contrib/systemd/{name}"))))
        .collect();
    let (success, stderr) = verify_units(&units);
    assert!(
        success && stderr.trim().is_empty(),
        "systemd-analyze verify contrib/systemd: {stderr}"
    );

    // The validator must catch what broke the README's unit: an inline
    // comment after a value is a parse warning, and the setting is lost.
    let broken = units[0].1.replace(
        "TimeoutStopSec=30min",
        "TimeoutStopSec=30min # let it finish",
    );
    let (_, stderr) = verify_units(&[("golden.service", broken)]);
    assert!(
        stderr.contains("TimeoutStopSec") || stderr.contains("Failed to parse"),
        "an inline comment went unnoticed: {stderr}"
    );
}

#[test]
fn systemd_units_score_ok_in_systemd_analyze_security() {
    // `--threshold=25`: exit non-zero above 2.5, the top of "OK".
    for name in ["golden.service", "golden-daemon.service"] {
        let output = Command::new("systemd-analyze")
            .args(["security", "--offline=yes", "--threshold=25", "--no-pager"])
            .arg(root().join("contrib/systemd").join(name))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{name} is more exposed than 2.5:\n{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let overall = stdout
            .lines()
            .find(|line| line.contains("Overall exposure level"))
            .unwrap_or_else(|| panic!("no overall level:\n{stdout}"));
        assert!(overall.contains(" OK"), "{name}: {overall}");
    }
    // The registry password is a systemd credential, read from its file.
    let build = settings(&read("contrib/systemd/golden.service"));
    assert_eq!(
        setting(&build, "LoadCredential"),
        "registry-password:/etc/golden/registry-password"
    );
    // The daemon's status page is on loopback only.
    let daemon = settings(&read("contrib/systemd/golden-daemon.service"));
    assert!(
        setting(&daemon, "ExecStart").contains("--listen 127.0.0.1:"),
        "{daemon:?}"
    );
}

#[test]
fn systemd_units_run_golden_by_absolute_path_and_let_a_build_in_flight_finish() {
    let build = settings(&read("contrib/systemd/golden.service"));
    assert_eq!(setting(&build, "Type"), "oneshot");
    let exec = setting(&build, "ExecStart");
    assert!(
        exec.starts_with("/usr/local/bin/golden build --all --report /"),
        "{exec}"
    );
    let daemon = settings(&read("contrib/systemd/golden-daemon.service"));
    assert!(setting(&daemon, "ExecStart").starts_with("/usr/local/bin/golden daemon"));
    let timer = settings(&read("contrib/systemd/golden.timer"));
    assert_eq!(setting(&timer, "OnCalendar"), "hourly");

    for unit in [&build, &daemon] {
        // golden waits for the images in flight after SIGTERM; the second
        // signal's floating-tag wait alone takes up to 15 s.
        let stop = setting(unit, "TimeoutStopSec");
        let minutes: u64 = stop
            .strip_suffix("min")
            .and_then(|m| m.parse().ok())
            .unwrap_or_else(|| panic!("TimeoutStopSec={stop} is not in minutes"));
        assert!(minutes >= 10, "TimeoutStopSec={stop} cuts builds short");
        assert_eq!(setting(unit, "KillMode"), "mixed");
        for (key, value) in unit.iter() {
            assert!(!value.contains(" #"), "inline comment in {key}={value}");
        }
    }
    // The daemon's own flags are accepted by this golden.
    let arguments: Vec<&str> = setting(&daemon, "ExecStart").split_whitespace().collect();
    let output = Command::new(golden_binary())
        .args(&arguments[1..])
        .arg("--help")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{arguments:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

// ------------------------------------------------------------------- cron

struct CronFile {
    variables: BTreeMap<String, String>,
    jobs: Vec<(String, String, String)>, // (schedule, user, command)
}

fn parse_cron_file(text: &str) -> CronFile {
    let mut variables = BTreeMap::new();
    let mut jobs = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let first = line.split_whitespace().next().unwrap();
        if let Some((name, value)) = line.split_once('=').filter(|_| first.contains('=')) {
            variables.insert(name.trim().to_string(), value.trim().to_string());
            continue;
        }
        let mut parts = line.split_whitespace();
        let fields: Vec<&str> = parts.by_ref().take(6).collect();
        let command = parts.collect::<Vec<_>>().join(" ");
        assert!(
            fields.len() == 6 && !command.is_empty(),
            "not `MIN HOUR DOM MON DOW USER COMMAND`: {line}"
        );
        jobs.push((fields[..5].join(" "), fields[5].to_string(), command));
    }
    CronFile { variables, jobs }
}

#[test]
fn cron_line_has_five_fields_and_runs_golden_by_absolute_path_with_a_full_report() {
    let cron = parse_cron_file(&read("contrib/cron/golden"));
    assert_eq!(cron.jobs.len(), 1, "one job in contrib/cron/golden");
    let (schedule, user, command) = &cron.jobs[0];
    croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Disallowed)
        .build()
        .parse(schedule)
        .unwrap_or_else(|e| panic!("cron schedule `{schedule}`: {e}"));
    assert_eq!(user, "root", "/etc/cron.d lines name the user");
    // cron treats a bare % as a newline.
    assert!(!command.contains('%'), "{command}");
    assert!(
        command.contains("/usr/local/bin/golden build --all --report /"),
        "{command}"
    );
    assert!(
        command.ends_with(">> /var/log/golden/golden.log 2>&1"),
        "the whole output goes to a log file, not to a mail: {command}"
    );
    let path = cron.variables.get("PATH").expect("the cron file sets PATH");
    assert!(path.split(':').all(|d| d.starts_with('/')), "{path}");
    assert_eq!(
        cron.variables.get("SHELL").map(String::as_str),
        Some("/bin/sh")
    );
}

#[test]
fn cron_command_builds_from_a_checkout_and_keeps_the_whole_report_of_a_failed_run() {
    let stack = Stack::new("contrib_cron");
    stack.write(
        "images/broken/Dockerfile",
        &format!("FROM {SEED}\nRUN echo 'the last line before the failure' && exit 3\n"),
    );
    stack.append_config("\n[images.broken]\nversion = \"9.0\"\ncontext = \"images/broken\"\n");
    stack.commit();
    let work = tempfile::tempdir().unwrap();
    let checkout = work.path().join("golden-images");
    git(
        work.path(),
        &[
            "clone",
            "-q",
            &stack.path().display().to_string(),
            "golden-images",
        ],
    );
    let logs = work.path().join("log");
    std::fs::create_dir_all(&logs).unwrap();

    let cron = parse_cron_file(&read("contrib/cron/golden"));
    let command = cron.jobs[0]
        .2
        .replace("/srv/golden-images", &checkout.display().to_string())
        .replace(
            "/usr/local/bin/golden",
            &golden_binary().display().to_string(),
        )
        .replace("/var/log/golden", &logs.display().to_string());
    // cron's environment: its own few variables and the file's.
    let mut shell = Command::new(&cron.variables["SHELL"]);
    shell
        .arg("-c")
        .arg(&command)
        .env_clear()
        .env("HOME", work.path())
        .env("LOGNAME", "root")
        .env("PATH", &cron.variables["PATH"]);
    let status = shell.status().unwrap();
    assert_eq!(
        status.code(),
        Some(1),
        "the failed image fails the run: {command}"
    );

    let report = read_report(&logs.join("last-report.json"));
    let broken = entry(&report, "broken");
    assert_eq!(broken["decision"], "failed", "{report}");
    let error = broken["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("the last line before the failure"),
        "{error}"
    );
    assert_stack_built(&stack, &report);
    let log = std::fs::read_to_string(logs.join("golden.log")).unwrap();
    assert!(
        log.contains("broken") && log.contains("the last line before the failure"),
        "{log}"
    );
    stack.golden(&["clean"]);
}

// --------------------------------------------------------- GitHub Actions
// The workflows and golden's action are played in tests/e2e/github_action.rs.

/// Overrides that point the install step at the binary under test.
pub(crate) fn install_overrides() -> Vec<(&'static str, String)> {
    vec![
        (
            "GOLDEN_URL",
            format!("file://{}", golden_binary().display()),
        ),
        ("GOLDEN_SHA256", sha256(golden_binary())),
    ]
}

// ------------------------------------------------------------- the image

/// Local images the test made, removed when it ends.
struct LocalImages(Vec<String>);

impl Drop for LocalImages {
    fn drop(&mut self) {
        for image in &self.0 {
            let _ = Command::new("docker").args(["rmi", "-f", image]).output();
        }
    }
}

/// A base image for the Dockerfile made from this machine's files, since
/// nothing can be pulled: busybox-static for /bin/sh, and the shared
/// libraries the golden binary links (what debian:bookworm-slim carries
/// for a binary built on Debian 12).
fn make_base_image(tag: &str) {
    let rootfs = tempfile::tempdir().unwrap();
    for directory in ["bin", "etc", "tmp", "run", "root", "usr/local/bin"] {
        std::fs::create_dir_all(rootfs.path().join(directory)).unwrap();
    }
    std::fs::copy("/bin/busybox", rootfs.path().join("bin/busybox"))
        .expect("/bin/busybox (busybox-static, installed by scripts/env)");
    let applets = run_checked(Command::new("/bin/busybox").arg("--list"));
    for applet in applets.lines().filter(|a| *a != "busybox") {
        std::os::unix::fs::symlink("busybox", rootfs.path().join("bin").join(applet)).unwrap();
    }
    let libraries = run_checked(Command::new("ldd").arg(golden_binary()));
    for library in libraries
        .split_whitespace()
        .filter(|word| word.starts_with('/'))
    {
        let target = rootfs.path().join(library.trim_start_matches('/'));
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(library, &target).unwrap();
    }
    std::fs::write(
        rootfs.path().join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\n",
    )
    .unwrap();
    std::fs::write(rootfs.path().join("etc/group"), "root:x:0:\n").unwrap();
    let mut tar = Command::new("tar")
        .arg("-C")
        .arg(rootfs.path())
        .args(["-c", "."])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    run_checked(
        Command::new("docker")
            .args([
                "import",
                "--change",
                "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "-",
                tag,
            ])
            .stdin(tar.stdout.take().unwrap()),
    );
    assert!(
        tar.wait().unwrap().success(),
        "tar of the base image's rootfs"
    );
}

/// Builds the repository's Dockerfile FROM a base of the test's own, with
/// the legacy builder (no BuildKit, no network).
fn build_golden_image(name: &str) -> (String, LocalImages) {
    require_environment();
    let unique = format!("{name}-{}", std::process::id());
    let base = format!("golden-contrib-base:{unique}");
    let image = format!("golden-contrib:{unique}");
    let images = LocalImages(vec![image.clone(), base.clone()]);
    make_base_image(&base);
    // The build context is the repository, filtered by its .dockerignore;
    // with a target directory elsewhere, a copy of the two files and the
    // binary at the default BINARY path.
    let copy = tempfile::tempdir().unwrap();
    let (context, binary) = match golden_binary().strip_prefix(root()) {
        Ok(relative) => (root().to_path_buf(), relative.display().to_string()),
        Err(_) => {
            for file in ["Dockerfile", ".dockerignore"] {
                std::fs::copy(root().join(file), copy.path().join(file)).unwrap();
            }
            std::fs::create_dir_all(copy.path().join("target/release")).unwrap();
            std::fs::copy(golden_binary(), copy.path().join("target/release/golden")).unwrap();
            (
                copy.path().to_path_buf(),
                "target/release/golden".to_string(),
            )
        }
    };
    run_checked(
        Command::new("docker")
            .env("DOCKER_BUILDKIT", "0")
            .args(["build", "-q", "--network", "none", "-t", &image])
            .args(["--build-arg", &format!("BASE={base}")])
            .args(["--build-arg", &format!("BINARY={binary}")])
            .arg(&context),
    );
    (image, images)
}

#[test]
fn dockerfile_packages_golden_so_it_runs_in_the_image() {
    let (image, _images) = build_golden_image("version");
    let output = run_checked(Command::new("docker").args([
        "run",
        "--rm",
        "--network",
        "none",
        &image,
        "--version",
    ]));
    let expected = run_checked(Command::new(golden_binary()).arg("--version"));
    assert_eq!(output, expected);
    assert!(output.starts_with("golden "), "{output}");
    let entrypoint = run_checked(Command::new("docker").args([
        "image",
        "inspect",
        "--format",
        "{{json .Config.Entrypoint}}",
        &image,
    ]));
    assert_eq!(entrypoint.trim(), r#"["/usr/local/bin/golden"]"#);
    // Only the binary was sent: the context holds nothing else the image
    // could pick up, and the build used no network.
    let dockerignore = read(".dockerignore");
    assert!(
        dockerignore.lines().any(|l| l.trim() == "*"),
        "{dockerignore}"
    );
}

// -------------------------------------------------------------- GitLab CI

/// A job's `before_script` and `script` lines, in order.
fn gitlab_script(job: &Yaml) -> Vec<String> {
    let mut lines = Vec::new();
    for key in ["before_script", "script"] {
        if !job[key].is_null() {
            lines.extend(strings(&job[key]));
        }
    }
    lines
}

/// The job's variables (global, then the job's), then `overrides`.
fn gitlab_variables(
    pipeline: &Yaml,
    job: &Yaml,
    overrides: &[(&str, &str)],
) -> BTreeMap<String, String> {
    let mut variables = BTreeMap::new();
    for scope in [&pipeline["variables"], &job["variables"]] {
        if let Some(map) = scope.as_mapping() {
            for (key, value) in map {
                variables.insert(text(key).to_string(), text(value).to_string());
            }
        }
    }
    for (key, value) in overrides {
        variables.insert(key.to_string(), value.to_string());
    }
    variables
}

/// `$NAME` / `${NAME}` expanded from `variables`, as GitLab does in `image:`.
fn expand(value: &str, variables: &BTreeMap<String, String>) -> String {
    let mut result = value.to_string();
    for (key, replacement) in variables {
        result = result
            .replace(&format!("${{{key}}}"), replacement)
            .replace(&format!("${key}"), replacement);
    }
    result
}

/// The job's lines as one script the way the runner runs them: each line in
/// turn, the job failing at the first that fails.
fn gitlab_shell_script(lines: &[String]) -> String {
    let mut script = String::from("set -e\n");
    for line in lines {
        script.push_str(&format!(
            "echo '$ '{}\n{line}\n",
            shlex::try_quote(line).unwrap()
        ));
    }
    script
}

#[test]
fn gitlab_jobs_run_golden_build_and_check_with_golden_installed() {
    let build = yaml("contrib/gitlab-ci/golden-build.gitlab-ci.yml");
    let job = &build["golden-build"];
    assert_eq!(
        text(&job["image"]["name"]),
        "$GOLDEN_IMAGE",
        "the job runs in the golden image"
    );
    assert_eq!(
        strings(&job["image"]["entrypoint"]),
        [""],
        "the image's entrypoint is golden"
    );
    assert!(text(&build["variables"]["GOLDEN_IMAGE"]).contains("/golden:"));
    let lines = gitlab_script(job);
    assert!(
        lines.contains(&"golden build --all --report golden-report.json".to_string()),
        "{lines:?}"
    );
    assert_eq!(strings(&job["artifacts"]["paths"]), ["golden-report.json"]);
    assert_eq!(text(&job["artifacts"]["when"]), "always");

    let check = yaml("contrib/gitlab-ci/golden-check.gitlab-ci.yml");
    let lines = gitlab_script(&check["golden-check"]);
    let install = lines
        .iter()
        .position(|l| l.contains("$GOLDEN_URL"))
        .expect("a line that downloads golden");
    assert!(lines.iter().any(|l| l.contains("sha256sum -c")));
    let first_use = lines
        .iter()
        .position(|l| runs_golden(l))
        .expect("a line that runs golden");
    assert!(
        install < first_use,
        "golden runs before it is installed: {lines:?}"
    );
    assert!(lines.last().unwrap().ends_with(" check ."), "{lines:?}");
}

/// GitLab's docker executor, up to the image: a container on the host's
/// network with the engine's socket mounted and the checkout `project` at
/// CI_PROJECT_DIR, its working directory.
fn docker_executor(project: &Path) -> Command {
    const PROJECT: &str = "/builds/platform/golden-images";
    let mut command = Command::new("docker");
    command.args(["run", "--rm", "--network", "host"]);
    command.args(["-v", "/var/run/docker.sock:/var/run/docker.sock"]);
    command.args([
        "-v",
        &format!("{}:{PROJECT}", project.display()),
        "-w",
        PROJECT,
    ]);
    command.args(["-e", &format!("CI_PROJECT_DIR={PROJECT}"), "-e", "CI=true"]);
    command
}

#[test]
fn gitlab_build_job_runs_in_the_golden_image_and_builds_the_stack() {
    let stack = Stack::new("contrib_gitlab_build");
    let (image, _images) = build_golden_image("gitlab");
    let pipeline = yaml("contrib/gitlab-ci/golden-build.gitlab-ci.yml");
    let job = &pipeline["golden-build"];
    let variables = gitlab_variables(&pipeline, job, &[("GOLDEN_IMAGE", &image)]);
    let mut command = docker_executor(stack.path());
    for (key, value) in &variables {
        command.args(["-e", &format!("{key}={value}")]);
    }
    if let Some(entrypoint) = job["image"]["entrypoint"].as_sequence() {
        let entrypoint: Vec<&str> = entrypoint.iter().map(text).collect();
        command.arg(format!("--entrypoint={}", entrypoint.join(" ")));
    }
    command.arg(expand(text(&job["image"]["name"]), &variables));
    command.args(["sh", "-c", &gitlab_shell_script(&gitlab_script(job))]);
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "the job failed\n--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let report = read_report(&stack.path().join("golden-report.json"));
    assert_stack_built(&stack, &report);
    stack.golden(&["clean"]);
}

#[test]
fn gitlab_check_job_installs_golden_and_gates_on_the_dockerfiles() {
    let stack = Stack::new("contrib_gitlab_check");
    stack.commit();
    let pipeline = yaml("contrib/gitlab-ci/golden-check.gitlab-ci.yml");
    let job = &pipeline["golden-check"];
    let script = gitlab_shell_script(&gitlab_script(job));
    let run = |application: &Path| {
        shell_job(&script, application, |bin| {
            let overrides = install_overrides();
            let mut overrides: Vec<(&str, &str)> =
                overrides.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let repository = format!("file://{}", stack.path().display());
            overrides.push(("GOLDEN_IMAGES_REPO", &repository));
            overrides.push(("GOLDEN_BIN", bin));
            gitlab_variables(&pipeline, job, &overrides)
        })
    };

    let good = application(&format!("{}:1.0", stack.repository("base")));
    let (code, log) = run(good.path());
    assert_eq!(code, Some(0), "{log}");
    assert!(
        log.contains("golden 0.") || log.contains("golden "),
        "{log}"
    );

    let bad = application("docker.io/library/debian:12");
    let (code, log) = run(bad.path());
    assert_eq!(code, Some(1), "{log}");
    assert!(
        log.contains("service/Dockerfile:1:6") && log.contains("[not-golden]"),
        "{log}"
    );
}

/// Runs a GitLab job's `script` as a shell runner does, in `application`,
/// with the variables `variables` gives for the directory GOLDEN_BIN names
/// (on the PATH, as on the job's image): its exit code and log.
fn shell_job(
    script: &str,
    application: &Path,
    variables: impl Fn(&str) -> BTreeMap<String, String>,
) -> (Option<i32>, String) {
    let builds = tempfile::tempdir().unwrap();
    let bin = builds.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let output = Command::new("sh")
        .args(["-c", script])
        .current_dir(application)
        .env_clear()
        .envs(variables(&bin.display().to_string()))
        .env(
            "PATH",
            format!("{}:{}", bin.display(), path_without_golden()),
        )
        .env("HOME", builds.path())
        .env("CI_PROJECT_DIR", application)
        .env("CI_BUILDS_DIR", builds.path())
        .env("CI_JOB_ID", "4711")
        .output()
        .unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code(), log)
}

/// A GitLab CI/CD component template as GitLab includes it: its `spec:`
/// header's inputs (`given` over the defaults; an input without either is
/// an error, as in GitLab), then its jobs with `$[[ inputs.NAME ]]`
/// replaced.
fn gitlab_component(relative: &str, given: &[(&str, &str)]) -> Yaml {
    let source = read(relative);
    let (spec, jobs) = source
        .split_once("\n---\n")
        .expect("a spec header, then the jobs");
    let spec: Yaml = serde_norway::from_str(spec).unwrap();
    let mut inputs = BTreeMap::new();
    for (name, input) in spec["spec"]["inputs"].as_mapping().unwrap() {
        assert!(
            input["description"].as_str().is_some(),
            "{relative}: input {} says what it is",
            text(name)
        );
        if let Some(default) = input["default"].as_str() {
            inputs.insert(text(name).to_string(), default.to_string());
        }
    }
    for (name, value) in given {
        assert!(
            spec["spec"]["inputs"].get(*name).is_some(),
            "{relative} has no input {name}"
        );
        inputs.insert(name.to_string(), value.to_string());
    }
    let mut jobs = jobs.to_string();
    while let Some(start) = jobs.find("$[[") {
        let end = start + jobs[start..].find("]]").expect("a closed interpolation");
        let name = jobs[start + 3..end]
            .trim()
            .strip_prefix("inputs.")
            .expect("inputs.NAME")
            .trim()
            .to_string();
        let value = inputs
            .get(&name)
            .unwrap_or_else(|| panic!("{relative}: input `{name}` has no value"));
        jobs.replace_range(start..end + 2, value);
    }
    serde_norway::from_str(&jobs).unwrap()
}

/// The check component: the gate's exit status, and each finding in the
/// merge request's Code Quality report, which exists whatever the outcome.
#[test]
fn gitlab_check_component_gates_and_reports_code_quality() {
    let stack = Stack::new("contrib_gitlab_component_check");
    stack.commit();
    let install = install_overrides();
    let repository = format!("file://{}", stack.path().display());
    let pipeline = gitlab_component(
        "contrib/gitlab-ci/templates/check.yml",
        &[
            ("golden-url", &install[0].1),
            ("golden-sha256", &install[1].1),
            ("golden-images-repo", &repository),
        ],
    );
    let job = &pipeline["golden-check"];
    assert_eq!(
        text(&job["artifacts"]["reports"]["codequality"]),
        "gl-code-quality-report.json"
    );
    assert_eq!(text(&job["artifacts"]["when"]), "always");
    let script = gitlab_shell_script(&gitlab_script(job));
    let run = |application: &Path| {
        let (code, log) = shell_job(&script, application, |bin| {
            gitlab_variables(&Yaml::Null, job, &[("GOLDEN_BIN", bin)])
        });
        let report = read_report(&application.join("gl-code-quality-report.json"));
        (code, log, report)
    };
    let good = application(&format!("{}:1.0", stack.repository("base")));
    let (code, log, report) = run(good.path());
    assert_eq!(code, Some(0), "{log}");
    assert_eq!(report, serde_json::json!([]));
    let bad = application("docker.io/library/debian:12");
    let (code, log, report) = run(bad.path());
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains("[not-golden]"), "{log}");
    let issues = report.as_array().unwrap();
    assert_eq!(issues.len(), 1, "{report:#}");
    assert_eq!(issues[0]["check_name"], "not-golden");
    assert_eq!(issues[0]["location"]["lines"]["begin"], 1);
    let path = issues[0]["location"]["path"].as_str().unwrap();
    assert_eq!(path.trim_start_matches("./"), "service/Dockerfile");
}

/// The build component: in an image with golden and a shell, golden logs in
/// to its registry (htpasswd here) with the project's CI_REGISTRY_USER and
/// CI_REGISTRY_PASSWORD, and the engine pushes with them; without them the
/// registry refuses.
#[test]
fn gitlab_build_component_pushes_with_the_ci_registry_credentials() {
    let stack = Stack::new("contrib_gitlab_component_build");
    let directory = tempfile::tempdir().unwrap();
    let hash = bcrypt::hash_with_result("ci-registry-secret", 5)
        .unwrap()
        .format_for_version(bcrypt::Version::TwoA);
    std::fs::write(
        directory.path().join("htpasswd"),
        format!("gitlab-ci-token:{hash}\n"),
    )
    .unwrap();
    let registry = PrivateRegistry::start(&format!(
        "auth:\n  htpasswd:\n    realm: gitlab\n    path: {}/htpasswd\n",
        directory.path().display()
    ));
    let config = std::fs::read_to_string(stack.config()).unwrap();
    std::fs::write(
        stack.config(),
        config.replacen(
            &format!("host = \"{REGISTRY}\""),
            &format!("host = \"{}\"", registry.host()),
            1,
        ),
    )
    .unwrap();
    let (image, _images) = build_golden_image("gitlab-component");
    // The lines FROM the upstream (the stack's children name the shared
    // registry in their FROM lines).
    let pipeline = gitlab_component(
        "contrib/gitlab-ci/templates/build.yml",
        &[
            ("image", &image),
            ("command", "build base runtime --report golden-report.json"),
        ],
    );
    let job = &pipeline["golden-build"];
    let run = |password: &str| {
        let variables = gitlab_variables(&Yaml::Null, job, &[]);
        let mut command = docker_executor(stack.path());
        command.args(["-e", "CI_REGISTRY_USER=gitlab-ci-token"]);
        command.args(["-e", &format!("CI_REGISTRY_PASSWORD={password}")]);
        // GitLab expands `$CI_REGISTRY_USER` in variables: the shell does here.
        let mut script = String::new();
        for (key, value) in &variables {
            script.push_str(&format!("export {key}=\"{value}\"\n"));
        }
        script.push_str(&gitlab_shell_script(&gitlab_script(job)));
        let entrypoint: Vec<&str> = job["image"]["entrypoint"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(text)
            .collect();
        command.arg(format!("--entrypoint={}", entrypoint.join(" ")));
        command.arg(text(&job["image"]["name"]));
        command.args(["sh", "-c", &script]);
        command.output().unwrap()
    };
    let refused = run("not-the-secret");
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stdout);
    assert!(
        said.contains("refused the credentials of user `gitlab-ci-token`"),
        "{said}"
    );
    let output = run("ci-registry-secret");
    assert!(
        output.status.success(),
        "the job failed\n--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let report = read_report(&stack.path().join("golden-report.json"));
    assert_eq!(report["totals"]["built"], 2, "{report:#}");
    assert_eq!(report["totals"]["failed"], 0, "{report:#}");
    stack.golden(&["clean"]);
}

// ------------------------------------------------------------- Kubernetes

/// The pod and golden's container run unprivileged: not root, no
/// privilege escalation, a read-only root, no capabilities, bounded memory.
fn assert_unprivileged(pod: &Yaml, golden: &Yaml) {
    assert_eq!(pod["securityContext"]["runAsNonRoot"], Yaml::Bool(true));
    let security = &golden["securityContext"];
    assert_eq!(security["allowPrivilegeEscalation"], Yaml::Bool(false));
    assert_eq!(security["readOnlyRootFilesystem"], Yaml::Bool(true));
    assert_eq!(strings(&security["capabilities"]["drop"]), ["ALL"]);
    assert!(!text(&golden["resources"]["limits"]["memory"]).is_empty());
    assert!(!text(&golden["resources"]["requests"]["cpu"]).is_empty());
    // With a read-only root, the cache goes to a writable volume.
    let cache = golden["env"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|e| text(&e["name"]) == "XDG_CACHE_HOME")
        .expect("XDG_CACHE_HOME on a writable volume");
    assert!(text(&cache["value"]).starts_with("/work/"));
}

#[test]
fn kubernetes_daemon_deployment_probes_its_status_server() {
    let manifest = yaml("contrib/kubernetes/golden-daemon-deployment.yaml");
    assert_eq!(text(&manifest["kind"]), "Deployment");
    assert_eq!(manifest["spec"]["replicas"].as_u64(), Some(1));
    let pod = &manifest["spec"]["template"]["spec"];
    let golden = pod["containers"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|c| text(&c["name"]) == "golden")
        .expect("a container named golden");
    assert_unprivileged(pod, golden);
    let args = strings(&golden["args"]);
    assert_eq!(args[0], "daemon");
    let listen = args
        .iter()
        .position(|arg| arg == "--listen")
        .map(|at| args[at + 1].clone())
        .expect("--listen");
    let port = golden["ports"][0]["containerPort"].as_u64().unwrap();
    assert!(listen.ends_with(&format!(":{port}")), "{listen} vs {port}");
    assert_eq!(
        text(&golden["readinessProbe"]["httpGet"]["path"]),
        "/readyz"
    );
    assert_eq!(text(&golden["livenessProbe"]["httpGet"]["path"]), "/livez");
    // golden accepts the daemon's command line.
    let output = Command::new(golden_binary())
        .args(&args)
        .arg("--help")
        .output()
        .unwrap();
    assert!(output.status.success(), "{args:?}");
}

#[test]
fn kubernetes_cronjob_runs_golden_build_one_at_a_time() {
    let manifest = yaml("contrib/kubernetes/golden-cronjob.yaml");
    assert_eq!(text(&manifest["apiVersion"]), "batch/v1");
    assert_eq!(text(&manifest["kind"]), "CronJob");
    let spec = &manifest["spec"];
    let schedule = text(&spec["schedule"]);
    croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Disallowed)
        .build()
        .parse(schedule)
        .unwrap_or_else(|e| panic!("schedule `{schedule}`: {e}"));
    assert_eq!(schedule.split_whitespace().count(), 5);
    assert_eq!(text(&spec["concurrencyPolicy"]), "Forbid");
    let pod = &spec["jobTemplate"]["spec"]["template"]["spec"];
    assert_eq!(text(&pod["restartPolicy"]), "Never");
    let grace = pod["terminationGracePeriodSeconds"]
        .as_u64()
        .expect("a grace period");
    assert!(
        grace >= 600,
        "SIGKILL {grace}s after SIGTERM cuts builds short"
    );
    let containers = pod["containers"].as_sequence().unwrap();
    let golden = containers
        .iter()
        .find(|c| text(&c["name"]) == "golden")
        .expect("a container named golden");
    assert_unprivileged(pod, golden);
    assert!(text(&golden["image"]).contains("/golden:"));
    // The image's entrypoint is golden; args are its command line.
    assert_eq!(strings(&golden["args"])[..2], ["build", "--all"]);
    let engine = golden["env"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|e| text(&e["name"]) == "DOCKER_HOST")
        .expect("DOCKER_HOST names the engine");
    let socket = text(&engine["value"])
        .trim_start_matches("unix://")
        .to_string();
    let mounted = golden["volumeMounts"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|m| text(&m["mountPath"]) == socket)
        .expect("the engine's socket is mounted where DOCKER_HOST points");
    let volume = pod["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|v| v["name"] == mounted["name"])
        .unwrap();
    assert_eq!(text(&volume["hostPath"]["type"]), "Socket");
    // The working directory is the checkout the init container clones.
    let clone = strings(&pod["initContainers"][0]["args"]);
    assert_eq!(
        clone.last().map(String::as_str),
        golden["workingDir"].as_str()
    );
}

#[test]
fn the_deb_installs_into_a_scratch_root_with_man_pages_completions_and_units() {
    let work = tempfile::tempdir().unwrap();
    // A stripped copy packs in seconds; the package is what is checked.
    let binary = work.path().join("golden");
    std::fs::copy(golden_binary(), &binary).unwrap();
    assert!(Command::new("strip")
        .arg(&binary)
        .status()
        .unwrap()
        .success());
    let built = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/deb"))
        .arg(&binary)
        .arg(work.path().join("out"))
        .env("DEB_COMPRESSION", "gzip")
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "scripts/deb: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    let deb = String::from_utf8(built.stdout).unwrap().trim().to_string();
    let field = |name: &str| {
        let output = Command::new("dpkg-deb")
            .args(["--field", &deb, name])
            .output()
            .unwrap();
        String::from_utf8(output.stdout).unwrap().trim().to_string()
    };
    assert_eq!(field("Package"), "golden");
    assert_eq!(field("Version"), env!("CARGO_PKG_VERSION"));
    assert!(field("Depends").contains("git"), "--git-pull runs git");

    // dpkg itself installs it into an empty root.
    let root = work.path().join("root");
    for directory in ["info", "updates", "triggers"] {
        std::fs::create_dir_all(root.join("var/lib/dpkg").join(directory)).unwrap();
    }
    std::fs::write(root.join("var/lib/dpkg/status"), "").unwrap();
    let installed = Command::new("dpkg")
        .arg(format!("--root={}", root.display()))
        .args([
            "--force-script-chrootless",
            "--force-depends",
            "--log=/dev/null",
            "-i",
            &deb,
        ])
        .output()
        .unwrap();
    assert!(
        installed.status.success(),
        "dpkg -i: {}",
        String::from_utf8_lossy(&installed.stderr)
    );
    let version = Command::new(root.join("usr/bin/golden"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("golden "));
    for file in [
        "usr/share/man/man1/golden.1.gz",
        "usr/share/man/man1/golden-build.1.gz",
        "usr/share/man/man1/golden-daemon.1.gz",
        "usr/share/man/man5/golden.toml.5.gz",
        "usr/share/bash-completion/completions/golden",
        "usr/share/zsh/vendor-completions/_golden",
        "usr/share/fish/vendor_completions.d/golden.fish",
        "usr/share/doc/golden/copyright",
        "lib/systemd/system/golden.timer",
    ] {
        assert!(root.join(file).is_file(), "{file} is not installed");
    }
    for unit in ["golden.service", "golden-daemon.service"] {
        let text = std::fs::read_to_string(root.join("lib/systemd/system").join(unit)).unwrap();
        assert!(
            text.contains("ExecStart=/usr/bin/golden ") && !text.contains("/usr/local/bin/golden"),
            "{unit} runs the packaged binary:\n{text}"
        );
    }
    let listed = Command::new("dpkg")
        .arg(format!("--root={}", root.display()))
        .args(["-s", "golden"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&listed.stdout).contains("Status: install ok installed"),
        "{}",
        String::from_utf8_lossy(&listed.stdout)
    );
}

/// golden's own image, built by golden with contrib/image/golden.toml
/// (scripts/image): FROM scratch with the binary, the libraries it links,
/// the CA roots and a non-root user; its smoke test runs `golden
/// --version`; nothing else is in it (no shell); golden's labels are on it.
#[test]
fn goldens_own_image_is_built_by_golden_runs_as_non_root_and_holds_only_golden() {
    require_environment();
    let directory = tempfile::tempdir().unwrap();
    let namespace = format!("e2e-own-image-{}", std::process::id());
    for file in ["Dockerfile", ".dockerignore", "golden.toml"] {
        let text = read(&format!("contrib/image/{file}"));
        let text = text
            .replace(
                "host = \"registry.local:5000\"",
                &format!("host = \"{REGISTRY}\""),
            )
            .replace(
                "namespace = \"tools\"",
                &format!("namespace = \"{namespace}\""),
            );
        std::fs::write(directory.path().join(file), text).unwrap();
    }
    let config = directory.path().join("golden.toml");
    let built = Command::new(root().join("scripts/image"))
        .env("BINARY", golden_binary())
        .env("GOLDEN_IMAGE_CONFIG", &config)
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "scripts/image: {}{}",
        String::from_utf8_lossy(&built.stdout),
        String::from_utf8_lossy(&built.stderr)
    );
    let image = format!("{REGISTRY}/{namespace}/golden:0.1");
    assert_floating(
        &format!("{REGISTRY}/{namespace}/golden"),
        "0.1.0",
        &["0.1", "0", "latest"],
    );
    let version = run_checked(Command::new("docker").args([
        "run",
        "--rm",
        "--network",
        "none",
        &image,
        "--version",
    ]));
    assert!(version.starts_with("golden "), "{version}");
    let user = run_checked(Command::new("docker").args([
        "inspect",
        "--format",
        "{{.Config.User}}",
        &image,
    ]));
    assert_eq!(user.trim(), "65532:65532");
    let image_labels = labels(&format!("{REGISTRY}/{namespace}/golden"), "0.1.0");
    assert_eq!(image_labels["org.opencontainers.image.title"], "golden");
    assert_eq!(image_labels["org.opencontainers.image.licenses"], "MIT");
    assert!(
        image_labels.contains_key("io.golden.recipe"),
        "{image_labels:?}"
    );
    // Its files: the binary, the loader and libraries, the CA roots, the
    // user's files and three directories. No shell, nothing else.
    let container = run_checked(Command::new("docker").args(["create", &image]));
    let container = container.trim().to_string();
    let exported = Command::new("sh")
        .arg("-c")
        .arg(format!("docker export {container} | tar -t"))
        .output()
        .unwrap();
    run_checked(Command::new("docker").args(["rm", &container]));
    let mut files: Vec<String> = String::from_utf8_lossy(&exported.stdout)
        .lines()
        .filter(|path| !path.ends_with('/'))
        .map(str::to_string)
        .collect();
    files.sort();
    for file in &files {
        let allowed = file == "usr/local/bin/golden"
            || file.starts_with("lib/")
            || file.starts_with("lib64/")
            || ["etc/passwd", "etc/group", "etc/ssl/certs/ca-certificates.crt", "home/golden/.keep", "work/.keep"].contains(&file.as_str())
            // What the engine adds to every container's filesystem.
            || [".dockerenv", "etc/hostname", "etc/hosts", "etc/resolv.conf", "etc/mtab"].contains(&file.as_str())
            || file.starts_with("dev/")
            || file.starts_with("proc/")
            || file.starts_with("sys/");
        assert!(allowed, "{file} is in golden's image: {files:#?}");
    }
    assert!(
        files.iter().any(|file| file.starts_with("lib64/ld-linux")),
        "{files:#?}"
    );
    assert!(
        !files.iter().any(|file| file.ends_with("bin/sh")),
        "{files:#?}"
    );
    // The local images the build tagged.
    let _ = Command::new(golden_binary())
        .arg("-c")
        .arg(&config)
        .arg("clean")
        .output();
}
