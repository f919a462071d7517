//! The tables a community is loaded into, named by their entities, and the multi-row INSERT
//! of entity models: shared by the loaders (`import`, `sqlite`, `mysql`, `pg`).

use anyhow::Context;
use migrations::change_feed;
use sea_orm::sea_query::{Alias, Query, SimpleExpr};
use sea_orm::sqlx;
use sea_orm::{ConnectionTrait, EntityTrait, IdenStatic, Iterable, ModelTrait, Value};

use crate::datafile::Validated;
use crate::entity::{
    access_token, community_settings, connection, connection_request, tag, user, user_tag,
};
use crate::progress::{Phase, Progress};

/// Every table, children before parents: the order to empty them in.
pub(crate) fn tables_children_first() -> [String; 7] {
    [
        table::<access_token::Entity>(),
        table::<connection_request::Entity>(),
        table::<connection::Entity>(),
        table::<user_tag::Entity>(),
        table::<user::Entity>(),
        table::<tag::Entity>(),
        table::<community_settings::Entity>(),
    ]
}

/// The table of entity `E`.
pub(crate) fn table<E: EntityTrait>() -> String {
    E::default().as_str().to_string()
}

/// The columns of entity `E` in its field order (`E::Column::iter()`), comma-separated.
pub(crate) fn column_list<E: EntityTrait>() -> String {
    E::Column::iter()
        .map(|column| column.as_str().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// How large one multi-row INSERT may grow.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BatchLimits {
    /// The most values one statement may bind (every value is one bound parameter).
    pub max_params: usize,
    /// A rough cap on a statement's size, whatever the length of the rows' texts.
    pub max_bytes: usize,
}

/// Inserts `rows` (models of entity `E`) into `into`, the table of `E` or a copy of it with the
/// same columns, with multi-row INSERTs as large as `limits` allow. The columns and their
/// order are the entity's (`E::Column::iter()`); every value is a bound parameter. `phase`
/// counts the rows, a statement at a time.
pub(crate) async fn insert_rows<E, C>(
    conn: &C,
    into: &str,
    rows: impl Iterator<Item = E::Model>,
    limits: BatchLimits,
    phase: Option<&Phase>,
) -> anyhow::Result<()>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    let columns = E::Column::iter().count().max(1);
    let rows_per_statement = (limits.max_params / columns).max(1);
    let backend = conn.get_database_backend();
    let new_statement = || {
        let mut statement = Query::insert();
        statement
            .into_table(Alias::new(into))
            .columns(E::Column::iter());
        statement
    };
    let mut statement = new_statement();
    let mut in_batch = 0usize;
    let mut bytes = 0usize;
    let mut rows = rows.peekable();
    while let Some(row) = rows.next() {
        bytes += weight(&row);
        statement
            .values(E::Column::iter().map(|column| SimpleExpr::Value(row.get(column))))
            .with_context(|| format!("a row for {into}"))?;
        in_batch += 1;
        let full = in_batch == rows_per_statement || bytes >= limits.max_bytes;
        if full || rows.peek().is_none() {
            conn.execute(backend.build(&statement))
                .await
                .with_context(|| format!("inserting into {into}"))?;
            if let Some(phase) = phase {
                phase.inc(in_batch as u64);
            }
            statement = new_statement();
            in_batch = 0;
            bytes = 0;
        }
    }
    Ok(())
}

/// Inserts the rows of entity `E` into `into(E's table)` as one phase of `progress`, named
/// after the table.
async fn insert_table<E, C>(
    conn: &C,
    into: &impl Fn(String) -> String,
    rows: impl ExactSizeIterator<Item = E::Model>,
    limits: BatchLimits,
    progress: &Progress,
) -> anyhow::Result<()>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    let phase = progress.phase(table::<E>(), "rows", Some(rows.len() as u64));
    insert_rows::<E, _>(conn, &into(table::<E>()), rows, limits, Some(&phase)).await?;
    phase.finish();
    Ok(())
}

/// Roughly how many bytes a row's values weigh in a statement.
fn weight<M: ModelTrait>(row: &M) -> usize {
    <M::Entity as EntityTrait>::Column::iter()
        .map(|column| match row.get(column) {
            Value::String(Some(text)) => text.len() + 8,
            _ => 8,
        })
        .sum()
}

