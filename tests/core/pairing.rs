//! Pairing in `mend chat`: two people on one database file (`--as`), each
//! driven line by line through the real binary, as a person would.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout};

use serde_json::Value;

use crate::helpers::{mend, run_mend};

const T0: &str = "2026-03-02T09:00:00Z";

/// One live `mend chat --json` for one person.
struct Live {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    /// Every message of the last line read.
    last: Vec<Value>,
    /// Every message printed in this session.
    all: Vec<Value>,
}

impl Live {
    fn open(dir: &Path, who: &str, now: &str) -> Live {
        let mut command = mend(dir);
        command.args([
            "chat",
            "--json",
            "--db",
            "pair.sqlite",
            "--as",
            who,
            "--now",
            now,
        ]);
        let mut child = command.spawn().expect("mend starts");
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut live = Live {
            child,
            stdin,
            stdout,
            last: Vec::new(),
            all: Vec::new(),
        };
        live.read();
        live
    }

    fn read(&mut self) -> &[Value] {
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        let replies: Vec<Value> = serde_json::from_str(&line)
            .unwrap_or_else(|err| panic!("not one JSON line ({err}): {line:?}"));
        for reply in &replies {
            let links: Vec<&str> = reply["links"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l["url"].as_str().unwrap())
                .collect();
            assert_eq!(links.len(), 3, "a reply without the three links");
        }
        self.all.extend(replies.iter().cloned());
        self.last = replies;
        &self.last
    }

    fn line(&mut self, text: &str) -> String {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{text}").unwrap();
        stdin.flush().unwrap();
        self.read();
        self.text()
    }

    /// Presses the choice whose label starts with `label`, among the last
    /// message with choices, by its number.
    fn press(&mut self, label: &str) -> String {
        let choices = self
            .last
            .iter()
            .rev()
            .find_map(|r| r["choices"].as_array().filter(|c| !c.is_empty()))
            .unwrap_or_else(|| panic!("no choices shown: {}", self.text()))
            .clone();
        let number = choices
            .iter()
            .position(|c| c["label"].as_str().unwrap().starts_with(label))
            .unwrap_or_else(|| panic!("no choice {label:?} among {choices:?}"));
        self.line(&(number + 1).to_string())
    }

    /// The words of the last line's messages, joined.
    fn text(&self) -> String {
        words(&self.last)
    }

    fn everything(&self) -> String {
        words(&self.all)
    }

    fn close(mut self) -> String {
        drop(self.stdin.take());
        assert!(self.child.wait().unwrap().success());
        self.everything()
    }
}

