//! Prompt files to validated flows. Everything is checked at load, all at
//! once, and every problem names its file, flow and step, so a content
//! designer can fix a whole draft in one pass and a broken file can never
//! reach a running bot.

pub mod graph;
mod layout;
mod model;
mod raw;
pub mod transcript;
mod validate;
mod view;

use std::fmt;
use std::path::{Path, PathBuf};

pub use model::{
    Action, Branch, Choice, Flow, Next, Piece, Script, Situation, Step, Target, Test, Tool, pick,
    pieces,
};

/// The longest message Discord will show.
pub const MAX_MESSAGE_CHARS: usize = 2000;
/// The longest label Discord allows on a button.
pub const MAX_LABEL_CHARS: usize = 80;
/// Four rows of five buttons; the fifth row holds the three service links.
pub const MAX_CHOICES: usize = 20;
/// How much of a saved answer a quote shows, and so how much it counts for.
pub const QUOTE_CHARS: usize = 300;
/// Flows every script must have.
pub const WELCOME: &str = "welcome";
pub const MENU: &str = "menu";
/// The daily check-in, whose `scale`, `action` and `note` are also kept per
/// day for the progress view.
pub const DAILY: &str = "daily";

/// One thing wrong in the prompt files, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub flow: Option<String>,
    pub step: Option<String>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        f.write_str(": ")?;
        if let Some(flow) = &self.flow {
            write!(f, "flow `{flow}`, ")?;
        }
        if let Some(step) = &self.step {
            write!(f, "step `{step}`: ")?;
        }
        f.write_str(&self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read the prompt folder {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}", render_problems(.0))]
    Invalid(Vec<Problem>),
}

fn render_problems(problems: &[Problem]) -> String {
    let mut out = format!(
        "{} problem{} in the prompt files:",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
    for problem in problems {
        out.push_str("\n  ");
        out.push_str(&problem.to_string());
    }
    out
}

/// A source file: where it came from (for messages) and what it says.
pub struct Source {
    pub path: PathBuf,
    pub text: String,
}

/// The folder of flow files inside a prompts folder.
pub fn flows_dir(prompts: &Path) -> PathBuf {
    prompts.join("flows")
}

/// Loads and validates every `*.toml` in `prompts/flows/`.
pub fn load_dir(prompts: &Path) -> Result<Script, LoadError> {
    let dir = flows_dir(prompts);
    let read_err = |source| LoadError::Read {
        path: dir.clone(),
        source,
    };
    let mut sources = Vec::new();
    for entry in std::fs::read_dir(&dir).map_err(read_err)? {
        let path = entry.map_err(read_err)?.path();
        if path.extension().is_some_and(|e| e == "toml") {
            let text = std::fs::read_to_string(&path).map_err(|source| LoadError::Read {
                path: path.clone(),
                source,
            })?;
            sources.push(Source { path, text });
        }
    }
    sources.sort_by(|a, b| a.path.cmp(&b.path));
    load_sources(&sources)
}

/// The flows built into the binary from `prompts/flows/` at compile time, so
/// `mend chat` works from any folder with no set-up.
pub fn embedded_sources() -> Vec<Source> {
    const EMBEDDED: &[(&str, &str)] = &include!(concat!(env!("OUT_DIR"), "/embedded_flows.rs"));
    EMBEDDED
        .iter()
        .map(|(name, text)| Source {
            path: Path::new("prompts/flows").join(name),
            text: (*text).to_owned(),
        })
        .collect()
}

pub fn load_embedded() -> Result<Script, LoadError> {
    load_sources(&embedded_sources())
}

/// Parses and validates a set of flow files together.
pub fn load_sources(sources: &[Source]) -> Result<Script, LoadError> {
    let mut problems = Vec::new();
    let mut parsed = Vec::new();
    for source in sources {
        match raw::parse(&source.path, &source.text) {
            Ok(flow) => parsed.push(flow),
            Err(problem) => problems.push(problem),
        }
    }
    match validate::validate(parsed) {
        Ok(script) if problems.is_empty() => Ok(script),
        Ok(_) => Err(LoadError::Invalid(problems)),
        Err(more) => {
            problems.extend(more);
            Err(LoadError::Invalid(problems))
        }
    }
}

/// Counts for `mend check`'s summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub flows: usize,
    pub steps: usize,
    pub endings: usize,
}

impl Script {
    pub fn summary(&self) -> Summary {
        let steps = self.flows().map(|f| f.steps.len()).sum();
        let endings = self
            .flows()
            .flat_map(|f| &f.steps)
            .filter(|s| matches!(s.action, Action::End))
            .count();
        Summary {
            flows: self.flows().count(),
            steps,
            endings,
        }
    }
}
