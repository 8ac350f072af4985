//! Pairing two partners, in one folder: the pure rules here (what a code
//! looks like, how long it lasts, how many sends a day, what each may do
//! and what a partner sees, and the words for every outcome), the queries
//! in [`queries`], and the Discord adapter in `discord` (the
//! terminal's is part of `terminal`). Built first against monitoring:
//! nothing of one person reaches the other unless they chose to send it.

pub(crate) mod discord;
pub mod queries;
pub mod run;

use jiff::{SignedDuration, Timestamp};

use crate::edge::Edge;
use crate::referrals::{ChoiceButton, Reply};

/// Invite codes use capitals and digits with nothing that reads as another
/// (no I, O, 0 or 1): 32 symbols, 5 bits each.
pub const CODE_ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
/// Ten symbols: 50 bits, typed as two groups of five.
pub const CODE_LEN: usize = 10;
// At least 40 bits, so a code cannot be guessed within the attempt limits.
const _: () = assert!(CODE_LEN * 5 >= 40);
/// How long an invite code works.
pub const INVITE_LASTS: SignedDuration = SignedDuration::from_hours(24);
/// Sends a person may make in any 24 hours.
pub const SENDS_PER_DAY: i64 = 3;
/// Codes a person may enter that do not work, in any 24 hours.
pub const FAILED_JOINS_PER_DAY: i64 = 5;
/// Invite codes a person may ask for in any 24 hours.
pub const INVITES_PER_DAY: i64 = 5;
/// The longest send, in characters.
pub const MAX_SEND_CHARS: usize = 500;
/// A day, for the rolling limits.
pub const DAY: SignedDuration = SignedDuration::from_hours(24);
/// How long sent messages and ended pairings are kept, then erased.
pub const KEPT: SignedDuration = SignedDuration::from_hours(24 * 90);
/// The fact an agreed "one thing this week" is kept as, for each partner's
/// own check-ins to ask about (each answer stays with the one who gave it).
pub const OUR_THING: &str = "our_thing";
/// The button-id prefix of pairing's own buttons (see [`crate::buttons`]).
pub const PREFIX: &str = crate::buttons::PAIR;

/// A fresh code from ten random bytes, as shown: `ABCDE-FGHJK`.
pub fn code_from(bytes: [u8; CODE_LEN]) -> String {
    let mut code = String::with_capacity(CODE_LEN + 1);
    for (i, byte) in bytes.iter().enumerate() {
        if i == CODE_LEN / 2 {
            code.push('-');
        }
        // 256 is a multiple of 32, so every symbol is equally likely.
        code.push(char::from(CODE_ALPHABET[usize::from(byte % 32)]));
    }
    code
}

/// A new code from the operating system's random source.
pub fn new_code() -> String {
    code_from(crate::crypto::random_bytes::<CODE_LEN>())
}

/// A typed code in the one form whose hash is kept: capitals, no spaces or
/// dashes. None if it cannot be a code at all.
pub fn normalise_code(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let fits = code.len() == CODE_LEN && code.bytes().all(|b| CODE_ALPHABET.contains(&b));
    fits.then_some(code)
}

/// What a sender may send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Something they appreciate about their partner.
    Appreciation,
    /// "My small action today is …".
    Action,
    /// "Could we talk about … this week?"
    Talk,
    /// A time that suits them, in answer to a request to talk.
    Answer,
    /// "Not yet", in answer to a request to talk.
    NotYet,
}

