//! A small, faithful fake of the Discord API (REST + gateway websocket) for driving the
//! **real** serenity 0.12.5 client in tests.
//!
//! # What it is
//!
//! [`FakeDiscord::start`] binds an HTTP server on `127.0.0.1:0` that speaks enough of Discord's
//! v10 REST API and gateway protocol for a bot built on serenity to run against it unchanged:
//!
//! * `GET /api/v10/gateway` and `/gateway/bot` point serenity at `ws://127.0.0.1:PORT/ws`.
//! * The websocket speaks the gateway protocol: HELLO (op 10) → IDENTIFY (op 2) → READY,
//!   heartbeats (op 1 → op 11), RESUME (op 6) → replayed events + RESUMED, and it records every
//!   IDENTIFY (with its intents), RESUME and close frame (with its close code).
//! * REST routes the bot needs are served from an in-memory model of users, DM and guild
//!   channels, messages, interactions and application commands. Every request is recorded as a
//!   [`Recorded`] (method, path, parsed JSON body, status, response). Routes the fake does not
//!   know answer `404 {"message": "404: Not Found", "code": 0}` like Discord and are recorded with
//!   `matched == false` (see [`FakeDiscord::unknown_routes`]) so a test can see what is missing.
//! * Test code drives "user side" events: [`FakeDiscord::send_dm`], [`FakeDiscord::send_guild_message`],
//!   [`FakeDiscord::press_button`], [`FakeDiscord::slash_command`] push `MESSAGE_CREATE` /
//!   `INTERACTION_CREATE` dispatches over the gateway, shaped the way Discord sends them.
//! * Faults: [`FakeDiscord::fail_next`] makes the next matching REST request fail (plain status,
//!   429 with rate-limit headers, a Discord JSON error such as 403/50007, or any custom body), and
//!   [`FakeDiscord::close_gateway`], [`FakeDiscord::send_reconnect`],
//!   [`FakeDiscord::send_invalid_session`], [`FakeDiscord::drop_gateway`],
//!   [`FakeDiscord::set_heartbeat_ack`], [`FakeDiscord::tamper_next_dispatch`] and
//!   [`FakeDiscord::send_raw_frame`] disturb the gateway.
//! * Waiting: [`FakeDiscord::wait_for`], [`FakeDiscord::wait_for_request`],
//!   [`FakeDiscord::wait_gateway`] and [`FakeDiscord::wait_ready`] are woken by every state change
//!   (no polling sleeps) and always take a timeout; on timeout they panic with a dump.
//!
//! Do not inject faults into `GET /api/v10/gateway`: serenity then silently (WARN only) falls
//! back to `wss://gateway.discord.gg`.
//!
//! Like Discord, the fake echoes the bot's own messages back as `MESSAGE_CREATE` (subject to the
//! identified intents: `DIRECT_MESSAGES` for DMs, `GUILD_MESSAGES` for guild channels), makes
//! interaction responses visible as stored messages (with `interaction_metadata`), rejects
//! interaction callbacks after the 3 second deadline or when already acknowledged, and validates
//! slash command registrations (missing descriptions → 400 / code 50035 "Invalid Form Body").
//!
//! # Connecting serenity 0.12.5
//!
//! ```ignore
//! let fake = FakeDiscord::start().await;
//! let http = serenity::http::HttpBuilder::new(fake.token())
//!     .proxy(fake.base_url())          // rewrites https://discord.com → http://127.0.0.1:PORT
//!     .ratelimiter_disabled(true)      // REQUIRED: the ratelimiter ignores `proxy`
//!     .build();
//! let mut client = serenity::client::ClientBuilder::new_with_http(http, GatewayIntents::DIRECT_MESSAGES)
//!     .event_handler(handler)
//!     .await?;
//! tokio::spawn(async move { client.start().await });
//! fake.wait_ready(Duration::from_secs(5)).await;
//! ```
//!
//! `reqwest` (used by serenity) honours `HTTP_PROXY`/`HTTPS_PROXY`/`ALL_PROXY` and does **not**
//! exempt loopback on its own; [`FakeDiscord::start`] therefore adds `127.0.0.1,localhost` to
//! `NO_PROXY`/`no_proxy` once per process when a proxy variable is set (before any client is
//! built). The gateway websocket (tokio-tungstenite) never uses a proxy.
//!
//! The module is self-contained (depends on axum 0.8 with `ws`, tokio, serde_json, tracing and
//! serenity only for [`FakeDiscord::http`]) so it can be copied into another crate's tests.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, Once};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value, json};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;

// ---------------------------------------------------------------------------------------------
// Public configuration and records
// ---------------------------------------------------------------------------------------------

/// Gateway intent bits the fake cares about (same values as Discord / serenity's `GatewayIntents`).
pub mod intents {
    pub const GUILD_MESSAGES: u64 = 1 << 9;
    pub const DIRECT_MESSAGES: u64 = 1 << 12;
    pub const MESSAGE_CONTENT: u64 = 1 << 15;
}

/// Message flag bits used by the fake.
pub mod flags {
    pub const SUPPRESS_EMBEDS: u64 = 1 << 2;
    pub const EPHEMERAL: u64 = 1 << 6;
    pub const LOADING: u64 = 1 << 7;
    pub const SUPPRESS_NOTIFICATIONS: u64 = 1 << 12;
}

/// Settings for [`FakeDiscord::start_with`]. `Config::default()` is what [`FakeDiscord::start`] uses.
#[derive(Clone, Debug)]
pub struct Config {
    /// The bot token the fake accepts (REST `Authorization: Bot <token>` and IDENTIFY's token).
    pub token: String,
    pub bot_user_id: u64,
    pub bot_username: String,
    /// Sent in READY as `application.id`; serenity takes its application id from there.
    pub application_id: u64,
    /// HELLO's `heartbeat_interval` in milliseconds (Discord uses ~41250).
    pub heartbeat_interval_ms: u64,
    /// Discord invalidates an interaction that is not answered within 3 seconds.
    pub interaction_ack_deadline: Duration,
    /// Guild ids listed (as unavailable guilds) in READY.
    pub guilds: Vec<u64>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            token: "fake-bot-token.not-a-real-one".to_string(),
            bot_user_id: 1_100_000_000_000_000_001,
            bot_username: "mend-test-bot".to_string(),
            application_id: 1_100_000_000_000_000_777,
            heartbeat_interval_ms: 41_250,
            interaction_ack_deadline: Duration::from_secs(3),
            guilds: Vec::new(),
        }
    }
}

/// One REST request as the fake saw it.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// Upper-case HTTP method, e.g. `"POST"`.
    pub method: String,
    /// Path without query, e.g. `"/api/v10/channels/123/messages"`.
    pub path: String,
    /// Parsed JSON body (`Value::Null` when empty). For multipart requests this is the parsed
    /// `payload_json` part.
    pub body: Value,
    /// Status the fake answered with.
    pub status: u16,
    /// When the fake received it.
    pub at: Instant,
    /// JSON the fake answered with (`Value::Null` for 204).
    pub response: Value,
    /// `false` when no route matched (the fake answered 404 "404: Not Found").
    pub matched: bool,
    /// `true` when the answer came from an injected [`Fault`].
    pub faulted: bool,
}

impl Recorded {
    /// `true` if `method` matches and `path` matches the [`Route`] pattern (see [`Route`]).
    pub fn is(&self, route: impl Into<Route>) -> bool {
        route.into().matches(&self.method, &self.path)
    }
}

/// A REST route pattern: `"POST /api/v10/channels/*/messages"`.
///
/// * The method is optional (`"/api/v10/gateway"` matches any method).
/// * `*` matches exactly one path segment, a trailing `**` matches any remainder.
/// * Patterns not starting with `/api/` get `/api/v10` prepended, so
///   `"POST /channels/*/messages"` works too.
#[derive(Clone, Debug)]
pub struct Route {
    method: Option<String>,
    segments: Vec<String>,
}

impl Route {
    pub fn new(pattern: &str) -> Route {
        let pattern = pattern.trim();
        let (method, path) = match pattern.split_once(' ') {
            Some((m, p)) => (Some(m.trim().to_ascii_uppercase()), p.trim()),
            None => (None, pattern),
        };
        let path = if path.starts_with("/api/") {
            path.to_string()
        } else {
            format!("/api/v10{path}")
        };
        Route {
            method,
            segments: split_path(&path).into_iter().map(str::to_string).collect(),
        }
    }

    pub fn matches(&self, method: &str, path: &str) -> bool {
        if let Some(m) = &self.method
            && !m.eq_ignore_ascii_case(method)
        {
            return false;
        }
        let segs = split_path(path);
        let mut i = 0;
        for (n, pat) in self.segments.iter().enumerate() {
            if pat == "**" && n == self.segments.len() - 1 {
                return true;
            }
            match segs.get(i) {
                Some(s) if pat == "*" || pat == s => i += 1,
                _ => return false,
            }
        }
        i == segs.len()
    }
}

impl From<&str> for Route {
    fn from(s: &str) -> Route {
        Route::new(s)
    }
}
impl From<&String> for Route {
    fn from(s: &String) -> Route {
        Route::new(s)
    }
}

/// A failure to inject into the next REST request matching a [`Route`] (see [`FakeDiscord::fail_next`]).
#[derive(Clone, Debug)]
pub enum Fault {
    /// Answer with this status and Discord's generic body `{"message": "<status>: <reason>", "code": 0}`.
    Status(u16),
    /// 429 with `Retry-After`, `X-RateLimit-*` headers and Discord's JSON body
    /// `{"message": "You are being rate limited.", "retry_after": x, "global": false}`.
    RateLimited { retry_after_secs: f64 },
    /// A Discord JSON error, e.g. `DiscordError { status: 403, code: 50007, message: "Cannot send messages to this user" }`.
    DiscordError {
        status: u16,
        code: u64,
        message: &'static str,
    },
    /// Carry the request out as usual, then answer with this status anyway, as when Discord
    /// did the work but the answer was lost (a 500 from a proxy, a dropped connection).
    AppliedThenStatus(u16),
    /// Carry the request out as usual, then keep silent this long before
    /// answering, as when Discord is slow: a client with a shorter timeout
    /// gives up on a request that did in fact succeed.
    AppliedThenSilence(std::time::Duration),
    /// Carry the request out as usual, then answer with the usual body less
    /// these fields, as servers that are not Discord do (Spacebar leaves out
    /// a message's `pinned`): a client that insists on them cannot parse it.
    AppliedThenWithout(&'static [&'static str]),
}

impl Fault {
    /// 403 / 50007 "Cannot send messages to this user" (user closed DMs or blocked the bot).
    pub fn cannot_dm() -> Fault {
        Fault::DiscordError {
            status: 403,
            code: 50007,
            message: "Cannot send messages to this user",
        }
    }
}

/// Who closed a gateway connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseSide {
    /// The client (serenity) sent a close frame.
    Client,
    /// The fake sent a close frame ([`FakeDiscord::close_gateway`]).
    Server,
    /// The TCP stream ended or errored without a close frame.
    Abrupt,
}

/// A closed gateway connection.
#[derive(Clone, Debug)]
pub struct CloseRecord {
    pub side: CloseSide,
    /// Close code from the close frame (None for abrupt ends or a close frame without code).
    pub code: Option<u16>,
}

