//! The PostgreSQL loader: COPY into staging tables, then a swap of milliseconds.
//!
//! Readers keep being served from the live tables while a community is imported:
//!
//! 1. One import at a time (an advisory lock). The definitions of the live tables' keys,
//!    foreign keys, indexes and triggers are read from the catalogue.
//! 2. A staging table per live table (`LIKE ... INCLUDING ALL EXCLUDING INDEXES`: columns,
//!    defaults, checks, storage), filled with COPY, then given the live table's keys, indexes,
//!    foreign keys (to the staging parents) and triggers, named `<name>__import`, and analyzed.
//!    Rebuilding an index from loaded data is much faster than growing it row by row, and the
//!    foreign keys are checked once, by one join, instead of once per row. None of this locks
//!    a live table against readers.
//! 3. The swap: every live table locked `ACCESS EXCLUSIVE` in one statement, in one fixed order
//!    (children first), with a short `lock_timeout`; on a timeout (a long reader, or a reader
//!    that locks in another order: no deadlock can form while we wait) the attempt is rolled
//!    back to a savepoint and retried. Then the live tables are dropped, the staging tables
//!    and their keys, indexes and triggers renamed to the live names. Readers wait for the
//!    swap only (milliseconds), then see the new community; their prepared statements are
//!    re-planned by PostgreSQL against the new tables.
//!
//! All of it is one transaction: a failure anywhere rolls everything back and the live tables
//! are as they were.
//!
//! COPY uses the text format; `FREEZE` is allowed because each staging table was created in
//! this same transaction, and saves the first readers from rewriting every page to set hint
//! bits.
//!
//! Raw SQL (through sqlx, not the entities) because an entity can only INSERT, and COPY is
//! what makes this loader fast (measured). The tables, their columns and the columns' order
//! still come from the entities (`tables`, `Column::iter()`), and every row is an entity
//! model.

use std::time::Instant;

use anyhow::Context;
use sea_orm::{EntityTrait, Iterable};
use sqlx::{PgConnection, PgPool, Row};

use super::tables::{column_list, reset_statement, table, tables_children_first};
use crate::datafile::Validated;
use crate::entity::{
    access_token, community_settings, connection, connection_request, tag, user, user_tag,
};
use crate::progress::{Phase, Progress};

/// How much COPY data to hand to the connection at once.
const CHUNK_BYTES: usize = 1 << 20;

/// For this transaction only: memory for sorting while the indexes are built (the default
/// 64 MB spills to disk), and no statement timeout a role or server may impose on the API's
/// queries (an index build over millions of rows takes seconds).
const LOAD_SETTINGS: &[&str] = &[
    "SET LOCAL maintenance_work_mem = '512MB'",
    "SET LOCAL statement_timeout = 0",
];

/// The suffix of the staging tables and of their keys, indexes and triggers.
const STAGED: &str = "__import";

/// How long one swap attempt waits for the live tables' locks; readers that arrive meanwhile
/// queue behind it, so this bounds their extra wait.
const SWAP_LOCK_TIMEOUT: &str = "SET LOCAL lock_timeout = '50ms'";
/// Swap attempts before the import gives up (and rolls back: nothing changed).
const SWAP_ATTEMPTS: u32 = 100;

/// The suffix the live tables (and their keys and indexes) take at the swap, until they are
/// dropped right after it.
const REPLACED: &str = "__replaced";

/// The name a staged table, key, index or trigger has until the swap.
fn staged(name: &str) -> String {
    format!("{name}{STAGED}")
}

/// `name` as a quoted SQL identifier.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The name a replaced table, key or index has between the swap and its drop.
fn replaced(name: &str) -> String {
    format!("{name}{REPLACED}")
}

