//! The high-water mark of connection request ids: `connection_request_ids`, one row
//! (`id` = 1) whose `last_id` is the largest request id ever handed out or loaded.
//!
//! A new request takes `max(last_id, MAX(connection_requests.id)) + 1` and stores it back in
//! `last_id`, in the transaction that inserts the request. `MAX(id) + 1` alone would hand out
//! again the id of a request deleted since (accepted, withdrawn); the mark never goes down, and
//! taking the maximum with the table also steps past ids an import loaded. The table has no
//! change-feed trigger: it is not part of the graph.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ConnectionRequestIds {
    Table,
    Id,
    LastId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ConnectionRequestIds::Table)
                    .if_not_exists()
                    .col(integer(ConnectionRequestIds::Id).primary_key())
                    .col(big_integer(ConnectionRequestIds::LastId))
                    .to_owned(),
            )
            .await?;
        // The one row, starting at the largest id already stored (run again: unchanged).
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO connection_request_ids (id, last_id) \
                 SELECT 1, COALESCE(MAX(id), 0) FROM connection_requests \
                 WHERE NOT EXISTS (SELECT 1 FROM connection_request_ids WHERE id = 1)",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(ConnectionRequestIds::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}
