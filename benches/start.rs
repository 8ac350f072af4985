//! What a person waits for and what the machine pays when `mend chat`
//! starts: the release binary, as its own process, on a fresh database in a
//! fresh folder each run, with "quit" on stdin and no token, config or
//! MEND_DATA_KEY (so it makes its own key file). Prints
//!
//! - wall time from spawn to exit (start, greet, quit), min/median/max,
//! - the child's peak resident memory (from wait4's rusage), min/median/max,
//! - the crisis screen's cost per 2,000-character ordinary message, with
//!   and without its learned layer.
//!
//! One warm-up run, then 15 counted (START_RUNS to change it). Run with
//! `cargo bench --bench start`.

use std::fs::File;
use std::hint::black_box;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Instant;

use mend::safety::Screen;

const MEND: &str = env!("CARGO_BIN_EXE_mend");
/// The last thing `mend chat` says when it is told to quit (src/terminal.rs).
const FAREWELL: &str = "Take care of yourself.";

const SENTENCE: &str = "We walked the dog along the canal and talked about what trust \
                        would look like in a year. ";

/// One `mend chat` start, greeting and quit.
struct Run {
    wall_ms: f64,
    peak_rss_mb: f64,
}

// wait4 below reaps the child (and takes its rusage); clippy only knows
// Child::wait, which must not be called after it.
#[expect(clippy::zombie_processes)]
fn run_once() -> Run {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("mend.sqlite");
    let out_path = dir.path().join("stdout");
    let err_path = dir.path().join("stderr");

    let began = Instant::now();
    let mut child = Command::new(MEND)
        .arg("chat")
        .arg("--db")
        .arg(&db)
        // No config.toml is found in an empty folder.
        .current_dir(dir.path())
        .env_remove("MEND_DATA_KEY")
        .env_remove("MEND_DISCORD_TOKEN")
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(File::create(&out_path).unwrap())
        .stderr(File::create(&err_path).unwrap())
        .spawn()
        .expect("cannot start the mend binary");
    {
        // Fits in the pipe's buffer; dropping it closes mend's stdin.
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"quit\n").unwrap();
    }
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: pid is our own unreaped child; status and usage are valid
        // for writes. std's Child is never waited on, so nothing else reaps it.
        let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if reaped == pid {
            break;
        }
        let err = std::io::Error::last_os_error();
        assert_eq!(
            err.kind(),
            std::io::ErrorKind::Interrupted,
            "wait4 failed: {err}"
        );
    }
    let wall_ms = began.elapsed().as_secs_f64() * 1e3;

    let stdout = std::fs::read_to_string(&out_path).unwrap();
    let stderr = std::fs::read_to_string(&err_path).unwrap();
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "mend chat did not exit 0 (wait status {status}); stderr:\n{stderr}"
    );
    let greeting = stdout.split(FAREWELL).next().unwrap_or_default();
    assert!(
        stdout.contains(FAREWELL) && !greeting.trim().is_empty(),
        "mend chat did not greet, then say goodbye; stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        db.exists() && mend::app::key_file(&db).exists(),
        "mend chat made no database or key file in {}",
        dir.path().display()
    );
    Run {
        wall_ms,
        // ru_maxrss is in KiB on Linux.
        peak_rss_mb: usage.ru_maxrss as f64 / 1024.0,
    }
}

/// min / median / max of `values`, sorted in place.
fn spread(values: &mut [f64]) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    let median = if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    };
    (values[0], median, values[n - 1])
}

fn main() {
    let runs: usize = std::env::var("START_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(15);

    run_once(); // warm-up: the binary and its files into the page cache
    let (mut wall, mut rss): (Vec<f64>, Vec<f64>) = (0..runs)
        .map(|_| {
            let run = run_once();
            (run.wall_ms, run.peak_rss_mb)
        })
        .unzip();
    let (lo, mid, hi) = spread(&mut wall);
    println!("mend chat, start + greet + quit, {runs} runs after 1 warm-up:");
    println!("  wall time  min {lo:.1} ms, median {mid:.1} ms, max {hi:.1} ms");
    let (lo, mid, hi) = spread(&mut rss);
    println!("  peak RSS   min {lo:.1} MB, median {mid:.1} MB, max {hi:.1} MB");
    println!("  target: start+greet+quit < 300 ms, peak RSS < 50 MB (aim 30 MB)");

    // The crisis screen on one long ordinary message.
    const MESSAGES: usize = 2_000;
    let built = Instant::now();
    let screen = Screen::embedded();
    let built_ms = built.elapsed().as_secs_f64() * 1e3;
    let mut message = SENTENCE.repeat(2_000usize.div_ceil(SENTENCE.len()));
    message.truncate(2_000); // ASCII: a char boundary
    let message = message.as_str();
    assert!(
        screen.screen(message).is_none(),
        "the ordinary message is flagged"
    );
    println!(
        "crisis screen (built in {built_ms:.0} ms), a {}-character ordinary message, \
         5 batches of {MESSAGES}:",
        message.chars().count()
    );
    for (name, screen, budget) in [
        ("rules alone", screen.without_learned(), "< 1 ms"),
        ("with the learned layer", screen, "< 15 ms"),
    ] {
        let mut per_message_us: Vec<f64> = (0..5)
            .map(|_| {
                let t = Instant::now();
                for _ in 0..MESSAGES {
                    black_box(screen.screen(black_box(message)));
                }
                t.elapsed().as_secs_f64() * 1e6 / MESSAGES as f64
            })
            .collect();
        let (lo, mid, hi) = spread(&mut per_message_us);
        println!(
            "  {name}: median {mid:.1} µs per message (min {lo:.1}, max {hi:.1}); target {budget}"
        );
    }
}
