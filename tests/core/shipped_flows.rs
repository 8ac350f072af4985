//! Every path through every shipped flow, walked with the real engine: no
//! dead ends, every reply within Discord's limits and carrying the links.

use std::collections::BTreeSet;

use mend::conversation::engine::{self, Consent, Input, Outcome, Place, State, Task};
use mend::flows::{Action, MENU, Script, Situation, Target, Tool, WELCOME};
use mend::referrals::Reply;

use crate::helpers::{assert_links, shipped};

const ANSWER: &str = "Walk the dog together before work";

/// Walks every path from `state` without revisiting a step on the path; a
/// path ends when the flow ends or hands over to another flow. Returns the
/// number of paths.
fn walk(
    script: &Script,
    flow: &str,
    state: &State,
    path: &mut Vec<String>,
    endings: &mut BTreeSet<String>,
) -> usize {
    let place = state.place.clone().expect("resting somewhere");
    if place.flow != flow {
        return 1;
    }
    let step = script.step(&place.flow, &place.step).unwrap();
    if path.contains(&place.step) {
        return 1;
    }
    path.push(place.step.clone());
    let mut inputs: Vec<Input> = match &step.action {
        Action::End => {
            endings.insert(format!("{flow}:{}", step.id));
            vec![Input::Choice(mend::buttons::choice(flow, &step.id, "menu"))]
        }
        Action::Continue(_) => panic!("{flow}:{} rests on a carry-on step", step.id),
        Action::Choices(_) => Vec::new(),
        Action::Ask { .. } => vec![Input::Text(ANSWER.into())],
    };
    inputs.extend(
        (1..=step.choices().len())
            .map(|n| Input::Choice(mend::buttons::choice(flow, &step.id, &n.to_string()))),
    );
    assert!(!inputs.is_empty(), "{flow}:{} is a dead end", step.id);

    let mut paths = 0;
    for input in inputs {
        let outcome = engine::handle(script, state, &input);
        check_replies(script, &outcome, state);
        if matches!(step.action, Action::End) {
            assert_eq!(outcome.state.place.as_ref().unwrap().flow, MENU);
            paths += 1;
            continue;
        }
        paths += walk(script, flow, &outcome.state, path, endings);
    }
    path.pop();
    paths
}

fn check_replies(script: &Script, outcome: &Outcome, before: &State) {
    assert!(!outcome.replies.is_empty(), "an input went unanswered");
    assert_links(&outcome.replies);
    for reply in &outcome.replies {
        check_reply(reply);
    }
    let last = outcome.replies.last().unwrap();
    let place = outcome.state.place.as_ref().expect("resting somewhere");
    let resting = script.step(&place.flow, &place.step).expect("a real step");
    assert!(
        !last.choices().is_empty() || matches!(resting.action, Action::Ask { .. }),
        "the last reply offers no way on: {:?}",
        last.text()
    );
    if before.consent == Consent::Given {
        for reply in &outcome.replies {
            if before.answers.is_empty() {
                continue;
            }
            assert!(
                !reply.text().contains("(not kept"),
                "a consenting person's answer was shown as not kept"
            );
        }
    }
}

fn check_reply(reply: &Reply) {
    let text = reply.text();
    assert!(!text.trim().is_empty(), "an empty message");
    assert!(
        text.chars().count() <= 2000,
        "over 2,000 characters: {text}"
    );
    assert!(!text.contains("{"), "an unrendered quote: {text}");
    assert!(reply.choices().len() <= 20);
    for choice in reply.choices() {
        assert!(!choice.label.trim().is_empty());
        assert!(choice.label.chars().count() <= 80);
        assert!(choice.id.len() <= 100, "button id too long for Discord");
    }
}

fn person(consent: Consent, situation: Option<Situation>) -> State {
    State {
        consent,
        situation,
        place: Some(Place {
            flow: MENU.into(),
            step: "x".into(),
        }),
        ..State::default()
    }
}

#[test]
fn every_path_through_every_flow_reaches_an_end_or_another_flow() {
    let script = shipped();
    let mut situations: Vec<Option<Situation>> = Situation::ALL.into_iter().map(Some).collect();
    situations.push(None);
    let mut total = 0;
    for flow in script.flows() {
        let mut endings = BTreeSet::new();
        for &situation in &situations {
            for consent in [Consent::Given, Consent::Declined] {
                let mut state = person(consent, situation);
                let start = flow.step(&flow.start).unwrap();
                state.place = Some(Place {
                    flow: flow.id.clone(),
                    step: start.id.clone(),
                });
                let opened = engine::handle(&script, &state, &Input::Begin(flow.id.clone()));
                check_replies(&script, &opened, &state);
                total += walk(
                    &script,
                    &flow.id,
                    &opened.state,
                    &mut Vec::new(),
                    &mut endings,
                );
            }
        }
        if flow.id != MENU && flow.id != WELCOME {
            assert!(!endings.is_empty(), "flow {} never ends", flow.id);
        }
    }
    assert!(total > 50, "only {total} paths walked");
}

#[test]
fn the_menu_reaches_every_flow_but_the_welcome() {
    let script = shipped();
    let menu = script.flow(MENU).unwrap();
    let reached: BTreeSet<&str> = menu
        .steps
        .iter()
        .flat_map(|s| s.choices())
        .filter_map(|c| match &c.target {
            Target::Flow(id) => Some(id.as_str()),
            Target::Step(_) => None,
        })
        .collect();
    for flow in script.flows() {
        if flow.id != MENU && flow.id != WELCOME {
            assert!(
                reached.contains(flow.id.as_str()),
                "the menu misses {}",
                flow.id
            );
        }
    }
}