fn words(replies: &[Value]) -> String {
    replies
        .iter()
        .map(|r| r["text"].as_str().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join("\n---\n")
}

/// Someone new who agrees to mend keeping their answers, at the menu.
fn consenting(dir: &Path, who: &str, now: &str) -> Live {
    let mut live = Live::open(dir, who, now);
    live.press("Yes, you can keep");
    live.press("I'd rather not say");
    live.line("menu");
    live
}

fn at_pairing(live: &mut Live) {
    live.line("menu");
    live.press("Pairing with my partner");
}

/// The invite code in a message.
fn code_in(text: &str) -> String {
    let at = text.find("invite code: **").expect("a code") + "invite code: **".len();
    text[at..at + 11].to_owned()
}

fn invite(dir: &Path, who: &str, now: &str) -> String {
    let mut live = Live::open(dir, who, now);
    at_pairing(&mut live);
    let said = live.press("Get an invite code");
    live.close();
    code_in(&said)
}

/// `who` enters `code` and, if asked, confirms; returns what they were told.
fn join(dir: &Path, who: &str, now: &str, code: &str) -> String {
    let mut live = Live::open(dir, who, now);
    at_pairing(&mut live);
    live.press("I have a code");
    let said = live.line(code);
    if said.contains("Never pair because someone is pressuring you to") {
        live.press("Yes, pair us");
    }
    live.close()
}

/// `who` sends words of a kind, seeing the preview first; returns the
/// whole session's words.
fn send(dir: &Path, who: &str, now: &str, kind: &str, text: &str) -> String {
    let mut live = Live::open(dir, who, now);
    at_pairing(&mut live);
    live.press("Send my partner something");
    live.press(kind);
    let shown = live.line(text);
    if shown.contains("This is exactly what your partner would receive") {
        assert!(shown.contains(text), "the preview shows the words: {shown}");
        live.press("Send it");
    }
    live.close()
}

/// What `who` finds as they open the chat, and nothing more.
fn opens(dir: &Path, who: &str, now: &str) -> String {
    Live::open(dir, who, now).close()
}

fn db(dir: &Path) -> String {
    dir.join("pair.sqlite").display().to_string()
}

fn export(dir: &Path, who: &str) -> String {
    let mut command = mend(dir);
    command.args([
        "export",
        "--db",
        &db(dir),
        "--user",
        &format!("terminal:{who}"),
    ]);
    let (status, stdout, stderr) = run_mend(command, "");
    assert!(status.success(), "{stderr}");
    stdout
}

fn paired(dir: &Path) {
    consenting(dir, "alex", T0).close();
    consenting(dir, "sam", T0).close();
    let code = invite(dir, "alex", T0);
    let joined = join(dir, "sam", T0, &code);
    assert!(joined.contains("You're paired."), "{joined}");
}

#[test]
fn two_people_on_one_file_invite_confirm_send_and_end_silently() {
    let dir = tempfile::tempdir().unwrap();
    consenting(dir.path(), "alex", T0).close();
    consenting(dir.path(), "sam", T0).close();
    let code = invite(dir.path(), "alex", T0);
    assert_eq!(code.len(), 11);

    // The joiner reads the plain statement before anything happens.
    let mut sam = Live::open(dir.path(), "sam", T0);
    at_pairing(&mut sam);
    sam.press("I have a code");
    let statement = sam.line(&code.to_lowercase().replace('-', " "));
    assert!(statement.contains("Never pair because someone is pressuring you to"));
    assert!(statement.contains("not your check-ins"));
    assert!(sam.press("Yes, pair us").contains("You're paired."));
    sam.close();

    // The inviter learns it is active when they next open the chat.
    let alex = opens(dir.path(), "alex", T0);
    assert!(alex.contains("you're now paired"), "{alex}");
    assert!(
        !opens(dir.path(), "alex", T0).contains("paired"),
        "said once"
    );

    let sent = send(
        dir.path(),
        "sam",
        T0,
        "Something I appreciate",
        "You made tea without being asked",
    );
    assert!(sent.contains("Sent."), "{sent}");
    let alex = opens(dir.path(), "alex", T0);
    assert!(
        alex.contains("**From your partner, through mend.**"),
        "{alex}"
    );
    assert!(alex.contains("> You made tea without being asked"));

    // Alex ends it: one step, and Sam is told nothing.
    let mut live = Live::open(dir.path(), "alex", T0);
    at_pairing(&mut live);
    live.press("End pairing");
    let ended = live.press("Yes, end it now");
    assert!(ended.contains("Pairing has ended. Your partner hasn't been told"));
    assert!(
        live.press("Stop them pairing")
            .contains("can't pair with you again")
    );
    live.close();
    // Only the one who ended it is shown when, in their own export.
    let alex: Value = serde_json::from_str(&export(dir.path(), "alex")).unwrap();
    assert!(alex["pairing"]["pairings"][0]["ended_at"].is_string());
    assert_eq!(alex["pairing"]["blocked"], 1);
    let sam: Value = serde_json::from_str(&export(dir.path(), "sam")).unwrap();
    assert_eq!(sam["pairing"]["pairings"][0]["ended"], true);
    assert!(sam["pairing"]["pairings"][0]["ended_at"].is_null());
    let sam_sees = opens(dir.path(), "sam", T0);
    assert!(!sam_sees.contains("ended"), "{sam_sees}");
    assert!(!sam_sees.contains("From your partner"), "{sam_sees}");
    assert!(!sam_sees.contains("**From mend.**"), "{sam_sees}");

    // Sam's next send is refused kindly, with no reason and no time.
    let refused = send(dir.path(), "sam", T0, "My small action", "Cook on Friday");
    assert!(
        refused.contains("This connection isn't active, so nothing was sent."),
        "{refused}"
    );
    assert!(
        !refused.contains("ended") && !refused.contains("block"),
        "{refused}"
    );
    assert!(!opens(dir.path(), "alex", T0).contains("Cook on Friday"));

    // Blocked: a new code of Sam's does not let Alex pair again, and the
    // refusal is the one for any code that does not work.
    let again = invite(dir.path(), "sam", T0);
    let told = join(dir.path(), "alex", T0, &again);
    assert!(told.contains("That code didn't work."), "{told}");
}

#[test]
fn a_preview_can_be_dropped_and_the_day_has_a_limit() {
    let dir = tempfile::tempdir().unwrap();
    paired(dir.path());
    let mut live = Live::open(dir.path(), "sam", T0);
    at_pairing(&mut live);
    live.press("Send my partner something");
    live.press("Ask to talk");
    let preview = live.line("the holidays");
    assert!(preview.contains("> Could we talk about the holidays this week?"));
    assert!(live.press("Don't send it").contains("nothing was sent"));
    live.close();
    assert!(!opens(dir.path(), "alex", T0).contains("holidays"));

    for n in 0..3 {
        let sent = send(
            dir.path(),
            "sam",
            T0,
            "My small action",
            &format!("walk {n}"),
        );
        assert!(sent.contains("Sent."), "{sent}");
    }
    let fourth = send(dir.path(), "sam", T0, "My small action", "walk 3");
    assert!(fourth.contains("You've sent 3 messages today"), "{fourth}");
    let alex = opens(dir.path(), "alex", T0);
    assert!(
        alex.contains("walk 2") && !alex.contains("walk 3"),
        "{alex}"
    );
    // A day later there is room again.
    let later = send(
        dir.path(),
        "sam",
        "2026-03-03T09:30:00Z",
        "My small action",
        "walk 4",
    );
    assert!(later.contains("Sent."), "{later}");
}

#[test]
fn expired_reused_and_guessed_codes_are_refused_alike() {
    let dir = tempfile::tempdir().unwrap();
    for who in ["alex", "sam", "kim"] {
        consenting(dir.path(), who, T0).close();
    }
    // Expired: a day and a minute later.
    let code = invite(dir.path(), "alex", T0);
    let late = join(dir.path(), "sam", "2026-03-03T09:01:00Z", &code);
    assert!(late.contains("That code didn't work."), "{late}");
    // Reused: it worked once, for Sam; Kim cannot use it again.
    let code = invite(dir.path(), "alex", T0);
    assert!(join(dir.path(), "sam", T0, &code).contains("You're paired."));
    let reused = join(dir.path(), "kim", T0, &code);
    assert!(reused.contains("That code didn't work."), "{reused}");
    // Guessed: after five that do not work, even a good one is refused today.
    let good = invite(dir.path(), "kim", T0);
    consenting(dir.path(), "lee", T0).close();
    for guess in [
        "AAAAA-AAAAA",
        "BBBBB-BBBBB",
        "nonsense",
        "CCCCC-CCCCC",
        "DDDDD-DDDDD",
    ] {
        let told = join(dir.path(), "lee", T0, guess);
        assert!(told.contains("That code didn't work."), "{told}");
    }
    let told = join(dir.path(), "lee", T0, &good);
    assert!(
        told.contains("That's as many codes as can be tried today"),
        "{told}"
    );
    // Its own code does not pair anyone with themselves.
    let own = join(dir.path(), "kim", T0, &good);
    assert!(own.contains("That code didn't work."), "{own}");
}

#[test]
fn pairing_needs_consent_and_says_how_to_give_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut live = Live::open(dir.path(), "ash", T0);
    live.press("No, please don't keep");
    at_pairing(&mut live);
    let said = live.press("Get an invite code");
    assert!(said.contains("needs you to have agreed"), "{said}");
    assert!(said.contains("About mend"), "{said}");
    assert!(!said.contains("invite code: **"));
    live.close();
}

