//! The crisis reply: what mend says at once when the screen finds danger,
//! and whom it hands the person on to. The words and the contacts are data
//! (`prompts/crisis.toml`) so a counsellor can review them; this module only
//! checks them at load and puts them together.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::Category;

/// The built-in contacts, checked by a test.
pub const EMBEDDED_CRISIS_TOML: &str = include_str!("../../prompts/crisis.toml");

/// Discord's message limit; a crisis reply must always fit.
const MAX_CHARS: usize = 2000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawContacts {
    last_checked: String,
    not_a_crisis_service: String,
    later: String,
    closing: String,
    ask_safe: String,
    openings: BTreeMap<Category, String>,
    reminders: BTreeMap<Category, String>,
    asks: BTreeMap<Category, String>,
    contacts: Vec<Contact>,
}

/// A service to hand someone on to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    pub name: String,
    pub how: String,
    pub when: String,
    /// Open around the clock (verified). Lines that are not are never
    /// listed under "right now".
    pub always: bool,
    pub categories: Vec<Category>,
}

#[derive(Debug, thiserror::Error)]
pub enum CrisisError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Invalid {
        path: PathBuf,
        line: Option<usize>,
        message: String,
    },
}

/// The words a category's reply uses, put together at load.
#[derive(Debug, Clone)]
struct Words {
    full: String,
    reminder: String,
    ask: String,
}

/// The crisis words and contacts, validated.
#[derive(Debug, Clone)]
pub struct CrisisReplies {
    by_category: BTreeMap<Category, Words>,
    ask_safe: String,
    last_checked: String,
}

/// What a set-hours line must say about its hours.
const HOURS_WORDS: [&str; 4] = ["weekdays", "evenings", "check the times", "set hours"];

impl CrisisReplies {
    pub fn from_toml(text: &str, path: &Path) -> Result<CrisisReplies, CrisisError> {
        let invalid = |line, message| CrisisError::Invalid {
            path: path.to_owned(),
            line,
            message,
        };
        let raw: RawContacts = toml::from_str(text).map_err(|err| {
            let (line, message) = crate::toml_error::describe(text, &err);
            invalid(line, message)
        })?;
        for (key, value) in [
            ("not_a_crisis_service", &raw.not_a_crisis_service),
            ("later", &raw.later),
            ("closing", &raw.closing),
            ("ask_safe", &raw.ask_safe),
        ] {
            if value.trim().is_empty() {
                return Err(invalid(
                    None,
                    format!("`{key}` is empty; expected a sentence"),
                ));
            }
        }
        if !is_date(raw.last_checked.trim()) {
            return Err(invalid(
                None,
                format!(
                    "`last_checked` is {:?}; expected the date the contacts were checked, as YYYY-MM-DD",
                    raw.last_checked
                ),
            ));
        }
        for (i, contact) in raw.contacts.iter().enumerate() {
            if contact.name.trim().is_empty() || contact.how.trim().is_empty() {
                return Err(invalid(
                    None,
                    format!("contact {} needs a `name` and a `how`", i + 1),
                ));
            }
            let when = contact.when.to_lowercase();
            if !contact.always && !HOURS_WORDS.iter().any(|w| when.contains(w)) {
                return Err(invalid(
                    None,
                    format!(
                        "contact {:?} is not open 24/7, so its `when` must say when: one of {}",
                        contact.name,
                        HOURS_WORDS.map(|w| format!("{w:?}")).join(", ")
                    ),
                ));
            }
        }
        let mut by_category = BTreeMap::new();
        for category in Category::ALL {
            let line_for = |table: &BTreeMap<Category, String>, name: &str| {
                table
                    .get(&category)
                    .map(|t| t.trim().to_owned())
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| {
                        invalid(
                            None,
                            format!("`{name}.{category}` is missing; every category needs one"),
                        )
                    })
            };
            let opening = line_for(&raw.openings, "openings")?;
            let reminder = line_for(&raw.reminders, "reminders")?;
            let ask = line_for(&raw.asks, "asks")?;
            let listed = |always: bool| {
                raw.contacts
                    .iter()
                    .filter(move |c| c.always == always && c.categories.contains(&category))
            };
            if listed(true).next().is_none() {
                return Err(invalid(
                    None,
                    format!(
                        "no contact open 24/7 (`always = true`) lists `{category}`; every category needs one"
                    ),
                ));
            }
            let bullet = |c: &Contact| {
                format!(
                    "• **{}**: {} ({})\n",
                    c.name.trim(),
                    c.how.trim(),
                    c.when.trim()
                )
            };
            let mut text = format!("{opening}\n\n{}\n", raw.not_a_crisis_service.trim());
            text.extend(listed(true).map(bullet));
            if listed(false).next().is_some() {
                text.push_str(raw.later.trim());
                text.push('\n');
                text.extend(listed(false).map(bullet));
            }
            text.push('\n');
            text.push_str(raw.closing.trim());
            for (what, words) in [
                ("reply", &text),
                ("reminder", &reminder),
                ("question", &ask),
            ] {
                let length = words.chars().count();
                if length > MAX_CHARS {
                    return Err(invalid(
                        None,
                        format!(
                            "the `{category}` {what} is {length} characters; Discord shows at most {MAX_CHARS}"
                        ),
                    ));
                }
            }
            by_category.insert(
                category,
                Words {
                    full: text,
                    reminder,
                    ask,
                },
            );
        }
        Ok(CrisisReplies {
            by_category,
            ask_safe: raw.ask_safe.trim().to_owned(),
            last_checked: raw.last_checked.trim().to_owned(),
        })
    }

    pub fn load(path: &Path) -> Result<CrisisReplies, CrisisError> {
        let text = std::fs::read_to_string(path).map_err(|source| CrisisError::Read {
            path: path.to_owned(),
            source,
        })?;
        CrisisReplies::from_toml(&text, path)
    }

    pub fn embedded() -> CrisisReplies {
        CrisisReplies::from_toml(EMBEDDED_CRISIS_TOML, Path::new("prompts/crisis.toml"))
            .expect("the built-in prompts/crisis.toml is valid (checked by a test)")
    }

    fn words(&self, category: Category) -> &Words {
        // Validation guarantees every category has its words.
        &self.by_category[&category]
    }

    /// The whole reply for a category: opening, contacts, closing.
    pub fn full(&self, category: Category) -> &str {
        &self.words(category).full
    }

    /// The short reminder for someone who had the full reply moments ago,
    /// naming the category's own line.
    pub fn reminder(&self, category: Category) -> &str {
        &self.words(category).reminder
    }

    /// The direct question for a worrying but unclear message.
    pub fn ask(&self, category: Category) -> &str {
        &self.words(category).ask
    }

    /// Said when someone answers the question "No, I'm safe".
    pub fn ask_safe(&self) -> &str {
        &self.ask_safe
    }

    /// When the contacts were last checked (YYYY-MM-DD).
    pub fn last_checked(&self) -> &str {
        &self.last_checked
    }
}

