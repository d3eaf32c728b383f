//! End to end: files golden reads and writes that someone else put there.
//! A cache directory another user can write is not used (golden runs as
//! root here, as the tests do) and nothing is written through the symlinks
//! planted in it; a cached manifest whose media type line was changed is
//! fetched again, so a tag move still works; a password file, golden.toml
//! or a `golden check` FILE that is a FIFO or a device is refused at once,
//! never opened blocking nor read without end; SARIF URIs are
//! percent-encoded from the file names' bytes.

use crate::support;

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use support::{digest, one_image_config, Golden, Run, REGISTRY, SEED};

/// The user another user's files belong to.
const NOBODY: u32 = 65534;

/// What golden warns, once, when it will not use a cache directory.
const NOT_USING: &str = "not using the cache directory";

fn namespace(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("e2e-hostile-files-{name}-{}-{nanos}", std::process::id())
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success(), "mkfifo {}", path.display());
}

/// One image FROM the seed, built once (without any disk cache) so the
/// registry has its tags.
fn built_project(name: &str) -> (tempfile::TempDir, PathBuf, String) {
    support::require_environment();
    let namespace = namespace(name);
    let (directory, config) =
        one_image_config(REGISTRY, &namespace, "base", &format!("FROM {SEED}\n"), "");
    Golden::at(&config)
        .args(["-q", "--no-cache-dir", "build", "--all"])
        .run()
        .expect(0);
    (directory, config, namespace)
}

/// Every directory of the disk cache under `home` (`XDG_CACHE_HOME`).
fn cache_levels(home: &Path) -> Vec<PathBuf> {
    let root = home.join("golden");
    let mut levels = vec![home.to_path_buf(), root.clone()];
    levels.extend(["manifests", "configs", "tags", "tag-lists"].map(|d| root.join(d)));
    levels
}

/// `golden -c CONFIG plan` with `XDG_CACHE_HOME=home`, started through a
/// shell that waits for `plant(pid)` before it execs golden: the pid is
/// golden's, so `plant` can put symlinks at the very temporary names
/// golden would pick (`.tmp-PID-N`).
fn plan_after_planting(config: &Path, home: &Path, plant: impl FnOnce(u32)) -> Run {
    let scratch = tempfile::tempdir().unwrap();
    let go = scratch.path().join("go");
    let (stdout, stderr) = (scratch.path().join("stdout"), scratch.path().join("stderr"));
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("while [ ! -e \"$0\" ]; do sleep 0.02; done; exec \"$@\"")
        .arg(&go)
        .arg(env!("CARGO_BIN_EXE_golden"))
        .arg("-c")
        .arg(config)
        .arg("plan")
        .env("XDG_CACHE_HOME", home)
        .env_remove("RUST_LOG")
        .env_remove("GOLDEN_NO_CACHE_DIR")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    plant(child.id());
    std::fs::write(&go, "").unwrap();
    let status = support::try_wait_until(Duration::from_secs(120), || child.try_wait().unwrap());
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "golden plan still ran after 120s\n{}",
            std::fs::read_to_string(&stderr).unwrap_or_default()
        );
    };
    Run {
        code: status.code().unwrap_or(-1),
        stdout: std::fs::read_to_string(&stdout).unwrap(),
        stderr: std::fs::read_to_string(&stderr).unwrap(),
    }
}

/// Makes `directory` another user's, writable by everyone.
fn hand_to_nobody(directory: &Path) {
    std::os::unix::fs::chown(directory, Some(NOBODY), Some(NOBODY)).unwrap();
    std::fs::set_permissions(directory, std::fs::Permissions::from_mode(0o777)).unwrap();
}

