//! PostgreSQL: a transaction may take the change feed's `NOTIFY` out of its commit and leave
//! it to its writer, who sends it once the commit is done.
//!
//! A transaction that notified holds one lock of the whole database from its commit's start
//! to its end, WAL flush included, so notifying writers commit one at a time and group commit
//! never forms (`bench/RESULTS.md`, lifecycle, observation 2: 26–28 of 32 writers waiting on
//! it). The statement trigger `graph_changes_notify` now skips its `pg_notify` when the
//! transaction set `community_gateway.notify` to `deferred` (`set_config(..., true)`, local to
//! the transaction). The gateway's lifecycle writes do, and its notifier (`store::notify`)
//! sends one `NOTIFY` after their commits, on a connection of its own, for as many commits as
//! came while it was sending the last one. Every other writer (an import, `settings set`, the
//! Django backend, `psql`) notifies in its commit as before.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

use crate::m20261202_000001_change_feed::CHANNEL;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The setting a transaction sets (locally) to take the NOTIFY out of its commit.
pub const SETTING: &str = "community_gateway.notify";
/// Its value that does.
pub const DEFERRED: &str = "deferred";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // `current_setting(name, true)` is NULL where nothing set it, '' once a transaction
        // that set it locally has ended.
        replace_notify(
            manager,
            &format!(
                "IF current_setting('{SETTING}', true) IS DISTINCT FROM '{DEFERRED}' THEN \
                   PERFORM pg_notify('{CHANNEL}', ''); \
                 END IF;"
            ),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        replace_notify(manager, &format!("PERFORM pg_notify('{CHANNEL}', '');")).await
    }
}

/// PostgreSQL: `graph_notify()` (the statement trigger's function) with `body`; nothing
/// elsewhere.
async fn replace_notify(manager: &SchemaManager<'_>, body: &str) -> Result<(), DbErr> {
    if manager.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(());
    }
    manager
        .get_connection()
        .execute_unprepared(&format!(
            "CREATE OR REPLACE FUNCTION graph_notify() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN {body} RETURN NULL; END $$"
        ))
        .await?;
    Ok(())
}