#[test]
fn someone_pushed_to_pair_hears_they_need_not_and_what_stays_private() {
    let dir = tempfile::tempdir().unwrap();
    let mut live = consenting(dir.path(), "kit", T0);
    at_pairing(&mut live);
    let said = live.press("I'm being pushed to pair");
    assert!(said.contains("You don't have to pair, ever"), "{said}");
    assert!(said.contains("your partner isn't told anything"), "{said}");
    // The way on leads to the safety conversation, with nothing shared.
    let safe = live.press("Talk about whether this relationship is safe");
    assert!(!safe.is_empty());
    live.close();
    let kit: Value = serde_json::from_str(&export(dir.path(), "kit")).unwrap();
    assert_eq!(kit["pairing"]["pairings"], serde_json::json!([]), "{kit}");
}

#[test]
fn words_for_a_partner_that_raise_a_crisis_are_not_delivered() {
    let dir = tempfile::tempdir().unwrap();
    paired(dir.path());
    opens(dir.path(), "alex", T0);
    let mut sam = Live::open(dir.path(), "sam", T0);
    at_pairing(&mut sam);
    sam.press("Send my partner something");
    sam.press("Something I appreciate");
    let said = sam.line("I want to kill myself");
    assert!(!said.contains("This is exactly what your partner would receive"));
    assert!(said.contains("116 123"), "the crisis reply: {said}");
    assert!(
        said.contains("I haven't passed that on to your partner"),
        "told it did not go: {said}"
    );
    assert!(
        said.contains("you can end pairing now"),
        "the private offer to end: {said}"
    );
    // The offer holds the way back to the conversation too, since only the
    // last message's choices can be picked by number.
    let offered: Vec<String> = sam.last.last().unwrap()["choices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["label"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        offered.len() >= 2 && offered.iter().any(|l| l.starts_with("Carry on")),
        "{offered:?}"
    );
    // The private offer ends it in one step.
    assert!(sam.press("End pairing now").contains("Pairing has ended"));
    sam.close();
    let alex = opens(dir.path(), "alex", T0);
    assert!(!alex.contains("kill"), "{alex}");
    assert!(!alex.contains("From your partner"), "{alex}");
    assert!(!alex.contains("ended"), "{alex}");
    let mut flags = mend(dir.path());
    flags.args(["flags", "--db", &db(dir.path())]);
    let (status, stdout, _) = run_mend(flags, "");
    assert!(status.success());
    assert!(stdout.contains("by terminal:sam"), "{stdout}");
    let sam: Value = serde_json::from_str(&export(dir.path(), "sam")).unwrap();
    assert_eq!(sam["pairing"]["sent"], serde_json::json!([]));
}

