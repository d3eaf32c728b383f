//! One run at a time per registry namespace on a machine: an OS file lock
//! (it dies with the process, so a crash never leaves a stale lock) on a
//! file named after the registry host and namespace, so every config that
//! publishes there shares it.
//!
//! The lock files live in a directory that only the user running golden can
//! write: `/run/golden` for root, `/tmp/golden-<uid>` for anyone else. Both
//! are fixed paths (not `TMPDIR` or `XDG_RUNTIME_DIR`, which differ between a
//! cron job and a login shell). golden creates the directory with mode 0700
//! and refuses one that is a symlink, belongs to another user or is open to
//! group or others. A lock file is opened without following a symlink and
//! must be a regular file of the user's with no other hard link, so a link
//! planted at its predictable name is neither followed nor truncated.
//!
//! Runs of different users use different directories and do not exclude
//! each other; a machine's scheduled runs of one namespace run as one user.

use std::fs::{DirBuilder, File, Metadata, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another golden run{} holds the lock `{path}` for this config; waited {waited}s", holder_text(.holder))]
    Busy {
        path: PathBuf,
        /// What the holder recorded in the file: `<pid> <user>`.
        holder: Option<String>,
        waited: u64,
    },
    #[error("failed to {action} `{path}`")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("refusing the lock directory `{path}`: it is a symbolic link")]
    SymlinkDirectory { path: PathBuf },
    #[error("refusing the lock directory `{path}`: it is not a directory")]
    NotADirectory { path: PathBuf },
    #[error("refusing the lock directory `{path}`: it belongs to {owner}, not to {us}")]
    ForeignDirectory {
        path: PathBuf,
        owner: String,
        us: String,
    },
    #[error("refusing the lock directory `{path}`: its mode is {mode:04o}, but only its owner may have access (0700)")]
    OpenDirectory { path: PathBuf, mode: u32 },
    #[error("refusing the lock file `{path}`: it is a symbolic link")]
    SymlinkFile { path: PathBuf },
    #[error("refusing the lock file `{path}`: it is not a regular file")]
    NotRegularFile { path: PathBuf },
    #[error("refusing the lock file `{path}`: it has other hard links")]
    HardLinkedFile { path: PathBuf },
    #[error("refusing the lock file `{path}`: it belongs to {owner}, not to {us}")]
    ForeignFile {
        path: PathBuf,
        owner: String,
        us: String,
    },
}

impl crate::hint::Hint for LockError {
    /// How to get past the error, when golden knows.
    fn hint(&self) -> Option<std::borrow::Cow<'_, str>> {
        let hint = match self {
            LockError::Busy { .. } => Some(
                "let the other run finish, or pass --wait-lock 10m to wait for it".to_string(),
            ),
            LockError::Io { .. } => None,
            LockError::SymlinkDirectory { path }
            | LockError::NotADirectory { path }
            | LockError::ForeignDirectory { path, .. } => Some(format!(
                "someone else may have planted `{}`: look at it, remove it, and golden creates the directory again with mode 0700",
                path.display()
            )),
            LockError::OpenDirectory { path, .. } => Some(format!(
                "if nobody else placed files in it, `chmod 700 {}`; else remove it and golden creates it again",
                path.display()
            )),
            LockError::SymlinkFile { path }
            | LockError::NotRegularFile { path }
            | LockError::HardLinkedFile { path }
            | LockError::ForeignFile { path, .. } => Some(format!(
                "golden only uses lock files it created: remove `{}` (no golden run holds it then)",
                path.display()
            )),
        };
        hint.map(std::borrow::Cow::Owned)
    }
}

fn holder_text(holder: &Option<String>) -> String {
    let Some(holder) = holder else {
        return String::new();
    };
    let mut words = holder.split_whitespace();
    match (words.next(), words.next()) {
        (Some(pid), Some(user)) => format!(" (pid {pid}, user `{user}`)"),
        (Some(pid), None) => format!(" (pid {pid})"),
        _ => String::new(),
    }
}

/// Held while a run builds; released when dropped or when the process ends.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

