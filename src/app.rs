//! Building mend from its config, then running it. `main.rs` only parses the
//! command line and calls these, so tests build exactly what the binary runs.

use std::path::{Path, PathBuf};

use std::sync::Arc;

use crate::config::{Config, ConfigError, TOKEN_VAR};
use crate::discord;
use crate::engine::Companion;
use crate::flows::{self, LoadError, Script};
use crate::safety::{CrisisError, CrisisReplies, SafetyError, Screen};
use crate::scheduler::{Clock, SystemClock};
use crate::secret::Secret;
use crate::store::{Store, StoreError};
use crate::terminal::{self, ChatOptions};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Flows(#[from] LoadError),
    #[error("{0}")]
    Prompts(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("terminal input or output failed: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Discord(#[from] crate::discord::DiscordError),
    #[error(transparent)]
    Safety(#[from] SafetyError),
    #[error(transparent)]
    Crisis(#[from] CrisisError),
    #[error(
        "{var} is not set. Put the bot token from Discord's developer portal in the \
         environment, for example: export {var}=... (see the README)"
    )]
    MissingToken { var: &'static str },
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
    let companion = companion(config, args.prompts.as_deref())?;
    let db = args.db.as_deref().unwrap_or(&config.database.path);
    let store = Store::open(db, &config.database.store_options()).await?;
    let options = ChatOptions::new(args.person.as_deref().unwrap_or("you"), args.json);
    let stdin = tokio::io::BufReader::new(tokio::io::stdin());
    let result = terminal::run(&companion, &store, &options, stdin, tokio::io::stdout()).await;
    store.close().await;
    match result {
        // The reader went away (a closed pipe): nothing more to say to anyone.
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// `mend serve`: the bot on Discord until `shutdown` resolves.
pub async fn serve(
    config: &Config,
    token: Option<Secret>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), AppError> {
    serve_with_clock(config, token, Arc::new(SystemClock), shutdown).await
}

/// [`serve`] with the clock the check-in scheduler reads, so tests can move time.
pub async fn serve_with_clock(
    config: &Config,
    token: Option<Secret>,
    clock: Arc<impl Clock>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), AppError> {
    // Everything that can be checked is checked before touching Discord.
    let token = token.ok_or(AppError::MissingToken { var: TOKEN_VAR })?;
    let companion = Arc::new(companion(config, None)?);
    let store = Store::open(&config.database.path, &config.database.store_options()).await?;
    let result = discord::serve(config, &token, companion, store.clone(), clock, shutdown).await;
    store.close().await;
    Ok(result?)
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

/// The crisis screen from a prompts folder's `safety.toml`, or the built-in one.
pub fn load_screen(dir: Option<&Path>) -> Result<Screen, SafetyError> {
    match dir {
        Some(dir) => Screen::load(&dir.join(SAFETY_FILE)),
        None => Ok(Screen::embedded()),
    }
}

/// The safety phrase list inside a prompts folder.
pub const SAFETY_FILE: &str = "safety.toml";
/// The crisis reply's words and contacts inside a prompts folder.
pub const CRISIS_FILE: &str = "crisis.toml";

/// Flows, screen and crisis words from a prompts folder, or those built in.
pub fn companion(config: &Config, prompts: Option<&Path>) -> Result<Companion, AppError> {
    let dir = prompts.or(config.prompts.dir.as_deref());
    Ok(Companion {
        script: load_script(dir)?,
        screen: load_screen(dir)?,
        crisis: match dir {
            Some(dir) => CrisisReplies::load(&dir.join(CRISIS_FILE))?,
            None => CrisisReplies::embedded(),
        },
        cooldown: config.safety.cooldown(),
    })
}

/// `mend check`: validates the flows and the safety list of a prompts
/// folder, reporting every problem in both before failing.
pub fn check(dir: &Path) -> Result<String, AppError> {
    let flows = flows::load_dir(dir);
    let screen = Screen::load(&dir.join(SAFETY_FILE));
    let crisis = CrisisReplies::load(&dir.join(CRISIS_FILE));
    let (Ok(script), Ok(screen), Ok(_)) = (&flows, &screen, &crisis) else {
        let problems: Vec<String> = [
            flows.err().map(|e| e.to_string()),
            screen.err().map(|e| e.to_string()),
            crisis.err().map(|e| e.to_string()),
        ]
        .into_iter()
        .flatten()
        .collect();
        return Err(AppError::Prompts(problems.join("\n")));
    };
    let summary = script.summary();
    Ok(format!(
        "{} is ready: {} flows, {} steps, {} endings.\nsafety.toml:\n{}",
        dir.display(),
        summary.flows,
        summary.steps,
        summary.endings,
        screen.summary()
    ))
}

/// `mend screen`: one JSON line per input line, so a moderator can try a list
/// change on real phrasing before shipping it. Prints no excerpt.
pub async fn screen<R, W>(screen: &Screen, input: R, mut output: W) -> Result<(), AppError>
where
    R: tokio::io::AsyncBufRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let mut input = input;
    let mut line = Vec::new();
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line).await? == 0 {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&line);
        let hit = screen.screen(text.trim_end_matches(['\n', '\r']));
        let mut json = crate::safety::screen_json_line(hit.as_ref());
        json.push('\n');
        output.write_all(json.as_bytes()).await?;
        output.flush().await?;
    }
}