#[test]
fn nothing_of_one_person_reaches_the_other_but_what_they_send() {
    let dir = tempfile::tempdir().unwrap();
    paired(dir.path());
    opens(dir.path(), "alex", T0);
    // Sam keeps every kind of thing: an answer and a fact, a journal note,
    // a check-in with a note, a crisis flag, an unclear worry asked about.
    let mut sam = Live::open(dir.path(), "sam", T0);
    sam.line("menu");
    sam.press("One small action");
    sam.press("Doing exactly");
    sam.line("zanzibar answer");
    sam.line("menu");
    sam.press("Today's check-in");
    sam.press("4");
    sam.press("Yes");
    sam.press("Keep the same one");
    assert!(sam.text().contains("one line"), "{}", sam.text());
    sam.line("quetzal checkin note");
    sam.line("menu");
    sam.line("I feel so alone with the walrus thoughts");
    sam.line("keep it");
    sam.line("I want to end my life, narwhal");
    sam.close();
    let sent = send(
        dir.path(),
        "sam",
        T0,
        "Something I appreciate",
        "the chosen words",
    );
    assert!(sent.contains("Sent."), "{sent}");

    let alex = opens(dir.path(), "alex", T0);
    assert!(alex.contains("the chosen words"), "{alex}");
    let alex_export = export(dir.path(), "alex");
    for secret in ["zanzibar", "quetzal", "walrus", "narwhal", "end my life"] {
        assert!(
            !alex.contains(secret),
            "{secret} reached the partner: {alex}"
        );
        assert!(
            !alex_export.contains(secret),
            "{secret} in the partner's export"
        );
    }
    // Sam's usage is not there either: no times, no check-in, no flag.
    assert!(
        !alex.contains("check-in") && !alex.contains("flag"),
        "{alex}"
    );
    let sam_export = export(dir.path(), "sam");
    for kept in ["zanzibar", "quetzal", "walrus"] {
        assert!(
            sam_export.contains(kept),
            "the test kept {kept} as it meant to"
        );
    }
}