/// Everything the fake observed on the gateway (snapshot, see [`FakeDiscord::gateway`]).
#[derive(Clone, Debug, Default)]
pub struct GatewayLog {
    /// Number of websocket connections accepted so far.
    pub connections: u32,
    /// Query string of each websocket connection request (serenity sends `v=10`).
    pub connect_queries: Vec<String>,
    /// `d` of every IDENTIFY (op 2) received, in order (token included; it is the fake's).
    pub identifies: Vec<Value>,
    /// `d` of every RESUME (op 6) received.
    pub resumes: Vec<Value>,
    /// Heartbeats (op 1) received.
    pub heartbeats: u64,
    /// Every other client frame (op 3 presence updates, op 8 member requests, ...).
    pub other_frames: Vec<Value>,
    /// Every frame the fake wrote to a websocket, in order (HELLO, dispatches, ACKs, ...).
    /// Dispatches queued for a connection that closed before writing them are not listed
    /// (they are replayed on RESUME).
    pub sent: Vec<Value>,
    /// Dispatches dropped because the session lacks the intent they require: `(t, d)`.
    pub filtered: Vec<(String, Value)>,
    /// Closed connections.
    pub closes: Vec<CloseRecord>,
    /// Number of READY dispatches sent.
    pub readies: u32,
    /// Number of RESUMED dispatches sent.
    pub resumed: u32,
    /// Dispatches re-sent on RESUME because the client had not acknowledged their sequence.
    pub replayed: u32,
}

impl GatewayLog {
    /// Intents of the most recent IDENTIFY.
    pub fn intents(&self) -> Option<u64> {
        self.identifies
            .last()
            .and_then(|d| d.get("intents"))
            .and_then(Value::as_u64)
    }

    /// Close codes sent by the client (serenity), in order.
    pub fn client_close_codes(&self) -> Vec<Option<u16>> {
        self.closes
            .iter()
            .filter(|c| c.side == CloseSide::Client)
            .map(|c| c.code)
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// The fake
// ---------------------------------------------------------------------------------------------

/// Everything any user typed into any fake in this test process, so a test
/// can check that none of it reached mend's logs.
static TYPED: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn remember_typed(text: &str) {
    TYPED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .push(text.to_owned());
}

/// String option values of a slash command (and its subcommands) are typed too.
fn remember_option_strings(options: &Value) {
    for option in options.as_array().into_iter().flatten() {
        if let Some(text) = option["value"].as_str() {
            remember_typed(text);
        }
        remember_option_strings(&option["options"]);
    }
}

/// What users have typed so far, in every fake of this process.
pub fn typed_so_far() -> Vec<String> {
    TYPED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone()
}

/// The fake Discord server. Dropping it stops accepting new connections.
pub struct FakeDiscord {
    inner: Arc<Inner>,
    addr: SocketAddr,
    server: JoinHandle<()>,
}

impl Drop for FakeDiscord {
    fn drop(&mut self) {
        self.server.abort();
        // Close any open gateway connection so a client that outlives the fake notices.
        let mut st = self.inner.lock();
        for tx in st.gw.conns.values() {
            let _ = tx.send(WsOut::Drop);
        }
        st.gw.conns.clear();
    }
}

impl fmt::Debug for FakeDiscord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeDiscord")
            .field("addr", &self.addr)
            .finish()
    }
}

struct Inner {
    cfg: Config,
    base_url: String,
    ws_url: String,
    state: Mutex<St>,
    changed: Notify,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, St> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

static PROXY_BYPASS: Once = Once::new();

/// Make sure reqwest does not send loopback traffic through an HTTP(S) proxy from the
/// environment. Runs once per process, before the first client can be built by a test that
/// uses the fake.
fn bypass_proxy_for_loopback() {
    PROXY_BYPASS.call_once(|| {
        let proxied = [
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "ALL_PROXY",
            "http_proxy",
            "https_proxy",
            "all_proxy",
        ]
        .iter()
        .any(|k| std::env::var_os(k).is_some_and(|v| !v.is_empty()));
        if !proxied {
            return;
        }
        for key in ["NO_PROXY", "no_proxy"] {
            let current = std::env::var(key).unwrap_or_default();
            let mut parts: Vec<String> = current
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
            for host in ["127.0.0.1", "localhost"] {
                if !parts.iter().any(|p| p == host) {
                    parts.push(host.to_string());
                }
            }
            // SAFETY: done once, before this process builds any HTTP client that reads these
            // variables; tests that use the fake call it first thing.
            unsafe { std::env::set_var(key, parts.join(",")) };
        }
    });
}

impl FakeDiscord {
    /// Start with [`Config::default`].
    pub async fn start() -> FakeDiscord {
        Self::start_with(Config::default()).await
    }

