//! Input gaps in golden.toml and what it points at, end to end through the
//! real binary: each is a configuration error (exit 2) located in the file,
//! found before any connection, never a hang, or is handled as docker does.

use crate::support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::{labels, one_image_config, Golden, Run, REGISTRY};

const DOCKERFILE: &str = "FROM 127.0.0.1:5000/upstream/busybox:1.36\n";

/// `golden -c CONFIG ARGS`, killed after a minute: a regression that opens
/// a FIFO would otherwise hang the suite instead of failing it.
fn golden(config: &Path, args: &[&str]) -> Run {
    Golden::at(config)
        .args(args)
        .run_within(Duration::from_secs(60))
}

/// A registry namespace no other test uses.
fn namespace(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("e2e-{test}-{}-{nanos}", std::process::id())
}

/// `golden plan` exits 2 and says `expected`, located at `location`.
fn refused(config: &Path, expected: &[&str], location: &str) -> Run {
    let run = golden(config, &["plan"]).expect(2);
    for text in expected {
        assert!(run.stderr.contains(text), "no {text:?} in:\n{}", run.stderr);
    }
    assert!(
        run.stderr.contains(location),
        "not located at {location}:\n{}",
        run.stderr
    );
    assert!(run.stderr.contains("hint:"), "no hint:\n{}", run.stderr);
    assert!(run.stdout.is_empty(), "a plan was printed:\n{}", run.stdout);
    run
}

#[test]
fn a_registry_port_above_65535_is_a_config_error_not_a_connection_failure() {
    let (directory, config) = one_image_config("127.0.0.1:99999", "golden", "base", DOCKERFILE, "");
    let run = refused(
        &config,
        &["port 99999 of registry host `127.0.0.1:99999` is out of range: ports are 1 to 65535"],
        "golden.toml:2:8",
    );
    assert!(!run.stderr.contains("unreachable"), "{}", run.stderr);
    drop(directory);
}

#[test]
fn an_engine_port_above_65535_is_a_config_error_not_a_connection_failure() {
    let extra = "[engine]\nhost = \"tcp://127.0.0.1:70000\"\n";
    let (_directory, config) = one_image_config(REGISTRY, "golden", "base", DOCKERFILE, extra);
    refused(
        &config,
        &["engine host `tcp://127.0.0.1:70000`: port 70000 is out of range"],
        "golden.toml:5:8",
    );
}

#[test]
fn a_schedule_that_never_fires_is_refused_at_load() {
    let extra = "[defaults]\nschedule = \"0 0 30 2 *\"\n";
    let (_directory, config) = one_image_config(REGISTRY, "golden", "base", DOCKERFILE, extra);
    refused(
        &config,
        &["`0 0 30 2 *` never fires: February has no 30th"],
        "golden.toml:5:12",
    );
}

#[test]
fn a_config_that_is_not_utf8_names_the_offset_and_line_not_no_usable_config() {
    let (_directory, config) = one_image_config(REGISTRY, "golden", "base", DOCKERFILE, "");
    let mut bytes = std::fs::read(&config).unwrap();
    let offset = bytes.len() + "labels = { owner = \"Jos".len();
    bytes.extend_from_slice(b"labels = { owner = \"Jos\xe9\" }\n");
    std::fs::write(&config, &bytes).unwrap();
    let run = refused(
        &config,
        &[&format!(
            "the config file is not UTF-8: invalid byte 0xE9 at offset {offset} (line 7, column 24)"
        )],
        "golden.toml:7:24",
    );
    assert!(!run.stderr.contains("no usable config"), "{}", run.stderr);
}

#[test]
fn a_ca_file_that_is_a_fifo_is_refused_and_never_opened() {
    let extra = "ca_file = \"ca.pem\"\n";
    let (directory, config) = one_image_config(REGISTRY, "golden", "base", DOCKERFILE, extra);
    let status = Command::new("mkfifo")
        .arg(directory.path().join("ca.pem"))
        .status()
        .unwrap();
    assert!(status.success(), "mkfifo");
    refused(
        &config,
        &["ca.pem` is not a regular file (it is a FIFO)"],
        "golden.toml:4:11",
    );
}

