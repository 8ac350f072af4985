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
    pub say: String,
    #[serde(default)]
    pub say_for: BTreeMap<String, String>,
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
