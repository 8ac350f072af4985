//! A person's rights over what mend keeps: a full export (opened, readable)
//! and erasure in one transaction, by request or after a long silence. The
//! audit log keeps only that an erasure happened, under a keyed hash. What
//! an export is made of is the pure types in [`crate::privacy`].

use jiff::Timestamp;
use sqlx::SqliteConnection;

use super::{
    Answer, CheckinDay, Checkins, Conversation, Erased, ErasedBy, EventRecord, Export, Fact,
    FlagRecord, JournalNote, Opened, PendingQuestion, Person, Readme,
};
use crate::crypto::{Cipher, Field};
use crate::flags::queries as flags;
use crate::store::{StoreError, people};

#[derive(sqlx::FromRow)]
struct DayRow {
    day: String,
    entry: i64,
    scale: Option<i64>,
    action: Option<String>,
    note: Option<String>,
    answered_at: i64,
}

#[derive(sqlx::FromRow)]
struct FlagRow {
    id: i64,
    category: String,
    severity: String,
    excerpt: Option<String>,
    status: String,
    note: Option<String>,
    created_at: i64,
    updated_at: i64,
}

fn at(millis: i64) -> String {
    Timestamp::from_millisecond(millis)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| millis.to_string())
}

/// Everything about `external_id`, or None if mend holds nothing.
pub async fn export(
    conn: &mut SqliteConnection,
    cipher: &Cipher,
    external_id: &str,
    now: Timestamp,
) -> Result<Option<Export>, StoreError> {
    let Some(person) = people::find(conn, external_id).await? else {
        return Ok(None);
    };
    let (consent, situation, created_at, last_seen, crisis, asked): (
        String,
        Option<String>,
        i64,
        Option<i64>,
        Option<i64>,
        Option<i64>,
    ) = sqlx::query_as(
        "SELECT consent, situation, created_at, last_seen, crisis_replied_at, asked_at
         FROM people WHERE id = ?",
    )
    .bind(person)
    .fetch_one(&mut *conn)
    .await?;
    let conversation: Option<(String, String, bool, i64)> = sqlx::query_as(
        "SELECT flow, step, paused, updated_at FROM conversations WHERE person_id = ?",
    )
    .bind(person)
    .fetch_optional(&mut *conn)
    .await?;
    let answers: Vec<(String, String, String, i64)> = sqlx::query_as(
        "SELECT flow, name, value, updated_at FROM answers WHERE person_id = ? ORDER BY updated_at",
    )
    .bind(person)
    .fetch_all(&mut *conn)
    .await?;
    let notes: Vec<(i64, String, bool)> = sqlx::query_as(
        "SELECT written_at, text, kept FROM journal WHERE person_id = ? ORDER BY written_at",
    )
    .bind(person)
    .fetch_all(&mut *conn)
    .await?;
    let journal = notes
        .into_iter()
        .map(|(written_at, text, kept)| {
            let field = Field::JournalNote {
                person: person.0,
                at_ms: written_at,
            };
            JournalNote {
                written_at: at(written_at),
                text: Opened::open(cipher, field, &text, "journal.text"),
                kept,
            }
        })
        .collect();
    let checkins: Option<(String, String, bool, i64, Option<String>)> = sqlx::query_as(
        "SELECT local_time, zone, active, next_due, pause_reason FROM checkins WHERE person_id = ?",
    )
    .bind(person)
    .fetch_optional(&mut *conn)
    .await?;
    let days: Vec<DayRow> = sqlx::query_as(
        "SELECT day, entry, scale, action, note, answered_at FROM checkin_days
         WHERE person_id = ? ORDER BY day, entry",
    )
    .bind(person)
    .fetch_all(&mut *conn)
    .await?;
    let raised: Vec<FlagRow> = sqlx::query_as(
        "SELECT id, category, severity, excerpt, status, note, created_at, updated_at
         FROM flags WHERE person_id = ? ORDER BY id",
    )
    .bind(person)
    .fetch_all(&mut *conn)
    .await?;
    let events: Vec<(String, Option<String>, i64)> =
        sqlx::query_as("SELECT kind, flow, at FROM events WHERE person_id = ? ORDER BY id")
            .bind(person)
            .fetch_all(&mut *conn)
            .await?;

    let mut answer_records = Vec::with_capacity(answers.len());
    let mut fact_records = Vec::new();
    for (flow, name, value, updated_at) in answers {
        let field = Field::Answer {
            person: person.0,
            flow: &flow,
            name: &name,
        };
        let value = Opened::open(cipher, field, &value, "answers.value");
        if flow == crate::store::FACTS {
            fact_records.push(Fact {
                name,
                value,
                updated_at: at(updated_at),
            });
            continue;
        }
        answer_records.push(Answer {
            flow,
            name,
            value,
            updated_at: at(updated_at),
        });
    }
    let mut day_records = Vec::with_capacity(days.len());
    for DayRow {
        day,
        entry,
        scale,
        action,
        note,
        answered_at,
    } in days
    {
        let field = Field::CheckinNote {
            person: person.0,
            day: &day,
            entry,
        };
        let note = note.map(|note| Opened::open(cipher, field, &note, "checkin_days.note"));
        day_records.push(CheckinDay {
            day,
            entry,
            scale,
            small_action: action,
            note,
            answered_at: at(answered_at),
        });
    }
    let mut flag_records = Vec::with_capacity(raised.len());
    for FlagRow {
        id,
        category,
        severity,
        excerpt,
        status,
        note,
        created_at,
        updated_at,
    } in raised
    {
        let (person, flag) = (person.0, id);
        let excerpt = excerpt.map(|sealed| {
            let field = Field::FlagExcerpt { person, flag };
            Opened::open(cipher, field, &sealed, "flags.excerpt")
        });
        let note = note.map(|sealed| {
            let field = Field::FlagNote { person, flag };
            Opened::open(cipher, field, &sealed, "flags.note")
        });
        flag_records.push(FlagRecord {
            category,
            severity,
            excerpt,
            status,
            moderator_note: note,
            raised_at: at(created_at),
            updated_at: at(updated_at),
        });
    }
    Ok(Some(Export {
        readme: Readme,
        exported_at: now.to_string(),
        person: Person {
            id: external_id.to_string(),
            consent,
            situation,
            first_seen: at(created_at),
            last_seen: last_seen.map(at),
            last_crisis_reply: crisis.map(at),
            last_asked: asked.map(at),
            pending_question: people::pending_ask(conn, cipher, person).await?.map(
                |(hit, opened)| PendingQuestion {
                    category: hit.category.as_str().to_owned(),
                    excerpt: if opened {
                        Opened::Text(hit.excerpt)
                    } else {
                        Opened::NotOpened
                    },
                },
            ),
        },
        conversation: conversation.map(|(flow, step, paused, updated_at)| Conversation {
            flow,
            step,
            paused,
            updated_at: at(updated_at),
        }),
        pairing: crate::pairing::queries::export(conn, cipher, person).await?,
        answers: answer_records,
        facts: fact_records,
        journal,
        checkins: checkins.map(|(local_time, zone, on, next_due, reason)| Checkins {
            local_time,
            zone,
            on,
            next_due: at(next_due),
            paused_because: reason,
        }),
        checkin_days: day_records,
        flags: flag_records,
        events: events
            .into_iter()
            .map(|(kind, flow, when)| EventRecord {
                kind,
                flow,
                at: at(when),
            })
            .collect(),
    }))
}

