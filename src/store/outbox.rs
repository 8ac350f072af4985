//! The `outbox` table: a turn's replies, written in the turn's transaction
//! and deleted once the edge has sent them. Whatever a crash interrupts is
//! still here, and is sent before anything newer for that person.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sqlx::SqliteConnection;

use super::{PersonId, StoreError};
use crate::crypto::{Cipher, Field};
use crate::referrals::{ChoiceButton, Reply};

/// A reply as kept: its words and its choices (the links are added again
/// by [`Reply::new`], as on every reply).
#[derive(Serialize, Deserialize)]
struct Kept {
    text: String,
    choices: Vec<(String, String)>,
}

/// The address of a reply for the person's direct messages, wherever
/// those are (a check-in, which answers no message of theirs).
pub const DIRECT: &str = "direct";

/// A reply waiting to be sent.
#[derive(Debug, Clone)]
pub struct Unsent {
    /// The event whose turn made it, for the send's idempotency key.
    pub event_key: String,
    /// Where the edge sends it.
    pub address: String,
    /// Its place among that turn's replies.
    pub position: usize,
    pub reply: Reply,
}

pub async fn put(
    conn: &mut SqliteConnection,
    cipher: &Cipher,
    person: PersonId,
    event_key: &str,
    address: &str,
    replies: &[Reply],
    now: Timestamp,
) -> Result<(), StoreError> {
    if replies.is_empty() {
        return Ok(());
    }
    let mut sealed = Vec::with_capacity(replies.len());
    for (position, reply) in replies.iter().enumerate() {
        let kept = Kept {
            text: reply.text().to_owned(),
            choices: reply
                .choices()
                .iter()
                .map(|c| (c.id.clone(), c.label.clone()))
                .collect(),
        };
        let json = serde_json::to_string(&kept).map_err(|_| StoreError::Corrupt {
            table: "outbox",
            column: "reply",
        })?;
        let field = Field::Outbox {
            person: person.0,
            event: event_key,
            position: position as i64,
        };
        sealed.push(cipher.seal(field, &json));
    }
    // One statement for the whole turn: each is a trip to sqlx's worker.
    let mut insert = sqlx::QueryBuilder::new(
        "INSERT INTO outbox (person_id, event_key, address, position, reply, created_at) ",
    );
    insert.push_values(
        sealed.into_iter().enumerate(),
        |mut row, (position, reply)| {
            row.push_bind(person)
                .push_bind(event_key)
                .push_bind(address)
                .push_bind(position as i64)
                .push_bind(reply)
                .push_bind(now.as_millisecond());
        },
    );
    insert.build().execute(conn).await?;
    Ok(())
}

/// Sent in place of a kept reply that did not open (damaged, or moved from
/// another row), so the person hears that something is missing.
const NOT_OPENED_REPLY: &str = "One of mend's replies to you could not be read back from \
its database (it was damaged), so it is left out here. Everything else carries on as before.";

/// A person's unsent replies, oldest first.
pub async fn unsent(
    conn: &mut SqliteConnection,
    cipher: &Cipher,
    person: PersonId,
) -> Result<Vec<Unsent>, StoreError> {
    let rows: Vec<(String, String, i64, String)> = sqlx::query_as(
        "SELECT event_key, address, position, reply FROM outbox WHERE person_id = ? ORDER BY id",
    )
    .bind(person)
    .fetch_all(&mut *conn)
    .await?;
    let corrupt = || StoreError::Corrupt {
        table: "outbox",
        column: "reply",
    };
    rows.into_iter()
        .map(|(event_key, address, position, sealed)| {
            let field = Field::Outbox {
                person: person.0,
                event: &event_key,
                position,
            };
            let kept = match cipher.open(field, &sealed) {
                Ok(json) => serde_json::from_str(&json).map_err(|_| corrupt())?,
                Err(_) => {
                    tracing::warn!(
                        table = "outbox",
                        column = "reply",
                        "a sealed value did not open"
                    );
                    Kept {
                        text: NOT_OPENED_REPLY.to_owned(),
                        choices: Vec::new(),
                    }
                }
            };
            let choices = kept
                .choices
                .into_iter()
                .map(|(id, label)| ChoiceButton { id, label })
                .collect();
            Ok(Unsent {
                event_key,
                address,
                position: usize::try_from(position).unwrap_or(0),
                reply: Reply::new(kept.text, choices),
            })
        })
        .collect()
}

/// The replies of these events have been sent (or never can be): one
/// statement for a batch of up to 500. A check-in's entry cleared counts
/// the check-in as delivered, once.
pub async fn sent_all(
    conn: &mut SqliteConnection,
    event_keys: &[String],
) -> Result<(), StoreError> {
    let (checkins, turns): (Vec<&String>, Vec<&String>) = event_keys
        .iter()
        .partition(|key| crate::checkins::queries::key_person(key).is_some());
    for chunk in turns.chunks(500) {
        let mut delete = sqlx::QueryBuilder::new("DELETE FROM outbox WHERE event_key IN (");
        let mut keys = delete.separated(", ");
        for key in chunk {
            keys.push_bind(*key);
        }
        keys.push_unseparated(")");
        delete.build().execute(&mut *conn).await?;
    }
    for key in checkins {
        let done = sqlx::query("DELETE FROM outbox WHERE event_key = ?")
            .bind(key)
            .execute(&mut *conn)
            .await?;
        if done.rows_affected() > 0
            && let Some(person) = crate::checkins::queries::key_person(key)
        {
            crate::checkins::queries::delivered(&mut *conn, person).await?;
        }
    }
    Ok(())
}

/// People with replies waiting, by their external id.
pub async fn waiting(conn: &mut SqliteConnection) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT DISTINCT people.external_id FROM outbox JOIN people ON people.id = outbox.person_id",
    )
    .fetch_all(conn)
    .await?)
}

/// Drops replies older than `cutoff`: after a week they would only confuse.
pub async fn prune(conn: &mut SqliteConnection, cutoff: Timestamp) -> Result<u64, StoreError> {
    let done = sqlx::query("DELETE FROM outbox WHERE created_at < ?")
        .bind(cutoff.as_millisecond())
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}
