//! Building mend from its config, then running it. `main.rs` only parses the
//! command line and calls these, so tests build exactly what the binary runs.

use std::path::{Path, PathBuf};

use std::sync::Arc;

use crate::clock::{Clock, SystemClock};
use crate::config::{Config, ConfigError, TOKEN_VAR};
use crate::conversation::engine::Companion;
use crate::crypto::{DataKey, KEY_VAR, KeyError};
use crate::discord;
use crate::flags::pending::{self, PendingFlags};
use crate::flows::{self, LoadError, Script};
use crate::keyfile;
use crate::privacy::retention::{self, Retention};
use crate::safety::{CrisisError, CrisisReplies, SafetyError, Screen};
use crate::secret::Secret;
use crate::store::files::DbLock;
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
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(
        "{db} is sealed with a data key that is not here: no {key_file} beside it and \
         {var} is not set. Put the key back, or set {var} (see PRIVACY.md)"
    )]
    KeyFileMissing {
        db: String,
        key_file: String,
        var: &'static str,
    },
    #[error(
        "{0:?} is not a person mend knows how to name: give a Discord user id (digits, \
         e.g. 123456789012345678) or a full id such as discord:123… or terminal:NAME"
    )]
    BadUser(String),
    #[error("there is no database at {0}: check --db or database.path in the config")]
    NoDatabase(String),
    #[error("cannot write {path}: {source}")]
    WriteOut {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "{var} is not set: put the new key there (make one with `mend new-key`); \
         {old} holds the current one"
    )]
    MissingNewKey {
        var: &'static str,
        old: &'static str,
    },
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
#[derive(Debug, Default)]
pub struct ChatArgs {
    pub db: Option<PathBuf>,
    pub person: Option<String>,
    pub json: bool,
    pub prompts: Option<PathBuf>,
    /// A fixed time for the whole chat instead of the system clock, so
    /// tests (and anyone trying check-ins) can say what time it is.
    pub now: Option<jiff::Timestamp>,
    /// The data key from the environment; without one, a key file beside
    /// the database is used, and made on first run.
    pub key: Option<DataKey>,
}

