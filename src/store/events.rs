//! The `events` table: what happened, as kinds and flow ids. Never text.

use jiff::Timestamp;
use sqlx::SqliteConnection;

use super::{PersonId, StoreError};
use crate::engine::Event;

pub async fn insert(
    conn: &mut SqliteConnection,
    person: PersonId,
    event: &Event,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO events (person_id, kind, flow, at) VALUES (?, ?, ?, ?)")
        .bind(person)
        .bind(event.kind())
        .bind(event.flow())
        .bind(now.as_millisecond())
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn kinds(
    conn: &mut SqliteConnection,
    person: PersonId,
) -> Result<Vec<String>, StoreError> {
    let kinds = sqlx::query_scalar("SELECT kind FROM events WHERE person_id = ? ORDER BY id")
        .bind(person)
        .fetch_all(conn)
        .await?;
    Ok(kinds)
}
