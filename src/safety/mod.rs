//! Crisis screening: does a message suggest someone may be in danger, and
//! should mend answer with the crisis reply at once or ask first?
//!
//! The rules live in `prompts/safety.toml`, written for counsellors: named
//! concepts (`{pills}`), frames built from words and concepts with bounded
//! gaps (`{i} took .. {quantity}? .. {pills}`), and scope rules. A
//! [`Screen`] is compiled from that file once (see [`rules`]). To screen a
//! message it is cut into clauses at sentence ends; each clause is
//! normalised (see [`normalise`]), split into words and stemmed, and every
//! frame whose required words are all present is tried where its first word
//! stands. Then scope decides what counts, within the part of the clause
//! between words such as "but": a negation just before a hit ("I would
//! never"), someone else or a story named before a hit that never names the
//! writer, the past told as over, an accident, a joke, or a harmless idiom
//! cancel or lower it; a plan, a time, a means or an act already done raise
//! an `ask` to `crisis`. The strongest remaining hit is returned.
//!
//! The module is pure: no I/O except [`Screen::load`], no clock, no async.

mod crisis;
pub mod learned;
mod normalise;
mod rules;

use std::cell::RefCell;
use std::fmt;
use std::ops::Range;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use rust_stemmers::Stemmer;
use serde::{Deserialize, Serialize};

pub use crisis::{Contact, CrisisError, CrisisReplies, EMBEDDED_CRISIS_TOML};
pub use normalise::normalise;
use normalise::{Normalised, One, normalise_into};
pub use rules::SafetyError;
use rules::{Class, Frame, Rules, UNKNOWN};

/// What kind of danger a message suggests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Thoughts, plans or acts of ending one's life.
    Suicide,
    /// Injuring oneself without (stated) suicidal intent, and overdoses.
    SelfHarm,
    HarmOthers,
    Abuse,
    SexualViolence,
}

impl Category {
    pub const ALL: [Category; 5] = [
        Category::Suicide,
        Category::SelfHarm,
        Category::HarmOthers,
        Category::Abuse,
        Category::SexualViolence,
    ];

    /// The name used in `safety.toml`, `crisis.toml` and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Suicide => "suicide",
            Category::SelfHarm => "self_harm",
            Category::HarmOthers => "harm_others",
            Category::Abuse => "abuse",
            Category::SexualViolence => "sexual_violence",
        }
    }

    /// The category named `name` in the files, if any.
    pub fn parse(name: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == name)
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

/// What mend does about a hit. Ordered: `Crisis > Ask`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Worrying but unclear: ask the person directly and kindly, and let
    /// their answer decide.
    Ask,
    /// The full crisis reply at once, and a flag for the moderators.
    Crisis,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Ask => "ask",
            Action::Crisis => "crisis",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The strongest hit found in a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hit {
    pub category: Category,
    pub severity: Severity,
    pub action: Action,
    /// The frame as written in `safety.toml`.
    pub matched: String,
    /// At most [`EXCERPT_MAX`] bytes of the person's own words around the
    /// match, on one line: what the moderators read.
    pub excerpt: String,
}

/// Longest excerpt, in bytes.
pub const EXCERPT_MAX: usize = 120;

/// Counts for `mend check` to print.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScreenSummary {
    pub categories: Vec<CategorySummary>,
    pub concepts: usize,
    /// Scope frames (negation, someone else, past, joke, raise, idioms).
    pub scope: usize,
    /// Distinct stemmed words the rules know.
    pub words: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CategorySummary {
    pub category: Category,
    /// The category's default severity.
    pub severity: Severity,
    pub frames: usize,
}

impl fmt::Display for ScreenSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.categories {
            writeln!(
                f,
                "  {:<16} {:>4} frames, default severity {}",
                c.category.as_str(),
                c.frames,
                c.severity
            )?;
        }
        write!(
            f,
            "  {:<16} {:>4} scope frames; {} concepts; {} words",
            "scope", self.scope, self.concepts, self.words
        )
    }
}

/// A compiled set of crisis rules.
#[derive(Debug, Clone)]
pub struct Screen {
    rules: Arc<Rules>,
    summary: ScreenSummary,
    /// The learned layer beside the rules, and how much it may decide.
    learned: Option<(Arc<learned::Model>, Policy)>,
}

