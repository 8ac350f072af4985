//! Crash safety with the real binary: a burst from many people, SIGKILL in
//! the middle, a restart on the same database, and the gateway delivering
//! every message of the burst again (more than a real RESUME would replay,
//! so the worst case). Every message ends up applied exactly once, in order,
//! and nobody gets a reply twice.

use std::process::{Child, Command, Stdio};

use mend::conversation::engine::{self, Input, State};
use mend::store::{Store, StoreOptions};

use crate::fake::FakeDiscord;
use crate::helpers::{T, TEST_KEY_HEX, bot_messages, shipped, test_key};

const PEOPLE: u64 = 40;
const FIRST: u64 = 470_000_000_000_000_001;
const LINES: [&str; 7] = ["hello", "1", "1", "menu", "2", "help", "1"];

/// The bot's process, killed when dropped, so a failing test leaves no
/// `mend serve` behind.
struct Bot(Child);

impl Drop for Bot {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(dir: &std::path::Path, fake: &FakeDiscord) -> Bot {
    Bot(Command::new(env!("CARGO_BIN_EXE_mend"))
        .arg("serve")
        .current_dir(dir)
        .env("MEND_DISCORD_TOKEN", fake.token())
        .env("MEND_DATA_KEY", TEST_KEY_HEX)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap())
}

async fn until(what: &str, ready: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + T * 3;
    while !ready() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_mid_burst_loses_nothing_and_applies_nothing_twice() {
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.toml"),
        format!("[discord]\napi_base = \"{}\"\n", fake.base_url()),
    )
    .unwrap();
    let child = spawn(dir.path(), &fake);
    fake.wait_ready(T).await;
    fake.wait_for_request("PUT /applications/*/commands", T)
        .await;

    // What each person should end with, and how many replies they are owed,
    // if every message is applied exactly once and in order.
    let script = shipped();
    let people: Vec<u64> = (0..PEOPLE).map(|i| FIRST + i).collect();
    let mut expected_state = State::default();
    let mut expected_texts = Vec::new();
    for line in LINES {
        let outcome = engine::handle(&script, &expected_state, &Input::Text(line.into()));
        expected_state = outcome.state;
        expected_texts.extend(outcome.replies.iter().map(|r| r.text().to_owned()));
    }
    let owed = expected_texts.len();

    // The burst: everyone's messages interleaved, as fast as the fake takes them.
    let mut sent = Vec::new();
    for line in LINES {
        for &person in &people {
            sent.push(fake.send_dm(person, line));
        }
    }
    let replies = |fake: &FakeDiscord| -> usize {
        people
            .iter()
            .map(|&p| bot_messages(fake, fake.dm_channel_id(p)).len())
            .sum()
    };
    let all = owed * people.len();
    // Kill it with a good part of the work done and much still in flight.
    until("a third of the replies", || replies(&fake) >= all / 3).await;
    drop(child);
    let before_restart = replies(&fake);
    assert!(before_restart < all, "the kill came mid-burst");

    // Restart on the same database; the gateway delivers the burst again.
    let identifies = fake.gateway().identifies.len();
    let _child = spawn(dir.path(), &fake);
    fake.wait_gateway(|g| g.identifies.len() > identifies, T)
        .await;
    for id in &sent {
        let message = fake.message(*id).expect("the fake kept the message");
        fake.send_raw_dispatch("MESSAGE_CREATE", message);
    }

    // Everyone ends where the engine says they should: each message applied once.
    let db = dir.path().join("mend.sqlite");
    let deadline = tokio::time::Instant::now() + T * 3;
    let store = loop {
        let store = Store::open(&db, &StoreOptions::default(), &test_key())
            .await
            .unwrap();
        let mut done = 0;
        for &person in &people {
            let state = store.state(&format!("discord:{person}")).await.unwrap();
            if state.place == expected_state.place && state.consent == expected_state.consent {
                done += 1;
            }
        }
        if done == people.len() {
            break store;
        }
        store.close().await;
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {done} of {} people reached their place",
            people.len()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let applied: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM processed_events WHERE key LIKE 'message:%'")
            .fetch_one(&crate::helpers::open_db(store.path()).await)
            .await
            .unwrap();
    assert_eq!(applied as usize, sent.len(), "every message applied once");
    for &person in &people {
        let state = store.state(&format!("discord:{person}")).await.unwrap();
        assert_eq!(state.situation, expected_state.situation);
    }
    store.close().await;

    // Let the last replies land: until nothing new comes for a second.
    let mut last = replies(&fake);
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        let now = replies(&fake);
        if now == last {
            break;
        }
        last = now;
    }
    // Nothing lost and nothing twice: each person got exactly what the engine
    // says, in order, including the replies of turns that were applied but
    // not yet sent when the process was killed (the outbox kept them).
    let all_got = replies(&fake);
    eprintln!(
        "crash test: {} messages, {before_restart} of {all} replies before SIGKILL, \
         {all_got} after the restart",
        sent.len()
    );
    for &person in &people {
        let got: Vec<String> = bot_messages(&fake, fake.dm_channel_id(person))
            .iter()
            .map(|m| m["content"].as_str().unwrap_or_default().to_owned())
            .collect();
        assert_eq!(got, expected_texts, "person {person}");
    }
    assert_eq!(all_got, all);
    let unsent: i64 = {
        let store = Store::open(&db, &StoreOptions::default(), &test_key())
            .await
            .unwrap();
        let n = sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
            .fetch_one(&crate::helpers::open_db(store.path()).await)
            .await
            .unwrap();
        store.close().await;
        n
    };
    assert_eq!(unsent, 0, "the outbox is empty once everything is sent");
}

/// Check-ins claimed by a process that is then killed before it could send
/// them (Discord was failing every send) are kept in the outbox, counted as
/// unanswered only once delivered, and arrive once each after the restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_ins_claimed_before_a_sigkill_arrive_once_after_the_restart() {
    use mend::conversation::engine::{Companion, Consent};
    use mend::safety::{CrisisReplies, Screen};