#[test]
fn export_and_forget_on_both_sides() {
    let dir = tempfile::tempdir().unwrap();
    paired(dir.path());
    send(
        dir.path(),
        "sam",
        T0,
        "Something I appreciate",
        "first words",
    );
    opens(dir.path(), "alex", T0);
    send(dir.path(), "alex", T0, "My small action", "fix the gate");

    let sam: Value = serde_json::from_str(&export(dir.path(), "sam")).unwrap();
    let pairing = &sam["pairing"];
    assert_eq!(pairing["sent"][0]["text"], "first words");
    assert_eq!(pairing["sent"][0]["kind"], "appreciation");
    assert_eq!(pairing["received"][0]["text"], "fix the gate");
    assert!(pairing["pairings"][0]["started_at"].is_string());
    assert!(pairing["pairings"][0]["ended_at"].is_null());
    assert!(sam["readme"]["pairing"].is_string());

    // Sam sends again, then erases everything before Alex opens the chat.
    send(
        dir.path(),
        "sam",
        T0,
        "Something I appreciate",
        "unseen words",
    );
    let mut forget = mend(dir.path());
    forget.args(["forget", "--db", &db(dir.path()), "--user", "terminal:sam"]);
    let (status, _, stderr) = run_mend(forget, "");
    assert!(status.success(), "{stderr}");
    let alex = opens(dir.path(), "alex", T0);
    assert!(
        !alex.contains("unseen words"),
        "a queued message outlived its sender's erasure"
    );
    let alex: Value = serde_json::from_str(&export(dir.path(), "alex")).unwrap();
    let pairing = &alex["pairing"];
    assert_eq!(pairing["received"], serde_json::json!([]), "{pairing}");
    assert_eq!(pairing["sent"][0]["text"], "fix the gate");
    assert_eq!(pairing["pairings"][0]["ended"], true, "forget ends it");
    assert!(
        pairing["pairings"][0]["ended_at"].is_null(),
        "with no time for Alex"
    );
    let refused = send(dir.path(), "alex", T0, "My small action", "anyone there");
    assert!(
        refused.contains("This connection isn't active, so nothing was sent."),
        "{refused}"
    );
}

/// The engine, as `mend chat` builds it.
fn companion() -> mend::conversation::engine::Companion {
    mend::conversation::engine::Companion {
        script: crate::helpers::shipped(),
        screen: mend::safety::Screen::embedded(),
        crisis: mend::safety::CrisisReplies::embedded(),
        cooldown: jiff::SignedDuration::from_mins(30),
    }
}

fn worry() -> mend::safety::Hit {
    mend::safety::Hit {
        category: mend::safety::Category::Abuse,
        severity: mend::safety::Severity::Concern,
        action: mend::safety::Action::Ask,
        matched: "a worry".into(),
        excerpt: "a worry".into(),
    }
}

#[test]
fn words_asked_about_a_moment_ago_are_still_not_sent() {
    use mend::conversation::engine::{Consent, Input, Place, Task};
    let companion = companion();
    let now: jiff::Timestamp = T0.parse().unwrap();
    let mut state = crate::helpers::at_menu(Consent::Given);
    state.place = Some(Place {
        flow: "partner".into(),
        step: "appreciation".into(),
    });
    let words = Input::Text("you were kind today".into());
    // Without a worry, the words become a draft to show.
    let clean = companion.respond_screened(&state, &words, None, now);
    assert!(matches!(clean.tasks.as_slice(), [Task::Pair(act)] if act.is_written()));
    // Asked a moment ago and told safe: the words go on, but not to a partner.
    state.asked_at = Some(now - jiff::SignedDuration::from_mins(1));
    let worried = companion.respond_screened(&state, &words, Some(worry()), now);
    assert!(worried.tasks.is_empty(), "{:?}", worried.tasks);
    assert!(
        worried.replies[0]
            .text()
            .starts_with("I haven't passed that on")
    );
    assert!(worried.flag.is_none());
}

