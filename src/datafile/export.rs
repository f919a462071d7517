//! `export`: the whole community as a data file, in one canonical order, so that
//! export → import → export gives the same bytes.
//!
//! Everything is read inside one transaction (repeatable read where the backend offers it) so
//! an import running at the same time cannot produce a file that is half old, half new.

use crate::entity::user::user_fields;
use std::collections::HashMap;

use anyhow::{anyhow, Context};
use sea_orm::sea_query::Expr;
use sea_orm::{
    AccessMode, DatabaseBackend, DatabaseTransaction, EntityTrait, IsolationLevel, QueryFilter,
    QueryOrder, TransactionTrait,
};

use super::file::{AccessToken, CommunityFile, Connection, ConnectionRequest, Gender, Tag, User};
use crate::entity::{
    access_token, community_settings, connection, connection_request, tag, user, user_tag,
};
use crate::progress::Progress;
use crate::store::records::{TagRecord, UserRecord, SETTINGS_ROW_ID};
use crate::store::time::file_time;
use crate::store::{Settings, Store};

/// Reads the whole community from the database.
pub async fn export(store: &Store) -> anyhow::Result<CommunityFile> {
    export_with(store, &Progress::quiet()).await
}

/// `export`, reporting a phase per section read to `progress` (`tags`, `users`,
/// `connections`, `connection_requests`, `access_tokens`, each counting its records).
pub async fn export_with(store: &Store, progress: &Progress) -> anyhow::Result<CommunityFile> {
    let backend = store.backend();
    let tx = match backend {
        // SQLite has neither setting; its read transaction is a snapshot anyway.
        DatabaseBackend::Sqlite => store.connection().begin().await,
        _ => {
            store
                .connection()
                .begin_with_config(
                    Some(IsolationLevel::RepeatableRead),
                    Some(AccessMode::ReadOnly),
                )
                .await
        }
    }
    .context("starting the export transaction")?;
    let file = read_all(&tx, progress).await?;
    tx.commit().await.context("ending the export transaction")?;
    Ok(file)
}

async fn read_all(tx: &DatabaseTransaction, progress: &Progress) -> anyhow::Result<CommunityFile> {
    Ok(CommunityFile {
        settings: read_settings(tx).await?,
        tags: section(progress, "tags", read_tags(tx)).await?,
        users: section(progress, "users", read_users(tx)).await?,
        connections: section(progress, "connections", read_connections(tx)).await?,
        connection_requests: section(progress, "connection_requests", read_requests(tx)).await?,
        access_tokens: section(progress, "access_tokens", read_tokens(tx)).await?,
    })
}

/// A section of the file read as one phase of `progress`, counting its records (their number
/// is known once they are read).
async fn section<T>(
    progress: &Progress,
    name: &'static str,
    read: impl std::future::Future<Output = anyhow::Result<Vec<T>>>,
) -> anyhow::Result<Vec<T>> {
    let phase = progress.phase(name, "records", None);
    let records = read.await?;
    phase.inc(records.len() as u64);
    phase.finish();
    Ok(records)
}

async fn read_settings(tx: &DatabaseTransaction) -> anyhow::Result<Settings> {
    let row = community_settings::Entity::find_by_id(SETTINGS_ROW_ID)
        .one(tx)
        .await
        .context("reading the settings")?;
    // The migration always writes the row; without it the API serves the defaults.
    Ok(row.map(Settings::from).unwrap_or_default())
}

async fn read_tags(tx: &DatabaseTransaction) -> anyhow::Result<Vec<Tag>> {
    let tags = tag::Entity::find()
        .order_by_asc(tag::Column::Id)
        .all(tx)
        .await
        .context("reading tags")?;
    Ok(tags.into_iter().map(tag_of).collect())
}

fn tag_of(t: TagRecord) -> Tag {
    Tag {
        id: t.id,
        kind: t.kind,
        name: t.name,
        description: t.description,
        color: t.color,
        visible: t.visible,
        visibility_boost: t.visibility_boost,
        active: t.active,
        deleted: t.deleted,
        created_at: file_time(t.created_at_us),
    }
}

