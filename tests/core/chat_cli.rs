//! The real `mend chat --json` binary, driven turn by turn over a temporary
//! SQLite file, checked line for line against the engine.

use mend::conversation::engine::{self, Consent, Input, Outcome, State};
use mend::flows::{MENU, Situation};

use crate::helpers::{mend, route, run_mend, shipped, typed};

const ANSWER: &str = "Make her coffee and ask how she slept";

/// What the engine says to each line (a button id is a press), serialised
/// as `mend chat --json` prints it.
fn expected_lines(lines: &[String], start: &State) -> (Vec<String>, State) {
    let script = shipped();
    let mut state = start.clone();
    let mut out = Vec::new();
    let mut feed = |input: Input, state: &mut State| {
        let outcome = engine::handle(&script, state, &input);
        out.push(serde_json::to_string(&outcome.replies).unwrap());
        *state = outcome.state;
    };
    feed(Input::Start, &mut state);
    for line in lines {
        let input = if line.contains(':') {
            Input::Choice(line.clone())
        } else {
            Input::Text(line.clone())
        };
        feed(input, &mut state);
    }
    (out, state)
}

fn chat(dir: &std::path::Path, lines: &[String]) -> Vec<String> {
    let mut command = mend(dir);
    command.args(["chat", "--json", "--db", "talk.sqlite", "--as", "sam"]);
    let mut input = lines.join("\n");
    if !input.is_empty() {
        input.push('\n');
    }
    let (status, stdout, stderr) = run_mend(command, &input);
    assert!(status.success(), "mend chat failed: {stderr}");
    stdout.lines().map(str::to_owned).collect()
}

/// The script of a first visit: consent, a situation, the menu, then a
/// flow with a written answer that is quoted back.
fn first_visit() -> (Vec<String>, State) {
    let script = shipped();
    let greeted = engine::handle(&script, &State::default(), &Input::Start).state;
    let mut lines = route(&script, &greeted, ANSWER, |o: &Outcome| {
        o.state.consent == Consent::Given
    });
    let (_, consented) = expected_lines(&lines, &State::default());
    lines.extend(route(&script, &consented, ANSWER, |o: &Outcome| {
        o.state.situation == Some(Situation::Hurt)
    }));
    let (_, situated) = expected_lines(&lines, &State::default());
    lines.extend(route(&script, &situated, ANSWER, |o: &Outcome| {
        o.state.place.as_ref().is_some_and(|p| p.flow == MENU)
    }));
    let (_, at_menu) = expected_lines(&lines, &State::default());
    lines.extend(route(&script, &at_menu, ANSWER, |o: &Outcome| {
        o.state
            .place
            .as_ref()
            .is_some_and(|p| p.flow == "small-actions")
            && o.replies.iter().any(|r| r.text().contains(ANSWER))
    }));
    let (_, end) = expected_lines(&lines, &State::default());
    (lines, end)
}

#[test]
fn a_first_visit_then_a_second_run_resumes_where_it_left_off() {
    let dir = tempfile::tempdir().unwrap();
    let (lines, end) = first_visit();
    assert!(
        lines.contains(&ANSWER.to_owned()),
        "the route writes an answer"
    );

    // Typed as a person would: a number for each button the route presses.
    let typed = typed(&shipped(), &lines);
    assert!(typed.iter().all(|line| !line.contains(':')));
    let printed = chat(dir.path(), &typed);
    let (expected, _) = expected_lines(&lines, &State::default());
    assert_eq!(
        printed.len(),
        lines.len() + 1,
        "one line per input, plus the greeting"
    );
    assert_eq!(printed, expected);
    for line in &printed {
        let messages: serde_json::Value = serde_json::from_str(line).unwrap();
        for message in messages.as_array().unwrap() {
            assert_eq!(message["links"].as_array().unwrap().len(), 3);
        }
    }
    assert!(
        printed.last().unwrap().contains(ANSWER),
        "the answer is quoted back"
    );

    // A second run on the same file greets them back at the same step.
    let again = chat(dir.path(), &[]);
    assert_eq!(again.len(), 1);
    let resumed = engine::handle(&shipped(), &end, &Input::Start);
    assert_eq!(again[0], serde_json::to_string(&resumed.replies).unwrap());
    assert!(again[0].contains("Welcome back"));
}

