//! Nothing a person types reaches the log, at any level.

use crate::helpers::{mend, route, run_mend, shipped, typed};
use mend::conversation::engine::{self, Input, Outcome, State};

const SENTINEL: &str = "zebra-violet-lighthouse";

#[test]
fn typed_text_never_appears_in_the_log_at_trace_level() {
    let script = shipped();
    let greeted = engine::handle(&script, &State::default(), &Input::Start).state;
    let answer = format!("my answer {SENTINEL}");
    let lines = route(&script, &greeted, &answer, |o: &Outcome| {
        o.replies.iter().any(|r| r.text().contains(SENTINEL))
    });
    let mut lines = typed(&script, &lines);
    lines.push(format!("unrecognised {SENTINEL}"));
    // Shaped like a button id, so screened as words: not logged either.
    lines.push(format!("{SENTINEL}:{SENTINEL}:1"));

    for level in ["trace", "debug", "info"] {
        let dir = tempfile::tempdir().unwrap();
        let mut command = mend(dir.path());
        command
            .env("RUST_LOG", level)
            .args(["chat", "--json", "--db", "log.sqlite"]);
        let (status, stdout, stderr) = run_mend(command, &(lines.join("\n") + "\n"));
        assert!(status.success(), "{stderr}");
        assert!(stdout.contains(SENTINEL), "the answer was used");
        assert!(
            !stderr.contains(SENTINEL),
            "typed text reached the {level} log"
        );
        if level == "trace" {
            assert!(!stderr.is_empty(), "trace logging was on");
        }
    }
}
