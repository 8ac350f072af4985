//! The `processed_events` table: ids of Discord events already applied.

use jiff::Timestamp;
use sqlx::SqliteConnection;

use super::StoreError;

/// Records `key`; false if it was already there.
pub async fn record(
    conn: &mut SqliteConnection,
    key: &str,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let result =
        sqlx::query("INSERT INTO processed_events (key, at) VALUES (?, ?) ON CONFLICT DO NOTHING")
            .bind(key)
            .bind(now.as_millisecond())
            .execute(conn)
            .await?;
    Ok(result.rows_affected() == 1)
}
