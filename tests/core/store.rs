//! Storage on real SQLite files: every query, consent, atomicity, resuming.

use jiff::Timestamp;
use mend::conversation::engine::{self, Consent, Input, State};
use mend::flows::Situation;
use mend::store::{Store, StoreOptions};

use crate::helpers::{inputs_at, route, shipped, temp_store, test_key};

const SECRET: &str = "the thing I have never told anyone";

async fn count(store: &Store, table: &str) -> i64 {
    let sql = match table {
        "answers" => "SELECT COUNT(*) FROM answers",
        "people" => "SELECT COUNT(*) FROM people",
        "conversations" => "SELECT COUNT(*) FROM conversations",
        "events" => "SELECT COUNT(*) FROM events",
        other => panic!("no table {other}"),
    };
    sqlx::query_scalar(sql)
        .fetch_one(&crate::helpers::raw(store).await)
        .await
        .unwrap()
}

async fn send(store: &Store, person: &str, input: Input) -> engine::Outcome {
    let script = shipped();
    store
        .apply(person, Timestamp::now(), |state| {
            engine::handle(&script, state, &input)
        })
        .await
        .unwrap()
        .outcome
}

fn as_input(line: &str) -> Input {
    if line.contains(':') {
        Input::Choice(line.into())
    } else {
        Input::Text(line.into())
    }
}

/// Drives a person through the store until `goal`, returning their state.
async fn drive(store: &Store, person: &str, goal: impl Fn(&engine::Outcome) -> bool) -> State {
    let script = shipped();
    let state = store.state(person).await.unwrap();
    for line in route(&script, &state, SECRET, goal) {
        send(store, person, as_input(&line)).await;
    }
    store.state(person).await.unwrap()
}

#[tokio::test]
async fn state_round_trips_through_every_table() {
    let (_dir, store) = temp_store().await;
    send(&store, "terminal:a", Input::Start).await;
    let state = drive(&store, "terminal:a", |o| o.state.consent == Consent::Given).await;
    assert_eq!(state.consent, Consent::Given);
    let state = drive(&store, "terminal:a", |o| {
        o.state.situation == Some(Situation::Caused)
    })
    .await;
    assert_eq!(state.situation, Some(Situation::Caused));
    send(&store, "terminal:a", Input::Begin("small-actions".into())).await;
    let state = drive(&store, "terminal:a", |o| !o.state.answers.is_empty()).await;
    assert_eq!(
        state.answers.values().next().map(String::as_str),
        Some(SECRET)
    );
    // The small action is the person's own as well: a fact, in the same table.
    assert_eq!(
        state.facts.get("small_action").map(String::as_str),
        Some(SECRET)
    );
    assert_eq!(count(&store, "answers").await, 2);
    assert_eq!(count(&store, "people").await, 1);
    assert_eq!(count(&store, "conversations").await, 1);
    let kinds = store.event_kinds("terminal:a").await.unwrap();
    for kind in [
        "flow_started",
        "consent_given",
        "situation_chosen",
        "answer_saved",
    ] {
        assert!(
            kinds.iter().any(|k| k == kind),
            "no {kind} event in {kinds:?}"
        );
    }
    let paused = send(&store, "terminal:a", Input::Text("pause".into())).await;
    assert!(paused.state.paused);
    assert!(store.state("terminal:a").await.unwrap().paused);
}

#[tokio::test]
async fn nothing_written_is_stored_without_consent() {
    let (_dir, store) = temp_store().await;
    send(&store, "terminal:b", Input::Start).await;
    drive(&store, "terminal:b", |o| {
        o.state.consent == Consent::Declined
    })
    .await;
    // Their situation is not kept either, whatever they press.
    let script = shipped();
    for line in inputs_at(&script, &store.state("terminal:b").await.unwrap(), SECRET) {
        send(&store, "terminal:b", as_input(&line)).await;
    }
    send(&store, "terminal:b", Input::Begin("small-actions".into())).await;
    for _ in 0..12 {
        let state = store.state("terminal:b").await.unwrap();
        let line = inputs_at(&script, &state, SECRET).pop().unwrap();
        send(&store, "terminal:b", as_input(&line)).await;
    }
    assert_eq!(count(&store, "answers").await, 0);
    let state = store.state("terminal:b").await.unwrap();
    assert_eq!(state.situation, None);
    let kinds = store.event_kinds("terminal:b").await.unwrap();
    assert!(kinds.iter().any(|k| k == "answer_not_kept"), "{kinds:?}");

    // No column anywhere holds what they wrote.
    let dump: Vec<(String,)> = sqlx::query_as(
        "SELECT external_id || consent || coalesce(situation, '') FROM people
         UNION ALL SELECT flow || step FROM conversations
         UNION ALL SELECT kind || coalesce(flow, '') FROM events",
    )
    .fetch_all(&crate::helpers::raw(&store).await)
    .await
    .unwrap();
    assert!(dump.iter().all(|(row,)| !row.contains(SECRET)));
}