pub(crate) async fn load(
    pool: &PgPool,
    data: &Validated,
    connections: Vec<connection::Model>,
    progress: &Progress,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let prepare = progress.phase("prepare", "", None);
    let mut tx = pool
        .begin()
        .await
        .context("starting the import transaction")?;
    for setting in LOAD_SETTINGS {
        sqlx::query(setting).execute(&mut *tx).await?;
    }
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('community-gateway import'))")
        .execute(&mut *tx)
        .await
        .context("waiting for another import to finish")?;

    // Table names come from the entities, never from input.
    let tables = tables_children_first();
    refuse_dependents(&mut tx, &tables).await?;
    let mut definitions = Vec::new();
    for table in &tables {
        definitions.extend(read_definitions(&mut tx, table).await?);
    }
    for table in &tables {
        let stage = staged(table);
        // Leftovers of an import that stopped between its swap and its drop, or a stray table.
        sqlx::query(&format!(
            "DROP TABLE IF EXISTS {stage}, {} CASCADE",
            replaced(table)
        ))
        .execute(&mut *tx)
        .await
        .with_context(|| format!("dropping what an earlier import left of {table}"))?;
        sqlx::query(&format!(
            "CREATE TABLE {stage} (LIKE {table} INCLUDING ALL EXCLUDING INDEXES)"
        ))
        .execute(&mut *tx)
        .await
        .with_context(|| format!("creating the staging table of {table}"))?;
    }
    prepare.finish();
    copy_all(&mut tx, data, connections, progress).await?;
    tracing::debug!(elapsed = ?started.elapsed(), "import: rows copied");
    // Keys first (foreign keys need them), then plain indexes, foreign keys, triggers; then
    // one ANALYZE.
    let index = progress.phase("index", "statements", Some(definitions.len() as u64 + 1));
    definitions.sort_by(|x, y| (x.order, &x.name).cmp(&(y.order, &y.name)));
    for definition in &definitions {
        sqlx::query(&definition.create_staged)
            .execute(&mut *tx)
            .await
            .with_context(|| format!("building {}", definition.name))?;
        index.inc(1);
        tracing::debug!(elapsed = ?started.elapsed(), name = %definition.name, "import: built");
    }
    let settings = table::<community_settings::Entity>();
    let analyzed: Vec<String> = tables
        .iter()
        .filter(|table| **table != settings)
        .map(|table| staged(table))
        .collect();
    sqlx::query(&format!("ANALYZE {}", analyzed.join(", ")))
        .execute(&mut *tx)
        .await
        .context("analyzing the loaded tables")?;
    index.inc(1);
    index.finish();
    tracing::debug!(elapsed = ?started.elapsed(), "import: analyzed");

    let swap_phase = progress.phase("swap", "", None);
    let swap_started = Instant::now();
    swap(&mut tx, &tables, &definitions).await?;
    // Under the swap's locks: no request is inserted between this and the commit.
    sqlx::query(&migrations::request_ids::pg_raise_past_stored())
        .execute(&mut *tx)
        .await
        .context("raising the request-id sequence past the file's ids")?;
    // The staged tables got their change-feed triggers after the COPY (with the other
    // triggers), so the load reported nothing row by row: one reset row says it all.
    sqlx::query(&reset_statement())
        .execute(&mut *tx)
        .await
        .context("announcing the import to the graph caches")?;
    tx.commit().await.context("committing the import")?;
    // Debug, not info: the command's progress reports the phases (and a log line would
    // break into a progress bar).
    tracing::debug!(
        elapsed = ?started.elapsed(),
        swap = ?swap_started.elapsed(),
        "import: swapped in the new community"
    );
    // Out of the swap's critical section: nobody reads the replaced tables any more (readers
    // that queued behind the swap re-plan against the new ones). Should this fail, the next
    // import drops them.
    let drop_replaced = format!(
        "DROP TABLE IF EXISTS {}",
        tables
            .iter()
            .map(|t| replaced(t))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if let Err(err) = sqlx::query(&drop_replaced).execute(pool).await {
        tracing::warn!(error = %err, "import: the replaced tables are left for the next import to drop");
    }
    swap_phase.finish();
    Ok(())
}

