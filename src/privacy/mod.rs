//! A person's rights over what mend keeps, in one folder: what an export
//! holds and who asked for an erasure (here, pure types), how long things
//! are kept ([`retention`]), the export and erasure queries ([`queries`]),
//! and Discord's `/export` and `/forget` (`discord`).

pub(crate) mod discord;
pub mod queries;
pub mod retention;

use serde::Serialize;

use crate::crypto::{Cipher, Field};

/// Everything mend holds about one person, opened, as the export file.
#[derive(Debug, Clone, Serialize)]
pub struct Export {
    pub readme: Readme,
    pub exported_at: String,
    pub person: Person,
    pub conversation: Option<Conversation>,
    pub answers: Vec<Answer>,
    pub facts: Vec<Fact>,
    pub journal: Vec<JournalNote>,
    pub checkins: Option<Checkins>,
    pub checkin_days: Vec<CheckinDay>,
    pub flags: Vec<FlagRecord>,
    pub events: Vec<EventRecord>,
    pub pairing: crate::pairing::queries::Exported,
}

impl Export {
    /// The file people receive: pretty JSON, ending in a newline. The same
    /// from `/export`, the copy offered before erasure and `mend export`.
    pub fn to_json(&self) -> String {
        // Plain data with string keys: serialising it cannot fail; were it
        // ever to, an empty object is sent rather than a crash.
        let mut json = serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".into());
        json.push('\n');
        json
    }

