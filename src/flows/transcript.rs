//! `mend check --transcripts`: every path through a flow, for each situation
//! and for a person who has not chosen one, written out as a plain
//! conversation, so a whole flow can be read (and a dead branch or a wrong
//! word spotted) without clicking through it.
//!
//! A path runs from the flow's start to an ending, to a link into another
//! flow, or back to a step it has already shown (so no step repeats within
//! a path). Paths are counted per situation and stop at [`MAX_PATHS`], with
//! a note saying so.

use std::fmt::Write as _;

use super::model::{Flow, Situation, Step};
use super::view::{self, Person, To, Via};

/// The most paths written for one flow and one situation.
pub const MAX_PATHS: usize = 500;

/// The transcripts of each flow, one after another.
pub fn render(flows: &[&Flow]) -> String {
    let parts: Vec<String> = flows.iter().map(|f| flow(f, MAX_PATHS)).collect();
    parts.join("\n")
}

/// One flow's transcripts, at most `cap` paths for each situation.
pub fn flow(flow: &Flow, cap: usize) -> String {
    let mut out = format!("=== {}: {} ===\n{}\n", flow.id, flow.title, flow.summary);
    let mut done: Vec<(String, Walked)> = Vec::new();
    let people = std::iter::once(None).chain(Situation::ALL.map(Some));
    for situation in people {
        let name = match situation {
            None => "no situation chosen".to_owned(),
            Some(s) => format!("situation {s}"),
        };
        let walked = walk(flow, situation, cap);
        if let Some((same, _)) = done.iter().find(|(_, earlier)| *earlier == walked) {
            let _ = write!(
                out,
                "\n--- {name}: the same paths and words as {same} ---\n"
            );
            continue;
        }
        let count = walked.paths.len();
        let _ = writeln!(
            out,
            "\n--- {name}: {count} path{} ---",
            if count == 1 { "" } else { "s" }
        );
        for (i, path) in walked.paths.iter().enumerate() {
            let _ = write!(out, "\npath {}:\n", i + 1);
            for line in path {
                out.push_str(line);
                out.push('\n');
            }
        }
        if walked.cut {
            let _ = write!(
                out,
                "\n(stopped after {cap} paths; there are more. Splitting this flow would make it \
                 easier to follow.)\n"
            );
        }
        done.push((name, walked));
    }
    for (step, situations) in view::unheard(flow) {
        for situation in situations {
            let _ = write!(
                out,
                "\n(never heard: step {step} has words for {situation}, but no path brings \
                 someone in that situation there)\n"
            );
        }
    }
    out
}

#[derive(Debug, PartialEq, Eq)]
struct Walked {
    paths: Vec<Vec<String>>,
    cut: bool,
}

fn walk(flow: &Flow, situation: Option<Situation>, cap: usize) -> Walked {
    let mut walker = Walker {
        flow,
        cap,
        walked: Walked {
            paths: Vec::new(),
            cut: false,
        },
    };
    if let Some(start) = flow.step(&flow.start) {
        walker.step(
            start,
            Person::arriving(situation),
            &mut Vec::new(),
            &mut Vec::new(),
        );
    }
    walker.walked
}

struct Walker<'a> {
    flow: &'a Flow,
    cap: usize,
    walked: Walked,
}

impl<'a> Walker<'a> {
    fn full(&mut self) -> bool {
        if self.walked.paths.len() >= self.cap {
            self.walked.cut = true;
        }
        self.walked.cut
    }

    fn finish(&mut self, lines: &[String]) {
        if !self.full() {
            self.walked.paths.push(lines.to_vec());
        }
    }

    fn step(
        &mut self,
        step: &'a Step,
        person: Person,
        lines: &mut Vec<String>,
        seen: &mut Vec<&'a str>,
    ) {
        if self.full() {
            return;
        }
        let mark = lines.len();
        seen.push(&step.id);
        if step.speaks() {
            lines.push(said(&view::review_wordings(
                step.wordings_for(person.situation),
            )));
        }
        if view::is_end(step) {
            lines.push("(the end of this flow; mend offers a button back to the menu)".into());
            self.finish(lines);
        }
        for (edge, labels) in grouped(view::edges(step)) {
            if !person.takes(&edge) {
                continue;
            }
            if self.full() {
                break;
            }
            let before = lines.len();
            lines.extend(edge.guard.note().map(|note| format!("({note})")));
            match &edge.via {
                Via::Choice(_) => lines.push(format!("person: [{}]", labels.join("] or ["))),
                Via::Answer { tool: Some(_), .. } => {
                    lines.push("person: (writes a time and a time zone)".into())
                }
                Via::Answer { name, tool: None } => {
                    lines.push(format!("person: (writes an answer: {name})"))
                }
                Via::Then => {}
            }
            if let Via::Choice(choice) = &edge.via
                && choice.consent == Some(false)
                && person.consent
            {
                lines.push("mend: (says it has cleared everything it kept)".into());
            }
            if let Some(tool) = edge.tool() {
                lines.push(format!("mend: ({})", view::tool_words(tool)));
            }
            let next = person.after(&edge);
            match edge.to {
                To::Flow(id) => {
                    lines.push(format!("→ continues in flow {id}"));
                    self.finish(lines);
                }
                To::Step(id) if seen.contains(&id) => {
                    lines.push(format!("→ back to step {id}, shown above"));
                    self.finish(lines);
                }
                To::Step(id) => {
                    if let Some(following) = self.flow.step(id) {
                        self.step(following, next, lines, seen);
                    }
                }
            }
            lines.truncate(before);
        }
        seen.pop();
        lines.truncate(mark);
    }
}

