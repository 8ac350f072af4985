//! The check-in scheduler at scale, on a real SQLite file: one million
//! opted-in people (MEND_BENCH_PEOPLE to change it). Prints
//!
//! - the time to pick a due batch of 1,000 through the index (target < 10 ms),
//! - the total time and peak memory to advance a whole day's schedule, by
//!   running the scheduler's own pass every ten simulated minutes, claiming
//!   and beginning each person's check-in exactly as the bot does,
//! - the send queue's pacing: 1,000 check-ins due in the same minute sent
//!   through the real paced sender at a configured rate.
//!
//! Run with `cargo bench --bench checkins`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use mend::checkins::Schedule;
use mend::checkins::scheduler::{self, Deliver, Outgoing, Settings};
use mend::clock::ManualClock;
use mend::conversation::engine::Companion;
use mend::crypto::DataKey;
use mend::safety::{CrisisReplies, Screen};
use mend::store::{Store, StoreOptions};
use tokio::sync::mpsc;

const ZONES: [&str; 6] = [
    "Europe/London",
    "America/New_York",
    "Asia/Kolkata",
    "Australia/Sydney",
    "America/Los_Angeles",
    "Europe/Berlin",
];

fn peak_memory_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

/// A cheap spread of local times and zones: person `i` checks in at a
/// minute of the day and in a zone picked from `i`.
fn schedule_for(i: u64) -> Schedule {
    let minute = (i * 7919) % (24 * 60);
    let time = format!("{:02}:{:02}", minute / 60, minute % 60);
    Schedule::new(&time, ZONES[(i % ZONES.len() as u64) as usize]).unwrap()
}

/// A pool of its own on the store's file: the store keeps its pool to
/// itself, and seeding a million rows is no turn of anyone's.
async fn raw(store: &Store) -> sqlx::SqlitePool {
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(store.path())
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(30));
    sqlx::SqlitePool::connect_with(options).await.unwrap()
}

async fn seed(store: &Store, people: u64, start: Timestamp) {
    // Rows go in 400 at a time (a few thousand statements for a million
    // people rather than two million), in one transaction.
    const CHUNK: u64 = 400;
    let pool = raw(store).await;
    let mut tx = pool.begin().await.unwrap();
    let at = start.as_millisecond();
    // Only 1,440 minutes × 6 zones exist: work each out once.
    let mut known = std::collections::HashMap::new();
    let mut first = 1;
    while first <= people {
        let last = (first + CHUNK - 1).min(people);
        let mut person_rows = String::new();
        let mut checkin_rows = String::new();
        for i in first..=last {
            let key = ((i * 7919) % (24 * 60), i % ZONES.len() as u64);
            let (time, zone, due, date) = known
                .entry(key)
                .or_insert_with(|| {
                    let schedule = schedule_for(i);
                    let (due, date) = schedule.next_after(start);
                    (
                        schedule.time.strftime("%H:%M").to_string(),
                        schedule.zone_name.clone(),
                        due.as_millisecond(),
                        date.to_string(),
                    )
                })
                .clone();
            let sep = if i == first { "" } else { "," };
            // Only numbers and names made here go into the text.
            person_rows.push_str(&format!(
                "{sep}({i}, 'discord:{}', 'given', {at}, {at}, {at})",
                100_000_000_000_000_000 + i
            ));
            checkin_rows.push_str(&format!(
                "{sep}({i}, '{time}', '{zone}', {due}, '{date}', {at})"
            ));
        }
        let people_sql = format!(
            "INSERT INTO people (id, external_id, consent, created_at, updated_at, last_seen) \
             VALUES {person_rows}"
        );
        let checkins_sql = format!(
            "INSERT INTO checkins (person_id, local_time, zone, next_due, due_date, updated_at) \
             VALUES {checkin_rows}"
        );
        sqlx::raw_sql(sqlx::AssertSqlSafe(people_sql))
            .execute(&mut *tx)
            .await
            .unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(checkins_sql))
            .execute(&mut *tx)
            .await
            .unwrap();
        first = last + 1;
    }
    tx.commit().await.unwrap();
    sqlx::query("ANALYZE")
        .execute(&raw(store).await)
        .await
        .unwrap();
    // A database that grew day by day has been checkpointed all along; one
    // seeded in a single transaction has it all in the write-ahead log.
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&raw(store).await)
        .await
        .unwrap();
}

/// Records when each check-in was handed to delivery.
#[derive(Default)]
struct Recorder {
    sent: Mutex<Vec<Instant>>,
}

impl Deliver for Recorder {
    async fn deliver(&self, _person: &str) {
        self.sent.lock().unwrap().push(Instant::now());
    }
}

