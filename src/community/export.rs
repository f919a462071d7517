//! `export`: the whole community as a data file, in one canonical order, so that
//! export → import → export gives the same bytes.
//!
//! Everything is read inside one transaction (repeatable read where the backend offers it) so
//! an import running at the same time cannot produce a file that is half old, half new.

use std::collections::HashMap;

use anyhow::{anyhow, Context};
use sea_orm::{
    AccessMode, ConnectionTrait, DatabaseBackend, DatabaseTransaction, IsolationLevel, QueryResult,
    Statement, TransactionTrait,
};

use super::file::{AccessToken, CommunityFile, Connection, ConnectionRequest, Gender, Tag, User};
use crate::store::records::{get, int, TagRecord, UserRecord, TAG_COLUMNS, USER_COLUMNS};
use crate::store::time::file_time;
use crate::store::{Settings, Store};

/// Reads the whole community from the database.
pub async fn export(store: &Store) -> anyhow::Result<CommunityFile> {
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
    let file = read_all(&tx).await?;
    tx.commit().await.context("ending the export transaction")?;
    Ok(file)
}

async fn read_all(tx: &DatabaseTransaction) -> anyhow::Result<CommunityFile> {
    Ok(CommunityFile {
        settings: read_settings(tx).await?,
        tags: read_tags(tx).await?,
        users: read_users(tx).await?,
        connections: read_connections(tx).await?,
        connection_requests: read_requests(tx).await?,
        access_tokens: read_tokens(tx).await?,
    })
}

async fn query(
    tx: &DatabaseTransaction,
    what: &str,
    sql: &str,
) -> anyhow::Result<Vec<QueryResult>> {
    let statement = Statement::from_string(tx.get_database_backend(), sql);
    tx.query_all(statement)
        .await
        .with_context(|| format!("reading {what}"))
}

async fn read_settings(tx: &DatabaseTransaction) -> anyhow::Result<Settings> {
    let rows = query(
        tx,
        "the settings",
        "SELECT connection_enabled, follow_enabled, content_availability \
         FROM community_settings WHERE id = 1",
    )
    .await?;
    let Some(row) = rows.first() else {
        // The migration always writes the row; without it the API serves the defaults.
        return Ok(Settings::default());
    };
    Ok(Settings {
        connection_enabled: get(row, "connection_enabled")?,
        follow_enabled: get(row, "follow_enabled")?,
        content_availability: get(row, "content_availability")?,
    })
}

async fn read_tags(tx: &DatabaseTransaction) -> anyhow::Result<Vec<Tag>> {
    let sql = format!("SELECT {TAG_COLUMNS} FROM tags t ORDER BY t.id");
    query(tx, "tags", &sql)
        .await?
        .iter()
        .map(|row| Ok(tag_of(TagRecord::from_row(row)?)))
        .collect()
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
    let sql = format!("SELECT {USER_COLUMNS} FROM users u ORDER BY u.id");
    query(tx, "users", &sql)
        .await?
        .iter()
        .map(|row| {
            let record = UserRecord::from_row(row)?;
            let user_tags = tags.remove(&record.id).unwrap_or_default();
            user_of(record, user_tags)
        })
        .collect()
}

/// Each user's tag ids, ascending.
async fn read_user_tags(tx: &DatabaseTransaction) -> anyhow::Result<HashMap<i64, Vec<i64>>> {
    let mut tags: HashMap<i64, Vec<i64>> = HashMap::new();
    let sql = "SELECT user_id, tag_id FROM user_tags ORDER BY user_id, tag_id";
    for row in query(tx, "user tags", sql).await? {
        tags.entry(int(&row, "user_id")?)
            .or_default()
            .push(int(&row, "tag_id")?);
    }
    Ok(tags)
}

fn user_of(u: UserRecord, tags: Vec<i64>) -> anyhow::Result<User> {
    let gender = Gender::parse(&u.gender).ok_or_else(|| {
        anyhow!(
            "user {} has an unknown gender {:?} in the database",
            u.id,
            u.gender
        )
    })?;
    Ok(User {
        id: u.id,
        username: u.username,
        real_name: u.real_name,
        avatar: u.avatar,
        ext_id: u.ext_id,
        followings_counter: u.followings_counter,
        followers_counter: u.followers_counter,
        posts_counter: u.posts_counter,
        discussions_counter: u.discussions_counter,
        polls_counter: u.polls_counter,
        categories_counter: u.categories_counter,
        date_joined: file_time(u.date_joined_us),
        bio: u.bio,
        location: u.location,
        location_lat_lng: u.location_lat_lng,
        position_lat_lng: u.position_lat_lng,
        date_of_birth: u.date_of_birth,
        description: u.description,
        gender,
        website: u.website,
        cover: u.cover,
        reputation: u.reputation,
        community_badge: u.community_badge,
        reg_approved: u.reg_approved,
        deleted: u.deleted,
        company_name: u.company_name,
        company_role: u.company_role,
        tags,
    })
}

/// Each connection once, smaller id first: the row of the pair whose owner is the smaller id.
async fn read_connections(tx: &DatabaseTransaction) -> anyhow::Result<Vec<Connection>> {
    let sql = "SELECT user_id, friend_id, connected_at_us FROM connections \
               WHERE user_id < friend_id ORDER BY user_id, friend_id";
    query(tx, "connections", sql)
        .await?
        .iter()
        .map(|row| {
            Ok(Connection {
                users: [int(row, "user_id")?, int(row, "friend_id")?],
                connected_at: file_time(int(row, "connected_at_us")?),
            })
        })
        .collect()
}

async fn read_requests(tx: &DatabaseTransaction) -> anyhow::Result<Vec<ConnectionRequest>> {
    let sql = "SELECT from_user_id, to_user_id, created_at_us FROM connection_requests \
               ORDER BY from_user_id, to_user_id";
    query(tx, "connection requests", sql)
        .await?
        .iter()
        .map(|row| {
            Ok(ConnectionRequest {
                from: int(row, "from_user_id")?,
                to: int(row, "to_user_id")?,
                created_at: file_time(int(row, "created_at_us")?),
            })
        })
        .collect()
}

async fn read_tokens(tx: &DatabaseTransaction) -> anyhow::Result<Vec<AccessToken>> {
    let sql = "SELECT token_sha256, user_id, expires_at_us FROM access_tokens \
               ORDER BY user_id, token_sha256";
    query(tx, "access tokens", sql)
        .await?
        .iter()
        .map(|row| {
            Ok(AccessToken {
                token: None,
                token_sha256: Some(get(row, "token_sha256")?),
                user_id: int(row, "user_id")?,
                expires_at: file_time(int(row, "expires_at_us")?),
            })
        })
        .collect()
}
