//! `import`: replace the whole community with a validated file, in one transaction.
//!
//! PostgreSQL gets a COPY-based loader (`pg.rs`), because row-by-row or multi-row INSERTs of
//! millions of connections are far too slow there. SQLite and MySQL (and a PostgreSQL
//! connection that is not a plain sqlx pool) get batched multi-row INSERTs through sea-orm,
//! each statement as large as the backend's bind-parameter limit and a byte budget allow.

use std::fmt;

use anyhow::Context;
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, DatabaseTransaction, TransactionTrait,
    Value,
};

use super::file::CommunityFile;
use super::pg;
use super::tables::{
    CONNECTION_COLUMNS, REQUEST_COLUMNS, TABLES_CHILDREN_FIRST, TAG_COLUMNS, TOKEN_COLUMNS,
    USER_COLUMNS, USER_TAG_COLUMNS,
};
use super::validate::{validate, TagRow, TokenRow, UserRow, Validated};
use crate::store::sql::Sql;
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
    fn of(data: &Validated<'_>) -> ImportReport {
        ImportReport {
            users: data.users.len(),
            tags: data.tags.len(),
            connections: data.connections.len(),
            requests: data.requests.len(),
            tokens: data.tokens.len(),
        }
    }
}

/// Replaces everything in the database with `file`, in one transaction. The file is fully
/// validated first, so a bad file changes nothing; its error names the first bad record.
pub async fn import(store: &Store, file: &CommunityFile) -> anyhow::Result<ImportReport> {
    let data = validate(file)?;
    match store.connection() {
        DatabaseConnection::SqlxPostgresPoolConnection(_) => {
            pg::load(store.connection().get_postgres_connection_pool(), &data).await?
        }
        db => load_with_inserts(db, &data).await?,
    }
    Ok(ImportReport::of(&data))
}

async fn load_with_inserts(db: &DatabaseConnection, data: &Validated<'_>) -> anyhow::Result<()> {
    let backend = db.get_database_backend();
    let tx = db
        .begin()
        .await
        .context("starting the import transaction")?;
    for table in TABLES_CHILDREN_FIRST {
        // Table names are constants of this module, never input.
        tx.execute_unprepared(&format!("DELETE FROM {table}"))
            .await
            .with_context(|| format!("emptying {table}"))?;
    }
    insert_settings(&tx, data).await?;
    let mut insert = Inserter::new(&tx, backend);
    insert
        .rows("tags", TAG_COLUMNS, data.tags.iter().map(tag_values))
        .await?;
    insert
        .rows("users", USER_COLUMNS, data.users.iter().map(user_values))
        .await?;
    let user_tags = data
        .user_tags
        .iter()
        .map(|(u, t)| vec![(*u).into(), (*t).into()]);
    insert
        .rows("user_tags", USER_TAG_COLUMNS, user_tags)
        .await?;
    // Sorted by (user, friend) so the primary key and the clustered index (InnoDB) grow at
    // their end instead of splitting pages all over.
    let directed = pg::directed_connections(&data.connections);
    let both_ways = directed
        .iter()
        .map(|(u, f, at)| vec![(*u).into(), (*f).into(), (*at).into()]);
    insert
        .rows("connections", CONNECTION_COLUMNS, both_ways)
        .await?;
    let requests = data
        .requests
        .iter()
        .map(|(f, t, at)| vec![(*f).into(), (*t).into(), (*at).into()]);
    insert
        .rows("connection_requests", REQUEST_COLUMNS, requests)
        .await?;
    insert
        .rows(
            "access_tokens",
            TOKEN_COLUMNS,
            data.tokens.iter().map(token_values),
        )
        .await?;
    tx.commit().await.context("committing the import")?;
    Ok(())
}

async fn insert_settings(tx: &DatabaseTransaction, data: &Validated<'_>) -> anyhow::Result<()> {
    let s = data.settings;
    let mut sql = Sql::new(tx.get_database_backend());
    sql.push("INSERT INTO community_settings (id, connection_enabled, follow_enabled, content_availability) VALUES (")
        .bind(1i32)
        .push(", ")
        .bind(s.connection_enabled)
        .push(", ")
        .bind(s.follow_enabled)
        .push(", ")
        .bind(s.content_availability)
        .push(")");
    tx.execute(sql.build())
        .await
        .context("writing the settings")?;
    Ok(())
}

