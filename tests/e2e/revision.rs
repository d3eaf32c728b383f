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
