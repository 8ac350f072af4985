//! Starting mend against the fake server, and a person who talks to it
//! while the same engine, run beside it, says what mend should answer.

use std::path::{Path, PathBuf};
use std::time::Duration;

use mend::app::{self, AppError};
use mend::config::{Config, Moderation};
use mend::conversation::engine::{self, Input, State};
use mend::flows::Script;
use mend::referrals::Reply;
use mend::secret::Secret;
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::fake::FakeDiscord;

pub const T: Duration = Duration::from_secs(10);
pub const GUILD: u64 = 300_000_000_000_000_001;
pub const MOD_ROLE: u64 = 300_000_000_000_000_077;

pub fn shipped() -> Script {
    mend::flows::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts")).unwrap()
}

/// Everything logged while these tests run, at the most verbose level,
/// through mend's own filter: the tests check that nothing anyone typed is in it.
static LOGS: std::sync::OnceLock<std::sync::Arc<std::sync::Mutex<Vec<u8>>>> =
    std::sync::OnceLock::new();

#[derive(Clone)]
struct Capture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() {
    LOGS.get_or_init(|| {
        let buffer = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let writer = Capture(buffer.clone());
        // SAFETY of the test: set once, before any client starts.
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(mend::telemetry::filter(Some("trace"), "trace"))
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
        buffer
    });
}

/// The log so far.
pub fn logs() -> String {
    LOGS.get()
        .map(|b| String::from_utf8_lossy(&b.lock().unwrap()).into_owned())
        .unwrap_or_default()
}

/// Typed texts long and particular enough that finding one in the log can
/// only mean it was logged: at least 12 characters, not one repeated letter
/// or word, and not a button id or command word.
fn recognisable(typed: Vec<String>) -> Vec<String> {
    typed
        .into_iter()
        .map(|t| t.trim().to_owned())
        .filter(|t| t.chars().count() >= 12)
        .filter(|t| {
            let words: std::collections::HashSet<&str> = t.split_whitespace().collect();
            let letters: std::collections::HashSet<char> = t.chars().collect();
            words.len() > 1 && letters.len() > 3
        })
        .collect()
}

/// Fails if any of these texts reached the log.
pub fn assert_not_logged(texts: &[String]) {
    let logs = logs();
    assert!(!logs.is_empty(), "trace logging was on");
    for text in texts {
        assert!(
            !logs.contains(text.as_str()),
            "typed text reached the log: {text:?}"
        );
    }
}

/// A running `mend serve`.
pub struct Mend {
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), AppError>>,
}

pub fn config(fake: &FakeDiscord, db: &Path) -> Config {
    let mut config = Config::default();
    config.database.path = db.to_owned();
    config.discord.api_base = Some(fake.base_url());
    config
}

pub fn with_moderators(mut config: Config, fake: &FakeDiscord, ping: bool) -> Config {
    config.moderation = Moderation {
        guild_id: Some(GUILD),
        channel_id: Some(fake.guild_channel_id(GUILD)),
        role_id: Some(MOD_ROLE),
        ping_role: ping,
    };
    config
}

impl Mend {
    /// Starts mend and waits until it has identified and registered its commands.
    pub async fn start(fake: &FakeDiscord, config: Config) -> Mend {
        Mend::start_inner(fake, config, None).await
    }

    /// [`Mend::start`] with a clock the test moves (check-ins, commands and
    /// applied events all read it).
    pub async fn start_with_clock(
        fake: &FakeDiscord,
        config: Config,
        clock: mend::clock::ManualClock,
    ) -> Mend {
        Mend::start_inner(fake, config, Some(clock)).await
    }

    async fn start_inner(
        fake: &FakeDiscord,
        config: Config,
        clock: Option<mend::clock::ManualClock>,
    ) -> Mend {
        capture_logs();
        let identified = fake.gateway().identifies.len();
        let registered = fake
            .requests()
            .iter()
            .filter(|r| r.is("PUT /applications/*/commands"))
            .count();
        let (stop, stopped) = oneshot::channel();
        let token = Secret::new(fake.token());
        let task = tokio::spawn(async move {
            let stopped = async {
                let _ = stopped.await;
            };
            match clock {
                Some(clock) => {
                    let clock = std::sync::Arc::new(clock);
                    app::serve_with_clock(&config, Some(token), Some(test_key()), clock, stopped)
                        .await
                }
                None => app::serve(&config, Some(token), Some(test_key()), stopped).await,
            }
        });
        fake.wait_gateway(|g| g.identifies.len() > identified, T)
            .await;
        fake.wait_for(
            |reqs| {
                reqs.iter()
                    .filter(|r| r.is("PUT /applications/*/commands") && r.status == 200)
                    .count()
                    > registered
            },
            T,
        )
        .await;
        Mend {
            stop: Some(stop),
            task,
        }
    }

