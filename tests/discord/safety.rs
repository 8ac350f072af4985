//! Crisis messages on Discord, and the moderators' queue.

use serde_json::json;
use std::time::Duration;

use crate::fake::{FakeDiscord, Fault};
use crate::helpers::{
    GUILD, MOD_ROLE, Mend, Person, T, assert_every_message_is_safe, bot_messages, buttons, config,
    temp_db, test_key, until, with_moderators,
};

const ALEX: u64 = 410_000_000_000_000_001;
const MODERATOR: u64 = 420_000_000_000_000_001;
const STRANGER: u64 = 430_000_000_000_000_001;
const DANGER: &str = "I can't do this anymore, I want to kill myself";

async fn audit(db: &std::path::Path) -> Vec<(String, String)> {
    let pool = crate::helpers::open_db(db).await;
    sqlx::query_as("SELECT actor, action FROM audit ORDER BY id")
        .fetch_all(&pool)
        .await
        .unwrap()
}

async fn flag_row(db: &std::path::Path) -> (i64, String, i64, Option<String>, Option<String>) {
    let pool = crate::helpers::open_db(db).await;
    let (flag, status, hits, handled_by, note, person): (
        i64,
        String,
        i64,
        Option<String>,
        Option<String>,
        i64,
    ) = sqlx::query_as("SELECT id, status, hits, handled_by, note, person_id FROM flags")
        .fetch_one(&pool)
        .await
        .unwrap();
    // The moderator's note is about a person, so it is sealed at rest.
    let note = note.map(|sealed| {
        assert!(
            mend::crypto::Cipher::is_sealed(&sealed),
            "a plain note: {sealed}"
        );
        test_key()
            .cipher()
            .open(mend::crypto::Field::FlagNote { person, flag }, &sealed)
            .unwrap()
    });
    (flag, status, hits, handled_by, note)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crisis_dm_is_answered_first_and_moderators_handle_the_flag() {
    let fake = FakeDiscord::start().await;
    fake.set_member_roles(GUILD, MODERATOR, vec![MOD_ROLE]);
    fake.set_member_roles(GUILD, STRANGER, vec![]);
    let (_dir, db) = temp_db();
    let mend = Mend::start(&fake, with_moderators(config(&fake, &db), &fake, false)).await;
    let mod_channel = fake.guild_channel_id(GUILD);

    let mut alex = Person::new(&fake, ALEX);
    alex.say("hello").await;
    let place = alex.expected.place.clone();

    // The crisis reply comes at once, with the contacts and the links.
    let before = alex.sent().len();
    fake.send_dm(ALEX, DANGER);
    let got = alex.wait_messages(before, 1).await;
    let text = got[0]["content"].as_str().unwrap();
    assert!(text.contains("116 123") && text.contains("999"), "{text}");
    let (ids, urls) = buttons(&got[0]);
    assert_eq!(ids.len(), 3, "carry on, pause, more help");
    assert_eq!(urls.len(), 3);

    // The moderators see a notice, with no ping.
    let notice = fake
        .wait_for(
            |reqs| {
                reqs.iter().any(|r| {
                    r.is("POST /channels/*/messages") && r.path.contains(&mod_channel.to_string())
                })
            },
            T,
        )
        .await;
    let notice = notice
        .iter()
        .find(|r| r.path.contains(&mod_channel.to_string()))
        .unwrap()
        .clone();
    let content = notice.body["content"].as_str().unwrap();
    assert!(content.starts_with("**Crisis flag #1**"), "{content}");
    assert!(content.contains("suicide"), "{content}");
    assert!(
        !content.contains("can't do this anymore, i want"),
        "an excerpt, not the whole message? {content}"
    );
    assert_eq!(notice.body["allowed_mentions"]["parse"], json!([]));
    assert_eq!(notice.body["allowed_mentions"]["roles"], json!([]));

    // A non-moderator can neither list flags nor press the buttons.
    fake.slash_command(STRANGER, Some(GUILD), "flags", json!(null));
    let refused = fake
        .wait_for_request("POST /interactions/*/*/callback", T)
        .await;
    assert_eq!(refused.body["data"]["flags"], 64);
    assert!(
        refused.body["data"]["content"]
            .as_str()
            .unwrap()
            .contains("Only moderators")
    );
    let notice_id: u64 = bot_messages(&fake, mod_channel)[0]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    fake.press_button(STRANGER, notice_id, "flag:1:claim");
    fake.wait_for(
        |reqs| {
            reqs.iter()
                .filter(|r| r.is("POST /interactions/*/*/callback"))
                .count()
                == 2
        },
        T,
    )
    .await;
    assert_eq!(flag_row(&db).await.1, "open");
    let log = audit(&db).await;
    assert_eq!(log.len(), 2);
    assert!(
        log.iter()
            .all(|(actor, action)| actor == &format!("discord:{STRANGER}") && action == "refused")
    );

    // A moderator lists, claims by button, then resolves with a note.
    fake.slash_command(MODERATOR, Some(GUILD), "flags", json!(null));
    fake.wait_for(
        |reqs| {
            reqs.iter()
                .filter(|r| r.is("POST /interactions/*/*/callback"))
                .count()
                == 3
        },
        T,
    )
    .await;
    let listed = fake.interaction_callbacks().pop().unwrap();
    assert!(
        listed.body["data"]["content"]
            .as_str()
            .unwrap()
            .contains("#1 · suicide")
    );

    fake.press_button(MODERATOR, notice_id, "flag:1:claim");
    fake.wait_for(
        |reqs| {
            reqs.iter()
                .filter(|r| r.is("POST /interactions/*/*/callback"))
                .count()
                == 4
        },
        T,
    )
    .await;
    let claimed = fake.interaction_callbacks().pop().unwrap();
    assert_eq!(claimed.body["type"], 7, "the notice is updated in place");
    assert!(
        claimed.body["data"]["content"]
            .as_str()
            .unwrap()
            .contains("**claimed**")
    );
    assert_eq!(flag_row(&db).await.1, "claimed");

    // Resolve asks for a note in a modal; the note can also come by command.
    fake.press_button(MODERATOR, notice_id, "flag:1:resolve");
    fake.wait_for(
        |reqs| {
            reqs.iter()
                .filter(|r| r.is("POST /interactions/*/*/callback"))
                .count()
                == 5
        },
        T,
    )
    .await;
    assert_eq!(fake.interaction_callbacks().pop().unwrap().body["type"], 9);
    fake.slash_command(
        MODERATOR,
        Some(GUILD),
        "flag",
        json!([
            {"name": "id", "type": 4, "value": 1},
            {"name": "action", "type": 3, "value": "resolve"},
            {"name": "note", "type": 3, "value": "Talked with them; they are safe with family."}
        ]),
    );
    fake.wait_for(
        |reqs| {
            reqs.iter()
                .filter(|r| r.is("POST /interactions/*/*/callback"))
                .count()
                == 6
        },
        T,
    )
    .await;
    let (_, status, hits, handled_by, note) = flag_row(&db).await;
    assert_eq!(status, "resolved");
    assert_eq!(hits, 1);
    assert_eq!(handled_by, Some(format!("discord:{MODERATOR}")));
    assert_eq!(
        note.as_deref(),
        Some("Talked with them; they are safe with family.")
    );
    let actions: Vec<String> = audit(&db).await.into_iter().map(|(_, a)| a).collect();
    assert_eq!(actions, ["refused", "refused", "claim", "resolve"]);

    // The person's flow resumes where it was.
    let carry_on = ids[0].clone();
    let resumed_before = alex.sent().len();
    let message_id: u64 = got[0]["id"].as_str().unwrap().parse().unwrap();
    fake.press_button(ALEX, message_id, &carry_on);
    let resumed = alex.wait_messages(resumed_before, 1).await;
    let expected = mend::conversation::engine::handle(
        alex.script(),
        &alex.expected,
        &mend::conversation::engine::Input::Start,
    );
    assert_eq!(
        resumed.last().unwrap()["content"],
        expected.replies.last().unwrap().text()
    );
    let _ = place;
    assert_every_message_is_safe(&fake);
    mend.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_hits_honour_the_cooldown_and_update_one_flag() {
    let fake = FakeDiscord::start().await;
    let (_dir, db) = temp_db();
    let mend = Mend::start(&fake, with_moderators(config(&fake, &db), &fake, true)).await;
    let mod_channel = fake.guild_channel_id(GUILD);
    let alex = Person::new(&fake, ALEX);
    // Discord takes its time answering the first notice, so the second hit
    // arrives while it is in flight: it must still edit that one notice,
    // not post (and ping) a second.
    fake.fail_next(
        &format!("POST /channels/{mod_channel}/messages"),
        Fault::AppliedThenSilence(Duration::from_millis(1500)),
    );

    fake.send_dm(ALEX, DANGER);
    let first = alex.wait_messages(0, 1).await;
    let full = first[0]["content"].as_str().unwrap().to_owned();
    let before = alex.sent().len();
    fake.send_dm(ALEX, "i just want to die");
    let second = alex.wait_messages(before, 1).await;
    let reminder = second[0]["content"].as_str().unwrap();
    assert!(
        reminder.len() < full.len() / 2,
        "a short reminder, not the whole block again"
    );

    fake.wait_for(
        |reqs| reqs.iter().any(|r| r.is("PATCH /channels/*/messages/*")),
        T,
    )
    .await;
    let notices: Vec<_> = fake
        .messages_sent()
        .into_iter()
        .filter(|r| r.path.contains(&mod_channel.to_string()))
        .collect();
    assert_eq!(notices.len(), 1, "one notice");
    let body = &notices[0].body;
    assert!(
        body["content"]
            .as_str()
            .unwrap()
            .starts_with(&format!("<@&{MOD_ROLE}>"))
    );
    assert_eq!(
        body["allowed_mentions"]["roles"],
        json!([MOD_ROLE.to_string()])
    );
    assert_eq!(body["allowed_mentions"]["parse"], json!([]));
    let edit = fake
        .requests()
        .into_iter()
        .find(|r| r.is("PATCH /channels/*/messages/*"))
        .unwrap();
    assert!(
        edit.body["content"]
            .as_str()
            .unwrap()
            .contains("2 messages")
    );
    assert_eq!(flag_row(&db).await.2, 2);
    mend.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notice_discord_refused_is_posted_when_mend_starts_again() {
    let fake = FakeDiscord::start().await;
    let (_dir, db) = temp_db();
    let config = with_moderators(config(&fake, &db), &fake, true);
    let mend = Mend::start(&fake, config.clone()).await;
    let mod_channel = fake.guild_channel_id(GUILD);
    let notices = || {
        fake.messages_sent()
            .into_iter()
            .filter(|r| r.path.contains(&mod_channel.to_string()))
            .count()
    };
    let alex = Person::new(&fake, ALEX);
    fake.fail_next(
        &format!("POST /channels/{mod_channel}/messages"),
        Fault::Status(500),
    );

    fake.send_dm(ALEX, DANGER);
    alex.wait_messages(0, 1).await;
    let refused = format!("/channels/{mod_channel}/messages");
    fake.wait_for(
        |reqs| {
            reqs.iter()
                .any(|r| r.path.ends_with(&refused) && r.status == 500)
        },
        T,
    )
    .await;
    assert_eq!(notices(), 0, "Discord refused the notice");
    assert_eq!(flag_row(&db).await.1, "open", "the flag is kept");
    mend.stop().await.unwrap();

    // Started again, mend posts what it still owes the moderators, once.
    let mend = Mend::start(&fake, config).await;
    until("the notice owed", || notices() == 1).await;
    let notice = fake
        .messages_sent()
        .into_iter()
        .find(|r| r.path.contains(&mod_channel.to_string()))
        .unwrap();
    let content = notice.body["content"].as_str().unwrap();
    assert!(content.starts_with(&format!("<@&{MOD_ROLE}>")), "{content}");
    assert_eq!(
        notice.body["allowed_mentions"]["roles"],
        json!([MOD_ROLE.to_string()])
    );
    // mend stores the notice's id once Discord has answered the post.
    let pool = crate::helpers::open_db(&db).await;
    let deadline = tokio::time::Instant::now() + T;
    let stored = loop {
        let stored: Option<String> = sqlx::query_scalar("SELECT notice_message FROM flags")
            .fetch_one(&pool)
            .await
            .unwrap();
        if stored.is_some() || tokio::time::Instant::now() > deadline {
            break stored;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(stored.as_deref(), notice.response["id"].as_str());
    mend.stop().await.unwrap();
    assert_eq!(notices(), 1, "posted once");
    assert_every_message_is_safe(&fake);
}

/// Worrying but unclear: mend asks, and the answer, pressed or typed, decides.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unclear_message_is_asked_about_and_pressed_or_typed_answers_decide() {
    const UNCLEAR: &str = "whats the point of anything anymore";
    const SAM: u64 = 410_000_000_000_000_002;
    let fake = FakeDiscord::start().await;
    let (_dir, db) = temp_db();
    let mend = Mend::start(&fake, with_moderators(config(&fake, &db), &fake, false)).await;
    let mod_channel = fake.guild_channel_id(GUILD).to_string();

    // Pressed: "No, I'm safe" is thanked and the conversation carries on.
    let mut alex = Person::new(&fake, ALEX);
    alex.say("hello").await;
    let before = alex.sent().len();
    fake.send_dm(ALEX, UNCLEAR);
    let asked = alex.wait_messages(before, 1).await;
    let text = asked[0]["content"].as_str().unwrap();
    assert!(text.contains("ending your life"), "{text}");
    let (ids, urls) = buttons(&asked[0]);
    assert_eq!(
        ids,
        ["ask:yes:suicide", "ask:unsure:suicide", "ask:safe:suicide"]
    );
    assert_eq!(urls.len(), 3, "the three links, as on every message");
    let message: u64 = asked[0]["id"].as_str().unwrap().parse().unwrap();
    let before = alex.sent().len();
    fake.press_button(ALEX, message, "ask:safe:suicide");
    let safe = alex.wait_messages(before, 2).await;
    assert!(
        safe[0]["content"].as_str().unwrap().contains("Thank you"),
        "{safe:?}"
    );
    assert!(
        !buttons(&safe[1]).0.is_empty(),
        "the step again, with its choices"
    );

    // Typed: "not sure" gives the crisis reply, and the moderators hear that
    // mend asked first.
    let mut sam = Person::new(&fake, SAM);
    sam.say("hello").await;
    let before = sam.sent().len();
    fake.send_dm(SAM, UNCLEAR);
    sam.wait_messages(before, 1).await;
    let before = sam.sent().len();
    fake.send_dm(SAM, "not sure");
    let crisis = sam.wait_messages(before, 1).await;
    let text = crisis[0]["content"].as_str().unwrap();
    assert!(text.contains("116 123") && text.contains("999"), "{text}");
    let notice = fake
        .wait_for(
            |reqs| {
                reqs.iter()
                    .any(|r| r.is("POST /channels/*/messages") && r.path.contains(&mod_channel))
            },
            T,
        )
        .await;
    let notice = notice
        .iter()
        .find(|r| r.path.contains(&mod_channel))
        .unwrap();
    let content = notice.body["content"].as_str().unwrap();
    assert!(
        content.contains("mend asked whether they were safe"),
        "{content}"
    );
    assert!(content.contains("suicide"), "{content}");

    // One flag, Sam's; none for Alex, who was safe.
    let pool = crate::helpers::open_db(&db).await;
    let flags: Vec<(i64,)> = sqlx::query_as("SELECT asked FROM flags")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(flags, vec![(1,)]);
    assert_every_message_is_safe(&fake);
    mend.stop().await.unwrap();
}
