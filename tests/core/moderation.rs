//! The moderators' queries on a real SQLite file.

use jiff::Timestamp;
use mend::flags::Action;
use mend::flags::pending::{PendingFlag, PendingFlags};
use mend::flags::queries as flags;

use crate::helpers::temp_store;

/// The notices owed are found in one read, each flag whole, so posting
/// them needs no second read per flag: only active flags raised on Discord
/// whose notice was never posted.
#[tokio::test]
async fn the_notices_owed_are_read_whole_in_one_query() {
    let (_dir, store) = temp_store().await;
    let hit = mend::safety::Screen::embedded()
        .screen("I want to kill myself")
        .unwrap();
    let at = Timestamp::from_second(1_800_000_000).unwrap();
    let pending = PendingFlags::new();
    for person in [
        "discord:1",
        "discord:2",
        "discord:3",
        "terminal:kim",
        "discord:4",
    ] {
        pending.push(PendingFlag {
            person: person.into(),
            hit: hit.clone(),
            asked: false,
            at,
        });
    }
    let raised = pending.retry(&store).await;
    let ids: Vec<i64> = raised.iter().map(|r| r.id).collect();
    assert_eq!(ids.len(), 5);
    // discord:2's notice is posted; discord:3's flag is closed.
    flags::set_notice(&crate::helpers::raw(&store).await, ids[1], "77", "88")
        .await
        .unwrap();
    flags::act(
        &crate::helpers::raw(&store).await,
        store.cipher(),
        ids[2],
        Action::Resolve,
        "discord:9",
        None,
        at,
    )
    .await
    .unwrap()
    .unwrap();
    // discord:4's is claimed, so still active, and still owed.
    flags::act(
        &crate::helpers::raw(&store).await,
        store.cipher(),
        ids[4],
        Action::Claim,
        "discord:9",
        None,
        at,
    )
    .await
    .unwrap()
    .unwrap();

    let owed = flags::owed_notices(&crate::helpers::raw(&store).await, store.cipher())
        .await
        .unwrap();
    let people: Vec<&str> = owed.iter().map(|f| f.person.as_str()).collect();
    assert_eq!(people, ["discord:1", "discord:4"]);
    // Each as whole as a fresh read of it would be.
    for flag in &owed {
        let fresh = flags::get(&crate::helpers::raw(&store).await, store.cipher(), flag.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(flag, &fresh);
        assert_eq!(flag.excerpt.as_deref(), Some(hit.excerpt.as_str()));
    }
}
