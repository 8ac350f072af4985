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
    reminder: String,
    not_a_crisis_service: String,
    closing: String,
    openings: BTreeMap<Category, String>,
    contacts: Vec<Contact>,
}

/// A service to hand someone on to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    pub name: String,
    pub how: String,
    pub when: String,
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

/// The crisis words and contacts, validated.
#[derive(Debug, Clone)]
pub struct CrisisReplies {
    reminder: String,
    full: BTreeMap<Category, String>,
}

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
            ("reminder", &raw.reminder),
            ("not_a_crisis_service", &raw.not_a_crisis_service),
            ("closing", &raw.closing),
        ] {
            if value.trim().is_empty() {
                return Err(invalid(
                    None,
                    format!("`{key}` is empty; expected a sentence"),
                ));
            }
        }
        for (i, contact) in raw.contacts.iter().enumerate() {
            if contact.name.trim().is_empty() || contact.how.trim().is_empty() {
                return Err(invalid(
                    None,
                    format!("contact {} needs a `name` and a `how`", i + 1),
                ));
            }
        }
        let mut full = BTreeMap::new();
        for category in Category::ALL {
            let Some(opening) = raw.openings.get(&category).filter(|o| !o.trim().is_empty()) else {
                return Err(invalid(
                    None,
                    format!("`openings.{category}` is missing; every category needs an opening"),
                ));
            };
            let contacts: Vec<&Contact> = raw
                .contacts
                .iter()
                .filter(|c| c.categories.contains(&category))
                .collect();
            if contacts.is_empty() {
                return Err(invalid(
                    None,
                    format!("no contact lists `{category}`; every category needs at least one"),
                ));
            }
            let mut text = format!(
                "{}\n\n{}\n",
                opening.trim(),
                raw.not_a_crisis_service.trim()
            );
            for contact in contacts {
                text.push_str(&format!(
                    "• **{}**: {} ({})\n",
                    contact.name.trim(),
                    contact.how.trim(),
                    contact.when.trim()
                ));
            }
            text.push('\n');
            text.push_str(raw.closing.trim());
            let length = text.chars().count();
            if length > MAX_CHARS {
                return Err(invalid(
                    None,
                    format!(
                        "the `{category}` reply is {length} characters; Discord shows at most {MAX_CHARS}"
                    ),
                ));
            }
            full.insert(category, text);
        }
        Ok(CrisisReplies {
            reminder: raw.reminder.trim().to_owned(),
            full,
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

    /// The whole reply for a category: opening, contacts, closing.
    pub fn full(&self, category: Category) -> &str {
        // Validation guarantees every category has one.
        self.full
            .get(&category)
            .map_or(&self.reminder, String::as_str)
    }

    /// The short reminder for someone who had the full reply moments ago.
    pub fn reminder(&self) -> &str {
        &self.reminder
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_replies_give_each_category_its_contacts() {
        let replies = CrisisReplies::embedded();
        let self_harm = replies.full(Category::SelfHarm);
        assert!(self_harm.contains("999"));
        assert!(self_harm.contains("116 123"));
        assert!(self_harm.contains("85258"));
        assert!(self_harm.contains("111"));
        assert!(self_harm.contains("not a crisis service"));
        let abuse = replies.full(Category::Abuse);
        assert!(abuse.contains("0808 2000 247"));
        assert!(abuse.contains("0808 801 0327"));
        let sexual = replies.full(Category::SexualViolence);
        assert!(sexual.contains("Rape Crisis"));
        assert!(!self_harm.contains("Rape Crisis"));
        for category in Category::ALL {
            assert!(replies.full(category).chars().count() <= MAX_CHARS);
        }
    }

    #[test]
    fn a_category_without_contacts_is_refused_by_name() {
        let text = EMBEDDED_CRISIS_TOML.replace("\"sexual_violence\"]", "]");
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
}
