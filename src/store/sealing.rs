//! Binding a database to its data key, sealing values written before
//! encryption, and re-sealing everything under a new key.

use sqlx::{SqliteConnection, SqlitePool};

use super::StoreError;
use crate::crypto::{Cipher, Field};

/// A column that holds sealed text.
/// The owner (person id) is always the `person_id` column.
struct Sealed {
    table: &'static str,
    column: &'static str,
    field: Field,
    /// (rowid, person_id, value) of every non-null value.
    select: &'static str,
    /// Sets the value (first parameter) of a rowid (second).
    update: &'static str,
}

const SEALED: [Sealed; 6] = [
    Sealed {
        table: "answers",
        column: "value",
        field: Field::Answer,
        select: "SELECT rowid, person_id, value FROM answers",
        update: "UPDATE answers SET value = ? WHERE rowid = ?",
    },
    Sealed {
        table: "checkin_days",
        column: "note",
        field: Field::CheckinNote,
        select: "SELECT rowid, person_id, note FROM checkin_days WHERE note IS NOT NULL",
        update: "UPDATE checkin_days SET note = ? WHERE rowid = ?",
    },
    Sealed {
        table: "flags",
        column: "excerpt",
        field: Field::FlagExcerpt,
        select: "SELECT rowid, person_id, excerpt FROM flags WHERE excerpt IS NOT NULL",
        update: "UPDATE flags SET excerpt = ? WHERE rowid = ?",
    },
    Sealed {
        table: "flags",
        column: "note",
        field: Field::FlagNote,
        select: "SELECT rowid, person_id, note FROM flags WHERE note IS NOT NULL",
        update: "UPDATE flags SET note = ? WHERE rowid = ?",
    },
    Sealed {
        table: "people",
        column: "ask_excerpt",
        field: Field::AskExcerpt,
        select: "SELECT rowid, id, ask_excerpt FROM people WHERE ask_excerpt IS NOT NULL",
        update: "UPDATE people SET ask_excerpt = ? WHERE rowid = ?",
    },
    Sealed {
        table: "outbox",
        column: "reply",
        field: Field::Outbox,
        select: "SELECT rowid, person_id, reply FROM outbox",
        update: "UPDATE outbox SET reply = ? WHERE rowid = ?",
    },
];

/// Checks the key against the database, or binds a new database to it.
pub async fn bind_key(pool: &SqlitePool, cipher: &Cipher, path: &str) -> Result<(), StoreError> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let check: Option<String> = sqlx::query_scalar("SELECT sealed FROM keycheck WHERE id = 1")
        .fetch_optional(&mut *tx)
        .await?;
    match check {
        Some(check) if cipher.verifies(&check) => return Ok(()),
        Some(_) => {
            return Err(StoreError::WrongKey {
                path: path.to_string(),
            });
        }
        None => {}
    }
    // First start with a key: anything written before encryption is sealed now.
    for column in &SEALED {
        reseal(&mut tx, column, |owner, value| {
            if Cipher::is_sealed(value) {
                return Ok(None);
            }
            Ok(Some(cipher.seal(column.field, owner, value)))
        })
        .await?;
    }
    sqlx::query("INSERT INTO keycheck (id, sealed) VALUES (1, ?)")
        .bind(cipher.key_check())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Opens every sealed value with `old` and seals it again with `new`, and
/// binds the database to `new`, in one transaction: on any failure the
/// database is left exactly as it was, still under `old`. Returns how many
/// values were re-sealed.
pub async fn rotate(
    pool: &SqlitePool,
    old: &Cipher,
    new: &Cipher,
    path: &str,
) -> Result<u64, StoreError> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let check: Option<String> = sqlx::query_scalar("SELECT sealed FROM keycheck WHERE id = 1")
        .fetch_optional(&mut *tx)
        .await?;
    if !check.is_some_and(|check| old.verifies(&check)) {
        return Err(StoreError::WrongKey {
            path: path.to_string(),
        });
    }
    let mut count = 0;
    for column in &SEALED {
        count += reseal(&mut tx, column, |owner, value| {
            let plain = old
                .open(column.field, owner, value)
                .map_err(|_| StoreError::Sealed {
                    table: column.table,
                    column: column.column,
                })?;
            Ok(Some(new.seal(column.field, owner, &plain)))
        })
        .await?;
    }
    sqlx::query("UPDATE keycheck SET sealed = ? WHERE id = 1")
        .bind(new.key_check())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(count)
}

/// Rewrites each non-null value of one sealed column with what `change`
/// returns for it (None leaves it). Returns how many were rewritten.
async fn reseal(
    conn: &mut SqliteConnection,
    column: &Sealed,
    change: impl Fn(i64, &str) -> Result<Option<String>, StoreError>,
) -> Result<u64, StoreError> {
    let rows: Vec<(i64, i64, String)> = sqlx::query_as(column.select).fetch_all(&mut *conn).await?;
    let mut count = 0;
    for (rowid, owner, value) in rows {
        if let Some(sealed) = change(owner, &value)? {
            sqlx::query(column.update)
                .bind(sealed)
                .bind(rowid)
                .execute(&mut *conn)
                .await?;
            count += 1;
        }
    }
    Ok(count)
}
