//! The writes of the connection lifecycle (`docs/rest.md`, "Connection lifecycle"): one
//! transaction per action on one pair of users, and the statements it runs.
//!
//! Atomic and serializable per pair, on every backend (`Store::lock_pair`):
//!
//! - PostgreSQL and MariaDB/MySQL: READ COMMITTED, then both users' rows locked by one
//!   `SELECT ... ORDER BY id FOR UPDATE`, the smaller id first. Every action on a pair takes
//!   the same two locks in the same order, so calls on one pair run one after the other and actions on
//!   pairs that share a user never deadlock on them; once the locks are held, each later
//!   statement reads what the previous holders committed (READ COMMITTED reads the latest
//!   committed rows per statement, and takes no gap locks on MariaDB).
//! - SQLite: one writer at a time for the whole file. The transaction's first statement is a
//!   write (it touches the request-id counter row, which SQLite keeps: see
//!   `migrations::request_ids`), so it takes the write lock before it reads
//!   anything, waiting for the busy timeout; a transaction that read first and wrote later
//!   could fail with a stale snapshot in WAL mode.
//!
//! The caller (`core::lifecycle`) reads the pair's rows, decides, writes, commits, and runs
//! the whole transaction again once when the database reports a conflict (`faults`).

use std::sync::Arc;

use migrations::deferred_notify;
use sea_orm::sea_query::Expr;
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseTransaction, DbErr, EntityTrait,
    IsolationLevel, QueryFilter, QueryOrder, QuerySelect, QueryTrait, Statement,
};

use super::db::Store;
use super::notify::Notifier;
use super::records::{int, opt_int};
use super::sql::Sql;
use crate::entity::{connection, connection_request, user};

/// A request between the two users of a pair.
pub type RequestRow = connection_request::Model;

/// What links two users, read under the pair's locks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PairRows {
    /// `connected_at_us` of the connection, if the two are connected.
    pub connected_at_us: Option<i64>,
    /// The request from the viewer to the target.
    pub outgoing: Option<RequestRow>,
    /// The request from the target to the viewer.
    pub incoming: Option<RequestRow>,
}

/// Which user of a pair the lock statement did not find (the viewer first: its check comes
/// before the target's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Missing {
    Viewer,
    Target,
}

/// An open transaction holding the locks of one pair of users.
pub struct PairTx {
    pub(super) txn: DatabaseTransaction,
    /// Told of the commit when the transaction left its NOTIFY to it.
    notifier: Option<Arc<Notifier>>,
    /// Whether the target is soft-deleted, as the lock statement read it.
    target_deleted: bool,
}

impl Store {
    /// Opens the transaction of one action on the pair (`viewer`, `target`) and takes its
    /// locks (module comment). `Err(Missing)` when one of the two users does not exist (the
    /// transaction is then rolled back). The lock statement also reads whether the target is
    /// soft-deleted (`PairTx::target_deleted`), so an action whose viewer or target the graph
    /// cache does not hold checks them without a statement of their own
    /// (`core::lifecycle::perform`).
    pub async fn lock_pair(
        &self,
        viewer: i64,
        target: i64,
    ) -> Result<Result<PairTx, Missing>, DbErr> {
        let backend = self.backend();
        let txn = match backend {
            // PostgreSQL: READ COMMITTED is every pooled connection's default
            // (`store::db::pool_options`), so saying it would only cost a statement per action.
            DatabaseBackend::Sqlite | DatabaseBackend::Postgres => {
                self.begin_on(self.connection(), None).await?
            }
            // The isolation level only: read-write is the default access mode, and saying so
            // would cost a statement more (`SET TRANSACTION READ WRITE`).
            _ => {
                self.begin_on(self.connection(), Some(IsolationLevel::ReadCommitted))
                    .await?
            }
        };
        // Both users' rows, in one statement. PostgreSQL and MariaDB/MySQL lock them, in id
        // order: PostgreSQL as its index scan returns them (`LockRows` above it), InnoDB as
        // its ascending primary-key range scan reaches them. SQLite takes the file's write
        // lock first instead (module comment).
        let mut users = user::Entity::find()
            .filter(user::Column::Id.is_in([viewer, target]))
            .select_only()
            .column(user::Column::Id)
            .column(user::Column::Deleted)
            .order_by_asc(user::Column::Id);
        if backend == DatabaseBackend::Sqlite {
            self.counted(1);
            txn.execute_unprepared(
                "UPDATE connection_request_ids SET last_id = last_id WHERE id = 1",
            )
            .await?;
        } else {
            users = users.lock_exclusive();
        }
        // PostgreSQL: the change feed's NOTIFY is left to the notifier, after the commit
        // (`migrations::deferred_notify`), set in the same statement (no round trip more);
        // the value `set_config` answers is not read.
        let notifier = self.notifier.clone();
        if notifier.is_some() {
            users = users.expr(Expr::cust(format!(
                "set_config('{}', '{}', true)",
                deferred_notify::SETTING,
                deferred_notify::DEFERRED
            )));
        }
        let found = users.into_tuple::<(i64, bool)>().all(&txn).await?;
        let row = |id: i64| found.iter().find(|(found, _)| *found == id);
        if row(viewer).is_none() {
            return Ok(Err(Missing::Viewer));
        }
        let Some(&(_, target_deleted)) = row(target) else {
            return Ok(Err(Missing::Target));
        };
        Ok(Ok(PairTx {
            txn,
            notifier,
            target_deleted,
        }))
    }
}

