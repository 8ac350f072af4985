//! Turns parsed files into a [`Script`], collecting every problem rather than
//! stopping at the first.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::model::{
    Action, Choice, Flow, Next, Piece, Script, Situation, Step, Target, Tool, is_quote_name, pieces,
};
use super::raw::{RawChoice, RawFlow, RawStep};
use super::{MAX_CHOICES, MAX_LABEL_CHARS, MAX_MESSAGE_CHARS, MENU, Problem, QUOTE_CHARS, WELCOME};
use crate::checkins::MAX_PAUSE_DAYS;

/// Ids end up inside Discord button ids (at most 100 characters), so they are
/// short and plain.
const MAX_ID_CHARS: usize = 32;

struct Report<'a> {
    flow: &'a RawFlow,
    problems: &'a mut Vec<Problem>,
}

impl Report<'_> {
    fn flow(&mut self, message: String) {
        let line = self.flow.lines.line(self.flow.id.span().start);
        self.push(Some(line), None, message);
    }

    fn step(&mut self, step: &RawStep, message: String) {
        let line = self.flow.lines.line(step.id.span().start);
        self.push(Some(line), Some(step.id.get_ref().clone()), message);
    }

    fn push(&mut self, line: Option<usize>, step: Option<String>, message: String) {
        self.problems.push(Problem {
            file: self.flow.file.clone(),
            line,
            flow: Some(self.flow.id.get_ref().clone()),
            step,
            message,
        });
    }
}

pub fn validate(raw: Vec<RawFlow>) -> Result<Script, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut flows = BTreeMap::new();
    let mut files: HashMap<String, &std::path::Path> = HashMap::new();

    for flow in &raw {
        let id = flow.id.get_ref();
        if let Some(first) = files.get(id.as_str()) {
            Report {
                flow,
                problems: &mut problems,
            }
            .flow(format!(
                "the flow id `{id}` is already used in {}; each flow needs its own id",
                first.display()
            ));
            continue;
        }
        files.insert(id.clone(), &flow.file);
        if let Some(built) = check_flow(flow, &mut problems) {
            flows.insert(id.clone(), built);
        }
    }

    // Links between flows can only be checked once every flow is known.
    for flow in &raw {
        let mut report = Report {
            flow,
            problems: &mut problems,
        };
        for step in &flow.steps {
            for choice in &step.choices {
                if let Some(target) = &choice.flow
                    && !files.contains_key(target.as_str())
                {
                    report.step(
                        step,
                        format!(
                            "the choice \"{}\" leads to flow `{target}`, which does not exist",
                            choice.label
                        ),
                    );
                }
            }
        }
    }

    for required in [WELCOME, MENU] {
        if !files.contains_key(required) {
            problems.push(Problem {
                file: "prompts/flows".into(),
                line: None,
                flow: None,
                step: None,
                message: format!("there is no `{required}` flow; mend needs one to talk to people"),
            });
        }
    }

    if problems.is_empty() {
        Ok(Script::new(flows))
    } else {
        Err(problems)
    }
}

fn check_id(kind: &str, id: &str) -> Option<String> {
    let plain = id
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if id.is_empty() || !plain || id.chars().count() > MAX_ID_CHARS {
        Some(format!(
            "the {kind} id `{id}` should be 1 to {MAX_ID_CHARS} lower-case letters, digits, `-` or `_`"
        ))
    } else {
        None
    }
}

fn blank(text: &str) -> bool {
    text.trim().is_empty()
}

