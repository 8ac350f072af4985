//! Reading and checking `prompts/safety.toml`.
//!
//! Every problem is reported with the file, the line, the key and what was
//! expected, so a counsellor editing the file can fix it without reading code.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};
use toml::Spanned;

use super::normalise::normalise;
use super::{Category, Severity};

/// Why a safety file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SafetyError {
    /// The file could not be read at all.
    #[error("{}: cannot read the safety phrases: {source}", file.display())]
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
        /// The TOML key the problem is under, e.g. `abuse.phrases`.
        key: String,
        /// What is wrong and what was expected instead.
        problem: String,
    },
}

/// Most expansions one listed phrase may produce through slots.
const MAX_EXPANSIONS: usize = 2_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDe {
    #[serde(default)]
    slots: Option<Spanned<BTreeMap<String, Vec<Spanned<String>>>>>,
    self_harm: Spanned<CategoryDe>,
    harm_others: Spanned<CategoryDe>,
    abuse: Spanned<CategoryDe>,
    sexual_violence: Spanned<CategoryDe>,
    idioms: Spanned<IdiomsDe>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CategoryDe {
    severity: Severity,
    phrases: Vec<Spanned<PhraseDe>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IdiomsDe {
    phrases: Vec<Spanned<String>>,
}

/// A phrase: either `"words"` or `{ phrase = "words", severity = "high" }`.
struct PhraseDe {
    text: String,
    severity: Option<Severity>,
}

impl<'de> Deserialize<'de> for PhraseDe {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = PhraseDe;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a phrase in quotes, or { phrase = \"...\", severity = \"critical\" | \"high\" | \"concern\" }",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<PhraseDe, E> {
                Ok(PhraseDe {
                    text: v.to_owned(),
                    severity: None,
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PhraseDe, A::Error> {
                let mut text = None;
                let mut severity = None;
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "phrase" => text = Some(map.next_value::<String>()?),
                        "severity" => severity = Some(map.next_value::<Severity>()?),
                        other => {
                            return Err(de::Error::unknown_field(other, &["phrase", "severity"]));
                        }
                    }
                }
                let text = text.ok_or_else(|| de::Error::missing_field("phrase"))?;
                Ok(PhraseDe { text, severity })
            }
        }
        d.deserialize_any(V)
    }
}

/// What an automaton pattern stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// Index into [`Compiled::phrases`].
    Phrase(u32),
    Idiom,
}

/// One phrase as the counsellor listed it.
#[derive(Debug, Clone)]
pub(crate) struct Listed {
    pub category: Category,
    pub severity: Severity,
    pub text: String,
}

/// The checked file, ready to build an automaton from.
pub(crate) struct Compiled {
    pub phrases: Vec<Listed>,
    /// Normalised pattern text and what it stands for.
    pub patterns: Vec<(String, Target)>,
    /// Run-together forms ("killmyself", "wanttodie") and what they stand for.
    pub compact: Vec<(String, Target)>,
    pub idioms: usize,
    pub slots: usize,
    /// Listed phrases and patterns per category, in [`Category::ALL`] order.
    pub per_category: [(Severity, usize, usize); 4],
}

fn line_of(source: &str, offset: usize) -> usize {
    let end = offset.min(source.len());
    source.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

struct Ctx<'a> {
    source: &'a str,
    file: &'a Path,
}

impl Ctx<'_> {
    fn err(&self, offset: usize, key: &str, problem: impl Into<String>) -> SafetyError {
        SafetyError::Invalid {
            file: self.file.to_path_buf(),
            line: line_of(self.source, offset),
            key: key.to_owned(),
            problem: problem.into(),
        }
    }

    /// Turn toml's own error (syntax, unknown key, wrong type, unknown
    /// severity, missing category) into ours.
    fn toml_error(&self, e: &toml::de::Error) -> SafetyError {
        let offset = e.span().map_or(0, |s| s.start);
        let message = e.message().trim().to_owned();
        let (table, line_key) = if e.span().is_some() {
            locate(self.source, offset)
        } else {
            (None, None)
        };
        const TOP: [&str; 6] = [
            "slots",
            "self_harm",
            "harm_others",
            "abuse",
            "sexual_violence",
            "idioms",
        ];
        let field = key_from_message(&message);
        let table = match &field {
            Some(f) if message.contains("missing field") && TOP.contains(&f.as_str()) => None,
            _ => table,
        };
        let key = match (field, table, line_key) {
            // an unknown or missing table, e.g. `[self_harrm]`
            (Some(field), Some(t), _) if field == t || t.ends_with(&format!(".{field}")) => t,
            (Some(field), Some(t), _) => format!("{t}.{field}"),
            (Some(field), None, _) => field,
            (None, Some(t), Some(k)) => format!("{t}.{k}"),
            (None, None, Some(k)) => k,
            (None, Some(t), None) => t,
            (None, None, None) => "(top level)".to_owned(),
        };
        let problem = if message.contains("unknown field") {
            message.replace("unknown field", "unknown key")
                + " (check the spelling; categories are self_harm, harm_others, abuse, sexual_violence)"
        } else if message.contains("missing field") {
            message.replace("missing field", "missing key") + " (expected it to be present)"
        } else {
            message
        };
        self.err(offset, &key, problem)
    }
}

