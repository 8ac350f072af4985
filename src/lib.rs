//! mend: a companion for people rebuilding trust around intimacy after a
//! betrayal or a long rupture. The core (flows, engine, referrals) is pure;
//! the edges (store, terminal, Discord) do the I/O.
//!
//! Each feature has one folder holding its pure decisions (`mod.rs`), its
//! queries (`queries`) and its thin Discord adapter (`discord`):
//! `conversation`, `checkins`, `flags` (crisis flags and moderation),
//! `pairing` and `privacy` (export, erasure and retention). What they share
//! stays apart: `store` (the pool, the writers' turn and the transaction
//! each input is applied in), `discord` (the client, command registry,
//! handler and delivery), `flows`, `referrals`, `buttons` and `edge`.

pub mod app;
pub mod buttons;
pub mod checkins;
pub mod clock;
pub mod config;
pub mod conversation;
pub mod crypto;
pub mod discord;
pub mod edge;
pub mod flags;
pub mod flows;
pub mod keyfile;
pub mod pairing;
pub mod privacy;
pub mod referrals;
pub mod safety;
pub mod secret;
pub mod store;
pub mod telemetry;
pub mod terminal;
mod toml_error;