/// How the learned layer's reading joins the rules'. Measured on sets the
/// model was not trained on (`examples/screen_model.rs holdout`); the
/// figures are in `tests/safety/README.md`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    /// Where the rules find nothing, mend asks when the model puts at
    /// least this much weight on the message being a crisis of some kind.
    pub ask_at: f32,
    /// ... and answers at once, as a crisis, when it also puts at least this
    /// much on the danger being now. A rule's question is raised to a
    /// crisis the same way.
    pub urgent_at: f32,
    /// Where a rule and the model disagree on the category, the model's
    /// stands when it gives its category at least this share of its weight.
    pub category_at: f32,
    /// A rule's full reply becomes a question when the model puts less than
    /// this on the message being a crisis of any kind, in the whole or in
    /// any sentence of it; never when the rule reads a life in danger right
    /// now (`critical`). The model never silences a rule: its question
    /// still opens the way to the full reply.
    pub lower_below: f32,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            ask_at: 0.5,
            urgent_at: 0.5,
            category_at: 0.9,
            lower_below: 0.05,
        }
    }
}

static LEARNED: OnceLock<Option<Arc<learned::Model>>> = OnceLock::new();

/// The model compiled into the binary; `None` (rules alone) if it cannot be
/// read, which a test rules out.
fn embedded_model() -> Option<Arc<learned::Model>> {
    LEARNED
        .get_or_init(|| {
            learned::Model::from_bytes(learned::EMBEDDED)
                .ok()
                .map(Arc::new)
        })
        .clone()
}

/// A run-together word is split into known words only when at least this
/// long ("killmyself", "iwanttodie").
const MIN_SPLIT: usize = 6;
/// A negation may end at most this many words before a hit ("I would
/// never ever ..."); one further back belongs to something else.
const NEGATION_REACH: usize = 2;
/// Words that start a new clause for scope ("..., but I ...").
const CLAUSE_WORDS: [&str; 4] = ["but", "however", "although", "though"];

