//! Crisis flags waiting for the database. When a turn cannot be applied
//! (the database is busy past its timeout, the disk is full, a sealed value
//! will not open), the person still gets the crisis reply, and the flag is
//! kept here, in memory, and written by [`Store::raise_flag`] as soon as the
//! store works again. At a clean stop whatever is still waiting goes to a
//! file beside the database (`<db>.pending-flags`, owner-only, excerpts
//! sealed), which the next start loads and retries, and deletes once written.

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use tracing::{error, info, warn};

use super::Raised;
use crate::crypto::{Cipher, Field};
use crate::safety::{self, Category, Hit, Severity};
use crate::store::Store;

/// A flag a turn raised that is not in the database yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingFlag {
    /// The person's external id ("discord:…" or "terminal:…").
    pub person: String,
    pub hit: Hit,
    /// Raised from an answer to mend's question.
    pub asked: bool,
    /// When the person wrote: the flag's time, whenever it is written.
    pub at: Timestamp,
}

impl PendingFlag {
    /// The flag a turn raises when the store cannot keep it: the message's
    /// own hit, or else a "yes" or "not sure" pressed under mend's question
    /// (`asked`, from `Companion::unsafe_answer`). None when it raises none.
    pub fn of_turn(
        person: &str,
        hit: Option<Hit>,
        asked: Option<Hit>,
        at: Timestamp,
    ) -> Option<PendingFlag> {
        let was_asked = asked.is_some();
        hit.or(asked).map(|hit| PendingFlag {
            person: person.to_owned(),
            hit,
            asked: was_asked,
            at,
        })
    }
}

/// The flags waiting, oldest first. Owned by the running app (the terminal
/// session, the Discord bot), shared by its turns.
#[derive(Debug, Default)]
pub struct PendingFlags {
    queue: std::sync::Mutex<Vec<PendingFlag>>,
    /// One retry at a time, so no flag is written twice.
    /// Only a retry removes flags, so the first is still the one tried.
    retrying: tokio::sync::Mutex<()>,
    /// The file the waiting flags were loaded from, kept in step with the
    /// queue until it is empty, then deleted.
    file: std::sync::Mutex<Option<PathBuf>>,
}

/// Where the flags still waiting at a stop are kept: beside the database.
pub fn file_for(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".pending-flags");
    PathBuf::from(name)
}

impl PendingFlags {
    pub fn new() -> PendingFlags {
        PendingFlags::default()
    }

    /// Keeps a flag until it can be written.
    pub fn push(&self, flag: PendingFlag) {
        let mut queue = self.lock();
        queue.push(flag);
        warn!(
            pending = queue.len(),
            "a crisis flag is waiting for the store"
        );
    }

    /// Takes back a flag kept by [`PendingFlags::push`] that its turn has
    /// written after all; a no-op once a retry has written it.
    pub fn withdraw(&self, flag: &PendingFlag) {
        let mut queue = self.lock();
        if let Some(at) = queue.iter().position(|f| f == flag) {
            queue.remove(at);
        }
    }

