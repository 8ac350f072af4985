//! The crisis reply does not depend on the database: the real `mend chat`
//! binary, with its SQLite file write-locked by another connection or with a
//! sealed value that will not open, still answers a crisis message with the
//! contacts at once, and the flag is written once the store works again,
//! even across a stop.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout};

use serde_json::Value;
use sqlx::{Connection, SqliteConnection};

use crate::helpers::{mend, run_mend, shipped, typed};
use crate::lock::Lock;
use mend::conversation::engine::{self, Consent, Input, Outcome, State};

const DANGER: &str = "I want to kill myself";
/// Worrying but unclear: mend would ask whether they are safe.
const WORRY: &str = "I have been thinking about not waking up";
/// A database that waits this long for a lock, so a locked turn fails fast.
const CONFIG: &str = "[database]\npath = \"talk.sqlite\"\nbusy_timeout_ms = 200\n";

/// `mend chat --json` talked to line by line: each line sent is answered by
/// exactly one line, so reading it is waiting for the turn to finish.
struct Session {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Session {
    fn start(dir: &Path) -> (Session, Value) {
        let mut command = mend(dir);
        command
            .env("RUST_LOG", "trace")
            .env_remove("MEND_DATA_KEY")
            .args(["chat", "--json", "--as", "sam"]);
        let mut child = command.spawn().expect("mend starts");
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut session = Session {
            child,
            stdin,
            stdout,
        };
        let greeting = session.read();
        (session, greeting)
    }

    fn read(&mut self) -> Value {
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        assert!(!line.is_empty(), "mend stopped");
        serde_json::from_str(&line).unwrap()
    }

    fn say(&mut self, text: &str) -> Value {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{text}").unwrap();
        stdin.flush().unwrap();
        self.read()
    }