#[test]
fn root_writes_nothing_through_a_cache_directory_another_user_can_write() {
    let (directory, config, _) = built_project("planted");
    // Each case hands one level of the cache, and those below it, to
    // another user, who planted symlinks to root's secret file at every
    // temporary name golden could pick, in every level.
    for hostile in 0..cache_levels(Path::new("/")).len() {
        let home = directory.path().join(format!("cache-{hostile}"));
        let levels = cache_levels(&home);
        for level in &levels {
            std::fs::create_dir(level).unwrap();
            std::fs::set_permissions(level, std::fs::Permissions::from_mode(0o700)).unwrap();
        }
        // Subdirectories are below the root only, not below each other.
        let handed: Vec<&PathBuf> = match hostile {
            0 | 1 => levels[hostile..].iter().collect(),
            _ => vec![&levels[hostile]],
        };
        for level in &handed {
            hand_to_nobody(level);
        }
        let victim = directory.path().join(format!("victim-{hostile}"));
        std::fs::write(&victim, "root's secret\n").unwrap();
        std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o600)).unwrap();
        let run = plan_after_planting(&config, &home, |pid| {
            for level in &levels {
                for n in 0..64 {
                    let link = level.join(format!(".tmp-{pid}-{n}"));
                    std::os::unix::fs::symlink(&victim, &link).unwrap();
                    std::os::unix::fs::lchown(&link, Some(NOBODY), Some(NOBODY)).unwrap();
                }
            }
        })
        .expect(0);
        let shown = handed[0].display();
        assert_eq!(
            std::fs::read_to_string(&victim).unwrap(),
            "root's secret\n",
            "the file planted under `{shown}` was written through\n{}",
            run.stderr
        );
        assert_eq!(std::fs::metadata(&victim).unwrap().mode() & 0o7777, 0o600);
        assert_eq!(
            run.stderr.matches(NOT_USING).count(),
            1,
            "one warning about `{shown}`:\n{}",
            run.stderr
        );
        assert!(run.stderr.contains(&format!("`{shown}`")), "{}", run.stderr);
        // Nothing was written in the cache at all: only the planted links.
        for level in &levels {
            for entry in std::fs::read_dir(level).unwrap() {
                let entry = entry.unwrap();
                let kind = entry.file_type().unwrap();
                assert!(
                    kind.is_symlink() || kind.is_dir(),
                    "golden wrote `{}` in a cache directory it must not use",
                    entry.path().display()
                );
            }
        }
    }
}

#[test]
fn a_cache_directory_golden_creates_is_the_users_alone_at_every_level() {
    let (directory, config, _) = built_project("private");
    let home = directory.path().join("cache");
    let run = plan_after_planting(&config, &home, |_| {}).expect(0);
    assert!(!run.stderr.contains(NOT_USING), "{}", run.stderr);
    for level in cache_levels(&home) {
        let metadata = std::fs::symlink_metadata(&level).unwrap();
        assert!(metadata.is_dir(), "{}", level.display());
        assert_eq!(
            (metadata.uid(), metadata.mode() & 0o7777),
            (0, 0o700),
            "owner and mode of `{}`",
            level.display()
        );
    }
    let mut written = 0;
    for level in &cache_levels(&home)[2..] {
        for entry in std::fs::read_dir(level).unwrap() {
            let name = entry.unwrap().file_name();
            assert!(
                !name.to_string_lossy().starts_with(".tmp-"),
                "a temporary file was left in `{}`",
                level.display()
            );
            written += 1;
        }
    }
    assert!(written >= 4, "the plan filled the cache ({written} files)");
    // A second run uses it, with no warning either.
    let again = plan_after_planting(&config, &home, |_| {}).expect(0);
    assert!(!again.stderr.contains(NOT_USING), "{}", again.stderr);
}

#[test]
fn a_cached_manifest_whose_media_type_line_was_changed_is_fetched_again_and_a_rollback_works() {
    let (directory, config, namespace) = built_project("media-type");
    let home = directory.path().join("cache");
    let golden = |args: &[&str]| {
        Golden::at(&config)
            .env("XDG_CACHE_HOME", &home)
            .args(args)
            .run()
    };
    golden(&["-q", "rebuild", "base"]).expect(0);
    let repository = format!("{REGISTRY}/{namespace}/base");
    let first = digest(&repository, "1.0.0").unwrap();
    let second = digest(&repository, "1.0.1").unwrap();
    assert_eq!(digest(&repository, "1.0").as_ref(), Some(&second));
    golden(&["plan"]).expect(0);
    // Every cached manifest now claims to be an index: the first line is
    // what golden would send back as the Content-Type of a tag move.
    let manifests = home.join("golden/manifests");
    let mut changed = 0;
    for entry in std::fs::read_dir(&manifests).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let newline = bytes.iter().position(|&b| b == b'\n').unwrap();
        let mut corrupted = b"application/vnd.oci.image.index.v1+json".to_vec();
        corrupted.extend_from_slice(&bytes[newline..]);
        std::fs::write(&path, corrupted).unwrap();
        changed += 1;
    }
    assert!(changed >= 2, "both builds' manifests were cached");
    let rolled = golden(&["rollback", "base"]);
    assert_eq!(
        rolled.code, 0,
        "the rollback moved the tags with the registry's media type\n{}",
        rolled.stderr
    );
    assert!(
        !rolled.stderr.contains("MANIFEST_INVALID"),
        "{}",
        rolled.stderr
    );
    support::assert_tags_at(&repository, &["1.0", "1", "latest"], &first);
}

