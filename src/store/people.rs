//! The `people` table: who someone is, whether they consented, and which
//! situation they chose.

use jiff::Timestamp;
use sqlx::SqliteConnection;

use super::StoreError;
use crate::conversation::engine::{Consent, Place};
use crate::crypto::{Cipher, Field};
use crate::flows::Situation;
use crate::safety::{Action, Category, Hit, Severity};

/// A row id in `people`. Never handed to anyone else, even after an
/// erasure (migration 0009), so it can name the person in what their sealed
/// values are bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(transparent)]
pub struct PersonId(pub i64);

pub async fn find(
    conn: &mut SqliteConnection,
    external_id: &str,
) -> Result<Option<PersonId>, StoreError> {
    let id = sqlx::query_scalar("SELECT id FROM people WHERE external_id = ?")
        .bind(external_id)
        .fetch_optional(conn)
        .await?;
    Ok(id)
}

/// The person's row id, creating it if new; either way they were seen `now`.
pub async fn find_or_create(
    conn: &mut SqliteConnection,
    external_id: &str,
    now: Timestamp,
) -> Result<PersonId, StoreError> {
    let id = sqlx::query_scalar(
        "INSERT INTO people (external_id, created_at, updated_at, last_seen) VALUES (?, ?, ?, ?)
         ON CONFLICT (external_id) DO UPDATE SET last_seen = excluded.last_seen
         RETURNING id",
    )
    .bind(external_id)
    .bind(now.as_millisecond())
    .bind(now.as_millisecond())
    .bind(now.as_millisecond())
    .fetch_one(conn)
    .await?;
    Ok(id)
}

#[derive(sqlx::FromRow)]
struct ProfileRow {
    consent: String,
    situation: Option<String>,
    crisis_replied_at: Option<i64>,
    asked_at: Option<i64>,
}

/// What the engine knows of a person beyond their place and answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    pub consent: Consent,
    pub situation: Option<Situation>,
    pub crisis_replied_at: Option<Timestamp>,
    pub asked_at: Option<Timestamp>,
}

/// What a turn needs to know before the engine runs, read in the same
/// statement that records the person's visit.
pub struct Entered {
    pub id: PersonId,
    pub profile: Profile,
    /// Where they rest in a conversation, and whether they paused there.
    pub place: Option<(Place, bool)>,
    /// Check-ins paused by themselves and the person not yet told.
    pub pause_notice: bool,
    /// Replies of an earlier turn not yet sent.
    pub unsent: bool,
    /// Whether any written answer is kept (only ever after consent).
    pub has_answers: bool,
    /// Whether a question about their safety waits for an answer.
    pub has_ask: bool,
    /// Whether words wait, offered to be kept in their journal.
    pub has_offer: bool,
}

/// [`find_or_create`], [`profile`], their place, and whether a check-in
/// notice, unsent replies or kept answers wait: one statement at the start
/// of every turn, since each statement is a round trip to sqlx's worker
/// thread and a turn's cost is mostly those.
pub async fn enter(
    conn: &mut SqliteConnection,
    external_id: &str,
    now: Timestamp,
) -> Result<Entered, StoreError> {
    let row: EnterRow = sqlx::query_as(
        "INSERT INTO people (external_id, created_at, updated_at, last_seen) VALUES (?, ?, ?, ?)
         ON CONFLICT (external_id) DO UPDATE SET last_seen = excluded.last_seen
         RETURNING id, consent, situation, crisis_replied_at, asked_at,
             ask_category IS NOT NULL AS has_ask,
             (SELECT flow FROM conversations WHERE person_id = people.id) AS flow,
             (SELECT step FROM conversations WHERE person_id = people.id) AS step,
             (SELECT paused FROM conversations WHERE person_id = people.id) AS paused,
             EXISTS (SELECT 1 FROM checkins WHERE person_id = people.id AND pause_notice = 1)
                 AS pause_notice,
             EXISTS (SELECT 1 FROM outbox WHERE person_id = people.id) AS unsent,
             EXISTS (SELECT 1 FROM answers WHERE person_id = people.id) AS has_answers,
             EXISTS (SELECT 1 FROM journal WHERE person_id = people.id AND kept = 0)
                 AS has_offer",
    )
    .bind(external_id)
    .bind(now.as_millisecond())
    .bind(now.as_millisecond())
    .bind(now.as_millisecond())
    .fetch_one(conn)
    .await?;
    let EnterRow {
        id,
        consent,
        situation,
        crisis_replied_at,
        asked_at,
        has_ask,
        flow,
        step,
        paused,
        pause_notice,
        unsent,
        has_answers,
        has_offer,
    } = row;
    let profile = parse_profile(ProfileRow {
        consent,
        situation,
        crisis_replied_at,
        asked_at,
    })?;
    let place = match (flow, step) {
        (Some(flow), Some(step)) => Some((Place { flow, step }, paused.unwrap_or(false))),
        _ => None,
    };
    Ok(Entered {
        id: PersonId(id),
        profile,
        place,
        pause_notice,
        unsent,
        has_answers,
        has_ask,
        has_offer,
    })
}

