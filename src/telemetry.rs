//! The one place the tracing subscriber is set. Logs go to stderr and carry
//! ids, kinds and timings only; nothing a person wrote is ever a field.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

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
    use std::io::IsTerminal;
    // Colour only for a person at a terminal, never into a file or journal.
    let ansi = std::io::stderr().is_terminal();
    subscriber(filter(configured, default), std::io::stderr, ansi).init();
    quiet_panics();
}

/// What [`init`] installs, writing to `writer`: the log through `filter`,
/// and beside it [`Unreadable`], which sees serenity's gateway warnings
/// that the filter holds back.
pub fn subscriber<W>(filter: EnvFilter, writer: W, ansi: bool) -> impl Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Clone + Send + Sync + 'static,
{
    let log = tracing_subscriber::fmt::layer()
        .with_writer(writer.clone())
        .with_ansi(ansi)
        .with_target(true)
        .with_filter(filter);
    let unreadable = Unreadable::new(writer)
        .with_filter(Targets::new().with_target(SERENITY_GATEWAY, Level::WARN));
    tracing_subscriber::registry().with(log).with(unreadable)
}

/// Where serenity says it could not read a gateway frame (quoting it).
const SERENITY_GATEWAY: &str = "serenity::gateway::ws";

/// Counts the gateway events serenity could not read, which it drops, and
/// logs each by its kind and running count, never by what it held. Without
/// this an event a server sends in a shape serenity does not expect (a
/// Discord-compatible server that leaves out a field, say) would vanish
/// without a line, since serenity's own warning quotes the whole frame and
/// is never let through. It writes its line itself: an event raised inside
/// another's handling would be dropped by the per-layer filters.
pub struct Unreadable<W> {
    writer: W,
    counts: KindCounts,
}

impl<W> Unreadable<W> {
    pub fn new(writer: W) -> Unreadable<W> {
        Unreadable {
            writer,
            counts: KindCounts::default(),
        }
    }
}

/// Running counts of dropped events by kind, for lines an operator can
/// read as "the third MESSAGE_CREATE dropped so far".
#[derive(Default)]
pub struct KindCounts(Mutex<HashMap<String, u64>>);

impl KindCounts {
    /// Counts one more of `kind`; the count so far.
    pub fn bump(&self, kind: &str) -> u64 {
        let mut counts = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let count = counts.entry(kind.to_owned()).or_default();
        *count += 1;
        *count
    }
}

impl<S, W> Layer<S> for Unreadable<W>
where
    S: Subscriber,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() != SERENITY_GATEWAY {
            return;
        }
        let mut message = Message::default();
        event.record(&mut message);
        let Some(rest) = message.0.strip_prefix("Err deserializing") else {
            return;
        };
        let kind = event_kind(rest);
        let count = self.counts.bump(&kind);
        let line = format!(
            "{}  WARN mend::gateway: an event from the gateway could not be read and was \
             dropped (is the server Discord, or one that sends events in another shape?) \
             kind=\"{kind}\" count={count}\n",
            jiff::Timestamp::now()
        );
        let _ = self.writer.make_writer().write_all(line.as_bytes());
    }
}

/// The `t` (event name) of the frame serenity quoted, when it is a plain
/// event name; otherwise "unknown". Nothing else of the frame is kept.
fn event_kind(warning: &str) -> String {
    let name = warning
        .split_once("; text: ")
        .and_then(|(_, frame)| serde_json::from_str::<serde_json::Value>(frame).ok())
        .and_then(|frame| frame["t"].as_str().map(str::to_owned));
    safe_kind(name.as_deref().unwrap_or_default()).to_owned()
}

/// A gateway event's name as safe to log: Discord's names are upper-case
/// words joined by `_`; anything else (which a server could fill with
/// anything) is "unknown".
pub fn safe_kind(name: &str) -> &str {
    if (1..=40).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') {
        name
    } else {
        "unknown"
    }
}

/// An event's message, as formatted.
#[derive(Default)]
struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0 = value.to_owned();
        }
    }
}

/// Logs a panic by where it happened, never by its message: a message can
/// quote the data that caused it, and that data can be what a person wrote
/// (a string slice that went wrong prints the string). Where is enough to
/// find the bug; the bot carries on (see the Discord worker). "Where" is the
/// panic site, the thread, and the innermost frame in mend's own code: a
/// panic inside a library (jiff, sqlx) names the library's line, which alone
/// does not say which call of mend's led there. Frames carry function names
/// and source paths, never data.
pub fn quiet_panics() {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let thread = std::thread::current();
        let thread = thread.name().unwrap_or("unnamed");
        let backtrace = std::backtrace::Backtrace::force_capture().to_string();
        let in_mend = mend_frame(&backtrace).unwrap_or_else(|| "unknown".to_owned());
        tracing::error!(
            %location,
            thread,
            %in_mend,
            "a bug: mend panicked (its message is not logged: it may quote what someone wrote)"
        );
    }));
}

