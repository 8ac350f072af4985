//! A [`Reply`] as Discord shows it: the text, its choices as buttons (at most
//! four rows of five) and a last row of three link buttons for Relate, COSRT
//! and BACP. Nothing mend sends may ping anyone, so every builder here sets
//! `allowed_mentions` to allow nothing.

use serenity::all::{
    ActionRow, ActionRowComponent, ButtonKind, ButtonStyle, CreateActionRow, CreateAllowedMentions,
    CreateButton, CreateInteractionResponseMessage, CreateMessage, EditInteractionResponse,
};

use crate::referrals::{LINKS, Reply};

const BUTTONS_PER_ROW: usize = 5;

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
    let mut rows: Vec<CreateActionRow> = reply
        .choices()
        .chunks(BUTTONS_PER_ROW)
        .map(|chunk| {
            CreateActionRow::Buttons(
                chunk
                    .iter()
                    .map(|choice| {
                        CreateButton::new(&choice.id)
                            .label(&choice.label)
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

pub fn message(reply: &Reply) -> CreateMessage {
    CreateMessage::new()
        .content(reply.text())
        .components(components(reply))
        .allowed_mentions(no_mentions())
}

/// The answer to a slash command, `ephemeral` when used inside a server.
pub fn interaction_message(reply: &Reply, ephemeral: bool) -> CreateInteractionResponseMessage {
    CreateInteractionResponseMessage::new()
        .content(reply.text())
        .components(components(reply))
        .allowed_mentions(no_mentions())
        .ephemeral(ephemeral)
}

pub fn edit_response(reply: &Reply) -> EditInteractionResponse {
    EditInteractionResponse::new()
        .content(reply.text())
        .components(components(reply))
        .allowed_mentions(no_mentions())
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
}
