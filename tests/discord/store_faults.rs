//! The crisis reply on Discord does not depend on the database: with the
//! SQLite file write-locked by another connection, or with a sealed answer
//! that will not open, a crisis DM still gets the contacts at once, and the
//! flag is written and the moderators told once the store works again, even
//! across a stop.

use std::path::{Path, PathBuf};

use crate::fake::FakeDiscord;
use crate::helpers::{
    GUILD, Mend, Person, T, assert_every_message_is_safe, bot_messages, buttons, config, temp_db,
    until, with_moderators,
};
use crate::lock::Lock;
use serde_json::json;

const KIM: u64 = 470_000_000_000_000_001;
const DANGER: &str = "I can't do this anymore, I want to kill myself";
const WRITTEN: &str = "Make her coffee and ask how she slept";

async fn flag_count(db: &Path) -> i64 {
    let pool = crate::helpers::open_db(db).await;
    let count = sqlx::query_scalar("SELECT count(*) FROM flags")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    count
}

fn pending_file(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".pending-flags");
    PathBuf::from(name)
}

/// A store that gives up on a lock quickly, and moderators to tell.
fn setup(fake: &FakeDiscord, db: &Path) -> mend::config::Config {
    let mut config = with_moderators(config(fake, db), fake, false);
    config.database.busy_timeout_ms = 200;
    config
}

/// mend with a store that would wait a minute for another writer's lock
/// (a crisis turn does not, or its reply would come only after the wait),
/// and Kim, who has said hello.
async fn kim_and_a_store_waiting_a_minute<'f>(
    fake: &'f FakeDiscord,
    db: &Path,
) -> (Mend, Person<'f>) {
    let mut config = setup(fake, db);
    config.database.busy_timeout_ms = 60_000;
    let mend = Mend::start(fake, config).await;
    let mut kim = Person::new(fake, KIM);
    kim.say("hello").await;
    (mend, kim)
}

/// Stops mend and checks that nothing waits and one flag was written.
async fn stopped_with_one_flag(mend: Mend, db: &Path) {
    mend.stop().await.unwrap();
    assert!(!pending_file(db).exists(), "nothing left waiting");
    assert_eq!(flag_count(db).await, 1, "one flag");
}

/// Sends the crisis DM and checks the answer: the full crisis reply at
/// once, with the contacts and the three links and no buttons (there is no
/// place to go back to).
async fn crisis_reply_arrives(fake: &FakeDiscord, kim: &Person<'_>) {
    let before = kim.sent().len();
    fake.send_dm(KIM, DANGER);
    let got = kim.wait_messages(before, 1).await;
    let text = got[0]["content"].as_str().unwrap();
    assert!(text.contains("116 123") && text.contains("999"), "{text}");
    assert!(!text.contains("went wrong"), "{text}");
    let (ids, urls) = buttons(&got[0]);
    assert!(ids.is_empty(), "{ids:?}");
    assert_eq!(urls.len(), 3);
}

