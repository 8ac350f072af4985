//! Small builders shared by the core tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use mend::flows::{self, Script};
use mend::referrals::{LINKS, Reply};
use mend::store::{Store, StoreOptions};

/// The shipped flows, as `mend chat` uses them.
pub fn shipped() -> Script {
    flows::load_dir(&prompts_dir()).expect("the shipped prompts are valid")
}

pub fn prompts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts")
}

/// The data key core tests seal with.
pub fn test_key() -> mend::crypto::DataKey {
    mend::crypto::DataKey::parse(&"5a".repeat(32), "the test key").unwrap()
}

/// A fresh database file in its own folder (dropped with the folder).
pub async fn temp_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = open_in(dir.path()).await;
    (dir, store)
}

/// The store in `dir` (made by [`temp_store`]), opened again.
pub async fn open_in(dir: &Path) -> Store {
    Store::open(
        &dir.join("mend.sqlite"),
        &StoreOptions::default(),
        &test_key(),
    )
    .await
    .unwrap()
}

/// The smallest valid pair of flows, for tests to add a broken file to.
pub const WELCOME: &str = r#"
id = "welcome"
title = "Welcome"
summary = "Hello."
start = "hello"

[[steps]]
id = "hello"
say = "Hello."
choices = [{ label = "Menu", flow = "menu" }]
"#;

pub const MENU: &str = r#"
id = "menu"
title = "Menu"
summary = "Everything."
start = "pick"

[[steps]]
id = "pick"
say = "Pick one."
choices = [{ label = "Welcome", flow = "welcome" }]
"#;

/// A prompts folder holding `welcome`, `menu` and the given extra files.
pub fn prompts_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let flows = dir.path().join("flows");
    std::fs::create_dir(&flows).unwrap();
    std::fs::write(flows.join("welcome.toml"), WELCOME).unwrap();
    std::fs::write(flows.join("menu.toml"), MENU).unwrap();
    for shared in ["safety.toml", "crisis.toml"] {
        std::fs::copy(prompts_dir().join(shared), dir.path().join(shared)).unwrap();
    }
    for (name, text) in files {
        std::fs::write(flows.join(name), text).unwrap();
    }
    dir
}

/// Every message mend sends carries the three services, in order.
pub fn assert_links(replies: &[Reply]) {
    for reply in replies {
        assert_eq!(reply.links(), &LINKS, "a reply without the links");
    }
    let json = serde_json::to_value(replies).unwrap();
    for reply in json.as_array().unwrap() {
        let urls: Vec<&str> = reply["links"]
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
}

/// The built `mend` binary, run in `cwd`.
pub fn mend(cwd: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mend"));
    command
        .current_dir(cwd)
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Runs `mend` with `input` on stdin and returns (status, stdout, stderr).
pub fn run_mend(mut command: Command, input: &str) -> (std::process::ExitStatus, String, String) {
    use std::io::Write;
    let mut child = command.spawn().expect("mend starts");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_owned();
    let writer = std::thread::spawn(move || {
        // The child may stop reading early (quit); a broken pipe is fine then.
        let _ = stdin.write_all(input.as_bytes());
    });
    let out = child.wait_with_output().expect("mend runs");
    writer.join().unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub use crate::route::{inputs_at, route};

/// What a person types into `mend chat` to follow `lines` (button ids, or
/// words) from a first visit: each button id becomes its number among the
/// choices last shown, since the terminal takes only a number as a press.
pub fn typed(script: &Script, lines: &[String]) -> Vec<String> {
    use mend::conversation::engine::{self, Input, State};
    fn see(replies: &[Reply], shown: &mut Vec<String>) {
        if let Some(last) = replies.iter().rev().find(|r| !r.choices().is_empty()) {
            *shown = last.choices().iter().map(|c| c.id.clone()).collect();
        }
    }
    let mut shown = Vec::new();
    let start = engine::handle(script, &State::default(), &Input::Start);
    see(&start.replies, &mut shown);
    let mut state = start.state;
    let mut out = Vec::new();
    for line in lines {
        let (input, typed) = if line.contains(':') {
            let number = shown
                .iter()
                .position(|id| id == line)
                .unwrap_or_else(|| panic!("{line} is not among the choices shown: {shown:?}"));
            (Input::Choice(line.clone()), (number + 1).to_string())
        } else {
            (Input::Text(line.clone()), line.clone())
        };
        let outcome = engine::handle(script, &state, &input);
        see(&outcome.replies, &mut shown);
        state = outcome.state;
        out.push(typed);
    }
    out
}

/// A connection pool of its own on `store`'s file, for tests that look at
/// the tables directly (the store keeps its pool to itself).
pub async fn raw(store: &Store) -> sqlx::SqlitePool {
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(store.path())
        .foreign_keys(true)
        .busy_timeout(std::time::Duration::from_secs(5));
    sqlx::SqlitePool::connect_with(options).await.unwrap()
}

/// Someone resting at the menu, with `consent`, as after the welcome.
pub fn at_menu(consent: mend::conversation::engine::Consent) -> mend::conversation::engine::State {
    mend::conversation::engine::State {
        consent,
        place: Some(mend::conversation::engine::Place {
            flow: "menu".into(),
            step: "pick".into(),
        }),
        ..mend::conversation::engine::State::default()
    }
}

/// The words of each reply of a turn.
pub fn texts(outcome: &mend::conversation::engine::Outcome) -> Vec<String> {
    outcome
        .replies
        .iter()
        .map(|r| r.text().to_owned())
        .collect()
}
