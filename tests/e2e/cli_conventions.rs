//! The conventions of the command line that need no engine or registry:
//! shell completions, the man page, `--version`, options from the
//! environment and the README table of them.

use std::path::Path;
use std::process::{Command, Output, Stdio};

/// The real binary with no `GOLDEN_*` variables from the caller.
fn golden(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_golden"));
    command.args(args).stdin(Stdio::null());
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("GOLDEN_") {
            command.env_remove(key);
        }
    }
    command
}

fn run(mut command: Command) -> Output {
    command.output().expect("the golden binary starts")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `source <(golden completions bash)`, then what bash's completion
/// function puts in COMPREPLY for `golden WORDS...` (the last word the one
/// being completed), run in `directory` with golden on the PATH.
fn bash_completes(directory: &Path, words: &[&str]) -> Vec<String> {
    let output = run(golden(&["completions", "bash"]));
    assert!(output.status.success(), "{output:?}");
    let scratch = tempfile::tempdir().unwrap();
    let script = scratch.path().join("golden.bash");
    std::fs::write(&script, &output.stdout).unwrap();
    let binary = Path::new(env!("CARGO_BIN_EXE_golden")).parent().unwrap();
    let line: Vec<String> = std::iter::once("golden")
        .chain(words.iter().copied())
        .map(|word| format!("'{word}'"))
        .collect();
    let probe = format!(
        "set -e; export PATH='{}':\"$PATH\"; source '{}'; COMP_WORDS=({}); COMP_CWORD={}; COMP_TYPE=9; \
         _clap_complete_golden golden {} {}; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        binary.display(),
        script.display(),
        line.join(" "),
        words.len(),
        line.last().unwrap(),
        line[line.len() - 2],
    );
    let mut command = Command::new("bash");
    command.arg("-c").arg(probe).current_dir(directory);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("GOLDEN_") {
            command.env_remove(key);
        }
    }
    let completed = command.output().unwrap();
    assert!(completed.status.success(), "{completed:?}");
    stdout(&completed)
        .lines()
        .map(|line| line.trim().to_string())
        .filter(|line| !line.is_empty())
        .collect()
}

#[test]
fn bash_completion_sources_and_completes_a_subcommand() {
    assert_eq!(bash_completes(Path::new("/"), &["pl"]), ["plan"]);
}

/// Image ids come from the golden.toml the command line would use: the
/// nearest one, or the one `-c` names.
#[test]
fn bash_completion_completes_image_ids_from_golden_toml() {
    let offline = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/offline");
    assert_eq!(
        bash_completes(&offline, &["rebuild", "t"]),
        ["tools", "tools-lts"]
    );
    assert_eq!(
        bash_completes(&offline.join("images"), &["inspect", "ru"]),
        ["runtime"],
        "from a directory below the config"
    );
    let config = offline.join("golden.toml");
    let config = config.to_str().unwrap();
    assert_eq!(
        bash_completes(Path::new("/"), &["-c", config, "diff", "ba"]),
        ["base"],
        "-c names the config"
    );
    assert!(
        bash_completes(Path::new("/"), &["rebuild", "t"]).is_empty(),
        "no golden.toml, no ids"
    );
}

#[test]
fn completions_and_the_manual_need_no_config() {
    // A new shell sources completions from wherever it starts: `/` has
    // no golden.toml above it.
    for args in [["completions", "bash"].as_slice(), ["man"].as_slice()] {
        let mut command = golden(args);
        command.current_dir("/").env_remove("GOLDEN_CONFIG");
        let output = run(command);
        assert!(
            output.status.success(),
            "golden {args:?} from /: {output:?}"
        );
        assert!(!output.stdout.is_empty(), "golden {args:?} printed nothing");
    }
}

