//! The moderators' side: a notice in their private channel for each new
//! flag, buttons to claim, resolve (with a note) and escalate, `/flags` and
//! `/flag`, and a role check on every one of them. Every action, and every
//! refused attempt, goes to the audit log.

use jiff::Timestamp;
use serenity::all::{
    ActionRowComponent, ButtonStyle, ChannelId, CommandDataOptionValue, CommandInteraction,
    CommandOptionType, ComponentInteraction, Context, CreateActionRow, CreateAllowedMentions,
    CreateButton, CreateCommand, CreateCommandOption, CreateInputText, CreateInteractionResponse,
    CreateInteractionResponseMessage, CreateMessage, CreateModal, EditMessage, GuildId, Http,
    InputTextStyle, Member, MessageId, ModalInteraction, Permissions, RoleId,
};
use tracing::{error, info, warn};

use super::Refusal;
use super::{Action, Flag};
use crate::buttons::FLAG;
use crate::config::Moderation as Settings;
use crate::discord::render::{self, link_row, no_mentions};
use crate::store::Store;

/// Where flags go and who may handle them; only built when config names all three.
#[derive(Debug, Clone, Copy)]
pub struct Moderators {
    pub guild: GuildId,
    pub channel: ChannelId,
    pub role: RoleId,
    pub ping_role: bool,
}

impl Moderators {
    pub fn from_config(settings: &Settings) -> Option<Moderators> {
        // Ids of 0 were refused when the config was loaded.
        let [guild, channel, role] = settings.ids()?;
        Some(Moderators {
            guild: GuildId::from(guild),
            channel: ChannelId::from(channel),
            role: RoleId::from(role),
            ping_role: settings.ping_role,
        })
    }

    fn allows(&self, guild: Option<GuildId>, member: Option<&Member>) -> bool {
        guild == Some(self.guild) && member.is_some_and(|m| m.roles.contains(&self.role))
    }
}

const REFUSED: &str =
    "Only moderators can see or handle crisis flags. This attempt has been noted.";

/// The longest note a moderator can leave on a flag, in characters. The
/// modal and the command's option tell Discord; mend checks it too.
pub const MAX_NOTE_CHARS: usize = 1000;

/// Who is offered `/flags` and `/flag` until a server's admins choose
/// otherwise (Server Settings → Integrations): members who can manage
/// messages, as moderators can. The role check still decides.
pub fn offered_to() -> Permissions {
    Permissions::MANAGE_MESSAGES
}

/// The kind refusal of a note over [`MAX_NOTE_CHARS`]; None if it fits.
fn note_too_long(note: &str) -> Option<String> {
    let length = note.chars().count();
    (length > MAX_NOTE_CHARS).then(|| {
        format!(
            "A note can be up to {MAX_NOTE_CHARS} characters, and this one has {length}. \
             Nothing was changed; please shorten it and try again."
        )
    })
}

/// The text of a flag's notice: facts, the short excerpt, and who handled it.
pub fn notice_text(flag: &Flag) -> String {
    let who = flag
        .person
        .strip_prefix("discord:")
        .map_or_else(|| flag.person.clone(), |id| format!("<@{id}>"));
    let mut text = format!(
        "**Crisis flag #{}** · {} · {} · **{}**\nFrom {who} · {} message{} · first {} · latest {}\n",
        flag.id,
        flag.category.replace('_', " "),
        flag.severity,
        flag.status.as_str(),
        flag.hits,
        if flag.hits == 1 { "" } else { "s" },
        flag.created_at.strftime("%Y-%m-%d %H:%M UTC"),
        flag.updated_at.strftime("%Y-%m-%d %H:%M UTC"),
    );
    if flag.asked {
        text.push_str("_mend asked whether they were safe, and they answered yes or not sure._\n");
    }
    match &flag.excerpt {
        Some(excerpt) => text.push_str(&format!(
            "> {}\n",
            render::as_written(&excerpt.replace('\n', " "))
        )),
        None => text.push_str("_The excerpt has been erased._\n"),
    }
    if let Some(by) = &flag.handled_by {
        let by = by
            .strip_prefix("discord:")
            .map_or(by.clone(), |id| format!("<@{id}>"));
        text.push_str(&format!("Handled by {by}"));
        if let Some(note) = &flag.note {
            text.push_str(&format!(": {}", note.replace('\n', " ")));
        }
        text.push('\n');
    }
    text.push_str("mend has already sent this person the crisis contacts for this category.");
    text
}