/// `mend chat`: the whole engine in a terminal on a local SQLite file.
pub async fn chat(config: &Config, args: &ChatArgs) -> Result<(), AppError> {
    let companion = companion(config, args.prompts.as_deref())?;
    let db = args.db.as_deref().unwrap_or(&config.database.path);
    let store = open_local(config, db, args.key.as_ref()).await?;
    let clock: Box<dyn Clock> = match args.now {
        Some(at) => Box::new(crate::clock::ManualClock::new(at)),
        None => Box::new(SystemClock),
    };
    // The terminal keeps data too, so it keeps the same schedule for it.
    let retention = Retention::from_config(config);
    retention::sweep(&store, retention, clock.now()).await;
    let options = ChatOptions::new(args.person.as_deref().unwrap_or("you"), args.json);
    // Crisis flags a failing store kept from the last run are written first.
    let pending = PendingFlags::new();
    let kept = pending::file_for(db);
    pending.load(&kept, store.cipher());
    let stdin = tokio::io::BufReader::new(tokio::io::stdin());
    let output = tokio::io::stdout();
    let result = terminal::run(
        &companion,
        &store,
        &pending,
        &options,
        clock.as_ref(),
        stdin,
        output,
    )
    .await;
    pending.stop(&store, &kept).await;
    store.close().await;
    match result {
        // The reader went away (a closed pipe): nothing more to say to anyone.
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// The key file `mend chat` and the operator commands use when the
/// environment has no key: beside the database, e.g. `mend.sqlite.key`.
pub fn key_file(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".key");
    PathBuf::from(name)
}

/// Opens a database on this machine with the key from the environment, or
/// else the key file beside it, made (owner-only) if neither exists yet.
/// Holds the database's lock shared, so no key rotation runs under it. A key
/// rotation that stopped part-way is finished or undone first (see
/// [`keyfile`]).
pub async fn open_local(
    config: &Config,
    db: &Path,
    key: Option<&DataKey>,
) -> Result<Store, AppError> {
    let lock = Arc::new(DbLock::shared(db)?);
    Ok(open_under(config, db, key, &lock).await?.0)
}

/// [`open_local`] under a lock already held. Also returns the key file the
/// key came from, if it came from one.
async fn open_under(
    config: &Config,
    db: &Path,
    key: Option<&DataKey>,
    lock: &Arc<DbLock>,
) -> Result<(Store, Option<PathBuf>), AppError> {
    let options = config.database.store_options();
    if let Some(key) = key {
        let store = Store::open_locked(db, &options, key, Arc::clone(lock)).await?;
        return Ok((store, None));
    }
    let file = key_file(db);
    let created = !file.exists();
    let key = DataKey::load_or_create_file(&file)?;
    let staged = keyfile::staged(&file);
    let key_write = |source| AppError::WriteOut {
        path: file.display().to_string(),
        source,
    };
    match Store::open_locked(db, &options, &key, Arc::clone(lock)).await {
        Ok(store) => {
            // A rotation stopped before its transaction committed: the
            // database kept this key, so the staged one goes.
            if staged.exists() {
                keyfile::discard(&file).map_err(key_write)?;
            }
            Ok((store, Some(file)))
        }
        Err(StoreError::WrongKey { .. }) if staged.exists() => {
            // A rotation stopped after re-sealing, before its key replaced
            // the old one in the file: the staged key opens it, and
            // becomes the key file.
            let Some(new) = DataKey::read_file(&staged)? else {
                return Err(StoreError::WrongKey {
                    path: db.display().to_string(),
                }
                .into());
            };
            let store = Store::open_locked(db, &options, &new, Arc::clone(lock)).await?;
            keyfile::promote(&file).map_err(key_write)?;
            Ok((store, Some(file)))
        }
        Err(StoreError::WrongKey { .. }) if created => {
            // A fresh key for a database sealed with another: the right key
            // is missing. Leave no wrong key file behind.
            let _ = std::fs::remove_file(&file);
            Err(AppError::KeyFileMissing {
                db: db.display().to_string(),
                key_file: file.display().to_string(),
                var: KEY_VAR,
            })
        }
        Err(err) => Err(err.into()),
    }
}

/// `mend serve`: the bot on Discord until `shutdown` resolves.
pub async fn serve(
    config: &Config,
    token: Option<Secret>,
    data_key: Option<DataKey>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), AppError> {
    serve_with_clock(config, token, data_key, Arc::new(SystemClock), shutdown).await
}

/// [`serve`] with the clock the check-in scheduler reads, so tests can move time.
pub async fn serve_with_clock(
    config: &Config,
    token: Option<Secret>,
    data_key: Option<DataKey>,
    clock: Arc<impl Clock>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), AppError> {
    // Everything that can be checked is checked before touching Discord.
    config.validate().map_err(ConfigError::Rule)?;
    let token = token.ok_or(AppError::MissingToken { var: TOKEN_VAR })?;
    let data_key = data_key.ok_or(KeyError::Missing { var: KEY_VAR })?;
    let companion = Arc::new(companion(config, None)?);
    let store = Store::open(
        &config.database.path,
        &config.database.store_options(),
        &data_key,
    )
    .await?;
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

/// Said of a flag raised after mend asked and the person answered yes or
/// not sure, wherever moderators see it.
pub const ASKED_NOTE: &str = "  (mend asked whether they were safe; they answered yes or not sure)";

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
/// What `mend check` is asked to show besides its summary.
#[derive(Debug, Default)]
pub struct Review {
    /// A folder to write a picture of the flows into (as `index.html`).
    pub graph: Option<PathBuf>,
    /// Every path of the flows, as plain transcripts.
    pub transcripts: bool,
    /// Only this flow, in both.
    pub flow: Option<String>,
}

/// What `mend check` found and made.
#[derive(Debug)]
pub struct Checked {
    pub summary: String,
    /// Where the picture was written.
    pub page: Option<PathBuf>,
    pub transcripts: Option<String>,
}

/// `mend check`: validates every prompt file, then (only if all is well)
/// draws or writes out the flows for review.
pub fn check(dir: &Path, review: &Review) -> Result<Checked, AppError> {
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
    let summary = format!(
        "{} is ready: {} flows, {} steps, {} endings.\nsafety.toml:\n{}",
        dir.display(),
        summary.flows,
        summary.steps,
        summary.endings,
        screen.summary()
    );
    let chosen: Vec<&flows::Flow> = match &review.flow {
        None => script.flows().collect(),
        Some(id) => match script.flow(id) {
            Some(flow) => vec![flow],
            None => {
                let known: Vec<&str> = script.flows().map(|f| f.id.as_str()).collect();
                return Err(AppError::Prompts(format!(
                    "there is no flow `{id}` in {}; its flows are: {}",
                    dir.display(),
                    known.join(", ")
                )));
            }
        },
    };
    let page = match &review.graph {
        None => None,
        Some(out) => Some(flows::graph::write(out, &chosen).map_err(|(path, source)| {
            AppError::WriteOut {
                path: path.display().to_string(),
                source,
            }
        })?),
    };
    let transcripts = review
        .transcripts
        .then(|| flows::transcript::render(&chosen));
    Ok(Checked {
        summary,
        page,
        transcripts,
    })
}

/// `mend screen`: one JSON line per input line, so a moderator can try a list
/// change on real phrasing before shipping it. Prints no excerpt. A reader
/// that stops early ends it, as a success.
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
        let written = match output.write_all(json.as_bytes()).await {
            Ok(()) => output.flush().await,
            Err(err) => Err(err),
        };
        match written {
            // The reader stopped early (`| head`): the rest is not wanted.
            Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
            done => done?,
        }
    }
}