fn key_from_message(message: &str) -> Option<String> {
    for marker in ["unknown field `", "missing field `"] {
        if let Some(i) = message.find(marker) {
            let rest = &message[i + marker.len()..];
            return rest.find('`').map(|j| rest[..j].to_owned());
        }
    }
    None
}

/// The table header above `offset` and the `key =` that `offset` sits under
/// (looking back over the lines of a multi-line array).
fn locate(source: &str, offset: usize) -> (Option<String>, Option<String>) {
    let offset = offset.min(source.len());
    let end = source[offset..]
        .find('\n')
        .map_or(source.len(), |i| offset + i);
    let mut key = None;
    for line in source[..end].lines().rev() {
        let line = line.trim();
        if let Some(header) = line.strip_prefix('[') {
            let header = header.trim_start_matches('[');
            let header = header.split(']').next().unwrap_or("").trim().to_owned();
            return (Some(header), key);
        }
        if key.is_none()
            && let Some((k, _)) = line.split_once('=')
        {
            let k = k.trim();
            if !k.is_empty()
                && k.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '"' | '\'' | '.'))
            {
                key = Some(k.trim_matches(['"', '\'']).to_owned());
            }
        }
    }
    (None, key)
}

/// Split a phrase into literal text and `{slot}` names, and expand it.
fn expand(
    ctx: &Ctx,
    offset: usize,
    key: &str,
    phrase: &str,
    slots: &BTreeMap<String, Vec<String>>,
) -> Result<Vec<String>, SafetyError> {
    let mut out = vec![String::new()];
    let mut rest = phrase;
    while !rest.is_empty() {
        match rest.find(['{', '}']) {
            None => {
                out.iter_mut().for_each(|o| o.push_str(rest));
                rest = "";
            }
            Some(i) if rest.as_bytes()[i] == b'}' => {
                return Err(ctx.err(
                    offset,
                    key,
                    format!("phrase \"{phrase}\" has a `}}` with no `{{` before it; expected slots written like {{he}}"),
                ));
            }
            Some(i) => {
                let lit = &rest[..i];
                out.iter_mut().for_each(|o| o.push_str(lit));
                let after = &rest[i + 1..];
                let Some(j) = after.find('}') else {
                    return Err(ctx.err(
                        offset,
                        key,
                        format!("phrase \"{phrase}\" opens a `{{` that is never closed; expected slots written like {{he}}"),
                    ));
                };
                let name = after[..j].trim();
                let Some(values) = slots.get(name) else {
                    let known: Vec<String> = slots.keys().map(|k| format!("{{{k}}}")).collect();
                    return Err(ctx.err(
                        offset,
                        key,
                        format!(
                            "phrase \"{phrase}\" uses {{{name}}}, which is not a slot; expected one of {} (slots are defined under [slots])",
                            if known.is_empty() { "none defined".to_owned() } else { known.join(", ") }
                        ),
                    ));
                };
                if out.len() * values.len() > MAX_EXPANSIONS {
                    return Err(ctx.err(
                        offset,
                        key,
                        format!("phrase \"{phrase}\" expands to more than {MAX_EXPANSIONS} phrases; expected fewer slots in one phrase"),
                    ));
                }
                out = out
                    .iter()
                    .flat_map(|o| values.iter().map(move |v| format!("{o}{v}")))
                    .collect();
                rest = &after[j + 1..];
            }
        }
    }
    Ok(out)
}

