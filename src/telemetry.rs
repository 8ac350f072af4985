//! The one place the tracing subscriber is set. Logs go to stderr and carry
//! ids, kinds and timings only; nothing a person wrote is ever a field.

use tracing_subscriber::EnvFilter;

/// Targets that would put message text in the log if left on: serenity logs
/// a gateway frame it cannot parse, raw, at WARN.
const ALWAYS_QUIET: &[&str] = &["serenity::gateway::ws=off"];

/// Starts logging. `RUST_LOG` wins over the config's level, which wins over
/// `default`.
pub fn init(configured: Option<&str>, default: &str) {
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
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(true)
        .init();
}
