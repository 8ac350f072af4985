//! A person's facts: kept in one flow, quoted and tested in another, on a
//! real SQLite file; exported and erased; never kept before consent.

use jiff::Timestamp;
use mend::conversation::engine::{self, Consent, Input, State};
use mend::flows::{self, Script};
use mend::privacy::ErasedBy;
use mend::store::Store;

use crate::helpers::{at_menu, open_in, prompts_with, temp_store, texts};

const PLAN: &str = r#"
id = "plan"
title = "Plan"
summary = "Choose one small thing."
start = "choose"

[[steps]]
id = "choose"
say = "What is one small thing you could do?"
ask = "action"
fact = "small_action"
next = "echo"

[[steps]]
id = "echo"
say = "Your small thing: {action}."
end = true
"#;

const FOLLOW: &str = r#"
id = "follow"
title = "Follow up"
summary = "How did it go?"
start = "route"

[[steps]]
id = "route"
when = [{ known = "small_action", next = "named" }]
next = "none"

[[steps]]
id = "named"
say = ["You planned: {small_action}. Did it happen?", "Last time you chose: {small_action}. How did it go?"]
save = "happened"
choices = [
  { label = "Yes", next = "glad", value = "yes" },
  { label = "Not today", next = "in-the-way", value = "no" },
]

[[steps]]
id = "none"
say = "You haven't chosen {small_action|a small action} yet."
end = true

[[steps]]
id = "glad"
say = "Good. Shall I forget it, so you can choose another?"
choices = [
  { label = "Yes, forget it", next = "forgotten", clear = ["small_action"] },
  { label = "Keep it", next = "kept" },
]

[[steps]]
id = "in-the-way"
say = "What got in the way?"
ask = "obstacle"
fact = "obstacle"
next = "smaller"

[[steps]]
id = "smaller"
say = "Thank you. Getting in the way: {obstacle}. Could something smaller than {small_action|that} help?"
end = true

[[steps]]
id = "forgotten"
say = "Done: {small_action|nothing is planned now}."
end = true

[[steps]]
id = "kept"
say = "Kept: {small_action|nothing}."
end = true
"#;

fn script() -> (tempfile::TempDir, Script) {
    let dir = prompts_with(&[("plan.toml", PLAN), ("follow.toml", FOLLOW)]);
    let script = flows::load_dir(dir.path()).expect("the test flows are valid");
    (dir, script)
}

fn consented() -> State {
    at_menu(Consent::Given)
}

fn step(state: &State) -> &str {
    &state.place.as_ref().unwrap().step
}

#[test]
fn a_fact_kept_in_one_flow_is_quoted_and_tested_in_another() {
    let (_dir, script) = script();
    let before = engine::handle(&script, &consented(), &Input::Begin("follow".into()));
    assert_eq!(texts(&before), ["You haven't chosen a small action yet."]);

    let asked = engine::handle(&script, &consented(), &Input::Begin("plan".into()));
    let planned = engine::handle(
        &script,
        &asked.state,
        &Input::Text("a walk together".into()),
    );
    assert_eq!(texts(&planned), ["Your small thing: a walk together."]);
    assert_eq!(planned.state.facts["small_action"], "a walk together");

    let follow = engine::handle(&script, &planned.state, &Input::Begin("follow".into()));
    assert_eq!(step(&follow.state), "named");
    let asked = &texts(&follow)[0];
    assert!(
        asked == "You planned: a walk together. Did it happen?"
            || asked == "Last time you chose: a walk together. How did it go?",
        "{asked}"
    );
    let missed = engine::handle(&script, &follow.state, &Input::Text("not today".into()));
    let obstacle = engine::handle(&script, &missed.state, &Input::Text("work ran late".into()));
    assert_eq!(
        texts(&obstacle),
        [
            "Thank you. Getting in the way: work ran late. Could something smaller than a walk together help?"
        ]
    );
    assert_eq!(obstacle.state.facts["obstacle"], "work ran late");
}