/// Stops the import before any work when an object outside the community's tables depends on
/// one of them (a view, a foreign key from another table): the swap would leave it on the
/// replaced table, holding the old community.
async fn refuse_dependents(conn: &mut PgConnection, tables: &[String]) -> anyhow::Result<()> {
    let dependents: Vec<(String, String)> = sqlx::query_as(
        "SELECT DISTINCT v.oid::regclass::text, t.relname::text \
         FROM pg_depend d \
         JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND r.oid = d.objid \
         JOIN pg_class v ON v.oid = r.ev_class \
         JOIN pg_class t ON t.oid = d.refobjid \
         WHERE t.relname = ANY($1) AND t.relnamespace = 'public'::regnamespace AND v.oid <> t.oid \
         UNION \
         SELECT k.conrelid::regclass::text, t.relname::text \
         FROM pg_constraint k JOIN pg_class t ON t.oid = k.confrelid \
         WHERE k.contype = 'f' AND t.relname = ANY($1) \
           AND t.relnamespace = 'public'::regnamespace \
           AND NOT (k.conrelid::regclass::text = ANY($1))",
    )
    .bind(tables)
    .fetch_all(&mut *conn)
    .await
    .context("looking for objects that depend on the community's tables")?;
    if let Some((dependent, table)) = dependents.first() {
        anyhow::bail!(
            "{dependent} depends on the table {table}: an import replaces that table, so drop \
             {dependent} first (and create it again after the import)"
        );
    }
    Ok(())
}

/// Locks the live tables (retrying on a lock timeout), drops them and gives the staging
/// tables, keys, indexes and triggers their names.
async fn swap(
    conn: &mut PgConnection,
    tables: &[String],
    definitions: &[Definition],
) -> anyhow::Result<()> {
    let lock = format!(
        "LOCK TABLE {} IN ACCESS EXCLUSIVE MODE",
        lock_order().join(", ")
    );
    let mut attempt = 0;
    loop {
        attempt += 1;
        sqlx::query("SAVEPOINT swap").execute(&mut *conn).await?;
        sqlx::query(SWAP_LOCK_TIMEOUT).execute(&mut *conn).await?;
        match sqlx::query(&lock).execute(&mut *conn).await {
            Ok(_) => break,
            Err(err) if is_lock_wait(&err) && attempt < SWAP_ATTEMPTS => {
                tracing::debug!(
                    attempt,
                    "import: the live tables are busy, retrying the swap"
                );
                sqlx::query("ROLLBACK TO SAVEPOINT swap")
                    .execute(&mut *conn)
                    .await?;
                tokio::time::sleep(std::time::Duration::from_millis(
                    20 + 10 * u64::from(attempt % 5),
                ))
                .await;
            }
            Err(err) => return Err(err).context("locking the live tables for the swap"),
        }
    }
    tracing::debug!(attempts = attempt, "import: the live tables are locked");
    // Renames only, sent as one batch (one round trip): the live tables and their keys and
    // indexes step aside (key and index names are per schema), the staged ones take their
    // names. Dropping the replaced tables waits until after the commit.
    let mut batch = String::new();
    for table in tables {
        batch += &format!("ALTER TABLE {table} RENAME TO {};\n", replaced(table));
    }
    for definition in definitions {
        if let Some(retire) = &definition.retire {
            batch += retire;
            batch += ";\n";
        }
    }
    for table in tables {
        batch += &format!("ALTER TABLE {} RENAME TO {table};\n", staged(table));
    }
    for definition in definitions {
        batch += &definition.rename;
        batch += ";\n";
    }
    sqlx::raw_sql(&batch)
        .execute(&mut *conn)
        .await
        .context("renaming the staged tables to the live names")?;
    Ok(())
}

/// The order the swap locks the live tables in: the order in which the API's own statements
/// lock them. Each execution of a prepared statement first takes its locks walking the parsed
/// query: its range table in order, entering FROM subqueries as it meets them, then its CTEs
/// and sublinks. So the token lookup locks `access_tokens` then `users`; the gates
/// `community_settings` then `users`; a page `connections` (its first FROM item counts
/// them), then `users`, then `connection_requests`; the statuses `connections` then
/// `connection_requests`; the tags `tags` then `user_tags`. Locking in an order consistent
/// with all of them, a reader that holds one table and waits for the next never waits for a
/// table the swap holds while the swap waits for its table: no deadlock, so an attempt waits
/// only for the statements already running.
fn lock_order() -> [String; 7] {
    [
        table::<access_token::Entity>(),
        table::<community_settings::Entity>(),
        table::<connection::Entity>(),
        table::<user::Entity>(),
        table::<connection_request::Entity>(),
        table::<tag::Entity>(),
        table::<user_tag::Entity>(),
    ]
}

