//! The PostgreSQL loader: TRUNCATE and COPY in one transaction.
//!
//! Loading millions of connection rows is dominated by index maintenance, so for the two
//! large tables (`connections`, `connection_requests`) the loader reads the definitions of
//! their primary key, foreign keys and secondary indexes from the catalogue, drops them,
//! COPYs the rows (sorted, so the heap is clustered by owner), and recreates every one of them
//! from the very definitions it read: same names, same columns, same actions. PostgreSQL's DDL
//! is transactional, so a failure anywhere rolls all of it back and readers never see the
//! table without its constraints. Rebuilding an index from sorted data is much faster than
//! growing it row by row, and the foreign keys are checked once, by one join, instead of once
//! per row.
//!
//! COPY uses the text format; `FREEZE` is allowed because every table was truncated in this
//! same transaction, and saves the first readers from rewriting every page to set hint bits.

use std::time::Instant;

use anyhow::Context;
use sqlx::{PgConnection, PgPool, Row};

use super::tables::{
    CONNECTION_COLUMNS, REQUEST_COLUMNS, TAG_COLUMNS, TOKEN_COLUMNS, USER_COLUMNS, USER_TAG_COLUMNS,
};
use super::validate::{TagRow, TokenRow, UserRow, Validated};

/// Tables whose keys and indexes are rebuilt after loading instead of maintained during it.
const REBUILT_TABLES: &[&str] = &["connections", "connection_requests"];

/// How much COPY data to hand to the connection at once.
const CHUNK_BYTES: usize = 1 << 20;

/// For this transaction only: memory for sorting while the indexes are rebuilt (the default
/// 64 MB spills to disk), and no statement timeout a role or server may impose on the API's
/// queries (an index build over millions of rows takes seconds).
const LOAD_SETTINGS: &[&str] = &[
    "SET LOCAL maintenance_work_mem = '512MB'",
    "SET LOCAL statement_timeout = 0",
];

pub(crate) async fn load(pool: &PgPool, data: &Validated<'_>) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut tx = pool
        .begin()
        .await
        .context("starting the import transaction")?;
    for setting in LOAD_SETTINGS {
        sqlx::query(setting).execute(&mut *tx).await?;
    }
    sqlx::query(
        "TRUNCATE access_tokens, connection_requests, connections, user_tags, users, tags, \
         community_settings",
    )
    .execute(&mut *tx)
    .await
    .context("emptying the tables")?;

    let mut rebuilds = Vec::new();
    for table in REBUILT_TABLES {
        rebuilds.extend(detach_keys_and_indexes(&mut tx, table).await?);
    }
    insert_settings(&mut tx, data).await?;
    copy_all(&mut tx, data).await?;
    tracing::debug!(elapsed = ?started.elapsed(), "import: rows copied");
    // Keys first (foreign keys may need them), then plain indexes, then foreign keys.
    rebuilds.sort_by(|x, y| (x.order, &x.name).cmp(&(y.order, &y.name)));
    for ddl in &rebuilds {
        sqlx::query(&ddl.create)
            .execute(&mut *tx)
            .await
            .with_context(|| format!("restoring {}", ddl.name))?;
        tracing::debug!(elapsed = ?started.elapsed(), name = %ddl.name, "import: restored");
    }
    sqlx::query("ANALYZE tags, users, user_tags, connections, connection_requests, access_tokens")
        .execute(&mut *tx)
        .await
        .context("analyzing the loaded tables")?;
    tracing::debug!(elapsed = ?started.elapsed(), "import: analyzed");
    tx.commit().await.context("committing the import")?;
    tracing::debug!(elapsed = ?started.elapsed(), "import: committed");
    Ok(())
}

async fn insert_settings(conn: &mut PgConnection, data: &Validated<'_>) -> anyhow::Result<()> {
    let s = data.settings;
    sqlx::query(
        "INSERT INTO community_settings (id, connection_enabled, follow_enabled, \
         content_availability) VALUES (1, $1, $2, $3)",
    )
    .bind(s.connection_enabled)
    .bind(s.follow_enabled)
    .bind(s.content_availability)
    .execute(conn)
    .await
    .context("writing the settings")?;
    Ok(())
}