/// Erases everything about one person (their row, and by cascade their
/// place, answers, events, check-ins and flags) and audits it under a keyed
/// hash of their id. None if mend held nothing about them.
pub async fn erase(
    conn: &mut SqliteConnection,
    cipher: &Cipher,
    external_id: &str,
    by: ErasedBy,
    now: Timestamp,
) -> Result<Option<Erased>, StoreError> {
    let Some(person) = people::find(conn, external_id).await? else {
        return Ok(None);
    };
    let notices: Vec<(String, String)> = sqlx::query_as(
        "SELECT notice_channel, notice_message FROM flags
         WHERE person_id = ? AND notice_channel IS NOT NULL AND notice_message IS NOT NULL",
    )
    .bind(person)
    .fetch_all(&mut *conn)
    .await?;
    crate::pairing::queries::before_erasure(conn, person, now).await?;
    sqlx::query("DELETE FROM people WHERE id = ?")
        .bind(person)
        .execute(&mut *conn)
        .await?;
    let detail = format!("person {}", cipher.person_hash(external_id));
    flags::audit(conn, by.actor(), "erased", None, Some(&detail), now).await?;
    Ok(Some(Erased { notices }))
}

/// People last seen before `cutoff` with no flag still being handled: the
/// ones retention erases.
pub async fn inactive(
    conn: &mut SqliteConnection,
    cutoff: Timestamp,
    limit: i64,
) -> Result<Vec<String>, StoreError> {
    let ids = sqlx::query_scalar(
        "SELECT p.external_id FROM people p
         WHERE p.last_seen < ?
           AND NOT EXISTS (SELECT 1 FROM flags f
                           WHERE f.person_id = p.id AND f.status IN ('open', 'claimed'))
         ORDER BY p.id LIMIT ?",
    )
    .bind(cutoff.as_millisecond())
    .bind(limit)
    .fetch_all(conn)
    .await?;
    Ok(ids)
}
