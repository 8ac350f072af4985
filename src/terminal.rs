//! The engine in a terminal: `mend chat`. Reads lines, prints mend's messages
//! with numbered choices and the three services as a footer, or with `--json`
//! exactly one JSON line per input line so scripts can drive it turn by turn.

use std::io::IsTerminal;
use std::task::Poll;

use jiff::Timestamp;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt};

use crate::clock::Clock;
use crate::conversation::engine::{Companion, Consent, Input};
use crate::edge::Edge;
use crate::flags::pending::{PendingFlag, PendingFlags};
use crate::referrals::{ChoiceButton, Reply};
use crate::safety::Hit;
use crate::store::{Store, StoreError};

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
/// The farewell for someone who chose not to have their words kept: only
/// where they got to is, which the first one would leave them to wonder.
const FAREWELL_UNKEPT: &str = "Take care of yourself. As you asked, nothing you wrote has \
                               been kept; I only remember where we got to, so we can pick \
                               up from there whenever you come back.";
const TROUBLE: &str = "Something went wrong on my side and I couldn't save that. \
                       Nothing you told me before is lost; please try again in a moment.";

/// The offer of the day's check-in as the chat opens, and its two answers,
/// which the terminal reads itself: they never reach the engine as presses.
const OFFER: &str = "Welcome back. Your check-in for today is ready: how things feel, \
                     whether your small action happened, and a line if you want. \
                     It takes under a minute.";
const OFFER_NOW: &str = "terminal:checkin:now";
const OFFER_LATER: &str = "terminal:checkin:later";
const LATER: &str = "All right. Today's check-in is in the menu whenever you want it.";

/// Runs a chat until end of input or `quit`, on `clock`'s time. Crisis
/// flags that could not be written wait in `pending` and are tried again
/// before each turn. A check-in that fell due since the person last opened
/// the chat is offered first.
pub async fn run<R, W>(
    companion: &Companion,
    store: &Store,
    pending: &PendingFlags,
    options: &ChatOptions,
    clock: &dyn Clock,
    input: R,
    mut output: W,
) -> std::io::Result<()>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin,
{
    pending.retry(store).await;
    let chat = Chat {
        companion,
        store,
        pending,
        clock,
        person: &options.person,
    };
    let offered = match store.offer_checkin(&options.person, clock.now()).await {
        Ok(offered) => offered,
        Err(err) => {
            tracing::warn!(error = %err, "could not look for a check-in due");
            false
        }
    };
    // What a partner sent since the last chat comes first, as a check-in would.
    let mut greeting = from_partner(store, &options.person).await;
    greeting.extend(if offered {
        vec![Reply::new(
            OFFER,
            vec![
                ChoiceButton {
                    id: OFFER_NOW.into(),
                    label: "Do it now".into(),
                },
                ChoiceButton {
                    id: OFFER_LATER.into(),
                    label: "Not now".into(),
                },
            ],
        )]
    } else {
        chat.turn(Input::Start, None).await
    });
    write_replies(&mut output, &greeting, options).await?;
    // The ids of the choices last shown, which a typed number stands for.
    let mut shown = shown_choices(&greeting).unwrap_or_default();

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
                write_replies(&mut output, &[chat.farewell().await], options).await?;
            }
            return Ok(());
        }
        // Invalid UTF-8 is replaced rather than refused: the person still gets an answer.
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\n', '\r']);
        if matches!(text.trim().to_lowercase().as_str(), "quit" | "exit") {
            return write_replies(&mut output, &[chat.farewell().await], options).await;
        }
        // Only a number is a press; everything else typed is words, and
        // screened, however much it looks like a button id.
        let mut before = Vec::new();
        let picked = chosen(text, &shown).or_else(|| offer_words(text, &shown));
        if let Some(act) = picked.and_then(crate::pairing::pressed) {
            pending.retry(store).await;
            let replies = chat.pair(act, &mut output, options).await;
            write_replies(&mut output, &replies, options).await?;
            if let Some(ids) = shown_choices(&replies) {
                shown = ids;
            }
            continue;
        }
        let input = match picked {
            Some(OFFER_NOW) => Input::Begin(crate::store::DAILY.to_owned()),
            Some(OFFER_LATER) => {
                before.push(Reply::new(LATER, Vec::new()));
                Input::Start
            }
            Some(id) => Input::Choice(id.to_owned()),
            None => Input::Text(text.to_owned()),
        };
        // Flags still waiting are written first, unless this turn is a
        // crisis: then its reply goes out first, and the retry follows.
        // Screened here, once, before the store is touched, so a failing
        // store cannot keep the crisis reply from the person.
        let hit = companion.screen(&input);
        let worrying = hit.is_some();
        if !worrying {
            pending.retry(store).await;
        }
        // Someone who may be in danger is not kept waiting by another writer.
        let crisis = worrying || companion.unsafe_answer(&input).is_some();
        let turned = if crisis {
            chat.crisis_turn(input, hit, &before, &mut output, options)
                .await?
        } else {
            Some(chat.turn(input, hit).await)
        };
        if let Some(turned) = turned {
            before.extend(turned);
            let replies = before;
            write_replies(&mut output, &replies, options).await?;
            if let Some(ids) = shown_choices(&replies) {
                shown = ids;
            }
        }
        if worrying {
            pending.retry(store).await;
        }
    }
}

