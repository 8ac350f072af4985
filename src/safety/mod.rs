//! Crisis screening: does a message suggest someone may be in danger?
//!
//! The phrase lists live in `prompts/safety.toml` (written for counsellors).
//! A [`Screen`] is built from that file once; [`Screen::screen`] then
//! normalises a message (see [`normalise`]) and finds every listed phrase in a
//! single Aho-Corasick pass. Matches must start and end on word boundaries
//! (or lie inside letters that were spaced out, "k i l l m y s e l f").
//! A hit is dropped when a harmless idiom ("dying to know") covers it; the
//! most severe remaining hit is returned.
//!
//! The module is pure: no I/O except [`Screen::load`], no clock, no async.

mod config;
mod crisis;
mod normalise;

use std::cell::RefCell;
use std::fmt;
use std::path::Path;
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use serde::{Deserialize, Serialize};

pub use config::SafetyError;
use config::{Compiled, Target};
pub use crisis::{Contact, CrisisError, CrisisReplies, EMBEDDED_CRISIS_TOML};
pub use normalise::normalise;
use normalise::{Normalised, One, normalise_into};

/// What kind of danger a phrase suggests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    SelfHarm,
    HarmOthers,
    Abuse,
    SexualViolence,
}

impl Category {
    pub const ALL: [Category; 4] = [
        Category::SelfHarm,
        Category::HarmOthers,
        Category::Abuse,
        Category::SexualViolence,
    ];

    /// The name used in `safety.toml` and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::SelfHarm => "self_harm",
            Category::HarmOthers => "harm_others",
            Category::Abuse => "abuse",
            Category::SexualViolence => "sexual_violence",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How urgent a hit is. Ordered: `Critical > High > Concern`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worrying; worth a gentle check-in and the links.
    Concern,
    /// Clear sign of danger; hand on to help.
    High,
    /// Immediate danger to life; hand on to help now.
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Concern => "concern",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The most severe phrase found in a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hit {
    pub category: Category,
    pub severity: Severity,
    /// The phrase as listed in `safety.toml` (slots such as `{he}` unexpanded).
    pub matched: String,
    /// At most [`EXCERPT_MAX`] bytes of the normalised text around the match.
    pub excerpt: String,
}

/// Longest excerpt, in bytes of normalised text.
pub const EXCERPT_MAX: usize = 120;

/// Counts for `mend check` to print.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScreenSummary {
    pub categories: Vec<CategorySummary>,
    /// Harmless idioms as listed.
    pub idioms: usize,
    /// Slots defined under `[slots]`.
    pub slots: usize,
    /// Patterns in the automaton, after expanding slots and adding run-together forms.
    pub patterns: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CategorySummary {
    pub category: Category,
    /// The category's default severity.
    pub severity: Severity,
    /// Phrases as listed.
    pub phrases: usize,
    /// Phrases after expanding slots such as `{he}`.
    pub expanded: usize,
}

impl fmt::Display for ScreenSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.categories {
            writeln!(
                f,
                "  {:<16} {:>4} phrases ({} after slots), default severity {}",
                c.category.as_str(),
                c.phrases,
                c.expanded,
                c.severity
            )?;
        }
        write!(
            f,
            "  {:<16} {:>4} harmless idioms; {} slots; {} patterns in all",
            "idioms", self.idioms, self.slots, self.patterns
        )
    }
}

#[derive(Debug, Clone, Copy)]
struct Pattern {
    target: Target,
    len: u32,
}

/// A compiled set of crisis phrases and harmless idioms.
#[derive(Debug, Clone)]
pub struct Screen {
    ac: AhoCorasick,
    patterns: Vec<Pattern>,
    /// Normalised text of each pattern (for comparisons and diagnostics).
    texts: std::sync::Arc<[Box<str>]>,
    phrases: Vec<config::Listed>,
    summary: ScreenSummary,
}

/// Shortest pattern allowed to match inside a spaced-out word without its
/// own word boundaries ("iwanttodie" from "i w a n t t o d i e").
const MIN_INSIDE_RUN: usize = 6;

thread_local! {
    static SCRATCH: RefCell<Normalised> = RefCell::new(Normalised::default());
}

static EMBEDDED: OnceLock<Screen> = OnceLock::new();

