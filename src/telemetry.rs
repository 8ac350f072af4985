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

/// Starts logging to stderr, panics included.
pub fn init(configured: Option<&str>, default: &str) {
    tracing_subscriber::fmt()
        .with_env_filter(filter(configured, default))
        .with_writer(std::io::stderr)
        .with_target(true)
        .init();
    quiet_panics();
}

/// Logs a panic by where it happened, never by its message: a message can
/// quote the data that caused it, and that data can be what a person wrote
/// (a string slice that went wrong prints the string). Where is enough to
/// find the bug; the bot carries on (see the Discord worker).
pub fn quiet_panics() {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        tracing::error!(%location, "a bug: mend panicked (its message is not logged: it may quote what someone wrote)");
    }));
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    /// Log output kept in memory.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_panic_is_logged_by_place_and_never_by_its_message() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            super::quiet_panics();
            let result = std::panic::catch_unwind(|| {
                panic!("out of bounds of `i feel so alone tonight`");
            });
            // Back to the default hook for the rest of the tests.
            let _ = std::panic::take_hook();
            assert!(result.is_err());
        });
        let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        assert!(log.contains("a bug: mend panicked"), "{log}");
        assert!(log.contains("src/telemetry.rs:"), "{log}");
        assert!(
            !log.contains("alone"),
            "the panic's words reached the log: {log}"
        );
    }
}