/// Claim, Resolve and Escalate, usable only while they make sense, then the
/// three services' links that every message mend sends carries.
pub fn notice_buttons(flag: &Flag) -> Vec<CreateActionRow> {
    let button = |action: Action, label: &str, style: ButtonStyle| {
        CreateButton::new(format!("{FLAG}{}:{}", flag.id, action.as_str()))
            .label(label)
            .style(style)
            .disabled(action.apply(flag.status).is_none())
    };
    vec![
        CreateActionRow::Buttons(vec![
            button(Action::Claim, "Claim", ButtonStyle::Primary),
            button(Action::Resolve, "Resolve", ButtonStyle::Success),
            button(Action::Escalate, "Escalate", ButtonStyle::Danger),
        ]),
        link_row(),
    ]
}

/// Posts a flag's notice, or edits it when there is one already.
///
/// Announcements take turns (a person's turn and [`announce_owed`] may both
/// reach the same flag), and each reads the flag afresh, so the second edits
/// what the first posted instead of posting, and pinging, again.
pub async fn announce(
    http: &Http,
    store: &Store,
    moderators: &Moderators,
    turns: &AnnounceTurns,
    id: i64,
) {
    let _turn = turns.0.lock().await;
    let flag = match store.flag(id).await {
        Ok(Some(flag)) => flag,
        Ok(None) => return,
        Err(err) => {
            error!(flag = id, error = %err, "could not read a flag to announce");
            return;
        }
    };
    if !edit_notice(http, &flag).await {
        post_notice(http, store, moderators, &flag).await;
    }
}

/// Edits `flag`'s notice to show it as it is now; false if it has none.
/// Called with the turn held, so the flag given is the latest.
async fn edit_notice(http: &Http, flag: &Flag) -> bool {
    let notice = (
        flag.notice_channel.as_deref(),
        flag.notice_message.as_deref(),
    );
    let (Some(channel), Some(message)) = notice else {
        return false;
    };
    let (Ok(channel), Ok(message)) = (channel.parse::<u64>(), message.parse::<u64>()) else {
        return false;
    };
    if channel == 0 || message == 0 {
        return false;
    }
    let edit = EditMessage::new()
        .content(notice_text(flag))
        .components(notice_buttons(flag))
        .allowed_mentions(no_mentions());
    if let Err(err) = ChannelId::new(channel)
        .edit_message(http, MessageId::new(message), edit)
        .await
    {
        warn!(flag = flag.id, error = %err, "could not update a flag notice");
    }
    true
}

/// Posts a notice for `flag`, which has none yet, and remembers where it
/// is. Called with the turn held.
async fn post_notice(http: &Http, store: &Store, moderators: &Moderators, flag: &Flag) {
    let mut content = notice_text(flag);
    let mut mentions = no_mentions();
    if moderators.ping_role {
        content = format!("<@&{}> {content}", moderators.role);
        mentions = CreateAllowedMentions::new()
            .everyone(false)
            .all_users(false)
            .replied_user(false)
            .roles(vec![moderators.role]);
    }
    let message = CreateMessage::new()
        .content(content)
        .components(notice_buttons(flag))
        .allowed_mentions(mentions);
    match moderators.channel.send_message(http, message).await {
        Ok(sent) => {
            info!(flag = flag.id, "flag notice posted");
            let stored = store
                .set_flag_notice(flag.id, &sent.channel_id.to_string(), &sent.id.to_string())
                .await;
            if let Err(err) = stored {
                error!(flag = flag.id, error = %err, "could not remember a flag notice");
            }
        }
        Err(err) => error!(
            flag = flag.id,
            error = %err,
            "could not post a flag notice; it will be tried again"
        ),
    }
}

