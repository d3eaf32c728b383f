//! End to end: `golden build --all` builds only what is due, and `golden
//! plan` says why, on the offline stack against the real engine and registry.

use crate::support;

use support::{digest, entry, labels, reason_kinds, tags, Stack};

const IMAGES: [(&str, &str, &str); 4] = [
    ("base", "base", "1.0"),
    ("runtime", "runtime", "3.0"),
    ("tools", "tools", "2.1"),
    ("tools-lts", "tools", "1.4"),
];

/// Every tag of every repository of the stack with its digest.
fn snapshot(stack: &Stack) -> Vec<(String, Option<String>)> {
    let mut all = Vec::new();
    for name in ["base", "runtime", "tools"] {
        let repository = stack.repository(name);
        for tag in tags(&repository) {
            let resolved = digest(&repository, &tag);
            all.push((format!("{name}:{tag}"), resolved));
        }
    }
    all
}

#[test]
fn a_second_build_builds_nothing_and_moves_no_tag() {
    let stack = Stack::new("noop");
    stack.golden(&["build", "--all"]).expect(0);
    let before = snapshot(&stack);
    let run = stack.golden(&["build", "--all"]).expect(0);
    assert!(
        run.stdout.contains("nothing due: 4 image(s) up to date"),
        "{}",
        run.stdout
    );
    assert_eq!(snapshot(&stack), before);
    let report = stack
        .golden(&["build", "--all", "--output", "json"])
        .expect(0)
        .json();
    for (id, _, _) in IMAGES {
        assert_eq!(entry(&report, id)["decision"], "up-to-date", "{id}");
        assert!(entry(&report, id)["next_due"].is_string(), "{id}");
    }
    assert_eq!(report["totals"]["built"], 0);
}

/// A build that is due anyway (never built, forced) hashes its context
/// while it sends it; the recipe label it writes must be the digest the
/// next run computes before building, or every image would be rebuilt
/// with `recipe-changed` on the next run.
#[test]
fn a_recipe_hashed_while_the_context_is_sent_is_unchanged_for_the_next_run() {
    let stack = Stack::new("sent-recipe");
    // What a recipe must get right: an ignore exception, a symlink, an
    // empty directory, an executable file, a nested directory.
    let runtime = stack.path().join("images/runtime");
    let ignore = std::fs::read_to_string(runtime.join(".dockerignore")).unwrap();
    stack.write(
        "images/runtime/.dockerignore",
        &format!("{ignore}*.log\n!keep.log\nsrc/generated\n!src/generated/keep\n"),
    );
    stack.write("images/runtime/keep.log", "kept\n");
    stack.write("images/runtime/debug.log", "ignored\n");
    stack.write("images/runtime/src/generated/keep/a.conf", "# kept\n");
    stack.write("images/runtime/src/generated/b.conf", "# ignored\n");
    stack.write(
        "images/runtime/bin/start",
        "#!/bin/sh\nexec cat /etc/runtime/app.conf\n",
    );
    std::fs::create_dir_all(runtime.join("var/empty")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let permissions = std::fs::Permissions::from_mode(0o755);
        std::fs::set_permissions(runtime.join("bin/start"), permissions).unwrap();
        std::os::unix::fs::symlink("src/app.conf", runtime.join("app.conf")).unwrap();
    }
    // Never built: every recipe is hashed as its context is sent.
    stack.golden(&["build", "--all"]).expect(0);
    let recorded = labels(&stack.repository("runtime"), "3.0.0")["io.golden.recipe"].clone();
    let plan = stack.golden(&["plan", "--output", "json"]).expect(0).json();
    for (id, _, _) in IMAGES {
        assert_eq!(entry(&plan, id)["decision"], "up-to-date", "{id}: {plan:#}");
    }
    // Forced: hashed as sent again, and the same recipe.
    stack.golden(&["rebuild", "runtime"]).expect(0);
    assert_eq!(
        labels(&stack.repository("runtime"), "3.0.1")["io.golden.recipe"],
        recorded
    );
    let run = stack
        .golden(&["build", "--all", "--output", "json"])
        .expect(0)
        .json();
    assert_eq!(run["totals"]["built"], 0, "{run:#}");
    // The label still says what the context holds: an edit is seen.
    stack.write("images/runtime/src/generated/keep/a.conf", "# edited\n");
    let plan = stack.golden(&["plan", "--output", "json"]).expect(0).json();
    assert_eq!(reason_kinds(&plan, "runtime"), vec!["recipe-changed"]);
    assert_eq!(
        entry(&plan, "runtime")["reasons"][0]["changed"],
        serde_json::json!(["src/"])
    );
}