/// A lock timeout, or a deadlock the server broke by failing our statement.
fn is_lock_wait(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => matches!(db.code().as_deref(), Some("55P03" | "40P01")),
        _ => false,
    }
}

/// A key, foreign key, index or trigger of a live table: how to build it on the staging
/// table, and how to give it its name back after the swap.
struct Definition {
    name: String,
    create_staged: String,
    /// Renames the live one out of the way at the swap (keys and indexes: their names are
    /// per schema; foreign keys and triggers are per table and need not move).
    retire: Option<String>,
    rename: String,
    /// 0: primary key / unique, 1: index, 2: foreign key, 3: trigger.
    order: u8,
}

/// The keys, foreign keys, indexes and triggers of `table` (checks come with `LIKE`), as
/// PostgreSQL itself writes them (`pg_get_constraintdef`, `pg_get_indexdef`,
/// `pg_get_triggerdef`), rewritten for the staging table. A definition the rewrite does not
/// recognize stops the import before anything changed.
async fn read_definitions(conn: &mut PgConnection, table: &str) -> anyhow::Result<Vec<Definition>> {
    let rows = sqlx::query(
        "SELECT k.conname::text AS name, quote_ident(k.conname) AS printed, k.contype::text AS kind,
                pg_get_constraintdef(k.oid) AS def,
                CASE WHEN k.contype = 'f' THEN k.confrelid::regclass::text END AS referenced
         FROM pg_constraint k
         WHERE k.conrelid = $1::text::regclass AND k.contype IN ('p', 'u', 'x', 'f')
         UNION ALL
         SELECT c.relname::text, quote_ident(c.relname), 'i', pg_get_indexdef(i.indexrelid), NULL
         FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
         WHERE i.indrelid = $1::text::regclass
           AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid
                           AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u', 'x'))
         UNION ALL
         SELECT t.tgname::text, quote_ident(t.tgname), 't', pg_get_triggerdef(t.oid), NULL
         FROM pg_trigger t WHERE t.tgrelid = $1::text::regclass AND NOT t.tgisinternal",
    )
    .bind(table)
    .fetch_all(&mut *conn)
    .await
    .with_context(|| format!("reading the keys and indexes of {table}"))?;

    let stage = staged(table);
    let mut definitions = Vec::with_capacity(rows.len());
    for row in rows {
        let name: String = row.try_get("name")?;
        // As PostgreSQL prints it in a definition (quoted when it must be).
        let printed: String = row.try_get("printed")?;
        let kind: String = row.try_get("kind")?;
        let def: String = row.try_get("def")?;
        // Names in the statements below are always quoted, so their case and characters
        // survive the swap exactly.
        let (quoted_name, staged_name) = (ident(&name), ident(&staged(&name)));
        // PostgreSQL cuts longer identifiers, and the rename would then miss.
        anyhow::ensure!(
            replaced(&name).len() <= 63 && staged_name.len() <= 63,
            "{table}: the name {name} is too long to stage (at most {} bytes)",
            63 - REPLACED.len().max(STAGED.len())
        );
        let old = replaced(table);
        let retired = ident(&replaced(&name));
        let retire = match kind.as_str() {
            "p" | "u" | "x" => Some(format!(
                "ALTER TABLE {old} RENAME CONSTRAINT {quoted_name} TO {retired}"
            )),
            "i" => Some(format!("ALTER INDEX {quoted_name} RENAME TO {retired}")),
            _ => None,
        };
        let (order, create_staged, rename) = match kind.as_str() {
            "p" | "u" | "x" | "f" => {
                let def = match row.try_get::<Option<String>, _>("referenced")? {
                    Some(parent) => {
                        let from = format!("REFERENCES {parent}(");
                        anyhow::ensure!(def.contains(&from), "{table}: cannot stage {name}: {def}");
                        def.replacen(&from, &format!("REFERENCES {}(", staged(&parent)), 1)
                    }
                    None => def,
                };
                let order = if kind == "f" { 2 } else { 0 };
                (
                    order,
                    format!("ALTER TABLE {stage} ADD CONSTRAINT {staged_name} {def}"),
                    format!("ALTER TABLE {table} RENAME CONSTRAINT {staged_name} TO {quoted_name}"),
                )
            }
            "i" => (
                1,
                restage(&def, " INDEX ", &printed, &staged_name, table)?,
                format!("ALTER INDEX {staged_name} RENAME TO {quoted_name}"),
            ),
            _ => (
                3,
                restage(&def, " TRIGGER ", &printed, &staged_name, table)?,
                format!("ALTER TRIGGER {staged_name} ON {table} RENAME TO {quoted_name}"),
            ),
        };
        definitions.push(Definition {
            name,
            create_staged,
            retire,
            rename,
            order,
        });
    }
    Ok(definitions)
}