/// Held while a notice is posted or edited; see [`announce`].
#[derive(Debug, Default)]
pub struct AnnounceTurns(tokio::sync::Mutex<()>);

/// Posts the notices still owed: open and claimed flags from Discord whose
/// notice was never posted, because Discord failed the post or mend
/// stopped between raising the flag and announcing it.
///
/// They are listed with the turn held, so no other announcement can post
/// one of them meanwhile: each is posted from the list as read, with no
/// second read per flag.
pub async fn announce_owed(
    http: &Http,
    store: &Store,
    moderators: &Moderators,
    turns: &AnnounceTurns,
) {
    let _turn = turns.0.lock().await;
    let owed = match store.owed_notices().await {
        Ok(owed) => owed,
        Err(err) => {
            warn!(error = %err, "could not read flags to find notices owed");
            return;
        }
    };
    for flag in &owed {
        info!(flag = flag.id, "posting a notice still owed");
        post_notice(http, store, moderators, flag).await;
    }
}

async fn refuse_audited(store: &Store, actor: &str, what: &str, flag: Option<i64>, now: Timestamp) {
    if let Err(err) = store.audit_refusal(actor, what, flag, now).await {
        error!(error = %err, "could not audit a refused moderator action");
    }
}

fn ephemeral(text: impl Into<String>) -> CreateInteractionResponse {
    CreateInteractionResponse::Message(
        CreateInteractionResponseMessage::new()
            .content(text)
            .components(vec![link_row()])
            .allowed_mentions(no_mentions())
            .ephemeral(true),
    )
}

fn refusal_text(refusal: &Refusal) -> String {
    match refusal {
        Refusal::NoSuchFlag => "There is no flag with that number.".into(),
        Refusal::NotAllowed { status } => {
            format!(
                "That flag is already {}; nothing was changed.",
                status.as_str()
            )
        }
    }
}

/// A flag's button was pressed in the moderators' server.
pub async fn pressed(
    ctx: &Context,
    store: &Store,
    moderators: Option<&Moderators>,
    turns: &AnnounceTurns,
    press: &ComponentInteraction,
    now: Timestamp,
) {
    let actor = format!("discord:{}", press.user.id);
    let parsed = parse_button(&press.data.custom_id);
    let allowed = moderators.is_some_and(|m| m.allows(press.guild_id, press.member.as_ref()));
    let Some((id, action)) = parsed.filter(|_| allowed) else {
        refuse_audited(store, &actor, "button", parsed.map(|(id, _)| id), now).await;
        respond(ctx, press, ephemeral(REFUSED)).await;
        return;
    };
    if action == Action::Resolve {
        let modal = CreateModal::new(
            format!("{FLAG}{id}:resolve-note"),
            format!("Resolve flag #{id}"),
        )
        .components(vec![CreateActionRow::InputText(
            CreateInputText::new(
                InputTextStyle::Paragraph,
                "What happened? (kept in the audit log)",
                "note",
            )
            .min_length(1)
            .max_length(MAX_NOTE_CHARS as u16),
        )]);
        respond(ctx, press, CreateInteractionResponse::Modal(modal)).await;
        return;
    }
    // The notice changes in turn with announcements, so theirs and this
    // one cannot cross and leave it showing the older state.
    let _turn = turns.0.lock().await;
    let response = match store.act_on_flag(id, action, &actor, None, now).await {
        Ok(Ok(flag)) => update_notice(&flag),
        Ok(Err(refusal)) => ephemeral(refusal_text(&refusal)),
        Err(err) => {
            error!(flag = id, error = %err, "could not apply a moderator action");
            ephemeral("Something went wrong on my side; the flag is unchanged. Please try again.")
        }
    };
    respond(ctx, press, response).await;
}

