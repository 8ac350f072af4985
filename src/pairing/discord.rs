//! `/pair` on Discord and pairing's buttons: a thin adapter over
//! [`crate::pairing`]. Usable in DMs and in servers, where every answer is
//! ephemeral (seen only by the person who asked). What a partner receives
//! goes through the outbox to their DMs, like a check-in.

use jiff::Timestamp;
use serenity::all::{
    CommandDataOptionValue, CommandInteraction, CommandOptionType, ComponentInteraction,
    CreateCommand, CreateCommandOption, CreateInteractionResponse,
    CreateInteractionResponseFollowup, CreateInteractionResponseMessage, Http, InstallationContext,
    InteractionContext,
};
use tracing::{error, warn};

use crate::conversation::engine::Companion;
use crate::discord::render;
use crate::edge::Edge;
use crate::flags::pending::PendingFlags;
use crate::pairing::run::Acted;
use crate::pairing::{Act, MAX_SEND_CHARS};
use crate::referrals::Reply;
use crate::store::Store;

pub fn is_command(name: &str) -> bool {
    name == "pair"
}

pub fn commands() -> Vec<CreateCommand> {
    let sub = |name: &str, description: &str| {
        CreateCommandOption::new(CommandOptionType::SubCommand, name, description)
    };
    vec![
        CreateCommand::new("pair")
            .description("Pair with your partner: share only what each of you chooses to send")
            .integration_types(vec![InstallationContext::Guild])
            .contexts(vec![InteractionContext::Guild, InteractionContext::BotDm])
            .add_option(sub("invite", "Get a one-time code to give your partner"))
            .add_option(
                sub("join", "Enter the code your partner gave you").add_sub_option(
                    CreateCommandOption::new(CommandOptionType::String, "code", "Their code")
                        .required(true)
                        .max_length(40),
                ),
            )
            .add_option(
                sub("send", "Send your partner a few words; you see them first").add_sub_option(
                    CreateCommandOption::new(
                        CommandOptionType::String,
                        "text",
                        "What you'd like to send",
                    )
                    .required(true)
                    .max_length(MAX_SEND_CHARS as u16),
                ),
            )
            .add_option(sub("status", "Where pairing stands for you"))
            .add_option(sub("end", "End pairing now; your partner is not told")),
    ]
}

/// What `/pair` asks for, from its subcommand.
fn act_of(interaction: &CommandInteraction) -> Option<Act> {
    let option = interaction.data.options.first()?;
    let text = |name: &str| match &option.value {
        CommandDataOptionValue::SubCommand(options) => {
            options
                .iter()
                .find_map(|o| match (&o.value, o.name == name) {
                    (CommandDataOptionValue::String(s), true) => Some(s.clone()),
                    _ => None,
                })
        }
        _ => None,
    };
    Some(match option.name.as_str() {
        "invite" => Act::Invite,
        "join" => Act::Join {
            code: text("code")?,
        },
        "send" => Act::Draft {
            kind: None,
            text: text("text")?,
        },
        "status" => Act::Status,
        "end" => Act::End,
        _ => return None,
    })
}

/// Acknowledges `/pair` at once (Discord allows three seconds), privately
/// in a server; it is carried out in the person's queue ([`command`]).
pub async fn acknowledge(http: &Http, interaction: &CommandInteraction) -> bool {
    let defer = CreateInteractionResponseMessage::new().ephemeral(interaction.guild_id.is_some());
    if let Err(err) = interaction
        .create_response(http, CreateInteractionResponse::Defer(defer))
        .await
    {
        warn!(error = %err, "could not acknowledge /pair");
    }
    true
}

/// Acknowledges a press of one of pairing's buttons by disabling the
/// message's buttons, so it answers once.
pub async fn acknowledge_press(http: &Http, press: &ComponentInteraction) -> bool {
    let ack = CreateInteractionResponse::UpdateMessage(
        CreateInteractionResponseMessage::new()
            .components(render::disabled(&press.message.components))
            .allowed_mentions(render::no_mentions()),
    );
    if let Err(err) = press.create_response(http, ack).await {
        warn!(error = %err, "could not acknowledge a pairing button");
    }
    true
}

