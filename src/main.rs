//! The command line: parse, load config, start logging, call the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use mend::app::{self, ChatArgs};
use mend::config::{Config, TOKEN_VAR};
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
    /// Check the prompt files and summarise them.
    Check {
        /// The prompts folder.
        #[arg(long, value_name = "DIR", default_value = "prompts")]
        prompts: PathBuf,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("mend: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Chat {
            db,
            person,
            json,
            prompts,
        } => {
            mend::telemetry::init(config.log.level.as_deref(), "warn");
            let args = ChatArgs {
                db,
                person,
                json,
                prompts,
            };
            app::chat(&config, &args).await?;
        }
        Command::Serve => {
            mend::telemetry::init(config.log.level.as_deref(), "info");
            let token = Secret::from_env(TOKEN_VAR);
            app::serve(&config, token, app::shutdown_signal()).await?;
        }
        Command::Screen { prompts } => {
            mend::telemetry::init(config.log.level.as_deref(), "warn");
            let screen = app::load_screen(prompts.as_deref())?;
            let stdin = tokio::io::BufReader::new(tokio::io::stdin());
            app::screen(&screen, stdin, tokio::io::stdout()).await?;
        }
        Command::Check { prompts } => {
            mend::telemetry::init(config.log.level.as_deref(), "warn");
            println!("{}", app::check(&prompts)?);
        }
    }
    Ok(())
}
