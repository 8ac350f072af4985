//! mend's cost per message against what SQLite itself allows, in one run on
//! the same kind of database file (WAL, the pragmas Store::open sets):
//!
//! - mend: the real engine (screen included) and Store::apply_once, one
//!   transaction per message;
//! - mend as the Discord handler runs it: Store::apply_once_to, which also
//!   keeps the turn's replies in the outbox, then Store::sent once they went;
//! - raw: single-row INSERT transactions through the same pool.
//!
//! Prints the rates and their ratios to raw (target: mend at least half).
//! Run with `cargo bench --bench store`.

use std::time::Instant;

use jiff::{SignedDuration, Timestamp};
use mend::conversation::engine::{Companion, Input};
use mend::crypto::DataKey;
use mend::safety::{CrisisReplies, Screen};
use mend::store::{Store, StoreOptions};

const MESSAGES: usize = 5000;
const PEOPLE: usize = 100;
const LINES: [&str; 6] = ["hello", "1", "1", "menu", "help", "restart"];

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(
        &dir.path().join("bench.sqlite"),
        &StoreOptions::default(),
        &DataKey::generate(),
    )
    .await
    .unwrap();
    let companion = Companion {
        script: mend::flows::load_embedded().unwrap(),
        screen: Screen::embedded(),
        crisis: CrisisReplies::embedded(),
        cooldown: SignedDuration::from_mins(10),
    };
    let now = Timestamp::now();

    // Warm up both paths (statement caches, the screen, the file).
    for i in 0..200 {
        let input = Input::Text("hello".into());
        store
            .apply_once(
                &format!("discord:warm{i}"),
                &format!("warm:{i}"),
                now,
                |s| companion.respond(s, &input, now),
            )
            .await
            .unwrap();
    }

    let mut mend_rate = Vec::new();
    let mut bot_rate = Vec::new();
    let mut raw_rate = Vec::new();
    for round in 0..3 {
        let began = Instant::now();
        for i in 0..MESSAGES {
            let person = format!("discord:{}", i % PEOPLE);
            let input = Input::Text(LINES[(i / PEOPLE) % LINES.len()].into());
            store
                .apply_once(&person, &format!("message:{round}:{i}"), now, |s| {
                    companion.respond(s, &input, now)
                })
                .await
                .unwrap();
        }
        mend_rate.push(MESSAGES as f64 / began.elapsed().as_secs_f64());

        // As the Discord handler does it: the replies kept in the outbox in
        // the same transaction, and cleared in batches once sent (the bot
        // clears every 250 ms; here every 100 messages).
        let began = Instant::now();
        let mut sent = Vec::new();
        for i in 0..MESSAGES {
            let person = format!("discord:bot{}", i % PEOPLE);
            let input = Input::Text(LINES[(i / PEOPLE) % LINES.len()].into());
            let key = format!("message:bot:{round}:{i}");
            store
                .apply_once_to(&person, &key, "1", now, |s| {
                    companion.respond(s, &input, now)
                })
                .await
                .unwrap();
            sent.push(key);
            if sent.len() == 100 {
                store.sent_all(&std::mem::take(&mut sent)).await.unwrap();
            }
        }
        store.sent_all(&sent).await.unwrap();
        bot_rate.push(MESSAGES as f64 / began.elapsed().as_secs_f64());

        // The same writes on a pool of the bench's own: the floor.
        let raw = sqlx::SqlitePool::connect_with(
            sqlx::sqlite::SqliteConnectOptions::new().filename(store.path()),
        )
        .await
        .unwrap();
        let began = Instant::now();
        for i in 0..MESSAGES {
            let mut tx = raw.begin_with("BEGIN IMMEDIATE").await.unwrap();
            sqlx::query("INSERT INTO processed_events (key, at) VALUES (?, ?)")
                .bind(format!("raw:{round}:{i}"))
                .bind(now.as_millisecond())
                .execute(&mut *tx)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }
        raw_rate.push(MESSAGES as f64 / began.elapsed().as_secs_f64());
    }
    // The engine alone, for where the time goes.
    let state = store.state("discord:0").await.unwrap();
    let began = Instant::now();
    for i in 0..MESSAGES {
        let input = Input::Text(LINES[i % LINES.len()].into());
        std::hint::black_box(companion.respond(&state, &input, now));
    }
    let engine_us = began.elapsed().as_secs_f64() * 1e6 / MESSAGES as f64;
    println!("the engine alone (screen included): {engine_us:.1} µs a message");
    let best = |v: &[f64]| v.iter().cloned().fold(0.0, f64::max);
    let (m, b, r) = (best(&mend_rate), best(&bot_rate), best(&raw_rate));
    println!(
        "raw single-row insert transactions: {r:.0}/s ({:.0} µs each); best of 3 rounds of {MESSAGES}",
        1e6 / r
    );
    println!(
        "engine + SQLite, one turn: {m:.0} messages/s ({:.0} µs each); ratio {:.2} (target ≥ 0.5)",
        1e6 / m,
        m / r
    );
    println!(
        "  with the outbox, as the bot runs (replies kept, cleared in batches once sent): \
         {b:.0} messages/s ({:.0} µs each); ratio {:.2}",
        1e6 / b,
        b / r
    );
    store.close().await;
}