fn update_notice(flag: &Flag) -> CreateInteractionResponse {
    CreateInteractionResponse::UpdateMessage(
        CreateInteractionResponseMessage::new()
            .content(notice_text(flag))
            .components(notice_buttons(flag))
            .allowed_mentions(no_mentions()),
    )
}

async fn respond(ctx: &Context, press: &ComponentInteraction, response: CreateInteractionResponse) {
    if let Err(err) = press.create_response(&ctx.http, response).await {
        warn!(error = %err, "could not answer a moderator's press");
    }
}

/// The note for "Resolve" arrived.
pub async fn submitted(
    ctx: &Context,
    store: &Store,
    moderators: Option<&Moderators>,
    turns: &AnnounceTurns,
    modal: &ModalInteraction,
    now: Timestamp,
) {
    let actor = format!("discord:{}", modal.user.id);
    let id = modal
        .data
        .custom_id
        .strip_prefix(FLAG)
        .and_then(|rest| rest.strip_suffix(":resolve-note"))
        .and_then(|id| id.parse::<i64>().ok());
    let allowed = moderators.is_some_and(|m| m.allows(modal.guild_id, modal.member.as_ref()));
    let answer = |response| async {
        if let Err(err) = modal.create_response(&ctx.http, response).await {
            warn!(error = %err, "could not answer a moderator's note");
        }
    };
    let Some(id) = id.filter(|_| allowed) else {
        refuse_audited(store, &actor, "resolve note", id, now).await;
        answer(ephemeral(REFUSED)).await;
        return;
    };
    let note: String = modal
        .data
        .components
        .iter()
        .flat_map(|row| &row.components)
        .find_map(|c| match c {
            ActionRowComponent::InputText(input) if input.custom_id == "note" => {
                input.value.clone()
            }
            _ => None,
        })
        .unwrap_or_default();
    let note = note.trim();
    if let Some(refusal) = note_too_long(note) {
        answer(ephemeral(refusal)).await;
        return;
    }
    let note = (!note.is_empty()).then_some(note);
    let _turn = turns.0.lock().await;
    let response = match store
        .act_on_flag(id, Action::Resolve, &actor, note, now)
        .await
    {
        Ok(Ok(flag)) if modal.message.is_some() => update_notice(&flag),
        Ok(Ok(flag)) => {
            edit_notice(&ctx.http, &flag).await;
            ephemeral(format!("Flag #{} is resolved.", flag.id))
        }
        Ok(Err(refusal)) => ephemeral(refusal_text(&refusal)),
        Err(err) => {
            error!(flag = id, error = %err, "could not resolve a flag");
            ephemeral("Something went wrong on my side; the flag is unchanged. Please try again.")
        }
    };
    answer(response).await;
}

fn parse_button(custom_id: &str) -> Option<(i64, Action)> {
    let mut parts = custom_id.strip_prefix(FLAG)?.split(':');
    let id = parts.next()?.parse().ok()?;
    let action = Action::parse(parts.next()?)?;
    parts.next().is_none().then_some((id, action))
}

/// `/flags` and `/flag`, for the moderators' server only.
pub fn commands() -> Vec<CreateCommand> {
    vec![
        CreateCommand::new("flags")
            .description("List open and claimed crisis flags")
            .default_member_permissions(offered_to()),
        CreateCommand::new("flag")
            .description("Show or act on one crisis flag")
            .default_member_permissions(offered_to())
            .add_option(
                CreateCommandOption::new(CommandOptionType::Integer, "id", "The flag's number")
                    .required(true)
                    .min_int_value(1),
            )
            .add_option(
                CreateCommandOption::new(
                    CommandOptionType::String,
                    "action",
                    "What to do (default: show)",
                )
                .add_string_choice("show", "show")
                .add_string_choice("claim", "claim")
                .add_string_choice("resolve", "resolve")
                .add_string_choice("escalate", "escalate"),
            )
            .add_option(
                CreateCommandOption::new(
                    CommandOptionType::String,
                    "note",
                    "A note for the audit log (for resolve)",
                )
                .max_length(MAX_NOTE_CHARS as u16),
            ),
    ]
}

