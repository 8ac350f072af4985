//! A person's conversation on Discord: buttons, typed answers, stale and
//! double presses, slash commands, bots, 50007, restarts and shutdown.

use mend::conversation::engine::{Consent, Outcome};
use mend::flows::{MENU, Situation};
use serde_json::json;

use crate::fake::{FakeDiscord, Fault};
use crate::helpers::{
    GUILD, Mend, Person, T, TEST_KEY_HEX, assert_every_message_is_safe, buttons, config, temp_db,
    test_key,
};
use crate::route::route;

const SAM: u64 = 400_000_000_000_000_001;
const ANSWER: &str = "Make her a coffee and ask how she slept";

/// Drives `person` along the route the engine finds to `goal`.
async fn go(person: &mut Person<'_>, goal: impl Fn(&Outcome) -> bool) {
    let lines = route(person.script(), &person.expected, ANSWER, goal);
    for line in lines {
        person.act(&line).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_dm_to_a_flow_with_buttons_typed_answers_and_links_on_everything() {
    let fake = FakeDiscord::start().await;
    let (_dir, db) = temp_db();
    let mend = Mend::start(&fake, config(&fake, &db)).await;
    assert_eq!(
        fake.identify_intents(),
        Some(1 << 12),
        "DIRECT_MESSAGES only"
    );
    for command in fake.global_commands() {
        assert!(!command["description"].as_str().unwrap().is_empty());
    }

    let mut sam = Person::new(&fake, SAM);
    let welcome = sam.say("hi").await;
    let (ids, urls) = buttons(welcome.last().unwrap());
    assert!(!ids.is_empty(), "the welcome offers buttons");
    assert_eq!(urls.len(), 3);

    go(&mut sam, |o| o.state.consent == Consent::Given).await;
    go(&mut sam, |o| o.state.situation == Some(Situation::Hurt)).await;
    go(&mut sam, |o| {
        o.state.place.as_ref().is_some_and(|p| p.flow == MENU)
    })
    .await;
    go(&mut sam, |o| {
        o.replies.iter().any(|r| r.text().contains(ANSWER))
    })
    .await;
    assert!(
        sam.sent()
            .iter()
            .any(|m| m["content"].as_str().unwrap().contains(ANSWER)),
        "the typed answer is quoted back"
    );

    // Each pressed message had its answers disabled, links left usable.
    let updates: Vec<_> = fake
        .interaction_callbacks()
        .into_iter()
        .filter(|r| r.body["type"] == 7)
        .collect();
    assert!(!updates.is_empty());
    for update in &updates {
        for row in update.body["data"]["components"].as_array().unwrap() {
            for button in row["components"].as_array().unwrap() {
                let link = button["style"] == 5;
                assert_eq!(button["disabled"], json!(!link), "{button}");
            }
        }
    }
    assert_every_message_is_safe(&fake);

    // A gateway frame serenity cannot parse is dropped, and its text (a
    // person's message) stays out of the log even at trace level.
    let secret = "a frame with words nobody may log";
    // No sequence number: serenity's gateway reader rejects the envelope.
    fake.send_raw_frame(json!({"op": 0, "t": "MESSAGE_CREATE", "d": {"content": secret}}));
    // A known event whose body does not fit: serenity calls it unknown.
    fake.send_raw_dispatch("INTERACTION_CREATE", json!({"content": secret}));
    let mut typed = sam.typed.clone();
    typed.push(secret.to_owned());
    typed.push(ANSWER.to_owned());
    // A message sent after the bad frames still gets its answer.
    sam.say("still there after that?").await;
    crate::helpers::assert_not_logged(&typed);

    mend.stop().await.unwrap();
    assert!(
        fake.gateway().client_close_codes().contains(&Some(1000)),
        "the shard closed cleanly"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_and_double_presses_are_handled_gently_and_applied_once() {
    let fake = FakeDiscord::start().await;
    let (_dir, db) = temp_db();
    let mend = Mend::start(&fake, config(&fake, &db)).await;
    let mut sam = Person::new(&fake, SAM);
    let welcome = sam.say("hello").await;
    let message_id: u64 = welcome.last().unwrap()["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let first = buttons(welcome.last().unwrap()).0[0].clone();

    // Two presses of the same button before mend answers: one is applied, the
    // other is recognised as from an earlier message.
    let before = sam.sent().len();
    let moved = sam.expected.clone();
    let applied = mend::conversation::engine::handle(
        sam.script(),
        &moved,
        &mend::conversation::engine::Input::Choice(first.clone()),
    );
    let stale = mend::conversation::engine::handle(
        sam.script(),
        &applied.state,
        &mend::conversation::engine::Input::Choice(first.clone()),
    );
    fake.press_button(SAM, message_id, &first);
    let second = fake.try_press_button(SAM, message_id, &first);
    let expected = applied.replies.len()
        + if second.is_ok() {
            stale.replies.len()
        } else {
            0
        };
    let got = sam.wait_messages(before, expected).await;
    let stale_notes = got
        .iter()
        .filter(|m| m["content"].as_str().unwrap().contains("earlier message"))
        .count();
    assert_eq!(stale_notes, usize::from(second.is_ok()));
    sam.expected = if second.is_ok() {
        stale.state
    } else {
        applied.state
    };
    let events: i64 = {
        let pool = crate::helpers::open_db(&db).await;
        sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE kind = 'stale_choice'")
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    assert_eq!(events, i64::from(second.is_ok()));

    // An old message whose buttons were never pressed (the person typed
    // instead) keeps them; pressing one later is not applied to the wrong step.
    let shown = sam.sent();
    let latest = shown.last().unwrap();
    let old_id: u64 = latest["id"].as_str().unwrap().parse().unwrap();
    let (old_buttons, _) = buttons(latest);
    sam.say("1").await;
    let now_at = sam.expected.place.clone();
    if now_at != moved.place {
        let before = sam.sent().len();
        let expected = mend::conversation::engine::handle(
            sam.script(),
            &sam.expected,
            &mend::conversation::engine::Input::Choice(old_buttons[0].clone()),
        );
        fake.press_button(SAM, old_id, &old_buttons[0]);
        let got = sam.wait_messages(before, expected.replies.len()).await;
        assert!(
            got[0]["content"]
                .as_str()
                .unwrap()
                .contains("earlier message")
        );
        assert_eq!(expected.state.place, now_at);
    }
    mend.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resources_in_a_dm_and_privately_in_a_server() {
    let fake = FakeDiscord::start().await;
    let (_dir, db) = temp_db();
    let mend = Mend::start(&fake, config(&fake, &db)).await;

    fake.slash_command(SAM, Some(GUILD), "resources", json!(null));
    let answered = fake
        .wait_for_request("POST /interactions/*/*/callback", T)
        .await;
    assert_eq!(answered.body["type"], 4);
    assert_eq!(answered.body["data"]["flags"], 64, "ephemeral in a server");
    assert!(
        answered.body["data"]["content"]
            .as_str()
            .unwrap()
            .contains("Relate")
    );

    fake.slash_command(SAM, Some(GUILD), "menu", json!(null));
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
    let private = fake.interaction_callbacks().pop().unwrap();
    assert_eq!(private.body["data"]["flags"], 64);
    assert!(
        private.body["data"]["content"]
            .as_str()
            .unwrap()
            .contains("private")
    );
    assert!(bot_said_nothing_in_guild(&fake));

    // In a DM the command is deferred, then answered in place.
    fake.slash_command(SAM, None, "resources", json!(null));
    let edited = fake
        .wait_for_request("PATCH /webhooks/*/*/messages/@original", T)
        .await;
    let text = edited.body["content"].as_str().unwrap();
    assert!(
        text.contains("Welcome") || text.contains("mend"),
        "a newcomer meets the welcome first: {text}"
    );
    let deferred = fake
        .interaction_callbacks()
        .into_iter()
        .find(|r| r.body["type"] == 5);
    assert!(deferred.is_some());
    fake.slash_command(SAM, None, "resources", json!(null));
    fake.wait_for(
        |reqs| {
            reqs.iter()
                .filter(|r| r.is("PATCH /webhooks/*/*/messages/@original"))
                .count()
                == 2
        },
        T,
    )
    .await;
    assert_every_message_is_safe(&fake);
    mend.stop().await.unwrap();
}

/// mend never posts into a server channel on a person's behalf; only
/// ephemeral interaction answers reach a server.
fn bot_said_nothing_in_guild(fake: &FakeDiscord) -> bool {
    let channel = format!("/channels/{}/messages", fake.guild_channel_id(GUILD));
    !fake
        .requests()
        .iter()
        .any(|r| r.method == "POST" && r.path.ends_with(&channel))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_are_ignored_and_50007_does_not_stop_the_bot() {
    let fake = FakeDiscord::start().await;
    let (_dir, db) = temp_db();
    let mend = Mend::start(&fake, config(&fake, &db)).await;

    fake.send_dm_from_bot_user(500_000_000_000_000_009, "beep boop, I am another bot");
    // mend's own messages come back too; neither gets an answer.
    let mut sam = Person::new(&fake, SAM);
    fake.fail_next("POST /channels/*/messages", Fault::cannot_dm());
    fake.send_dm(SAM, "hello?");
    fake.wait_for(|reqs| reqs.iter().any(|r| r.faulted), T)
        .await;

    // mend is still there for the next message, and for others.
    sam.expected = mend::conversation::engine::State::default();
    let retry_state = {
        let pool = crate::helpers::open_db(&db).await;
        let places: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM conversations")
            .fetch_one(&pool)
            .await
            .unwrap();
        places
    };
    assert_eq!(
        retry_state, 1,
        "the input was applied even though the reply could not be sent"
    );
    let mut other = Person::new(&fake, SAM + 1);
    other.say("hi there").await;
    let bot_dm = fake.dm_channel_id(500_000_000_000_000_009);
    assert!(crate::helpers::bot_messages(&fake, bot_dm).is_empty());
    mend.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_restart_the_person_carries_on_where_they_were() {
    let fake = FakeDiscord::start().await;
    let (_dir, db) = temp_db();
    let mend = Mend::start(&fake, config(&fake, &db)).await;
    let mut sam = Person::new(&fake, SAM);
    sam.say("hello").await;
    go(&mut sam, |o| o.state.consent == Consent::Given).await;
    mend.stop().await.unwrap();

    let mend = Mend::start(&fake, config(&fake, &db)).await;
    // The next press continues from the saved place, not from the start.
    go(&mut sam, |o| o.state.situation == Some(Situation::Together)).await;
    let stored = {
        let pool = crate::helpers::open_db(&db).await;
        let situation: Option<String> = sqlx::query_scalar("SELECT situation FROM people")
            .fetch_one(&pool)
            .await
            .unwrap();
        situation
    };
    assert_eq!(stored.as_deref(), Some("together"));
    mend.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_token_or_unreachable_gateway_is_a_clear_error() {
    let (_dir, db) = temp_db();
    let mut config = mend::config::Config::default();
    config.database.path = db.clone();
    let err = mend::app::serve(&config, None, Some(test_key()), async {})
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("MEND_DISCORD_TOKEN is not set"),
        "{err}"
    );
    let token = mend::secret::Secret::new("abc.def.SECRET-TOKEN");
    let err = mend::app::serve(&config, Some(token), None, async {})
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("MEND_DATA_KEY is not set"), "{err}");
    assert!(err.contains("mend new-key"), "{err}");

    config.discord.api_base = Some("http://127.0.0.1:9".into());
    let secret = "abc.def.SECRET-TOKEN";
    let err = mend::app::serve(
        &config,
        Some(mend::secret::Secret::new(secret)),
        Some(test_key()),
        async {},
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("cannot reach Discord's gateway at http://127.0.0.1:9"),
        "{err}"
    );
    assert!(!err.contains(secret));
}

/// `mend serve` as a process against the fake, logging at `log` to a pipe.
fn serve_binary(fake: &FakeDiscord, dir: &std::path::Path, log: &str) -> std::process::Child {
    std::fs::write(
        dir.join("config.toml"),
        format!("[discord]\napi_base = \"{}\"\n", fake.base_url()),
    )
    .unwrap();
    std::process::Command::new(env!("CARGO_BIN_EXE_mend"))
        .arg("serve")
        .current_dir(dir)
        .env("MEND_DISCORD_TOKEN", fake.token())
        .env("MEND_DATA_KEY", TEST_KEY_HEX)
        .env("RUST_LOG", log)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// Stops the process with SIGTERM; its exit status and what it logged.
async fn sigterm(mut child: std::process::Child) -> (std::process::ExitStatus, String) {
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = std::time::Instant::now() + T;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "mend did not stop on SIGTERM"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let output = child.wait_with_output().unwrap();
    (status, String::from_utf8_lossy(&output.stderr).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_closes_the_gateway_cleanly_on_sigterm() {
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    let child = serve_binary(&fake, dir.path(), "info");
    fake.wait_ready(T).await;
    fake.wait_for_request("PUT /applications/*/commands", T)
        .await;
    let (status, stderr) = sigterm(child).await;
    assert!(status.success(), "{stderr}");
    assert!(
        fake.gateway().client_close_codes().contains(&Some(1000)),
        "{stderr}"
    );
    assert!(stderr.contains("shutting down"), "{stderr}");
    assert!(
        !stderr.contains(&fake.token()),
        "the token is never printed"
    );
}

/// A gateway event serenity cannot read (a server that leaves out a field
/// Discord always sends) is dropped by serenity; mend says so in its log, by
/// the event's kind and a count, never quoting what the event held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_the_client_cannot_read_is_logged_by_kind_never_by_content() {
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    let child = serve_binary(&fake, dir.path(), "info");
    fake.wait_ready(T).await;
    fake.tamper_next_dispatch("MESSAGE_CREATE", |d| {
        d.as_object_mut().unwrap().remove("author");
    });
    fake.send_dm(SAM + 50, "nobody would notice if i was gone");
    // Events are read in order: once the next message is answered (as a
    // first message: the unreadable one was never applied), the unreadable
    // one has been read and dropped.
    let mut sam = Person::new(&fake, SAM + 50);
    sam.say("hello").await;
    let (_, stderr) = sigterm(child).await;
    assert!(
        stderr.contains("could not be read") && stderr.contains("kind=\"MESSAGE_CREATE\" count=1"),
        "{stderr}"
    );
    assert!(!stderr.contains("nobody would notice"), "{stderr}");
    assert!(!stderr.contains("hello"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_from_each_person_is_applied_in_order_while_people_are_served_together() {
    let fake = FakeDiscord::start().await;
    let (_dir, db) = temp_db();
    let mend = Mend::start(&fake, config(&fake, &db)).await;
    let lines = ["hello", "help", "menu", "1", "resources", "restart", "2"];
    let mut people: Vec<Person> = (0..3).map(|i| Person::new(&fake, SAM + 10 + i)).collect();
    let mut expected = Vec::new();
    for person in &mut people {
        let mut state = person.expected.clone();
        let mut replies = Vec::new();
        for line in lines {
            let outcome = mend::conversation::engine::handle(
                person.script(),
                &state,
                &mend::conversation::engine::Input::Text(line.into()),
            );
            state = outcome.state;
            replies.extend(outcome.replies);
        }
        person.expected = state;
        expected.push(replies);
    }
    // Everyone's messages go out at once, interleaved.
    for line in lines {
        for person in &people {
            fake.send_dm(person.user, line);
        }
    }
    for (person, replies) in people.iter().zip(&expected) {
        let got = person.wait_messages(0, replies.len()).await;
        crate::helpers::assert_matches(&got, replies);
    }
    mend.stop().await.unwrap();
}
