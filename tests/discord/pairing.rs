//! Pairing end to end with the real serenity client: `/pair invite`, join
//! and confirm, a send chosen by button, previewed, confirmed and delivered
//! to the partner's DMs; a crisis message withheld; a silent end; codes
//! refused; nothing of one partner's state in anything the other receives;
//! export and forget on both sides.

use jiff::{SignedDuration, Timestamp};
use mend::clock::ManualClock;
use mend::conversation::engine::Consent;
use serde_json::{Value, json};

use crate::fake::FakeDiscord;
use crate::helpers::{
    GUILD, Mend, Person, T, assert_every_message_is_safe, bot_messages, buttons, config, open_db,
    temp_db, until, with_moderators,
};

const ALEX: u64 = 470_000_000_000_000_001;
const SAM: u64 = 470_000_000_000_000_002;
const KIM: u64 = 470_000_000_000_000_003;

/// Someone who has said hello and agreed to mend keeping their answers.
async fn consents(fake: &FakeDiscord, user: u64) {
    let mut person = Person::new(fake, user);
    person.say("hello").await;
    let script = person.script().clone();
    let start = person.expected.clone();
    for line in crate::route::route(&script, &start, "words", |o| {
        o.state.consent == Consent::Given
    }) {
        person.act(&line).await;
    }
}

/// Runs `/pair <sub>` and returns the first message of its answer: the
/// deferred one, edited.
async fn pair(
    fake: &FakeDiscord,
    user: u64,
    guild: Option<u64>,
    sub: &str,
    option: Option<(&str, &str)>,
) -> Vec<Value> {
    let options = match option {
        Some((name, value)) => json!([{
            "name": sub, "type": 1,
            "options": [{"name": name, "type": 3, "value": value}],
        }]),
        None => json!([{"name": sub, "type": 1, "options": []}]),
    };
    let before = fake.requests().len();
    fake.slash_command(user, guild, "pair", options);
    let ack = fake
        .wait_for_request_after("POST /interactions/*/*/callback", before, T)
        .await;
    assert_eq!(ack.body["type"], 5, "deferred: {ack:?}");
    let ephemeral = ack.body["data"]["flags"].as_u64().unwrap_or(0) & 64 != 0;
    assert_eq!(ephemeral, guild.is_some(), "ephemeral exactly in a server");
    let edit = fake
        .wait_for_request_after("PATCH /webhooks/*/*/messages/@original", before, T)
        .await;
    assert!((200..300).contains(&edit.status), "{edit:?}");
    vec![edit.body]
}

fn text(messages: &[Value]) -> String {
    messages
        .iter()
        .map(|m| m["content"].as_str().unwrap_or_default().to_owned())
        .collect::<Vec<_>>()
        .join("\n---\n")
}

/// Presses pairing's button `id` on the newest message of `user`'s DM
/// that has it, and waits for the follow-up it answers with.
async fn press(fake: &FakeDiscord, user: u64, id: &str) -> Vec<Value> {
    let channel = fake.dm_channel_id(user);
    let message = fake
        .channel_messages(channel)
        .into_iter()
        .rev()
        .find(|m| buttons(m).0.iter().any(|b| b == id))
        .unwrap_or_else(|| panic!("no message has {id}:\n{}", fake.dump()));
    let message_id: u64 = message["id"].as_str().unwrap().parse().unwrap();
    let before = fake.requests().len();
    fake.press_button(user, message_id, id);
    let ack = fake
        .wait_for_request_after("POST /interactions/*/*/callback", before, T)
        .await;
    assert_eq!(ack.body["type"], 7, "the buttons are disabled at once");
    let first = fake
        .wait_for_request_after("POST /webhooks/*/*", before, T)
        .await;
    vec![first.body]
}

fn code_in(text: &str) -> String {
    let at = text.find("invite code: **").expect("a code") + "invite code: **".len();
    text[at..at + 11].to_owned()
}

/// What mend sent into `user`'s DMs, from their partner or about pairing.
fn partner_messages(fake: &FakeDiscord, user: u64) -> Vec<String> {
    bot_messages(fake, fake.dm_channel_id(user))
        .into_iter()
        .filter_map(|m| m["content"].as_str().map(str::to_owned))
        .filter(|c| c.starts_with("**From your partner") || c.starts_with("**From mend.**"))
        .collect()
}

