//! Binding a database to its data key, sealing values written before
//! encryption, re-sealing values of the first format to their rows, and
//! re-sealing everything under a new key.

use sqlx::{SqliteConnection, SqlitePool};

use super::StoreError;
use crate::crypto::{Cipher, Field};

/// A column that holds sealed text, and how to name a value's row.
struct Sealed {
    table: &'static str,
    column: &'static str,
    /// Every non-null value, as a [`Row`]: (rowid, person, a number, two
    /// texts, value), the unused parts 0 or ''.
    select: &'static str,
    /// What a value of this column is sealed to, from its row.
    field: for<'a> fn(&'a Row) -> Field<'a>,
    /// Sets the value (first parameter) of a rowid (second).
    update: &'static str,
}

/// A sealed value with the key of its row.
type Row = (i64, i64, i64, String, String, String);

const SEALED: [Sealed; 10] = [
    Sealed {
        table: "answers",
        column: "value",
        select: "SELECT rowid, person_id, 0, flow, name, value FROM answers",
        field: |(_, person, _, flow, name, _)| Field::Answer {
            person: *person,
            flow,
            name,
        },
        update: "UPDATE answers SET value = ? WHERE rowid = ?",
    },
    Sealed {
        table: "checkin_days",
        column: "note",
        select: "SELECT rowid, person_id, entry, day, '', note FROM checkin_days
                 WHERE note IS NOT NULL",
        field: |(_, person, entry, day, _, _)| Field::CheckinNote {
            person: *person,
            day,
            entry: *entry,
        },
        update: "UPDATE checkin_days SET note = ? WHERE rowid = ?",
    },
    Sealed {
        table: "flags",
        column: "excerpt",
        select: "SELECT rowid, person_id, id, '', '', excerpt FROM flags WHERE excerpt IS NOT NULL",
        field: |(_, person, flag, _, _, _)| Field::FlagExcerpt {
            person: *person,
            flag: *flag,
        },
        update: "UPDATE flags SET excerpt = ? WHERE rowid = ?",
    },
    Sealed {
        table: "flags",
        column: "note",
        select: "SELECT rowid, person_id, id, '', '', note FROM flags WHERE note IS NOT NULL",
        field: |(_, person, flag, _, _, _)| Field::FlagNote {
            person: *person,
            flag: *flag,
        },
        update: "UPDATE flags SET note = ? WHERE rowid = ?",
    },
    Sealed {
        table: "people",
        column: "ask_excerpt",
        select: "SELECT rowid, id, 0, '', '', ask_excerpt FROM people WHERE ask_excerpt IS NOT NULL",
        field: |(_, person, _, _, _, _)| Field::AskExcerpt { person: *person },
        update: "UPDATE people SET ask_excerpt = ? WHERE rowid = ?",
    },
    Sealed {
        table: "outbox",
        column: "reply",
        select: "SELECT rowid, person_id, position, event_key, '', reply FROM outbox",
        field: |(_, person, position, event, _, _)| Field::Outbox {
            person: *person,
            event,
            position: *position,
        },
        update: "UPDATE outbox SET reply = ? WHERE rowid = ?",
    },
    Sealed {
        table: "journal",
        column: "text",
        select: "SELECT rowid, person_id, written_at, '', '', text FROM journal",
        field: |(_, person, at_ms, _, _, _)| Field::JournalNote {
            person: *person,
            at_ms: *at_ms,
        },
        update: "UPDATE journal SET text = ? WHERE rowid = ?",
    },
    Sealed {
        table: "pair_messages",
        column: "body",
        select: "SELECT rowid, sender_id, id, '', '', body FROM pair_messages",
        field: |(_, sender, message, _, _, _)| Field::PairMessage {
            sender: *sender,
            message: *message,
        },
        update: "UPDATE pair_messages SET body = ? WHERE rowid = ?",
    },
    Sealed {
        table: "pair_drafts",
        column: "body",
        select: "SELECT rowid, person_id, created_at, '', '', body FROM pair_drafts",
        field: |(_, person, at_ms, _, _, _)| Field::PairDraft {
            person: *person,
            at_ms: *at_ms,
        },
        update: "UPDATE pair_drafts SET body = ? WHERE rowid = ?",
    },
    Sealed {
        table: "pair_actions",
        column: "body",
        select: "SELECT rowid, proposer_id, id, '', '', body FROM pair_actions",
        field: |(_, proposer, action, _, _, _)| Field::PairAction {
            proposer: *proposer,
            action: *action,
        },
        update: "UPDATE pair_actions SET body = ? WHERE rowid = ?",
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
        Some(check) if cipher.verifies_legacy(&check) => {
            upgrade(&mut tx, cipher).await?;
            tx.commit().await?;
            return Ok(());
        }
        Some(_) => {
            return Err(StoreError::WrongKey {
                path: path.to_string(),
            });
        }
        None => {}
    }
    // First start with a key: anything written before encryption is sealed now.
    for column in &SEALED {
        reseal(&mut tx, column, |row| {
            let value = &row.5;
            if Cipher::is_sealed(value) {
                return Ok(None);
            }
            Ok(Some(cipher.seal((column.field)(row), value)))
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

/// Re-seals every value in the first format (bound only to its column and
/// person) to its row, and marks the database as done by a key check in the
/// current format, in the caller's transaction: this runs once, and values
/// in the first format never open again after it. One that does not open
/// even now is left as it is (it will not open later either, and is reported
/// where it is read), so a single damaged value cannot keep mend from
/// starting.
async fn upgrade(conn: &mut SqliteConnection, cipher: &Cipher) -> Result<(), StoreError> {
    let mut resealed = 0;
    for column in &SEALED {
        let mut unopened = 0;
        resealed += reseal(&mut *conn, column, |row| {
            let value = &row.5;
            if !Cipher::is_legacy(value) {
                return Ok(None);
            }
            let field = (column.field)(row);
            match cipher.open_legacy(field, value) {
                Ok(plain) => Ok(Some(cipher.seal(field, &plain))),
                Err(_) => {
                    unopened += 1;
                    Ok(None)
                }
            }
        })
        .await?;
        if unopened > 0 {
            tracing::warn!(
                table = column.table,
                column = column.column,
                count = unopened,
                "sealed values did not open and were left as they were"
            );
        }
    }
    sqlx::query("UPDATE keycheck SET sealed = ? WHERE id = 1")
        .bind(cipher.key_check())
        .execute(&mut *conn)
        .await?;
    tracing::info!(count = resealed, "sealed values bound to their rows");
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
        count += reseal(&mut tx, column, |row| {
            let field = (column.field)(row);
            let plain = old.open(field, &row.5).map_err(|_| StoreError::Sealed {
                table: column.table,
                column: column.column,
            })?;
            Ok(Some(new.seal(field, &plain)))
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
    mut change: impl FnMut(&Row) -> Result<Option<String>, StoreError>,
) -> Result<u64, StoreError> {
    let rows: Vec<Row> = sqlx::query_as(column.select).fetch_all(&mut *conn).await?;
    let mut count = 0;
    for row in rows {
        if let Some(sealed) = change(&row)? {
            sqlx::query(column.update)
                .bind(sealed)
                .bind(row.0)
                .execute(&mut *conn)
                .await?;
            count += 1;
        }
    }
    Ok(count)
}
