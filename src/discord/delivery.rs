//! Delivering a turn: its replies in order, each as one message or (when
//! long) a few, the first answering a slash command when the turn is one;
//! what counts as sent; when the rest of a turn goes on and when it waits
//! in the outbox. Written against [`Transport`], the little it needs from
//! Discord, so these rules are tested on a recorder; [`Discord`] is
//! serenity behind it, retrying what is safe to retry.

use std::future::Future;

use serenity::all::{
    ChannelId, CommandInteraction, CreateAttachment, CreateMessage, EditInteractionResponse, Http,
    UserId,
};
use tracing::{error, warn};

use super::handler::{CANNOT_MESSAGE, discord_code};
use super::{render, send};
use crate::checkins::progress;
use crate::referrals::Reply;

/// One reply to send, with what makes each of its messages arrive once
/// however often it is sent (its turn's key and its place in the turn), and
/// the progress chart when it carries one.
pub struct Outgoing {
    pub reply: Reply,
    pub key: String,
    pub index: usize,
    pub chart: Option<Vec<u8>>,
}

impl Outgoing {
    pub fn new(reply: Reply, key: &str, index: usize) -> Outgoing {
        Outgoing {
            reply,
            key: key.to_owned(),
            index,
            chart: None,
        }
    }
}

/// What became of a turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Every message went out, or was refused for good and skipped.
    Done,
    /// Discord will not let mend message this person (50007); the rest of
    /// the turn would be refused the same way.
    Refused,
    /// Not sent after retries; the outbox keeps what it holds.
    Failed,
}

/// What became of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    Yes,
    /// Refused in a way that would not change (a 4xx); the turn goes on.
    Skipped,
    /// This person cannot be messaged at all.
    Unreachable,
    /// An outage: worth another try later.
    Later,
}

/// The little delivery needs from Discord.
pub trait Transport: Sync {
    /// A slash command whose deferred answer a turn's first message fills.
    type Command: Sync;

    /// Posts one message in a channel.
    fn post(&self, channel: ChannelId, message: CreateMessage)
    -> impl Future<Output = Sent> + Send;

    /// Fills a command's deferred answer.
    fn answer(
        &self,
        command: &Self::Command,
        edit: EditInteractionResponse,
    ) -> impl Future<Output = Sent> + Send;
}

/// Discord through serenity, for one person's turn.
pub struct Discord<'a> {
    pub http: &'a Http,
    pub user: UserId,
}

impl Transport for Discord<'_> {
    type Command = CommandInteraction;

    async fn post(&self, channel: ChannelId, message: CreateMessage) -> Sent {
        let result = send::retrying("reply", send::PATIENT, || {
            channel.send_message(self.http, message.clone())
        })
        .await;
        classify(self.user, result)
    }

    async fn answer(&self, command: &CommandInteraction, edit: EditInteractionResponse) -> Sent {
        let result = send::retrying("command answer", send::PATIENT, || {
            command.edit_response(self.http, edit.clone())
        })
        .await;
        classify(self.user, result)
    }
}

/// Reads a send's result: what counts as sent, what is worth another try.
pub fn classify<T>(user: UserId, result: serenity::Result<T>) -> Sent {
    match result {
        Ok(_) => Sent::Yes,
        // The server took the message (serenity reads the body only after
        // a success) but answered with something serenity could not parse:
        // servers that are not Discord leave out fields. The person has it.
        Err(serenity::Error::Json(_)) => {
            warn!(%user, "the server's answer to a message could not be read; counting it as sent");
            Sent::Yes
        }
        Err(err) if discord_code(&err) == Some(CANNOT_MESSAGE) => {
            warn!(%user, code = CANNOT_MESSAGE, "this person cannot be messaged");
            Sent::Unreachable
        }
        Err(err) if send::retryable(&err) => {
            error!(%user, error = %err, "could not send a reply; it waits in the outbox");
            Sent::Later
        }
        // Anything else would fail the same way again, and must not hold
        // back the rest of the turn.
        Err(err) => {
            error!(%user, error = %err, "a reply was refused; sending the rest");
            Sent::Skipped
        }
    }
}