async fn pair_up(fake: &FakeDiscord, inviter: u64, joiner: u64) -> String {
    let invited = text(&pair(fake, inviter, None, "invite", None).await);
    let code = code_in(&invited);
    let joined = text(&pair(fake, joiner, None, "join", Some(("code", &code))).await);
    assert!(joined.contains("Never pair because someone is pressuring you to"));
    let confirmed = text(&press(fake, joiner, "pair:confirm").await);
    assert!(confirmed.contains("You're paired."), "{confirmed}");
    until("the inviter hears it is active", || {
        partner_messages(fake, inviter)
            .iter()
            .any(|m| m.contains("you're now paired"))
    })
    .await;
    code
}

/// `/pair send`, the kind pressed, the preview checked and confirmed.
async fn send(fake: &FakeDiscord, user: u64, kind: &str, words: &str) -> String {
    let chosen = text(&pair(fake, user, None, "send", Some(("text", words))).await);
    if !chosen.contains("What kind of message is this?") {
        return chosen;
    }
    let preview = text(&press(fake, user, &format!("pair:kind:{kind}")).await);
    assert!(preview.contains("This is exactly what your partner would receive"));
    assert!(preview.contains(words), "{preview}");
    text(&press(fake, user, "pair:send").await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partners_pair_send_and_end_without_the_other_being_told() {
    let fake = FakeDiscord::start().await;
    fake.set_member_roles(GUILD, SAM, vec![]);
    let (_dir, db) = temp_db();
    let mend = Mend::start(&fake, with_moderators(config(&fake, &db), &fake, false)).await;
    let registered = fake.global_commands();
    assert!(registered.iter().any(|c| c["name"] == "pair"));

    consents(&fake, ALEX).await;
    consents(&fake, SAM).await;
    pair_up(&fake, ALEX, SAM).await;

    // In a server, /pair answers only the person who asked.
    let status = text(&pair(&fake, SAM, Some(GUILD), "status", None).await);
    assert!(status.contains("You're paired"), "{status}");

    // A send: kind by button, preview, confirm, delivered as a DM.
    let sent = send(&fake, SAM, "appreciation", "You listened to me tonight").await;
    assert!(sent.contains("Sent."), "{sent}");
    until("the partner's DM", || {
        partner_messages(&fake, ALEX)
            .iter()
            .any(|m| m.contains("> You listened to me tonight"))
    })
    .await;

    // A crisis message addressed to a partner: not delivered, the sender
    // answered with the crisis reply, a flag raised and announced.
    let before = fake.requests().len();
    let crisis = text(
        &pair(
            &fake,
            SAM,
            None,
            "send",
            Some(("text", "I want to kill myself")),
        )
        .await,
    );
    assert!(crisis.contains("116 123"), "{crisis}");
    // And, privately, the offer to end pairing.
    let offer = fake
        .wait_for_request_after("POST /webhooks/*/*", before, T)
        .await;
    assert!(
        offer.body["content"]
            .as_str()
            .unwrap()
            .contains("you can end pairing now")
    );
    assert_eq!(buttons(&offer.body).0, ["pair:end"]);
    let pool = open_db(&db).await;
    let flags: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM flags")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(flags, 1);
    let mod_channel = fake.guild_channel_id(GUILD);
    until("the moderators' notice", || {
        !bot_messages(&fake, mod_channel).is_empty()
    })
    .await;

    // Alex ends it: one step.
    let ended = text(&pair(&fake, ALEX, None, "end", None).await);
    assert!(ended.contains("Pairing has ended. Your partner hasn't been told"));
    // Sam's next send is refused kindly, with no reason and no time; by
    // then anything queued for Sam would have gone first.
    let sam_before = bot_messages(&fake, fake.dm_channel_id(SAM)).len();
    let refused = send(&fake, SAM, "action", "Cook on Friday").await;
    assert_eq!(
        refused,
        "This connection isn't active, so nothing was sent."
    );
    let sam_dm = bot_messages(&fake, fake.dm_channel_id(SAM));
    for message in &sam_dm[..sam_before] {
        let content = message["content"].as_str().unwrap_or_default();
        assert!(!content.contains("ended"), "Sam was told: {content}");
    }
    assert!(
        partner_messages(&fake, SAM)
            .iter()
            .all(|m| !m.contains("end"))
    );
    assert_eq!(
        partner_messages(&fake, ALEX).len(),
        2,
        "only the join notice and the one message reached Alex"
    );
    // Either may block after an end; a blocked person's code is refused
    // like any other that does not work.
    assert!(text(&press(&fake, ALEX, "pair:block").await).contains("can't pair with you again"));
    let code = code_in(&text(&pair(&fake, SAM, None, "invite", None).await));
    let told = text(&pair(&fake, ALEX, None, "join", Some(("code", &code))).await);
    assert!(told.contains("That code didn't work."), "{told}");

    assert_every_message_is_safe(&fake);
    mend.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_reused_and_guessed_codes_are_refused() {
    let fake = FakeDiscord::start().await;
    let (_dir, db) = temp_db();
    let start: Timestamp = "2026-03-02T09:00:00Z".parse().unwrap();
    let clock = ManualClock::new(start);
    let mend = Mend::start_with_clock(&fake, config(&fake, &db), clock.clone()).await;
    for user in [ALEX, SAM, KIM] {
        consents(&fake, user).await;
    }
    let code = code_in(&text(&pair(&fake, ALEX, None, "invite", None).await));
    clock.advance(SignedDuration::from_hours(25));
    let late = text(&pair(&fake, SAM, None, "join", Some(("code", &code))).await);
    assert!(late.contains("That code didn't work."), "expired: {late}");

    let code = pair_up(&fake, ALEX, SAM).await;
    let reused = text(&pair(&fake, KIM, None, "join", Some(("code", &code))).await);
    assert!(reused.contains("That code didn't work."), "{reused}");

    for guess in ["AAAAA-AAAAA", "BBBBB-BBBBB", "CCCCC-CCCCC", "DDDDD-DDDDD"] {
        let told = text(&pair(&fake, KIM, None, "join", Some(("code", guess))).await);
        assert!(told.contains("That code didn't work."), "{told}");
    }
    let told = text(&pair(&fake, KIM, None, "join", Some(("code", "EEEEE-EEEEE"))).await);
    assert!(
        told.contains("as many codes as can be tried today"),
        "{told}"
    );
    mend.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_of_one_partners_state_is_in_anything_sent_to_the_other() {
    let fake = FakeDiscord::start().await;
    let (_dir, db) = temp_db();
    let mend = Mend::start(&fake, config(&fake, &db)).await;
    consents(&fake, ALEX).await;
    consents(&fake, SAM).await;
    pair_up(&fake, ALEX, SAM).await;
    let alex_dm = fake.dm_channel_id(ALEX);
    let to_alex_before = fake
        .requests()
        .iter()
        .filter(|r| r.path.contains(&format!("/channels/{alex_dm}/")))
        .count();

    // Sam keeps every kind of thing mend keeps: answers and a fact, a
    // journal note, a check-in with a note, a crisis flag, a worry asked
    // about, a pending question, /checkin settings and /progress.
    // Sam's events are applied one at a time, in order, so the answer to
    // the /checkin after them says they have all been applied.
    for line in [
        "menu",
        "3",
        "1",
        "zanzibar is my small action",
        "menu",
        "13",
        "4",
        "1",
        "1",
        "quetzal day note",
        "menu",
        "the walrus film made us both laugh at dinner",
        "keep it",
        "I want to end my life narwhal",
        "he hits me and I am scared of him, okapi",
    ] {
        fake.send_dm(SAM, line);
    }
    let before = fake.requests().len();
    fake.slash_command(
        SAM,
        None,
        "checkin",
        json!([{"name": "on", "type": 1, "options": [
            {"name": "time", "type": 3, "value": "20:30"},
            {"name": "timezone", "type": 3, "value": "Europe/London"},
        ]}]),
    );
    fake.wait_for_request_after("PATCH /webhooks/*/*/messages/@original", before, T)
        .await;
    let sent = send(&fake, SAM, "action", "the chosen words").await;
    assert!(sent.contains("Sent."), "{sent}");
    until("the chosen words", || {
        partner_messages(&fake, ALEX)
            .iter()
            .any(|m| m.contains("the chosen words"))
    })
    .await;

    // Everything mend sent to Alex since pairing, every request body.
    let to_alex: Vec<String> = fake
        .requests()
        .iter()
        .filter(|r| r.path.contains(&format!("/channels/{alex_dm}/")))
        .skip(to_alex_before)
        .map(|r| r.body.to_string())
        .collect();
    assert!(!to_alex.is_empty());
    for body in &to_alex {
        let body: Value = serde_json::from_str(body).unwrap();
        let mut words = body["content"].as_str().unwrap_or_default().to_owned();
        for row in body["components"].as_array().into_iter().flatten() {
            for button in row["components"].as_array().into_iter().flatten() {
                words.push_str(button["label"].as_str().unwrap_or_default());
            }
        }
        for secret in [
            "zanzibar", "quetzal", "walrus", "narwhal", "okapi", "20:30", "check-in", "flag",
            "safe",
        ] {
            assert!(
                !words.contains(secret),
                "{secret} reached the partner: {words}"
            );
        }
        assert_eq!(body["allowed_mentions"]["parse"], json!([]));
    }
    // And the one thing Sam chose to send did.
    assert!(to_alex.iter().any(|b| b.contains("the chosen words")));
    // Sam's state was really kept: the test is not passing on an empty Sam.
    let pool = open_db(&db).await;
    let kept: i64 = sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM answers) + (SELECT COUNT(*) FROM flags)
              + (SELECT COUNT(*) FROM checkins)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(kept >= 3, "{kept}");
    let notes: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM journal WHERE kept = 1")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(notes, 1, "the journal note was kept");
    mend.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_and_forget_on_both_sides() {
    let fake = FakeDiscord::start().await;
    let (_dir, db) = temp_db();
    let mend = Mend::start(&fake, config(&fake, &db)).await;
    consents(&fake, ALEX).await;
    consents(&fake, SAM).await;
    pair_up(&fake, ALEX, SAM).await;
    send(&fake, SAM, "appreciation", "first words").await;
    send(&fake, ALEX, "talk", "the garden").await;

    let sam = exported(&fake, SAM).await;
    assert_eq!(sam["pairing"]["sent"][0]["text"], "first words");
    assert_eq!(sam["pairing"]["received"][0]["text"], "the garden");
    assert_eq!(sam["pairing"]["received"][0]["kind"], "talk");
    assert!(sam["pairing"]["pairings"][0]["started_at"].is_string());
    let alex = exported(&fake, ALEX).await;
    assert_eq!(alex["pairing"]["received"][0]["text"], "first words");

    // Sam erases everything: the pairing ends, Sam's words go everywhere.
    let before = fake.requests().len();
    fake.slash_command(SAM, None, "forget", json!([]));
    fake.wait_for_request_after("POST /interactions/*/*/callback", before, T)
        .await;
    let confirm = bot_messages(&fake, fake.dm_channel_id(SAM))
        .into_iter()
        .rev()
        .find(|m| buttons(m).0.iter().any(|b| b == "privacy:erase"))
        .expect("the confirmation");
    let id: u64 = confirm["id"].as_str().unwrap().parse().unwrap();
    let before = fake.requests().len();
    fake.press_button(SAM, id, "privacy:erase");
    fake.wait_for_request_after("POST /channels/*/messages", before, T)
        .await;
    let pool = open_db(&db).await;
    let left: i64 = sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM pair_messages WHERE kind = 'appreciation')
              + (SELECT COUNT(*) FROM pairings WHERE ended_at IS NULL)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(left, 0);
    let alex = exported(&fake, ALEX).await;
    assert_eq!(alex["pairing"]["received"], json!([]));
    assert_eq!(alex["pairing"]["sent"][0]["text"], "the garden");
    assert_eq!(alex["pairing"]["pairings"][0]["ended"], true);
    assert!(
        alex["pairing"]["pairings"][0]["ended_at"].is_null(),
        "no time for Alex"
    );
    let refused = send(&fake, ALEX, "action", "anyone there").await;
    assert_eq!(
        refused,
        "This connection isn't active, so nothing was sent."
    );
    mend.stop().await.unwrap();
}

/// The file `/export` sends, in the DM.
async fn exported(fake: &FakeDiscord, user: u64) -> Value {
    let before = fake.requests().len();
    fake.slash_command(user, None, "export", json!([]));
    let edit = fake
        .wait_for_request_after("PATCH /webhooks/*/*/messages/@original", before, T)
        .await;
    let file = &edit.body["_files"][0];
    serde_json::from_str(file["text"].as_str().expect("a file")).unwrap()
}

/// Presses the conversation button labelled `label` on the newest DM
/// message that has it, and waits until mend says something containing
/// `expect`.
async fn press_label(fake: &FakeDiscord, user: u64, label: &str, expect: &str) -> String {
    let channel = fake.dm_channel_id(user);
    let message = bot_messages(fake, channel)
        .into_iter()
        .rev()
        .find(|m| {
            m["components"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|row| row["components"].as_array().into_iter().flatten())
                .any(|b| b["label"] == label && b["custom_id"].is_string())
        })
        .unwrap_or_else(|| panic!("no button {label:?}:\n{}", fake.dump()));
    let id = message["components"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|row| row["components"].as_array().unwrap())
        .find(|b| b["label"] == label)
        .unwrap()["custom_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = bot_messages(fake, channel).len();
    fake.press_button(user, message["id"].as_str().unwrap().parse().unwrap(), &id);
    let found = |fake: &FakeDiscord| {
        bot_messages(fake, channel)[before..]
            .iter()
            .filter_map(|m| m["content"].as_str())
            .find(|c| c.contains(expect))
            .map(str::to_owned)
    };
    until(expect, || found(fake).is_some()).await;
    found(fake).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dm_menu_reaches_pairing_too() {
    let fake = FakeDiscord::start().await;
    let (_dir, db) = temp_db();
    let mend = Mend::start(&fake, config(&fake, &db)).await;
    consents(&fake, ALEX).await;
    consents(&fake, SAM).await;
    let alex = Person::new(&fake, ALEX);
    let before = alex.sent().len();
    fake.send_dm(ALEX, "menu");
    alex.wait_messages(before, 1).await;
    press_label(
        &fake,
        ALEX,
        "Pairing with my partner",
        "What would you like to do?",
    )
    .await;
    let invited = press_label(
        &fake,
        ALEX,
        "Get an invite code for my partner",
        "invite code:",
    )
    .await;
    let code = code_in(&invited);
    assert!(invited.contains("/pair join"), "{invited}");

    let sam = Person::new(&fake, SAM);
    let before = sam.sent().len();
    fake.send_dm(SAM, "menu");
    sam.wait_messages(before, 1).await;
    press_label(
        &fake,
        SAM,
        "Pairing with my partner",
        "What would you like to do?",
    )
    .await;
    press_label(&fake, SAM, "I have a code from my partner", "Type the code").await;
    let before = sam.sent().len();
    fake.send_dm(SAM, &code);
    until("the statement", || {
        sam.sent()[before..].iter().any(|m| {
            m["content"]
                .as_str()
                .is_some_and(|c| c.contains("pressuring"))
        })
    })
    .await;
    let confirmed = text(&press(&fake, SAM, "pair:confirm").await);
    assert!(confirmed.contains("You're paired."), "{confirmed}");
    until("Alex hears", || {
        partner_messages(&fake, ALEX)
            .iter()
            .any(|m| m.contains("you're now paired"))
    })
    .await;
    assert_every_message_is_safe(&fake);
    mend.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_answers_by_button_and_hears_nothing_more_than_that() {
    let fake = FakeDiscord::start().await;
    let (_dir, db) = temp_db();
    let mend = Mend::start(&fake, config(&fake, &db)).await;
    consents(&fake, ALEX).await;
    consents(&fake, SAM).await;
    pair_up(&fake, ALEX, SAM).await;

    // A request to talk arrives with a "Not yet" button; pressing it
    // answers with those words alone.
    assert!(
        send(&fake, SAM, "talk", "the holidays")
            .await
            .contains("Sent.")
    );
    until("the request", || {
        partner_messages(&fake, ALEX)
            .iter()
            .any(|m| m.contains("> Could we talk about the holidays this week?"))
    })
    .await;
    let answered = text(&press(&fake, ALEX, "pair:not-yet").await);
    assert!(answered.contains("Sent."), "{answered}");
    until("the answer", || {
        partner_messages(&fake, SAM)
            .iter()
            .any(|m| m.contains("answered your request to talk: not yet."))
    })
    .await;

    // Our one thing this week, proposed from the DM menu, accepted by button.
    let alex = Person::new(&fake, ALEX);
    let before = alex.sent().len();
    fake.send_dm(ALEX, "menu");
    alex.wait_messages(before, 1).await;
    press_label(
        &fake,
        ALEX,
        "Pairing with my partner",
        "What would you like to do?",
    )
    .await;
    press_label(
        &fake,
        ALEX,
        "Our one thing this week",
        "Our one thing this week is",
    )
    .await;
    press_label(&fake, ALEX, "Propose one", "Write the one thing").await;
    let before = alex.sent().len();
    fake.send_dm(ALEX, "a walk on Sunday");
    until("proposed", || {
        alex.sent()[before..].iter().any(|m| {
            m["content"]
                .as_str()
                .is_some_and(|c| c.starts_with("Proposed."))
        })
    })
    .await;
    until("the proposal", || {
        partner_messages(&fake, SAM)
            .iter()
            .any(|m| m.contains("> a walk on Sunday"))
    })
    .await;
    let accepted = text(&press(&fake, SAM, "pair:accept").await);
    assert!(accepted.contains("Accepted"), "{accepted}");
    until("Alex hears it was accepted", || {
        partner_messages(&fake, ALEX)
            .iter()
            .any(|m| m.contains("They accepted your one thing for this week."))
    })
    .await;
    assert_every_message_is_safe(&fake);
    mend.stop().await.unwrap();
}