#[test]
fn a_later_flow_can_forget_a_fact() {
    let (_dir, script) = script();
    let asked = engine::handle(&script, &consented(), &Input::Begin("plan".into()));
    let planned = engine::handle(&script, &asked.state, &Input::Text("tea at eight".into()));
    let follow = engine::handle(&script, &planned.state, &Input::Begin("follow".into()));
    let glad = engine::handle(&script, &follow.state, &Input::Text("yes".into()));
    let forgot = engine::handle(&script, &glad.state, &Input::Text("yes, forget it".into()));
    assert_eq!(texts(&forgot)[0], "Done: nothing is planned now.");
    assert!(!forgot.state.facts.contains_key("small_action"));
    assert!(
        forgot
            .events
            .iter()
            .any(|e| matches!(e, engine::Event::FactCleared { name } if name == "small_action"))
    );
    let again = engine::handle(&script, &forgot.state, &Input::Begin("follow".into()));
    assert_eq!(texts(&again), ["You haven't chosen a small action yet."]);
}

#[test]
fn wordings_vary_by_day_and_person_but_not_within_a_day() {
    let (_dir, script) = script();
    let config = mend::config::Config::default();
    let companion = engine::Companion {
        script: script.clone(),
        ..mend::app::companion(&config, None).unwrap()
    };
    let mut state = consented();
    state.facts.insert("small_action".into(), "a call".into());
    let on = |state: &State, day: i64| {
        let now = Timestamp::from_second(day * 86_400 + 3_600).unwrap();
        texts(&companion.respond(state, &Input::Begin("follow".into()), now))[0].clone()
    };
    let seen: std::collections::BTreeSet<String> = (0..20).map(|day| on(&state, day)).collect();
    assert_eq!(
        seen.len(),
        2,
        "both wordings appear over twenty days: {seen:?}"
    );
    assert_eq!(on(&state, 7), on(&state, 7), "one day reads the same");
    let days_for = |seed: u64| {
        let mut state = state.clone();
        state.seed = seed;
        (0..20).map(|day| on(&state, day)).collect::<Vec<_>>()
    };
    assert_ne!(
        days_for(1),
        days_for(2),
        "two people do not see the same run"
    );
}

#[test]
fn before_consent_the_words_serve_the_moment_and_nothing_is_kept() {
    let (_dir, script) = script();
    let mut unasked = consented();
    unasked.consent = Consent::Declined;
    let asked = engine::handle(&script, &unasked, &Input::Begin("plan".into()));
    let planned = engine::handle(&script, &asked.state, &Input::Text("a walk".into()));
    assert_eq!(texts(&planned), ["Your small thing: a walk."]);
    assert!(planned.state.facts.is_empty());
    assert!(planned.state.answers.is_empty());
    let follow = engine::handle(&script, &planned.state, &Input::Begin("follow".into()));
    assert_eq!(texts(&follow), ["You haven't chosen a small action yet."]);
}

async fn send(
    store: &Store,
    script: &Script,
    person: &str,
    input: Input,
    now: Timestamp,
) -> Vec<String> {
    let applied = store
        .apply(person, now, |state| {
            // People start consented at the menu, as after the welcome.
            let state = if state.place.is_none() {
                State {
                    seed: state.seed,
                    ..consented()
                }
            } else {
                state.clone()
            };
            engine::handle(script, &state, &input)
        })
        .await
        .unwrap();
    texts(&applied.outcome)
}

/// `person` writes `words` as their small action in the `plan` flow.
async fn plan(store: &Store, script: &Script, person: &str, words: &str, now: Timestamp) {
    send(store, script, person, Input::Begin("plan".into()), now).await;
    send(store, script, person, Input::Text(words.into()), now).await;
}

#[tokio::test]
async fn facts_survive_a_reopened_file_and_go_with_export_and_erasure() {
    let (dir, store) = temp_store().await;
    let (_prompts, script) = script();
    let now = Timestamp::from_second(1_800_000_000).unwrap();
    plan(&store, &script, "terminal:a", "tea at eight", now).await;
    plan(&store, &script, "terminal:b", "b's own plan", now).await;
    store.close().await;

    let store = open_in(dir.path()).await;
    let state = store.state("terminal:a").await.unwrap();
    assert_eq!(state.facts["small_action"], "tea at eight");
    assert!(
        !state
            .answers
            .contains_key(&("@person".to_owned(), "small_action".to_owned()))
    );
    let said = send(
        &store,
        &script,
        "terminal:a",
        Input::Begin("follow".into()),
        now,
    )
    .await;
    assert!(said[0].contains("tea at eight"), "{said:?}");

    let export = store.export("terminal:a", now).await.unwrap().unwrap();
    let json = serde_json::to_value(&export).unwrap();
    let facts = json["facts"].as_array().unwrap();
    assert_eq!(facts.len(), 1, "{facts:?}");
    assert_eq!(facts[0]["name"], "small_action");
    assert_eq!(facts[0]["value"], "tea at eight");
    assert!(json["readme"]["facts"].is_string());
    let text = export.to_json();
    assert!(!text.contains("b's own plan"));
    assert!(!text.contains("@person"), "the storage detail stays inside");

    store
        .forget("terminal:a", ErasedBy::Person, now)
        .await
        .unwrap()
        .unwrap();
    let state = store.state("terminal:a").await.unwrap();
    assert!(state.facts.is_empty());
    let other = store.state("terminal:b").await.unwrap();
    assert_eq!(other.facts["small_action"], "b's own plan");
}

