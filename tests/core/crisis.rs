//! Screening before everything: the crisis reply, the cooldown, the kept
//! place, and one flag per person while it is open.

use jiff::{SignedDuration, Timestamp};
use mend::conversation::engine::{Companion, Consent, Input, State};
use mend::flags::Refusal;
use mend::flags::queries as flags;
use mend::flags::{Action, Status};
use mend::safety::{CrisisReplies, Screen};

use crate::helpers::{assert_links, inputs_at, shipped, temp_store};

const DANGER: &str = "honestly I just want to kill myself tonight";

fn companion() -> Companion {
    Companion {
        script: shipped(),
        screen: Screen::embedded(),
        crisis: CrisisReplies::embedded(),
        cooldown: SignedDuration::from_mins(10),
    }
}

fn at(minutes: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000).unwrap() + SignedDuration::from_mins(minutes)
}

#[test]
fn a_hit_is_answered_first_and_the_place_is_kept() {
    let companion = companion();
    let started = companion.respond(&State::default(), &Input::Start, at(0));
    let outcome = companion.respond(&started.state, &Input::Text(DANGER.into()), at(1));
    assert!(outcome.flag.is_some());
    assert_eq!(
        outcome.replies.len(),
        1,
        "the crisis reply, and nothing else"
    );
    let reply = &outcome.replies[0];
    assert!(reply.text().contains("116 123"));
    assert!(reply.text().contains("999"));
    assert!(
        !reply.text().contains("Rape Crisis"),
        "contacts fit the category"
    );
    assert_links(&outcome.replies);
    assert_eq!(outcome.state.place, started.state.place);
    assert!(outcome.state.answers.is_empty());
    let labels: Vec<&str> = reply.choices().iter().map(|c| c.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "Carry on where we were",
            "Pause for now",
            "More places to get help"
        ]
    );

    // Carrying on puts them back exactly where they were.
    let carry_on = companion.respond(
        &outcome.state,
        &Input::Choice(reply.choices()[0].id.clone()),
        at(2),
    );
    assert_eq!(carry_on.state.place, started.state.place);
    assert_eq!(
        carry_on.replies.last().unwrap().text(),
        started.replies.last().unwrap().text()
    );
    let paused = companion.respond(
        &outcome.state,
        &Input::Choice(reply.choices()[1].id.clone()),
        at(2),
    );
    assert!(paused.state.paused);
}

#[test]
fn abuse_and_sexual_violence_get_their_own_contacts() {
    let companion = companion();
    let state = companion
        .respond(&State::default(), &Input::Start, at(0))
        .state;
    let abuse = companion.respond(
        &state,
        &Input::Text("he won't let me see my friends and takes my bank card".into()),
        at(1),
    );
    assert!(
        abuse.replies[0].text().contains("0808 2000 247"),
        "{:?}",
        abuse.replies[0].text()
    );
    let assault = companion.respond(
        &state,
        &Input::Text("he raped me last year and I never told anyone".into()),
        at(1),
    );
    assert!(assault.replies[0].text().contains("Rape Crisis"));
}

#[test]
fn within_the_cooldown_a_short_reminder_replaces_the_full_reply() {
    let companion = companion();
    let state = companion
        .respond(&State::default(), &Input::Start, at(0))
        .state;
    let first = companion.respond(&state, &Input::Text(DANGER.into()), at(1));
    let second = companion.respond(&first.state, &Input::Text(DANGER.into()), at(5));
    assert!(second.flag.is_some(), "every hit is still flagged");
    assert!(second.replies[0].text().len() < first.replies[0].text().len() / 2);
    assert!(second.replies[0].text().contains("999"));
    let later = companion.respond(&second.state, &Input::Text(DANGER.into()), at(12));
    assert_eq!(later.replies[0].text(), first.replies[0].text());
}

#[test]
fn a_stranger_in_danger_gets_the_crisis_reply_then_the_welcome() {
    let companion = companion();
    let outcome = companion.respond(&State::default(), &Input::Text(DANGER.into()), at(0));
    assert!(outcome.replies.len() >= 2);
    assert!(outcome.replies[0].text().contains("Samaritans"));
    assert_eq!(outcome.state.place.as_ref().unwrap().flow, "welcome");
    assert!(!outcome.replies.last().unwrap().choices().is_empty());
}

