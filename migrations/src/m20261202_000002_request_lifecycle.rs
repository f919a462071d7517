//! The connection lifecycle's request model: `connection_requests` gains
//!
//! - `id`: the request's id (unique, stable, never reused; ids from the data file are kept).
//!   Rows already there are numbered from 1 in (`created_at_us`, `from_user_id`,
//!   `to_user_id`) order. NOT NULL on PostgreSQL and MariaDB/MySQL once filled; SQLite cannot
//!   add NOT NULL to an existing column without rebuilding the table, so there the column stays
//!   nullable and every writer sets it (the import always does);
//! - `rejected_at_us`: when the recipient declined it (NULL: pending);
//! - `viewed_at_us`: when the recipient marked it seen (NULL: never).
//!
//! Only `ALTER TABLE ... ADD COLUMN` and an index: the table keeps its change-feed triggers on
//! every backend (`m20261202_000001_change_feed`). Numbering the rows is one UPDATE, which the
//! triggers report like any other (the graph caches evict those users' requests).
//!
//! Each step checks whether it is already done: MariaDB/MySQL and SQLite run a migration
//! outside a transaction, so one that stopped half-way can be run again.

use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ConnectionRequests {
    Table,
    Id,
    RejectedAtUs,
    ViewedAtUs,
}

/// The unique index on `connection_requests.id`.
const ID_INDEX: &str = "ux_connection_requests_id";

/// The UPDATE that numbers the rows whose id is NULL, in the order of the module comment.
fn number_rows(backend: DatabaseBackend) -> String {
    let numbered = "SELECT from_user_id, to_user_id, ROW_NUMBER() OVER \
                    (ORDER BY created_at_us, from_user_id, to_user_id) AS n \
                    FROM connection_requests";
    match backend {
        DatabaseBackend::MySql => format!(
            "UPDATE connection_requests r JOIN ({numbered}) k \
             ON r.from_user_id = k.from_user_id AND r.to_user_id = k.to_user_id \
             SET r.id = k.n WHERE r.id IS NULL"
        ),
        // PostgreSQL, and SQLite since 3.33: UPDATE ... FROM.
        _ => format!(
            "UPDATE connection_requests SET id = k.n FROM ({numbered}) k \
             WHERE connection_requests.from_user_id = k.from_user_id \
             AND connection_requests.to_user_id = k.to_user_id \
             AND connection_requests.id IS NULL"
        ),
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let table = ConnectionRequests::Table.to_string();
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        for column in [
            big_integer_null(ConnectionRequests::Id),
            big_integer_null(ConnectionRequests::RejectedAtUs),
            big_integer_null(ConnectionRequests::ViewedAtUs),
        ] {
            let name = column.get_column_name();
            if manager.has_column(&table, &name).await? {
                continue;
            }
            manager
                .alter_table(
                    Table::alter()
                        .table(ConnectionRequests::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        let db = manager.get_connection();
        db.execute_unprepared(&number_rows(backend)).await?;
        match backend {
            DatabaseBackend::Postgres => {
                db.execute_unprepared(
                    "ALTER TABLE connection_requests ALTER COLUMN id SET NOT NULL",
                )
                .await?;
            }
            DatabaseBackend::MySql => {
                db.execute_unprepared(
                    "ALTER TABLE connection_requests MODIFY COLUMN id BIGINT NOT NULL",
                )
                .await?;
            }
            DatabaseBackend::Sqlite => {}
        }
        if !manager.has_index(&table, ID_INDEX).await? {
            manager
                .create_index(
                    Index::create()
                        .name(ID_INDEX)
                        .table(ConnectionRequests::Table)
                        .col(ConnectionRequests::Id)
                        .unique()
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let table = ConnectionRequests::Table.to_string();
        if manager.has_index(&table, ID_INDEX).await? {
            manager
                .drop_index(
                    Index::drop()
                        .name(ID_INDEX)
                        .table(ConnectionRequests::Table)
                        .to_owned(),
                )
                .await?;
        }
        for column in [
            ConnectionRequests::ViewedAtUs,
            ConnectionRequests::RejectedAtUs,
            ConnectionRequests::Id,
        ] {
            if !manager.has_column(&table, &column.to_string()).await? {
                continue;
            }
            manager
                .alter_table(
                    Table::alter()
                        .table(ConnectionRequests::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
