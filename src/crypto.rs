//! Encryption at rest for everything a person typed: text answers, check-in
//! notes and flag excerpts are sealed with XChaCha20-Poly1305 under the data
//! key before they reach SQLite. Each sealed value is bound to where it lives
//! (its table and column, the row's own key, and the person's never-reused
//! id), so a value copied or swapped into another row does not open. Erased
//! people are named in the audit log only by a keyed hash.

use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::{Zeroize, Zeroizing};

/// The environment variable that holds the data key.
pub const KEY_VAR: &str = "MEND_DATA_KEY";
/// The environment variable `mend rotate-key` reads the new key from.
pub const NEW_KEY_VAR: &str = "MEND_NEW_DATA_KEY";

/// Every sealed value starts with its format, so a plain value is never
/// mistaken for a sealed one (and old plain values can be sealed in place).
/// Version 2 binds a value to its row; version 1 bound it only to its
/// column and person, and is opened only to re-seal it (see
/// [`Cipher::open_legacy`]).
const PREFIX: &str = "v2:";
const LEGACY_PREFIX: &str = "v1:";
const NONCE_LEN: usize = 24;
/// What the key check row seals: opening it proves the key is the right one.
const CHECK_PLAINTEXT: &[u8] = b"mend: this is the key for this database";

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "{var} is not set. mend encrypts what people write with a 32-byte key from the \
         environment: create one with `mend new-key` and export {var}=<the key> (see PRIVACY.md)"
    )]
    Missing { var: &'static str },
    #[error(
        "{source_name} is not a data key: expected 64 hexadecimal characters (32 bytes), \
         as printed by `mend new-key`"
    )]
    Malformed { source_name: String },
    #[error("cannot read the key file {path}: {source}")]
    ReadFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot create the key file {path}: {source}")]
    WriteFile {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A sealed value that would not open: the wrong key, or a damaged value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a sealed value did not open with this key")]
pub struct OpenError;

/// The 32-byte data key. Its Debug output never shows the bytes, it is not
/// `Clone` (one copy, passed by reference), and its bytes are wiped from
/// memory when it is dropped.
pub struct DataKey([u8; 32]);

impl Drop for DataKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

impl DataKey {
    /// A fresh random key from the operating system.
    pub fn generate() -> DataKey {
        DataKey(XChaCha20Poly1305::generate_key(&mut OsRng).into())
    }

    /// Parses 64 hexadecimal characters; `source_name` says where they came
    /// from in the error (a variable or a file), never the text itself.
    pub fn parse(text: &str, source_name: &str) -> Result<DataKey, KeyError> {
        let malformed = || KeyError::Malformed {
            source_name: source_name.to_string(),
        };
        let text = text.trim();
        if text.len() != 64 || !text.is_ascii() {
            return Err(malformed());
        }
        let mut bytes = [0u8; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).map_err(|_| malformed())?;
        }
        Ok(DataKey(bytes))
    }

    /// The key in `var`, if set.
    pub fn from_env(var: &'static str) -> Result<Option<DataKey>, KeyError> {
        match std::env::var(var).map(Zeroizing::new) {
            Ok(text) => DataKey::parse(&text, var).map(Some),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(KeyError::Malformed {
                source_name: var.to_string(),
            }),
        }
    }

    /// The key in `var`, or an error that says how to make one.
    pub fn require_env(var: &'static str) -> Result<DataKey, KeyError> {
        DataKey::from_env(var)?.ok_or(KeyError::Missing { var })
    }

    /// Reads the key file at `path`, creating it with a fresh key, readable
    /// only by its owner, if it does not exist. For `mend chat`, which must
    /// work with no setup at all. A new file appears whole or not at all.
    pub fn load_or_create_file(path: &Path) -> Result<DataKey, KeyError> {
        if let Some(key) = DataKey::read_file(path)? {
            return Ok(key);
        }
        let key = DataKey::generate();
        match crate::keyfile::create_new(path, &key.to_hex()) {
            Ok(()) => Ok(key),
            // Another mend made it first: use theirs.
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
                DataKey::read_file(path)?.ok_or_else(|| KeyError::ReadFile {
                    path: path.to_path_buf(),
                    source: std::io::ErrorKind::NotFound.into(),
                })
            }
            Err(source) => Err(KeyError::WriteFile {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// The key in the file at `path`, or None if there is no such file.
    pub fn read_file(path: &Path) -> Result<Option<DataKey>, KeyError> {
        match std::fs::read_to_string(path).map(Zeroizing::new) {
            Ok(text) => DataKey::parse(&text, &path.display().to_string()).map(Some),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(KeyError::ReadFile {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// The key as 64 hexadecimal characters, as `mend new-key` prints it and
    /// key files hold it; the text is wiped when dropped.
    pub fn to_hex(&self) -> Zeroizing<String> {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut text = Zeroizing::new(String::with_capacity(64));
        for byte in self.0 {
            text.push(char::from(HEX[usize::from(byte >> 4)]));
            text.push(char::from(HEX[usize::from(byte & 0xf)]));
        }
        text
    }

    pub fn cipher(&self) -> Cipher {
        Cipher {
            aead: XChaCha20Poly1305::new((&self.0).into()),
            id_key: blake3::derive_key("mend 2026-11 erased person ids", &self.0),
            code_key: blake3::derive_key("mend 2026-12 pairing invite codes", &self.0),
        }
    }
}

/// Bytes from the operating system's random source (the one the data key
/// and every nonce come from), for invite codes.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    use chacha20poly1305::aead::rand_core::RngCore;
    let mut bytes = [0u8; N];
    OsRng.fill_bytes(&mut bytes);
    bytes
}

/// Where a sealed value lives: its table and column, the key of its row,
/// and the person it is about, by their row id (never reused, so a value
/// cannot open for someone who later gets an erased person's id). All of
/// it is what the value is sealed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field<'a> {
    /// `answers.value`, of the answer to `name` in `flow`.
    Answer {
        person: i64,
        flow: &'a str,
        name: &'a str,
    },
    /// `checkin_days.note`, of one check-in on a local day (YYYY-MM-DD):
    /// `entry` numbers the day's check-ins from 1.
    CheckinNote {
        person: i64,
        day: &'a str,
        entry: i64,
    },
    /// `flags.excerpt` of one flag, about `person`.
    FlagExcerpt {
        person: i64,
        flag: i64,
    },
    /// `flags.note` of one flag, about `person`.
    FlagNote {
        person: i64,
        flag: i64,
    },
    KeyCheck,
    /// `outbox.reply`: the reply at `position` among the replies of the
    /// turn that handled `event`.
    Outbox {
        person: i64,
        event: &'a str,
        position: i64,
    },
    /// `people.ask_excerpt`, of the person's row.
    AskExcerpt {
        person: i64,
    },
    /// `journal.text`, of the person's note written at `at_ms`.
    JournalNote {
        person: i64,
        at_ms: i64,
    },
    /// A crisis flag's excerpt kept in a file while the database failed:
    /// the person by their external id (they may have no row yet), and
    /// when the flag was raised.
    PendingExcerpt {
        person: &'a str,
        at_ms: i64,
    },
    /// `pair_messages.body`: what `sender` sent their partner, message `message`.
    PairMessage {
        sender: i64,
        message: i64,
    },
    /// `pair_drafts.body`: a send `person` has not yet confirmed, written at `at_ms`.
    PairDraft {
        person: i64,
        at_ms: i64,
    },
    /// `pair_actions.body`: the shared small action `proposer` proposed.
    PairAction {
        proposer: i64,
        action: i64,
    },
}

impl Field<'_> {
    fn label(self) -> &'static str {
        match self {
            Field::Answer { .. } => "answers.value",
            Field::CheckinNote { .. } => "checkin_days.note",
            Field::FlagExcerpt { .. } => "flags.excerpt",
            Field::FlagNote { .. } => "flags.note",
            Field::KeyCheck => "keycheck.sealed",
            Field::Outbox { .. } => "outbox.reply",
            Field::AskExcerpt { .. } => "people.ask_excerpt",
            Field::JournalNote { .. } => "journal.text",
            Field::PendingExcerpt { .. } => "pending-flags.excerpt",
            Field::PairMessage { .. } => "pair_messages.body",
            Field::PairDraft { .. } => "pair_drafts.body",
            Field::PairAction { .. } => "pair_actions.body",
        }
    }

    /// The owner the first format bound a value to: the person's row id,
    /// or 0 for values about no row.
    fn legacy_owner(self) -> i64 {
        match self {
            Field::Answer { person, .. }
            | Field::CheckinNote { person, .. }
            | Field::FlagExcerpt { person, .. }
            | Field::FlagNote { person, .. }
            | Field::Outbox { person, .. }
            | Field::AskExcerpt { person }
            | Field::JournalNote { person, .. }
            | Field::PairDraft { person, .. } => person,
            Field::PairMessage { sender, .. } => sender,
            Field::PairAction { proposer, .. } => proposer,
            Field::KeyCheck | Field::PendingExcerpt { .. } => 0,
        }
    }
}

/// Seals and opens values under one data key.
#[derive(Clone)]
pub struct Cipher {
    aead: XChaCha20Poly1305,
    id_key: [u8; 32],
    code_key: [u8; 32],
}

impl Drop for Cipher {
    fn drop(&mut self) {
        // The AEAD wipes its own key copy when dropped.
        self.id_key.zeroize();
        self.code_key.zeroize();
    }
}

impl fmt::Debug for Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cipher(<redacted>)")
    }
}

impl Cipher {
    /// Seals `plain` for `field`: it opens only for the same field, row
    /// and person.
    pub fn seal(&self, field: Field<'_>, plain: &str) -> String {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let aad = associated(field);
        let sealed = self
            .aead
            .encrypt(
                &nonce,
                Payload {
                    msg: plain.as_bytes(),
                    aad: &aad,
                },
            )
            .expect("XChaCha20-Poly1305 sealing cannot fail for in-memory text");
        let mut bytes = Vec::with_capacity(NONCE_LEN + sealed.len());
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&sealed);
        format!("{PREFIX}{}", STANDARD_NO_PAD.encode(bytes))
    }

    /// Opens a value sealed by [`Cipher::seal`] for the same field, row and
    /// person. A value in the first format does not open here.
    pub fn open(&self, field: Field<'_>, sealed: &str) -> Result<String, OpenError> {
        let body = sealed.strip_prefix(PREFIX).ok_or(OpenError)?;
        self.open_body(body, &associated(field))
    }

    /// Opens a value sealed in the first format, which bound it only to its
    /// column and person. For re-sealing old values in the current format
    /// once, when a database from before it is first opened; nothing else
    /// reads that format.
    pub fn open_legacy(&self, field: Field<'_>, sealed: &str) -> Result<String, OpenError> {
        let body = sealed.strip_prefix(LEGACY_PREFIX).ok_or(OpenError)?;
        let aad = format!("mend/{}/{}", field.label(), field.legacy_owner());
        self.open_body(body, aad.as_bytes())
    }

    fn open_body(&self, body: &str, aad: &[u8]) -> Result<String, OpenError> {
        let bytes = STANDARD_NO_PAD.decode(body).map_err(|_| OpenError)?;
        if bytes.len() < NONCE_LEN {
            return Err(OpenError);
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| OpenError)?;
        let plain = self
            .aead
            .decrypt(&XNonce::from(nonce), Payload { msg: sealed, aad })
            .map_err(|_| OpenError)?;
        String::from_utf8(plain).map_err(|_| OpenError)
    }

    /// Whether a stored value is sealed, in either format (rather than left
    /// from before encryption, or never encrypted).
    pub fn is_sealed(value: &str) -> bool {
        value.starts_with(PREFIX) || Cipher::is_legacy(value)
    }

    /// Whether a stored value is sealed in the first format.
    pub fn is_legacy(value: &str) -> bool {
        value.starts_with(LEGACY_PREFIX)
    }

    /// The value stored to prove which key a database uses, in the current
    /// format: it also says the database's values are in that format.
    pub fn key_check(&self) -> String {
        let plain = std::str::from_utf8(CHECK_PLAINTEXT).expect("ASCII");
        self.seal(Field::KeyCheck, plain)
    }

    /// Whether `sealed` is a key check made with this key.
    pub fn verifies(&self, sealed: &str) -> bool {
        self.open(Field::KeyCheck, sealed)
            .is_ok_and(|plain| plain.as_bytes() == CHECK_PLAINTEXT)
    }

    /// Whether `sealed` is a key check made with this key in the first
    /// format, by a database whose values are still in that format.
    pub fn verifies_legacy(&self, sealed: &str) -> bool {
        self.open_legacy(Field::KeyCheck, sealed)
            .is_ok_and(|plain| plain.as_bytes() == CHECK_PLAINTEXT)
    }

    /// A keyed hash of a pairing invite's code: the code itself is never
    /// kept, so a copy of the database cannot be used to join.
    pub fn code_hash(&self, code: &str) -> String {
        blake3::keyed_hash(&self.code_key, code.as_bytes())
            .to_hex()
            .to_string()
    }

    /// A keyed hash of a person's id, for the audit log after erasure: it
    /// shows that the same person was erased without saying who they were.
    pub fn person_hash(&self, external_id: &str) -> String {
        blake3::keyed_hash(&self.id_key, external_id.as_bytes())
            .to_hex()
            .to_string()
    }
}