/// Carries out `/pair` in the person's turn and answers it in place of the
/// acknowledgement. None if nothing was carried out.
pub async fn command(
    http: &Http,
    companion: &Companion,
    store: &Store,
    pending: &PendingFlags,
    now: Timestamp,
    interaction: &CommandInteraction,
) -> Option<Acted> {
    let person = format!("discord:{}", interaction.user.id);
    let ephemeral = interaction.guild_id.is_some();
    let Some(act) = act_of(interaction) else {
        let reply = Reply::new("Use /pair invite, join, send, status or end.", Vec::new());
        answer(http, interaction, &[reply], ephemeral).await;
        return None;
    };
    let early = async |reply: Reply| answer(http, interaction, &[reply], ephemeral).await;
    let acted = carry(companion, store, pending, &person, &act, now, early).await;
    match &acted {
        Some(acted) if acted.answered => {
            for reply in &acted.replies {
                follow(http, interaction, reply, ephemeral).await;
            }
        }
        Some(acted) => answer(http, interaction, &acted.replies, ephemeral).await,
        None => {
            let reply = Reply::new(crate::discord::handler::NOT_DONE, Vec::new());
            answer(http, interaction, &[reply], ephemeral).await;
        }
    }
    acted
}

/// Carries out a press of one of pairing's buttons in the person's turn,
/// answering in the same place (privately in a server).
pub async fn press(
    http: &Http,
    companion: &Companion,
    store: &Store,
    pending: &PendingFlags,
    now: Timestamp,
    press: &ComponentInteraction,
) -> Option<Acted> {
    let person = format!("discord:{}", press.user.id);
    let ephemeral = press.guild_id.is_some();
    let say = async |reply: &Reply| {
        if let Err(err) = press
            .create_followup(http, followup(reply, ephemeral))
            .await
        {
            warn!(error = %err, "could not answer a pairing button");
        }
    };
    let acted = match crate::pairing::pressed(&press.data.custom_id) {
        Some(act) => {
            let early = async |reply: Reply| say(&reply).await;
            carry(companion, store, pending, &person, &act, now, early).await
        }
        None => Some(Acted::said(vec![Reply::new(
            "That button is from an older message, so I've left it alone. /pair status \
             says where things stand.",
            Vec::new(),
        )])),
    };
    let replies = match &acted {
        Some(acted) => acted.replies.clone(),
        None => vec![Reply::new(crate::discord::handler::NOT_DONE, Vec::new())],
    };
    for reply in &replies {
        say(reply).await;
    }
    acted
}

async fn carry(
    companion: &Companion,
    store: &Store,
    pending: &PendingFlags,
    person: &str,
    act: &Act,
    now: Timestamp,
    early: impl AsyncFnOnce(Reply),
) -> Option<Acted> {
    let done = crate::pairing::run::act(
        companion,
        store,
        pending,
        Edge::Discord,
        person,
        act,
        now,
        early,
    );
    match done.await {
        Ok(acted) => Some(acted),
        Err(err) => {
            error!(error = %err, "could not carry out a pairing act");
            None
        }
    }
}

fn followup(reply: &Reply, ephemeral: bool) -> CreateInteractionResponseFollowup {
    CreateInteractionResponseFollowup::new()
        .content(render::fit(reply.text()))
        .components(render::components(reply))
        .allowed_mentions(render::no_mentions())
        .ephemeral(ephemeral)
}

/// The first reply in place of the deferred answer, the rest after it.
async fn answer(http: &Http, interaction: &CommandInteraction, replies: &[Reply], ephemeral: bool) {
    let mut replies = replies.iter();
    if let Some(first) = replies.next()
        && let Err(err) = interaction
            .edit_response(http, render::edit_response(first))
            .await
    {
        warn!(error = %err, "could not answer /pair");
    }
    for reply in replies {
        follow(http, interaction, reply, ephemeral).await;
    }
}

/// One reply after the first answer to `/pair`.
async fn follow(http: &Http, interaction: &CommandInteraction, reply: &Reply, ephemeral: bool) {
    if let Err(err) = interaction
        .create_followup(http, followup(reply, ephemeral))
        .await
    {
        warn!(error = %err, "could not answer /pair");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pair_has_its_five_subcommands_each_described() {
        let json = serde_json::to_value(&commands()[0]).unwrap();
        let names: Vec<&str> = json["options"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["invite", "join", "send", "status", "end"]);
        for option in json["options"].as_array().unwrap() {
            let description = option["description"].as_str().unwrap();
            assert!(!description.is_empty() && description.len() <= 100);
        }
        assert!(json["description"].as_str().unwrap().len() <= 100);
        assert_eq!(json["contexts"], serde_json::json!([0, 1]));
    }
}