/// The innermost frame of mend's own code below the panic's entry in a
/// rendered backtrace, as "function at file:line" (the file and line only
/// when the binary has line tables).
fn mend_frame(backtrace: &str) -> Option<String> {
    let mut frames: Vec<(&str, Option<&str>)> = Vec::new();
    for line in backtrace.lines() {
        let line = line.trim();
        if let Some(at) = line.strip_prefix("at ") {
            if let Some(last) = frames.last_mut() {
                last.1.get_or_insert(at);
            }
        } else if let Some((number, symbol)) = line.split_once(": ")
            && number.bytes().all(|b| b.is_ascii_digit())
        {
            frames.push((symbol, None));
        }
    }
    // Above the panic's entry are the hook and its callers; below it, the
    // code that panicked.
    let is_entry = |symbol: &str| {
        symbol.contains("rust_begin_unwind")
            || symbol.contains("core::panicking::")
            || symbol.contains("std::panicking::begin_panic")
    };
    let after = frames
        .iter()
        .position(|(symbol, _)| is_entry(symbol))
        .map_or(0, |i| i + 1);
    frames[after..]
        .iter()
        .find(|(symbol, _)| symbol.starts_with("mend::") || symbol.starts_with("<mend::"))
        .map(|(symbol, at)| match at {
            Some(at) => format!("{symbol} at {at}"),
            None => (*symbol).to_owned(),
        })
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    /// The panic hook is global: tests that set it take turns.
    static HOOK: Mutex<()> = Mutex::new(());

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
        let _turn = HOOK.lock().unwrap_or_else(|e| e.into_inner());
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

    #[test]
    fn a_gateway_event_serenity_cannot_read_is_counted_by_kind_and_never_quoted() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber =
            super::subscriber(super::filter(None, "info"), move || writer.clone(), false);
        tracing::subscriber::with_default(subscriber, || {
            let frame =
                r#"{"op":0,"s":7,"t":"MESSAGE_CREATE","d":{"content":"i feel so alone tonight"}}"#;
            for _ in 0..2 {
                tracing::warn!(
                    target: "serenity::gateway::ws",
                    "Err deserializing text: missing field `pinned`; text: {frame}"
                );
            }
            tracing::warn!(target: "serenity::gateway::ws", "Err deserializing bytes: oops");
        });
        let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        assert!(log.contains("could not be read"), "{log}");
        assert!(log.contains("kind=\"MESSAGE_CREATE\" count=2"), "{log}");
        assert!(log.contains("kind=\"unknown\" count=1"), "{log}");
        assert!(
            !log.contains("alone"),
            "a frame's words reached the log: {log}"
        );
        assert!(
            !log.contains("pinned"),
            "serenity's own line was let through: {log}"
        );
    }

    /// A panic inside a library is logged with the line in mend that led
    /// to it, and the thread, still without its message.
    #[test]
    fn a_panic_in_a_library_names_the_call_in_mend_that_led_there() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let _turn = HOOK.lock().unwrap_or_else(|e| e.into_inner());
        tracing::subscriber::with_default(subscriber, || {
            super::quiet_panics();
            let result = std::panic::catch_unwind(|| jiff::SignedDuration::from_mins(i64::MAX));
            let _ = std::panic::take_hook();
            assert!(result.is_err());
        });
        let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        assert!(log.contains("a bug: mend panicked"), "{log}");
        assert!(log.contains("location=") && log.contains("jiff"), "{log}");
        // Test threads are named after their test.
        assert!(
            log.contains("thread=\"telemetry::tests::a_panic_in_a_library"),
            "{log}"
        );
        assert!(
            log.contains("in_mend=mend::telemetry::tests::") && log.contains("src/telemetry.rs:"),
            "{log}"
        );
        assert!(!log.contains("overflowed"), "{log}");
    }

    #[test]
    fn the_frame_in_mend_is_the_first_below_the_panics_entry() {
        let rendered = "   0: std::backtrace::Backtrace::force_capture
             at /rustc/x/library/std/src/backtrace.rs:1:1
   1: mend::telemetry::quiet_panics::{{closure}}
             at ./src/telemetry.rs:60:25
   2: std::panicking::panic_with_hook
   3: core::panicking::panic_fmt
             at /rustc/x/library/core/src/panicking.rs:80:14
   4: jiff::signed_duration::SignedDuration::from_mins
             at /cargo/jiff/src/signed_duration.rs:787:17
   5: mend::config::Safety::cooldown
             at ./src/config.rs:140:9
   6: mend::app::companion
   7: std::panicking::catch_unwind
   8: mend::main
";
        assert_eq!(
            super::mend_frame(rendered).as_deref(),
            Some("mend::config::Safety::cooldown at ./src/config.rs:140:9")
        );
        // Without line tables, the function alone.
        assert_eq!(
            super::mend_frame("  0: core::panicking::panic\n  1: <mend::x::Y as Drop>::drop\n")
                .as_deref(),
            Some("<mend::x::Y as Drop>::drop")
        );
        assert_eq!(super::mend_frame("  0: core::panicking::panic\n"), None);
    }
}