/// `CREATE [UNIQUE] INDEX name ON [schema.]table ...` or `CREATE TRIGGER name ... ON
/// [schema.]table ...` (`name` as PostgreSQL prints it) for the staging table and `staged_name`
/// (quoted).
fn restage(
    def: &str,
    keyword: &str,
    name: &str,
    staged_name: &str,
    table: &str,
) -> anyhow::Result<String> {
    let unrecognized = || anyhow::anyhow!("{table}: cannot stage {name}: {def}");
    let named = format!("{keyword}{name} ");
    let at = def.find(&named).ok_or_else(unrecognized)?;
    let renamed = format!(
        "{}{keyword}{staged_name} {}",
        &def[..at],
        &def[at + named.len()..]
    );
    for on in [format!(" ON public.{table} "), format!(" ON {table} ")] {
        if let Some(at) = renamed.find(&on) {
            return Ok(format!(
                "{} ON {} {}",
                &renamed[..at],
                staged(table),
                &renamed[at + on.len()..]
            ));
        }
    }
    Err(unrecognized())
}

async fn copy_all(
    conn: &mut PgConnection,
    data: &Validated,
    connections: Vec<connection::Model>,
    progress: &Progress,
) -> anyhow::Result<()> {
    let settings = community_settings::Model::from(data.settings);
    copy::<community_settings::Entity, _>(conn, [&settings].into_iter(), write_settings, None)
        .await?;
    copy_table::<tag::Entity, _>(conn, data.tags.iter(), write_tag, progress).await?;
    copy_table::<user::Entity, _>(conn, data.users.iter(), write_user, progress).await?;
    copy_table::<user_tag::Entity, _>(conn, data.user_tags.iter(), write_user_tag, progress)
        .await?;
    copy_table::<connection::Entity, _>(conn, connections.iter(), write_connection, progress)
        .await?;
    drop(connections);
    copy_table::<connection_request::Entity, _>(
        conn,
        data.requests.iter(),
        write_request,
        progress,
    )
    .await?;
    copy_table::<access_token::Entity, _>(conn, data.tokens.iter(), write_token, progress).await?;
    Ok(())
}

/// `copy` as one phase of `progress`, named after the table.
async fn copy_table<E: EntityTrait, T>(
    conn: &mut PgConnection,
    rows: impl ExactSizeIterator<Item = T>,
    write: impl Fn(&mut CopyText, T),
    progress: &Progress,
) -> anyhow::Result<()> {
    let phase = progress.phase(table::<E>(), "rows", Some(rows.len() as u64));
    copy::<E, T>(conn, rows, write, Some(&phase)).await?;
    phase.finish();
    Ok(())
}

