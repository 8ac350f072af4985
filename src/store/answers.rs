//! The `answers` table: what a person chose to write, kept only after consent.

use std::collections::BTreeMap;

use jiff::Timestamp;
use sqlx::SqliteConnection;

use super::{PersonId, StoreError};
use crate::crypto::{Cipher, Field};

/// A person's answers, opened, and the (flow, name) of each one that did
/// not open (damaged, or moved here from another row): those are left out.
pub async fn all(
    conn: &mut SqliteConnection,
    cipher: &Cipher,
    person: PersonId,
) -> Result<(BTreeMap<(String, String), String>, Vec<(String, String)>), StoreError> {
    let rows: Vec<(String, String, String)> =
        sqlx::query_as("SELECT flow, name, value FROM answers WHERE person_id = ?")
            .bind(person)
            .fetch_all(conn)
            .await?;
    let mut opened = BTreeMap::new();
    let mut unopened = Vec::new();
    for (flow, name, sealed) in rows {
        let field = Field::Answer {
            person: person.0,
            flow: &flow,
            name: &name,
        };
        match cipher.open(field, &sealed) {
            Ok(value) => {
                opened.insert((flow, name), value);
            }
            Err(_) => {
                tracing::warn!(
                    table = "answers",
                    column = "value",
                    "a sealed value did not open"
                );
                unopened.push((flow, name));
            }
        }
    }
    Ok((opened, unopened))
}

/// Seals and stores an answer, bound to its person, flow and name.
pub async fn set(
    conn: &mut SqliteConnection,
    cipher: &Cipher,
    person: PersonId,
    flow: &str,
    name: &str,
    value: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    let sealed = cipher.seal(
        Field::Answer {
            person: person.0,
            flow,
            name,
        },
        value,
    );
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

/// Removes one answer (one that would not open: it helps nobody).
pub async fn delete(
    conn: &mut SqliteConnection,
    person: PersonId,
    flow: &str,
    name: &str,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM answers WHERE person_id = ? AND flow = ? AND name = ?")
        .bind(person)
        .bind(flow)
        .bind(name)
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
