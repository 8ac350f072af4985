//! The `journal` table: notes a person chose to keep from words they typed
//! where mend offered buttons, and the one note on offer until they answer.

use jiff::Timestamp;
use sqlx::SqliteConnection;

use crate::crypto::{Cipher, Field};
use crate::store::{PersonId, StoreError};

/// One kept note, opened (or `None` when it did not open).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub written_at: Timestamp,
    pub text: Option<String>,
}

fn field(person: PersonId, written_at: i64) -> Field<'static> {
    Field::JournalNote {
        person: person.0,
        at_ms: written_at,
    }
}

/// The note on offer, if any. One that does not open is dropped: it can be
/// offered to nobody.
pub async fn offered(
    conn: &mut SqliteConnection,
    cipher: &Cipher,
    person: PersonId,
) -> Result<Option<String>, StoreError> {
    let row: Option<(i64, String)> =
        sqlx::query_as("SELECT written_at, text FROM journal WHERE person_id = ? AND kept = 0")
            .bind(person)
            .fetch_optional(&mut *conn)
            .await?;
    let Some((at, sealed)) = row else {
        return Ok(None);
    };
    match cipher.open(field(person, at), &sealed) {
        Ok(text) => Ok(Some(text)),
        Err(_) => {
            tracing::warn!(
                table = "journal",
                column = "text",
                "a sealed value did not open"
            );
            set_offer(conn, cipher, person, None, Timestamp::UNIX_EPOCH).await?;
            Ok(None)
        }
    }
}

/// Replaces the note on offer (or withdraws it, with `None`).
pub async fn set_offer(
    conn: &mut SqliteConnection,
    cipher: &Cipher,
    person: PersonId,
    text: Option<&str>,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM journal WHERE person_id = ? AND kept = 0")
        .bind(person)
        .execute(&mut *conn)
        .await?;
    if let Some(text) = text {
        let at = written_at(conn, person, now).await?;
        sqlx::query("INSERT INTO journal (person_id, written_at, text) VALUES (?, ?, ?)")
            .bind(person)
            .bind(at)
            .bind(cipher.seal(field(person, at), text))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Keeps the note on offer.
pub async fn keep_offer(conn: &mut SqliteConnection, person: PersonId) -> Result<(), StoreError> {
    sqlx::query("UPDATE journal SET kept = 1 WHERE person_id = ? AND kept = 0")
        .bind(person)
        .execute(conn)
        .await?;
    Ok(())
}

/// A moment for a new note no earlier note of theirs has: the row's key,
/// which its seal is bound to, must be theirs alone.
async fn written_at(
    conn: &mut SqliteConnection,
    person: PersonId,
    now: Timestamp,
) -> Result<i64, StoreError> {
    let latest: Option<i64> =
        sqlx::query_scalar("SELECT max(written_at) FROM journal WHERE person_id = ?")
            .bind(person)
            .fetch_one(conn)
            .await?;
    let now = now.as_millisecond();
    Ok(latest.map_or(now, |latest| now.max(latest + 1)))
}

/// Their kept notes, newest first, at most `limit`.
pub async fn recent(
    conn: &mut SqliteConnection,
    cipher: &Cipher,
    person: PersonId,
    limit: i64,
) -> Result<Vec<Note>, StoreError> {
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT written_at, text FROM journal WHERE person_id = ? AND kept = 1
         ORDER BY written_at DESC LIMIT ?",
    )
    .bind(person)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(at, sealed)| Note {
            written_at: Timestamp::from_millisecond(at).unwrap_or(Timestamp::UNIX_EPOCH),
            text: cipher.open(field(person, at), &sealed).ok(),
        })
        .collect())
}
