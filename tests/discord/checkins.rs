//! Daily check-ins end to end with the real serenity client and a clock the
//! test moves: opt in by slash command, the check-in DM arrives at the local
//! time with its buttons and links, the answers go in by button, /progress
//! shows them, and /checkin off stops them.

use jiff::{SignedDuration, Timestamp};
use mend::clock::ManualClock;
use mend::conversation::engine::Consent;
use serde_json::{Value, json};

use crate::fake::FakeDiscord;
use crate::helpers::{
    Mend, Person, T, assert_every_message_is_safe, buttons, config, temp_db, until,
};

const ROBIN: u64 = 460_000_000_000_000_001;

/// The text of a slash command's answer, sent directly or by editing the
/// deferred answer.
async fn command(fake: &FakeDiscord, user: u64, name: &str, options: Value) -> String {
    let before = fake.requests().len();
    fake.slash_command(user, None, name, options);
    let answer = fake
        .wait_for_request_after("POST /interactions/*/*/callback", before, T)
        .await;
    assert!((200..300).contains(&answer.status), "{answer:?}");
    if answer.body["type"] != 5 {
        return answer.body["data"]["content"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
    }
    let edit = fake
        .wait_for_request_after("PATCH /webhooks/*/*/messages/@original", before, T)
        .await;
    assert!((200..300).contains(&edit.status), "{edit:?}");
    edit.body["content"].as_str().unwrap_or_default().to_owned()
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
    robin.wait_answer(before).await
}

fn utc(text: &str) -> Timestamp {
    text.parse().unwrap()
}

/// mend on `db` with the scheduler looking every second and a clock set to
/// `at`, which the test moves.
async fn start_at(fake: &FakeDiscord, db: &std::path::Path, at: &str) -> (Mend, ManualClock) {
    let mut config = config(fake, db);
    config.checkins.every_seconds = 1;
    let clock = ManualClock::new(utc(at));
    let mend = Mend::start_with_clock(fake, config, clock.clone()).await;
    (mend, clock)
}

/// Someone who has said yes to mend keeping what they tell it: check-ins
/// keep answers, so they ask for that first.
async fn agreed(fake: &FakeDiscord, user: u64) -> Person<'_> {
    let mut person = Person::new(fake, user);
    person.say("hello").await;
    let script = person.script().clone();
    let start = person.expected.clone();
    for line in crate::route::route(&script, &start, "fine", |o| {
        o.state.consent == Consent::Given
    }) {
        person.act(&line).await;
    }
    person
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opt_in_receive_answer_by_button_see_progress_and_opt_out() {
    let fake = FakeDiscord::start().await;
    let (_dir, db) = temp_db();
    // 10 March 2027, 08:00 in London (GMT, before the clocks change).
    let (mend, clock) = start_at(&fake, &db, "2027-03-10T08:00:00Z").await;
    let robin = agreed(&fake, ROBIN).await;

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

    // Answered by buttons: a 4; no small action chosen yet, so one is
    // chosen now, in words; nothing to add.
    clock.advance(SignedDuration::from_mins(5));
    press_label(&fake, &robin, "4").await;
    press_label(&fake, &robin, "Choose one now").await;
    let before = robin.sent().len();
    fake.send_dm(ROBIN, "a walk after dinner");
    // The action echoed, then the day's line offered.
    let chosen = robin.wait_messages(before, 2).await;
    assert!(
        chosen
            .iter()
            .any(|m| content(m).contains("> a walk after dinner")),
        "{chosen:#?}"
    );
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
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.is("PATCH /webhooks/*/*/messages/@original"))
        .expect("the /progress answer");
    let file = &answer.body["_files"][0];
    assert_eq!(
        file["filename"],
        mend::checkins::progress::CHART_FILE,
        "{file}"
    );
    assert_eq!(file["content_type"], "image/png", "{file}");
    assert!(progress.contains("1 of the last 14 days"), "{progress}");
    assert!(progress.contains("averaged 4.0 out of 5"), "{progress}");
    // The action was chosen in this check-in, so none has happened yet.
    assert!(progress.contains("current run is 0 days."), "{progress}");

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

const SAGE: u64 = 460_000_000_000_000_002;

/// Writes a DM that mend answers with `count` messages, and returns them.
async fn write(fake: &FakeDiscord, person: &Person<'_>, text: &str, count: usize) -> Vec<Value> {
    let before = person.sent().len();
    fake.send_dm(person.user, text);
    person.wait_messages(before, count).await
}

fn content(message: &Value) -> &str {
    message["content"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dm_menu_sets_check_ins_and_shows_progress_with_its_chart() {
    let fake = FakeDiscord::start().await;
    let (_dir, db) = temp_db();
    // Wednesday 10 March 2027, 08:00 in London.
    let (mend, clock) = start_at(&fake, &db, "2027-03-10T08:00:00Z").await;
    let mut sage = agreed(&fake, SAGE).await;

    // From the menu to the check-in settings, and a time typed loosely.
    sage.say("menu").await;
    press_label(&fake, &sage, "Daily check-ins: on, off or pause").await;
    press_label(&fake, &sage, "Turn them on, or change the time").await;
    let bad = write(&fake, &sage, "9:00 Europe/Londn", 2).await;
    assert!(content(&bad[0]).contains("Europe/London"), "{bad:#?}");
    assert!(content(&bad[0]).contains("Nothing has changed"), "{bad:#?}");
    assert_eq!(content(&bad[1]), "Anything else about your check-ins?");
    press_label(&fake, &sage, "Turn them on, or change the time").await;
    let on = write(&fake, &sage, "europe/london 9:00", 2).await;
    assert!(
        content(&on[0]).contains("every day at 09:00 (Europe/London), starting today"),
        "{on:#?}"
    );
    // The words come with the links, and the next step with its buttons.
    let (ids, urls) = buttons(&on[0]);
    assert!(ids.is_empty());
    assert_eq!(urls.len(), 3);
    assert_eq!(buttons(&on[1]).0.len(), 6, "{on:#?}");
    let setting = mend::store::Store::open(
        &db,
        &mend::store::StoreOptions::default(),
        &crate::helpers::test_key(),
    )
    .await
    .unwrap()
    .checkin(&format!("discord:{SAGE}"))
    .await
    .unwrap()
    .expect("a check-in setting");
    assert_eq!(
        (setting.local_time.as_str(), setting.zone.as_str()),
        ("09:00", "Europe/London")
    );

    let shown = press_label(&fake, &sage, "What's set at the moment?").await;
    assert!(
        content(&shown[0])
            .contains("on, at 09:00 (Europe/London). The next is on Wednesday 10 March"),
        "{shown:#?}"
    );

    // Paused for a week: nothing at 09:00 today.
    let paused = press_label(&fake, &sage, "Pause them for a week").await;
    assert!(
        content(&paused[0]).contains("The next one comes on Wednesday 17 March"),
        "{paused:#?}"
    );
    let before = sage.sent().len();
    clock.set(utc("2027-03-10T09:00:30Z"));
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(sage.sent().len(), before, "paused: no check-in today");

    // Today's check-in from the menu counts all the same.
    sage.say("menu").await;
    press_label(&fake, &sage, "Today's check-in").await;
    press_label(&fake, &sage, "3").await;
    press_label(&fake, &sage, "Not today").await;
    press_label(&fake, &sage, "Nothing today").await;

    // Progress from the menu: the words, then the menu again; the chart is
    // attached to the words.
    sage.say("menu").await;
    let before = fake.requests().len();
    let progress = press_label(&fake, &sage, "How my check-ins have gone").await;
    assert!(
        content(&progress[0]).contains("1 of the last 14 days"),
        "{progress:#?}"
    );
    assert!(content(&progress[1]).starts_with("What would help right now?"));
    let upload = fake.requests()[before..]
        .iter()
        .find(|r| r.is("POST /channels/*/messages") && r.body["_files"].is_array())
        .cloned()
        .expect("the chart was uploaded");
    let file = &upload.body["_files"][0];
    assert_eq!(
        file["filename"],
        mend::checkins::progress::CHART_FILE,
        "{file}"
    );
    assert_eq!(file["content_type"], "image/png", "{file}");
    assert_eq!(upload.body["content"], content(&progress[0]));

    // Off from the menu, and it says so.
    sage.say("menu").await;
    press_label(&fake, &sage, "Daily check-ins: on, off or pause").await;
    let off = press_label(&fake, &sage, "Turn them off").await;
    assert!(
        content(&off[0]).starts_with("Daily check-ins are off"),
        "{off:#?}"
    );

    assert_every_message_is_safe(&fake);
    mend.stop().await.unwrap();
}