/// Sends a turn's replies in order, each as one message or, when long, a
/// few: the first by filling `command`'s deferred answer when the turn
/// answers a slash command, the rest (or all) as messages in `channel`.
/// One message refused for good does not stop the rest.
pub async fn deliver<T: Transport>(
    transport: &T,
    channel: ChannelId,
    command: Option<&T::Command>,
    outgoing: &[Outgoing],
) -> Delivery {
    let mut command = command;
    for item in outgoing {
        let pieces = render::messages(&item.reply);
        let last = pieces.len() - 1;
        for (part, message) in pieces.into_iter().enumerate() {
            let chart = item
                .chart
                .as_ref()
                .filter(|_| part == last)
                .map(|png| CreateAttachment::bytes(png.clone(), progress::CHART_FILE));
            if let Some(interaction) = command.take() {
                let piece = render::split(item.reply.text(), render::CONTENT_CHARS)[part];
                let mut edit = render::edit_piece(&item.reply, piece, part == last);
                if let Some(file) = chart {
                    edit = edit.new_attachment(file);
                }
                // The person saw the command's "thinking": whatever became
                // of its answer, the rest of the turn follows.
                if transport.answer(interaction, edit).await != Sent::Yes {
                    warn!("could not answer a command");
                }
                continue;
            }
            let nonce = send::nonce_part(&item.key, item.index, part);
            let mut message = message.nonce(nonce).enforce_nonce(true);
            if let Some(file) = chart {
                message = message.add_file(file);
            }
            match transport.post(channel, message).await {
                Sent::Yes | Sent::Skipped => {}
                Sent::Unreachable => return Delivery::Refused,
                Sent::Later => return Delivery::Failed,
            }
        }
    }
    Delivery::Done
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use serde_json::Value;

    use super::*;
    use crate::referrals::ChoiceButton;

    /// Records what would have gone to Discord, answering each post with
    /// the next scripted outcome (then `Yes`).
    #[derive(Default)]
    struct Recorder {
        posted: Mutex<Vec<Value>>,
        answered: Mutex<Vec<Value>>,
        script: Mutex<Vec<Sent>>,
    }

    impl Recorder {
        fn scripted(outcomes: &[Sent]) -> Recorder {
            let recorder = Recorder::default();
            *recorder.script.lock().unwrap() = outcomes.iter().rev().copied().collect();
            recorder
        }

        fn contents(&self) -> Vec<String> {
            let posted = self.posted.lock().unwrap();
            posted
                .iter()
                .map(|m| m["content"].as_str().unwrap_or_default().to_owned())
                .collect()
        }
    }

    impl Transport for Recorder {
        type Command = ();

        async fn post(&self, _: ChannelId, message: CreateMessage) -> Sent {
            self.posted
                .lock()
                .unwrap()
                .push(serde_json::to_value(&message).unwrap());
            self.script.lock().unwrap().pop().unwrap_or(Sent::Yes)
        }

        async fn answer(&self, _: &(), edit: EditInteractionResponse) -> Sent {
            self.answered
                .lock()
                .unwrap()
                .push(serde_json::to_value(&edit).unwrap());
            Sent::Yes
        }
    }

    fn turn(texts: &[&str]) -> Vec<Outgoing> {
        texts
            .iter()
            .enumerate()
            .map(|(i, text)| Outgoing::new(Reply::new(*text, Vec::new()), "message:9", i))
            .collect()
    }

    const CHANNEL: ChannelId = ChannelId::new(5);

    #[tokio::test]
    async fn a_message_refused_for_good_is_skipped_and_the_rest_of_the_turn_goes() {
        let recorder = Recorder::scripted(&[Sent::Skipped]);
        let done = deliver(&recorder, CHANNEL, None, &turn(&["one", "two", "three"])).await;
        assert_eq!(done, Delivery::Done);
        assert_eq!(recorder.contents(), ["one", "two", "three"]);
    }

    #[tokio::test]
    async fn someone_who_cannot_be_messaged_stops_the_turn_and_an_outage_holds_it() {
        let recorder = Recorder::scripted(&[Sent::Yes, Sent::Unreachable]);
        let done = deliver(&recorder, CHANNEL, None, &turn(&["one", "two", "three"])).await;
        assert_eq!(done, Delivery::Refused);
        assert_eq!(recorder.contents(), ["one", "two"]);

        let recorder = Recorder::scripted(&[Sent::Later]);
        let done = deliver(&recorder, CHANNEL, None, &turn(&["one", "two"])).await;
        assert_eq!(done, Delivery::Failed, "the outbox keeps the turn");
        assert_eq!(recorder.contents(), ["one"]);
    }

    #[tokio::test]
    async fn every_message_carries_its_own_nonce_the_same_each_time_it_is_sent() {
        let long = "A sentence that goes on for a while. ".repeat(120);
        let outgoing = turn(&["short", long.trim_end()]);
        let first = Recorder::default();
        deliver(&first, CHANNEL, None, &outgoing).await;
        let again = Recorder::default();
        deliver(&again, CHANNEL, None, &outgoing).await;
        let nonces = |r: &Recorder| -> Vec<String> {
            let posted = r.posted.lock().unwrap();
            posted.iter().map(|m| m["nonce"].to_string()).collect()
        };
        let sent = nonces(&first);
        assert!(sent.len() >= 4, "the long reply went as several messages");
        let mut distinct = sent.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), sent.len(), "no two messages share a nonce");
        assert_eq!(nonces(&again), sent, "a resend is recognised as the same");
        let posted = first.posted.lock().unwrap();
        assert!(posted.iter().all(|m| m["enforce_nonce"] == true));
    }

    #[tokio::test]
    async fn a_command_turn_fills_the_deferred_answer_first_with_buttons_at_the_end() {
        let recorder = Recorder::default();
        let mut outgoing = turn(&["answer"]);
        outgoing.push(Outgoing::new(
            Reply::new(
                "next",
                vec![ChoiceButton {
                    id: "c:f:s:1".into(),
                    label: "Go on".into(),
                }],
            ),
            "message:9",
            1,
        ));
        let done = deliver(&recorder, CHANNEL, Some(&()), &outgoing).await;
        assert_eq!(done, Delivery::Done);
        let answered = recorder.answered.lock().unwrap();
        assert_eq!(answered.len(), 1);
        assert_eq!(answered[0]["content"], "answer");
        assert_eq!(recorder.contents(), ["next"]);
        let posted = recorder.posted.lock().unwrap();
        assert_eq!(
            posted[0]["components"][0]["components"][0]["custom_id"],
            "c:f:s:1"
        );
    }
}
