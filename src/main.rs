//! The command line: parse, load config, start logging, call the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgGroup, Parser, Subcommand};
use mend::app::{self, ChatArgs};
use mend::config::{Config, TOKEN_VAR};
use mend::crypto::{DataKey, KEY_VAR, NEW_KEY_VAR};
use mend::secret::Secret;

#[derive(Parser)]
#[command(
    name = "mend",
    version,
    about = "A companion for rebuilding trust around intimacy"
)]
struct Cli {
    /// The config file (default: config.toml, if present).
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Talk with mend in this terminal, on a local SQLite file.
    Chat {
        /// The SQLite file (default: database.path from config, else mend.sqlite).
        #[arg(long, value_name = "PATH")]
        db: Option<PathBuf>,
        /// Who is talking, so several people can share one database.
        #[arg(long = "as", value_name = "NAME")]
        person: Option<String>,
        /// One JSON line of messages per input line, for scripts.
        #[arg(long)]
        json: bool,
        /// A prompts folder to use instead of the built-in flows.
        #[arg(long, value_name = "DIR")]
        prompts: Option<PathBuf>,
        /// The time the whole chat takes as now (RFC 3339, e.g.
        /// 2027-06-01T20:00:00Z), for tests and for trying check-ins.
        #[arg(long, value_name = "TIMESTAMP", hide = true)]
        now: Option<jiff::Timestamp>,
    },
    /// Run the bot on Discord (token from MEND_DISCORD_TOKEN).
    Serve,
    /// Screen messages (one per line on stdin) for crisis signals; prints one
    /// JSON line each.
    Screen {
        /// A prompts folder whose safety.toml to use instead of the built-in one.
        #[arg(long, value_name = "DIR")]
        prompts: Option<PathBuf>,
    },
    /// Print a new random data key (64 hexadecimal characters) for
    /// MEND_DATA_KEY.
    NewKey,
    /// Re-seal the database under the key in MEND_NEW_DATA_KEY (the current
    /// one is MEND_DATA_KEY, or the key file beside the database). Refused
    /// while mend has the database open: stop it first.
    RotateKey {
        /// The SQLite file (default: database.path from config).
        #[arg(long, value_name = "PATH")]
        db: Option<PathBuf>,
    },
    /// Write everything mend holds about one person as JSON, for a request
    /// that came another way than /export.
    Export {
        /// Their Discord user id (or a full id such as terminal:NAME).
        #[arg(long, value_name = "ID")]
        user: String,
        /// The SQLite file (default: database.path from config).
        #[arg(long, value_name = "PATH")]
        db: Option<PathBuf>,
        /// Write to this file instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Erase everything mend holds about one person, for a request that came
    /// another way than /forget.
    Forget {
        /// Their Discord user id (or a full id such as terminal:NAME).
        #[arg(long, value_name = "ID")]
        user: String,
        /// The SQLite file (default: database.path from config).
        #[arg(long, value_name = "PATH")]
        db: Option<PathBuf>,
    },
    /// List the crisis flags moderators have not finished with.
    Flags {
        /// The SQLite file (default: database.path from config).
        #[arg(long, value_name = "PATH")]
        db: Option<PathBuf>,
    },
    /// Check the prompt files and summarise them; then, if asked, draw the
    /// flows or write out every path through them.
    #[command(group(ArgGroup::new("review").args(["graph", "transcripts"]).multiple(true)))]
    Check {
        /// The prompts folder.
        #[arg(long, value_name = "DIR", default_value = "prompts")]
        prompts: PathBuf,
        /// Write a picture of every flow to DIR/index.html (made if missing).
        #[arg(long, value_name = "DIR")]
        graph: Option<PathBuf>,
        /// Print every path through each flow, for each situation, as a
        /// plain transcript (instead of the summary, which goes to stderr).
        #[arg(long)]
        transcripts: bool,
        /// Only this flow, for --graph and --transcripts.
        #[arg(long, value_name = "ID", requires = "review")]
        flow: Option<String>,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("mend: {}", said_once(&err));
            ExitCode::FAILURE
        }
    }
}