    /// Bind `127.0.0.1:0` and serve until dropped.
    pub async fn start_with(cfg: Config) -> FakeDiscord {
        bypass_proxy_for_loopback();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let base_url = format!("http://{addr}");
        let ws_url = format!("ws://{addr}/ws");
        let mut st = St::new(&cfg);
        let bot = user_json(cfg.bot_user_id, &cfg.bot_username, true);
        st.users.insert(cfg.bot_user_id, bot);
        let inner = Arc::new(Inner {
            cfg,
            base_url,
            ws_url,
            state: Mutex::new(st),
            changed: Notify::new(),
        });
        let app = Router::new()
            .route("/ws", get(ws_handler))
            .fallback(rest_handler)
            .with_state(inner.clone());
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(target: "fake_discord", "server stopped: {e}");
            }
        });
        FakeDiscord {
            inner,
            addr,
            server,
        }
    }

    /// `"http://127.0.0.1:PORT"`: pass to `HttpBuilder::proxy`.
    pub fn base_url(&self) -> String {
        self.inner.base_url.clone()
    }

    pub fn token(&self) -> String {
        self.inner.cfg.token.clone()
    }

    pub fn bot_user_id(&self) -> u64 {
        self.inner.cfg.bot_user_id
    }

    pub fn application_id(&self) -> u64 {
        self.inner.cfg.application_id
    }

    /// A serenity `HttpBuilder` aimed at the fake: token, `proxy(base_url)` and the ratelimiter
    /// disabled (serenity's ratelimiter ignores `proxy` and would talk to discord.com).
    pub fn http_builder(&self) -> serenity::http::HttpBuilder {
        serenity::http::HttpBuilder::new(self.token())
            .proxy(self.base_url())
            .ratelimiter_disabled(true)
    }

    /// A standalone serenity `Http` aimed at the fake with the application id preset (useful for
    /// REST-only tests such as command registration without a running gateway).
    pub fn http(&self) -> serenity::http::Http {
        self.http_builder()
            .application_id(serenity::model::id::ApplicationId::new(
                self.application_id(),
            ))
            .build()
    }

    // -- recording ----------------------------------------------------------------------------

    /// Every REST request so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests_from(0)
    }

    /// The REST requests from index `start` on: cheap to poll when many
    /// thousands have been recorded (the load bench).
    pub fn requests_from(&self, start: usize) -> Vec<Recorded> {
        let inner = self.inner.lock();
        inner.requests.get(start..).unwrap_or_default().to_vec()
    }

    /// Successful `POST /channels/{id}/messages` requests (what the bot sent as plain messages).
    pub fn messages_sent(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.is("POST /channels/*/messages") && (200..300).contains(&r.status))
            .collect()
    }

    /// Recorded `POST /interactions/{id}/{token}/callback` requests.
    pub fn interaction_callbacks(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.is("POST /interactions/*/*/callback"))
            .collect()
    }

    /// Requests no route matched (answered 404 "404: Not Found").
    pub fn unknown_routes(&self) -> Vec<Recorded> {
        self.requests().into_iter().filter(|r| !r.matched).collect()
    }

    /// Snapshot of the gateway log.
    pub fn gateway(&self) -> GatewayLog {
        self.inner.lock().gw.log.clone()
    }

    /// Intents of the latest IDENTIFY.
    pub fn identify_intents(&self) -> Option<u64> {
        self.inner.lock().gw.log.intents()
    }

    /// A stored message object as Discord would return it.
    pub fn message(&self, message_id: u64) -> Option<Value> {
        self.inner.lock().messages.get(&message_id).cloned()
    }

    /// Messages stored in a channel, oldest first.
    pub fn channel_messages(&self, channel_id: u64) -> Vec<Value> {
        let st = self.inner.lock();
        let mut v: Vec<(u64, Value)> = st
            .messages
            .iter()
            .filter(|(_, m)| sf(&m["channel_id"]) == Some(channel_id))
            .map(|(id, m)| (*id, m.clone()))
            .collect();
        v.sort_by_key(|(id, _)| *id);
        v.into_iter().map(|(_, m)| m).collect()
    }

    /// Currently registered global commands (as returned to the bot).
    pub fn global_commands(&self) -> Vec<Value> {
        self.inner.lock().global_commands.clone()
    }

    /// Currently registered commands of a guild.
    pub fn guild_commands(&self, guild_id: u64) -> Vec<Value> {
        self.inner
            .lock()
            .guild_commands
            .get(&guild_id)
            .cloned()
            .unwrap_or_default()
    }

    // -- waiting ------------------------------------------------------------------------------

    /// Wait (event driven, no sleeping) until `check` returns `Some`, or `timeout` passes.
    async fn wait_until<T>(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&St) -> Option<T>,
    ) -> Option<T> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.inner.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(t) = check(&self.inner.lock()) {
                return Some(t);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return check(&self.inner.lock());
            }
        }
    }

    /// Wait until `pred(all recorded requests)` holds; returns the requests then.
    /// Panics with a dump of the requests on timeout.
    pub async fn wait_for(
        &self,
        pred: impl Fn(&[Recorded]) -> bool,
        timeout: Duration,
    ) -> Vec<Recorded> {
        match self.try_wait_for(pred, timeout).await {
            Some(r) => r,
            None => panic!(
                "FakeDiscord::wait_for timed out after {timeout:?}; requests so far:\n{}",
                self.dump()
            ),
        }
    }

    /// Like [`Self::wait_for`] but returns `None` on timeout.
    pub async fn try_wait_for(
        &self,
        pred: impl Fn(&[Recorded]) -> bool,
        timeout: Duration,
    ) -> Option<Vec<Recorded>> {
        self.wait_until(timeout, |st| {
            pred(&st.requests).then(|| st.requests.clone())
        })
        .await
    }

    /// Wait for the first request (counting from the beginning) matching `route` whose index is
    /// at least `after` (use `fake.requests().len()` before an action to only see new ones).
    pub async fn wait_for_request_after(
        &self,
        route: impl Into<Route>,
        after: usize,
        timeout: Duration,
    ) -> Recorded {
        let route = route.into();
        let found = self
            .wait_until(timeout, |st| {
                st.requests
                    .iter()
                    .skip(after)
                    .find(|r| route.matches(&r.method, &r.path))
                    .cloned()
            })
            .await;
        match found {
            Some(r) => r,
            None => panic!(
                "no request matching {route:?} within {timeout:?}; requests so far:\n{}",
                self.dump()
            ),
        }
    }

    /// Wait for the first request matching `route` (see [`Route`]).
    pub async fn wait_for_request(&self, route: impl Into<Route>, timeout: Duration) -> Recorded {
        self.wait_for_request_after(route, 0, timeout).await
    }

    /// Wait until the gateway log satisfies `pred`; returns the snapshot. Panics on timeout.
    pub async fn wait_gateway(
        &self,
        pred: impl Fn(&GatewayLog) -> bool,
        timeout: Duration,
    ) -> GatewayLog {
        match self
            .wait_until(timeout, |st| pred(&st.gw.log).then(|| st.gw.log.clone()))
            .await
        {
            Some(g) => g,
            None => panic!(
                "FakeDiscord::wait_gateway timed out after {timeout:?}; gateway: {:#?}",
                self.gateway()
            ),
        }
    }

    /// Wait until a session is live (READY or RESUMED sent on the current connection).
    /// Returns the latest IDENTIFY payload. Panics on timeout.
    pub async fn wait_ready(&self, timeout: Duration) -> Value {
        let r = self
            .wait_until(timeout, |st| {
                st.gw.live.and(st.gw.log.identifies.last().cloned())
            })
            .await;
        match r {
            Some(v) => v,
            None => panic!(
                "bot did not connect/identify within {timeout:?}; requests: \n{}\ngateway: {:#?}",
                self.dump(),
                self.gateway()
            ),
        }
    }

    /// Human readable list of the recorded requests (for failure messages).
    pub fn dump(&self) -> String {
        let st = self.inner.lock();
        let first = st.requests.first().map(|r| r.at);
        st.requests
            .iter()
            .map(|r| {
                let ms = first.map_or(0, |first| r.at.duration_since(first).as_millis());
                format!(
                    "  +{ms}ms {} {} -> {} {}",
                    r.method, r.path, r.status, r.body
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    // -- faults -------------------------------------------------------------------------------

    /// Make the next REST request matching `route` fail with `fault` (one-shot; queue several
    /// by calling repeatedly). The request is recorded with `faulted == true` and has no effect.
    pub fn fail_next(&self, route: impl Into<Route>, fault: Fault) {
        self.inner.lock().faults.push((route.into(), fault));
    }

    /// Forget every fault not yet injected: the outage is over.
    pub fn clear_faults(&self) {
        self.inner.lock().faults.clear();
    }

    /// Send a close frame with `code` on the latest gateway connection (e.g. 4000 → serenity
    /// resumes, 4004 → serenity gives up with InvalidAuthentication).
    pub fn close_gateway(&self, code: u16) {
        self.with_latest_conn(WsOut::Close(code, "closed by FakeDiscord".to_string()));
    }

    /// Drop the latest gateway connection without a close frame.
    pub fn drop_gateway(&self) {
        self.with_latest_conn(WsOut::Drop);
    }

    /// Send op 7 RECONNECT: serenity reconnects and RESUMEs (replayed events, then RESUMED).
    pub fn send_reconnect(&self) {
        self.with_latest_conn(WsOut::Frame(
            json!({"op": 7, "d": null, "s": null, "t": null}),
        ));
    }

    /// Send op 9 INVALID_SESSION. With `resumable == false` serenity re-identifies; note that
    /// serenity's shard queuer waits up to 5 s between shard starts before doing so.
    pub fn send_invalid_session(&self, resumable: bool) {
        self.with_latest_conn(WsOut::Frame(
            json!({"op": 9, "d": resumable, "s": null, "t": null}),
        ));
    }

    /// Send an arbitrary dispatch (`op` 0, event name `t`, payload `d`) to the live session, e.g.
    /// to test how the bot copes with payloads serenity cannot deserialise. Note: serenity 0.12.5
    /// turns a known event whose `d` does not fit its model into `Event::Unknown`, which the
    /// `EventHandler` never sees (only a `RawEventHandler` does); it logs that only at DEBUG
    /// ("An unknown event was received", target `serenity::client::dispatch`).
    pub fn send_raw_dispatch(&self, t: &str, d: Value) {
        let mut st = self.inner.lock();
        st.dispatch(t, d, 0);
        drop(st);
        self.inner.changed.notify_waiters();
    }

    /// Send an arbitrary raw frame (any JSON, e.g. a dispatch without `"s"`) on the latest
    /// connection, bypassing sequence numbers. Frames serenity cannot parse as a gateway event
    /// are logged at WARN by `serenity::gateway::ws` ("Err deserializing text: ...; text: <raw>")
    /// and dropped.
    pub fn send_raw_frame(&self, frame: Value) {
        self.with_latest_conn(WsOut::Frame(frame));
    }

    /// Let `tamper` modify the `d` of the next dispatch named `t` (e.g. remove
    /// `attachment_size_limit` from the next INTERACTION_CREATE). One-shot.
    pub fn tamper_next_dispatch(&self, t: &str, tamper: impl FnOnce(&mut Value) + Send + 'static) {
        self.inner
            .lock()
            .tampers
            .push((t.to_string(), Box::new(tamper)));
    }

    fn with_latest_conn(&self, out: WsOut) {
        let st = self.inner.lock();
        match st.gw.conns.iter().max_by_key(|(id, _)| **id) {
            Some((_, tx)) => {
                let _ = tx.send(out);
            }
            None => {
                tracing::warn!(target: "fake_discord", "no gateway connection to send {out:?} to")
            }
        }
    }

    // -- world setup --------------------------------------------------------------------------

    /// Set the role ids the user has in a guild (appear in `member.roles` of guild events).
    pub fn set_member_roles(&self, guild_id: u64, user_id: u64, roles: Vec<u64>) {
        self.inner.lock().roles.insert((guild_id, user_id), roles);
    }

    /// The DM channel between the bot and `user_id` (created if needed).
    pub fn dm_channel_id(&self, user_id: u64) -> u64 {
        self.inner.lock().dm_channel(user_id)
    }

    /// The default text channel of a guild (created if needed).
    pub fn guild_channel_id(&self, guild_id: u64) -> u64 {
        self.inner.lock().guild_channel(guild_id)
    }

    // -- user-side events ---------------------------------------------------------------------

    /// A user sends the bot a DM: `MESSAGE_CREATE` in the DM channel. Returns the message id.
    pub fn send_dm(&self, user_id: u64, content: &str) -> u64 {
        self.user_dm(user_id, content, false)
    }

    /// Another *bot* account sends the bot a DM (author has `bot: true`). Returns the message id.
    pub fn send_dm_from_bot_user(&self, bot_user_id: u64, content: &str) -> u64 {
        self.user_dm(bot_user_id, content, true)
    }

    fn user_dm(&self, user_id: u64, content: &str, bot: bool) -> u64 {
        remember_typed(content);
        let mut st = self.inner.lock();
        let mut author = st.user(user_id);
        if bot {
            author["bot"] = json!(true);
            st.users.insert(user_id, author.clone());
        }
        let channel_id = st.dm_channel(user_id);
        let id = st.next_id();
        let msg = message_json(id, channel_id, author, content);
        st.messages.insert(id, msg.clone());
        st.dispatch("MESSAGE_CREATE", msg, intents::DIRECT_MESSAGES);
        drop(st);
        self.inner.changed.notify_waiters();
        id
    }

    /// A user presses the button `custom_id` on stored message `message_id`: `INTERACTION_CREATE`
    /// type 3 carrying the message as the fake stored it. Returns the interaction id.
    /// Panics if the message or an enabled button with that custom id does not exist (a real
    /// user could not press it either).
    pub fn press_button(&self, user_id: u64, message_id: u64, custom_id: &str) -> u64 {
        self.try_press_button(user_id, message_id, custom_id)
            .unwrap_or_else(|e| panic!("press_button: {e}"))
    }

    /// Like [`Self::press_button`] but returns an error instead of panicking.
    pub fn try_press_button(
        &self,
        user_id: u64,
        message_id: u64,
        custom_id: &str,
    ) -> Result<u64, String> {
        let mut st = self.inner.lock();
        let msg = st
            .messages
            .get(&message_id)
            .cloned()
            .ok_or_else(|| format!("no message {message_id}"))?;
        let button = find_component(&msg, custom_id).ok_or_else(|| {
            format!("message {message_id} has no component with custom_id {custom_id:?}")
        })?;
        if button["type"] != 2 {
            return Err(format!("component {custom_id:?} is not a button: {button}"));
        }
        if button["disabled"] == true {
            return Err(format!(
                "button {custom_id:?} on message {message_id} is disabled"
            ));
        }
        let channel_id = sf(&msg["channel_id"]).expect("stored message has channel_id");
        let guild_id = st.channels.get(&channel_id).and_then(|c| c.guild_id);
        let data = json!({"custom_id": custom_id, "component_type": 2});
        let id = st.create_interaction(
            3,
            user_id,
            channel_id,
            guild_id,
            data,
            Some(msg),
            custom_id.to_string(),
        );
        drop(st);
        self.inner.changed.notify_waiters();
        Ok(id)
    }

    /// A user runs slash command `name` with `options` (Discord's interaction option array, e.g.
    /// `json!([{"name": "user", "type": 6, "value": "123"}])`). `guild_id` None → in the user's
    /// DM with the bot; Some → in the guild's default channel with `member` (incl. the roles set
    /// by [`Self::set_member_roles`]). The command id is the registered one when registered.
    /// Returns the interaction id.
    pub fn slash_command(
        &self,
        user_id: u64,
        guild_id: Option<u64>,
        name: &str,
        options: Value,
    ) -> u64 {
        remember_option_strings(&options);
        let mut st = self.inner.lock();
        let channel_id = match guild_id {
            Some(g) => st.guild_channel(g),
            None => st.dm_channel(user_id),
        };
        let registered = guild_id
            .and_then(|g| st.guild_commands.get(&g))
            .and_then(|cmds| cmds.iter().find(|c| c["name"] == name))
            .map(|c| (c.clone(), true))
            .or_else(|| {
                st.global_commands
                    .iter()
                    .find(|c| c["name"] == name)
                    .map(|c| (c.clone(), false))
            });
        let (command_id, guild_scoped) = match &registered {
            Some((c, g)) => (sf(&c["id"]).unwrap_or(0), *g),
            None => {
                tracing::warn!(target: "fake_discord", "slash_command: /{name} is not registered with the fake");
                (st.next_id(), false)
            }
        };
        let mut data = json!({
            "id": command_id.to_string(),
            "name": name,
            "type": 1,
            "options": if options.is_null() { json!([]) } else { options },
        });
        if guild_scoped {
            data["guild_id"] = json!(guild_id.unwrap().to_string());
        }
        let id = st.create_interaction(
            2,
            user_id,
            channel_id,
            guild_id,
            data,
            None,
            name.to_string(),
        );
        drop(st);
        self.inner.changed.notify_waiters();
        id
    }
}

// ---------------------------------------------------------------------------------------------
// In-memory model
// ---------------------------------------------------------------------------------------------

const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;

type Tamper = Box<dyn FnOnce(&mut Value) + Send>;

#[derive(Clone, Debug)]
struct Channel {
    id: u64,
    guild_id: Option<u64>,
    /// DM channels: the other user.
    recipient: Option<u64>,
}

#[derive(Clone, Debug)]
struct InteractionRec {
    id: u64,
    token: String,
    kind: u8,
    user_id: u64,
    channel_id: u64,
    /// Component interactions: the message the component is on.
    message_id: Option<u64>,
    name: String,
    created: Instant,
    acked: Option<u64>,
    original_message_id: Option<u64>,
    authorizing: Value,
}

#[derive(Debug)]
enum WsOut {
    Frame(Value),
    Close(u16, String),
    Drop,
}

struct Session {
    id: String,
    seq: u64,
    intents: u64,
    /// Every dispatch of this session `(seq, frame)`, for replay on RESUME.
    history: Vec<(u64, Value)>,
}

struct Gw {
    next_conn: u32,
    conns: HashMap<u32, mpsc::UnboundedSender<WsOut>>,
    /// Connection that currently carries the session (after READY/RESUMED).
    live: Option<u32>,
    session: Option<Session>,
    /// Dispatches produced before any session existed: `(t, d, required intent)`.
    pending: Vec<(String, Value, u64)>,
    ack_heartbeats: bool,
    log: GatewayLog,
}

struct St {
    bot_id: u64,
    app_id: u64,
    last_id: u64,
    requests: Vec<Recorded>,
    faults: Vec<(Route, Fault)>,
    users: HashMap<u64, Value>,
    channels: HashMap<u64, Channel>,
    dm_by_user: HashMap<u64, u64>,
    guild_default_channel: HashMap<u64, u64>,
    roles: HashMap<(u64, u64), Vec<u64>>,
    messages: HashMap<u64, Value>,
    /// The bot's messages by (channel, nonce), for `enforce_nonce`.
    nonces: HashMap<(u64, String), u64>,
    interactions: HashMap<u64, InteractionRec>,
    interaction_by_token: HashMap<String, u64>,
    global_commands: Vec<Value>,
    guild_commands: HashMap<u64, Vec<Value>>,
    tampers: Vec<(String, Tamper)>,
    gw: Gw,
}

impl St {
    fn new(cfg: &Config) -> St {
        St {
            bot_id: cfg.bot_user_id,
            app_id: cfg.application_id,
            last_id: 0,
            requests: Vec::new(),
            faults: Vec::new(),
            users: HashMap::new(),
            channels: HashMap::new(),
            dm_by_user: HashMap::new(),
            guild_default_channel: HashMap::new(),
            roles: HashMap::new(),
            messages: HashMap::new(),
            nonces: HashMap::new(),
            interactions: HashMap::new(),
            interaction_by_token: HashMap::new(),
            global_commands: Vec::new(),
            guild_commands: HashMap::new(),
            tampers: Vec::new(),
            gw: Gw {
                next_conn: 0,
                conns: HashMap::new(),
                live: None,
                session: None,
                pending: Vec::new(),
                ack_heartbeats: true,
                log: GatewayLog::default(),
            },
        }
    }

    /// A fresh snowflake (timestamp-based, strictly increasing).
    fn next_id(&mut self) -> u64 {
        let ms = now_ms().saturating_sub(DISCORD_EPOCH_MS);
        let candidate = ms << 22;
        self.last_id = candidate.max(self.last_id + 1);
        self.last_id
    }

    fn user(&mut self, id: u64) -> Value {
        self.users
            .entry(id)
            .or_insert_with(|| user_json(id, &format!("user{id}"), false))
            .clone()
    }

    fn dm_channel(&mut self, user_id: u64) -> u64 {
        if let Some(c) = self.dm_by_user.get(&user_id) {
            return *c;
        }
        self.user(user_id);
        let id = self.next_id();
        self.channels.insert(
            id,
            Channel {
                id,
                guild_id: None,
                recipient: Some(user_id),
            },
        );
        self.dm_by_user.insert(user_id, id);
        id
    }

    fn guild_channel(&mut self, guild_id: u64) -> u64 {
        if let Some(c) = self.guild_default_channel.get(&guild_id) {
            return *c;
        }
        let id = self.next_id();
        self.channels.insert(
            id,
            Channel {
                id,
                guild_id: Some(guild_id),
                recipient: None,
            },
        );
        self.guild_default_channel.insert(guild_id, id);
        id
    }

    fn channel_json(&mut self, channel_id: u64) -> Option<Value> {
        let ch = self.channels.get(&channel_id)?.clone();
        let last = self
            .messages
            .values()
            .filter(|m| sf(&m["channel_id"]) == Some(channel_id))
            .filter_map(|m| sf(&m["id"]))
            .max()
            .map(|id| json!(id.to_string()))
            .unwrap_or(Value::Null);
        Some(match ch.guild_id {
            None => {
                let recipient = self.user(ch.recipient.unwrap_or(0));
                json!({
                    "id": ch.id.to_string(), "type": 1, "last_message_id": last, "flags": 0,
                    "recipients": [recipient],
                })
            }
            Some(g) => json!({
                "id": ch.id.to_string(), "type": 0, "guild_id": g.to_string(), "name": "general",
                "position": 0, "permission_overwrites": [], "nsfw": false, "topic": null,
                "last_message_id": last, "parent_id": null, "rate_limit_per_user": 0, "flags": 0,
            }),
        })
    }

    fn partial_member(&self, guild_id: u64, user_id: u64) -> Value {
        let roles: Vec<String> = self
            .roles
            .get(&(guild_id, user_id))
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(u64::to_string)
            .collect();
        json!({
            "roles": roles, "joined_at": "2024-01-01T00:00:00.000000+00:00", "premium_since": null,
            "deaf": false, "mute": false, "flags": 0, "pending": false, "nick": null, "avatar": null,
            "banner": null, "communication_disabled_until": null,
        })
    }

    fn member(&mut self, guild_id: u64, user_id: u64) -> Value {
        let mut m = self.partial_member(guild_id, user_id);
        m["user"] = self.user(user_id);
        m["permissions"] = json!("2248473465835073");
        m
    }

    #[allow(clippy::too_many_arguments)]
    fn create_interaction(
        &mut self,
        kind: u8,
        user_id: u64,
        channel_id: u64,
        guild_id: Option<u64>,
        data: Value,
        message: Option<Value>,
        name: String,
    ) -> u64 {
        let id = self.next_id();
        let token = format!("aW50ZXJhY3Rpb246{id}:fake-interaction-token");
        let channel = self.channel_json(channel_id).unwrap_or(Value::Null);
        // Guild-installed app: key "0" (GUILD_INSTALL) → guild id, or "0" when used in a DM.
        let authorizing = json!({"0": guild_id.unwrap_or(0).to_string()});
        let mut it = json!({
            "id": id.to_string(),
            "application_id": self.app_id.to_string(),
            "type": kind,
            "data": data,
            "channel_id": channel_id.to_string(),
            "channel": channel,
            "token": token,
            "version": 1,
            "app_permissions": "2248473465835073",
            "locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": authorizing,
            "context": if guild_id.is_some() { 0 } else { 1 },
            "attachment_size_limit": 10_485_760,
        });
        match guild_id {
            Some(g) => {
                it["guild_id"] = json!(g.to_string());
                it["guild_locale"] = json!("en-US");
                it["guild"] = json!({"id": g.to_string(), "locale": "en-US", "features": []});
                it["member"] = self.member(g, user_id);
            }
            None => it["user"] = self.user(user_id),
        }
        let message_id = message.as_ref().and_then(|m| sf(&m["id"]));
        if let Some(m) = message {
            it["message"] = m;
        }
        self.interactions.insert(
            id,
            InteractionRec {
                id,
                token: token.clone(),
                kind,
                user_id,
                channel_id,
                message_id,
                name,
                created: Instant::now(),
                acked: None,
                original_message_id: None,
                authorizing,
            },
        );
        self.interaction_by_token.insert(token, id);
        self.dispatch("INTERACTION_CREATE", it, 0);
        id
    }

    /// `interaction_metadata` for a message created in answer to interaction `rec`.
    fn interaction_metadata(&mut self, rec: &InteractionRec, original: Option<u64>) -> Value {
        let mut md = json!({
            "id": rec.id.to_string(),
            "type": rec.kind,
            "user": self.user(rec.user_id),
            "authorizing_integration_owners": rec.authorizing.clone(),
        });
        if let Some(o) = original {
            md["original_response_message_id"] = json!(o.to_string());
        }
        if rec.kind == 3 {
            md["interacted_message_id"] = json!(rec.message_id.unwrap_or(0).to_string());
        }
        md
    }

    /// Queue a dispatch for the bot. `intent` is the intent the event requires (0 = always sent).
    fn dispatch(&mut self, t: &str, d: Value, intent: u64) {
        let Some(session) = self.gw.session.as_mut() else {
            self.gw.pending.push((t.to_string(), d, intent));
            return;
        };
        if intent != 0 && session.intents & intent == 0 {
            self.gw.log.filtered.push((t.to_string(), d));
            return;
        }
        // Guild messages without MESSAGE_CONTENT: Discord blanks content unless the bot is mentioned.
        let mut d = d;
        if intent == intents::GUILD_MESSAGES && session.intents & intents::MESSAGE_CONTENT == 0 {
            let bot = self.bot_id.to_string();
            let mentioned = d["mentions"]
                .as_array()
                .is_some_and(|m| m.iter().any(|u| u["id"] == bot.as_str()));
            let own = d["author"]["id"] == bot.as_str();
            if !mentioned && !own {
                d["content"] = json!("");
                d["embeds"] = json!([]);
                d["attachments"] = json!([]);
                d["components"] = json!([]);
            }
        }
        if let Some(pos) = self.tampers.iter().position(|(name, _)| name == t) {
            let (_, tamper) = self.tampers.remove(pos);
            tamper(&mut d);
        }
        let session = self.gw.session.as_mut().expect("session checked above");
        session.seq += 1;
        let frame = json!({"op": 0, "s": session.seq, "t": t, "d": d});
        session.history.push((session.seq, frame.clone()));
        if let Some(conn) = self.gw.live {
            self.send_frame(conn, frame);
        }
    }

    fn send_frame(&mut self, conn: u32, frame: Value) {
        if let Some(tx) = self.gw.conns.get(&conn) {
            let _ = tx.send(WsOut::Frame(frame));
        }
    }

    fn flush_pending(&mut self) {
        for (t, d, intent) in std::mem::take(&mut self.gw.pending) {
            self.dispatch(&t, d, intent);
        }
    }

    fn check_fault(&mut self, method: &str, path: &str) -> Option<Fault> {
        let pos = self
            .faults
            .iter()
            .position(|(r, _)| r.matches(method, path))?;
        Some(self.faults.remove(pos).1)
    }
}

// ---------------------------------------------------------------------------------------------
// Gateway
// ---------------------------------------------------------------------------------------------

async fn ws_handler(State(inner): State<Arc<Inner>>, uri: Uri, ws: WebSocketUpgrade) -> Response {
    inner
        .lock()
        .gw
        .log
        .connect_queries
        .push(uri.query().unwrap_or("").to_string());
    ws.max_message_size(16 << 20)
        .on_upgrade(move |socket| ws_connection(inner, socket))
}

async fn ws_connection(inner: Arc<Inner>, mut socket: WebSocket) {
    let (tx, mut rx) = mpsc::unbounded_channel::<WsOut>();
    let conn = {
        let mut st = inner.lock();
        st.gw.next_conn += 1;
        let conn = st.gw.next_conn;
        st.gw.conns.insert(conn, tx);
        st.gw.log.connections += 1;
        let hello = json!({"op": 10, "s": null, "t": null,
            "d": {"heartbeat_interval": inner.cfg.heartbeat_interval_ms, "_trace": ["fake-discord-gateway"]}});
        st.send_frame(conn, hello);
        conn
    };
    inner.changed.notify_waiters();

    let close: CloseRecord = loop {
        tokio::select! {
            incoming = socket.recv() => match incoming {
                Some(Ok(WsMessage::Text(text))) => {
                    handle_client_frame(&inner, conn, text.as_str());
                    inner.changed.notify_waiters();
                }
                Some(Ok(WsMessage::Binary(bytes))) => {
                    tracing::warn!(target: "fake_discord", "binary gateway frame ignored ({} bytes)", bytes.len());
                }
                Some(Ok(WsMessage::Close(frame))) => {
                    // Reading once more lets tungstenite flush the close reply the client waits for.
                    let _ = tokio::time::timeout(Duration::from_secs(1), async {
                        while let Some(Ok(_)) = socket.recv().await {}
                    }).await;
                    break CloseRecord {
                        side: CloseSide::Client,
                        code: frame.as_ref().map(|f| f.code),
                    };
                }
                Some(Ok(_)) => {} // ping/pong handled by the library
                Some(Err(_)) | None => {
                    break CloseRecord { side: CloseSide::Abrupt, code: None };
                }
            },
            out = rx.recv() => match out {
                Some(WsOut::Frame(v)) => {
                    if socket.send(WsMessage::Text(v.to_string().into())).await.is_err() {
                        break CloseRecord { side: CloseSide::Abrupt, code: None };
                    }
                    inner.lock().gw.log.sent.push(v);
                    inner.changed.notify_waiters();
                }
                Some(WsOut::Close(code, reason)) => {
                    let _ = socket
                        .send(WsMessage::Close(Some(CloseFrame { code, reason: reason.clone().into() })))
                        .await;
                    let _ = tokio::time::timeout(Duration::from_secs(1), async {
                        while let Some(Ok(_)) = socket.recv().await {}
                    }).await;
                    break CloseRecord { side: CloseSide::Server, code: Some(code) };
                }
                Some(WsOut::Drop) | None => {
                    break CloseRecord { side: CloseSide::Abrupt, code: None };
                }
            },
        }
    };
    {
        let mut st = inner.lock();
        st.gw.conns.remove(&conn);
        if st.gw.live == Some(conn) {
            st.gw.live = None;
        }
        st.gw.log.closes.push(close);
    }
    inner.changed.notify_waiters();
}

fn handle_client_frame(inner: &Inner, conn: u32, text: &str) {
    let mut st = inner.lock();
    let Ok(frame) = serde_json::from_str::<Value>(text) else {
        if let Some(tx) = st.gw.conns.get(&conn) {
            let _ = tx.send(WsOut::Close(4002, "Error while decoding payload.".into()));
        }
        return;
    };
    let d = frame.get("d").cloned().unwrap_or(Value::Null);
    match frame["op"].as_u64() {
        Some(1) => {
            st.gw.log.heartbeats += 1;
            if st.gw.ack_heartbeats {
                st.send_frame(conn, json!({"op": 11, "s": null, "t": null, "d": null}));
            }
        }
        Some(2) => {
            st.gw.log.identifies.push(d.clone());
            let token = d["token"].as_str().unwrap_or("");
            let token = token.strip_prefix("Bot ").unwrap_or(token);
            if token != inner.cfg.token {
                if let Some(tx) = st.gw.conns.get(&conn) {
                    let _ = tx.send(WsOut::Close(4004, "Authentication failed.".into()));
                }
                return;
            }
            if st.gw.live == Some(conn) {
                if let Some(tx) = st.gw.conns.get(&conn) {
                    let _ = tx.send(WsOut::Close(4005, "Already authenticated.".into()));
                }
                return;
            }
            let session_id = format!("{:032x}", st.next_id());
            st.gw.session = Some(Session {
                id: session_id.clone(),
                seq: 0,
                intents: d["intents"].as_u64().unwrap_or(0),
                history: Vec::new(),
            });
            st.gw.live = Some(conn);
            let mut user = st.user(inner.cfg.bot_user_id);
            user["verified"] = json!(true);
            user["mfa_enabled"] = json!(false);
            user["email"] = Value::Null;
            let guilds: Vec<Value> = inner
                .cfg
                .guilds
                .iter()
                .map(|g| json!({"id": g.to_string(), "unavailable": true}))
                .collect();
            let mut ready = json!({
                "v": 10,
                "user": user,
                "guilds": guilds,
                "session_id": session_id,
                "session_type": "normal",
                "resume_gateway_url": inner.ws_url,
                "application": {"id": inner.cfg.application_id.to_string(), "flags": 0},
                "private_channels": [],
                "presences": [],
                "relationships": [],
                "guild_join_requests": [],
                "geo_ordered_rtc_regions": [],
                "user_settings": {},
                "auth": {},
                "_trace": ["fake-discord"],
            });
            if let Some(shard) = d.get("shard") {
                ready["shard"] = shard.clone();
            }
            st.dispatch("READY", ready, 0);
            st.gw.log.readies += 1;
            st.flush_pending();
        }
        Some(6) => {
            st.gw.log.resumes.push(d.clone());
            let ok = st
                .gw
                .session
                .as_ref()
                .is_some_and(|s| d["session_id"] == s.id.as_str());
            if !ok {
                st.send_frame(conn, json!({"op": 9, "s": null, "t": null, "d": false}));
                return;
            }
            let from = d["seq"].as_u64().unwrap_or(0);
            let replay: Vec<Value> = st
                .gw
                .session
                .as_ref()
                .map(|s| {
                    s.history
                        .iter()
                        .filter(|(seq, _)| *seq > from)
                        .map(|(_, f)| f.clone())
                        .collect()
                })
                .unwrap_or_default();
            for frame in replay {
                st.gw.log.replayed += 1;
                st.send_frame(conn, frame);
            }
            st.gw.live = Some(conn);
            st.dispatch("RESUMED", json!({"_trace": ["fake-discord"]}), 0);
            st.gw.log.resumed += 1;
            st.flush_pending();
        }
        Some(3) | Some(4) | Some(8) | Some(31) => st.gw.log.other_frames.push(frame),
        _ => {
            st.gw.log.other_frames.push(frame);
            if let Some(tx) = st.gw.conns.get(&conn) {
                let _ = tx.send(WsOut::Close(4001, "Unknown opcode.".into()));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// REST
// ---------------------------------------------------------------------------------------------

/// What a route handler answers.
struct Reply {
    status: u16,
    body: Option<Value>,
    headers: Vec<(&'static str, String)>,
    matched: bool,
}

impl Reply {
    fn ok(body: Value) -> Reply {
        Reply {
            status: 200,
            body: Some(body),
            headers: Vec::new(),
            matched: true,
        }
    }
    fn created(body: Value) -> Reply {
        Reply {
            status: 201,
            body: Some(body),
            headers: Vec::new(),
            matched: true,
        }
    }
    fn no_content() -> Reply {
        Reply {
            status: 204,
            body: None,
            headers: Vec::new(),
            matched: true,
        }
    }
    /// Discord JSON error `{"message", "code"}`.
    fn error(status: u16, code: u64, message: &str) -> Reply {
        Reply {
            status,
            body: Some(json!({"message": message, "code": code})),
            headers: Vec::new(),
            matched: true,
        }
    }
    /// 400 "Invalid Form Body" (code 50035) with Discord's nested `errors` object.
    fn form(errors: Vec<FieldError>) -> Reply {
        let mut tree = Value::Object(Map::new());
        for e in errors {
            let mut node = &mut tree;
            for key in &e.path {
                node = node
                    .as_object_mut()
                    .unwrap()
                    .entry(key.clone())
                    .or_insert_with(|| json!({}));
            }
            let list = node
                .as_object_mut()
                .unwrap()
                .entry("_errors")
                .or_insert_with(|| json!([]));
            list.as_array_mut()
                .unwrap()
                .push(json!({"code": e.code, "message": e.message}));
        }
        Reply::json(
            400,
            json!({"message": "Invalid Form Body", "code": 50035, "errors": tree}),
        )
    }
    fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            body: Some(body),
            headers: Vec::new(),
            matched: true,
        }
    }
    fn not_found_route() -> Reply {
        Reply {
            status: 404,
            body: Some(json!({"message": "404: Not Found", "code": 0})),
            headers: Vec::new(),
            matched: false,
        }
    }
}

struct FieldError {
    path: Vec<String>,
    code: &'static str,
    message: String,
}

fn ferr(path: &[&str], code: &'static str, message: impl Into<String>) -> FieldError {
    FieldError {
        path: path.iter().map(|s| s.to_string()).collect(),
        code,
        message: message.into(),
    }
}

fn fault_reply(fault: &Fault) -> Reply {
    match fault {
        Fault::Status(status) => {
            let reason = StatusCode::from_u16(*status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("Error");
            Reply::json(
                *status,
                json!({"message": format!("{status}: {reason}"), "code": 0}),
            )
        }
        Fault::RateLimited { retry_after_secs } => {
            let mut r = Reply::json(
                429,
                json!({"message": "You are being rate limited.", "retry_after": retry_after_secs, "global": false}),
            );
            let reset = now_ms() as f64 / 1000.0 + retry_after_secs;
            r.headers = vec![
                ("retry-after", format!("{}", retry_after_secs.ceil() as u64)),
                ("x-ratelimit-limit", "5".into()),
                ("x-ratelimit-remaining", "0".into()),
                ("x-ratelimit-reset", format!("{reset:.3}")),
                ("x-ratelimit-reset-after", format!("{retry_after_secs:.3}")),
                (
                    "x-ratelimit-bucket",
                    "fakebucket0000000000000000000000".into(),
                ),
                ("x-ratelimit-scope", "user".into()),
            ];
            r
        }
        Fault::DiscordError {
            status,
            code,
            message,
        } => Reply::error(*status, *code, message),
        Fault::AppliedThenStatus(status) => fault_reply(&Fault::Status(*status)),
        // Carried out by the handler; answered late, not differently.
        Fault::AppliedThenSilence(_) => Reply::no_content(),
        // Carried out by the handler, which trims its answer.
        Fault::AppliedThenWithout(_) => Reply::no_content(),
    }
}

async fn rest_handler(
    State(inner): State<Arc<Inner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let query = uri.query().map(str::to_string);
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let parsed = parse_body(&content_type, &body);

    let (reply, faulted, silence) = {
        let mut st = inner.lock();
        let authorized = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.strip_prefix("Bot ").unwrap_or(v) == inner.cfg.token);
        let fault = st.check_fault(method.as_str(), &path);
        let applied_then = match &fault {
            Some(Fault::AppliedThenStatus(status)) => Some(*status),
            _ => None,
        };
        let silence = match &fault {
            Some(Fault::AppliedThenSilence(pause)) => Some(*pause),
            _ => None,
        };
        let without = match &fault {
            Some(Fault::AppliedThenWithout(fields)) => Some(*fields),
            _ => None,
        };
        let carried_out = applied_then.is_some() || silence.is_some() || without.is_some();
        let (reply, faulted) = if let Some(fault) = fault.filter(|_| !carried_out) {
            (fault_reply(&fault), true)
        } else if !authorized && path.starts_with("/api/") && path != "/api/v10/gateway" {
            // Like Discord, everything but GET /gateway needs `Authorization: Bot <token>`.
            (
                Reply::json(401, json!({"message": "401: Unauthorized", "code": 0})),
                false,
            )
        } else {
            match &parsed {
                Ok(body) => (
                    route(&inner, &mut st, &method, &path, query.as_deref(), body),
                    false,
                ),
                Err(_) => (
                    Reply::error(400, 50109, "The request body contains invalid JSON."),
                    false,
                ),
            }
        };
        let (mut reply, faulted) = match applied_then {
            Some(status) => (fault_reply(&Fault::Status(status)), true),
            None => (reply, faulted || silence.is_some() || without.is_some()),
        };
        if let (Some(fields), Some(Value::Object(body))) = (without, reply.body.as_mut()) {
            for field in fields {
                body.remove(*field);
            }
        }
        st.requests.push(Recorded {
            method: method.as_str().to_string(),
            path: path.clone(),
            body: match parsed {
                Ok(v) => v,
                Err(raw) => Value::String(raw),
            },
            status: reply.status,
            at: Instant::now(),
            response: reply.body.clone().unwrap_or(Value::Null),
            matched: reply.matched,
            faulted,
        });
        (reply, faulted, silence)
    };
    inner.changed.notify_waiters();
    if let Some(pause) = silence {
        tokio::time::sleep(pause).await;
    }
    if !reply.matched {
        tracing::warn!(target: "fake_discord", "unknown route {method} {path} (answered 404)");
    } else if faulted {
        tracing::info!(target: "fake_discord", "injected fault for {method} {path}: {}", reply.status);
    }

    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = match reply.body {
        Some(v) => (
            status,
            [("content-type", "application/json")],
            v.to_string(),
        )
            .into_response(),
        None => status.into_response(),
    };
    for (k, v) in reply.headers {
        if let Ok(v) = HeaderValue::from_str(&v) {
            response.headers_mut().insert(k, v);
        }
    }
    response
}

/// JSON body, or the `payload_json` part of a multipart body. `Err(raw)` if unparsable.
fn parse_body(content_type: &str, body: &[u8]) -> Result<Value, String> {
    if body.is_empty() {
        return Ok(Value::Null);
    }
    let text = String::from_utf8_lossy(body).to_string();
    if content_type.starts_with("multipart/form-data") {
        // Find the part named payload_json; its content follows the first blank line.
        if let Some(pos) = text.find("name=\"payload_json\"") {
            let rest = &text[pos..];
            if let Some(start) = rest.find("\r\n\r\n") {
                let content = &rest[start + 4..];
                let end = content.find("\r\n--").unwrap_or(content.len());
                let mut payload: Value =
                    serde_json::from_str(&content[..end]).map_err(|_| text.clone())?;
                // The uploaded files, for tests to read: name, type and text.
                payload["_files"] = Value::Array(multipart_files(content_type, body));
                return Ok(payload);
            }
        }
        return Ok(json!({"_multipart_without_payload_json": true}));
    }
    serde_json::from_str(&text).map_err(|_| text)
}

/// The file parts (`files[n]`) of a multipart body: filename, content type,
/// size in bytes, the bytes themselves (`base64`, standard alphabet) and the
/// content as text (lossy for binary files). Parts are split on the boundary
/// the content type names, in bytes, so binary content arrives whole.
fn multipart_files(content_type: &str, body: &[u8]) -> Vec<Value> {
    use base64::Engine as _;
    let Some(boundary) = content_type
        .split(';')
        .find_map(|p| p.trim().strip_prefix("boundary="))
        .map(|b| b.trim_matches('"'))
    else {
        return Vec::new();
    };
    // Every boundary line, the first included, follows a line break.
    let mut text = b"\r\n".to_vec();
    text.extend_from_slice(body);
    let delimiter = format!("\r\n--{boundary}").into_bytes();
    let mut parts = Vec::new();
    let mut rest = &text[..];
    while let Some(at) = find(rest, &delimiter) {
        parts.push(&rest[..at]);
        rest = &rest[at + delimiter.len()..];
    }
    let mut files = Vec::new();
    for part in parts.into_iter().skip(1) {
        let header_end = find(part, b"\r\n\r\n").unwrap_or(part.len());
        let headers = String::from_utf8_lossy(&part[..header_end]);
        if !headers.contains("name=\"files[") {
            continue;
        }
        let filename = headers
            .split("filename=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or("");
        let content_type = headers
            .lines()
            .find_map(|line| {
                line.strip_prefix("Content-Type: ")
                    .or_else(|| line.strip_prefix("content-type: "))
            })
            .unwrap_or("");
        let content = part.get(header_end + 4..).unwrap_or(&[]);
        files.push(json!({
            "filename": filename,
            "content_type": content_type,
            "size": content.len(),
            "base64": base64::engine::general_purpose::STANDARD.encode(content),
            "text": String::from_utf8_lossy(content),
        }));
    }
    files
}

/// Where `needle` first occurs in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn route(
    inner: &Inner,
    st: &mut St,
    method: &Method,
    path: &str,
    query: Option<&str>,
    body: &Value,
) -> Reply {
    let Some(rest) = path.strip_prefix("/api/v10") else {
        return Reply::not_found_route();
    };
    let segs = split_path(rest);
    let m = method.as_str();
    match (m, segs.as_slice()) {
        ("GET", ["gateway"]) => Reply::ok(json!({"url": inner.ws_url})),
        ("GET", ["gateway", "bot"]) => Reply::ok(json!({
            "url": inner.ws_url,
            "shards": 1,
            "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 14_400_000, "max_concurrency": 1},
        })),
        ("GET", ["users", "@me"]) => {
            let mut u = st.user(st.bot_id);
            u["verified"] = json!(true);
            u["mfa_enabled"] = json!(false);
            u["email"] = Value::Null;
            Reply::ok(u)
        }
        ("GET", ["users", id]) => match id.parse::<u64>() {
            Ok(id) if st.users.contains_key(&id) => Reply::ok(st.user(id)),
            _ => Reply::error(404, 10013, "Unknown User"),
        },
        ("GET", ["oauth2", "applications", "@me"]) | ("GET", ["applications", "@me"]) => {
            Reply::ok(application_json(inner, st))
        }
        ("POST", ["users", "@me", "channels"]) => {
            let Some(recipient) = sf(&body["recipient_id"]) else {
                return Reply::form(vec![ferr(
                    &["recipient_id"],
                    "BASE_TYPE_REQUIRED",
                    "This field is required",
                )]);
            };
            let id = st.dm_channel(recipient);
            Reply::ok(st.channel_json(id).unwrap())
        }
        ("GET", ["channels", c]) => match c.parse().ok().and_then(|c| st.channel_json(c)) {
            Some(ch) => Reply::ok(ch),
            None => Reply::error(404, 10003, "Unknown Channel"),
        },
        ("POST", ["channels", c, "typing"]) => match c.parse::<u64>() {
            Ok(c) if st.channels.contains_key(&c) => Reply::no_content(),
            _ => Reply::error(404, 10003, "Unknown Channel"),
        },
        ("POST", ["channels", c, "messages"]) => {
            let Some(channel_id) = c
                .parse::<u64>()
                .ok()
                .filter(|c| st.channels.contains_key(c))
            else {
                return Reply::error(404, 10003, "Unknown Channel");
            };
            // Like Discord: with enforce_nonce, a nonce already used in this channel by the
            // same author returns the message it made instead of making another.
            let nonce = body.get("nonce").filter(|n| !n.is_null()).cloned();
            let nonce_key = nonce.as_ref().map(|n| (channel_id, n.to_string()));
            if body["enforce_nonce"] == true
                && let Some(key) = &nonce_key
                && let Some(existing) = st.nonces.get(key).and_then(|id| st.messages.get(id))
            {
                return Reply::ok(existing.clone());
            }
            match build_message(st, channel_id, body, false) {
                Ok(mut msg) => {
                    if let Some(nonce) = nonce {
                        msg["nonce"] = nonce;
                    }
                    if let Some(reference) = body.get("message_reference").filter(|r| r.is_object())
                        && let Some(referenced) =
                            sf(&reference["message_id"]).and_then(|id| st.messages.get(&id))
                    {
                        msg["type"] = json!(19);
                        msg["referenced_message"] = referenced.clone();
                        msg["message_reference"] = json!({
                            "type": 0, "message_id": referenced["id"], "channel_id": c,
                        });
                    }
                    if let Some(key) = nonce_key
                        && let Some(id) = sf(&msg["id"])
                    {
                        st.nonces.insert(key, id);
                    }
                    store_and_echo(st, msg.clone(), true);
                    Reply::ok(msg)
                }
                Err(r) => r,
            }
        }
        ("GET", ["channels", c, "messages", mid]) => {
            match mid
                .parse::<u64>()
                .ok()
                .and_then(|id| st.messages.get(&id))
                .filter(|m| m["channel_id"] == *c)
            {
                Some(msg) => Reply::ok(msg.clone()),
                None => Reply::error(404, 10008, "Unknown Message"),
            }
        }
        ("PATCH", ["channels", c, "messages", mid]) => {
            let Some(id) = mid
                .parse::<u64>()
                .ok()
                .filter(|id| st.messages.get(id).is_some_and(|m| m["channel_id"] == *c))
            else {
                return Reply::error(404, 10008, "Unknown Message");
            };
            if st.messages[&id]["author"]["id"] != st.bot_id.to_string().as_str() {
                return Reply::error(403, 50005, "Cannot edit a message authored by another user");
            }
            edit_stored(st, id, body)
        }
        ("DELETE", ["channels", c, "messages", mid]) => {
            match mid
                .parse::<u64>()
                .ok()
                .filter(|id| st.messages.get(id).is_some_and(|m| m["channel_id"] == *c))
            {
                Some(id) => {
                    delete_stored(st, id);
                    Reply::no_content()
                }
                None => Reply::error(404, 10008, "Unknown Message"),
            }
        }
        ("POST", ["interactions", id, token, "callback"]) => {
            interaction_callback(inner, st, id, token, body)
        }
        (_, ["webhooks", app, token, "messages", which]) => {
            webhook_message(st, m, app, token, which, body)
        }
        ("POST", ["webhooks", app, token]) => {
            let _ = query; // `?wait=true` or not, interaction followups always return the message.
            followup(st, app, token, body)
        }
        (_, ["applications", app, "commands"]) => commands_route(st, m, app, None, body),
        (_, ["applications", app, "guilds", g, "commands"]) => match g.parse::<u64>() {
            Ok(g) => commands_route(st, m, app, Some(g), body),
            Err(_) => Reply::error(404, 10004, "Unknown Guild"),
        },
        _ => Reply::not_found_route(),
    }
}

fn application_json(inner: &Inner, st: &mut St) -> Value {
    let owner = st.user(1_100_000_000_000_000_999);
    json!({
        "id": inner.cfg.application_id.to_string(),
        "name": inner.cfg.bot_username,
        "icon": null,
        "description": "",
        "summary": "",
        "type": null,
        "bot_public": false,
        "bot_require_code_grant": false,
        "verify_key": "0000000000000000000000000000000000000000000000000000000000000000",
        "flags": 0,
        "owner": owner,
        "team": null,
        "rpc_origins": [],
        "tags": [],
        "redirect_uris": [],
        "interactions_endpoint_url": null,
        "role_connections_verification_url": null,
        "integration_types_config": {"0": {}},
        "bot": st.user(st.bot_id),
    })
}

/// Store a message created by the bot and echo it as MESSAGE_CREATE (Discord does, also for DMs).
fn store_and_echo(st: &mut St, msg: Value, echo: bool) {
    let id = sf(&msg["id"]).unwrap();
    st.messages.insert(id, msg.clone());
    if echo {
        dispatch_message_event(st, "MESSAGE_CREATE", msg);
    }
}

fn dispatch_message_event(st: &mut St, t: &str, msg: Value) {
    let channel_id = sf(&msg["channel_id"]).unwrap_or(0);
    let guild_id = st.channels.get(&channel_id).and_then(|c| c.guild_id);
    let mut event = msg;
    match guild_id {
        Some(g) => {
            let author = sf(&event["author"]["id"]).unwrap_or(0);
            event["guild_id"] = json!(g.to_string());
            event["member"] = st.partial_member(g, author);
            st.dispatch(t, event, intents::GUILD_MESSAGES);
        }
        None => st.dispatch(t, event, intents::DIRECT_MESSAGES),
    }
}

/// Build a bot-authored message from a create-message style body (validated like Discord).
fn build_message(
    st: &mut St,
    channel_id: u64,
    body: &Value,
    interaction: bool,
) -> Result<Value, Reply> {
    let content = body["content"].as_str().unwrap_or("").to_string();
    let embeds = body["embeds"].as_array().cloned().unwrap_or_default();
    let components = body["components"].as_array().cloned().unwrap_or_default();
    let attachments = body["attachments"].as_array().cloned().unwrap_or_default();
    let has_poll = body["poll"].is_object();
    let has_sticker = body["sticker_ids"]
        .as_array()
        .is_some_and(|a| !a.is_empty());
    let mut errors = Vec::new();
    if content.chars().count() > 2000 {
        errors.push(ferr(
            &["content"],
            "BASE_TYPE_MAX_LENGTH",
            "Must be 2000 or fewer in length.",
        ));
    }
    if embeds.len() > 10 {
        errors.push(ferr(
            &["embeds"],
            "BASE_TYPE_MAX_LENGTH",
            "Must be 10 or fewer in length.",
        ));
    }
    errors.extend(validate_components(&body["components"]));
    if !errors.is_empty() {
        return Err(Reply::form(errors));
    }
    if content.is_empty()
        && embeds.is_empty()
        && components.is_empty()
        && attachments.is_empty()
        && !has_poll
        && !has_sticker
    {
        return Err(Reply::error(400, 50006, "Cannot send an empty message"));
    }
    let allowed_flags = flags::SUPPRESS_EMBEDS
        | flags::SUPPRESS_NOTIFICATIONS
        | if interaction { flags::EPHEMERAL } else { 0 };
    let msg_flags = body["flags"].as_u64().unwrap_or(0) & allowed_flags;
    let id = st.next_id();
    let author = st.user(st.bot_id);
    let mut msg = message_json(id, channel_id, author, &content);
    msg["embeds"] = Value::Array(embeds);
    msg["components"] = Value::Array(components);
    msg["flags"] = json!(msg_flags);
    msg["tts"] = json!(body["tts"].as_bool().unwrap_or(false));
    if has_poll {
        msg["poll"] = body["poll"].clone();
    }
    Ok(msg)
}

/// Apply an edit body (PATCH message / @original / UPDATE_MESSAGE data) to a stored message,
/// dispatch MESSAGE_UPDATE (unless ephemeral) and return the updated message.
fn edit_stored(st: &mut St, id: u64, body: &Value) -> Reply {
    let errors = validate_components(&body["components"]);
    if !errors.is_empty() {
        return Reply::form(errors);
    }
    if body["content"]
        .as_str()
        .is_some_and(|c| c.chars().count() > 2000)
    {
        return Reply::form(vec![ferr(
            &["content"],
            "BASE_TYPE_MAX_LENGTH",
            "Must be 2000 or fewer in length.",
        )]);
    }
    let msg = st.messages.get_mut(&id).unwrap();
    if let Some(obj) = body.as_object() {
        for (key, default) in [
            ("content", json!("")),
            ("embeds", json!([])),
            ("components", json!([])),
            ("attachments", json!([])),
        ] {
            if let Some(v) = obj.get(key) {
                msg[key] = if v.is_null() { default } else { v.clone() };
            }
        }
        if let Some(f) = obj.get("flags").and_then(Value::as_u64) {
            let keep = msg["flags"].as_u64().unwrap_or(0) & !flags::SUPPRESS_EMBEDS;
            msg["flags"] = json!(keep | (f & flags::SUPPRESS_EMBEDS));
        }
    }
    let f = msg["flags"].as_u64().unwrap_or(0) & !flags::LOADING;
    msg["flags"] = json!(f);
    msg["edited_timestamp"] = json!(iso_timestamp(SystemTime::now()));
    let msg = msg.clone();
    if f & flags::EPHEMERAL == 0 {
        dispatch_message_event(st, "MESSAGE_UPDATE", msg.clone());
    }
    Reply::ok(msg)
}

fn delete_stored(st: &mut St, id: u64) {
    if let Some(msg) = st.messages.remove(&id) {
        let ephemeral = msg["flags"].as_u64().unwrap_or(0) & flags::EPHEMERAL != 0;
        if !ephemeral {
            let d = json!({"id": msg["id"], "channel_id": msg["channel_id"]});
            dispatch_message_event(st, "MESSAGE_DELETE", d);
        }
    }
}

/// Validate message components like Discord does for action rows and buttons.
fn validate_components(components: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let Some(rows) = components.as_array() else {
        if !components.is_null() {
            errors.push(ferr(
                &["components"],
                "BASE_TYPE_ARRAY",
                "Must be an array.",
            ));
        }
        return errors;
    };
    if rows.len() > 5 {
        errors.push(ferr(
            &["components"],
            "BASE_TYPE_MAX_LENGTH",
            "Must be 5 or fewer in length.",
        ));
    }
    let mut seen_ids: Vec<String> = Vec::new();
    for (r, row) in rows.iter().enumerate() {
        let r = r.to_string();
        if row["type"] != 1 {
            errors.push(ferr(
                &["components", &r, "type"],
                "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                "Top-level components must be action rows (type 1).",
            ));
            continue;
        }
        let items = row["components"].as_array().cloned().unwrap_or_default();
        if items.is_empty() || items.len() > 5 {
            errors.push(ferr(
                &["components", &r, "components"],
                "BASE_TYPE_BAD_LENGTH",
                "Must be between 1 and 5 in length.",
            ));
        }
        for (i, item) in items.iter().enumerate() {
            let i = i.to_string();
            let p = |field: &'static str| -> Vec<String> {
                vec![
                    "components".into(),
                    r.clone(),
                    "components".into(),
                    i.clone(),
                    field.into(),
                ]
            };
            let push = |errors: &mut Vec<FieldError>,
                        field: &'static str,
                        code: &'static str,
                        msg: &str| {
                errors.push(FieldError {
                    path: p(field),
                    code,
                    message: msg.to_string(),
                });
            };
            let custom_id = item["custom_id"].as_str();
            if let Some(cid) = custom_id {
                if cid.is_empty() || cid.chars().count() > 100 {
                    push(
                        &mut errors,
                        "custom_id",
                        "BASE_TYPE_BAD_LENGTH",
                        "Must be between 1 and 100 in length.",
                    );
                }
                if seen_ids.iter().any(|s| s == cid) {
                    push(
                        &mut errors,
                        "custom_id",
                        "COMPONENT_CUSTOM_ID_DUPLICATED",
                        "Component custom id cannot be duplicated",
                    );
                }
                seen_ids.push(cid.to_string());
            }
            match item["type"].as_u64() {
                Some(2) => {
                    let style = item["style"].as_u64().unwrap_or(0);
                    match style {
                        1..=4 => {
                            if custom_id.is_none() {
                                push(
                                    &mut errors,
                                    "custom_id",
                                    "BASE_TYPE_REQUIRED",
                                    "This field is required",
                                );
                            }
                            if item.get("url").is_some_and(|u| !u.is_null()) {
                                push(
                                    &mut errors,
                                    "url",
                                    "BUTTON_COMPONENT_URL_NOT_ALLOWED",
                                    "A URL is not allowed for this button style",
                                );
                            }
                        }
                        5 => {
                            if !item["url"].is_string() {
                                push(
                                    &mut errors,
                                    "url",
                                    "BASE_TYPE_REQUIRED",
                                    "This field is required",
                                );
                            }
                            if custom_id.is_some() {
                                push(
                                    &mut errors,
                                    "custom_id",
                                    "BUTTON_COMPONENT_CUSTOM_ID_NOT_ALLOWED",
                                    "A custom id is not allowed for link buttons",
                                );
                            }
                        }
                        6 => {}
                        _ => push(
                            &mut errors,
                            "style",
                            "BASE_TYPE_CHOICES",
                            "Value must be one of {1, 2, 3, 4, 5, 6}.",
                        ),
                    }
                    let label = item["label"].as_str();
                    if style != 6 && label.is_none_or(str::is_empty) && !item["emoji"].is_object() {
                        push(
                            &mut errors,
                            "label",
                            "BUTTON_COMPONENT_LABEL_OR_EMOJI_REQUIRED",
                            "A label or emoji is required",
                        );
                    }
                    if label.is_some_and(|l| l.chars().count() > 80) {
                        push(
                            &mut errors,
                            "label",
                            "BASE_TYPE_MAX_LENGTH",
                            "Must be 80 or fewer in length.",
                        );
                    }
                }
                Some(3 | 5 | 6 | 7 | 8) => {
                    if custom_id.is_none() {
                        push(
                            &mut errors,
                            "custom_id",
                            "BASE_TYPE_REQUIRED",
                            "This field is required",
                        );
                    }
                }
                _ => push(
                    &mut errors,
                    "type",
                    "BASE_TYPE_CHOICES",
                    "Value must be a valid component type.",
                ),
            }
        }
    }
    errors
}

fn interaction_callback(inner: &Inner, st: &mut St, id: &str, token: &str, body: &Value) -> Reply {
    let Some(mut rec) = id
        .parse::<u64>()
        .ok()
        .and_then(|id| st.interactions.get(&id))
        .cloned()
    else {
        return Reply::error(404, 10062, "Unknown interaction");
    };
    if rec.token != token {
        return Reply::error(401, 50027, "Invalid Webhook Token");
    }
    if rec.acked.is_some() {
        return Reply::error(400, 40060, "Interaction has already been acknowledged.");
    }
    if rec.created.elapsed() > inner.cfg.interaction_ack_deadline {
        return Reply::error(404, 10062, "Unknown interaction");
    }
    let Some(kind) = body["type"].as_u64() else {
        return Reply::form(vec![ferr(
            &["type"],
            "BASE_TYPE_REQUIRED",
            "This field is required",
        )]);
    };
    let data = body.get("data").cloned().unwrap_or(Value::Null);
    let is_component = rec.kind == 3;
    match kind {
        4 | 5 => {
            let ephemeral = data["flags"].as_u64().unwrap_or(0) & flags::EPHEMERAL != 0;
            let msg = if kind == 4 {
                match build_message(st, rec.channel_id, &data, true) {
                    Ok(m) => m,
                    Err(r) => return r,
                }
            } else {
                let id = st.next_id();
                let author = st.user(st.bot_id);
                let mut m = message_json(id, rec.channel_id, author, "");
                m["flags"] = json!(flags::LOADING | if ephemeral { flags::EPHEMERAL } else { 0 });
                m
            };
            let mut msg = msg;
            msg["type"] = json!(if rec.kind == 2 { 20 } else { 19 });
            msg["webhook_id"] = json!(st.app_id.to_string());
            msg["application_id"] = json!(st.app_id.to_string());
            msg["interaction_metadata"] = st.interaction_metadata(&rec, None);
            if rec.kind == 2 {
                msg["interaction"] = json!({
                    "id": rec.id.to_string(), "type": 2, "name": rec.name, "user": st.user(rec.user_id),
                });
            } else if let Some(pressed) = rec.message_id {
                msg["message_reference"] = json!({"type": 0, "message_id": pressed.to_string(), "channel_id": rec.channel_id.to_string()});
            }
            let mid = sf(&msg["id"]).unwrap();
            store_and_echo(st, msg, !ephemeral);
            rec.original_message_id = Some(mid);
        }
        6 | 7 => {
            if !is_component {
                return Reply::form(vec![ferr(
                    &["type"],
                    "INTERACTION_RESPONSE_TYPE_INVALID",
                    "Interaction response type is invalid for this interaction",
                )]);
            }
            let target = rec.message_id.unwrap();
            if kind == 7 {
                if !st.messages.contains_key(&target) {
                    return Reply::error(404, 10008, "Unknown Message");
                }
                let r = edit_stored(st, target, &data);
                if r.status != 200 {
                    return r;
                }
            }
            rec.original_message_id = Some(target);
        }
        1 | 8 | 9 | 10 | 12 => {}
        _ => {
            return Reply::form(vec![ferr(
                &["type"],
                "BASE_TYPE_CHOICES",
                "Value must be one of {1, 4, 5, 6, 7, 8, 9, 10, 12}.",
            )]);
        }
    }
    rec.acked = Some(kind);
    st.interactions.insert(rec.id, rec);
    Reply::no_content()
}

fn interaction_for_webhook(st: &St, app: &str, token: &str) -> Result<InteractionRec, Reply> {
    if app != st.app_id.to_string() {
        return Err(Reply::error(404, 10015, "Unknown Webhook"));
    }
    let rec = st
        .interaction_by_token
        .get(token)
        .and_then(|id| st.interactions.get(id))
        .cloned();
    match rec {
        Some(rec) if rec.acked.is_some() => Ok(rec),
        // Discord answers "Unknown Webhook" until the interaction has been acknowledged.
        _ => Err(Reply::error(404, 10015, "Unknown Webhook")),
    }
}

fn webhook_message(
    st: &mut St,
    method: &str,
    app: &str,
    token: &str,
    which: &str,
    body: &Value,
) -> Reply {
    let rec = match interaction_for_webhook(st, app, token) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let id = if which == "@original" {
        match rec.original_message_id {
            Some(id) => id,
            None => return Reply::error(404, 10008, "Unknown Message"),
        }
    } else {
        match which.parse::<u64>() {
            Ok(id)
                if st.messages.get(&id).is_some_and(|m| {
                    m["interaction_metadata"]["id"] == rec.id.to_string().as_str()
                }) =>
            {
                id
            }
            _ => return Reply::error(404, 10008, "Unknown Message"),
        }
    };
    if !st.messages.contains_key(&id) {
        return Reply::error(404, 10008, "Unknown Message");
    }
    match method {
        "GET" => Reply::ok(st.messages[&id].clone()),
        "PATCH" => edit_stored(st, id, body),
        "DELETE" => {
            delete_stored(st, id);
            Reply::no_content()
        }
        _ => Reply::error(405, 0, "405: Method Not Allowed"),
    }
}

fn followup(st: &mut St, app: &str, token: &str, body: &Value) -> Reply {
    let mut rec = match interaction_for_webhook(st, app, token) {
        Ok(r) => r,
        Err(r) => return r,
    };
    // After a deferred (type 5) response the first follow-up replaces the "thinking" message.
    if rec.acked == Some(5)
        && let Some(orig) = rec.original_message_id
    {
        let loading = st
            .messages
            .get(&orig)
            .is_some_and(|m| m["flags"].as_u64().unwrap_or(0) & flags::LOADING != 0);
        if loading {
            return edit_stored(st, orig, body);
        }
    }
    let mut msg = match build_message(st, rec.channel_id, body, true) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let ephemeral = msg["flags"].as_u64().unwrap_or(0) & flags::EPHEMERAL != 0;
    msg["type"] = json!(if rec.kind == 2 { 20 } else { 19 });
    msg["webhook_id"] = json!(st.app_id.to_string());
    msg["application_id"] = json!(st.app_id.to_string());
    msg["interaction_metadata"] = st.interaction_metadata(&rec, rec.original_message_id);
    let id = sf(&msg["id"]).unwrap();
    store_and_echo(st, msg.clone(), !ephemeral);
    if rec.original_message_id.is_none() {
        rec.original_message_id = Some(id);
        st.interactions.insert(rec.id, rec);
    }
    Reply::ok(msg)
}

fn commands_route(st: &mut St, method: &str, app: &str, guild: Option<u64>, body: &Value) -> Reply {
    if app != st.app_id.to_string() {
        return Reply::error(403, 50001, "Missing Access");
    }
    let existing = match guild {
        Some(g) => st.guild_commands.get(&g).cloned().unwrap_or_default(),
        None => st.global_commands.clone(),
    };
    match method {
        "GET" => Reply::ok(Value::Array(existing)),
        "PUT" => {
            let Some(list) = body.as_array() else {
                return Reply::form(vec![ferr(&[], "BASE_TYPE_ARRAY", "Must be an array.")]);
            };
            let mut errors = Vec::new();
            for (i, cmd) in list.iter().enumerate() {
                validate_command(cmd, vec![i.to_string()], &mut errors);
                let name = &cmd["name"];
                if list[..i]
                    .iter()
                    .any(|c| c["name"] == *name && c["type"] == cmd["type"])
                {
                    errors.push(FieldError {
                        path: vec![i.to_string(), "name".into()],
                        code: "APPLICATION_COMMANDS_DUPLICATE_NAME",
                        message: format!("Application command names must be unique: {name}"),
                    });
                }
            }
            if !errors.is_empty() {
                return Reply::form(errors);
            }
            let built: Vec<Value> = list
                .iter()
                .map(|c| command_json(st, c, guild, &existing))
                .collect();
            match guild {
                Some(g) => {
                    st.guild_commands.insert(g, built.clone());
                }
                None => st.global_commands = built.clone(),
            }
            Reply::ok(Value::Array(built))
        }
        "POST" => {
            let mut errors = Vec::new();
            validate_command(body, Vec::new(), &mut errors);
            if !errors.is_empty() {
                return Reply::form(errors);
            }
            let cmd = command_json(st, body, guild, &existing);
            let mut list: Vec<Value> = existing
                .into_iter()
                .filter(|c| c["name"] != cmd["name"])
                .collect();
            list.push(cmd.clone());
            match guild {
                Some(g) => {
                    st.guild_commands.insert(g, list);
                }
                None => st.global_commands = list,
            }
            Reply::created(cmd)
        }
        _ => Reply::error(405, 0, "405: Method Not Allowed"),
    }
}

fn valid_command_name(name: &str) -> bool {
    let n = name.chars().count();
    (1..=32).contains(&n)
        && name.chars().all(|c| {
            (c.is_alphanumeric() || c == '-' || c == '_') && c.to_lowercase().eq(std::iter::once(c))
        })
}

fn check_description(v: &Value, path: &[String], errors: &mut Vec<FieldError>) {
    let mut p = path.to_vec();
    p.push("description".into());
    match v.get("description") {
        None | Some(Value::Null) => errors.push(FieldError {
            path: p,
            code: "BASE_TYPE_REQUIRED",
            message: "This field is required".into(),
        }),
        Some(Value::String(s)) if (1..=100).contains(&s.chars().count()) => {}
        Some(_) => errors.push(FieldError {
            path: p,
            code: "BASE_TYPE_BAD_LENGTH",
            message: "Must be between 1 and 100 in length.".into(),
        }),
    }
}

fn validate_command(cmd: &Value, path: Vec<String>, errors: &mut Vec<FieldError>) {
    let kind = cmd["type"].as_u64().unwrap_or(1);
    let with = |k: &str| {
        let mut p = path.clone();
        p.push(k.to_string());
        p
    };
    let name = cmd["name"].as_str().unwrap_or("");
    if kind == 1 {
        if !valid_command_name(name) {
            errors.push(FieldError {
                path: with("name"),
                code: "APPLICATION_COMMAND_INVALID_NAME",
                message: "Command name is invalid".into(),
            });
        }
        check_description(cmd, &path, errors);
    } else if name.is_empty() || name.chars().count() > 32 {
        errors.push(FieldError {
            path: with("name"),
            code: "BASE_TYPE_BAD_LENGTH",
            message: "Must be between 1 and 32 in length.".into(),
        });
    }
    validate_options(&cmd["options"], with("options"), errors);
}

fn validate_options(options: &Value, path: Vec<String>, errors: &mut Vec<FieldError>) {
    let Some(list) = options.as_array() else {
        return;
    };
    if list.len() > 25 {
        errors.push(FieldError {
            path: path.clone(),
            code: "BASE_TYPE_MAX_LENGTH",
            message: "Must be 25 or fewer in length.".into(),
        });
    }
    let mut seen_optional = false;
    for (i, opt) in list.iter().enumerate() {
        let mut p = path.clone();
        p.push(i.to_string());
        let with = |k: &str| {
            let mut q = p.clone();
            q.push(k.to_string());
            q
        };
        if !opt["type"].as_u64().is_some_and(|t| (1..=11).contains(&t)) {
            errors.push(FieldError {
                path: with("type"),
                code: "BASE_TYPE_CHOICES",
                message: "Value must be one of {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}.".into(),
            });
        }
        if !valid_command_name(opt["name"].as_str().unwrap_or("")) {
            errors.push(FieldError {
                path: with("name"),
                code: "APPLICATION_COMMAND_INVALID_NAME",
                message: "Command name is invalid".into(),
            });
        }
        check_description(opt, &p, errors);
        let required = opt["required"].as_bool().unwrap_or(false);
        if required && seen_optional {
            errors.push(FieldError {
                path: with("required"),
                code: "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                message: "Required options must be placed before non-required options".into(),
            });
        }
        if !required && !matches!(opt["type"].as_u64(), Some(1 | 2)) {
            seen_optional = true;
        }
        if opt["choices"].as_array().is_some_and(|c| c.len() > 25) {
            errors.push(FieldError {
                path: with("choices"),
                code: "BASE_TYPE_MAX_LENGTH",
                message: "Must be 25 or fewer in length.".into(),
            });
        }
        validate_options(&opt["options"], with("options"), errors);
    }
}

/// The command object Discord returns for a registered command (keeps ids of same-named ones).
fn command_json(st: &mut St, cmd: &Value, guild: Option<u64>, existing: &[Value]) -> Value {
    let kind = cmd["type"].as_u64().unwrap_or(1);
    let id = existing
        .iter()
        .find(|c| c["name"] == cmd["name"] && c["type"].as_u64() == Some(kind))
        .and_then(|c| sf(&c["id"]))
        .unwrap_or_else(|| st.next_id());
    let version = st.next_id();
    let mut out = json!({
        "id": id.to_string(),
        "application_id": st.app_id.to_string(),
        "version": version.to_string(),
        "type": kind,
        "name": cmd["name"],
        "name_localizations": cmd.get("name_localizations").cloned().unwrap_or(Value::Null),
        "description": cmd["description"].as_str().unwrap_or(""),
        "description_localizations": cmd.get("description_localizations").cloned().unwrap_or(Value::Null),
        "options": cmd.get("options").cloned().filter(|o| !o.is_null()).unwrap_or(json!([])),
        "default_member_permissions": cmd.get("default_member_permissions").cloned().unwrap_or(Value::Null),
        "dm_permission": cmd.get("dm_permission").cloned().unwrap_or(json!(true)),
        "contexts": cmd.get("contexts").cloned().unwrap_or(Value::Null),
        "integration_types": cmd.get("integration_types").cloned().filter(|v| !v.is_null()).unwrap_or(json!([0])),
        "nsfw": cmd["nsfw"].as_bool().unwrap_or(false),
    });
    if let Some(g) = guild {
        out["guild_id"] = json!(g.to_string());
    }
    out
}

// ---------------------------------------------------------------------------------------------
// JSON shapes and small helpers
// ---------------------------------------------------------------------------------------------

fn user_json(id: u64, username: &str, bot: bool) -> Value {
    let mut u = json!({
        "id": id.to_string(),
        "username": username,
        "discriminator": "0",
        "global_name": if bot { Value::Null } else { json!(username) },
        "avatar": null,
        "banner": null,
        "accent_color": null,
        "avatar_decoration_data": null,
        "public_flags": 0,
        "flags": 0,
        "primary_guild": null,
        "collectibles": null,
    });
    if bot {
        u["bot"] = json!(true);
    }
    u
}

/// A complete message object (every field serenity requires, no `null` collections).
fn message_json(id: u64, channel_id: u64, author: Value, content: &str) -> Value {
    json!({
        "id": id.to_string(),
        "channel_id": channel_id.to_string(),
        "author": author,
        "content": content,
        "timestamp": iso_timestamp(SystemTime::now()),
        "edited_timestamp": null,
        "tts": false,
        "mention_everyone": false,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "components": [],
        "pinned": false,
        "type": 0,
        "flags": 0,
    })
}

/// Find a component by custom_id anywhere in a message's action rows.
fn find_component(msg: &Value, custom_id: &str) -> Option<Value> {
    msg["components"]
        .as_array()?
        .iter()
        .flat_map(|row| row["components"].as_array().cloned().unwrap_or_default())
        .find(|c| c["custom_id"] == custom_id)
}

/// A snowflake given as string or number.
fn sf(v: &Value) -> Option<u64> {
    match v {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

fn split_path(path: &str) -> Vec<&str> {
    path.split('/').filter(|s| !s.is_empty()).collect()
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// `2024-05-01T12:34:56.123456+00:00`, the format Discord uses.
fn iso_timestamp(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Days since 1970-01-01 → civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}+00:00",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_micros()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_patterns() {
        let r = Route::new("POST /channels/*/messages");
        assert!(r.matches("POST", "/api/v10/channels/1/messages"));
        assert!(!r.matches("GET", "/api/v10/channels/1/messages"));
        assert!(!r.matches("POST", "/api/v10/channels/1/messages/2"));
        assert!(
            Route::new("/api/v10/webhooks/**")
                .matches("PATCH", "/api/v10/webhooks/1/t/messages/@original")
        );
    }

    #[test]
    fn timestamps() {
        let t = UNIX_EPOCH + Duration::from_millis(1_714_566_896_123);
        assert_eq!(iso_timestamp(t), "2024-05-01T12:34:56.123000+00:00");
        assert_eq!(
            iso_timestamp(UNIX_EPOCH),
            "1970-01-01T00:00:00.000000+00:00"
        );
    }
}
