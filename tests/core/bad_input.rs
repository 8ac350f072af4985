//! Input that must not break mend: no panic, a sensible reply with the links,
//! and the person's place intact.

use jiff::Timestamp;
use mend::conversation::engine::{self, Consent, Input, Place, State};
use mend::flows::{Action, Script};
use proptest::prelude::*;

use crate::helpers::{assert_links, mend, run_mend, shipped, temp_store};

fn nasty() -> Vec<String> {
    vec![
        String::new(),
        "   ".into(),
        "\n\n".into(),
        "x".repeat(4_000),
        "x".repeat(10_000),
        "word ".repeat(20_000),
        "🙂💔🫶🏽👩‍❤️‍👨".into(),
        "\u{200b}\u{200c}\u{200d}\u{2060}\u{feff}".into(),
        "\u{202e}dlrow olleh\u{202c}".into(),
        "e\u{301}\u{301}\u{301}\u{301}".into(),
        "@everyone @here <@123> <@&456> <#789>".into(),
        "**bold** _it_ `code` ```rust\nfn main() {}\n``` > quote".into(),
        "nul\u{0}byte".into(),
        "welcome:consent:99".into(),
        "ghost:step:1".into(),
        "menu:pick:-1".into(),
        "{name}".into(),
        "0".into(),
        "-1".into(),
        "999999999999999999999999".into(),
    ]
}

/// Places worth trying: a stranger, and resting at every step of every flow.
fn places(script: &Script) -> Vec<State> {
    let mut states = vec![State::default()];
    for flow in script.flows() {
        for step in &flow.steps {
            if matches!(step.action, Action::Continue(_)) {
                continue;
            }
            states.push(State {
                consent: Consent::Given,
                place: Some(Place {
                    flow: flow.id.clone(),
                    step: step.id.clone(),
                }),
                ..State::default()
            });
        }
    }
    states
}

fn check(script: &Script, before: &State, input: &Input) {
    let outcome = engine::handle(script, before, input);
    assert!(!outcome.replies.is_empty(), "no reply to {input:?}");
    assert_links(&outcome.replies);
    for reply in &outcome.replies {
        assert!(reply.text().chars().count() <= 2000);
    }
    let place = outcome
        .state
        .place
        .as_ref()
        .expect("a place after any input");
    assert!(script.step(&place.flow, &place.step).is_some());
    for value in outcome.state.answers.values() {
        assert!(!value.is_empty(), "an empty answer was saved");
        assert!(value.chars().count() <= engine::MAX_ANSWER_CHARS);
        assert!(!value.contains('\u{0}'));
    }
}

#[test]
fn odd_input_anywhere_gets_a_kind_reply_and_keeps_the_place() {
    let script = shipped();
    for state in places(&script) {
        for text in nasty() {
            check(&script, &state, &Input::Text(text.clone()));
            check(&script, &state, &Input::Choice(text));
        }
        check(&script, &state, &Input::Start);
        check(&script, &state, &Input::Begin("no-such-flow".into()));
    }
}

#[test]
fn a_long_answer_is_refused_kindly_and_nothing_moves() {
    let script = shipped();
    let ask = places(&script)
        .into_iter()
        .find(|s| {
            s.place.as_ref().is_some_and(|p| {
                script
                    .step(&p.flow, &p.step)
                    .is_some_and(|st| matches!(st.action, Action::Ask { .. }))
            })
        })
        .expect("a flow that asks");
    let outcome = engine::handle(&script, &ask, &Input::Text("x".repeat(10_000)));
    assert_eq!(outcome.state.place, ask.place, "still at the same question");
    assert!(outcome.state.answers.is_empty());
    assert!(outcome.replies[0].text().contains("10000"));
}

#[test]
fn a_saved_step_that_no_longer_exists_leads_to_the_menu() {
    let script = shipped();
    let state = State {
        consent: Consent::Given,
        place: Some(Place {
            flow: "acknowledge".into(),
            step: "removed-in-an-edit".into(),
        }),
        ..State::default()
    };
    let outcome = engine::handle(&script, &state, &Input::Text("hello".into()));
    assert_eq!(outcome.state.place.unwrap().flow, "menu");
    assert!(
        outcome.replies[0]
            .text()
            .contains("Nothing you told me is lost")
    );
}

#[test]
fn a_stale_button_is_recognised_and_not_applied() {
    let script = shipped();
    let start = engine::handle(&script, &State::default(), &Input::Start);
    let old_button = start.replies.last().unwrap().choices()[0].id.clone();
    let moved = engine::handle(&script, &start.state, &Input::Choice(old_button.clone()));
    let again = engine::handle(&script, &moved.state, &Input::Choice(old_button));
    if moved.state.place != start.state.place {
        assert_eq!(
            again.state.place, moved.state.place,
            "an old button moved them"
        );
        assert!(again.replies[0].text().contains("earlier message"));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn random_input_never_breaks_the_engine(
        text in "\\PC{0,300}",
        raw in proptest::collection::vec(any::<char>(), 0..64),
        which in 0usize..1000,
    ) {
        let script = shipped();
        let states = places(&script);
        let state = &states[which % states.len()];
        check(&script, state, &Input::Text(text.clone()));
        check(&script, state, &Input::Choice(text));
        check(&script, state, &Input::Text(raw.into_iter().collect()));
    }
}

#[tokio::test]
async fn odd_input_through_the_store_never_loses_state() {
    let (_dir, store) = temp_store().await;
    let script = shipped();
    let person = "terminal:odd";
    for text in nasty() {
        let before = store.state(person).await.unwrap();
        let outcome = store
            .apply(person, Timestamp::now(), |state| {
                engine::handle(&script, state, &Input::Text(text.clone()))
            })
            .await
            .unwrap()
            .outcome;
        assert_eq!(store.state(person).await.unwrap(), outcome.state);
        if before.place.is_some() {
            assert!(outcome.state.place.is_some());
        }
    }
}

#[test]
fn the_binary_survives_invalid_utf8_and_odd_lines() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = mend(dir.path());
    command.args(["chat", "--json", "--db", "odd.sqlite"]);
    let mut input: Vec<u8> = Vec::new();
    for text in nasty() {
        input.extend(text.replace('\n', " ").as_bytes());
        input.push(b'\n');
    }
    input.extend(b"\xff\xfe broken utf-8\n");
    let lines = input.iter().filter(|b| **b == b'\n').count();
    let (status, stdout, stderr) = run_mend(command, &String::from_utf8_lossy(&input));
    assert!(status.success(), "{stderr}");
    assert_eq!(stdout.lines().count(), lines + 1);
    assert!(!stdout.contains("@everyone") || stdout.contains("links"));
}
