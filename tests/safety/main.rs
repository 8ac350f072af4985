//! Accuracy of the crisis screen on labelled relationship messages.
//!
//! `labelled.tsv` is the tuning set: recall and precision are asserted.
//! `holdout.tsv` was written after the phrase lists were frozen; its figures
//! are printed, not asserted, so they stay an honest estimate.
//! `holdout_round1.tsv` was the first holdout; it was then used for tuning.
//! `holdout2.tsv` was written after the round-3 freeze; report only.
//! `blind.tsv` was written by someone who never saw any list or set.
//! Run with `cargo test --test safety -- --nocapture` to see the figures.

use mend::safety::{Category, Screen};

struct Row {
    crisis: bool,
    category: Option<Category>,
    message: String,
    line: usize,
}

fn parse(name: &str, text: &str) -> Vec<Row> {
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.splitn(3, '\t');
        let (Some(label), Some(cat), Some(message)) = (parts.next(), parts.next(), parts.next())
        else {
            panic!(
                "{name} line {}: expected label<TAB>category<TAB>message",
                i + 1
            );
        };
        let crisis = match label {
            "crisis" | "urgent" => true,
            "ok" => false,
            other => panic!(
                "{name} line {}: label {other:?}, expected urgent, crisis or ok",
                i + 1
            ),
        };
        let category = match cat {
            "-" => None,
            "suicide" => Some(Category::Suicide),
            "self_harm" => Some(Category::SelfHarm),
            "harm_others" => Some(Category::HarmOthers),
            "abuse" => Some(Category::Abuse),
            "sexual_violence" => Some(Category::SexualViolence),
            other => panic!("{name} line {}: category {other:?}", i + 1),
        };
        assert_eq!(
            crisis,
            category.is_some(),
            "{name} line {}: crisis rows need a category, ok rows a dash",
            i + 1
        );
        rows.push(Row {
            crisis,
            category,
            message: message.to_owned(),
            line: i + 1,
        });
    }
    rows
}

struct Figures {
    recall: f64,
    precision: f64,
    category_accuracy: f64,
    crisis: usize,
    ok: usize,
}