/// Reused buffers, so screening allocates little.
#[derive(Default)]
struct Scratch {
    norm: Normalised,
    words: Vec<Word>,
    found: Vec<Found>,
    stemmer: Option<Stemmer>,
    slots: Vec<u32>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

static EMBEDDED: OnceLock<Screen> = OnceLock::new();

/// The file compiled into the binary.
pub const EMBEDDED_TOML: &str = include_str!("../../prompts/safety.toml");

/// One word of a clause: its id, and where it sits in the normalised text.
#[derive(Debug, Clone, Copy)]
struct Word {
    /// Stemmed.
    id: u32,
    /// As written (for idioms).
    surface: u32,
    start: u32,
    end: u32,
}

/// A frame found in a clause, as word positions.
#[derive(Debug, Clone, Copy)]
struct Found {
    frame: u32,
    start: usize,
    end: usize,
    /// The frame's own words, without its gaps (see [`Match::taken`]).
    taken: u128,
    names_me: bool,
}

impl Found {
    /// Whether every word of `other` is one of this frame's own words.
    fn owns(&self, other: &Found) -> bool {
        (other.start..other.end).all(|p| {
            p.checked_sub(self.start)
                .filter(|&b| b < 128)
                .is_some_and(|b| self.taken & (1 << b) != 0)
        })
    }
}

/// A hit that survived scope, with what ranks it.
#[derive(Debug, Clone)]
struct Best {
    category: Category,
    severity: Severity,
    action: Action,
    frame: u32,
    own: u32,
    /// Made the full reply by a plan, a time or a means elsewhere in the
    /// message, not by its own words.
    raised: bool,
    /// Where the match is in the normalised clause, and that clause's
    /// length, to find the person's own words again.
    at: Range<usize>,
    of: usize,
    first: String,
    /// Raising words that are among the frame's own ("with a hammer"):
    /// they do not raise it.
    own_raises: Vec<Spot>,
}

/// A scope phrase found: its clause and word positions.
type Spot = (usize, usize, usize);

impl Best {
    /// Between hits of equal weight, one whose own words say the danger
    /// ("going round to smash his face in") speaks for the message rather
    /// than one raised by the words around it ("don't talk me out of it").
    fn rank(&self) -> (Action, Severity, bool, u32) {
        (self.action, self.severity, !self.raised, self.own)
    }
}

impl Screen {
    /// Parse and check a safety file; `file` is only used in error messages.
    pub fn from_toml(source: &str, file: &Path) -> Result<Screen, SafetyError> {
        let rules = rules::compile(source, file)?;
        let summary = ScreenSummary {
            categories: Category::ALL
                .iter()
                .zip(rules.per_category)
                .map(|(&category, (severity, frames))| CategorySummary {
                    category,
                    severity,
                    frames,
                })
                .collect(),
            concepts: rules.concepts,
            scope: rules
                .frames
                .iter()
                .filter(|f| !matches!(f.class, Class::Hit { .. }))
                .count(),
            words: rules.vocab.len(),
        };
        Ok(Screen {
            rules: Arc::new(rules),
            summary,
            learned: embedded_model().map(|m| (m, Policy::default())),
        })
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

    /// Counts per category and scope, for `mend check`.
    pub fn summary(&self) -> ScreenSummary {
        self.summary.clone()
    }

    /// The same rules without the learned layer: for measuring each apart.
    pub fn without_learned(&self) -> Screen {
        Screen {
            learned: None,
            ..self.clone()
        }
    }

    /// The same rules beside another model: for measuring a model trained
    /// without some set on that set.
    pub fn with_learned(&self, model: learned::Model, policy: Policy) -> Screen {
        Screen {
            learned: Some((Arc::new(model), policy)),
            ..self.clone()
        }
    }

    /// The strongest hit in `text`, or `None` when it reads as clear.
    pub fn screen(&self, text: &str) -> Option<Hit> {
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut s) => self.screen_with(text, &mut s),
            Err(_) => self.screen_with(text, &mut Scratch::default()),
        })
    }

    /// What the rules find, joined with what the learned layer reads (see
    /// [`Policy`]).
    fn screen_with(&self, text: &str, s: &mut Scratch) -> Option<Hit> {
        let RulesReading {
            hit: rules,
            denied,
            now: said_now,
        } = self.rules_with(text, s);
        let Some((model, policy)) = &self.learned else {
            return rules;
        };
        let stemmer = s.stemmer.get_or_insert_with(rules::stemmer);
        let reading = model.read(text, stemmer, &mut s.slots);
        // The rules saw the danger words just after a denial ("I would
        // never kill myself"): that reading stands. Not for abuse and sexual
        // violence, where a "no" is often part of what happened ("I said
        // no and he didn't stop").
        let denial_stands = matches!(
            reading.category,
            Category::Suicide | Category::SelfHarm | Category::HarmOthers
        );
        if rules.is_none() && denied && denial_stands {
            return None;
        }
        let now = reading.risk >= policy.ask_at && (reading.urgent >= policy.urgent_at || said_now);
        match rules {
            Some(mut hit) => {
                if hit.category != reading.category
                    && reading.risk >= policy.ask_at
                    && reading.share >= policy.category_at
                {
                    hit.matched = format!(
                        "{} (read as {} by the learned layer, not {})",
                        hit.matched, reading.category, hit.category
                    );
                    hit.category = reading.category;
                }
                if hit.action == Action::Ask && now {
                    hit.action = Action::Crisis;
                    hit.severity = hit.severity.max(Severity::High);
                    hit.matched = format!("{} (raised by the learned layer)", hit.matched);
                } else if hit.action == Action::Crisis
                    && reading.risk < policy.lower_below
                    && hit.severity != Severity::Critical
                {
                    hit.action = Action::Ask;
                    hit.matched = format!(
                        "{} (asked, not answered: the learned layer reads it as clear)",
                        hit.matched
                    );
                }
                Some(hit)
            }
            None if reading.risk >= policy.ask_at => Some(Hit {
                category: reading.category,
                severity: if now {
                    Severity::High
                } else {
                    Severity::Concern
                },
                action: if now { Action::Crisis } else { Action::Ask },
                matched: format!(
                    "learned layer: {} {:.0}%, now {:.0}%{}",
                    reading.category,
                    reading.risk * 100.0,
                    reading.urgent * 100.0,
                    if now && reading.urgent < policy.urgent_at {
                        " (raised: the message says it is happening now)"
                    } else {
                        ""
                    }
                ),
                excerpt: {
                    let said = one_line(text.get(reading.span.clone()).unwrap_or(text));
                    excerpt(&said, 0, said.len())
                },
            }),
            None => None,
        }
    }

    /// What the rules find, and what else they read in the message.
    fn rules_with(&self, text: &str, s: &mut Scratch) -> RulesReading {
        let mut message = MessageScope {
            joke: LAUGHS.iter().any(|l| text.contains(l)),
            ..MessageScope::default()
        };
        let mut hits: Vec<(Best, ClauseScope)> = Vec::new();
        for (i, clause) in clauses(text).enumerate() {
            message.clauses.push(Tense::default());
            normalise_into(clause, One::I, &mut s.norm);
            let ambiguous = s.norm.ambiguous_one;
            self.read_clause(s, i, &mut message, &mut hits);
            if ambiguous {
                // "ki11" reads as "kiii" above; read the 1s as l too.
                normalise_into(clause, One::L, &mut s.norm);
                self.read_clause(s, i, &mut message, &mut hits);
            }
        }
        let tense = |i: usize| message.clauses.get(i).copied().unwrap_or_default();
        let denied = message.denied;
        let now = message.now;
        let best = hits
            .into_iter()
            .filter_map(|(mut best, clause)| {
                // The past as over, said in the hit's part of its clause or
                // in the sentence after ("... It was years ago"), unless
                // something there says it is happening now.
                let (here, next) = (tense(clause.clause), tense(clause.clause + 1));
                if (clause.past || next.opens_past) && !(here.present || next.present) {
                    return None;
                }
                if clause.accident
                    && matches!(
                        best.category,
                        Category::SelfHarm | Category::HarmOthers | Category::Abuse
                    )
                {
                    return None;
                }
                // A place on a day out or a journey ("stood on the platform
                // waiting for the train home"), told in the hit's part of its
                // clause or in the sentence either side ("We did the coast
                // path. Stood at the edge and held hands."), is not asked
                // about, unless something says the danger is this minute.
                let before = clause.clause.checked_sub(1).map(tense).unwrap_or_default();
                let outing = clause.outing || next.outing || before.outing;
                if outing
                    && !message.now
                    && best.action == Action::Ask
                    && self.rules.frames[best.frame as usize].names_place
                {
                    return None;
                }
                // A joke lowers a hit unless a plan, a time or a means
                // anywhere in the message says otherwise.
                let raised =
                    message.now || message.raises.iter().any(|r| !best.own_raises.contains(r));
                // What the words were about, said in their clause or the
                // sentence after ("I can't do this anymore. Not the
                // marriage, the school run"): a question about the
                // writer's own life is not asked, unless a plan, a time or
                // a means says otherwise.
                if (here.meant || next.meant)
                    && !raised
                    && best.action == Action::Ask
                    && matches!(best.category, Category::Suicide | Category::SelfHarm)
                {
                    return None;
                }
                if message.joke && !raised {
                    match (best.category, best.action) {
                        (Category::HarmOthers | Category::Abuse, Action::Ask) => return None,
                        (Category::HarmOthers, Action::Crisis) => best.action = Action::Ask,
                        (Category::Suicide | Category::SelfHarm, _) => best.action = Action::Ask,
                        _ => {}
                    }
                }
                if raised && best.action == Action::Ask {
                    best.action = Action::Crisis;
                    best.severity = best.severity.max(Severity::High);
                    best.raised = true;
                }
                // Danger said to be happening this minute is a life in
                // danger now, whichever frame says it: they then compete
                // on their own words ("he punched me in the face", not "my
                // nose won't stop bleeding").
                if message.now && best.action == Action::Crisis {
                    best.severity = Severity::Critical;
                }
                Some((best, clause.clause))
            })
            .max_by_key(|(best, _)| best.rank())
            .map(|(best, clause)| Hit {
                category: best.category,
                // Critical when said to be this minute (above): the learned
                // layer may not lower it.
                severity: best.severity,
                action: best.action,
                matched: self.rules.frames[best.frame as usize].text.to_string(),
                excerpt: own_words(text, clause, &best.at, best.of, &best.first),
            });
        RulesReading {
            hit: best,
            denied,
            now,
        }
    }

    /// Reads the clause normalised in `s.norm`: its words, then every frame
    /// in each part of it between clause words.
    fn read_clause(
        &self,
        s: &mut Scratch,
        clause: usize,
        message: &mut MessageScope,
        hits: &mut Vec<(Best, ClauseScope)>,
    ) {
        let stemmer = s.stemmer.get_or_insert_with(rules::stemmer);
        self.words_of(&s.norm, stemmer, &mut s.words);
        let text = &s.norm.text;
        if s.words.is_empty() {
            return;
        }
        s.found.clear();
        self.find(&s.words, &mut s.found);
        self.judge(text, clause, &s.words, &s.found, message, hits);
    }

    /// Which part of the clause, between clause words ("but"), each word
    /// stands in: scope such as "my friend" or "years ago" holds only there.
    fn parts_of(&self, text: &str, words: &[Word]) -> Vec<u16> {
        let mut part = 0u16;
        words
            .iter()
            .map(|w| {
                if self.is_clause_word(text, w) {
                    part = part.saturating_add(1);
                }
                part
            })
            .collect()
    }

    fn is_clause_word(&self, text: &str, w: &Word) -> bool {
        let surface = &text[w.start as usize..w.end as usize];
        CLAUSE_WORDS.contains(&surface)
    }

    /// The clause's words as ids; run-together words ("killmyself") are
    /// split into words the rules know.
    fn words_of(&self, n: &Normalised, stemmer: &Stemmer, out: &mut Vec<Word>) {
        out.clear();
        let rules = &*self.rules;
        let text = n.text.as_str();
        let mut offset = 0usize;
        for surface in text.split(' ') {
            let start = offset;
            offset += surface.len() + 1;
            if surface.is_empty() {
                continue;
            }
            let (s, e) = (start as u32, (start + surface.len()) as u32);
            let mut push = |w: &str| {
                let id = rules
                    .vocab
                    .get(stemmer.stem(w).as_ref())
                    .copied()
                    .unwrap_or(UNKNOWN);
                let surface = rules.surface.get(w).copied().unwrap_or(UNKNOWN);
                out.push(Word {
                    id,
                    surface,
                    start: s,
                    end: e,
                });
            };
            let id = rules
                .vocab
                .get(stemmer.stem(surface).as_ref())
                .copied()
                .unwrap_or(UNKNOWN);
            // Dropped g's: "thinkin", "endin", "cuttin".
            if id == UNKNOWN && surface.len() > 4 && surface.ends_with("in") {
                let full = format!("{surface}g");
                if rules.vocab.contains_key(stemmer.stem(&full).as_ref()) {
                    push(&full);
                    continue;
                }
            }
            if id == UNKNOWN && surface.len() >= MIN_SPLIT {
                let spaced = n
                    .collapsed
                    .iter()
                    .any(|r| r.start <= start && start + surface.len() <= r.end);
                // Cutting a word up is costly; most long words cannot hold
                // the writer ("my", "me", a leading "i") and are left whole.
                let may_name_me =
                    surface.starts_with('i') || surface.contains("my") || surface.contains("me");
                if (spaced || may_name_me)
                    && let Some(pieces) = split_run(rules, surface)
                    && (spaced || pieces.iter().any(|p| rules.first_person_surface(p)))
                {
                    for p in pieces {
                        push(p);
                    }
                    continue;
                }
            }
            rules::words(surface, &mut push);
        }
    }

    /// Every frame that matches in `words`.
    fn find(&self, words: &[Word], found: &mut Vec<Found>) {
        let rules = &*self.rules;
        // Which words the clause holds, stemmed and as written, so a frame
        // whose required words are not all here is never tried.
        let stems = Present::of(words.iter().map(|w| w.id), rules.vocab.len());
        let surfaces = Present::of(words.iter().map(|w| w.surface), rules.surface.len());
        // Decided once per frame and clause: 0 not yet, 1 holds, 2 cannot.
        let mut decided = vec![0u8; rules.frames.len()];
        let mut holds = |f: u32, frame: &Frame| {
            let slot = &mut decided[f as usize];
            if *slot == 0 {
                let here = if frame.exact { &surfaces } else { &stems };
                let all = frame
                    .required
                    .iter()
                    .all(|firsts| firsts.iter().any(|&w| here.has(w)));
                *slot = if all { 1 } else { 2 };
            }
            *slot == 1
        };
        for start in 0..words.len() {
            let stemmed = rules.index.get(&words[start].id).into_iter().flatten();
            let exact = rules
                .exact_index
                .get(&words[start].surface)
                .into_iter()
                .flatten();
            for &f in stemmed.chain(exact) {
                let frame = &rules.frames[f as usize];
                if !holds(f, frame) {
                    continue;
                }
                let mut m = Match {
                    start,
                    ..Match::default()
                };
                if match_parts(frame, &frame.parts, words, start, true, 0, &mut m, rules) {
                    found.push(Found {
                        frame: f,
                        start,
                        end: m.end,
                        taken: m.taken,
                        names_me: m.names_me,
                    });
                }
            }
        }
    }

    /// Applies clause scope to what `find` found; keeps the surviving hits.
    fn judge(
        &self,
        text: &str,
        clause: usize,
        words: &[Word],
        found: &[Found],
        message: &mut MessageScope,
        hits: &mut Vec<(Best, ClauseScope)>,
    ) {
        let rules = &*self.rules;
        let parts = self.parts_of(text, words);
        let here = ClauseScope {
            clause,
            ..ClauseScope::default()
        };
        let mut scopes = vec![here; usize::from(parts.last().copied().unwrap_or(0)) + 1];
        let tense = &mut message.clauses[clause];
        for f in found {
            let scope = &mut scopes[usize::from(parts[f.start])];
            match rules.frames[f.frame as usize].class {
                Class::NotMe => {
                    scope.not_me_at = Some(scope.not_me_at.map_or(f.start, |at| at.min(f.start)));
                }
                Class::InCare => {
                    scope.in_care_at = Some(scope.in_care_at.map_or(f.start, |at| at.min(f.start)));
                }
                Class::Accident => scope.accident = true,
                Class::Outing => {
                    scope.outing = true;
                    tense.outing = true;
                }
                Class::Meant => tense.meant = true,
                Class::Past => {
                    scope.past = true;
                    // Only a sentence that opens on the past ("It was years
                    // ago ...") speaks for the sentence before it.
                    tense.opens_past |= f.start <= 2;
                }
                Class::Present => tense.present = true,
                Class::Joke => message.joke = true,
                Class::Raise => {
                    let spot = (clause, f.start, f.end);
                    if !message.raises.contains(&spot) {
                        message.raises.push(spot);
                    }
                }
                Class::Now => message.now = true,
                Class::Hit { .. } | Class::Negation | Class::Idiom => {}
            }
        }
        for f in found {
            let Class::Hit {
                category,
                severity,
                action,
            } = rules.frames[f.frame as usize].class
            else {
                continue;
            };
            let covered = found.iter().any(|o| {
                let class = rules.frames[o.frame as usize].class;
                match class {
                    // An idiom that holds the hit's last word ("my husband
                    // would kill me if he knew").
                    Class::Idiom => o.start < f.end && f.end <= o.end,
                    // A negation just before the hit, or inside its gaps,
                    // that is not one of the frame's own words.
                    Class::Negation => {
                        let before = o.end <= f.start && o.end + NEGATION_REACH > f.start;
                        let inside = f.start <= o.start && o.start < f.end && !f.owns(o);
                        before || inside
                    }
                    _ => false,
                }
            });
            let clause = scopes[usize::from(parts[f.start])];
            // Someone else, or a story, named before the hit: "my friend is
            // suicidal", not "...since he left me for my best mate".
            // Someone the writer looks after is passed by the same way,
            // except when they are the one being hurt: "my daughter says
            // her uncle touches her" is a crisis, told by the one who must
            // keep her safe.
            let before = |at: Option<usize>| at.is_some_and(|at| at < f.start);
            let hurt_by_another = matches!(category, Category::Abuse | Category::SexualViolence);
            let about_another =
                before(clause.not_me_at) || (before(clause.in_care_at) && !hurt_by_another);
            if covered || (about_another && !f.names_me) {
                message.denied |= covered;
                continue;
            }
            let best = Best {
                category,
                severity,
                action,
                frame: f.frame,
                own: f.taken.count_ones(),
                raised: false,
                at: words[f.start].start as usize..words[f.end - 1].end as usize,
                of: text.len(),
                first: text[words[f.start].start as usize..words[f.start].end as usize].to_owned(),
                own_raises: found
                    .iter()
                    .filter(|o| {
                        let class = rules.frames[o.frame as usize].class;
                        class == Class::Raise && f.owns(o)
                    })
                    .map(|o| (clause.clause, o.start, o.end))
                    .collect(),
            };
            hits.push((best, clause));
        }
    }
}