fn tag_values(row: &TagRow<'_>) -> Vec<Value> {
    let t = row.tag;
    vec![
        t.id.into(),
        t.kind.clone().into(),
        t.name.clone().into(),
        t.description.clone().into(),
        t.color.clone().into(),
        t.visible.into(),
        t.visibility_boost.into(),
        t.active.into(),
        t.deleted.into(),
        row.created_at_us.into(),
    ]
}

fn user_values(row: &UserRow<'_>) -> Vec<Value> {
    let u = row.user;
    vec![
        u.id.into(),
        u.username.clone().into(),
        u.real_name.clone().into(),
        u.avatar.clone().into(),
        u.ext_id.into(),
        u.followings_counter.into(),
        u.followers_counter.into(),
        u.posts_counter.into(),
        u.discussions_counter.into(),
        u.polls_counter.into(),
        u.categories_counter.into(),
        row.date_joined_us.into(),
        u.bio.clone().into(),
        u.location.clone().into(),
        u.location_lat_lng.clone().into(),
        u.position_lat_lng.clone().into(),
        u.date_of_birth.clone().into(),
        u.description.clone().into(),
        u.gender.as_str().into(),
        u.website.clone().into(),
        u.cover.clone().into(),
        u.reputation.into(),
        u.community_badge.into(),
        u.reg_approved.into(),
        u.deleted.into(),
        u.company_name.clone().into(),
        u.company_role.clone().into(),
    ]
}

fn token_values(row: &TokenRow) -> Vec<Value> {
    vec![
        row.token_sha256.clone().into(),
        row.user_id.into(),
        row.expires_at_us.into(),
    ]
}

/// Stops a statement from growing past a few MiB, well under MySQL's default
/// `max_allowed_packet` (16 MiB), whatever the length of the rows' texts.
const MAX_STATEMENT_BYTES: usize = 4 << 20;

/// Multi-row INSERTs, each with as many rows as the backend's bind-parameter limit allows.
struct Inserter<'t> {
    tx: &'t DatabaseTransaction,
    backend: DatabaseBackend,
}

impl<'t> Inserter<'t> {
    fn new(tx: &'t DatabaseTransaction, backend: DatabaseBackend) -> Self {
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

    async fn rows(
        &mut self,
        table: &str,
        columns: &[&str],
        rows: impl Iterator<Item = Vec<Value>>,
    ) -> anyhow::Result<()> {
        let rows_per_statement = (self.max_params() / columns.len()).max(1);
        let head = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
        let mut sql: Option<Sql> = None;
        let (mut count, mut bytes) = (0usize, 0usize);
        for row in rows {
            let statement = sql.get_or_insert_with(|| {
                let mut s = Sql::new(self.backend);
                s.push(&head);
                s
            });
            if count > 0 {
                statement.push(", ");
            }
            bytes += push_row(statement, row);
            count += 1;
            if count == rows_per_statement || bytes >= MAX_STATEMENT_BYTES {
                self.run(table, sql.take()).await?;
                (count, bytes) = (0, 0);
            }
        }
        self.run(table, sql).await
    }

    async fn run(&self, table: &str, sql: Option<Sql>) -> anyhow::Result<()> {
        if let Some(sql) = sql {
            self.tx
                .execute(sql.build())
                .await
                .with_context(|| format!("inserting into {table}"))?;
        }
        Ok(())
    }
}

/// Appends `(?, ?, ...)` bound to `row`; returns roughly how many bytes the values weigh.
fn push_row(sql: &mut Sql, row: Vec<Value>) -> usize {
    let mut bytes = 0;
    sql.push("(");
    for (i, value) in row.into_iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        bytes += match &value {
            Value::String(Some(text)) => text.len() + 8,
            _ => 8,
        };
        sql.bind(value);
    }
    sql.push(")");
    bytes
}