    /// Asks mend to stop (as SIGTERM does) and waits for it; then checks
    /// that nothing any user typed, in this test or any other run so far,
    /// reached the log (captured at trace level for the whole suite).
    pub async fn stop(mut self) -> Result<(), AppError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let result = tokio::time::timeout(T, &mut self.task)
            .await
            .expect("mend stops in time")
            .expect("mend's task did not panic");
        assert_not_logged(&recognisable(crate::fake::typed_so_far()));
        result
    }
}

/// Messages mend sent into a channel, oldest first.
pub fn bot_messages(fake: &FakeDiscord, channel: u64) -> Vec<Value> {
    let bot = fake.bot_user_id().to_string();
    fake.channel_messages(channel)
        .into_iter()
        .filter(|m| m["author"]["id"] == bot.as_str())
        .collect()
}

/// The custom ids of a stored message's buttons, and its link buttons' urls.
pub fn buttons(message: &Value) -> (Vec<String>, Vec<String>) {
    let mut ids = Vec::new();
    let mut urls = Vec::new();
    for row in message["components"].as_array().into_iter().flatten() {
        for button in row["components"].as_array().into_iter().flatten() {
            if let Some(id) = button["custom_id"].as_str() {
                ids.push(id.to_owned());
            }
            if let Some(url) = button["url"].as_str() {
                urls.push(url.to_owned());
            }
        }
    }
    (ids, urls)
}

/// Every message body mend sent in the whole test allows no mentions and
/// carries the three service links as its last row, and mend called no
/// route that Discord does not have.
pub fn assert_every_message_is_safe(fake: &FakeDiscord) {
    // mend only calls routes Discord has (the fake answers others 404).
    let unknown: Vec<String> = fake
        .unknown_routes()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(
        unknown.is_empty(),
        "routes Discord does not have: {unknown:?}"
    );
    let mut checked = 0;
    for request in fake.requests() {
        let body = if request.is("POST /channels/*/messages")
            || request.is("PATCH /webhooks/*/*/messages/@original")
        {
            request.body.clone()
        } else if request.is("POST /interactions/*/*/callback")
            && matches!(request.body["type"].as_u64(), Some(4) | Some(7))
        {
            request.body["data"].clone()
        } else {
            continue;
        };
        checked += 1;
        let mentions = &body["allowed_mentions"];
        assert_eq!(mentions["parse"], serde_json::json!([]), "{body}");
        assert!(
            mentions["users"].as_array().is_none_or(|u| u.is_empty()),
            "{body}"
        );
        if body["content"].is_string() {
            let rows = body["components"].as_array().expect("components");
            let last = rows.last().expect("a link row");
            let urls: Vec<&str> = last["components"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|b| b["url"].as_str())
                .collect();
            assert_eq!(
                urls,
                [
                    "https://www.relate.org.uk",
                    "https://www.cosrt.org.uk",
                    "https://www.bacp.co.uk"
                ],
                "{body}"
            );
        }
    }
    assert!(checked > 0, "nothing was sent");
}

/// Someone talking to mend in DMs, with the engine run beside to predict
/// each answer exactly.
pub struct Person<'a> {
    pub fake: &'a FakeDiscord,
    pub user: u64,
    pub channel: u64,
    pub expected: State,
    /// What this person wrote that is long enough to be recognisable.
    pub typed: Vec<String>,
    script: Script,
}

