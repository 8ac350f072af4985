//! The `answers` table: what a person chose to write, kept only after consent.

use std::collections::BTreeMap;

use jiff::Timestamp;
use sqlx::SqliteConnection;

use super::{PersonId, StoreError};
use crate::crypto::{Cipher, Field};

/// A person's answers, opened.
pub async fn all(
    conn: &mut SqliteConnection,
    cipher: &Cipher,
    person: PersonId,
) -> Result<BTreeMap<(String, String), String>, StoreError> {
    let rows: Vec<(String, String, String)> =
        sqlx::query_as("SELECT flow, name, value FROM answers WHERE person_id = ?")
            .bind(person)
            .fetch_all(conn)
            .await?;
    rows.into_iter()
        .map(|(flow, name, sealed)| {
            let value =
                cipher
                    .open(Field::Answer, person.0, &sealed)
                    .map_err(|_| StoreError::Sealed {
                        table: "answers",
                        column: "value",
                    })?;
            Ok(((flow, name), value))
        })
        .collect()
}

/// Stores an answer; `sealed` is already sealed by the caller.
pub async fn set(
    conn: &mut SqliteConnection,
    person: PersonId,
    flow: &str,
    name: &str,
    sealed: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO answers (person_id, flow, name, value, updated_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (person_id, flow, name) DO UPDATE SET
             value = excluded.value, updated_at = excluded.updated_at",
    )
    .bind(person)
    .bind(flow)
    .bind(name)
    .bind(sealed)
    .bind(now.as_millisecond())
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn delete_all(conn: &mut SqliteConnection, person: PersonId) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM answers WHERE person_id = ?")
        .bind(person)
        .execute(conn)
        .await?;
    Ok(())
}
