//! The files on disk around a database: the database and its `-wal` and
//! `-shm` are readable by their owner only, and `<database>.lock` says who
//! is using it. Every mend that opens a store holds the lock shared;
//! `rotate-key` holds it exclusively, so a rotation never runs under a live
//! `serve` or `chat`, and neither starts during one. The lock is advisory
//! (flock on unix) and the operating system drops it when a process dies,
//! so a crash never leaves a database locked.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use super::StoreError;

/// The lock file beside a database: `mend.sqlite.lock`.
pub fn lock_file(db: &Path) -> PathBuf {
    beside(db, ".lock")
}

fn beside(db: &Path, suffix: &str) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// A held lock on a database; released when dropped.
#[derive(Debug)]
pub struct DbLock {
    _file: File,
}

impl DbLock {
    /// The lock every user of the database holds. Refused while a key
    /// rotation holds it exclusively.
    pub fn shared(db: &Path) -> Result<DbLock, StoreError> {
        let file = open_lock_file(db)?;
        match file.try_lock_shared() {
            Ok(()) => Ok(DbLock { _file: file }),
            Err(TryLockError::WouldBlock) => Err(StoreError::Rotating {
                path: db.display().to_string(),
            }),
            Err(TryLockError::Error(source)) => Err(lock_failed(db, source)),
        }
    }

    /// The lock a key rotation holds: refused while anything else uses the
    /// database (a running `serve` or `chat`, an export).
    pub fn exclusive(db: &Path) -> Result<DbLock, StoreError> {
        let file = open_lock_file(db)?;
        match file.try_lock() {
            Ok(()) => Ok(DbLock { _file: file }),
            Err(TryLockError::WouldBlock) => Err(StoreError::InUse {
                path: db.display().to_string(),
            }),
            Err(TryLockError::Error(source)) => Err(lock_failed(db, source)),
        }
    }
}

fn lock_failed(db: &Path, source: std::io::Error) -> StoreError {
    StoreError::File {
        path: lock_file(db).display().to_string(),
        source,
    }
}

fn open_lock_file(db: &Path) -> Result<File, StoreError> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(lock_file(db))
        .map_err(|source| lock_failed(db, source))
}

/// Makes sure the database file exists and is readable by its owner only,
/// whatever the umask, before SQLite opens it: SQLite then gives the `-wal`
/// and `-shm` it creates the same mode as the database. A database, `-wal`
/// or `-shm` left readable by others (made before mend did this) is
/// narrowed to its owner.
pub fn owner_only(db: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let failed = |path: &Path, source| StoreError::File {
            path: path.display().to_string(),
            source,
        };
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(db)
        {
            // The umask may have taken more than asked: set exactly 0600.
            Ok(file) => file
                .set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(|source| failed(db, source))?,
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(source) => return Err(failed(db, source)),
        }
        for path in [db.to_path_buf(), beside(db, "-wal"), beside(db, "-shm")] {
            let mode = match std::fs::metadata(&path) {
                Ok(meta) => meta.permissions().mode(),
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => return Err(failed(&path, source)),
            };
            if mode & 0o077 != 0 {
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode & 0o700))
                    .map_err(|source| failed(&path, source))?;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = db;
    Ok(())
}
