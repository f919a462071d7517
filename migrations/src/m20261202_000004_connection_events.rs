//! `connection_events`: what the `connectionEvents` subscription delivers. A lifecycle action
//! that changes a pair writes one row here, and a change row of kind `EVENT` naming it, in its
//! own transaction; every server's feed follower reads the row once the change commits and
//! hands it to the target's subscribers. So events come from the database, in commit order,
//! whichever server (or replica) ran the action.
//!
//! A row is a snapshot taken under the pair's locks: the kind, who acted on whom, the time the
//! action wrote, the target's status towards the actor after the action, and the request
//! concerned as it is after the action (null columns once it is deleted). Followers delete rows
//! older than a few minutes (events are delivered live, never replayed).
//!
//! Raw SQL for the id column, as in the change feed: SQLite needs `AUTOINCREMENT` so a pruned
//! id is never handed out again.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The table.
pub const EVENTS_TABLE: &str = "connection_events";

/// The columns after the id, the same on every backend.
const COLUMNS: &str = "kind SMALLINT NOT NULL, \
    actor_id BIGINT NOT NULL, \
    target_id BIGINT NOT NULL, \
    at_us BIGINT NOT NULL, \
    target_status SMALLINT NULL, \
    request_id BIGINT NULL, \
    request_from_id BIGINT NULL, \
    request_to_id BIGINT NULL, \
    request_created_us BIGINT NULL, \
    request_rejected_us BIGINT NULL, \
    request_viewed_us BIGINT NULL";

fn create_statement(backend: DatabaseBackend) -> String {
    let id = match backend {
        DatabaseBackend::Postgres => "id BIGSERIAL PRIMARY KEY",
        DatabaseBackend::MySql => "id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY",
        DatabaseBackend::Sqlite => "id INTEGER PRIMARY KEY AUTOINCREMENT",
    };
    format!("CREATE TABLE IF NOT EXISTS {EVENTS_TABLE} ({id}, {COLUMNS})")
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        manager
            .get_connection()
            .execute_unprepared(&create_statement(backend))
            .await
            .map(|_| ())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(&format!("DROP TABLE IF EXISTS {EVENTS_TABLE}"))
            .await
            .map(|_| ())
    }
}
