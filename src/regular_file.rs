//! Reading a file golden is told to read (golden.toml, a Dockerfile, a
//! password or webhook file, a file given to `golden check`, a cache
//! file): only a regular file, and only up to a size limit.
//!
//! The path is looked at first (`stat`): anything but a regular file (a
//! FIFO, `/dev/zero`, a tty, a tape, `/dev/watchdog`) is refused without
//! being opened, so opening it has no side effect. A regular file is then
//! opened without blocking and without becoming a controlling terminal
//! (`O_NONBLOCK | O_NOCTTY`), and the opened file (`fstat`) must be the
//! one looked at (same device and inode), so nothing can swap it between
//! check and read. A regular file is read to at most its limit plus one
//! byte. This module
//! must not print or decide what a caller does with the refusal.

use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::path::Path;

use golden_core::files::{Files, Stat};

pub use golden_core::files::{RegularFileError, MAX_SECRET, MAX_TEXT};

/// Whether a symlink at the path itself is followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Symlinks {
    /// Follow it: a user's `golden.toml -> configs/prod.toml` is fine.
    Follow,
    /// Refuse it (golden's own files, which it never links).
    Refuse,
}

/// The refusal an open or stat of `path` ended in.
fn from_open(error: io::Error, symlinks: Symlinks) -> RegularFileError {
    match error.raw_os_error() {
        Some(libc::ELOOP) if symlinks == Symlinks::Refuse => RegularFileError::Symlink,
        Some(libc::ELOOP) => RegularFileError::SymlinkLoop,
        _ if error.kind() == io::ErrorKind::NotFound => RegularFileError::Missing,
        _ => RegularFileError::Io(error),
    }
}

/// Opens `path` for reading if it is a regular file, without opening
/// anything else; the metadata is the opened file's.
pub fn open(path: &Path, symlinks: Symlinks) -> Result<(File, Metadata), RegularFileError> {
    let looked = match symlinks {
        Symlinks::Follow => std::fs::metadata(path),
        Symlinks::Refuse => std::fs::symlink_metadata(path),
    }
    .map_err(|error| from_open(error, symlinks))?;
    if looked.file_type().is_symlink() {
        return Err(RegularFileError::Symlink);
    }
    if !looked.is_file() {
        return Err(RegularFileError::NotRegular {
            kind: kind_name(&looked.file_type()),
        });
    }
    open_looked(path, symlinks, &looked)
}

/// Opens `path`, which was `looked` at as a regular file: the opened file
/// must be that one.
fn open_looked(
    path: &Path,
    symlinks: Symlinks,
    looked: &Metadata,
) -> Result<(File, Metadata), RegularFileError> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let nofollow = match symlinks {
            Symlinks::Follow => 0,
            Symlinks::Refuse => libc::O_NOFOLLOW,
        };
        options.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC | nofollow);
    }
    let file = options
        .open(path)
        .map_err(|error| from_open(error, symlinks))?;
    let metadata = file.metadata().map_err(RegularFileError::Io)?;
    if !metadata.is_file() {
        return Err(RegularFileError::NotRegular {
            kind: kind_name(&metadata.file_type()),
        });
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if (metadata.dev(), metadata.ino()) != (looked.dev(), looked.ino()) {
            return Err(RegularFileError::Replaced);
        }
    }
    #[cfg(not(unix))]
    let _ = looked;
    Ok((file, metadata))
}

/// The bytes of the regular file `path`, at most `limit` of them.
pub fn read(path: &Path, limit: u64, symlinks: Symlinks) -> Result<Vec<u8>, RegularFileError> {
    let (file, metadata) = open(path, symlinks)?;
    if metadata.len() > limit {
        return Err(RegularFileError::TooLarge { limit });
    }
    let mut bytes = Vec::with_capacity(metadata.len() as usize);
    // One byte past the limit tells a file that grew since the fstat.
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(RegularFileError::Io)?;
    if bytes.len() as u64 > limit {
        return Err(RegularFileError::TooLarge { limit });
    }
    Ok(bytes)
}

/// The text of the regular file `path` (symlinks followed), at most
/// `limit` bytes of UTF-8.
pub fn read_text(path: &Path, limit: u64) -> Result<String, RegularFileError> {
    let bytes = read(path, limit, Symlinks::Follow)?;
    String::from_utf8(bytes).map_err(|_| RegularFileError::NotUtf8)
}

/// What a file that is not a regular file is, for a message ("a FIFO").
pub fn kind_name(file_type: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO";
        }
        if file_type.is_char_device() {
            return "a character device";
        }
        if file_type.is_block_device() {
            return "a block device";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_file() {
        "a regular file"
    } else if file_type.is_symlink() {
        "a symlink"
    } else {
        "a special file"
    }
}

/// The machine's files and environment, as the core sees them.
#[derive(Debug, Clone, Copy, Default)]
pub struct Disk;