/// A dropped key or index, and the statement that recreates it.
struct Rebuild {
    name: String,
    create: String,
    /// 0: primary key / unique, 1: index, 2: foreign key.
    order: u8,
}

/// Drops the keys, foreign keys and secondary indexes of `table` (check constraints stay),
/// returning how to recreate each exactly as it was. PostgreSQL writes the statements itself
/// (`format` with `%I` quoting, `pg_get_constraintdef`, `pg_get_indexdef`).
async fn detach_keys_and_indexes(
    conn: &mut PgConnection,
    table: &str,
) -> anyhow::Result<Vec<Rebuild>> {
    let rows = sqlx::query(
        "SELECT k.conname::text AS name, k.contype::text AS kind, \
                format('ALTER TABLE %I DROP CONSTRAINT %I', $1::text, k.conname) AS drop_sql, \
                format('ALTER TABLE %I ADD CONSTRAINT %I %s', $1::text, k.conname, \
                       pg_get_constraintdef(k.oid)) AS create_sql \
         FROM pg_constraint k \
         WHERE k.conrelid = $1::text::regclass AND k.contype IN ('p', 'u', 'f') \
         UNION ALL \
         SELECT i.indexrelid::regclass::text, 'i', \
                format('DROP INDEX %s', i.indexrelid::regclass), \
                pg_get_indexdef(i.indexrelid) \
         FROM pg_index i \
         WHERE i.indrelid = $1::text::regclass \
           AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)",
    )
    .bind(table)
    .fetch_all(&mut *conn)
    .await
    .with_context(|| format!("reading the keys and indexes of {table}"))?;

    let mut rebuilds = Vec::with_capacity(rows.len());
    let mut drops = Vec::with_capacity(rows.len());
    for row in rows {
        let kind: String = row.try_get("kind")?;
        let order = match kind.as_str() {
            "p" | "u" => 0,
            "i" => 1,
            _ => 2,
        };
        drops.push((2 - order, row.try_get::<String, _>("drop_sql")?));
        rebuilds.push(Rebuild {
            name: row.try_get("name")?,
            create: row.try_get("create_sql")?,
            order,
        });
    }
    // Foreign keys first, then indexes, then the keys they might depend on.
    drops.sort_by_key(|(order, _)| *order);
    for (_, drop) in drops {
        sqlx::query(&drop)
            .execute(&mut *conn)
            .await
            .with_context(|| format!("dropping a key or index of {table}"))?;
    }
    Ok(rebuilds)
}

async fn copy_all(conn: &mut PgConnection, data: &Validated<'_>) -> anyhow::Result<()> {
    copy(conn, "tags", TAG_COLUMNS, data.tags.iter(), write_tag).await?;
    copy(conn, "users", USER_COLUMNS, data.users.iter(), write_user).await?;
    copy(
        conn,
        "user_tags",
        USER_TAG_COLUMNS,
        data.user_tags.iter(),
        |b, (u, t)| {
            b.int(*u).tab().int(*t).end();
        },
    )
    .await?;
    let directed = directed_connections(&data.connections);
    copy(
        conn,
        "connections",
        CONNECTION_COLUMNS,
        directed.iter(),
        write_triple,
    )
    .await?;
    drop(directed);
    copy(
        conn,
        "connection_requests",
        REQUEST_COLUMNS,
        data.requests.iter(),
        write_triple,
    )
    .await?;
    copy(
        conn,
        "access_tokens",
        TOKEN_COLUMNS,
        data.tokens.iter(),
        write_token,
    )
    .await?;
    Ok(())
}

/// Both rows of every connection, sorted by (user, friend): the order of the primary key,
/// so each user's rows sit together on disk.
pub(crate) fn directed_connections(connections: &[(i64, i64, i64)]) -> Vec<(i64, i64, i64)> {
    let mut rows = Vec::with_capacity(connections.len() * 2);
    for &(a, b, at) in connections {
        rows.push((a, b, at));
        rows.push((b, a, at));
    }
    rows.sort_unstable();
    rows
}