#[test]
fn harmless_idioms_go_to_the_flow() {
    let companion = companion();
    let state = companion
        .respond(&State::default(), &Input::Start, at(0))
        .state;
    let outcome = companion.respond(
        &state,
        &Input::Text("my boss is killing me this week".into()),
        at(1),
    );
    assert!(outcome.flag.is_none());
}

#[tokio::test]
async fn repeated_hits_update_one_flag_and_moderators_move_it_along() {
    let (_dir, store) = temp_store().await;
    let companion = companion();
    let person = "discord:42";
    let mut raised = Vec::new();
    for minute in [0, 1, 2] {
        let applied = store
            .apply(person, at(minute), |s| {
                companion.respond(s, &Input::Text(DANGER.into()), at(minute))
            })
            .await
            .unwrap();
        raised.push(applied.flag.unwrap());
    }
    assert!(raised[0].new);
    assert!(!raised[1].new && !raised[2].new);
    assert!(raised.iter().all(|r| r.id == raised[0].id));

    let flag = flags::get(
        &crate::helpers::raw(&store).await,
        store.cipher(),
        raised[0].id,
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(flag.hits, 3);
    assert_eq!(flag.status, Status::Open);
    assert_eq!(flag.category, "suicide");
    assert_eq!(flag.person, person);
    // Kept before consent (vital interests), but only an excerpt.
    assert_eq!(store.state(person).await.unwrap().consent, Consent::Unasked);
    assert!(flag.excerpt.as_ref().unwrap().contains("kill myself"));
    let answers: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM answers")
        .fetch_one(&crate::helpers::raw(&store).await)
        .await
        .unwrap();
    assert_eq!(answers, 0);

    let claimed = flags::act(
        &crate::helpers::raw(&store).await,
        store.cipher(),
        flag.id,
        Action::Claim,
        "mod:7",
        None,
        at(3),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(claimed.status, Status::Claimed);
    assert_eq!(
        flags::act(
            &crate::helpers::raw(&store).await,
            store.cipher(),
            flag.id,
            Action::Claim,
            "mod:8",
            None,
            at(3)
        )
        .await
        .unwrap(),
        Err(Refusal::NotAllowed {
            status: Status::Claimed
        })
    );
    let resolved = flags::act(
        &crate::helpers::raw(&store).await,
        store.cipher(),
        flag.id,
        Action::Resolve,
        "mod:7",
        Some("Spoke with them; they are with family tonight."),
        at(4),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(resolved.status, Status::Resolved);
    assert_eq!(resolved.handled_by.as_deref(), Some("mod:7"));
    assert!(
        flags::active(&crate::helpers::raw(&store).await, store.cipher())
            .await
            .unwrap()
            .is_empty()
    );

    // A new hit after resolution opens a new flag.
    let applied = store
        .apply(person, at(30), |s| {
            companion.respond(s, &Input::Text(DANGER.into()), at(30))
        })
        .await
        .unwrap();
    assert!(applied.flag.unwrap().new);

    // The audit log has every action, and refuses edits.
    let log = flags::audit_log(&crate::helpers::raw(&store).await)
        .await
        .unwrap();
    let actions: Vec<&str> = log.iter().map(|(_, a, _)| a.as_str()).collect();
    assert_eq!(actions, ["claim", "resolve"]);
    assert!(
        sqlx::query("DELETE FROM audit")
            .execute(&crate::helpers::raw(&store).await)
            .await
            .is_err()
    );
    assert!(
        sqlx::query("UPDATE audit SET actor = 'x'")
            .execute(&crate::helpers::raw(&store).await)
            .await
            .is_err()
    );

    // Excerpts go after the retention period; the facts stay.
    assert_eq!(
        flags::erase_excerpts(&crate::helpers::raw(&store).await, at(3))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        flags::erase_excerpts(&crate::helpers::raw(&store).await, at(5))
            .await
            .unwrap(),
        1
    );
    let erased = flags::get(&crate::helpers::raw(&store).await, store.cipher(), flag.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(erased.excerpt, None);
    assert_eq!(erased.hits, 3);
}

#[test]
fn every_step_screens_written_text() {
    let companion = companion();
    let script = &companion.script;
    let mut state = companion
        .respond(&State::default(), &Input::Start, at(0))
        .state;
    // Walk a few steps in; at each, danger written anywhere is caught.
    for _ in 0..6 {
        let outcome = companion.respond(&state, &Input::Text(DANGER.into()), at(1));
        assert!(outcome.flag.is_some());
        let next = inputs_at(script, &state, "fine").remove(0);
        let input = if next.contains(':') {
            Input::Choice(next)
        } else {
            Input::Text(next)
        };
        state = companion.respond(&state, &input, at(1)).state;
    }
}

/// Worrying but unclear: asked about, not flagged, and not asked again.
const UNCLEAR: &str = "what's the point of anything anymore";

#[test]
fn an_unclear_message_is_asked_about_kindly_with_three_buttons() {
    let companion = companion();
    let started = companion.respond(&State::default(), &Input::Start, at(0));
    let asked = companion.respond(&started.state, &Input::Text(UNCLEAR.into()), at(1));
    assert!(asked.flag.is_none(), "asking is not flagging");
    assert_eq!(asked.replies.len(), 1);
    let question = &asked.replies[0];
    assert!(
        question.text().contains("ending your life"),
        "{}",
        question.text()
    );
    let labels: Vec<&str> = question
        .choices()
        .iter()
        .map(|c| c.label.as_str())
        .collect();
    assert_eq!(labels, ["Yes", "I'm not sure", "No, I'm safe"]);
    assert_links(&asked.replies);
    assert!(asked.state.pending_ask.is_some());
    assert_eq!(asked.state.place, started.state.place, "the place is kept");
}

#[test]
fn yes_or_not_sure_pressed_or_typed_gives_the_crisis_reply_and_a_flag_that_says_so() {
    let companion = companion();
    let started = companion.respond(&State::default(), &Input::Start, at(0));
    let asked = companion.respond(&started.state, &Input::Text(UNCLEAR.into()), at(1));
    let id = |label: &str| {
        asked.replies[0]
            .choices()
            .iter()
            .find(|c| c.label == label)
            .unwrap()
            .id
            .clone()
    };
    for answer in [
        Input::Choice(id("Yes")),
        Input::Choice(id("I'm not sure")),
        Input::Text("yeah".into()),
        Input::Text("I don't know".into()),
        Input::Text("2".into()),
    ] {
        let outcome = companion.respond(&asked.state, &answer, at(2));
        let flag = outcome
            .flag
            .as_ref()
            .unwrap_or_else(|| panic!("{answer:?}"));
        assert!(
            outcome.flag_asked,
            "{answer:?}: the moderators are told it was asked"
        );
        assert_eq!(flag.category, mend::safety::Category::Suicide);
        assert!(outcome.replies[0].text().contains("116 123"), "{answer:?}");
        assert!(outcome.state.pending_ask.is_none());
        assert_links(&outcome.replies);
    }
}

#[test]
fn no_im_safe_is_thanked_and_the_conversation_carries_on_without_asking_again() {
    let companion = companion();
    let started = companion.respond(&State::default(), &Input::Start, at(0));
    let asked = companion.respond(&started.state, &Input::Text(UNCLEAR.into()), at(1));
    for answer in [
        Input::Choice("ask:safe:suicide".into()),
        Input::Text("no, I'm safe".into()),
        Input::Text("nope".into()),
    ] {
        let safe = companion.respond(&asked.state, &answer, at(2));
        assert!(safe.flag.is_none(), "{answer:?}");
        assert!(safe.replies[0].text().contains("Thank you"), "{answer:?}");
        assert!(
            safe.replies.len() >= 2,
            "{answer:?}: and the step again, no dead end"
        );
        assert_eq!(safe.state.place, started.state.place);
        // The same kind of words a moment later are not met with the question.
        let again = companion.respond(&safe.state, &Input::Text(UNCLEAR.into()), at(3));
        assert!(
            again.state.pending_ask.is_none(),
            "{answer:?}: asked on every line"
        );
        assert!(again.flag.is_none());
    }
    // A clear danger is never held back by an earlier "no".
    let safe = companion.respond(&asked.state, &Input::Text("no".into()), at(2));
    let clear = companion.respond(&safe.state, &Input::Text(DANGER.into()), at(3));
    assert!(clear.flag.is_some());
}

#[test]
fn words_that_answer_nothing_are_asked_again_gently_and_a_crisis_still_wins() {
    let companion = companion();
    let started = companion.respond(&State::default(), &Input::Start, at(0));
    let asked = companion.respond(&started.state, &Input::Text(UNCLEAR.into()), at(1));
    let unclear = companion.respond(
        &asked.state,
        &Input::Text("why are you asking".into()),
        at(2),
    );
    assert!(unclear.flag.is_none());
    assert!(unclear.state.pending_ask.is_some());
    assert_eq!(unclear.replies[0].choices().len(), 3);
    // Another unclear worry while the question waits: asked again, not dropped.
    let again = companion.respond(&asked.state, &Input::Text(UNCLEAR.into()), at(2));
    assert!(again.state.pending_ask.is_some() && again.flag.is_none());
    assert!(again.replies[0].text().contains("ending your life"));
    let crisis = companion.respond(&asked.state, &Input::Text(DANGER.into()), at(2));
    assert!(crisis.flag.is_some() && !crisis.flag_asked);
    // Moving on (a menu word) drops the question; nothing is flagged.
    let menu = companion.respond(&asked.state, &Input::Text("menu".into()), at(2));
    assert!(menu.flag.is_none() && menu.state.pending_ask.is_none());
}

#[tokio::test]
async fn a_question_survives_a_restart_and_its_flag_is_marked_asked() {
    let (dir, store) = temp_store().await;
    let companion = companion();
    let person = "terminal:sam";
    for (input, minute) in [(Input::Start, 0), (Input::Text(UNCLEAR.into()), 1)] {
        store
            .apply(person, at(minute), |s| {
                companion.respond(s, &input, at(minute))
            })
            .await
            .unwrap();
    }
    store.close().await;
    let store = crate::helpers::open_in(dir.path()).await;
    let kept = store.state(person).await.unwrap();
    let pending = kept.pending_ask.as_ref().expect("the question is kept");
    assert!(
        pending.excerpt.contains("point"),
        "its excerpt opened again"
    );
    let applied = store
        .apply(person, at(2), |s| {
            companion.respond(s, &Input::Choice("ask:yes:suicide".into()), at(2))
        })
        .await
        .unwrap();
    let raised = applied.flag.expect("flagged after yes");
    let flag = flags::get(
        &crate::helpers::raw(&store).await,
        store.cipher(),
        raised.id,
    )
    .await
    .unwrap()
    .unwrap();
    assert!(flag.asked);
    assert_eq!(flag.category, "suicide");
    assert!(store.state(person).await.unwrap().pending_ask.is_none());
}

#[test]
fn every_category_reply_carries_its_contacts_and_the_links_within_discords_limit() {
    use mend::safety::Category;
    let companion = companion();
    let cases = [
        (Category::Suicide, "I want to end my life", "116 123"),
        (Category::SelfHarm, "I cut my arms again last night", "A&E"),
        (Category::HarmOthers, "I'm going to stab him tonight", "999"),
        (
            Category::Abuse,
            "he hit me again last night",
            "0808 2000 247",
        ),
        (Category::SexualViolence, "he raped me", "0808 500 2222"),
    ];
    for (category, message, contact) in cases {
        let outcome = companion.respond(&State::default(), &Input::Text(message.into()), at(0));
        let flag = outcome.flag.as_ref().expect(message);
        assert_eq!(flag.category, category, "{message}");
        let reply = &outcome.replies[0];
        assert!(
            reply.text().contains(contact),
            "{category}: {}",
            reply.text()
        );
        assert!(reply.text().chars().count() <= 2000, "{category}");
        assert_links(&outcome.replies);
        // Within the cooldown, the reminder names this category's own line.
        let again = companion.respond(&outcome.state, &Input::Text(message.into()), at(1));
        let reminder = again.replies[0].text();
        assert!(reminder.chars().count() <= 2000);
        if category == Category::Abuse {
            assert!(reminder.contains("0808 2000 247"), "{reminder}");
        }
        assert!(reminder.contains("999"), "{reminder}");
        let alone = companion.crisis_alone(flag);
        assert_eq!(alone.text(), companion.crisis.full(category));
    }
}
