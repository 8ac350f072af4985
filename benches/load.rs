//! Load through the whole stack: 1,000 people × 20 messages sent as DMs to
//! the Discord-compatible test server on 127.0.0.1, read by the real
//! serenity client, applied by the real engine and store, answered back over
//! REST. Each round, every person sends one message; the next round starts
//! when every reply of this one has arrived. Prints messages per second,
//! p50/p99 latency from the gateway event to the first reply, peak memory,
//! and checks that no reply is lost or doubled (every person gets exactly
//! what the engine says, in order).
//!
//! Run with `cargo bench --bench load` (MEND_LOAD_PEOPLE, MEND_LOAD_ROUNDS
//! to change the size).

// The test suite's Discord-compatible server, of which the bench uses a
// few calls only; the rest is the tests' (where all of it is used).
#[allow(unused_imports, dead_code)]
#[path = "../tests/discord/fake.rs"]
mod fake;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use fake::FakeDiscord;
use mend::conversation::engine::{self, Input, State};

const LINES: [&str; 10] = [
    "hello",
    "1",
    "1",
    "menu",
    "2",
    "help",
    "resources",
    "1",
    "menu",
    "restart",
];

/// The bot's process, stopped if the bench fails half way.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A process's peak resident memory (`self` or a pid), from /proc.
fn peak_memory_mb(process: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{process}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let env = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let people = env("MEND_LOAD_PEOPLE", 1000);
    let rounds = env("MEND_LOAD_ROUNDS", 20);

    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.toml"),
        format!(
            "[database]\npath = \"load.sqlite\"\n\n[discord]\napi_base = \"{}\"\n",
            fake.base_url()
        ),
    )
    .unwrap();
    // mend runs as its own process, the release binary, so its memory is
    // measured apart from the fake server's records of every request.
    let mut bot = Running(
        std::process::Command::new(env!("CARGO_BIN_EXE_mend"))
            .arg("serve")
            .current_dir(dir.path())
            .env("MEND_DISCORD_TOKEN", fake.token())
            .env("MEND_DATA_KEY", "5e".repeat(32))
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    fake.wait_ready(Duration::from_secs(30)).await;
    fake.wait_for_request("PUT /applications/*/commands", Duration::from_secs(30))
        .await;

    // What every person is owed, round by round.
    let script = mend::flows::load_embedded().unwrap();
    let mut state = State::default();
    let mut owed: Vec<Vec<String>> = Vec::new();
    for round in 0..rounds {
        let line = LINES[round % LINES.len()];
        let outcome = engine::handle(&script, &state, &Input::Text(line.into()));
        state = outcome.state;
        owed.push(
            outcome
                .replies
                .iter()
                .map(|r| r.text().to_owned())
                .collect(),
        );
    }
    let users: Vec<u64> = (0..people as u64)
        .map(|i| 480_000_000_000_000_000 + i)
        .collect();
    let channels: HashMap<String, u64> = users
        .iter()
        .map(|&u| {
            (
                format!("/api/v10/channels/{}/messages", fake.dm_channel_id(u)),
                u,
            )
        })
        .collect();

    let began = Instant::now();
    let mut latencies = Vec::with_capacity(people * rounds);
    // Requests looked at so far, and the successful DM replies among them.
    let mut seen = 0;
    let mut done = 0;
    let mut expected_total = 0;
    let mut failed: HashMap<(String, u16), usize> = HashMap::new();
    for (round, replies) in owed.iter().enumerate() {
        let line = LINES[round % LINES.len()];
        let mut sent_at = HashMap::with_capacity(people);
        for &user in &users {
            fake.send_dm(user, line);
            sent_at.insert(user, Instant::now());
        }
        expected_total += replies.len() * people;
        // Wait for the round's replies, then take each person's first one.
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut first: HashMap<u64, Instant> = HashMap::with_capacity(people);
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let new = fake.requests_from(seen);
            seen += new.len();
            for request in &new {
                let dm = channels.get(&request.path);
                match (request.method.as_str(), request.status, dm) {
                    ("POST", 200, Some(&user)) => {
                        done += 1;
                        first.entry(user).or_insert(request.at);
                    }
                    (_, 200 | 204, _) => {}
                    (method, status, dm) => {
                        let route = if dm.is_some() { "dm" } else { &request.path };
                        *failed
                            .entry((format!("{method} {route}"), status))
                            .or_default() += 1;
                    }
                }
            }
            if done >= expected_total {
                latencies.extend(
                    users
                        .iter()
                        .map(|u| first[u].duration_since(sent_at[u]).as_secs_f64() * 1000.0),
                );
                break;
            }
            if Instant::now() >= deadline {
                let db = dir.path().join("load.sqlite");
                let pool = sqlx::SqlitePool::connect(&format!("sqlite:{}", db.display()))
                    .await
                    .unwrap();
                let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM processed_events")
                    .fetch_one(&pool)
                    .await
                    .unwrap();
                let dispatched = fake
                    .gateway()
                    .sent
                    .iter()
                    .filter(|f| f["t"] == "MESSAGE_CREATE")
                    .count();
                panic!(
                    "round {round}: {done} of {expected_total} replies after 120 s; failed requests: \
                     {failed:?}; messages applied {applied} of {}; MESSAGE_CREATE written to the gateway {dispatched}",
                    people * (round + 1)
                );
            }
        }
        eprintln!(
            "round {} of {rounds}: {:.1} s",
            round + 1,
            began.elapsed().as_secs_f64()
        );
    }
    let elapsed = began.elapsed().as_secs_f64();

    // Nothing lost, nothing doubled: each person's replies are exactly
    // what the engine says, in order.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let want: Vec<&String> = owed.iter().flatten().collect();
    let mut got: HashMap<u64, Vec<String>> = HashMap::new();
    for request in fake.requests() {
        if request.method == "POST"
            && request.status == 200
            && let Some(&user) = channels.get(&request.path)
        {
            got.entry(user).or_default().push(
                request.body["content"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            );
        }
    }
    let mut wrong = 0;
    for user in &users {
        let theirs = got.get(user).cloned().unwrap_or_default();
        if theirs.len() != want.len() || theirs.iter().zip(&want).any(|(a, b)| a != *b) {
            wrong += 1;
        }
    }

    latencies.sort_by(f64::total_cmp);
    let messages = people * rounds;
    println!(
        "load: {people} people × {rounds} messages = {messages} messages, {} replies, in {elapsed:.1} s",
        expected_total
    );
    println!(
        "  {:.0} messages/s; latency from gateway event to first reply: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        messages as f64 / elapsed,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or_default()
    );
    println!(
        "  peak memory: mend {:.0} MB; the bench with its fake Discord (which keeps every request) {:.0} MB",
        peak_memory_mb(&bot.0.id().to_string()),
        peak_memory_mb("self")
    );
    println!("  people with a lost, doubled or out-of-order reply: {wrong}");
    if !failed.is_empty() {
        println!("  requests the fake refused along the way (mend retried): {failed:?}");
    }
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &bot.0.id().to_string()])
        .status();
    let stopped = bot.0.wait().unwrap();
    assert!(stopped.success(), "mend did not stop cleanly: {stopped}");
    assert_eq!(wrong, 0, "replies were lost or doubled");
}
