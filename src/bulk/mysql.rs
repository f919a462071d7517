//! The MariaDB/MySQL loader: staging tables, then one atomic `RENAME TABLE`.
//!
//! 1. On a connection of its own (closed afterwards, so its session settings never serve a
//!    request), under an advisory lock (one import at a time): leftovers of an import that
//!    died (`x__import`, `x__old`) are dropped.
//! 2. For every table `x`: `CREATE TABLE x__import LIKE x` (columns, primary key, checks),
//!    minus its secondary indexes. The indexes and foreign keys to add back later are read
//!    from `SHOW CREATE TABLE x`, so nothing restates the migration.
//! 3. The rows go in with multi-row INSERTs (one transaction, `unique_checks` and
//!    `foreign_key_checks` off: the file was validated, ids are unique and every reference
//!    exists; InnoDB then loads the empty tables in its bulk mode), each statement as large as
//!    the protocol's 65,535 parameters and `max_allowed_packet` allow; `connections`, by far
//!    the largest, as JSON documents expanded by `JSON_TABLE` (`load_connections`).
//!    `LOAD DATA LOCAL INFILE` would be faster still, but sqlx's MySQL driver does not
//!    implement the LOCAL INFILE exchange, so it cannot send the data that way.
//! 4. One `ALTER TABLE x__import` per table adds all its indexes (each built by one sort) and
//!    its foreign keys, named `x__import_ibfk_N` after the live `x_ibfk_N` and pointing at
//!    the staging parents: InnoDB's foreign key names are per database, so the staging ones
//!    must differ from the live ones, and InnoDB renames `t_ibfk_N` along with its table.
//!    The staging requests table then gets the live one's `AUTO_INCREMENT` counter
//!    (`carry_request_ids`), so no request id handed out before comes back.
//! 5. `RENAME TABLE x TO x__old, x__import TO x, ...` over every table, in one statement:
//!    atomic, and foreign keys follow their tables, so the new children point at the new
//!    parents and the live names come back (`x_ibfk_N`). Then the `__old` tables are dropped.
//!
//! Readers keep reading the old tables until the rename, wait for its metadata locks (a
//! moment: no rows move), then read the new ones. A failure before the rename drops the
//! staging tables and leaves the live ones untouched.
//!
//! Raw SQL for the DDL and the session settings (an entity has no way to say them); the
//! INSERTs are built from the entities (`tables::insert_rows`).

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use sea_orm::sqlx::{MySql, MySqlPool};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, IdenStatic, Iterable, SqlxMySqlConnector,
    Statement, TransactionTrait,
};

use super::tables::{
    create_feed_triggers, drop_feed_triggers, import_pool, insert_children, insert_parents,
    reset_statement, table, tables_children_first, BatchLimits,
};
use crate::datafile::Validated;
use crate::entity::{connection, connection_request};
use crate::progress::{Phase, Progress};

/// The suffix of a staging table.
const STAGING: &str = "__import";
/// The suffix of a replaced table, between the swap and its drop.
const OLD: &str = "__old";

/// The MySQL protocol counts a statement's parameters in 16 bits.
const MAX_PARAMS: usize = 65_535;

/// The advisory lock that keeps two imports from sharing the staging tables.
const IMPORT_LOCK: &str = "community_gateway.import";
const IMPORT_LOCK_WAIT: Duration = Duration::from_secs(600);

/// For the import's own connection: no per-row uniqueness or reference checks (the data is
/// validated).
const SESSION: &str = "SET SESSION unique_checks = 0, foreign_key_checks = 0";