    /// A turn whose flag was kept waiting has been applied after all:
    /// if it raised its own flag (`raised`), that is the one and the
    /// waiting flag is withdrawn; if not (a question kept, while the person
    /// was given the contacts instead), the waiting flag stays to be written.
    pub fn settle(&self, flag: &PendingFlag, raised: bool) {
        if raised {
            self.withdraw(flag);
        }
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The oldest flag waiting (the lock released before any await).
    fn first(&self) -> Option<PendingFlag> {
        self.lock().first().cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<PendingFlag>> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes the waiting flags, oldest first, and returns those written.
    /// Stops at the first failure: the store is still failing, and the rest
    /// wait for the next try. Cheap when nothing waits, and returns at once
    /// when another retry is under way, so turns never queue behind a store
    /// that keeps each try waiting for its busy timeout.
    pub async fn retry(&self, store: &Store) -> Vec<Raised> {
        if self.is_empty() {
            return Vec::new();
        }
        let Ok(_one_at_a_time) = self.retrying.try_lock() else {
            return Vec::new();
        };
        self.write_waiting(store).await
    }

    async fn write_waiting(&self, store: &Store) -> Vec<Raised> {
        let mut written = Vec::new();
        while let Some(next) = self.first() {
            match store
                .raise_flag(&next.person, &next.hit, next.asked, next.at)
                .await
            {
                Ok(raised) => {
                    self.lock().remove(0);
                    info!(
                        flag = raised.id,
                        new = raised.new,
                        "a crisis flag that waited for the store was raised"
                    );
                    written.push(raised);
                }
                Err(err) => {
                    warn!(pending = self.len(), error = %err, "crisis flags still waiting for the store");
                    break;
                }
            }
        }
        if !written.is_empty() {
            self.sync_file(store.cipher());
        }
        written
    }

    /// A file loaded at start follows the queue: rewritten with what still
    /// waits, so a crash cannot raise a flag twice, and deleted when empty.
    fn sync_file(&self, cipher: &Cipher) {
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let Some(path) = file.clone() else {
            return;
        };
        let waiting = self.lock().clone();
        if waiting.is_empty() {
            match std::fs::remove_file(&path) {
                Ok(()) => info!("every kept crisis flag is written; their file is removed"),
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                Err(err) => error!(error = %err, "could not remove the kept crisis flags' file"),
            }
            *file = None;
        } else if let Err(err) = write(&path, &waiting, cipher) {
            error!(error = %err, "could not rewrite the kept crisis flags' file");
        }
    }

    /// At a clean stop: one more try, then whatever still waits is written
    /// to `path`. Returns how many went to the file.
    pub async fn stop(&self, store: &Store, path: &Path) -> usize {
        let _last = self.retrying.lock().await;
        self.write_waiting(store).await;
        let waiting = self.lock().clone();
        if waiting.is_empty() {
            return 0;
        }
        match write(path, &waiting, store.cipher()) {
            Ok(()) => {
                warn!(
                    pending = waiting.len(),
                    "crisis flags kept in a file beside the database until the next start"
                );
                waiting.len()
            }
            Err(err) => {
                error!(
                    pending = waiting.len(),
                    error = %err,
                    "could not keep crisis flags in a file: they are lost"
                );
                0
            }
        }
    }

    /// At start: queues the flags a stop kept in `path`, if any. The file
    /// stays until they are written. Returns how many were loaded. A copy a
    /// key rotation staged (see [`stage_resealed`]) is settled first.
    pub fn load(&self, path: &Path, cipher: &Cipher) -> usize {
        settle_staged(path, cipher);
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return 0,
            Err(err) => {
                error!(error = %err, "could not read the kept crisis flags");
                return 0;
            }
        };
        let mut loaded = 0;
        let mut unreadable = String::new();
        for (number, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match parse(line, cipher) {
                Some(flag) => {
                    self.lock().push(flag);
                    loaded += 1;
                }
                None => {
                    error!(line = number + 1, "a kept crisis flag could not be read");
                    unreadable.push_str(line);
                    unreadable.push('\n');
                }
            }
        }
        if !unreadable.is_empty() {
            // Set aside for a person to look at (another key, a damaged
            // file), never deleted with the file.
            if let Err(err) = append_private(&unreadable_file(path), &unreadable) {
                error!(error = %err, "could not set aside the unreadable kept crisis flags");
                return loaded;
            }
        }
        if loaded > 0 {
            info!(
                pending = loaded,
                "crisis flags kept at the last stop are waiting"
            );
            *self.file.lock().unwrap_or_else(|e| e.into_inner()) = Some(path.to_owned());
        }
        loaded
    }
}

/// What a kept-flags file holds, read without queueing anything (for
/// `mend flags` and `mend rotate-key`).
#[derive(Debug, Default)]
pub struct Kept {
    /// The flags that opened, oldest first.
    pub flags: Vec<PendingFlag>,
    /// Lines that did not open (another key, a damaged file), as they are.
    pub unreadable: Vec<String>,
}

/// Reads the kept flags in `path` with `cipher`; an absent file holds none.
pub fn read(path: &Path, cipher: &Cipher) -> std::io::Result<Kept> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Kept::default()),
        Err(err) => return Err(err),
    };
    let mut kept = Kept::default();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match parse(line, cipher) {
            Some(flag) => kept.flags.push(flag),
            None => kept.unreadable.push(line.to_owned()),
        }
    }
    Ok(kept)
}

