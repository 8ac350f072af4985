//! Building mend from its config, then running it. `main.rs` only parses the
//! command line and calls these, so tests build exactly what the binary runs.

use std::path::{Path, PathBuf};

use crate::config::{Config, ConfigError};
use crate::flows::{self, LoadError, Script};
use crate::store::{Store, StoreError};
use crate::terminal::{self, ChatOptions};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Prompts(#[from] LoadError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("terminal input or output failed: {0}")]
    Io(#[from] std::io::Error),
}

/// The flows from a prompts folder, or those built into the binary.
pub fn load_script(dir: Option<&Path>) -> Result<Script, LoadError> {
    match dir {
        Some(dir) => flows::load_dir(dir),
        None => flows::load_embedded(),
    }
}

/// What `mend chat` was asked for on the command line.
#[derive(Debug, Clone, Default)]
pub struct ChatArgs {
    pub db: Option<PathBuf>,
    pub person: Option<String>,
    pub json: bool,
    pub prompts: Option<PathBuf>,
}

/// `mend chat`: the whole engine in a terminal on a local SQLite file.
pub async fn chat(config: &Config, args: &ChatArgs) -> Result<(), AppError> {
    let prompts = args.prompts.as_deref().or(config.prompts.dir.as_deref());
    let script = load_script(prompts)?;
    let db = args.db.as_deref().unwrap_or(&config.database.path);
    let store = Store::open(db, &config.database.store_options()).await?;
    let options = ChatOptions::new(args.person.as_deref().unwrap_or("you"), args.json);
    let stdin = tokio::io::BufReader::new(tokio::io::stdin());
    let result = terminal::run(&script, &store, &options, stdin, tokio::io::stdout()).await;
    store.close().await;
    match result {
        // The reader went away (a closed pipe): nothing more to say to anyone.
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// `mend check`: validates a prompts folder and describes it.
pub fn check(dir: &Path) -> Result<String, LoadError> {
    let script = flows::load_dir(dir)?;
    let summary = script.summary();
    Ok(format!(
        "{} is ready: {} flows, {} steps, {} endings.",
        dir.display(),
        summary.flows,
        summary.steps,
        summary.endings
    ))
}