/// Which word ids a clause holds, one bit each.
struct Present(Vec<u64>);

impl Present {
    fn of(ids: impl Iterator<Item = u32>, known: usize) -> Present {
        let mut bits = vec![0u64; known / 64 + 1];
        for id in ids.filter(|&id| (id as usize) < known) {
            bits[id as usize / 64] |= 1 << (id % 64);
        }
        Present(bits)
    }

    fn has(&self, id: u32) -> bool {
        self.0
            .get(id as usize / 64)
            .is_some_and(|word| word & (1 << (id % 64)) != 0)
    }
}

/// What the rules read in one message.
struct RulesReading {
    hit: Option<Hit>,
    /// A danger frame was found and then cancelled by a negation or an
    /// idiom covering it ("I would never kill myself").
    denied: bool,
    /// Something in it says the danger is happening now.
    now: bool,
}

/// Scope that holds for the whole message.
#[derive(Debug, Default, Clone)]
struct MessageScope {
    /// Per clause, in order.
    clauses: Vec<Tense>,
    joke: bool,
    /// Where a plan, a time, a means or an act done is said (`raise`):
    /// each raises every hit but one that holds it among its own words
    /// ("with a hammer" is not raised by its hammer). Words that say "this
    /// minute" (`now`) raise every hit.
    raises: Vec<Spot>,
    /// Something in it says the danger is happening now.
    now: bool,
    /// A danger frame was found and then cancelled by a negation or an
    /// idiom covering it ("I would never kill myself").
    denied: bool,
}

