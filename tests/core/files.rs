//! The files mend makes on disk: the database, its `-wal` and `-shm`, the
//! key file and the lock are for their owner only, and `rotate-key` never
//! runs under a live mend.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;

use mend::crypto::DataKey;
use mend::store::files::DbLock;
use mend::store::{Store, StoreError, StoreOptions};

use crate::helpers::{mend, run_mend};

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|err| panic!("{}: {err}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn beside(db: &Path, suffix: &str) -> std::path::PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(suffix);
    name.into()
}

/// The key `mend chat` made beside `db`.
fn key_beside(db: &Path) -> DataKey {
    let text = std::fs::read_to_string(beside(db, ".key")).unwrap();
    DataKey::parse(&text, "the key file").unwrap()
}

/// Makes a database with one person in it, through `mend chat`.
fn chatted(dir: &Path) -> std::path::PathBuf {
    let mut chat = mend(dir);
    chat.args(["chat", "--json"]).env_remove("MEND_DATA_KEY");
    let (status, _, stderr) = run_mend(chat, "1\n");
    assert!(status.success(), "{stderr}");
    dir.join("mend.sqlite")
}

/// Even under a umask that would leave them open to everyone, the files
/// `mend chat` makes are its owner's only, looked at while it runs (SQLite
/// removes `-wal` and `-shm` when the last connection closes).
#[cfg(unix)]
#[test]
fn the_database_its_wal_and_shm_are_for_their_owner_only_whatever_the_umask() {
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let mut chat = mend(dir.path());
    chat.args(["chat", "--json"]).env_remove("MEND_DATA_KEY");
    // SAFETY: umask is async-signal-safe and touches only the child.
    unsafe {
        chat.pre_exec(|| {
            libc::umask(0);
            Ok(())
        });
    }
    let mut child = chat.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    // The welcome, then the reply to "1": written in a transaction first.
    stdout.read_line(&mut line).unwrap();
    writeln!(stdin, "1").unwrap();
    line.clear();
    stdout.read_line(&mut line).unwrap();
    assert!(!line.is_empty(), "mend answered");

    let db = dir.path().join("mend.sqlite");
    for path in [
        db.clone(),
        beside(&db, "-wal"),
        beside(&db, "-shm"),
        beside(&db, ".key"),
        beside(&db, ".lock"),
    ] {
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
    writeln!(stdin, "quit").unwrap();
    drop(stdin);
    let status = child.wait().unwrap();
    assert!(status.success());
}

#[cfg(unix)]
#[tokio::test]
async fn a_database_left_readable_by_others_is_narrowed_to_its_owner() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("old.sqlite");
    let key = crate::helpers::test_key();
    let store = Store::open(&db, &StoreOptions::default(), &key)
        .await
        .unwrap();
    store.close().await;
    drop(store);
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();

    let store = Store::open(&db, &StoreOptions::default(), &key)
        .await
        .unwrap();
    assert_eq!(mode(&db), 0o600);
    assert_eq!(mode(&beside(&db, "-wal")), 0o600);
    store.close().await;
}

#[tokio::test]
async fn rotate_key_is_refused_while_a_store_holds_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = chatted(dir.path());
    let key_file = beside(&db, ".key");
    let before = std::fs::read_to_string(&key_file).unwrap();
    let store = Store::open(&db, &StoreOptions::default(), &key_beside(&db))
        .await
        .unwrap();

    let new = DataKey::generate().to_hex().to_string();
    let rotate = || {
        let mut rotate = mend(dir.path());
        rotate
            .arg("rotate-key")
            .env_remove("MEND_DATA_KEY")
            .env("MEND_NEW_DATA_KEY", &new);
        run_mend(rotate, "")
    };
    let (status, stdout, stderr) = rotate();
    assert!(!status.success());
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains("mend is using the database at mend.sqlite right now")
            && stderr.contains("stop it, then rotate the key"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    // Nothing moved: the same key, no new one staged, and the store works.
    assert_eq!(std::fs::read_to_string(&key_file).unwrap(), before);
    assert!(!beside(&key_file, ".new").exists());
    assert!(store.state("terminal:you").await.is_ok());
    store.close().await;
    drop(store);

    let (status, stdout, stderr) = rotate();
    assert!(status.success(), "{stderr}");
    assert!(stdout.contains("Re-sealed"), "{stdout}");
    assert_eq!(std::fs::read_to_string(&key_file).unwrap().trim(), new);
}

