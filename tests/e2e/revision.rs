//! End to end: the revision label says which commit a build came from, and
//! says so honestly: a dirty checkout is marked, and without git the CI's
//! commit variable is used.

use crate::support;

use support::{labels, Stack};

const REVISION: &str = "org.opencontainers.image.revision";

#[test]
fn a_dirty_checkout_is_labelled_dirty_with_a_warning() {
    let stack = Stack::new("revision_dirty");
    let commit = stack.commit();
    stack.write("images/base/extra.txt", "not committed\n");
    let run = stack.golden(&["build", "base"]).expect(0);
    assert!(
        run.stderr
            .contains("uncommitted change(s): builds are labelled"),
        "{}",
        run.stderr
    );
    let label = &labels(&stack.repository("base"), "1.0.0")[REVISION];
    assert_eq!(label, &format!("{commit}-dirty"));
}

#[test]
fn without_git_the_ci_commit_variable_is_the_revision() {
    let stack = Stack::new("revision_ci");
    let sha = "0123456789abcdef0123456789abcdef01234567";
    let run = stack
        .golden_with_env(&["-v", "build", "base"], &[("GITHUB_SHA", sha)])
        .expect(0);
    assert!(
        run.stderr
            .contains(&format!("revision {sha} from $GITHUB_SHA")),
        "{}",
        run.stderr
    );
    assert_eq!(labels(&stack.repository("base"), "1.0.0")[REVISION], sha);
}

const SOURCE: &str = "org.opencontainers.image.source";

#[test]
fn the_checkouts_origin_is_the_source_label_without_its_token() {
    let stack = Stack::new("source_origin");
    stack.commit();
    let git = std::process::Command::new("git")
        .arg("-C")
        .arg(stack.path())
        .args([
            "remote",
            "add",
            "origin",
            "https://gitlab-ci-token:s3cr3t-t0ken@git.example.com/platform/golden-images.git",
        ])
        .status()
        .unwrap();
    assert!(git.success());
    let run = stack.golden(&["-v", "build", "base"]).expect(0);
    let labels = labels(&stack.repository("base"), "1.0.0");
    assert_eq!(
        labels[SOURCE], "https://git.example.com/platform/golden-images",
        "{labels:#?}"
    );
    assert!(
        !format!("{}{}{labels:?}", run.stdout, run.stderr).contains("s3cr3t-t0ken"),
        "the remote's token leaked"
    );
}

#[test]
fn without_git_the_ci_variables_name_the_source() {
    let stack = Stack::new("source_ci");
    stack
        .golden_with_env(
            &["build", "base"],
            &[
                ("GITHUB_SERVER_URL", "https://github.example.com"),
                ("GITHUB_REPOSITORY", "platform/golden-images"),
            ],
        )
        .expect(0);
    assert_eq!(
        labels(&stack.repository("base"), "1.0.0")[SOURCE],
        "https://github.example.com/platform/golden-images"
    );
}