#[test]
fn words_withheld_from_a_send_meet_the_crisis_path() {
    use mend::conversation::engine::Consent;
    use mend::edge::Edge;
    let companion = companion();
    let now: jiff::Timestamp = T0.parse().unwrap();
    let state = crate::helpers::at_menu(Consent::Given);
    let crisis = companion
        .screen
        .screen("I want to kill myself")
        .expect("a hit");
    let outcome = companion.respond_withheld(Edge::Discord, &state, crisis, now);
    assert!(outcome.flag.is_some(), "a flag, as usual");
    assert!(outcome.replies[0].text().contains("116 123"));
    assert_eq!(outcome.state.place, state.place, "their place is kept");
    // An unclear worry is asked about, and the words kept for the answer.
    let asked = companion.respond_withheld(Edge::Discord, &state, worry(), now);
    assert!(asked.flag.is_none());
    assert!(asked.state.pending_ask.is_some());
    assert_eq!(asked.replies[0].choices().len(), 3);
}

#[test]
fn one_thing_together_is_proposed_accepted_and_asked_about_privately() {
    let dir = tempfile::tempdir().unwrap();
    paired(dir.path());
    opens(dir.path(), "alex", T0);
    let mut alex = Live::open(dir.path(), "alex", T0);
    at_pairing(&mut alex);
    alex.press("Our one thing this week");
    alex.press("Propose one");
    assert!(alex.line("a walk on Sunday").contains("Proposed."));
    alex.close();

    let sam = opens(dir.path(), "sam", T0);
    assert!(
        sam.contains("proposed a one thing for the two of you this week:\n> a walk on Sunday"),
        "{sam}"
    );
    let mut sam = Live::open(dir.path(), "sam", T0);
    at_pairing(&mut sam);
    sam.press("Our one thing this week");
    assert!(sam.press("Accept").contains("Accepted"));
    // Sam's own check-in on it, among the pairing choices.
    sam.press("Something else about pairing");
    sam.press("Our one thing this week");
    let asked = sam.press("How my part of it is going");
    assert!(
        asked.contains("agreed on this week: a walk on Sunday"),
        "{asked}"
    );
    assert!(asked.contains("your partner never sees it"));
    sam.press("Not yet");
    sam.close();

    let alex = opens(dir.path(), "alex", T0);
    assert!(
        alex.contains("They accepted your one thing for this week."),
        "{alex}"
    );
    assert!(
        !alex.contains("Not yet") && !alex.contains("not_yet"),
        "{alex}"
    );
    let alex_export: Value = serde_json::from_str(&export(dir.path(), "alex")).unwrap();
    let answers = alex_export["answers"].to_string();
    assert!(
        !answers.contains("not_yet"),
        "Sam's answer in Alex's export: {answers}"
    );
    let sam_export: Value = serde_json::from_str(&export(dir.path(), "sam")).unwrap();
    assert!(sam_export["answers"].to_string().contains("not_yet"));
    // Alex's own check-in on it asks Alex, too.
    let mut alex = Live::open(dir.path(), "alex", T0);
    at_pairing(&mut alex);
    alex.press("Our one thing this week");
    assert!(alex.press("How my part").contains("a walk on Sunday"));
    // And Alex's daily check-in asks about it, after Alex's own small action.
    alex.line("menu");
    alex.press("Today's check-in");
    alex.press("4");
    alex.press("Not today");
    let asked = alex.text();
    assert!(
        asked.contains("agreed on this week: a walk on Sunday"),
        "{asked}"
    );
    alex.press("Partly");
    assert!(
        alex.text().contains("one line about today") || alex.text().contains("one line you'd like")
    );
    alex.close();
    assert!(
        !opens(dir.path(), "sam", T0).contains("Partly"),
        "Alex's answer reached Sam"
    );
}

