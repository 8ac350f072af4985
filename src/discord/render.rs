//! A [`Reply`] as Discord shows it: the text, its choices as buttons (at most
//! four rows of five) and a last row of three link buttons for Relate, COSRT
//! and BACP. Nothing mend sends may ping anyone, so every builder here sets
//! `allowed_mentions` to allow nothing.
//!
//! Discord's limits are held here, where a message takes its shape, so
//! nothing built elsewhere can be refused for its size: text longer than one
//! message is sent as several (cut at a paragraph, a line or a word), labels
//! are shortened, and choices beyond what fits are left off (flow validation
//! keeps counsellors' steps within these limits; this is the last guard).

use serenity::all::{
    ActionRow, ActionRowComponent, ButtonKind, ButtonStyle, CreateActionRow, CreateAllowedMentions,
    CreateButton, CreateInteractionResponseMessage, CreateMessage, EditInteractionResponse,
};

use tracing::warn;

use crate::referrals::{LINKS, Reply};

const BUTTONS_PER_ROW: usize = 5;

/// The most characters Discord shows in one message.
pub const CONTENT_CHARS: usize = 2000;

/// The most characters a button's label holds.
pub const LABEL_CHARS: usize = 80;

/// Rows of choices in one message: Discord allows five rows, and the last
/// holds the service links.
const CHOICE_ROWS: usize = 4;

/// The most characters in a button's custom id.
const CUSTOM_ID_CHARS: usize = 100;

/// Allows no mentions at all: no @everyone, no roles, no users, no replies.
pub fn no_mentions() -> CreateAllowedMentions {
    CreateAllowedMentions::new()
        .everyone(false)
        .all_users(false)
        .all_roles(false)
        .replied_user(false)
}

/// The choice rows, then the link row.
pub fn components(reply: &Reply) -> Vec<CreateActionRow> {
    let fits: Vec<_> = reply
        .choices()
        .iter()
        .filter(|choice| {
            let fits = (1..=CUSTOM_ID_CHARS).contains(&choice.id.chars().count());
            if !fits {
                warn!("a choice's id does not fit Discord's limit; left off");
            }
            fits
        })
        .collect();
    if fits.len() > CHOICE_ROWS * BUTTONS_PER_ROW {
        warn!(
            choices = fits.len(),
            "more choices than one message can hold; the last are left off"
        );
    }
    let mut rows: Vec<CreateActionRow> = fits
        .chunks(BUTTONS_PER_ROW)
        .take(CHOICE_ROWS)
        .map(|chunk| {
            CreateActionRow::Buttons(
                chunk
                    .iter()
                    .map(|choice| {
                        CreateButton::new(&choice.id)
                            .label(shorten(&choice.label, LABEL_CHARS))
                            .style(ButtonStyle::Primary)
                    })
                    .collect(),
            )
        })
        .collect();
    rows.push(link_row());
    rows
}

/// Relate, COSRT and BACP as link buttons: the last row of every message.
pub fn link_row() -> CreateActionRow {
    CreateActionRow::Buttons(
        LINKS
            .iter()
            .map(|link| CreateButton::new_link(link.url).label(link.label))
            .collect(),
    )
}

/// A reply as the messages that carry it: its text in pieces Discord
/// accepts, the choices and links under the last. Never empty.
pub fn messages(reply: &Reply) -> Vec<CreateMessage> {
    let pieces = split(reply.text(), CONTENT_CHARS);
    let last = pieces.len() - 1;
    pieces
        .into_iter()
        .enumerate()
        .map(|(i, piece)| {
            let message = CreateMessage::new()
                .content(piece)
                .allowed_mentions(no_mentions());
            if i == last {
                message.components(components(reply))
            } else {
                message
            }
        })
        .collect()
}

/// A short reply as one message. Longer text is cut to fit; for replies
/// that can be long (a turn's), use [`messages`].
pub fn message(reply: &Reply) -> CreateMessage {
    CreateMessage::new()
        .content(fit(reply.text()))
        .components(components(reply))
        .allowed_mentions(no_mentions())
}

/// The answer to a slash command, `ephemeral` when used inside a server.
/// One message only, so text is cut to fit.
pub fn interaction_message(reply: &Reply, ephemeral: bool) -> CreateInteractionResponseMessage {
    CreateInteractionResponseMessage::new()
        .content(fit(reply.text()))
        .components(components(reply))
        .allowed_mentions(no_mentions())
        .ephemeral(ephemeral)
}

