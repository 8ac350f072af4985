//! SQLite through sqlx: opening (WAL, foreign keys, busy timeout, embedded
//! migrations) and applying one input to one person in one transaction, so a
//! crash never leaves half a step. One async function per query lives in the
//! submodules for what every feature shares, and in each feature's own
//! `queries` (conversation, check-ins, flags, pairing, privacy) for the rest, each taking a connection so
//! it can run inside a transaction.

pub(crate) mod answers;
pub mod files;
pub(crate) mod outbox;
pub(crate) mod people;
mod processed;
mod sealing;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use jiff::Timestamp;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{SqliteConnection, SqlitePool};

use crate::checkins::queries as checkins;
use crate::conversation::engine::{Consent, Event, Outcome, State};
use crate::conversation::queries::{conversations, events, journal};
use crate::crypto::{Cipher, DataKey};
use crate::flags::queries as flags;
use crate::privacy::queries as privacy;

pub use outbox::{DIRECT, Unsent};
pub use people::PersonId;

/// The daily check-in flow, whose answers are also kept per check-in, by day.
pub use crate::flows::DAILY;

/// Where a person's facts are kept in `answers`: a flow name no flow can
/// have (flow ids are lower-case letters, digits, `-` and `_`), so a fact
/// is sealed, exported, erased and set aside exactly like an answer.
pub(crate) const FACTS: &str = "@person";

/// What a person is told when something mend kept for them did not open
/// and was set aside (see [`Applied::set_aside`]).
pub const SET_ASIDE: &str = "Something mend kept from what you wrote before could not be \
read back (it was damaged), so mend has set it aside. Nothing else has changed, and you can \
carry on from here.";

/// Stands in for a sealed value that did not open where mend shows it
/// (a moderator's notice, a waiting question): it was damaged, or moved
/// into its row from another one, which its seal does not allow.
pub const NOT_OPENED: &str =
    "[this could not be opened: it was damaged, or moved here from elsewhere in the database]";

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
    #[error("cannot prepare {path}: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "mend is using the database at {path} right now (a running `mend serve` or \
         `mend chat`, or an export): stop it, then rotate the key"
    )]
    InUse { path: String },
    #[error(
        "the key of the database at {path} is being rotated (`mend rotate-key` is \
         running): wait for it to finish, then start mend again with the new key"
    )]
    Rotating { path: String },
}

/// How long a turn that carries a crisis signal waits for the database
/// before its crisis reply goes out without it (its flag then waits to be
/// written, as when the database fails). Far shorter than the busy
/// timeout: someone in danger is not kept waiting by another writer.
pub const CRISIS_WAIT: Duration = Duration::from_secs(2);

impl StoreError {
    /// What went wrong, in a word or two, for logs that must not carry
    /// anything a value holds.
    pub fn kind(&self) -> &'static str {
        match self {
            StoreError::Open { .. } => "open",
            StoreError::Migrate { .. } => "migrate",
            StoreError::Sqlx(sqlx::Error::Database(_)) => "database",
            StoreError::Sqlx(sqlx::Error::PoolTimedOut) => "pool timed out",
            StoreError::Sqlx(sqlx::Error::Io(_)) => "io",
            StoreError::Sqlx(_) => "query",
            StoreError::Corrupt { .. } => "corrupt value",
            StoreError::WrongKey { .. } => "wrong key",
            StoreError::Sealed { .. } => "sealed value did not open",
            StoreError::File { .. } => "file",
            StoreError::InUse { .. } => "in use",
            StoreError::Rotating { .. } => "rotating",
        }
    }

    /// True when the fault is the database's as a whole (busy past its
    /// timeout, locked, full, unreadable, closed), not one row's: work
    /// over many people stops, since the next would fail the same way.
    pub fn is_store_wide(&self) -> bool {
        match self {
            StoreError::Corrupt { .. } | StoreError::Sealed { .. } => false,
            StoreError::Sqlx(sqlx::Error::Database(db)) => {
                // SQLite's primary result code is the low byte of the
                // extended one: BUSY 5, LOCKED 6, NOMEM 7, READONLY 8,
                // IOERR 10, CORRUPT 11, FULL 13, CANTOPEN 14.
                let code = db.code().and_then(|c| c.parse::<i64>().ok());
                code.is_none_or(|c| matches!(c & 0xff, 5..=8 | 10 | 11 | 13 | 14))
            }
            StoreError::Sqlx(
                sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::Io(_)
                | sqlx::Error::WorkerCrashed,
            ) => true,
            StoreError::Sqlx(_) => false,
            StoreError::Open { .. }
            | StoreError::Migrate { .. }
            | StoreError::WrongKey { .. }
            | StoreError::File { .. }
            | StoreError::InUse { .. }
            | StoreError::Rotating { .. } => true,
        }
    }
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
    pub flag: Option<crate::flags::Raised>,
    /// Check-ins paused by themselves since the person last wrote: say so.
    pub checkins_paused: Option<crate::checkins::PauseReason>,
    /// Replies from an earlier turn were still unsent when this one began
    /// (a crash, or Discord refusing for longer than mend retried): send
    /// them first.
    pub unsent_before: bool,
    /// How many of the person's kept values did not open (damaged, or moved
    /// from another row) and were set aside in this turn: say so, once.
    pub set_aside: usize,
    /// What the turn's check-in tools did, in its transaction, one for each
    /// of the outcome's check-in tasks, in order.
    pub tools: Vec<crate::checkins::ToolDone>,
    /// What the turn's pairing tools did, in its transaction, in order.
    pub pairing: Vec<crate::pairing::Carried>,
    /// The turn raised a crisis flag while the person is paired: offer them,
    /// privately, to end pairing.
    pub offer_end: bool,
}