fn companion() -> Companion {
    Companion {
        script: mend::flows::load_embedded().unwrap(),
        screen: Screen::embedded(),
        crisis: CrisisReplies::embedded(),
        cooldown: SignedDuration::from_mins(10),
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[tokio::main]
async fn main() {
    let people: u64 = std::env::var("MEND_BENCH_PEOPLE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.sqlite");
    let store = Store::open(&path, &StoreOptions::default(), &DataKey::generate())
        .await
        .unwrap();
    let start: Timestamp = "2027-06-01T00:00:00Z".parse().unwrap();

    let seeding = Instant::now();
    seed(&store, people, start).await;
    println!(
        "seeded {people} opted-in people in {:.1} s (peak memory so far {:.0} MB)",
        seeding.elapsed().as_secs_f64(),
        peak_memory_mb()
    );

    // 1. Picking a due batch of 1,000 through the index, at several points
    // of the day (nothing is claimed, so each pick sees the same rows).
    let mut picks = Vec::new();
    for hour in [1, 4, 8, 12, 16, 20, 23] {
        let now = start + SignedDuration::from_hours(hour);
        for _ in 0..5 {
            let began = Instant::now();
            let batch = store.due_checkins(now, &[], 1000).await.unwrap();
            picks.push(began.elapsed().as_secs_f64() * 1000.0);
            assert!(!batch.is_empty(), "people are due by hour {hour}");
        }
    }
    let worst = picks.iter().cloned().fold(0.0, f64::max);
    println!(
        "pick a due batch of 1,000: median {:.2} ms, worst {:.2} ms over {} picks (target < 10 ms)",
        median(picks.clone()),
        worst,
        picks.len()
    );

    // 2. A whole day: the scheduler's own pass every ten simulated minutes,
    // with the queue drained as fast as it fills (pacing is measured below).
    let companion = companion();
    let clock = ManualClock::new(start);
    let settings = Settings {
        queue: 4096,
        ..Settings::default()
    };
    let (sender, mut receiver) = mpsc::channel::<Outgoing>(settings.queue);
    let drained = tokio::spawn(async move {
        let mut count = 0u64;
        while receiver.recv().await.is_some() {
            count += 1;
        }
        count
    });
    let day = Instant::now();
    let mut queued = 0;
    let mut skipped = 0;
    for step in 1..=(24 * 6) {
        clock.set(start + SignedDuration::from_mins(10 * step));
        let report = scheduler::pass(&store, &companion, &clock, &settings, &sender)
            .await
            .unwrap();
        queued += report.queued;
        skipped += report.skipped;
    }
    drop(sender);
    let sent = drained.await.unwrap();
    let elapsed = day.elapsed().as_secs_f64();
    println!(
        "advance a whole day: {queued} check-ins claimed, begun and queued ({skipped} skipped) \
         in {elapsed:.1} s, {:.0} a second; peak memory {:.0} MB",
        queued as f64 / elapsed,
        peak_memory_mb()
    );
    assert_eq!(sent as usize, queued);
    assert_eq!(queued as u64, people, "everyone exactly once");
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM checkins WHERE next_due <= ?")
        .bind((start + SignedDuration::from_hours(24)).as_millisecond())
        .fetch_one(&raw(&store).await)
        .await
        .unwrap();
    println!("  after the day, check-ins still due that day: {left}");

    // 3. Pacing: 1,000 check-ins due in the same minute, through the real
    // paced sender at a configured rate.
    let per_second = 200u32;
    let recorder = Arc::new(Recorder::default());
    let (sender, receiver) = mpsc::channel::<Outgoing>(2000);
    for i in 0..1000 {
        sender
            .send(Outgoing {
                person_id: i,
                person: format!("discord:{i}"),
            })
            .await
            .unwrap();
    }
    drop(sender);
    let began = Instant::now();
    scheduler::send_all(Arc::clone(&recorder), per_second, receiver).await;
    let times = recorder.sent.lock().unwrap().clone();
    let spread = times.last().unwrap().duration_since(times[0]).as_secs_f64();
    let expected = 999.0 / f64::from(per_second);
    let mut busiest = 0;
    for (i, t) in times.iter().enumerate() {
        let within = times[i..]
            .iter()
            .take_while(|u| u.duration_since(*t) < Duration::from_secs(1))
            .count();
        busiest = busiest.max(within);
    }
    println!(
        "pacing at {per_second}/s: 1,000 sends spread over {spread:.2} s (expected {expected:.2} s), \
         at most {busiest} in any one second, all done {:.2} s after the first was queued",
        began.elapsed().as_secs_f64()
    );
    store.close().await;
}