/// The effective user id of this process.
fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions, cannot fail and touches no memory.
    unsafe { libc::geteuid() }
}

/// The directory of the lock files of user `uid`.
fn lock_directory(uid: u32) -> PathBuf {
    if uid == 0 && Path::new("/run").is_dir() {
        PathBuf::from("/run/golden")
    } else {
        PathBuf::from(format!("/tmp/golden-{uid}"))
    }
}

/// The lock file of the namespace `<host>/<namespace>`.
pub fn lock_path(host: &str, namespace: &str) -> PathBuf {
    lock_directory(effective_uid()).join(lock_name(host, namespace))
}

fn lock_name(host: &str, namespace: &str) -> String {
    let digest = Sha256::digest(format!("{host}/{namespace}").as_bytes());
    let short: String = format!("{digest:x}").chars().take(16).collect();
    format!("golden-{short}.lock")
}

/// `user `name` (uid N)`, or `uid N` when the user has no name.
fn describe_user(uid: u32) -> String {
    match user_name(uid) {
        Some(name) => format!("user `{name}` (uid {uid})"),
        None => format!("uid {uid}"),
    }
}

/// The name of `uid` in `/etc/passwd`, if it has one there.
fn user_name(uid: u32) -> Option<String> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let id = fields.nth(1)?;
        (id.parse() == Ok(uid)).then(|| name.to_string())
    })
}

/// Creates `directory` with mode 0700 unless it exists, then checks that
/// it is a real directory of `uid`'s that nobody else can enter.
fn ensure_directory(directory: &Path, uid: u32) -> Result<(), LockError> {
    let io = |action, source| LockError::Io {
        action,
        path: directory.to_path_buf(),
        source,
    };
    match DirBuilder::new().mode(0o700).create(directory) {
        // The umask may have taken the owner's bits too.
        Ok(()) => std::fs::set_permissions(directory, std::fs::Permissions::from_mode(0o700))
            .map_err(|source| io("set the mode of the lock directory", source))?,
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(source) => return Err(io("create the lock directory", source)),
    }
    let metadata = std::fs::symlink_metadata(directory)
        .map_err(|source| io("read the lock directory", source))?;
    check_directory(directory, &metadata, uid)
}

fn check_directory(directory: &Path, metadata: &Metadata, uid: u32) -> Result<(), LockError> {
    let path = directory.to_path_buf();
    if metadata.file_type().is_symlink() {
        return Err(LockError::SymlinkDirectory { path });
    }
    if !metadata.is_dir() {
        return Err(LockError::NotADirectory { path });
    }
    if metadata.uid() != uid {
        return Err(LockError::ForeignDirectory {
            path,
            owner: describe_user(metadata.uid()),
            us: describe_user(uid),
        });
    }
    let mode = metadata.mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(LockError::OpenDirectory { path, mode });
    }
    Ok(())
}

/// Opens (creating it if needed) the lock file at `path` without following
/// a symlink, and checks that it is a plain file of `uid`'s.
fn open_lock_file(path: &Path, uid: u32) -> Result<File, LockError> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|source| match source.raw_os_error() {
            Some(libc::ELOOP) => LockError::SymlinkFile {
                path: path.to_path_buf(),
            },
            _ => LockError::Io {
                action: "open the lock file",
                path: path.to_path_buf(),
                source,
            },
        })?;
    let metadata = file.metadata().map_err(|source| LockError::Io {
        action: "read the lock file",
        path: path.to_path_buf(),
        source,
    })?;
    check_file(path, &metadata, uid)?;
    Ok(file)
}

fn check_file(path: &Path, metadata: &Metadata, uid: u32) -> Result<(), LockError> {
    let path = path.to_path_buf();
    if !metadata.is_file() {
        return Err(LockError::NotRegularFile { path });
    }
    if metadata.uid() != uid {
        return Err(LockError::ForeignFile {
            path,
            owner: describe_user(metadata.uid()),
            us: describe_user(uid),
        });
    }
    if metadata.nlink() > 1 {
        return Err(LockError::HardLinkedFile { path });
    }
    Ok(())
}