impl PairTx {
    /// Whether the target is soft-deleted (read under the pair's locks).
    pub fn target_deleted(&self) -> bool {
        self.target_deleted
    }

    /// The connection and the requests between `viewer` and `target`, in one statement.
    // Hand-written: the entity API reads the connection and the requests in two statements;
    // one statement is one round trip less in every action (issue 21, `bench/lifecycle`).
    // One row per request (at most two), each with the connection's column; one row of NULL
    // requests when there is none (the LEFT JOINs from a one-row table).
    pub async fn read(&self, viewer: i64, target: i64) -> Result<PairRows, DbErr> {
        let mut sql = Sql::new(self.txn.get_database_backend());
        sql.push(
            "SELECT c.connected_at_us, r.from_user_id, r.to_user_id, r.created_at_us, r.id, \
             r.rejected_at_us, r.viewed_at_us FROM (SELECT 1 AS one) AS pair \
             LEFT JOIN connections c ON c.user_id = ",
        )
        .bind(viewer)
        .push(" AND c.friend_id = ")
        .bind(target)
        .push(" LEFT JOIN connection_requests r ON (r.from_user_id = ")
        .bind(viewer)
        .push(" AND r.to_user_id = ")
        .bind(target)
        .push(") OR (r.from_user_id = ")
        .bind(target)
        .push(" AND r.to_user_id = ")
        .bind(viewer)
        .push(")");
        let mut rows = PairRows::default();
        for row in self.txn.query_all(sql.build()).await? {
            rows.connected_at_us = opt_int(&row, "connected_at_us")?;
            let Some(from_user_id) = opt_int(&row, "from_user_id")? else {
                continue;
            };
            let request = RequestRow {
                from_user_id,
                to_user_id: int(&row, "to_user_id")?,
                created_at_us: int(&row, "created_at_us")?,
                id: int(&row, "id")?,
                rejected_at_us: opt_int(&row, "rejected_at_us")?,
                viewed_at_us: opt_int(&row, "viewed_at_us")?,
            };
            if from_user_id == viewer {
                rows.outgoing = Some(request);
            } else {
                rows.incoming = Some(request);
            }
        }
        Ok(rows)
    }

    /// Creates the pending request `from` → `to` at `at_us` with a new id from the database's
    /// id source (`migrations::request_ids`); returns it. One statement on PostgreSQL and
    /// MariaDB/MySQL, which hand out the id without a lock held to commit; two on SQLite.
    pub async fn create_request(
        &self,
        from: i64,
        to: i64,
        at_us: i64,
    ) -> Result<RequestRow, DbErr> {
        let backend = self.txn.get_database_backend();
        let mut request = RequestRow {
            from_user_id: from,
            to_user_id: to,
            created_at_us: at_us,
            id: 0,
            rejected_at_us: None,
            viewed_at_us: None,
        };
        let mut row = connection_request::ActiveModel::from(request);
        match backend {
            DatabaseBackend::Postgres => {
                row.id = NotSet;
                request.id = connection_request::Entity::insert(row)
                    .exec_with_returning(&self.txn)
                    .await?
                    .id;
            }
            DatabaseBackend::MySql => {
                row.id = NotSet;
                let inserted = self
                    .txn
                    .execute(connection_request::Entity::insert(row).build(backend))
                    .await?;
                request.id = i64::try_from(inserted.last_insert_id())
                    .map_err(|_| DbErr::Custom("request id out of range".into()))?;
            }
            _ => {
                request.id = self.next_counted_id().await?;
                row.id = Set(request.id);
                connection_request::Entity::insert(row)
                    .exec_without_returning(&self.txn)
                    .await?;
            }
        }
        Ok(request)
    }

    /// SQLite: the next id of the counter row, raised past every stored id (an id loaded by
    /// another writer is stepped over). The row is locked already: the transaction's first
    /// statement wrote it (`Store::lock_pair`).
    async fn next_counted_id(&self) -> Result<i64, DbErr> {
        let row = self
            .txn
            .query_one(Statement::from_string(
                DatabaseBackend::Sqlite,
                format!(
                    "{} + 1 WHERE id = 1 RETURNING last_id",
                    migrations::request_ids::SQLITE_RAISE_PAST_STORED
                ),
            ))
            .await?
            .ok_or_else(|| DbErr::RecordNotFound("connection_request_ids row 1".into()))?;
        int(&row, "last_id")
    }

    /// Connects `a` and `b` at `at_us` (both directed rows) and deletes every request between
    /// them.
    pub async fn connect(&self, a: i64, b: i64, at_us: i64) -> Result<(), DbErr> {
        self.delete_requests(a, b).await?;
        let rows = [(a, b), (b, a)].map(|(user_id, friend_id)| {
            connection::ActiveModel::from(connection::Model {
                user_id,
                friend_id,
                connected_at_us: at_us,
            })
        });
        connection::Entity::insert_many(rows)
            .exec_without_returning(&self.txn)
            .await?;
        Ok(())
    }