#[test]
fn a_context_in_a_symlink_loop_says_symlink_loop_not_missing() {
    let (directory, config) = one_image_config(REGISTRY, "golden", "base", DOCKERFILE, "");
    std::fs::remove_dir_all(directory.path().join("base")).unwrap();
    std::os::unix::fs::symlink("base", directory.path().join("base")).unwrap();
    let run = refused(
        &config,
        &["base` of [images.base] is a symlink loop"],
        "golden.toml:6:11",
    );
    assert!(!run.stderr.contains("does not exist"), "{}", run.stderr);
}

#[test]
fn a_from_with_a_required_arg_unset_stops_with_its_message() {
    let dockerfile = "ARG BASE\nFROM ${BASE:?set BASE to the upstream image}\n";
    let (_directory, config) = one_image_config(REGISTRY, "golden", "base", dockerfile, "");
    refused(
        &config,
        &["line 2: build arg `BASE` is required: set BASE to the upstream image"],
        "base/Dockerfile:2:1",
    );
}

#[test]
fn a_label_key_with_an_equals_sign_is_refused_before_the_build_breaks() {
    let extra = "[defaults]\nlabels = { \"team=platform\" = \"x\" }\n";
    let (_directory, config) = one_image_config(REGISTRY, "golden", "base", DOCKERFILE, extra);
    refused(
        &config,
        &["label key `team=platform` in [defaults] contains `=`"],
        "golden.toml:5:12",
    );
}

#[test]
fn build_args_too_large_for_the_engine_name_the_key_and_the_limit() {
    let dockerfile = format!("ARG BIG\n{DOCKERFILE}");
    let (directory, config) = one_image_config(REGISTRY, "golden", "base", &dockerfile, "");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "build_args = {{ BIG = \"{}\" }}\n",
        "x".repeat(70_000)
    ));
    std::fs::write(&config, text).unwrap();
    refused(
        &config,
        &["build arg `BIG` in [images.base] takes 70003 bytes, more than the 65536 bytes"],
        "golden.toml:7:16",
    );
    drop(directory);
}

#[test]
fn a_ready_required_arg_and_a_defaulted_one_plan_as_docker_resolves_them() {
    support::require_environment();
    let dockerfile = "ARG BASE\nARG TAG\nFROM ${BASE:?set BASE}${TAG:-:1.36}\n";
    let namespace = namespace("required-arg-set");
    let (_directory, config) = one_image_config(
        REGISTRY,
        &namespace,
        "base",
        dockerfile,
        "insecure = true\n",
    );
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("build_args = { BASE = \"127.0.0.1:5000/upstream/busybox\" }\n");
    std::fs::write(&config, text).unwrap();
    let run = golden(&config, &["plan", "--output", "json"]).expect(0);
    let report = run.json();
    let image = support::entry(&report, "base");
    assert_eq!(image["decision"], "build", "{report}");
    assert_eq!(support::reason_kinds(&report, "base"), vec!["never-built"]);
}

#[test]
fn a_context_file_whose_name_is_not_utf8_is_named_not_reported_missing() {
    use std::os::unix::ffi::OsStrExt;
    support::require_environment();
    let namespace = namespace("context-name-not-utf8");
    let (directory, config) = one_image_config(
        REGISTRY,
        &namespace,
        "base",
        DOCKERFILE,
        "insecure = true\n",
    );
    let name = std::ffi::OsStr::from_bytes(b"caf\xe9.txt");
    std::fs::write(directory.path().join("base").join(name), "x").unwrap();
    let run = golden(&config, &["plan", "--wide"]);
    let text = format!("{}{}", run.stdout, run.stderr);
    assert!(
        text.contains("caf\u{FFFD}.txt`: its name is not UTF-8"),
        "{text}"
    );
    assert!(!text.contains("No such file"), "{text}");
    assert_ne!(run.code, 0, "{text}");

    // Left out with .dockerignore, it is no problem.
    std::fs::write(directory.path().join("base/.dockerignore"), "caf*\n").unwrap();
    golden(&config, &["plan"]).expect(0);
}

#[test]
fn label_values_with_line_breaks_quotes_and_dollars_arrive_exactly() {
    support::require_environment();
    let namespace = namespace("label-values");
    let extra = "insecure = true\n[defaults]\nlabels = { description = \"line one\\nline two\", note = \"say \\\"hi\\\" to $HOME and \\\\ back\" }\n";
    let (_directory, config) = one_image_config(REGISTRY, &namespace, "base", DOCKERFILE, extra);
    golden(&config, &["build", "--all"]).expect(0);
    let found = labels(&format!("{REGISTRY}/{namespace}/base"), "1.0.0");
    assert_eq!(found["description"], "line one\nline two");
    assert_eq!(found["note"], "say \"hi\" to $HOME and \\ back");
}

