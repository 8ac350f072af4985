//! The one place the tracing subscriber is set. Logs go to stderr and carry
//! ids, kinds and timings only; nothing a person wrote is ever a field.

use tracing_subscriber::EnvFilter;

/// Libraries that would put message text (or a token) in the log if left to
/// the chosen level, held down whatever the level: serenity logs unparsable
/// gateway frames raw (WARN in `gateway::ws`, DEBUG for unknown events) and
/// records whole requests, bodies included, as span fields; tungstenite
/// traces every websocket frame; the HTTP stack traces headers.
const ALWAYS_QUIET: &[&str] = &[
    "serenity=warn",
    "serenity::gateway::ws=off",
    "tungstenite=warn",
    "tokio_tungstenite=warn",
    "hyper=warn",
    "hyper_util=warn",
    "reqwest=warn",
    "h2=warn",
    "rustls=warn",
];

/// The filter mend logs through: `RUST_LOG` wins over the config's level,
/// which wins over `default`; the quiet list is applied on top of all three.
pub fn filter(configured: Option<&str>, default: &str) -> EnvFilter {
    let base = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .or_else(|| configured.map(str::to_owned))
        .unwrap_or_else(|| default.to_owned());
    let mut filter = EnvFilter::try_new(&base).unwrap_or_else(|_| {
        eprintln!("mend: the log level `{base}` is not a valid filter; using `{default}`");
        EnvFilter::new(default)
    });
    for directive in ALWAYS_QUIET {
        if let Ok(directive) = directive.parse() {
            filter = filter.add_directive(directive);
        }
    }
    filter
}

/// Starts logging to stderr.
pub fn init(configured: Option<&str>, default: &str) {
    tracing_subscriber::fmt()
        .with_env_filter(filter(configured, default))
        .with_writer(std::io::stderr)
        .with_target(true)
        .init();
}
