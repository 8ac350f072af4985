//! serenity events to engine inputs, and replies back to Discord. A thin
//! adapter: the decisions are the engine's; this file only acknowledges in
//! time, orders each person's events, and sends.

use std::sync::Arc;
use std::time::Duration;

use serenity::all::{
    ChannelId, CommandInteraction, ComponentInteraction, Context, CreateInteractionResponse,
    CreateInteractionResponseMessage, Event, EventHandler, Http, Interaction, Message,
    RawEventHandler, Ready, UserId,
};
use serenity::async_trait;
use tracing::{Instrument, debug, error, info, info_span, warn};

use super::commands::{self, Command};
use super::delivery::{Delivery, Discord, Outgoing, Sent, classify, deliver};
use super::inbox::Inbox;
use super::render;
use super::send;
use crate::buttons;
use crate::checkins::discord as checkins;
use crate::checkins::progress;
use crate::checkins::{PauseReason, queries as checkin_rows};
use crate::clock::Clock;
use crate::conversation::engine::{self, Companion, Input};
use crate::edge::Edge;
use crate::flags::Raised;
use crate::flags::discord::{self as moderation, Moderators};
use crate::flags::pending::{PendingFlag, PendingFlags};
use crate::pairing::discord as pairing;
use crate::privacy::discord as privacy;
use crate::referrals::Reply;
use crate::store::{self, Store};

/// Discord's error code for "Cannot send messages to this user".
pub(crate) const CANNOT_MESSAGE: isize = 50007;

pub(crate) const NOT_DONE: &str = "Something went wrong on my side and nothing has changed. \
                        Please try again in a moment.";

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
    /// Send what the outbox holds for this person (after a restart).
    Flush,
    /// Something of the person's own outside the conversation, already
    /// acknowledged, carried out in their turn like a message, so it can
    /// never race one (a /forget and a turn that would re-create them).
    Action(Action),
}

/// A person-level action outside the conversation.
enum Action {
    /// `/checkin` or `/progress`.
    Checkin(Box<CommandInteraction>),
    /// `/export`.
    Export(Box<CommandInteraction>),
    /// A press on the erasure confirmation's buttons.
    Privacy(Box<ComponentInteraction>),
    /// `/pair`.
    Pair(Box<CommandInteraction>),
    /// A press of one of pairing's buttons.
    PairPress(Box<ComponentInteraction>),
}

impl Job {
    /// Where the person is talking to mend.
    fn channel(&self) -> Option<ChannelId> {
        match self {
            Job::Message { channel, .. } | Job::Press { channel, .. } => Some(*channel),
            Job::Command { interaction, .. } => Some(interaction.channel_id),
            // An action that stops short (a bug) is still answered kindly
            // in the channel it came from, never left "thinking".
            Job::Action(
                Action::Checkin(interaction)
                | Action::Export(interaction)
                | Action::Pair(interaction),
            ) => Some(interaction.channel_id),
            Job::Action(Action::Privacy(press) | Action::PairPress(press)) => {
                Some(press.channel_id)
            }
            Job::Flush => None,
        }
    }
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
    /// Events whose replies went out, to clear from the outbox together.
    sent: std::sync::Mutex<Vec<String>>,
    /// Held while clearing, so whoever asks waits for a clearing under way.
    settling: tokio::sync::Mutex<()>,
    /// Flag notices are posted one at a time.
    announcing: moderation::AnnounceTurns,
    /// Crisis flags whose turn the store could not apply, until written.
    pending: PendingFlags,
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
            sent: std::sync::Mutex::new(Vec::new()),
            settling: tokio::sync::Mutex::new(()),
            announcing: moderation::AnnounceTurns::default(),
            pending: PendingFlags::new(),
        }
    }

    /// The crisis flags waiting for the store.
    pub fn pending(&self) -> &PendingFlags {
        &self.pending
    }

    /// Writes the crisis flags waiting for the store, and tells the
    /// moderators of each one written, as its turn would have.
    pub async fn raise_pending(&self, http: &Http) {
        for raised in self.pending.retry(&self.store).await {
            if let Some(moderators) = &self.moderators {
                let turns = &self.announcing;
                moderation::announce(http, &self.store, moderators, turns, raised.id).await;
            }
        }
    }

    /// Writes the flags waiting for the store, then posts the flag notices
    /// still owed (see [`moderation::announce_owed`]).
    pub async fn announce_owed(&self, http: &Http) {
        self.raise_pending(http).await;
        if let Some(moderators) = &self.moderators {
            moderation::announce_owed(http, &self.store, moderators, &self.announcing).await;
        }
    }

    /// Clears the outbox of every event whose replies went out since the
    /// last call. Runs a few times a second and at shutdown: one write for
    /// many messages. Until it runs, a sent reply may still be in the
    /// outbox; sending it again reuses its nonce, so Discord keeps one.
    pub async fn settle(&self) {
        let _one_at_a_time = self.settling.lock().await;
        let keys = std::mem::take(&mut *self.sent.lock().unwrap_or_else(|e| e.into_inner()));
        if let Err(err) = self.store.sent_all(&keys).await {
            warn!(error = %err, "could not clear sent replies from the outbox");
            // Kept for the next try.
            self.sent
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(keys);
        }
    }

    /// Sends what the outbox holds for `person` (a check-in the scheduler
    /// just started), through their own queue, so it cannot cross a turn of
    /// theirs under way.
    pub fn deliver_waiting(self: &Arc<Bot>, http: Arc<Http>, person: &str) {
        let Some(id) = discord_user(person) else {
            warn!("a check-in for someone who is not on Discord; left in the outbox");
            return;
        };
        let flush = Queued {
            key: "flush".into(),
            job: Job::Flush,
        };
        queue(self, http, id, 0, flush);
    }

    /// People whose events are still being applied.
    pub fn busy(&self) -> usize {
        self.inbox.busy()
    }
}

