//! Turns parsed files into a [`Script`], collecting every problem rather than
//! stopping at the first.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::model::{
    Action, Branch, Choice, Flow, Next, Piece, Script, Situation, Step, Target, Test, Tool,
    is_quote_name, pieces,
};
use super::raw::{RawChoice, RawFlow, RawStep, RawWhen, Wordings};
use super::{
    DAILY, MAX_CHOICES, MAX_LABEL_CHARS, MAX_MESSAGE_CHARS, MENU, Problem, QUOTE_CHARS, WELCOME,
};
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

/// The person-level facts some flow keeps, and the values each can hold:
/// `None` when a person writes it (anything), else the choices' values.
type Facts = BTreeMap<String, Option<BTreeSet<String>>>;

fn facts_kept(raw: &[RawFlow]) -> Facts {
    let mut facts = Facts::new();
    for step in raw.iter().flat_map(|f| &f.steps) {
        let Some(name) = &step.fact else { continue };
        let entry = facts
            .entry(name.clone())
            .or_insert_with(|| Some(BTreeSet::new()));
        if step.ask.is_some() {
            *entry = None;
        } else if let Some(values) = entry {
            values.extend(
                step.choices
                    .iter()
                    .filter_map(|c| c.value.as_ref().map(|v| v.trim().to_owned())),
            );
        }
    }
    // Accepting a partner's "one thing this week" keeps it, as written, as
    // a fact of each partner's (see `pairing::OUR_THING`).
    let accepts = raw
        .iter()
        .flat_map(|f| &f.steps)
        .flat_map(|s| &s.choices)
        .any(|c| c.tool.as_deref() == Some("pair-accept"));
    if accepts {
        facts.insert(crate::pairing::OUR_THING.to_owned(), None);
    }
    facts
}