#[test]
fn zsh_and_fish_completions_ask_golden_and_get_ids_with_their_lines() {
    for (shell, registers) in [
        ("zsh", "#compdef golden"),
        ("fish", "complete --keep-order --exclusive --command golden"),
    ] {
        let output = run(golden(&["completions", shell]));
        assert!(output.status.success(), "{shell}: {output:?}");
        let script = stdout(&output);
        assert!(script.starts_with(registers), "{shell}:\n{script}");
        assert!(
            script.contains(&format!("GOLDEN_COMPLETE=\"{shell}\""))
                || script.contains(&format!("GOLDEN_COMPLETE={shell}")),
            "{shell}:\n{script}"
        );
    }
    // What those scripts ask golden: ids, each with its line.
    let offline = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/offline");
    let mut command = golden(&["--", "golden", "rebuild", "t"]);
    command.env("GOLDEN_COMPLETE", "fish").current_dir(&offline);
    let answer = stdout(&run(command));
    assert_eq!(answer, "tools\tline 2.1\ntools-lts\tline 1.4\n");
    // Another tool's `COMPLETE` does not turn golden into a completer.
    let mut command = golden(&["--version"]);
    command.env("COMPLETE", "bash");
    assert!(stdout(&run(command)).starts_with("golden "));
}

/// golden.toml(5), from the config's schema: every table, rendered by
/// man(1) from `/` (no config needed).
#[test]
fn golden_toml_5_names_every_table_and_renders() {
    let mut command = golden(&["man", "golden.toml"]);
    command.current_dir("/");
    let output = run(command);
    assert!(output.status.success(), "{output:?}");
    let roff = stdout(&output);
    assert!(roff.starts_with(".TH golden.toml 5"), "{roff}");
    let directory = tempfile::tempdir().unwrap();
    let page = directory.path().join("golden.toml.5");
    std::fs::write(&page, &roff).unwrap();
    let rendered = Command::new("man")
        .arg("-l")
        .arg(&page)
        .env("MANWIDTH", "100")
        .env("MANPAGER", "cat")
        .output()
        .expect("man is installed (scripts/env: man-db)");
    assert!(rendered.status.success(), "{rendered:?}");
    // Without its overstrikes (bold and underline as `X\bX`, `_\bX`).
    let mut text = String::new();
    for c in stdout(&rendered).chars() {
        if c == '\u{8}' {
            text.pop();
        } else {
            text.push(c);
        }
    }
    for shown in [
        "[registry]",
        "[images.ID]",
        "[[engines]]",
        "[defaults]",
        "[notify]",
        "[backoff]",
        "schedule (",
        "webhook_env (string)",
    ] {
        assert!(text.contains(shown), "no `{shown}` in\n{text}");
    }
}

#[test]
fn man_page_is_roff_and_renders() {
    let output = run(golden(&["man"]));
    assert!(output.status.success(), "{output:?}");
    let roff = stdout(&output);
    assert!(roff.starts_with(".ie") || roff.starts_with(".TH"), "{roff}");
    assert!(roff.contains(".TH golden 1"), "{roff}");
    assert!(roff.contains(".SH NAME"), "{roff}");
    assert!(roff.contains(".SH SUBCOMMANDS"), "{roff}");
    if Path::new("/usr/bin/man").exists() {
        let directory = tempfile::tempdir().unwrap();
        let page = directory.path().join("golden.1");
        std::fs::write(&page, roff).unwrap();
        let rendered = Command::new("man")
            .arg("-l")
            .arg(&page)
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "100")
            .output()
            .unwrap();
        assert!(rendered.status.success(), "{rendered:?}");
        let text = stdout(&rendered);
        assert!(text.contains("NAME"), "{text}");
        assert!(
            text.contains("golden-plan(1)") || text.contains("plan"),
            "{text}"
        );
        assert!(text.contains("--config"), "{text}");
    }
}

/// `git` in the source tree; `None` outside a checkout.
fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