    const DUE: u64 = 471_000_000_000_000_001;
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.toml"),
        format!(
            "[discord]\napi_base = \"{}\"\n\n[checkins]\nevery_seconds = 1\n",
            fake.base_url()
        ),
    )
    .unwrap();
    let db = dir.path().join("mend.sqlite");

    // Three people who agreed to mend keeping their answers, each with a
    // check-in due a minute ago.
    let people: Vec<String> = (0..3).map(|i| format!("discord:{}", DUE + i)).collect();
    let companion = Companion {
        script: shipped(),
        screen: Screen::embedded(),
        crisis: CrisisReplies::embedded(),
        cooldown: jiff::SignedDuration::from_mins(10),
    };
    let now = jiff::Timestamp::now();
    let store = Store::open(&db, &StoreOptions::default(), &test_key())
        .await
        .unwrap();
    let schedule = mend::checkins::Schedule::new("09:00", "Europe/London").unwrap();
    for person in &people {
        for line in crate::route::route(&companion.script, &State::default(), "ok", |o| {
            o.state.consent == Consent::Given
        }) {
            let input = if line.contains(':') {
                Input::Choice(line)
            } else {
                Input::Text(line)
            };
            store
                .apply(person, now, |s| companion.respond(s, &input, now))
                .await
                .unwrap();
        }
        let due = now - jiff::SignedDuration::from_mins(1);
        let date = schedule.local_date(due);
        store
            .set_checkin(person, &schedule, due, date, now)
            .await
            .unwrap();
    }
    store.close().await;

    // Every send fails (an outage longer than mend's retries), then the
    // process is killed with the check-ins claimed and unsent.
    for _ in 0..200 {
        fake.fail_next("POST /users/@me/channels", crate::fake::Fault::Status(503));
    }
    let mut first = spawn(dir.path(), &fake);
    until("every check-in to be tried", || {
        let tried: std::collections::HashSet<String> = fake
            .requests()
            .iter()
            .filter(|r| r.path.ends_with("/users/@me/channels") && r.faulted)
            .map(|r| r.body["recipient_id"].to_string())
            .collect();
        tried.len() == people.len()
    })
    .await;
    first.0.kill().unwrap();
    first.0.wait().unwrap();
    drop(first);
    let store = Store::open(&db, &StoreOptions::default(), &test_key())
        .await
        .unwrap();
    let mut owed = Vec::new();
    for person in &people {
        let unsent = store.unsent(person).await.unwrap();
        assert!(!unsent.is_empty(), "{person}'s check-in is kept");
        let setting = store.checkin(person).await.unwrap().unwrap();
        assert_eq!(setting.unanswered, 0, "not counted before it is sent");
        owed.push(
            unsent
                .iter()
                .map(|u| u.reply.text().to_owned())
                .collect::<Vec<_>>(),
        );
    }
    store.close().await;
    assert!(
        people
            .iter()
            .all(|p| bot_messages(&fake, dm(&fake, p)).is_empty()),
        "nothing reached anyone before the kill"
    );

    // Discord is back; after the restart each check-in arrives, once.
    fake.clear_faults();
    let _second = spawn(dir.path(), &fake);
    for (person, texts) in people.iter().zip(&owed) {
        until("the check-in after the restart", || {
            bot_messages(&fake, dm(&fake, person)).len() >= texts.len()
        })
        .await;
    }
    let store = Store::open(&db, &StoreOptions::default(), &test_key())
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + T;
    while !store.waiting().await.unwrap().is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the outbox kept a check-in"
        );
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    for (person, texts) in people.iter().zip(&owed) {
        let got: Vec<String> = bot_messages(&fake, dm(&fake, person))
            .iter()
            .map(|m| m["content"].as_str().unwrap_or_default().to_owned())
            .collect();
        assert_eq!(&got, texts, "{person} got their check-in once");
        let setting = store.checkin(person).await.unwrap().unwrap();
        assert_eq!(setting.unanswered, 1, "counted once, when delivered");
    }
    store.close().await;
}

fn dm(fake: &FakeDiscord, person: &str) -> u64 {
    fake.dm_channel_id(person.trim_start_matches("discord:").parse().unwrap())
}
