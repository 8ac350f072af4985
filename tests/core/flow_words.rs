//! What the shipped flows say and where they lead, checked with the real
//! engine: words that fit each situation (every message and button a person
//! in it could meet), the welcome's length, and the ways into the flows the
//! guides call for.

use mend::engine::{self, Consent, Input, State};
use mend::flows::{MENU, Situation};

use crate::helpers::{route, shipped};

const ANSWER: &str = "Walk the dog together before work";

fn at_menu(consent: Consent, situation: Option<Situation>) -> State {
    State {
        consent,
        situation,
        place: Some(mend::engine::Place {
            flow: MENU.into(),
            step: "pick".into(),
        }),
        ..State::default()
    }
}

/// The flows the guides call for beyond the first set are each a press or
/// two from the menu.
#[test]
fn the_new_flows_are_reached_from_the_menu_by_pressing_buttons() {
    let script = shipped();
    let menu = at_menu(Consent::Given, Some(Situation::Hurt));
    for id in [
        "hard-moment",
        "fear",
        "guilt-and-shame",
        "exercises",
        "situation",
    ] {
        assert!(script.flow(id).is_some(), "missing flow {id}");
        let presses = route(&script, &menu, ANSWER, |o| {
            o.state.place.as_ref().is_some_and(|p| p.flow == id)
        });
        assert!(
            presses.len() <= 2 && presses.iter().all(|p| p.starts_with("c:menu:")),
            "{id} is not a press or two from the menu: {presses:?}"
        );
    }
    // Someone in a hard moment finds it first.
    let first = engine::handle(
        &script,
        &menu,
        &Input::Choice(mend::buttons::choice(MENU, "pick", "1")),
    );
    assert_eq!(first.state.place.unwrap().flow, "hard-moment");
}

/// A newcomer hears at most two short messages before being asked whether
/// mend may keep their answers, and those carry what must be said.
#[test]
fn the_welcome_asks_for_consent_after_at_most_two_short_messages() {
    let script = shipped();
    let first = engine::handle(&script, &State::default(), &Input::Start);
    let asking = first
        .replies
        .iter()
        .position(|r| r.choices().len() == 2 && r.choices()[0].label.contains("keep my answers"))
        .expect("the first turn asks for consent");
    let before_and_question = &first.replies[..=asking];
    assert!(asking <= 2, "{asking} messages before the consent question");
    let said: String = before_and_question
        .iter()
        .map(|r| r.text().to_lowercase())
        .collect::<Vec<_>>()
        .join(" ");
    for reply in before_and_question {
        assert!(
            reply.text().chars().count() <= 400,
            "a long message: {}",
            reply.text()
        );
    }
    for needle in [
        "not a therapist",
        "emergency",
        "999",
        "moderators",
        "excerpt",
        "erase",
        "/export",
        "/forget",
        "encrypted",
    ] {
        assert!(said.contains(needle), "the welcome never says {needle:?}");
    }
    assert_eq!(
        first.replies.len(),
        asking + 1,
        "nothing is said after the question"
    );
}

/// Changing one's situation later is a short flow of its own: the consent
/// question is not asked again, and the new words follow.
#[test]
fn changing_situation_later_does_not_ask_for_consent_again() {
    let script = shipped();
    let menu = at_menu(Consent::Given, Some(Situation::Hurt));
    let presses = route(&script, &menu, ANSWER, |o| {
        o.state.situation == Some(Situation::Caused)
    });
    let mut state = menu;
    for press in &presses {
        let outcome = engine::handle(&script, &state, &Input::Choice(press.clone()));
        for reply in &outcome.replies {
            assert!(
                !reply
                    .choices()
                    .iter()
                    .any(|c| c.id.starts_with("c:welcome:")),
                "the welcome replayed on the way: {}",
                reply.text()
            );
        }
        state = outcome.state;
    }
    assert!(
        presses.iter().all(|p| !p.starts_with("c:welcome:")),
        "{presses:?}"
    );
    assert_eq!(state.consent, Consent::Given);
    assert_eq!(state.situation, Some(Situation::Caused));
    assert_eq!(state.place.as_ref().unwrap().flow, "situation");

    // Without consent nothing is kept, and the flow says so.
    let declined = at_menu(Consent::Declined, None);
    let opened = engine::handle(&script, &declined, &Input::Begin("situation".into()));
    let chosen = engine::handle(
        &script,
        &opened.state,
        &Input::Text("I caused the hurt".into()),
    );
    assert_eq!(chosen.state.situation, None);
    assert!(
        chosen.replies[0].text().contains("not keeping"),
        "{}",
        chosen.replies[0].text()
    );
}
