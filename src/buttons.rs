//! Button ids: how each kind begins, so an edge can tell by the prefix
//! alone whose press it is. Pure, shared by the engine, flow validation and
//! the Discord adapter.
//!
//! - `c:<flow>:<step>:<what>`: a flow's choices and the engine's own buttons
//! - `ask:<answer>:<category>`: the answers to mend's question "are you safe?"
//! - `flag:<id>:<action>`: the moderators' buttons on a flag's notice
//! - `privacy:<what>`: the confirmation of `/forget`
//! - `pair:<what>`: pairing's confirmations, previews and answers
//!
//! Choices shown before the prefix existed read `<flow>:<step>:<what>` and
//! may still be on people's screens, so the engine still reads them; that is
//! why no flow may be named after a prefix (see [`is_reserved`]).

/// A flow's choices, and the engine's own buttons under a step.
pub const CHOICE: &str = "c:";
/// The answers to mend's question when a message was worrying but unclear.
pub const ASK: &str = "ask:";
/// The moderators' buttons on a flag's notice, and the note's modal.
pub const FLAG: &str = "flag:";
/// The buttons that confirm or call off an erasure.
pub const PRIVACY: &str = "privacy:";
/// Pairing's buttons: a join's confirmation, a send's preview, answers.
pub const PAIR: &str = "pair:";

/// Every prefix, each a word and a colon.
pub const PREFIXES: [&str; 5] = [CHOICE, ASK, FLAG, PRIVACY, PAIR];

/// Whose press a button id is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The conversation's: the engine answers it (a choice, an answer to
    /// its question, or an id it no longer knows, which it answers kindly
    /// as a button from an earlier message).
    Conversation,
    /// The moderators'.
    Flag,
    /// An erasure's confirmation.
    Privacy,
    /// Pairing's.
    Pair,
}

/// Routes a button id by its prefix. Anything that is not the moderators'
/// or privacy's goes to the conversation, old ids and unknown ones too,
/// because the engine answers every press, however stale, kindly.
pub fn kind(id: &str) -> Kind {
    if id.starts_with(FLAG) {
        Kind::Flag
    } else if id.starts_with(PRIVACY) {
        Kind::Privacy
    } else if id.starts_with(PAIR) {
        Kind::Pair
    } else {
        Kind::Conversation
    }
}

/// The id of a flow's choice (or the engine's own button) `what` at `step`.
pub fn choice(flow: &str, step: &str, what: &str) -> String {
    format!("{CHOICE}{flow}:{step}:{what}")
}

/// The flow, step and choice a conversation button names: `c:` ids, and
/// ids from before the prefix. None if it has not that shape.
pub fn parse_choice(id: &str) -> Option<(&str, &str, &str)> {
    let id = id.strip_prefix(CHOICE).unwrap_or(id);
    let mut parts = id.rsplitn(3, ':');
    let what = parts.next()?;
    let step = parts.next()?;
    let flow = parts.next()?;
    Some((flow, step, what))
}

/// Whether a flow id would make its old-style button ids begin like one
/// of the prefixes, so a press of them could reach the wrong hands.
pub fn is_reserved(flow: &str) -> bool {
    PREFIXES.iter().any(|p| p.strip_suffix(':') == Some(flow))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_is_routed_by_its_prefix() {
        assert_eq!(kind("flag:12:claim"), Kind::Flag);
        assert_eq!(kind("flag:12:resolve-note"), Kind::Flag);
        assert_eq!(kind("privacy:erase"), Kind::Privacy);
        assert_eq!(kind("pair:send"), Kind::Pair);
        assert_eq!(kind("pairing:a:1"), Kind::Conversation);
        assert_eq!(kind(&choice("welcome", "consent", "1")), Kind::Conversation);
        assert_eq!(kind("ask:yes:self_harm"), Kind::Conversation);
        // Old ids, and ids mend never made, are the conversation's to answer.
        assert_eq!(kind("welcome:consent:1"), Kind::Conversation);
        assert_eq!(kind("no such thing"), Kind::Conversation);
        assert_eq!(kind(""), Kind::Conversation);
        // A prefix is the whole first word.
        assert_eq!(kind("flagged:a:1"), Kind::Conversation);
        assert_eq!(kind("privacy-notes:a:1"), Kind::Conversation);
    }

    #[test]
    fn choices_are_prefixed_and_old_ones_still_read() {
        let id = choice("welcome", "consent", "1");
        assert_eq!(id, "c:welcome:consent:1");
        assert_eq!(parse_choice(&id), Some(("welcome", "consent", "1")));
        assert_eq!(
            parse_choice("welcome:consent:1"),
            Some(("welcome", "consent", "1"))
        );
        assert_eq!(parse_choice("c:welcome"), None);
        assert_eq!(parse_choice("nonsense"), None);
    }

    #[test]
    fn only_the_prefixes_words_are_reserved() {
        for word in ["c", "ask", "flag", "privacy", "pair"] {
            assert!(is_reserved(word), "{word}");
        }
        for word in ["welcome", "menu", "flags", "asking", "cc", ""] {
            assert!(!is_reserved(word), "{word}");
        }
    }
}
