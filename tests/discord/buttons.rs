//! Button ids on Discord: each kind reaches its own handling by its prefix
//! alone, and buttons from before the prefixes, still on people's screens,
//! are answered kindly.

use serenity::all::{
    ChannelId, CreateActionRow, CreateAllowedMentions, CreateButton, CreateMessage,
};

use crate::fake::FakeDiscord;
use crate::helpers::{Mend, Person, T, assert_every_message_is_safe, buttons, config, temp_db};
use mend::conversation::engine::{self, Input};

const ALEX: u64 = 460_000_000_000_000_001;

const STALE: &str = "That button is from an earlier message";

/// A message as an earlier mend sent it, with one answer button (and the
/// services' links, as every message mend sends has). Returns its id.
async fn earlier_message(fake: &FakeDiscord, channel: u64, custom_id: &str) -> u64 {
    let links = mend::referrals::LINKS
        .iter()
        .map(|link| CreateButton::new_link(link.url).label(link.label))
        .collect();
    let message = CreateMessage::new()
        .content("An earlier message.")
        .components(vec![
            CreateActionRow::Buttons(vec![CreateButton::new(custom_id).label("Press")]),
            CreateActionRow::Buttons(links),
        ])
        .allowed_mentions(
            CreateAllowedMentions::new()
                .everyone(false)
                .all_users(false)
                .all_roles(false)
                .replied_user(false),
        );
    let sent = ChannelId::new(channel)
        .send_message(&fake.http(), message)
        .await
        .unwrap();
    sent.id.get()
}

/// Presses `custom_id` on `message` and returns the text of mend's answer:
/// the interaction's own reply if it had one, else the next message.
async fn press_for_answer(fake: &FakeDiscord, alex: &Person<'_>, message: u64, id: &str) -> String {
    let callbacks = fake.interaction_callbacks().len();
    let before = alex.sent().len();
    fake.press_button(ALEX, message, id);
    let deadline = tokio::time::Instant::now() + T;
    loop {
        if let Some(reply) = fake.interaction_callbacks()[callbacks..]
            .iter()
            .find_map(|r| r.body["data"]["content"].as_str().map(str::to_owned))
        {
            return reply;
        }
        if alex.sent().len() > before {
            return alex.sent()[before]["content"].as_str().unwrap().to_owned();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no answer to {id}:\n{}",
            fake.dump()
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_kind_of_button_reaches_its_own_handling() {
    let fake = FakeDiscord::start().await;
    let (_dir, db) = temp_db();
    let mend = Mend::start(&fake, config(&fake, &db)).await;
    let mut alex = Person::new(&fake, ALEX);
    let greeted = alex.say("hello").await;
    // The conversation's own buttons carry its prefix.
    let (ids, _) = buttons(greeted.last().unwrap());
    assert!(!ids.is_empty());
    assert!(ids.iter().all(|id| id.starts_with("c:")), "{ids:?}");

    // A moderators' button is the moderators' handling, even in a DM.
    let flag = earlier_message(&fake, alex.channel, "flag:1:claim").await;
    let answer = press_for_answer(&fake, &alex, flag, "flag:1:claim").await;
    assert!(answer.starts_with("Only moderators"), "{answer}");

    // A privacy button is the erasure's confirmation.
    let keep = earlier_message(&fake, alex.channel, "privacy:keep").await;
    let answer = press_for_answer(&fake, &alex, keep, "privacy:keep").await;
    assert!(answer.starts_with("Nothing has been erased"), "{answer}");

    // Neither reached the conversation, which goes on where it was.
    let next = ids[0].clone();
    let moved = alex.press(&next).await;
    assert!(
        !moved[0]["content"].as_str().unwrap().contains(STALE),
        "{moved:?}"
    );
    assert_every_message_is_safe(&fake);
    mend.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_button_from_before_the_prefixes_is_still_answered_kindly() {
    let fake = FakeDiscord::start().await;
    let (_dir, db) = temp_db();
    let mend = Mend::start(&fake, config(&fake, &db)).await;
    let mut alex = Person::new(&fake, ALEX);
    alex.say("hello").await;
    let place = alex.expected.place.clone().unwrap();

    // Its step is where the person is: it is understood, as its new
    // form would be.
    let old = format!("{}:{}:1", place.flow, place.step);
    let new = mend::buttons::choice(&place.flow, &place.step, "1");
    let understood = engine::handle(alex.script(), &alex.expected, &Input::Choice(new));
    earlier_message(&fake, alex.channel, &old).await;
    let got = alex.press(&old).await;
    assert_eq!(
        got[0]["content"].as_str(),
        Some(understood.replies[0].text())
    );
    assert_eq!(alex.expected.place, understood.state.place);
    assert_ne!(alex.expected.place.as_ref(), Some(&place), "they moved on");

    // From a step they have left: the kind answer, and where they are now.
    let left = format!("{}:{}:1", place.flow, place.step);
    earlier_message(&fake, alex.channel, &left).await;
    let got = alex.press(&left).await;
    assert!(
        got[0]["content"].as_str().unwrap().starts_with(STALE),
        "{got:?}"
    );
    assert_every_message_is_safe(&fake);
    mend.stop().await.unwrap();
}
