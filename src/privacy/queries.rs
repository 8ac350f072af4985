//! A person's rights over what mend keeps: a full export (opened, readable)
//! and erasure in one transaction, by request or after a long silence. The
//! audit log keeps only that an erasure happened, under a keyed hash.

use jiff::Timestamp;
use serde::Serialize;
use sqlx::SqliteConnection;

use crate::crypto::{Cipher, Field};
use crate::flags::queries as flags;
use crate::store::{StoreError, people};

/// Everything mend holds about one person, opened, as the export file.
#[derive(Debug, Clone, Serialize)]
pub struct Export {
    pub readme: Readme,
    pub exported_at: String,
    pub person: Person,
    pub conversation: Option<Conversation>,
    pub answers: Vec<Answer>,
    pub facts: Vec<Fact>,
    pub journal: Vec<JournalNote>,
    pub checkins: Option<Checkins>,
    pub checkin_days: Vec<CheckinDay>,
    pub flags: Vec<FlagRecord>,
    pub events: Vec<EventRecord>,
    pub pairing: crate::pairing::queries::Exported,
}

impl Export {
    /// The file people receive: pretty JSON, ending in a newline. The same
    /// from `/export`, the copy offered before erasure and `mend export`.
    pub fn to_json(&self) -> String {
        // Plain data with string keys: serialising it cannot fail; were it
        // ever to, an empty object is sent rather than a crash.
        let mut json = serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".into());
        json.push('\n');
        json
    }