pub(crate) async fn load(
    pool: &MySqlPool,
    data: &Validated,
    connections: Vec<connection::Model>,
    progress: &Progress,
) -> anyhow::Result<()> {
    let prepare = progress.phase("prepare", "", None);
    let own = import_pool::<MySql>()
        .acquire_timeout(IMPORT_LOCK_WAIT)
        .connect_with(pool.connect_options().as_ref().clone())
        .await
        .context("opening the import connection")?;
    let db = SqlxMySqlConnector::from_sqlx_mysql_pool(own.clone());
    let result = load_on(&db, data, connections, prepare, progress).await;
    own.close().await;
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
    db.execute_unprepared(SESSION)
        .await
        .context("setting up the import session")?;
    let locked = db
        .query_one(Statement::from_sql_and_values(
            DbBackend::MySql,
            "SELECT GET_LOCK(?, ?) AS locked",
            [
                IMPORT_LOCK.into(),
                (IMPORT_LOCK_WAIT.as_secs() as i64).into(),
            ],
        ))
        .await
        .context("waiting for another import to finish")?
        .map(|row| row.try_get::<Option<i64>>("", "locked"))
        .transpose()?
        .flatten();
    if locked != Some(1) {
        bail!("another import is still running");
    }

    let tables = tables_children_first();
    drop_tables(db, &tables, STAGING).await?;
    drop_tables(db, &tables, OLD).await?;

    let result = stage(db, &tables, data, connections, started, prepare, progress).await;
    if let Err(err) = result {
        // The live tables were never touched; the staging ones go.
        if let Err(cleanup) = drop_tables(db, &tables, STAGING).await {
            tracing::warn!(error = %format!("{cleanup:#}"), "import: staging tables left behind");
        }
        return Err(err);
    }

    let swap = progress.phase("swap", "", None);
    let renames: Vec<String> = tables
        .iter()
        .map(|t| format!("`{t}` TO `{t}{OLD}`, `{t}{STAGING}` TO `{t}`"))
        .collect();
    if let Err(err) = db
        .execute_unprepared(&format!("RENAME TABLE {}", renames.join(", ")))
        .await
    {
        // Atomic: nothing was renamed. The staging tables go; the live ones stay as they were.
        if let Err(cleanup) = drop_tables(db, &tables, STAGING).await {
            tracing::warn!(error = %format!("{cleanup:#}"), "import: staging tables left behind");
        }
        return Err(err).context("swapping in the imported tables");
    }
    tracing::debug!(elapsed = ?started.elapsed(), "import: swapped");
    // The staging tables came without the change-feed triggers (CREATE TABLE LIKE copies
    // none, and trigger names are unique per schema, so the replaced tables' go first). The
    // reset row written after them covers every write made before they existed.
    announce(db).await?;
    // The new community is live: a failure to drop the old tables is not a failed import
    // (the next import drops them).
    if let Err(err) = drop_tables(db, &tables, OLD).await {
        tracing::warn!(error = %format!("{err:#}"), "import: the replaced tables are left for the next import to drop");
    }
    tracing::debug!(elapsed = ?started.elapsed(), "import: old tables dropped");
    swap.finish();
    Ok(())
}

/// Gives the live tables their change-feed triggers and tells every graph cache to forget
/// everything.
async fn announce(db: &DatabaseConnection) -> anyhow::Result<()> {
    for statement in drop_feed_triggers(DbBackend::MySql)
        .into_iter()
        .chain(create_feed_triggers(DbBackend::MySql))
        .chain([reset_statement()])
    {
        db.execute_unprepared(&statement)
            .await
            .context("restoring the change-feed triggers")?;
    }
    Ok(())
}

/// Creates, loads and indexes the staging tables.
async fn stage(
    db: &DatabaseConnection,
    tables: &[String],
    data: &Validated,
    connections: Vec<connection::Model>,
    started: Instant,
    prepare: Phase,
    progress: &Progress,
) -> anyhow::Result<()> {
    let mut additions = Vec::with_capacity(tables.len());
    for table in tables {
        let definition = Definition::of(db, table, tables).await?;
        let staging = format!("{table}{STAGING}");
        db.execute_unprepared(&format!("CREATE TABLE `{staging}` LIKE `{table}`"))
            .await
            .with_context(|| format!("creating {staging}"))?;
        if !definition.index_names.is_empty() {
            let drops: Vec<String> = definition
                .index_names
                .iter()
                .map(|name| format!("DROP INDEX `{name}`"))
                .collect();
            db.execute_unprepared(&format!("ALTER TABLE `{staging}` {}", drops.join(", ")))
                .await
                .with_context(|| format!("dropping the indexes of {staging}"))?;
        }
        additions.push((staging, definition.additions));
    }
    tracing::debug!(elapsed = ?started.elapsed(), "import: staging tables created");

    let limits = BatchLimits {
        max_params: MAX_PARAMS,
        max_bytes: statement_budget(db).await?,
    };
    let tx = db.begin().await.context("starting the load")?;
    prepare.finish();
    // Every table but `connections` with multi-row INSERTs; `connections` (4 M rows in a
    // community of 100k users) as JSON documents (`load_connections`), in the same order as
    // the other loaders.
    let into = |table| format!("{table}{STAGING}");
    insert_parents(&tx, data, &into, limits, progress).await?;
    let phase = progress.phase(
        table::<connection::Entity>(),
        "rows",
        Some(connections.len() as u64),
    );
    load_connections(
        &tx,
        &into(table::<connection::Entity>()),
        &connections,
        limits.max_bytes,
        &phase,
    )
    .await?;
    phase.finish();
    insert_children(&tx, data, &into, limits, progress).await?;
    tx.commit().await.context("committing the load")?;
    tracing::debug!(elapsed = ?started.elapsed(), "import: rows loaded");

    additions.retain(|(_, clauses)| !clauses.is_empty());
    let index = progress.phase("index", "statements", Some(additions.len() as u64));
    for (staging, clauses) in additions {
        db.execute_unprepared(&format!("ALTER TABLE `{staging}` {}", clauses.join(", ")))
            .await
            .with_context(|| format!("indexing {staging}"))?;
        index.inc(1);
        tracing::debug!(elapsed = ?started.elapsed(), table = %staging, "import: indexed");
    }
    index.finish();
    // Last, right before the rename.
    carry_request_ids(db).await
}

