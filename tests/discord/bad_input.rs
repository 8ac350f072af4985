//! Strange input through the real serenity client: odd texts, forged and
//! foreign button ids, events with ids that are not ids. Each gets a kind
//! reply or is ignored; nothing panics, nobody is pinged, nothing is lost.

use serde_json::{Value, json};

use crate::fake::FakeDiscord;
use crate::helpers::{
    Mend, Person, T, assert_every_message_is_safe, buttons, config, logs, temp_db, until,
};

const KIM: u64 = 450_000_000_000_000_001;

fn table() -> Vec<(&'static str, String)> {
    vec![
        ("empty", String::new()),
        ("4,000 characters", "a".repeat(4000)),
        ("100,000 characters", "word ".repeat(20_000)),
        ("only emoji", "💔🫶🏽👩‍❤️‍👨🙂".into()),
        (
            "zero-width",
            "\u{200b}\u{200c}\u{200d}\u{2060}\u{feff}".into(),
        ),
        ("right-to-left override", "\u{202e}pleh\u{202c}".into()),
        (
            "combining marks",
            "a\u{301}\u{302}\u{303}\u{304}\u{305}".into(),
        ),
        ("NUL bytes", "before\u{0}after\u{0}".into()),
        ("@everyone", "@everyone look".into()),
        ("@here", "@here hi".into()),
        ("role mention", "<@&123456789012345678>".into()),
        ("user mention", "<@123456789012345678> <@!1>".into()),
        ("channel mention", "<#123456789012345678>".into()),
        (
            "markdown and fences",
            "**bold** __u__ ||spoiler|| ```js\nalert(1)\n``` > quote".into(),
        ),
        ("a button id typed", "welcome:danger:99".into()),
        ("a placeholder", "{name} {missing}".into()),
    ]
}

/// The latest message from mend that has a button, and that button.
fn a_button(person: &Person<'_>) -> (u64, String) {
    let message = person
        .sent()
        .into_iter()
        .rev()
        .find(|m| !buttons(m).0.is_empty())
        .expect("a message with a button");
    let id = message["id"].as_str().unwrap().parse().unwrap();
    (id, buttons(&message).0[0].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strange_input_gets_a_kind_reply_or_is_ignored_and_nothing_is_lost() {
    let fake = FakeDiscord::start().await;
    let (_dir, db) = temp_db();
    let mend = Mend::start(&fake, config(&fake, &db)).await;
    let mut kim = Person::new(&fake, KIM);
    kim.say("hello").await;
    let place = kim.expected.place.clone().expect("a place after hello");

    for (name, text) in table() {
        let before = kim.sent().len();
        fake.send_dm(KIM, &text);
        until(name, || kim.sent().len() > before).await;
        let reply = &kim.sent()[before];
        let content = reply["content"].as_str().unwrap_or("");
        assert!(!content.is_empty(), "{name}: an empty reply");
        assert!(content.chars().count() <= 2000, "{name}: too long to send");
        assert!(
            !content.contains("error") && !content.contains("panicked"),
            "{name}: {content}"
        );
    }

    // Button ids that no message of mend's ever had: forged by a client or
    // left by another app. Each is answered gently or ignored.
    for forged in [
        "welcome:no-such-step:7",
        "ghost:flow:1",
        "privacy:bogus",
        "flag:not-a-number:claim",
        "another-app:thing",
        "",
        "::::",
    ] {
        // A fresh re-ask to press on: a pressed message's buttons are disabled.
        let before = kim.sent().len();
        fake.send_dm(KIM, "not one of the choices");
        until("a re-ask", || kim.sent().len() > before).await;
        let (message, real) = a_button(&kim);
        let before = fake.requests().len();
        let forged_id = forged.to_owned();
        fake.tamper_next_dispatch("INTERACTION_CREATE", move |d: &mut Value| {
            d["data"]["custom_id"] = json!(forged_id);
        });
        fake.press_button(KIM, message, &real);
        // Acknowledged (or answered) once, within Discord's window.
        let callback = fake
            .wait_for_request_after("POST /interactions/*/*/callback", before, T)
            .await;
        assert!(
            (200..300).contains(&callback.status),
            "{forged:?}: {callback:?}"
        );
    }

    // Events whose ids are not ids: serenity drops them; mend carries on.
    fake.tamper_next_dispatch("MESSAGE_CREATE", |d: &mut Value| {
        d["author"]["id"] = json!("not-a-snowflake");
    });
    fake.send_dm(KIM, "this event is malformed");
    fake.tamper_next_dispatch("MESSAGE_CREATE", |d: &mut Value| {
        d["channel_id"] = json!(-1);
    });
    fake.send_dm(KIM, "so is this one");

    // After all of it Kim is still where they were, and mend still answers.
    let state = {
        let pool = crate::helpers::open_db(&db).await;
        let row: (String, String) = sqlx::query_as("SELECT flow, step FROM conversations")
            .fetch_one(&pool)
            .await
            .unwrap();
        row
    };
    assert_eq!(
        (state.0.as_str(), state.1.as_str()),
        (place.flow.as_str(), place.step.as_str()),
        "nothing moved"
    );
    let before = kim.sent().len();
    fake.send_dm(KIM, "menu");
    until("an answer to menu", || kim.sent().len() > before).await;

    assert_every_message_is_safe(&fake);
    assert!(!logs().contains("panicked"), "a task panicked");
    mend.stop().await.unwrap();
}
