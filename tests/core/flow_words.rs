//! What the shipped flows say and where they lead, checked with the real
//! engine: words that fit each situation (every message and button a person
//! in it could meet), the welcome's length, and the ways into the flows the
//! guides call for.

use std::collections::{BTreeSet, HashSet, VecDeque};

use mend::conversation::engine::{self, Consent, Input, Outcome, State};
use mend::flows::{Action, MENU, Script, Situation, WELCOME};

use crate::helpers::{inputs_at, route, shipped};

const ANSWER: &str = "Walk the dog together before work";

/// One thing a person sees: where it was said, and the words.
struct Seen {
    at: String,
    text: String,
}

/// Every message and button label a person in `situation` (who agreed to
/// mend keeping their answers) can meet, starting from each flow's first
/// step and trying every button and a written answer at every step reached.
/// Steps in `skip` flows are not entered. Choosing another situation, or
/// withdrawing consent, leaves the walk: what follows is no longer said to
/// this person.
fn seen_by(script: &Script, situation: Situation, skip: &[&str]) -> Vec<Seen> {
    // A step's words can quote its own flow's answers and the person's
    // facts, so those are all of the state beyond the place that can change
    // what is said.
    let key = |s: &State| {
        let place = s.place.as_ref().map(|p| (p.flow.clone(), p.step.clone()));
        let answers: BTreeSet<&str> = s
            .answers
            .keys()
            .filter(|(flow, _)| place.as_ref().is_some_and(|(f, _)| f == flow))
            .map(|(_, name)| name.as_str())
            .collect();
        let facts: BTreeSet<&str> = s.facts.keys().map(String::as_str).collect();
        (place, format!("{answers:?} {facts:?}"))
    };
    // Every flow is walked twice: by someone new to it, and by someone who
    // has already written every fact a flow can keep.
    let every_fact: std::collections::BTreeMap<String, String> = script
        .flows()
        .flat_map(|f| &f.steps)
        .filter_map(|s| s.fact.clone())
        // Kept by a tool, not a step: a partner's agreed one thing.
        .chain(std::iter::once(mend::pairing::OUR_THING.to_owned()))
        .map(|name| (name, ANSWER.to_owned()))
        .collect();
    let mut out = Vec::new();
    let mut queue = VecDeque::new();
    for flow in script.flows() {
        if skip.contains(&flow.id.as_str()) {
            continue;
        }
        let state = State {
            consent: Consent::Given,
            situation: Some(situation),
            place: Some(mend::conversation::engine::Place {
                flow: MENU.into(),
                step: "pick".into(),
            }),
            ..State::default()
        };
        let known = State {
            facts: every_fact.clone(),
            ..state.clone()
        };
        queue.push_back((state, Input::Begin(flow.id.clone())));
        queue.push_back((known, Input::Begin(flow.id.clone())));
    }
    let mut done = HashSet::new();
    while let Some((state, input)) = queue.pop_front() {
        let outcome: Outcome = engine::handle(script, &state, &input);
        if outcome.state.situation != Some(situation) {
            continue;
        }
        let at = outcome
            .state
            .place
            .as_ref()
            .map(|p| format!("{}:{}", p.flow, p.step))
            .unwrap_or_default();
        for reply in &outcome.replies {
            out.push(Seen {
                at: at.clone(),
                text: reply.text().to_owned(),
            });
            for choice in reply.choices() {
                out.push(Seen {
                    at: at.clone(),
                    text: choice.label.clone(),
                });
            }
        }
        let next = outcome.state;
        if let Some(place) = &next.place
            && skip.contains(&place.flow.as_str())
        {
            continue;
        }
        if !done.insert(key(&next)) {
            continue;
        }
        for line in inputs_at(script, &next, ANSWER) {
            let input = if line.contains(':') {
                Input::Choice(line)
            } else {
                Input::Text(line)
            };
            queue.push_back((next.clone(), input));
        }
    }
    out
}

/// The places among `seen` whose words contain any of `words` (lower case).
fn containing(seen: &[Seen], words: &[&str]) -> Vec<String> {
    let mut hits: Vec<String> = seen
        .iter()
        .filter_map(|s| {
            let lower = s.text.to_lowercase().replace('’', "'");
            words
                .iter()
                .find(|w| lower.contains(*w))
                .map(|w| format!("{} says {w:?}: {}", s.at, s.text))
        })
        .collect();
    hits.sort();
    hits.dedup();
    hits
}

/// The person whose trust was damaged before this relationship is never
/// talked to as if their partner had an affair.
#[test]
fn nobody_hurt_before_this_relationship_is_told_of_an_affair() {
    let script = shipped();
    let seen = seen_by(&script, Situation::Earlier, &[]);
    assert!(seen.len() > 200, "only {} things seen", seen.len());
    let hits = containing(
        &seen,
        &[
            "affair",
            "came to light",
            "come to light",
            "cheat",
            "unfaithful",
            "infidel",
            "betray",
            "the hurt you caused",
        ],
    );
    assert!(hits.is_empty(), "{}", hits.join("\n"));
}