    /// Ends the input (a clean stop) and returns what mend logged.
    fn finish(mut self) -> String {
        drop(self.stdin.take());
        let out = self.child.wait_with_output().unwrap();
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

async fn flag_count(db: &Path) -> i64 {
    let mut conn = SqliteConnection::connect(&format!("sqlite:{}", db.display()))
        .await
        .unwrap();
    sqlx::query_scalar("SELECT count(*) FROM flags")
        .fetch_one(&mut conn)
        .await
        .unwrap()
}

/// The one message of a turn is the full crisis reply: the contacts, no
/// buttons (there is no place to go back to), and the three links.
fn assert_crisis_reply(turn: &Value) {
    let messages = turn.as_array().unwrap();
    assert_eq!(messages.len(), 1, "{turn}");
    let text = messages[0]["text"].as_str().unwrap();
    assert!(
        text.contains("116 123") && text.contains("999"),
        "the contacts: {text}"
    );
    assert!(!text.contains("went wrong"), "{text}");
    assert_eq!(messages[0]["choices"], serde_json::json!([]));
    let urls: Vec<&str> = messages[0]["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["url"].as_str().unwrap())
        .collect();
    assert_eq!(
        urls,
        [
            "https://www.relate.org.uk",
            "https://www.cosrt.org.uk",
            "https://www.bacp.co.uk"
        ]
    );
}

fn flags_listed(dir: &Path) -> String {
    let mut command = mend(dir);
    command.env_remove("MEND_DATA_KEY").args(["flags"]);
    let (status, stdout, stderr) = run_mend(command, "");
    assert!(status.success(), "{stderr}");
    stdout
}

/// A database that would wait a minute for another writer's lock: far
/// longer than a crisis reply may wait.
fn setup_waiting_a_minute() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.toml"),
        "[database]\npath = \"talk.sqlite\"\nbusy_timeout_ms = 60000\n",
    )
    .unwrap();
    let db = dir.path().join("talk.sqlite");
    (dir, db)
}

fn setup() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.toml"), CONFIG).unwrap();
    let db = dir.path().join("talk.sqlite");
    (dir, db)
}

#[tokio::test]
async fn a_locked_database_still_gives_the_crisis_reply_and_the_flag_follows() {
    let (dir, db) = setup();
    let (mut chat, _) = Session::start(dir.path());
    let lock = Lock::take(&db).await;

    let reply = chat.say(DANGER);
    assert_crisis_reply(&reply);
    // Shaped like a button id, and typed: screened like any words.
    assert_crisis_reply(&chat.say("i-want:to-kill:myself"));
    // An uncertain one too: its question could not be kept, so the contacts.
    assert_crisis_reply(&chat.say(WORRY));
    // An ordinary line meanwhile gets the kind line, not a crisis reply.
    let ordinary = chat.say("hello");
    assert!(ordinary[0]["text"].as_str().unwrap().contains("went wrong"));

    lock.release().await;
    // The next turn writes the kept flags first; its answer means it is done.
    let after = chat.say("hello");
    assert!(!after[0]["text"].as_str().unwrap().contains("went wrong"));
    assert_eq!(flag_count(&db).await, 1, "one person, one open flag");
    let logs = chat.finish();
    assert!(!logs.is_empty(), "trace logging was on");
    let lower = logs.to_lowercase();
    assert!(
        !lower.contains("kill") && !lower.contains("waking"),
        "typed text logged"
    );

    let listed = flags_listed(dir.path());
    assert!(
        listed.contains("suicide") && listed.contains("terminal:sam"),
        "{listed}"
    );
    assert!(
        listed.contains("3 hits"),
        "every worrying line counted: {listed}"
    );
    assert!(!pending_file(&db).exists());
}

/// Another writer may hold the database far longer than its busy timeout
/// would have a crisis reply wait: the reply goes after a short wait all
/// the same, and the turn is still carried to its end once the lock is
/// gone, so nothing of it is lost and its flag is raised once.
#[tokio::test]
async fn a_crisis_reply_does_not_wait_for_a_long_lock_and_its_turn_is_kept() {
    let (dir, db) = setup_waiting_a_minute();
    let (mut chat, _) = Session::start(dir.path());
    let lock = Lock::take(&db).await;

    // Without the short wait this would come only after the minute's
    // busy timeout, or as a "locked" failure.
    let started = std::time::Instant::now();
    let full = chat.say(DANGER);
    assert_crisis_reply(&full);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "the reply waited for the lock"
    );

    lock.release().await;
    // The turn was kept: a second worrying line within the cooldown gets
    // the short reminder, not the whole reply again.
    let again = chat.say(DANGER);
    let (full, again) = (
        full[0]["text"].as_str().unwrap(),
        again[0]["text"].as_str().unwrap(),
    );
    assert!(again.contains("999") && again.len() < full.len(), "{again}");
    assert_eq!(flag_count(&db).await, 1);
    let logs = chat.finish();
    assert!(
        logs.contains("the store is slow; the crisis reply goes out without it"),
        "{logs}"
    );
    assert!(
        !logs.contains("could not apply"),
        "the turn was not lost: {logs}"
    );
    assert!(!pending_file(&db).exists(), "no flag left waiting");
}

/// An uncertain line past the short wait gets the contacts rather than
/// the question, so its flag is raised, though the turn, kept later,
/// raised none itself.
#[tokio::test]
async fn an_uncertain_line_given_the_contacts_under_a_long_lock_is_still_flagged() {
    let (dir, db) = setup_waiting_a_minute();
    let (mut chat, _) = Session::start(dir.path());
    let lock = Lock::take(&db).await;
    assert_crisis_reply(&chat.say(WORRY));
    lock.release().await;
    chat.say("hello");
    assert_eq!(flag_count(&db).await, 1);
    chat.finish();
    assert!(!pending_file(&db).exists());
}

fn pending_file(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".pending-flags");
    PathBuf::from(name)
}

