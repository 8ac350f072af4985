//! Sealed values are bound to their rows, and ids are never reused, on real
//! SQLite files: a value swapped into another row does not open, and export,
//! the operator's commands and a conversation say so and carry on; a database
//! in the first sealing format is re-sealed once, at open; erased ids never
//! come back.

use base64::Engine as _;
use chacha20poly1305::XChaCha20Poly1305;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use serde_json::Value;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{AssertSqlSafe, SqlitePool};

use mend::conversation::engine::Input;
use mend::crypto::{Cipher, DataKey};
use mend::privacy::ErasedBy;
use mend::store::{Store, StoreOptions};

use crate::helpers::{mend, run_mend, temp_store, test_key};
use crate::privacy::{ANSWER, DANGER, NOTE, at, person_with_everything, send};

async fn person_id(pool: &SqlitePool, external: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM people WHERE external_id = ?")
        .bind(external)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn flag_of(pool: &SqlitePool, person: i64) -> i64 {
    sqlx::query_scalar("SELECT id FROM flags WHERE person_id = ?")
        .bind(person)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// A person with a crisis flag: (their id, the flag's id).
async fn flagged(store: &Store, external: &str) -> (i64, i64) {
    let raised = send(store, external, &Input::Text(DANGER.into()), at(0)).await;
    assert!(raised.flag.is_some());
    let person = person_id(&crate::helpers::raw(store).await, external).await;
    (
        person,
        flag_of(&crate::helpers::raw(store).await, person).await,
    )
}

#[tokio::test]
async fn an_erased_persons_ids_are_never_handed_out_again() {
    let (_dir, store) = temp_store().await;
    let (mut person, mut flag) = flagged(&store, "discord:1").await;
    for (last, next) in [("discord:1", "discord:2"), ("discord:2", "discord:3")] {
        // The newest person is erased, so their id is the highest in use:
        // exactly the one SQLite would hand out again without AUTOINCREMENT.
        store
            .forget(last, ErasedBy::Person, at(0))
            .await
            .unwrap()
            .unwrap();
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM people")
            .fetch_one(&crate::helpers::raw(&store).await)
            .await
            .unwrap();
        assert_eq!(count, 0);
        let (new_person, new_flag) = flagged(&store, next).await;
        assert!(new_person > person, "person {new_person} after {person}");
        assert!(new_flag > flag, "flag {new_flag} after {flag}");
        (person, flag) = (new_person, new_flag);
    }
}

/// Swaps the stored `column` of two rows of `table`, by rowid.
async fn swap(pool: &SqlitePool, table: &str, column: &str, a: i64, b: i64) {
    let mut tx = pool.begin().await.unwrap();
    let read = format!("SELECT {column} FROM {table} WHERE rowid = ?");
    let first: String = sqlx::query_scalar(AssertSqlSafe(read.clone()))
        .bind(a)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    let second: String = sqlx::query_scalar(AssertSqlSafe(read.clone()))
        .bind(b)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_ne!(first, second);
    let write = format!("UPDATE {table} SET {column} = ? WHERE rowid = ?");
    for (value, row) in [(second, a), (first, b)] {
        sqlx::query(AssertSqlSafe(write.clone()))
            .bind(value)
            .bind(row)
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
}

/// The rowid of a person's answer to (flow, name).
async fn answer_row(pool: &SqlitePool, person: i64, flow: &str, name: &str) -> i64 {
    sqlx::query_scalar("SELECT rowid FROM answers WHERE person_id = ? AND flow = ? AND name = ?")
        .bind(person)
        .bind(flow)
        .bind(name)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// The (flow, name) of the answer whose opened value is `value`.
async fn key_of(store: &Store, external: &str, value: &str) -> (String, String) {
    let state = store.state(external).await.unwrap();
    state
        .answers
        .iter()
        .find(|(_, v)| v.as_str() == value)
        .map(|(key, _)| key.clone())
        .unwrap_or_else(|| panic!("no answer {value:?}"))
}

fn not_opened(value: &Value) -> bool {
    value["not_opened"]
        .as_str()
        .is_some_and(|why| why.contains("could not open"))
}

#[tokio::test]
async fn values_swapped_between_rows_do_not_open_and_export_and_the_conversation_go_on() {
    let (dir, store) = temp_store().await;
    person_with_everything(&store, "discord:1", at(0)).await;
    person_with_everything(&store, "discord:2", at(0)).await;
    let pool = crate::helpers::raw(&store).await;
    let one = person_id(&pool, "discord:1").await;
    let two = person_id(&pool, "discord:2").await;

    // The same person's two answers, swapped.
    let written = key_of(&store, "discord:1", ANSWER).await;
    let noted = key_of(&store, "discord:1", NOTE).await;
    let a = answer_row(&pool, one, &written.0, &written.1).await;
    let b = answer_row(&pool, one, &noted.0, &noted.1).await;
    swap(&pool, "answers", "value", a, b).await;
    // The same answer of two people, swapped.
    let c = answer_row(&pool, one, "daily", "scale").await;
    let d = answer_row(&pool, two, "daily", "scale").await;
    swap(&pool, "answers", "value", c, d).await;
    // Two people's flag excerpts, swapped.
    let (f1, f2) = (flag_of(&pool, one).await, flag_of(&pool, two).await);
    swap(&pool, "flags", "excerpt", f1, f2).await;

    // The export marks each value that did not open, and holds the rest.
    let export = store.export("discord:1", at(1)).await.unwrap().unwrap();
    assert_eq!(export.not_opened(), 4);
    let json = serde_json::to_value(&export).unwrap();
    let answers = json["answers"].as_array().unwrap();
    let value_of = |flow: &str, name: &str| {
        answers
            .iter()
            .find(|a| a["flow"] == flow && a["name"] == name)
            .map(|a| a["value"].clone())
            .unwrap()
    };
    for (flow, name) in [&written, &noted] {
        assert!(not_opened(&value_of(flow, name)), "{answers:?}");
    }
    assert!(not_opened(&value_of("daily", "scale")), "{answers:?}");
    let rest = answers.iter().filter(|a| a["value"].is_string()).count();
    assert_eq!(
        rest,
        answers.len() - 3,
        "the other answers open: {answers:?}"
    );
    assert_eq!(json["checkin_days"][0]["note"], NOTE);
    assert!(not_opened(&json["flags"][0]["excerpt"]), "{json}");
    assert!(!json.to_string().contains(ANSWER), "{json}");
    assert!(json["readme"]["not_opened"].is_string());

    // The moderators still get both flags, the excerpts marked.
    let active = mend::flags::queries::active(&pool, store.cipher())
        .await
        .unwrap();
    assert_eq!(active.len(), 2);
    for flag in &active {
        assert_eq!(flag.excerpt.as_deref(), Some(mend::store::NOT_OPENED));
    }

    // The operator's export, the real binary: it succeeds and says so.
    let mut command = mend(dir.path());
    command
        .args(["export", "--user", "discord:1"])
        .env("MEND_DATA_KEY", test_key().to_hex());
    let (status, stdout, stderr) = run_mend(command, "");
    assert!(status.success(), "{stderr}");
    assert!(
        stderr.contains("4 sealed value(s) did not open"),
        "{stderr}"
    );
    let cli: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(cli["answers"], json["answers"]);
    assert_eq!(cli["checkin_days"], json["checkin_days"]);

    // The conversation goes on: the person is told once, and what did not
    // open is set aside.
    let menu = mend::conversation::engine::Input::Begin("menu".into());
    let companion = crate::privacy::companion();
    let applied = store
        .apply("discord:1", at(2), |s| companion.respond(s, &menu, at(2)))
        .await
        .unwrap();
    assert_eq!(applied.set_aside, 3);
    assert!(!applied.outcome.replies.is_empty());
    let again = store
        .apply("discord:1", at(2), |s| companion.respond(s, &menu, at(2)))
        .await
        .unwrap();
    assert_eq!(again.set_aside, 0);
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM answers WHERE person_id = ?")
        .bind(one)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(left as usize, answers.len() - 3);
    store.close().await;
}

#[tokio::test]
async fn a_rotated_key_keeps_values_bound_to_their_rows() {
    let (dir, store) = temp_store().await;
    person_with_everything(&store, "discord:1", at(0)).await;
    let new = DataKey::generate();
    let path = dir.path().join("mend.sqlite");
    store.rotate_key(&new, &path).await.unwrap();
    store.close().await;
    let store = Store::open(&path, &StoreOptions::default(), &new)
        .await
        .unwrap();
    let pool = crate::helpers::raw(&store).await;
    let one = person_id(&pool, "discord:1").await;
    let written = key_of(&store, "discord:1", ANSWER).await;
    let noted = key_of(&store, "discord:1", NOTE).await;
    let a = answer_row(&pool, one, &written.0, &written.1).await;
    let b = answer_row(&pool, one, &noted.0, &noted.1).await;
    swap(&pool, "answers", "value", a, b).await;
    let export = store.export("discord:1", at(1)).await.unwrap().unwrap();
    assert_eq!(export.not_opened(), 2);
    let json = serde_json::to_value(&export).unwrap();
    assert_eq!(json["checkin_days"][0]["note"], NOTE);
    assert!(
        json["flags"][0]["excerpt"]
            .as_str()
            .unwrap()
            .contains("kill myself")
    );
    store.close().await;
}

/// A value as mend sealed it before values were bound to their rows: bound
/// to the column and the person's row id only.
fn seal_first_format(key_hex: &str, label: &str, owner: i64, plain: &str) -> String {
    let mut key = [0u8; 32];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&key_hex[2 * i..2 * i + 2], 16).unwrap();
    }
    let aead = XChaCha20Poly1305::new((&key).into());
    let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
    let aad = format!("mend/{label}/{owner}");
    let payload = Payload {
        msg: plain.as_bytes(),
        aad: aad.as_bytes(),
    };
    let mut bytes = nonce.to_vec();
    bytes.extend(aead.encrypt(&nonce, payload).unwrap());
    let encoded = base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes);
    format!("v1:{encoded}")
}

/// A database as the last mend before migration 0009 left it, its values in
/// the first format: two people, one erased after both were flagged.
async fn first_format_database(path: &std::path::Path) -> String {
    let key = test_key().to_hex();
    let seal = |label: &str, owner: i64, plain: &str| seal_first_format(&key, label, owner, plain);
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .unwrap();
    sqlx::migrate!("./migrations")
        .run_to(8, &pool)
        .await
        .unwrap();
    let reply = serde_json::json!({ "text": "OLD-reply", "choices": [] }).to_string();
    let statements: Vec<(String, Vec<String>)> = vec![
        (
            "INSERT INTO people (id, external_id, consent, created_at, updated_at, last_seen,
                 ask_category, ask_severity, ask_matched, ask_excerpt)
             VALUES (1, 'discord:1', 'given', 1, 1, 1, 'self_harm', 'concern', 'cut', ?),
                    (2, 'discord:2', 'given', 1, 1, 1, NULL, NULL, NULL, NULL)"
                .into(),
            vec![seal("people.ask_excerpt", 1, "OLD-ask")],
        ),
        (
            "INSERT INTO answers (person_id, flow, name, value, updated_at)
             VALUES (1, 'story', 'what', ?, 1), (1, 'daily', 'note', ?, 2)"
                .into(),
            vec![
                seal("answers.value", 1, "OLD-answer"),
                seal("answers.value", 1, "OLD-note"),
            ],
        ),
        (
            "INSERT INTO checkin_days (person_id, day, scale, note, answered_at)
             VALUES (1, '2027-01-15', 3, ?, 1)"
                .into(),
            vec![seal("checkin_days.note", 1, "OLD-day-note")],
        ),
        (
            "INSERT INTO flags (id, person_id, category, severity, excerpt, status, note,
                 created_at, updated_at)
             VALUES (1, 1, 'self_harm', 'high', ?, 'claimed', ?, 1, 1),
                    (2, 2, 'abuse', 'high', ?, 'open', NULL, 1, 1)"
                .into(),
            vec![
                seal("flags.excerpt", 1, "OLD-excerpt"),
                seal("flags.note", 1, "OLD-moderator-note"),
                seal("flags.excerpt", 2, "OLD-other"),
            ],
        ),
        (
            "INSERT INTO outbox (person_id, event_key, address, position, reply, created_at)
             VALUES (1, 'm1', '5', 0, ?, 1)"
                .into(),
            vec![seal("outbox.reply", 1, &reply)],
        ),
        (
            "INSERT INTO keycheck (id, sealed) VALUES (1, ?)".into(),
            vec![seal(
                "keycheck.sealed",
                0,
                "mend: this is the key for this database",
            )],
        ),
        ("DELETE FROM people WHERE id = 2".into(), vec![]),
    ];
    for (sql, binds) in statements {
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for bind in binds {
            query = query.bind(bind);
        }
        query.execute(&pool).await.unwrap();
    }
    let kept: String = sqlx::query_scalar("SELECT value FROM answers WHERE name = 'what'")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    kept
}

