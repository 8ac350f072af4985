//! End to end on Discord: the real `mend serve` entry (the library function
//! the binary calls) and the real serenity client, against a
//! Discord-compatible server on 127.0.0.1 (`fake.rs`). One binary.

mod fake;
mod helpers;
#[path = "../common/lock.rs"]
mod lock;
#[path = "../common/route.rs"]
mod route;

mod bad_input;
mod buttons;
mod checkins;
mod conversation;
mod crash;
mod faults;
mod moderation;
mod pairing;
mod privacy;
mod safety;
mod store_faults;