/// Choices that differ only in their words and the value they keep (a
/// scale's 1 and 2, both leading to the same step) read as one way on,
/// `[1] or [2]`, so a transcript shows each path once. Each edge comes
/// with the labels it stands for.
fn grouped(edges: Vec<view::Edge<'_>>) -> Vec<(view::Edge<'_>, Vec<String>)> {
    let mut out: Vec<(view::Edge<'_>, Vec<String>)> = Vec::new();
    for edge in edges {
        let Via::Choice(choice) = &edge.via else {
            out.push((edge, Vec::new()));
            continue;
        };
        let plain = |c: &crate::flows::Choice| {
            c.consent.is_none() && c.situation.is_none() && c.tool.is_none()
        };
        let same = out.iter_mut().find(|(other, _)| match &other.via {
            Via::Choice(first) => {
                other.to == edge.to
                    && other.guard == edge.guard
                    && plain(first)
                    && plain(choice)
                    && first.clear == choice.clear
            }
            _ => false,
        });
        match same {
            Some((_, labels)) => labels.push(choice.label.clone()),
            None => {
                let label = choice.label.clone();
                out.push((edge, vec![label]));
            }
        }
    }
    out
}

/// mend's words as one transcript line, with later lines indented under it.
fn said(text: &str) -> String {
    let mut out = String::from("mend: ");
    for (i, line) in text.trim().lines().enumerate() {
        if i > 0 {
            out.push_str("\n      ");
        }
        out.push_str(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::{Action, Choice, Next, Target};
    use std::collections::BTreeMap;

    fn step(id: &str, say: &str, action: Action) -> Step {
        Step {
            id: id.into(),
            say: vec![say.into()],
            say_for: BTreeMap::new(),
            action,
            save: None,
            fact: None,
            clear: Vec::new(),
            tool: None,
        }
    }

    fn choice(label: &str, to: &str) -> Choice {
        Choice {
            label: label.into(),
            target: Target::Step(to.into()),
            consent: None,
            situation: None,
            value: None,
            clear: Vec::new(),
            tool: None,
        }
    }

    /// `a` offers ten choices, each to its own `b` step, and each of those
    /// ten more, each to its own ending: a hundred paths. (Choices that
    /// lead to the same step read as one way on, so each goes elsewhere.)
    fn wide() -> Flow {
        let ten = |to: &str| {
            (0..10)
                .map(|i| choice(&format!("{i}"), &format!("{to}{i}")))
                .collect()
        };
        let mut steps = vec![step("a", "A?", Action::Choices(ten("b")))];
        for i in 0..10 {
            steps.push(step(&format!("b{i}"), "B?", Action::Choices(ten("c"))));
            steps.push(step(&format!("c{i}"), "Done.", Action::End));
        }
        Flow {
            id: "wide".into(),
            title: "Wide".into(),
            summary: "Many ways.".into(),
            start: "a".into(),
            steps,
        }
    }

    #[test]
    fn choices_to_the_same_step_read_as_one_way_on() {
        let same = |to: &str| (0..3).map(|i| choice(&format!("{i}"), to)).collect();
        let flow = Flow {
            id: "scale".into(),
            title: "Scale".into(),
            summary: "One way.".into(),
            start: "a".into(),
            steps: vec![
                step("a", "A?", Action::Choices(same("b"))),
                step("b", "Done.", Action::End),
            ],
        };
        let text = super::flow(&flow, 10);
        assert!(
            text.contains("--- no situation chosen: 1 path ---"),
            "{text}"
        );
        assert!(text.contains("person: [0] or [1] or [2]"), "{text}");
    }

    #[test]
    fn paths_stop_at_the_cap_with_a_note() {
        let text = flow(&wide(), 30);
        assert!(text.contains("--- no situation chosen: 30 paths ---"));
        assert!(text.contains("path 30:\n"));
        assert!(!text.contains("path 31:"));
        assert!(text.contains("stopped after 30 paths"));
        let all = flow(&wide(), 100);
        assert!(all.contains("path 100:\n"));
        assert!(!all.contains("stopped after"));
    }

    #[test]
    fn a_step_is_never_repeated_within_a_path() {
        let flow = Flow {
            id: "loop".into(),
            title: "Loop".into(),
            summary: "Round again.".into(),
            start: "a".into(),
            steps: vec![
                step(
                    "a",
                    "A.",
                    Action::Continue(Next {
                        default: "b".into(),
                        for_situation: BTreeMap::new(),
                        when: Vec::new(),
                    }),
                ),
                step(
                    "b",
                    "B?",
                    Action::Choices(vec![choice("Again", "a"), choice("Here", "b")]),
                ),
            ],
        };
        let walked = walk(&flow, None, 10);
        assert_eq!(
            walked.paths,
            [
                vec![
                    "mend: A.",
                    "mend: B?",
                    "person: [Again]",
                    "→ back to step a, shown above"
                ],
                vec![
                    "mend: A.",
                    "mend: B?",
                    "person: [Here]",
                    "→ back to step b, shown above"
                ],
            ]
        );
    }

    #[test]
    fn several_lines_of_words_stay_under_their_speaker() {
        assert_eq!(said("One.\n> {x}\n"), "mend: One.\n      > {x}");
    }
}