#[tokio::test]
async fn a_flag_still_waiting_at_a_stop_is_kept_in_a_private_file_and_written_next_time() {
    let (dir, db) = setup();
    let (mut chat, _) = Session::start(dir.path());
    let lock = Lock::take(&db).await;
    assert_crisis_reply(&chat.say(DANGER));
    // Stopped while the lock is still held: the flag goes to the file.
    let logs = chat.finish();
    assert!(!logs.to_lowercase().contains("kill"), "typed text logged");
    lock.release().await;

    let kept = pending_file(&db);
    let text = std::fs::read_to_string(&kept).expect("the flag is kept in a file");
    assert_eq!(text.lines().count(), 1);
    assert!(
        !text.to_lowercase().contains("want to kill myself"),
        "the excerpt is sealed: {text}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&kept).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "owner-only");
    }
    assert_eq!(flag_count(&db).await, 0);

    // The next start writes it and removes the file.
    let (chat, _) = Session::start(dir.path());
    chat.finish();
    assert_eq!(flag_count(&db).await, 1);
    assert!(!kept.exists(), "the file goes once its flags are written");
    let listed = flags_listed(dir.path());
    assert!(
        listed.contains("suicide") && listed.contains("terminal:sam"),
        "{listed}"
    );
}

#[tokio::test]
async fn an_answer_that_will_not_open_is_set_aside_and_the_crisis_reply_and_flag_still_come() {
    let (dir, db) = setup();
    // A first visit: consent, and one written answer kept (sealed).
    let script = shipped();
    let greeted = engine::handle(&script, &State::default(), &Input::Start).state;
    let lines = crate::helpers::route(&script, &greeted, "Make her coffee", |o: &Outcome| {
        o.state.consent == Consent::Given && !o.state.answers.is_empty()
    });
    let (mut chat, _) = Session::start(dir.path());
    for line in typed(&script, &lines) {
        chat.say(&line);
    }
    chat.finish();

    // The disk damages the sealed answer: it no longer opens. The person is
    // told it was set aside, once, and the conversation goes on.
    let mut conn = SqliteConnection::connect(&format!("sqlite:{}", db.display()))
        .await
        .unwrap();
    let changed =
        sqlx::query("UPDATE answers SET value = substr(value, 1, length(value) - 6) || 'AAAAAA'")
            .execute(&mut conn)
            .await
            .unwrap()
            .rows_affected();
    assert_eq!(changed, 1);
    conn.close().await.unwrap();

    let (mut chat, greeting) = Session::start(dir.path());
    let said = greeting.to_string();
    assert!(
        said.contains("set it aside") && !said.contains("went wrong"),
        "{greeting}"
    );
    // The turn is applied, so this is the crisis reply with its way back
    // into the conversation (the reply for a turn that failed has none).
    let crisis = chat.say(DANGER);
    let text = crisis[0]["text"].as_str().unwrap();
    assert!(text.contains("116 123") && text.contains("999"), "{crisis}");
    assert!(!crisis.to_string().contains("went wrong"), "{crisis}");
    assert!(!crisis.to_string().contains("set it aside"), "told once");
    let answers: i64 = {
        let mut conn = SqliteConnection::connect(&format!("sqlite:{}", db.display()))
            .await
            .unwrap();
        sqlx::query_scalar("SELECT count(*) FROM answers")
            .fetch_one(&mut conn)
            .await
            .unwrap()
    };
    assert_eq!(answers, 0, "the value that would not open is gone");
    let logs = chat.finish();
    assert!(!logs.to_lowercase().contains("kill"), "typed text logged");
    assert_eq!(flag_count(&db).await, 1);
    assert!(!pending_file(&db).exists());
    let listed = flags_listed(dir.path());
    assert!(
        listed.contains("suicide") && listed.contains("terminal:sam"),
        "{listed}"
    );
}