impl Kind {
    /// The kinds a sender writes words for, as buttons offer them.
    pub const WRITTEN: [Kind; 4] = [Kind::Appreciation, Kind::Action, Kind::Talk, Kind::Answer];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Appreciation => "appreciation",
            Kind::Action => "action",
            Kind::Talk => "talk",
            Kind::Answer => "answer",
            Kind::NotYet => "not_yet",
        }
    }

    pub fn parse(text: &str) -> Option<Kind> {
        [
            Kind::Appreciation,
            Kind::Action,
            Kind::Talk,
            Kind::Answer,
            Kind::NotYet,
        ]
        .into_iter()
        .find(|k| k.as_str() == text)
    }

    /// Its button's label.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Appreciation => "An appreciation",
            Kind::Action => "My small action today",
            Kind::Talk => "A request to talk",
            Kind::Answer => "A time to talk",
            Kind::NotYet => "Not yet",
        }
    }

    /// How the partner's message begins.
    fn heading(self) -> &'static str {
        match self {
            Kind::Appreciation => "They sent you an appreciation:",
            Kind::Action => "They shared their small action for today:",
            Kind::Talk => "They asked whether the two of you could talk this week:",
            Kind::Answer => "They answered your request to talk with a time:",
            Kind::NotYet => "They answered your request to talk: not yet.",
        }
    }

    /// The words around what they wrote, as the partner reads them.
    fn lead(self) -> &'static str {
        match self {
            Kind::Appreciation => "",
            Kind::Action => "My small action today is ",
            Kind::Talk => "Could we talk about ",
            Kind::Answer => "",
            Kind::NotYet => "",
        }
    }

    fn tail(self) -> &'static str {
        match self {
            Kind::Talk => " this week?",
            _ => "",
        }
    }
}

/// Cleans what a sender wrote: control characters go, space around it
/// goes. Refused when empty or too long.
pub fn clean_text(text: &str) -> Result<String, Refusal> {
    let cleaned: String = text
        .chars()
        .filter(|c| !c.is_control() || *c == '\n')
        .collect::<String>()
        .trim()
        .to_owned();
    let length = cleaned.chars().count();
    if length == 0 {
        return Err(Refusal::Empty);
    }
    if length > MAX_SEND_CHARS {
        return Err(Refusal::TooLong { length });
    }
    Ok(cleaned)
}

/// The words the partner receives, whole: marked as from their partner,
/// what was written quoted line by line (so it cannot pass for mend's own
/// words), and what mend does not share.
pub fn framed(kind: Kind, text: &str) -> String {
    let mut out = format!("**From your partner, through mend.** {}\n", kind.heading());
    if kind != Kind::NotYet {
        let whole = format!("{}{}{}", kind.lead(), text, kind.tail());
        for line in whole.lines() {
            out.push_str("> ");
            out.push_str(line);
            out.push('\n');
        }
    }
    out.push_str(
        "mend only carried this. It never shows either of you anything else the other keeps here.",
    );
    out
}

/// The words a sender sees before confirming.
pub fn preview(kind: Kind, text: &str) -> String {
    format!(
        "This is exactly what your partner would receive, as a direct message from mend:\n\n{}\n\n\
         Send it? Nothing goes until you say so.",
        framed(kind, text)
    )
}

/// The plain statement a joiner reads before confirming.
pub const STATEMENT: &str = "Before you decide, here is what pairing does and does not do.\n\
• It lets each of you send the other a few chosen words through mend: an appreciation, \
your small action for the day, or a request to talk (up to 3 a day). Each is shown to \
its sender before it goes.\n\
• Nothing else is shared, ever: not your check-ins, scores, answers, notes or safety \
messages, and not whether or when you use mend.\n\
• Either of you can end it at any time, in one step, and the other is not told.\n\
• Never pair because someone is pressuring you to. If pairing would not feel safe, \
don't: saying no here is always fine, and your partner is not told.\n\
Would you like to pair?";

/// Something a person asks pairing to do, from a flow's tool, a slash
/// command or one of pairing's buttons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Act {
    Status,
    Invite,
    /// A code they typed.
    Join {
        code: String,
    },
    /// Yes to the statement, after a code that worked.
    Confirm,
    /// No to the statement.
    Decline,
    /// Words to send, of a kind (None: chosen next, by button).
    Draft {
        kind: Option<Kind>,
        text: String,
    },
    /// The kind for a draft written first.
    Kind(Kind),
    /// Send the draft shown.
    Send,
    /// Drop the draft shown.
    Discard,
    /// Answer a request to talk with "not yet".
    NotYet,
    End,
    /// After an end: stop that person pairing with them again.
    Block,
    /// Propose "our one thing this week".
    Propose {
        text: String,
    },
    /// Accept, or not, the one thing their partner proposed.
    Answer {
        accept: bool,
    },
}

impl Act {
    /// Acts whose words were written by the person, and so are screened.
    pub fn is_written(&self) -> bool {
        matches!(self, Act::Draft { .. } | Act::Propose { .. })
    }
}

