//! The live events of the connection lifecycle (`connection_events`, see its migration): the
//! row an action writes in its transaction, and the reads and pruning of the feed follower.

use migrations::change_feed::{kind, CHANGES_TABLE};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, DbErr, EntityTrait, NotSet,
    QueryFilter, QueryOrder, QueryTrait, Statement,
};

use super::db::Store;
use super::lifecycle::PairTx;
use super::sql::Sql;
use crate::entity::connection_event;

/// One event, as stored.
pub type EventRow = connection_event::Model;

impl PairTx {
    /// Records `event` (its id is assigned here) and the change row that makes every server's
    /// follower deliver it once this transaction commits.
    pub async fn record_event(&self, event: EventRow) -> Result<(), DbErr> {
        let mut row = connection_event::ActiveModel::from(event);
        row.id = NotSet;
        let backend = self.txn.get_database_backend();
        if backend == DatabaseBackend::Postgres {
            // Hand-written around the entity's INSERT: the event and its change row in one
            // statement, one round trip less while the pair's locks are held.
            let insert = connection_event::Entity::insert(row).build(backend);
            let sql = format!(
                "WITH e AS ({} RETURNING id, target_id) \
                 INSERT INTO {CHANGES_TABLE} (kind, a, b) SELECT {}, id, target_id FROM e",
                insert.sql,
                kind::EVENT
            );
            let values = insert.values.map(|values| values.0).unwrap_or_default();
            self.txn
                .execute(Statement::from_sql_and_values(backend, sql, values))
                .await?;
            return Ok(());
        }
        let stored = row.insert(&self.txn).await?;
        let mut sql = Sql::new(backend);
        sql.push("INSERT INTO ")
            .push(CHANGES_TABLE)
            .push(" (kind, a, b) VALUES (")
            .bind(kind::EVENT as i64)
            .push(", ")
            .bind(stored.id)
            .push(", ")
            .bind(stored.target_id)
            .push(")");
        self.txn.execute(sql.build()).await?;
        Ok(())
    }
}

impl Store {
    /// The events with these ids, by id.
    pub async fn events_by_ids(&self, ids: &[i64]) -> Result<Vec<EventRow>, DbErr> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        connection_event::Entity::find()
            .filter(connection_event::Column::Id.is_in(ids.iter().copied()))
            .order_by_asc(connection_event::Column::Id)
            .all(self.connection())
            .await
    }

    /// Deletes the events written before `before_us` (delivered long ago, or never to be).
    pub async fn prune_events(&self, before_us: i64) -> Result<u64, DbErr> {
        let deleted = connection_event::Entity::delete_many()
            .filter(connection_event::Column::AtUs.lt(before_us))
            .exec(self.connection())
            .await?;
        Ok(deleted.rows_affected)
    }
}
