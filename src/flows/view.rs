//! How a validated step reads to a reviewer: where it can lead, who goes
//! each way, and what it keeps or quotes. The flow picture and the
//! transcripts both read steps only through these few functions, so they
//! show exactly what the engine does, and a new kind of step (or of `next`)
//! is taught to both in one place.

use std::collections::{BTreeMap, BTreeSet};

use super::model::{
    Action, Choice, Flow, Next, Piece, Situation, Step, Target, Test, Tool, pieces,
};

/// One way out of a step.
#[derive(Debug, Clone)]
pub struct Edge<'a> {
    pub via: Via<'a>,
    pub guard: Guard,
    pub to: To<'a>,
}

/// What moves the conversation along an edge.
#[derive(Debug, Clone)]
pub enum Via<'a> {
    /// The person presses (or types) this choice.
    Choice(&'a Choice),
    /// The person writes an answer, kept under this name (or, with
    /// `checkin-on`, read as a check-in time).
    Answer { name: &'a str, tool: Option<Tool> },
    /// mend carries straight on.
    Then,
}

/// Who goes along an edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Guard {
    Everyone,
    /// Only people in this situation (`next_for`).
    Situation(Situation),
    /// Everyone not in one of these situations (the plain `next` beside a
    /// `next_for`).
    Others(Vec<Situation>),
    /// Only when this test on what the person told mend before holds (a
    /// `when` branch). A walk cannot know, so it goes both ways.
    When(Test),
    /// The way on when no `when` test holds, for those the inner guard lets by.
    Otherwise(Box<Guard>),
}

impl Guard {
    /// Whether a person in `situation` goes this way.
    pub fn admits(&self, situation: Option<Situation>) -> bool {
        match self {
            Guard::Everyone | Guard::When(_) => true,
            Guard::Situation(only) => situation == Some(*only),
            Guard::Others(listed) => situation.is_none_or(|s| !listed.contains(&s)),
            Guard::Otherwise(inner) => inner.admits(situation),
        }
    }

    /// What a transcript says on a path that goes this way. Situations need
    /// nothing: each has its own section. A condition a transcript cannot
    /// decide (on what the person told mend before) would say here which
    /// way the path assumes, as both ways are walked.
    pub fn note(&self) -> Option<String> {
        match self {
            Guard::Everyone | Guard::Situation(_) | Guard::Others(_) => None,
            Guard::When(test) => Some(test.to_string()),
            Guard::Otherwise(_) => Some("if none of the tests above holds".into()),
        }
    }

    /// A short label, or `None` when everyone goes this way.
    pub fn label(&self) -> Option<String> {
        match self {
            Guard::Everyone => None,
            Guard::Situation(only) => Some(format!("if {only}")),
            Guard::Others(_) => Some("everyone else".into()),
            Guard::When(test) => Some(test.to_string()),
            Guard::Otherwise(inner) => Some(match inner.label() {
                Some(label) => format!("otherwise, {label}"),
                None => "otherwise".into(),
            }),
        }
    }
}

/// Where an edge leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum To<'a> {
    Step(&'a str),
    /// The start of another flow.
    Flow(&'a str),
}

impl<'a> From<&'a Target> for To<'a> {
    fn from(target: &'a Target) -> To<'a> {
        match target {
            Target::Step(id) => To::Step(id),
            Target::Flow(id) => To::Flow(id),
        }
    }
}

impl Edge<'_> {
    /// The words on an arrow: the choice's label, "then" for carrying on,
    /// "answer" for a written answer, with who goes this way.
    pub fn label(&self) -> String {
        let guard = self.guard.label();
        match (&self.via, guard) {
            (Via::Choice(choice), _) => choice.label.clone(),
            (Via::Then, None) => "then".into(),
            (Via::Then, Some(guard)) => guard,
            (Via::Answer { .. }, None) => "answer".into(),
            (Via::Answer { .. }, Some(guard)) => format!("answer, {guard}"),
        }
    }

    /// What else happens along this edge, in a few words each.
    pub fn effects(&self) -> Vec<String> {
        let mut out = Vec::new();
        match &self.via {
            Via::Choice(choice) => {
                match choice.consent {
                    Some(true) => out.push("gives consent".to_owned()),
                    Some(false) => out.push("declines consent".to_owned()),
                    None => {}
                }
                if let Some(situation) = choice.situation {
                    out.push(format!("sets situation: {situation}"));
                }
                if let Some(value) = &choice.value {
                    out.push(format!("keeps the value \"{value}\""));
                }
                if !choice.clear.is_empty() {
                    out.push(format!("forgets: {}", choice.clear.join(", ")));
                }
            }
            Via::Answer { .. } | Via::Then => {}
        }
        out.extend(self.tool().map(tool_words));
        out
    }

    /// The setting or record the edge asks mend to show or change, if any.
    pub fn tool(&self) -> Option<Tool> {
        match &self.via {
            Via::Choice(choice) => choice.tool,
            Via::Answer { tool, .. } => *tool,
            Via::Then => None,
        }
    }
}