/// A press of one of pairing's buttons, by its id.
pub fn pressed(id: &str) -> Option<Act> {
    let what = id.strip_prefix(PREFIX)?;
    Some(match what {
        "confirm" => Act::Confirm,
        "decline" => Act::Decline,
        "send" => Act::Send,
        "discard" => Act::Discard,
        "block" => Act::Block,
        "end" => Act::End,
        "not-yet" => Act::NotYet,
        "accept" => Act::Answer { accept: true },
        "refuse" => Act::Answer { accept: false },
        other => Act::Kind(Kind::parse(other.strip_prefix("kind:")?)?),
    })
}

fn button(what: &str, label: &str) -> ChoiceButton {
    ChoiceButton {
        id: format!("{PREFIX}{what}"),
        label: label.to_owned(),
    }
}

/// Why pairing did not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Pairing keeps what they send, which needs their consent.
    NoConsent,
    /// They are paired already (one pairing at a time).
    AlreadyPaired,
    /// They are not paired, or their pairing ended.
    NotActive,
    /// The code did not work: wrong, used, expired, their own, or the other
    /// person cannot pair with them. Never says which.
    CodeDidNotWork,
    /// Too many codes that did not work today.
    TooManyTries,
    /// Too many invites today.
    TooManyInvites,
    /// The day's sends are used up.
    TooManySends,
    Empty,
    TooLong {
        length: usize,
    },
    /// Nothing is waiting for that button.
    NothingWaiting,
    /// The inviter has since withdrawn consent, ended up paired, or gone.
    InviterUnavailable,
}

/// What pairing did: each becomes a few words, and perhaps buttons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Done {
    Status(Status),
    Invited {
        code: String,
        expires: Timestamp,
    },
    /// A code that worked, held for them: the statement, to confirm.
    Held,
    Paired,
    Declined,
    /// The preview of a draft, or (with no kind yet) the kinds to choose.
    Drafted {
        kind: Option<Kind>,
        text: String,
    },
    Discarded,
    /// Sent; `left` more may go today.
    Sent {
        left: i64,
    },
    /// The words raised a worry, so they were not sent; the crisis path
    /// answers them.
    Withheld,
    Ended,
    Blocked,
    Proposed,
    Answered {
        accept: bool,
    },
    Refused(Refusal),
}

/// What pairing did, and what the edge does once it is kept.
#[derive(Debug, Clone, PartialEq)]
pub struct Carried {
    pub done: Done,
    /// The partner (by external id) something waits for in the outbox.
    pub deliver: Option<String>,
    /// Words the screen found something in: not kept, not sent, and
    /// answered by the crisis path.
    pub withheld: Option<crate::safety::Hit>,
}

impl Carried {
    pub fn just(done: Done) -> Carried {
        Carried {
            done,
            deliver: None,
            withheld: None,
        }
    }
}

/// Where a person stands, as they themselves may see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    NotPaired {
        invite_waiting: bool,
    },
    Paired {
        since: Timestamp,
        sent_today: i64,
        /// A request to talk from their partner waits for an answer.
        talk_waiting: bool,
        /// The one thing this week, if one is agreed or proposed.
        shared: Option<Shared>,
    },
}

/// "Our one thing this week", as one partner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shared {
    pub text: String,
    pub mine: bool,
    pub accepted: Option<bool>,
}