/// An error and its causes on one line, each cause once: most of mend's
/// errors already name their cause in their own words.
fn said_once(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in err.chain() {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&cause);
        }
    }
    text
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Chat {
            db,
            person,
            json,
            prompts,
            now,
        } => {
            mend::telemetry::init(config.log.level.as_deref(), "warn");
            let args = ChatArgs {
                db,
                person,
                json,
                prompts,
                now,
                key: DataKey::from_env(KEY_VAR)?,
            };
            app::chat(&config, &args).await?;
        }
        Command::Serve => {
            mend::telemetry::init(config.log.level.as_deref(), "info");
            let token = Secret::from_env(TOKEN_VAR);
            let key = DataKey::from_env(KEY_VAR)?;
            app::serve(&config, token, key, app::shutdown_signal()).await?;
        }
        Command::Screen { prompts } => {
            mend::telemetry::init(config.log.level.as_deref(), "warn");
            let screen = app::load_screen(prompts.as_deref())?;
            let stdin = tokio::io::BufReader::new(tokio::io::stdin());
            app::screen(&screen, stdin, tokio::io::stdout()).await?;
        }
        Command::NewKey => {
            app::print_out(&format!("{}\n", DataKey::generate().to_hex().as_str()))?;
        }
        Command::RotateKey { db } => {
            mend::telemetry::init(config.log.level.as_deref(), "warn");
            let key = DataKey::from_env(KEY_VAR)?;
            let new = DataKey::from_env(NEW_KEY_VAR)?;
            let count = app::rotate_key(&config, db.as_deref(), key, new).await?;
            app::print_out(&format!(
                "Re-sealed {count} values under the new key. Start mend with {KEY_VAR} set to \
                 the new key from now on.\n"
            ))?;
        }
        Command::Export { user, db, out } => {
            mend::telemetry::init(config.log.level.as_deref(), "warn");
            let key = DataKey::from_env(KEY_VAR)?;
            match app::export(&config, db.as_deref(), key, &user).await? {
                None => eprintln!("mend holds nothing about {user}."),
                Some((json, not_opened)) => {
                    match out {
                        None => app::print_out(&json)?,
                        Some(out) => {
                            app::write_private(&out, &json)?;
                            eprintln!(
                                "Wrote everything mend holds about {user} to {}.",
                                out.display()
                            );
                        }
                    }
                    if not_opened > 0 {
                        eprintln!(
                            "{not_opened} sealed value(s) did not open: damaged, or moved from \
                             another row. Each is marked \"not_opened\" in the export; the rest \
                             is complete."
                        );
                    }
                }
            }
        }
        Command::Forget { user, db } => {
            mend::telemetry::init(config.log.level.as_deref(), "warn");
            let key = DataKey::from_env(KEY_VAR)?;
            match app::forget(&config, db.as_deref(), key, &user).await? {
                None => app::print_out(&format!(
                    "mend holds nothing about {user}; there was nothing to erase.\n"
                ))?,
                Some(erased) => {
                    let mut text = format!("Erased everything mend held about {user}.\n");
                    if !erased.notices.is_empty() {
                        text.push_str(&format!(
                            "The moderators' channel still has {} notice(s) quoting them; \
                             delete these messages in Discord:\n",
                            erased.notices.len()
                        ));
                        for (channel, message) in &erased.notices {
                            text.push_str(&format!("  channel {channel}, message {message}\n"));
                        }
                    }
                    app::print_out(&text)?;
                }
            }
        }
        Command::Flags { db } => {
            mend::telemetry::init(config.log.level.as_deref(), "warn");
            let key = DataKey::from_env(KEY_VAR)?;
            app::print_out(&app::flags(&config, db.as_deref(), key).await?)?;
        }
        Command::Check {
            prompts,
            graph,
            transcripts,
            flow,
        } => {
            mend::telemetry::init(config.log.level.as_deref(), "warn");
            let review = app::Review {
                graph,
                transcripts,
                flow,
            };
            let checked = app::check(&prompts, &review)?;
            let mut notes = checked.summary;
            if let Some(page) = checked.page {
                notes.push_str(&format!(
                    "\nWrote the picture of the flows to {}.",
                    page.display()
                ));
            }
            match checked.transcripts {
                // The transcripts alone on stdout, so they can go to a file.
                Some(text) => {
                    eprintln!("{notes}");
                    app::print_out(&text)?;
                }
                None => app::print_out(&format!("{notes}\n"))?,
            }
        }
    }
    Ok(())
}
