//! /export and /forget with the real serenity client: the file arrives in
//! the DM with everything opened, erasure asks first (offering the copy),
//! takes everything at once, and tidies the moderators' notice.

use serde_json::{Value, json};

use crate::fake::FakeDiscord;
use crate::helpers::{
    GUILD, Mend, Person, T, assert_every_message_is_safe, bot_messages, buttons, config, temp_db,
    until, with_moderators,
};

const SAM: u64 = 440_000_000_000_000_001;
const DANGER: &str = "some nights I want to kill myself";
const WRITTEN: &str = "RIVER-walk-every-sunday-morning";

/// The messages mend puts in a person's DM after the first `before`,
/// whether sent directly or as an interaction's answer.
async fn new_messages(sam: &Person<'_>, before: usize) -> Vec<Value> {
    until("a message from mend", || sam.sent().len() > before).await;
    sam.sent()[before..].to_vec()
}

async fn people(db: &std::path::Path) -> Vec<String> {
    let pool = crate::helpers::open_db(db).await;
    sqlx::query_scalar("SELECT external_id FROM people")
        .fetch_all(&pool)
        .await
        .unwrap()
}

/// The JSON file attached to the latest edit of a command's or button's
/// deferred answer.
async fn exported_file(fake: &FakeDiscord, after: usize) -> Value {
    let edit = fake
        .wait_for(
            |reqs| {
                reqs[after..].iter().any(|r| {
                    r.is("PATCH /webhooks/*/*/messages/@original")
                        && r.body["_files"]
                            .as_array()
                            .is_some_and(|files| !files.is_empty())
                })
            },
            T,
        )
        .await;
    let edit = edit[after..]
        .iter()
        .rfind(|r| r.is("PATCH /webhooks/*/*/messages/@original"))
        .unwrap()
        .clone();
    assert!((200..300).contains(&edit.status), "{edit:?}");
    let file = &edit.body["_files"][0];
    assert_eq!(file["filename"], "mend-data.json");
    serde_json::from_str(file["text"].as_str().unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_gets_their_data_and_can_erase_it_after_confirming() {
    let fake = FakeDiscord::start().await;
    fake.set_member_roles(GUILD, SAM, vec![]);
    let (_dir, db) = temp_db();
    let mend = Mend::start(&fake, with_moderators(config(&fake, &db), &fake, false)).await;
    let mod_channel = fake.guild_channel_id(GUILD);

    // Sam consents, writes an answer, and once writes something worrying.
    let mut sam = Person::new(&fake, SAM);
    sam.say("hello").await;
    let script = sam.script().clone();
    let start = sam.expected.clone();
    for line in crate::route::route(&script, &start, WRITTEN, |o| {
        o.state.answers.values().any(|v| v == WRITTEN)
    }) {
        sam.act(&line).await;
    }
    let before = sam.sent().len();
    fake.send_dm(SAM, DANGER);
    sam.wait_messages(before, 1).await;
    until("the moderators' notice", || {
        bot_messages(&fake, mod_channel)
            .iter()
            .any(|m| m["content"].as_str().is_some_and(|c| c.contains("kill")))
    })
    .await;
    let notice_id = bot_messages(&fake, mod_channel)[0]["id"].clone();

    // /export in a server says nothing personal and attaches nothing.
    let requests = fake.requests().len();
    fake.slash_command(SAM, Some(GUILD), "export", json!([]));
    let answer = fake
        .wait_for_request_after("POST /interactions/*/*/callback", requests, T)
        .await;
    assert_eq!(answer.body["data"]["flags"], 64, "ephemeral");
    assert!(
        answer.body["data"]["content"]
            .as_str()
            .unwrap()
            .contains("direct message")
    );
    assert!(answer.body["_files"].is_null());

    // /export in the DM: the whole file, opened, explaining itself.
    let requests = fake.requests().len();
    fake.slash_command(SAM, None, "export", json!([]));
    let file = exported_file(&fake, requests).await;
    assert_eq!(file["person"]["id"], format!("discord:{SAM}"));
    assert!(
        file["answers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["value"] == WRITTEN)
    );
    assert!(
        file["flags"][0]["excerpt"]
            .as_str()
            .unwrap()
            .contains("kill myself")
    );
    assert!(file["readme"]["answers"].is_string());

    // /forget asks first, offering the copy.
    let before = sam.sent().len();
    let requests = fake.requests().len();
    fake.slash_command(SAM, None, "forget", json!([]));
    let ask = fake
        .wait_for_request_after("POST /interactions/*/*/callback", requests, T)
        .await;
    let data = &ask.body["data"];
    assert!(
        data["content"]
            .as_str()
            .unwrap()
            .contains("can't be undone")
    );
    let (ids, urls) = buttons(data);
    assert_eq!(ids, ["privacy:copy", "privacy:erase", "privacy:keep"]);
    assert_eq!(urls.len(), 3);
    until("the confirmation", || sam.sent().len() > before).await;
    let confirm_id: u64 = sam.sent()[before]["id"].as_str().unwrap().parse().unwrap();

    // The copy first; nothing is erased by it.
    let requests = fake.requests().len();
    fake.press_button(SAM, confirm_id, "privacy:copy");
    let copy = exported_file(&fake, requests).await;
    assert_eq!(copy["person"]["id"], format!("discord:{SAM}"));
    assert_eq!(people(&db).await, [format!("discord:{SAM}")]);

    // Then erasure: the buttons are disabled and everything goes at once.
    let before = sam.sent().len();
    fake.press_button(SAM, confirm_id, "privacy:erase");
    let done = new_messages(&sam, before).await;
    assert!(
        done[0]["content"]
            .as_str()
            .unwrap()
            .contains("erased everything")
    );
    assert!(people(&db).await.is_empty());
    let confirm = fake.message(confirm_id).unwrap();
    for row in confirm["components"].as_array().unwrap() {
        for button in row["components"].as_array().unwrap() {
            if button["custom_id"].is_string() {
                assert_eq!(button["disabled"], true, "{button}");
            }
        }
    }
    // The moderators' notice no longer quotes Sam.
    let notice_id: u64 = notice_id.as_str().unwrap().parse().unwrap();
    until("the notice to be tidied", || {
        fake.message(notice_id)
            .is_some_and(|m| !m["content"].as_str().unwrap_or("").contains("kill"))
    })
    .await;
    let tidied = fake.message(notice_id).unwrap();
    assert!(
        tidied["content"].as_str().unwrap().contains("erased"),
        "{tidied}"
    );

    // Afterwards /export finds nothing, and a new message starts afresh.
    let requests = fake.requests().len();
    fake.slash_command(SAM, None, "export", json!([]));
    let edit = fake
        .wait_for_request_after("PATCH /webhooks/*/*/messages/@original", requests, T)
        .await;
    assert!(
        edit.body["content"]
            .as_str()
            .unwrap()
            .contains("don't hold anything")
    );
    let mut again = Person::new(&fake, SAM);
    let before = again.sent().len();
    fake.send_dm(SAM, "hello again");
    let greeted = new_messages(&again, before).await;
    again.expected = Default::default();
    let expected = mend::conversation::engine::handle(
        again.script(),
        &again.expected,
        &mend::conversation::engine::Input::Start,
    );
    assert_eq!(
        greeted[0]["content"].as_str(),
        Some(expected.replies[0].text())
    );

    assert_every_message_is_safe(&fake);
    // The export carried Sam's words; the log at trace level never did.
    crate::helpers::assert_not_logged(&[WRITTEN.to_owned(), DANGER.to_owned()]);
    mend.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keeping_everything_erases_nothing() {
    let fake = FakeDiscord::start().await;
    let (_dir, db) = temp_db();
    let mend = Mend::start(&fake, config(&fake, &db)).await;
    let mut sam = Person::new(&fake, SAM);
    sam.say("hello").await;

    let before = sam.sent().len();
    fake.slash_command(SAM, None, "forget", json!([]));
    until("the confirmation", || sam.sent().len() > before).await;
    let confirm_id: u64 = sam.sent()[before]["id"].as_str().unwrap().parse().unwrap();
    let before = sam.sent().len();
    fake.press_button(SAM, confirm_id, "privacy:keep");
    let kept = new_messages(&sam, before).await;
    assert!(
        kept[0]["content"]
            .as_str()
            .unwrap()
            .contains("Nothing has been erased")
    );
    assert_eq!(people(&db).await, [format!("discord:{SAM}")]);
    assert_every_message_is_safe(&fake);
    mend.stop().await.unwrap();
}

/// Retention runs on the bot's clock, not the wall clock: with the clock a
/// year on, someone silent since "now" is erased at the first sweep, and
/// someone active on that clock is kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_runs_on_the_bots_clock() {
    let fake = FakeDiscord::start().await;
    let (_dir, db) = temp_db();
    let year_on = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * 365);
    {
        let store = mend::store::Store::open(
            &db,
            &mend::store::StoreOptions::default(),
            &crate::helpers::test_key(),
        )
        .await
        .unwrap();
        let companion = mend::conversation::engine::Companion {
            script: crate::helpers::shipped(),
            screen: mend::safety::Screen::embedded(),
            crisis: mend::safety::CrisisReplies::embedded(),
            cooldown: jiff::SignedDuration::from_mins(10),
        };
        for (person, at) in [
            ("discord:1", jiff::Timestamp::now()),
            ("discord:2", year_on),
        ] {
            store
                .apply(person, at, |s| {
                    companion.respond(s, &mend::conversation::engine::Input::Start, at)
                })
                .await
                .unwrap();
        }
        store.close().await;
    }
    let mut config = config(&fake, &db);
    config.privacy.inactive_days = 30;
    let clock = mend::clock::ManualClock::new(year_on);
    let mend = Mend::start_with_clock(&fake, config, clock).await;
    let deadline = tokio::time::Instant::now() + T;
    while people(&db).await.contains(&"discord:1".to_owned()) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the long-silent person was kept"
        );
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(people(&db).await, ["discord:2"]);
    mend.stop().await.unwrap();
}

/// An erasure waits its turn behind what the person sent before it: a
/// message still being applied cannot re-create them after the erasure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erasure_takes_its_turn_after_a_message_sent_before_it() {
    let fake = FakeDiscord::start().await;
    let (_dir, db) = temp_db();
    let mut config = config(&fake, &db);
    // A wide window for ordering, so the message is still waiting when the
    // press arrives.
    config.discord.order_window_ms = 300;
    let mend = Mend::start(&fake, config).await;
    let mut sam = Person::new(&fake, SAM + 7);
    sam.say("hello").await;
    let before = sam.sent().len();
    fake.slash_command(sam.user, None, "forget", json!([]));
    until("the confirmation", || sam.sent().len() > before).await;
    let confirm_id: u64 = sam.sent()[before]["id"].as_str().unwrap().parse().unwrap();

    let before = sam.sent().len();
    fake.send_dm(sam.user, "help");
    fake.press_button(sam.user, confirm_id, "privacy:erase");
    until("the erasure's answer", || {
        sam.sent()[before..].iter().any(|m| {
            m["content"]
                .as_str()
                .is_some_and(|c| c.contains("erased everything"))
        })
    })
    .await;
    let after_erasure = sam.sent()[before..]
        .iter()
        .position(|m| m["content"].as_str().unwrap().contains("erased everything"))
        .unwrap();
    assert!(after_erasure > 0, "the message's answer came first");
    assert!(
        people(&db).await.is_empty(),
        "nothing of Sam is left after the erasure"
    );
    assert_every_message_is_safe(&fake);
    mend.stop().await.unwrap();
}
