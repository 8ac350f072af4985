//! Daily check-ins end to end with the real serenity client and a clock the
//! test moves: opt in by slash command, the check-in DM arrives at the local
//! time with its buttons and links, the answers go in by button, /progress
//! shows them, and /checkin off stops them.

use jiff::{SignedDuration, Timestamp};
use mend::engine::Consent;
use mend::scheduler::ManualClock;
use serde_json::{Value, json};

use crate::fake::FakeDiscord;
use crate::helpers::{Mend, Person, T, assert_every_message_is_safe, buttons, config, temp_db};

const ROBIN: u64 = 460_000_000_000_000_001;

/// Polls `ready` (which may ask the fake) until it holds.
async fn until(what: &str, ready: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + T;
    while !ready() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// The text of a slash command's answer, sent directly or by editing.
async fn command(fake: &FakeDiscord, user: u64, name: &str, options: Value) -> String {
    let before = fake.requests().len();
    fake.slash_command(user, None, name, options);
    let answer = fake
        .wait_for_request_after("POST /interactions/*/*/callback", before, T)
        .await;
    assert!((200..300).contains(&answer.status), "{answer:?}");
    answer.body["data"]["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn on(time: &str, zone: &str) -> Value {
    json!([{
        "name": "on",
        "type": 1,
        "options": [
            {"name": "time", "type": 3, "value": time},
            {"name": "timezone", "type": 3, "value": zone},
        ],
    }])
}

/// Presses the button labelled `label` on mend's latest message that has it,
/// and waits for what mend says next.
async fn press_label(fake: &FakeDiscord, robin: &Person<'_>, label: &str) -> Vec<Value> {
    let message = robin
        .sent()
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
        .unwrap_or_else(|| panic!("no message has a button {label:?}"));
    let custom_id = message["components"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|row| row["components"].as_array().unwrap())
        .find(|b| b["label"] == label)
        .unwrap()["custom_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let id: u64 = message["id"].as_str().unwrap().parse().unwrap();
    let before = robin.sent().len();
    fake.press_button(robin.user, id, &custom_id);
    until(label, || robin.sent().len() > before).await;
    // Let a turn's several messages land.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    robin.sent()[before..].to_vec()
}

fn utc(text: &str) -> Timestamp {
    text.parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opt_in_receive_answer_by_button_see_progress_and_opt_out() {
    let fake = FakeDiscord::start().await;
    let (_dir, db) = temp_db();
    let mut config = config(&fake, &db);
    config.checkins.every_seconds = 1;
    // 10 March 2027, 08:00 in London (GMT, before the clocks change).
    let clock = ManualClock::new(utc("2027-03-10T08:00:00Z"));
    let mend = Mend::start_with_clock(&fake, config, clock.clone()).await;

    // Check-ins keep answers, so Robin agrees first.
    let mut robin = Person::new(&fake, ROBIN);
    robin.say("hello").await;
    let script = robin.script().clone();
    let start = robin.expected.clone();
    for line in crate::route::route(&script, &start, "fine", |o| {
        o.state.consent == Consent::Given
    }) {
        robin.act(&line).await;
    }

    // A zone that does not exist gets a kind answer with suggestions.
    let bad = command(&fake, ROBIN, "checkin", on("20:30", "Europe/Londn")).await;
    assert!(bad.contains("Europe/London"), "{bad}");
    assert!(bad.contains("Nothing has changed"), "{bad}");

    let answer = command(&fake, ROBIN, "checkin", on("09:00", "Europe/London")).await;
    assert!(answer.contains("09:00"), "{answer}");
    assert!(answer.contains("today"), "{answer}");

    // Nothing before the time; at 09:00 London the check-in comes.
    let before = robin.sent().len();
    clock.set(utc("2027-03-10T08:59:00Z"));
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(robin.sent().len(), before, "nothing before its time");
    clock.set(utc("2027-03-10T09:00:30Z"));
    until("the check-in", || robin.sent().len() > before).await;
    let checkin = robin.sent()[before].clone();
    let (ids, urls) = buttons(&checkin);
    assert_eq!(ids.len(), 5, "a 1 to 5 scale: {checkin}");
    assert_eq!(
        urls,
        [
            "https://www.relate.org.uk",
            "https://www.cosrt.org.uk",
            "https://www.bacp.co.uk"
        ]
    );
    assert!(checkin["content"].as_str().unwrap().contains("check-in"));

    // Answered by buttons: a 4, the small action happened, nothing to add.
    clock.advance(SignedDuration::from_mins(5));
    press_label(&fake, &robin, "4").await;
    press_label(&fake, &robin, "Yes").await;
    let close = press_label(&fake, &robin, "Nothing today").await;
    assert!(
        close.last().unwrap()["content"]
            .as_str()
            .unwrap()
            .contains("Thank you for checking in")
    );

    let progress = command(&fake, ROBIN, "progress", json!([])).await;
    // The same, drawn: a PNG attached beside the words.
    let answer = fake
        .interaction_callbacks()
        .pop()
        .expect("the /progress answer");
    let file = &answer.body["_files"][0];
    assert_eq!(file["filename"], mend::progress::CHART_FILE, "{file}");
    assert_eq!(file["content_type"], "image/png", "{file}");
    assert!(progress.contains("1 of the last 14 days"), "{progress}");
    assert!(progress.contains("averaged 4.0 out of 5"), "{progress}");
    assert!(progress.contains("current run is 1 day."), "{progress}");

    // Only one check-in that day, however long the day goes on.
    let after_first = robin.sent().len();
    clock.set(utc("2027-03-10T21:00:00Z"));
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(robin.sent().len(), after_first, "one a day");

    // Off is one command, and nothing more comes.
    let off = command(
        &fake,
        ROBIN,
        "checkin",
        json!([{"name": "off", "type": 1, "options": []}]),
    )
    .await;
    assert!(off.contains("off"), "{off}");
    let after_off = robin.sent().len();
    clock.set(utc("2027-03-11T09:05:00Z"));
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(robin.sent().len(), after_off, "nothing after opting out");

    assert_every_message_is_safe(&fake);
    mend.stop().await.unwrap();
}