#[tokio::test]
async fn a_failed_write_leaves_nothing_behind() {
    let (_dir, store) = temp_store().await;
    send(&store, "terminal:c", Input::Start).await;
    let before = store.state("terminal:c").await.unwrap();
    let events_before = count(&store, "events").await;
    sqlx::query(
        "CREATE TRIGGER no_events BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'disk full'); END",
    )
    .execute(&crate::helpers::raw(&store).await)
    .await
    .unwrap();
    let script = shipped();
    let line = inputs_at(&script, &before, SECRET).remove(0);
    let result = store
        .apply("terminal:c", Timestamp::now(), |state| {
            engine::handle(&script, state, &as_input(&line))
        })
        .await;
    assert!(result.is_err());
    assert_eq!(store.state("terminal:c").await.unwrap(), before);
    assert_eq!(count(&store, "events").await, events_before);

    // A stranger's failed first message does not even create them.
    let result = store
        .apply("terminal:new", Timestamp::now(), |state| {
            engine::handle(&script, state, &Input::Start)
        })
        .await;
    assert!(result.is_err());
    assert_eq!(count(&store, "people").await, 1);
}

#[tokio::test]
async fn a_reopened_database_resumes_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mend.sqlite");
    let store = Store::open(&path, &StoreOptions::default(), &test_key())
        .await
        .unwrap();
    send(&store, "terminal:d", Input::Start).await;
    let state = drive(&store, "terminal:d", |o| o.state.consent == Consent::Given).await;
    store.close().await;

    let store = Store::open(&path, &StoreOptions::default(), &test_key())
        .await
        .unwrap();
    assert_eq!(store.state("terminal:d").await.unwrap(), state);
    let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&crate::helpers::raw(&store).await)
        .await
        .unwrap();
    assert_eq!(journal, "wal");
    let foreign_keys: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(&crate::helpers::raw(&store).await)
        .await
        .unwrap();
    assert_eq!(foreign_keys, 1);
}

#[tokio::test]
async fn many_inputs_at_once_are_all_applied() {
    let (_dir, store) = temp_store().await;
    let mut tasks = Vec::new();
    for i in 0..40 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let person = format!("terminal:p{}", i % 8);
            send(&store, &person, Input::Text("help".into())).await;
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(count(&store, "people").await, 8);
    // Each person's first message meets the welcome; later ones get help.
    for i in 0..8 {
        let kinds = store.event_kinds(&format!("terminal:p{i}")).await.unwrap();
        assert_eq!(kinds.iter().filter(|k| *k == "flow_started").count(), 1);
    }
}

#[tokio::test]
async fn replies_wait_in_the_outbox_sealed_until_sent_and_go_with_the_person() {
    let (dir, store) = temp_store().await;
    let script = shipped();
    let now = Timestamp::now();
    let person = "discord:42";
    let apply = |key: &'static str, input: Input| {
        let script = script.clone();
        let store = store.clone();
        async move {
            store
                .apply_once_to(person, key, "9001", now, |state| {
                    engine::handle(&script, state, &input)
                })
                .await
                .unwrap()
                .expect("applied")
        }
    };
    let first = apply("message:1", Input::Text("hello".into())).await;
    assert!(!first.unsent_before);

    // Kept in order, with their choices, until sent.
    let unsent = store.unsent(person).await.unwrap();
    assert_eq!(unsent.len(), first.outcome.replies.len());
    for (position, (kept, reply)) in unsent.iter().zip(&first.outcome.replies).enumerate() {
        assert_eq!(kept.reply, *reply);
        assert_eq!(
            (kept.event_key.as_str(), kept.address.as_str()),
            ("message:1", "9001")
        );
        assert_eq!(kept.position, position);
    }
    // Sealed: a reply's words are not in the file.
    store.close().await;
    let raw = std::fs::read(dir.path().join("mend.sqlite")).unwrap();
    let wal = std::fs::read(dir.path().join("mend.sqlite-wal")).unwrap_or_default();
    let words = &first.outcome.replies[0].text()[..40];
    for bytes in [&raw, &wal] {
        assert!(
            !bytes.windows(words.len()).any(|w| w == words.as_bytes()),
            "a reply's words are in the database file"
        );
    }
    let store = crate::helpers::open_in(dir.path()).await;

    // The next turn learns that an earlier one is still unsent.
    let second = store
        .apply_once_to(person, "message:2", "9001", now, |state| {
            engine::handle(&script, state, &Input::Text("help".into()))
        })
        .await
        .unwrap()
        .unwrap();
    assert!(second.unsent_before);
    assert_eq!(store.waiting().await.unwrap(), [person]);
    store.sent("message:1").await.unwrap();
    let left = store.unsent(person).await.unwrap();
    assert!(left.iter().all(|u| u.event_key == "message:2"));

    // Erasing the person erases what waits for them.
    store
        .forget(person, mend::privacy::ErasedBy::Person, now)
        .await
        .unwrap();
    assert!(store.waiting().await.unwrap().is_empty());
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
        .fetch_one(&crate::helpers::raw(&store).await)
        .await
        .unwrap();
    assert_eq!(rows, 0);
}