#[tokio::test]
async fn a_database_in_the_first_format_is_resealed_once_at_open_and_exports_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mend.sqlite");
    let old_answer = first_format_database(&path).await;
    let store = Store::open(&path, &StoreOptions::default(), &test_key())
        .await
        .unwrap();
    let pool = crate::helpers::raw(&store).await;

    // Every value is in the current format now.
    for (table, column) in [
        ("answers", "value"),
        ("checkin_days", "note"),
        ("flags", "excerpt"),
        ("flags", "note"),
        ("people", "ask_excerpt"),
        ("outbox", "reply"),
        ("keycheck", "sealed"),
    ] {
        let values: Vec<String> = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT {column} FROM {table} WHERE {column} IS NOT NULL"
        )))
        .fetch_all(&pool)
        .await
        .unwrap();
        assert!(!values.is_empty(), "{table}.{column}");
        for value in &values {
            assert!(
                Cipher::is_sealed(value) && !Cipher::is_legacy(value),
                "{table}.{column}: {value}"
            );
        }
    }

    // And opens to what it was.
    let export = store.export("discord:1", at(1)).await.unwrap().unwrap();
    assert_eq!(export.not_opened(), 0);
    let json = serde_json::to_value(&export).unwrap();
    let answers: Vec<&Value> = json["answers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["value"])
        .collect();
    assert_eq!(answers, ["OLD-answer", "OLD-note"]);
    assert_eq!(json["checkin_days"][0]["note"], "OLD-day-note");
    assert_eq!(json["flags"][0]["excerpt"], "OLD-excerpt");
    assert_eq!(json["flags"][0]["moderator_note"], "OLD-moderator-note");
    assert_eq!(json["person"]["pending_question"]["excerpt"], "OLD-ask");
    let unsent = store.unsent("discord:1").await.unwrap();
    assert!(
        unsent[0].reply.text().starts_with("OLD-reply"),
        "{unsent:?}"
    );

    // The re-seal ran once: a value in the first format put back into the
    // file later does not open, so it cannot carry an old swap through.
    sqlx::query("UPDATE answers SET value = ? WHERE name = 'note'")
        .bind(&old_answer)
        .execute(&pool)
        .await
        .unwrap();
    store.close().await;
    let store = Store::open(&path, &StoreOptions::default(), &test_key())
        .await
        .unwrap();
    let export = store.export("discord:1", at(1)).await.unwrap().unwrap();
    assert_eq!(export.not_opened(), 1);

    // The rebuilt tables keep every row and every id, and hand out no
    // flag id that was used before (flag 2 went with the erased person).
    let (person, flag) = flagged(&store, "discord:3").await;
    assert!(person > 1, "{person}");
    assert_eq!(flag, 3);
    let days: i64 = sqlx::query_scalar("SELECT count(*) FROM checkin_days")
        .fetch_one(&crate::helpers::raw(&store).await)
        .await
        .unwrap();
    assert_eq!(days, 1);
    store.close().await;
}