async fn read_users(tx: &DatabaseTransaction) -> anyhow::Result<Vec<User>> {
    let mut tags = read_user_tags(tx).await?;
    let users = user::Entity::find()
        .order_by_asc(user::Column::Id)
        .all(tx)
        .await
        .context("reading users")?;
    users
        .into_iter()
        .map(|record| {
            let user_tags = tags.remove(&record.id).unwrap_or_default();
            user_of(record, user_tags)
        })
        .collect()
}

/// Each user's tag ids, ascending.
async fn read_user_tags(tx: &DatabaseTransaction) -> anyhow::Result<HashMap<i64, Vec<i64>>> {
    let rows = user_tag::Entity::find()
        .order_by_asc(user_tag::Column::UserId)
        .order_by_asc(user_tag::Column::TagId)
        .all(tx)
        .await
        .context("reading user tags")?;
    let mut tags: HashMap<i64, Vec<i64>> = HashMap::new();
    for row in rows {
        tags.entry(row.user_id).or_default().push(row.tag_id);
    }
    Ok(tags)
}

/// The file's User of a stored one, generated from `entity::user::user_fields!`.
macro_rules! user_of {
    (head: [$($h:tt)*], middle: [$($m:tt)*], tail: [$($t:tt)*],) => {
        user_of!(@ $($h)* $($m)* $($t)*);
    };
    (@ $({ $field:ident: [$($ty:tt)*], [$($orm:tt)*], $api:ident, $gql:literal, $kind:ident,
           $doc:literal, $rest:literal })*) => {
        fn user_of(u: UserRecord, tags: Vec<i64>) -> anyhow::Result<User> {
            let id = u.id;
            Ok(User {
                $( $api: user_of!(@value $kind, id, u.$field), )*
                tags,
            })
        }
    };
    (@value Time, $id:ident, $value:expr) => { file_time($value) };
    (@value Gender, $id:ident, $value:expr) => {
        Gender::parse(&$value).ok_or_else(|| {
            anyhow!("user {} has an unknown gender {:?} in the database", $id, $value)
        })?
    };
    (@value $kind:ident, $id:ident, $value:expr) => { $value };
}
user_fields!(user_of);

/// Each connection once, smaller id first: the row of the pair whose owner is the smaller id.
async fn read_connections(tx: &DatabaseTransaction) -> anyhow::Result<Vec<Connection>> {
    use connection::Column;
    let rows = connection::Entity::find()
        .filter(Expr::col(Column::UserId).lt(Expr::col(Column::FriendId)))
        .order_by_asc(Column::UserId)
        .order_by_asc(Column::FriendId)
        .all(tx)
        .await
        .context("reading connections")?;
    Ok(rows
        .into_iter()
        .map(|c| Connection {
            users: [c.user_id, c.friend_id],
            connected_at: file_time(c.connected_at_us),
        })
        .collect())
}

/// Every request, by id, with all six keys.
async fn read_requests(tx: &DatabaseTransaction) -> anyhow::Result<Vec<ConnectionRequest>> {
    use connection_request::Column;
    let rows = connection_request::Entity::find()
        .order_by_asc(Column::Id)
        .all(tx)
        .await
        .context("reading connection requests")?;
    Ok(rows
        .into_iter()
        .map(|r| ConnectionRequest {
            id: Some(r.id),
            from: r.from_user_id,
            to: r.to_user_id,
            created_at: file_time(r.created_at_us),
            rejected_at: r.rejected_at_us.map(file_time),
            viewed_at: r.viewed_at_us.map(file_time),
        })
        .collect())
}

async fn read_tokens(tx: &DatabaseTransaction) -> anyhow::Result<Vec<AccessToken>> {
    use access_token::Column;
    let rows = access_token::Entity::find()
        .order_by_asc(Column::UserId)
        .order_by_asc(Column::TokenSha256)
        .all(tx)
        .await
        .context("reading access tokens")?;
    Ok(rows
        .into_iter()
        .map(|t| AccessToken {
            token: None,
            token_sha256: Some(t.token_sha256),
            user_id: t.user_id,
            expires_at: file_time(t.expires_at_us),
        })
        .collect())
}