impl<'a> Person<'a> {
    pub fn new(fake: &'a FakeDiscord, user: u64) -> Person<'a> {
        Person {
            fake,
            user,
            channel: fake.dm_channel_id(user),
            expected: State::default(),
            typed: Vec::new(),
            script: shipped(),
        }
    }

    pub fn script(&self) -> &Script {
        &self.script
    }

    pub fn sent(&self) -> Vec<Value> {
        bot_messages(self.fake, self.channel)
    }

    /// Waits for `count` messages from mend in this DM, beyond `before`.
    /// Counts messages the fake keeps, not requests: a retried send that
    /// Discord recognises by its nonce makes no second message.
    pub async fn wait_messages(&self, before: usize, count: usize) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + T;
        loop {
            let sent = self.sent();
            if sent.len() >= before + count {
                return sent[before..].to_vec();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {count} messages after {before}; mend sent {}:\n{}",
                sent.len(),
                self.fake.dump()
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// Waits for mend's answer when its length cannot be predicted (a
    /// menu tool's report comes before the step): at least one message
    /// beyond `before`, then none more for 300 ms.
    pub async fn wait_answer(&self, before: usize) -> Vec<Value> {
        let quiet = std::time::Duration::from_millis(300);
        self.wait_messages(before, 1).await;
        let mut seen = self.sent().len();
        let mut since = tokio::time::Instant::now();
        loop {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            let now = self.sent().len();
            if now != seen {
                (seen, since) = (now, tokio::time::Instant::now());
            } else if since.elapsed() >= quiet {
                return self.sent()[before..].to_vec();
            }
        }
    }

    fn predict(&mut self, input: &Input) -> Vec<Reply> {
        let outcome = engine::handle(&self.script, &self.expected, input);
        self.expected = outcome.state;
        outcome.replies
    }

    /// Writes a DM and checks mend's answer against the engine's.
    pub async fn say(&mut self, text: &str) -> Vec<Value> {
        let before = self.sent().len();
        let expected = self.predict(&Input::Text(text.to_owned()));
        if text.len() >= 12 {
            self.typed.push(text.to_owned());
        }
        self.fake.send_dm(self.user, text);
        let got = self.wait_messages(before, expected.len()).await;
        assert_matches(&got, &expected);
        got
    }

    /// Presses a button on the latest message that has it.
    pub async fn press(&mut self, custom_id: &str) -> Vec<Value> {
        let message = self
            .sent()
            .into_iter()
            .rev()
            .find(|m| buttons(m).0.iter().any(|id| id == custom_id))
            .unwrap_or_else(|| panic!("no message has the button {custom_id}"));
        let id: u64 = message["id"].as_str().unwrap().parse().unwrap();
        let before = self.sent().len();
        let expected = self.predict(&Input::Choice(custom_id.to_owned()));
        self.fake.press_button(self.user, id, custom_id);
        let got = self.wait_messages(before, expected.len()).await;
        assert_matches(&got, &expected);
        got
    }

    /// A button id (contains ':') is pressed; anything else is written.
    pub async fn act(&mut self, line: &str) -> Vec<Value> {
        if line.contains(':') {
            self.press(line).await
        } else {
            self.say(line).await
        }
    }
}

pub fn assert_matches(got: &[Value], expected: &[Reply]) {
    assert_eq!(got.len(), expected.len(), "{got:#?}");
    for (message, reply) in got.iter().zip(expected) {
        assert_eq!(message["content"].as_str(), Some(reply.text()));
        let (ids, urls) = buttons(message);
        let want: Vec<&str> = reply.choices().iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, want);
        assert_eq!(urls.len(), 3);
    }
}

/// The data key every test bot uses, so a test can open its database.
pub fn test_key() -> mend::crypto::DataKey {
    mend::crypto::DataKey::parse(TEST_KEY_HEX, "the test key").unwrap()
}

/// [`test_key`] as the binary reads it from MEND_DATA_KEY.
pub const TEST_KEY_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

/// A connection pool on a test's database, to look at what mend stored.
pub async fn open_db(db: &std::path::Path) -> sqlx::SqlitePool {
    sqlx::SqlitePool::connect(&format!("sqlite:{}", db.display()))
        .await
        .unwrap()
}

pub fn temp_db() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mend.sqlite");
    (dir, path)
}

/// Polls `ready` (which may itself ask the fake) until it holds. The fake's
/// own `wait_for` holds its lock while testing, so it cannot be used for that.
pub async fn until(what: &str, ready: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + T;
    while !ready() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
