//! Accuracy of the crisis screen on labelled relationship messages.
//!
//! Every set here is now tuning data: each was scored once, at first
//! contact, before anyone tuned the rules on it, and that figure is kept in
//! `README.md` beside this file (it is the honest one). The assertions below
//! only guard against losing ground on sets the rules have seen; they prove
//! nothing about messages nobody has written yet. Run with
//! `cargo test --test safety -- --nocapture` to see every miss.
//!
//! Format: `label<TAB>category<TAB>message`, label `urgent` (life in danger
//! right now), `crisis` or `ok`; category one of the five, or `-` for ok.

use std::path::Path;

use mend::safety::learned::{self, Example, Model};
use mend::safety::{Action, Category, Screen};

/// Every set, in the order they were written.
const SETS: &[(&str, &str)] = &[
    ("labelled.tsv", include_str!("labelled.tsv")),
    ("holdout_round1.tsv", include_str!("holdout_round1.tsv")),
    ("holdout.tsv", include_str!("holdout.tsv")),
    ("holdout2.tsv", include_str!("holdout2.tsv")),
    ("blind.tsv", include_str!("blind.tsv")),
    ("train.tsv", include_str!("train.tsv")),
    ("blind_r1.tsv", include_str!("blind_r1.tsv")),
    ("blind_r2.tsv", include_str!("blind_r2.tsv")),
    ("blind_r3.tsv", include_str!("blind_r3.tsv")),
    ("train_r4a.tsv", include_str!("train_r4a.tsv")),
    ("train_r4b.tsv", include_str!("train_r4b.tsv")),
    ("blind_r4.tsv", include_str!("blind_r4.tsv")),
    ("train_r5_answers.tsv", include_str!("train_r5_answers.tsv")),
    ("blind_r5.tsv", include_str!("blind_r5.tsv")),
    ("blind_r6.tsv", include_str!("blind_r6.tsv")),
    ("train_r6_pain.tsv", include_str!("train_r6_pain.tsv")),
    ("blind_r7.tsv", include_str!("blind_r7.tsv")),
    ("train_r8_pairing.tsv", include_str!("train_r8_pairing.tsv")),
    ("blind_r8.tsv", include_str!("blind_r8.tsv")),
    ("train_r9_now.tsv", include_str!("train_r9_now.tsv")),
    ("blind_r9.tsv", include_str!("blind_r9.tsv")),
    ("blind_r10.tsv", include_str!("blind_r10.tsv")),
    ("train_r11_home.tsv", include_str!("train_r11_home.tsv")),
    ("blind_r11.tsv", include_str!("blind_r11.tsv")),
    ("blind_r12.tsv", include_str!("blind_r12.tsv")),
    ("blind_r13.tsv", include_str!("blind_r13.tsv")),
    ("blind_r14.tsv", include_str!("blind_r14.tsv")),
    ("blind_r15.tsv", include_str!("blind_r15.tsv")),
    ("blind_r17.tsv", include_str!("blind_r17.tsv")),
    ("blind_r16.tsv", include_str!("blind_r16.tsv")),
    ("train_r16_voices.tsv", include_str!("train_r16_voices.tsv")),
    ("train_r16_care.tsv", include_str!("train_r16_care.tsv")),
    ("train_r16_urgent.tsv", include_str!("train_r16_urgent.tsv")),
    (
        "train_r16_indirect.tsv",
        include_str!("train_r16_indirect.tsv"),
    ),
    ("blind_r19.tsv", include_str!("blind_r19.tsv")),
    ("train_r19_now.tsv", include_str!("train_r19_now.tsv")),
    ("train_r19_places.tsv", include_str!("train_r19_places.tsv")),
    ("blind_r20.tsv", include_str!("blind_r20.tsv")),
    ("blind_r21.tsv", include_str!("blind_r21.tsv")),
    ("blind_r22.tsv", include_str!("blind_r22.tsv")),
    ("train_r22_others.tsv", include_str!("train_r22_others.tsv")),
    ("train_r23_near.tsv", include_str!("train_r23_near.tsv")),
    ("blind_r23.tsv", include_str!("blind_r23.tsv")),
    ("blind_r24.tsv", include_str!("blind_r24.tsv")),
    ("blind_r25.tsv", include_str!("blind_r25.tsv")),
];

type Row = Example;

fn parse(name: &str, text: &str) -> Vec<Row> {
    learned::parse_set(text).unwrap_or_else(|e| panic!("{name} {e}"))
}

struct Figures {
    recall: f64,
    precision: f64,
    category_accuracy: f64,
    /// Urgent rows that got the full crisis reply, not a question.
    urgent_as_crisis: f64,
    crisis: usize,
    ok: usize,
}

fn evaluate(rows: &[(&str, Row)]) -> Figures {
    evaluate_with(&Screen::embedded(), rows)
}