#[tokio::test]
async fn nothing_opens_the_database_while_its_key_is_rotated() {
    let dir = tempfile::tempdir().unwrap();
    let db = chatted(dir.path());
    let rotation = DbLock::exclusive(&db).unwrap();

    let opened = Store::open(&db, &StoreOptions::default(), &key_beside(&db)).await;
    assert!(
        matches!(opened, Err(StoreError::Rotating { .. })),
        "{opened:?}"
    );
    let mut chat = mend(dir.path());
    chat.args(["chat", "--json"]).env_remove("MEND_DATA_KEY");
    let (status, stdout, stderr) = run_mend(chat, "1\n");
    assert!(!status.success());
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("is being rotated"), "{stderr}");
    // And a second rotation is refused too.
    assert!(matches!(
        DbLock::exclusive(&db),
        Err(StoreError::InUse { .. })
    ));

    drop(rotation);
    let store = Store::open(&db, &StoreOptions::default(), &key_beside(&db))
        .await
        .unwrap();
    store.close().await;
}

/// The rotation's steps, stopped after each in turn, on real files: the
/// database always opens with the key the next start finds, and that start
/// leaves one key file, the right one, and nothing staged.
#[tokio::test]
async fn a_rotation_stopped_after_any_step_leaves_a_database_that_opens() {
    use mend::app::{open_local, rotate_in_steps};
    use mend::config::Config;
    use mend::keyfile;
    let config = Config::default();

    // Stopped after staging the new key, before re-sealing: undone.
    let dir = tempfile::tempdir().unwrap();
    let db = chatted(dir.path());
    let key_file = beside(&db, ".key");
    let old = std::fs::read_to_string(&key_file).unwrap();
    let new = DataKey::generate();
    keyfile::stage(&key_file, &new).unwrap();
    let store = open_local(&config, &db, None).await.unwrap();
    assert!(store.state("terminal:you").await.is_ok());
    store.close().await;
    drop(store);
    assert_eq!(std::fs::read_to_string(&key_file).unwrap(), old);
    assert!(!keyfile::staged(&key_file).exists());

    // Stopped after re-sealing, before the key file was replaced: finished.
    let store = open_local(&config, &db, None).await.unwrap();
    keyfile::stage(&key_file, &new).unwrap();
    store.rotate_key(&new, &db).await.unwrap();
    store.close().await;
    drop(store);
    let store = open_local(&config, &db, None).await.unwrap();
    store.close().await;
    drop(store);
    assert_eq!(
        std::fs::read_to_string(&key_file).unwrap().trim(),
        new.to_hex().as_str()
    );
    assert!(!keyfile::staged(&key_file).exists());
    let old_key = DataKey::parse(&old, "the old key").unwrap();
    let with_old = Store::open(&db, &StoreOptions::default(), &old_key).await;
    assert!(matches!(with_old, Err(StoreError::WrongKey { .. })));

    // All the steps, with a temporary left by an earlier stop mid-write.
    std::fs::write(beside(&key_file, ".new.tmp-1-0"), "half a k").unwrap();
    let newer = DataKey::generate();
    let store = open_local(&config, &db, None).await.unwrap();
    rotate_in_steps(&store, &db, Some(&key_file), &newer)
        .await
        .unwrap();
    store.close().await;
    drop(store);
    assert_eq!(
        std::fs::read_to_string(&key_file).unwrap().trim(),
        newer.to_hex().as_str()
    );
    assert!(!keyfile::staged(&key_file).exists());
    let store = Store::open(&db, &StoreOptions::default(), &newer)
        .await
        .unwrap();
    store.close().await;
}

/// A staged key that does not open the database either is not taken on
/// trust: the error names the key mismatch and nothing is renamed.
#[tokio::test]
async fn a_staged_key_that_opens_nothing_is_left_alone() {
    use mend::keyfile;
    let dir = tempfile::tempdir().unwrap();
    let db = chatted(dir.path());
    let key_file = beside(&db, ".key");
    let theirs = DataKey::generate();
    keyfile::stage(&key_file, &theirs).unwrap();
    keyfile::replace(&key_file, DataKey::generate().to_hex().as_str()).unwrap();
    let before = std::fs::read_to_string(&key_file).unwrap();

    let opened = mend::app::open_local(&mend::config::Config::default(), &db, None).await;
    let err = opened.expect_err("no key opens it").to_string();
    assert!(err.contains("does not match"), "{err}");
    assert_eq!(std::fs::read_to_string(&key_file).unwrap(), before);
    assert!(keyfile::staged(&key_file).exists());
}

#[test]
fn an_error_names_its_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = mend(dir.path());
    command.args(["chat", "--db", "no/such/folder/mend.sqlite"]);
    let (status, _, stderr) = run_mend(command, "");
    assert!(!status.success());
    let cause = "No such file or directory";
    assert_eq!(stderr.matches(cause).count(), 1, "{stderr}");
    assert!(stderr.starts_with("mend: cannot "), "{stderr}");
    assert!(stderr.contains("no/such/folder/mend.sqlite"), "{stderr}");
}
