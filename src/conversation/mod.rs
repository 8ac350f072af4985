//! The guided conversation, in one folder: the engine, a pure function from
//! (a person's state, an input) to (new state, replies) ([`engine`]), and
//! the tables only the conversation writes ([`queries`]). The
//! flows it walks are loaded by `crate::flows`, which `mend check` uses
//! too; every reply is built by `crate::referrals`, for every feature; and
//! the Discord DM handler is `crate::discord`'s, since it routes every
//! feature's events.

pub mod engine;
pub mod queries;
