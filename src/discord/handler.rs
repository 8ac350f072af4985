//! serenity events to engine inputs, and replies back to Discord. A thin
//! adapter: the decisions are the engine's; this file only acknowledges in
//! time, orders each person's events, and sends.

use std::sync::Arc;
use std::time::Duration;

use serenity::all::{
    ChannelId, CommandInteraction, ComponentInteraction, Context, CreateInteractionResponse,
    CreateInteractionResponseMessage, EventHandler, Interaction, Message, Ready, UserId,
};
use serenity::async_trait;
use tracing::{Instrument, debug, error, info, info_span, warn};

use super::checkins;
use super::commands::{self, Command};
use super::inbox::Inbox;
use super::moderation::{self, Moderators};
use super::privacy;
use super::render;
use super::send;
use crate::engine::{self, Companion, Input};
use crate::referrals::Reply;
use crate::scheduler::Clock;
use crate::store::Store;

/// Discord's error code for "Cannot send messages to this user".
pub(crate) const CANNOT_MESSAGE: isize = 50007;

const TROUBLE: &str = "Something went wrong on my side, so I couldn't take that in. \
                       Nothing you told me before is lost; please try again in a moment.";

pub(crate) const PRIVATE_ONLY: &str = "I keep conversations private, so I won't talk about anything \
                            personal here. Send me a direct message (open my profile and \
                            choose Message) and use /start there. If you're in danger right \
                            now, call 999.";

/// What a queued event asks for.
enum Job {
    Message {
        channel: ChannelId,
        text: String,
    },
    Press {
        channel: ChannelId,
        custom_id: String,
    },
    Command {
        interaction: Box<CommandInteraction>,
        command: Command,
    },
}

struct Queued {
    /// The Discord event's id, recorded with its effects so it applies once.
    key: String,
    job: Job,
}

/// Everything the bot needs, shared by every event.
pub struct Bot {
    companion: Arc<Companion>,
    store: Store,
    inbox: Inbox<Queued>,
    order_window: Duration,
    register_commands: bool,
    moderators: Option<Moderators>,
    /// The clock the scheduler reads too, so check-in days agree.
    clock: Arc<dyn Clock>,
}

impl Bot {
    pub fn new(
        companion: Arc<Companion>,
        store: Store,
        order_window: Duration,
        register_commands: bool,
        moderators: Option<Moderators>,
        clock: Arc<dyn Clock>,
    ) -> Bot {
        Bot {
            companion,
            store,
            inbox: Inbox::default(),
            order_window,
            register_commands,
            moderators,
            clock,
        }
    }

    /// People whose events are still being applied.
    pub fn busy(&self) -> usize {
        self.inbox.busy()
    }
}

/// The serenity event handler: a handle on the shared [`Bot`].
pub struct Handler(pub Arc<Bot>);

#[async_trait]
impl EventHandler for Handler {
    async fn ready(&self, ctx: Context, ready: Ready) {
        info!(
            shard = ready.shard.map(|s| s.id.0),
            application = %ready.application.id,
            "connected to the gateway"
        );
        if self.0.register_commands {
            let mut definitions = commands::definitions();
            definitions.extend(checkins::commands());
            definitions.extend(privacy::commands());
            match serenity::all::Command::set_global_commands(&ctx.http, definitions).await {
                Ok(registered) => info!(count = registered.len(), "slash commands registered"),
                Err(err) => error!(error = %err, "could not register the slash commands"),
            }
            if let Some(moderators) = &self.0.moderators {
                match moderators
                    .guild
                    .set_commands(&ctx.http, moderation::commands())
                    .await
                {
                    Ok(_) => info!(guild = %moderators.guild, "moderator commands registered"),
                    Err(err) => error!(error = %err, "could not register the moderator commands"),
                }
            }
        }
    }