/// Scope that holds for one clause.
#[derive(Debug, Default, Clone, Copy)]
struct ClauseScope {
    /// Which clause of the message.
    clause: usize,
    /// Where the first mention of someone else, or of a story, starts.
    not_me_at: Option<usize>,
    /// Where the first mention of someone the writer looks after starts.
    in_care_at: Option<usize>,
    past: bool,
    accident: bool,
    /// A day out or a journey is told in this clause.
    outing: bool,
}

/// What a clause says about when.
#[derive(Debug, Default, Clone, Copy)]
struct Tense {
    opens_past: bool,
    present: bool,
    /// A day out or a journey is told somewhere in the clause.
    outing: bool,
    /// The writer says there what their words were about.
    meant: bool,
}

/// Emoji that laugh: a message with one reads as a joke unless raised.
const LAUGHS: [&str; 5] = ["😂", "🤣", "😆", "😹", "💀"];

/// What one attempt to match a frame learned.
#[derive(Default)]
struct Match {
    start: usize,
    end: usize,
    /// Bit `p - start` is set for each word the frame's parts took (not its
    /// gaps); words past the 128th are not recorded.
    taken: u128,
    names_me: bool,
}

impl Match {
    fn mark(&mut self, from: usize, to: usize) {
        for p in from..to {
            if let Some(bit) = p.checked_sub(self.start).filter(|&b| b < 128) {
                self.taken |= 1 << bit;
            }
        }
    }