/// Every way out of a step, in the order the step lists them: its choices,
/// then (for asking and carry-on steps) its `next`, one edge per situation
/// named in `next_for` and one for everyone else. An ending has none.
pub fn edges(step: &Step) -> Vec<Edge<'_>> {
    let mut out: Vec<Edge<'_>> = step
        .choices()
        .iter()
        .map(|choice| Edge {
            via: Via::Choice(choice),
            guard: Guard::Everyone,
            to: To::from(&choice.target),
        })
        .collect();
    match &step.action {
        Action::Ask { name, next, .. } => out.extend(next_edges(
            next,
            Via::Answer {
                name,
                tool: step.tool,
            },
        )),
        Action::Continue(next) => out.extend(next_edges(next, Via::Then)),
        Action::Choices(_) | Action::End => {}
    }
    out
}

/// The `when` branches first, in order, then the ways by situation, which
/// are taken only when no branch's test holds.
fn next_edges<'a>(next: &'a Next, via: Via<'a>) -> Vec<Edge<'a>> {
    let mut out: Vec<Edge<'a>> = next
        .when
        .iter()
        .map(|branch| Edge {
            via: via.clone(),
            guard: Guard::When(branch.test.clone()),
            to: To::Step(&branch.next),
        })
        .collect();
    let otherwise = |guard: Guard| {
        if next.when.is_empty() {
            guard
        } else {
            Guard::Otherwise(Box::new(guard))
        }
    };
    out.extend(next.for_situation.iter().map(|(situation, target)| Edge {
        via: via.clone(),
        guard: otherwise(Guard::Situation(*situation)),
        to: To::Step(target),
    }));
    let guard = if next.for_situation.is_empty() {
        Guard::Everyone
    } else {
        Guard::Others(next.for_situation.keys().copied().collect())
    };
    out.push(Edge {
        via,
        guard: otherwise(guard),
        to: To::Step(&next.default),
    });
    out
}

/// What a walk through a flow knows of the person, as the engine does: a
/// choice can give or withdraw consent, and sets the situation only with
/// consent (withdrawing clears it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Person {
    pub situation: Option<Situation>,
    pub consent: bool,
}

impl Person {
    /// Someone arriving at a flow; with a situation, they have consented,
    /// since it is only kept with consent.
    pub fn arriving(situation: Option<Situation>) -> Person {
        Person {
            situation,
            consent: situation.is_some(),
        }
    }

    /// The same person after going along `edge`.
    pub fn after(self, edge: &Edge<'_>) -> Person {
        let Via::Choice(choice) = edge.via else {
            return self;
        };
        let mut next = self;
        match choice.consent {
            Some(true) => next.consent = true,
            Some(false) => {
                next.consent = false;
                next.situation = None;
            }
            None => {}
        }
        if let Some(situation) = choice.situation
            && next.consent
        {
            next.situation = Some(situation);
        }
        next
    }

    /// Whether this person goes along `edge`.
    pub fn takes(&self, edge: &Edge<'_>) -> bool {
        edge.guard.admits(self.situation)
    }
}

