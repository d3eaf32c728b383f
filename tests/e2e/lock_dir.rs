//! The run lock lives in a directory only golden's user can write: a
//! symlink planted at a lock file's predictable name, where golden used to
//! put it (the world-writable /run/lock) or where it puts it now, never makes
//! golden follow it and truncate the file it points to.

use crate::support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use support::{golden_at, one_image_config, tags, REGISTRY, SEED};

/// `golden-<16 hex digits of sha256("<host>/<namespace>")>.lock`.
fn lock_name(namespace: &str) -> String {
    let host = golden::reference::canonical_host(REGISTRY);
    let digest = Sha256::digest(format!("{host}/{namespace}").as_bytes());
    format!("golden-{}.lock", &format!("{digest:x}")[..16])
}

fn effective_uid() -> u32 {
    let output = std::process::Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap()
}

/// Where golden put lock files before: the first of these that exists.
fn old_directory() -> PathBuf {
    ["/run/lock", "/var/lock", "/tmp"]
        .iter()
        .map(PathBuf::from)
        .find(|directory| directory.is_dir())
        .unwrap()
}

/// Where golden puts them now (the README documents it).
fn new_directory() -> PathBuf {
    match effective_uid() {
        0 => PathBuf::from("/run/golden"),
        uid => PathBuf::from(format!("/tmp/golden-{uid}")),
    }
}

/// Removes the planted link when the test ends, however it ends.
struct Planted(PathBuf);

impl Drop for Planted {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn plant(link: &Path, target: &Path) -> Planted {
    let _ = std::fs::remove_file(link);
    std::os::unix::fs::symlink(target, link).unwrap();
    Planted(link.to_path_buf())
}

#[test]
fn a_symlink_at_the_lock_path_never_truncates_its_target() {
    support::require_environment();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let namespace = format!("e2e-lock-symlink-{}-{nanos}", std::process::id());
    let (directory, config) = one_image_config(
        REGISTRY,
        &namespace,
        "locked",
        &format!("FROM {SEED}\n"),
        "",
    );
    let target = directory.path().join("precious");
    std::fs::write(&target, "precious\n").unwrap();

    let old = old_directory().join(lock_name(&namespace));
    let _old = plant(&old, &target);
    let new_directory = new_directory();
    if !new_directory.exists() {
        std::fs::create_dir(&new_directory).unwrap();
        std::fs::set_permissions(&new_directory, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let new = new_directory.join(lock_name(&namespace));
    let planted = plant(&new, &target);

    let refused = golden_at(&config, &["build", "--all"]);
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "precious\n",
        "the target of a planted link is untouched\n{}",
        refused.stderr
    );
    let refused = refused.expect(2);
    assert!(
        refused.stderr.contains(&format!(
            "error: nothing was built\nCaused by: refusing the lock file `{}`: it is a symbolic link\nhint: golden only uses lock files it created: remove `{}`",
            new.display(),
            new.display()
        )),
        "{}",
        refused.stderr
    );
    assert!(tags(&format!("{REGISTRY}/{namespace}/locked")).is_empty());

    // Without the link at the new path golden builds; the old path is
    // not used at all.
    drop(planted);
    golden_at(&config, &["build", "--all"]).expect(0);
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious\n");
    assert!(std::fs::symlink_metadata(&old)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(
        golden::lock::lock_path(&golden::reference::canonical_host(REGISTRY), &namespace),
        new
    );
    let lock = std::fs::symlink_metadata(&new).unwrap();
    assert!(lock.is_file());
    assert_eq!(lock.mode() & 0o777, 0o600);
    let directory = std::fs::symlink_metadata(&new_directory).unwrap();
    assert_eq!(directory.mode() & 0o777, 0o700);
    assert_eq!(directory.uid(), effective_uid());
    assert_eq!(
        tags(&format!("{REGISTRY}/{namespace}/locked")),
        vec!["1", "1.0", "1.0.0", "latest"]
    );
    let _ = std::fs::remove_file(&new);
}
