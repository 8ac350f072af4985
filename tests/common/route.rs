//! Finding a way through the shipped flows with the real engine, so tests
//! can drive a conversation without hard-coding its wording or ids. Shared by
//! the test binaries through `#[path]`.

use mend::flows::Script;

/// The inputs, as a person would type them into `mend chat --json` (button
/// ids, or `answer` at a question), that lead from `start` to the first
/// outcome that meets `goal`, found by breadth-first search with the real
/// engine. Panics if no route exists.
pub fn route(
    script: &Script,
    start: &mend::conversation::engine::State,
    answer: &str,
    goal: impl Fn(&mend::conversation::engine::Outcome) -> bool,
) -> Vec<String> {
    use mend::conversation::engine::{self, Input};
    use std::collections::{HashSet, VecDeque};

    let key = |s: &mend::conversation::engine::State| {
        s.place
            .as_ref()
            .map(|p| format!("{}:{}:{:?}:{:?}", p.flow, p.step, s.consent, s.situation))
    };
    let mut seen = HashSet::new();
    let mut queue = VecDeque::from([(start.clone(), Vec::<String>::new())]);
    while let Some((state, path)) = queue.pop_front() {
        if !seen.insert(key(&state)) {
            continue;
        }
        for line in inputs_at(script, &state, answer) {
            let input = if line.contains(':') {
                Input::Choice(line.clone())
            } else {
                Input::Text(line.clone())
            };
            let outcome = engine::handle(script, &state, &input);
            let mut next_path = path.clone();
            next_path.push(line);
            if goal(&outcome) {
                return next_path;
            }
            queue.push_back((outcome.state, next_path));
        }
    }
    panic!("no route to the goal");
}

/// What a person can do where `state` rests: press each button, or write `answer`.
pub fn inputs_at(
    script: &Script,
    state: &mend::conversation::engine::State,
    answer: &str,
) -> Vec<String> {
    use mend::flows::Action;
    let Some(place) = &state.place else {
        return vec![answer.to_owned()];
    };
    let Some(step) = script.step(&place.flow, &place.step) else {
        return vec![answer.to_owned()];
    };
    let mut inputs: Vec<String> = (1..=step.choices().len())
        .map(|n| mend::buttons::choice(&place.flow, &place.step, &n.to_string()))
        .collect();
    match step.action {
        Action::End => inputs.push(mend::buttons::choice(&place.flow, &place.step, "menu")),
        Action::Ask { .. } => inputs.push(answer.to_owned()),
        Action::Choices(_) | Action::Continue(_) => {}
    }
    inputs
}