#[derive(sqlx::FromRow)]
struct EnterRow {
    id: i64,
    consent: String,
    situation: Option<String>,
    crisis_replied_at: Option<i64>,
    asked_at: Option<i64>,
    has_ask: bool,
    flow: Option<String>,
    step: Option<String>,
    paused: Option<bool>,
    pause_notice: bool,
    unsent: bool,
    has_answers: bool,
    has_offer: bool,
}

pub async fn profile(conn: &mut SqliteConnection, person: PersonId) -> Result<Profile, StoreError> {
    let row: ProfileRow = sqlx::query_as(
        "SELECT consent, situation, crisis_replied_at, asked_at FROM people WHERE id = ?",
    )
    .bind(person)
    .fetch_one(conn)
    .await?;
    parse_profile(row)
}

fn parse_profile(row: ProfileRow) -> Result<Profile, StoreError> {
    let consent = Consent::parse(&row.consent).ok_or(StoreError::Corrupt {
        table: "people",
        column: "consent",
    })?;
    let situation = match row.situation {
        Some(name) => Some(Situation::parse(&name).ok_or(StoreError::Corrupt {
            table: "people",
            column: "situation",
        })?),
        None => None,
    };
    let at = |ms: Option<i64>, column| match ms {
        Some(ms) => Timestamp::from_millisecond(ms)
            .map(Some)
            .map_err(|_| StoreError::Corrupt {
                table: "people",
                column,
            }),
        None => Ok(None),
    };
    Ok(Profile {
        consent,
        situation,
        crisis_replied_at: at(row.crisis_replied_at, "crisis_replied_at")?,
        asked_at: at(row.asked_at, "asked_at")?,
    })
}

pub async fn set_profile(
    conn: &mut SqliteConnection,
    person: PersonId,
    profile: &Profile,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE people SET consent = ?, situation = ?, crisis_replied_at = ?, asked_at = ?,
             updated_at = ?
         WHERE id = ?",
    )
    .bind(profile.consent.as_str())
    .bind(profile.situation.map(Situation::as_str))
    .bind(profile.crisis_replied_at.map(|t| t.as_millisecond()))
    .bind(profile.asked_at.map(|t| t.as_millisecond()))
    .bind(now.as_millisecond())
    .bind(person)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct AskRow {
    ask_category: Option<String>,
    ask_severity: Option<String>,
    ask_matched: Option<String>,
    ask_excerpt: Option<String>,
}

/// The question about their safety that waits for this person's answer:
/// what the screen found, the excerpt opened, and whether it did open (if
/// not, the excerpt is [`super::NOT_OPENED`]: the question still stands).
pub async fn pending_ask(
    conn: &mut SqliteConnection,
    cipher: &Cipher,
    person: PersonId,
) -> Result<Option<(Hit, bool)>, StoreError> {
    let row: AskRow = sqlx::query_as(
        "SELECT ask_category, ask_severity, ask_matched, ask_excerpt FROM people WHERE id = ?",
    )
    .bind(person)
    .fetch_one(conn)
    .await?;
    let (Some(category), Some(severity)) = (row.ask_category, row.ask_severity) else {
        return Ok(None);
    };
    let corrupt = |column| StoreError::Corrupt {
        table: "people",
        column,
    };
    let field = Field::AskExcerpt { person: person.0 };
    let (excerpt, opened) = match row.ask_excerpt {
        Some(sealed) => match cipher.open(field, &sealed) {
            Ok(excerpt) => (excerpt, true),
            Err(_) => {
                tracing::warn!(
                    table = "people",
                    column = "ask_excerpt",
                    "a sealed value did not open"
                );
                (super::NOT_OPENED.to_owned(), false)
            }
        },
        None => (String::new(), true),
    };
    let hit = Hit {
        category: Category::parse(&category).ok_or(corrupt("ask_category"))?,
        severity: match severity.as_str() {
            "concern" => Severity::Concern,
            "high" => Severity::High,
            "critical" => Severity::Critical,
            _ => return Err(corrupt("ask_severity")),
        },
        action: Action::Ask,
        matched: row.ask_matched.unwrap_or_default(),
        excerpt,
    };
    Ok(Some((hit, opened)))
}

/// Keeps (or, with `None`, clears) the question waiting for an answer.
pub async fn set_pending_ask(
    conn: &mut SqliteConnection,
    cipher: &Cipher,
    person: PersonId,
    hit: Option<&Hit>,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE people SET ask_category = ?, ask_severity = ?, ask_matched = ?, ask_excerpt = ?
         WHERE id = ?",
    )
    .bind(hit.map(|h| h.category.as_str()))
    .bind(hit.map(|h| h.severity.as_str()))
    .bind(hit.map(|h| h.matched.as_str()))
    .bind(hit.map(|h| cipher.seal(Field::AskExcerpt { person: person.0 }, &h.excerpt)))
    .bind(person)
    .execute(conn)
    .await?;
    Ok(())
}
