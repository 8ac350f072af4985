//! Encryption at rest for everything a person typed: text answers, check-in
//! notes and flag excerpts are sealed with XChaCha20-Poly1305 under the data
//! key before they reach SQLite. Each sealed value is bound to where it lives
//! (the column and the person), so a value copied to another row does not
//! open. Erased people are named in the audit log only by a keyed hash.

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

/// Every sealed value starts with this, so a plain value is never mistaken
/// for a sealed one (and old plain values can be sealed in place).
const PREFIX: &str = "v1:";
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
        }
    }
}

/// Where a sealed value lives; part of what it is sealed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Answer,
    CheckinNote,
    FlagExcerpt,
    FlagNote,
    KeyCheck,
    Outbox,
    AskExcerpt,
    /// A crisis flag's excerpt kept in a file while the database failed.
    PendingExcerpt,
}

impl Field {
    fn label(self) -> &'static str {
        match self {
            Field::Answer => "answers.value",
            Field::CheckinNote => "checkin_days.note",
            Field::FlagExcerpt => "flags.excerpt",
            Field::FlagNote => "flags.note",
            Field::KeyCheck => "keycheck.sealed",
            Field::Outbox => "outbox.reply",
            Field::AskExcerpt => "people.ask_excerpt",
            Field::PendingExcerpt => "pending-flags.excerpt",
        }
    }
}

/// Seals and opens values under one data key.
#[derive(Clone)]
pub struct Cipher {
    aead: XChaCha20Poly1305,
    id_key: [u8; 32],
}

impl Drop for Cipher {
    fn drop(&mut self) {
        // The AEAD wipes its own key copy when dropped.
        self.id_key.zeroize();
    }
}

impl fmt::Debug for Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cipher(<redacted>)")
    }
}

impl Cipher {
    /// Seals `plain` for `field` of `owner` (a person's row id, or 0).
    pub fn seal(&self, field: Field, owner: i64, plain: &str) -> String {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let aad = associated(field, owner);
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

    /// Opens a value sealed by [`Cipher::seal`] for the same field and owner.
    pub fn open(&self, field: Field, owner: i64, sealed: &str) -> Result<String, OpenError> {
        let body = sealed.strip_prefix(PREFIX).ok_or(OpenError)?;
        let bytes = STANDARD_NO_PAD.decode(body).map_err(|_| OpenError)?;
        if bytes.len() < NONCE_LEN {
            return Err(OpenError);
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| OpenError)?;
        let aad = associated(field, owner);
        let plain = self
            .aead
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .map_err(|_| OpenError)?;
        String::from_utf8(plain).map_err(|_| OpenError)
    }

    /// Whether a stored value is sealed (rather than left from before
    /// encryption, or never encrypted).
    pub fn is_sealed(value: &str) -> bool {
        value.starts_with(PREFIX)
    }

    /// The value stored to prove which key a database uses.
    pub fn key_check(&self) -> String {
        let plain = std::str::from_utf8(CHECK_PLAINTEXT).expect("ASCII");
        self.seal(Field::KeyCheck, 0, plain)
    }

    /// Whether `sealed` is a key check made with this key.
    pub fn verifies(&self, sealed: &str) -> bool {
        self.open(Field::KeyCheck, 0, sealed)
            .is_ok_and(|plain| plain.as_bytes() == CHECK_PLAINTEXT)
    }

    /// A keyed hash of a person's id, for the audit log after erasure: it
    /// shows that the same person was erased without saying who they were.
    pub fn person_hash(&self, external_id: &str) -> String {
        blake3::keyed_hash(&self.id_key, external_id.as_bytes())
            .to_hex()
            .to_string()
    }
}

fn associated(field: Field, owner: i64) -> Vec<u8> {
    format!("mend/{}/{owner}", field.label()).into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_where_they_were_sealed() {
        let cipher = DataKey::generate().cipher();
        let sealed = cipher.seal(Field::Answer, 7, "I said sorry today");
        assert!(Cipher::is_sealed(&sealed));
        assert!(!sealed.contains("sorry"));
        assert_eq!(
            cipher.open(Field::Answer, 7, &sealed).unwrap(),
            "I said sorry today"
        );
        assert_eq!(cipher.open(Field::Answer, 8, &sealed), Err(OpenError));
        assert_eq!(cipher.open(Field::CheckinNote, 7, &sealed), Err(OpenError));
        let other = DataKey::generate().cipher();
        assert_eq!(other.open(Field::Answer, 7, &sealed), Err(OpenError));
    }

    #[test]
    fn the_same_text_seals_differently_each_time() {
        let cipher = DataKey::generate().cipher();
        assert_ne!(
            cipher.seal(Field::Answer, 1, "same"),
            cipher.seal(Field::Answer, 1, "same")
        );
    }

    #[test]
    fn a_tampered_value_does_not_open() {
        let cipher = DataKey::generate().cipher();
        let sealed = cipher.seal(Field::FlagExcerpt, 1, "excerpt");
        let mut bytes = sealed.into_bytes();
        let last = bytes.len() - 2;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert_eq!(
            cipher.open(Field::FlagExcerpt, 1, &tampered),
            Err(OpenError)
        );
        assert_eq!(cipher.open(Field::FlagExcerpt, 1, "v1:"), Err(OpenError));
        assert_eq!(cipher.open(Field::FlagExcerpt, 1, "plain"), Err(OpenError));
    }

    #[test]
    fn keys_parse_from_hex_and_nothing_else() {
        let key = DataKey::generate();
        let again = DataKey::parse(&format!(" {}\n", key.to_hex().as_str()), "test").unwrap();
        let sealed = key.cipher().seal(Field::Answer, 1, "x");
        assert_eq!(again.cipher().open(Field::Answer, 1, &sealed).unwrap(), "x");
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
