//! The `people` table: who someone is, whether they consented, and which
//! situation they chose.

use jiff::Timestamp;
use sqlx::SqliteConnection;

use super::StoreError;
use crate::engine::Consent;
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

/// [`find_or_create`] and [`profile`] in one statement, for the start of
/// every turn.
pub async fn enter(
    conn: &mut SqliteConnection,
    external_id: &str,
    now: Timestamp,
) -> Result<(PersonId, Profile), StoreError> {
    let (id, consent, situation, crisis_replied_at): (i64, String, Option<String>, Option<i64>) =
        sqlx::query_as(
            "INSERT INTO people (external_id, created_at, updated_at, last_seen) VALUES (?, ?, ?, ?)
             ON CONFLICT (external_id) DO UPDATE SET last_seen = excluded.last_seen
             RETURNING id, consent, situation, crisis_replied_at",
        )
        .bind(external_id)
        .bind(now.as_millisecond())
        .bind(now.as_millisecond())
        .bind(now.as_millisecond())
        .fetch_one(conn)
        .await?;
    let profile = parse_profile(ProfileRow {
        consent,
        situation,
        crisis_replied_at,
    })?;
    Ok((PersonId(id), profile))
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
