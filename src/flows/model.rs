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
    /// What the step says: one wording, or several to vary from day to day.
    /// Empty only for a step that says nothing and only chooses the way on
    /// (see [`Next::when`]).
    pub say: Vec<String>,
    pub say_for: BTreeMap<Situation, Vec<String>>,
    pub action: Action,
    /// The name a choice's `value` is saved under, for steps that record one
    /// (the daily check-in's scale, for instance).
    pub save: Option<String>,
    /// The person-level fact that what this step keeps (a written answer,
    /// or a choice's `value`) is also kept as, for every flow to use.
    pub fact: Option<String>,
    /// Facts forgotten when this step is said.
    pub clear: Vec<String>,
    /// For an `ask` step: the edge setting the answer hands to instead of
    /// keeping it as an answer (only [`Tool::CheckinOn`]).
    pub tool: Option<Tool>,
}

impl Step {
    /// The wordings for this person: their situation's, or the plain ones.
    pub fn wordings_for(&self, situation: Option<Situation>) -> &[String] {
        situation
            .and_then(|s| self.say_for.get(&s))
            .unwrap_or(&self.say)
    }

    /// The words for this person: their situation's variant, or the plain
    /// text; of several wordings, the one `pick` falls on (see [`pick`]).
    pub fn text_for(&self, situation: Option<Situation>, pick: u64) -> &str {
        let wordings = self.wordings_for(situation);
        if wordings.is_empty() {
            return "";
        }
        let index = usize::try_from(pick % wordings.len() as u64).unwrap_or(0);
        &wordings[index]
    }

    /// Whether the step says anything (a step that only chooses the way on
    /// says nothing).
    pub fn speaks(&self) -> bool {
        !self.say.is_empty()
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

/// A step to go to: the first `when` whose test holds, else the person's
/// situation's, else the default.
#[derive(Debug, Clone)]
pub struct Next {
    pub default: String,
    pub for_situation: BTreeMap<Situation, String>,
    pub when: Vec<Branch>,
}

impl Next {
    /// Where this person goes, given what is known of them: `known` says
    /// the value kept under a name, if any.
    pub fn for_person<'k>(
        &self,
        situation: Option<Situation>,
        known: impl Fn(&str) -> Option<&'k str>,
    ) -> &str {
        if let Some(branch) = self.when.iter().find(|b| b.test.holds(&known)) {
            return &branch.next;
        }
        situation
            .and_then(|s| self.for_situation.get(&s))
            .unwrap_or(&self.default)
    }

    pub fn all(&self) -> impl Iterator<Item = &String> {
        self.when
            .iter()
            .map(|b| &b.next)
            .chain(std::iter::once(&self.default))
            .chain(self.for_situation.values())
    }
}

/// One conditional way on: a test on something known of the person, and
/// the step it leads to when the test holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Branch {
    pub test: Test,
    pub next: String,
}

/// What a branch asks of a name: an answer of this flow, or the person's
/// fact of that name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Test {
    /// Something is kept under the name.
    Known(String),
    /// Nothing is kept under the name.
    Unknown(String),
    /// The value kept under the name is one of these.
    Is(String, Vec<String>),
}

impl Test {
    pub fn name(&self) -> &str {
        match self {
            Test::Known(name) | Test::Unknown(name) | Test::Is(name, _) => name,
        }
    }

    pub fn holds<'n>(&self, known: impl Fn(&str) -> Option<&'n str>) -> bool {
        match self {
            Test::Known(name) => known(name).is_some(),
            Test::Unknown(name) => known(name).is_none(),
            Test::Is(name, values) => known(name).is_some_and(|v| values.iter().any(|x| x == v)),
        }
    }
}

impl fmt::Display for Test {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Test::Known(name) => write!(f, "if {name} is known"),
            Test::Unknown(name) => write!(f, "if {name} is not known"),
            Test::Is(name, values) => write!(f, "if {name} is {}", values.join(" or ")),
        }
    }
}