/// A due check-in to claim in the transaction that starts it.
struct Claim<'a> {
    due: &'a checkins::Due,
    next_due: Timestamp,
    next_date: jiff::civil::Date,
}

#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
    /// The database file, for messages and for tests that read it directly.
    path: std::sync::Arc<std::path::PathBuf>,
    cipher: std::sync::Arc<Cipher>,
    /// Write transactions take turns here, in arrival order. SQLite runs one
    /// writer at a time anyway; left to its busy handler, a burst of writers
    /// sleeps and retries, throughput collapses, and waiting for a pooled
    /// connection can time out, which would cost someone their message.
    writer: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// Held as long as any clone of the store lives (see [`files`]).
    _lock: std::sync::Arc<files::DbLock>,
}

impl Store {
    /// Opens (creating if needed) the database file, applies migrations and
    /// checks that `key` is the one its sealed values were sealed with. A new
    /// database is bound to `key`; values from before encryption are sealed.
    /// Holds the database's lock shared while the store lives, so a key
    /// rotation cannot start under it (and it cannot open during one).
    pub async fn open(
        path: &Path,
        options: &StoreOptions,
        key: &DataKey,
    ) -> Result<Store, StoreError> {
        let lock = files::DbLock::shared(path)?;
        Store::open_locked(path, options, key, std::sync::Arc::new(lock)).await
    }

