//! Trains the crisis screen's learned layer, or measures it on a set it was
//! not trained on.
//!
//! ```sh
//! cargo run --release --example screen_model -- train
//! cargo run --release --example screen_model -- holdout blind_r3.tsv
//! cargo run --release --example screen_model -- score /tmp/fresh.tsv
//! ```
//!
//! `train` reads every `*.tsv` in `tests/safety/` (in name order) and writes
//! `src/safety/learned.bin`; the same sets always give the same bytes, and a
//! test fails when the file is older than the sets. `holdout NAME` trains on
//! every set but NAME and scores NAME with the rules alone, the model alone
//! and both together, at several thresholds: a first-contact figure for the
//! model, though the rules may have been tuned on NAME (`SHOW=1` lists what
//! the two together miss, `SHOW=rules` what the rules alone miss; `RULES=path`
//! reads the rules from that file instead of those built in, to try an edit
//! without a rebuild). `score FILE` scores a
//! set with the screen as built, writing nothing; with `SHOW=1` it also
//! lists the ordinary messages given the full crisis reply, and with
//! `SHOW=all` every miss, false alarm, wrong category and immediate danger
//! given less than the full reply.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use mend::safety::learned::{self, Example, Model, Training};
use mend::safety::{Action, Policy, Screen};

fn sets_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/safety")
}

fn read_sets() -> Result<Vec<(String, String)>, String> {
    let dir = sets_dir();
    learned::read_sets(&dir).map_err(|e| format!("{}: {e}", dir.display()))
}

fn examples_of(name: &str, text: &str) -> Result<Vec<Example>, String> {
    learned::parse_set(text).map_err(|e| format!("{name} {e}"))
}

struct Tally {
    tp: usize,
    fp: usize,
    fneg: usize,
    right_category: usize,
    urgent: usize,
    urgent_crisis: usize,
    /// Ordinary messages given the full crisis reply, not a question.
    ok_as_crisis: usize,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            tp: 0,
            fp: 0,
            fneg: 0,
            right_category: 0,
            urgent: 0,
            urgent_crisis: 0,
            ok_as_crisis: 0,
        }
    }

    fn add(&mut self, row: &Example, hit: Option<(mend::safety::Category, Action)>) {
        if row.urgent {
            self.urgent += 1;
            if matches!(hit, Some((_, Action::Crisis))) {
                self.urgent_crisis += 1;
            }
        }
        match (row.category, hit) {
            (Some(want), Some((got, _))) => {
                self.tp += 1;
                if want == got {
                    self.right_category += 1;
                }
            }
            (Some(_), None) => self.fneg += 1,
            (None, Some((_, action))) => {
                self.fp += 1;
                if action == Action::Crisis {
                    self.ok_as_crisis += 1;
                }
            }
            (None, None) => {}
        }
    }

    fn line(&self) -> String {
        let ratio = |a: usize, b: usize| a as f64 / b.max(1) as f64;
        format!(
            "recall {:.3}  precision {:.3}  category {:.3}  urgent as crisis {}/{}  ordinary as crisis {}",
            ratio(self.tp, self.tp + self.fneg),
            ratio(self.tp, self.tp + self.fp),
            ratio(self.right_category, self.tp),
            self.urgent_crisis,
            self.urgent,
            self.ok_as_crisis,
        )
    }
}

/// The screen as built, or with `RULES=path` the rules in that file, read
/// now: for trying an edit without a rebuild.
fn rules_screen() -> Result<Screen, String> {
    match std::env::var("RULES") {
        Ok(path) => {
            let text = fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
            Screen::from_toml(&text, Path::new(&path)).map_err(|e| e.to_string())
        }
        Err(_) => Ok(Screen::embedded()),
    }
}

/// Whether the screen missed a crisis, raised an ordinary message, or gave
/// an immediate danger less than the full reply.
fn missed(row: &Example, hit: Option<&mend::safety::Hit>) -> bool {
    hit.is_some() != row.category.is_some()
        || (row.urgent && !matches!(hit, Some(h) if h.action == Action::Crisis))
}

