//! The validated shape of a conversation: flows made of steps, each step
//! saying something and then offering choices, asking, carrying on or ending.
//! Everything here has passed validation, so the engine can trust it.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Which situation a person said fits them best, chosen in `welcome`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Situation {
    /// I was hurt.
    Hurt,
    /// I caused the hurt.
    Caused,
    /// We are working on this together.
    Together,
    /// Trust was damaged before this relationship.
    Earlier,
}

impl Situation {
    pub const ALL: [Situation; 4] = [
        Situation::Hurt,
        Situation::Caused,
        Situation::Together,
        Situation::Earlier,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Situation::Hurt => "hurt",
            Situation::Caused => "caused",
            Situation::Together => "together",
            Situation::Earlier => "earlier",
        }
    }

    pub fn parse(name: &str) -> Option<Situation> {
        Situation::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

impl fmt::Display for Situation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A whole set of flows, validated together so that links between flows hold.
#[derive(Debug, Clone)]
pub struct Script {
    flows: BTreeMap<String, Flow>,
}

impl Script {
    pub(crate) fn new(flows: BTreeMap<String, Flow>) -> Script {
        Script { flows }
    }

    pub fn flow(&self, id: &str) -> Option<&Flow> {
        self.flows.get(id)
    }

    pub fn flows(&self) -> impl Iterator<Item = &Flow> {
        self.flows.values()
    }

    /// The step a place in the conversation points at, if it still exists
    /// (a flow may have been edited since the place was saved).
    pub fn step(&self, flow: &str, step: &str) -> Option<&Step> {
        self.flow(flow)?.step(step)
    }
}

#[derive(Debug, Clone)]
pub struct Flow {
    pub id: String,
    pub title: String,
    pub summary: String,
    pub start: String,
    pub steps: Vec<Step>,
}

impl Flow {
    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.id == id)
    }
}

#[derive(Debug, Clone)]
pub struct Step {
    pub id: String,
    pub say: String,
    pub say_for: BTreeMap<Situation, String>,
    pub action: Action,
    /// The name a choice's `value` is saved under, for steps that record one
    /// (the daily check-in's scale, for instance).
    pub save: Option<String>,
    /// For an `ask` step: the edge setting the answer hands to instead of
    /// keeping it as an answer (only [`Tool::CheckinOn`]).
    pub tool: Option<Tool>,
}

impl Step {
    /// The words for this person: their situation's variant, or the plain text.
    pub fn text_for(&self, situation: Option<Situation>) -> &str {
        situation
            .and_then(|s| self.say_for.get(&s))
            .unwrap_or(&self.say)
    }

    /// The choices a person can press at this step (none for carry-on steps and endings).
    pub fn choices(&self) -> &[Choice] {
        match &self.action {
            Action::Choices(choices) | Action::Ask { choices, .. } => choices,
            Action::Continue(_) | Action::End => &[],
        }
    }
}

/// What a step does after it has spoken.
#[derive(Debug, Clone)]
pub enum Action {
    Choices(Vec<Choice>),
    Ask {
        name: String,
        next: Next,
        choices: Vec<Choice>,
    },
    Continue(Next),
    End,
}

/// A step to go to, possibly different for each situation.
#[derive(Debug, Clone)]
pub struct Next {
    pub default: String,
    pub for_situation: BTreeMap<Situation, String>,
}

impl Next {
    pub fn for_person(&self, situation: Option<Situation>) -> &str {
        situation
            .and_then(|s| self.for_situation.get(&s))
            .unwrap_or(&self.default)
    }

    pub fn all(&self) -> impl Iterator<Item = &String> {
        std::iter::once(&self.default).chain(self.for_situation.values())
    }
}

#[derive(Debug, Clone)]
pub struct Choice {
    pub label: String,
    pub target: Target,
    pub consent: Option<bool>,
    pub situation: Option<Situation>,
    /// Saved under the step's `save` name when chosen.
    pub value: Option<String>,
    /// Something the edge does when this is chosen, before the choice's
    /// target is said (showing progress, changing check-in settings).
    pub tool: Option<Tool>,
}

/// The things a flow can ask the edge to do with a person's settings and
/// records: the same as the `/checkin` and `/progress` commands, so they
/// can be reached from the DM menu too. The engine only names them; the edge
/// does them, because they read and write more than one person's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// The progress view: the last 14 and 30 days, with a chart.
    Progress,
    /// The person's check-in time and the next one due.
    CheckinShow,
    /// Stop daily check-ins.
    CheckinOff,
    /// Pause daily check-ins for a number of days.
    CheckinPause { days: i64 },
    /// Turn check-ins on at the time and zone the person writes.
    CheckinOn,
}

impl Tool {
    /// Its name in a prompt file.
    pub fn name(self) -> &'static str {
        match self {
            Tool::Progress => "progress",
            Tool::CheckinShow => "checkin-show",
            Tool::CheckinOff => "checkin-off",
            Tool::CheckinPause { .. } => "checkin-pause",
            Tool::CheckinOn => "checkin-on",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Step(String),
    Flow(String),
}

/// The pieces of a step's text: plain words and `{name}` quotes of earlier answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece<'a> {
    Text(&'a str),
    Quote(&'a str),
}

/// Splits text into plain words and `{name}` quotes. A brace that does not
/// enclose a simple name (letters, digits, `_`, `-`) is kept as text.
pub fn pieces(text: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after.find('}');
        let name = close.map(|c| &after[..c]);
        match name {
            Some(name) if is_quote_name(name) => {
                if open > 0 {
                    out.push(Piece::Text(&rest[..open]));
                }
                out.push(Piece::Quote(name));
                rest = &after[name.len() + 1..];
            }
            _ => {
                out.push(Piece::Text(&rest[..=open]));
                rest = after;
            }
        }
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    out
}

pub(crate) fn is_quote_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_split_quotes_from_text() {
        assert_eq!(
            pieces("You wrote \"{what}\". {not a name} {x}"),
            vec![
                Piece::Text("You wrote \""),
                Piece::Quote("what"),
                Piece::Text("\". {"),
                Piece::Text("not a name} "),
                Piece::Quote("x"),
            ]
        );
        assert_eq!(pieces("{"), vec![Piece::Text("{")]);
        assert!(pieces("").is_empty());
    }
}