    /// How many sealed values in it did not open.
    pub fn not_opened(&self) -> usize {
        let answers = self
            .answers
            .iter()
            .map(|a| Some(&a.value))
            .chain(self.facts.iter().map(|f| Some(&f.value)))
            .chain(self.journal.iter().map(|n| Some(&n.text)));
        let days = self.checkin_days.iter().map(|d| d.note.as_ref());
        let flags = self
            .flags
            .iter()
            .flat_map(|f| [f.excerpt.as_ref(), f.moderator_note.as_ref()]);
        let question = self.person.pending_question.as_ref().map(|q| &q.excerpt);
        let pairing = self
            .pairing
            .sent
            .iter()
            .chain(&self.pairing.received)
            .chain(&self.pairing.proposed)
            .map(|m| Some(&m.text));
        answers
            .chain(days)
            .chain(flags)
            .chain(pairing)
            .chain(std::iter::once(question))
            .filter(|value| *value == Some(&Opened::NotOpened))
            .count()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Person {
    pub id: String,
    pub consent: String,
    pub situation: Option<String>,
    pub first_seen: String,
    pub last_seen: Option<String>,
    pub last_crisis_reply: Option<String>,
    /// When mend last asked whether they were safe.
    pub last_asked: Option<String>,
    /// A question about their safety still waiting for an answer: the kind
    /// of danger and the excerpt of the words that prompted it.
    pub pending_question: Option<PendingQuestion>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PendingQuestion {
    pub category: String,
    pub excerpt: Opened,
}

/// What an export says in place of a sealed value that would not open.
pub const NOT_OPENED_EXPORT: &str = "mend could not open this. It was damaged, or moved here \
from another place in mend's database, which its seal does not allow, so mend cannot say what \
it was. Nothing else in this file is affected.";

/// A sealed value in the export: its words, opened, or a note that it would
/// not open, so one damaged value costs only itself, never the whole copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened {
    Text(String),
    NotOpened,
}

impl Opened {
    pub(crate) fn open(
        cipher: &Cipher,
        field: Field<'_>,
        sealed: &str,
        column: &'static str,
    ) -> Opened {
        match cipher.open(field, sealed) {
            Ok(text) => Opened::Text(text),
            Err(_) => {
                tracing::warn!(column, "a sealed value did not open; exported as such");
                Opened::NotOpened
            }
        }
    }
}

impl Serialize for Opened {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            Opened::Text(text) => serializer.serialize_str(text),
            Opened::NotOpened => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("not_opened", NOT_OPENED_EXPORT)?;
                map.end()
            }
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Conversation {
    pub flow: String,
    pub step: String,
    pub paused: bool,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Answer {
    pub flow: String,
    pub name: String,
    pub value: Opened,
    pub updated_at: String,
}

/// Something a person chose or wrote that is theirs across conversations
/// (the small action they chose, a boundary they named).
#[derive(Debug, Clone, Serialize)]
pub struct Fact {
    pub name: String,
    pub value: Opened,
    pub updated_at: String,
}

/// A note in the person's journal, or the one mend offered to keep.
#[derive(Debug, Clone, Serialize)]
pub struct JournalNote {
    pub written_at: String,
    pub text: Opened,
    /// False for words mend offered to keep and the person has not
    /// answered yet; they go at the person's next turn unless kept.
    pub kept: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Checkins {
    pub local_time: String,
    pub zone: String,
    pub on: bool,
    pub next_due: String,
    pub paused_because: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckinDay {
    pub day: String,
    /// Which of the day's check-ins this is, from 1.
    pub entry: i64,
    pub scale: Option<i64>,
    pub small_action: Option<String>,
    pub note: Option<Opened>,
    pub answered_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct FlagRecord {
    pub category: String,
    pub severity: String,
    pub excerpt: Option<Opened>,
    pub status: String,
    pub moderator_note: Option<Opened>,
    pub raised_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct EventRecord {
    pub kind: String,
    pub flow: Option<String>,
    pub at: String,
}

/// What each part of the export means, in plain words. It travels inside
/// the file, so the file explains itself.
const README: [(&str, &str); 13] = [
    (
        "exported_at",
        "When this copy was made (UTC). It is everything mend held about you at that moment.",
    ),
    (
        "person",
        "Who you are to mend (your Discord id), whether you agreed to mend keeping your answers, \
         the situation you chose, and when you first and last talked with it.",
    ),
    (
        "conversation",
        "Where you are in a conversation: the flow and step you will pick up from.",
    ),
    (
        "answers",
        "What you typed in answer to mend's questions, by conversation and question.",
    ),
    (
        "facts",
        "What you chose or wrote that mend brings back in later conversations and check-ins \
         (for example the small action you chose), by name.",
    ),
    (
        "journal",
        "Notes you chose to keep from words you typed to mend, with when you wrote them. A note \
         marked not kept is one mend offered to keep and you had not answered yet.",
    ),
    (
        "checkins",
        "Your daily check-in setting: the local time and time zone, whether it is on, and when \
         the next one is due.",
    ),
    (
        "checkin_days",
        "Your check-in answers, one for each check-in you answered (a day with two has two, \
         numbered by entry): the 1 to 5 scale, whether your small action happened, and any \
         line you added.",
    ),
    (
        "flags",
        "Times a message of yours suggested someone might be in danger: what kind, the short \
         excerpt the moderators saw (erased some days after they finish), what they did and any \
         note they left.",
    ),
    (
        "events",
        "A log of what happened when (a conversation started, an answer was saved), without any \
         of your words.",
    ),
    (
        "pairing",
        "Pairing with a partner: when each pairing began, whether it ended (and when, if you \
         ended it), what you sent your partner \
         and what they sent you (with when), any \"one thing this week\" you proposed, and how \
         many people you stopped from pairing with you again. Nothing else of yours was ever \
         shared with them.",
    ),
    (
        "times",
        "All times are UTC, written as year-month-day, then T, then the time.",
    ),
    (
        "not_opened",
        "Where something you wrote should be, this says that mend could not open it: it was \
         damaged, or moved from another place in mend's database. Everything else is as mend \
         holds it.",
    ),
];

/// The readme, written into the file as an object of field: meaning.
#[derive(Debug, Clone, Copy)]
pub struct Readme;

impl Serialize for Readme {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(README.len()))?;
        for (field, meaning) in README {
            map.serialize_entry(field, meaning)?;
        }
        map.end()
    }
}

/// Who asked for an erasure, for the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErasedBy {
    /// The person themselves (`/forget`).
    Person,
    /// The operator, for a request that came another way (`mend forget`).
    Operator,
    /// The retention schedule: the person had been inactive too long.
    Retention,
}

impl ErasedBy {
    pub(crate) fn actor(self) -> &'static str {
        match self {
            ErasedBy::Person => "person",
            ErasedBy::Operator => "operator",
            ErasedBy::Retention => "retention",
        }
    }
}

/// What an erasure leaves to tidy outside the database: the moderators'
/// notices about the person's flags, which quote their excerpts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Erased {
    pub notices: Vec<(String, String)>,
}
