//! Throughput of `Screen::screen` on a mixed corpus of at least 5 MB, how
//! much of it is normalising, and the cost of one 2,000-character message
//! (the budget: under a millisecond for the rules, under 15 ms
//! with the learned layer), each with and without the learned layer. Plain `std::time::Instant`;
//! run with `cargo bench --bench screen`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use mend::safety::{Screen, normalise};

const LABELLED: &str = include_str!("../tests/safety/labelled.tsv");

const PARAGRAPH_SENTENCES: &[&str] = &[
    "We spent most of Sunday in the garden, and for once neither of us checked the time.",
    "She told me about her week at work, the new manager, and the project that keeps slipping.",
    "I have been trying to notice the small things he does, like making tea before I wake up.",
    "Our counsellor suggested we set aside twenty minutes each evening just to talk about the day.",
    "Some days it feels like we are strangers sharing a kitchen, and other days it feels like home again.",
    "The kids were noisy at dinner, but afterwards we sat on the sofa and watched an old film together.",
    "I keep a notebook now, and writing things down helps me see that the bad days are getting rarer.",
    "He apologised again, without me asking, and I could tell he meant it this time.",
    "We argued about money on Tuesday, then agreed to sit down with the bank statements on Friday.",
    "My sister thinks I am mad for staying, but she has not seen how hard we have both been working.",
    "I booked a table at the little Italian place where we had our first proper date years ago.",
    "It still stings when a song comes on the radio that reminds me of that summer.",
    "We walked the dog along the canal and talked about what trust would look like in a year.",
    "I told her I needed more time before we are intimate again, and she said she would wait.",
    "The weekend away was lovely, even if the hotel was noisy and the weather was grey.",
];

fn corpus() -> Vec<String> {
    let labelled: Vec<&str> = LABELLED
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.splitn(3, '\t').nth(2))
        .collect();
    let openers = [
        "",
        "hi, ",
        "Honestly ",
        "so ",
        "Today: ",
        "ok so ",
        "UPDATE - ",
    ];
    let closers = [
        "",
        " thanks",
        " ...",
        " x",
        " idk",
        " What should I do?",
        " :(",
    ];
    let mut out = Vec::new();
    let mut bytes = 0usize;
    let mut i = 0usize;
    while bytes < 5_500_000 {
        let msg = if i % 10 == 9 {
            // a long ordinary paragraph, 1-4 KB
            let n = 12 + (i * 7) % 40;
            (0..n)
                .map(|k| PARAGRAPH_SENTENCES[(i + k * 3) % PARAGRAPH_SENTENCES.len()])
                .collect::<Vec<_>>()
                .join(" ")
        } else {
            let base = labelled[(i * 31) % labelled.len()];
            let body = match i % 4 {
                0 => base.to_owned(),
                1 => base.to_uppercase(),
                2 => format!(
                    "{base}. {}",
                    PARAGRAPH_SENTENCES[i % PARAGRAPH_SENTENCES.len()]
                ),
                _ => base.replace(' ', "  "),
            };
            format!(
                "{}{body}{}",
                openers[i % openers.len()],
                closers[(i / 3) % closers.len()]
            )
        };
        bytes += msg.len();
        out.push(msg);
        i += 1;
    }
    out
}

fn report(name: &str, bytes: usize, msgs: usize, t: Duration) {
    let secs = t.as_secs_f64();
    let mbs = bytes as f64 / 1e6 / secs;
    println!(
        "{name:<28} {:>7.2} MB in {:>7.3} s  {mbs:>9.1} MB/s  {:>11.0} msgs/s",
        bytes as f64 / 1e6,
        secs,
        msgs as f64 / secs
    );
}

fn main() {
    let built = Instant::now();
    let screen = Screen::embedded();
    println!(
        "screen built in {:.1} ms; {} frames and scope rules over {} words",
        built.elapsed().as_secs_f64() * 1e3,
        screen
            .summary()
            .categories
            .iter()
            .map(|c| c.frames)
            .sum::<usize>()
            + screen.summary().scope,
        screen.summary().words
    );
    let messages = corpus();
    let bytes: usize = messages.iter().map(String::len).sum();
    println!(
        "corpus: {} messages, {:.2} MB",
        messages.len(),
        bytes as f64 / 1e6
    );

    let mut best_norm = Duration::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        for m in &messages {
            black_box(normalise(black_box(m)));
        }
        best_norm = best_norm.min(t.elapsed());
    }
    report("normalise alone", bytes, messages.len(), best_norm);

    // The budget for a 2,000-character message: under a millisecond
    // for the rules, under 15 ms with the learned layer.
    let long: String = messages
        .iter()
        .flat_map(|m| [m.as_str(), " "])
        .collect::<String>()
        .chars()
        .take(2000)
        .collect();
    let rules = measure("rules alone", &screen.without_learned(), &messages, &long);
    let both = measure("rules + learned layer", &screen, &messages, &long);
    println!(
        "target: rules < 1000 µs ({}), with the learned layer < 15000 µs ({}); \
         the learned layer costs {:.2}x the rules alone",
        if rules < 1000.0 { "met" } else { "NOT met" },
        if both < 15000.0 { "met" } else { "NOT met" },
        both / rules
    );
}

/// Throughput over the corpus and the median cost of the long message, in
/// microseconds.
fn measure(name: &str, screen: &Screen, messages: &[String], long: &str) -> f64 {
    let bytes: usize = messages.iter().map(String::len).sum();
    // warm up, and count hits so both screens can be compared
    let hits = messages
        .iter()
        .filter(|m| screen.screen(m).is_some())
        .count();
    let mut best = Duration::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        for m in messages {
            black_box(screen.screen(black_box(m)));
        }
        best = best.min(t.elapsed());
    }
    report(&format!("{name} (best of 5)"), bytes, messages.len(), best);
    let mut per_message = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        for _ in 0..200 {
            black_box(screen.screen(black_box(long)));
        }
        per_message.push(t.elapsed().as_secs_f64() * 1e6 / 200.0);
    }
    per_message.sort_by(f64::total_cmp);
    let median = per_message[per_message.len() / 2];
    println!(
        "  hits: {hits}/{} messages; a 2,000-character message: {median:.0} µs (median of 5 x 200)",
        messages.len()
    );
    median
}
