//! The moderators' commands on Discord: who is offered them, what an action
//! taken by command does to the channel notice, and the note's limit.

use serde_json::{Value, json};

use crate::fake::FakeDiscord;
use crate::helpers::{
    GUILD, MOD_ROLE, Mend, Person, T, bot_messages, buttons, config, open_db, temp_db, until,
    with_moderators,
};

const ALEX: u64 = 440_000_000_000_000_001;
const MODERATOR: u64 = 450_000_000_000_000_001;
const DANGER: &str = "I can't do this anymore, I want to kill myself";

/// Discord's MANAGE_MESSAGES permission bit, as Discord's JSON spells it.
const MANAGE_MESSAGES: &str = "8192";

/// Starts mend with moderators, raises one crisis flag from ALEX and waits
/// until its notice is posted and remembered. Returns the notice's id.
async fn flag_with_notice(fake: &FakeDiscord, db: &std::path::Path) -> (Mend, u64) {
    fake.set_member_roles(GUILD, MODERATOR, vec![MOD_ROLE]);
    let mend = Mend::start(fake, with_moderators(config(fake, db), fake, false)).await;
    let mod_channel = fake.guild_channel_id(GUILD);
    let alex = Person::new(fake, ALEX);
    fake.send_dm(ALEX, DANGER);
    alex.wait_messages(0, 1).await;
    until("the flag's notice", || {
        !bot_messages(fake, mod_channel).is_empty()
    })
    .await;
    let notice: u64 = bot_messages(fake, mod_channel)[0]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let pool = open_db(db).await;
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let stored: Option<String> = sqlx::query_scalar("SELECT notice_message FROM flags")
            .fetch_one(&pool)
            .await
            .unwrap();
        if stored == Some(notice.to_string()) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the notice's id is never stored"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    (mend, notice)
}

/// Runs `/flag` as the moderator and returns mend's answer to it.
async fn flag_command(fake: &FakeDiscord, options: Value) -> Value {
    let before = fake.interaction_callbacks().len();
    fake.slash_command(MODERATOR, Some(GUILD), "flag", options);
    fake.wait_for(
        |reqs| {
            reqs.iter()
                .filter(|r| r.is("POST /interactions/*/*/callback"))
                .count()
                > before
        },
        T,
    )
    .await;
    fake.interaction_callbacks().pop().unwrap().body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_moderators_commands_are_offered_only_to_members_who_manage_messages() {
    let fake = FakeDiscord::start().await;
    let (_dir, db) = temp_db();
    let mend = Mend::start(&fake, with_moderators(config(&fake, &db), &fake, false)).await;
    let route = format!("PUT /applications/*/guilds/{GUILD}/commands");
    fake.wait_for_request(&route, T).await;

    let registered = fake.guild_commands(GUILD);
    let names: Vec<&str> = registered
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["flags", "flag"]);
    for command in &registered {
        assert_eq!(
            command["default_member_permissions"], MANAGE_MESSAGES,
            "{command}"
        );
    }
    // The commands for everyone stay offered to everyone.
    for command in fake.global_commands() {
        assert_eq!(command["default_member_permissions"], Value::Null);
    }
    mend.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_action_taken_by_command_shows_in_the_channel_notice() {
    let fake = FakeDiscord::start().await;
    let (_dir, db) = temp_db();
    let (mend, notice) = flag_with_notice(&fake, &db).await;
    let mod_channel = fake.guild_channel_id(GUILD);
    let edit = format!("PATCH /channels/{mod_channel}/messages/{notice}");
    let edits = || fake.requests().iter().filter(|r| r.is(&edit)).count();
    assert_eq!(edits(), 0);

    let answer = flag_command(
        &fake,
        json!([
            {"name": "id", "type": 4, "value": 1},
            {"name": "action", "type": 3, "value": "claim"}
        ]),
    )
    .await;
    assert!(
        answer["data"]["content"]
            .as_str()
            .unwrap()
            .starts_with("Done.")
    );
    until("the notice shows the claim", || edits() == 1).await;
    let shown = fake.message(notice).unwrap();
    assert!(
        shown["content"].as_str().unwrap().contains("**claimed**"),
        "{shown}"
    );

    flag_command(
        &fake,
        json!([
            {"name": "id", "type": 4, "value": 1},
            {"name": "action", "type": 3, "value": "resolve"},
            {"name": "note", "type": 3, "value": "Spoke with them; safe with family."}
        ]),
    )
    .await;
    until("the notice shows the resolve", || edits() == 2).await;
    let shown = fake.message(notice).unwrap();
    let content = shown["content"].as_str().unwrap();
    assert!(content.contains("**resolved**"), "{content}");
    assert!(
        content.contains(&format!("Handled by <@{MODERATOR}>: Spoke with them")),
        "{content}"
    );
    // Nothing is left to press but the services' links.
    let (ids, urls) = buttons(&shown);
    assert_eq!(ids, ["flag:1:claim", "flag:1:resolve", "flag:1:escalate"]);
    assert_eq!(urls.len(), 3);
    for row in shown["components"].as_array().unwrap() {
        for button in row["components"].as_array().unwrap() {
            if button.get("custom_id").is_some() {
                assert_eq!(button["disabled"], true, "{button}");
            }
        }
    }
    // The edit pings no one, even though the notice names people.
    let edited = fake.requests().into_iter().rfind(|r| r.is(&edit)).unwrap();
    assert_eq!(edited.body["allowed_mentions"]["parse"], json!([]));
    mend.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_note_over_the_limit_is_refused_kindly_and_nothing_is_stored() {
    let fake = FakeDiscord::start().await;
    let (_dir, db) = temp_db();
    let (mend, _notice) = flag_with_notice(&fake, &db).await;
    let route = format!("PUT /applications/*/guilds/{GUILD}/commands");
    fake.wait_for_request(&route, T).await;
    let registered = fake.guild_commands(GUILD);
    let flag = registered.iter().find(|c| c["name"] == "flag").unwrap();
    let note_option = flag["options"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "note")
        .unwrap();
    assert_eq!(note_option["max_length"], 1000, "Discord is told the limit");

    // A client that ignores the limit is still refused, by mend.
    let answer = flag_command(
        &fake,
        json!([
            {"name": "id", "type": 4, "value": 1},
            {"name": "action", "type": 3, "value": "resolve"},
            {"name": "note", "type": 3, "value": "x".repeat(1001)}
        ]),
    )
    .await;
    assert_eq!(answer["data"]["flags"], 64, "ephemeral");
    let text = answer["data"]["content"].as_str().unwrap();
    assert!(
        text.contains("up to 1000 characters") && text.contains("this one has 1001"),
        "{text}"
    );
    assert!(text.contains("Nothing was changed"), "{text}");

    let pool = open_db(&db).await;
    let (status, note): (String, Option<String>) =
        sqlx::query_as("SELECT status, note FROM flags WHERE id = 1")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(status, "open");
    assert_eq!(note, None);
    let audited: Vec<String> = sqlx::query_scalar("SELECT action FROM audit")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert!(audited.is_empty(), "{audited:?}");

    // A note at the limit is taken.
    let answer = flag_command(
        &fake,
        json!([
            {"name": "id", "type": 4, "value": 1},
            {"name": "action", "type": 3, "value": "resolve"},
            {"name": "note", "type": 3, "value": "y".repeat(1000)}
        ]),
    )
    .await;
    let text = answer["data"]["content"].as_str().unwrap();
    assert!(text.starts_with("Done."), "{text}");
    let status: String = sqlx::query_scalar("SELECT status FROM flags WHERE id = 1")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(status, "resolved");
    mend.stop().await.unwrap();
}
