//! The safety screen's normaliser and the screen itself on any text: no
//! panic; the normalised form is what the matcher expects (lower-case words
//! separated by single spaces, with nothing invisible left in it); and a
//! hit's excerpt stays within its bound.
//!
//! Normalising is not idempotent, by design: a separator that is not a space,
//! dot or dash ends a spaced-out word in the first pass ("a/b c" stays apart)
//! but is a plain space afterwards. Both the phrase lists and the messages
//! are normalised exactly once, so the screen never sees a second pass.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use mend::safety::{EXCERPT_MAX, Screen, normalise};

static SCREEN: LazyLock<Screen> = LazyLock::new(Screen::embedded);

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let plain = normalise(&text);
    assert_eq!(plain.trim(), plain, "space at either end");
    assert!(!plain.contains("  "), "two spaces in a row");
    for c in plain.chars() {
        assert!(!c.is_uppercase(), "an upper-case {c:?} is left");
        assert!(!c.is_control(), "a control character {c:?} is left");
        assert!(
            !c.is_whitespace() || c == ' ',
            "whitespace other than a space: {c:?}"
        );
        assert!(
            !matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}' | '\''),
            "an invisible character or apostrophe {c:?} is left"
        );
    }
    if let Some(hit) = SCREEN.screen(&text) {
        assert!(hit.excerpt.len() <= EXCERPT_MAX);
        assert!(!hit.matched.is_empty());
    }
});