    /// Ends the connection of `a` and `b` (both directed rows).
    pub async fn disconnect(&self, a: i64, b: i64) -> Result<(), DbErr> {
        use connection::{Column, Entity};
        self.delete_between::<Entity>(Column::UserId, Column::FriendId, a, b)
            .await
    }

    /// Deletes the requests between `a` and `b`, both directions.
    async fn delete_requests(&self, a: i64, b: i64) -> Result<(), DbErr> {
        use connection_request::{Column, Entity};
        self.delete_between::<Entity>(Column::FromUserId, Column::ToUserId, a, b)
            .await
    }

    /// Deletes the rows of `E` linking `a` and `b` in either direction (`from`/`to`: its
    /// directed columns), in one statement.
    async fn delete_between<E: EntityTrait>(
        &self,
        from: E::Column,
        to: E::Column,
        a: i64,
        b: i64,
    ) -> Result<(), DbErr> {
        E::delete_many()
            .filter(either_way(from, to, a, b))
            .exec(&self.txn)
            .await?;
        Ok(())
    }

    /// Deletes the request `from` → `to`.
    pub async fn delete_request(&self, from: i64, to: i64) -> Result<(), DbErr> {
        connection_request::Entity::delete_by_id((from, to))
            .exec(&self.txn)
            .await?;
        Ok(())
    }

    /// Sets (or clears) `rejected_at_us` of the request `from` → `to`.
    pub async fn set_rejected(&self, from: i64, to: i64, at_us: Option<i64>) -> Result<(), DbErr> {
        connection_request::Entity::update_many()
            .col_expr(
                connection_request::Column::RejectedAtUs,
                sea_orm::sea_query::Expr::value(at_us),
            )
            .filter(connection_request::Column::FromUserId.eq(from))
            .filter(connection_request::Column::ToUserId.eq(to))
            .exec(&self.txn)
            .await?;
        Ok(())
    }

    /// Sets `viewed_at_us` of the request `from` → `to`.
    pub async fn set_viewed(&self, from: i64, to: i64, at_us: i64) -> Result<(), DbErr> {
        connection_request::Entity::update_many()
            .col_expr(
                connection_request::Column::ViewedAtUs,
                sea_orm::sea_query::Expr::value(at_us),
            )
            .filter(connection_request::Column::FromUserId.eq(from))
            .filter(connection_request::Column::ToUserId.eq(to))
            .exec(&self.txn)
            .await?;
        Ok(())
    }

    pub async fn commit(self) -> Result<(), DbErr> {
        self.txn.commit().await?;
        if let Some(notifier) = &self.notifier {
            notifier.committed();
        }
        Ok(())
    }
}

/// Which of a user's requests a request list holds (routes 10 and 11).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestBox {
    /// The pending requests to the user, by `created` descending, then sender id.
    Received,
    /// The requests from the user, pending and rejected, by `created` descending, then
    /// recipient id.
    Sent,
}

/// One page of a request list and the length of the whole list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestListRows {
    pub count: u64,
    pub rows: Vec<RequestRow>,
}

impl Store {
    /// The page (`offset`, `limit`) of `owner`'s `list`, in the list's order, with its count.
    /// Two statements in one read transaction, so the count and the page agree.
    pub async fn request_list(
        &self,
        owner: i64,
        list: RequestBox,
        offset: u64,
        limit: u64,
    ) -> Result<RequestListRows, DbErr> {
        use sea_orm::{PaginatorTrait, QueryOrder};
        let (owner_column, other_column) = match list {
            RequestBox::Received => (
                connection_request::Column::ToUserId,
                connection_request::Column::FromUserId,
            ),
            RequestBox::Sent => (
                connection_request::Column::FromUserId,
                connection_request::Column::ToUserId,
            ),
        };
        let mut query = connection_request::Entity::find().filter(owner_column.eq(owner));
        if list == RequestBox::Received {
            query = query.filter(connection_request::Column::RejectedAtUs.is_null());
        }
        self.to_completion(|store| async move {
            let txn = store.begin_on(store.reader(), None).await?;
            let count = query.clone().count(&txn).await?;
            let rows = if offset >= count {
                // Past the end: nothing to read (and no offset a backend could refuse).
                Vec::new()
            } else {
                query
                    .order_by_desc(connection_request::Column::CreatedAtUs)
                    .order_by_asc(other_column)
                    .offset(offset)
                    .limit(limit)
                    .all(&txn)
                    .await?
            };
            txn.commit().await?;
            Ok(RequestListRows { count, rows })
        })
        .await
    }
}

/// Rows linking `a` and `b` in either direction (`from`/`to` columns of a directed table).
fn either_way<C: sea_orm::ColumnTrait>(from: C, to: C, a: i64, b: i64) -> sea_orm::Condition {
    sea_orm::Condition::any()
        .add(from.eq(a).and(to.eq(b)))
        .add(from.eq(b).and(to.eq(a)))
}