#[test]
fn the_guides_flows_are_all_there() {
    let script = shipped();
    for id in [
        "welcome",
        "menu",
        "acknowledge",
        "small-actions",
        "patience",
        "closeness",
        "both-engage",
        "earlier-wounds",
        "worth-rebuilding",
        "professional-support",
        "daily",
    ] {
        assert!(script.flow(id).is_some(), "missing flow {id}");
    }
}

#[test]
fn flows_speak_differently_to_the_hurt_and_to_those_who_caused_it() {
    let script = shipped();
    for flow in script.flows() {
        if [MENU, WELCOME, "daily", "checkins"].contains(&flow.id.as_str()) {
            continue;
        }
        let hurt = flow
            .steps
            .iter()
            .any(|s| s.say_for.contains_key(&Situation::Hurt));
        let caused = flow
            .steps
            .iter()
            .any(|s| s.say_for.contains_key(&Situation::Caused));
        assert!(
            hurt && caused,
            "{} does not branch on the person's situation",
            flow.id
        );
    }
}

#[test]
fn conversations_ask_something_of_the_person() {
    let script = shipped();
    for flow in script.flows() {
        if [MENU, WELCOME].contains(&flow.id.as_str()) {
            continue;
        }
        let asks = flow
            .steps
            .iter()
            .any(|s| matches!(s.action, Action::Ask { .. }) || s.choices().len() > 1);
        assert!(asks, "{} never asks the person anything", flow.id);
    }
}

#[test]
fn the_welcome_says_what_mend_is_and_asks_before_storing() {
    let script = shipped();
    let welcome = script.flow(WELCOME).unwrap();
    let all_text: String = welcome
        .steps
        .iter()
        .flat_map(|s| s.say.iter().chain(s.say_for.values().flatten()))
        .map(|t| t.to_lowercase())
        .collect::<Vec<_>>()
        .join(" ");
    for needle in ["therap", "emergenc", "999", "moderator", "store", "erase"] {
        assert!(
            all_text.contains(needle),
            "the welcome never mentions {needle:?}"
        );
    }
    let choices: Vec<_> = welcome.steps.iter().flat_map(|s| s.choices()).collect();
    assert!(choices.iter().any(|c| c.consent == Some(true)));
    assert!(choices.iter().any(|c| c.consent == Some(false)));
    let situations: BTreeSet<_> = choices.iter().filter_map(|c| c.situation).collect();
    assert_eq!(
        situations.len(),
        4,
        "the welcome should offer all four situations"
    );
}

#[test]
fn the_embedded_flows_are_the_shipped_files() {
    let embedded = mend::flows::load_embedded().unwrap();
    let on_disk = shipped();
    let ids = |s: &Script| {
        s.flows()
            .map(|f| (f.id.clone(), f.steps.len()))
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&embedded), ids(&on_disk));
}

#[test]
fn the_menu_reaches_check_in_settings_and_progress() {
    let script = shipped();
    let menu = script.flow(MENU).unwrap();
    let tools: Vec<Tool> = menu
        .steps
        .iter()
        .flat_map(|s| s.choices())
        .filter_map(|c| c.tool)
        .collect();
    assert_eq!(tools, [Tool::Progress]);
    let settings = script.flow("checkins").expect("the check-in settings flow");
    let mut offered: Vec<&str> = settings
        .steps
        .iter()
        .flat_map(|s| s.choices().iter().filter_map(|c| c.tool).chain(s.tool))
        .map(Tool::name)
        .collect();
    offered.sort();
    offered.dedup();
    assert_eq!(
        offered,
        [
            "checkin-off",
            "checkin-on",
            "checkin-pause",
            "checkin-show",
            "progress"
        ]
    );
}

#[test]
fn a_tool_is_handed_to_the_edge_and_the_flow_carries_on() {
    let script = shipped();
    let mut state = person(Consent::Given, Some(Situation::Hurt));
    state.place = Some(Place {
        flow: MENU.into(),
        step: "pick".into(),
    });
    let outcome = engine::handle(
        &script,
        &state,
        &Input::Text("How my check-ins have gone".into()),
    );
    assert_eq!(outcome.tasks, [Task::Progress]);
    assert_eq!(outcome.state.place, state.place, "back at the menu");
    assert!(
        outcome.replies[0]
            .text()
            .starts_with("What would help right now?")
    );

    let outcome = engine::handle(&script, &state, &Input::Begin("checkins".into()));
    assert!(outcome.tasks.is_empty(), "opening the flow changes nothing");
    let outcome = engine::handle(&script, &outcome.state, &Input::Text("1".into()));
    assert!(outcome.tasks.is_empty());
    let typed = "20:30 Europe/London";
    let after = engine::handle(&script, &outcome.state, &Input::Text(typed.into()));
    assert_eq!(after.tasks, [Task::CheckinOn { when: typed.into() }]);
    assert!(
        after.state.answers.values().all(|a| a != typed),
        "a setting is not kept as an answer"
    );
    assert_eq!(
        after.replies[0].text(),
        "Anything else about your check-ins?"
    );

    let paused = engine::handle(&script, &after.state, &Input::Text("3".into()));
    assert_eq!(paused.tasks, [Task::CheckinPause { days: 7 }]);
    // "Never mind" at the question changes nothing.
    let asked = engine::handle(&script, &after.state, &Input::Text("1".into()));
    let never = engine::handle(&script, &asked.state, &Input::Text("never mind".into()));
    assert!(never.tasks.is_empty());
}