#[test]
fn an_upstream_security_update_rebuilds_exactly_what_is_built_on_it() {
    let stack = Stack::new("upstream-update");
    stack.golden(&["build", "--all"]).expect(0);
    let old_upstream =
        labels(&stack.repository("base"), "1.0.0")["org.opencontainers.image.base.digest"].clone();
    stack.update_upstream("CVE-2026-0001 fixed");
    let new_upstream = digest(&stack.upstream().replace(":1.36", ""), "1.36").unwrap();
    assert_ne!(old_upstream, new_upstream);

    let plan = stack.golden(&["plan", "--output", "json"]).expect(0).json();
    for id in ["base", "runtime"] {
        assert_eq!(reason_kinds(&plan, id), vec!["base-updated"], "{id}");
        let reason = &entry(&plan, id)["reasons"][0];
        assert_eq!(reason["old"], old_upstream.as_str());
        assert_eq!(reason["new"], new_upstream.as_str());
    }
    for id in ["tools", "tools-lts"] {
        assert_eq!(reason_kinds(&plan, id), vec!["parent-rebuilt"], "{id}");
        assert_eq!(entry(&plan, id)["reasons"][0]["parent"], "base");
    }
    let human = stack.golden(&["plan", "--wide"]).expect(0);
    assert!(
        human.stdout.contains("base updated sha256:"),
        "{}",
        human.stdout
    );

    stack.golden(&["build", "--all"]).expect(0);
    for (_, name, line) in IMAGES {
        let repository = stack.repository(name);
        assert!(
            digest(&repository, &format!("{line}.1")).is_some(),
            "{name} {line}.1"
        );
        assert!(
            digest(&repository, &format!("{line}.2")).is_none(),
            "{name} {line}.2"
        );
    }
    assert_eq!(
        labels(&stack.repository("base"), "1.0.1")["org.opencontainers.image.base.digest"],
        new_upstream
    );
    assert_eq!(
        labels(&stack.repository("runtime"), "3.0.1")["org.opencontainers.image.base.digest"],
        new_upstream
    );
    stack.golden(&["build", "--all"]).expect(0);
    assert!(
        digest(&stack.repository("base"), "1.0.2").is_none(),
        "nothing is due after the rebuild"
    );
}

#[test]
fn a_changed_file_rebuilds_its_image_and_an_ignored_one_changes_nothing() {
    let stack = Stack::new("recipe");
    stack.golden(&["build", "--all"]).expect(0);
    stack.write(
        "images/runtime/NOTES.md",
        "# edited notes, excluded by .dockerignore\n",
    );
    stack.write("images/runtime/tmp/scratch.txt", "edited scratch\n");
    let plan = stack.golden(&["plan", "--output", "json"]).expect(0).json();
    for (id, _, _) in IMAGES {
        assert_eq!(entry(&plan, id)["decision"], "up-to-date", "{id}");
    }
    stack.write(
        "images/base/rootfs/etc/golden/company-ca.pem",
        "rotated CA\n",
    );
    let plan = stack.golden(&["plan", "--output", "json"]).expect(0).json();
    assert_eq!(reason_kinds(&plan, "base"), vec!["recipe-changed"]);
    assert_eq!(reason_kinds(&plan, "tools"), vec!["parent-rebuilt"]);
    assert_eq!(reason_kinds(&plan, "tools-lts"), vec!["parent-rebuilt"]);
    assert_eq!(entry(&plan, "runtime")["decision"], "up-to-date");
    let run = stack
        .golden(&["build", "--all", "--output", "json"])
        .expect(0)
        .json();
    assert_eq!(entry(&run, "base")["tag"], "1.0.1");
    assert_eq!(entry(&run, "runtime")["decision"], "up-to-date");
    assert!(digest(&stack.repository("runtime"), "3.0.1").is_none());
}

