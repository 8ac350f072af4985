//! `/checkin` and `/progress` on Discord, and delivering the scheduler's
//! check-ins as DMs.

use std::sync::Arc;

use jiff::Timestamp;
use serenity::all::{
    CommandDataOptionValue, CommandInteraction, CommandOptionType, CreateAttachment, CreateCommand,
    CreateCommandOption, CreateInteractionResponse, CreateInteractionResponseMessage, Http,
    InstallationContext, InteractionContext,
};
use tracing::{error, warn};

use crate::checkins::progress;
use crate::checkins::scheduler::Deliver;
use crate::discord::Bot;
use crate::discord::render;
use crate::referrals::Reply;
use crate::store::Store;

pub fn is_command(name: &str) -> bool {
    matches!(name, "checkin" | "progress")
}

fn contexts(command: CreateCommand) -> CreateCommand {
    command
        .integration_types(vec![InstallationContext::Guild])
        .contexts(vec![InteractionContext::Guild, InteractionContext::BotDm])
}

pub fn commands() -> Vec<CreateCommand> {
    let sub = |name: &str, description: &str| {
        CreateCommandOption::new(CommandOptionType::SubCommand, name, description)
    };
    vec![
        contexts(
            CreateCommand::new("checkin")
                .description("Your daily check-in: on, off, show or pause")
                .add_option(
                    sub("on", "Get a short check-in every day at a time you choose")
                        .add_sub_option(
                            CreateCommandOption::new(
                                CommandOptionType::String,
                                "time",
                                "Your local time, such as 20:30 or 8:30pm",
                            )
                            .required(true),
                        )
                        .add_sub_option(
                            CreateCommandOption::new(
                                CommandOptionType::String,
                                "timezone",
                                "Your time zone as Area/City, e.g. Europe/London",
                            )
                            .required(true),
                        ),
                )
                .add_option(sub("off", "Stop daily check-ins"))
                .add_option(sub("show", "See your check-in time and the next one"))
                .add_option(
                    sub("pause", "Pause check-ins for a few days").add_sub_option(
                        CreateCommandOption::new(
                            CommandOptionType::Integer,
                            "days",
                            "How many days, 1 to 60",
                        )
                        .required(true)
                        .min_int_value(1)
                        .max_int_value(progress::MAX_PAUSE_DAYS as u64),
                    ),
                ),
        ),
        contexts(
            CreateCommand::new("progress")
                .description("How your check-ins have gone over the last 14 and 30 days"),
        ),
    ]
}

/// The subcommand's name and its options as (name, value) pairs.
fn subcommand(
    interaction: &CommandInteraction,
) -> Option<(&str, Vec<(&str, &CommandDataOptionValue)>)> {
    let option = interaction.data.options.first()?;
    match &option.value {
        CommandDataOptionValue::SubCommand(options) => Some((
            option.name.as_str(),
            options
                .iter()
                .map(|o| (o.name.as_str(), &o.value))
                .collect(),
        )),
        _ => None,
    }
}

async fn answer(
    store: &Store,
    now: Timestamp,
    interaction: &CommandInteraction,
) -> Result<progress::Report, crate::store::StoreError> {
    if interaction.data.name == "progress" {
        let person = format!("discord:{}", interaction.user.id);
        return progress::progress(store, &person, now).await;
    }
    Ok(progress::Report {
        text: checkin(store, now, interaction).await?,
        chart: None,
    })
}

async fn checkin(
    store: &Store,
    now: Timestamp,
    interaction: &CommandInteraction,
) -> Result<String, crate::store::StoreError> {
    let person = format!("discord:{}", interaction.user.id);
    let Some((name, options)) = subcommand(interaction) else {
        return Ok("Use /checkin on, off, show or pause.".into());
    };
    let text = |key: &str| {
        options.iter().find_map(|(k, v)| match v {
            CommandDataOptionValue::String(s) if *k == key => Some(s.clone()),
            _ => None,
        })
    };
    match name {
        "on" => {
            let (Some(time), Some(zone)) = (text("time"), text("timezone")) else {
                return Ok(
                    "Give a time and a time zone, e.g. time:20:30 timezone:Europe/London".into(),
                );
            };
            progress::turn_on(store, &person, &time, &zone, now).await
        }
        "off" => progress::turn_off(store, &person, now).await,
        "show" => progress::show(store, &person, crate::edge::Edge::Discord).await,
        "pause" => {
            let days = options.iter().find_map(|(k, v)| match v {
                CommandDataOptionValue::Integer(n) if *k == "days" => Some(*n),
                _ => None,
            });
            progress::pause(store, &person, days.unwrap_or(0), now).await
        }
        _ => Ok("Use /checkin on, off, show or pause.".into()),
    }
}

/// Acknowledges `/checkin` or `/progress` at once (Discord allows three
/// seconds). In a server it answers there and then, privately, pointing to
/// DMs; true when the command is to be carried out in the person's queue
/// ([`carry_out`]).
pub async fn acknowledge(http: &Http, interaction: &CommandInteraction) -> bool {
    let in_server = interaction.guild_id.is_some();
    let response = if in_server {
        let reply = Reply::new(crate::discord::handler::PRIVATE_ONLY, Vec::new());
        CreateInteractionResponse::Message(render::interaction_message(&reply, true))
    } else {
        CreateInteractionResponse::Defer(CreateInteractionResponseMessage::new())
    };
    if let Err(err) = interaction.create_response(http, response).await {
        warn!(error = %err, "could not acknowledge a check-in command");
    }
    !in_server
}

/// Carries out `/checkin` or `/progress` in the person's turn, and answers
/// it in place of the acknowledgement.
pub async fn carry_out(
    http: &Http,
    store: &Store,
    now: Timestamp,
    interaction: &CommandInteraction,
) {
    let report = match answer(store, now, interaction).await {
        Ok(report) => report,
        Err(err) => {
            error!(error = %err, "could not answer a check-in command");
            progress::Report {
                text: crate::discord::handler::NOT_DONE.to_owned(),
                chart: None,
            }
        }
    };
    let reply = Reply::new(report.text, Vec::new());
    let mut edit = render::edit_response(&reply);
    if let Some(png) = report.chart {
        edit = edit.new_attachment(CreateAttachment::bytes(png, progress::CHART_FILE));
    }
    if let Err(err) = interaction.edit_response(http, edit).await {
        warn!(error = %err, "could not answer a check-in command");
    }
}

/// Hands the scheduler's check-ins, waiting in the outbox, to the person's
/// queue, which sends them as DMs.
pub struct DiscordDeliver {
    pub bot: Arc<Bot>,
    pub http: Arc<Http>,
}

impl Deliver for DiscordDeliver {
    async fn deliver(&self, person: &str) {
        self.bot.deliver_waiting(Arc::clone(&self.http), person);
    }
}