/// The file compiled into the binary.
pub const EMBEDDED_TOML: &str = include_str!("../../prompts/safety.toml");

impl Screen {
    /// Parse and check a safety file; `file` is only used in error messages.
    pub fn from_toml(source: &str, file: &Path) -> Result<Screen, SafetyError> {
        let compiled = config::compile(source, file)?;
        Ok(Screen::build(compiled))
    }

    /// Read a safety file from disk and check it.
    pub fn load(path: &Path) -> Result<Screen, SafetyError> {
        let source = std::fs::read_to_string(path).map_err(|source| SafetyError::Read {
            file: path.to_path_buf(),
            source,
        })?;
        Screen::from_toml(&source, path)
    }

    /// The `prompts/safety.toml` compiled into the binary, parsed once.
    pub fn embedded() -> Screen {
        EMBEDDED
            .get_or_init(|| {
                Screen::from_toml(EMBEDDED_TOML, Path::new("prompts/safety.toml")).expect(
                    "the embedded prompts/safety.toml is checked by the tests and must load",
                )
            })
            .clone()
    }

    fn build(c: Compiled) -> Screen {
        let mut texts: Vec<String> = Vec::with_capacity(c.patterns.len() * 2);
        let mut patterns = Vec::with_capacity(c.patterns.len() * 2);
        let mut have: std::collections::HashSet<String> =
            c.patterns.iter().map(|(t, _)| t.clone()).collect();
        for (text, target) in &c.patterns {
            patterns.push(Pattern {
                target: *target,
                len: u32::try_from(text.len()).unwrap_or(u32::MAX),
            });
            texts.push(text.clone());
        }
        // Run-together forms: "kill myself" also as "killmyself", which is
        // what typing without spaces or spacing every letter produces.
        for (compact, target) in &c.compact {
            if compact.len() >= MIN_INSIDE_RUN && have.insert(compact.clone()) {
                patterns.push(Pattern {
                    target: *target,
                    len: u32::try_from(compact.len()).unwrap_or(u32::MAX),
                });
                texts.push(compact.clone());
            }
        }
        let ac = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&texts)
            .or_else(|_| {
                AhoCorasick::builder()
                    .match_kind(MatchKind::Standard)
                    .build(&texts)
            })
            .expect("patterns are short non-empty strings, so the automaton builds");
        let categories = Category::ALL
            .iter()
            .zip(c.per_category)
            .map(
                |(&category, (severity, phrases, expanded))| CategorySummary {
                    category,
                    severity,
                    phrases,
                    expanded,
                },
            )
            .collect();
        let summary = ScreenSummary {
            categories,
            idioms: c.idioms,
            slots: c.slots,
            patterns: texts.len(),
        };
        Screen {
            ac,
            patterns,
            texts: texts.into_iter().map(String::into_boxed_str).collect(),
            phrases: c.phrases,
            summary,
        }
    }

    /// Every crisis phrase in its normalised, slot-expanded form (idioms and
    /// run-together forms left out). For benchmarks and diagnostics.
    pub fn normalised_phrases(&self) -> impl Iterator<Item = &str> {
        self.texts
            .iter()
            .zip(&self.patterns)
            .filter(|(_, p)| matches!(p.target, Target::Phrase(_)))
            .map(|(t, _)| &**t)
            .take(self.summary.categories.iter().map(|c| c.expanded).sum())
    }

    /// Counts per category and idioms, for `mend check`.
    pub fn summary(&self) -> ScreenSummary {
        self.summary.clone()
    }

    /// The most severe hit in `text`, or `None` when it reads as clear.
    pub fn screen(&self, text: &str) -> Option<Hit> {
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut n) => self.screen_with(text, &mut n),
            Err(_) => self.screen_with(text, &mut Normalised::default()),
        })
    }

    fn screen_with(&self, text: &str, n: &mut Normalised) -> Option<Hit> {
        normalise_into(text, One::I, n);
        let first = self.scan(n);
        if !n.ambiguous_one {
            return first.map(|f| self.hit(f, &n.text));
        }
        // "ki11" reads as "kiii" above; try the 1s as l. A hit's offsets
        // belong to the text it was found in, so the first reading is kept
        // for its excerpt (fuzzing found the excerpt cut from the second).
        let first = first.map(|f| (f, n.text.clone()));
        normalise_into(text, One::L, n);
        match (first, self.scan(n)) {
            (Some((f, _)), Some(other)) if other.rank() > f.rank() => {
                Some(self.hit(other, &n.text))
            }
            (Some((f, first_text)), _) => Some(self.hit(f, &first_text)),
            (None, other) => other.map(|o| self.hit(o, &n.text)),
        }
    }

    fn scan(&self, n: &Normalised) -> Option<Found> {
        let hay = n.text.as_bytes();
        let mut idioms: Vec<(usize, usize)> = Vec::new();
        let mut found: Vec<Found> = Vec::new();
        for m in self.ac.find_overlapping_iter(hay) {
            let (s, e) = (m.start(), m.end());
            let on_words = (s == 0 || hay[s - 1] == b' ') && (e == hay.len() || hay[e] == b' ');
            let in_run = !on_words
                && e - s >= MIN_INSIDE_RUN
                && n.collapsed.iter().any(|r| r.start <= s && e <= r.end);
            if !(on_words || in_run) {
                continue;
            }
            let p = self.patterns[m.pattern().as_usize()];
            match p.target {
                Target::Idiom => idioms.push((s, e)),
                Target::Phrase(i) => {
                    let listed = &self.phrases[i as usize];
                    found.push(Found {
                        phrase: i,
                        severity: listed.severity,
                        len: p.len,
                        start: s,
                        end: e,
                    });
                }
            }
        }
        found
            .into_iter()
            .filter(|f| !idioms.iter().any(|&(is, ie)| is <= f.start && f.end <= ie))
            .max_by_key(Found::rank)
    }

    fn hit(&self, f: Found, text: &str) -> Hit {
        let listed = &self.phrases[f.phrase as usize];
        Hit {
            category: listed.category,
            severity: listed.severity,
            matched: listed.text.clone(),
            excerpt: excerpt(text, f.start, f.end),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Found {
    phrase: u32,
    severity: Severity,
    len: u32,
    start: usize,
    end: usize,
}

impl Found {
    /// Most severe, then longest (most specific), then earliest.
    fn rank(&self) -> (Severity, u32, std::cmp::Reverse<usize>) {
        (self.severity, self.len, std::cmp::Reverse(self.start))
    }
}

/// Up to [`EXCERPT_MAX`] bytes of `text` around `start..end`, cut at word
/// boundaries where possible.
fn excerpt(text: &str, start: usize, end: usize) -> String {
    let len = text.len();
    if len <= EXCERPT_MAX {
        return text.to_owned();
    }
    let width = end - start;
    let (mut from, mut to) = if width >= EXCERPT_MAX {
        (start, start + EXCERPT_MAX)
    } else {
        let spare = EXCERPT_MAX - width;
        let mut from = start.saturating_sub(spare / 2);
        let to = (end + (spare - (start - from))).min(len);
        from = from.min(to.saturating_sub(EXCERPT_MAX));
        (from, to)
    };
    while !text.is_char_boundary(from) {
        from += 1;
    }
    while !text.is_char_boundary(to) {
        to -= 1;
    }
    let b = text.as_bytes();
    // Do not start or end in the middle of a word, unless the match is there.
    if from > 0
        && b[from - 1] != b' '
        && from < start
        && let Some(sp) = text[from..start].find(' ')
    {
        from += sp + 1;
    }
    if to < len
        && b[to] != b' '
        && to > end
        && let Some(sp) = text[end..to].rfind(' ')
    {
        to = end + sp;
    }
    text[from..to].trim().to_owned()
}

/// One JSON line for logs and `mend screen`:
/// `{"flagged":true,"category":"abuse","severity":"high","matched":"..."}`,
/// with nulls when nothing was flagged. The excerpt is left out on purpose:
/// it is the person's own words.
pub fn screen_json_line(hit: Option<&Hit>) -> String {
    let value = match hit {
        Some(h) => serde_json::json!({
            "flagged": true,
            "category": h.category,
            "severity": h.severity,
            "matched": h.matched,
        }),
        None => serde_json::json!({
            "flagged": false,
            "category": null,
            "severity": null,
            "matched": null,
        }),
    };
    value.to_string()
}

#[cfg(test)]
mod tests;