/// The words and buttons for what pairing did, where they will be read.
pub fn told(done: &Done, edge: Edge) -> Reply {
    let none = Vec::new;
    match done {
        Done::Status(status) => Reply::new(status_text(status, edge), none()),
        Done::Invited { code, expires } => Reply::new(
            format!(
                "Here is your invite code: **{code}**\nGive it to your partner yourself, in \
                 person or however you usually talk. It works once, until {} (UTC). {}\n\
                 Pair only if you both want to; nothing is shared until one of you chooses to \
                 send something.",
                expires.strftime("%-d %B %H:%M"),
                match edge {
                    Edge::Discord => "They enter it with /pair join, or from the menu.",
                    Edge::Terminal => "They enter it under pairing in the menu.",
                }
            ),
            none(),
        ),
        Done::Held => Reply::new(
            STATEMENT,
            vec![
                button("confirm", "Yes, pair us"),
                button("decline", "No, not now"),
            ],
        ),
        Done::Paired => Reply::new(
            "You're paired. Either of you can now send the other an appreciation, your small \
             action for today, or a request to talk, a few times a day. Nothing else is shared. \
             You can end it at any time, and your partner won't be told.",
            none(),
        ),
        Done::Declined => Reply::new(
            "All right, you're not paired, and nothing has been shared. That code won't work \
             again; if you ever want to pair, your partner can make a new one.",
            none(),
        ),
        Done::Drafted { kind: None, .. } => Reply::new(
            "What kind of message is this?",
            Kind::WRITTEN
                .iter()
                .map(|k| button(&format!("kind:{}", k.as_str()), k.label()))
                .chain(std::iter::once(button("discard", "Don't send it")))
                .collect(),
        ),
        Done::Drafted {
            kind: Some(kind),
            text,
        } => Reply::new(
            preview(*kind, text),
            vec![
                button("send", "Send it"),
                button("discard", "Don't send it"),
            ],
        ),
        Done::Discarded => Reply::new("All right, nothing was sent.", none()),
        Done::Sent { left, .. } => Reply::new(
            format!(
                "Sent. Your partner will find it in their messages from mend. {}",
                match left {
                    0 => "That was your last one for today.".to_owned(),
                    1 => "You can send one more today.".to_owned(),
                    n => format!("You can send {n} more today."),
                }
            ),
            none(),
        ),
        Done::Withheld => Reply::new(
            "I haven't passed that on to your partner. What you wrote sounded like it might be \
             about something hard, and that matters more than any message. If you want to \
             talk about it, I'm here; the people below can help too.",
            none(),
        ),
        Done::Ended => Reply::new(
            "Pairing has ended. Your partner hasn't been told, and nothing more will pass \
             between you through mend. If you like, you can also stop them from pairing with \
             you again.",
            vec![button("block", "Stop them pairing with me again")],
        ),
        Done::Blocked => Reply::new(
            "Done: they can't pair with you again through mend. They won't be told.",
            none(),
        ),
        Done::Proposed => Reply::new(
            "Proposed. Your partner can accept it or not; either way is fine. Each of you \
             answers for yourself in your own check-ins, and neither of you sees the other's \
             answers.",
            none(),
        ),
        Done::Answered { accept: true } => Reply::new(
            "Accepted: that's your one thing together this week. Your partner will hear that \
             you accepted, and nothing else.",
            none(),
        ),
        Done::Answered { accept: false } => Reply::new(
            "All right, not this one. Your partner will hear only that it isn't this week's.",
            none(),
        ),
        Done::Refused(why) => Reply::new(refusal_text(why, edge), none()),
    }
}

fn refusal_text(why: &Refusal, edge: Edge) -> String {
    match why {
        Refusal::NoConsent => match edge {
            Edge::Discord => {
                "Pairing keeps what you send, so it needs you to have agreed to \
                mend keeping what you write. You can say yes under \"About mend\" in the menu \
                (type menu), where mend explains what it keeps. There's no rush."
            }
            Edge::Terminal => {
                "Pairing keeps what you send, so it needs you to have agreed to \
                mend keeping what you write. You can say yes under \"About mend\" in the menu, \
                where mend explains what it keeps. There's no rush."
            }
        }
        .to_owned(),
        Refusal::AlreadyPaired => "You're already paired. You can be paired with one person \
            at a time; ending the pairing you have comes first."
            .to_owned(),
        Refusal::NotActive => "This connection isn't active, so nothing was sent.".to_owned(),
        Refusal::CodeDidNotWork => "That code didn't work. Codes work once, for a day; check \
            it with your partner, or ask them for a new one."
            .to_owned(),
        Refusal::TooManyTries => "That's as many codes as can be tried today. Please try again \
            tomorrow, with a code checked with your partner."
            .to_owned(),
        Refusal::TooManyInvites => "That's as many invite codes as mend makes in a day. The \
            last one still works until it expires."
            .to_owned(),
        Refusal::TooManySends => format!(
            "You've sent {SENDS_PER_DAY} messages today, which is as many as pairing allows in \
             a day. Tomorrow there will be room again; small and steady is plenty."
        ),
        Refusal::Empty => {
            "There was nothing to send. Write a few words whenever you're ready.".to_owned()
        }
        Refusal::TooLong { length } => format!(
            "That's {length} characters; a message to your partner can be up to \
             {MAX_SEND_CHARS}. Could you say it more briefly? Nothing was sent."
        ),
        Refusal::NothingWaiting => {
            "That has already been dealt with, so nothing changed.".to_owned()
        }
        Refusal::InviterUnavailable => "That code didn't work. Codes work once, for a day; \
            check it with your partner, or ask them for a new one."
            .to_owned(),
    }
}