impl Files for Disk {
    fn stat(&self, path: &Path) -> Stat {
        use std::os::unix::fs::PermissionsExt;
        match std::fs::metadata(path) {
            Ok(metadata) if metadata.is_file() => Stat::File {
                mode: metadata.permissions().mode(),
            },
            Ok(metadata) if metadata.is_dir() => Stat::Directory,
            Ok(metadata) => Stat::Other {
                kind: kind_name(&metadata.file_type()),
            },
            Err(error) if error.raw_os_error() == Some(libc::ELOOP) => Stat::SymlinkLoop,
            Err(error) if error.kind() == io::ErrorKind::NotFound => Stat::Missing,
            Err(error) => Stat::Unreadable(error.to_string()),
        }
    }

    fn read_text(&self, path: &Path, limit: u64) -> Result<String, RegularFileError> {
        read_text(path, limit)
    }

    fn env(&self, name: &str) -> Option<std::ffi::OsString> {
        std::env::var_os(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::OpenOptionsExt;

    /// Runs `read` on another thread: a read that blocks fails the test
    /// instead of hanging it.
    fn read_within(path: &Path, limit: u64, symlinks: Symlinks) -> Result<Vec<u8>, String> {
        let path = path.to_path_buf();
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = sender.send(read(&path, limit, symlinks).map_err(|e| e.to_string()));
        });
        receiver
            .recv_timeout(std::time::Duration::from_secs(5))
            .expect("the read returned within 5 seconds")
    }

    #[test]
    fn what_is_not_a_regular_file_is_refused_without_being_opened() {
        let directory = tempfile::tempdir().unwrap();
        let fifo = directory.path().join("fifo");
        let name = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
        // A writer's open of a FIFO returns only once a reader opened it.
        let (sender, receiver) = std::sync::mpsc::channel();
        let writer_path = fifo.clone();
        std::thread::spawn(move || {
            let writer = std::fs::OpenOptions::new().write(true).open(&writer_path);
            let _ = sender.send(writer.is_ok());
        });
        std::thread::sleep(std::time::Duration::from_millis(200));
        for symlinks in [Symlinks::Follow, Symlinks::Refuse] {
            let refused = read_within(&fifo, 10, symlinks).unwrap_err();
            assert!(refused.contains("(it is a FIFO)"), "{refused}");
        }
        let opened = receiver.recv_timeout(std::time::Duration::from_millis(500));
        assert!(opened.is_err(), "golden opened the FIFO it refused");
        // Let the writer go.
        let _reader = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&fifo)
            .unwrap();
        assert_eq!(
            receiver.recv_timeout(std::time::Duration::from_secs(5)),
            Ok(true)
        );
    }

    #[test]
    fn only_regular_files_within_the_limit_are_read() {
        let directory = tempfile::tempdir().unwrap();
        let file = directory.path().join("file");
        std::fs::write(&file, "0123456789").unwrap();
        let fifo = directory.path().join("fifo");
        let name = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
        let link = directory.path().join("link");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        let zero = directory.path().join("zero");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        let follow = Symlinks::Follow;
        type Case<'a> = (&'a Path, u64, Symlinks, Result<&'a [u8], &'a str>);
        let cases: Vec<Case> = vec![
            (&file, 10, follow, Ok(b"0123456789")),
            (&file, 9, follow, Err("is larger than 9 bytes")),
            (&link, 10, follow, Ok(b"0123456789")),
            (&link, 10, Symlinks::Refuse, Err("is a symlink")),
            (
                &fifo,
                10,
                follow,
                Err("is not a regular file (it is a FIFO)"),
            ),
            (&zero, 10, follow, Err("(it is a character device)")),
            (directory.path(), 10, follow, Err("(it is a directory)")),
            (
                Path::new("/nonexistent/file"),
                10,
                follow,
                Err("does not exist"),
            ),
        ];
        for (path, limit, symlinks, expected) in cases {
            let found = read_within(path, limit, symlinks);
            match (found, expected) {
                (Ok(bytes), Ok(expected)) => assert_eq!(bytes, expected, "{}", path.display()),
                (Err(message), Err(expected)) => {
                    assert!(message.contains(expected), "{}: {message}", path.display())
                }
                (found, expected) => panic!("{}: {found:?}, expected {expected:?}", path.display()),
            }
        }
        assert!(matches!(read_text(&file, 10).as_deref(), Ok("0123456789")));
        // Opened, the file must be the one looked at.
        let other = directory.path().join("other");
        std::fs::write(&other, "x").unwrap();
        let looked = std::fs::metadata(&other).unwrap();
        assert!(matches!(
            open_looked(&file, follow, &looked),
            Err(RegularFileError::Replaced)
        ));
        std::fs::write(&file, b"\xff\xfe").unwrap();
        assert!(matches!(
            read_text(&file, 10),
            Err(RegularFileError::NotUtf8)
        ));
    }
}
