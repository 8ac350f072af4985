//! The `conversations` table: the step each person is resting at.

use jiff::Timestamp;
use sqlx::SqliteConnection;

use crate::conversation::engine::Place;
use crate::store::{PersonId, StoreError};

#[derive(sqlx::FromRow)]
struct Row {
    flow: String,
    step: String,
    paused: bool,
}

pub async fn get(
    conn: &mut SqliteConnection,
    person: PersonId,
) -> Result<Option<(Place, bool)>, StoreError> {
    let row: Option<Row> =
        sqlx::query_as("SELECT flow, step, paused FROM conversations WHERE person_id = ?")
            .bind(person)
            .fetch_optional(conn)
            .await?;
    Ok(row.map(|r| {
        (
            Place {
                flow: r.flow,
                step: r.step,
            },
            r.paused,
        )
    }))
}

pub async fn set(
    conn: &mut SqliteConnection,
    person: PersonId,
    place: &Place,
    paused: bool,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO conversations (person_id, flow, step, paused, updated_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (person_id) DO UPDATE SET
             flow = excluded.flow, step = excluded.step,
             paused = excluded.paused, updated_at = excluded.updated_at",
    )
    .bind(person)
    .bind(&place.flow)
    .bind(&place.step)
    .bind(paused)
    .bind(now.as_millisecond())
    .execute(conn)
    .await?;
    Ok(())
}