    async fn message(&self, ctx: Context, msg: Message) {
        // Guild messages are never read; bots (mend's own echoes included) are ignored.
        if msg.guild_id.is_some() || msg.author.bot || msg.author.id == ctx.cache.current_user().id
        {
            return;
        }
        let queued = Queued {
            key: format!("message:{}", msg.id),
            job: Job::Message {
                channel: msg.channel_id,
                text: msg.content,
            },
        };
        queue(&self.0, ctx, msg.author.id, msg.id.get(), queued);
    }

    async fn interaction_create(&self, ctx: Context, interaction: Interaction) {
        match interaction {
            Interaction::Component(press) => pressed(&self.0, ctx, press).await,
            Interaction::Command(command) if moderation::is_command(&command.data.name) => {
                let bot = &self.0;
                moderation::command(&ctx, &bot.store, bot.moderators.as_ref(), &command).await;
            }
            Interaction::Command(command) if checkins::is_command(&command.data.name) => {
                let now = self.0.clock.now();
                checkins::command(&ctx, &self.0.store, now, &command).await;
            }
            Interaction::Command(command) if privacy::is_command(&command.data.name) => {
                privacy::command(&ctx, &self.0.store, &command).await;
            }
            Interaction::Command(command) => slash(&self.0, ctx, command).await,
            Interaction::Modal(modal) => {
                let bot = &self.0;
                moderation::submitted(&ctx, &bot.store, bot.moderators.as_ref(), &modal).await;
            }
            _ => {}
        }
    }
}

async fn pressed(bot: &Arc<Bot>, ctx: Context, press: ComponentInteraction) {
    if press.data.custom_id.starts_with("flag:") {
        moderation::pressed(&ctx, &bot.store, bot.moderators.as_ref(), &press).await;
        return;
    }
    if privacy::is_button(&press.data.custom_id) {
        privacy::pressed(&ctx, &bot.store, &press).await;
        return;
    }
    let span = info_span!("press", user = %press.user.id, interaction = %press.id);
    // Acknowledge at once (Discord allows 3 seconds) by disabling the pressed
    // message's answers, so the same answer cannot be given twice.
    let ack = CreateInteractionResponse::UpdateMessage(
        CreateInteractionResponseMessage::new()
            .components(render::disabled(&press.message.components))
            .allowed_mentions(render::no_mentions()),
    );
    if let Err(err) = send::retrying("acknowledge", send::QUICK, || {
        press.create_response(&ctx.http, ack.clone())
    })
    .instrument(span.clone())
    .await
    {
        span.in_scope(|| warn!(error = %err, "could not acknowledge a button press"));
    }
    if press.guild_id.is_some() {
        return;
    }
    let queued = Queued {
        key: format!("interaction:{}", press.id),
        job: Job::Press {
            channel: press.channel_id,
            custom_id: press.data.custom_id.clone(),
        },
    };
    queue(bot, ctx, press.user.id, press.id.get(), queued);
}

async fn slash(bot: &Arc<Bot>, ctx: Context, interaction: CommandInteraction) {
    let span = info_span!("command", user = %interaction.user.id, interaction = %interaction.id);
    let Some(command) = Command::parse(&interaction.data.name) else {
        span.in_scope(|| warn!("an unknown command"));
        return;
    };
    if interaction.guild_id.is_some() {
        // Inside a server: never the person's situation, only a private pointer.
        let reply = match command {
            Command::Resources => engine::resources_reply(),
            _ => Reply::new(PRIVATE_ONLY, Vec::new()),
        };
        let response =
            CreateInteractionResponse::Message(render::interaction_message(&reply, true));
        if let Err(err) = interaction
            .create_response(&ctx.http, response)
            .instrument(span.clone())
            .await
        {
            span.in_scope(|| warn!(error = %err, "could not answer a command in a server"));
        }
        return;
    }
    let defer = CreateInteractionResponse::Defer(CreateInteractionResponseMessage::new());
    if let Err(err) = interaction
        .create_response(&ctx.http, defer)
        .instrument(span.clone())
        .await
    {
        span.in_scope(|| warn!(error = %err, "could not acknowledge a command"));
    }
    let user = interaction.user.id;
    let order = interaction.id.get();
    let queued = Queued {
        key: format!("interaction:{}", interaction.id),
        job: Job::Command {
            interaction: Box::new(interaction),
            command,
        },
    };
    queue(bot, ctx, user, order, queued);
}