fn evaluate(name: &str, text: &str) -> Figures {
    let screen = Screen::embedded();
    let rows = parse(name, text);
    let (mut tp, mut fp, mut fneg, mut right_cat) = (0usize, 0usize, 0usize, 0usize);
    let mut per_cat: Vec<(Category, usize, usize)> =
        Category::ALL.iter().map(|&c| (c, 0, 0)).collect();
    for row in &rows {
        let hit = screen.screen(&row.message);
        match (row.crisis, &hit) {
            (true, Some(h)) => {
                tp += 1;
                let entry = per_cat
                    .iter_mut()
                    .find(|(c, _, _)| Some(*c) == row.category)
                    .expect("crisis rows have a category");
                entry.1 += 1;
                if Some(h.category) == row.category {
                    right_cat += 1;
                    entry.2 += 1;
                } else {
                    println!(
                        "  {name}:{} category {:?}, expected {:?} ({}): {}",
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
                    "  {name}:{} FALSE ALARM ({} {}, \"{}\"): {}",
                    row.line, h.category, h.severity, h.matched, row.message
                );
            }
            (false, None) => {}
        }
    }
    let crisis = tp + fneg;
    let recall = tp as f64 / crisis.max(1) as f64;
    let precision = tp as f64 / (tp + fp).max(1) as f64;
    let category_accuracy = right_cat as f64 / tp.max(1) as f64;
    println!(
        "{name}: {} messages ({crisis} crisis, {} ok): recall {recall:.3} ({tp}/{crisis}), precision {precision:.3} ({tp}/{}), false alarms {fp}, category accuracy {category_accuracy:.3} ({right_cat}/{tp})",
        rows.len(),
        rows.len() - crisis,
        tp + fp
    );
    for (c, n, ok) in per_cat {
        println!(
            "  {:<16} flagged {n:>3}, right category {ok:>3}",
            c.as_str()
        );
    }
    Figures {
        recall,
        precision,
        category_accuracy,
        crisis,
        ok: rows.len() - crisis,
    }
}

#[test]
fn labelled_set_meets_targets() {
    let f = evaluate("labelled.tsv", include_str!("labelled.tsv"));
    assert!(f.crisis >= 100 && f.ok >= 100, "the set is too small");
    assert!(f.recall >= 0.97, "recall {:.3} < 0.97", f.recall);
    assert!(f.precision >= 0.90, "precision {:.3} < 0.90", f.precision);
    assert!(
        f.category_accuracy >= 0.85,
        "category accuracy {:.3} < 0.85",
        f.category_accuracy
    );
}

#[test]
fn holdout_set_is_reported() {
    // Written after the phrase lists were frozen and never tuned against.
    // Its figures are printed, not asserted: a threshold here would invite
    // tuning to it, and then it would stop being an honest estimate.
    let f = evaluate("holdout.tsv", include_str!("holdout.tsv"));
    assert!(f.crisis >= 25 && f.ok >= 25, "the holdout set is too small");
    println!(
        "holdout (report only): recall {:.3}, precision {:.3}, category accuracy {:.3}",
        f.recall, f.precision, f.category_accuracy
    );
}

#[test]
fn holdout_two_is_reported() {
    // Written after the round-3 freeze of the phrase lists and never tuned
    // against. Report only, like holdout.tsv.
    let f = evaluate("holdout2.tsv", include_str!("holdout2.tsv"));
    assert!(f.crisis >= 25 && f.ok >= 25, "the holdout set is too small");
    println!(
        "holdout2 (report only): recall {:.3}, precision {:.3}, category accuracy {:.3}",
        f.recall, f.precision, f.category_accuracy
    );
}

#[test]
fn round_one_holdout_now_tuning_data() {
    // The first holdout; it was used for tuning in round two, so it is held
    // to the same bar as the labelled set.
    let f = evaluate("holdout_round1.tsv", include_str!("holdout_round1.tsv"));
    assert!(f.recall >= 0.95, "recall {:.3} < 0.95", f.recall);
    assert!(f.precision >= 0.90, "precision {:.3} < 0.90", f.precision);
}

#[test]
fn every_labelled_category_has_enough_examples() {
    let rows = parse("labelled.tsv", include_str!("labelled.tsv"));
    for c in Category::ALL {
        let n = rows.iter().filter(|r| r.category == Some(c)).count();
        assert!(n >= 25, "{c}: only {n} crisis examples");
    }
}

#[test]
fn blind_set_does_not_regress() {
    // Written by someone who never saw the phrase lists or the other sets,
    // and never used for tuning. It measures the screen on phrasing nobody
    // wrote the lists for. The floor sits just under the figures measured
    // when it was added, so a change that loses ground fails; raising the
    // figures must come from general work on the lists, never from reading
    // these lines.
    let f = evaluate("blind.tsv", include_str!("blind.tsv"));
    assert!(f.crisis >= 100 && f.ok >= 100, "the blind set is too small");
    println!(
        "blind: recall {:.3}, precision {:.3}, category accuracy {:.3}",
        f.recall, f.precision, f.category_accuracy
    );
    assert!(f.recall >= BLIND_RECALL_FLOOR, "recall {:.3}", f.recall);
    assert!(
        f.precision >= BLIND_PRECISION_FLOOR,
        "precision {:.3}",
        f.precision
    );
}

/// Measured when blind.tsv was added, with the lists adopted then: recall
/// 0.750 (90/120), precision 0.978 (90/92). The lists before them scored
/// 0.625 and 0.974.
const BLIND_RECALL_FLOOR: f64 = 0.73;
const BLIND_PRECISION_FLOOR: f64 = 0.95;