#[tokio::test]
async fn declining_consent_clears_facts_from_the_file() {
    let (_dir, store) = temp_store().await;
    let (_prompts, script) = script();
    let now = Timestamp::from_second(1_800_000_000).unwrap();
    plan(&store, &script, "terminal:a", "tea at eight", now).await;
    let applied = store
        .apply("terminal:a", now, |state| {
            let mut outcome = engine::handle(&script, state, &Input::Start);
            // What a consent = false choice does, without a welcome to press it in.
            outcome.state.consent = Consent::Declined;
            outcome.state.answers.clear();
            outcome.state.facts.clear();
            outcome
        })
        .await
        .unwrap();
    assert!(applied.outcome.state.facts.is_empty());
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM answers")
        .fetch_one(&crate::helpers::raw(&store).await)
        .await
        .unwrap();
    assert_eq!(count, 0);
}

/// A consented person of `situation`, at the menu of the shipped flows.
fn shipped_person(situation: mend::flows::Situation) -> State {
    State {
        situation: Some(situation),
        ..consented()
    }
}

/// Types each line in turn, returning the last turn's words and state.
fn say_lines(script: &Script, state: State, lines: &[&str]) -> (Vec<String>, State) {
    let mut state = state;
    let mut said = Vec::new();
    for line in lines {
        let input = match line.strip_prefix("begin:") {
            Some(flow) => Input::Begin(flow.into()),
            None => Input::Text((*line).into()),
        };
        let outcome = engine::handle(script, &state, &input);
        said = texts(&outcome);
        state = outcome.state;
    }
    (said, state)
}

#[test]
fn the_check_in_follows_up_the_small_action_chosen_in_another_flow() {
    use mend::flows::Situation;
    let script = crate::helpers::shipped();
    for situation in Situation::ALL {
        let person = shipped_person(situation);
        // small-actions: intro carries on to the kinds; any kind, then write.
        let (_, person) = say_lines(
            &script,
            person,
            &["begin:small-actions", "I'm not sure yet", "a walk at lunch"],
        );
        assert_eq!(
            person.facts["small_action"], "a walk at lunch",
            "{situation}"
        );
        let (said, person) = say_lines(&script, person, &["begin:daily", "4"]);
        let asked = said.last().unwrap();
        assert!(
            asked.contains("a walk at lunch") && asked.contains("Did it happen?"),
            "{situation}: {said:?}"
        );
        // Not today: what got in the way, then a smaller step.
        let (said, person) = say_lines(&script, person, &["not today"]);
        assert!(
            said.last().unwrap().contains("What got in the way?"),
            "{said:?}"
        );
        // What got in the way is said back, with room for it to be more.
        let (said, person) = say_lines(&script, person, &["the kids were ill"]);
        assert!(said[0].contains("> the kids were ill"), "{said:?}");
        assert_eq!(person.facts["obstacle"], "the kids were ill");
        let (said, bigger) = say_lines(&script, person.clone(), &["it's bigger than that"]);
        let place = bigger.place.as_ref().unwrap();
        let offered: Vec<_> = script
            .step(&place.flow, &place.step)
            .unwrap()
            .choices()
            .iter()
            .map(|c| c.target.clone())
            .collect();
        assert!(
            offered.contains(&mend::flows::Target::Flow("hard-moment".into())),
            "{said:?}"
        );
        let (said, person) = say_lines(&script, person, &["it was just a hard day"]);
        assert!(
            said.last().unwrap().contains("something smaller"),
            "{said:?}"
        );
        let (_, person) = say_lines(
            &script,
            person,
            &["choose something smaller", "a text at lunch"],
        );
        assert_eq!(person.facts["small_action"], "a text at lunch");
        // The next check-in names the new one.
        let (said, _) = say_lines(&script, person, &["begin:daily", "3"]);
        assert!(said.last().unwrap().contains("a text at lunch"), "{said:?}");
    }
}

