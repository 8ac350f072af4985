//! Reading and checking `prompts/safety.toml`: concepts, frames and scope.
//!
//! A *concept* is a named list of words or short phrases that mean one thing
//! for the screen (`{pills}`, `{took}`). A *frame* is a short pattern of
//! words and concepts, with bounded gaps (`..`), that stands for one way of
//! saying something dangerous. *Scope* frames say when a hit does not count
//! (negation, someone else, the past, a joke, an idiom) or counts for more (a
//! plan, a time, a means).
//!
//! Every word is normalised and stemmed the same way on both sides, so
//! "pressuring" meets "pressured" and "k1ll" meets "kill". Every problem is
//! reported with the file, the line, the key and what was expected, so a
//! counsellor can fix it without reading code.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use rust_stemmers::{Algorithm, Stemmer};
use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};
use toml::Spanned;

use super::normalise::normalise;
use super::{Action, Category, Severity};

/// Why a safety file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SafetyError {
    /// The file could not be read at all.
    #[error("{}: cannot read the safety rules: {source}", file.display())]
    Read {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file was read but something in it is wrong.
    #[error("{} line {line}, key `{key}`: {problem}", file.display())]
    Invalid {
        file: PathBuf,
        /// 1-based line in the file.
        line: usize,
        /// The TOML key the problem is under, e.g. `abuse.frames`.
        key: String,
        /// What is wrong and what was expected instead.
        problem: String,
    },
}