#[test]
fn retention_erases_pairing_messages_and_codes_in_time() {
    let dir = tempfile::tempdir().unwrap();
    paired(dir.path());
    send(
        dir.path(),
        "sam",
        T0,
        "Something I appreciate",
        "words from March",
    );
    consenting(dir.path(), "kim", T0).close();
    let code = invite(dir.path(), "kim", T0);
    let file = dir.path().join("pair.sqlite");
    let invites = || -> i64 {
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            let pool = sqlx::SqlitePool::connect(&format!("sqlite:{}", file.display()))
                .await
                .unwrap();
            let n = sqlx::query_scalar("SELECT COUNT(*) FROM pair_invites")
                .fetch_one(&pool)
                .await
                .unwrap();
            pool.close().await;
            n
        })
    };
    assert_eq!(invites(), 2, "the used code and the waiting one");
    // 89 days on, all is still there (the chat sweeps as it opens).
    opens(dir.path(), "alex", "2026-05-30T09:00:00Z");
    let alex: Value = serde_json::from_str(&export(dir.path(), "alex")).unwrap();
    assert_eq!(alex["pairing"]["received"][0]["text"], "words from March");
    // 91 days on, the message is gone from both sides; the pairing, still
    // active, stays; the code expired long ago and is gone too.
    opens(dir.path(), "alex", "2026-06-01T09:30:00Z");
    let alex: Value = serde_json::from_str(&export(dir.path(), "alex")).unwrap();
    assert_eq!(alex["pairing"]["received"], serde_json::json!([]));
    assert!(alex["pairing"]["pairings"][0]["ended_at"].is_null());
    let sam: Value = serde_json::from_str(&export(dir.path(), "sam")).unwrap();
    assert_eq!(sam["pairing"]["sent"], serde_json::json!([]));
    assert_eq!(invites(), 0, "the code {code} outlived its day");
}

#[test]
fn a_message_moved_to_another_row_does_not_open_and_the_export_says_so() {
    let dir = tempfile::tempdir().unwrap();
    paired(dir.path());
    send(dir.path(), "sam", T0, "Something I appreciate", "the first");
    send(dir.path(), "sam", T0, "My small action", "the second");
    let file = dir.path().join("pair.sqlite");
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let pool = sqlx::SqlitePool::connect(&format!("sqlite:{}", file.display()))
            .await
            .unwrap();
        let bodies: Vec<(i64, String)> =
            sqlx::query_as("SELECT id, body FROM pair_messages ORDER BY id")
                .fetch_all(&pool)
                .await
                .unwrap();
        assert_eq!(bodies.len(), 2);
        assert!(
            bodies.iter().all(|(_, b)| !b.contains("the first")),
            "sealed"
        );
        for ((id, _), (_, body)) in bodies.iter().zip(bodies.iter().rev()) {
            sqlx::query("UPDATE pair_messages SET body = ? WHERE id = ?")
                .bind(body)
                .bind(id)
                .execute(&pool)
                .await
                .unwrap();
        }
        pool.close().await;
    });
    let mut command = mend(dir.path());
    command.args(["export", "--db", &db(dir.path()), "--user", "terminal:sam"]);
    let (status, stdout, stderr) = run_mend(command, "");
    assert!(status.success(), "{stderr}");
    let sam: Value = serde_json::from_str(&stdout).unwrap();
    for message in sam["pairing"]["sent"].as_array().unwrap() {
        assert!(message["text"]["not_opened"].is_string(), "{message}");
    }
    assert!(
        stderr.contains("2 sealed value(s) did not open"),
        "the count of values not opened: {stderr}"
    );
}

#[test]
fn proposals_are_held_to_the_days_limit_too() {
    let dir = tempfile::tempdir().unwrap();
    paired(dir.path());
    let mut alex = Live::open(dir.path(), "alex", T0);
    at_pairing(&mut alex);
    for n in 0..4 {
        alex.press("Our one thing this week");
        alex.press("Propose one");
        let said = alex.line(&format!("walk number {n}"));
        if n < 3 {
            assert!(said.contains("Proposed."), "{said}");
        } else {
            assert!(
                said.contains("as many as pairing allows in a day"),
                "{said}"
            );
        }
        alex.press("Something else about pairing");
    }
    alex.close();
    assert!(!opens(dir.path(), "sam", T0).contains("walk number 3"));
}
