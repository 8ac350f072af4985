//! The engine in a terminal: `mend chat`. Reads lines, prints mend's messages
//! with numbered choices and the three services as a footer, or with `--json`
//! exactly one JSON line per input line so scripts can drive it turn by turn.

use std::io::IsTerminal;
use std::task::Poll;

use jiff::Timestamp;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt};

use crate::engine::{Companion, Input, Task};
use crate::referrals::Reply;
use crate::store::Store;

/// How the session talks.
#[derive(Debug, Clone)]
pub struct ChatOptions {
    /// Who is talking, so several people can share one database.
    pub person: String,
    /// One JSON array of messages per line instead of text for people.
    pub json: bool,
    /// Print a `you ›` prompt (only when a person is typing at a terminal).
    pub prompt: bool,
}

impl ChatOptions {
    pub fn new(person: &str, json: bool) -> ChatOptions {
        ChatOptions {
            person: format!("terminal:{person}"),
            json,
            prompt: !json && std::io::stdin().is_terminal(),
        }
    }
}

const FAREWELL: &str = "Take care of yourself. Your place is saved, so we can pick up \
                        from here whenever you come back.";
const TROUBLE: &str = "Something went wrong on my side and I couldn't save that. \
                       Nothing you told me before is lost; please try again in a moment.";

/// Runs a chat until end of input or `quit`.
pub async fn run<R, W>(
    companion: &Companion,
    store: &Store,
    options: &ChatOptions,
    input: R,
    mut output: W,
) -> std::io::Result<()>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let greeting = turn(companion, store, &options.person, Input::Start).await;
    write_replies(&mut output, &greeting, options).await?;

    let mut input = input;
    let mut line = Vec::new();
    loop {
        if options.prompt {
            output.write_all(b"you \xE2\x80\xBA ").await?;
            output.flush().await?;
        }
        line.clear();
        if input.read_until(b'\n', &mut line).await? == 0 {
            if !options.json {
                let farewell = [Reply::new(FAREWELL, Vec::new())];
                write_replies(&mut output, &farewell, options).await?;
            }
            return Ok(());
        }
        // Invalid UTF-8 is replaced rather than refused: the person still gets an answer.
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\n', '\r']);
        if matches!(text.trim().to_lowercase().as_str(), "quit" | "exit") {
            let farewell = [Reply::new(FAREWELL, Vec::new())];
            return write_replies(&mut output, &farewell, options).await;
        }
        let input = if looks_like_button(text) {
            Input::Choice(text.trim().to_owned())
        } else {
            Input::Text(text.to_owned())
        };
        let replies = turn(companion, store, &options.person, input).await;
        write_replies(&mut output, &replies, options).await?;
    }
}

/// Applies one input; a storage failure or a bug becomes a kind message,
/// never an error text or an end to the chat.
async fn turn(companion: &Companion, store: &Store, person: &str, input: Input) -> Vec<Reply> {
    match contained(applied(companion, store, person, input)).await {
        Some(replies) => replies,
        None => {
            // The hook has logged where; the turn's transaction rolled back.
            tracing::error!("a turn stopped short");
            vec![Reply::new(TROUBLE, Vec::new())]
        }
    }
}

/// Runs `job` to its end, or None if it panicked (a bug): the person's chat
/// goes on, as a Discord event's panic ends that event only.
async fn contained<T>(job: impl Future<Output = T>) -> Option<T> {
    let mut job = std::pin::pin!(job);
    std::future::poll_fn(|cx| {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job.as_mut().poll(cx))) {
            Ok(Poll::Ready(value)) => Poll::Ready(Some(value)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(_) => Poll::Ready(None),
        }
    })
    .await
}

async fn applied(companion: &Companion, store: &Store, person: &str, input: Input) -> Vec<Reply> {
    let now = Timestamp::now();
    let result = store
        .apply(person, now, |state| companion.respond(state, &input, now))
        .await;
    match result {
        Ok(applied) => {
            for event in &applied.outcome.events {
                tracing::debug!(kind = event.kind(), flow = event.flow(), "event");
            }
            if let Some(flag) = applied.flag {
                tracing::info!(flag = flag.id, new = flag.new, "crisis flag raised");
            }
            let mut replies = Vec::new();
            for task in &applied.outcome.tasks {
                replies.push(Reply::new(tool(store, person, task, now).await, Vec::new()));
            }
            replies.extend(applied.outcome.replies);
            replies
        }
        Err(err) => {
            tracing::error!(error = %err, "could not apply an input");
            vec![Reply::new(TROUBLE, Vec::new())]
        }
    }
}