fn is_date(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
        && text[5..7]
            .parse::<u8>()
            .is_ok_and(|m| (1..=12).contains(&m))
        && text[8..10]
            .parse::<u8>()
            .is_ok_and(|d| (1..=31).contains(&d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_category_gets_its_own_contacts() {
        let replies = CrisisReplies::embedded();
        for category in Category::ALL {
            let full = replies.full(category);
            assert!(full.contains("999"), "{category}");
            assert!(full.contains("116 123"), "{category}");
            assert!(full.contains("not a crisis service"), "{category}");
            assert!(full.chars().count() <= MAX_CHARS, "{category}");
            assert!(replies.reminder(category).contains("999"), "{category}");
            assert!(replies.ask(category).ends_with('?'), "{category}");
        }
        let suicide = replies.full(Category::Suicide);
        assert!(
            suicide.contains("0808 808 8000"),
            "Lifeline, Northern Ireland"
        );
        assert!(suicide.contains("0800 068 4141"), "Papyrus");
        assert!(suicide.contains("jo@samaritans.org"));
        assert!(!suicide.contains("Rape Crisis"));
        let self_harm = replies.full(Category::SelfHarm);
        assert!(self_harm.contains("A&E"), "an overdose needs medical help");
        assert!(!self_harm.to_lowercase().contains("suicid"), "{self_harm}");
        let abuse = replies.full(Category::Abuse);
        for line in [
            "0808 2000 247",
            "0808 80 10 800",
            "0800 027 1234",
            "0808 802 1414",
        ] {
            assert!(abuse.contains(line), "{line}");
        }
        let sexual = replies.full(Category::SexualViolence);
        assert!(sexual.contains("0808 500 2222"));
        assert!(sexual.contains("08088 01 03 02"), "Rape Crisis Scotland");
        assert!(replies.reminder(Category::Abuse).contains("0808 2000 247"));
        assert!(
            replies
                .reminder(Category::SexualViolence)
                .contains("0808 500 2222")
        );
        assert!(!replies.reminder(Category::Abuse).contains("116 123"));
    }

    #[test]
    fn set_hours_lines_are_never_under_right_now() {
        let replies = CrisisReplies::embedded();
        for category in Category::ALL {
            let full = replies.full(category);
            let (now, later) = full.split_once("set times").unwrap_or((full, ""));
            for name in [
                "Men's Advice Line",
                "Galop",
                "Rape Crisis Scotland",
                "Respect",
            ] {
                assert!(
                    !now.contains(name),
                    "{name} listed as open now for {category}"
                );
                let _ = later;
            }
        }
        assert!(replies.full(Category::Abuse).contains("Men's Advice Line"));
        assert!(is_date(replies.last_checked()));
    }

    #[test]
    fn a_set_hours_line_must_say_its_hours() {
        let text = EMBEDDED_CRISIS_TOML.replace(
            "when = \"weekdays, for men facing domestic abuse; check the times on their site\"",
            "when = \"for men facing domestic abuse\"",
        );
        let err = CrisisReplies::from_toml(&text, Path::new("crisis.toml")).unwrap_err();
        assert!(err.to_string().contains("Men's Advice Line"), "{err}");
    }

    #[test]
    fn a_category_without_a_round_the_clock_contact_is_refused_by_name() {
        let text = EMBEDDED_CRISIS_TOML.replace("\"abuse\", \"sexual_violence\"]", "\"abuse\"]");
        let text = text.replace("categories = [\"sexual_violence\"]", "categories = []");
        let err = CrisisReplies::from_toml(&text, Path::new("crisis.toml")).unwrap_err();
        assert!(err.to_string().contains("sexual_violence"), "{err}");
    }

    #[test]
    fn an_unknown_key_names_the_file_and_line() {
        let text = format!("{EMBEDDED_CRISIS_TOML}\nremider = \"x\"\n");
        let err = CrisisReplies::from_toml(&text, Path::new("crisis.toml")).unwrap_err();
        let message = err.to_string();
        assert!(message.starts_with("crisis.toml:"), "{message}");
        assert!(message.contains("remider"), "{message}");
    }

    #[test]
    fn a_bad_date_is_refused() {
        let text = EMBEDDED_CRISIS_TOML
            .replace("last_checked = \"2026-12-01\"", "last_checked = \"soon\"");
        let err = CrisisReplies::from_toml(&text, Path::new("crisis.toml")).unwrap_err();
        assert!(err.to_string().contains("last_checked"), "{err}");
    }
}