fn status_text(status: &Status, edge: Edge) -> String {
    match status {
        Status::NotPaired { invite_waiting } => {
            let how = match edge {
                Edge::Discord => {
                    "/pair invite gives you a code for your partner, and /pair join \
                    takes theirs; both are in the menu too."
                }
                Edge::Terminal => {
                    "Under pairing in the menu you can get a code for your partner, \
                    or enter theirs."
                }
            };
            let waiting = if *invite_waiting {
                " An invite code of yours is still waiting to be used."
            } else {
                ""
            };
            format!(
                "You're not paired.{waiting} Pairing lets two partners who both use mend send \
                 each other a few chosen words; nothing else is ever shared. {how}"
            )
        }
        Status::Paired {
            since,
            sent_today,
            talk_waiting,
            shared,
        } => {
            let mut text = format!(
                "You're paired, since {}. You've sent {sent_today} of {SENDS_PER_DAY} messages \
                 today. Only what either of you chooses to send is shared.",
                since.strftime("%-d %B %Y")
            );
            if *talk_waiting {
                text.push_str(
                    " Your partner asked to talk; you can answer with a time, or with not yet.",
                );
            }
            if let Some(shared) = shared {
                let state = match (shared.mine, shared.accepted) {
                    (_, Some(true)) => "agreed",
                    (true, None) => "proposed by you, waiting for your partner",
                    (false, None) => "proposed by your partner, waiting for your answer",
                    (_, Some(false)) => "not taken up",
                };
                text.push_str(&format!(
                    "\nOur one thing this week: \"{}\" ({state}).",
                    shared.text
                ));
            }
            text
        }
    }
}

/// What mend tells a partner when the other confirms an invite, or
/// proposes or answers the one thing this week. Marked as from their
/// partner; quotes nothing but what the sender wrote for them.
pub fn notice_for_partner(done: &Done, text: Option<&str>) -> Option<String> {
    match done {
        Done::Paired => Some(
            "**From mend.** Your partner entered your invite code and confirmed: you're now \
             paired. Only what either of you chooses to send is shared, and either of you can \
             end it at any time."
                .to_owned(),
        ),
        Done::Proposed => {
            let mut out = String::from(
                "**From your partner, through mend.** They proposed a one thing for the two of you \
                 this week:\n",
            );
            for line in text.unwrap_or_default().lines() {
                out.push_str("> ");
                out.push_str(line);
                out.push('\n');
            }
            out.push_str(
                "You can accept it or not; either is fine, and they will hear only which.",
            );
            Some(out)
        }
        Done::Answered { accept } => Some(if *accept {
            "**From your partner, through mend.** They accepted your one thing for this week."
                .to_owned()
        } else {
            "**From your partner, through mend.** They would rather not take up that one \
             thing this week."
                .to_owned()
        }),
        _ => None,
    }
}

/// Offered, privately, to someone paired whose words raised a crisis flag
/// or who told mend they may not be safe.
pub fn offer_end() -> Reply {
    Reply::new(
        "You're paired with someone through mend. If it would help you feel safer, you can \
         end pairing now, in one step. They won't be told, and nothing more will pass between \
         you through mend.",
        vec![button("end", "End pairing now")],
    )
}

