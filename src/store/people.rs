//! The `people` table: who someone is, whether they consented, and which
//! situation they chose.

use jiff::Timestamp;
use sqlx::SqliteConnection;

use super::StoreError;
use crate::engine::{Consent, Place};
use crate::flows::Situation;

/// A row id in `people`.
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
}

/// What the engine knows of a person beyond their place and answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    pub consent: Consent,
    pub situation: Option<Situation>,
    pub crisis_replied_at: Option<Timestamp>,
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
         RETURNING id, consent, situation, crisis_replied_at,
             (SELECT flow FROM conversations WHERE person_id = people.id) AS flow,
             (SELECT step FROM conversations WHERE person_id = people.id) AS step,
             (SELECT paused FROM conversations WHERE person_id = people.id) AS paused,
             EXISTS (SELECT 1 FROM checkins WHERE person_id = people.id AND pause_notice = 1)
                 AS pause_notice,
             EXISTS (SELECT 1 FROM outbox WHERE person_id = people.id) AS unsent,
             EXISTS (SELECT 1 FROM answers WHERE person_id = people.id) AS has_answers",
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
        flow,
        step,
        paused,
        pause_notice,
        unsent,
        has_answers,
    } = row;
    let profile = parse_profile(ProfileRow {
        consent,
        situation,
        crisis_replied_at,
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
    })
}

#[derive(sqlx::FromRow)]
struct EnterRow {
    id: i64,
    consent: String,
    situation: Option<String>,
    crisis_replied_at: Option<i64>,
    flow: Option<String>,
    step: Option<String>,
    paused: Option<bool>,
    pause_notice: bool,
    unsent: bool,
    has_answers: bool,
}

pub async fn profile(conn: &mut SqliteConnection, person: PersonId) -> Result<Profile, StoreError> {
    let row: ProfileRow =
        sqlx::query_as("SELECT consent, situation, crisis_replied_at FROM people WHERE id = ?")
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
    let crisis_replied_at = match row.crisis_replied_at {
        Some(ms) => Some(
            Timestamp::from_millisecond(ms).map_err(|_| StoreError::Corrupt {
                table: "people",
                column: "crisis_replied_at",
            })?,
        ),
        None => None,
    };
    Ok(Profile {
        consent,
        situation,
        crisis_replied_at,
    })
}

pub async fn set_profile(
    conn: &mut SqliteConnection,
    person: PersonId,
    profile: &Profile,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE people SET consent = ?, situation = ?, crisis_replied_at = ?, updated_at = ?
         WHERE id = ?",
    )
    .bind(profile.consent.as_str())
    .bind(profile.situation.map(Situation::as_str))
    .bind(profile.crisis_replied_at.map(|t| t.as_millisecond()))
    .bind(now.as_millisecond())
    .bind(person)
    .execute(conn)
    .await?;
    Ok(())
}