fn check_flow(flow: &RawFlow, problems: &mut Vec<Problem>) -> Option<Flow> {
    let before = problems.len();
    let mut report = Report { flow, problems };
    let id = flow.id.get_ref();

    if let Some(message) = check_id("flow", id) {
        report.flow(message);
    } else if crate::buttons::is_reserved(id) {
        let words: Vec<String> = crate::buttons::PREFIXES
            .iter()
            .map(|p| format!("`{}`", p.trim_end_matches(':')))
            .collect();
        report.flow(format!(
            "the flow id `{id}` is kept for mend's own buttons ({}), whose ids begin with it; \
             choose another",
            words.join(", ")
        ));
    }
    if blank(&flow.title) {
        report.flow("the title is empty; it is shown on the menu".into());
    }
    if blank(&flow.summary) {
        report.flow("the summary is empty; write one line about what this flow is for".into());
    }
    if flow.steps.is_empty() {
        report.flow("the flow has no steps; add at least one [[steps]]".into());
    }

    let mut step_ids = BTreeSet::new();
    for step in &flow.steps {
        let step_id = step.id.get_ref();
        if let Some(message) = check_id("step", step_id) {
            report.step(step, message);
        }
        if !step_ids.insert(step_id.as_str()) {
            report.step(
                step,
                format!("another step in this flow already has the id `{step_id}`"),
            );
        }
    }
    if !flow.steps.is_empty() && !step_ids.contains(flow.start.as_str()) {
        report.flow(format!(
            "`start` names the step `{}`, which is not in this flow",
            flow.start
        ));
    }

    let asked: BTreeSet<&str> = flow
        .steps
        .iter()
        .flat_map(|s| s.ask.as_deref().into_iter().chain(s.save.as_deref()))
        .collect();
    let mut steps = Vec::new();
    for step in &flow.steps {
        if let Some(built) = check_step(step, &step_ids, &asked, &mut report) {
            steps.push(built);
        }
    }

    let built = Flow {
        id: id.clone(),
        title: flow.title.trim().to_owned(),
        summary: flow.summary.trim().to_owned(),
        start: flow.start.clone(),
        steps,
    };
    if report.problems.len() == before {
        check_graph(flow, &built, &mut report);
    }
    (report.problems.len() == before).then_some(built)
}

fn check_text(text: &str, what: &str, asked: &BTreeSet<&str>) -> Vec<String> {
    let mut found = Vec::new();
    if blank(text) {
        found.push(format!(
            "{what} is empty; every step needs something to say"
        ));
        return found;
    }
    let mut length = 0;
    for piece in pieces(text.trim()) {
        match piece {
            Piece::Text(words) => length += words.chars().count(),
            Piece::Quote(name) => {
                length += QUOTE_CHARS;
                if !asked.contains(name) {
                    found.push(format!(
                        "{what} quotes `{{{name}}}`, but no step in this flow asks for `{name}`"
                    ));
                }
            }
        }
    }
    if length > MAX_MESSAGE_CHARS {
        found.push(format!(
            "{what} is {length} characters long (quotes count as {QUOTE_CHARS}); \
             Discord shows at most {MAX_MESSAGE_CHARS}"
        ));
    }
    found
}

fn situation_map(
    raw: &BTreeMap<String, String>,
    key: &str,
    mut problem: impl FnMut(String),
) -> BTreeMap<Situation, String> {
    let mut out = BTreeMap::new();
    for (name, value) in raw {
        match Situation::parse(name) {
            Some(situation) => {
                out.insert(situation, value.trim().to_owned());
            }
            None => problem(format!(
                "`{key}.{name}` names an unknown situation; expected one of: hurt, caused, together, earlier"
            )),
        }
    }
    out
}