/// [`read`], as the next start will find them: if a key rotation stopped
/// after the database took the new key, its staged copy (which only that
/// key opens) rather than the file. Changes nothing on disk.
pub fn read_current(path: &Path, cipher: &Cipher) -> std::io::Result<Kept> {
    let staged = read(&staged(path), cipher)?;
    if !staged.flags.is_empty() {
        return Ok(staged);
    }
    read(path, cipher)
}

/// Where a key rotation stages the kept flags sealed under the new key:
/// `<db>.pending-flags.new`.
pub fn staged(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".new");
    PathBuf::from(name)
}

/// Before a key rotation re-seals the database: the kept flags in `path`
/// opened with `old` and written, sealed with `new`, to [`staged`], durably.
/// Lines that do not open even with `old` are set aside as [`PendingFlags::load`]
/// does. Nothing is staged when no flag waits. Returns how many flags were
/// re-sealed. Once the database takes the new key, [`promote_staged`]; if
/// the rotation stops first, the next start settles it (the database's key
/// opens the staged copy only if the rotation committed).
pub fn stage_resealed(path: &Path, old: &Cipher, new: &Cipher) -> std::io::Result<usize> {
    let kept = read(path, old)?;
    if !kept.unreadable.is_empty() {
        let mut text = kept.unreadable.join("\n");
        text.push('\n');
        append_private(&unreadable_file(path), &text)?;
        warn!(
            count = kept.unreadable.len(),
            "kept crisis flags that did not open were set aside before the key rotation"
        );
    }
    if kept.flags.is_empty() {
        return Ok(0);
    }
    write(&staged(path), &kept.flags, new)?;
    Ok(kept.flags.len())
}

/// The staged copy replaces the kept flags' file.
pub fn promote_staged(path: &Path) -> std::io::Result<()> {
    std::fs::rename(staged(path), path)
}

/// A rotation that did not happen: the staged copy goes.
pub fn discard_staged(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(staged(path)) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(err),
        _ => Ok(()),
    }
}

/// A staged copy left by a rotation that stopped part-way: it opens with
/// the database's key only if the rotation committed, and then replaces
/// the file; otherwise it goes.
fn settle_staged(path: &Path, cipher: &Cipher) {
    let staged_path = staged(path);
    if !staged_path.exists() {
        return;
    }
    let committed = read(&staged_path, cipher).is_ok_and(|k| !k.flags.is_empty());
    let settled = if committed {
        promote_staged(path)
    } else {
        discard_staged(path)
    };
    match settled {
        Ok(()) => info!(
            committed,
            "a key rotation's copy of the kept crisis flags is settled"
        ),
        Err(err) => {
            error!(error = %err, "could not settle a key rotation's copy of the kept crisis flags")
        }
    }
}

fn unreadable_file(path: &Path) -> PathBuf {
    let mut aside = path.as_os_str().to_owned();
    aside.push(".unreadable");
    PathBuf::from(aside)
}

/// One line of the file. The excerpt is sealed to the person's id and the
/// flag's time, so it opens only with the database's key and only on its
/// own line.
#[derive(Serialize, Deserialize)]
struct Line {
    person: String,
    category: Category,
    severity: Severity,
    action: safety::Action,
    matched: String,
    asked: bool,
    at_ms: i64,
    excerpt: String,
}

fn sealed_text(person: &str, excerpt: &str) -> String {
    format!("{person}\n{excerpt}")
}

fn line(flag: &PendingFlag, cipher: &Cipher) -> String {
    let field = Field::PendingExcerpt {
        person: &flag.person,
        at_ms: flag.at.as_millisecond(),
    };
    let sealed = cipher.seal(field, &sealed_text(&flag.person, &flag.hit.excerpt));
    let line = Line {
        person: flag.person.clone(),
        category: flag.hit.category,
        severity: flag.hit.severity,
        action: flag.hit.action,
        matched: flag.hit.matched.clone(),
        asked: flag.asked,
        at_ms: flag.at.as_millisecond(),
        excerpt: sealed,
    };
    serde_json::to_string(&line).expect("a kept flag is plain data")
}