#[test]
fn choices_answer_by_number_and_by_words_too() {
    let dir = tempfile::tempdir().unwrap();
    let script = shipped();
    let mut state = engine::handle(&script, &State::default(), &Input::Start).state;
    for line in ["menu", "1"] {
        state = engine::handle(&script, &state, &Input::Text(line.into())).state;
    }
    let place = state.place.clone().unwrap();
    let step = script.step(&place.flow, &place.step).unwrap();
    let label = step.choices()[1].label.to_uppercase();
    let printed = chat(dir.path(), &["menu".into(), "1".into(), label]);
    assert_eq!(printed.len(), 4);
    for line in &printed[1..] {
        assert!(!line.contains("not sure which one you meant"), "{line}");
    }
    let pressed = Input::Choice(mend::buttons::choice(&place.flow, &place.step, "2"));
    let moved = engine::handle(&script, &state, &pressed);
    assert_eq!(
        printed[3],
        serde_json::to_string(&moved.replies).unwrap(),
        "typed words pick the same choice as its button"
    );
}

#[test]
fn plain_chat_prints_numbered_choices_and_the_links_footer() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = mend(dir.path());
    command.arg("chat");
    let (status, stdout, stderr) = run_mend(command, "");
    assert!(status.success(), "{stderr}");
    assert!(stdout.contains("mend › "));
    assert!(stdout.contains("   1. "));
    assert!(stdout.contains(
        "Relate https://www.relate.org.uk · COSRT https://www.cosrt.org.uk · BACP https://www.bacp.co.uk"
    ));
    assert!(
        stdout.contains("Take care of yourself"),
        "a kind goodbye at end of input"
    );
    assert!(
        dir.path().join("mend.sqlite").exists(),
        "the default database file"
    );
}

#[test]
fn quit_ends_the_session_kindly() {
    let dir = tempfile::tempdir().unwrap();
    let printed = chat(dir.path(), &["quit".into(), "menu".into()]);
    assert_eq!(printed.len(), 2, "nothing is read after quit");
    assert!(printed[1].contains("Take care of yourself"));
}

#[test]
fn a_goodbye_after_declining_does_not_say_words_were_saved() {
    let dir = tempfile::tempdir().unwrap();
    // The greeting's consent question: 2 is "No, please don't keep anything".
    let printed = chat(dir.path(), &["2".into(), "quit".into()]);
    let last = printed.last().unwrap();
    assert!(last.contains("nothing you wrote has been kept"), "{last}");
    assert!(!last.contains("Your place is saved"), "{last}");
    let back = chat(dir.path(), &["quit".into()]);
    assert!(
        back.last().unwrap().contains("nothing you wrote"),
        "on coming back too"
    );
    let other = tempfile::tempdir().unwrap();
    let agreed = chat(other.path(), &["1".into(), "quit".into()]);
    assert!(agreed.last().unwrap().contains("Your place is saved"));
}