fn check_step(
    step: &RawStep,
    step_ids: &BTreeSet<&str>,
    asked: &BTreeSet<&str>,
    report: &mut Report<'_>,
) -> Option<Step> {
    let mut messages = check_text(&step.say, "`say`", asked);
    let say_for = situation_map(&step.say_for, "say_for", |m| messages.push(m));
    for (situation, text) in &say_for {
        messages.extend(check_text(text, &format!("`say_for.{situation}`"), asked));
    }
    let next_for = situation_map(&step.next_for, "next_for", |m| messages.push(m));

    for target in step.next.iter().chain(step.next_for.values()) {
        if !step_ids.contains(target.as_str()) {
            messages.push(format!(
                "`next` leads to the step `{target}`, which is not in this flow"
            ));
        }
    }
    if !step.next_for.is_empty() && step.next.is_none() {
        messages.push("`next_for` needs a plain `next` for everyone else".into());
    }

    let mut choices = Vec::new();
    let mut labels = BTreeSet::new();
    for choice in &step.choices {
        if let Some(built) = check_choice(choice, step_ids, &mut messages) {
            choices.push(built);
        }
        if !labels.insert(choice.label.trim().to_lowercase()) {
            messages.push(format!(
                "two choices are labelled \"{}\"; people could not tell them apart",
                choice.label.trim()
            ));
        }
    }
    if step.choices.len() > MAX_CHOICES {
        messages.push(format!(
            "the step offers {} choices; Discord can show at most {MAX_CHOICES}",
            step.choices.len()
        ));
    }

    let has_choices = !step.choices.is_empty();
    let values = step.choices.iter().filter(|c| c.value.is_some()).count();
    match &step.save {
        Some(name) if !is_quote_name(name) => messages.push(format!(
            "`save = \"{name}\"` should be a simple name: letters, digits, `_` or `-`"
        )),
        Some(name) if values == 0 => messages.push(format!(
            "the step saves `{name}` but none of its choices has a `value` to save"
        )),
        None if values > 0 => messages.push(
            "some choices have a `value`, but the step has no `save = \"name\"` to keep it under"
                .into(),
        ),
        _ => {}
    }
    if step
        .choices
        .iter()
        .any(|c| c.value.as_deref().is_some_and(blank))
    {
        messages.push("a choice has an empty `value`".into());
    }
    let tool = match step.tool.as_deref() {
        None => None,
        Some("checkin-on") if step.ask.is_some() => Some(Tool::CheckinOn),
        Some("checkin-on") => {
            messages.push(
                "`tool = \"checkin-on\"` takes the person's written answer, so the step needs an `ask`"
                    .into(),
            );
            None
        }
        Some(other) => {
            messages.push(format!(
                "a step's `tool` can only be `checkin-on`, not `{other}`; \
                 the other tools go on a choice"
            ));
            None
        }
    };
    let next = step.next.as_ref().map(|default| Next {
        default: default.clone(),
        for_situation: next_for,
    });
    let action = match (step.end, &step.ask, next) {
        (true, None, None) if !has_choices => Some(Action::End),
        (true, _, _) => {
            messages.push(
                "the step says `end = true` but also has a way forward (choices, ask or next); \
                 an ending only ends"
                    .into(),
            );
            None
        }
        (false, Some(name), Some(next)) => {
            if !is_quote_name(name) {
                messages.push(format!(
                    "`ask = \"{name}\"` should be a simple name: letters, digits, `_` or `-`"
                ));
            }
            Some(Action::Ask {
                name: name.clone(),
                next,
                choices,
            })
        }
        (false, Some(name), None) => {
            messages.push(format!(
                "the step asks for `{name}` but has no `next` to go to after the answer"
            ));
            None
        }
        (false, None, Some(_)) if has_choices => {
            messages.push(
                "the step has both `choices` and `next`; each choice already says where it leads"
                    .into(),
            );
            None
        }
        (false, None, Some(next)) => Some(Action::Continue(next)),
        (false, None, None) if has_choices => Some(Action::Choices(choices)),
        (false, None, None) => {
            messages.push(
                "the step has no way forward: give it choices, an `ask` with a `next`, \
                 a `next`, or `end = true`"
                    .into(),
            );
            None
        }
    };

    let ok = messages.is_empty();
    for message in messages {
        report.step(step, message);
    }
    if !ok {
        return None;
    }
    Some(Step {
        id: step.id.get_ref().clone(),
        say: step.say.trim().to_owned(),
        say_for,
        action: action?,
        save: step.save.clone(),
        tool,
    })
}

fn check_choice(
    choice: &RawChoice,
    step_ids: &BTreeSet<&str>,
    messages: &mut Vec<String>,
) -> Option<Choice> {
    let label = choice.label.trim();
    let before = messages.len();
    if label.is_empty() {
        messages.push("a choice has an empty label; buttons need words".into());
    }
    let length = label.chars().count();
    if length > MAX_LABEL_CHARS {
        messages.push(format!(
            "the choice \"{label}\" is {length} characters; a Discord button label holds at most {MAX_LABEL_CHARS}"
        ));
    }
    let situation = choice.situation.as_deref().and_then(|name| {
        let parsed = Situation::parse(name);
        if parsed.is_none() {
            messages.push(format!(
                "the choice \"{label}\" sets the unknown situation `{name}`; expected one of: hurt, caused, together, earlier"
            ));
        }
        parsed
    });
    let target = match (&choice.next, &choice.flow) {
        (Some(step), None) => {
            if !step_ids.contains(step.as_str()) {
                messages.push(format!(
                    "the choice \"{label}\" leads to the step `{step}`, which is not in this flow"
                ));
            }
            Some(Target::Step(step.clone()))
        }
        (None, Some(flow)) => Some(Target::Flow(flow.clone())),
        (Some(_), Some(_)) => {
            messages.push(format!(
                "the choice \"{label}\" has both `next` and `flow`; give it one place to lead"
            ));
            None
        }
        (None, None) => {
            messages.push(format!(
                "the choice \"{label}\" leads nowhere; give it `next = \"step\"` or `flow = \"flow\"`"
            ));
            None
        }
    };
    let tool = check_tool(choice, label, messages);
    if messages.len() > before {
        return None;
    }
    Some(Choice {
        label: label.to_owned(),
        target: target?,
        consent: choice.consent,
        situation,
        value: choice.value.as_ref().map(|v| v.trim().to_owned()),
        tool,
    })
}