/// Waits for the moderators' notice of flag #1.
async fn notice_posted(fake: &FakeDiscord) {
    let channel = fake.guild_channel_id(GUILD);
    until("the moderators' notice", || {
        bot_messages(fake, channel).iter().any(|m| {
            m["content"]
                .as_str()
                .is_some_and(|c| c.starts_with("**Crisis flag #1**") && c.contains("suicide"))
        })
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_database_still_gives_the_crisis_reply_at_once_then_one_flag_and_one_reply() {
    let fake = FakeDiscord::start().await;
    let (_dir, db) = temp_db();
    let (mend, kim) = kim_and_a_store_waiting_a_minute(&fake, &db).await;

    let lock = Lock::take(&db).await;
    let before = kim.sent().len();
    crisis_reply_arrives(&fake, &kim).await;
    assert!(
        bot_messages(&fake, fake.guild_channel_id(GUILD)).is_empty(),
        "no notice while the flag cannot be written"
    );
    // The turn is still waiting for the lock; once it has it, the turn is
    // kept, and its own flag reaches the moderators with no further word
    // from Kim.
    lock.release().await;
    notice_posted(&fake).await;
    let hits: i64 = {
        let pool = crate::helpers::open_db(&db).await;
        let hits = sqlx::query_scalar("SELECT hits FROM flags")
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        hits
    };
    assert_eq!(hits, 1, "one flag, raised once");

    // The kept turn's own replies were the crisis reply already given: the
    // next message is answered, and nothing is given twice.
    fake.send_dm(KIM, "hello again");
    let got = kim.wait_messages(before + 1, 1).await;
    let next = got[0]["content"].as_str().unwrap();
    assert!(!next.contains("116 123"), "the crisis reply again: {next}");
    let crisis_replies = kim.sent()[before..]
        .iter()
        .filter(|m| m["content"].as_str().is_some_and(|c| c.contains("116 123")))
        .count();
    assert_eq!(crisis_replies, 1);
    assert_every_message_is_safe(&fake);
    stopped_with_one_flag(mend, &db).await;
}

/// An uncertain message past the short wait gets the contacts, not the
/// question: its flag reaches the moderators though the turn, kept once
/// the lock is gone, raised none itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uncertain_message_given_the_contacts_under_a_long_lock_still_reaches_moderators() {
    let fake = FakeDiscord::start().await;
    let (_dir, db) = temp_db();
    let (mend, kim) = kim_and_a_store_waiting_a_minute(&fake, &db).await;

    let lock = Lock::take(&db).await;
    let before = kim.sent().len();
    fake.send_dm(KIM, "I have been thinking about not waking up");
    let got = kim.wait_messages(before, 1).await;
    let text = got[0]["content"].as_str().unwrap();
    assert!(text.contains("116 123") && text.contains("999"), "{text}");
    lock.release().await;
    // The next ordinary message writes the flag that waited.
    fake.send_dm(KIM, "thanks");
    notice_posted(&fake).await;
    stopped_with_one_flag(mend, &db).await;
}

/// Words meant for a partner are screened before the store is touched: under
/// a long lock, `/pair send` with crisis words is answered with the contacts
/// at once (not after the lock's minute), and once the lock goes the kept
/// turn's flag reaches the moderators.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crisis_words_in_pair_send_are_answered_at_once_under_a_long_lock() {
    let fake = FakeDiscord::start().await;
    let (_dir, db) = temp_db();
    let (mend, _kim) = kim_and_a_store_waiting_a_minute(&fake, &db).await;

    let lock = Lock::take(&db).await;
    let before = fake.requests().len();
    let options = json!([{
        "name": "send", "type": 1,
        "options": [{"name": "text", "type": 3, "value": DANGER}],
    }]);
    fake.slash_command(KIM, None, "pair", options);
    let answer = fake
        .wait_for_request_after("PATCH /webhooks/*/*/messages/@original", before, T)
        .await;
    let text = answer.body["content"].as_str().unwrap();
    assert!(text.contains("116 123") && text.contains("999"), "{text}");
    assert!(
        bot_messages(&fake, fake.guild_channel_id(GUILD)).is_empty(),
        "no notice while the flag cannot be written"
    );
    lock.release().await;
    notice_posted(&fake).await;
    assert_every_message_is_safe(&fake);
    stopped_with_one_flag(mend, &db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flag_still_waiting_at_a_stop_reaches_moderators_after_the_next_start() {
    let fake = FakeDiscord::start().await;
    let (_dir, db) = temp_db();
    let mend = Mend::start(&fake, setup(&fake, &db)).await;
    let mut kim = Person::new(&fake, KIM);
    kim.say("hello").await;

    let lock = Lock::take(&db).await;
    crisis_reply_arrives(&fake, &kim).await;
    // Stopped while the lock is still held: the flag goes to the file.
    mend.stop().await.unwrap();
    lock.release().await;
    let kept = pending_file(&db);
    let text = std::fs::read_to_string(&kept).expect("the flag is kept in a file");
    assert_eq!(text.lines().count(), 1);
    assert!(!text.contains("want to kill myself"), "sealed: {text}");
    assert_eq!(flag_count(&db).await, 0);

    // The next start writes it, tells the moderators, and removes the file.
    let mend = Mend::start(&fake, setup(&fake, &db)).await;
    notice_posted(&fake).await;
    assert_eq!(flag_count(&db).await, 1);
    until("the kept flags' file to go", || !kept.exists()).await;
    assert_every_message_is_safe(&fake);
    mend.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_that_will_not_open_is_set_aside_and_the_crisis_reply_and_notice_still_come() {
    let fake = FakeDiscord::start().await;
    let (_dir, db) = temp_db();
    let mend = Mend::start(&fake, setup(&fake, &db)).await;
    let mut kim = Person::new(&fake, KIM);
    kim.say("hello").await;
    let script = kim.script().clone();
    let start = kim.expected.clone();
    for line in crate::route::route(&script, &start, WRITTEN, |o| {
        o.state.answers.values().any(|v| v == WRITTEN)
    }) {
        kim.act(&line).await;
    }

    // The disk damages Kim's sealed answer: it no longer opens. Kim is told
    // once that it was set aside, and the conversation goes on.
    let pool = crate::helpers::open_db(&db).await;
    let changed =
        sqlx::query("UPDATE answers SET value = substr(value, 1, length(value) - 6) || 'AAAAAA'")
            .execute(&pool)
            .await
            .unwrap()
            .rows_affected();
    assert_eq!(changed, 1);
    pool.close().await;
    let before = kim.sent().len();
    fake.send_dm(KIM, "hello");
    let got = kim.wait_messages(before, 1).await;
    let first = got[0]["content"].as_str().unwrap();
    assert!(first.contains("set it aside"), "{first}");
    assert!(!first.contains("went wrong"), "{first}");

    // The turn is applied, so this is the crisis reply with its way back
    // into the conversation.
    fake.send_dm(KIM, DANGER);
    let content = |m: &serde_json::Value| m["content"].as_str().unwrap_or_default().to_owned();
    until("the crisis reply", || {
        kim.sent()
            .iter()
            .skip(before)
            .any(|m| content(m).contains("116 123") && content(m).contains("999"))
    })
    .await;
    let told = kim
        .sent()
        .iter()
        .skip(before)
        .filter(|m| content(m).contains("set it aside"))
        .count();
    assert_eq!(told, 1, "told once");
    notice_posted(&fake).await;
    assert_eq!(flag_count(&db).await, 1);
    assert_every_message_is_safe(&fake);
    mend.stop().await.unwrap();
}
