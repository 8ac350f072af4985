//! `/export` and `/forget` on Discord: a person's copy of everything mend
//! holds about them, and erasure after a confirmation by button that first
//! offers that copy. Both only in DMs; in a server they point to DMs.

use jiff::Timestamp;
use serenity::all::{
    ChannelId, CommandInteraction, ComponentInteraction, CreateAttachment, CreateCommand,
    CreateInteractionResponse, CreateInteractionResponseMessage, EditInteractionResponse,
    EditMessage, Http, InstallationContext, InteractionContext, MessageId,
};
use tracing::{error, info, warn};

use super::{Erased, ErasedBy};
use crate::discord::render;
use crate::referrals::{ChoiceButton, Reply};
use crate::store::Store;

/// The name of the file a person receives.
pub const EXPORT_FILE: &str = "mend-data.json";

const COPY: &str = "privacy:copy";
const ERASE: &str = "privacy:erase";
const KEEP: &str = "privacy:keep";

const ASK: &str = "This erases everything I keep about you: which situation fits you, where \
    you are in our conversations, anything you typed in answer to my questions, your check-in \
    settings and answers, and any safety flags about you. It can't be undone, and I'll greet \
    you as someone new if you write again.\n\nWould you like a copy of it first?";
const ERASED: &str = "Done. I've erased everything I kept about you, all at once. If a \
    message of yours was ever flagged, the moderators' note of it now says only that it was \
    erased at your request. You're welcome back any time, and you'd start afresh.";
const NOTHING_TO_ERASE: &str = "I don't hold anything about you, so there was nothing to \
    erase. You're welcome back any time.";
const KEPT: &str = "Nothing has been erased; everything is as it was. You can use /forget \
    whenever you like.";
const HERE_IS_A_COPY: &str = "Here is everything I hold about you, in the attached file. \
    Near its top is a short readme that explains each part. Keep it somewhere private.";
const NOTHING_HELD: &str = "I don't hold anything about you at the moment.";
const TROUBLE: &str = "Something went wrong on my side and nothing has changed. Please try \
    again in a moment.";
/// What a moderators' notice says once the person it was about is erased.
pub const NOTICE_ERASED: &str = "This flag was erased: the person asked mend to erase \
    everything it held about them, or their data reached the end of its retention. Nothing \
    about them is kept.";

pub fn is_command(name: &str) -> bool {
    matches!(name, "export" | "forget")
}

fn contexts(command: CreateCommand) -> CreateCommand {
    command
        .integration_types(vec![InstallationContext::Guild])
        .contexts(vec![InteractionContext::Guild, InteractionContext::BotDm])
}

pub fn commands() -> Vec<CreateCommand> {
    vec![
        contexts(
            CreateCommand::new("export")
                .description("Get a file of everything mend holds about you"),
        ),
        contexts(
            CreateCommand::new("forget")
                .description("Erase everything mend holds about you (asks first)"),
        ),
    ]
}

fn confirm() -> Reply {
    let button = |id: &str, label: &str| ChoiceButton {
        id: id.to_owned(),
        label: label.to_owned(),
    };
    Reply::new(
        ASK,
        vec![
            button(COPY, "Send me a copy first"),
            button(ERASE, "Erase everything"),
            button(KEEP, "Keep everything"),
        ],
    )
}

/// Answers `/export` or `/forget` at once (Discord allows three seconds):
/// in a server, a private pointer to DMs; `/forget`, the question whether
/// to erase, which touches nothing; `/export`, an acknowledgement. True
/// when the command is to be carried out in the person's queue
/// ([`export`]).
pub async fn acknowledge(http: &Http, interaction: &CommandInteraction) -> bool {
    let (response, queued) = if interaction.guild_id.is_some() {
        // Never a person's data, or talk of it, in a server channel.
        let reply = Reply::new(crate::discord::handler::PRIVATE_ONLY, Vec::new());
        let message = render::interaction_message(&reply, true);
        (CreateInteractionResponse::Message(message), false)
    } else if interaction.data.name == "forget" {
        let message = render::interaction_message(&confirm(), false);
        (CreateInteractionResponse::Message(message), false)
    } else {
        let defer = CreateInteractionResponseMessage::new();
        (CreateInteractionResponse::Defer(defer), true)
    };
    if let Err(err) = interaction.create_response(http, response).await {
        warn!(error = %err, "could not answer a privacy command");
    }
    queued
}

/// Carries out `/export` in the person's turn: the file, in place of the
/// acknowledgement.
pub async fn export(http: &Http, store: &Store, now: Timestamp, interaction: &CommandInteraction) {
    let person = format!("discord:{}", interaction.user.id);
    let edit = export_message(store, &person, now).await;
    if let Err(err) = interaction.edit_response(http, edit).await {
        warn!(error = %err, "could not send an export");
    }
}