/// Counts the events serenity hands on as unknown, by kind, and logs each:
/// kinds it does not know, and known kinds it could not read (a server that
/// leaves out a field Discord always sends: serenity then files the event
/// as unknown and drops it with at most a debug line that quotes it). An
/// operator pointing mend at a server that is not Discord sees why nothing
/// happens, never what the event held.
#[derive(Default)]
pub struct Unrecognised {
    counts: crate::telemetry::KindCounts,
}

#[async_trait]
impl RawEventHandler for Unrecognised {
    async fn raw_event(&self, _: Context, event: Event) {
        let Event::Unknown(unknown) = event else {
            return;
        };
        let kind = crate::telemetry::safe_kind(&unknown.kind);
        let count = self.counts.bump(kind);
        warn!(
            kind,
            count,
            "an event from the gateway was not recognised or could not be read, and was \
             dropped (is the server Discord, or one that sends events in another shape?)"
        );
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
        // Replies a crash or an outage held back go out first, each through
        // its person's queue (order 0 sorts before any Discord event), so
        // they stay ahead of anything newer for the same person.
        match self.0.store.waiting().await {
            Ok(people) => {
                for person in people {
                    self.0.deliver_waiting(Arc::clone(&ctx.http), &person);
                }
            }
            Err(err) => error!(error = %err, "could not read the outbox"),
        }
        if self.0.register_commands {
            let mut definitions = commands::definitions();
            definitions.extend(checkins::commands());
            definitions.extend(privacy::commands());
            definitions.extend(pairing::commands());
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
        queue(&self.0, ctx.http, msg.author.id, msg.id.get(), queued);
    }

    async fn interaction_create(&self, ctx: Context, interaction: Interaction) {
        match interaction {
            Interaction::Component(press) => pressed(&self.0, ctx, press).await,
            Interaction::Command(command) if moderation::is_command(&command.data.name) => {
                let bot = &self.0;
                let (moderators, turns) = (bot.moderators.as_ref(), &bot.announcing);
                moderation::command(
                    &ctx,
                    &bot.store,
                    moderators,
                    turns,
                    &command,
                    bot.clock.now(),
                )
                .await;
            }
            Interaction::Command(command) if checkins::is_command(&command.data.name) => {
                let queued = checkins::acknowledge(&ctx.http, &command).await;
                queue_action(
                    &self.0,
                    ctx.http,
                    queued,
                    Action::Checkin(Box::new(command)),
                );
            }
            Interaction::Command(command) if pairing::is_command(&command.data.name) => {
                let queued = pairing::acknowledge(&ctx.http, &command).await;
                queue_action(&self.0, ctx.http, queued, Action::Pair(Box::new(command)));
            }
            Interaction::Command(command) if privacy::is_command(&command.data.name) => {
                let queued = privacy::acknowledge(&ctx.http, &command).await;
                queue_action(&self.0, ctx.http, queued, Action::Export(Box::new(command)));
            }
            Interaction::Command(command) => slash(&self.0, ctx, command).await,
            Interaction::Modal(modal) => {
                let bot = &self.0;
                let (moderators, turns) = (bot.moderators.as_ref(), &bot.announcing);
                moderation::submitted(&ctx, &bot.store, moderators, turns, &modal, bot.clock.now())
                    .await;
            }
            _ => {}
        }
    }
}

async fn pressed(bot: &Arc<Bot>, ctx: Context, press: ComponentInteraction) {
    // Routed by the id's prefix alone; the rest, old ids and unknown ones
    // too, are the conversation's, and the engine answers them kindly.
    match buttons::kind(&press.data.custom_id) {
        buttons::Kind::Flag => {
            let (moderators, turns) = (bot.moderators.as_ref(), &bot.announcing);
            moderation::pressed(&ctx, &bot.store, moderators, turns, &press, bot.clock.now()).await;
            return;
        }
        buttons::Kind::Privacy => {
            let queued = privacy::acknowledge_press(&ctx.http, &press).await;
            queue_action(bot, ctx.http, queued, Action::Privacy(Box::new(press)));
            return;
        }
        buttons::Kind::Pair => {
            let queued = pairing::acknowledge_press(&ctx.http, &press).await;
            queue_action(bot, ctx.http, queued, Action::PairPress(Box::new(press)));
            return;
        }
        buttons::Kind::Conversation => {}
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
    queue(bot, ctx.http, press.user.id, press.id.get(), queued);
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
    queue(bot, ctx.http, user, order, queued);
}

/// Queues a person-level action in that person's queue, when its
/// acknowledgement said there is something to carry out (`wanted`).
fn queue_action(bot: &Arc<Bot>, http: Arc<Http>, wanted: bool, action: Action) {
    if !wanted {
        return;
    }
    let (user, id) = match &action {
        Action::Checkin(interaction) | Action::Export(interaction) | Action::Pair(interaction) => {
            (interaction.user.id, interaction.id.get())
        }
        Action::Privacy(press) | Action::PairPress(press) => (press.user.id, press.id.get()),
    };
    let queued = Queued {
        key: format!("interaction:{id}"),
        job: Job::Action(action),
    };
    queue(bot, http, user, id, queued);
}

/// Queues a person's event; starts their worker if none is running.
fn queue(bot: &Arc<Bot>, http: Arc<Http>, user: UserId, order: u64, queued: Queued) {
    if !bot.inbox.push(user.get(), order, queued) {
        return;
    }
    let bot = Arc::clone(bot);
    tokio::spawn(
        async move {
            tokio::time::sleep(bot.order_window).await;
            while let Some(queued) = bot.inbox.pop(user.get()) {
                let channel = queued.job.channel();
                let (job_bot, job_http) = (Arc::clone(&bot), Arc::clone(&http));
                let job = async move { process(&job_bot, &job_http, user, queued).await };
                if !isolated(job.in_current_span()).await
                    && let Some(channel) = channel
                {
                    // A bug, not the person's doing: say so kindly, and keep
                    // serving them (their queue would stall otherwise).
                    let reply = Reply::new(TROUBLE, Vec::new());
                    if let Err(err) = channel.send_message(&http, render::message(&reply)).await {
                        warn!(error = %err, "could not say that something went wrong");
                    }
                }
            }
        }
        .instrument(info_span!("person", user = %user)),
    );
}

/// Runs one event's handling as its own task, so a panic in it (a bug)
/// ends that event only, not the person's worker. False if it panicked.
async fn isolated(job: impl std::future::Future<Output = ()> + Send + 'static) -> bool {
    match tokio::spawn(job).await {
        Ok(()) => true,
        Err(err) => {
            error!(
                panicked = err.is_panic(),
                "an event's handling stopped short"
            );
            false
        }
    }
}

async fn process(bot: &Arc<Bot>, http: &Arc<Http>, user: UserId, queued: Queued) {
    let input = match &queued.job {
        Job::Message { text, .. } => Input::Text(text.clone()),
        Job::Press { custom_id, .. } => Input::Choice(custom_id.clone()),
        Job::Command { command, .. } => command.input(),
        Job::Flush => {
            flush(bot, http, user, None).await;
            return;
        }
        Job::Action(action) => {
            let now = bot.clock.now();
            match action {
                Action::Checkin(interaction) => {
                    checkins::carry_out(http, &bot.store, now, interaction).await;
                }
                Action::Export(interaction) => {
                    privacy::export(http, &bot.store, now, interaction).await;
                }
                Action::Privacy(press) => {
                    privacy::carry_out_press(http, &bot.store, now, press).await;
                }
                Action::Pair(interaction) => {
                    let acted = pairing::command(
                        http,
                        &bot.companion,
                        &bot.store,
                        &bot.pending,
                        now,
                        interaction,
                    )
                    .await;
                    after_pairing(bot, http, acted).await;
                }
                Action::PairPress(press) => {
                    let acted =
                        pairing::press(http, &bot.companion, &bot.store, &bot.pending, now, press)
                            .await;
                    after_pairing(bot, http, acted).await;
                }
            }
            return;
        }
    };
    let Some(channel) = queued.job.channel() else {
        return;
    };
    let command = match &queued.job {
        Job::Command { interaction, .. } => Some(&**interaction),
        _ => None,
    };
    let person = format!("discord:{user}");
    let started = std::time::Instant::now();
    let now = bot.clock.now();
    let address = channel.to_string();
    // Screened before the store is touched: if the store then fails, a
    // worrying message still gets the crisis reply.
    let hit = bot.companion.screen(&input);
    if hit.is_none() {
        // Flags waiting for the store go first; a crisis turn's reply
        // does not wait for them.
        bot.raise_pending(http).await;
    }
    // Someone who may be in danger is not kept waiting by another writer.
    let crisis = hit.is_some() || bot.companion.unsafe_answer(&input).is_some();
    let mut turn =
        std::pin::pin!(
            bot.store
                .apply_once_to(&person, &queued.key, &address, now, |state| {
                    bot.companion
                        .respond_screened(state, &input, hit.clone(), now)
                })
        );
    // Replies kept in the outbox have nonces by their place among the turn's
    // replies; the words added here (a notice, a tool's report) have their own.
    let extra_key = format!("{}+", queued.key);
    let result = if crisis {
        match tokio::time::timeout(crate::store::CRISIS_WAIT, turn.as_mut()).await {
            Ok(result) => result,
            Err(_) => {
                // The crisis reply goes now, and its flag waits in memory;
                // the turn goes on, and whichever way it ends, the person
                // hears once and the moderators get one flag.
                warn!("the store is slow; the crisis reply goes out without it");
                let asked = bot.companion.unsafe_answer(&input);
                let Some(waiting) = PendingFlag::of_turn(&person, hit.clone(), asked, now) else {
                    return;
                };
                bot.pending.push(waiting.clone());
                let reply = bot.companion.crisis_alone(&waiting.hit);
                let outgoing = [Outgoing::new(reply, &extra_key, 0)];
                let delivered = deliver(&Discord { http, user }, channel, command, &outgoing).await;
                match turn.await {
                    Ok(Some(applied)) => {
                        // Kept after all: its replies were the crisis
                        // reply just given (if that could not be given,
                        // they wait to be sent).
                        bot.pending.settle(&waiting, applied.flag.is_some());
                        if delivered != Delivery::Failed {
                            bot.sent
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .push(queued.key.clone());
                        }
                        announce(bot, http, applied.flag).await;
                    }
                    Ok(None) => bot.pending.withdraw(&waiting),
                    Err(err) => {
                        error!(error = %err, "could not apply a crisis turn");
                        bot.raise_pending(http).await;
                    }
                }
                return;
            }
        }
    } else {
        turn.await
    };
    let mut outgoing = Vec::new();
    let mut kept = false;
    let mut raised = None;
    let mut waiting = false;
    let mut partners: Vec<String> = Vec::new();
    match result {
        Ok(Some(applied)) => {
            for event in &applied.outcome.events {
                debug!(kind = event.kind(), flow = event.flow(), "event");
            }
            if let Some(flag) = &applied.flag {
                info!(flag = flag.id, new = flag.new, "crisis flag raised");
            }
            raised = applied.flag;
            if applied.unsent_before && !flush(bot, http, user, Some(&queued.key)).await {
                // Older replies could not go out yet; this turn's wait
                // behind them in the outbox, so the order holds. The
                // moderators still hear at once.
                announce(bot, http, raised).await;
                return;
            }
            if applied.set_aside > 0 {
                let notice = Reply::new(crate::store::SET_ASIDE, Vec::new());
                outgoing.push(Outgoing::new(notice, &extra_key, outgoing.len()));
            }
            if let Some(reason) = applied.checkins_paused {
                let notice =
                    Reply::new(crate::checkins::progress::paused_notice(reason), Vec::new());
                outgoing.push(Outgoing::new(notice, &extra_key, outgoing.len()));
            }
            // A flow's tools speak first; the step the choice led to follows.
            for done in &applied.tools {
                let told = progress::told(&bot.store, &person, done, now, Edge::Discord);
                let report = match told.await {
                    Ok(report) => report,
                    Err(err) => {
                        error!(error = %err, "could not carry out a menu setting");
                        progress::Report {
                            text: NOT_DONE.to_owned(),
                            chart: None,
                        }
                    }
                };
                let reply = Reply::new(report.text, Vec::new());
                let mut item = Outgoing::new(reply, &extra_key, outgoing.len());
                item.chart = report.chart;
                outgoing.push(item);
            }
            // Pairing's answers speak first too, but one that asks
            // something (a confirmation, a preview) comes last.
            let (asking, said): (Vec<Reply>, Vec<Reply>) = applied
                .pairing
                .iter()
                .map(|carried| crate::pairing::told(&carried.done, Edge::Discord))
                .partition(|reply| !reply.choices().is_empty());
            for reply in said {
                outgoing.push(Outgoing::new(reply, &extra_key, outgoing.len()));
            }
            for (position, reply) in applied.outcome.replies.into_iter().enumerate() {
                outgoing.push(Outgoing::new(reply, &queued.key, position));
            }
            let mut asking = asking;
            if applied.offer_end {
                asking.push(crate::pairing::offer_end());
            }
            for reply in asking {
                outgoing.push(Outgoing::new(reply, &extra_key, outgoing.len()));
            }
            partners.extend(applied.pairing.iter().filter_map(|c| c.deliver.clone()));
            kept = true;
        }
        Ok(None) => {
            debug!(key = %queued.key, "already applied; not applying again");
            return;
        }
        Err(err) => {
            error!(error = %err, crisis = hit.is_some(), "could not apply an event");
            // A "yes" pressed under mend's question is answered too.
            let asked = bot.companion.unsafe_answer(&input);
            let reply = match PendingFlag::of_turn(&person, hit.clone(), asked, now) {
                // The full crisis reply, even for an uncertain message: its
                // question could not be kept, and the contacts are safer.
                Some(flag) => {
                    let reply = bot.companion.crisis_alone(&flag.hit);
                    bot.pending.push(flag);
                    waiting = true;
                    reply
                }
                None => Reply::new(TROUBLE, Vec::new()),
            };
            outgoing.push(Outgoing::new(reply, &extra_key, 0));
        }
    }
    let delivered = deliver(&Discord { http, user }, channel, command, &outgoing).await;
    if kept && delivered != Delivery::Failed {
        bot.sent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(queued.key.clone());
    }
    // What a partner was sent goes to their queue, once this turn is kept.
    for partner in partners {
        bot.deliver_waiting(Arc::clone(http), &partner);
    }
    // The person's reply goes first; the notice follows at once.
    announce(bot, http, raised).await;
    if waiting {
        // The store may only have refused the turn (one value that would
        // not open): the flag is tried at once, then on every later turn
        // and every minute.
        bot.raise_pending(http).await;
    }
    debug!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        replies = outgoing.len(),
        "answered"
    );
}

/// What a pairing act leaves to do once answered: the partner's outbox
/// delivered through their queue, a flag the store could not take tried
/// again, and the moderators told of a flag.
async fn after_pairing(
    bot: &Arc<Bot>,
    http: &Arc<Http>,
    acted: Option<crate::pairing::run::Acted>,
) {
    let Some(acted) = acted else {
        return;
    };
    if let Some(partner) = &acted.deliver {
        bot.deliver_waiting(Arc::clone(http), partner);
    }
    // A flag the store could not take waits, and is tried again now.
    bot.raise_pending(http).await;
    announce(bot, http, acted.flag).await;
}

/// Tells the moderators about a flag this turn raised or updated. Awaited
/// in the person's turn, so their next message cannot update the flag
/// before its notice exists (which would post a second notice, and ping
/// twice, instead of editing the first).
async fn announce(bot: &Bot, http: &Http, raised: Option<Raised>) {
    if let (Some(flag), Some(moderators)) = (raised, &bot.moderators) {
        let turns = &bot.announcing;
        moderation::announce(http, &bot.store, moderators, turns, flag.id).await;
    }
}

/// Sends the replies an earlier turn left in the outbox (all of the
/// person's except `current`'s), oldest first, clearing each turn's once
/// sent. False if some could not be sent and are still waiting.
async fn flush(bot: &Bot, http: &Http, user: UserId, current: Option<&str>) -> bool {
    // What went out already is cleared first, so only what is truly
    // waiting is sent again.
    bot.settle().await;
    let person = format!("discord:{user}");
    let unsent = match bot.store.unsent(&person).await {
        Ok(unsent) => unsent,
        Err(err) => {
            error!(error = %err, "could not read the outbox");
            return false;
        }
    };
    let mut turns: Vec<(String, Target, Vec<Outgoing>)> = Vec::new();
    for item in unsent {
        if Some(item.event_key.as_str()) == current {
            continue;
        }
        let target = if item.address == store::DIRECT {
            Target::Direct
        } else if let Some(channel) = item.address.parse::<u64>().ok().filter(|c| *c != 0) {
            Target::Channel(ChannelId::new(channel))
        } else {
            warn!("an outbox reply has no channel; dropping it");
            let _ = bot.store.sent(&item.event_key).await;
            continue;
        };
        let outgoing = Outgoing::new(item.reply, &item.event_key, item.position);
        match turns.last_mut() {
            Some((key, _, list)) if *key == item.event_key => list.push(outgoing),
            _ => turns.push((item.event_key, target, vec![outgoing])),
        }
    }
    for (key, target, outgoing) in turns {
        info!(
            replies = outgoing.len(),
            checkin = checkin_rows::key_person(&key).is_some(),
            "sending replies held in the outbox"
        );
        let delivered = match target {
            Target::Channel(channel) => {
                deliver(&Discord { http, user }, channel, None, &outgoing).await
            }
            Target::Direct => {
                let opened = send::retrying("direct channel", send::PATIENT, || {
                    user.create_dm_channel(http)
                })
                .await;
                match opened {
                    Ok(channel) => {
                        deliver(&Discord { http, user }, channel.id, None, &outgoing).await
                    }
                    Err(err) => match classify(user, Err::<(), _>(err)) {
                        Sent::Unreachable | Sent::Skipped => Delivery::Refused,
                        // No channel to send to: tried again later.
                        Sent::Later | Sent::Yes => Delivery::Failed,
                    },
                }
            }
        };
        if delivered == Delivery::Failed {
            return false;
        }
        if delivered == Delivery::Refused
            && let Some(person_id) = checkin_rows::key_person(&key)
        {
            info!("cannot message this person; check-ins paused");
            let paused = bot
                .store
                .pause_checkins(person_id, PauseReason::Undeliverable, bot.clock.now())
                .await;
            if let Err(err) = paused {
                error!(error = %err, "could not pause check-ins");
            }
        }
        if let Err(err) = bot.store.sent(&key).await {
            warn!(error = %err, "could not clear sent replies from the outbox");
        }
    }
    true
}

/// Where an outbox entry goes.
enum Target {
    /// The channel the turn came from.
    Channel(ChannelId),
    /// The person's direct messages (a check-in).
    Direct,
}

/// The Discord user behind a stored person id (`discord:<id>`).
fn discord_user(person: &str) -> Option<UserId> {
    person
        .strip_prefix("discord:")
        .and_then(|id| id.parse::<u64>().ok())
        .filter(|id| *id != 0)
        .map(UserId::new)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_job_is_contained_and_reported() {
        assert!(isolated(async {}).await);
        assert!(!isolated(async { panic!("a bug in one event") }).await);
        // The caller carries on afterwards.
        assert!(isolated(async {}).await);
    }
}
