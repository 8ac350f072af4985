//! The `flags` and `audit` tables: crisis flags as moderators see and handle
//! them, and an append-only record of every moderator action. The life of
//! a flag (its statuses and what moves it) is the pure [`crate::flags`].

use jiff::Timestamp;
use sqlx::{SqliteConnection, SqlitePool};

use super::{Action, Flag, Raised, Refusal, Status};
use crate::crypto::{Cipher, Field};
use crate::safety::Hit;
use crate::store::{NOT_OPENED, PersonId, StoreError};

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    person_id: i64,
    person: String,
    category: String,
    severity: String,
    excerpt: Option<String>,
    hits: i64,
    status: String,
    handled_by: Option<String>,
    note: Option<String>,
    notice_channel: Option<String>,
    notice_message: Option<String>,
    created_at: i64,
    updated_at: i64,
    asked: bool,
}

impl Row {
    /// The flag, its excerpt and note opened. One that does not open is
    /// shown as [`NOT_OPENED`], so the flag itself still reaches the
    /// moderators.
    fn open(self, cipher: &Cipher) -> Result<Flag, StoreError> {
        let corrupt = |column| StoreError::Corrupt {
            table: "flags",
            column,
        };
        let (person, flag) = (self.person_id, self.id);
        let open = |field, column, sealed: &str| {
            cipher.open(field, sealed).unwrap_or_else(|_| {
                tracing::warn!(flag, table = "flags", column, "a sealed value did not open");
                NOT_OPENED.to_owned()
            })
        };
        let excerpt = self
            .excerpt
            .as_deref()
            .map(|sealed| open(Field::FlagExcerpt { person, flag }, "excerpt", sealed));
        let note = self
            .note
            .as_deref()
            .map(|sealed| open(Field::FlagNote { person, flag }, "note", sealed));
        let row = self;
        Ok(Flag {
            id: row.id,
            person: row.person,
            category: row.category,
            severity: row.severity,
            excerpt,
            hits: row.hits,
            status: Status::parse(&row.status).ok_or(corrupt("status"))?,
            handled_by: row.handled_by,
            note,
            notice_channel: row.notice_channel,
            notice_message: row.notice_message,
            created_at: Timestamp::from_millisecond(row.created_at)
                .map_err(|_| corrupt("created_at"))?,
            updated_at: Timestamp::from_millisecond(row.updated_at)
                .map_err(|_| corrupt("updated_at"))?,
            asked: row.asked,
        })
    }
}

/// The columns of a [`Flag`], for `concat!` into each query.
macro_rules! select_flags {
    () => {
        "SELECT f.id, f.person_id, p.external_id AS person, f.category, f.severity, f.excerpt,
        f.hits, f.status, f.handled_by, f.note, f.notice_channel, f.notice_message,
        f.created_at, f.updated_at, f.asked
    FROM flags f JOIN people p ON p.id = f.person_id"
    };
}

/// Records a hit: updates the person's open or claimed flag (one more hit,
/// the latest excerpt, the higher severity) or opens a new one.
pub async fn raise(
    conn: &mut SqliteConnection,
    cipher: &Cipher,
    person: PersonId,
    hit: &Hit,
    asked: bool,
    now: Timestamp,
) -> Result<Raised, StoreError> {
    // The excerpt is sealed to its flag's id, so the flag is found or made
    // first: one more statement, inside the same transaction.
    let active: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM flags WHERE person_id = ? AND status IN ('open', 'claimed')",
    )
    .bind(person)
    .fetch_optional(&mut *conn)
    .await?;
    let (id, new) = match active {
        Some(id) => {
            sqlx::query(
                "UPDATE flags SET hits = hits + 1, updated_at = ?, asked = MAX(asked, ?),
                     severity = CASE
                         WHEN ? = 'critical' OR severity = 'critical' THEN 'critical'
                         WHEN ? = 'high' OR severity = 'high' THEN 'high'
                         ELSE 'concern' END
                 WHERE id = ?",
            )
            .bind(now.as_millisecond())
            .bind(asked)
            .bind(hit.severity.as_str())
            .bind(hit.severity.as_str())
            .bind(id)
            .execute(&mut *conn)
            .await?;
            (id, false)
        }
        None => {
            let id = sqlx::query_scalar(
                "INSERT INTO flags (person_id, category, severity, created_at, updated_at, asked)
                 VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
            )
            .bind(person)
            .bind(hit.category.as_str())
            .bind(hit.severity.as_str())
            .bind(now.as_millisecond())
            .bind(now.as_millisecond())
            .bind(asked)
            .fetch_one(&mut *conn)
            .await?;
            (id, true)
        }
    };
    let field = Field::FlagExcerpt {
        person: person.0,
        flag: id,
    };
    sqlx::query("UPDATE flags SET excerpt = ? WHERE id = ?")
        .bind(cipher.seal(field, &hit.excerpt))
        .bind(id)
        .execute(conn)
        .await?;
    Ok(Raised { id, new })
}