#[test]
fn a_schedule_fires_when_now_is_a_month_later() {
    let stack = Stack::new("schedule");
    stack.golden(&["build", "--all"]).expect(0);
    let next_month = (chrono::Utc::now() + chrono::Duration::days(32))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let plan = stack
        .golden(&["plan", "--now", &next_month, "--output", "json"])
        .expect(0)
        .json();
    let reasons = &entry(&plan, "tools-lts")["reasons"];
    assert_eq!(reasons[0]["kind"], "schedule-fired");
    assert!(
        reasons[0]["at"]
            .as_str()
            .unwrap()
            .ends_with("-01T00:00:00Z"),
        "@monthly fires on the 1st: {reasons}"
    );
    let run = stack
        .golden(&["build", "tools-lts", "--now", &next_month])
        .expect(0);
    assert!(run.stdout.contains("tools:1.4.1"), "{}", run.stdout);
    let bad = stack.golden(&["plan", "--now", "next tuesday"]).expect(2);
    assert!(bad.stderr.contains("RFC 3339"), "{}", bad.stderr);
}

#[test]
fn a_schedule_in_a_time_zone_fires_at_its_wall_clock_time() {
    let stack = Stack::new("schedule_zone");
    let config = std::fs::read_to_string(stack.config()).unwrap();
    // Only `base` is built; it fires at 03:00 New York time.
    let config = config.replacen(
        "[images.base]\n",
        "[images.base]\nschedule = \"0 3 * * *\"\ntimezone = \"America/New_York\"\n",
        1,
    );
    assert!(config.contains("America/New_York"), "{config}");
    std::fs::write(stack.config(), config).unwrap();
    stack.golden(&["build", "base"]).expect(0);
    for (now, fired) in [
        // Summer: 03:00 EDT is 07:00 UTC; winter: 03:00 EST is 08:00 UTC.
        ("2027-07-01T12:00:00Z", "2027-07-01T07:00:00Z"),
        ("2027-01-15T12:00:00Z", "2027-01-15T08:00:00Z"),
    ] {
        let plan = stack
            .golden(&["plan", "base", "--now", now, "--output", "json"])
            .expect(0)
            .json();
        let reasons = &entry(&plan, "base")["reasons"];
        assert_eq!(reasons[0]["kind"], "schedule-fired", "{reasons}");
        assert_eq!(reasons[0]["at"], fired, "{reasons}");
    }
}

#[test]
fn each_build_records_why_it_was_made_and_inspect_and_plan_say_it() {
    const REASONS: &str = "io.golden.reasons";
    let stack = Stack::new("why");
    stack.golden(&["build", "base"]).expect(0);
    assert_eq!(
        labels(&stack.repository("base"), "1.0.0")[REASONS],
        "never built"
    );
    stack.write("images/base/motd", "patched\n");
    let run = stack.golden(&["build", "base"]).expect(0);
    assert!(
        run.stderr
            .contains("building base 1.0.1 because recipe changed"),
        "the log says why:\n{}",
        run.stderr
    );
    let why = labels(&stack.repository("base"), "1.0.1")[REASONS].clone();
    assert!(why.starts_with("recipe changed"), "{why}");
    let inspect = stack.golden(&["inspect", "base"]).expect(0);
    assert!(
        inspect.stdout.contains(&format!("because   {why}")),
        "{}",
        inspect.stdout
    );
    let plan = stack
        .golden(&["plan", "base", "--output", "json"])
        .expect(0)
        .json();
    assert_eq!(entry(&plan, "base")["last_reasons"], why.as_str());
    // `ls --wide` says why each build was made; its JSON always does.
    let ls = stack.golden(&["ls", "base", "--wide"]).expect(0);
    let row = |version: &str| {
        ls.stdout
            .lines()
            .find(|line| line.trim_start().starts_with(version))
            .unwrap_or_else(|| panic!("no row for {version}:\n{}", ls.stdout))
            .to_string()
    };
    assert!(ls.stdout.contains("BECAUSE"), "{}", ls.stdout);
    assert!(row("1.0.0 ").ends_with("never built"), "{}", ls.stdout);
    assert!(row("1.0.1 ").ends_with(why.as_str()), "{}", ls.stdout);
    let json = stack
        .golden(&["ls", "base", "--output", "json"])
        .expect(0)
        .json();
    assert_eq!(json["images"][0]["versions"][1]["reasons"], why.as_str());
}