    /// How many sealed values in it did not open.
    pub fn not_opened(&self) -> usize {
        let answers = self
            .answers
            .iter()
            .map(|a| Some(&a.value))
            .chain(self.facts.iter().map(|f| Some(&f.value)))
            .chain(self.journal.iter().map(|n| Some(&n.text)));
        let days = self.checkin_days.iter().map(|d| d.note.as_ref());
        let flags = self
            .flags
            .iter()
            .flat_map(|f| [f.excerpt.as_ref(), f.moderator_note.as_ref()]);
        let question = self.person.pending_question.as_ref().map(|q| &q.excerpt);
        let pairing = self
            .pairing
            .sent
            .iter()
            .chain(&self.pairing.received)
            .chain(&self.pairing.proposed)
            .map(|m| Some(&m.text));
        answers
            .chain(days)
            .chain(flags)
            .chain(pairing)
            .chain(std::iter::once(question))
            .filter(|value| *value == Some(&Opened::NotOpened))
            .count()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Person {
    pub id: String,
    pub consent: String,
    pub situation: Option<String>,
    pub first_seen: String,
    pub last_seen: Option<String>,
    pub last_crisis_reply: Option<String>,
    /// When mend last asked whether they were safe.
    pub last_asked: Option<String>,
    /// A question about their safety still waiting for an answer: the kind
    /// of danger and the excerpt of the words that prompted it.
    pub pending_question: Option<PendingQuestion>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PendingQuestion {
    pub category: String,
    pub excerpt: Opened,
}

/// What an export says in place of a sealed value that would not open.
pub const NOT_OPENED_EXPORT: &str = "mend could not open this. It was damaged, or moved here \
from another place in mend's database, which its seal does not allow, so mend cannot say what \
it was. Nothing else in this file is affected.";

/// A sealed value in the export: its words, opened, or a note that it would
/// not open, so one damaged value costs only itself, never the whole copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened {
    Text(String),
    NotOpened,
}

impl Opened {
    pub(crate) fn open(
        cipher: &Cipher,
        field: Field<'_>,
        sealed: &str,
        column: &'static str,
    ) -> Opened {
        match cipher.open(field, sealed) {
            Ok(text) => Opened::Text(text),
            Err(_) => {
                tracing::warn!(column, "a sealed value did not open; exported as such");
                Opened::NotOpened
            }
        }
    }
}

impl Serialize for Opened {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            Opened::Text(text) => serializer.serialize_str(text),
            Opened::NotOpened => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("not_opened", NOT_OPENED_EXPORT)?;
                map.end()
            }
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Conversation {
    pub flow: String,
    pub step: String,
    pub paused: bool,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Answer {
    pub flow: String,
    pub name: String,
    pub value: Opened,
    pub updated_at: String,
}

/// Something a person chose or wrote that is theirs across conversations
/// (the small action they chose, a boundary they named).
#[derive(Debug, Clone, Serialize)]
pub struct Fact {
    pub name: String,
    pub value: Opened,
    pub updated_at: String,
}

/// A note in the person's journal, or the one mend offered to keep.
#[derive(Debug, Clone, Serialize)]
pub struct JournalNote {
    pub written_at: String,
    pub text: Opened,
    /// False for words mend offered to keep and the person has not
    /// answered yet; they go at the person's next turn unless kept.
    pub kept: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Checkins {
    pub local_time: String,
    pub zone: String,
    pub on: bool,
    pub next_due: String,
    pub paused_because: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckinDay {
    pub day: String,
    /// Which of the day's check-ins this is, from 1.
    pub entry: i64,
    pub scale: Option<i64>,
    pub small_action: Option<String>,
    pub note: Option<Opened>,
    pub answered_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct FlagRecord {
    pub category: String,
    pub severity: String,
    pub excerpt: Option<Opened>,
    pub status: String,
    pub moderator_note: Option<Opened>,
    pub raised_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct EventRecord {
    pub kind: String,
    pub flow: Option<String>,
    pub at: String,
}

/// What each part of the export means, in plain words. It travels inside
/// the file, so the file explains itself.
const README: [(&str, &str); 13] = [
    (
        "exported_at",
        "When this copy was made (UTC). It is everything mend held about you at that moment.",
    ),
    (
        "person",
        "Who you are to mend (your Discord id), whether you agreed to mend keeping your answers, \
         the situation you chose, and when you first and last talked with it.",
    ),
    (
        "conversation",
        "Where you are in a conversation: the flow and step you will pick up from.",
    ),
    (
        "answers",
        "What you typed in answer to mend's questions, by conversation and question.",
    ),
    (
        "facts",
        "What you chose or wrote that mend brings back in later conversations and check-ins \
         (for example the small action you chose), by name.",
    ),
    (
        "journal",
        "Notes you chose to keep from words you typed to mend, with when you wrote them. A note \
         marked not kept is one mend offered to keep and you had not answered yet.",
    ),
    (
        "checkins",
        "Your daily check-in setting: the local time and time zone, whether it is on, and when \
         the next one is due.",
    ),
    (
        "checkin_days",
        "Your check-in answers, one for each check-in you answered (a day with two has two, \
         numbered by entry): the 1 to 5 scale, whether your small action happened, and any \
         line you added.",
    ),
    (
        "flags",
        "Times a message of yours suggested someone might be in danger: what kind, the short \
         excerpt the moderators saw (erased some days after they finish), what they did and any \
         note they left.",
    ),
    (
        "events",
        "A log of what happened when (a conversation started, an answer was saved), without any \
         of your words.",
    ),
    (
        "pairing",
        "Pairing with a partner: when each pairing began, whether it ended (and when, if you \
         ended it), what you sent your partner \
         and what they sent you (with when), any \"one thing this week\" you proposed, and how \
         many people you stopped from pairing with you again. Nothing else of yours was ever \
         shared with them.",
    ),
    (
        "times",
        "All times are UTC, written as year-month-day, then T, then the time.",
    ),
    (
        "not_opened",
        "Where something you wrote should be, this says that mend could not open it: it was \
         damaged, or moved from another place in mend's database. Everything else is as mend \
         holds it.",
    ),
];

/// The readme, written into the file as an object of field: meaning.
#[derive(Debug, Clone, Copy)]
pub struct Readme;

impl Serialize for Readme {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(README.len()))?;
        for (field, meaning) in README {
            map.serialize_entry(field, meaning)?;
        }
        map.end()
    }
}

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

/// Who asked for an erasure, for the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErasedBy {
    /// The person themselves (`/forget`).
    Person,
    /// The operator, for a request that came another way (`mend forget`).
    Operator,
    /// The retention schedule: the person had been inactive too long.
    Retention,
}

impl ErasedBy {
    fn actor(self) -> &'static str {
        match self {
            ErasedBy::Person => "person",
            ErasedBy::Operator => "operator",
            ErasedBy::Retention => "retention",
        }
    }
}

/// What an erasure leaves to tidy outside the database: the moderators'
/// notices about the person's flags, which quote their excerpts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Erased {
    pub notices: Vec<(String, String)>,
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
