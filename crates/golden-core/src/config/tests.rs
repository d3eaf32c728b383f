//! Table tests of golden.toml: good configs load with defaults applied; bad
//! ones report every problem, rendered and snapshotted.

use std::path::Path;

use crate::config::{ConfigError, Network};
use crate::diagnostic::SourceFile;
use crate::graph::Upstream;
use crate::project::Project;

/// Fixture contexts live beside this path; paths in messages stay relative.
const PATH: &str = "tests/fixtures/config/golden.toml";

const REGISTRY: &str = "[registry]\nhost = \"registry.local:5000\"\nnamespace = \"golden\"\n";

fn load(text: &str) -> Result<Project, ConfigError> {
    Project::from_source(
        SourceFile::new(Path::new(PATH), text),
        &crate::testing::TestDisk,
    )
}

fn rendered(text: &str) -> String {
    match load(text) {
        Ok(_) => panic!("expected problems in:\n{text}"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn a_full_config_loads_with_defaults_applied() {
    let text = format!(
        "{REGISTRY}insecure = true\n\n[engine]\nhost = \"unix:///run/docker.sock\"\nnetwork = \"none\"\n\n\
         [defaults]\nschedule = \"@daily\"\npull = false\nbuild_args = {{ A = \"1\", B = \"2\" }}\n\
         labels = {{ \"org.opencontainers.image.vendor\" = \"Example\" }}\n\n\
         [images.base]\nversion = \"1.0\"\ncontext = \"images/base\"\n\n\
         [images.app]\nversion = \"2.10\"\ncontext = \"images/app\"\nname = \"application\"\n\
         build_args = {{ B = \"3\" }}\nlabels = {{ description = \"app\" }}\nschedule = \"0 3 * * 1\"\npull = true\n"
    );
    let project = load(&text).unwrap_or_else(|e| panic!("{e}"));
    let config = &project.config;
    assert!(config.registry.insecure);
    assert_eq!(config.engine.network, Network::None);
    assert_eq!(
        config.engine.host.as_deref(),
        Some("unix:///run/docker.sock")
    );
    let base = config.image("base").unwrap();
    assert_eq!(base.name, "base");
    assert_eq!(base.schedule.as_str(), "@daily");
    assert!(!base.pull);
    assert_eq!(base.dockerfile, "Dockerfile");
    let app = config.image("app").unwrap();
    assert_eq!(
        config.repository(app),
        "registry.local:5000/golden/application"
    );
    assert_eq!(app.version.to_string(), "2.10");
    assert_eq!(app.build_args["A"], "1");
    assert_eq!(app.build_args["B"], "3");
    assert_eq!(app.labels["org.opencontainers.image.vendor"], "Example");
    assert_eq!(app.labels["description"], "app");
    assert_eq!(app.schedule.as_str(), "0 3 * * 1");
    assert!(app.pull);
    assert_eq!(project.graph.order, vec!["base", "app"]);
    assert_eq!(
        project.graph.nodes["app"]
            .parents
            .iter()
            .collect::<Vec<_>>(),
        vec!["base"]
    );
    assert!(
        matches!(&project.graph.nodes["app"].upstream, Upstream::Golden { id, .. } if id == "base")
    );
    assert!(
        matches!(&project.graph.nodes["base"].upstream, Upstream::External(r) if r.to_string() == "127.0.0.1:5000/upstream/busybox:1.36")
    );
}

#[test]
fn schedule_defaults_to_weekly_and_pull_to_true() {
    let text = format!("{REGISTRY}[images.base]\nversion = \"1.0\"\ncontext = \"images/base\"\n");
    let project = load(&text).unwrap_or_else(|e| panic!("{e}"));
    let base = project.config.image("base").unwrap();
    assert_eq!(base.schedule.as_str(), "@weekly");
    let dotted = format!("{REGISTRY}[images.base]\nversion = \"1.0\"\ncontext = \"images/base\"\ndockerfile = \"./Dockerfile\"\n");
    let project = load(&dotted).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        project.config.image("base").unwrap().dockerfile,
        "Dockerfile",
        "the path is cleaned as the context lists it"
    );
    assert!(base.pull);
}

#[test]
fn depends_on_orders_images_without_from_lines() {
    let text = format!(
        "{REGISTRY}[images.z-first]\nversion = \"1.0\"\ncontext = \"images/base\"\n\
         [images.a-second]\nversion = \"2.0\"\nname = \"other\"\ncontext = \"images/base\"\ndepends_on = [\"z-first\"]\n"
    );
    let project = load(&text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(project.graph.order, vec!["z-first", "a-second"]);
}

const IMAGE: &str = "[images.base]\nversion = \"1.0\"\ncontext = \"images/base\"\n";

/// `[images.app]`, whose Dockerfile is FROM `golden/base:1.0`.
const APP: &str = "[images.app]\nversion = \"1.0\"\ncontext = \"images/app\"\n";

/// `[images.sdk]`, whose Dockerfile has a cache mount on line 2 and on
/// line 3 mounts secret `nuget_token` and (`required=false`) `npm_token`.
const SECRETS: &str = "[images.sdk]\nversion = \"1.0\"\ncontext = \"images/secrets\"\n";

/// (snapshot name, config text) of one mistake each, in an image other
/// images are built on or in what its Dockerfile needs: each must give
/// exactly one error, not also "`base` is not a configured image" and the like.
fn one_mistake_configs() -> Vec<(&'static str, String)> {
    vec![
        ("one_mistake_key_typo_in_a_parent", format!("{REGISTRY}[images.base]\nverison = \"1.0\"\ncontext = \"images/base\"\n{APP}")),
        ("one_mistake_context_typo_in_a_parent", format!("{REGISTRY}[images.base]\nversion = \"1.0\"\ncontxt = \"images/base\"\n{APP}")),
        ("one_mistake_missing_context_of_a_parent", format!("{REGISTRY}[images.base]\nversion = \"1.0\"\ncontext = \"images/nope\"\n{APP}")),
        ("one_mistake_bad_name_of_a_parent", format!("{REGISTRY}{IMAGE}name = \"Base!\"\n{APP}")),
        ("one_mistake_named_parent_unusable", format!("{REGISTRY}[images.core]\nname = \"base\"\nversion = \"1.0\"\ncontxt = \"images/base\"\n{APP}")),
        ("one_mistake_bad_version_of_a_dependency", format!("{REGISTRY}[images.base]\nversion = \"one\"\ncontext = \"images/base\"\n{APP}depends_on = [\"base\"]\n")),
        ("one_mistake_build_args_key_typo", format!("{REGISTRY}[images.required]\nversion = \"1.0\"\ncontext = \"images/required\"\nbuild_arg = {{ BASE = \"127.0.0.1:5000/upstream/busybox:1.36\" }}\n")),
        ("depends_on_unknown", format!("{REGISTRY}{IMAGE}[images.app]\nversion = \"1.0\"\ncontext = \"images/app\"\ndepends_on = [\"bsae\"]\n")),
        ("one_mistake_defaults_arg_of_an_unusable_image", format!("{REGISTRY}[defaults]\nbuild_args = {{ B = \"1\" }}\n[images.base]\nversion = \"1.0\"\ncontext = \"images/base\"\n[images.app]\nversion = \"1.0\"\ncontxt = \"images/app\"\n")),
    ]
}

/// (snapshot name, config text): each has at least one problem.
fn bad_configs() -> Vec<(&'static str, String)> {
    let mut cases = one_mistake_configs();
    cases.extend(vec![
        ("toml_syntax", format!("{REGISTRY}[images.base]\nversion = \"1.0\ncontext = \"images/base\"\n")),
        ("duplicate_key", format!("{REGISTRY}{IMAGE}version = \"2.0\"\n")),
        ("unknown_top_level_table", format!("{REGISTRY}{IMAGE}[regisstry]\nhost = \"x\"\n")),
        ("missing_registry", IMAGE.to_string()),
        ("registry_missing_host", format!("[registry]\nnamespace = \"golden\"\n{IMAGE}")),
        ("registry_host_with_scheme", format!("[registry]\nhost = \"https://registry.local\"\nnamespace = \"golden\"\n{IMAGE}")),
        ("registry_host_invalid", format!("[registry]\nhost = \"registry local\"\nnamespace = \"golden\"\n{IMAGE}")),
        ("registry_port_invalid", format!("[registry]\nhost = \"registry.local:http\"\nnamespace = \"golden\"\n{IMAGE}")),
        ("registry_port_out_of_range", format!("[registry]\nhost = \"registry.local:99999\"\nnamespace = \"golden\"\n{IMAGE}")),
        ("engine_port_out_of_range", format!("{REGISTRY}[engine]\nhost = \"tcp://127.0.0.1:99999\"\n{IMAGE}")),
        ("registry_ca_file_device", format!("{REGISTRY}ca_file = \"/dev/null\"\n{IMAGE}")),
        ("engines_and_engine_host", format!("{REGISTRY}[engine]\nhost = \"unix:///run/docker.sock\"\n[[engines]]\nhost = \"unix:///run/b.sock\"\n{IMAGE}")),
        ("engines_named_twice", format!("{REGISTRY}[[engines]]\nname = \"b\"\nhost = \"unix:///run/a.sock\"\n[[engines]]\nname = \"b\"\nhost = \"unix:///run/b.sock\"\n{IMAGE}")),
        ("engines_unknown_key_and_bad_jobs", format!("{REGISTRY}[[engines]]\nhost = \"unix:///run/a.sock\"\njob = 2\n[[engines]]\nhost = \"ftp://b\"\njobs = 0\n{IMAGE}")),
        ("engines_missing_host", format!("{REGISTRY}[[engines]]\nname = \"a\"\n{IMAGE}")),
        ("engine_labels_no_engine_carries", format!("{REGISTRY}[[engines]]\nname = \"a\"\nhost = \"unix:///run/a.sock\"\nlabels = [\"ssd\"]\n[[engines]]\nname = \"b\"\nhost = \"unix:///run/b.sock\"\n{IMAGE}engine_labels = [\"gpu\"]\n")),
        ("cron_never_fires", format!("{REGISTRY}{IMAGE}schedule = \"0 0 30 2 *\"\n")),
        ("defaults_cron_never_fires", format!("{REGISTRY}[defaults]\nschedule = \"0 4 31 4,6,9,11 *\"\n{IMAGE}")),
        ("label_key_with_equals", format!("{REGISTRY}{IMAGE}labels = {{ \"team=platform\" = \"x\", ok = \"y\" }}\n")),
        ("label_key_with_newline", format!("{REGISTRY}[defaults]\nlabels = {{ \"org.example\\nteam\" = \"x\" }}\n{IMAGE}")),
        ("from_required_arg_unset", format!("{REGISTRY}[images.required]\nversion = \"1.0\"\ncontext = \"images/required\"\n")),
        ("namespace_uppercase", format!("[registry]\nhost = \"registry.local:5000\"\nnamespace = \"Golden\"\n{IMAGE}")),
        ("insecure_not_bool", format!("{REGISTRY}insecure = \"yes\"\n{IMAGE}")),
        ("policy_untrusted_upstream", format!("{REGISTRY}{IMAGE}[policy]\nupstream_allow = [\"mcr.microsoft.com/dotnet/*\", \"docker.io/library/*\"]\n")),
        ("policy_bad_glob", format!("{REGISTRY}{IMAGE}[policy]\nupstream_allow = [\"[z-a\"]\n")),
        ("registry_public_without_allow", format!("[registry]\nhost = \"docker.io\"\nnamespace = \"example\"\n{IMAGE}")),
        ("registry_ca_file_missing", format!("{REGISTRY}ca_file = \"certs/ca.pem\"\n{IMAGE}")),
        ("registry_too_many_retries", format!("{REGISTRY}retries = 99\n{IMAGE}")),
        ("test_empty_command", format!("{REGISTRY}{IMAGE}test = []\n")),
        ("test_timeout_bad", format!("{REGISTRY}{IMAGE}test = [\"true\"]\ntest_timeout = \"soon\"\n")),
        ("retention_keep_zero", format!("{REGISTRY}[defaults.retention]\nkeep = 0\n{IMAGE}")),
        ("retention_keep_negative", format!("{REGISTRY}{IMAGE}retention = {{ keep = -2 }}\n")),
        ("retention_unknown_key", format!("{REGISTRY}{IMAGE}[images.base.retention]\nkept = 3\n")),
        ("retention_not_a_table", format!("{REGISTRY}[defaults]\nretention = 5\n{IMAGE}")),
        ("registry_unknown_key", format!("{REGISTRY}hots = \"x\"\n{IMAGE}")),
        ("engine_bad_scheme", format!("{REGISTRY}[engine]\nhost = \"/var/run/docker.sock\"\n{IMAGE}")),
        ("engine_bad_network", format!("{REGISTRY}[engine]\nnetwork = \"bridge\"\n{IMAGE}")),
        ("defaults_unknown_key", format!("{REGISTRY}[defaults]\nschedul = \"@daily\"\n{IMAGE}")),
        ("defaults_bad_schedule", format!("{REGISTRY}[defaults]\nschedule = \"@fortnightly\"\n{IMAGE}")),
        ("version_major_only", format!("{REGISTRY}[images.base]\nversion = \"8\"\ncontext = \"images/base\"\n")),
        ("version_with_patch", format!("{REGISTRY}[images.base]\nversion = \"8.0.1\"\ncontext = \"images/base\"\n")),
        ("version_not_string", format!("{REGISTRY}[images.base]\nversion = 8.0\ncontext = \"images/base\"\n")),
        ("image_missing_version_and_context", format!("{REGISTRY}[images.base]\nname = \"base\"\n")),
        ("context_missing", format!("{REGISTRY}[images.base]\nversion = \"1.0\"\ncontext = \"images/nope\"\n")),
        ("dockerfile_missing", format!("{REGISTRY}[images.base]\nversion = \"1.0\"\ncontext = \"images/empty\"\n")),
        ("dockerfile_outside_context", format!("{REGISTRY}{IMAGE}dockerfile = \"../app/Dockerfile\"\n")),
        ("name_breaks_grammar", format!("{REGISTRY}{IMAGE}name = \"Aspnet_Core!\"\n")),
        ("image_unknown_key_suggests", format!("{REGISTRY}{IMAGE}verison = \"1.0\"\n")),
        ("cron_hour_out_of_range", format!("{REGISTRY}{IMAGE}schedule = \"0 25 * * *\"\n")),
        ("cron_nickname_typo", format!("{REGISTRY}{IMAGE}schedule = \"@weakly\"\n")),
        ("cron_day_of_week_out_of_range", format!("{REGISTRY}[defaults]\nschedule = \"0 3 * * 8\"\n{IMAGE}")),
        ("cron_two_fields_out_of_range", format!("{REGISTRY}{IMAGE}schedule = \"75 3 * 13 *\"\n")),
        ("test_timeout_unknown_unit", format!("{REGISTRY}{IMAGE}test = [\"true\"]\ntest_timeout = \"5 sek\"\n")),
        ("test_timeout_months", format!("{REGISTRY}{IMAGE}test = [\"true\"]\ntest_timeout = \"5M\"\n")),
        ("probe_timeout_zero", format!("{REGISTRY}[engine]\nprobe_timeout = \"0ms\"\n{IMAGE}")),
        ("cron_six_fields", format!("{REGISTRY}{IMAGE}schedule = \"0 0 3 * * 1\"\n")),
        ("depends_on_not_a_list", format!("{REGISTRY}{IMAGE}depends_on = \"app\"\n")),
        ("dependency_cycle", format!("{REGISTRY}{IMAGE}depends_on = [\"app\"]\n[images.app]\nversion = \"1.0\"\ncontext = \"images/app\"\n")),
        ("duplicate_name_and_version", format!("{REGISTRY}{IMAGE}[images.base-again]\nname = \"base\"\nversion = \"1.0\"\ncontext = \"images/base\"\n")),
        ("reserved_label", format!("{REGISTRY}{IMAGE}labels = {{ \"org.opencontainers.image.version\" = \"1\" }}\n")),
        ("build_arg_not_string", format!("{REGISTRY}{IMAGE}build_args = {{ PORT = 8080 }}\n")),
        ("images_not_a_table", format!("{REGISTRY}images = 3\n")),
        ("no_images", REGISTRY.to_string()),
        ("invalid_image_id", format!("{REGISTRY}[images.Base]\nversion = \"1.0\"\ncontext = \"images/base\"\n")),
        ("dockerfile_bad_from", format!("{REGISTRY}[images.bad]\nversion = \"1.0\"\ncontext = \"images/bad\"\n")),
        ("from_unconfigured_golden_line", format!("{REGISTRY}{IMAGE}[images.orphan]\nversion = \"1.0\"\ncontext = \"images/orphan\"\n")),
        ("platforms_not_a_list", format!("{REGISTRY}{IMAGE}platforms = \"linux/amd64\"\n")),
        ("platforms_empty", format!("{REGISTRY}{IMAGE}platforms = []\n")),
        ("platform_uname_spelling", format!("{REGISTRY}{IMAGE}platforms = [\"linux/amd64\", \"linux/aarch64\"]\n")),
        ("platform_unknown_os_in_defaults", format!("{REGISTRY}[defaults]\nplatforms = [\"linx/amd64\"]\n{IMAGE}")),
        ("platform_unknown_variant", format!("{REGISTRY}{IMAGE}platforms = [\"linux/arm64/v7\"]\n")),
        ("platform_listed_twice", format!("{REGISTRY}{IMAGE}platforms = [\"linux/arm64\", \"linux/amd64\", \"linux/arm64/v8\"]\n")),
        ("platform_not_os_arch", format!("{REGISTRY}{IMAGE}platforms = [\"arm64\", \"linux/arm64/v8/extra\"]\n")),
        ("upstream_without_source", format!("{REGISTRY}{IMAGE}versioning = \"upstream\"\n")),
        ("versioning_unknown", format!("{REGISTRY}[defaults]\nversioning = \"semver\"\n{IMAGE}")),
        ("upstream_source_two_keys", format!("{REGISTRY}{IMAGE}versioning = \"upstream\"\nupstream_version = {{ env = \"A\", label = \"b\" }}\n")),
        ("upstream_source_unknown", format!("{REGISTRY}{IMAGE}versioning = \"upstream\"\nupstream_version = {{ enviroment = \"ASPNET_VERSION\" }}\n")),
        ("upstream_source_on_a_counted_line", format!("{REGISTRY}{IMAGE}upstream_version = {{ env = \"ASPNET_VERSION\" }}\n")),
        ("from_tag_without_group", format!("{REGISTRY}{IMAGE}versioning = \"upstream\"\nupstream_version = {{ from_tag = \"^[0-9.]+-noble$\" }}\n")),
        ("from_tag_bad_regex", format!("{REGISTRY}{IMAGE}versioning = \"upstream\"\nupstream_version = {{ from_tag = \"^([0-9.]+-noble$\" }}\n")),
        ("floating_unknown", format!("{REGISTRY}{IMAGE}floating = [\"X.Y\", \"x\"]\n")),
        ("floating_twice", format!("{REGISTRY}[defaults]\nfloating = [\"X.Y\", \"latest\", \"X.Y\"]\n{IMAGE}")),
        ("floating_upstream_on_a_counted_line", format!("{REGISTRY}{IMAGE}floating = [\"X.Y.Z\", \"X.Y\"]\n")),
        ("track_without_star", format!("{REGISTRY}{IMAGE}track = \"10.0.3-noble\"\n")),
        ("track_in_defaults", format!("{REGISTRY}[defaults]\ntrack = \"10.0.*\"\n{IMAGE}")),
        ("adopt_unknown", format!("{REGISTRY}{IMAGE}adopt = \"later\"\n")),
        ("timezone_misspelt", format!("{REGISTRY}{IMAGE}timezone = \"Europe/Berln\"\n")),
        ("jitter_zero_in_defaults", format!("{REGISTRY}[defaults]\njitter = \"0s\"\n{IMAGE}")),
        ("builder_unknown", format!("{REGISTRY}{IMAGE}builder = \"kit\"\n")),
        ("builder_unknown_in_an_engine", format!("{REGISTRY}[[engines]]\nhost = \"unix:///run/a.sock\"\nbuilder = \"buildx\"\n{IMAGE}")),
        ("secrets_not_a_table", format!("{REGISTRY}{IMAGE}secrets = \"NUGET_TOKEN\"\n")),
        ("secret_not_a_table", format!("{REGISTRY}{IMAGE}[images.base.secrets]\nnuget_token = \"NUGET_TOKEN\"\n")),
        ("secret_two_sources", format!("{REGISTRY}{IMAGE}[images.base.secrets]\nnuget_token = {{ env = \"NUGET_TOKEN\", file = \"nuget\" }}\n")),
        ("secret_no_source", format!("{REGISTRY}{IMAGE}[images.base.secrets]\nnuget_token = {{}}\n")),
        ("secret_unknown_key", format!("{REGISTRY}{IMAGE}[images.base.secrets]\nnuget_token = {{ evn = \"NUGET_TOKEN\" }}\n")),
        ("secret_bad_id", format!("{REGISTRY}{IMAGE}[images.base.secrets]\n\"nuget token\" = {{ env = \"NUGET_TOKEN\" }}\n")),
        ("secret_bad_env_name", format!("{REGISTRY}{IMAGE}[images.base.secrets]\nnuget_token = {{ env = \"NUGET-TOKEN\" }}\n")),
        ("secret_env_not_a_string", format!("{REGISTRY}{IMAGE}[images.base.secrets]\nnuget_token = {{ env = 1 }}\n")),
        ("secret_empty_file", format!("{REGISTRY}{IMAGE}[images.base.secrets]\nnuget_token = {{ file = \"\" }}\n")),
        ("secrets_in_defaults", format!("{REGISTRY}[defaults.secrets]\nnuget_token = {{ env = \"NUGET_TOKEN\" }}\n{IMAGE}")),
        ("secrets_with_a_classic_builder", format!("{REGISTRY}[defaults]\nbuilder = \"classic\"\n{IMAGE}[images.base.secrets]\nnuget_token = {{ env = \"NUGET_TOKEN\" }}\n")),
        ("classic_builder_with_a_cache_mount", format!("{REGISTRY}{SECRETS}builder = \"classic\"\n")),
        ("classic_engine_with_a_heredoc", format!("{REGISTRY}[engine]\nbuilder = \"classic\"\n[images.heredoc]\nversion = \"1.0\"\ncontext = \"images/heredoc\"\n")),
        ("classic_pool_with_a_buildkit_image", format!("{REGISTRY}[engine]\nbuilder = \"classic\"\n[[engines]]\nhost = \"unix:///run/a.sock\"\n[[engines]]\nhost = \"unix:///run/b.sock\"\n{IMAGE}builder = \"buildkit\"\n")),
        ("secret_not_provided", format!("{REGISTRY}{SECRETS}")),
        ("secret_not_provided_near_a_typo", format!("{REGISTRY}{SECRETS}[images.sdk.secrets]\nnuget-token = {{ env = \"NUGET_TOKEN\" }}\n")),
        ("mixed_versioning_in_a_repository", format!("{REGISTRY}{IMAGE}[images.base-next]\nname = \"base\"\nversion = \"2.0\"\ncontext = \"images/base\"\nversioning = \"upstream\"\nupstream_version = {{ env = \"BASE_VERSION\" }}\n")),
        (
            "many_problems_at_once",
            "[registry]\nhost = \"registry.local:5000\"\nnamespace = \"golden\"\ninsecure = 1\n\n\
             [images.base]\nversion = \"one\"\ncontext = \"images/base\"\nschedule = \"every day\"\n\n\
             [images.app]\nversion = \"1.0\"\ncontext = \"images/nope\"\nextra = true\n"
                .to_string(),
        ),
    ]);
    cases
}

#[test]
fn bad_configs_report_file_line_and_fix() {
    let cases = bad_configs();
    assert!(cases.len() >= 25);
    for (name, text) in cases {
        let rendered = rendered(&text);
        assert!(
            rendered.contains(PATH) || rendered.contains("tests/fixtures/config/images"),
            "{name}: no file named:\n{rendered}"
        );
        assert!(rendered.contains("hint:"), "{name}: no hint:\n{rendered}");
        insta::assert_snapshot!(name, rendered, &text);
    }
}

#[test]
fn one_mistake_gives_one_error() {
    let derived = [
        "is not a configured image",
        "names unknown image `base`",
        "dependency cycle",
        "is required",
        "missing required key",
        "declared by no image",
    ];
    let mut failures = Vec::new();
    for (name, text) in one_mistake_configs() {
        let shown = rendered(&text);
        let extra: Vec<&str> = derived
            .iter()
            .copied()
            .filter(|text| shown.contains(text))
            .collect();
        if shown.matches("error:").count() != 1 || !extra.is_empty() {
            failures.push(format!("{name} ({extra:?}):\n{shown}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_typo_for_a_required_key_is_one_error_that_names_the_key() {
    let shown = rendered(&format!(
        "{REGISTRY}[images.base]\nverison = \"1.0\"\ncontext = \"images/base\"\n"
    ));
    assert!(
        shown.contains("unknown key `verison` in [images.base]"),
        "{shown}"
    );
    assert!(shown.contains("did you mean `version`?"), "{shown}");
    assert!(!shown.contains("missing required key"), "{shown}");
    // Without a key that stands for it, a missing key is still reported.
    let shown = rendered(&format!(
        "{REGISTRY}[images.base]\ncontext = \"images/base\"\n"
    ));
    assert!(
        shown.contains("missing required key `version` in [images.base]"),
        "{shown}"
    );
    let shown = rendered("[registry]\nhots = \"registry.local:5000\"\nnamespace = \"golden\"\n[images.base]\nversion = \"1.0\"\ncontext = \"images/base\"\n");
    assert_eq!(shown.matches("error:").count(), 1, "{shown}");
}

#[test]
fn independent_mistakes_are_each_still_reported() {
    // base has a typo; orphan's FROM names a line of base that cannot exist
    // either way, but it is base's name, so it waits for base. `other` and
    // `bad` have problems of their own.
    let text = format!(
        "{REGISTRY}[images.base]\nverison = \"1.0\"\ncontext = \"images/base\"\n{APP}\
         [images.other]\nversion = \"1.0\"\ncontext = \"images/nope\"\n\
         [images.bad]\nversion = \"1.0\"\ncontext = \"images/bad\"\n"
    );
    let Err(ConfigError::Invalid(problems)) = load(&text) else {
        panic!("expected problems");
    };
    let messages: Vec<&str> = problems.0.iter().map(|p| p.message.as_str()).collect();
    assert_eq!(messages.len(), 3, "{problems}");
    assert!(messages[0].contains("unknown key `verison`"), "{problems}");
    assert!(messages[1].contains("context directory"), "{problems}");
    assert!(messages[2].contains("Upstream/Busybox"), "{problems}");
}

#[test]
fn every_problem_is_reported_at_once() {
    let (_, text) = bad_configs()
        .into_iter()
        .find(|(name, _)| *name == "many_problems_at_once")
        .unwrap();
    let Err(ConfigError::Invalid(problems)) = load(&text) else {
        panic!("expected problems");
    };
    assert_eq!(problems.0.len(), 5, "{problems}");
}

#[test]
fn durations_take_compound_and_subsecond_forms() {
    let cases = [
        ("1h30m", "500ms", 5_400_000, 500),
        ("90s", "2s500ms", 90_000, 2500),
        ("5m", "10", 300_000, 10_000),
        ("300", "1m", 300_000, 60_000),
    ];
    for (test, probe, test_millis, probe_millis) in cases {
        let text = format!(
            "{REGISTRY}[engine]\nprobe_timeout = \"{probe}\"\n{IMAGE}test = [\"true\"]\ntest_timeout = \"{test}\"\n"
        );
        let project = load(&text).unwrap_or_else(|e| panic!("{e}"));
        let base = project.config.image("base").unwrap();
        let timeout = base.test.as_ref().unwrap().timeout;
        assert_eq!(
            timeout,
            std::time::Duration::from_millis(test_millis),
            "{test}"
        );
        assert_eq!(
            project.config.engine.probe_timeout,
            Some(std::time::Duration::from_millis(probe_millis)),
            "{probe}"
        );
    }
}

#[test]
fn retention_comes_from_the_image_or_defaults() {
    let text = format!(
        "{REGISTRY}[defaults.retention]\nkeep = 5\n\n{IMAGE}\n[images.app]\nversion = \"1.0\"\ncontext = \"images/app\"\n[images.app.retention]\nkeep = 2\n"
    );
    let project = load(&text).unwrap_or_else(|e| panic!("{e}"));
    let keep = |id: &str| project.config.image(id).unwrap().keep;
    assert_eq!((keep("base"), keep("app")), (Some(5), Some(2)));
    let project = load(&format!("{REGISTRY}{IMAGE}")).unwrap();
    assert_eq!(project.config.image("base").unwrap().keep, None);
}

#[test]
fn platforms_come_from_the_image_or_defaults_and_keep_their_order() {
    let text = format!(
        "{REGISTRY}[defaults]\nplatforms = [\"linux/arm64/v8\", \"linux/amd64\"]\n\n{IMAGE}\n[images.app]\nversion = \"1.0\"\ncontext = \"images/app\"\nplatforms = [\"linux/arm/v7\"]\n"
    );
    let project = load(&text).unwrap_or_else(|e| panic!("{e}"));
    let platforms = |id: &str| -> Vec<String> {
        let image = project.config.image(id).unwrap();
        image.platforms.iter().map(ToString::to_string).collect()
    };
    assert_eq!(platforms("base"), ["linux/arm64", "linux/amd64"]);
    assert_eq!(platforms("app"), ["linux/arm/v7"]);
    let project = load(&format!("{REGISTRY}{IMAGE}")).unwrap();
    assert!(
        project.config.image("base").unwrap().platforms.is_empty(),
        "no `platforms`: the engine's own platform"
    );
}

#[test]
fn engines_load_with_their_platforms_jobs_and_labels() {
    let text = format!(
        "{REGISTRY}[engine]\nnetwork = \"none\"\n[[engines]]\nhost = \"unix:///run/a.sock\"\n\
         [[engines]]\nname = \"arm-1\"\nhost = \"tcp://127.0.0.1:2376\"\ncert_path = \"certs/arm-1\"\n\
         platforms = [\"linux/arm64\"]\njobs = 3\nlabels = [\"gpu\", \"ssd\"]\n\n\
         [defaults]\nengine_labels = [\"ssd\"]\n{IMAGE}\n[images.app]\nversion = \"1.0\"\ncontext = \"images/app\"\nengine_labels = [\"gpu\"]\n"
    );
    let project = load(&text).unwrap_or_else(|e| panic!("{e}"));
    let engine = &project.config.engine;
    assert_eq!(engine.network, Network::None);
    let names: Vec<&str> = engine.pool.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["unix:///run/a.sock", "arm-1"]);
    let arm = &engine.pool[1];
    assert_eq!(arm.jobs, Some(3));
    assert_eq!(arm.labels, ["gpu", "ssd"]);
    assert_eq!(arm.platforms[0].to_string(), "linux/arm64");
    assert!(arm.cert_path.as_ref().unwrap().ends_with("certs/arm-1"));
    assert_eq!(engine.pool[0].jobs, None);
    assert_eq!(project.config.image("base").unwrap().engine_labels, ["ssd"]);
    assert_eq!(project.config.image("app").unwrap().engine_labels, ["gpu"]);
}

#[test]
fn every_bad_platform_of_a_list_is_reported() {
    let (_, text) = bad_configs()
        .into_iter()
        .find(|(name, _)| *name == "platform_not_os_arch")
        .unwrap();
    let Err(ConfigError::Invalid(problems)) = load(&text) else {
        panic!("expected problems");
    };
    assert_eq!(problems.0.len(), 2, "{problems}");
}

#[test]
fn trusted_upstreams_pass_the_policy() {
    let text = format!("{REGISTRY}{IMAGE}[policy]\nupstream_allow = [\"127.0.0.1:5000/upstream/*\"]\nallow = [\"scratch\"]\nall_stages = true\n");
    let project = load(&text).unwrap_or_else(|e| panic!("{e}"));
    assert!(project.config.policy.all_stages);
    assert!(!project.config.policy.allow_latest);
    assert_eq!(project.config.policy.allow.texts, vec!["scratch"]);
}

/// An image whose Dockerfile declares `A`, `B`, `BIG` and `SMALL`.
const ARGS_IMAGE: &str = "[images.base]\nversion = \"1.0\"\ncontext = \"images/args\"\n";

#[test]
fn build_args_larger_than_the_engine_takes_name_the_key_and_the_limit() {
    let big = "x".repeat(70_000);
    // The value on its own line keeps the rendered source line short.
    let text = format!(
        "{REGISTRY}{ARGS_IMAGE}[images.base.build_args]\nSMALL = \"1\"\nBIG = \"\"\"\n{big}\"\"\"\n"
    );
    let shown = rendered(&text);
    assert!(
        shown.contains(
            "build arg `BIG` in [images.base] takes 70003 bytes, more than the 65536 bytes"
        ),
        "{shown}"
    );
    insta::assert_snapshot!("build_arg_too_large", shown);

    // Each part fits, the image's sum with [defaults] does not.
    let half = "y".repeat(40_000);
    let text = format!("{REGISTRY}[defaults.build_args]\nA = \"\"\"\n{half}\"\"\"\n{ARGS_IMAGE}[images.base.build_args]\nB = \"\"\"\n{half}\"\"\"\n");
    let shown = rendered(&text);
    assert!(
        shown.contains("build args of [images.base] take 80002 bytes, more than the 65536 bytes"),
        "{shown}"
    );
    assert_eq!(shown.matches("error:").count(), 1, "{shown}");
}

#[test]
fn labels_too_long_for_one_label_line_are_refused() {
    let half = "z".repeat(20_000);
    let text = format!("{REGISTRY}[defaults.labels]\na = \"\"\"\n{half}\"\"\"\n{IMAGE}[images.base.labels]\nb = \"\"\"\n{half}\"\"\"\n[images.app]\nversion = \"1.0\"\ncontext = \"images/app\"\n");
    let shown = rendered(&text);
    assert!(
        shown.contains("labels of [images.base] take 40014 bytes, more than the 32768 bytes"),
        "{shown}"
    );
    assert_eq!(
        shown.matches("error:").count(),
        1,
        "only base is over:\n{shown}"
    );
    insta::assert_snapshot!("labels_too_large", shown);
}

#[test]
fn inputs_at_the_edges_still_load() {
    let cases = [
        format!("[registry]\nhost = \"registry.local:65535\"\nnamespace = \"golden\"\n{IMAGE}"),
        format!("{REGISTRY}[engine]\nhost = \"tcp://[::1]:2375\"\n{IMAGE}"),
        format!("{REGISTRY}[engine]\nhost = \"unix:///var/run/docker.sock\"\n{IMAGE}"),
        format!("{REGISTRY}{IMAGE}schedule = \"0 0 29 2 *\"\n"),
        format!("{REGISTRY}{IMAGE}labels = {{ description = \"line one\\nline two\", \"with space\" = \"$HOME \\\"q\\\"\" }}\n"),
        format!("{REGISTRY}{ARGS_IMAGE}build_args = {{ BIG = \"{}\" }}\n", "x".repeat(60_000)),
        format!("{REGISTRY}[images.required]\nversion = \"1.0\"\ncontext = \"images/required\"\nbuild_args = {{ BASE = \"127.0.0.1:5000/upstream/busybox:1.36\" }}\n"),
    ];
    for text in cases {
        if let Err(error) = load(&text) {
            panic!("{}\n{error}", &text[..text.len().min(300)]);
        }
    }
}

#[test]
fn builders_come_from_the_image_defaults_engine_and_pool() {
    use crate::config::builders::BuilderChoice;
    let text = format!(
        "{REGISTRY}[engine]\nbuilder = \"classic\"\n[[engines]]\nhost = \"unix:///run/a.sock\"\n\
         [[engines]]\nname = \"kit\"\nhost = \"unix:///run/b.sock\"\nbuilder = \"buildkit\"\n\
         [defaults]\nbuilder = \"buildkit\"\n{IMAGE}\n[images.app]\nversion = \"1.0\"\ncontext = \"images/app\"\nbuilder = \"auto\"\n"
    );
    let project = load(&text).unwrap_or_else(|e| panic!("{e}"));
    let config = &project.config;
    assert_eq!(config.engine.builder, BuilderChoice::Classic);
    let pool: Vec<BuilderChoice> = config.engine.pool.iter().map(|e| e.builder).collect();
    assert_eq!(pool, [BuilderChoice::Classic, BuilderChoice::BuildKit]);
    let base = config.image("base").unwrap();
    assert_eq!(base.builder, BuilderChoice::BuildKit, "from [defaults]");
    assert_eq!(config.image("app").unwrap().builder, BuilderChoice::Auto);
    let span = base.builder_span.clone().unwrap();
    assert_eq!(&text[span], "\"buildkit\"");
    let project = load(&format!("{REGISTRY}{IMAGE}")).unwrap();
    let base = project.config.image("base").unwrap();
    assert_eq!(
        (base.builder, &base.builder_span),
        (BuilderChoice::Auto, &None)
    );
    assert_eq!(project.config.engine.builder, BuilderChoice::Auto);
}

#[test]
fn secrets_are_read_as_their_sources_never_their_values() {
    use crate::config::builders::SecretSource;
    let text = format!(
        "{REGISTRY}{IMAGE}[images.base.secrets]\nnuget_token = {{ env = \"NUGET_TOKEN\" }}\n\
         \"npm.rc\" = {{ file = \"secrets/npmrc\" }}\nabsolute = {{ file = \"/run/secrets/x\" }}\n"
    );
    let project = load(&text).unwrap_or_else(|e| panic!("{e}"));
    let base = project.config.image("base").unwrap();
    let sources: Vec<(&str, String)> = base
        .secrets
        .iter()
        .map(|(id, source)| (id.as_str(), source.to_string()))
        .collect();
    assert_eq!(
        sources,
        [
            ("absolute", "file /run/secrets/x".to_string()),
            (
                "npm.rc",
                "file tests/fixtures/config/secrets/npmrc".to_string()
            ),
            ("nuget_token", "env NUGET_TOKEN".to_string()),
        ]
    );
    assert_eq!(
        base.secrets["nuget_token"],
        SecretSource::Env("NUGET_TOKEN".into())
    );
    let span = base.secret_spans["nuget_token"].clone();
    assert_eq!(&text[span], "nuget_token");
}

#[test]
fn provided_secrets_load_and_the_graph_says_what_needs_buildkit() {
    let text = format!(
        "{REGISTRY}{SECRETS}[images.sdk.secrets]\nnuget_token = {{ env = \"NUGET_TOKEN\" }}\nunused = {{ file = \"x\" }}\n\
         [images.heredoc]\nversion = \"1.0\"\ncontext = \"images/heredoc\"\n{IMAGE}"
    );
    let project = load(&text).unwrap_or_else(|e| panic!("{e}"));
    let sdk = &project.graph.nodes["sdk"];
    let why = sdk.buildkit.as_ref().map(ToString::to_string);
    assert_eq!(why.as_deref(), Some("`RUN --mount` on line 2"));
    let ids: Vec<(&str, Option<bool>, usize)> = sdk
        .secret_mounts
        .iter()
        .map(|mount| (mount.id.as_str(), mount.required, mount.line))
        .collect();
    assert_eq!(
        ids,
        [("nuget_token", None, 3), ("npm_token", Some(false), 3)]
    );
    assert_eq!(
        project.warnings["sdk"],
        [
            "secret `npm_token` (line 3 of `Dockerfile`) is optional (`required=false`) and [images.sdk.secrets] does not provide it: the step runs without it",
            "secret `unused` of [images.sdk.secrets] is mounted by no `RUN --mount=type=secret,id=unused` of `Dockerfile`",
        ]
    );
    // A heredoc's body is no instruction: `FROM evil` in it is no stage.
    let heredoc = &project.graph.nodes["heredoc"];
    assert_eq!(heredoc.dockerfile.stages.len(), 1);
    let why = heredoc.buildkit.as_ref().map(ToString::to_string);
    assert_eq!(why.as_deref(), Some("the heredoc `RUN <<EOF` on line 2"));
    assert_eq!(project.graph.nodes["base"].buildkit, None);
    assert!(!project.warnings.contains_key("base"));
}

#[test]
fn a_pool_with_one_engine_that_may_run_buildkit_decides_per_build() {
    let text = format!(
        "{REGISTRY}[[engines]]\nhost = \"unix:///run/a.sock\"\nbuilder = \"classic\"\n\
         [[engines]]\nhost = \"unix:///run/b.sock\"\nlabels = [\"kit\"]\n\
         {SECRETS}[images.sdk.secrets]\nnuget_token = {{ env = \"NUGET_TOKEN\" }}\n\
         [images.heredoc]\nversion = \"1.0\"\ncontext = \"images/heredoc\"\nengine_labels = [\"kit\"]\n"
    );
    load(&text).unwrap_or_else(|e| panic!("{e}"));
    // Only the classic engine carries what `other` requires.
    let only_classic = format!("{text}[images.other]\nversion = \"1.0\"\ncontext = \"images/secrets\"\nname = \"other\"\nengine_labels = [\"slow\"]\n[images.other.secrets]\nnuget_token = {{ env = \"NUGET_TOKEN\" }}\n")
        .replace("builder = \"classic\"\n", "builder = \"classic\"\nlabels = [\"slow\"]\n");
    let shown = rendered(&only_classic);
    assert!(
        shown.contains("image `other` needs BuildKit for `RUN --mount`, but every engine of [[engines]] that may build it is set to `builder = \"classic\"`"),
        "{shown}"
    );
    assert_eq!(shown.matches("error:").count(), 1, "{shown}");
}

/// The fixture files, with every environment variable set to one value.
struct Environment(&'static str);

impl crate::files::Files for Environment {
    fn stat(&self, path: &Path) -> crate::files::Stat {
        crate::testing::TestDisk.stat(path)
    }

    fn read_text(&self, path: &Path, limit: u64) -> Result<String, crate::files::RegularFileError> {
        crate::testing::TestDisk.read_text(path, limit)
    }

    fn env(&self, _: &str) -> Option<std::ffi::OsString> {
        Some(self.0.into())
    }
}

#[test]
fn the_recipe_covers_a_secret_s_source_never_its_value() {
    let text = |source: &str| {
        format!(
            "{REGISTRY}{SECRETS}[images.sdk.secrets]\nnuget_token = {source}\nnpm_token = {{ file = \"secrets/absent\" }}\n"
        )
    };
    let recipe = |text: &str, value: &'static str| {
        let source = SourceFile::new(Path::new(PATH), text);
        let project =
            Project::from_source(source, &Environment(value)).unwrap_or_else(|e| panic!("{e}"));
        let sdk = project.config.image("sdk").unwrap().clone();
        let inputs = crate::context::RecipeInputs {
            dockerfile: &sdk.dockerfile,
            build_args: &sdk.build_args,
            labels: &sdk.labels,
            secrets: &sdk.recipe_secrets,
        };
        inputs.lines()
    };
    let env = text("{ env = \"NUGET_TOKEN\" }");
    // A rotated token: the same recipe (the value is read at build time,
    // and a file secret's file need not exist until then).
    let first = recipe(&env, "token-one");
    assert_eq!(first, recipe(&env, "token-two"));
    let shown = format!("{first:?}");
    assert!(!shown.contains("token-one"), "{shown}");
    assert!(
        shown.contains("S \\\"nuget_token\\\" \\\"env NUGET_TOKEN\\\""),
        "{shown}"
    );
    assert!(shown.contains("file secrets/absent"), "as written: {shown}");
    // Read from elsewhere: another recipe.
    assert_ne!(
        first,
        recipe(&text("{ env = \"NUGET_TOKEN_2\" }"), "token-one")
    );
    assert_ne!(first, recipe(&text("{ file = \"nuget\" }"), "token-one"));
}

#[test]
fn timezone_and_jitter_place_the_schedule_from_defaults_or_the_image() {
    let text = format!(
        "{REGISTRY}[defaults]\ntimezone = \"Europe/Berlin\"\njitter = \"30m\"\nschedule = \"0 3 * * *\"\n{IMAGE}timezone = \"UTC\"\n"
    );
    let project = load(&text).unwrap_or_else(|e| panic!("{e}"));
    let image = project.config.image("base").unwrap();
    assert_eq!(
        image.schedule.zone(),
        Some(chrono_tz::Tz::UTC),
        "the image's own wins"
    );
    let fired = image
        .schedule
        .next_fire("2026-07-01T12:00:00Z".parse().unwrap())
        .unwrap();
    let offset = crate::schedule::jitter_offset("base", std::time::Duration::from_secs(1800));
    assert_eq!(
        fired,
        "2026-07-02T03:00:00Z"
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap()
            + chrono::Duration::from_std(offset).unwrap(),
        "03:00 UTC plus the line's share of the 30m jitter from [defaults]"
    );
}