/// The question for an unclear message, answered in `mend chat` by typing.
#[test]
fn mend_chat_asks_about_an_unclear_message_and_the_answer_decides() {
    let dir = tempfile::tempdir().unwrap();
    let unclear = "whats the point of anything anymore".to_owned();
    let safe = chat(
        dir.path(),
        &[unclear.clone(), "no, I'm safe".into(), unclear.clone()],
    );
    let question: serde_json::Value = serde_json::from_str(&safe[1]).unwrap();
    assert!(
        question[0]["text"]
            .as_str()
            .unwrap()
            .contains("ending your life"),
        "{question}"
    );
    let labels: Vec<&str> = question[0]["choices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["Yes", "I'm not sure", "No, I'm safe"]);
    let thanked: serde_json::Value = serde_json::from_str(&safe[2]).unwrap();
    assert!(
        thanked[0]["text"].as_str().unwrap().contains("Thank you"),
        "{thanked}"
    );
    assert!(
        thanked.as_array().unwrap().len() >= 2,
        "and the conversation goes on: {thanked}"
    );
    let later: serde_json::Value = serde_json::from_str(&safe[3]).unwrap();
    assert!(
        !later.to_string().contains("ending your life"),
        "not asked on every line: {later}"
    );

    let mut command = mend(dir.path());
    command.args(["chat", "--json", "--db", "talk.sqlite", "--as", "alex"]);
    let (status, stdout, stderr) = run_mend(command, &format!("{unclear}\n2\n"));
    assert!(status.success(), "{stderr}");
    let replies: Vec<&str> = stdout.lines().collect();
    assert!(
        replies[2].contains("116 123"),
        "not sure gives the crisis reply: {}",
        replies[2]
    );
    let mut flags = mend(dir.path());
    flags.args(["flags", "--db", "talk.sqlite"]);
    let (status, listed, stderr) = run_mend(flags, "");
    assert!(status.success(), "{stderr}");
    assert!(
        listed.contains("terminal:alex") && listed.contains("suicide"),
        "{listed}"
    );
    assert!(listed.contains("answered yes or not sure"), "{listed}");
    assert!(
        !listed.contains("terminal:sam"),
        "no flag for the one who was safe: {listed}"
    );
}

#[test]
fn typed_text_shaped_like_a_button_id_is_words_and_screened() {
    let dir = tempfile::tempdir().unwrap();
    let script = shipped();
    let greeting = engine::handle(&script, &State::default(), &Input::Start);
    let shown = greeting.replies.last().unwrap().choices()[0].id.clone();
    let printed = chat(dir.path(), &["i-want:to-kill:myself".into(), shown.clone()]);
    let crisis: serde_json::Value = serde_json::from_str(&printed[1]).unwrap();
    let text = crisis[0]["text"].as_str().unwrap();
    assert!(text.contains("116 123"), "the crisis reply: {text}");
    assert!(!text.contains("earlier message"), "not taken as a press");
    assert_eq!(crisis[0]["links"].as_array().unwrap().len(), 3);
    // Even the exact id of a button on screen, typed, is words, not a press.
    let after: serde_json::Value = serde_json::from_str(&printed[2]).unwrap();
    let carried_on = engine::handle(&script, &greeting.state, &Input::Choice(shown));
    assert_ne!(
        after[0]["text"],
        carried_on.replies[0].text(),
        "a typed id pressed the button"
    );
}

#[tokio::test]
async fn mend_flags_read_by_a_reader_that_stops_after_one_line_is_not_a_crash() {
    use mend::safety::{Action, Category, Hit, Severity};
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("talk.sqlite");
    let store = mend::store::Store::open(
        &db,
        &mend::store::StoreOptions::default(),
        &crate::helpers::test_key(),
    )
    .await
    .unwrap();
    // Far more than a pipe holds, so mend is still writing when the reader
    // goes away.
    let at: jiff::Timestamp = "2027-06-01T20:00:00Z".parse().unwrap();
    for i in 0..1500 {
        let hit = Hit {
            category: Category::Suicide,
            severity: Severity::Critical,
            action: Action::Crisis,
            matched: "a frame".into(),
            excerpt: "words of an excerpt ".repeat(5),
        };
        store
            .raise_flag(&format!("discord:{}", 1000 + i), &hit, false, at)
            .await
            .unwrap();
    }
    store.close().await;

    let mut command = mend(dir.path());
    command
        .args(["flags", "--db", "talk.sqlite"])
        .env("MEND_DATA_KEY", "5a".repeat(32));
    let mut child = command.spawn().unwrap();
    drop(child.stdin.take());
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert!(first.starts_with('#'), "{first}");
    drop(stdout); // as `| head -1` does
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn mend_screen_read_by_a_reader_that_stops_after_one_line_ends_cleanly() {
    use std::io::{BufRead, Write};
    let dir = tempfile::tempdir().unwrap();
    let mut command = mend(dir.path());
    command.arg("screen");
    let mut child = command.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        // mend stops reading once its reader has gone: a broken pipe here.
        for _ in 0..100_000 {
            if stdin.write_all(b"hello there\n").is_err() {
                return;
            }
        }
    });
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert!(first.contains("\"action\""), "{first}");
    drop(stdout); // as `| head -1` does
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
}