/// A deferred command's answer as one message, cut to fit.
pub fn edit_response(reply: &Reply) -> EditInteractionResponse {
    edit_piece(reply, &fit(reply.text()), true)
}

/// One piece of a reply as a deferred command's answer, with the reply's
/// buttons when it is the last piece.
pub fn edit_piece(reply: &Reply, piece: &str, last: bool) -> EditInteractionResponse {
    let edit = EditInteractionResponse::new()
        .content(fit(piece))
        .allowed_mentions(no_mentions());
    if last {
        edit.components(components(reply))
    } else {
        edit.components(Vec::new())
    }
}

/// `text` shown as written: every character Discord would read as
/// formatting, a mention, an emoji or a link (`*`, `_`, `|`, `<@…>`,
/// `@everyone`, `:name:`, `https://…`)
/// is escaped, so a person's words quoted to moderators cannot restyle the
/// notice or look like a mention.
pub fn as_written(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if matches!(
            c,
            '\\' | '*' | '_' | '~' | '|' | '`' | '>' | '<' | '@' | '#' | '[' | ']' | ':' | '-'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `text` in pieces of at most `max` characters, each cut at the last
/// paragraph break, line break or space in its second half (mid-word only
/// when there is none), so a long reply reads as several whole messages.
/// Only the whitespace at a cut is dropped. Never empty.
pub fn split(text: &str, max: usize) -> Vec<&str> {
    let max = max.max(2);
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some((end, _)) = rest.char_indices().nth(max) {
        let window = &rest[..end];
        let half = window.char_indices().nth(max / 2).map_or(0, |(i, _)| i);
        let cut = ["\n\n", "\n", " "]
            .iter()
            .find_map(|gap| window.rfind(gap).filter(|at| *at > half))
            .unwrap_or(end);
        let piece = rest[..cut].trim_end();
        if !piece.is_empty() {
            pieces.push(piece);
        }
        rest = rest[cut..].trim_start();
    }
    if !rest.is_empty() || pieces.is_empty() {
        pieces.push(rest);
    }
    pieces
}

/// `text` cut to one message, marked where cut.
pub fn fit(text: &str) -> String {
    if text.chars().count() <= CONTENT_CHARS {
        return text.to_owned();
    }
    warn!("a one-message answer was too long for Discord; cut to fit");
    let mut out = split(text, CONTENT_CHARS - 2)[0].to_owned();
    out.push_str("\n…");
    out
}

/// At most `max` characters, ending in an ellipsis when cut.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// The pressed message's rows with every answer button disabled, so an old
/// answer cannot be given twice; the service links stay usable.
pub fn disabled(rows: &[ActionRow]) -> Vec<CreateActionRow> {
    rows.iter()
        .map(|row| {
            CreateActionRow::Buttons(
                row.components
                    .iter()
                    .filter_map(|component| match component {
                        ActionRowComponent::Button(button) => {
                            let is_link = matches!(button.data, ButtonKind::Link { .. });
                            Some(CreateButton::from(button.clone()).disabled(!is_link))
                        }
                        _ => None,
                    })
                    .collect(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::referrals::ChoiceButton;

    fn json<T: serde::Serialize>(value: &T) -> serde_json::Value {
        serde_json::to_value(value).unwrap()
    }

    #[test]
    fn words_quoted_as_written_cannot_format_mention_or_link() {
        assert_eq!(
            as_written("**help** <@42> @everyone ||x|| :skull: https://a.example"),
            "\\*\\*help\\*\\* \\<\\@42\\> \\@everyone \\|\\|x\\|\\| \\:skull\\: https\\://a.example"
        );
        assert_eq!(as_written("I can't go on"), "I can't go on");
    }

    #[test]
    fn choices_fill_rows_of_five_and_the_links_come_last() {
        let choices = (1..=12)
            .map(|i| ChoiceButton {
                id: format!("f:s:{i}"),
                label: format!("Choice {i}"),
            })
            .collect();
        let rows = json(&components(&Reply::new("Hi", choices)));
        let rows = rows.as_array().unwrap();
        assert_eq!(rows.len(), 4);
        let sizes: Vec<usize> = rows
            .iter()
            .map(|r| r["components"].as_array().unwrap().len())
            .collect();
        assert_eq!(sizes, [5, 5, 2, 3]);
        assert_eq!(rows[0]["components"][0]["custom_id"], "f:s:1");
        let links = &rows[3]["components"];
        assert_eq!(links[0]["url"], "https://www.relate.org.uk");
        assert_eq!(links[1]["label"], "COSRT");
        assert_eq!(links[2]["style"], 5, "link style");
    }

    #[test]
    fn messages_allow_no_mentions() {
        let sent = json(&message(&Reply::new("@everyone hi", vec![])));
        assert_eq!(sent["allowed_mentions"]["parse"], serde_json::json!([]));
        assert_eq!(sent["allowed_mentions"]["replied_user"], false);
        let answered = json(&interaction_message(&Reply::new("x", vec![]), true));
        assert_eq!(answered["allowed_mentions"]["parse"], serde_json::json!([]));
        assert_eq!(answered["flags"], 64, "ephemeral");
    }

    #[test]
    fn a_long_reply_goes_as_several_messages_and_loses_no_word() {
        let paragraph = "Some words that matter to someone. ".repeat(20);
        let text = [paragraph.trim_end(); 8].join("\n\n");
        assert!(text.chars().count() > 2 * CONTENT_CHARS);
        let choices = vec![ChoiceButton {
            id: "f:s:1".into(),
            label: "Go on".into(),
        }];
        let sent: Vec<serde_json::Value> = messages(&Reply::new(&text, choices))
            .iter()
            .map(json)
            .collect();
        assert!(sent.len() >= 3, "{} messages", sent.len());
        for (i, message) in sent.iter().enumerate() {
            let content = message["content"].as_str().unwrap();
            assert!(content.chars().count() <= CONTENT_CHARS, "message {i}");
            assert!(!content.starts_with(' ') && !content.ends_with(' '));
            assert_eq!(message["allowed_mentions"]["parse"], serde_json::json!([]));
            let last = i == sent.len() - 1;
            let rows = message["components"].as_array().map_or(0, Vec::len);
            assert_eq!(rows > 0, last, "buttons under the last only: message {i}");
        }
        let words = |s: &str| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
        let joined: Vec<String> = sent
            .iter()
            .flat_map(|m| words(m["content"].as_str().unwrap()))
            .collect();
        assert_eq!(joined, words(&text), "every word, in order");
        let rows = sent.last().unwrap()["components"]
            .as_array()
            .unwrap()
            .clone();
        assert_eq!(rows[0]["components"][0]["custom_id"], "f:s:1");
        assert_eq!(rows[1]["components"][0]["url"], "https://www.relate.org.uk");
    }

    #[test]
    fn text_is_cut_at_paragraphs_then_lines_then_words_then_anywhere() {
        assert_eq!(split("aaaa\n\nbbbb", 8), ["aaaa", "bbbb"]);
        assert_eq!(split("aaa bbb\nccc", 9), ["aaa bbb", "ccc"]);
        assert_eq!(split("aaa bbb ccc", 9), ["aaa bbb", "ccc"]);
        assert_eq!(split("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        // A break in the first half would waste most of a message.
        assert_eq!(split("a bcdefghij", 8), ["a bcdefg", "hij"]);
        assert_eq!(split("ééééé", 2), ["éé", "éé", "é"]);
        assert_eq!(split("", 10), [""]);
        assert_eq!(split("short", CONTENT_CHARS), ["short"]);
    }

    #[test]
    fn labels_choices_and_one_message_answers_hold_to_discords_limits() {
        let choices = (1..=30)
            .map(|i| ChoiceButton {
                id: format!("f:s:{i}"),
                label: "a very long label ".repeat(10),
            })
            .chain(std::iter::once(ChoiceButton {
                id: "x".repeat(101),
                label: "Too long an id".into(),
            }))
            .collect();
        let reply = Reply::new("x".repeat(3000), choices);
        let rows = json(&components(&reply));
        let rows = rows.as_array().unwrap();
        assert_eq!(rows.len(), 5, "four rows of choices and the links");
        for row in rows {
            let buttons = row["components"].as_array().unwrap();
            assert!(buttons.len() <= 5);
            for button in buttons {
                let label = button["label"].as_str().unwrap();
                assert!(label.chars().count() <= LABEL_CHARS, "{label}");
                if let Some(id) = button["custom_id"].as_str() {
                    assert!(id.chars().count() <= 100);
                }
            }
        }
        for content in [
            json(&message(&reply))["content"].clone(),
            json(&interaction_message(&reply, false))["content"].clone(),
            json(&edit_response(&reply))["content"].clone(),
        ] {
            let content = content.as_str().unwrap();
            assert!(content.chars().count() <= CONTENT_CHARS);
            assert!(content.ends_with('…'), "marked where cut");
        }
    }
}