    fn unmark(&mut self, from: usize, to: usize) {
        for p in from..to {
            if let Some(bit) = p.checked_sub(self.start).filter(|&b| b < 128) {
                self.taken &= !(1 << bit);
            }
        }
    }
}

/// Tries `parts` from `pos`. The first part must start at `pos` exactly;
/// each later part may follow a gap of up to its `gap` words.
#[allow(clippy::too_many_arguments)]
fn match_parts(
    frame: &Frame,
    parts: &[rules::Part],
    words: &[Word],
    pos: usize,
    first: bool,
    carry: usize,
    m: &mut Match,
    rules: &Rules,
) -> bool {
    let Some((part, rest)) = parts.split_first() else {
        m.end = pos;
        return true;
    };
    // A skipped optional part hands its gap on to the next.
    let max_gap = if first { 0 } else { part.gap as usize + carry };
    for gap in 0..=max_gap {
        let at = pos + gap;
        if at >= words.len() {
            break;
        }
        for seq in &part.seqs {
            let end = at + seq.len();
            if end <= words.len()
                && words[at..end]
                    .iter()
                    .zip(seq.iter())
                    .all(|(w, &id)| id == if frame.exact { w.surface } else { w.id })
            {
                let me = m.names_me;
                m.mark(at, end);
                m.names_me |= seq.iter().any(|id| rules.first_person.contains(id));
                if match_parts(frame, rest, words, end, false, 0, m, rules) {
                    return true;
                }
                m.unmark(at, end);
                m.names_me = me;
            }
        }
    }
    part.optional && match_parts(frame, rest, words, pos, first, max_gap, m, rules)
}

