//! `mend chat` as a whole product: check-in settings that work there, the
//! day's check-in offered as the chat opens, on a fixed clock (`--now`), and
//! no reply that names a slash command. The real binary, turn by turn.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout};

use mend::conversation::engine::{self, Consent, Input, Outcome, State};
use mend::flows::Script;
use serde_json::Value;

use crate::helpers::{mend, route, shipped};

/// One `mend chat --json` run, driven a line at a time, with the engine's
/// state mirrored beside it so routes can be found from where it rests.
struct Session {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    /// The ids of the choices last shown, numbered from 1.
    shown: Vec<String>,
    state: State,
    script: Script,
    /// Every message printed, as (text, choice ids).
    said: Vec<(String, Vec<String>)>,
}

impl Session {
    fn open(dir: &Path, now: &str, state: State) -> (Session, Vec<Value>) {
        let mut command = mend(dir);
        command.args([
            "chat",
            "--json",
            "--db",
            "talk.sqlite",
            "--as",
            "sam",
            "--now",
            now,
        ]);
        let mut child = command.spawn().expect("mend starts");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut session = Session {
            child,
            stdin,
            stdout,
            shown: Vec::new(),
            state,
            script: shipped(),
            said: Vec::new(),
        };
        let greeting = session.read();
        (session, greeting)
    }

    fn read(&mut self) -> Vec<Value> {
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        let messages: Vec<Value> = serde_json::from_str(&line).expect("one JSON line");
        for message in &messages {
            let ids: Vec<String> = message["choices"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_str().unwrap().to_owned())
                .collect();
            let text = message["text"].as_str().unwrap().to_owned();
            if !ids.is_empty() {
                self.shown = ids.clone();
            }
            self.said.push((text, ids));
        }
        messages
    }

    /// Types `line` as it is, mirroring it as `input`.
    fn type_line(&mut self, line: &str, input: Option<Input>) -> Vec<Value> {
        writeln!(self.stdin, "{line}").unwrap();
        self.stdin.flush().unwrap();
        if let Some(input) = input {
            self.state = engine::handle(&self.script, &self.state, &input).state;
        }
        self.read()
    }

    /// Words, as the person writes them.
    fn write(&mut self, text: &str) -> Vec<Value> {
        self.type_line(text, Some(Input::Text(text.to_owned())))
    }

    /// Presses the button `id` among those shown, by its number.
    fn press(&mut self, id: &str) -> Vec<Value> {
        let number = self
            .shown
            .iter()
            .position(|shown| shown == id)
            .unwrap_or_else(|| panic!("{id} is not shown: {:?}", self.shown));
        self.type_line(
            &(number + 1).to_string(),
            Some(Input::Choice(id.to_owned())),
        )
    }

    /// Follows the engine's route to `goal`, answering questions with `answer`.
    fn go(&mut self, answer: &str, goal: impl Fn(&Outcome) -> bool) -> Vec<Value> {
        let mut last = Vec::new();
        for line in route(&self.script, &self.state, answer, goal) {
            last = if line.contains(':') {
                self.press(&line)
            } else {
                self.write(&line)
            };
        }
        last
    }

    /// Goes to a step of a flow.
    fn go_to(&mut self, flow: &str, step: &str) -> Vec<Value> {
        self.go("-", |o| {
            o.state
                .place
                .as_ref()
                .is_some_and(|p| p.flow == flow && p.step == step)
        })
    }

    fn close(mut self) -> (State, Vec<(String, Vec<String>)>) {
        drop(self.stdin);
        let status = self.child.wait().unwrap();
        assert!(status.success());
        (self.state, self.said)
    }
}