#[test]
fn version_names_the_git_commit_it_was_built_from() {
    let output = run(golden(&["--version"]));
    assert!(output.status.success(), "{output:?}");
    let version = stdout(&output);
    let prefix = format!("golden {} (", env!("CARGO_PKG_VERSION"));
    let stamp = version
        .trim()
        .strip_prefix(&prefix)
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("not `{prefix}COMMIT)`: {version}"));
    let Some(short) = git(&["rev-parse", "--short", "HEAD"]) else {
        assert_eq!(stamp, "unknown");
        return;
    };
    let clean = git(&["status", "--porcelain", "--untracked-files=no"])
        .is_some_and(|status| status.is_empty());
    if clean {
        assert_eq!(stamp, short);
    } else {
        // The build script sees edits to the sources it watches, not to
        // every tracked file (a README edit leaves the binary as it was).
        assert!(
            stamp == short || stamp == format!("{short}-dirty"),
            "{stamp} is not {short}[-dirty]"
        );
    }
}

/// The README table of the options that also come from the environment,
/// built from the clap definition: one row per variable, with the
/// commands that take it.
fn environment_table() -> String {
    use std::collections::BTreeMap;
    let root = <golden::cli::Cli as clap::CommandFactory>::command();
    // variable -> (option, meaning, commands)
    let mut rows: BTreeMap<String, (String, String, Vec<String>)> = BTreeMap::new();
    let mut add = |arg: &clap::Arg, command: &str| {
        let Some(variable) = arg.get_env() else {
            return;
        };
        let variable = variable.to_string_lossy().into_owned();
        let option = format!("--{}", arg.get_long().expect("an option with a long name"));
        let meaning = arg
            .get_help()
            .map(|help| help.to_string())
            .unwrap_or_default();
        let meaning = meaning.lines().next().unwrap_or("").to_string();
        let row = rows
            .entry(variable.clone())
            .or_insert_with(|| (option.clone(), meaning, Vec::new()));
        assert_eq!(row.0, option, "{variable} sets two options");
        row.2.push(command.to_string());
    };
    for arg in root.get_arguments() {
        add(arg, "all");
    }
    for command in root.get_subcommands() {
        for arg in command.get_arguments() {
            add(arg, command.get_name());
        }
    }
    let mut table =
        String::from("| variable | option | commands | meaning |\n| --- | --- | --- | --- |\n");
    for (variable, (option, meaning, commands)) in rows {
        table.push_str(&format!(
            "| `{variable}` | `{option}` | {} | {meaning} |\n",
            commands.join(", ")
        ));
    }
    table
}

#[test]
fn readme_table_of_environment_variables_matches_the_options() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = "<!-- environment-table: generated from the clap definition, checked by tests/e2e/cli_conventions.rs -->\n";
    let end = "<!-- end of environment-table -->";
    let table = readme
        .split_once(start)
        .and_then(|(_, rest)| rest.split_once(end))
        .map(|(table, _)| table)
        .unwrap_or_else(|| panic!("README.md lacks the markers `{}` and `{end}`", start.trim()));
    let expected = environment_table();
    assert!(
        table == expected,
        "README.md's table of environment variables is out of date; replace it with:\n{expected}"
    );
}

#[test]
fn options_come_from_the_environment() {
    let directory = tempfile::tempdir().unwrap();
    // A config that does not parse: what matters is which format the error takes.
    let config = directory.path().join("elsewhere.toml");
    std::fs::write(&config, "[registry]\nhost = \n").unwrap();
    let by_flag = run(golden(&[
        "-c",
        config.to_str().unwrap(),
        "plan",
        "--output",
        "json",
    ]));
    let mut by_environment = golden(&["plan"]);
    by_environment
        .env("GOLDEN_CONFIG", &config)
        .env("GOLDEN_OUTPUT", "json");
    let by_environment = run(by_environment);
    assert_eq!(by_environment.status.code(), Some(2), "{by_environment:?}");
    assert_eq!(by_flag.status.code(), by_environment.status.code());
    let stderr = String::from_utf8_lossy(&by_environment.stderr);
    assert!(stderr.contains("elsewhere.toml"), "{stderr}");

    let mut jobs = golden(&["build", "--all"]);
    jobs.env("GOLDEN_JOBS", "0");
    let jobs = run(jobs);
    assert_eq!(jobs.status.code(), Some(2), "{jobs:?}");
    let stderr = String::from_utf8_lossy(&jobs.stderr);
    assert!(
        stderr.contains("GOLDEN_JOBS") || stderr.contains("--jobs"),
        "{stderr}"
    );

    // A flag wins over its variable: an invalid GOLDEN_OUTPUT is not read.
    let mut both = golden(&["-c", config.to_str().unwrap(), "plan", "--output", "json"]);
    both.env("GOLDEN_OUTPUT", "sarif");
    let both = run(both);
    let stderr = String::from_utf8_lossy(&both.stderr);
    assert!(!stderr.contains("invalid value"), "{stderr}");
    assert!(stderr.contains("elsewhere.toml"), "{stderr}");
}

