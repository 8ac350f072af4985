//! The key file beside a database (`mend.sqlite.key`, for `mend chat` and
//! the operator commands): written whole or not at all, owner-only, and
//! replaced during `rotate-key` in an order that never leaves the database
//! sealed under a key that is not on disk:
//!
//! 1. [`stage`] writes the new key to `<key file>.new`, durably;
//! 2. the database is re-sealed under it, in one transaction;
//! 3. [`promote`] renames `.new` over the key file.
//!
//! A rotation stopped between steps leaves `.new` behind, and the next open
//! asks the database which key it takes (its key check), then finishes the
//! rotation ([`promote`]) or undoes it ([`discard`]).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::crypto::DataKey;

/// Where a rotation stages the new key: `mend.sqlite.key.new`.
pub fn staged(key_file: &Path) -> PathBuf {
    with_suffix(key_file, ".new")
}

/// Step 1 of a rotation: the new key, on disk for good, beside the old one.
pub fn stage(key_file: &Path, new: &DataKey) -> std::io::Result<()> {
    replace(&staged(key_file), &new.to_hex())
}

/// Step 3 of a rotation: the staged key becomes the key file.
pub fn promote(key_file: &Path) -> std::io::Result<()> {
    std::fs::rename(staged(key_file), key_file)?;
    sync_dir(key_file)
}

/// Undoes step 1: the database kept its old key, so the staged one goes.
pub fn discard(key_file: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(staged(key_file)) {
        Ok(()) => sync_dir(key_file),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(err),
    }
}

/// Writes `key` (and a newline) to a new file at `path`, owner-only, which
/// appears whole or not at all; fails with `AlreadyExists` if `path` is
/// there, so two mends starting at once never overwrite each other's key.
pub fn create_new(path: &Path, key: &str) -> std::io::Result<()> {
    let temporary = write_temporary(path, key)?;
    let linked = std::fs::hard_link(&temporary, path);
    let _ = std::fs::remove_file(&temporary);
    linked?;
    sync_dir(path)
}

/// Replaces the file at `path` with `key` (and a newline), owner-only:
/// written to a temporary file in the same folder, flushed to disk, renamed
/// over `path`, and the folder flushed, so `path` holds the old text or the
/// new, never a part.
pub fn replace(path: &Path, key: &str) -> std::io::Result<()> {
    let temporary = write_temporary(path, key)?;
    if let Err(err) = std::fs::rename(&temporary, path) {
        let _ = std::fs::remove_file(&temporary);
        return Err(err);
    }
    sync_dir(path)
}

/// A fresh temporary file beside `path` holding `key`, flushed to disk.
fn write_temporary(path: &Path, key: &str) -> std::io::Result<PathBuf> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let temporary = with_suffix(
        path,
        &format!(
            ".tmp-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ),
    );
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&temporary)?;
    let written = (|| {
        #[cfg(unix)]
        {
            // Exactly 0600, whatever the umask.
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        file.write_all(key.as_bytes())?;
        file.write_all(b"\n")?;
        file.sync_all()
    })();
    if let Err(err) = written {
        let _ = std::fs::remove_file(&temporary);
        return Err(err);
    }
    Ok(temporary)
}

/// Flushes the folder holding `path`, so a rename or a new name in it
/// survives a crash.
fn sync_dir(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        File::open(dir)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replacing_swaps_the_whole_file_and_leaves_nothing_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mend.sqlite.key");
        std::fs::write(&path, "old\n").unwrap();
        #[cfg(unix)]
        let before = {
            use std::os::unix::fs::MetadataExt;
            std::fs::metadata(&path).unwrap().ino()
        };
        replace(&path, "new").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::{MetadataExt, PermissionsExt};
            let meta = std::fs::metadata(&path).unwrap();
            // A new file renamed into place, not the old one rewritten.
            assert_ne!(meta.ino(), before);
            assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        }
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["mend.sqlite.key"]);
    }

    #[test]
    fn creating_never_overwrites_a_key_already_there() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mend.sqlite.key");
        create_new(&path, "first").unwrap();
        let err = create_new(&path, "second").unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "first\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
