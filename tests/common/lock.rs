//! Another process's writer: holds SQLite's write lock on a database file
//! until released, so a test can make mend's store fail the way a busy
//! database does. Shared by the test binaries through `#[path]`.

use std::path::Path;

use sqlx::{Connection, SqliteConnection};

pub struct Lock(SqliteConnection);

impl Lock {
    pub async fn take(db: &Path) -> Lock {
        let mut conn = SqliteConnection::connect(&format!("sqlite:{}", db.display()))
            .await
            .unwrap();
        sqlx::query("BEGIN EXCLUSIVE")
            .execute(&mut conn)
            .await
            .unwrap();
        Lock(conn)
    }

    pub async fn release(mut self) {
        sqlx::query("ROLLBACK").execute(&mut self.0).await.unwrap();
        self.0.close().await.unwrap();
    }
}
