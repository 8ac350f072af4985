//! Privacy on real SQLite files: what people typed is sealed at rest, the key
//! is checked, export gives back everything, erasure takes everything in one
//! go, retention expires the long silent, and keys rotate.

use jiff::{SignedDuration, Timestamp};
use mend::conversation::engine::{Companion, Consent, Input, Outcome};
use mend::crypto::{Cipher, DataKey};
use mend::privacy::ErasedBy;
use mend::safety::{CrisisReplies, Screen};
use mend::store::{Store, StoreError, StoreOptions};

use crate::helpers::{mend, open_in, route, run_mend, shipped, temp_store, test_key};

pub(crate) const ANSWER: &str = "ANSWER-words-only-I-typed";
pub(crate) const NOTE: &str = "NOTE-we-walked-by-the-river";
pub(crate) const DANGER: &str = "tonight I want to kill myself";

pub(crate) fn companion() -> Companion {
    Companion {
        script: shipped(),
        screen: Screen::embedded(),
        crisis: CrisisReplies::embedded(),
        cooldown: SignedDuration::from_mins(10),
    }
}

fn as_input(line: &str) -> Input {
    if line.contains(':') {
        Input::Choice(line.into())
    } else {
        Input::Text(line.into())
    }
}

pub(crate) async fn send(store: &Store, person: &str, input: &Input, now: Timestamp) -> Outcome {
    let companion = companion();
    store
        .apply(person, now, |s| companion.respond(s, input, now))
        .await
        .unwrap()
        .outcome
}

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
        send(store, person, &as_input(&line), now).await;
    }
}

/// A person with one of everything: consent, a written answer, a check-in
/// note and a crisis flag.
pub(crate) async fn person_with_everything(store: &Store, person: &str, now: Timestamp) {
    send(store, person, &Input::Start, now).await;
    walk(store, person, ANSWER, now, |o| {
        o.state.consent == Consent::Given
    })
    .await;
    walk(store, person, ANSWER, now, |o| {
        o.state.answers.values().any(|v| v == ANSWER)
    })
    .await;
    send(store, person, &Input::Begin("daily".into()), now).await;
    walk(store, person, NOTE, now, |o| {
        // The day's own line, not a small action written on the way.
        o.state
            .answers
            .get(&("daily".to_owned(), "note".to_owned()))
            .is_some_and(|v| v == NOTE)
    })
    .await;
    let crisis = send(store, person, &Input::Text(DANGER.into()), now).await;
    assert!(crisis.flag.is_some());
}

pub(crate) fn at(day: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000).unwrap() + SignedDuration::from_hours(24 * day)
}

/// Every byte of the database and its write-ahead log.
fn raw_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for name in ["mend.sqlite", "mend.sqlite-wal"] {
        if let Ok(more) = std::fs::read(dir.join(name)) {
            bytes.extend(more);
        }
    }
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn what_people_type_is_never_on_disk_in_the_clear() {
    let (dir, store) = temp_store().await;
    person_with_everything(&store, "discord:1", at(0)).await;
    let state = store.state("discord:1").await.unwrap();
    assert!(state.answers.values().any(|v| v == ANSWER), "opened again");
    let flag = &mend::flags::queries::active(&crate::helpers::raw(&store).await, store.cipher())
        .await
        .unwrap()[0];
    assert!(flag.excerpt.as_deref().unwrap().contains("kill myself"));

    let bytes = raw_bytes(dir.path());
    assert!(bytes.len() > 10_000, "the files were read");
    for typed in [ANSWER, NOTE, "kill myself"] {
        assert!(
            !contains(&bytes, typed),
            "{typed:?} is on disk in the clear"
        );
    }
    store.close().await;
}

#[tokio::test]
async fn a_wrong_key_is_refused_at_open_and_never_reads_garbage() {
    let (dir, store) = temp_store().await;
    person_with_everything(&store, "discord:1", at(0)).await;
    store.close().await;
    let path = dir.path().join("mend.sqlite");
    let err = Store::open(&path, &StoreOptions::default(), &DataKey::generate())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::WrongKey { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("mend.sqlite"), "{text}");
    assert!(text.contains("another key"), "{text}");
    // The right key still opens it, with nothing changed.
    let store = Store::open(&path, &StoreOptions::default(), &test_key())
        .await
        .unwrap();
    let state = store.state("discord:1").await.unwrap();
    assert!(state.answers.values().any(|v| v == ANSWER));
}