/// `word` as known words, if it can be cut wholly into them ("killmyself").
fn split_run<'w>(rules: &Rules, word: &'w str) -> Option<Vec<&'w str>> {
    let n = word.len();
    if n > 64 || !word.is_ascii() {
        return None;
    }
    // best[i]: fewest pieces covering word[..i], and where the last began.
    let mut best: Vec<Option<(usize, usize)>> = vec![None; n + 1];
    best[0] = Some((0, 0));
    for end in 1..=n {
        for start in end.saturating_sub(rules.longest_surface)..end {
            let Some((count, _)) = best[start] else {
                continue;
            };
            let piece = &word[start..end];
            // Single letters other than "i" make almost anything splittable.
            if (piece.len() > 1 || piece == "i") && rules.surface.contains_key(piece) {
                let better = best[end].is_none_or(|(c, _)| count + 1 < c);
                if better {
                    best[end] = Some((count + 1, start));
                }
            }
        }
    }
    let mut pieces = Vec::new();
    let mut end = n;
    while end > 0 {
        let (_, start) = best[end]?;
        pieces.push(&word[start..end]);
        end = start;
    }
    pieces.reverse();
    (pieces.len() > 1).then_some(pieces)
}

/// The clauses of `text`: cut after `.`, `!`, `?`, `;` or a line break that
/// ends a sentence (a `.` or `!` inside a word, as in "k.i.l.l" or "d!e",
/// does not).
pub(crate) fn clauses(text: &str) -> impl Iterator<Item = &str> {
    let bytes = text.as_bytes();
    let mut from = 0;
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < bytes.len() {
            let b = bytes[i];
            i += 1;
            let ends = match b {
                b'\n' | b'?' | b';' => true,
                b'.' | b'!' => {
                    i == bytes.len()
                        || bytes[i].is_ascii_whitespace()
                        || matches!(bytes[i], b'.' | b'!' | b'?')
                }
                _ => false,
            };
            if ends {
                let clause = &text[from..i];
                from = i;
                if !clause.trim().is_empty() {
                    return Some(clause);
                }
            }
        }
        if from < bytes.len() {
            let clause = &text[from..];
            from = bytes.len();
            return Some(clause);
        }
        None
    })
}