/// The ids of the last message's choices among `replies`, numbered as
/// [`render`] shows them; None if none of them offered any.
fn shown_choices(replies: &[Reply]) -> Option<Vec<String>> {
    let last = replies.iter().rev().find(|r| !r.choices().is_empty())?;
    Some(last.choices().iter().map(|c| c.id.clone()).collect())
}

/// The choice a typed line picks: a number among those last shown.
fn chosen<'a>(text: &str, shown: &'a [String]) -> Option<&'a str> {
    let number: usize = text.trim().trim_end_matches('.').parse().ok()?;
    shown.get(number.checked_sub(1)?).map(String::as_str)
}

/// The offer's answers typed as its labels' words, while it is shown:
/// nothing else typed is taken for them.
fn offer_words(text: &str, shown: &[String]) -> Option<&'static str> {
    if !shown.iter().any(|id| id == OFFER_NOW) {
        return None;
    }
    let words = text.trim().trim_end_matches(['.', '!']).to_lowercase();
    match words.as_str() {
        "do it now" | "now" => Some(OFFER_NOW),
        "not now" | "later" => Some(OFFER_LATER),
        _ => None,
    }
}

/// What every turn of one chat shares.
struct Chat<'a> {
    companion: &'a Companion,
    store: &'a Store,
    pending: &'a PendingFlags,
    clock: &'a dyn Clock,
    person: &'a str,
}