/// Which of several wordings a person sees: a pure function of who they
/// are, the day and the step, so days differ and tests stay exact.
pub fn pick(seed: u64, day: i64, flow: &str, step: &str) -> u64 {
    // FNV-1a: small, stable across Rust versions and platforms.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for byte in bytes {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    feed(&seed.to_le_bytes());
    feed(&day.to_le_bytes());
    feed(flow.as_bytes());
    feed(&[0]);
    feed(step.as_bytes());
    hash
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
    /// Facts forgotten when this is chosen.
    pub clear: Vec<String>,
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
    /// Where pairing stands for them.
    PairStatus,
    /// A new invite code for their partner.
    PairInvite,
    /// End their pairing, silently.
    PairEnd,
    /// Answer a request to talk with "not yet".
    PairNotYet,
    /// Enter the invite code they write (an `ask` step).
    PairJoin,
    /// Write something of this kind to send (an `ask` step): shown first.
    PairWrite(crate::pairing::Kind),
    /// Propose "our one thing this week" in the words they write (an `ask` step).
    PairPropose,
    /// Accept, or not, the one thing their partner proposed.
    PairAnswer { accept: bool },
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
            Tool::PairStatus => "pair-status",
            Tool::PairInvite => "pair-invite",
            Tool::PairEnd => "pair-end",
            Tool::PairNotYet => "pair-not-yet",
            Tool::PairJoin => "pair-join",
            Tool::PairWrite(crate::pairing::Kind::Appreciation) => "pair-appreciation",
            Tool::PairWrite(crate::pairing::Kind::Action) => "pair-action",
            Tool::PairWrite(crate::pairing::Kind::Talk) => "pair-talk",
            Tool::PairWrite(crate::pairing::Kind::Answer) => "pair-answer",
            // Not a written kind; validation never makes it.
            Tool::PairWrite(crate::pairing::Kind::NotYet) => "pair-not-yet",
            Tool::PairPropose => "pair-propose",
            Tool::PairAnswer { accept: true } => "pair-accept",
            Tool::PairAnswer { accept: false } => "pair-refuse",
        }
    }

    /// The tools that take the person's written words, so they go on an
    /// `ask` step, never on a choice.
    pub const WRITTEN: [Tool; 7] = [
        Tool::CheckinOn,
        Tool::PairJoin,
        Tool::PairWrite(crate::pairing::Kind::Appreciation),
        Tool::PairWrite(crate::pairing::Kind::Action),
        Tool::PairWrite(crate::pairing::Kind::Talk),
        Tool::PairWrite(crate::pairing::Kind::Answer),
        Tool::PairPropose,
    ];

    /// The tools a choice may carry, by name (`checkin-pause` needs `days`).
    pub const CHOSEN: [Tool; 10] = [
        Tool::Progress,
        Tool::CheckinShow,
        Tool::CheckinOff,
        Tool::CheckinPause { days: 7 },
        Tool::PairStatus,
        Tool::PairInvite,
        Tool::PairEnd,
        Tool::PairNotYet,
        Tool::PairAnswer { accept: true },
        Tool::PairAnswer { accept: false },
    ];

    /// What pairing is asked to do when this is chosen, or (for a tool that
    /// takes words) given `text`.
    pub fn pairing(self, text: &str) -> Option<crate::pairing::Act> {
        use crate::pairing::Act;
        Some(match self {
            Tool::PairStatus => Act::Status,
            Tool::PairInvite => Act::Invite,
            Tool::PairEnd => Act::End,
            Tool::PairNotYet => Act::NotYet,
            Tool::PairJoin => Act::Join {
                code: text.to_owned(),
            },
            Tool::PairWrite(kind) => Act::Draft {
                kind: Some(kind),
                text: text.to_owned(),
            },
            Tool::PairPropose => Act::Propose {
                text: text.to_owned(),
            },
            Tool::PairAnswer { accept } => Act::Answer { accept },
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Step(String),
    Flow(String),
}

/// The pieces of a step's text: plain words, and quotes of what a person
/// wrote or chose: `{name}`, or `{name|words}` with words to say when
/// nothing is kept under the name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece<'a> {
    Text(&'a str),
    Quote {
        name: &'a str,
        fallback: Option<&'a str>,
    },
}

/// Splits text into plain words and quotes. A brace that does not enclose
/// a simple name (letters, digits, `_`, `-`), optionally followed by `|`
/// and words without braces, is kept as text.
pub fn pieces(text: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after.find('}');
        let inside = close.map(|c| &after[..c]);
        let quote = inside.and_then(|inside| {
            let (name, fallback) = match inside.split_once('|') {
                Some((name, fallback)) if !fallback.contains('{') => (name, Some(fallback)),
                Some(_) => return None,
                None => (inside, None),
            };
            is_quote_name(name).then_some((inside, name, fallback))
        });
        match quote {
            Some((inside, name, fallback)) => {
                if open > 0 {
                    out.push(Piece::Text(&rest[..open]));
                }
                out.push(Piece::Quote { name, fallback });
                rest = &after[inside.len() + 1..];
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
                Piece::Quote {
                    name: "what",
                    fallback: None
                },
                Piece::Text("\". {"),
                Piece::Text("not a name} "),
                Piece::Quote {
                    name: "x",
                    fallback: None
                },
            ]
        );
        assert_eq!(
            pieces("Your plan: {action|one small thing}."),
            vec![
                Piece::Text("Your plan: "),
                Piece::Quote {
                    name: "action",
                    fallback: Some("one small thing")
                },
                Piece::Text("."),
            ]
        );
        assert_eq!(pieces("{"), vec![Piece::Text("{")]);
        assert!(pieces("").is_empty());
    }
}
