//! mend on Discord (serenity 0.12): DMs and buttons through the engine, slash
//! commands, and a configurable API base so the real client can talk to a
//! Discord-compatible server on loopback.

mod commands;
mod delivery;
pub(crate) mod handler;
mod inbox;
pub(crate) mod render;
mod send;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serenity::all::{ClientBuilder, GatewayIntents, Http, HttpBuilder};
use tracing::{info, warn};

pub use commands::Command;
pub use handler::{Bot, Handler, Unrecognised, discord_code};

use crate::checkins::scheduler;
use crate::clock::Clock;
use crate::config::Config;
use crate::conversation::engine::Companion;
use crate::flags::discord::Moderators;
use crate::privacy::discord as privacy;
use crate::privacy::retention::{self, Retention};
use crate::secret::Secret;
use crate::store::Store;

/// How long shutdown waits for replies already being worked on.
const DRAIN: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum DiscordError {
    #[error(
        "cannot reach Discord's gateway at {base}: {source}. Check the network, or \
         `discord.api_base` if you set it"
    )]
    Gateway {
        base: String,
        source: Box<serenity::Error>,
    },
    #[error("the gateway address {0:?} carries a query; serenity needs a bare URL")]
    GatewayUrl(String),
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(String),
    #[error("the Discord client stopped: {0}")]
    Client(Box<serenity::Error>),
}

/// Only what DMs and slash commands need. DM text arrives without the
/// privileged message-content intent; interactions need no intent at all.
pub fn intents() -> GatewayIntents {
    GatewayIntents::DIRECT_MESSAGES
}

/// serenity's HTTP client, aimed at `api_base` when set. A custom base gets
/// no rate limiter (serenity's would still call discord.com) and bypasses any
/// HTTP proxy from the environment, since it is usually on loopback.
pub fn http(
    token: &Secret,
    api_base: Option<&str>,
    timeout: Duration,
) -> Result<Http, DiscordError> {
    let mut builder =
        HttpBuilder::new(token.expose()).default_allowed_mentions(render::no_mentions());
    // A request Discord never answers must not hold a person's reply (and
    // everything queued behind it) forever; the retries in `send` take over.
    let client = reqwest::Client::builder().timeout(timeout);
    match api_base {
        Some(base) => {
            let client = client
                .no_proxy()
                .build()
                .map_err(|err| DiscordError::HttpClient(err.to_string()))?;
            builder = builder
                .proxy(base.trim_end_matches('/'))
                .ratelimiter_disabled(true)
                .client(client);
        }
        None => {
            let client = client
                .build()
                .map_err(|err| DiscordError::HttpClient(err.to_string()))?;
            builder = builder.client(client);
        }
    }
    Ok(builder.build())
}

/// Runs the bot until `shutdown` resolves, then closes the gateway cleanly
/// (close code 1000) and lets replies in flight finish.
pub async fn serve(
    config: &Config,
    token: &Secret,
    companion: Arc<Companion>,
    store: Store,
    clock: Arc<impl Clock>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), DiscordError> {
    let base = config.discord.api_base.as_deref();
    let timeout = Duration::from_secs(config.discord.request_timeout_secs);
    let http = http(token, base, timeout)?;
    // serenity falls back to the real gateway without a word if this fails;
    // mend says so and stops instead.
    let gateway = http
        .get_gateway()
        .await
        .map_err(|source| DiscordError::Gateway {
            base: base.unwrap_or("https://discord.com").to_owned(),
            source: Box::new(source),
        })?;
    if gateway.url.contains('?') {
        return Err(DiscordError::GatewayUrl(gateway.url));
    }
    info!(gateway = %gateway.url, "starting");

    let companion_for_checkins = Arc::clone(&companion);
    let bot = Arc::new(Bot::new(
        companion,
        store.clone(),
        Duration::from_millis(config.discord.order_window_ms),
        config.discord.register_commands,
        Moderators::from_config(&config.moderation),
        Arc::clone(&clock) as Arc<dyn Clock>,
    ));
    // Crisis flags a failing store kept at the last stop: written (and
    // announced) by the first sweep for notices owed, at once.
    let kept = crate::flags::pending::file_for(&config.database.path);
    bot.pending().load(&kept, store.cipher());
    let mut client = ClientBuilder::new_with_http(http, intents())
        .event_handler(Handler(Arc::clone(&bot)))
        .raw_event_handler(Unrecognised::default())
        .await
        .map_err(|err| DiscordError::Client(Box::new(err)))?;
    let retention = tokio::spawn(keep_retention(
        store.clone(),
        Arc::clone(&client.http),
        Retention::from_config(config),
        Arc::clone(&clock) as Arc<dyn Clock>,
    ));
    let checkins = tokio::spawn(scheduler::run(
        store.clone(),
        Arc::clone(&companion_for_checkins),
        clock,
        config.checkins.scheduler(),
        Arc::new(crate::checkins::discord::DiscordDeliver {
            bot: Arc::clone(&bot),
            http: Arc::clone(&client.http),
        }),
    ));
    let settling = {
        let bot = Arc::clone(&bot);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_millis(250));
            loop {
                every.tick().await;
                bot.settle().await;
            }
        })
    };
    let owed = {
        let (bot, http) = (Arc::clone(&bot), Arc::clone(&client.http));
        tokio::spawn(async move {
            let mut every = tokio::time::interval(NOTICES_OWED_EVERY);
            loop {
                every.tick().await;
                bot.announce_owed(&http).await;
            }
        })
    };
    let shards = Arc::clone(&client.shard_manager);
    tokio::spawn(async move {
        shutdown.await;
        info!("shutting down: closing the gateway");
        shards.shutdown_all().await;
    });
    client
        .start()
        .await
        .map_err(|err| DiscordError::Client(Box::new(err)))?;

    let deadline = tokio::time::Instant::now() + DRAIN;
    while bot.busy() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if bot.busy() > 0 {
        warn!(people = bot.busy(), "stopped with replies still in flight");
    }
    settling.abort();
    owed.abort();
    bot.settle().await;
    // One more try for flags still waiting; what is left goes to a file
    // the next start reads, so none is lost.
    bot.pending().stop(&store, &kept).await;
    retention.abort();
    checkins.abort();
    info!("stopped");
    Ok(())
}

/// How often notices that could not be posted, and crisis flags the store
/// could not take, are tried again (and at start, for a flag raised just
/// before mend stopped).
const NOTICES_OWED_EVERY: Duration = Duration::from_secs(60);

/// Applies the retention schedule once (see [`retention::sweep`]), then
/// tidies the moderators' notices that quoted the people erased.
pub async fn enforce_retention(
    store: &Store,
    http: &Http,
    retention: Retention,
    now: jiff::Timestamp,
) {
    for one in &retention::sweep(store, retention, now).await {
        privacy::tidy_notices(http, one).await;
    }
}

/// [`enforce_retention`] now and every hour, on the bot's clock.
async fn keep_retention(
    store: Store,
    http: Arc<Http>,
    retention: Retention,
    clock: Arc<dyn Clock>,
) {
    let mut every = tokio::time::interval(Duration::from_secs(3600));
    loop {
        every.tick().await;
        enforce_retention(&store, &http, retention, clock.now()).await;
    }
}