pub fn validate(raw: Vec<RawFlow>) -> Result<Script, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut flows = BTreeMap::new();
    let mut files: HashMap<String, &std::path::Path> = HashMap::new();
    let facts = facts_kept(&raw);

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
        if let Some(built) = check_flow(flow, &facts, &mut problems) {
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

    if let Some(daily) = raw.iter().find(|f| f.id.get_ref() == DAILY) {
        check_daily(daily, &mut problems);
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

/// The names the progress view reads from `daily`, and the values it counts.
const DAILY_FIELDS: [(&str, &[&str]); 2] = [
    ("scale", &["1", "2", "3", "4", "5"]),
    ("action", &["yes", "partly", "not_today"]),
];

/// What the progress view reads from `daily` must be what the flow keeps:
/// a scale from 1 to 5, whether the action happened, and a written note.
fn check_daily(flow: &RawFlow, problems: &mut Vec<Problem>) {
    let mut report = Report { flow, problems };
    fn saves<'f>(flow: &'f RawFlow, name: &'f str) -> impl Iterator<Item = &'f RawStep> {
        flow.steps
            .iter()
            .filter(move |s| s.save.as_deref() == Some(name))
    }
    for (name, allowed) in DAILY_FIELDS {
        if saves(flow, name).next().is_none() {
            report.flow(format!(
                "the daily check-in has no step with `save = \"{name}\"`; the progress view \
                 counts it (values: {})",
                allowed.join(", ")
            ));
        }
        for step in saves(flow, name) {
            for value in step.choices.iter().filter_map(|c| c.value.as_deref()) {
                if !allowed.contains(&value.trim()) {
                    report.step(
                        step,
                        format!(
                            "`{name}` is kept for the progress view, which counts only the \
                             values {}; this step saves \"{value}\"",
                            allowed.join(", ")
                        ),
                    );
                }
            }
        }
    }
    for step in saves(flow, "note") {
        report.step(
            step,
            "`note` is the check-in's written line in the progress view; keep it with \
             `ask = \"note\"`, not a choice's value"
                .into(),
        );
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

fn check_flow(flow: &RawFlow, facts: &Facts, problems: &mut Vec<Problem>) -> Option<Flow> {
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

    // What this flow's steps keep, by name, and the values each can hold
    // (`None`: written, so anything).
    let mut asked: Facts = BTreeMap::new();
    for step in &flow.steps {
        if let Some(name) = &step.ask {
            asked.insert(name.clone(), None);
        }
        if let Some(name) = &step.save {
            let values = step
                .choices
                .iter()
                .filter_map(|c| c.value.as_ref().map(|v| v.trim().to_owned()));
            if let Some(Some(known)) = asked.get_mut(name) {
                known.extend(values);
            } else if !asked.contains_key(name) {
                asked.insert(name.clone(), Some(values.collect()));
            }
        }
    }
    let names = Names {
        asked: &asked,
        facts,
    };
    let mut steps = Vec::new();
    for step in &flow.steps {
        if let Some(built) = check_step(step, &step_ids, &names, &mut report) {
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

/// The names a flow's steps can quote and test: its own answers, and the
/// facts any flow keeps.
struct Names<'a> {
    asked: &'a Facts,
    facts: &'a Facts,
}

impl Names<'_> {
    /// The values a name can hold (`Some(None)`: anything), or `None` when
    /// nothing keeps it.
    fn values(&self, name: &str) -> Option<Option<&BTreeSet<String>>> {
        match (self.asked.get(name), self.facts.get(name)) {
            (None, None) => None,
            (Some(None), _) | (_, Some(None)) => Some(None),
            (Some(Some(a)), None) | (None, Some(Some(a))) => Some(Some(a)),
            // Kept by both: only a value of this flow's can be tested for
            // sure, so the flow's own are the ones checked.
            (Some(Some(a)), Some(Some(_))) => Some(Some(a)),
        }
    }

    fn unknown(&self, name: &str) -> String {
        format!(
            "no step in this flow asks for or saves `{name}`, and no flow keeps a fact \
             `{name}` (`fact = \"{name}\"`)"
        )
    }
}

fn check_text(text: &str, what: &str, names: &Names<'_>) -> Vec<String> {
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
            Piece::Quote { name, fallback } => {
                length += QUOTE_CHARS.max(fallback.map_or(0, |f| f.chars().count()));
                if names.values(name).is_none() {
                    found.push(format!(
                        "{what} quotes `{{{name}}}`, but {}",
                        names.unknown(name)
                    ));
                }
                if fallback.is_some_and(blank) {
                    found.push(format!(
                        "{what} quotes `{{{name}|}}` with empty words after `|`; write what to \
                         say when nothing is kept, or leave out the `|`"
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

/// Each wording checked, and trimmed; an empty list is a problem.
fn check_wordings(
    wordings: &Wordings,
    what: &str,
    names: &Names<'_>,
) -> (Vec<String>, Vec<String>) {
    let mut messages = Vec::new();
    if wordings.0.is_empty() {
        messages.push(format!(
            "{what} is an empty list; give it at least one wording"
        ));
    }
    let several = wordings.0.len() > 1;
    for (i, text) in wordings.0.iter().enumerate() {
        let label = if several {
            format!("{what} (wording {})", i + 1)
        } else {
            what.to_owned()
        };
        messages.extend(check_text(text, &label, names));
    }
    let trimmed = wordings.0.iter().map(|t| t.trim().to_owned()).collect();
    (trimmed, messages)
}

/// A step's `when` list: each names something kept, and a step to go to.
fn check_when(
    raw: &[RawWhen],
    step_ids: &BTreeSet<&str>,
    names: &Names<'_>,
    messages: &mut Vec<String>,
) -> Vec<Branch> {
    let mut out = Vec::new();
    for (i, when) in raw.iter().enumerate() {
        let n = i + 1;
        let test = match (&when.known, &when.unknown, &when.fact, &when.is) {
            (Some(name), None, None, None) => Test::Known(name.clone()),
            (None, Some(name), None, None) => Test::Unknown(name.clone()),
            (None, None, Some(name), Some(values)) => {
                let values: Vec<String> = values.0.iter().map(|v| v.trim().to_owned()).collect();
                if values.is_empty() {
                    messages.push(format!("`when` {n} tests `{name}` against an empty list"));
                }
                if let Some(Some(possible)) = names.values(name) {
                    for value in values.iter().filter(|v| !possible.contains(*v)) {
                        let expected: Vec<&str> = possible.iter().map(String::as_str).collect();
                        messages.push(format!(
                            "`when` {n} tests whether `{name}` is \"{value}\", but no choice \
                             keeps that value; expected one of: {}",
                            expected.join(", ")
                        ));
                    }
                }
                Test::Is(name.clone(), values)
            }
            (None, None, Some(name), None) => {
                messages.push(format!(
                    "`when` {n} names `fact = \"{name}\"` but no value to test; add \
                     `is = \"value\"` (or use `known = \"{name}\"`)"
                ));
                continue;
            }
            _ => {
                messages.push(format!(
                    "`when` {n} should have exactly one of `known = \"name\"`, \
                     `unknown = \"name\"`, or `fact = \"name\"` with `is = \"value\"`"
                ));
                continue;
            }
        };
        if names.values(test.name()).is_none() {
            messages.push(format!(
                "`when` {n} tests `{}`, but {}",
                test.name(),
                names.unknown(test.name())
            ));
        }
        if !step_ids.contains(when.next.as_str()) {
            messages.push(format!(
                "`when` {n} leads to the step `{}`, which is not in this flow",
                when.next
            ));
        }
        out.push(Branch {
            test,
            next: when.next.clone(),
        });
    }
    out
}

fn check_step(
    step: &RawStep,
    step_ids: &BTreeSet<&str>,
    names: &Names<'_>,
    report: &mut Report<'_>,
) -> Option<Step> {
    let mut messages = Vec::new();
    let say = match &step.say {
        Some(wordings) => {
            let (say, found) = check_wordings(wordings, "`say`", names);
            messages.extend(found);
            say
        }
        None if step.when.is_empty() => {
            messages.push(
                "the step has no `say`; every step says something, except one that only \
                 chooses the way on with `when`"
                    .into(),
            );
            Vec::new()
        }
        None => {
            if !step.choices.is_empty() || step.ask.is_some() || !step.say_for.is_empty() {
                messages.push(
                    "a step without `say` only chooses the way on, so it cannot offer choices, \
                     ask, or have `say_for`; give it a `say`"
                        .into(),
                );
            }
            Vec::new()
        }
    };
    let mut say_for = BTreeMap::new();
    for (name, wordings) in &step.say_for {
        match Situation::parse(name) {
            Some(situation) => {
                let (words, found) =
                    check_wordings(wordings, &format!("`say_for.{situation}`"), names);
                messages.extend(found);
                say_for.insert(situation, words);
            }
            None => messages.push(format!(
                "`say_for.{name}` names an unknown situation; expected one of: hurt, caused, together, earlier"
            )),
        }
    }
    let next_for = situation_map(&step.next_for, "next_for", |m| messages.push(m));
    let when = check_when(&step.when, step_ids, names, &mut messages);
    if !step.when.is_empty() && step.next.is_none() {
        messages.push("`when` needs a plain `next` for when no test holds".into());
    }
    if !step.when.is_empty() && !step.choices.is_empty() && step.ask.is_none() {
        messages.push(
            "`when` chooses where `next` leads, and a step with choices has no `next`; \
             put the `when` on a step of its own that the choice leads to"
                .into(),
        );
    }
    match &step.fact {
        Some(name) if !is_quote_name(name) => messages.push(format!(
            "`fact = \"{name}\"` should be a simple name: letters, digits, `_` or `-`"
        )),
        Some(name) if step.ask.is_none() && step.save.is_none() => messages.push(format!(
            "the step keeps the fact `{name}` but neither asks (`ask`) nor saves a choice \
             (`save`); give it one of them to keep"
        )),
        Some(name) if step.tool.is_some() => messages.push(format!(
            "the step keeps the fact `{name}`, but its answer goes to a setting (`tool`)"
        )),
        _ => {}
    }
    let clear = check_clear(&step.clear, "the step", names, &mut messages);

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
        if let Some(built) = check_choice(choice, step_ids, names, &mut messages) {
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
        Some(name) => match Tool::WRITTEN.into_iter().find(|t| t.name() == name) {
            Some(tool) if step.ask.is_some() => Some(tool),
            Some(_) => {
                messages.push(format!(
                    "`tool = \"{name}\"` takes the person's written answer, so the step needs an `ask`"
                ));
                None
            }
            None => {
                let pairing: Vec<&str> = Tool::WRITTEN[1..].iter().map(|t| t.name()).collect();
                messages.push(format!(
                    "a step's `tool` can only be `checkin-on`, not `{name}`; \
                     the other tools go on a choice (pairing's written ones, {}, go on a step too)",
                    pairing.join(", ")
                ));
                None
            }
        },
    };
    let next = step.next.as_ref().map(|default| Next {
        default: default.clone(),
        for_situation: next_for,
        when,
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
        say,
        say_for,
        action: action?,
        save: step.save.clone(),
        fact: step.fact.clone(),
        clear,
        tool,
    })
}

/// Names to forget must be facts some flow keeps.
fn check_clear(
    raw: &[String],
    who: &str,
    names: &Names<'_>,
    messages: &mut Vec<String>,
) -> Vec<String> {
    for name in raw {
        if !names.facts.contains_key(name) {
            messages.push(format!(
                "{who} clears `{name}`, but no flow keeps a fact `{name}` (`fact = \"{name}\"`)"
            ));
        }
    }
    raw.to_vec()
}

fn check_choice(
    choice: &RawChoice,
    step_ids: &BTreeSet<&str>,
    names: &Names<'_>,
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
    let clear = check_clear(
        &choice.clear,
        &format!("the choice \"{label}\""),
        names,
        messages,
    );
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
        clear,
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
        other => {
            if let Some(tool) = Tool::CHOSEN
                .into_iter()
                .find(|t| t.name() == other && !matches!(t, Tool::CheckinPause { .. }))
            {
                tool
            } else if other == "checkin-on" {
                messages.push(format!(
                    "the choice \"{label}\" uses `checkin-on`, which needs a written time and \
                     zone; put it on an `ask` step instead"
                ));
                return None;
            } else if Tool::WRITTEN.iter().any(|t| t.name() == other) {
                messages.push(format!(
                    "the choice \"{label}\" uses `{other}`, which needs the person's written \
                     words; put it on an `ask` step instead"
                ));
                return None;
            } else {
                let chosen: Vec<&str> = Tool::CHOSEN.iter().map(|t| t.name()).collect();
                messages.push(format!(
                    "the choice \"{label}\" uses the unknown tool `{other}`; expected one of: {}",
                    chosen.join(", ")
                ));
                return None;
            }
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

    check_quotes(raw, flow, &index, report);

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

/// A quote without a fallback must have something to show on every way to
/// its step. Only what is kept within the same turn counts: before consent
/// nothing is kept past the moment, and a fact from another flow may never
/// have been written. So the names surely known on arrival at a step are
/// those every way to it keeps since the person last pressed or wrote.
fn check_quotes<'a>(
    raw: &RawFlow,
    flow: &'a Flow,
    index: &HashMap<&str, &'a Step>,
    report: &mut Report<'_>,
) {
    let mut arrive: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    let mut work = vec![(flow.start.as_str(), BTreeSet::new())];
    while let Some((id, known)) = work.pop() {
        let Some(step) = index.get(id) else { continue };
        let merged: BTreeSet<&str> = match arrive.get(id) {
            Some(before) => before.intersection(&known).copied().collect(),
            None => known,
        };
        if arrive.get(id) == Some(&merged) {
            continue;
        }
        arrive.insert(step.id.as_str(), merged.clone());
        let mut carried = merged;
        for name in &step.clear {
            carried.remove(name.as_str());
        }
        let kept_by_value = |choice: &Choice| -> BTreeSet<&str> {
            if choice.value.is_none() {
                return BTreeSet::new();
            }
            step.save
                .iter()
                .chain(&step.fact)
                .map(String::as_str)
                .collect()
        };
        for choice in step.choices() {
            if let Target::Step(target) = &choice.target {
                let mut kept = kept_by_value(choice);
                for name in &choice.clear {
                    kept.remove(name.as_str());
                }
                work.push((target.as_str(), kept));
            }
        }
        // A branch taken because something is known makes it known there.
        let mut follow = |next: &'a Next, kept: BTreeSet<&'a str>| {
            for branch in &next.when {
                let mut known = kept.clone();
                if let Test::Known(name) | Test::Is(name, _) = &branch.test {
                    known.insert(name.as_str());
                }
                work.push((branch.next.as_str(), known));
            }
            for target in std::iter::once(&next.default).chain(next.for_situation.values()) {
                work.push((target.as_str(), kept.clone()));
            }
        };
        match &step.action {
            Action::Continue(next) => follow(next, carried),
            Action::Ask { name, next, .. } => {
                let kept: BTreeSet<&str> = std::iter::once(name.as_str())
                    .chain(step.fact.as_deref())
                    .collect();
                follow(next, kept);
            }
            Action::Choices(_) | Action::End => {}
        }
    }
    for step in &flow.steps {
        let Some(known) = arrive.get(step.id.as_str()) else {
            continue;
        };
        let texts = step.say.iter().chain(step.say_for.values().flatten());
        let missing: BTreeSet<&str> = texts
            .flat_map(|text| pieces(text))
            .filter_map(|piece| match piece {
                Piece::Quote {
                    name,
                    fallback: None,
                } if !known.contains(name) => Some(name),
                _ => None,
            })
            .collect();
        let Some(raw_step) = raw.steps.iter().find(|s| s.id.get_ref() == &step.id) else {
            continue;
        };
        for name in missing {
            report.step(
                raw_step,
                format!(
                    "quotes `{{{name}}}` with nothing to say when `{name}` is not kept: not \
                     every way to this step has just kept it (before consent, and from other \
                     flows, it may be missing); write `{{{name}|words for when it is missing}}`"
                ),
            );
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
