//! End to end: build args are checked against the Dockerfile that gets
//! them, before anything is built.

use crate::support;

use support::{golden_at, one_image_config, REGISTRY, SEED};

#[test]
fn a_misspelt_build_arg_is_a_located_error_with_a_suggestion() {
    let dockerfile =
        format!("ARG BASE={SEED}\nFROM $BASE\nARG RUNTIME_VERSION\nRUN echo $RUNTIME_VERSION\n");
    let (_directory, config) =
        one_image_config(REGISTRY, "e2e-build-args", "runtime", &dockerfile, "");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(
        "build_args = { RUNTIME_VERISON = \"8.0.1\", HTTP_PROXY = \"http://proxy:3128\" }\n",
    );
    std::fs::write(&config, &text).unwrap();
    let run = golden_at(&config, &["build", "--all"]).expect(2);
    assert!(
        run.stderr.contains("build arg `RUNTIME_VERISON` of image `runtime` is not declared by its Dockerfile `Dockerfile`")
            && run.stderr.contains("golden.toml:7:16")
            && run.stderr.contains("did you mean `RUNTIME_VERSION`?"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("build arg `HTTP_PROXY`") && run.stderr.contains("1 problem found"),
        "a predefined arg needs no ARG:\n{}",
        run.stderr
    );

    // Fixed, the ARG without a default that nothing sets is a warning.
    std::fs::write(&config, text.replace("RUNTIME_VERISON = \"8.0.1\", ", "")).unwrap();
    let plan = golden_at(&config, &["plan"]).expect(0);
    assert!(
        plan.stdout.contains("warning: runtime: `ARG RUNTIME_VERSION` (line 3 of `Dockerfile`) has no default and no build arg sets it"),
        "{}",
        plan.stdout
    );
}

/// The docker config's `proxies` reach builds as the docker CLI passes
/// them (HTTP_PROXY and http_proxy, ...), with both builders; an arg
/// golden.toml sets wins; they stay out of the recipe, so a proxy that
/// changes rebuilds nothing.
#[test]
fn the_docker_configs_proxies_reach_builds_and_stay_out_of_the_recipe() {
    let stack = support::Stack::new("proxies");
    let dockerfile = std::fs::read_to_string(stack.path().join("images/base/Dockerfile")).unwrap();
    stack.write(
        "images/base/Dockerfile",
        &format!("{dockerfile}RUN echo \"$HTTP_PROXY|$http_proxy|$NO_PROXY|$no_proxy|$HTTPS_PROXY\" > /etc/golden/proxies\n"),
    );
    let docker_config = stack.path().join("docker-config");
    let proxies = |http: &str| {
        std::fs::create_dir_all(&docker_config).unwrap();
        let config = serde_json::json!({"proxies": {"default": {
            "httpProxy": http,
            "noProxy": "127.0.0.1,.internal",
        }}});
        std::fs::write(docker_config.join("config.json"), config.to_string()).unwrap();
    };
    let golden = |args: &[&str]| {
        let docker_config = docker_config.to_string_lossy().to_string();
        stack.golden_with_env(args, &[("DOCKER_CONFIG", docker_config.as_str())])
    };
    let read = |tag: &str| {
        let image = format!("{}:{tag}", stack.repository("base"));
        support::file_in_image(&image, "/etc/golden/proxies")
            .trim()
            .to_string()
    };
    proxies("http://proxy.internal:3128");
    let config = std::fs::read_to_string(stack.config()).unwrap();
    for (builder, version) in [("classic", "1.0.0"), ("buildkit", "1.0.1")] {
        let chosen = format!("[images.base]\nbuilder = \"{builder}\"\n");
        std::fs::write(
            stack.config(),
            config.replacen("[images.base]\n", &chosen, 1),
        )
        .unwrap();
        golden(&["rebuild", "base"]).expect(0);
        assert_eq!(
            read(version),
            "http://proxy.internal:3128|http://proxy.internal:3128|127.0.0.1,.internal|127.0.0.1,.internal|",
            "{builder}"
        );
    }
    // Another proxy: nothing is due.
    proxies("http://elsewhere.internal:8080");
    let plan = golden(&["plan", "base", "--output", "json"])
        .expect(0)
        .json();
    assert_eq!(
        support::entry(&plan, "base")["decision"],
        "up-to-date",
        "{plan}"
    );
    // golden.toml's arg wins over the config's (a fresh build: the
    // builders keep proxy args out of their cache keys, as the recipe).
    stack.append_config("[images.base.build_args]\nhttp_proxy = \"http://mine.internal:1\"\n");
    golden(&["rebuild", "base"]).expect(0);
    // Neither spelling comes from the config then (BuildKit reads both as
    // one: two values would be a coin toss).
    assert_eq!(
        read("1.0.2"),
        "http://mine.internal:1|http://mine.internal:1|127.0.0.1,.internal|127.0.0.1,.internal|"
    );
}