/// Takes the lock of `<host>/<namespace>`, waiting up to `wait`.
pub async fn acquire(host: &str, namespace: &str, wait: Duration) -> Result<RunLock, LockError> {
    let uid = effective_uid();
    acquire_in(&lock_directory(uid), uid, host, namespace, wait).await
}

/// [`acquire`] with the lock files of user `uid` in `directory`.
async fn acquire_in(
    directory: &Path,
    uid: u32,
    host: &str,
    namespace: &str,
    wait: Duration,
) -> Result<RunLock, LockError> {
    ensure_directory(directory, uid)?;
    let path = directory.join(lock_name(host, namespace));
    let mut file = open_lock_file(&path, uid)?;
    let started = Instant::now();
    let mut announced = false;
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(TryLockError::WouldBlock) if started.elapsed() < wait => {
                if !announced {
                    tracing::warn!(lock = %path.display(), "another golden run holds the lock; waiting up to {}s", wait.as_secs());
                    announced = true;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim().to_string();
                return Err(LockError::Busy {
                    path,
                    holder: (!holder.is_empty()).then_some(holder),
                    waited: started.elapsed().as_secs(),
                });
            }
            Err(TryLockError::Error(source)) => {
                return Err(LockError::Io {
                    action: "lock",
                    path,
                    source,
                })
            }
        }
    }
    // Record who holds it, for the message another run prints. The checks
    // above make this a file golden created in a directory only its user
    // can write, so emptying it touches nothing else.
    let user = user_name(uid).unwrap_or_else(|| format!("uid-{uid}"));
    let _ = file.set_len(0);
    let _ = file.rewind();
    let _ = write!(file, "{} {user}", std::process::id());
    let _ = file.flush();
    Ok(RunLock { _file: file })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hint::Hint;

    fn us() -> u32 {
        effective_uid()
    }

    /// A private lock directory (mode 0700) inside a temporary directory.
    fn private_directory() -> (tempfile::TempDir, PathBuf) {
        let root = tempfile::tempdir().unwrap();
        let directory = root.path().join("golden");
        (root, directory)
    }

    #[tokio::test]
    async fn a_second_holder_waits_then_gives_up_and_a_release_frees_it() {
        let namespace = format!("lock-test-{}", std::process::id());
        let first = acquire("registry.local:5000", &namespace, Duration::ZERO)
            .await
            .unwrap();
        let second = acquire(
            "registry.local:5000",
            &namespace,
            Duration::from_millis(300),
        )
        .await
        .unwrap_err();
        let pid = std::process::id().to_string();
        match &second {
            LockError::Busy { holder, .. } => {
                assert!(holder.as_deref().unwrap().starts_with(&format!("{pid} ")))
            }
            other => panic!("{other}"),
        }
        let user = user_name(us()).unwrap_or_else(|| format!("uid-{}", us()));
        assert!(
            second.to_string().contains(&format!(
                "another golden run (pid {pid}, user `{user}`) holds the lock"
            )),
            "{second}"
        );
        drop(first);
        acquire("registry.local:5000", &namespace, Duration::ZERO)
            .await
            .unwrap();
        assert_ne!(
            lock_path("registry.local:5000", "a"),
            lock_path("registry.local:5000", "b")
        );
    }

    #[tokio::test]
    async fn the_lock_directory_is_created_with_mode_0700() {
        let (_root, directory) = private_directory();
        acquire_in(&directory, us(), "r.local", "ns", Duration::ZERO)
            .await
            .unwrap();
        let metadata = std::fs::symlink_metadata(&directory).unwrap();
        assert!(metadata.is_dir());
        assert_eq!(metadata.mode() & 0o7777, 0o700);
        let file = std::fs::metadata(directory.join(lock_name("r.local", "ns"))).unwrap();
        assert_eq!(file.mode() & 0o777, 0o600);
    }

    #[tokio::test]
    async fn a_symlink_at_the_lock_path_is_refused_and_its_target_is_untouched() {
        let (root, directory) = private_directory();
        ensure_directory(&directory, us()).unwrap();
        let target = root.path().join("precious");
        std::fs::write(&target, "keep me").unwrap();
        let path = directory.join(lock_name("r.local", "ns"));
        std::os::unix::fs::symlink(&target, &path).unwrap();
        let error = acquire_in(&directory, us(), "r.local", "ns", Duration::ZERO)
            .await
            .unwrap_err();
        assert!(matches!(error, LockError::SymlinkFile { .. }), "{error}");
        assert_eq!(
            error.to_string(),
            format!(
                "refusing the lock file `{}`: it is a symbolic link",
                path.display()
            )
        );
        assert!(error.hint().unwrap().contains("remove"));
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");
    }

    #[tokio::test]
    async fn a_symlinked_or_hard_linked_lock_file_or_directory_is_refused() {
        let (root, directory) = private_directory();
        let elsewhere = root.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &directory).unwrap();
        let error = acquire_in(&directory, us(), "r.local", "ns", Duration::ZERO)
            .await
            .unwrap_err();
        assert!(
            matches!(error, LockError::SymlinkDirectory { .. }),
            "{error}"
        );
        assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);

        let (root, directory) = private_directory();
        ensure_directory(&directory, us()).unwrap();
        let target = root.path().join("precious");
        std::fs::write(&target, "keep me").unwrap();
        std::fs::hard_link(&target, directory.join(lock_name("r.local", "ns"))).unwrap();
        let error = acquire_in(&directory, us(), "r.local", "ns", Duration::ZERO)
            .await
            .unwrap_err();
        assert!(matches!(error, LockError::HardLinkedFile { .. }), "{error}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");
    }

    #[tokio::test]
    async fn a_directory_open_to_others_or_of_another_user_is_refused() {
        let (_root, directory) = private_directory();
        std::fs::create_dir(&directory).unwrap();
        std::fs::set_permissions(&directory, std::fs::Permissions::from_mode(0o777)).unwrap();
        let error = acquire_in(&directory, us(), "r.local", "ns", Duration::ZERO)
            .await
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "refusing the lock directory `{}`: its mode is 0777, but only its owner may have access (0700)",
                directory.display()
            )
        );
        assert!(error.hint().unwrap().contains("chmod 700"));
        assert_eq!(std::fs::read_dir(&directory).unwrap().count(), 0);

        // The directory is ours; to golden running as another user it is foreign.
        std::fs::set_permissions(&directory, std::fs::Permissions::from_mode(0o700)).unwrap();
        let other = us() + 1;
        let error = acquire_in(&directory, other, "r.local", "ns", Duration::ZERO)
            .await
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "refusing the lock directory `{}`: it belongs to {}, not to {}",
                directory.display(),
                describe_user(us()),
                describe_user(other)
            )
        );
        assert_eq!(std::fs::read_dir(&directory).unwrap().count(), 0);
    }

    #[test]
    fn a_lock_file_of_another_user_is_refused_naming_its_owner() {
        let (_root, directory) = private_directory();
        ensure_directory(&directory, us()).unwrap();
        let path = directory.join(lock_name("r.local", "ns"));
        std::fs::write(&path, "").unwrap();
        let metadata = std::fs::metadata(&path).unwrap();
        let other = us() + 1;
        let error = check_file(&path, &metadata, other).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "refusing the lock file `{}`: it belongs to {}, not to {}",
                path.display(),
                describe_user(us()),
                describe_user(other)
            )
        );
    }

    #[test]
    fn users_are_named_from_the_password_database() {
        assert_eq!(describe_user(0), "user `root` (uid 0)");
        assert_eq!(describe_user(4_000_000_000), "uid 4000000000");
        assert_eq!(lock_directory(0), PathBuf::from("/run/golden"));
        assert_eq!(lock_directory(1000), PathBuf::from("/tmp/golden-1000"));
        assert_eq!(
            holder_text(&Some("42 builder".into())),
            " (pid 42, user `builder`)"
        );
        assert_eq!(holder_text(&Some("42".into())), " (pid 42)");
    }
}
