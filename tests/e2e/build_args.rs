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