#[test]
fn diff_says_what_changed_between_two_builds_of_a_line() {
    let stack = Stack::new("diff");
    stack.golden(&["build", "base"]).expect(0);
    // A file the image holds (COPY rootfs/ /): a layer changes too.
    stack.write("images/base/rootfs/etc/motd", "patched\n");
    stack.golden(&["build", "base"]).expect(0);
    let diff = stack.golden(&["diff", "base", "1.0.0", "1.0.1"]).expect(0);
    for shown in [
        "base 1.0.0 -> 1.0.1",
        "digest",
        "recipe parts",
        "1 changed",
        "because",
        "never built",
        "-> recipe changed",
        "unchanged: ",
    ] {
        assert!(
            diff.stdout.contains(shown),
            "no `{shown}` in\n{}",
            diff.stdout
        );
    }
    let unchanged = diff
        .stdout
        .lines()
        .find(|line| line.trim_start().starts_with("unchanged: "))
        .unwrap();
    assert!(
        unchanged.contains("base") && unchanged.contains("platforms"),
        "{unchanged}"
    );
    // Layer by layer: the upstream's layer is shared; the COPY of the
    // changed rootfs and the steps after it are new.
    let layers = diff
        .stdout
        .lines()
        .find(|line| line.trim_start().starts_with("layers: "))
        .unwrap_or_else(|| panic!("no layers line in\n{}", diff.stdout));
    assert!(layers.contains("layers: 1 shared ("), "{layers}");
    let added: Vec<&str> = diff
        .stdout
        .lines()
        .filter(|line| line.trim_start().starts_with("+ sha256:"))
        .collect();
    assert!(
        added.iter().any(|line| line.contains("COPY")),
        "the COPY layer is new: {}",
        diff.stdout
    );
    let json = stack
        .golden(&["diff", "base", "1.0.0", "1.0.1", "--output", "json"])
        .expect(0)
        .json();
    assert_eq!(json["version"], 1);
    let row = |field: &str| {
        json["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|row| row["field"] == field)
            .cloned()
            .unwrap_or_else(|| panic!("no {field} in {json:#}"))
    };
    assert_eq!(row("base")["changed"], false);
    assert_eq!(json["layers"]["shared"], 1, "{json:#}");
    let removed = json["layers"]["removed"].as_array().unwrap().len();
    let added = json["layers"]["added"].as_array().unwrap();
    assert_eq!(removed, added.len(), "{json:#}");
    assert!(added[0]["digest"].as_str().unwrap().starts_with("sha256:"));
    assert!(added[0]["size"].as_u64().unwrap() > 0);
    assert_eq!(row("recipe")["changed"], true);
    assert_eq!(
        row("digest")["to"].as_str(),
        super::support::digest(&stack.repository("base"), "1.0.1").as_deref()
    );
    // A version that is not a build: exit 2, with how to list them.
    let bad = stack.golden(&["diff", "base", "1.0", "1.0.1"]).expect(2);
    assert!(bad.stderr.contains("golden ls base"), "{}", bad.stderr);
    // One the registry does not have: exit 1, naming it.
    let missing = stack.golden(&["diff", "base", "1.0.0", "1.0.9"]).expect(1);
    assert!(missing.stderr.contains("1.0.9"), "{}", missing.stderr);
}