/// The help of `daemon --interval` names the forms it accepts: units
/// combined (`1h30m`) and below a second (`500ms`).
#[test]
fn daemon_interval_help_names_every_form_it_accepts() {
    let output = run(golden(&["daemon", "--help"]));
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let help = stdout(&output);
    let interval = help
        .lines()
        .skip_while(|line| !line.contains("--interval"))
        .take(3)
        .collect::<Vec<_>>()
        .join(" ");
    for form in ["90s", "5m", "1h30m", "500ms"] {
        assert!(interval.contains(form), "{form}: {interval}");
    }
}

#[test]
fn under_log_format_json_the_error_that_ends_a_command_is_json_too() {
    let directory = tempfile::tempdir().unwrap();
    let config = directory.path().join("golden.toml");
    std::fs::write(
        &config,
        "[registry]\nhost = \"127.0.0.1:5000\"\nnamespace = \"golden\"\nverison = 1\n",
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let output = run(golden(&["-c", config, "--log-format", "json", "validate"]));
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .filter(|line| !line.is_empty())
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}\n{stderr}"))
        })
        .collect();
    let last = lines.last().expect("the error");
    assert_eq!(last["level"], "ERROR", "{last}");
    assert_eq!(last["exit_code"], 2, "{last}");
    let error = last["error"].as_str().unwrap();
    assert!(
        error.contains("unknown key `verison`") && error.contains("golden.toml:4"),
        "{last}"
    );
    // Text logs keep the text.
    let output = run(golden(&["-c", config, "validate"]));
    assert!(String::from_utf8_lossy(&output.stderr).contains("error: unknown key `verison`"));
}

/// `golden man ARGS` rendered by man(1) as a person reads it.
fn rendered_man(args: &[&str]) -> String {
    let roff = run(golden(&[&["man"][..], args].concat()));
    assert!(
        roff.status.success(),
        "{}",
        String::from_utf8_lossy(&roff.stderr)
    );
    let mut child = Command::new("man")
        .args(["-l", "-"])
        .env("MANWIDTH", "100")
        .env("MANPAGER", "cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("man(1) renders the pages (Debian package man-db)");
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), &roff.stdout).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).to_string()
}

#[test]
fn each_command_has_its_man_page_and_golden_1_says_exit_codes_environment_and_files() {
    let build = rendered_man(&["build"]);
    assert!(
        build.contains("golden-build - Build and push the images that are due"),
        "{build}"
    );
    assert!(build.contains("--no-promote"), "{build}");
    let daemon = rendered_man(&["daemon"]);
    assert!(daemon.contains("--git-pull"), "{daemon}");
    let main = rendered_man(&[]);
    for section in ["EXIT STATUS", "ENVIRONMENT", "FILES", "SEE ALSO"] {
        assert!(main.contains(section), "no {section} in\n{main}");
    }
    for shown in [
        "GOLDEN_CONFIG",
        "GOLDEN_GIT_PULL",
        "another run of the same config",
        "golden-diff(1)",
        "golden.toml",
    ] {
        assert!(main.contains(shown), "no {shown} in\n{main}");
    }
    let unknown = run(golden(&["man", "nope"]));
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("one of: build, rebuild"));
}