#[test]
fn with_no_small_action_the_check_in_says_so_and_offers_to_choose_one() {
    let script = crate::helpers::shipped();
    let person = shipped_person(mend::flows::Situation::Hurt);
    let (said, person) = say_lines(&script, person, &["begin:daily", "5"]);
    assert!(
        said.last()
            .unwrap()
            .contains("You haven't chosen a small action"),
        "{said:?}"
    );
    let (said, person) = say_lines(&script, person, &["choose one now"]);
    assert!(
        said.last()
            .unwrap()
            .contains("one small thing for tomorrow")
    );
    let (said, person) = say_lines(&script, person, &["an hour to myself"]);
    assert!(
        said.iter().any(|s| s.contains("> an hour to myself")),
        "{said:?}"
    );
    assert_eq!(person.facts["small_action"], "an hour to myself");
    // Choosing not to write one down forgets the old one, so no check-in
    // names a plan that was set aside.
    let (_, person) = say_lines(
        &script,
        person,
        &[
            "begin:small-actions",
            "I'm not sure yet",
            "I'd rather not write it down",
        ],
    );
    assert!(!person.facts.contains_key("small_action"));
}

#[test]
fn a_low_score_is_met_slowly_with_buttons_not_instructions() {
    use mend::flows::{Situation, Target};
    let script = crate::helpers::shipped();
    for situation in Situation::ALL {
        let (said, person) = say_lines(&script, shipped_person(situation), &["begin:daily", "1"]);
        let words = said.last().unwrap();
        assert!(!words.to_lowercase().contains("type menu"), "{words}");
        assert!(words.contains("999"), "{words}");
        let place = person.place.as_ref().unwrap();
        let step = script.step(&place.flow, &place.step).unwrap();
        let flows: Vec<&Target> = step.choices().iter().map(|c| &c.target).collect();
        assert!(
            flows.contains(&&Target::Flow("worth-rebuilding".into())),
            "{situation}"
        );
        assert!(
            flows.contains(&&Target::Flow("professional-support".into())),
            "{situation}"
        );
        // And carrying on reaches the rest of the check-in.
        let (said, _) = say_lines(&script, person, &["carry on with the check-in"]);
        assert!(said.last().unwrap().contains("small action"), "{said:?}");
    }
}

/// Walks from `state` by the shortest way until `goal`, writing `answer`
/// wherever words are asked for; returns the state reached.
fn walk_until(
    script: &Script,
    state: State,
    answer: &str,
    goal: impl Fn(&engine::Outcome) -> bool,
) -> State {
    let mut state = state;
    for line in crate::helpers::route(script, &state, answer, goal) {
        let input = if line.contains(':') {
            Input::Choice(line)
        } else {
            Input::Text(line)
        };
        state = engine::handle(script, &state, &input).state;
    }
    state
}

#[test]
fn what_a_person_names_in_one_flow_comes_back_in_another_or_the_next_time() {
    use mend::flows::Situation;
    let script = crate::helpers::shipped();
    for situation in Situation::ALL {
        let person = shipped_person(situation);
        // What matters most, written while asking whether to rebuild, comes
        // back when drafting an enquiry to a counsellor.
        let begun =
            engine::handle(&script, &person, &Input::Begin("worth-rebuilding".into())).state;
        let person = walk_until(&script, begun, "being treated kindly", |o| {
            o.state.facts.contains_key("matters_most")
        });
        let begun = engine::handle(
            &script,
            &person,
            &Input::Begin("professional-support".into()),
        )
        .state;
        // (The walk panics if no way leads to the goal.)
        walk_until(&script, begun, "Hello, we'd like to ask", |o| {
            texts(o)
                .iter()
                .any(|t| t.contains("> being treated kindly"))
        });

        // A boundary named once is offered back the next time.
        let begun = engine::handle(&script, &person, &Input::Begin("closeness".into())).state;
        let person = walk_until(&script, begun, "no touching when I'm upset", |o| {
            o.state.facts.contains_key("boundary")
        });
        let again = engine::handle(&script, &person, &Input::Begin("closeness".into())).state;
        walk_until(&script, again, "something else", |o| {
            texts(o).iter().any(|t| {
                t.starts_with("Last time, you named this boundary")
                    && t.contains("> no touching when I'm upset")
            })
        });
    }
}
