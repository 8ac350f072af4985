//! Carrying out a pairing act outside a conversation turn, the same for
//! every edge: the act in its own transaction, and words the screen found
//! anything in answered by the crisis path exactly as a typed turn is.

use jiff::Timestamp;

use super::{Act, Carried, told};
use crate::conversation::engine::Companion;
use crate::edge::Edge;
use crate::flags::Raised;
use crate::flags::pending::{PendingFlag, PendingFlags};
use crate::referrals::Reply;
use crate::store::{CRISIS_WAIT, Store, StoreError};

/// What an act came to, for the edge to say and do.
#[derive(Debug)]
pub struct Acted {
    /// What is still to say: after the crisis reply, when it went early.
    pub replies: Vec<Reply>,
    /// The crisis reply went out early (through the act's `early`), so the
    /// first answer has been given and these replies follow it.
    pub answered: bool,
    /// The partner something waits for in the outbox.
    pub deliver: Option<String>,
    /// A crisis flag raised by withheld words, for the moderators.
    pub flag: Option<Raised>,
}

impl Acted {
    pub fn said(replies: Vec<Reply>) -> Acted {
        Acted {
            replies,
            answered: false,
            deliver: None,
            flag: None,
        }
    }
}

/// Carries out `act` for `person`. Words it would send are screened first,
/// before the store is touched (by the same screen as every typed word); if
/// the screen finds anything, nothing is kept or sent, and the person's turn
/// is the crisis path's. That turn waits at most [`CRISIS_WAIT`] for the
/// store: past that, the crisis reply goes at once through `early`, its flag
/// waits in `pending`, and the turn is still carried to its end, so nothing
/// of it is lost.
#[allow(clippy::too_many_arguments)]
pub async fn act(
    companion: &Companion,
    store: &Store,
    pending: &PendingFlags,
    edge: Edge,
    person: &str,
    act: &Act,
    now: Timestamp,
    early: impl AsyncFnOnce(Reply),
) -> Result<Acted, StoreError> {
    let written = match act {
        Act::Draft { text, .. } | Act::Propose { text } => companion.screen.screen(text),
        _ => None,
    };
    let hit = match written {
        Some(hit) => hit,
        None => {
            // A draft kept earlier is screened again as it goes, in the act.
            let screen = |text: &str| companion.screen.screen(text);
            let carried: Carried = store.pair(person, act, &screen, now).await?;
            let Some(hit) = carried.withheld else {
                return Ok(Acted {
                    deliver: carried.deliver,
                    ..Acted::said(vec![told(&carried.done, edge)])
                });
            };
            hit
        }
    };
    let mut turn = std::pin::pin!(store.apply(person, now, |state| {
        companion.respond_withheld(edge, state, hit.clone(), now)
    }));
    let waiting = PendingFlag {
        person: person.to_owned(),
        hit: hit.clone(),
        asked: false,
        at: now,
    };
    let (applied, answered) = match tokio::time::timeout(CRISIS_WAIT, turn.as_mut()).await {
        Ok(applied) => (applied, false),
        Err(_) => {
            tracing::warn!("the store is slow; the crisis reply goes out without it");
            pending.push(waiting.clone());
            early(companion.crisis_alone(&hit)).await;
            let applied = turn.await;
            if let Ok(applied) = &applied {
                pending.settle(&waiting, applied.flag.is_some());
            }
            (applied, true)
        }
    };
    let applied = match applied {
        Ok(applied) => applied,
        Err(err) => {
            // The crisis reply never waits for, or depends on, the store.
            tracing::error!(error = %err, "could not keep the turn of words withheld");
            // Answered early, the flag already waits; otherwise it waits now.
            let replies = if answered {
                Vec::new()
            } else {
                pending.push(waiting);
                vec![companion.crisis_alone(&hit)]
            };
            return Ok(Acted {
                answered,
                ..Acted::said(replies)
            });
        }
    };
    // Given early, the crisis reply was this turn's; what it adds follows.
    let mut replies = if answered {
        Vec::new()
    } else {
        applied.outcome.replies
    };
    if applied.offer_end {
        replies.push(super::offer_end());
    }
    Ok(Acted {
        replies,
        answered,
        deliver: None,
        flag: applied.flag,
    })
}