/// What a flow's tool says in the terminal. Progress is shown in words (the
/// chart is a Discord attachment); check-ins are Discord messages, so their
/// settings are changed there.
async fn tool(store: &Store, person: &str, task: &Task, now: Timestamp) -> String {
    match task {
        Task::Progress => match crate::progress::run(store, person, task, now).await {
            Ok(report) => report.text,
            Err(err) => {
                tracing::error!(error = %err, "could not show progress");
                TROUBLE.to_owned()
            }
        },
        Task::CheckinShow
        | Task::CheckinOff
        | Task::CheckinPause { .. }
        | Task::CheckinOn { .. } => CHECKINS_ON_DISCORD.to_owned(),
    }
}

const CHECKINS_ON_DISCORD: &str = "Daily check-ins arrive as Discord messages, so they're \
set up on Discord: in a direct message with mend, from the menu or with /checkin. Nothing \
has changed here. You can still do today's check-in from the menu at any time.";

/// A button id as the engine makes them: `flow:step:choice`.
fn looks_like_button(text: &str) -> bool {
    let parts: Vec<&str> = text.trim().split(':').collect();
    parts.len() == 3
        && parts.iter().all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        })
}

async fn write_replies<W: AsyncWrite + Unpin>(
    output: &mut W,
    replies: &[Reply],
    options: &ChatOptions,
) -> std::io::Result<()> {
    let text = if options.json {
        let mut line = serde_json::to_string(replies).map_err(std::io::Error::other)?;
        line.push('\n');
        line
    } else {
        replies.iter().map(render).collect()
    };
    output.write_all(text.as_bytes()).await?;
    output.flush().await
}

/// A message for a person at a terminal.
pub fn render(reply: &Reply) -> String {
    let mut out = String::from("\n");
    for (i, line) in reply.text().replace("**", "").lines().enumerate() {
        out.push_str(if i == 0 { "mend \u{203a} " } else { "       " });
        out.push_str(line);
        out.push('\n');
    }
    for (i, choice) in reply.choices().iter().enumerate() {
        out.push_str(&format!("   {}. {}\n", i + 1, choice.label));
    }
    let links: Vec<String> = reply
        .links()
        .iter()
        .map(|link| format!("{} {}", link.label, link.url))
        .collect();
    out.push_str(&format!("   \u{2500}\u{2500} {}\n", links.join(" \u{b7} ")));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_in_a_turn_ends_that_turn_only() {
        assert_eq!(contained(async { 7 }).await, Some(7));
        let after_waiting = contained(async {
            tokio::task::yield_now().await;
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            7
        });
        assert_eq!(after_waiting.await, Some(7));
        let bug = contained(async {
            tokio::task::yield_now().await;
            panic!("a bug in a turn");
        });
        assert_eq!(bug.await, None::<()>);
    }

    #[test]
    fn button_ids_are_recognised_and_words_are_not() {
        assert!(looks_like_button("welcome:consent:1"));
        assert!(looks_like_button(" small-actions:end:menu "));
        assert!(!looks_like_button("note: to: self"));
        assert!(!looks_like_button("I was hurt"));
        assert!(!looks_like_button("a:b"));
    }

    #[test]
    fn rendering_numbers_choices_and_ends_with_the_links() {
        let reply = Reply::new(
            "Hello **there**\nsecond line",
            vec![crate::referrals::ChoiceButton {
                id: "a:b:1".into(),
                label: "Yes".into(),
            }],
        );
        let shown = render(&reply);
        assert!(shown.contains("mend › Hello there\n"));
        assert!(shown.contains("       second line\n"));
        assert!(shown.contains("   1. Yes\n"));
        assert!(shown.trim_end().ends_with(
            "Relate https://www.relate.org.uk · COSRT https://www.cosrt.org.uk · BACP https://www.bacp.co.uk"
        ));
    }
}
