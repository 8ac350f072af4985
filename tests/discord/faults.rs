//! Discord misbehaving: the gateway closed, told to reconnect, the session
//! invalidated; REST answering 500 and 429, losing an answer after doing the
//! work, and refusing with 403. mend reconnects or resumes, retries what is
//! safe to retry, never retries a refusal, and a person gets each reply once.

use mend::conversation::engine::{self, Input};
use serde_json::Value;

use crate::fake::{FakeDiscord, Fault};
use crate::helpers::{Mend, Person, T, assert_every_message_is_safe, config, temp_db, until};

const ALI: u64 = 490_000_000_000_000_001;

fn channel_posts(fake: &FakeDiscord, channel: u64) -> Vec<crate::fake::Recorded> {
    let path = format!("/api/v10/channels/{channel}/messages");
    fake.requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == path)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_dropping_reconnecting_or_invalidating_loses_no_message() {
    let fake = FakeDiscord::start().await;
    let (_dir, db) = temp_db();
    let mend = Mend::start(&fake, config(&fake, &db)).await;
    let mut ali = Person::new(&fake, ALI);
    ali.say("hello").await;

    // RECONNECT: serenity comes back and resumes the session.
    let resumes = fake.gateway().resumes.len();
    fake.send_reconnect();
    fake.wait_gateway(|g| g.resumes.len() > resumes, T).await;
    ali.say("help").await;

    // Closed with a code that allows resuming.
    let resumes = fake.gateway().resumes.len();
    fake.close_gateway(4000);
    fake.wait_gateway(|g| g.resumes.len() > resumes, T).await;
    ali.say("resources").await;

    // INVALID_SESSION, not resumable: a fresh IDENTIFY.
    let identifies = fake.gateway().identifies.len();
    fake.send_invalid_session(false);
    fake.wait_gateway(|g| g.identifies.len() > identifies, T)
        .await;
    ali.say("menu").await;

    // INVALID_SESSION, resumable: back either way.
    let (identifies, resumes) = (
        fake.gateway().identifies.len(),
        fake.gateway().resumes.len(),
    );
    fake.send_invalid_session(true);
    fake.wait_gateway(
        |g| g.identifies.len() > identifies || g.resumes.len() > resumes,
        T,
    )
    .await;
    ali.say("help").await;

    // The connection simply gone, no close frame.
    let connections = fake.gateway().connections;
    fake.drop_gateway();
    fake.wait_gateway(|g| g.connections > connections, T).await;
    fake.wait_ready(T).await;
    ali.say("resources").await;

    // A message sent while the connection is down arrives on the new one
    // (replayed on RESUME) and is answered once.
    let resumes = fake.gateway().resumes.len();
    fake.close_gateway(4000);
    ali.say("menu").await;
    fake.wait_gateway(|g| g.resumes.len() > resumes, T).await;

    assert_every_message_is_safe(&fake);
    mend.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_errors_are_retried_when_safe_held_through_an_outage_and_each_reply_arrives_once() {
    let fake = FakeDiscord::start().await;
    let (_dir, db) = temp_db();
    let mut config = config(&fake, &db);
    config.discord.request_timeout_secs = 1;
    let mend = Mend::start(&fake, config).await;
    let mut ali = Person::new(&fake, ALI);
    ali.say("hello").await;
    let dm = ali.channel;
    let posts = move |fake: &FakeDiscord| channel_posts(fake, dm);

    // A 500, then success: the reply arrives once.
    let before = posts(&fake).len();
    fake.fail_next("POST /channels/*/messages", Fault::Status(500));
    ali.say("help").await;
    let statuses: Vec<u16> = posts(&fake)[before..].iter().map(|r| r.status).collect();
    assert_eq!(statuses[..2], [500, 200], "{statuses:?}");

    // Rate limited, then success.
    let before = posts(&fake).len();
    fake.fail_next(
        "POST /channels/*/messages",
        Fault::RateLimited {
            retry_after_secs: 0.2,
        },
    );
    ali.say("resources").await;
    let statuses: Vec<u16> = posts(&fake)[before..].iter().map(|r| r.status).collect();
    assert_eq!(statuses[..2], [429, 200], "{statuses:?}");

    // Discord made the message but the answer was lost: the retry carries the
    // same nonce, so the person still sees it once.
    let before = posts(&fake).len();
    let shown_before = ali.sent().len();
    fake.fail_next("POST /channels/*/messages", Fault::AppliedThenStatus(502));
    let expected = engine::handle(ali.script(), &ali.expected, &Input::Text("menu".into()));
    fake.send_dm(ALI, "menu");
    ali.expected = expected.state;
    until("the retry", || {
        posts(&fake)[before..]
            .iter()
            .filter(|r| r.status == 200)
            .count()
            >= expected.replies.len()
    })
    .await;
    let shown: Vec<Value> = ali.sent()[shown_before..].to_vec();
    crate::helpers::assert_matches(&shown, &expected.replies);
    let statuses: Vec<u16> = posts(&fake)[before..].iter().map(|r| r.status).collect();
    assert_eq!(statuses[0], 502, "{statuses:?}");

    // Discord is slow: it makes the message but answers only after mend has
    // given up waiting (1 s here). The retry carries the same nonce, so the
    // person still sees each reply once.
    let before = posts(&fake).len();
    let shown_before = ali.sent().len();
    fake.fail_next(
        "POST /channels/*/messages",
        Fault::AppliedThenSilence(std::time::Duration::from_secs(3)),
    );
    let slow = engine::handle(ali.script(), &ali.expected, &Input::Text("help".into()));
    fake.send_dm(ALI, "help");
    ali.expected = slow.state;
    until("the request that timed out to be tried again", || {
        posts(&fake)[before..].len() > slow.replies.len()
    })
    .await;
    let shown: Vec<Value> = ali.sent()[shown_before..].to_vec();
    crate::helpers::assert_matches(&shown, &slow.replies);
    let timed_out = &posts(&fake)[before];
    assert!(timed_out.faulted, "the first attempt was the slow one");
    assert_eq!(
        posts(&fake)[before + 1].body["nonce"],
        timed_out.body["nonce"],
        "the retry is the same message"
    );

    // A refusal is never retried: one attempt, and mend carries on with
    // the rest of the turn.
    let before = posts(&fake).len();
    let shown_before = ali.sent().len();
    fake.fail_next(
        "POST /channels/*/messages",
        Fault::DiscordError {
            status: 403,
            code: 50001,
            message: "Missing Access",
        },
    );
    let refused = engine::handle(ali.script(), &ali.expected, &Input::Text("help".into()));
    assert!(refused.replies.len() >= 2, "a turn of several messages");
    fake.send_dm(ALI, "help");
    ali.expected = refused.state;
    let shown = ali
        .wait_messages(shown_before, refused.replies.len() - 1)
        .await;
    crate::helpers::assert_matches(&shown, &refused.replies[1..]);
    ali.say("resources").await;
    let statuses: Vec<u16> = posts(&fake)[before..].iter().map(|r| r.status).collect();
    assert_eq!(statuses[0], 403, "{statuses:?}");
    assert!(
        statuses[1..].iter().all(|s| *s == 200),
        "the refused message was not tried again: {statuses:?}"
    );

    // An outage longer than mend's retries: the reply waits in the outbox
    // and goes out with the next turn, first and once.
    for _ in 0..4 {
        fake.fail_next("POST /channels/*/messages", Fault::Status(503));
    }
    let held = engine::handle(ali.script(), &ali.expected, &Input::Text("menu".into()));
    ali.expected = held.state.clone();
    let before = ali.sent().len();
    fake.send_dm(ALI, "menu");
    fake.wait_for(
        |reqs| reqs.iter().filter(|r| r.status == 503).count() == 4,
        T,
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(ali.sent().len(), before, "nothing got through the outage");
    let next = engine::handle(
        ali.script(),
        &ali.expected,
        &Input::Text("resources".into()),
    );
    ali.expected = next.state.clone();
    fake.send_dm(ALI, "resources");
    let got = ali
        .wait_messages(before, held.replies.len() + next.replies.len())
        .await;
    let mut owed = held.replies.clone();
    owed.extend(next.replies.iter().cloned());
    crate::helpers::assert_matches(&got, &owed);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(ali.sent().len(), before + owed.len(), "nothing twice");

    assert_every_message_is_safe(&fake);
    mend.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_is_delivered_whole_when_one_message_is_refused_or_its_answer_is_unreadable() {
    let fake = FakeDiscord::start().await;
    let (_dir, db) = temp_db();
    let mend = Mend::start(&fake, config(&fake, &db)).await;

    // The server takes the first message but answers without a field
    // serenity insists on, as Spacebar does: the person has it, so it
    // counts as sent (not tried again), and the rest of the turn follows.
    let mut ali = Person::new(&fake, ALI);
    let dm = ali.channel;
    fake.fail_next(
        "POST /channels/*/messages",
        Fault::AppliedThenWithout(&["pinned"]),
    );
    let got = ali.say("hello").await;
    assert!(got.len() >= 2, "the welcome is a turn of several messages");
    assert_eq!(
        channel_posts(&fake, dm).len(),
        got.len(),
        "each message was posted once"
    );

    // The first message refused for good (a form Discord will not take):
    // it is not tried again, and the rest of the turn still arrives.
    let mut sam = Person::new(&fake, ALI + 1);
    let dm = sam.channel;
    fake.fail_next(
        "POST /channels/*/messages",
        Fault::DiscordError {
            status: 400,
            code: 50035,
            message: "Invalid Form Body",
        },
    );
    let expected = engine::handle(sam.script(), &sam.expected, &Input::Text("hello".into()));
    sam.expected = expected.state;
    fake.send_dm(sam.user, "hello");
    let got = sam.wait_messages(0, expected.replies.len() - 1).await;
    crate::helpers::assert_matches(&got, &expected.replies[1..]);
    let statuses: Vec<u16> = channel_posts(&fake, dm).iter().map(|r| r.status).collect();
    assert_eq!(statuses[0], 400, "{statuses:?}");
    assert_eq!(statuses.len(), expected.replies.len(), "{statuses:?}");

    // Neither turn waits in the outbox to be sent again.
    mend.stop().await.unwrap();
    let pool = crate::helpers::open_db(&db).await;
    let waiting: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(waiting, 0);
    assert_every_message_is_safe(&fake);
}
