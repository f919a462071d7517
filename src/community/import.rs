//! `import`: replace the whole community with a validated file.
//!
//! Each backend has a loader built on what it offers for bulk loads:
//! - PostgreSQL (`pg.rs`): COPY in one transaction, keys and indexes rebuilt after the load;
//! - MariaDB/MySQL (`mysql.rs`): staging tables without secondary indexes, loaded with
//!   multi-row INSERTs, indexed, then swapped in with one atomic `RENAME TABLE`;
//! - SQLite (`sqlite.rs`): one transaction, secondary indexes dropped before the load and
//!   recreated after it;
//! - any other connection: one transaction of `DELETE FROM` and multi-row INSERTs.
//!
//! Every row is an entity model; the INSERTs are built from the entities (`tables.rs`).

use std::fmt;

use anyhow::Context;
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, TransactionTrait};

use super::tables::{insert_all, tables_children_first, BatchLimits};
use super::validate::{Community, Validated};
use super::{mysql, pg, sqlite};
use crate::store::Store;

/// What an import loaded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub users: usize,
    pub tags: usize,
    /// Undirected connections (each is stored as two rows).
    pub connections: usize,
    pub requests: usize,
    pub tokens: usize,
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "imported {} users, {} tags, {} connections, {} connection requests and {} access tokens",
            self.users, self.tags, self.connections, self.requests, self.tokens
        )
    }
}

impl ImportReport {
    fn of(data: &Validated) -> ImportReport {
        ImportReport {
            users: data.users.len(),
            tags: data.tags.len(),
            connections: data.connections.len(),
            requests: data.requests.len(),
            tokens: data.tokens.len(),
        }
    }
}

/// Replaces everything in the database with `community` (a file that passed every rule, so
/// nothing is left to refuse). Readers see the old community until the new one is complete.
pub async fn import(store: &Store, community: &Community) -> anyhow::Result<ImportReport> {
    let data = community.rows();
    let db = store.connection();
    match db {
        DatabaseConnection::SqlxPostgresPoolConnection(_) => {
            pg::load(db.get_postgres_connection_pool(), data).await?
        }
        DatabaseConnection::SqlxMySqlPoolConnection(_) => {
            let directed = pg::directed_connections(&data.connections);
            mysql::load(db.get_mysql_connection_pool(), data, directed).await?
        }
        DatabaseConnection::SqlxSqlitePoolConnection(_) => {
            let directed = pg::directed_connections(&data.connections);
            sqlite::load(db.get_sqlite_connection_pool(), data, directed).await?
        }
        db => load_with_inserts(db, data).await?,
    }
    Ok(ImportReport::of(data))
}

/// Any other connection (not a plain sqlx pool): one transaction, `DELETE FROM` every
/// table, then multi-row INSERTs of the entities.
async fn load_with_inserts(db: &DatabaseConnection, data: &Validated) -> anyhow::Result<()> {
    let tx = db
        .begin()
        .await
        .context("starting the import transaction")?;
    for table in tables_children_first() {
        // Table names come from the entities, never from input.
        tx.execute_unprepared(&format!("DELETE FROM {table}"))
            .await
            .with_context(|| format!("emptying {table}"))?;
    }
    let limits = BatchLimits {
        max_params: match db.get_database_backend() {
            // SQLITE_MAX_VARIABLE_NUMBER since SQLite 3.32.
            DatabaseBackend::Sqlite => 32_766,
            // Both count parameters in an unsigned 16-bit field.
            DatabaseBackend::MySql | DatabaseBackend::Postgres => 65_535,
        },
        max_bytes: 4 << 20,
    };
    let directed = pg::directed_connections(&data.connections);
    insert_all(&tx, data, directed, |table| table, limits).await?;
    tx.commit().await.context("committing the import")?;
    Ok(())
}
