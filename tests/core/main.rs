//! Integration tests of the core: prompt validation, every shipped flow walked
//! end to end, storage on real SQLite files, the `mend` binary, bad input and
//! logs. One binary, so it links once.

mod helpers;
#[path = "../common/lock.rs"]
mod lock;
#[path = "../common/route.rs"]
mod route;

mod bad_input;
mod chat_cli;
mod checkin_days;
mod config;
mod crisis;
mod facts;
mod files;
mod flow_words;
mod graph;
mod heard;
mod logs;
mod moderation;
mod pairing;
mod privacy;
mod scheduler;
mod sealing;
mod shipped_flows;
mod store;
mod store_faults;
mod terminal;
mod validation;
