//! Prompt loading: the shipped flows with one file replaced by the fuzzer's
//! text. Loading either refuses it with problems that name a file, or gives
//! a script the engine can walk from every flow's start without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mend::conversation::engine::{self, Input, State};
use mend::flows::{self, LoadError};

fuzz_target!(|data: &[u8]| {
    let Some((&which, text)) = data.split_first() else {
        return;
    };
    let mut sources = flows::embedded_sources();
    let index = usize::from(which) % (sources.len() + 1);
    let text = String::from_utf8_lossy(text).into_owned();
    match sources.get_mut(index) {
        Some(source) => source.text = text,
        None => sources.push(flows::Source {
            path: "prompts/flows/fuzzed.toml".into(),
            text,
        }),
    }
    match flows::load_sources(&sources) {
        Ok(script) => {
            for flow in script.flows() {
                let outcome =
                    engine::handle(&script, &State::default(), &Input::Begin(flow.id.clone()));
                for reply in &outcome.replies {
                    assert!(reply.text().chars().count() <= flows::MAX_MESSAGE_CHARS);
                    assert!(reply.choices().len() <= flows::MAX_CHOICES);
                }
            }
        }
        Err(LoadError::Invalid(problems)) => {
            assert!(!problems.is_empty());
            for problem in &problems {
                assert!(
                    !problem.file.as_os_str().is_empty(),
                    "a problem with no file"
                );
                assert!(
                    !problem.message.trim().is_empty(),
                    "a problem with no words"
                );
            }
        }
        Err(other) => panic!("loading from memory cannot fail to read: {other}"),
    }
});
