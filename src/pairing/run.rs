//! Carrying out a pairing act outside a conversation turn, the same for
//! every edge: the act in its own transaction, and words the screen found
//! anything in answered by the crisis path exactly as a typed turn is.

use jiff::Timestamp;

use super::{Act, Carried, told};
use crate::conversation::engine::Companion;
use crate::edge::Edge;
use crate::flags::Raised;
use crate::referrals::Reply;
use crate::store::{Store, StoreError};

/// What an act came to, for the edge to say and do.
#[derive(Debug)]
pub struct Acted {
    pub replies: Vec<Reply>,
    /// The partner something waits for in the outbox.
    pub deliver: Option<String>,
    /// A crisis flag raised by withheld words, for the moderators.
    pub flag: Option<Raised>,
    /// Withheld words whose turn the store could not take: the crisis reply
    /// went without it, and the edge keeps this flag waiting to be written.
    pub unflagged: Option<crate::safety::Hit>,
}

/// Carries out `act` for `person`. Words it would send are screened first
/// (by the same screen as every typed word); if the screen finds anything,
/// nothing is kept or sent, and the person's turn is the crisis path's.
pub async fn act(
    companion: &Companion,
    store: &Store,
    edge: Edge,
    person: &str,
    act: &Act,
    now: Timestamp,
) -> Result<Acted, StoreError> {
    let screen = |text: &str| companion.screen.screen(text);
    let carried: Carried = store.pair(person, act, &screen, now).await?;
    let Some(hit) = carried.withheld else {
        return Ok(Acted {
            replies: vec![told(&carried.done, edge)],
            deliver: carried.deliver,
            flag: None,
            unflagged: None,
        });
    };
    let crisis = hit.action == crate::safety::Action::Crisis;
    let applied = crate::store::in_time(
        crisis,
        store.apply(person, now, |state| {
            companion.respond_withheld(edge, state, hit.clone(), now)
        }),
    )
    .await;
    let applied = match applied {
        Ok(applied) => applied,
        Err(err) => {
            // The crisis reply never waits for, or depends on, the store.
            tracing::error!(error = %err, "could not keep the turn of words withheld");
            return Ok(Acted {
                replies: vec![companion.crisis_alone(&hit)],
                deliver: None,
                flag: None,
                unflagged: Some(hit),
            });
        }
    };
    let mut replies = applied.outcome.replies;
    if applied.offer_end {
        replies.push(super::offer_end());
    }
    Ok(Acted {
        replies,
        deliver: None,
        flag: applied.flag,
        unflagged: None,
    })
}