fn evaluate_with(screen: &Screen, rows: &[(&str, Row)]) -> Figures {
    let (mut tp, mut fp, mut fneg, mut right_cat) = (0usize, 0usize, 0usize, 0usize);
    let (mut urgent, mut urgent_crisis) = (0usize, 0usize);
    for (name, row) in rows {
        let hit = screen.screen(&row.message);
        if row.urgent {
            urgent += 1;
            match &hit {
                Some(h) if h.action == Action::Crisis => urgent_crisis += 1,
                _ => println!("  {name}:{} URGENT, NOT CRISIS: {}", row.line, row.message),
            }
        }
        match (row.category.is_some(), &hit) {
            (true, Some(h)) => {
                tp += 1;
                if Some(h.category) == row.category {
                    right_cat += 1;
                } else {
                    println!(
                        "  {name}:{} category {}, expected {:?} ({}): {}",
                        row.line, h.category, row.category, h.matched, row.message
                    );
                }
            }
            (true, None) => {
                fneg += 1;
                println!("  {name}:{} MISSED: {}", row.line, row.message);
            }
            (false, Some(h)) => {
                fp += 1;
                println!(
                    "  {name}:{} FALSE ALARM ({} {} {}, \"{}\"): {}",
                    row.line, h.action, h.category, h.severity, h.matched, row.message
                );
            }
            (false, None) => {}
        }
    }
    let crisis = tp + fneg;
    let f = Figures {
        recall: tp as f64 / crisis.max(1) as f64,
        precision: tp as f64 / (tp + fp).max(1) as f64,
        category_accuracy: right_cat as f64 / tp.max(1) as f64,
        urgent_as_crisis: urgent_crisis as f64 / urgent.max(1) as f64,
        crisis,
        ok: rows.len() - crisis,
    };
    println!(
        "{} messages ({crisis} crisis, {} ok): recall {:.3}, precision {:.3}, category {:.3}, urgent as crisis {:.3} ({urgent_crisis}/{urgent})",
        rows.len(),
        f.ok,
        f.recall,
        f.precision,
        f.category_accuracy,
        f.urgent_as_crisis,
    );
    f
}

fn all_rows() -> Vec<(&'static str, Row)> {
    SETS.iter()
        .flat_map(|(name, text)| parse(name, text).into_iter().map(move |r| (*name, r)))
        .collect()
}

#[test]
fn the_sets_it_was_tuned_on_keep_their_figures() {
    // Floors just under the figures measured when the rules were last
    // tuned and the learned layer last trained, so a change that loses
    // ground fails. The learned layer has seen every row here, so these
    // figures are far above what it does for messages it has not seen;
    // the fresh blind sets (README.md) are the measure.
    let f = evaluate(&all_rows());
    assert!(f.crisis >= 2000 && f.ok >= 2500, "the sets are too small");
    assert!(f.recall >= 0.99, "recall {:.3}", f.recall);
    assert!(f.precision >= 0.93, "precision {:.3}", f.precision);
    assert!(
        f.category_accuracy >= 0.93,
        "category {:.3}",
        f.category_accuracy
    );
    assert!(
        f.urgent_as_crisis >= 0.99,
        "urgent as crisis {:.3}",
        f.urgent_as_crisis
    );
    // The rules alone, which the layer never silences. Measured 0.769
    // once train_r9_now.tsv, written to be hard for them, joined the sets,
    // and 0.726 once the round 11 training sets (danger to someone the
    // writer looks after, urgent messages, danger said only indirectly,
    // each harder for the rules than any before) did.
    let rules = evaluate_with(&Screen::embedded().without_learned(), &all_rows());
    assert!(
        rules.recall >= 0.72,
        "rules alone: recall {:.3}",
        rules.recall
    );
}

#[test]
fn each_set_is_reported() {
    for (name, text) in SETS {
        println!("== {name}");
        let rows: Vec<_> = parse(name, text).into_iter().map(|r| (*name, r)).collect();
        let f = evaluate(&rows);
        assert!(
            f.crisis > 0 && f.ok > 0,
            "{name} needs both kinds of message"
        );
    }
}

#[test]
fn every_category_has_enough_examples() {
    let rows = all_rows();
    for c in Category::ALL {
        let n = rows.iter().filter(|(_, r)| r.category == Some(c)).count();
        assert!(n >= 60, "{c}: only {n} crisis examples");
        let urgent = rows
            .iter()
            .filter(|(_, r)| r.category == Some(c) && r.urgent)
            .count();
        assert!(urgent >= 5, "{c}: only {urgent} urgent examples");
    }
}

#[test]
fn every_set_is_listed_here_and_the_learned_layer_was_trained_on_them_all() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/safety");
    let on_disk = learned::read_sets(&dir).unwrap();
    let mut names: Vec<&str> = on_disk.iter().map(|(n, _)| n.as_str()).collect();
    let mut listed: Vec<&str> = SETS.iter().map(|(n, _)| *n).collect();
    names.sort_unstable();
    listed.sort_unstable();
    assert_eq!(
        names,
        listed,
        "SETS above must list every set in {}",
        dir.display()
    );
    let model = Model::from_bytes(learned::EMBEDDED).unwrap();
    assert_eq!(
        model.trained_on,
        learned::fingerprint(on_disk.iter().map(|(_, t)| t.as_str())),
        "src/safety/learned.bin is older than the sets: run \
         `cargo run --release --example screen_model -- train` and commit it"
    );
}