/// A person's unsent replies as (event, position, reply).
async fn unsent(store: &Store, person: &str) -> Vec<(String, usize, mend::referrals::Reply)> {
    store
        .unsent(person)
        .await
        .unwrap()
        .into_iter()
        .map(|u| (u.event_key, u.position, u.reply))
        .collect()
}

#[tokio::test]
async fn replies_waiting_to_be_sent_survive_a_key_rotation() {
    let (dir, store) = temp_store().await;
    let script = shipped();
    let now = Timestamp::now();
    store
        .apply_once_to("discord:7", "message:1", "9001", now, |state| {
            engine::handle(&script, state, &Input::Text("hello".into()))
        })
        .await
        .unwrap()
        .unwrap();
    let before = unsent(&store, "discord:7").await;
    assert!(!before.is_empty());
    let new = mend::crypto::DataKey::generate();
    let path = dir.path().join("mend.sqlite");
    store.rotate_key(&new, &path).await.unwrap();
    store.close().await;

    let store = Store::open(&path, &StoreOptions::default(), &new)
        .await
        .unwrap();
    let after = unsent(&store, "discord:7").await;
    assert_eq!(after, before);
}

#[tokio::test]
async fn a_kept_crisis_flag_is_written_once_and_keeps_the_time_it_was_raised() {
    use mend::flags::pending::{PendingFlag, PendingFlags};
    let (_dir, store) = temp_store().await;
    let hit = mend::safety::Screen::embedded()
        .screen("I want to kill myself")
        .unwrap();
    let at = Timestamp::from_second(1_800_000_000).unwrap();
    let pending = PendingFlags::new();
    pending.push(PendingFlag {
        person: "terminal:kim".into(),
        hit: hit.clone(),
        asked: false,
        at,
    });
    let written = pending.retry(&store).await;
    assert_eq!(written.len(), 1);
    assert!(written[0].new);
    assert!(pending.is_empty());
    assert!(pending.retry(&store).await.is_empty(), "written once");
    let active = mend::flags::queries::active(&crate::helpers::raw(&store).await, store.cipher())
        .await
        .unwrap();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0].person, "terminal:kim");
    assert_eq!(active[0].excerpt.as_deref(), Some(hit.excerpt.as_str()));
    assert_eq!(active[0].created_at, at);
}

/// A check-in setting chosen from the menu takes effect in the turn's own
/// transaction: once the turn is applied it holds, with nothing left for
/// the edge to do afterwards that a crash could lose.
#[tokio::test]
async fn a_menu_setting_commits_with_the_turn_that_chose_it() {
    let (_dir, store) = temp_store().await;
    let script = shipped();
    let person = "discord:5";
    drive(&store, person, |o| o.state.consent == Consent::Given).await;
    let now = Timestamp::now();
    let schedule = mend::checkins::Schedule::new("09:00", "Europe/London").unwrap();
    let (due, date) = schedule.next_after(now);
    store
        .set_checkin(person, &schedule, due, date, now)
        .await
        .unwrap();

    let state = store.state(person).await.unwrap();
    let lines = route(&script, &state, SECRET, |o| {
        o.tasks.contains(&engine::Task::CheckinOff)
    });
    assert!(
        !lines.is_empty(),
        "the menu has a way to turn check-ins off"
    );
    let mut last = None;
    for (i, line) in lines.iter().enumerate() {
        let input = as_input(line);
        last = store
            .apply_once_to(person, &format!("event:{i}"), "1", now, |state| {
                engine::handle(&script, state, &input)
            })
            .await
            .unwrap();
    }
    let applied = last.unwrap();
    assert_eq!(
        applied.tools,
        [mend::checkins::ToolDone::Off { was_on: true }]
    );
    let setting = store.checkin(person).await.unwrap().unwrap();
    assert!(!setting.active, "off as soon as the turn is applied");
}
