//! A day can hold more than one check-in: each is kept, exported and erased,
//! on a real SQLite file.

use jiff::Timestamp;
use mend::conversation::engine::{Consent, Input, Outcome};
use mend::privacy::ErasedBy;
use mend::store::Store;

use crate::helpers::{route, temp_store};
use crate::privacy::{at, companion, send};

/// Walks with the real engine until `goal`, answering questions with `answer`.
async fn walk(
    store: &Store,
    person: &str,
    answer: &str,
    now: Timestamp,
    goal: impl Fn(&Outcome) -> bool,
) {
    let state = store.state(person).await.unwrap();
    for line in route(&companion().script, &state, answer, goal) {
        let input = if line.contains(':') {
            Input::Choice(line)
        } else {
            Input::Text(line)
        };
        send(store, person, &input, now).await;
    }
}

fn daily(o: &Outcome, name: &str) -> Option<String> {
    o.state
        .answers
        .get(&("daily".to_owned(), name.to_owned()))
        .cloned()
}

/// One whole check-in: the scale pressed as `scale`, and `note` written.
async fn check_in(store: &Store, person: &str, scale: &str, note: &str, now: Timestamp) {
    send(store, person, &Input::Begin("daily".into()), now).await;
    walk(store, person, "-", now, |o| {
        daily(o, "scale").as_deref() == Some(scale)
    })
    .await;
    walk(store, person, note, now, |o| {
        daily(o, "note").as_deref() == Some(note)
    })
    .await;
}

#[tokio::test]
async fn two_check_ins_on_one_day_are_both_kept_exported_and_erased() {
    let (_dir, store) = temp_store().await;
    let person = "terminal:sam";
    let now = at(0);
    send(&store, person, &Input::Start, now).await;
    walk(&store, person, "-", now, |o| {
        o.state.consent == Consent::Given
    })
    .await;

    check_in(&store, person, "2", "a hard morning", now).await;
    let later = now + jiff::SignedDuration::from_hours(6);
    check_in(&store, person, "5", "we talked tonight", later).await;

    let export = store.export(person, later).await.unwrap().unwrap();
    let json = serde_json::to_value(&export).unwrap();
    let entries = json["checkin_days"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert_eq!(entries[0]["day"], entries[1]["day"], "one day");
    assert_eq!(
        (entries[0]["entry"].as_i64(), entries[1]["entry"].as_i64()),
        (Some(1), Some(2))
    );
    assert_eq!(entries[0]["scale"], 2);
    assert_eq!(entries[0]["note"], "a hard morning");
    assert_eq!(entries[1]["scale"], 5);
    assert_eq!(entries[1]["note"], "we talked tonight");
    assert_eq!(export.not_opened(), 0);

    // The chart and the progress view count the day once, at its lowest.
    let since = "2020-01-01".parse().unwrap();
    let days = store.checkin_days(person, since).await.unwrap();
    assert_eq!(days.len(), 1);
    assert_eq!(days[0].scale, Some(2));
    assert!(days[0].has_note);
    // The person's own notes, the most recent first.
    let notes = store.checkin_notes(person, since, 5).await.unwrap();
    let texts: Vec<&str> = notes.iter().map(|n| n.text.as_str()).collect();
    assert_eq!(texts, ["we talked tonight", "a hard morning"]);

    assert!(
        store
            .forget(person, ErasedBy::Person, later)
            .await
            .unwrap()
            .is_some()
    );
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM checkin_days")
        .fetch_one(&crate::helpers::raw(&store).await)
        .await
        .unwrap();
    assert_eq!(left, 0, "both check-ins erased");
}

#[tokio::test]
async fn a_day_kept_before_days_held_several_check_ins_is_its_first_and_still_opens() {
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mend.sqlite");
    let options = SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true)
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .unwrap();
    sqlx::migrate!("./migrations")
        .run_to(9, &pool)
        .await
        .unwrap();
    // A note sealed as mend sealed it when a day had one row.
    let cipher = crate::helpers::test_key().cipher();
    let field = mend::crypto::Field::CheckinNote {
        person: 1,
        day: "2027-01-15",
        entry: 1,
    };
    let note = cipher.seal(field, "kept from before");
    sqlx::query(
        "INSERT INTO people (id, external_id, consent, created_at, updated_at)
         VALUES (1, 'discord:1', 'given', 1, 1)",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO checkin_days (person_id, day, scale, action, note, answered_at)
         VALUES (1, '2027-01-15', 3, 'yes', ?, 1)",
    )
    .bind(note)
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;

    let store = crate::helpers::open_in(dir.path()).await;
    let export = store.export("discord:1", at(0)).await.unwrap().unwrap();
    let json = serde_json::to_value(&export).unwrap();
    let entries = json["checkin_days"].as_array().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["entry"], 1);
    assert_eq!(entries[0]["scale"], 3);
    assert_eq!(entries[0]["small_action"], "yes");
    assert_eq!(entries[0]["note"], "kept from before");
}
