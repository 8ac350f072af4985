//! Retrying what is safe to retry when Discord stumbles. With a custom API
//! base serenity's rate limiter is off, and serenity never retries by itself,
//! so a 429 or a 500 would otherwise cost a person their reply.
//!
//! - 429 (rate limited) and 5xx: retried with a short, bounded backoff.
//!   serenity 0.12 does not pass on the `retry_after` it was given when its
//!   limiter is off, so the backoff stands in for it.
//! - A request that failed on the way (connection refused, timed out): also
//!   retried. Message creation carries a nonce Discord enforces, so a message
//!   that did arrive before the failure is not created twice.
//! - Any other 4xx (403, 404, 50007 "cannot message this user", ...): never
//!   retried; the answer will not change.

use std::future::Future;
use std::time::Duration;

use serenity::all::{HttpError, Nonce};
use tracing::{debug, warn};

/// How hard to try.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub attempts: u32,
    pub first_wait: Duration,
}

/// For messages and edits: up to four tries over about three and a half seconds.
pub const PATIENT: Policy = Policy {
    attempts: 4,
    first_wait: Duration::from_millis(500),
};

/// For interaction callbacks, which must land within Discord's 3 seconds.
pub const QUICK: Policy = Policy {
    attempts: 2,
    first_wait: Duration::from_millis(250),
};

/// Whether an error is worth another try.
pub fn retryable(err: &serenity::Error) -> bool {
    match err {
        serenity::Error::Http(HttpError::UnsuccessfulRequest(response)) => {
            let status = response.status_code.as_u16();
            status == 429 || status >= 500
        }
        serenity::Error::Http(HttpError::Request(_)) => true,
        _ => false,
    }
}

/// The HTTP status of an error, for logs (ids and codes only, never text).
fn status(err: &serenity::Error) -> Option<u16> {
    match err {
        serenity::Error::Http(HttpError::UnsuccessfulRequest(response)) => {
            Some(response.status_code.as_u16())
        }
        _ => None,
    }
}

/// Runs `call` until it succeeds, fails for good, or the policy is spent.
pub async fn retrying<T, F, Fut>(
    what: &'static str,
    policy: Policy,
    mut call: F,
) -> serenity::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = serenity::Result<T>>,
{
    let mut wait = policy.first_wait;
    let mut attempt = 1;
    loop {
        match call().await {
            Ok(value) => {
                if attempt > 1 {
                    debug!(what, attempt, "succeeded after a retry");
                }
                return Ok(value);
            }
            Err(err) if attempt < policy.attempts && retryable(&err) => {
                warn!(
                    what,
                    attempt,
                    status = status(&err),
                    "Discord stumbled; retrying"
                );
                tokio::time::sleep(wait).await;
                wait *= 2;
                attempt += 1;
            }
            Err(err) => return Err(err),
        }
    }
}

/// A nonce for one message, the same however often it is retried, so
/// Discord (with `enforce_nonce`) creates it once. Made from what the message
/// answers (an event id, or a person and day) and its place in the turn.
pub fn nonce(key: &str, index: usize) -> Nonce {
    let hash = blake3::hash(format!("{key}#{index}").as_bytes());
    let bytes: [u8; 8] = hash.as_bytes()[..8].try_into().expect("8 bytes");
    // Discord takes nonces up to 25 characters; a u64 in decimal fits.
    Nonce::Number(u64::from_le_bytes(bytes) >> 1)
}

/// The nonce for one of the messages a long reply is sent as: the first
/// keeps the reply's own nonce.
pub fn nonce_part(key: &str, index: usize, part: usize) -> Nonce {
    if part == 0 {
        nonce(key, index)
    } else {
        nonce(&format!("{key}#{index}"), part)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nonce_is_stable_for_its_message_and_differs_between_messages() {
        assert_eq!(
            format!("{:?}", nonce("message:1", 0)),
            format!("{:?}", nonce("message:1", 0))
        );
        assert_ne!(
            format!("{:?}", nonce("message:1", 0)),
            format!("{:?}", nonce("message:1", 1))
        );
        assert_eq!(
            format!("{:?}", nonce_part("message:1", 1, 0)),
            format!("{:?}", nonce("message:1", 1))
        );
        assert_ne!(
            format!("{:?}", nonce_part("message:1", 1, 1)),
            format!("{:?}", nonce_part("message:1", 2, 1))
        );
    }
}