/// The widest gap a frame may ask for between two parts, in words.
pub(crate) const MAX_GAP: u8 = 8;
/// The gap `..` stands for when no number follows it.
const DEFAULT_GAP: u8 = 4;
/// Most parts one frame may have.
const MAX_PARTS: usize = 12;
/// Most phrases one concept entry may stand for.
const MAX_COMBINATIONS: usize = 2_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDe {
    concepts: BTreeMap<String, Spanned<Vec<Spanned<String>>>>,
    suicide: CategoryDe,
    self_harm: CategoryDe,
    harm_others: CategoryDe,
    abuse: CategoryDe,
    sexual_violence: CategoryDe,
    scope: ScopeDe,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CategoryDe {
    severity: Severity,
    frames: Vec<Spanned<FrameDe>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScopeDe {
    first_person: Vec<Spanned<String>>,
    negation: Vec<Spanned<String>>,
    not_me: Vec<Spanned<String>>,
    /// Optional, so a file written before it still loads.
    #[serde(default)]
    in_care: Vec<Spanned<String>>,
    accident: Vec<Spanned<String>>,
    /// Optional, so a file written before it still loads.
    #[serde(default)]
    outing: Vec<Spanned<String>>,
    /// Optional, so a file written before it still loads.
    #[serde(default)]
    meant: Vec<Spanned<String>>,
    past: Vec<Spanned<String>>,
    present: Vec<Spanned<String>>,
    joke: Vec<Spanned<String>>,
    raise: Vec<Spanned<String>>,
    /// Optional, so a file written before it still loads.
    #[serde(default)]
    now: Vec<Spanned<String>>,
    idioms: Vec<Spanned<String>>,
}

/// The concept naming places people go to end their lives: on a day out
/// (`scope.outing`), an asking frame that names it does not count.
pub(crate) const PLACES_CONCEPT: &str = "height";

/// A frame: either `"words"` or `{ frame = "words", severity = "...", action = "ask" }`.
struct FrameDe {
    text: String,
    severity: Option<Severity>,
    action: Option<Action>,
}

impl<'de> Deserialize<'de> for FrameDe {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = FrameDe;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a frame in quotes, or { frame = \"...\", severity = \"critical\" | \"high\" | \"concern\", action = \"crisis\" | \"ask\" }",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<FrameDe, E> {
                Ok(FrameDe {
                    text: v.to_owned(),
                    severity: None,
                    action: None,
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FrameDe, A::Error> {
                let (mut text, mut severity, mut action) = (None, None, None);
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "frame" => text = Some(map.next_value::<String>()?),
                        "severity" => severity = Some(map.next_value::<Severity>()?),
                        "action" => action = Some(map.next_value::<Action>()?),
                        other => {
                            return Err(de::Error::unknown_field(
                                other,
                                &["frame", "severity", "action"],
                            ));
                        }
                    }
                }
                let text = text.ok_or_else(|| de::Error::missing_field("frame"))?;
                Ok(FrameDe {
                    text,
                    severity,
                    action,
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// What a frame stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    Hit {
        category: Category,
        severity: Severity,
        action: Action,
    },
    Negation,
    NotMe,
    /// Someone the writer looks after: like `NotMe`, except that abuse and
    /// sexual violence against them still count.
    InCare,
    Accident,
    /// A day out or a journey: a place alone is not asked about.
    Outing,
    /// The writer says what their words were about ("the marriage i
    /// mean"): a question about their life is not asked.
    Meant,
    Past,
    Present,
    Joke,
    Raise,
    /// The danger is happening now: raises like `Raise`, and raises the
    /// learned layer's question too.
    Now,
    Idiom,
}

/// One part of a frame: any of `seqs` (each a run of word ids), after a gap
/// of at most `gap` words; skipped altogether when `optional`.
#[derive(Debug, Clone)]
pub(crate) struct Part {
    pub gap: u8,
    pub optional: bool,
    pub seqs: Vec<Box<[u32]>>,
}

#[derive(Debug, Clone)]
pub(crate) struct Frame {
    pub class: Class,
    pub parts: Vec<Part>,
    /// As the counsellor wrote it, for `matched` and diagnostics.
    pub text: Box<str>,
    /// Compares words as written, not stemmed (idioms: "killing me" must
    /// not cover "kill me").
    pub exact: bool,
    /// For each part that cannot be left out, the words it can begin with:
    /// a clause missing any of them cannot hold the frame, so it is not tried.
    pub required: Vec<Box<[u32]>>,
    /// Names the places concept (`PLACES_CONCEPT`), as `scope.outing` asks.
    pub names_place: bool,
}

impl Frame {
    fn new(class: Class, parts: Vec<Part>, text: &str, exact: bool) -> Frame {
        let required = parts
            .iter()
            .filter(|p| !p.optional)
            .map(|p| {
                let mut firsts: Vec<u32> = p.seqs.iter().map(|s| s[0]).collect();
                firsts.sort_unstable();
                firsts.dedup();
                firsts.into_boxed_slice()
            })
            .collect();
        Frame {
            class,
            parts,
            names_place: text.split('{').skip(1).any(|rest| {
                rest.strip_prefix(PLACES_CONCEPT)
                    .is_some_and(|after| after.starts_with('}'))
            }),
            text: text.trim().into(),
            exact,
            required,
        }
    }
}

/// The checked file, ready to match with.
#[derive(Debug, Clone)]
pub(crate) struct Rules {
    /// Stemmed word -> id.
    pub vocab: HashMap<Box<str>, u32>,
    /// Every surface word the rules know -> its own id, for splitting
    /// run-together words and for idioms, which match words as written.
    pub surface: HashMap<Box<str>, u32>,
    pub longest_surface: usize,
    pub frames: Vec<Frame>,
    /// Word id -> frames that can begin with it.
    pub index: HashMap<u32, Vec<u32>>,
    /// Surface id -> idioms that can begin with it.
    pub exact_index: HashMap<u32, Vec<u32>>,
    /// Word ids that mark the writer (for `not_me`).
    pub first_person: HashSet<u32>,
    pub concepts: usize,
    pub per_category: [(Severity, usize); 5],
}

/// The word id of a word the rules never mention.
pub(crate) const UNKNOWN: u32 = u32::MAX;

/// Where each line of a source file starts, so a span's line number is a
/// binary search rather than a count from the top (the rules run to
/// thousands of entries).
struct Lines(Vec<usize>);

impl Lines {
    fn new(source: &str) -> Lines {
        Lines(
            source
                .bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i)
                .collect(),
        )
    }

    /// The 1-based line holding byte `offset`.
    fn of(&self, offset: usize) -> usize {
        self.0.partition_point(|&newline| newline < offset) + 1
    }
}

/// Normalised, split words ready for stemming: the normaliser's joined forms
/// ("wanna", "gonna") are opened out again so "{want} to" composes.
pub(crate) fn words(normalised: &str, mut each: impl FnMut(&str)) {
    for w in normalised.split(' ').filter(|w| !w.is_empty()) {
        match w {
            "wanna" => ["want", "to"].iter().for_each(|w| each(w)),
            "gonna" => ["going", "to"].iter().for_each(|w| each(w)),
            "gotta" => ["got", "to"].iter().for_each(|w| each(w)),
            w => each(w),
        }
    }
}

pub(crate) fn stemmer() -> Stemmer {
    Stemmer::create(Algorithm::English)
}

struct Compiler<'a> {
    lines: Lines,
    file: &'a Path,
    stemmer: Stemmer,
    vocab: HashMap<Box<str>, u32>,
    surface: HashMap<Box<str>, u32>,
    /// Idioms are compiled with `exact` set: words keep their surface ids.
    exact: bool,
    /// Concept name -> (line, raw entries); resolved on first use.
    raw_concepts: BTreeMap<String, (usize, Vec<Spanned<String>>)>,
    concepts: HashMap<String, Vec<Box<[u32]>>>,
}

impl Compiler<'_> {
    fn err(&self, line: usize, key: &str, problem: impl Into<String>) -> SafetyError {
        SafetyError::Invalid {
            file: self.file.to_path_buf(),
            line,
            key: key.to_owned(),
            problem: problem.into(),
        }
    }

    fn id(&mut self, word: &str) -> u32 {
        let next = u32::try_from(self.surface.len()).unwrap_or(UNKNOWN - 1);
        let surface = *self.surface.entry(word.into()).or_insert(next);
        if self.exact {
            return surface;
        }
        let stem = self.stemmer.stem(word);
        let next = u32::try_from(self.vocab.len()).unwrap_or(UNKNOWN - 1);
        *self.vocab.entry(stem.as_ref().into()).or_insert(next)
    }

    /// Plain words as word ids, through the same normalising as messages.
    fn run(&mut self, text: &str) -> Vec<u32> {
        let mut out = Vec::new();
        let mut ws = Vec::new();
        words(&normalise(text), |w| ws.push(w.to_owned()));
        for w in ws {
            out.push(self.id(&w));
        }
        out
    }

    /// A concept's sequences, resolving `{other}` entries (`stack` catches loops).
    fn concept(
        &mut self,
        name: &str,
        line: usize,
        key: &str,
        stack: &mut Vec<String>,
    ) -> Result<Vec<Box<[u32]>>, SafetyError> {
        if let Some(done) = self.concepts.get(name) {
            return Ok(done.clone());
        }
        let Some((_, entries)) = self.raw_concepts.get(name).cloned() else {
            let known: Vec<&str> = self.raw_concepts.keys().map(String::as_str).collect();
            let near = nearest(name, &known)
                .map(|n| format!(" (did you mean `{{{n}}}`?)"))
                .unwrap_or_default();
            return Err(self.err(
                line,
                key,
                format!(
                    "`{{{name}}}` is not a concept: expected one of the names under [concepts]{near}"
                ),
            ));
        };
        if stack.iter().any(|s| s == name) {
            return Err(self.err(
                line,
                key,
                format!(
                    "concepts refer to each other in a loop: {} -> {name}",
                    stack.join(" -> ")
                ),
            ));
        }
        stack.push(name.to_owned());
        let mut seqs: Vec<Box<[u32]>> = Vec::new();
        let ckey = format!("concepts.{name}");
        for entry in &entries {
            let eline = self.lines.of(entry.span().start);
            let text = entry.get_ref().trim();
            if text.contains('|') || text.contains("..") {
                return Err(self.err(
                    eline,
                    &ckey,
                    format!(
                        "{text:?}: a concept lists words, phrases or `{{other}}` concepts; \
                         `|` and `..` belong in frames"
                    ),
                ));
            }
            seqs.extend(self.expand(text, eline, &ckey, stack)?);
        }
        stack.pop();
        seqs.sort();
        seqs.dedup();
        self.concepts.insert(name.to_owned(), seqs.clone());
        Ok(seqs)
    }

    /// Every run of word ids `text` stands for: words, `{concepts}`, and
    /// `word?` or `{concept}?` that may be left out, in that order.
    fn expand(
        &mut self,
        text: &str,
        line: usize,
        key: &str,
        stack: &mut Vec<String>,
    ) -> Result<Vec<Box<[u32]>>, SafetyError> {
        let mut pieces: Vec<Vec<Vec<u32>>> = Vec::new();
        let mut plain: Vec<&str> = Vec::new();
        for token in text.split_whitespace() {
            let (body, optional) = match token.strip_suffix('?') {
                Some(body) => (body, true),
                None => (token, false),
            };
            if body.is_empty() {
                return Err(self.err(
                    line,
                    key,
                    format!("{text:?}: a lone `?`; put it right after a word, as in `really?`"),
                ));
            }
            if !optional && !body.contains(['{', '}']) {
                plain.push(body);
                continue;
            }
            if !plain.is_empty() {
                pieces.push(vec![self.run(&plain.join(" "))]);
                plain.clear();
            }
            if self.exact && body.starts_with('{') {
                return Err(self.err(
                    line,
                    key,
                    format!("{text:?}: scope phrases (all but `raise`) are matched word for word, so they take no `{{concepts}}`; list each phrase in full"),
                ));
            }
            let mut choices: Vec<Vec<u32>> = if let Some(inner) = body.strip_prefix('{') {
                let Some(name) = inner.strip_suffix('}') else {
                    return Err(self.err(
                        line,
                        key,
                        format!("{text:?}: `{token}` opens a brace it does not close"),
                    ));
                };
                self.concept(name, line, key, stack)?
                    .into_iter()
                    .map(Vec::from)
                    .collect()
            } else if body.contains(['{', '}']) {
                return Err(self.err(line, key, format!("{text:?}: `{token}` has a stray brace")));
            } else {
                vec![self.run(body)]
            };
            if optional {
                choices.push(Vec::new());
            }
            pieces.push(choices);
        }
        if !plain.is_empty() {
            pieces.push(vec![self.run(&plain.join(" "))]);
        }
        let mut combos: Vec<Vec<u32>> = vec![Vec::new()];
        for choices in pieces {
            let mut next = Vec::with_capacity(combos.len() * choices.len());
            for c in &combos {
                for choice in &choices {
                    let mut v = c.clone();
                    v.extend_from_slice(choice);
                    next.push(v);
                }
            }
            if next.len() > MAX_COMBINATIONS {
                return Err(self.err(
                    line,
                    key,
                    format!(
                        "{text:?} stands for more than {MAX_COMBINATIONS} phrases; \
                         split it, or put a `..` gap between its concepts"
                    ),
                ));
            }
            combos = next;
        }
        combos.retain(|c| !c.is_empty());
        if combos.is_empty() {
            return Err(self.err(
                line,
                key,
                format!("{text:?} has no words left once tidied; expected a word"),
            ));
        }
        Ok(combos.into_iter().map(Vec::into_boxed_slice).collect())
    }

    /// `"{i} took|swallowed .. {quantity}? .. {pills}"` as parts. Gaps
    /// (`..`, `..N`) cut a frame into segments. A segment with `|` is one
    /// choice between phrases ("cant go on|cant cope"); any other segment is
    /// its words in a row, each `word?` or `{concept}?` its own part.
    fn frame(&mut self, text: &str, line: usize, key: &str) -> Result<Vec<Part>, SafetyError> {
        let mut segments: Vec<(u8, Vec<&str>)> = vec![(0, Vec::new())];
        for token in text.split_whitespace() {
            if let Some(rest) = token.strip_prefix("..") {
                let gap = if rest.is_empty() {
                    DEFAULT_GAP
                } else {
                    match rest.parse::<u8>() {
                        Ok(n) if (1..=MAX_GAP).contains(&n) => n,
                        _ => {
                            return Err(self.err(
                                line,
                                key,
                                format!(
                                    "{text:?}: `{token}` should be `..` (up to {DEFAULT_GAP} words) \
                                     or `..N` with N from 1 to {MAX_GAP}"
                                ),
                            ));
                        }
                    }
                };
                if segments.last().is_some_and(|(_, words)| words.is_empty()) {
                    return Err(self.err(
                        line,
                        key,
                        format!(
                            "{text:?}: `..` goes between two words, never at the start, \
                             at the end or twice in a row"
                        ),
                    ));
                }
                segments.push((gap, Vec::new()));
            } else {
                if let Some(last) = segments.last_mut() {
                    last.1.push(token);
                }
            }
        }
        if segments.last().is_some_and(|(_, words)| words.is_empty()) {
            if segments.len() == 1 {
                return Err(self.err(line, key, "the frame is empty; expected some words"));
            }
            return Err(self.err(
                line,
                key,
                format!("{text:?}: `..` goes between two words, never at the end"),
            ));
        }
        let mut parts: Vec<Part> = Vec::new();
        for (gap, tokens) in segments {
            let segment = tokens.join(" ");
            if segment.contains('|') {
                let mut seqs = Vec::new();
                for alt in segment.split('|') {
                    if alt.trim().is_empty() {
                        return Err(self.err(
                            line,
                            key,
                            format!("{text:?}: `{segment}` has an empty choice; write `a|b`"),
                        ));
                    }
                    seqs.extend(self.expand(alt, line, key, &mut Vec::new())?);
                }
                parts.push(Part {
                    gap,
                    optional: false,
                    seqs,
                });
                continue;
            }
            let mut first = true;
            let mut plain: Vec<&str> = Vec::new();
            let flush =
                |c: &mut Self, plain: &mut Vec<&str>, parts: &mut Vec<Part>, first: &mut bool| {
                    if plain.is_empty() {
                        return;
                    }
                    for id in c.run(&plain.join(" ")) {
                        parts.push(Part {
                            gap: if *first { gap } else { 0 },
                            optional: false,
                            seqs: vec![Box::from([id])],
                        });
                        *first = false;
                    }
                    plain.clear();
                };
            for token in tokens {
                let optional = token.ends_with('?');
                if !optional && !token.contains(['{', '}']) {
                    plain.push(token);
                    continue;
                }
                flush(self, &mut plain, &mut parts, &mut first);
                let body = token.strip_suffix('?').unwrap_or(token);
                let seqs = self.expand(body, line, key, &mut Vec::new())?;
                parts.push(Part {
                    gap: if first { gap } else { 0 },
                    optional,
                    seqs,
                });
                first = false;
            }
            flush(self, &mut plain, &mut parts, &mut first);
        }
        if parts.is_empty() {
            return Err(self.err(line, key, "the frame is empty; expected some words"));
        }
        if parts.iter().all(|p| p.optional) {
            return Err(self.err(
                line,
                key,
                format!("{text:?}: every part is optional (`?`), so it would match anything"),
            ));
        }
        if parts.len() > MAX_PARTS {
            return Err(self.err(
                line,
                key,
                format!(
                    "{text:?} has {} parts; at most {MAX_PARTS} (split it into two frames)",
                    parts.len()
                ),
            ));
        }
        Ok(parts)
    }
}

/// The known name closest to `name`, if any is close.
fn nearest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (distance(name, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, k)| k)
}

fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// Parse and check a safety file; `file` is only used in error messages.
pub(crate) fn compile(source: &str, file: &Path) -> Result<Rules, SafetyError> {
    let de: FileDe = toml::from_str(source).map_err(|e| {
        let (line, message) = crate::toml_error::describe(source, &e);
        SafetyError::Invalid {
            file: file.to_path_buf(),
            line: line.unwrap_or(1),
            key: key_in(&message).unwrap_or_else(|| "(file)".to_owned()),
            problem: format!(
                "{message} (the file has [concepts], [suicide], [self_harm], [harm_others], \
                 [abuse], [sexual_violence] and [scope]; see its opening comments)"
            ),
        }
    })?;
    let lines = Lines::new(source);
    let raw_concepts = de
        .concepts
        .into_iter()
        .map(|(name, list)| {
            let line = lines.of(list.span().start);
            (name, (line, list.into_inner()))
        })
        .collect();
    let mut c = Compiler {
        lines,
        file,
        stemmer: stemmer(),
        vocab: HashMap::new(),
        surface: HashMap::new(),
        exact: false,
        raw_concepts,
        concepts: HashMap::new(),
    };
    let names: Vec<(String, usize)> = c
        .raw_concepts
        .iter()
        .map(|(n, (l, _))| (n.clone(), *l))
        .collect();
    for (name, line) in &names {
        if name.is_empty()
            || !name
                .chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_')
        {
            return Err(c.err(
                *line,
                &format!("concepts.{name}"),
                "a concept's name is lower-case letters, digits and `_`",
            ));
        }
        let list = c.concept(name, *line, &format!("concepts.{name}"), &mut Vec::new())?;
        if list.is_empty() {
            return Err(c.err(
                *line,
                &format!("concepts.{name}"),
                "the concept lists nothing; expected at least one word",
            ));
        }
    }

    let mut frames: Vec<Frame> = Vec::new();
    let mut per_category = [(Severity::High, 0usize); 5];
    let tables = [
        (Category::Suicide, de.suicide),
        (Category::SelfHarm, de.self_harm),
        (Category::HarmOthers, de.harm_others),
        (Category::Abuse, de.abuse),
        (Category::SexualViolence, de.sexual_violence),
    ];
    for (i, (category, table)) in tables.into_iter().enumerate() {
        let key = format!("{category}.frames");
        per_category[i] = (table.severity, table.frames.len());
        let mut seen: HashMap<String, usize> = HashMap::new();
        for f in table.frames {
            let line = c.lines.of(f.span().start);
            let f = f.into_inner();
            if let Some(first) = seen.insert(f.text.trim().to_owned(), line) {
                return Err(c.err(
                    line,
                    &key,
                    format!("{:?} is listed twice (first on line {first})", f.text),
                ));
            }
            let parts = c.frame(&f.text, line, &key)?;
            let class = Class::Hit {
                category,
                severity: f.severity.unwrap_or(table.severity),
                action: f.action.unwrap_or(Action::Crisis),
            };
            frames.push(Frame::new(class, parts, &f.text, false));
        }
    }

    let scope = de.scope;
    let mut first_person = HashSet::new();
    for w in &scope.first_person {
        let line = c.lines.of(w.span().start);
        let ids = c.run(w.get_ref());
        if ids.len() != 1 {
            return Err(c.err(
                line,
                "scope.first_person",
                format!("{:?}: expected one word such as \"me\"", w.get_ref()),
            ));
        }
        first_person.extend(ids);
    }
    if let Some(first) = scope.outing.first()
        && !c.raw_concepts.contains_key(PLACES_CONCEPT)
    {
        return Err(c.err(
            c.lines.of(first.span().start),
            "scope.outing",
            format!(
                "`outing` passes by asking frames that name `{{{PLACES_CONCEPT}}}`, \
                 but [concepts] has no `{PLACES_CONCEPT}`: name the places there"
            ),
        ));
    }
    for (name, class, list) in [
        ("negation", Class::Negation, scope.negation),
        ("not_me", Class::NotMe, scope.not_me),
        ("in_care", Class::InCare, scope.in_care),
        ("accident", Class::Accident, scope.accident),
        ("outing", Class::Outing, scope.outing),
        ("meant", Class::Meant, scope.meant),
        ("past", Class::Past, scope.past),
        ("present", Class::Present, scope.present),
        ("joke", Class::Joke, scope.joke),
        ("raise", Class::Raise, scope.raise),
        ("now", Class::Now, scope.now),
        ("idioms", Class::Idiom, scope.idioms),
    ] {
        let key = format!("scope.{name}");
        // Scope words are matched as written: stemmed, "gardening" would
        // read as "garden" and "shows" as "show". Only raising cues, which
        // can never flag a message by themselves, meet other word forms.
        c.exact = !matches!(class, Class::Raise | Class::Now);
        for f in list {
            let line = c.lines.of(f.span().start);
            let parts = c.frame(f.get_ref(), line, &key)?;
            frames.push(Frame::new(class, parts, f.get_ref(), c.exact));
        }
        c.exact = false;
    }

    let mut index: HashMap<u32, Vec<u32>> = HashMap::new();
    let mut exact_index: HashMap<u32, Vec<u32>> = HashMap::new();
    for (i, frame) in frames.iter().enumerate() {
        let index = if frame.exact {
            &mut exact_index
        } else {
            &mut index
        };
        let mut firsts = HashSet::new();
        for part in &frame.parts {
            firsts.extend(part.seqs.iter().map(|s| s[0]));
            if !part.optional {
                break;
            }
        }
        for w in firsts {
            index.entry(w).or_default().push(i as u32);
        }
    }
    let longest_surface = c.surface.keys().map(|s| s.len()).max().unwrap_or(0);
    Ok(Rules {
        vocab: c.vocab,
        surface: c.surface,
        longest_surface,
        frames,
        index,
        exact_index,
        first_person,
        concepts: names.len(),
        per_category,
    })
}

/// The key a toml message names in backquotes, if any.
fn key_in(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(message[start..start + len].to_owned())
}