impl Chat<'_> {
    /// Goodbye, true to what was kept: someone who declined keeping is not
    /// told their words were saved.
    async fn farewell(&self) -> Reply {
        let declined = match self.store.state(self.person).await {
            Ok(state) => state.consent == Consent::Declined,
            Err(err) => {
                tracing::warn!(error = %err, "could not read whether anything is kept");
                false
            }
        };
        Reply::new(
            if declined { FAREWELL_UNKEPT } else { FAREWELL },
            Vec::new(),
        )
    }

    /// One of pairing's buttons, in its own transaction; then the pairing
    /// choices again, unless the answer asks something itself. Words the
    /// screen finds anything in meet the crisis path; if the store keeps
    /// that turn waiting, the crisis reply is written at once.
    async fn pair<W: AsyncWrite + Unpin>(
        &self,
        act: crate::pairing::Act,
        output: &mut W,
        options: &ChatOptions,
    ) -> Vec<Reply> {
        let now = self.clock.now();
        let early = async |reply: Reply| {
            if let Err(err) = write_replies(output, &[reply], options).await {
                tracing::error!(error = %err, "could not write the crisis reply");
            }
        };
        let done = crate::pairing::run::act(
            self.companion,
            self.store,
            self.pending,
            Edge::Terminal,
            self.person,
            &act,
            now,
            early,
        );
        let acted = match contained(done).await {
            Some(Ok(acted)) => acted,
            Some(Err(err)) => {
                tracing::error!(error = %err, "could not carry out a pairing choice");
                return vec![Reply::new(TROUBLE, Vec::new())];
            }
            None => {
                tracing::error!("a pairing choice stopped short");
                return vec![Reply::new(TROUBLE, Vec::new())];
            }
        };
        if let Some(flag) = &acted.flag {
            tracing::info!(flag = flag.id, new = flag.new, "crisis flag raised");
        }
        let mut replies = acted.replies;
        if replies.iter().all(|r| r.choices().is_empty()) {
            replies.extend(self.turn(Input::Begin(PARTNER_FLOW.to_owned()), None).await);
        }
        replies
    }

    /// Applies one input; a storage failure or a bug becomes a kind message,
    /// never an error text or an end to the chat.
    async fn turn(&self, input: Input, hit: Option<Hit>) -> Vec<Reply> {
        let now = self.clock.now();
        match contained(self.applied(&input, hit.clone(), now)).await {
            Some(Ok(turned)) => turned.replies,
            failed => self.unapplied(failed.and_then(Result::err), &input, hit, now),
        }
    }

    /// A turn that carries a crisis signal. Given at most
    /// [`crate::store::CRISIS_WAIT`], its answer is returned as any turn's;
    /// past that, the crisis reply is written at once (after `before`)
    /// with its flag kept waiting, and the turn is still carried to its end,
    /// so nothing of it is lost; None then, as the person has their answer.
    /// Kept after all, the turn's own flag is the one.
    async fn crisis_turn<W: AsyncWrite + Unpin>(
        &self,
        input: Input,
        hit: Option<Hit>,
        before: &[Reply],
        output: &mut W,
        options: &ChatOptions,
    ) -> std::io::Result<Option<Vec<Reply>>> {
        let now = self.clock.now();
        let asked = self.companion.unsafe_answer(&input);
        let Some(waiting) = PendingFlag::of_turn(self.person, hit.clone(), asked, now) else {
            return Ok(Some(self.turn(input, hit).await));
        };
        let mut job = std::pin::pin!(contained(self.applied(&input, hit.clone(), now)));
        let failed = match tokio::time::timeout(crate::store::CRISIS_WAIT, job.as_mut()).await {
            Ok(Some(Ok(turned))) => return Ok(Some(turned.replies)),
            Ok(failed) => failed.and_then(Result::err),
            Err(_) => {
                tracing::warn!("the store is slow; the crisis reply goes out without it");
                self.pending.push(waiting.clone());
                let mut early = before.to_vec();
                early.push(self.companion.crisis_alone(&waiting.hit));
                write_replies(output, &early, options).await?;
                match job.await {
                    Some(Ok(turned)) => self.pending.settle(&waiting, turned.flagged),
                    Some(Err(err)) => {
                        tracing::error!(error = %err, "could not apply a crisis turn");
                    }
                    None => tracing::error!("a crisis turn stopped short"),
                }
                return Ok(None);
            }
        };
        Ok(Some(self.unapplied(failed, &input, hit, now)))
    }

    /// One turn applied in the store, and what it says.
    async fn applied(
        &self,
        input: &Input,
        hit: Option<Hit>,
        now: Timestamp,
    ) -> Result<Turned, StoreError> {
        let (companion, store, person) = (self.companion, self.store, self.person);
        let applied = store
            .apply(person, now, |state| {
                companion.respond_through(Edge::Terminal, state, input, hit, now)
            })
            .await?;
        for event in &applied.outcome.events {
            tracing::debug!(kind = event.kind(), flow = event.flow(), "event");
        }
        if let Some(flag) = &applied.flag {
            tracing::info!(flag = flag.id, new = flag.new, "crisis flag raised");
        }
        let flagged = applied.flag.is_some();
        let mut replies = Vec::new();
        if applied.set_aside > 0 {
            replies.push(Reply::new(crate::store::SET_ASIDE, Vec::new()));
        }
        // A flow's tools speak first; the step the choice led to follows.
        for done in &applied.tools {
            let text =
                match crate::checkins::progress::told(store, person, done, now, Edge::Terminal)
                    .await
                {
                    Ok(report) => report.text,
                    Err(err) => {
                        tracing::error!(error = %err, "could not carry out a check-in setting");
                        TROUBLE.to_owned()
                    }
                };
            replies.push(Reply::new(text, Vec::new()));
        }
        // Pairing's answers speak first too, but one that asks something (a
        // confirmation, a preview) comes last: its choices are what the numbers pick.
        let (asking, said): (Vec<Reply>, Vec<Reply>) = applied
            .pairing
            .iter()
            .map(|carried| crate::pairing::told(&carried.done, Edge::Terminal))
            .partition(|reply| !reply.choices().is_empty());
        replies.extend(said);
        replies.extend(applied.outcome.replies);
        replies.extend(asking);
        if applied.offer_end {
            // Only the last message's choices are live here, so the offer to end
            // carries the ones it would hide ("Carry on where we were") too.
            let offer = crate::pairing::offer_end();
            let mut choices = offer.choices().to_vec();
            if let Some(last) = replies.iter_mut().rev().find(|r| !r.choices().is_empty()) {
                choices.extend_from_slice(last.choices());
                *last = Reply::new(last.text(), Vec::new());
            }
            replies.push(Reply::new(offer.text(), choices));
        }
        Ok(Turned { replies, flagged })
    }

    /// What a person is told when their turn could not be applied (`err`,
    /// or None when it panicked: the hook has logged where, and its
    /// transaction rolled back). A worrying message still gets the full
    /// crisis reply (an uncertain one too: its question could not be kept,
    /// so the contacts are the safer answer), and its flag waits to be
    /// written.
    fn unapplied(
        &self,
        err: Option<StoreError>,
        input: &Input,
        hit: Option<Hit>,
        now: Timestamp,
    ) -> Vec<Reply> {
        match err {
            Some(err) => {
                tracing::error!(error = %err, crisis = hit.is_some(), "could not apply an input");
            }
            None => tracing::error!("a turn stopped short"),
        }
        // A "yes" pressed under mend's question is answered too.
        let asked = self.companion.unsafe_answer(input);
        match PendingFlag::of_turn(self.person, hit, asked, now) {
            Some(flag) => {
                let reply = self.companion.crisis_alone(&flag.hit);
                self.pending.push(flag);
                vec![reply]
            }
            None => vec![Reply::new(TROUBLE, Vec::new())],
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

/// A turn kept: what to say, and whether it raised a crisis flag.
struct Turned {
    replies: Vec<Reply>,
    flagged: bool,
}

/// The flow that holds pairing's choices in the menu.
const PARTNER_FLOW: &str = "partner";

/// What a partner sent (or mend said about pairing) since this person's
/// last chat, taken from their outbox as they open it. Answers to them are
/// in the menu, under pairing, so their buttons are not offered here.
async fn from_partner(store: &Store, person: &str) -> Vec<Reply> {
    let unsent = match store.unsent(person).await {
        Ok(unsent) => unsent,
        Err(err) => {
            tracing::warn!(error = %err, "could not read what waits from a partner");
            return Vec::new();
        }
    };
    let mut replies = Vec::new();
    let mut keys = Vec::new();
    for item in unsent {
        let answer = if item.reply.choices().is_empty() {
            ""
        } else {
            "\n(You can answer this under pairing in the menu.)"
        };
        replies.push(Reply::new(
            format!("{}{answer}", item.reply.text()),
            Vec::new(),
        ));
        if !keys.contains(&item.event_key) {
            keys.push(item.event_key);
        }
    }
    if let Err(err) = store.sent_all(&keys).await {
        tracing::warn!(error = %err, "could not mark a partner's messages as seen");
    }
    replies
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
        // Numbers pick among the last choices shown, so only those are
        // numbered; earlier ones in the same answer are left out rather
        // than shown as a second list that no number reaches.
        let live = replies.iter().rposition(|r| !r.choices().is_empty());
        replies
            .iter()
            .enumerate()
            .map(|(i, reply)| {
                if Some(i) == live || reply.choices().is_empty() {
                    render(reply)
                } else {
                    render(&Reply::new(reply.text(), Vec::new()))
                }
            })
            .collect()
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
    async fn only_the_choices_a_number_can_pick_are_numbered() {
        let button = |id: &str, label: &str| ChoiceButton {
            id: id.into(),
            label: label.into(),
        };
        let replies = [
            Reply::new("Anything else?", vec![button("a", "Something else")]),
            Reply::new(
                "Send it?",
                vec![button("s", "Send"), button("d", "Don't send")],
            ),
        ];
        let mut out = Vec::new();
        write_replies(&mut out, &replies, &ChatOptions::new("you", false))
            .await
            .unwrap();
        let shown = String::from_utf8(out).unwrap();
        assert!(
            shown.contains("Anything else?") && shown.contains("Send it?"),
            "{shown}"
        );
        assert!(!shown.contains("Something else"), "a dead list: {shown}");
        assert!(shown.contains("   1. Send\n   2. Don't send\n"), "{shown}");
        assert_eq!(shown.matches("   1. ").count(), 1, "{shown}");
        // For scripts, every message keeps its choices.
        let mut out = Vec::new();
        write_replies(&mut out, &replies, &ChatOptions::new("you", true))
            .await
            .unwrap();
        assert!(String::from_utf8(out).unwrap().contains("Something else"));
    }

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
    fn the_offer_takes_its_own_words_only_while_it_is_shown() {
        let offer = vec![OFFER_NOW.to_owned(), OFFER_LATER.to_owned()];
        assert_eq!(offer_words("Do it now.", &offer), Some(OFFER_NOW));
        assert_eq!(offer_words(" not now ", &offer), Some(OFFER_LATER));
        assert_eq!(offer_words("I feel awful now", &offer), None);
        assert_eq!(offer_words("now", &["c:menu:pick:1".to_owned()]), None);
    }

    #[test]
    fn only_a_number_among_the_choices_shown_is_a_press() {
        let shown = vec![
            "welcome:consent:1".to_owned(),
            "welcome:consent:2".to_owned(),
        ];
        assert_eq!(chosen("1", &shown), Some("welcome:consent:1"));
        assert_eq!(chosen(" 2. ", &shown), Some("welcome:consent:2"));
        assert_eq!(chosen("3", &shown), None);
        assert_eq!(chosen("0", &shown), None);
        assert_eq!(chosen("welcome:consent:1", &shown), None);
        assert_eq!(chosen("i-want:to-kill:myself", &shown), None);
        assert_eq!(chosen("1", &[]), None);
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