fn print_miss(row: &Example, hit: Option<&mend::safety::Hit>) {
    println!(
        "    want {:?}{} got {:?}: {}",
        row.category,
        if row.urgent { " now" } else { "" },
        hit.map(|h| (h.category, h.action, &h.matched)),
        row.message
    );
}

fn holdout(name: &str) -> Result<(), String> {
    let sets = read_sets()?;
    let mut training = Vec::new();
    let mut held = None;
    for (n, text) in &sets {
        if n == name {
            held = Some(examples_of(n, text)?);
        } else {
            training.extend(examples_of(n, text)?);
        }
    }
    let held = held.ok_or_else(|| format!("no set called {name} in {}", sets_dir().display()))?;
    let model = learned::train(&training, Training::default(), 0);
    let rules = rules_screen()?.without_learned();
    let tally = |screen: &Screen, show: bool| {
        let mut t = Tally::new();
        for row in &held {
            let hit = screen.screen(&row.message);
            if show && missed(row, hit.as_ref()) {
                print_miss(row, hit.as_ref());
            }
            t.add(row, hit.map(|h| (h.category, h.action)));
        }
        t.line()
    };
    println!(
        "{name}: {} rows, trained on {} others",
        held.len(),
        training.len()
    );
    let show = std::env::var("SHOW").ok();
    println!(
        "  rules alone          {}",
        tally(&rules, show.as_deref() == Some("rules"))
    );
    let base = Policy::default();
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<f32>().ok());
    let policy = Policy {
        ask_at: env("ASK_AT").unwrap_or(base.ask_at),
        urgent_at: env("URGENT_AT").unwrap_or(base.urgent_at),
        category_at: env("CATEGORY_AT").unwrap_or(base.category_at),
        lower_below: env("LOWER_BELOW").unwrap_or(base.lower_below),
    };
    let both = rules.with_learned(model, policy);
    println!(
        "  rules + model        {}   ({policy:?})",
        tally(&both, show.is_some_and(|s| s != "rules"))
    );
    Ok(())
}

fn train() -> Result<(), String> {
    let sets = read_sets()?;
    let mut examples = Vec::new();
    for (n, text) in &sets {
        examples.extend(examples_of(n, text)?);
    }
    let fingerprint = learned::fingerprint(sets.iter().map(|(_, t)| t.as_str()));
    let model = learned::train(&examples, Training::default(), fingerprint);
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/safety/learned.bin");
    fs::write(&out, model.to_bytes()).map_err(|e| format!("{}: {e}", out.display()))?;
    Model::from_bytes(&model.to_bytes()).map_err(|e| e.to_string())?;
    println!(
        "trained on {} messages from {} sets; wrote {}",
        examples.len(),
        sets.len(),
        out.display()
    );
    Ok(())
}

fn score(file: &Path) -> Result<(), String> {
    let text = fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let rows = examples_of(&file.display().to_string(), &text)?;
    let screen = rules_screen()?;
    let rules = screen.without_learned();
    let (mut with, mut without) = (Tally::new(), Tally::new());
    let show = std::env::var("SHOW").ok();
    for row in &rows {
        let hit = screen.screen(&row.message);
        if show.as_deref() == Some("all") {
            let wrong_category =
                matches!((row.category, &hit), (Some(want), Some(h)) if want != h.category);
            if missed(row, hit.as_ref()) || wrong_category {
                print_miss(row, hit.as_ref());
            }
        } else if show.is_some()
            && row.category.is_none()
            && matches!(hit, Some(ref h) if h.action == Action::Crisis)
        {
            println!(
                "    ordinary as crisis {:?}: {}",
                hit.as_ref().map(|h| (h.category, &h.matched)),
                row.message
            );
        }
        with.add(row, hit.map(|h| (h.category, h.action)));
        without.add(
            row,
            rules.screen(&row.message).map(|h| (h.category, h.action)),
        );
    }
    println!("{}: {} rows", file.display(), rows.len());
    println!("  rules alone     {}", without.line());
    println!("  as built        {}", with.line());
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["train"] => train(),
        ["holdout", name] => holdout(name),
        ["score", file] => score(Path::new(file)),
        _ => Err("usage: screen_model train | holdout SET.tsv | score FILE.tsv".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
