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
//!
//! Raw SQL (through sqlx, not the entities) because an entity can only INSERT, and COPY is
//! what makes this loader fast (measured). The tables, their columns and the columns' order
//! still come from the entities (`tables`, `Column::iter()`), and every row is an entity
//! model.

use std::time::Instant;

use anyhow::Context;
use sea_orm::{EntityTrait, Iterable};
use sqlx::{PgConnection, PgPool, Row};

use super::tables::{column_list, table, tables_children_first};
use super::validate::Validated;
use crate::entity::{
    access_token, community_settings, connection, connection_request, tag, user, user_tag,
};

/// Tables whose keys and indexes are rebuilt after loading instead of maintained during it.
fn rebuilt_tables() -> [String; 2] {
    [
        table::<connection::Entity>(),
        table::<connection_request::Entity>(),
    ]
}

/// How much COPY data to hand to the connection at once.
const CHUNK_BYTES: usize = 1 << 20;

/// For this transaction only: memory for sorting while the indexes are rebuilt (the default
/// 64 MB spills to disk), and no statement timeout a role or server may impose on the API's
/// queries (an index build over millions of rows takes seconds).
const LOAD_SETTINGS: &[&str] = &[
    "SET LOCAL maintenance_work_mem = '512MB'",
    "SET LOCAL statement_timeout = 0",
];

pub(crate) async fn load(pool: &PgPool, data: &Validated) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut tx = pool
        .begin()
        .await
        .context("starting the import transaction")?;
    for setting in LOAD_SETTINGS {
        sqlx::query(setting).execute(&mut *tx).await?;
    }
    // Table names come from the entities, never from input.
    let truncate = format!("TRUNCATE {}", tables_children_first().join(", "));
    sqlx::query(&truncate)
        .execute(&mut *tx)
        .await
        .context("emptying the tables")?;

    let mut rebuilds = Vec::new();
    for table in rebuilt_tables() {
        rebuilds.extend(detach_keys_and_indexes(&mut tx, &table).await?);
    }
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
    let settings = table::<community_settings::Entity>();
    let analyzed: Vec<_> = tables_children_first()
        .into_iter()
        .filter(|table| *table != settings)
        .collect();
    sqlx::query(&format!("ANALYZE {}", analyzed.join(", ")))
        .execute(&mut *tx)
        .await
        .context("analyzing the loaded tables")?;
    tracing::debug!(elapsed = ?started.elapsed(), "import: analyzed");
    tx.commit().await.context("committing the import")?;
    tracing::debug!(elapsed = ?started.elapsed(), "import: committed");
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

async fn copy_all(conn: &mut PgConnection, data: &Validated) -> anyhow::Result<()> {
    let settings = community_settings::Model::from(data.settings);
    copy::<community_settings::Entity, _>(conn, [&settings].into_iter(), write_settings).await?;
    copy::<tag::Entity, _>(conn, data.tags.iter(), write_tag).await?;
    copy::<user::Entity, _>(conn, data.users.iter(), write_user).await?;
    copy::<user_tag::Entity, _>(conn, data.user_tags.iter(), write_user_tag).await?;
    let directed = directed_connections(&data.connections);
    copy::<connection::Entity, _>(conn, directed.iter(), write_connection).await?;
    drop(directed);
    copy::<connection_request::Entity, _>(conn, data.requests.iter(), write_request).await?;
    copy::<access_token::Entity, _>(conn, data.tokens.iter(), write_token).await?;
    Ok(())
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

/// Streams `rows` into the table of entity `E` with COPY ... FROM STDIN, in chunks. `write`
/// writes a row's columns in the entity's order (`write_row`).
async fn copy<E: EntityTrait, T>(
    conn: &mut PgConnection,
    rows: impl Iterator<Item = T>,
    write: impl Fn(&mut CopyText, T),
) -> anyhow::Result<()> {
    let table = table::<E>();
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

    #[test]
    fn directed_rows_are_sorted_pairs_both_ways() {
        let rows: Vec<_> = directed_connections(&[(1, 3, 10), (2, 3, 20)])
            .into_iter()
            .map(|c| (c.user_id, c.friend_id, c.connected_at_us))
            .collect();
        assert_eq!(rows, vec![(1, 3, 10), (2, 3, 20), (3, 1, 10), (3, 2, 20)]);
    }
}