/// A config of `base` (its table given as `base_table`) and `app`, whose
/// Dockerfile is FROM the golden `base:1.0`.
fn parent_and_child(base_table: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let directory = tempfile::tempdir().unwrap();
    for (id, dockerfile) in [
        ("base", DOCKERFILE.to_string()),
        ("app", format!("FROM {REGISTRY}/golden/base:1.0\n")),
    ] {
        std::fs::create_dir_all(directory.path().join(id)).unwrap();
        std::fs::write(directory.path().join(id).join("Dockerfile"), dockerfile).unwrap();
    }
    let config = directory.path().join("golden.toml");
    std::fs::write(
        &config,
        format!("[registry]\nhost = \"{REGISTRY}\"\nnamespace = \"golden\"\n[images.base]\n{base_table}[images.app]\nversion = \"1.0\"\ncontext = \"app\"\n"),
    )
    .unwrap();
    (directory, config)
}

#[test]
fn a_key_typo_in_a_parent_image_is_one_error_not_also_an_unconfigured_image() {
    for (table, expected, location) in [
        (
            "verison = \"1.0\"\ncontext = \"base\"\n",
            "unknown key `verison` in [images.base]",
            "golden.toml:5:1",
        ),
        (
            "version = \"1.0\"\ncontxt = \"base\"\n",
            "unknown key `contxt` in [images.base]",
            "golden.toml:6:1",
        ),
    ] {
        let (_directory, config) = parent_and_child(table);
        let run = refused(&config, &[expected, "did you mean"], location);
        assert_eq!(run.stderr.matches("error:").count(), 1, "{}", run.stderr);
        assert!(run.stderr.contains("1 problem found"), "{}", run.stderr);
        assert!(
            !run.stderr.contains("not a configured image"),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn a_mistyped_schedule_nickname_suggests_the_closest() {
    let extra = "[defaults]\nschedule = \"@weakly\"\n";
    let (_directory, config) = one_image_config(REGISTRY, "golden", "base", DOCKERFILE, extra);
    refused(
        &config,
        &["unknown nickname `@weakly` (did you mean `@weekly`?)"],
        "golden.toml:5:12",
    );
}

#[test]
fn a_cron_field_out_of_range_is_named_with_its_range() {
    let extra = "[defaults]\nschedule = \"0 3 * * 8\"\n";
    let (_directory, config) = one_image_config(REGISTRY, "golden", "base", DOCKERFILE, extra);
    refused(
        &config,
        &["the day-of-week field is `8`, outside its range 0-7"],
        "golden.toml:5:12",
    );
}

#[test]
fn a_bad_duration_is_located_and_names_the_accepted_forms() {
    let extra = "[engine]\nprobe_timeout = \"5 sek\"\n";
    let (_directory, config) = one_image_config(REGISTRY, "golden", "base", DOCKERFILE, extra);
    refused(
        &config,
        &[
            "`5 sek` is not a duration: unknown unit `sek` (did you mean `sec`?)",
            "500ms, 30s, 5m, 1h30m",
        ],
        "golden.toml:5:17",
    );
}

#[test]
fn the_daemon_interval_takes_the_same_durations_as_the_config() {
    // No images: the daemon stops at the config, after its flags parsed.
    let directory = tempfile::tempdir().unwrap();
    let config = directory.path().join("golden.toml");
    std::fs::write(
        &config,
        format!("[registry]\nhost = \"{REGISTRY}\"\nnamespace = \"golden\"\n"),
    )
    .unwrap();
    for interval in ["1h30m", "500ms", "90", "5m"] {
        let run = golden(&config, &["daemon", "--interval", interval]).expect(2);
        assert!(
            run.stderr.contains("no golden images are configured"),
            "{interval}: {}",
            run.stderr
        );
    }
    let run = golden(&config, &["daemon", "--interval", "5x"]).expect(2);
    assert!(
        run.stderr
            .contains("invalid value '5x' for '--interval <INTERVAL>': `5x` is not a duration: unknown unit `x`; write a number and a unit such as 500ms, 30s, 5m, 1h30m"),
        "{}",
        run.stderr
    );
}
