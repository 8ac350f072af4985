//! SQLite through sqlx: opening (WAL, foreign keys, busy timeout, embedded
//! migrations) and applying one input to one person in one transaction, so a
//! crash never leaves half a step. One async function per query lives in the
//! submodules, each taking a connection so it can run inside a transaction.

mod answers;
pub mod checkins;
mod conversations;
mod events;
pub mod flags;
mod people;
pub mod privacy;
mod processed;
mod sealing;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use jiff::Timestamp;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{SqliteConnection, SqlitePool};

use crate::crypto::{Cipher, DataKey, Field};
use crate::engine::{Event, Outcome, State};

pub use people::PersonId;

/// The daily check-in flow, whose answers are also kept per day.
pub const DAILY: &str = "daily";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database at {path}: {source}")]
    Open { path: String, source: sqlx::Error },
    #[error("cannot bring the database at {path} up to date: {source}")]
    Migrate {
        path: String,
        source: sqlx::migrate::MigrateError,
    },
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("the database holds a value mend does not understand in {table}.{column}")]
    Corrupt {
        table: &'static str,
        column: &'static str,
    },
    #[error(
        "the data key does not match the database at {path}: it was sealed with another key. \
         Use the key it was created with (see PRIVACY.md on keys and rotation)"
    )]
    WrongKey { path: String },
    #[error("a sealed value in {table}.{column} did not open: it is damaged")]
    Sealed {
        table: &'static str,
        column: &'static str,
    },
}

/// How the database is opened.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub busy_timeout: Duration,
    pub max_connections: u32,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            busy_timeout: Duration::from_secs(5),
            max_connections: 4,
        }
    }
}

/// An input applied: the engine's outcome, and the crisis flag it raised or
/// updated, if any.
#[derive(Debug, Clone)]
pub struct Applied {
    pub outcome: Outcome,
    pub flag: Option<flags::Raised>,
    /// Check-ins paused by themselves since the person last wrote: say so.
    pub checkins_paused: Option<checkins::PauseReason>,
}

#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
    cipher: std::sync::Arc<Cipher>,
}

impl Store {
    /// Opens (creating if needed) the database file, applies migrations and
    /// checks that `key` is the one its sealed values were sealed with. A new
    /// database is bound to `key`; values from before encryption are sealed.
    pub async fn open(
        path: &Path,
        options: &StoreOptions,
        key: &DataKey,
    ) -> Result<Store, StoreError> {
        let shown = path.display().to_string();
        let connect = SqliteConnectOptions::from_str("sqlite:")
            .map_err(|source| StoreError::Open {
                path: shown.clone(),
                source,
            })?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(options.busy_timeout);
        let pool = SqlitePoolOptions::new()
            .max_connections(options.max_connections)
            .connect_with(connect)
            .await
            .map_err(|source| StoreError::Open {
                path: shown.clone(),
                source,
            })?;
        sqlx::migrate!()
            .run(&pool)
            .await
            .map_err(|source| StoreError::Migrate {
                path: shown.clone(),
                source,
            })?;
        let cipher = key.cipher();
        sealing::bind_key(&pool, &cipher, &shown).await?;
        Ok(Store {
            pool,
            cipher: std::sync::Arc::new(cipher),
        })
    }

