//! Request ids from the database's own sequence instead of the counter row of
//! `m20261202_000003_request_ids`, on the backends where concurrent writers exist.
//!
//! The counter row serialized every new request of the whole community: each one updated the
//! row and held its lock until commit, WAL flush included (`bench/RESULTS.md`, lifecycle,
//! observation 1). A sequence hands out ids without a lock held to the end of the transaction.
//!
//! - PostgreSQL: a sequence of its own, `connection_requests_id_seq`, as the column's default.
//!   Not an identity column, and not `OWNED BY` the table: the import swaps in a staging table
//!   built `LIKE` the live one (`bulk::pg`), which copies the default (the same sequence) and
//!   would drop an owned sequence with the replaced table.
//! - MariaDB/MySQL: `AUTO_INCREMENT` on the column (InnoDB persists the counter across
//!   restarts since MariaDB 10.2.4 and MySQL 8.0). `ux_connection_requests_id` is the index
//!   it needs.
//! - SQLite keeps the counter row: it has one writer at a time for the whole file, so the row
//!   adds no serial section, and its `UPDATE` is the statement that takes the write lock first
//!   (`store::lifecycle`). Its rowid would not do: without `AUTOINCREMENT` (which needs the
//!   id to be the primary key, and the key here is the pair) a deleted largest id is handed
//!   out again.
//!
//! Each starts past the counter's mark and every stored id, so no id is handed out twice.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend, Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The PostgreSQL sequence of request ids.
pub const SEQUENCE: &str = "connection_requests_id_seq";

/// The largest id the counter row or the table holds (0 for none).
const MARK: &str = "SELECT GREATEST( \
     COALESCE((SELECT last_id FROM connection_request_ids WHERE id = 1), 0), \
     COALESCE((SELECT MAX(id) FROM connection_requests), 0)) AS mark";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => {
                db.execute_unprepared(&format!("CREATE SEQUENCE {SEQUENCE} AS bigint"))
                    .await?;
                // `setval(s, m, true)` hands out m + 1 next; a fresh community starts at 1.
                db.execute_unprepared(&format!(
                    "SELECT setval('{SEQUENCE}', GREATEST(mark, 1), mark >= 1) FROM ({MARK}) AS m"
                ))
                .await?;
                db.execute_unprepared(&format!(
                    "ALTER TABLE connection_requests ALTER COLUMN id \
                     SET DEFAULT nextval('{SEQUENCE}')"
                ))
                .await?;
                db.execute_unprepared("DROP TABLE connection_request_ids")
                    .await?;
            }
            DatabaseBackend::MySql => {
                let mark = mark(db).await?;
                // An integer read just above; DDL takes no bound parameters.
                db.execute_unprepared(&format!(
                    "ALTER TABLE connection_requests MODIFY id BIGINT NOT NULL AUTO_INCREMENT, \
                     AUTO_INCREMENT = {}",
                    mark + 1
                ))
                .await?;
                db.execute_unprepared("DROP TABLE connection_request_ids")
                    .await?;
            }
            DatabaseBackend::Sqlite => {}
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let backend = manager.get_database_backend();
        if backend == DatabaseBackend::Sqlite {
            return Ok(());
        }
        // The counter row comes back at the id source's mark (the table's largest id at
        // least).
        let mark_sql = match backend {
            DatabaseBackend::Postgres => pg_mark(),
            _ => format!(
                "SELECT CAST(GREATEST(COALESCE(({MYSQL_NEXT_ID}), 1) - 1, \
                 COALESCE((SELECT MAX(id) FROM connection_requests), 0)) AS SIGNED) AS mark"
            ),
        };
        let mark: i64 = db
            .query_one(Statement::from_string(backend, mark_sql))
            .await?
            .ok_or_else(|| DbErr::RecordNotFound("the request-id mark".into()))?
            .try_get("", "mark")?;
        match backend {
            DatabaseBackend::Postgres => {
                db.execute_unprepared(
                    "ALTER TABLE connection_requests ALTER COLUMN id DROP DEFAULT",
                )
                .await?;
                db.execute_unprepared(&format!("DROP SEQUENCE {SEQUENCE}"))
                    .await?;
            }
            _ => {
                db.execute_unprepared("ALTER TABLE connection_requests MODIFY id BIGINT NOT NULL")
                    .await?;
            }
        }
        db.execute_unprepared(
            "CREATE TABLE connection_request_ids (id integer NOT NULL PRIMARY KEY, \
             last_id bigint NOT NULL)",
        )
        .await?;
        db.execute_unprepared(&format!(
            "INSERT INTO connection_request_ids (id, last_id) VALUES (1, {mark})"
        ))
        .await?;
        Ok(())
    }
}

/// The largest id the counter row or the table holds, on MariaDB/MySQL.
async fn mark(db: &SchemaManagerConnection<'_>) -> Result<i64, DbErr> {
    // Cast: GREATEST over subqueries may come back as DECIMAL.
    let row = db
        .query_one(Statement::from_string(
            DatabaseBackend::MySql,
            format!("SELECT CAST(mark AS SIGNED) AS mark FROM ({MARK}) AS m"),
        ))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("connection_request_ids".into()))?;
    row.try_get::<i64>("", "mark")
}

/// PostgreSQL: the sequence's mark (the last id it handed out, 0 before the first) or the
/// table's largest id, whichever is larger, as `mark`.
fn pg_mark() -> String {
    format!(
        "SELECT GREATEST(CASE WHEN is_called THEN last_value ELSE 0 END, \
         COALESCE((SELECT MAX(id) FROM connection_requests), 0)) AS mark FROM {SEQUENCE}"
    )
}

/// PostgreSQL: raises the sequence past every stored request id, never lowering it. The
/// import runs it in its transaction, under the swap's locks, after its rows are in (they
/// carry the file's ids, which no new request may take again); `setval` is not undone by a
/// rollback, which only leaves a gap.
pub fn pg_raise_past_stored() -> String {
    format!(
        "SELECT setval('{SEQUENCE}', mark) FROM ({}) AS m WHERE mark > 0",
        pg_mark()
    )
}

/// SQLite: the counter row raised to every stored request id, never lowered; with ` + 1`
/// appended, the next id past them (`store::lifecycle`). The import runs it in its
/// transaction after its rows are in. (MariaDB/MySQL need neither: explicit ids raise
/// `AUTO_INCREMENT` as they go in, and the loader carries the live table's counter over to
/// the table it swaps in, `MYSQL_NEXT_ID`.)
pub const SQLITE_RAISE_PAST_STORED: &str = "UPDATE connection_request_ids SET last_id = \
     MAX(last_id, (SELECT COALESCE(MAX(id), 0) FROM connection_requests))";

/// MariaDB/MySQL: the next `AUTO_INCREMENT` value of `connection_requests` (column
/// `next_id`). MySQL 8 may answer from its statistics cache
/// (`information_schema_stats_expiry`); MariaDB reads the table's counter.
pub const MYSQL_NEXT_ID: &str = "SELECT CAST(AUTO_INCREMENT AS SIGNED) AS next_id \
     FROM information_schema.TABLES \
     WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'connection_requests'";