/// Whether a command name is one of the moderators'.
pub fn is_command(name: &str) -> bool {
    matches!(name, "flags" | "flag")
}

/// `/flags` or `/flag`: always answered ephemerally.
pub async fn command(
    ctx: &Context,
    store: &Store,
    moderators: Option<&Moderators>,
    turns: &AnnounceTurns,
    interaction: &CommandInteraction,
    now: Timestamp,
) {
    let actor = format!("discord:{}", interaction.user.id);
    let allowed =
        moderators.is_some_and(|m| m.allows(interaction.guild_id, interaction.member.as_deref()));
    let text = if !allowed {
        refuse_audited(
            store,
            &actor,
            &format!("/{}", interaction.data.name),
            None,
            now,
        )
        .await;
        REFUSED.to_owned()
    } else if interaction.data.name == "flags" {
        match store.active_flags().await {
            Ok(active) if active.is_empty() => "No open or claimed flags.".to_owned(),
            Ok(active) => list(&active),
            Err(err) => {
                error!(error = %err, "could not list flags");
                "Something went wrong on my side; please try again.".to_owned()
            }
        }
    } else {
        flag_command(&ctx.http, store, turns, &actor, interaction, now).await
    };
    let response = ephemeral(shorten(&text));
    if let Err(err) = interaction.create_response(&ctx.http, response).await {
        warn!(error = %err, "could not answer a moderator command");
    }
}

/// The open and claimed flags, one line each, those nobody has claimed
/// first, as many whole lines as fit in one message; the rest are counted,
/// never cut off unseen.
fn list(active: &[Flag]) -> String {
    // Room kept for the last line, which says how many more there are.
    const ROOM: usize = render::CONTENT_CHARS - 160;
    let mut active: Vec<&Flag> = active.iter().collect();
    active.sort_by_key(|flag| flag.status != crate::flags::Status::Open);
    let mut out = String::from("**Open and claimed flags**\n");
    for (shown, flag) in active.iter().enumerate() {
        let line = format!(
            "#{} · {} · {} · {} · {} message{}\n",
            flag.id,
            flag.category.replace('_', " "),
            flag.severity,
            flag.status.as_str(),
            flag.hits,
            if flag.hits == 1 { "" } else { "s" }
        );
        if out.chars().count() + line.chars().count() > ROOM {
            let more = active.len() - shown;
            out.push_str(&format!(
                "…and {more} more not shown here. `/flag` with a number opens any of \
                 them, and `mend flags` on the server lists them all."
            ));
            return out;
        }
        out.push_str(&line);
    }
    out
}

async fn flag_command(
    http: &Http,
    store: &Store,
    turns: &AnnounceTurns,
    actor: &str,
    interaction: &CommandInteraction,
    now: Timestamp,
) -> String {
    let mut id = None;
    let mut action = "show".to_owned();
    let mut note = None;
    for option in &interaction.data.options {
        match (option.name.as_str(), &option.value) {
            ("id", CommandDataOptionValue::Integer(value)) => id = Some(*value),
            ("action", CommandDataOptionValue::String(value)) => action = value.clone(),
            ("note", CommandDataOptionValue::String(value)) => note = Some(value.clone()),
            _ => {}
        }
    }
    let Some(id) = id else {
        return "Give the flag's number, e.g. /flag id:12".into();
    };
    if action == "show" {
        return match store.flag(id).await {
            Ok(Some(flag)) => notice_text(&flag),
            Ok(None) => refusal_text(&Refusal::NoSuchFlag),
            Err(err) => {
                error!(error = %err, "could not read a flag");
                "Something went wrong on my side; please try again.".into()
            }
        };
    }
    let Some(action) = Action::parse(&action) else {
        return "The action should be show, claim, resolve or escalate.".into();
    };
    if let Some(refusal) = note.as_deref().and_then(note_too_long) {
        return refusal;
    }
    // Acted on and shown in the notice in one turn, so an announcement
    // cannot edit the notice in between with what the flag was before.
    let _turn = turns.0.lock().await;
    match store
        .act_on_flag(id, action, actor, note.as_deref(), now)
        .await
    {
        Ok(Ok(flag)) => {
            edit_notice(http, &flag).await;
            format!("Done.\n{}", notice_text(&flag))
        }
        Ok(Err(refusal)) => refusal_text(&refusal),
        Err(err) => {
            error!(flag = id, error = %err, "could not apply a moderator action");
            "Something went wrong on my side; the flag is unchanged. Please try again.".into()
        }
    }
}