/// Queues a person's event; starts their worker if none is running.
fn queue(bot: &Arc<Bot>, ctx: Context, user: UserId, order: u64, queued: Queued) {
    if !bot.inbox.push(user.get(), order, queued) {
        return;
    }
    let bot = Arc::clone(bot);
    tokio::spawn(
        async move {
            tokio::time::sleep(bot.order_window).await;
            while let Some(queued) = bot.inbox.pop(user.get()) {
                process(&bot, &ctx, user, queued).await;
            }
        }
        .instrument(info_span!("person", user = %user)),
    );
}

async fn process(bot: &Bot, ctx: &Context, user: UserId, queued: Queued) {
    let input = match &queued.job {
        Job::Message { text, .. } => Input::Text(text.clone()),
        Job::Press { custom_id, .. } => Input::Choice(custom_id.clone()),
        Job::Command { command, .. } => command.input(),
    };
    let person = format!("discord:{user}");
    let started = std::time::Instant::now();
    let now = bot.clock.now();
    let result = bot
        .store
        .apply_once(&person, &queued.key, now, |state| {
            bot.companion.respond(state, &input, now)
        })
        .await;
    let replies = match result {
        Ok(Some(applied)) => {
            for event in &applied.outcome.events {
                debug!(kind = event.kind(), flow = event.flow(), "event");
            }
            if let Some(flag) = applied.flag {
                info!(flag = flag.id, new = flag.new, "crisis flag raised");
                if let Some(moderators) = &bot.moderators {
                    // The person's reply goes first; the notice follows at once.
                    let (ctx, store, moderators) = (ctx.clone(), bot.store.clone(), *moderators);
                    tokio::spawn(async move {
                        moderation::announce(&ctx, &store, &moderators, flag).await;
                    });
                }
            }
            let mut replies = applied.outcome.replies;
            if let Some(reason) = applied.checkins_paused {
                replies.insert(
                    0,
                    Reply::new(crate::progress::paused_notice(reason), Vec::new()),
                );
            }
            replies
        }
        Ok(None) => {
            debug!(key = %queued.key, "already applied; not applying again");
            return;
        }
        Err(err) => {
            error!(error = %err, "could not apply an event");
            vec![Reply::new(TROUBLE, Vec::new())]
        }
    };
    deliver(ctx, user, &queued.key, &queued.job, &replies).await;
    debug!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        replies = replies.len(),
        "answered"
    );
}

async fn deliver(ctx: &Context, user: UserId, key: &str, job: &Job, replies: &[Reply]) {
    let mut rest = replies.iter().enumerate();
    let channel = match job {
        Job::Message { channel, .. } | Job::Press { channel, .. } => *channel,
        Job::Command { interaction, .. } => {
            if let Some((_, first)) = rest.next()
                && let Err(err) = send::retrying("command answer", send::PATIENT, || {
                    interaction.edit_response(&ctx.http, render::edit_response(first))
                })
                .await
            {
                warn!(error = %err, "could not answer a command");
            }
            interaction.channel_id
        }
    };
    for (index, reply) in rest {
        let nonce = send::nonce(key, index);
        let sent = send::retrying("reply", send::PATIENT, || {
            let message = render::message(reply)
                .nonce(nonce.clone())
                .enforce_nonce(true);
            channel.send_message(&ctx.http, message)
        })
        .await;
        if let Err(err) = sent {
            if discord_code(&err) == Some(CANNOT_MESSAGE) {
                warn!(%user, code = CANNOT_MESSAGE, "this person cannot be messaged");
            } else {
                error!(%user, error = %err, "could not send a reply");
            }
            return;
        }
    }
}

/// Discord's JSON error code, if the error is one.
pub fn discord_code(err: &serenity::Error) -> Option<isize> {
    match err {
        serenity::Error::Http(serenity::all::HttpError::UnsuccessfulRequest(response)) => {
            Some(response.error.code)
        }
        _ => None,
    }
}