impl Rules {
    fn first_person_surface(&self, piece: &str) -> bool {
        matches!(piece, "i" | "im" | "me" | "my" | "myself" | "ive")
            && self.vocab.contains_key(piece)
    }
}

/// The person's own words around a match found at `at` in the normalised
/// text of clause `clause`, `of` bytes long, whose first word is `first`.
/// The match starts in the written word whose normalised form holds
/// `first`, nearest where it sits in the normalised clause; if none does
/// (letters spaced out), at that place as a share of the clause.
fn own_words(text: &str, clause: usize, at: &Range<usize>, of: usize, first: &str) -> String {
    let said = one_line(clauses(text).nth(clause).unwrap_or(text));
    let guess = at.start * said.len() / of.max(1);
    let mut words: Vec<usize> = said
        .char_indices()
        .filter(|&(i, _)| i == 0 || said.as_bytes()[i - 1] == b' ')
        .map(|(i, _)| i)
        .collect();
    words.sort_by_key(|&i| i.abs_diff(guess));
    // Within a written word that hides several ("…!!su1c1dal"), as a share.
    let start = words
        .into_iter()
        .find_map(|i| {
            let word = said[i..].split(' ').next().unwrap_or("");
            let tidy = normalise(word);
            tidy.find(first)
                .map(|inside| i + inside * word.len() / tidy.len().max(1))
        })
        .unwrap_or(guess);
    let boundary = |mut i: usize| {
        i = i.min(said.len());
        while !said.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let start = boundary(start);
    let end = boundary(start + at.len()).max(start);
    excerpt(&said, start, end)
}

/// `text` on one line: every run of white space or control characters
/// becomes one space.
fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split(|c: char| c.is_whitespace() || c.is_control()) {
        if !word.is_empty() {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(word);
        }
    }
    out
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
/// `{"flagged":true,"action":"ask","category":"abuse","severity":"high","matched":"..."}`,
/// with `"action":"none"` and nulls when nothing was found; `flagged` is
/// true exactly when `action` is not `none`. The excerpt is left out on
/// purpose: it is the person's own words.
pub fn screen_json_line(hit: Option<&Hit>) -> String {
    let value = match hit {
        Some(h) => serde_json::json!({
            "flagged": true,
            "action": h.action,
            "category": h.category,
            "severity": h.severity,
            "matched": h.matched,
        }),
        None => serde_json::json!({
            "flagged": false,
            "action": "none",
            "category": null,
            "severity": null,
            "matched": null,
        }),
    };
    value.to_string()
}

#[cfg(test)]
mod tests;
