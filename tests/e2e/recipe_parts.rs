//! End to end: `plan` says what in a recipe changed: the Dockerfile, a
//! build arg by name, a label by key, a top-level file or directory.

use crate::support;

use support::{golden_at, one_image_config, REGISTRY, SEED};

#[test]
fn a_recipe_change_names_what_changed() {
    support::require_environment();
    let namespace = format!("e2e-recipe-parts-{}", std::process::id());
    let dockerfile =
        format!("FROM {SEED}\nARG SDK_VERSION\nCOPY certs /certs\nCOPY notes.txt /notes.txt\n");
    let (directory, config) = one_image_config(REGISTRY, &namespace, "sdk", &dockerfile, "");
    let context = directory.path().join("sdk");
    std::fs::create_dir_all(context.join("certs")).unwrap();
    std::fs::write(context.join("certs/ca.pem"), "ca 1\n").unwrap();
    std::fs::write(context.join("notes.txt"), "notes\n").unwrap();
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(
        "build_args = { SDK_VERSION = \"10.0.100\" }\nlabels = { owner = \"platform\" }\n",
    );
    std::fs::write(&config, &text).unwrap();
    golden_at(&config, &["build", "--all"]).expect(0);

    std::fs::write(
        context.join("Dockerfile"),
        format!("{dockerfile}RUN true\n"),
    )
    .unwrap();
    std::fs::write(context.join("certs/ca.pem"), "ca 2\n").unwrap();
    std::fs::write(
        &config,
        text.replace("10.0.100", "10.0.101")
            .replace("platform", "runtime"),
    )
    .unwrap();
    let plan = golden_at(&config, &["plan", "--wide"]).expect(0);
    assert!(
        plan.stdout
            .contains("recipe changed: Dockerfile, build arg SDK_VERSION, certs/, label owner"),
        "{}",
        plan.stdout
    );
    assert!(!plan.stdout.contains("notes.txt"), "{}", plan.stdout);
    let json = golden_at(&config, &["plan", "--output", "json"])
        .expect(0)
        .json();
    let reason = &json["images"][0]["reasons"][0];
    assert_eq!(reason["kind"], "recipe-changed", "{json:#}");
    assert_eq!(
        reason["changed"],
        serde_json::json!([
            "Dockerfile",
            "build arg SDK_VERSION",
            "certs/",
            "label owner"
        ])
    );
}