fn shorten(text: &str) -> String {
    if text.chars().count() <= 2000 {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(1990).collect();
    out.push_str("\n…");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_list_of_flags_shows_whole_lines_and_counts_the_rest() {
        let at = Timestamp::UNIX_EPOCH;
        let flag = |id| Flag {
            id,
            person: "discord:1".into(),
            category: "sexual_violence".into(),
            severity: "critical".into(),
            excerpt: None,
            hits: 12,
            status: crate::flags::Status::Claimed,
            handled_by: None,
            note: None,
            notice_channel: None,
            notice_message: None,
            created_at: at,
            updated_at: at,
            asked: false,
        };
        let mut few: Vec<Flag> = (1..=3).map(flag).collect();
        few[2].status = crate::flags::Status::Open;
        let text = list(&few);
        assert!(!text.contains("more not shown"));
        assert!(
            text.lines().nth(1).unwrap().starts_with("#3 "),
            "open first: {text}"
        );
        let many: Vec<Flag> = (1..=200).map(flag).collect();
        let text = list(&many);
        assert!(
            text.chars().count() <= render::CONTENT_CHARS,
            "{}",
            text.len()
        );
        let shown = text.lines().filter(|l| l.starts_with('#')).count();
        assert!(shown > 10, "{shown}");
        assert!(
            text.contains(&format!("…and {} more not shown here", 200 - shown)),
            "{text}"
        );
        assert_eq!(shorten(&text), text, "nothing cut off");
    }

    #[test]
    fn buttons_name_the_flag_and_action() {
        assert_eq!(parse_button("flag:12:claim"), Some((12, Action::Claim)));
        assert_eq!(parse_button("flag:12:resolve"), Some((12, Action::Resolve)));
        assert_eq!(parse_button("flag:x:claim"), None);
        assert_eq!(parse_button("flag:12:delete"), None);
        assert_eq!(parse_button("flag:12:claim:more"), None);
        assert_eq!(parse_button("welcome:hello:1"), None);
        assert_eq!(parse_button("c:flag:12:claim"), None);
    }

    #[test]
    fn the_notices_buttons_are_routed_here() {
        use crate::buttons::{Kind, kind};
        for action in [Action::Claim, Action::Resolve, Action::Escalate] {
            let id = format!("{FLAG}7:{}", action.as_str());
            assert_eq!(kind(&id), Kind::Flag, "{id}");
            assert_eq!(parse_button(&id), Some((7, action)));
        }
    }

    #[test]
    fn a_note_may_be_as_long_as_the_limit_and_no_longer() {
        assert_eq!(note_too_long(&"é".repeat(MAX_NOTE_CHARS)), None);
        let refusal = note_too_long(&"é".repeat(MAX_NOTE_CHARS + 1)).unwrap();
        assert!(refusal.contains("up to 1000 characters"), "{refusal}");
        assert!(refusal.contains("this one has 1001"), "{refusal}");
    }

    #[test]
    fn every_moderator_command_and_option_is_described() {
        for command in commands() {
            let json = serde_json::to_value(&command).unwrap();
            assert!(!json["description"].as_str().unwrap().is_empty());
            for option in json["options"].as_array().into_iter().flatten() {
                assert!(!option["description"].as_str().unwrap().is_empty());
            }
        }
    }
}