/// A "yes" pressed (typed as its number) under mend's question while the
/// store fails still gets the crisis reply, and the flag says it was asked.
#[tokio::test]
async fn yes_to_the_question_under_a_locked_database_still_gets_the_reply_and_a_flag() {
    let (dir, db) = setup();
    let (mut chat, _) = Session::start(dir.path());
    let question = chat.say(WORRY);
    let choices = question[0]["choices"].as_array().unwrap();
    assert_eq!(choices[0]["label"], "Yes", "{question}");
    let lock = Lock::take(&db).await;
    assert_crisis_reply(&chat.say("1"));
    lock.release().await;
    let after = chat.say("hello");
    assert!(!after[0]["text"].as_str().unwrap().contains("went wrong"));
    assert_eq!(flag_count(&db).await, 1);
    let listed = flags_listed(dir.path());
    assert!(listed.contains("answered yes or not sure"), "{listed}");
    chat.finish();
}

/// A flag kept in the pending-flags file by a stop while the database was
/// locked; returns the file.
async fn a_flag_kept_in_the_file(dir: &Path, db: &Path) -> PathBuf {
    let (mut chat, _) = Session::start(dir);
    let lock = Lock::take(db).await;
    assert_crisis_reply(&chat.say(DANGER));
    chat.finish();
    lock.release().await;
    let kept = pending_file(db);
    assert!(kept.exists(), "the flag is kept in a file");
    assert_eq!(flag_count(db).await, 0);
    kept
}

#[tokio::test]
async fn mend_flags_lists_the_flags_waiting_in_the_file_as_not_yet_in_the_database() {
    let (dir, db) = setup();
    let kept = a_flag_kept_in_the_file(dir.path(), &db).await;

    let listed = flags_listed(dir.path());
    assert!(listed.contains("NOT YET IN THE DATABASE"), "{listed}");
    assert!(
        listed.contains("talk.sqlite.pending-flags"),
        "says where: {listed}"
    );
    let waiting = listed
        .lines()
        .find(|l| l.starts_with("waiting "))
        .unwrap_or_else(|| panic!("one line for the flag: {listed}"));
    assert!(
        waiting.contains("suicide") && waiting.contains("terminal:sam"),
        "{listed}"
    );
    // The excerpt, as the listing shows it for flags in the database.
    assert!(
        listed.contains("    > ") && listed.contains("kill myself"),
        "{listed}"
    );
    assert!(kept.exists(), "listing writes nothing");
    assert_eq!(flag_count(&db).await, 0);
}

#[tokio::test]
async fn a_flag_waiting_in_the_file_still_opens_after_the_key_is_rotated() {
    let (dir, db) = setup();
    let kept = a_flag_kept_in_the_file(dir.path(), &db).await;

    let new = mend::crypto::DataKey::generate().to_hex().to_string();
    let mut rotate = mend(dir.path());
    rotate
        .args(["rotate-key"])
        .env_remove("MEND_DATA_KEY")
        .env("MEND_NEW_DATA_KEY", &new);
    let (status, stdout, stderr) = run_mend(rotate, "");
    assert!(status.success(), "{stderr}");
    assert!(stdout.contains("Re-sealed"), "{stdout}");
    assert!(kept.exists(), "still waiting for a start");
    let mut staged = kept.as_os_str().to_owned();
    staged.push(".new");
    assert!(!Path::new(&staged).exists(), "nothing left beside it");

    // The next start, now under the new key, writes it with its excerpt.
    let (chat, _) = Session::start(dir.path());
    chat.finish();
    assert_eq!(flag_count(&db).await, 1);
    assert!(!kept.exists(), "written, so the file goes");
    let mut aside = kept.as_os_str().to_owned();
    aside.push(".unreadable");
    assert!(
        !Path::new(&aside).exists(),
        "nothing set aside as unreadable"
    );
    let listed = flags_listed(dir.path());
    assert!(
        listed.contains("suicide") && listed.contains("kill myself"),
        "{listed}"
    );
}