/// What a value is sealed to: the format, the field's label and each part of
/// the row's key, every part preceded by its length, so no two fields or
/// rows can ever give the same bytes (a flow named "a/b" is not a flow "a"
/// with a step "b").
fn associated(field: Field<'_>) -> Vec<u8> {
    let mut aad = b"mend v2".to_vec();
    let mut part = |text: &str| {
        aad.extend_from_slice(&(text.len() as u64).to_be_bytes());
        aad.extend_from_slice(text.as_bytes());
    };
    part(field.label());
    match field {
        Field::Answer { person, flow, name } => {
            part(&person.to_string());
            part(flow);
            part(name);
        }
        Field::CheckinNote { person, day, entry } => {
            part(&person.to_string());
            part(day);
            // A day's first check-in is sealed as notes were when a day had
            // only one, so those still open; a later one names its number.
            if entry != 1 {
                part(&entry.to_string());
            }
        }
        Field::FlagExcerpt { person, flag } | Field::FlagNote { person, flag } => {
            part(&person.to_string());
            part(&flag.to_string());
        }
        Field::KeyCheck => {}
        Field::Outbox {
            person,
            event,
            position,
        } => {
            part(&person.to_string());
            part(event);
            part(&position.to_string());
        }
        Field::AskExcerpt { person } => part(&person.to_string()),
        Field::JournalNote { person, at_ms } => {
            part(&person.to_string());
            part(&at_ms.to_string());
        }
        Field::PairMessage { sender, message } => {
            part(&sender.to_string());
            part(&message.to_string());
        }
        Field::PairDraft { person, at_ms } => {
            part(&person.to_string());
            part(&at_ms.to_string());
        }
        Field::PairAction { proposer, action } => {
            part(&proposer.to_string());
            part(&action.to_string());
        }
        Field::PendingExcerpt { person, at_ms } => {
            part(person);
            part(&at_ms.to_string());
        }
    }
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer<'a>(person: i64, flow: &'a str, name: &'a str) -> Field<'a> {
        Field::Answer { person, flow, name }
    }

    /// A value as the first format sealed it (bound to column and owner).
    fn seal_legacy(key: &DataKey, label: &str, owner: i64, plain: &str) -> String {
        let aead = XChaCha20Poly1305::new((&key.0).into());
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let aad = format!("mend/{label}/{owner}");
        let payload = Payload {
            msg: plain.as_bytes(),
            aad: aad.as_bytes(),
        };
        let mut bytes = nonce.to_vec();
        bytes.extend(aead.encrypt(&nonce, payload).unwrap());
        format!("v1:{}", STANDARD_NO_PAD.encode(bytes))
    }

    #[test]
    fn sealed_values_open_only_where_they_were_sealed() {
        let cipher = DataKey::generate().cipher();
        let sealed = cipher.seal(answer(7, "repair", "sorry"), "I said sorry today");
        assert!(Cipher::is_sealed(&sealed));
        assert!(!Cipher::is_legacy(&sealed));
        assert!(!sealed.contains("sorry"));
        assert_eq!(
            cipher.open(answer(7, "repair", "sorry"), &sealed).unwrap(),
            "I said sorry today"
        );
        // Another person, another answer of the same person, another field.
        for elsewhere in [
            answer(8, "repair", "sorry"),
            answer(7, "repair", "other"),
            answer(7, "other", "sorry"),
            Field::CheckinNote {
                person: 7,
                day: "2026-01-01",
                entry: 1,
            },
        ] {
            assert_eq!(cipher.open(elsewhere, &sealed), Err(OpenError));
        }
        let other = DataKey::generate().cipher();
        assert_eq!(
            other.open(answer(7, "repair", "sorry"), &sealed),
            Err(OpenError)
        );
    }

    #[test]
    fn each_check_in_of_a_day_has_its_own_note() {
        let cipher = DataKey::generate().cipher();
        let note = |entry| Field::CheckinNote {
            person: 7,
            day: "2027-06-01",
            entry,
        };
        let first = cipher.seal(note(1), "morning");
        let second = cipher.seal(note(2), "evening");
        assert_eq!(cipher.open(note(1), &first).unwrap(), "morning");
        assert_eq!(cipher.open(note(2), &second).unwrap(), "evening");
        // Swapped between the day's rows, neither opens.
        assert_eq!(cipher.open(note(2), &first), Err(OpenError));
        assert_eq!(cipher.open(note(1), &second), Err(OpenError));
        assert_eq!(cipher.open(note(12), &second), Err(OpenError));
    }

    #[test]
    fn the_parts_of_a_row_key_cannot_run_into_each_other() {
        let cipher = DataKey::generate().cipher();
        let sealed = cipher.seal(answer(1, "a/b", "c"), "x");
        assert_eq!(cipher.open(answer(1, "a", "b/c"), &sealed), Err(OpenError));
        let flag = cipher.seal(
            Field::FlagNote {
                person: 1,
                flag: 23,
            },
            "x",
        );
        let moved = Field::FlagNote {
            person: 12,
            flag: 3,
        };
        assert_eq!(cipher.open(moved, &flag), Err(OpenError));
        let excerpt = Field::FlagExcerpt {
            person: 1,
            flag: 23,
        };
        assert_eq!(cipher.open(excerpt, &flag), Err(OpenError));
        let outbox = |position| Field::Outbox {
            person: 1,
            event: "m1",
            position,
        };
        let reply = cipher.seal(outbox(0), "x");
        assert_eq!(cipher.open(outbox(1), &reply), Err(OpenError));
    }

    #[test]
    fn values_in_the_first_format_open_only_to_be_sealed_again() {
        let key = DataKey::generate();
        let cipher = key.cipher();
        let old = seal_legacy(&key, "answers.value", 7, "old words");
        assert!(Cipher::is_sealed(&old) && Cipher::is_legacy(&old));
        // The first format knew only the column and the person.
        assert_eq!(
            cipher.open_legacy(answer(7, "any", "row"), &old).unwrap(),
            "old words"
        );
        assert_eq!(
            cipher.open_legacy(answer(8, "any", "row"), &old),
            Err(OpenError)
        );
        assert_eq!(cipher.open(answer(7, "any", "row"), &old), Err(OpenError));
        let new = cipher.seal(answer(7, "any", "row"), "new words");
        assert_eq!(
            cipher.open_legacy(answer(7, "any", "row"), &new),
            Err(OpenError)
        );
        let check = seal_legacy(
            &key,
            "keycheck.sealed",
            0,
            "mend: this is the key for this database",
        );
        assert!(cipher.verifies_legacy(&check));
        assert!(!cipher.verifies(&check));
        assert!(!cipher.verifies_legacy(&cipher.key_check()));
    }

    #[test]
    fn the_same_text_seals_differently_each_time() {
        let cipher = DataKey::generate().cipher();
        assert_ne!(
            cipher.seal(answer(1, "f", "n"), "same"),
            cipher.seal(answer(1, "f", "n"), "same")
        );
    }

    #[test]
    fn a_tampered_value_does_not_open() {
        let cipher = DataKey::generate().cipher();
        let field = Field::FlagExcerpt { person: 1, flag: 1 };
        let sealed = cipher.seal(field, "excerpt");
        let mut bytes = sealed.into_bytes();
        let last = bytes.len() - 2;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert_eq!(cipher.open(field, &tampered), Err(OpenError));
        assert_eq!(cipher.open(field, "v2:"), Err(OpenError));
        assert_eq!(cipher.open(field, "plain"), Err(OpenError));
    }

    #[test]
    fn keys_parse_from_hex_and_nothing_else() {
        let key = DataKey::generate();
        let again = DataKey::parse(&format!(" {}\n", key.to_hex().as_str()), "test").unwrap();
        let sealed = key.cipher().seal(answer(1, "f", "n"), "x");
        assert_eq!(
            again.cipher().open(answer(1, "f", "n"), &sealed).unwrap(),
            "x"
        );
        for bad in ["", "abc", &"g".repeat(64), &"é".repeat(32), &"0".repeat(66)] {
            let err = DataKey::parse(bad, "MEND_DATA_KEY").unwrap_err();
            assert!(err.to_string().contains("MEND_DATA_KEY"));
            assert!(err.to_string().contains("64 hexadecimal"));
        }
        assert_eq!(format!("{key:?}"), "DataKey(<redacted>)");
    }

    #[test]
    fn the_key_check_tells_keys_apart() {
        let key = DataKey::generate().cipher();
        let check = key.key_check();
        assert!(key.verifies(&check));
        assert!(!DataKey::generate().cipher().verifies(&check));
    }

    #[test]
    fn person_hashes_are_keyed() {
        let a = DataKey::generate().cipher();
        let b = DataKey::generate().cipher();
        assert_eq!(a.person_hash("discord:1"), a.person_hash("discord:1"));
        assert_ne!(a.person_hash("discord:1"), a.person_hash("discord:2"));
        assert_ne!(a.person_hash("discord:1"), b.person_hash("discord:1"));
    }

    #[cfg(unix)]
    #[test]
    fn the_key_file_is_created_for_its_owner_only_and_read_back() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mend.key");
        let made = DataKey::load_or_create_file(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let read = DataKey::load_or_create_file(&path).unwrap();
        assert_eq!(made.to_hex(), read.to_hex());
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{}\n", made.to_hex().as_str())
        );
        std::fs::write(&path, "not a key").unwrap();
        let err = DataKey::load_or_create_file(&path).unwrap_err();
        assert!(err.to_string().contains("mend.key"));
    }
}