#[test]
fn a_cache_path_through_a_parent_component_is_refused_and_nothing_is_made_there() {
    // A registry that refuses connections: the cache is set up before.
    let (directory, config) =
        one_image_config("127.0.0.1:1", "e2e", "x", &format!("FROM {SEED}\n"), "");
    let home = directory.path().join("missing/../home");
    let run = Golden::at(&config)
        .args(["plan"])
        .env("XDG_CACHE_HOME", &home)
        .env_remove("GOLDEN_NO_CACHE_DIR")
        .run_within(Duration::from_secs(60));
    assert!(
        run.stderr.contains("has a `..` component")
            && run.stderr.contains("not using the cache directory"),
        "no warning about the `..` in the cache path:\n{}",
        run.stderr
    );
    assert!(
        !directory.path().join("missing").exists() && !directory.path().join("home").exists(),
        "golden made directories through the `..`"
    );
}

#[test]
fn a_password_file_that_is_not_a_regular_file_is_refused_without_being_opened() {
    let (directory, config) =
        one_image_config("127.0.0.1:1", "e2e", "x", &format!("FROM {SEED}\n"), "");
    let fifo = directory.path().join("password");
    mkfifo(&fifo);
    // A writer's open of a FIFO returns only once a reader has opened it:
    // it tells whether golden opened the file it refused.
    let (sender, receiver) = std::sync::mpsc::channel();
    let writer_path = fifo.clone();
    std::thread::spawn(move || {
        let writer = std::fs::OpenOptions::new().write(true).open(&writer_path);
        let _ = sender.send(writer.is_ok());
    });
    std::thread::sleep(Duration::from_millis(200));
    let run = quick(
        &config,
        &["plan"],
        &[
            ("GOLDEN_REGISTRY_USERNAME", "ci"),
            ("GOLDEN_REGISTRY_PASSWORD_FILE", fifo.to_str().unwrap()),
        ],
    );
    assert!(
        run.stderr.contains("is not a regular file (it is a FIFO)"),
        "{}",
        run.stderr
    );
    let opened = receiver.recv_timeout(Duration::from_millis(500)).is_ok();
    // Let the writer go.
    let _reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .unwrap();
    assert!(!opened, "golden opened the FIFO it refused");
}

/// Runs `golden ARGS` with `env`, failing the test if it takes over 20s.
fn quick(config: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut golden = Golden::at(config)
        .args(args)
        .env("GOLDEN_NO_CACHE_DIR", "1");
    for (key, value) in env {
        golden = golden.env(key, value);
    }
    golden.run_within(Duration::from_secs(20))
}

