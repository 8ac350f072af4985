//! Ids are never reused, on real SQLite files: erased ids never come back.

use sqlx::SqlitePool;

use mend::engine::Input;
use mend::store::Store;
use mend::store::privacy::ErasedBy;

use crate::helpers::temp_store;
use crate::privacy::{DANGER, at, send};

async fn person_id(pool: &SqlitePool, external: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM people WHERE external_id = ?")
        .bind(external)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn flag_of(pool: &SqlitePool, person: i64) -> i64 {
    sqlx::query_scalar("SELECT id FROM flags WHERE person_id = ?")
        .bind(person)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// A person with a crisis flag: (their id, the flag's id).
async fn flagged(store: &Store, external: &str) -> (i64, i64) {
    let raised = send(store, external, &Input::Text(DANGER.into()), at(0)).await;
    assert!(raised.flag.is_some());
    let person = person_id(store.pool(), external).await;
    (person, flag_of(store.pool(), person).await)
}

#[tokio::test]
async fn an_erased_persons_ids_are_never_handed_out_again() {
    let (_dir, store) = temp_store().await;
    let (mut person, mut flag) = flagged(&store, "discord:1").await;
    for (last, next) in [("discord:1", "discord:2"), ("discord:2", "discord:3")] {
        // The newest person is erased, so their id is the highest in use:
        // exactly the one SQLite would hand out again without AUTOINCREMENT.
        store
            .forget(last, ErasedBy::Person, at(0))
            .await
            .unwrap()
            .unwrap();
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM people")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(count, 0);
        let (new_person, new_flag) = flagged(&store, next).await;
        assert!(new_person > person, "person {new_person} after {person}");
        assert!(new_flag > flag, "flag {new_flag} after {flag}");
        (person, flag) = (new_person, new_flag);
    }
}