/// Two people reading together are never told something is just for one.
#[test]
fn a_couple_is_never_spoken_to_as_one_person_alone() {
    let script = shipped();
    let seen = seen_by(&script, Situation::Together, &[]);
    assert!(seen.len() > 200, "only {} things seen", seen.len());
    let hits = containing(
        &seen,
        &[
            "just for you",
            "only for you",
            "support just for me",
            "what's your one",
        ],
    );
    assert!(hits.is_empty(), "{}", hits.join("\n"));
}

/// The walk above rests at every step of every flow for each situation, so
/// the checks over it miss nothing; the only exception is where declining
/// consent leads, since that forgets the situation.
#[test]
fn the_walk_reaches_every_step_for_every_situation() {
    let script = shipped();
    for situation in Situation::ALL {
        let seen = seen_by(&script, situation, &[]);
        let places: HashSet<&str> = seen.iter().map(|s| s.at.as_str()).collect();
        let mut missed = Vec::new();
        for flow in script.flows() {
            for step in &flow.steps {
                // A carry-on step is said on the way to where the person rests.
                if matches!(step.action, Action::Continue(_)) {
                    continue;
                }
                let at = format!("{}:{}", flow.id, step.id);
                if !places.contains(at.as_str()) {
                    missed.push(at);
                }
            }
        }
        assert_eq!(missed, [format!("{WELCOME}:declined")], "{situation:?}");
    }
}

fn at_menu(consent: Consent, situation: Option<Situation>) -> State {
    State {
        consent,
        situation,
        place: Some(mend::conversation::engine::Place {
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
        // How to take a copy or erase it differs by place; help says it.
        "a copy",
        "type help",
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

/// Where a person names a boundary, what matters most or what they fear,
/// the answer is asked under a name that can outlive the flow.
#[test]
fn what_a_person_names_is_asked_under_a_lasting_name() {
    let script = shipped();
    for (flow, name) in [
        ("closeness", "boundary"),
        ("worth-rebuilding", "matters_most"),
        ("fear", "fear"),
    ] {
        let asks = script
            .flow(flow)
            .unwrap()
            .steps
            .iter()
            .any(|s| matches!(&s.action, Action::Ask { name: n, .. } if n == name));
        assert!(asks, "{flow} never asks for {name}");
    }
}

/// Each branch of closeness ends in its own next step: nobody whose
/// feelings keep being set off is told to suggest closeness this week, and
/// wondering about sex gets words on talking about it.
#[test]
fn closeness_ends_each_branch_with_its_own_next_step() {
    let script = shipped();
    let ends = |label: &str| -> Vec<String> {
        let start = at_menu(Consent::Given, Some(Situation::Hurt));
        let mut state = engine::handle(&script, &start, &Input::Begin("closeness".into())).state;
        let mut said = Vec::new();
        // Past the boundary question, then the branch, then on to its end.
        for line in ["Not right now", label, "What's a good next step?"] {
            let outcome = engine::handle(&script, &state, &Input::Text(line.into()));
            said.extend(outcome.replies.iter().map(|r| r.text().to_owned()));
            state = outcome.state;
            let place = state.place.as_ref().unwrap();
            let step = script.step(&place.flow, &place.step).unwrap();
            if matches!(step.action, Action::End) {
                break;
            }
        }
        said
    };
    let triggers = ends("Something keeps setting off painful feelings");
    let last = triggers.last().unwrap().to_lowercase();
    assert!(last.starts_with("your next step"), "{last}");
    assert!(!last.contains("closeness this week"), "{last}");
    assert!(last.contains("pause"), "{last}");
    let sex = ends("We're wondering about sex again");
    let last = sex.last().unwrap().to_lowercase();
    assert!(last.contains("talk about sex"), "{last}");
    let none = ends("There's hardly any touch at all");
    assert!(none.last().unwrap().contains("closeness this week"));
    let endings: BTreeSet<&String> = [&triggers, &sex, &none]
        .iter()
        .map(|s| s.last().unwrap())
        .collect();
    assert_eq!(endings.len(), 3, "one ending for several branches");
}

/// Each short exercise says how long it takes and how either person stops,
/// and the choice of one starts from both people wanting to.
#[test]
fn each_exercise_says_how_long_and_how_to_stop() {
    let script = shipped();
    let flow = script.flow("exercises").unwrap();
    let pick = flow.step(&flow.start).unwrap();
    assert!(
        pick.say
            .iter()
            .all(|s| s.contains("only if you both want to")),
        "{:?}",
        pick.say
    );
    assert!(pick.choices().len() >= 4);
    for choice in pick.choices() {
        let mend::flows::Target::Step(id) = &choice.target else {
            panic!("{} leaves the flow", choice.label);
        };
        let step = flow.step(id).unwrap();
        for text in step.say.iter().chain(step.say_for.values().flatten()) {
            let lower = text.to_lowercase();
            assert!(lower.contains("minute"), "{id}: how long? {text}");
            assert!(
                lower.contains("either of you can"),
                "{id}: how does either person stop? {text}"
            );
        }
    }
}