/// The words a step has for a situation that no path brings a person in
/// that situation to: written, but never heard.
pub fn unheard(flow: &Flow) -> BTreeMap<&str, Vec<Situation>> {
    let mut reached: BTreeSet<(&str, Person)> = BTreeSet::new();
    let mut stack: Vec<(&str, Person)> = std::iter::once(None)
        .chain(Situation::ALL.map(Some))
        .map(|s| (flow.start.as_str(), Person::arriving(s)))
        .collect();
    while let Some((id, person)) = stack.pop() {
        let Some(step) = flow.step(id) else { continue };
        if !reached.insert((&step.id, person)) {
            continue;
        }
        for edge in edges(step) {
            if let (true, To::Step(next)) = (person.takes(&edge), edge.to) {
                stack.push((next, person.after(&edge)));
            }
        }
    }
    let mut out = BTreeMap::new();
    for step in &flow.steps {
        let missed: Vec<Situation> = step
            .say_for
            .keys()
            .copied()
            .filter(|s| {
                !reached
                    .iter()
                    .any(|(id, p)| *id == step.id && p.situation == Some(*s))
            })
            .collect();
        if !missed.is_empty() {
            out.insert(step.id.as_str(), missed);
        }
    }
    out
}

/// Whether the flow ends at this step.
pub fn is_end(step: &Step) -> bool {
    matches!(step.action, Action::End)
}

/// Short notes on what a step keeps and quotes, for its box in the picture.
pub fn annotations(step: &Step) -> Vec<String> {
    let mut out = Vec::new();
    if let Action::Ask { name, .. } = &step.action {
        match step.tool {
            Some(tool) => out.push(format!("writes: a check-in time ({})", tool.name())),
            None => out.push(format!("writes: {{{name}}}")),
        }
    }
    if let Some(name) = &step.save {
        out.push(format!("keeps the choice as: {{{name}}}"));
    }
    if let Some(name) = &step.fact {
        out.push(format!("keeps as the person's fact: {{{name}}}"));
    }
    if !step.clear.is_empty() {
        out.push(format!("forgets: {}", step.clear.join(", ")));
    }
    if !step.speaks() {
        out.push("says nothing; only chooses the way on".into());
    }
    if step.say.len() > 1 {
        out.push(format!("{} wordings, one a day", step.say.len()));
    }
    let quoted = quoted_names(step);
    if !quoted.is_empty() {
        let names: Vec<String> = quoted.iter().map(|n| format!("{{{n}}}")).collect();
        out.push(format!("quotes: {}", names.join(", ")));
    }
    if !step.say_for.is_empty() {
        let names: Vec<&str> = step.say_for.keys().map(|s| s.as_str()).collect();
        out.push(format!("own words for: {}", names.join(", ")));
    }
    out
}

/// Every name a step's words quote, in any situation, each once.
pub fn quoted_names(step: &Step) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for text in step.say.iter().chain(step.say_for.values().flatten()) {
        for piece in pieces(text) {
            if let Piece::Quote { name, .. } = piece
                && !out.iter().any(|n| n == name)
            {
                out.push(name.to_owned());
            }
        }
    }
    out
}

/// A step's words for a reviewer, with each quote shown by its name, as
/// «name» (and what is said when it is missing, as «name, or: words»),
/// since nobody has written anything yet.
pub fn review_text(text: &str) -> String {
    let mut out = String::new();
    for piece in pieces(text) {
        match piece {
            Piece::Text(words) => out.push_str(words),
            Piece::Quote { name, fallback } => {
                out.push('«');
                out.push_str(name);
                if let Some(fallback) = fallback {
                    out.push_str(", or: ");
                    out.push_str(fallback);
                }
                out.push('»');
            }
        }
    }
    out
}

/// Several wordings for a reviewer, each as [`review_text`], one after
/// another with a line that says they alternate.
pub fn review_wordings(wordings: &[String]) -> String {
    wordings
        .iter()
        .map(|w| review_text(w))
        .collect::<Vec<_>>()
        .join("\n(or, on another day:)\n")
}