#[test]
fn a_password_file_that_is_a_fifo_or_dev_zero_is_refused_at_once() {
    support::require_environment();
    let (directory, config) = one_image_config(
        REGISTRY,
        &namespace("password"),
        "base",
        &format!("FROM {SEED}\n"),
        "",
    );
    let fifo = directory.path().join("password");
    mkfifo(&fifo);
    let zero = directory.path().join("zero");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    // The FIFO first: before the fix it hangs, and the test stops there
    // instead of reading /dev/zero into memory.
    for (file, kind) in [(&fifo, "a FIFO"), (&zero, "a character device")] {
        let path = file.to_str().unwrap();
        let run = quick(
            &config,
            &["plan"],
            &[
                ("GOLDEN_REGISTRY_USERNAME", "ci"),
                ("GOLDEN_REGISTRY_PASSWORD_FILE", path),
            ],
        );
        assert_ne!(run.code, 0, "{}", run.stderr);
        let expected = format!("the password file `{path}`");
        assert!(
            run.stderr.contains(&expected)
                && run
                    .stderr
                    .contains(&format!("is not a regular file (it is {kind})")),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn a_config_that_is_a_fifo_is_refused_and_the_daemon_ticks_on_and_stops() {
    support::require_environment();
    let (directory, config) = one_image_config(
        REGISTRY,
        &namespace("fifo"),
        "base",
        &format!("FROM {SEED}\n"),
        "",
    );
    let fifo = directory.path().join("fifo.toml");
    mkfifo(&fifo);
    let run = quick(&fifo, &["plan"], &[]).expect(2);
    assert!(
        run.stderr.contains(&format!(
            "the config file `{}` is not a regular file (it is a FIFO)",
            fifo.display()
        )),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("must be a regular file"),
        "{}",
        run.stderr
    );

    // The daemon: golden.toml replaced by a FIFO while it runs skips
    // ticks, the next tick after it is restored runs, and SIGTERM stops it.
    let mut daemon = Golden::at(&config)
        .env("GOLDEN_NO_CACHE_DIR", "1")
        .args(["daemon", "--interval", "1s", "--listen", "127.0.0.1:0"])
        .spawn();
    daemon.wait_for_stderr("tick: 1 up to date", Duration::from_secs(120));
    let address = daemon
        .stderr()
        .split_whitespace()
        .find_map(|word| {
            let rest = word.trim_matches('"').strip_prefix("http://")?;
            Some(format!("http://{}", rest.trim_end_matches('/')))
        })
        .expect("the daemon says where it serves");
    let text = std::fs::read(&config).unwrap();
    std::fs::remove_file(&config).unwrap();
    mkfifo(&config);
    daemon.wait_for_stderr(
        "is not a regular file (it is a FIFO)",
        Duration::from_secs(20),
    );
    let before = daemon.stderr().matches("tick: 1 up to date").count();
    std::fs::remove_file(&config).unwrap();
    std::fs::write(&config, text).unwrap();
    let ticked = support::try_wait_until(Duration::from_secs(60), || {
        (daemon.stderr().matches("tick: 1 up to date").count() > before).then_some(())
    });
    assert!(
        ticked.is_some(),
        "no tick ran within 60s of the config coming back\n{}",
        daemon.stderr()
    );
    let health = healthz(&address);
    assert!(
        health.starts_with("ok: "),
        "/healthz after the config came back: {health}"
    );
    daemon.signal("TERM");
    let run = daemon.finish_within(Duration::from_secs(30));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("daemon stopped"), "{}", run.stderr);
}

/// The body of `GET ADDRESS/healthz`, whatever its status.
fn healthz(address: &str) -> String {
    let url = format!("{address}/healthz");
    match ureq::get(&url).timeout(Duration::from_secs(10)).call() {
        Ok(response) => response.into_string().unwrap(),
        Err(ureq::Error::Status(code, response)) => {
            format!("{code} {}", response.into_string().unwrap())
        }
        Err(error) => panic!("GET {url}: {error}"),
    }
}

#[test]
fn golden_check_of_a_symlink_to_dev_zero_says_it_is_not_a_regular_file() {
    support::require_environment();
    let (directory, config) = one_image_config(
        REGISTRY,
        &namespace("check"),
        "base",
        &format!("FROM {SEED}\n"),
        "",
    );
    let link = directory.path().join("Dockerfile.zero");
    std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
    let fifo = directory.path().join("Dockerfile.fifo");
    mkfifo(&fifo);
    for (file, kind) in [(&link, "a character device"), (&fifo, "a FIFO")] {
        let run = quick(&config, &["check", file.to_str().unwrap()], &[]).expect(2);
        assert!(
            run.stderr.contains(&format!(
                "`{}` is not a regular file (it is {kind})",
                file.display()
            )),
            "{}",
            run.stderr
        );
        assert!(!run.stderr.contains("does not exist"), "{}", run.stderr);
    }
}

#[test]
fn sarif_uris_point_at_files_with_spaces_hashes_percents_and_bytes_not_utf8() {
    support::require_environment();
    let (directory, config) = one_image_config(
        REGISTRY,
        &namespace("sarif"),
        "base",
        &format!("FROM {SEED}\n"),
        "",
    );
    let apps = directory.path().join("apps");
    let names: [(&[u8], &str); 3] = [
        (b"my app", "my%20app"),
        (b"c#%20", "c%23%2520"),
        (b"caf\xe9", "caf%E9"),
    ];
    for (name, _) in names {
        let dir = apps.join(std::ffi::OsStr::from_bytes(name));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("Dockerfile"), "FROM alpine:3\n").unwrap();
    }
    let run = Golden::at(&config)
        .current_dir(directory.path())
        .args(["check", "apps", "--output", "sarif"])
        .run_within(Duration::from_secs(20))
        .expect(1);
    let sarif: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let mut uris: Vec<String> = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|result| {
            result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    uris.sort();
    let mut expected: Vec<String> = names
        .iter()
        .map(|(_, encoded)| format!("apps/{encoded}/Dockerfile"))
        .collect();
    expected.sort();
    assert_eq!(uris, expected, "{}", run.stdout);
}