/// The forms a multi-word phrase takes when typed without spaces: both the
/// normalised words joined ("wannadie") and the raw words joined and then
/// normalised ("wanttodie", what spacing out every letter produces).
fn push_compact(raw: &str, norm: &str, target: Target, out: &mut Vec<(String, Target)>) {
    if !norm.contains(' ') {
        return;
    }
    let joined: String = norm.chars().filter(|&c| c != ' ').collect();
    let raw_joined: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
    let raw_joined: String = normalise(&raw_joined)
        .chars()
        .filter(|&c| c != ' ')
        .collect();
    out.push((joined.clone(), target));
    if raw_joined != joined {
        out.push((raw_joined, target));
    }
}

/// Parse and check a safety file.
pub(crate) fn compile(source: &str, file: &Path) -> Result<Compiled, SafetyError> {
    let ctx = Ctx { source, file };
    let parsed: FileDe = toml::from_str(source).map_err(|e| ctx.toml_error(&e))?;

    // Slots: each value non-empty, distinct once normalised.
    let mut slots: BTreeMap<String, Vec<String>> = BTreeMap::new();
    if let Some(table) = &parsed.slots {
        for (name, values) in table.get_ref() {
            let key = format!("slots.{name}");
            if name.is_empty() || name.contains(['{', '}', ' ']) {
                return Err(ctx.err(
                    table.span().start,
                    &key,
                    "slot names must be a single word without braces, e.g. he",
                ));
            }
            if values.is_empty() {
                return Err(ctx.err(
                    table.span().start,
                    &key,
                    "this slot lists no words; expected at least one, e.g. [\"he\", \"she\"]",
                ));
            }
            let mut seen: HashMap<String, usize> = HashMap::new();
            let mut list = Vec::with_capacity(values.len());
            for v in values {
                let off = v.span().start;
                let norm = normalise(v.get_ref());
                if norm.is_empty() {
                    return Err(ctx.err(
                        off,
                        &key,
                        format!("slot word \"{}\" is empty once normalised; expected a word with letters", v.get_ref()),
                    ));
                }
                if let Some(prev) = seen.insert(norm.clone(), off) {
                    return Err(ctx.err(
                        off,
                        &key,
                        format!(
                            "slot word \"{}\" is listed twice (also on line {}; both read as \"{norm}\"); expected each word once",
                            v.get_ref(),
                            line_of(source, prev)
                        ),
                    ));
                }
                list.push(v.get_ref().trim().to_owned());
            }
            slots.insert(name.clone(), list);
        }
    }

    let mut phrases = Vec::new();
    let mut patterns: Vec<(String, Target)> = Vec::new();
    let mut compact: Vec<(String, Target)> = Vec::new();
    // normalised pattern -> (offset, listed phrase) for duplicate reports
    let mut seen: HashMap<String, (usize, String)> = HashMap::new();
    let mut per_category = [(Severity::Concern, 0, 0); 4];

    // A pattern already produced by an earlier phrase is an error when the
    // later phrase is written out in full (it adds nothing); when it came
    // from a slot ("{him}" and "{his}" both give "her") the earlier one is
    // kept and the copy skipped.
    let mut add = |norm: String,
                   target: Target,
                   off: usize,
                   key: &str,
                   listed: &str,
                   patterns: &mut Vec<(String, Target)>|
     -> Result<(), SafetyError> {
        if let Some((prev_off, prev_listed)) = seen.get(&norm) {
            if listed.contains('{') && *prev_off != off {
                return Ok(());
            }
            let what = if *prev_off == off {
                format!("phrase \"{listed}\" produces \"{norm}\" twice (check its slots)")
            } else {
                format!(
                    "phrase \"{listed}\" is already covered by \"{prev_listed}\" on line {} (both read as \"{norm}\")",
                    line_of(source, *prev_off)
                )
            };
            return Err(ctx.err(off, key, format!("{what}; expected each phrase once")));
        }
        seen.insert(norm.clone(), (off, listed.to_owned()));
        patterns.push((norm, target));
        Ok(())
    };

    let cats = [
        (Category::SelfHarm, &parsed.self_harm),
        (Category::HarmOthers, &parsed.harm_others),
        (Category::Abuse, &parsed.abuse),
        (Category::SexualViolence, &parsed.sexual_violence),
    ];
    for (ci, (category, cat)) in cats.into_iter().enumerate() {
        let key = format!("{}.phrases", category.as_str());
        let cat_ref = cat.get_ref();
        if cat_ref.phrases.is_empty() {
            return Err(ctx.err(
                cat.span().start,
                &key,
                "this category lists no phrases; expected at least one",
            ));
        }
        let before = patterns.len();
        for entry in &cat_ref.phrases {
            let off = entry.span().start;
            let p = entry.get_ref();
            let listed = p.text.trim();
            if listed.is_empty() {
                return Err(ctx.err(
                    off,
                    &key,
                    "empty phrase \"\"; expected some words, e.g. \"kill myself\"",
                ));
            }
            let idx = u32::try_from(phrases.len()).unwrap_or(u32::MAX);
            phrases.push(Listed {
                category,
                severity: p.severity.unwrap_or(cat_ref.severity),
                text: listed.to_owned(),
            });
            for raw in expand(&ctx, off, &key, listed, &slots)? {
                let norm = normalise(&raw);
                if norm.is_empty() {
                    return Err(ctx.err(
                        off,
                        &key,
                        format!("phrase \"{listed}\" has no letters or numbers once normalised; expected words"),
                    ));
                }
                push_compact(&raw, &norm, Target::Phrase(idx), &mut compact);
                add(norm, Target::Phrase(idx), off, &key, listed, &mut patterns)?;
            }
        }
        per_category[ci] = (
            cat_ref.severity,
            cat_ref.phrases.len(),
            patterns.len() - before,
        );
    }

    let idioms = parsed.idioms.get_ref();
    for entry in &idioms.phrases {
        let off = entry.span().start;
        let key = "idioms.phrases";
        let listed = entry.get_ref().trim();
        if listed.is_empty() {
            return Err(ctx.err(
                off,
                key,
                "empty idiom \"\"; expected some words, e.g. \"dying to know\"",
            ));
        }
        for raw in expand(&ctx, off, key, listed, &slots)? {
            let norm = normalise(&raw);
            if norm.is_empty() {
                return Err(ctx.err(
                    off,
                    key,
                    format!("idiom \"{listed}\" has no letters or numbers once normalised; expected words"),
                ));
            }
            push_compact(&raw, &norm, Target::Idiom, &mut compact);
            add(norm, Target::Idiom, off, key, listed, &mut patterns)?;
        }
    }

    Ok(Compiled {
        phrases,
        patterns,
        compact,
        idioms: idioms.phrases.len(),
        slots: slots.len(),
        per_category,
    })
}