    pub fn cipher(&self) -> &Cipher {
        &self.cipher
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Loads a person's state, runs `decide` on it and saves the result, all
    /// in one write transaction. `decide` is the pure engine; if anything fails
    /// nothing is written and the person is exactly where they were.
    pub async fn apply(
        &self,
        external_id: &str,
        now: Timestamp,
        decide: impl FnOnce(&State) -> Outcome,
    ) -> Result<Applied, StoreError> {
        let applied = self.transact(external_id, None, now, decide).await?;
        Ok(applied.expect("an input without an event key is always applied"))
    }

    /// Like [`Store::apply`], but only once per `event_key` (a Discord message
    /// or interaction id): the key is recorded in the same transaction as the
    /// effects, so a redelivered event returns `None` and changes nothing.
    pub async fn apply_once(
        &self,
        external_id: &str,
        event_key: &str,
        now: Timestamp,
        decide: impl FnOnce(&State) -> Outcome,
    ) -> Result<Option<Applied>, StoreError> {
        self.transact(external_id, Some(event_key), now, decide)
            .await
    }

    async fn transact(
        &self,
        external_id: &str,
        event_key: Option<&str>,
        now: Timestamp,
        decide: impl FnOnce(&State) -> Outcome,
    ) -> Result<Option<Applied>, StoreError> {
        // IMMEDIATE takes the write lock up front, so two writers wait for
        // each other (busy timeout) instead of failing on a lock upgrade.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        if let Some(key) = event_key
            && !processed::record(&mut tx, key, now).await?
        {
            return Ok(None);
        }
        let (person, profile) = people::enter(&mut tx, external_id, now).await?;
        let before = load_rest(&mut tx, &self.cipher, person, profile).await?;
        let outcome = decide(&before);
        save(&mut tx, &self.cipher, person, &before, &outcome, now).await?;
        let flag = match &outcome.flag {
            Some(hit) => Some(flags::raise(&mut tx, &self.cipher, person, hit, now).await?),
            None => None,
        };
        let checkins_paused = checkins::take_pause_notice(&mut tx, person).await?;
        tx.commit().await?;
        Ok(Some(Applied {
            outcome,
            flag,
            checkins_paused,
        }))
    }

    /// A person's state as stored; a stranger's is the default.
    pub async fn state(&self, external_id: &str) -> Result<State, StoreError> {
        let mut conn = self.pool.acquire().await?;
        match people::find(&mut conn, external_id).await? {
            Some(person) => load(&mut conn, &self.cipher, person).await,
            None => Ok(State::default()),
        }
    }

    /// Event kinds logged for a person, oldest first (for tests and export).
    pub async fn event_kinds(&self, external_id: &str) -> Result<Vec<String>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        match people::find(&mut conn, external_id).await? {
            Some(person) => events::kinds(&mut conn, person).await,
            None => Ok(Vec::new()),
        }
    }