/// A person named on the command line: a bare Discord user id, or a full
/// id as mend stores it ("discord:…" or "terminal:…").
pub fn person_id(text: &str) -> Result<String, AppError> {
    let text = text.trim();
    let is_snowflake =
        |s: &str| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit());
    if is_snowflake(text) {
        return Ok(format!("discord:{text}"));
    }
    match text.split_once(':') {
        Some(("discord", id)) if is_snowflake(id) => Ok(text.to_string()),
        Some(("terminal", name)) if !name.is_empty() => Ok(text.to_string()),
        _ => Err(AppError::BadUser(text.to_string())),
    }
}

/// Opens an existing database for an operator command, never creating one.
async fn open_existing(
    config: &Config,
    db: Option<&Path>,
    key: Option<DataKey>,
) -> Result<(Store, PathBuf), AppError> {
    let db = existing(config, db)?;
    let store = open_local(config, &db, key.as_ref()).await?;
    Ok((store, db))
}

/// The database an operator command names (or the config's), if it exists.
fn existing(config: &Config, db: Option<&Path>) -> Result<PathBuf, AppError> {
    let db = db.unwrap_or(&config.database.path).to_path_buf();
    if !db.exists() {
        return Err(AppError::NoDatabase(db.display().to_string()));
    }
    Ok(db)
}

/// `mend export --user ID`: everything mend holds about one person, as the
/// same JSON the person gets from /export, and how many sealed values in it
/// did not open. None if it holds nothing.
pub async fn export(
    config: &Config,
    db: Option<&Path>,
    key: Option<DataKey>,
    user: &str,
) -> Result<Option<(String, usize)>, AppError> {
    let person = person_id(user)?;
    let (store, _) = open_existing(config, db, key).await?;
    let export = store.export(&person, jiff::Timestamp::now()).await;
    store.close().await;
    Ok(export?.map(|export| (export.to_json(), export.not_opened())))
}

/// `mend forget --user ID`: erases one person in one transaction. Returns
/// the moderators' notices that quoted them, which the operator should
/// delete in Discord; None if mend held nothing about them.
pub async fn forget(
    config: &Config,
    db: Option<&Path>,
    key: Option<DataKey>,
    user: &str,
) -> Result<Option<crate::privacy::Erased>, AppError> {
    use crate::privacy::ErasedBy;
    let person = person_id(user)?;
    let (store, _) = open_existing(config, db, key).await?;
    let erased = store
        .forget(&person, ErasedBy::Operator, jiff::Timestamp::now())
        .await;
    store.close().await;
    Ok(erased?)
}

/// `mend rotate-key`: re-seals the database under the key in
/// MEND_NEW_DATA_KEY, in one transaction, holding the database's lock
/// exclusively: refused while any other mend has it open. Returns how many
/// values changed.
pub async fn rotate_key(
    config: &Config,
    db: Option<&Path>,
    key: Option<DataKey>,
    new: Option<DataKey>,
) -> Result<u64, AppError> {
    use crate::crypto::NEW_KEY_VAR;
    let new = new.ok_or(AppError::MissingNewKey {
        var: NEW_KEY_VAR,
        old: KEY_VAR,
    })?;
    let db = existing(config, db)?;
    let lock = Arc::new(DbLock::exclusive(&db)?);
    let (store, key_file) = open_under(config, &db, key.as_ref(), &lock).await?;
    let count = rotate_in_steps(&store, &db, key_file.as_deref(), &new).await;
    store.close().await;
    count
}