/// What a tool does, as a reviewer would say it.
pub fn tool_words(tool: Tool) -> String {
    match tool {
        Tool::Progress => "shows the progress view".into(),
        Tool::CheckinShow => "says when check-ins come".into(),
        Tool::CheckinOff => "stops daily check-ins".into(),
        Tool::CheckinPause { days } => format!("pauses check-ins for {days} days"),
        Tool::CheckinOn => "turns check-ins on at the time written".into(),
        Tool::PairStatus => "says where pairing stands".into(),
        Tool::PairInvite => "makes an invite code for their partner".into(),
        Tool::PairEnd => "ends pairing, without telling the partner".into(),
        Tool::PairNotYet => "answers a request to talk with not yet".into(),
        Tool::PairJoin => "enters the partner's invite code written".into(),
        Tool::PairWrite(kind) => format!(
            "shows what was written as {} to the partner, to confirm before it goes",
            kind.label().to_lowercase()
        ),
        Tool::PairPropose => "proposes what was written as our one thing this week".into(),
        Tool::PairAnswer { accept: true } => "accepts the partner's one thing this week".into(),
        Tool::PairAnswer { accept: false } => "turns down the partner's one thing this week".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn step(action: Action) -> Step {
        Step {
            id: "s".into(),
            say: vec!["You said {what}, then {what} again.".into()],
            say_for: BTreeMap::from([(Situation::Hurt, vec!["For you: {how}".into()])]),
            action,
            save: None,
            fact: None,
            clear: Vec::new(),
            tool: None,
        }
    }

    #[test]
    fn next_for_gives_one_edge_per_situation_and_one_for_everyone_else() {
        let next = Next {
            default: "plain".into(),
            for_situation: BTreeMap::from([(Situation::Caused, "own".into())]),
            when: Vec::new(),
        };
        let s = step(Action::Continue(next));
        let edges = edges(&s);
        assert_eq!(edges.len(), 2);
        assert_eq!(edges[0].to, To::Step("own"));
        assert_eq!(edges[0].label(), "if caused");
        assert!(edges[0].guard.admits(Some(Situation::Caused)));
        assert!(!edges[0].guard.admits(None));
        assert_eq!(edges[1].to, To::Step("plain"));
        assert_eq!(edges[1].label(), "everyone else");
        assert!(edges[1].guard.admits(None));
        assert!(edges[1].guard.admits(Some(Situation::Hurt)));
        assert!(!edges[1].guard.admits(Some(Situation::Caused)));
    }

    #[test]
    fn a_when_branch_is_walked_both_ways_and_labelled() {
        let next = Next {
            default: "plain".into(),
            for_situation: BTreeMap::new(),
            when: vec![super::super::model::Branch {
                test: Test::Known("small_action".into()),
                next: "follow".into(),
            }],
        };
        let s = step(Action::Continue(next));
        let edges = edges(&s);
        assert_eq!(edges.len(), 2);
        assert_eq!(edges[0].to, To::Step("follow"));
        assert_eq!(edges[0].label(), "if small_action is known");
        assert_eq!(edges[1].label(), "otherwise");
        assert!(edges.iter().all(|e| e.guard.admits(None)));
        assert!(edges.iter().all(|e| e.guard.note().is_some()));
    }

    #[test]
    fn a_situation_is_kept_only_with_consent_as_in_the_engine() {
        let choice = |consent, situation| Choice {
            label: "x".into(),
            target: Target::Step("s".into()),
            consent,
            situation,
            value: None,
            tool: None,
            clear: Vec::new(),
        };
        let along = |choice: &Choice, person: Person| {
            person.after(&Edge {
                via: Via::Choice(choice),
                guard: Guard::Everyone,
                to: To::Step("s"),
            })
        };
        let hurt = choice(None, Some(Situation::Hurt));
        let stranger = Person::arriving(None);
        assert_eq!(along(&hurt, stranger).situation, None);
        let agreed = along(&choice(Some(true), None), stranger);
        assert_eq!(along(&hurt, agreed).situation, Some(Situation::Hurt));
        let both = choice(Some(true), Some(Situation::Earlier));
        assert_eq!(along(&both, stranger).situation, Some(Situation::Earlier));
        let declined = along(
            &choice(Some(false), None),
            Person::arriving(Some(Situation::Caused)),
        );
        assert_eq!((declined.situation, declined.consent), (None, false));
    }

    #[test]
    fn quotes_are_named_once_and_shown_by_name() {
        let s = step(Action::End);
        assert_eq!(quoted_names(&s), ["what", "how"]);
        assert_eq!(
            review_wordings(&s.say),
            "You said «what», then «what» again."
        );
        assert_eq!(review_text("{a|nothing yet}"), "«a, or: nothing yet»");
        assert!(edges(&s).is_empty());
        assert!(is_end(&s));
    }
}