/// Streams `rows` into the table of entity `E` with COPY ... FROM STDIN, in chunks. `write`
/// writes a row's columns in the entity's order (`write_row`). `phase` counts the rows a
/// chunk at a time.
async fn copy<E: EntityTrait, T>(
    conn: &mut PgConnection,
    rows: impl Iterator<Item = T>,
    write: impl Fn(&mut CopyText, T),
    phase: Option<&Phase>,
) -> anyhow::Result<()> {
    let table = staged(&table::<E>());
    // Table and column names come from the entity, never from input.
    let statement = format!(
        "COPY {table} ({}) FROM STDIN WITH (FORMAT text, FREEZE true)",
        column_list::<E>()
    );
    let mut copy = conn
        .copy_in_raw(&statement)
        .await
        .with_context(|| format!("starting COPY into {table}"))?;
    let mut text = CopyText::with_capacity(CHUNK_BYTES + (64 << 10));
    let mut in_chunk = 0u64;
    for row in rows {
        write(&mut text, row);
        in_chunk += 1;
        if text.0.len() >= CHUNK_BYTES {
            copy.send(std::mem::take(&mut text.0).as_slice())
                .await
                .with_context(|| format!("sending rows of {table}"))?;
            text.0.reserve(CHUNK_BYTES + (64 << 10));
            if let Some(phase) = phase {
                phase.inc(in_chunk);
            }
            in_chunk = 0;
        }
    }
    if !text.0.is_empty() {
        copy.send(text.0.as_slice())
            .await
            .with_context(|| format!("sending rows of {table}"))?;
    }
    if let Some(phase) = phase {
        phase.inc(in_chunk);
    }
    let rows = copy
        .finish()
        .await
        .with_context(|| format!("loading {table}"))?;
    tracing::debug!(table = %table, rows, "import: copied");
    Ok(())
}

/// One row: `field` writes the value of each column of `C`, in `C::iter()` order (the order
/// `column_list` names them in COPY), separated by tabs. The writers below match every column,
/// so a column added to an entity does not compile until it is written.
fn write_row<C: Iterable>(b: &mut CopyText, mut field: impl FnMut(&mut CopyText, C)) {
    for (i, column) in C::iter().enumerate() {
        if i > 0 {
            b.tab();
        }
        field(b, column);
    }
    b.end();
}

fn write_settings(b: &mut CopyText, s: &community_settings::Model) {
    use community_settings::Column as C;
    write_row(b, |b, column| {
        match column {
            C::Id => b.int(s.id.into()),
            C::ConnectionEnabled => b.bool(s.connection_enabled),
            C::FollowEnabled => b.bool(s.follow_enabled),
            C::ContentAvailability => b.bool(s.content_availability),
        };
    });
}

fn write_tag(b: &mut CopyText, t: &tag::Model) {
    use tag::Column as C;
    write_row(b, |b, column| {
        match column {
            C::Id => b.int(t.id),
            C::Kind => b.text(&t.kind),
            C::Name => b.text(&t.name),
            C::Description => b.text(&t.description),
            C::Color => b.text(&t.color),
            C::Visible => b.bool(t.visible),
            C::VisibilityBoost => b.bool(t.visibility_boost),
            C::Active => b.bool(t.active),
            C::Deleted => b.bool(t.deleted),
            C::CreatedAtUs => b.int(t.created_at_us),
        };
    });
}

fn write_user(b: &mut CopyText, u: &user::Model) {
    use user::Column as C;
    write_row(b, |b, column| {
        match column {
            C::Id => b.int(u.id),
            C::Username => b.text(&u.username),
            C::RealName => b.text(&u.real_name),
            C::Avatar => b.opt_text(u.avatar.as_deref()),
            C::ExtId => b.opt_int(u.ext_id),
            C::FollowingsCounter => b.int(u.followings_counter),
            C::FollowersCounter => b.int(u.followers_counter),
            C::PostsCounter => b.int(u.posts_counter),
            C::DiscussionsCounter => b.int(u.discussions_counter),
            C::PollsCounter => b.int(u.polls_counter),
            C::CategoriesCounter => b.int(u.categories_counter),
            C::DateJoinedUs => b.int(u.date_joined_us),
            C::Bio => b.text(&u.bio),
            C::Location => b.text(&u.location),
            C::LocationLatLng => b.opt_text(u.location_lat_lng.as_deref()),
            C::PositionLatLng => b.opt_text(u.position_lat_lng.as_deref()),
            C::DateOfBirth => b.opt_text(u.date_of_birth.as_deref()),
            C::Description => b.text(&u.description),
            C::Gender => b.text(&u.gender),
            C::Website => b.text(&u.website),
            C::Cover => b.opt_text(u.cover.as_deref()),
            C::Reputation => b.int(u.reputation),
            C::CommunityBadge => b.bool(u.community_badge),
            C::RegApproved => b.bool(u.reg_approved),
            C::Deleted => b.bool(u.deleted),
            C::CompanyName => b.text(&u.company_name),
            C::CompanyRole => b.text(&u.company_role),
        };
    });
}