/// A choice's `tool` and, for `checkin-pause`, its `days`.
fn check_tool(choice: &RawChoice, label: &str, messages: &mut Vec<String>) -> Option<Tool> {
    let Some(name) = choice.tool.as_deref() else {
        if choice.days.is_some() {
            messages.push(format!(
                "the choice \"{label}\" has `days`, which only `tool = \"checkin-pause\"` uses"
            ));
        }
        return None;
    };
    let tool = match name {
        "progress" => Tool::Progress,
        "checkin-show" => Tool::CheckinShow,
        "checkin-off" => Tool::CheckinOff,
        "checkin-pause" => match choice.days {
            Some(days) if (1..=MAX_PAUSE_DAYS).contains(&days) => Tool::CheckinPause { days },
            Some(days) => {
                messages.push(format!(
                    "the choice \"{label}\" pauses check-ins for {days} days; \
                     expected 1 to {MAX_PAUSE_DAYS}"
                ));
                return None;
            }
            None => {
                messages.push(format!(
                    "the choice \"{label}\" pauses check-ins but says not for how long; \
                     add `days = 7` (1 to {MAX_PAUSE_DAYS})"
                ));
                return None;
            }
        },
        "checkin-on" => {
            messages.push(format!(
                "the choice \"{label}\" uses `checkin-on`, which needs a written time and zone; \
                 put it on an `ask` step instead"
            ));
            return None;
        }
        other => {
            messages.push(format!(
                "the choice \"{label}\" uses the unknown tool `{other}`; expected one of: \
                 progress, checkin-show, checkin-off, checkin-pause"
            ));
            return None;
        }
    };
    if choice.days.is_some() && !matches!(tool, Tool::CheckinPause { .. }) {
        messages.push(format!(
            "the choice \"{label}\" has `days`, which only `tool = \"checkin-pause\"` uses"
        ));
    }
    Some(tool)
}

/// Reachability from `start`, and no circles of carry-on steps.
fn check_graph(raw: &RawFlow, flow: &Flow, report: &mut Report<'_>) {
    let index: HashMap<&str, &Step> = flow.steps.iter().map(|s| (s.id.as_str(), s)).collect();
    let successors = |step: &Step| -> Vec<String> {
        let from_choices = step.choices().iter().filter_map(|c| match &c.target {
            Target::Step(id) => Some(id.clone()),
            Target::Flow(_) => None,
        });
        let from_next: Vec<String> = match &step.action {
            Action::Ask { next, .. } | Action::Continue(next) => next.all().cloned().collect(),
            Action::Choices(_) | Action::End => Vec::new(),
        };
        from_choices.chain(from_next).collect()
    };

    let mut seen = BTreeSet::new();
    let mut stack = vec![flow.start.clone()];
    while let Some(id) = stack.pop() {
        if seen.insert(id.clone())
            && let Some(step) = index.get(id.as_str())
        {
            stack.extend(successors(step));
        }
    }
    for step in &raw.steps {
        if !seen.contains(step.id.get_ref()) {
            report.step(
                step,
                format!(
                    "nobody can reach this step from the start (`{}`); link to it or remove it",
                    flow.start
                ),
            );
        }
    }

    // Carry-on steps speak and move on at once, so a circle of them never stops.
    for step in &flow.steps {
        let mut path = vec![step.id.as_str()];
        if let Some(cycle) = continue_cycle(step, &index, &mut path) {
            let raw_step = raw.steps.iter().find(|s| s.id.get_ref() == &step.id);
            if let Some(raw_step) = raw_step {
                report.step(
                    raw_step,
                    format!(
                        "these steps carry on to each other in a circle and would never stop: {}",
                        cycle.join(" -> ")
                    ),
                );
            }
            return;
        }
    }
}

fn continue_cycle<'a>(
    step: &'a Step,
    index: &HashMap<&str, &'a Step>,
    path: &mut Vec<&'a str>,
) -> Option<Vec<String>> {
    let Action::Continue(next) = &step.action else {
        return None;
    };
    for target in next.all() {
        if path.contains(&target.as_str()) {
            let mut cycle: Vec<String> = path.iter().map(|s| s.to_string()).collect();
            cycle.push(target.clone());
            return Some(cycle);
        }
        if let Some(next_step) = index.get(target.as_str()) {
            path.push(&next_step.id);
            if let Some(cycle) = continue_cycle(next_step, index, path) {
                return Some(cycle);
            }
            path.pop();
        }
    }
    None
}
