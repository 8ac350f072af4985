//! How long mend keeps what it keeps, applied wherever it keeps data: by the
//! bot every hour and by `mend chat` as it opens a database, each on the
//! clock its turns read. What a sweep erased is returned, so an edge can
//! tidy what it showed elsewhere (the moderators' notices on Discord).

use jiff::{SignedDuration, Timestamp};
use tracing::{info, warn};

use super::Erased;
use crate::config::Config;
use crate::store::Store;

/// How long the ids of applied events (and replies that could never be
/// sent) are kept: Discord redelivers within minutes, so a week is generous.
pub const PROCESSED_KEPT: SignedDuration = SignedDuration::from_hours(24 * 7);

/// How long what mend keeps is kept.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// Flag excerpts, from when the flag is resolved or escalated.
    pub excerpts: SignedDuration,
    /// Everything about a person, from when they were last active; None keeps it.
    pub inactive: Option<SignedDuration>,
}

impl Retention {
    pub fn from_config(config: &Config) -> Retention {
        let days = |d: u64| SignedDuration::from_hours(24 * d.min(365 * 100) as i64);
        Retention {
            excerpts: days(config.safety.excerpt_retention_days),
            inactive: (config.privacy.inactive_days > 0)
                .then(|| days(config.privacy.inactive_days)),
        }
    }
}

/// Applies the retention schedule once, at `now`: erases flag excerpts past
/// their time, forgets old event ids, and erases everyone inactive past
/// theirs. Each part is tried even when another fails (and logged); the
/// people erased are returned.
pub async fn sweep(store: &Store, retention: Retention, now: Timestamp) -> Vec<Erased> {
    match store.erase_old_excerpts(now - retention.excerpts).await {
        Ok(0) => {}
        Ok(erased) => info!(erased, "erased flag excerpts past their retention"),
        Err(err) => warn!(error = %err, "could not erase old flag excerpts"),
    }
    if let Err(err) = store.prune_processed(now - PROCESSED_KEPT).await {
        warn!(error = %err, "could not prune applied-event ids");
    }
    match store.prune_pairing(now).await {
        Ok(0) => {}
        Ok(gone) => info!(gone, "erased pairing data past its retention"),
        Err(err) => warn!(error = %err, "could not erase old pairing data"),
    }
    let Some(inactive) = retention.inactive else {
        return Vec::new();
    };
    match store.expire_inactive(now - inactive, now).await {
        Ok(erased) => {
            if !erased.is_empty() {
                info!(
                    people = erased.len(),
                    "erased people inactive past their retention"
                );
            }
            erased
        }
        Err(err) => {
            warn!(error = %err, "could not erase inactive people");
            Vec::new()
        }
    }
}