/// Loads the directed connections into `into` as JSON documents of `[[user, friend, at], ...]`,
/// one bound value per statement of up to `budget` bytes, which the server expands with
/// `JSON_TABLE`. MariaDB spends most of a multi-row INSERT on each bound value (12 M of them
/// here: `fill_record`, `Item_param` in a profile); one JSON value per few hundred thousand
/// rows took the row load of the 100k-user file from 18.4 s to 15.2 s (MariaDB 10.11, 2
/// cores, `bench/RESULTS.md`). The columns and their order are the entity's; every one is a
/// BIGINT.
async fn load_connections<C: ConnectionTrait>(
    conn: &C,
    into: &str,
    rows: &[connection::Model],
    budget: usize,
    phase: &Phase,
) -> anyhow::Result<()> {
    use std::fmt::Write;
    let columns: Vec<String> = connection::Column::iter()
        .map(|c| c.as_str().to_string())
        .collect();
    let paths: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, column)| format!("`{column}` BIGINT PATH '$[{i}]'"))
        .collect();
    // Identifiers from the entity, never from input; the rows are the one bound value.
    let sql = format!(
        "INSERT INTO `{into}` ({}) SELECT {} FROM JSON_TABLE(?, '$[*]' COLUMNS ({})) AS j",
        columns.join(", "),
        columns.join(", "),
        paths.join(", ")
    );
    let mut document = String::with_capacity(budget.min(64 << 20));
    let mut in_document = 0u64;
    for (i, row) in rows.iter().enumerate() {
        in_document += 1;
        document.push(if document.is_empty() { '[' } else { ',' });
        for (j, column) in connection::Column::iter().enumerate() {
            let value = match column {
                connection::Column::UserId => row.user_id,
                connection::Column::FriendId => row.friend_id,
                connection::Column::ConnectedAtUs => row.connected_at_us,
            };
            // Writing to a String cannot fail.
            let _ = write!(document, "{}{value}", if j == 0 { '[' } else { ',' });
        }
        document.push(']');
        if document.len() + 64 >= budget || i + 1 == rows.len() {
            document.push(']');
            let statement = Statement::from_sql_and_values(
                DbBackend::MySql,
                &sql,
                [std::mem::take(&mut document).into()],
            );
            conn.execute(statement)
                .await
                .with_context(|| format!("inserting into {into}"))?;
            phase.inc(std::mem::take(&mut in_document));
        }
    }
    Ok(())
}

/// Half of the server's `max_allowed_packet` (a statement's values grow a little on the
/// wire), at most 64 MiB.
async fn statement_budget(db: &DatabaseConnection) -> anyhow::Result<usize> {
    let packet = db
        .query_one(Statement::from_string(
            DbBackend::MySql,
            "SELECT CAST(@@max_allowed_packet AS SIGNED) AS packet",
        ))
        .await
        .context("reading max_allowed_packet")?
        .map(|row| row.try_get::<i64>("", "packet"))
        .transpose()?
        .unwrap_or(1 << 20);
    Ok((usize::try_from(packet).unwrap_or(1 << 20) / 2).clamp(64 << 10, 64 << 20))
}

/// `DROP TABLE IF EXISTS` of every `table{suffix}`, children first.
async fn drop_tables(
    db: &DatabaseConnection,
    tables: &[String],
    suffix: &str,
) -> anyhow::Result<()> {
    let names: Vec<String> = tables.iter().map(|t| format!("`{t}{suffix}`")).collect();
    db.execute_unprepared(&format!("DROP TABLE IF EXISTS {}", names.join(", ")))
        .await
        .with_context(|| format!("dropping the {suffix} tables"))?;
    Ok(())
}

