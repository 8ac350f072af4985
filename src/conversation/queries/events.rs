//! The `events` table: what happened, as kinds and flow ids. Never text.

use jiff::Timestamp;
use sqlx::SqliteConnection;

use crate::conversation::engine::Event;
use crate::store::{PersonId, StoreError};

/// Logs a turn's events in one statement.
pub async fn insert_all(
    conn: &mut SqliteConnection,
    person: PersonId,
    events: &[Event],
    now: Timestamp,
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let mut insert = sqlx::QueryBuilder::new("INSERT INTO events (person_id, kind, flow, at) ");
    insert.push_values(events, |mut row, event| {
        row.push_bind(person)
            .push_bind(event.kind())
            .push_bind(event.flow().map(str::to_owned))
            .push_bind(now.as_millisecond());
    });
    insert.build().execute(conn).await?;
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