/// A rotation's steps, in the order [`keyfile`] explains: a key file beside
/// the database (mend chat's) gets the new key staged before anything is
/// re-sealed, and replaced only after. A key from the environment is the
/// operator's to keep. If this stops part-way, the next open finishes or
/// undoes it.
pub async fn rotate_in_steps(
    store: &Store,
    db: &Path,
    key_file: Option<&Path>,
    new: &DataKey,
) -> Result<u64, AppError> {
    let failed = |path: &Path| {
        let path = path.display().to_string();
        move |source| AppError::WriteOut { path, source }
    };
    if let Some(file) = key_file {
        keyfile::stage(file, new).map_err(failed(&keyfile::staged(file)))?;
    }
    // Crisis flags waiting beside the database are sealed with its key too:
    // staged under the new one before the database turns, put in place
    // after, so a flag kept there opens whichever way this ends.
    let kept = pending::file_for(db);
    let waiting = pending::stage_resealed(&kept, store.cipher(), &new.cipher())
        .map_err(failed(&pending::staged(&kept)))?;
    let count = match store.rotate_key(new, db).await {
        Ok(count) => count,
        Err(err) => {
            let _ = pending::discard_staged(&kept);
            return Err(err.into());
        }
    };
    if waiting > 0 {
        pending::promote_staged(&kept).map_err(failed(&kept))?;
    }
    if let Some(file) = key_file {
        keyfile::promote(file).map_err(failed(file))?;
    }
    Ok(count + waiting as u64)
}

/// Prints to standard output. A reader that stops early (`| head`) is not
/// a failure: the rest is simply not wanted.
pub fn print_out(text: &str) -> Result<(), AppError> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        done => Ok(done?),
    }
}

/// Writes a file only its owner can read: an export holds someone's words.
pub fn write_private(path: &Path, text: &str) -> Result<(), AppError> {
    use std::io::Write;
    let failed = |source| AppError::WriteOut {
        path: path.display().to_string(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(failed)?;
    file.write_all(text.as_bytes()).map_err(failed)?;
    file.sync_all().map_err(failed)
}

/// `mend flags`: the crisis flags moderators have not finished with, oldest
/// first, for a community without a moderators' channel (or as a check on
/// it). Each line: number, status, severity, kind, when, who, and the excerpt.
/// Then any flags still waiting in the kept-flags file beside the database
/// (raised while it was failing), marked as not in it yet.
pub async fn flags(
    config: &Config,
    db: Option<&Path>,
    key: Option<DataKey>,
) -> Result<String, AppError> {
    let (store, db) = open_existing(config, db, key).await?;
    let active = store.active_flags().await;
    let file = pending::file_for(&db);
    let kept = pending::read_current(&file, store.cipher());
    store.close().await;
    let active = active?;
    let kept = kept.map_err(|source| StoreError::File {
        path: file.display().to_string(),
        source,
    })?;
    let mut text = String::new();
    if active.is_empty() {
        text.push_str("No open or claimed flags.\n");
    }
    for flag in active {
        text.push_str(&format!(
            "#{} {} {} {} raised {} by {} ({} hit{})\n",
            flag.id,
            flag.status.as_str(),
            flag.severity,
            flag.category,
            flag.created_at,
            flag.person,
            flag.hits,
            if flag.hits == 1 { "" } else { "s" },
        ));
        if flag.asked {
            text.push_str(ASKED_NOTE);
            text.push('\n');
        }
        if let Some(excerpt) = &flag.excerpt {
            text.push_str(&format!("    > {}\n", excerpt.replace('\n', " ")));
        }
    }
    text.push_str(&waiting_flags(&file, &kept));
    Ok(text)
}

/// The flags waiting in the kept-flags file (the database failed when they
/// were raised), listed like the database's but marked as not in it yet.
fn waiting_flags(file: &Path, kept: &pending::Kept) -> String {
    let mut text = String::new();
    let count = kept.flags.len() + kept.unreadable.len();
    if count == 0 {
        return text;
    }
    text.push_str(&format!(
        "\n{count} flag(s) waiting in {}, NOT YET IN THE DATABASE (it failed when they \
         were raised); the next start of mend writes them there:\n",
        file.display()
    ));
    for flag in &kept.flags {
        text.push_str(&format!(
            "waiting {} {} raised {} by {}\n",
            flag.hit.severity, flag.hit.category, flag.at, flag.person,
        ));
        if flag.asked {
            text.push_str(ASKED_NOTE);
            text.push('\n');
        }
        text.push_str(&format!("    > {}\n", flag.hit.excerpt.replace('\n', " ")));
    }
    if !kept.unreadable.is_empty() {
        text.push_str(&format!(
            "{} of them did not open with this key (another key, or a damaged file): \
             the next start sets them aside in {}.unreadable\n",
            kept.unreadable.len(),
            file.display()
        ));
    }
    text
}