fn texts(messages: &[Value]) -> String {
    messages
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A first visit that agrees, then turns check-ins on at 21:00 London time
/// (20:00 UTC in June).
fn opted_in(dir: &Path) -> State {
    let start = engine::handle(&shipped(), &State::default(), &Input::Start).state;
    let (mut chat, _) = Session::open(dir, "2027-06-01T12:00:00Z", start);
    chat.go("-", |o| o.state.consent == Consent::Given);
    chat.go_to("checkins", "when");
    let on = texts(&chat.write("21:00 Europe/London"));
    assert!(on.contains("Daily check-ins are on"), "{on}");
    assert!(on.contains("21:00 (Europe/London)"), "{on}");
    chat.close().0
}

#[test]
fn a_check_in_that_fell_due_is_offered_once_as_the_chat_opens() {
    let dir = tempfile::tempdir().unwrap();
    let state = opted_in(dir.path());

    // Before its time: the usual welcome back.
    let (chat, greeting) = Session::open(dir.path(), "2027-06-01T19:59:00Z", state.clone());
    assert!(texts(&greeting).contains("Welcome back"), "{greeting:?}");
    assert!(!texts(&greeting).contains("check-in for today is ready"));
    let (state, _) = chat.close();

    // After it: offered first, and "Do it now" begins the daily check-in.
    let (mut chat, greeting) = Session::open(dir.path(), "2027-06-01T20:30:00Z", state);
    assert_eq!(greeting.len(), 1, "{greeting:?}");
    assert!(texts(&greeting).contains("Your check-in for today is ready"));
    assert_eq!(chat.shown.len(), 2, "do it now / not now");
    let now = chat.shown[0].clone();
    let begun = chat.type_line("1", None);
    assert_eq!(now, "terminal:checkin:now");
    chat.state = engine::handle(
        &chat.script,
        &chat.state,
        &Input::Begin(mend::store::DAILY.into()),
    )
    .state;
    assert!(
        chat.shown.iter().all(|id| id.starts_with("c:daily:")),
        "the daily check-in's own choices: {begun:?}"
    );
    let (state, _) = chat.close();

    // Offered once: opening again that evening is a welcome back.
    let (chat, greeting) = Session::open(dir.path(), "2027-06-01T20:45:00Z", state);
    assert!(!texts(&greeting).contains("check-in for today is ready"));
    let (state, _) = chat.close();

    // The next evening it is offered again; "Not now" says where it waits
    // and picks up where they were.
    let (mut chat, greeting) = Session::open(dir.path(), "2027-06-02T20:10:00Z", state);
    assert!(texts(&greeting).contains("check-in for today is ready"));
    let later = texts(&chat.type_line("2", Some(Input::Start)));
    assert!(
        later.contains("in the menu whenever you want it"),
        "{later}"
    );
    assert!(later.contains("Welcome back"), "{later}");
    chat.close();
}

#[test]
fn a_day_already_checked_in_is_not_offered_and_missed_days_are_passed_over() {
    let dir = tempfile::tempdir().unwrap();
    let state = opted_in(dir.path());
    // In the morning of 3 June they do the check-in from the menu.
    let (mut chat, _) = Session::open(dir.path(), "2027-06-03T07:00:00Z", state);
    chat.go("fine", |o| {
        o.events
            .iter()
            .any(|e| matches!(e, engine::Event::FlowFinished { flow } if flow == "daily"))
    });
    let (state, _) = chat.close();
    // That evening nothing is offered: today is done.
    let (chat, greeting) = Session::open(dir.path(), "2027-06-03T21:00:00Z", state);
    assert!(!texts(&greeting).contains("check-in for today is ready"));
    let (state, _) = chat.close();
    // Days away (4 to 6 June) are not offered late: on the morning of
    // 7 June, before its time, nothing is; that evening, 7 June's is.
    let (chat, greeting) = Session::open(dir.path(), "2027-06-07T10:00:00Z", state);
    assert!(!texts(&greeting).contains("check-in for today is ready"));
    let (state, _) = chat.close();
    let (chat, greeting) = Session::open(dir.path(), "2027-06-07T20:05:00Z", state);
    assert!(texts(&greeting).contains("check-in for today is ready"));
    chat.close();
}

/// Whether `text` tells the reader to type a slash command (`/export`,
/// `/checkin on`, ...). Links (`https://...`) are not commands.
fn names_a_slash_command(text: &str) -> bool {
    text.split_whitespace().any(|word| {
        let word = word.trim_start_matches(['(', '*', '`', '"', '\'', '“']);
        word.strip_prefix('/')
            .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_alphabetic()))
    })
}

#[test]
fn no_reply_in_the_terminal_names_a_slash_command() {
    assert!(names_a_slash_command("on Discord, **/export** sends"));
    assert!(names_a_slash_command("use /checkin on."));
    assert!(!names_a_slash_command(
        "Relate https://www.relate.org.uk and 1/2"
    ));

    let dir = tempfile::tempdir().unwrap();
    let start = engine::handle(&shipped(), &State::default(), &Input::Start).state;
    let (mut chat, _) = Session::open(dir.path(), "2027-06-01T12:00:00Z", start);
    chat.go("-", |o| o.state.consent == Consent::Given);
    let help = texts(&chat.write("help"));
    assert!(help.contains("mend export --user terminal:NAME"), "{help}");
    assert!(help.contains("mend forget --user terminal:NAME"), "{help}");

    // Every check-in setting, each saying what it did.
    chat.go_to("checkins", "when");
    let unknown = texts(&chat.write("21:00 Mars/Olympus"));
    assert!(unknown.contains("Nothing has changed"), "{unknown}");
    chat.go_to("checkins", "when");
    chat.write("21:00 Europe/London");
    let shown = texts(&chat.go("-", |o| o.tasks.contains(&engine::Task::CheckinShow)));
    assert!(shown.contains("on, at 21:00 (Europe/London)"), "{shown}");
    let paused = texts(&chat.go("-", |o| {
        o.tasks
            .iter()
            .any(|t| matches!(t, engine::Task::CheckinPause { .. }))
    }));
    assert!(
        paused.contains("paused. The next one comes on Tuesday 8 June"),
        "{paused}"
    );
    let off = texts(&chat.go("-", |o| o.tasks.contains(&engine::Task::CheckinOff)));
    assert!(off.contains("Daily check-ins are off."), "{off}");
    let shown = texts(&chat.go("-", |o| o.tasks.contains(&engine::Task::CheckinShow)));
    assert!(shown.contains("are off"), "{shown}");
    let progress = texts(&chat.go("-", |o| o.tasks.contains(&engine::Task::Progress)));
    assert!(progress.contains("No check-ins answered"), "{progress}");

    // Withdrawing consent, then asking for check-ins again.
    let withdrawn = texts(&chat.go("-", |o| o.state.consent == Consent::Declined));
    assert!(
        withdrawn.contains("mend forget --user terminal:NAME"),
        "{withdrawn}"
    );
    chat.go_to("checkins", "when");
    let refused = texts(&chat.write("21:00 Europe/London"));
    assert!(refused.contains("need your OK first"), "{refused}");
    chat.write("help");
    let (_, said) = chat.close();

    // Everything said, the prompt files' words included: none names a
    // command the terminal does not have.
    let mut checked = 0;
    for (text, _) in &said {
        checked += 1;
        assert!(
            !names_a_slash_command(text),
            "names a slash command: {text}"
        );
    }
    assert!(checked > 10, "only {checked} replies");
}