/// Inserts every row of a community, parents before children, into the tables named
/// `into(entity's table)`: the live tables, or staging copies of them. `connections` are
/// the directed rows of `data.connections`, sorted by primary key. One phase of `progress`
/// per table (the one settings row is not one).
pub(crate) async fn insert_all<C: ConnectionTrait>(
    conn: &C,
    data: &Validated,
    connections: Vec<connection::Model>,
    into: impl Fn(String) -> String,
    limits: BatchLimits,
    progress: &Progress,
) -> anyhow::Result<()> {
    insert_parents(conn, data, &into, limits, progress).await?;
    insert_table::<connection::Entity, _>(conn, &into, connections.into_iter(), limits, progress)
        .await?;
    insert_children(conn, data, &into, limits, progress).await
}

/// The settings, tags, users and their tags: what the connections and the requests refer to.
/// (`insert_all` without the connections and what follows them.)
pub(crate) async fn insert_parents<C: ConnectionTrait>(
    conn: &C,
    data: &Validated,
    into: &impl Fn(String) -> String,
    limits: BatchLimits,
    progress: &Progress,
) -> anyhow::Result<()> {
    let settings = community_settings::Model::from(data.settings);
    insert_rows::<community_settings::Entity, _>(
        conn,
        &into(table::<community_settings::Entity>()),
        [settings].into_iter(),
        limits,
        None,
    )
    .await?;
    insert_table::<tag::Entity, _>(conn, into, data.tags.iter().cloned(), limits, progress).await?;
    insert_table::<user::Entity, _>(conn, into, data.users.iter().cloned(), limits, progress)
        .await?;
    insert_table::<user_tag::Entity, _>(
        conn,
        into,
        data.user_tags.iter().copied(),
        limits,
        progress,
    )
    .await
}

/// The requests and the access tokens: what `insert_all` inserts after the connections.
pub(crate) async fn insert_children<C: ConnectionTrait>(
    conn: &C,
    data: &Validated,
    into: &impl Fn(String) -> String,
    limits: BatchLimits,
    progress: &Progress,
) -> anyhow::Result<()> {
    insert_table::<connection_request::Entity, _>(
        conn,
        into,
        data.requests.iter().copied(),
        limits,
        progress,
    )
    .await?;
    insert_table::<access_token::Entity, _>(
        conn,
        into,
        data.tokens.iter().cloned(),
        limits,
        progress,
    )
    .await
}

/// Both rows of every connection, sorted by (user, friend): the order of the primary key,
/// so each user's rows sit together on disk.
pub(crate) fn directed_connections(connections: &[(i64, i64, i64)]) -> Vec<connection::Model> {
    let mut rows = Vec::with_capacity(connections.len() * 2);
    for &(a, b, at) in connections {
        for (user_id, friend_id) in [(a, b), (b, a)] {
            rows.push(connection::Model {
                user_id,
                friend_id,
                connected_at_us: at,
            });
        }
    }
    rows.sort_unstable();
    rows
}

/// Options of a pool of one connection for an import alone: never recycled (its session
/// settings, and on MariaDB its advisory lock, must last the whole import), closed after it,
/// so its settings never reach a connection that serves requests.
pub(crate) fn import_pool<DB: sqlx::Database>() -> sqlx::pool::PoolOptions<DB> {
    sqlx::pool::PoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .max_lifetime(None)
        .idle_timeout(None)
}

/// The statements that drop the change-feed triggers of the community's tables (a bulk load
/// reports no row changes: it announces one reset when it is done, `reset_statement`).
pub(crate) fn drop_feed_triggers(backend: sea_orm::DatabaseBackend) -> Vec<String> {
    change_feed::watched_tables()
        .flat_map(|table| {
            change_feed::table_trigger_names(backend, table)
                .into_iter()
                .map(move |name| match backend {
                    sea_orm::DatabaseBackend::Postgres => {
                        format!("DROP TRIGGER IF EXISTS {name} ON {table}")
                    }
                    _ => format!("DROP TRIGGER IF EXISTS {name}"),
                })
        })
        .collect()
}

/// The statements that give the community's tables their change-feed triggers.
pub(crate) fn create_feed_triggers(backend: sea_orm::DatabaseBackend) -> Vec<String> {
    change_feed::watched_tables()
        .flat_map(|table| change_feed::table_triggers(backend, table))
        .collect()
}

/// The change row that tells every server's graph cache to forget everything: an import's
/// last write.
pub(crate) fn reset_statement() -> String {
    change_feed::reset_statement()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directed_rows_are_sorted_pairs_both_ways() {
        let rows: Vec<_> = directed_connections(&[(1, 3, 10), (2, 3, 20)])
            .into_iter()
            .map(|c| (c.user_id, c.friend_id, c.connected_at_us))
            .collect();
        assert_eq!(rows, vec![(1, 3, 10), (2, 3, 20), (3, 1, 10), (3, 2, 20)]);
    }
}