    /// [`Store::open`] under a lock the caller took (the exclusive one, for
    /// a key rotation), held until the store and the caller let it go.
    pub async fn open_locked(
        path: &Path,
        options: &StoreOptions,
        key: &DataKey,
        lock: std::sync::Arc<files::DbLock>,
    ) -> Result<Store, StoreError> {
        let shown = path.display().to_string();
        files::owner_only(path)?;
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
            path: std::sync::Arc::new(path.to_path_buf()),
            cipher: std::sync::Arc::new(cipher),
            writer: std::sync::Arc::new(tokio::sync::Mutex::new(())),
            _lock: lock,
        })
    }

    pub fn cipher(&self) -> &Cipher {
        &self.cipher
    }

    /// The database file. The pool itself is the store's own, so every
    /// write takes the writers' turn through one of its methods; tests and
    /// benches that look at the tables open the file themselves.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// One flag, opened; None if there is no such flag.
    pub async fn flag(&self, id: i64) -> Result<Option<crate::flags::Flag>, StoreError> {
        flags::get(&self.pool, &self.cipher, id).await
    }

    /// Flags still open or claimed, opened, for the moderators' list.
    pub async fn active_flags(&self) -> Result<Vec<crate::flags::Flag>, StoreError> {
        flags::active(&self.pool, &self.cipher).await
    }

    /// Flags whose channel notice is still owed to the moderators.
    pub async fn owed_notices(&self) -> Result<Vec<crate::flags::Flag>, StoreError> {
        flags::owed_notices(&self.pool, &self.cipher).await
    }

    /// Up to `limit` check-ins due at `now`, earliest first, leaving out
    /// the people in `skip` (those that already failed in this pass).
    pub async fn due_checkins(
        &self,
        now: Timestamp,
        skip: &[i64],
        limit: i64,
    ) -> Result<Vec<checkins::Due>, StoreError> {
        checkins::due(&self.pool, now, skip, limit).await
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
        let applied = self.transact(external_id, None, None, now, decide).await?;
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
        self.transact(external_id, Some(event_key), None, now, decide)
            .await
    }

    /// Like [`Store::apply_once`], and the turn's replies are kept in the
    /// outbox, in the same transaction, until [`Store::sent`] says they went
    /// out to `address`. A crash in between loses no reply.
    pub async fn apply_once_to(
        &self,
        external_id: &str,
        event_key: &str,
        address: &str,
        now: Timestamp,
        decide: impl FnOnce(&State) -> Outcome,
    ) -> Result<Option<Applied>, StoreError> {
        self.transact(external_id, Some(event_key), Some(address), now, decide)
            .await
    }

    /// A person's replies still waiting to be sent, oldest first.
    pub async fn unsent(&self, external_id: &str) -> Result<Vec<Unsent>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        match people::find(&mut conn, external_id).await? {
            Some(person) => outbox::unsent(&mut conn, &self.cipher, person).await,
            None => Ok(Vec::new()),
        }
    }

    /// The replies of `event_key` went out (or never can): forget them.
    pub async fn sent(&self, event_key: &str) -> Result<(), StoreError> {
        self.sent_all(&[event_key.to_owned()]).await
    }

    /// [`Store::sent`] for many events at once: one write for a batch, so
    /// clearing the outbox does not cost a commit per message.
    pub async fn sent_all(&self, event_keys: &[String]) -> Result<(), StoreError> {
        if event_keys.is_empty() {
            return Ok(());
        }
        let _turn = self.writer.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        outbox::sent_all(&mut tx, event_keys).await?;
        tx.commit().await?;
        Ok(())
    }

    /// People with replies waiting to be sent, by external id.
    pub async fn waiting(&self) -> Result<Vec<String>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        outbox::waiting(&mut conn).await
    }

    /// Claims a due check-in and starts its flow in one transaction, its
    /// replies kept in the outbox for [`outbox::DIRECT`] like any turn's,
    /// under [`checkins::event_key`]. `None` when another scheduler claimed
    /// it first. A crash or a restart at any point loses nothing and sends
    /// nothing twice: before the commit nothing happened, after it the
    /// outbox holds the check-in until it is sent.
    pub async fn start_checkin(
        &self,
        due: &checkins::Due,
        next_due: Timestamp,
        next_date: jiff::civil::Date,
        now: Timestamp,
        decide: impl FnOnce(&State) -> Outcome,
    ) -> Result<Option<Applied>, StoreError> {
        let key = checkins::event_key(due);
        let claim = Claim {
            due,
            next_due,
            next_date,
        };
        self.transact_claiming(
            &due.external_id,
            Some(&key),
            Some(outbox::DIRECT),
            Some(claim),
            now,
            decide,
        )
        .await
    }

    async fn transact(
        &self,
        external_id: &str,
        event_key: Option<&str>,
        address: Option<&str>,
        now: Timestamp,
        decide: impl FnOnce(&State) -> Outcome,
    ) -> Result<Option<Applied>, StoreError> {
        self.transact_claiming(external_id, event_key, address, None, now, decide)
            .await
    }

    async fn transact_claiming(
        &self,
        external_id: &str,
        event_key: Option<&str>,
        address: Option<&str>,
        claim: Option<Claim<'_>>,
        now: Timestamp,
        decide: impl FnOnce(&State) -> Outcome,
    ) -> Result<Option<Applied>, StoreError> {
        let _turn = self.writer.lock().await;
        // IMMEDIATE takes the write lock up front, so a writer from another
        // process waits (busy timeout) instead of failing on a lock upgrade.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let claiming = claim.is_some();
        if let Some(Claim {
            due,
            next_due,
            next_date,
        }) = claim
            && !checkins::claim(&mut tx, due, next_due, next_date, now).await?
        {
            return Ok(None);
        }
        if let Some(key) = event_key
            && !processed::record(&mut tx, key, now).await?
        {
            if claiming {
                // Started once already: the claim still moves it on, so it
                // is never picked up again.
                tx.commit().await?;
            }
            return Ok(None);
        }
        let entered = people::enter(&mut tx, external_id, now).await?;
        let person = entered.id;
        // Nothing is kept before consent, and declining clears it all; most
        // people have written no answer, and need no second read.
        // A kept value that does not open is no use to anyone: it is removed
        // (or, for a waiting question, its excerpt replaced) in this turn, so
        // the conversation goes on and the person is told once.
        let mut set_aside = 0;
        let answers = if entered.has_answers && entered.profile.consent == Consent::Given {
            let (answers, unopened) = answers::all(&mut tx, &self.cipher, person).await?;
            for (flow, name) in &unopened {
                answers::delete(&mut tx, person, flow, name).await?;
            }
            set_aside += unopened.len();
            answers
        } else {
            Default::default()
        };
        let pending_ask = if entered.has_ask {
            match people::pending_ask(&mut tx, &self.cipher, person).await? {
                Some((hit, false)) => {
                    people::set_pending_ask(&mut tx, &self.cipher, person, Some(&hit)).await?;
                    set_aside += 1;
                    Some(hit)
                }
                found => found.map(|(hit, _)| hit),
            }
        } else {
            None
        };
        let mut before = assemble(person, entered.profile, entered.place, answers, pending_ask);
        if entered.has_offer && before.consent == Consent::Given {
            before.offered_note = journal::offered(&mut tx, &self.cipher, person).await?;
        }
        let outcome = decide(&before);
        save(&mut tx, &self.cipher, person, &before, &outcome, now).await?;
        let flag = match &outcome.flag {
            Some(hit) => Some(
                flags::raise(&mut tx, &self.cipher, person, hit, outcome.flag_asked, now).await?,
            ),
            None => None,
        };
        if let (Some(key), Some(address)) = (event_key, address) {
            outbox::put(
                &mut tx,
                &self.cipher,
                person,
                key,
                address,
                &outcome.replies,
                now,
            )
            .await?;
        }
        // A menu setting takes effect with the turn that chose it, so a crash
        // can never keep the new place and lose the setting. On every edge:
        // Discord sends check-ins as messages, and `mend chat` offers the
        // day's as the person opens it (see [`Store::offer_checkin`]).
        let consent_given = outcome.state.consent == Consent::Given;
        if before.consent == Consent::Given && !consent_given {
            crate::pairing::queries::consent_withdrawn(&mut tx, person, now).await?;
        }
        let mut tools = Vec::new();
        let mut pairing = Vec::new();
        let who = crate::pairing::queries::Who {
            person,
            external: external_id,
            consent: consent_given,
        };
        for task in &outcome.tasks {
            match task {
                // Written words reach here only screened clean: the turn's
                // screen ran before the engine, which withholds the rest.
                crate::conversation::engine::Task::Pair(act) => pairing.push(
                    crate::pairing::queries::carry_out(
                        &mut tx,
                        &self.cipher,
                        who,
                        act,
                        &|_| None,
                        now,
                    )
                    .await?,
                ),
                task => tools
                    .push(checkins::carry_out(&mut tx, person, consent_given, task, now).await?),
            }
        }
        let offer_end = (outcome.flag.is_some() || outcome.flag_asked)
            && crate::pairing::queries::is_paired(&mut tx, person).await?;
        let checkins_paused = if entered.pause_notice {
            checkins::take_pause_notice(&mut tx, person).await?
        } else {
            None
        };
        tx.commit().await?;
        Ok(Some(Applied {
            outcome,
            flag,
            checkins_paused,
            unsent_before: entered.unsent,
            set_aside,
            tools,
            pairing,
            offer_end,
        }))
    }

    /// Carries out a pairing act outside a conversation turn (a slash
    /// command, one of pairing's buttons), in one write transaction of its
    /// own, in the writers' turn. Every word it would send passes `screen`.
    pub async fn pair(
        &self,
        external_id: &str,
        act: &crate::pairing::Act,
        screen: crate::pairing::queries::Screening<'_>,
        now: Timestamp,
    ) -> Result<crate::pairing::Carried, StoreError> {
        let _turn = self.writer.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let person = people::find_or_create(&mut tx, external_id, now).await?;
        let consent = people::profile(&mut tx, person).await?.consent == Consent::Given;
        let who = crate::pairing::queries::Who {
            person,
            external: external_id,
            consent,
        };
        let carried =
            crate::pairing::queries::carry_out(&mut tx, &self.cipher, who, act, screen, now)
                .await?;
        tx.commit().await?;
        Ok(carried)
    }

    /// Erases pairing data past its time (see [`crate::pairing::queries::prune`]).
    pub async fn prune_pairing(&self, now: Timestamp) -> Result<u64, StoreError> {
        let _turn = self.writer.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let gone = crate::pairing::queries::prune(&mut tx, now).await?;
        tx.commit().await?;
        Ok(gone)
    }

    /// Raises a crisis flag in its own short write transaction, for a hit
    /// whose turn could not be applied: the person's row is found or made
    /// and the flag raised (or their active flag updated), nothing else is
    /// read, so one sealed value that will not open cannot stop it.
    pub async fn raise_flag(
        &self,
        external_id: &str,
        hit: &crate::safety::Hit,
        asked: bool,
        at: Timestamp,
    ) -> Result<crate::flags::Raised, StoreError> {
        let _turn = self.writer.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let person = people::find_or_create(&mut tx, external_id, at).await?;
        let raised = flags::raise(&mut tx, &self.cipher, person, hit, asked, at).await?;
        tx.commit().await?;
        Ok(raised)
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
    ) -> Result<Option<crate::checkins::Setting>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        match people::find(&mut conn, external_id).await? {
            Some(person) => checkins::get(&mut conn, person).await,
            None => Ok(None),
        }
    }

    /// Whether `mend chat` offers today's check-in as the person opens it,
    /// moving a check-in that came due on to its next day either way (see
    /// [`checkins::offer_due`]). Never while mend waits for the answer to
    /// "are you safe?": that comes first.
    pub async fn offer_checkin(
        &self,
        external_id: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let _turn = self.writer.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let Some(person) = people::find(&mut tx, external_id).await? else {
            return Ok(false);
        };
        let asking: bool =
            sqlx::query_scalar("SELECT ask_category IS NOT NULL FROM people WHERE id = ?")
                .bind(person)
                .fetch_one(&mut *tx)
                .await?;
        if asking {
            // Offered the next time, once the question is answered.
            return Ok(false);
        }
        let offered = checkins::offer_due(&mut tx, person, now).await?;
        tx.commit().await?;
        Ok(offered)
    }

    /// Moves a check-in missed for too long to its next time, unsent; false
    /// if another scheduler moved it first.
    pub async fn skip_checkin(
        &self,
        due: &checkins::Due,
        next_due: Timestamp,
        next_date: jiff::civil::Date,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let _turn = self.writer.lock().await;
        checkins::skip(&self.pool, due, next_due, next_date, now).await
    }

    /// Pauses a person's check-ins by themselves (`person_id` as in
    /// [`checkins::Due`]): they are told why the next time they write.
    pub async fn pause_checkins(
        &self,
        person_id: i64,
        reason: crate::checkins::PauseReason,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let _turn = self.writer.lock().await;
        checkins::pause(&self.pool, person_id, reason, now).await
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
        let _turn = self.writer.lock().await;
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
        let _turn = self.writer.lock().await;
        let mut conn = self.pool.acquire().await?;
        match people::find(&mut conn, external_id).await? {
            Some(person) => checkins::stop(&mut conn, person, now).await,
            None => Ok(false),
        }
    }

    /// Turns a person's check-ins on at `time` in `zone`, if they have
    /// agreed to mend keeping their answers (`/checkin on`).
    pub async fn checkin_on(
        &self,
        external_id: &str,
        time: &str,
        zone: &str,
        now: Timestamp,
    ) -> Result<crate::checkins::ToolDone, StoreError> {
        let _turn = self.writer.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let Some(person) = people::find(&mut tx, external_id).await? else {
            return Ok(crate::checkins::ToolDone::Unchanged(
                crate::checkins::NotDone::NoConsent,
            ));
        };
        let consent = people::profile(&mut tx, person).await?.consent == Consent::Given;
        let done = checkins::turn_on(&mut tx, person, consent, time, zone, now).await?;
        tx.commit().await?;
        Ok(done)
    }

    /// Pauses a person's check-ins for `days` days (`/checkin pause`).
    pub async fn checkin_pause(
        &self,
        external_id: &str,
        days: i64,
        now: Timestamp,
    ) -> Result<crate::checkins::ToolDone, StoreError> {
        let _turn = self.writer.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let Some(person) = people::find(&mut tx, external_id).await? else {
            return Ok(crate::checkins::ToolDone::Unchanged(
                crate::checkins::NotDone::NotOn,
            ));
        };
        let done = checkins::pause_for(&mut tx, person, days, now).await?;
        tx.commit().await?;
        Ok(done)
    }

    /// Check-in answers from `since` on.
    pub async fn checkin_days(
        &self,
        external_id: &str,
        since: jiff::civil::Date,
    ) -> Result<Vec<crate::checkins::Day>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        match people::find(&mut conn, external_id).await? {
            Some(person) => checkins::days(&mut conn, person, since).await,
            None => Ok(Vec::new()),
        }
    }

    /// The person's own notes from check-ins since `since`, the most
    /// recent first, at most `limit`.
    pub async fn checkin_notes(
        &self,
        external_id: &str,
        since: jiff::civil::Date,
        limit: i64,
    ) -> Result<Vec<checkins::Note>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        match people::find(&mut conn, external_id).await? {
            Some(person) => checkins::notes(&mut conn, &self.cipher, person, since, limit).await,
            None => Ok(Vec::new()),
        }
    }

    /// Up to `limit` notes the person kept in their journal, newest first
    /// (none without consent: the journal is kept only with it).
    pub async fn journal_notes(
        &self,
        external_id: &str,
        limit: i64,
    ) -> Result<Vec<journal::Note>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        match people::find(&mut conn, external_id).await? {
            Some(person) => journal::recent(&mut conn, &self.cipher, person, limit).await,
            None => Ok(Vec::new()),
        }
    }

    /// Everything mend holds about a person, opened; None if nothing.
    pub async fn export(
        &self,
        external_id: &str,
        now: Timestamp,
    ) -> Result<Option<crate::privacy::Export>, StoreError> {
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
        by: crate::privacy::ErasedBy,
        now: Timestamp,
    ) -> Result<Option<crate::privacy::Erased>, StoreError> {
        let _turn = self.writer.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let erased = privacy::erase(&mut tx, &self.cipher, external_id, by, now).await?;
        tx.commit().await?;
        Ok(erased)
    }

    /// Applies a moderator's action to a flag and audits it, in one
    /// transaction, in the writers' turn.
    pub async fn act_on_flag(
        &self,
        id: i64,
        action: crate::flags::Action,
        moderator: &str,
        note: Option<&str>,
        now: Timestamp,
    ) -> Result<Result<crate::flags::Flag, crate::flags::Refusal>, StoreError> {
        let _turn = self.writer.lock().await;
        flags::act(&self.pool, &self.cipher, id, action, moderator, note, now).await
    }

    /// Remembers where a flag's notice was posted, so later changes edit it.
    pub async fn set_flag_notice(
        &self,
        id: i64,
        channel: &str,
        message: &str,
    ) -> Result<(), StoreError> {
        let _turn = self.writer.lock().await;
        flags::set_notice(&self.pool, id, channel, message).await
    }

    /// Audits a moderator action that was refused (not a moderator, or an
    /// id that names nothing).
    pub async fn audit_refusal(
        &self,
        actor: &str,
        what: &str,
        flag: Option<i64>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let _turn = self.writer.lock().await;
        let mut conn = self.pool.acquire().await?;
        flags::audit(&mut conn, actor, "refused", flag, Some(what), now).await
    }

    /// Erases the excerpts of flags closed before `cutoff`; the bare facts
    /// stay. Returns how many were erased.
    pub async fn erase_old_excerpts(&self, cutoff: Timestamp) -> Result<u64, StoreError> {
        let _turn = self.writer.lock().await;
        flags::erase_excerpts(&self.pool, cutoff).await
    }

    /// Erases people last seen before `cutoff` (unless a flag about them is
    /// still being handled), a batch per transaction so the bot is never
    /// held up for long. Returns what each erasure left to tidy.
    pub async fn expire_inactive(
        &self,
        cutoff: Timestamp,
        now: Timestamp,
    ) -> Result<Vec<crate::privacy::Erased>, StoreError> {
        const BATCH: i64 = 100;
        let mut all = Vec::new();
        loop {
            let _turn = self.writer.lock().await;
            let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
            let ids = privacy::inactive(&mut tx, cutoff, BATCH).await?;
            for id in &ids {
                let by = crate::privacy::ErasedBy::Retention;
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

    /// Forgets applied-event ids, and replies that could not be sent,
    /// older than `cutoff` (see `processed::prune`).
    pub async fn prune_processed(&self, cutoff: Timestamp) -> Result<u64, StoreError> {
        let _turn = self.writer.lock().await;
        let mut conn = self.pool.acquire().await?;
        let unsent = outbox::prune(&mut conn, cutoff).await?;
        Ok(processed::prune(&mut conn, cutoff).await? + unsent)
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
    let place = conversations::get(conn, person).await?;
    let (answers, _unopened) = answers::all(conn, cipher, person).await?;
    let pending_ask = people::pending_ask(conn, cipher, person).await?;
    let mut state = assemble(
        person,
        profile,
        place,
        answers,
        pending_ask.map(|(hit, _)| hit),
    );
    state.offered_note = journal::offered(conn, cipher, person).await?;
    Ok(state)
}

/// A person's state from what the tables hold: their profile, their place
/// and whether they paused there, and their kept answers.
fn assemble(
    person: PersonId,
    profile: people::Profile,
    place: Option<(crate::conversation::engine::Place, bool)>,
    mut answers: std::collections::BTreeMap<(String, String), String>,
    pending_ask: Option<crate::safety::Hit>,
) -> State {
    let (place, paused) = match place {
        Some((place, paused)) => (Some(place), paused),
        None => (None, false),
    };
    let facts = answers
        .extract_if(.., |(flow, _), _| flow == FACTS)
        .map(|((_, name), value)| (name, value))
        .collect();
    State {
        consent: profile.consent,
        situation: profile.situation,
        crisis_replied_at: profile.crisis_replied_at,
        asked_at: profile.asked_at,
        pending_ask,
        place,
        paused,
        answers,
        facts,
        offered_note: None,
        // Ids are never reused, so the seed stays this person's alone.
        seed: u64::try_from(person.0).unwrap_or_default(),
    }
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
        asked_at: s.asked_at,
    };
    if profile(after) != profile(before) {
        people::set_profile(conn, person, &profile(after), now).await?;
    }
    if after.pending_ask != before.pending_ask {
        people::set_pending_ask(conn, cipher, person, after.pending_ask.as_ref()).await?;
    }
    match &after.place {
        Some(place) if (Some(place), after.paused) != (before.place.as_ref(), before.paused) => {
            conversations::set(conn, person, place, after.paused, now).await?
        }
        _ => {}
    }
    let nothing = |s: &State| s.answers.is_empty() && s.facts.is_empty();
    if nothing(after) && !nothing(before) {
        answers::delete_all(conn, person).await?;
    }
    for event in &outcome.events {
        match event {
            Event::AnswerSaved { flow, name } => {
                if let Some(value) = after.answers.get(&(flow.clone(), name.clone())) {
                    answers::set(conn, cipher, person, flow, name, value, now).await?;
                    if flow == DAILY {
                        checkins::record_answer(conn, cipher, person, name, value, now).await?;
                    }
                }
            }
            Event::FactKept { name } => {
                if let Some(value) = after.facts.get(name) {
                    answers::set(conn, cipher, person, FACTS, name, value, now).await?;
                }
            }
            Event::FactCleared { name } if !after.facts.contains_key(name) => {
                answers::delete(conn, person, FACTS, name).await?;
            }
            Event::NoteKept if after.consent == Consent::Given => {
                journal::keep_offer(conn, person).await?;
            }
            _ => {}
        }
    }
    // After a note is kept: only a note still on offer is withdrawn.
    if after.offered_note != before.offered_note {
        let offer = after
            .offered_note
            .as_deref()
            .filter(|_| after.consent == Consent::Given);
        journal::set_offer(conn, cipher, person, offer, now).await?;
    }
    events::insert_all(conn, person, &outcome.events, now).await?;
    Ok(())
}
