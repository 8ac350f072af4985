//! `config.toml`, parsed once into types and validated at load. Every key has
//! a default, so mend runs with no file at all; secrets never live here, only
//! in the environment.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::store::StoreOptions;

/// The file mend looks for when `--config` is not given.
pub const DEFAULT_FILE: &str = "config.toml";

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub database: Database,
    pub prompts: Prompts,
    pub log: Log,
    pub discord: Discord,
    pub safety: Safety,
    pub moderation: Moderation,
    pub checkins: Checkins,
    pub privacy: Privacy,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Privacy {
    /// Days after a person was last active before everything about them is
    /// erased (unless moderators are still handling a flag about them).
    /// 0 keeps people until they ask to be forgotten.
    pub inactive_days: u64,
}

impl Default for Privacy {
    fn default() -> Self {
        Privacy { inactive_days: 365 }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Database {
    /// The SQLite file; created with its tables on first run.
    pub path: PathBuf,
    /// How long a write waits for another to finish before giving up.
    pub busy_timeout_ms: u64,
    pub max_connections: u32,
}

impl Default for Database {
    fn default() -> Self {
        Database {
            path: PathBuf::from("mend.sqlite"),
            busy_timeout_ms: 5000,
            max_connections: 4,
        }
    }
}

impl Database {
    pub fn store_options(&self) -> StoreOptions {
        StoreOptions {
            busy_timeout: Duration::from_millis(self.busy_timeout_ms),
            max_connections: self.max_connections,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Prompts {
    /// A prompts folder to load instead of the flows built into the binary.
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Log {
    /// A tracing filter such as "info" or "mend=debug". `RUST_LOG` wins.
    pub level: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Discord {
    /// Where Discord's API lives. Unset means discord.com; set it to a
    /// Discord-compatible server, e.g. "http://127.0.0.1:8080".
    pub api_base: Option<String>,
    /// How long mend waits for a person's events that arrived together to
    /// settle, so they are applied in the order Discord created them.
    pub order_window_ms: u64,
    /// Register the slash commands at start-up.
    pub register_commands: bool,
    /// How long one request to Discord's API may take before it counts as
    /// failed and is retried (when that is safe).
    pub request_timeout_secs: u64,
}

impl Default for Discord {
    fn default() -> Self {
        Discord {
            api_base: None,
            order_window_ms: 25,
            register_commands: true,
            request_timeout_secs: 15,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Safety {
    /// After the full crisis reply, how long a shorter reminder is sent
    /// instead, so a person writing in distress is not sent the same block
    /// on every line. Every hit is still flagged.
    pub cooldown_minutes: u64,
    /// Days after a flag is resolved or escalated before its excerpt is erased.
    pub excerpt_retention_days: u64,
}

impl Default for Safety {
    fn default() -> Self {
        Safety {
            cooldown_minutes: 10,
            excerpt_retention_days: 30,
        }
    }
}

impl Safety {
    pub fn cooldown(&self) -> jiff::SignedDuration {
        jiff::SignedDuration::from_mins(self.cooldown_minutes.min(i64::MAX as u64) as i64)
    }
}

/// Where crisis flags go. All three ids are needed for the queue to work;
/// without them flags are still stored, and `mend flags` lists them.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Moderation {
    /// The community's server (guild) id.
    pub guild_id: Option<u64>,
    /// The private channel where each new flag is posted.
    pub channel_id: Option<u64>,
    /// The moderator role: only its members may see and handle flags.
    pub role_id: Option<u64>,
    /// Mention the moderator role on each new flag. Nobody else is ever pinged.
    pub ping_role: bool,
}

/// The most check-ins a second the config may ask for: Discord's global
/// limit for a bot is about 50 requests a second, and people's replies
/// need some of it.
pub const MAX_CHECKINS_PER_SECOND: u32 = 40;

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Checkins {
    /// A check-in missed (mend was down) by less than this many hours is sent
    /// late, once; older ones are skipped to the next day.
    pub grace_hours: u64,
    /// Unanswered check-ins in a row before they pause.
    pub max_unanswered: u32,
    /// Check-ins sent per second at most, to stay inside Discord's limits.
    pub per_second: u32,
    /// How often mend looks for check-ins that are due, in seconds.
    pub every_seconds: u64,
}

impl Default for Checkins {
    fn default() -> Self {
        Checkins {
            grace_hours: 3,
            max_unanswered: 3,
            per_second: 20,
            every_seconds: 20,
        }
    }
}

impl Checkins {
    pub fn scheduler(&self) -> crate::scheduler::Settings {
        crate::scheduler::Settings {
            grace: jiff::SignedDuration::from_hours(self.grace_hours.min(24 * 7) as i64),
            max_unanswered: i64::from(self.max_unanswered),
            per_second: self.per_second,
            every: std::time::Duration::from_secs(self.every_seconds),
            ..crate::scheduler::Settings::default()
        }
    }
}

/// The environment variable that holds the bot token.
pub const TOKEN_VAR: &str = "MEND_DISCORD_TOKEN";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Invalid {
        path: PathBuf,
        line: Option<usize>,
        message: String,
    },
}

impl Config {
    /// Loads `path` if given (it must exist), else `config.toml` if present,
    /// else the defaults.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let (path, required) = match path {
            Some(path) => (path, true),
            None => (Path::new(DEFAULT_FILE), false),
        };
        match std::fs::read_to_string(path) {
            Ok(text) => Config::parse(&text, path),
            Err(err) if !required && err.kind() == std::io::ErrorKind::NotFound => {
                Ok(Config::default())
            }
            Err(source) => Err(ConfigError::Read {
                path: path.to_owned(),
                source,
            }),
        }
    }

    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let invalid = |line, message| ConfigError::Invalid {
            path: path.to_owned(),
            line,
            message,
        };
        let config: Config = toml::from_str(text).map_err(|err| {
            let (line, message) = crate::toml_error::describe(text, &err);
            invalid(line, message)
        })?;
        if config.database.busy_timeout_ms == 0 {
            return Err(invalid(
                None,
                "`database.busy_timeout_ms` must be more than 0 (milliseconds)".into(),
            ));
        }
        if config.database.max_connections == 0 {
            return Err(invalid(
                None,
                "`database.max_connections` must be at least 1".into(),
            ));
        }
        if config.database.path.as_os_str().is_empty() {
            return Err(invalid(
                None,
                "`database.path` is empty; expected a file name such as \"mend.sqlite\"".into(),
            ));
        }
        for (key, value) in [
            (
                "checkins.max_unanswered",
                u64::from(config.checkins.max_unanswered),
            ),
            ("checkins.per_second", u64::from(config.checkins.per_second)),
            ("checkins.every_seconds", config.checkins.every_seconds),
        ] {
            if value == 0 {
                return Err(invalid(None, format!("`{key}` must be at least 1")));
            }
        }
        if config.checkins.per_second > MAX_CHECKINS_PER_SECOND {
            return Err(invalid(
                None,
                format!(
                    "`checkins.per_second` is {}; expected at most {MAX_CHECKINS_PER_SECOND} \
                     (Discord allows a bot about 50 requests a second in all)",
                    config.checkins.per_second
                ),
            ));
        }
        let moderation = &config.moderation;
        let ids = [
            moderation.guild_id,
            moderation.channel_id,
            moderation.role_id,
        ];
        if ids.iter().any(Option::is_some) && ids.iter().any(Option::is_none) {
            return Err(invalid(
                None,
                "`moderation` needs all of guild_id, channel_id and role_id, or none of them"
                    .into(),
            ));
        }
        if config.discord.request_timeout_secs == 0 {
            return Err(invalid(
                None,
                "`discord.request_timeout_secs` must be more than 0 (seconds)".into(),
            ));
        }
        if let Some(base) = &config.discord.api_base {
            let scheme = base.starts_with("http://") || base.starts_with("https://");
            let rest = base.split_once("://").map_or("", |(_, rest)| rest);
            if !scheme || rest.is_empty() || rest.contains(['/', '?', '#']) {
                return Err(invalid(
                    None,
                    format!(
                        "`discord.api_base` is \"{base}\"; expected a scheme and host with no path, \
                         such as \"http://127.0.0.1:8080\""
                    ),
                ));
            }
        }
        Ok(config)
    }
}