pub async fn get(pool: &SqlitePool, cipher: &Cipher, id: i64) -> Result<Option<Flag>, StoreError> {
    let row: Option<Row> = sqlx::query_as(concat!(select_flags!(), " WHERE f.id = ?"))
        .bind(id)
        .fetch_optional(pool)
        .await?;
    row.map(|row| row.open(cipher)).transpose()
}

/// Open and claimed flags, oldest first.
pub async fn active(pool: &SqlitePool, cipher: &Cipher) -> Result<Vec<Flag>, StoreError> {
    let rows: Vec<Row> = sqlx::query_as(concat!(
        select_flags!(),
        " WHERE f.status IN ('open', 'claimed') ORDER BY f.id"
    ))
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(|row| row.open(cipher)).collect()
}

/// Open and claimed flags raised on Discord whose moderators' notice was
/// never posted, oldest first, each whole: one read for all of them.
pub async fn owed_notices(pool: &SqlitePool, cipher: &Cipher) -> Result<Vec<Flag>, StoreError> {
    let rows: Vec<Row> = sqlx::query_as(concat!(
        select_flags!(),
        " WHERE f.status IN ('open', 'claimed') AND f.notice_message IS NULL
          AND p.external_id LIKE 'discord:%' ORDER BY f.id"
    ))
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(|row| row.open(cipher)).collect()
}

pub async fn set_notice(
    pool: &SqlitePool,
    id: i64,
    channel: &str,
    message: &str,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE flags SET notice_channel = ?, notice_message = ? WHERE id = ?")
        .bind(channel)
        .bind(message)
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Applies a moderator's action and audits it, in one transaction.
pub async fn act(
    pool: &SqlitePool,
    cipher: &Cipher,
    id: i64,
    action: Action,
    moderator: &str,
    note: Option<&str>,
    now: Timestamp,
) -> Result<Result<Flag, Refusal>, StoreError> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let found: Option<(String, i64)> =
        sqlx::query_as("SELECT status, person_id FROM flags WHERE id = ?")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    let Some((status, person)) = found else {
        return Ok(Err(Refusal::NoSuchFlag));
    };
    let Some(status) = Status::parse(&status) else {
        return Ok(Err(Refusal::NoSuchFlag));
    };
    let Some(next) = action.apply(status) else {
        return Ok(Err(Refusal::NotAllowed { status }));
    };
    let closing = matches!(next, Status::Resolved | Status::Escalated);
    // The note is about a person, so it is sealed like their own words, and
    // kept out of the append-only audit log, which outlives an erasure.
    let sealed_note = note.map(|note| cipher.seal(Field::FlagNote { person, flag: id }, note));
    sqlx::query(
        "UPDATE flags SET status = ?, handled_by = ?, note = coalesce(?, note), updated_at = ?,
             claimed_at = CASE WHEN ? = 'claimed' THEN ? ELSE claimed_at END,
             closed_at = CASE WHEN ? THEN ? ELSE closed_at END
         WHERE id = ?",
    )
    .bind(next.as_str())
    .bind(moderator)
    .bind(sealed_note)
    .bind(now.as_millisecond())
    .bind(next.as_str())
    .bind(now.as_millisecond())
    .bind(closing)
    .bind(now.as_millisecond())
    .bind(id)
    .execute(&mut *tx)
    .await?;
    let detail = note.map(|_| "with a note");
    audit(&mut tx, moderator, action.as_str(), Some(id), detail, now).await?;
    tx.commit().await?;
    let flag = get(pool, cipher, id).await?.ok_or(StoreError::Corrupt {
        table: "flags",
        column: "id",
    })?;
    Ok(Ok(flag))
}

/// Appends to the audit log.
pub async fn audit(
    conn: &mut SqliteConnection,
    actor: &str,
    action: &str,
    flag: Option<i64>,
    detail: Option<&str>,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO audit (at, actor, action, flag_id, detail) VALUES (?, ?, ?, ?, ?)")
        .bind(now.as_millisecond())
        .bind(actor)
        .bind(action)
        .bind(flag)
        .bind(detail)
        .execute(conn)
        .await?;
    Ok(())
}

/// One audit entry: (actor, action, flag).
pub async fn audit_log(
    pool: &SqlitePool,
) -> Result<Vec<(String, String, Option<i64>)>, StoreError> {
    let rows = sqlx::query_as("SELECT actor, action, flag_id FROM audit ORDER BY id")
        .fetch_all(pool)
        .await?;
    Ok(rows)
}

/// Erases the excerpts of flags closed before `cutoff`; the bare facts stay.
pub async fn erase_excerpts(pool: &SqlitePool, cutoff: Timestamp) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "UPDATE flags SET excerpt = NULL
         WHERE excerpt IS NOT NULL AND status IN ('resolved', 'escalated') AND closed_at < ?",
    )
    .bind(cutoff.as_millisecond())
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}
