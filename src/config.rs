//! `config.toml`, parsed once into types and validated at load. Every key has
//! a default, so mend runs with no file at all; secrets never live here, only
//! in the environment.

use std::num::NonZeroU64;
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
            busy_timeout: Duration::from_millis(self.busy_timeout_ms.min(MAX_BUSY_TIMEOUT_MS)),
            max_connections: self.max_connections.clamp(1, MAX_CONNECTIONS),
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
        // Within the range validated at load, so the cast cannot wrap.
        jiff::SignedDuration::from_mins(self.cooldown_minutes.min(MAX_COOLDOWN_MINUTES) as i64)
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

impl Moderation {
    /// The guild, channel and role, when all three are set and none is 0
    /// (as [`Config::validate`] requires): ids as Discord's types take them.
    pub fn ids(&self) -> Option<[NonZeroU64; 3]> {
        Some([
            NonZeroU64::new(self.guild_id?)?,
            NonZeroU64::new(self.channel_id?)?,
            NonZeroU64::new(self.role_id?)?,
        ])
    }
}

/// The largest value of each number in the config; [`Config::validate`]
/// refuses more, and the accessors below never go past them either.
pub const MAX_BUSY_TIMEOUT_MS: u64 = 600_000;
pub const MAX_CONNECTIONS: u32 = 100;
pub const MAX_ORDER_WINDOW_MS: u64 = 2_000;
pub const MAX_REQUEST_TIMEOUT_SECS: u64 = 300;
/// A day: past that the shorter reminder would be all anyone ever got.
pub const MAX_COOLDOWN_MINUTES: u64 = 1_440;
/// Ten years, for flag excerpts and inactive people alike.
pub const MAX_RETENTION_DAYS: u64 = 3_650;
/// A week: older missed check-ins are skipped, never piled up.
pub const MAX_GRACE_HOURS: u64 = 24 * 7;
pub const MAX_UNANSWERED: u32 = 100;
pub const MAX_EVERY_SECONDS: u64 = 3_600;
/// Discord ids are snowflakes, which fit in 63 bits.
pub const MAX_DISCORD_ID: u64 = i64::MAX as u64;

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
    pub fn scheduler(&self) -> crate::checkins::scheduler::Settings {
        crate::checkins::scheduler::Settings {
            grace: jiff::SignedDuration::from_hours(self.grace_hours.min(MAX_GRACE_HOURS) as i64),
            max_unanswered: i64::from(self.max_unanswered),
            per_second: self.per_second.clamp(1, MAX_CHECKINS_PER_SECOND),
            every: std::time::Duration::from_secs(self.every_seconds.clamp(1, MAX_EVERY_SECONDS)),
            ..crate::checkins::scheduler::Settings::default()
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
    /// A config built in code, not read from a file, that breaks a rule.
    #[error("the config is not valid: {}", .0.message)]
    Rule(Problem),
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
        if let Err(problem) = config.validate() {
            let line = problem
                .key
                .and_then(|key| crate::toml_error::line_of(text, key));
            return Err(invalid(line, problem.message));
        }
        if config.database.path.as_os_str().is_empty() {
            return Err(invalid(
                crate::toml_error::line_of(text, "database.path"),
                "`database.path` is empty; expected a file name such as \"mend.sqlite\"".into(),
            ));
        }
        if let Some(base) = &config.discord.api_base {
            let scheme = base.starts_with("http://") || base.starts_with("https://");
            let rest = base.split_once("://").map_or("", |(_, rest)| rest);
            if !scheme || rest.is_empty() || rest.contains(['/', '?', '#']) {
                return Err(invalid(
                    crate::toml_error::line_of(text, "discord.api_base"),
                    format!(
                        "`discord.api_base` is \"{base}\"; expected a scheme and host with no path, \
                         such as \"http://127.0.0.1:8080\""
                    ),
                ));
            }
        }
        Ok(config)
    }

    /// Checks every number against its range and the moderators' ids, so
    /// nothing later can overflow, divide by zero or panic on a value
    /// someone typed. [`Config::parse`] runs it; so does `serve` (a config
    /// built in code skips the file). The first problem found is returned.
    pub fn validate(&self) -> Result<(), Problem> {
        for bound in self.bounds() {
            if bound.value < bound.min || bound.value > bound.max {
                return Err(Problem {
                    key: Some(bound.key),
                    message: format!(
                        "`{}` is {}; expected {} to {} ({})",
                        bound.key, bound.value, bound.min, bound.max, bound.unit
                    ),
                });
            }
        }
        let moderation = &self.moderation;
        let ids = [
            ("moderation.guild_id", moderation.guild_id),
            ("moderation.channel_id", moderation.channel_id),
            ("moderation.role_id", moderation.role_id),
        ];
        for (key, id) in ids {
            if let Some(id) = id
                && !(1..=MAX_DISCORD_ID).contains(&id)
            {
                return Err(Problem {
                    key: Some(key),
                    message: format!(
                        "`{key}` is {id}; expected a Discord id, a whole number from 1 to \
                         {MAX_DISCORD_ID} (in Discord, turn on Developer Mode and use Copy ID)"
                    ),
                });
            }
        }
        if ids.iter().any(|(_, id)| id.is_some()) && ids.iter().any(|(_, id)| id.is_none()) {
            let missing = ids.iter().find(|(_, id)| id.is_none()).map(|(key, _)| *key);
            return Err(Problem {
                key: ids.iter().find(|(_, id)| id.is_some()).map(|(key, _)| *key),
                message: format!(
                    "`moderation` needs all of guild_id, channel_id and role_id, or none of them \
                     (`{}` is missing)",
                    missing.unwrap_or_default()
                ),
            });
        }
        Ok(())
    }

    /// Every number in the config with the range it may take.
    fn bounds(&self) -> [Bound; 11] {
        let bound = |key, value, (min, max), unit| Bound {
            key,
            value,
            min,
            max,
            unit,
        };
        let (database, discord, safety, checkins) =
            (&self.database, &self.discord, &self.safety, &self.checkins);
        [
            bound(
                "database.busy_timeout_ms",
                database.busy_timeout_ms,
                (1, MAX_BUSY_TIMEOUT_MS),
                "milliseconds",
            ),
            bound(
                "database.max_connections",
                u64::from(database.max_connections),
                (1, u64::from(MAX_CONNECTIONS)),
                "connections",
            ),
            bound(
                "discord.order_window_ms",
                discord.order_window_ms,
                (0, MAX_ORDER_WINDOW_MS),
                "milliseconds",
            ),
            bound(
                "discord.request_timeout_secs",
                discord.request_timeout_secs,
                (1, MAX_REQUEST_TIMEOUT_SECS),
                "seconds",
            ),
            bound(
                "safety.cooldown_minutes",
                safety.cooldown_minutes,
                (0, MAX_COOLDOWN_MINUTES),
                "minutes",
            ),
            bound(
                "safety.excerpt_retention_days",
                safety.excerpt_retention_days,
                (0, MAX_RETENTION_DAYS),
                "days",
            ),
            bound(
                "checkins.grace_hours",
                checkins.grace_hours,
                (0, MAX_GRACE_HOURS),
                "hours",
            ),
            bound(
                "checkins.max_unanswered",
                u64::from(checkins.max_unanswered),
                (1, u64::from(MAX_UNANSWERED)),
                "check-ins in a row",
            ),
            bound(
                "checkins.per_second",
                u64::from(checkins.per_second),
                (1, u64::from(MAX_CHECKINS_PER_SECOND)),
                "check-ins a second; Discord allows a bot about 50 requests a second in all",
            ),
            bound(
                "checkins.every_seconds",
                checkins.every_seconds,
                (1, MAX_EVERY_SECONDS),
                "seconds",
            ),
            bound(
                "privacy.inactive_days",
                self.privacy.inactive_days,
                (0, MAX_RETENTION_DAYS),
                "days; 0 keeps people until they ask to be forgotten",
            ),
        ]
    }
}

/// A value the config may not hold: the dotted key (when one key is to
/// blame) and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub key: Option<&'static str>,
    pub message: String,
}

/// One number in the config and the range it may take.
struct Bound {
    key: &'static str,
    value: u64,
    min: u64,
    max: u64,
    /// What the number counts, as the error says it.
    unit: &'static str,
}