/// Streams `rows` into `table` with COPY ... FROM STDIN, in chunks.
async fn copy<T>(
    conn: &mut PgConnection,
    table: &str,
    columns: &[&str],
    rows: impl Iterator<Item = T>,
    write: impl Fn(&mut CopyText, T),
) -> anyhow::Result<()> {
    // Table and column names are constants of the importer, never input.
    let statement = format!(
        "COPY {table} ({}) FROM STDIN WITH (FORMAT text, FREEZE true)",
        columns.join(", ")
    );
    let mut copy = conn
        .copy_in_raw(&statement)
        .await
        .with_context(|| format!("starting COPY into {table}"))?;
    let mut text = CopyText::with_capacity(CHUNK_BYTES + (64 << 10));
    for row in rows {
        write(&mut text, row);
        if text.0.len() >= CHUNK_BYTES {
            copy.send(std::mem::take(&mut text.0).as_slice())
                .await
                .with_context(|| format!("sending rows of {table}"))?;
            text.0.reserve(CHUNK_BYTES + (64 << 10));
        }
    }
    if !text.0.is_empty() {
        copy.send(text.0.as_slice())
            .await
            .with_context(|| format!("sending rows of {table}"))?;
    }
    let rows = copy
        .finish()
        .await
        .with_context(|| format!("loading {table}"))?;
    tracing::debug!(table, rows, "import: copied");
    Ok(())
}

fn write_triple(b: &mut CopyText, row: &(i64, i64, i64)) {
    b.int(row.0).tab().int(row.1).tab().int(row.2).end();
}

fn write_tag(b: &mut CopyText, row: &TagRow<'_>) {
    let t = row.tag;
    b.int(t.id)
        .tab()
        .text(&t.kind)
        .tab()
        .text(&t.name)
        .tab()
        .text(&t.description)
        .tab();
    b.text(&t.color)
        .tab()
        .bool(t.visible)
        .tab()
        .bool(t.visibility_boost)
        .tab();
    b.bool(t.active)
        .tab()
        .bool(t.deleted)
        .tab()
        .int(row.created_at_us)
        .end();
}

fn write_user(b: &mut CopyText, row: &UserRow<'_>) {
    let u = row.user;
    b.int(u.id)
        .tab()
        .text(&u.username)
        .tab()
        .text(&u.real_name)
        .tab();
    b.opt_text(u.avatar.as_deref())
        .tab()
        .opt_int(u.ext_id)
        .tab();
    b.int(u.followings_counter)
        .tab()
        .int(u.followers_counter)
        .tab();
    b.int(u.posts_counter)
        .tab()
        .int(u.discussions_counter)
        .tab();
    b.int(u.polls_counter).tab().int(u.categories_counter).tab();
    b.int(row.date_joined_us)
        .tab()
        .text(&u.bio)
        .tab()
        .text(&u.location)
        .tab();
    b.opt_text(u.location_lat_lng.as_deref()).tab();
    b.opt_text(u.position_lat_lng.as_deref()).tab();
    b.opt_text(u.date_of_birth.as_deref())
        .tab()
        .text(&u.description)
        .tab();
    b.text(u.gender.as_str()).tab().text(&u.website).tab();
    b.opt_text(u.cover.as_deref()).tab().int(u.reputation).tab();
    b.bool(u.community_badge)
        .tab()
        .bool(u.reg_approved)
        .tab()
        .bool(u.deleted)
        .tab();
    b.text(&u.company_name).tab().text(&u.company_role).end();
}

fn write_token(b: &mut CopyText, row: &TokenRow) {
    b.text(&row.token_sha256)
        .tab()
        .int(row.user_id)
        .tab()
        .int(row.expires_at_us)
        .end();
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

    #[test]
    fn directed_rows_are_sorted_pairs_both_ways() {
        let rows = directed_connections(&[(1, 3, 10), (2, 3, 20)]);
        assert_eq!(rows, vec![(1, 3, 10), (2, 3, 20), (3, 1, 10), (3, 2, 20)]);
    }
}