    /// A person's check-in setting, if they ever opted in.
    pub async fn checkin(
        &self,
        external_id: &str,
    ) -> Result<Option<checkins::Setting>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        match people::find(&mut conn, external_id).await? {
            Some(person) => checkins::get(&mut conn, person).await,
            None => Ok(None),
        }
    }

    /// Turns check-ins on at a local time and zone, first due at `next_due`.
    pub async fn set_checkin(
        &self,
        external_id: &str,
        schedule: &crate::checkins::Schedule,
        next_due: Timestamp,
        due_date: jiff::civil::Date,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let person = people::find_or_create(&mut tx, external_id, now).await?;
        let time = schedule.time.strftime("%H:%M").to_string();
        checkins::set(
            &mut tx,
            person,
            &time,
            &schedule.zone_name,
            next_due,
            due_date,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Turns check-ins off; true if they were on.
    pub async fn stop_checkin(
        &self,
        external_id: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut conn = self.pool.acquire().await?;
        match people::find(&mut conn, external_id).await? {
            Some(person) => checkins::stop(&mut conn, person, now).await,
            None => Ok(false),
        }
    }

    /// Moves the next check-in later; true if check-ins are on.
    pub async fn postpone_checkin(
        &self,
        external_id: &str,
        next_due: Timestamp,
        due_date: jiff::civil::Date,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut conn = self.pool.acquire().await?;
        match people::find(&mut conn, external_id).await? {
            Some(person) => checkins::postpone(&mut conn, person, next_due, due_date, now).await,
            None => Ok(false),
        }
    }

    /// Check-in answers from `since` on.
    pub async fn checkin_days(
        &self,
        external_id: &str,
        since: jiff::civil::Date,
    ) -> Result<Vec<checkins::Day>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        match people::find(&mut conn, external_id).await? {
            Some(person) => checkins::days(&mut conn, person, since).await,
            None => Ok(Vec::new()),
        }
    }

    /// Everything mend holds about a person, opened; None if nothing.
    pub async fn export(
        &self,
        external_id: &str,
        now: Timestamp,
    ) -> Result<Option<privacy::Export>, StoreError> {
        // One read transaction, so the copy is of a single moment.
        let mut tx = self.pool.begin().await?;
        let export = privacy::export(&mut tx, &self.cipher, external_id, now).await?;
        tx.commit().await?;
        Ok(export)
    }

    /// Erases everything about a person in one transaction; None if mend
    /// held nothing about them.
    pub async fn forget(
        &self,
        external_id: &str,
        by: privacy::ErasedBy,
        now: Timestamp,
    ) -> Result<Option<privacy::Erased>, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let erased = privacy::erase(&mut tx, &self.cipher, external_id, by, now).await?;
        tx.commit().await?;
        Ok(erased)
    }

    /// Erases people last seen before `cutoff` (unless a flag about them is
    /// still being handled), a batch per transaction so the bot is never
    /// held up for long. Returns what each erasure left to tidy.
    pub async fn expire_inactive(
        &self,
        cutoff: Timestamp,
        now: Timestamp,
    ) -> Result<Vec<privacy::Erased>, StoreError> {
        const BATCH: i64 = 100;
        let mut all = Vec::new();
        loop {
            let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
            let ids = privacy::inactive(&mut tx, cutoff, BATCH).await?;
            for id in &ids {
                let by = privacy::ErasedBy::Retention;
                if let Some(erased) = privacy::erase(&mut tx, &self.cipher, id, by, now).await? {
                    all.push(erased);
                }
            }
            tx.commit().await?;
            if (ids.len() as i64) < BATCH {
                return Ok(all);
            }
        }
    }

    /// Forgets applied-event ids older than `cutoff` (see `processed::prune`).
    pub async fn prune_processed(&self, cutoff: Timestamp) -> Result<u64, StoreError> {
        let mut conn = self.pool.acquire().await?;
        processed::prune(&mut conn, cutoff).await
    }

    /// Re-seals everything under `new` and binds the database to it, in one
    /// transaction. Returns how many values were re-sealed. The store keeps
    /// working under the old key until it is reopened, so rotate with mend
    /// stopped.
    pub async fn rotate_key(&self, new: &DataKey, path: &Path) -> Result<u64, StoreError> {
        let new = new.cipher();
        let shown = path.display().to_string();
        sealing::rotate(&self.pool, &self.cipher, &new, &shown).await
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

async fn load(
    conn: &mut SqliteConnection,
    cipher: &Cipher,
    person: PersonId,
) -> Result<State, StoreError> {
    let profile = people::profile(conn, person).await?;
    load_rest(conn, cipher, person, profile).await
}

/// A person's state, given their profile already read.
async fn load_rest(
    conn: &mut SqliteConnection,
    cipher: &Cipher,
    person: PersonId,
    profile: people::Profile,
) -> Result<State, StoreError> {
    let (place, paused) = match conversations::get(conn, person).await? {
        Some((place, paused)) => (Some(place), paused),
        None => (None, false),
    };
    Ok(State {
        consent: profile.consent,
        situation: profile.situation,
        crisis_replied_at: profile.crisis_replied_at,
        place,
        paused,
        answers: answers::all(conn, cipher, person).await?,
    })
}

async fn save(
    conn: &mut SqliteConnection,
    cipher: &Cipher,
    person: PersonId,
    before: &State,
    outcome: &Outcome,
    now: Timestamp,
) -> Result<(), StoreError> {
    let after = &outcome.state;
    let profile = |s: &State| people::Profile {
        consent: s.consent,
        situation: s.situation,
        crisis_replied_at: s.crisis_replied_at,
    };
    if profile(after) != profile(before) {
        people::set_profile(conn, person, &profile(after), now).await?;
    }
    match &after.place {
        Some(place) if (Some(place), after.paused) != (before.place.as_ref(), before.paused) => {
            conversations::set(conn, person, place, after.paused, now).await?
        }
        _ => {}
    }
    if after.answers.is_empty() && !before.answers.is_empty() {
        answers::delete_all(conn, person).await?;
    }
    for event in &outcome.events {
        if let Event::AnswerSaved { flow, name } = event
            && let Some(value) = after.answers.get(&(flow.clone(), name.clone()))
        {
            let sealed = cipher.seal(Field::Answer, person.0, value);
            answers::set(conn, person, flow, name, &sealed, now).await?;
            if flow == DAILY {
                let today = now.to_zoned(jiff::tz::TimeZone::UTC).date();
                checkins::record_answer(conn, cipher, person, name, value, today, now).await?;
            }
        }
    }
    events::insert_all(conn, person, &outcome.events, now).await?;
    Ok(())
}
