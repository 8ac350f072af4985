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

/// Forgets event ids recorded before `cutoff`: Discord redelivers within
/// minutes, so old ids only take space. Returns how many went.
pub async fn prune(conn: &mut SqliteConnection, cutoff: Timestamp) -> Result<u64, StoreError> {
    let done = sqlx::query("DELETE FROM processed_events WHERE at < ?")
        .bind(cutoff.as_millisecond())
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}