fn write_user_tag(b: &mut CopyText, row: &user_tag::Model) {
    use user_tag::Column as C;
    write_row(b, |b, column| {
        match column {
            C::UserId => b.int(row.user_id),
            C::TagId => b.int(row.tag_id),
        };
    });
}

fn write_connection(b: &mut CopyText, row: &connection::Model) {
    use connection::Column as C;
    write_row(b, |b, column| {
        match column {
            C::UserId => b.int(row.user_id),
            C::FriendId => b.int(row.friend_id),
            C::ConnectedAtUs => b.int(row.connected_at_us),
        };
    });
}

fn write_request(b: &mut CopyText, row: &connection_request::Model) {
    use connection_request::Column as C;
    write_row(b, |b, column| {
        match column {
            C::FromUserId => b.int(row.from_user_id),
            C::ToUserId => b.int(row.to_user_id),
            C::CreatedAtUs => b.int(row.created_at_us),
            C::Id => b.int(row.id),
            C::RejectedAtUs => b.opt_int(row.rejected_at_us),
            C::ViewedAtUs => b.opt_int(row.viewed_at_us),
        };
    });
}

fn write_token(b: &mut CopyText, row: &access_token::Model) {
    use access_token::Column as C;
    write_row(b, |b, column| {
        match column {
            C::TokenSha256 => b.text(&row.token_sha256),
            C::UserId => b.int(row.user_id),
            C::ExpiresAtUs => b.int(row.expires_at_us),
        };
    });
}

/// A buffer of COPY text-format rows.
struct CopyText(Vec<u8>);

impl CopyText {
    fn with_capacity(bytes: usize) -> Self {
        CopyText(Vec::with_capacity(bytes))
    }

    fn tab(&mut self) -> &mut Self {
        self.0.push(b'\t');
        self
    }

    fn end(&mut self) -> &mut Self {
        self.0.push(b'\n');
        self
    }

    fn bool(&mut self, value: bool) -> &mut Self {
        self.0.push(if value { b't' } else { b'f' });
        self
    }

    fn int(&mut self, value: i64) -> &mut Self {
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        let mut rest = value.unsigned_abs();
        loop {
            at -= 1;
            digits[at] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        if value < 0 {
            self.0.push(b'-');
        }
        self.0.extend_from_slice(&digits[at..]);
        self
    }

    fn opt_int(&mut self, value: Option<i64>) -> &mut Self {
        match value {
            Some(value) => self.int(value),
            None => self.null(),
        }
    }

    /// A text value with COPY's escapes; validation has already refused NUL characters.
    fn text(&mut self, value: &str) -> &mut Self {
        for &byte in value.as_bytes() {
            match byte {
                b'\\' => self.0.extend_from_slice(b"\\\\"),
                b'\n' => self.0.extend_from_slice(b"\\n"),
                b'\r' => self.0.extend_from_slice(b"\\r"),
                b'\t' => self.0.extend_from_slice(b"\\t"),
                other => self.0.push(other),
            }
        }
        self
    }

    fn opt_text(&mut self, value: Option<&str>) -> &mut Self {
        match value {
            Some(value) => self.text(value),
            None => self.null(),
        }
    }

    fn null(&mut self) -> &mut Self {
        self.0.extend_from_slice(b"\\N");
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_escapes_and_formats() {
        let mut b = CopyText::with_capacity(64);
        b.int(-42).tab().int(0).tab().int(i64::MIN).tab();
        b.text("a\\b\tc\nd\re")
            .tab()
            .opt_text(None)
            .tab()
            .bool(true)
            .end();
        assert_eq!(
            String::from_utf8(b.0).unwrap(),
            "-42\t0\t-9223372036854775808\ta\\\\b\\tc\\nd\\re\t\\N\tt\n"
        );
    }
}