/// The message that carries a person's export file, or says there is none.
async fn export_message(store: &Store, person: &str, now: Timestamp) -> EditInteractionResponse {
    let (text, file) = match store.export(person, now).await {
        Ok(Some(export)) => {
            let json = export.to_json();
            info!("sent a person their data");
            (
                HERE_IS_A_COPY,
                Some(CreateAttachment::bytes(json.into_bytes(), EXPORT_FILE)),
            )
        }
        Ok(None) => (NOTHING_HELD, None),
        Err(err) => {
            error!(error = %err, "could not export a person's data");
            (TROUBLE, None)
        }
    };
    let edit = render::edit_response(&Reply::new(text, Vec::new()));
    match file {
        Some(file) => edit.new_attachment(file),
        None => edit,
    }
}

/// Acknowledges a press on the confirmation's buttons at once: a copy is
/// deferred; an answer to "erase?" disables the buttons, so it answers
/// once. True when the press is to be carried out in the person's queue
/// ([`carry_out_press`]).
pub async fn acknowledge_press(http: &Http, press: &ComponentInteraction) -> bool {
    if press.guild_id.is_some() {
        return false;
    }
    let (response, queued) = match press.data.custom_id.as_str() {
        COPY => (
            CreateInteractionResponse::Defer(CreateInteractionResponseMessage::new()),
            true,
        ),
        ERASE | KEEP => (
            CreateInteractionResponse::UpdateMessage(
                CreateInteractionResponseMessage::new()
                    .components(render::disabled(&press.message.components))
                    .allowed_mentions(render::no_mentions()),
            ),
            true,
        ),
        _ => {
            // A privacy button this version does not know: say so kindly.
            let reply = Reply::new(
                "That button is from an older message. Use /export or /forget again.",
                Vec::new(),
            );
            let message = render::interaction_message(&reply, false);
            (CreateInteractionResponse::Message(message), false)
        }
    };
    if let Err(err) = press.create_response(http, response).await {
        warn!(error = %err, "could not acknowledge a privacy button");
    }
    queued
}

/// Carries out a press on the confirmation's buttons in the person's turn,
/// so an erasure can never race a message of theirs still being applied.
pub async fn carry_out_press(
    http: &Http,
    store: &Store,
    now: Timestamp,
    press: &ComponentInteraction,
) {
    let person = format!("discord:{}", press.user.id);
    if press.data.custom_id == COPY {
        let edit = export_message(store, &person, now).await;
        if let Err(err) = press.edit_response(http, edit).await {
            warn!(error = %err, "could not send an export");
        }
        return;
    }
    let text = if press.data.custom_id == KEEP {
        KEPT
    } else {
        match store.forget(&person, ErasedBy::Person, now).await {
            Ok(Some(erased)) => {
                info!("erased a person at their request");
                tidy_notices(http, &erased).await;
                ERASED
            }
            Ok(None) => NOTHING_TO_ERASE,
            Err(err) => {
                error!(error = %err, "could not erase a person");
                TROUBLE
            }
        }
    };
    let reply = Reply::new(text, Vec::new());
    if let Err(err) = press
        .channel_id
        .send_message(http, render::message(&reply))
        .await
    {
        warn!(error = %err, "could not confirm an erasure answer");
    }
}

/// Rewrites the moderators' notices about an erased person, which quoted
/// their words, to say only that the flag was erased.
pub async fn tidy_notices(http: &Http, erased: &Erased) {
    for (channel, message) in &erased.notices {
        let (Ok(channel), Ok(message)) = (channel.parse::<u64>(), message.parse::<u64>()) else {
            continue;
        };
        if channel == 0 || message == 0 {
            continue;
        }
        let edit = EditMessage::new()
            .content(NOTICE_ERASED)
            .components(vec![render::link_row()])
            .allowed_mentions(render::no_mentions());
        if let Err(err) = ChannelId::new(channel)
            .edit_message(http, MessageId::new(message), edit)
            .await
        {
            warn!(%channel, %message, error = %err, "could not tidy a moderators' notice");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buttons::{Kind, kind};

    #[test]
    fn the_confirmations_buttons_are_routed_here() {
        for id in [COPY, ERASE, KEEP] {
            assert_eq!(kind(id), Kind::Privacy, "{id}");
        }
        for choice in confirm().choices() {
            assert_eq!(kind(&choice.id), Kind::Privacy, "{}", choice.id);
        }
    }
}
