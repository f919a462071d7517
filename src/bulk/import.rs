//! `import`: replace the whole community with a validated file.
//!
//! Each backend has a loader built on what it offers for bulk loads:
//! - PostgreSQL (`pg.rs`): COPY into staging tables, keys and indexes built after the load,
//!   then swapped in by renames within milliseconds;
//! - MariaDB/MySQL (`mysql.rs`): staging tables without secondary indexes, loaded with
//!   multi-row INSERTs, indexed, then swapped in with one atomic `RENAME TABLE`;
//! - SQLite (`sqlite.rs`): one transaction, secondary indexes dropped before the load and
//!   recreated after it.
//!
//! Every row is an entity model; the INSERTs are built from the entities (`tables.rs`).

use std::fmt;

use sea_orm::DatabaseConnection;

use super::tables::directed_connections;
use super::{mysql, pg, sqlite};
use crate::datafile::{Community, Validated};
use crate::progress::Progress;
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
    import_with(store, community, &Progress::quiet()).await
}

/// `import`, reporting its phases to `progress`: `prepare` (staging tables, or the live ones
/// emptied), one per table loaded (`tags`, `users`, `user_tags`, `connections` (two rows per
/// connection), `connection_requests`, `access_tokens`), `index` (keys, indexes, foreign keys
/// and triggers built over the loaded rows) and `swap` (the new community made the live one,
/// committed).
pub async fn import_with(
    store: &Store,
    community: &Community,
    progress: &Progress,
) -> anyhow::Result<ImportReport> {
    let data = community.rows();
    let connections = directed_connections(&data.connections);
    let db = store.connection();
    match db {
        DatabaseConnection::SqlxPostgresPoolConnection(_) => {
            pg::load(
                db.get_postgres_connection_pool(),
                data,
                connections,
                progress,
            )
            .await?
        }
        DatabaseConnection::SqlxMySqlPoolConnection(_) => {
            mysql::load(db.get_mysql_connection_pool(), data, connections, progress).await?
        }
        DatabaseConnection::SqlxSqlitePoolConnection(_) => {
            sqlite::load(db.get_sqlite_connection_pool(), data, connections, progress).await?
        }
        // Only a closed store gets here (the three backends are the only ones built in).
        _ => anyhow::bail!("the database connection is closed"),
    }
    // Each loader raised the id source past the file's request ids in its transaction
    // (`migrations::request_ids`): no id of the file is handed out again by the API, even
    // once its request is deleted.
    // This process's graph cache has forgotten the old community before we return.
    store.settle().await;
    Ok(ImportReport::of(data))
}