#[tokio::test]
async fn values_from_before_encryption_are_sealed_on_first_open() {
    let (dir, store) = temp_store().await;
    person_with_everything(&store, "discord:1", at(0)).await;
    // As a database from before encryption would be: plain values, no check.
    sqlx::query("UPDATE answers SET value = 'OLD-plain-answer'")
        .execute(&crate::helpers::raw(&store).await)
        .await
        .unwrap();
    sqlx::query("DELETE FROM keycheck")
        .execute(&crate::helpers::raw(&store).await)
        .await
        .unwrap();
    store.close().await;

    let path = dir.path().join("mend.sqlite");
    let store = Store::open(&path, &StoreOptions::default(), &test_key())
        .await
        .unwrap();
    let values: Vec<String> = sqlx::query_scalar("SELECT value FROM answers")
        .fetch_all(&crate::helpers::raw(&store).await)
        .await
        .unwrap();
    assert!(!values.is_empty());
    assert!(values.iter().all(|v| Cipher::is_sealed(v)), "{values:?}");
    let state = store.state("discord:1").await.unwrap();
    assert!(state.answers.values().all(|v| v == "OLD-plain-answer"));
}

#[tokio::test]
async fn the_export_holds_everything_opened_and_explains_itself() {
    let (_dir, store) = temp_store().await;
    person_with_everything(&store, "discord:1", at(0)).await;
    person_with_everything(&store, "discord:2", at(0)).await;
    let export = store.export("discord:1", at(1)).await.unwrap().unwrap();
    let json = serde_json::to_value(&export).unwrap();

    assert_eq!(json["person"]["id"], "discord:1");
    assert_eq!(json["person"]["consent"], "given");
    assert!(json["conversation"]["flow"].is_string());
    let answers = json["answers"].as_array().unwrap();
    assert!(answers.iter().any(|a| a["value"] == ANSWER), "{answers:?}");
    let days = json["checkin_days"].as_array().unwrap();
    assert_eq!(days.len(), 1);
    assert_eq!(days[0]["note"], NOTE);
    assert!(days[0]["scale"].is_i64());
    let flags = json["flags"].as_array().unwrap();
    assert_eq!(flags.len(), 1);
    assert!(
        flags[0]["excerpt"]
            .as_str()
            .unwrap()
            .contains("kill myself")
    );
    assert!(!json["events"].as_array().unwrap().is_empty());
    // The readme names every part of the file.
    for part in [
        "person",
        "conversation",
        "answers",
        "checkins",
        "checkin_days",
        "flags",
        "events",
    ] {
        assert!(json.get(part).is_some(), "no {part}");
        assert!(json["readme"][part].is_string(), "the readme misses {part}");
    }
    // Nobody else's data is in it.
    let text = json.to_string();
    assert!(!text.contains("discord:2"));
    assert!(store.export("discord:9", at(1)).await.unwrap().is_none());
}

async fn rows_about(store: &Store, person: &str) -> i64 {
    let id: Option<i64> = sqlx::query_scalar("SELECT id FROM people WHERE external_id = ?")
        .bind(person)
        .fetch_optional(&crate::helpers::raw(store).await)
        .await
        .unwrap();
    let Some(id) = id else { return 0 };
    let mut total = 1;
    for sql in [
        "SELECT COUNT(*) FROM conversations WHERE person_id = ?",
        "SELECT COUNT(*) FROM answers WHERE person_id = ?",
        "SELECT COUNT(*) FROM events WHERE person_id = ?",
        "SELECT COUNT(*) FROM checkin_days WHERE person_id = ?",
        "SELECT COUNT(*) FROM checkins WHERE person_id = ?",
        "SELECT COUNT(*) FROM flags WHERE person_id = ?",
    ] {
        let n: i64 = sqlx::query_scalar(sql)
            .bind(id)
            .fetch_one(&crate::helpers::raw(store).await)
            .await
            .unwrap();
        total += n;
    }
    total
}