/// Gives the staging requests table the live one's `AUTO_INCREMENT` counter, so an id handed
/// out before the import is never handed out again (its own counter is past the file's ids
/// already: explicit ids raise it). InnoDB keeps a counter at least one past the largest id,
/// whatever it is set to. A request made between this and the rename takes an id past the
/// carried counter: it goes with the replaced table, and its id may come back once.
async fn carry_request_ids(db: &DatabaseConnection) -> anyhow::Result<()> {
    let next: Option<i64> = db
        .query_one(Statement::from_string(
            DbBackend::MySql,
            migrations::request_ids::MYSQL_NEXT_ID,
        ))
        .await
        .context("reading the request-id counter")?
        .map(|row| row.try_get::<Option<i64>>("", "next_id"))
        .transpose()?
        .flatten();
    if let Some(next) = next {
        // An integer the database just gave; DDL takes no bound parameters.
        db.execute_unprepared(&format!(
            "ALTER TABLE `{}{STAGING}` AUTO_INCREMENT = {next}",
            table::<connection_request::Entity>()
        ))
        .await
        .context("carrying the request-id counter over")?;
    }
    Ok(())
}

/// What a staging copy of a table lacks after `CREATE TABLE ... LIKE` and dropping its
/// secondary indexes, as read from `SHOW CREATE TABLE`.
struct Definition {
    /// The secondary indexes (to drop from the fresh copy).
    index_names: Vec<String>,
    /// `ADD KEY ...` and `ADD CONSTRAINT ... FOREIGN KEY ...` clauses for the staging table,
    /// in the order the live table lists them.
    additions: Vec<String>,
}

impl Definition {
    async fn of(db: &DatabaseConnection, table: &str, tables: &[String]) -> anyhow::Result<Self> {
        let create: String = db
            .query_one(Statement::from_string(
                DbBackend::MySql,
                format!("SHOW CREATE TABLE `{table}`"),
            ))
            .await
            .with_context(|| format!("reading the definition of {table}"))?
            .with_context(|| format!("no definition of {table}"))?
            .try_get("", "Create Table")?;
        Definition::parse(&create, table, tables)
    }

    /// Reads the index and foreign key lines of `create` (one clause per line, as MariaDB and
    /// MySQL print it).
    fn parse(create: &str, table: &str, tables: &[String]) -> anyhow::Result<Self> {
        let mut index_names = Vec::new();
        let mut indexes = Vec::new();
        let mut foreign_keys = Vec::new();
        // InnoDB requires an AUTO_INCREMENT column (a request's id) to lead an index: that
        // index stays on the staging copy and is maintained row by row during the load.
        let auto_increment = create
            .lines()
            .map(str::trim)
            .find(|clause| clause.starts_with('`') && clause.contains(" AUTO_INCREMENT"))
            .and_then(first_name);
        for line in create.lines() {
            let clause = line.trim().trim_end_matches(',');
            if clause.starts_with("PRIMARY KEY") {
                continue;
            }
            if ["KEY ", "UNIQUE KEY ", "FULLTEXT KEY ", "SPATIAL KEY "]
                .iter()
                .any(|kind| clause.starts_with(kind))
            {
                if auto_increment.is_some() && leading_column(clause) == auto_increment {
                    continue;
                }
                index_names.push(
                    first_name(clause).with_context(|| {
                        format!("cannot read the index name in {table}: {clause}")
                    })?,
                );
                indexes.push(format!("ADD {clause}"));
            } else if clause.starts_with("CONSTRAINT ") && clause.contains(" FOREIGN KEY ") {
                foreign_keys.push(format!(
                    "ADD {}",
                    staged_foreign_key(clause, table, tables)?
                ));
            }
        }
        indexes.extend(foreign_keys);
        Ok(Definition {
            index_names,
            additions: indexes,
        })
    }
}

