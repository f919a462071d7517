//! The SQLite loader: one transaction on a connection of its own.
//!
//! - The connection is opened for the import alone (same file and options as the pool's) and
//!   closed after it, so its settings never reach a connection that serves requests: a page
//!   cache large enough to hold the tables being written (it would otherwise spill pages to
//!   the WAL mid-transaction), and foreign keys not enforced: the file was validated (ids
//!   unique, every reference exists), so the per-row parent look-ups prove nothing, and
//!   `DELETE FROM` without them takes SQLite's truncate path instead of visiting every row.
//! - In the transaction, the change-feed triggers and the secondary indexes of the tables (their `CREATE INDEX` text from
//!   `sqlite_master`, so nothing restates the migration) are dropped, the tables emptied and
//!   loaded with multi-row INSERTs as large as SQLite's variable limit allows, and the indexes
//!   recreated: one sorted build each instead of millions of scattered inserts; the triggers
//!   come back after the load, which announces itself with one reset row of the change feed. SQLite's DDL
//!   is transactional, so a failure leaves everything as it was, and readers on other
//!   connections (WAL) keep reading the old community, indexes included, until the commit.

use std::time::Instant;

use anyhow::Context;
use sea_orm::sqlx::{Sqlite, SqlitePool};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, SqlxSqliteConnector, Statement,
    TransactionTrait,
};

use super::tables::{
    create_feed_triggers, drop_feed_triggers, import_pool, insert_all, reset_statement,
    tables_children_first, BatchLimits,
};
use crate::datafile::Validated;
use crate::entity::connection;
use crate::progress::{Phase, Progress};

/// SQLITE_MAX_VARIABLE_NUMBER of the bundled SQLite (32,766 since 3.32; 3.46 is bundled).
const MAX_PARAMS: usize = 32_766;

/// Page cache of the importing connection, in KiB (a negative `cache_size` counts KiB).
const CACHE_KIB: i64 = 512 * 1024;

pub(crate) async fn load(
    pool: &SqlitePool,
    data: &Validated,
    connections: Vec<connection::Model>,
    progress: &Progress,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let prepare = progress.phase("prepare", "", None);
    let options = pool
        .connect_options()
        .as_ref()
        .clone()
        .foreign_keys(false)
        .pragma("cache_size", (-CACHE_KIB).to_string())
        .pragma("temp_store", "memory");
    let own = import_pool::<Sqlite>()
        .connect_with(options)
        .await
        .context("opening the import connection")?;
    let db = SqlxSqliteConnector::from_sqlx_sqlite_pool(own.clone());
    let result = load_on(&db, data, connections, prepare, progress).await;
    own.close().await;
    tracing::debug!(elapsed = ?started.elapsed(), "import: done");
    result
}

async fn load_on(
    db: &DatabaseConnection,
    data: &Validated,
    connections: Vec<connection::Model>,
    prepare: Phase,
    progress: &Progress,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let tables = tables_children_first();
    // Read before the transaction begins, so that its first statement writes: a deferred
    // transaction that read first could not take the write lock after another connection's
    // commit (SQLITE_BUSY_SNAPSHOT, which the busy timeout does not wait out); one that writes
    // first waits for the lock like any writer.
    let indexes = secondary_indexes(db, &tables).await?;
    let tx = db
        .begin()
        .await
        .context("starting the import transaction")?;
    for (name, _) in &indexes {
        tx.execute_unprepared(&format!("DROP INDEX {}", quoted(name)))
            .await
            .with_context(|| format!("dropping index {name}"))?;
    }
    // Without them, a row deleted or inserted reports no change (and DELETE keeps its
    // truncate path); the reset written before the commit covers the whole load.
    for drop in drop_feed_triggers(DbBackend::Sqlite) {
        tx.execute_unprepared(&drop)
            .await
            .context("dropping the change-feed triggers")?;
    }
    for table in &tables {
        // Table names come from the entities, never from input.
        tx.execute_unprepared(&format!("DELETE FROM {}", quoted(table)))
            .await
            .with_context(|| format!("emptying {table}"))?;
    }
    let limits = BatchLimits {
        max_params: MAX_PARAMS,
        max_bytes: 16 << 20,
    };
    prepare.finish();
    insert_all(&tx, data, connections, |table| table, limits, progress).await?;
    tracing::debug!(elapsed = ?started.elapsed(), "import: rows inserted");
    let index = progress.phase("index", "statements", Some(indexes.len() as u64));
    for (name, create) in &indexes {
        tx.execute_unprepared(create)
            .await
            .with_context(|| format!("recreating index {name}"))?;
        index.inc(1);
    }
    index.finish();
    tracing::debug!(elapsed = ?started.elapsed(), "import: indexes rebuilt");
    let swap = progress.phase("swap", "", None);
    for create in create_feed_triggers(DbBackend::Sqlite) {
        tx.execute_unprepared(&create)
            .await
            .context("recreating the change-feed triggers")?;
    }
    tx.execute_unprepared(&format!(
        "{} WHERE id = 1",
        migrations::request_ids::SQLITE_RAISE_PAST_STORED
    ))
    .await
    .context("raising the request-id counter past the file's ids")?;
    tx.execute_unprepared(&reset_statement())
        .await
        .context("announcing the import to the graph caches")?;
    tx.commit().await.context("committing the import")?;
    swap.finish();
    Ok(())
}

/// (name, `CREATE INDEX` statement) of every explicitly created index on `tables`, from the
/// catalogue. The automatic indexes of primary keys and UNIQUE columns (`sql` is NULL) stay.
async fn secondary_indexes<C: ConnectionTrait>(
    conn: &C,
    tables: &[String],
) -> anyhow::Result<Vec<(String, String)>> {
    let mut indexes = Vec::new();
    for table in tables {
        let rows = conn
            .query_all(Statement::from_sql_and_values(
                DbBackend::Sqlite,
                "SELECT name, sql FROM sqlite_master \
                 WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL ORDER BY name",
                [table.clone().into()],
            ))
            .await
            .with_context(|| format!("reading the indexes of {table}"))?;
        for row in rows {
            indexes.push((row.try_get::<String>("", "name")?, row.try_get("", "sql")?));
        }
    }
    Ok(indexes)
}

/// An identifier as an SQLite quoted name.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
