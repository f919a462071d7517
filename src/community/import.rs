//! `import`: replace the whole community with a validated file, in one transaction.
//!
//! PostgreSQL gets a COPY-based loader (`pg.rs`), because row-by-row or multi-row INSERTs of
//! millions of connections are far too slow there. SQLite and MySQL (and a PostgreSQL
//! connection that is not a plain sqlx pool) get batched multi-row INSERTs of the entities
//! (`Entity::insert_many`), each statement as large as the backend's bind-parameter limit and
//! a byte budget allow.

use std::fmt;

use anyhow::Context;
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, DatabaseTransaction, EntityTrait,
    IntoActiveModel, Iterable, ModelTrait, TransactionTrait, Value,
};

use super::pg;
use super::tables::{table, tables_children_first};
use super::validate::{Community, Validated};
use crate::entity::{
    access_token, community_settings, connection, connection_request, tag, user, user_tag,
};
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
/// nothing is left to refuse), in one transaction.
pub async fn import(store: &Store, community: &Community) -> anyhow::Result<ImportReport> {
    let data = community.rows();
    match store.connection() {
        DatabaseConnection::SqlxPostgresPoolConnection(_) => {
            pg::load(store.connection().get_postgres_connection_pool(), data).await?
        }
        db => load_with_inserts(db, data).await?,
    }
    Ok(ImportReport::of(data))
}

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
    let insert = Inserter::new(&tx);
    let settings = community_settings::Model::from(data.settings);
    insert
        .rows::<community_settings::Entity>([settings].into_iter())
        .await?;
    insert
        .rows::<tag::Entity>(data.tags.iter().cloned())
        .await?;
    insert
        .rows::<user::Entity>(data.users.iter().cloned())
        .await?;
    insert
        .rows::<user_tag::Entity>(data.user_tags.iter().copied())
        .await?;
    // Sorted by (user, friend) so the primary key and the clustered index (InnoDB) grow at
    // their end instead of splitting pages all over.
    let directed = pg::directed_connections(&data.connections);
    insert
        .rows::<connection::Entity>(directed.into_iter())
        .await?;
    insert
        .rows::<connection_request::Entity>(data.requests.iter().copied())
        .await?;
    insert
        .rows::<access_token::Entity>(data.tokens.iter().cloned())
        .await?;
    tx.commit().await.context("committing the import")?;
    Ok(())
}

/// Stops a statement from growing past a few MiB, well under MySQL's default
/// `max_allowed_packet` (16 MiB), whatever the length of the rows' texts.
const MAX_STATEMENT_BYTES: usize = 4 << 20;

/// Multi-row INSERTs of entity models (`insert_many`), each with as many rows as the
/// backend's bind-parameter limit allows (every value is one bound parameter).
struct Inserter<'t> {
    tx: &'t DatabaseTransaction,
    backend: DatabaseBackend,
}

impl<'t> Inserter<'t> {
    fn new(tx: &'t DatabaseTransaction) -> Self {
        let backend = tx.get_database_backend();
        Inserter { tx, backend }
    }

    /// The most values one statement may bind on this backend.
    fn max_params(&self) -> usize {
        match self.backend {
            // SQLITE_MAX_VARIABLE_NUMBER since SQLite 3.32.
            DatabaseBackend::Sqlite => 32_766,
            // Both count parameters in an unsigned 16-bit field.
            DatabaseBackend::MySql | DatabaseBackend::Postgres => 65_535,
        }
    }

    /// Inserts `rows` into the table of entity `E`.
    async fn rows<E>(&self, rows: impl Iterator<Item = E::Model>) -> anyhow::Result<()>
    where
        E: EntityTrait,
        E::Model: IntoActiveModel<E::ActiveModel>,
        E::ActiveModel: Send,
    {
        let table = table::<E>();
        let columns = E::Column::iter().count();
        let rows_per_statement = (self.max_params() / columns.max(1)).max(1);
        let mut batch: Vec<E::ActiveModel> = Vec::new();
        let mut bytes = 0usize;
        let mut rows = rows.peekable();
        while let Some(row) = rows.next() {
            bytes += weight(&row);
            batch.push(row.into_active_model());
            let full = batch.len() == rows_per_statement || bytes >= MAX_STATEMENT_BYTES;
            if full || rows.peek().is_none() {
                E::insert_many(std::mem::take(&mut batch))
                    .exec_without_returning(self.tx)
                    .await
                    .with_context(|| format!("inserting into {table}"))?;
                bytes = 0;
            }
        }
        Ok(())
    }
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
