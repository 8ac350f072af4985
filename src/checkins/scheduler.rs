//! Starts the daily check-ins. Due rows are taken in batches through an
//! index; each is claimed, its flow started and its replies kept in the
//! outbox in one transaction, so a crash or a restart at any moment neither
//! loses a check-in nor sends one twice. The edge then delivers it from the
//! outbox like any turn, through the person's own queue; the people to
//! deliver to go through a bounded queue paced to a rate limit, so a
//! thousand people due in the same minute are spread out rather than fired
//! at once. The clock is injected so tests move time.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio::sync::mpsc;
use tracing::{debug, error, info, warn};

use crate::checkins::PauseReason;
use crate::checkins::Schedule;
use crate::checkins::queries::Due;
use crate::clock::Clock;
use crate::conversation::engine::{Companion, Input};
use crate::store::{DAILY, Store, StoreError};

/// How the scheduler behaves; from `[checkins]` in the config.
#[derive(Debug, Clone)]
pub struct Settings {
    /// A check-in missed by less than this is sent late, once; older ones are skipped.
    pub grace: SignedDuration,
    /// Unanswered check-ins in a row before they pause.
    pub max_unanswered: i64,
    /// Rows taken per query.
    pub batch: i64,
    /// Check-ins sent per second at most.
    pub per_second: u32,
    /// How often to look for due rows.
    pub every: Duration,
    /// Check-ins waiting to be sent at most; the scheduler waits when full.
    pub queue: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            grace: SignedDuration::from_hours(3),
            max_unanswered: 3,
            batch: 1000,
            per_second: 20,
            every: Duration::from_secs(20),
            queue: 256,
        }
    }
}

/// Delivers what the outbox holds for a person (their check-in among it).
/// The edge does this in the person's own queue, so a check-in and the
/// person's own messages never cross; it counts the check-in as delivered
/// when it clears the outbox entry, and pauses check-ins for someone who
/// cannot be messaged.
pub trait Deliver: Send + Sync + 'static {
    fn deliver(&self, person: &str) -> impl Future<Output = ()> + Send;
}

/// A check-in waiting in the outbox, to be delivered.
#[derive(Debug)]
pub struct Outgoing {
    pub person_id: i64,
    pub person: String,
}

/// What one pass over the due rows did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pass {
    pub queued: usize,
    pub skipped: usize,
    pub paused: usize,
    pub lost_race: usize,
    /// People (by row id) whose check-in failed in this pass, each logged
    /// by the error's kind. Nothing was written for them, so they are still
    /// due and the next pass tries again.
    pub failed: Vec<i64>,
}

/// Takes every due row once: queues a check-in for each (claimed first),
/// skips those missed by more than the grace window, and pauses those left
/// unanswered too many times. One person whose check-in fails (a damaged
/// row, say) is counted in [`Pass::failed`] and passed over, so everyone
/// due after them still gets theirs; a fault of the whole database (busy,
/// full, closed) ends the pass with that error, since the next person
/// would meet it too.
pub async fn pass(
    store: &Store,
    companion: &Companion,
    clock: &impl Clock,
    settings: &Settings,
    queue: &mpsc::Sender<Outgoing>,
) -> Result<Pass, StoreError> {
    let mut report = Pass::default();
    let now = clock.now();
    loop {
        let batch = store
            .due_checkins(now, &report.failed, settings.batch)
            .await?;
        if batch.is_empty() {
            return Ok(report);
        }
        let full = batch.len() as i64 == settings.batch;
        for due in batch {
            match handle(store, companion, now, settings, queue, &due, &mut report).await {
                Ok(()) => {}
                Err(err) if err.is_store_wide() => return Err(err),
                Err(err) => {
                    warn!(
                        person = due.person_id,
                        kind = err.kind(),
                        "a check-in could not be started; the next pass tries again"
                    );
                    report.failed.push(due.person_id);
                }
            }
        }
        if !full {
            return Ok(report);
        }
    }
}

async fn handle(
    store: &Store,
    companion: &Companion,
    now: Timestamp,
    settings: &Settings,
    queue: &mpsc::Sender<Outgoing>,
    due: &Due,
    report: &mut Pass,
) -> Result<(), StoreError> {
    let Ok(schedule) = Schedule::new(&due.local_time, &due.zone) else {
        // A zone the database no longer knows: stop rather than loop.
        warn!(
            person = due.person_id,
            "check-in zone not understood; pausing"
        );
        store
            .pause_checkins(due.person_id, PauseReason::Undeliverable, now)
            .await?;
        report.paused += 1;
        return Ok(());
    };
    let due_at = Timestamp::from_millisecond(due.next_due).unwrap_or(now);
    if now.duration_since(due_at) > settings.grace {
        let (next, date) = schedule.next_after(now);
        if store.skip_checkin(due, next, date, now).await? {
            report.skipped += 1;
        }
        return Ok(());
    }
    if due.unanswered >= settings.max_unanswered {
        store
            .pause_checkins(due.person_id, PauseReason::Unanswered, now)
            .await?;
        report.paused += 1;
        return Ok(());
    }
    let due_date = due
        .due_date
        .parse()
        .unwrap_or_else(|_| schedule.local_date(due_at));
    let (next, next_date) = schedule.next_day_after(due_date);
    let started = store
        .start_checkin(due, next, next_date, now, |state| {
            companion.respond(state, &Input::Begin(DAILY.into()), now)
        })
        .await?;
    if started.is_none() {
        report.lost_race += 1;
        return Ok(());
    }
    let outgoing = Outgoing {
        person_id: due.person_id,
        person: due.external_id.clone(),
    };
    // Kept in the outbox whatever happens here: if the sender has stopped,
    // the next start delivers it.
    if queue.send(outgoing).await.is_err() {
        warn!("the check-in sender has stopped");
    }
    report.queued += 1;
    Ok(())
}

/// Drains the queue at most `per_second` a second.
pub async fn send_all(
    deliver: Arc<impl Deliver>,
    per_second: u32,
    mut queue: mpsc::Receiver<Outgoing>,
) {
    let gap = Duration::from_secs(1) / per_second.max(1);
    let mut pace = tokio::time::interval(gap);
    pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while let Some(outgoing) = queue.recv().await {
        pace.tick().await;
        deliver.deliver(&outgoing.person).await;
        debug!(person = outgoing.person_id, "check-in handed to delivery");
    }
}

/// Runs passes every `settings.every` until the task is dropped.
pub async fn run(
    store: Store,
    companion: Arc<Companion>,
    clock: Arc<impl Clock>,
    settings: Settings,
    deliver: Arc<impl Deliver>,
) {
    let (sender, receiver) = mpsc::channel(settings.queue.max(1));
    let drain = tokio::spawn(send_all(deliver, settings.per_second, receiver));
    let mut every = tokio::time::interval(settings.every);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        every.tick().await;
        match pass(&store, &companion, clock.as_ref(), &settings, &sender).await {
            Ok(report) if report != Pass::default() => info!(
                queued = report.queued,
                skipped = report.skipped,
                paused = report.paused,
                failed = report.failed.len(),
                "check-ins"
            ),
            Ok(_) => {}
            Err(err) => error!(kind = err.kind(), error = %err, "the check-in pass failed"),
        }
        if drain.is_finished() {
            return;
        }
    }
}