#[tokio::test]
async fn forgetting_erases_one_person_entirely_and_audits_only_a_hash() {
    let (_dir, store) = temp_store().await;
    person_with_everything(&store, "discord:1", at(0)).await;
    person_with_everything(&store, "discord:2", at(0)).await;
    assert!(rows_about(&store, "discord:1").await > 5);
    let kept = rows_about(&store, "discord:2").await;

    let erased = store
        .forget("discord:1", ErasedBy::Person, at(1))
        .await
        .unwrap();
    assert!(erased.is_some());
    assert_eq!(rows_about(&store, "discord:1").await, 0);
    assert_eq!(
        rows_about(&store, "discord:2").await,
        kept,
        "others untouched"
    );
    assert!(store.export("discord:1", at(1)).await.unwrap().is_none());
    assert_eq!(
        store.state("discord:1").await.unwrap(),
        Default::default(),
        "they would start afresh"
    );

    let audit: Vec<(String, String, Option<String>)> =
        sqlx::query_as("SELECT actor, action, detail FROM audit WHERE action = 'erased'")
            .fetch_all(&crate::helpers::raw(&store).await)
            .await
            .unwrap();
    assert_eq!(audit.len(), 1);
    let (actor, _, detail) = &audit[0];
    assert_eq!(actor, "person");
    let detail = detail.as_deref().unwrap();
    assert!(
        !detail.contains("discord:1") && !detail.contains(":1"),
        "{detail}"
    );
    assert!(detail.contains(&store.cipher().person_hash("discord:1")));

    // Forgetting someone mend does not know is a no, not an error.
    assert!(
        store
            .forget("discord:1", ErasedBy::Person, at(2))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn retention_erases_the_long_silent_but_not_while_a_flag_is_open() {
    let (_dir, store) = temp_store().await;
    // Quiet for a year, no open flag: expires.
    send(&store, "discord:old", &Input::Start, at(0)).await;
    // Quiet for a year, but moderators are still handling a flag: kept.
    person_with_everything(&store, "discord:flagged", at(0)).await;
    // Seen recently: kept.
    send(&store, "discord:recent", &Input::Start, at(0)).await;
    send(
        &store,
        "discord:recent",
        &Input::Text("hello".into()),
        at(360),
    )
    .await;

    let cutoff = at(365) - SignedDuration::from_hours(24 * 30);
    let erased = store.expire_inactive(cutoff, at(365)).await.unwrap();
    assert_eq!(erased.len(), 1);
    assert_eq!(rows_about(&store, "discord:old").await, 0);
    assert!(rows_about(&store, "discord:flagged").await > 0);
    assert!(rows_about(&store, "discord:recent").await > 0);
    let actors: Vec<String> = sqlx::query_scalar("SELECT actor FROM audit WHERE action = 'erased'")
        .fetch_all(&crate::helpers::raw(&store).await)
        .await
        .unwrap();
    assert_eq!(actors, ["retention"]);
    // Running again finds nothing more.
    assert!(
        store
            .expire_inactive(cutoff, at(366))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn rotating_the_key_reseals_everything_in_one_go() {
    let (dir, store) = temp_store().await;
    person_with_everything(&store, "discord:1", at(0)).await;
    let before = store.export("discord:1", at(1)).await.unwrap().unwrap();
    let new = DataKey::generate();
    let path = dir.path().join("mend.sqlite");
    let count = store.rotate_key(&new, &path).await.unwrap();
    assert!(count >= 3, "answers, a note and an excerpt: {count}");
    store.close().await;

    let old = Store::open(&path, &StoreOptions::default(), &test_key()).await;
    assert!(matches!(old, Err(StoreError::WrongKey { .. })));
    let store = Store::open(&path, &StoreOptions::default(), &new)
        .await
        .unwrap();
    let after = store.export("discord:1", at(1)).await.unwrap().unwrap();
    let strip = |e: &mend::privacy::Export| {
        let mut json = serde_json::to_value(e).unwrap();
        json["exported_at"] = serde_json::Value::Null;
        json
    };
    assert_eq!(strip(&before), strip(&after));
}

#[cfg(unix)]
#[test]
fn the_terminal_makes_an_owner_only_key_and_operators_can_export_and_forget() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let mut chat = mend(dir.path());
    chat.args(["chat", "--json"]).env_remove("MEND_DATA_KEY");
    let (status, _, stderr) = run_mend(chat, "1\n");
    assert!(status.success(), "{stderr}");
    let key_file = dir.path().join("mend.sqlite.key");
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    // The operator's export: the same JSON, by the person's full id.
    let mut export = mend(dir.path());
    export
        .args(["export", "--user", "terminal:you"])
        .env_remove("MEND_DATA_KEY");
    let (status, stdout, stderr) = run_mend(export, "");
    assert!(status.success(), "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["person"]["id"], "terminal:you");

    // A bad id, a missing database and a wrong key are each clear errors.
    let mut bad = mend(dir.path());
    bad.args(["export", "--user", "someone"]);
    let (status, _, stderr) = run_mend(bad, "");
    assert!(!status.success());
    assert!(stderr.contains("Discord user id"), "{stderr}");
    let mut missing = mend(dir.path());
    missing.args(["export", "--user", "1", "--db", "nowhere.sqlite"]);
    let (status, _, stderr) = run_mend(missing, "");
    assert!(!status.success());
    assert!(stderr.contains("no database at nowhere.sqlite"), "{stderr}");
    let mut wrong = mend(dir.path());
    wrong
        .args(["export", "--user", "terminal:you"])
        .env("MEND_DATA_KEY", "ab".repeat(32));
    let (status, stdout, stderr) = run_mend(wrong, "");
    assert!(!status.success());
    assert!(stdout.is_empty());
    assert!(stderr.contains("does not match"), "{stderr}");
    let mut malformed = mend(dir.path());
    malformed
        .args(["export", "--user", "terminal:you"])
        .env("MEND_DATA_KEY", "not-a-key");
    let (status, _, stderr) = run_mend(malformed, "");
    assert!(!status.success());
    assert!(stderr.contains("MEND_DATA_KEY"), "{stderr}");
    assert!(!stderr.contains("not-a-key"), "the key is never echoed");

    // Rotation moves the database and the key file to the new key.
    let new = DataKey::generate().to_hex().to_string();
    let mut rotate = mend(dir.path());
    rotate
        .args(["rotate-key"])
        .env_remove("MEND_DATA_KEY")
        .env("MEND_NEW_DATA_KEY", &new);
    let (status, stdout, stderr) = run_mend(rotate, "");
    assert!(status.success(), "{stderr}");
    assert!(stdout.contains("Re-sealed"), "{stdout}");
    assert_eq!(std::fs::read_to_string(&key_file).unwrap().trim(), new);

    let mut forget = mend(dir.path());
    forget
        .args(["forget", "--user", "terminal:you"])
        .env_remove("MEND_DATA_KEY");
    let (status, stdout, stderr) = run_mend(forget, "");
    assert!(status.success(), "{stderr}");
    assert!(stdout.contains("Erased everything"), "{stdout}");
    let mut again = mend(dir.path());
    again
        .args(["export", "--user", "terminal:you"])
        .env_remove("MEND_DATA_KEY");
    let (status, stdout, stderr) = run_mend(again, "");
    assert!(status.success());
    assert!(stdout.is_empty());
    assert!(stderr.contains("holds nothing"), "{stderr}");
}

#[test]
fn a_database_whose_key_file_is_gone_is_not_given_a_new_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut chat = mend(dir.path());
    chat.args(["chat", "--json"]).env_remove("MEND_DATA_KEY");
    let (status, _, stderr) = run_mend(chat, "1\n");
    assert!(status.success(), "{stderr}");
    std::fs::remove_file(dir.path().join("mend.sqlite.key")).unwrap();

    let mut chat = mend(dir.path());
    chat.args(["chat", "--json"]).env_remove("MEND_DATA_KEY");
    let (status, stdout, stderr) = run_mend(chat, "1\n");
    assert!(!status.success());
    assert!(
        stdout.is_empty(),
        "nothing said on a database it cannot read"
    );
    assert!(stderr.contains("mend.sqlite.key"), "{stderr}");
    assert!(!dir.path().join("mend.sqlite.key").exists());
}

#[test]
fn new_key_prints_a_fresh_key_each_time() {
    let dir = tempfile::tempdir().unwrap();
    let (_, first, _) = run_mend(
        {
            let mut c = mend(dir.path());
            c.arg("new-key");
            c
        },
        "",
    );
    let (_, second, _) = run_mend(
        {
            let mut c = mend(dir.path());
            c.arg("new-key");
            c
        },
        "",
    );
    assert_eq!(first.trim().len(), 64);
    assert!(DataKey::parse(&first, "stdout").is_ok());
    assert_ne!(first, second);
}

#[tokio::test]
async fn old_event_ids_are_pruned_and_recent_ones_still_stop_a_redelivery() {
    let (_dir, store) = temp_store().await;
    let companion = companion();
    for (key, day) in [("message:1", 0), ("message:2", 9)] {
        let now = at(day);
        let applied = store
            .apply_once("discord:1", key, now, |s| {
                companion.respond(s, &Input::Start, now)
            })
            .await
            .unwrap();
        assert!(applied.is_some());
    }
    assert_eq!(store.prune_processed(at(3)).await.unwrap(), 1);
    let again = store
        .apply_once("discord:1", "message:2", at(9), |s| {
            companion.respond(s, &Input::Start, at(9))
        })
        .await
        .unwrap();
    assert!(again.is_none(), "a recent id still stops a redelivery");
}

#[test]
fn mend_flags_lists_what_moderators_have_not_finished_with() {
    let dir = tempfile::tempdir().unwrap();
    let mut chat = mend(dir.path());
    chat.args(["chat", "--json"]).env_remove("MEND_DATA_KEY");
    let (status, _, stderr) = run_mend(chat, &format!("{DANGER}\n"));
    assert!(status.success(), "{stderr}");

    let mut flags = mend(dir.path());
    flags.arg("flags").env_remove("MEND_DATA_KEY");
    let (status, stdout, stderr) = run_mend(flags, "");
    assert!(status.success(), "{stderr}");
    assert!(stdout.starts_with("#1 open"), "{stdout}");
    assert!(stdout.contains("suicide"), "{stdout}");
    assert!(stdout.contains("terminal:you"), "{stdout}");
    assert!(
        stdout.contains("kill myself"),
        "the excerpt, opened: {stdout}"
    );
}

#[tokio::test]
async fn withdrawing_consent_clears_answers_at_once_and_offers_copy_and_erasure() {
    let (_dir, store) = temp_store().await;
    person_with_everything(&store, "discord:1", at(0)).await;
    let before = store.state("discord:1").await.unwrap();
    assert!(!before.answers.is_empty());

    let lines = route(&companion().script, &before, ANSWER, |o| {
        o.state.consent == Consent::Declined
    });
    let (last, path) = lines.split_last().unwrap();
    for line in path {
        send(&store, "discord:1", &as_input(line), at(1)).await;
    }
    let outcome = send(&store, "discord:1", &as_input(last), at(1)).await;
    let said: Vec<&str> = outcome.replies.iter().map(|r| r.text()).collect();
    assert!(
        said[0].contains("/export") && said[0].contains("/forget"),
        "{said:?}"
    );
    let after = store.state("discord:1").await.unwrap();
    assert!(after.answers.is_empty());
    assert_eq!(after.situation, None);
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM answers")
        .fetch_one(&crate::helpers::raw(&store).await)
        .await
        .unwrap();
    assert_eq!(stored, 0, "gone from the database in the same step");

    // Someone who never agreed is not told about a withdrawal.
    send(&store, "discord:2", &Input::Start, at(0)).await;
    let fresh = store.state("discord:2").await.unwrap();
    let lines = route(&companion().script, &fresh, ANSWER, |o| {
        o.state.consent == Consent::Declined
    });
    let mut last_replies = Vec::new();
    for line in &lines {
        last_replies = send(&store, "discord:2", &as_input(line), at(0))
            .await
            .replies;
    }
    assert!(
        last_replies.iter().all(|r| !r.text().contains("/forget")),
        "{last_replies:?}"
    );
}

#[test]
fn mend_chat_keeps_the_retention_schedule_too() {
    let dir = tempfile::tempdir().unwrap();
    let now = Timestamp::now();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = open_in(dir.path()).await;
        let long_ago = now - SignedDuration::from_hours(24 * 400);
        send(&store, "terminal:gone-quiet", &Input::Start, long_ago).await;
        let lately = now - SignedDuration::from_hours(24 * 2);
        send(&store, "terminal:lately", &Input::Start, lately).await;
        store.close().await;
    });
    std::fs::write(
        dir.path().join("config.toml"),
        "[privacy]\ninactive_days = 30\n",
    )
    .unwrap();
    let mut chat = mend(dir.path());
    chat.args(["chat", "--as", "someone-else"])
        .env("MEND_DATA_KEY", "5a".repeat(32));
    let (status, _, stderr) = run_mend(chat, "");
    assert!(status.success(), "{stderr}");
    runtime.block_on(async {
        let store = open_in(dir.path()).await;
        assert_eq!(rows_about(&store, "terminal:gone-quiet").await, 0);
        assert!(rows_about(&store, "terminal:lately").await > 0);
        store.close().await;
    });
}