fn parse(text: &str, cipher: &Cipher) -> Option<PendingFlag> {
    let line: Line = serde_json::from_str(text).ok()?;
    let field = Field::PendingExcerpt {
        person: &line.person,
        at_ms: line.at_ms,
    };
    // A file an earlier mend left may hold the first format: it bound the
    // excerpt to the person only through the text sealed with it.
    let opened = cipher
        .open(field, &line.excerpt)
        .or_else(|_| cipher.open_legacy(field, &line.excerpt))
        .ok()?;
    let excerpt = opened
        .strip_prefix(&format!("{}\n", line.person))?
        .to_owned();
    Some(PendingFlag {
        person: line.person,
        hit: Hit {
            category: line.category,
            severity: line.severity,
            action: line.action,
            matched: line.matched,
            excerpt,
        },
        asked: line.asked,
        at: Timestamp::from_millisecond(line.at_ms).ok()?,
    })
}

fn private_options() -> std::fs::OpenOptions {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

fn append_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = private_options().append(true).open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

/// Writes the file whole (to a temporary file renamed over it), readable
/// only by its owner.
fn write(path: &Path, flags: &[PendingFlag], cipher: &Cipher) -> std::io::Result<()> {
    use std::io::Write;
    let mut text = String::new();
    for flag in flags {
        text.push_str(&line(flag, cipher));
        text.push('\n');
    }
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    // Made afresh, so it is created owner-only whatever a leftover was.
    let _ = std::fs::remove_file(&temporary);
    let mut file = private_options().truncate(true).open(&temporary)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temporary, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flag() -> PendingFlag {
        PendingFlag {
            person: "terminal:sam".into(),
            hit: Hit {
                category: Category::Suicide,
                severity: Severity::Critical,
                action: safety::Action::Crisis,
                matched: "a frame".into(),
                excerpt: "words someone wrote".into(),
            },
            asked: false,
            at: Timestamp::from_millisecond(1_700_000_000_000).unwrap(),
        }
    }

    #[test]
    fn a_kept_flag_reads_back_whole_and_its_excerpt_is_sealed() {
        let cipher = crate::crypto::DataKey::generate().cipher();
        let line = line(&flag(), &cipher);
        assert!(!line.contains("words someone wrote"), "{line}");
        assert_eq!(parse(&line, &cipher), Some(flag()));
        let other = crate::crypto::DataKey::generate().cipher();
        assert_eq!(parse(&line, &other), None, "another key does not open it");
        let moved = line.replace("terminal:sam", "terminal:kim");
        assert_eq!(parse(&moved, &cipher), None, "bound to its person");
    }

    #[cfg(unix)]
    #[test]
    fn the_file_is_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = file_for(&dir.path().join("mend.sqlite"));
        let cipher = crate::crypto::DataKey::generate().cipher();
        write(&path, &[flag()], &cipher).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let pending = PendingFlags::new();
        assert_eq!(pending.load(&path, &cipher), 1);
        assert_eq!(pending.lock()[0], flag());
    }

    #[test]
    fn a_rotation_stopped_part_way_is_settled_by_the_key_the_database_took() {
        let old = crate::crypto::DataKey::generate().cipher();
        let new = crate::crypto::DataKey::generate().cipher();
        for committed in [true, false] {
            let dir = tempfile::tempdir().unwrap();
            let path = file_for(&dir.path().join("mend.sqlite"));
            write(&path, &[flag()], &old).unwrap();
            assert_eq!(stage_resealed(&path, &old, &new).unwrap(), 1);
            // Stopped here: the database took `new` only if it committed.
            let key = if committed { &new } else { &old };
            let listed = read_current(&path, key).unwrap();
            assert_eq!((listed.flags.len(), listed.unreadable.len()), (1, 0));
            let pending = PendingFlags::new();
            assert_eq!(pending.load(&path, key), 1, "committed: {committed}");
            assert_eq!(pending.lock()[0], flag());
            assert!(!staged(&path).exists());
            assert!(!unreadable_file(&path).exists());
        }
    }
}
