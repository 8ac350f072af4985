//! The TOML file as written, before validation. Unknown keys are refused so
//! that a typo (`chioces`) is caught rather than silently ignored.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use super::Problem;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFlow {
    #[serde(skip)]
    pub file: std::path::PathBuf,
    #[serde(skip)]
    pub lines: LineIndex,
    pub id: Spanned<String>,
    pub title: String,
    pub summary: String,
    pub start: String,
    #[serde(default)]
    pub steps: Vec<RawStep>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    pub id: Spanned<String>,
    pub say: Option<Wordings>,
    #[serde(default)]
    pub say_for: BTreeMap<String, Wordings>,
    #[serde(default)]
    pub choices: Vec<RawChoice>,
    pub ask: Option<String>,
    pub save: Option<String>,
    pub next: Option<String>,
    #[serde(default)]
    pub next_for: BTreeMap<String, String>,
    #[serde(default)]
    pub end: bool,
    pub tool: Option<String>,
    pub fact: Option<String>,
    #[serde(default)]
    pub clear: Vec<String>,
    #[serde(default)]
    pub when: Vec<RawWhen>,
}

/// One conditional way on, as written: exactly one of `known`, `unknown`
/// or `fact` with `is`, and the step it leads to.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWhen {
    pub known: Option<String>,
    pub unknown: Option<String>,
    pub fact: Option<String>,
    pub is: Option<Wordings>,
    pub next: String,
}

/// Words written as one string or as a list of strings: the wordings of a
/// step, or the values a branch accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wordings(pub Vec<String>);

impl<'de> Deserialize<'de> for Wordings {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Wordings;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("words in quotes, or a list of them in [ ]")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Wordings, E> {
                Ok(Wordings(vec![text.to_owned()]))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Wordings, A::Error> {
                let mut out = Vec::new();
                while let Some(text) = seq.next_element::<String>()? {
                    out.push(text);
                }
                Ok(Wordings(out))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawChoice {
    pub label: String,
    pub next: Option<String>,
    pub flow: Option<String>,
    pub consent: Option<bool>,
    pub situation: Option<String>,
    pub value: Option<String>,
    pub tool: Option<String>,
    pub days: Option<i64>,
    #[serde(default)]
    pub clear: Vec<String>,
}

/// Byte offsets of line starts, to turn a span into a line number.
#[derive(Debug, Default)]
pub struct LineIndex(Vec<usize>);

impl LineIndex {
    fn new(text: &str) -> LineIndex {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        LineIndex(starts)
    }

    /// 1-based line of a byte offset.
    pub fn line(&self, offset: usize) -> usize {
        self.0.partition_point(|&start| start <= offset)
    }
}

pub fn parse(file: &Path, text: &str) -> Result<RawFlow, Problem> {
    let lines = LineIndex::new(text);
    match toml::from_str::<RawFlow>(text) {
        Ok(mut flow) => {
            flow.file = file.to_owned();
            flow.lines = lines;
            Ok(flow)
        }
        Err(err) => {
            let (line, message) = crate::toml_error::describe(text, &err);
            Err(Problem {
                file: file.to_owned(),
                line,
                flow: None,
                step: None,
                message,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_index_counts_from_one() {
        let index = LineIndex::new("a\nbc\n\nd");
        assert_eq!(index.line(0), 1);
        assert_eq!(index.line(2), 2);
        assert_eq!(index.line(3), 2);
        assert_eq!(index.line(5), 3);
        assert_eq!(index.line(6), 4);
    }
}