/// `CONSTRAINT `x_ibfk_N` FOREIGN KEY (...) REFERENCES `p` (...) ...` as the staging table's:
/// named `x__import_ibfk_N` (InnoDB renames it back to `x_ibfk_N` with the table) and
/// referencing `p__import`.
fn staged_foreign_key(clause: &str, table: &str, tables: &[String]) -> anyhow::Result<String> {
    let name = first_name(clause)
        .with_context(|| format!("cannot read the foreign key name in {table}: {clause}"))?;
    let Some(number) = name.strip_prefix(&format!("{table}_ibfk_")) else {
        // Only generated names follow their table through a rename; any other would clash
        // with the live table's while both exist.
        bail!("foreign key {name} of {table} has a name a staging table cannot take");
    };
    let rest = &clause[format!("CONSTRAINT `{name}`").len()..];
    let (columns, referenced) = rest
        .split_once(" REFERENCES `")
        .with_context(|| format!("cannot read foreign key {name} of {table}"))?;
    let (parent, tail) = referenced
        .split_once('`')
        .with_context(|| format!("cannot read foreign key {name} of {table}"))?;
    if !tables.iter().any(|t| t == parent) || tail.starts_with('.') {
        bail!("foreign key {name} of {table} references {parent}, not a community table");
    }
    Ok(format!(
        "CONSTRAINT `{table}{STAGING}_ibfk_{number}`{columns} REFERENCES `{parent}{STAGING}`{tail}"
    ))
}

/// The first column of an index clause: `UNIQUE KEY `ux` (`id`)` → `id`.
fn leading_column(clause: &str) -> Option<String> {
    let (_, columns) = clause.split_once('(')?;
    first_name(columns)
}

/// The first backquoted identifier of `clause` (names with a backquote are not supported).
fn first_name(clause: &str) -> Option<String> {
    let (_, rest) = clause.split_once('`')?;
    let (name, _) = rest.split_once('`')?;
    Some(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_indexes_and_stages_foreign_keys() {
        let create = "CREATE TABLE `connections` (\n  `user_id` bigint(20) NOT NULL,\n  \
            `friend_id` bigint(20) NOT NULL,\n  PRIMARY KEY (`user_id`,`friend_id`),\n  \
            KEY `friend_id` (`friend_id`),\n  \
            KEY `ix_connections_order` (`user_id`,`connected_at_us` DESC,`friend_id`),\n  \
            CONSTRAINT `connections_ibfk_1` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE CASCADE,\n  \
            CONSTRAINT `CONSTRAINT_1` CHECK (`user_id` <> `friend_id`)\n) ENGINE=InnoDB";
        let tables = vec!["users".to_string(), "connections".to_string()];
        let definition = Definition::parse(create, "connections", &tables).unwrap();
        assert_eq!(
            definition.index_names,
            ["friend_id", "ix_connections_order"]
        );
        assert_eq!(
            definition.additions,
            [
                "ADD KEY `friend_id` (`friend_id`)",
                "ADD KEY `ix_connections_order` (`user_id`,`connected_at_us` DESC,`friend_id`)",
                "ADD CONSTRAINT `connections__import_ibfk_1` FOREIGN KEY (`user_id`) \
                 REFERENCES `users__import` (`id`) ON DELETE CASCADE",
            ]
        );
    }

    #[test]
    fn keeps_the_index_an_auto_increment_column_needs() {
        let create = "CREATE TABLE `connection_requests` (\n  \
            `from_user_id` bigint(20) NOT NULL,\n  `to_user_id` bigint(20) NOT NULL,\n  \
            `id` bigint(20) NOT NULL AUTO_INCREMENT,\n  \
            PRIMARY KEY (`from_user_id`,`to_user_id`),\n  \
            UNIQUE KEY `ux_connection_requests_id` (`id`),\n  \
            KEY `ix_connection_requests_to` (`to_user_id`,`created_at_us`)\n\
            ) ENGINE=InnoDB AUTO_INCREMENT=7";
        let tables = vec!["connection_requests".to_string()];
        let definition = Definition::parse(create, "connection_requests", &tables).unwrap();
        assert_eq!(definition.index_names, ["ix_connection_requests_to"]);
        assert_eq!(
            definition.additions,
            ["ADD KEY `ix_connection_requests_to` (`to_user_id`,`created_at_us`)"]
        );
    }

    #[test]
    fn refuses_foreign_keys_it_cannot_stage() {
        let tables = vec!["users".to_string(), "connections".to_string()];
        let named = "CONSTRAINT `fk_owner` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`)";
        assert!(staged_foreign_key(named, "connections", &tables).is_err());
        let elsewhere =
            "CONSTRAINT `connections_ibfk_1` FOREIGN KEY (`user_id`) REFERENCES `people` (`id`)";
        assert!(staged_foreign_key(elsewhere, "connections", &tables).is_err());
    }
}
