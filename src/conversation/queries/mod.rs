//! The conversation's tables, one function per query, each taking the
//! connection of the turn's transaction (see [`crate::store::Store`], which
//! loads a person's state and applies each turn): where a person is in a
//! flow (`conversations`), the log of what happened when (`events`), and
//! the notes they chose to keep ([`journal`]).

pub(crate) mod conversations;
pub(crate) mod events;
pub mod journal;