/// The buttons a partner gets under a message that asks something of them.
pub fn partner_buttons(kind: Option<Kind>, proposal: bool) -> Vec<ChoiceButton> {
    if proposal {
        return vec![button("accept", "Accept"), button("refuse", "Not this one")];
    }
    match kind {
        Some(Kind::Talk) => vec![button("not-yet", "Not yet")],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_ten_unambiguous_symbols_in_two_groups() {
        let code = code_from([0, 1, 31, 32, 255, 7, 8, 9, 10, 11]);
        assert_eq!(code, "AB9A9-HJKLM");
        for _ in 0..50 {
            let code = new_code();
            assert_eq!(code.len(), CODE_LEN + 1);
            assert!(!code.contains(['I', 'O', '0', '1']));
            assert_eq!(normalise_code(&code).map(|c| c.len()), Some(CODE_LEN));
        }
    }

    #[test]
    fn typed_codes_are_read_loosely_but_only_as_codes() {
        assert_eq!(
            normalise_code(" abz a9-hjk lm "),
            Some("ABZA9HJKLM".to_owned())
        );
        assert_eq!(normalise_code("ABZA9HJKL"), None);
        assert_eq!(normalise_code("ABZA9HJKLO"), None);
        assert_eq!(normalise_code("ABZA9HJKLMM"), None);
        assert_eq!(normalise_code("ÀBZA9HJKLM"), None);
        assert_eq!(normalise_code(""), None);
    }

    #[test]
    fn a_partner_sees_the_words_quoted_and_marked_as_theirs() {
        let text = framed(Kind::Talk, "money\n> mend says hi");
        assert!(text.starts_with("**From your partner, through mend.**"));
        assert!(text.contains("> Could we talk about money\n"));
        assert!(text.contains("> > mend says hi this week?\n"));
        let not_yet = framed(Kind::NotYet, "ignored");
        assert!(!not_yet.contains("ignored"));
    }

    #[test]
    fn sends_are_cleaned_and_held_to_their_length() {
        assert_eq!(clean_text("  hi\u{0}\n "), Ok("hi".to_owned()));
        assert_eq!(clean_text(" \u{7} "), Err(Refusal::Empty));
        let long = "é".repeat(MAX_SEND_CHARS + 1);
        assert_eq!(
            clean_text(&long),
            Err(Refusal::TooLong {
                length: MAX_SEND_CHARS + 1
            })
        );
        assert!(clean_text(&"é".repeat(MAX_SEND_CHARS)).is_ok());
    }

    #[test]
    fn every_button_parses_back_to_its_act() {
        let mut ids = Vec::new();
        for done in [
            Done::Held,
            Done::Drafted {
                kind: None,
                text: String::new(),
            },
            Done::Drafted {
                kind: Some(Kind::Talk),
                text: "x".into(),
            },
            Done::Ended,
        ] {
            ids.extend(
                told(&done, Edge::Discord)
                    .choices()
                    .iter()
                    .map(|c| c.id.clone()),
            );
        }
        ids.extend(
            partner_buttons(Some(Kind::Talk), false)
                .into_iter()
                .map(|c| c.id),
        );
        ids.extend(partner_buttons(None, true).into_iter().map(|c| c.id));
        ids.extend(offer_end().choices().iter().map(|c| c.id.clone()));
        for id in &ids {
            assert!(pressed(id).is_some(), "{id}");
            assert_eq!(crate::buttons::kind(id), crate::buttons::Kind::Pair, "{id}");
        }
        assert_eq!(pressed("pair:kind:nothing"), None);
        assert_eq!(pressed("pair:"), None);
        assert_eq!(pressed("c:partner:hub:1"), None);
    }

    #[test]
    fn the_refusal_of_a_code_never_says_why() {
        let bad = refusal_text(&Refusal::CodeDidNotWork, Edge::Discord);
        assert_eq!(
            bad,
            refusal_text(&Refusal::InviterUnavailable, Edge::Discord)
        );
        let ended = refusal_text(&Refusal::NotActive, Edge::Discord);
        assert_eq!(ended, "This connection isn't active, so nothing was sent.");
    }

    #[test]
    fn the_statement_says_what_is_not_shared_and_about_pressure() {
        assert!(STATEMENT.contains("Never pair because someone is pressuring you to"));
        assert!(STATEMENT.contains("not your check-ins"));
        assert!(STATEMENT.contains("the other is not told"));
    }
}
