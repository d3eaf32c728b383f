//! One run at a time per registry namespace on a machine: an OS file lock
//! (it dies with the process, so a crash never leaves a stale lock) on a
//! file named after the registry host and namespace, in a fixed directory
//! (not `TMPDIR`, which differs between a cron job and a login shell), so
//! every config that publishes there shares it.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another golden run{} holds the lock `{path}` for this config; waited {waited}s", holder_text(.holder))]
    Busy {
        path: PathBuf,
        holder: Option<String>,
        waited: u64,
    },
    #[error("failed to open the lock file `{path}`")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn holder_text(holder: &Option<String>) -> String {
    holder
        .as_ref()
        .map(|pid| format!(" (pid {pid})"))
        .unwrap_or_default()
}

/// Held while a run builds; released when dropped or when the process ends.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

/// Directories tried for lock files, in order: the first that exists.
const LOCK_DIRECTORIES: &[&str] = &["/run/lock", "/var/lock", "/tmp"];

/// The lock file of the namespace `<host>/<namespace>`.
pub fn lock_path(host: &str, namespace: &str) -> PathBuf {
    let digest = Sha256::digest(format!("{host}/{namespace}").as_bytes());
    let short: String = format!("{digest:x}").chars().take(16).collect();
    let directory = LOCK_DIRECTORIES
        .iter()
        .map(Path::new)
        .find(|directory| directory.is_dir())
        .map_or_else(std::env::temp_dir, Path::to_path_buf);
    directory.join(format!("golden-{short}.lock"))
}

/// Takes the lock of `<host>/<namespace>`, waiting up to `wait`.
pub async fn acquire(host: &str, namespace: &str, wait: Duration) -> Result<RunLock, LockError> {
    let path = lock_path(host, namespace);
    let io = |source| LockError::Io {
        path: path.clone(),
        source,
    };
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io)?;
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
            Err(TryLockError::Error(source)) => return Err(io(source)),
        }
    }
    // Record who holds it, for the message another run prints.
    let _ = file.set_len(0);
    let _ = file.rewind();
    let _ = write!(file, "{}", std::process::id());
    let _ = file.flush();
    Ok(RunLock { _file: file })
}

#[cfg(test)]
mod tests {
    use super::*;

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
        match &second {
            LockError::Busy { holder, .. } => assert_eq!(
                holder.as_deref(),
                Some(std::process::id().to_string().as_str())
            ),
            other => panic!("{other}"),
        }
        assert!(second.to_string().contains("another golden run"));
        drop(first);
        acquire("registry.local:5000", &namespace, Duration::ZERO)
            .await
            .unwrap();
        assert_ne!(
            lock_path("registry.local:5000", "a"),
            lock_path("registry.local:5000", "b")
        );
    }
}
