//! `connection_events`: the live events of the connection lifecycle, one row per action that
//! changed a pair (`migrations`, `m20261202_000004_connection_events`). Rows are delivered by
//! the feed follower and deleted after a few minutes; nothing else reads them.

use sea_orm::entity::prelude::*;

/// `actor_id` acted on `target_id` at `at_us` (epoch microseconds, UTC, whole seconds).
/// `kind` and `target_status` are the codes of `core::lifecycle::EventKind` and
/// `core::ConnectionStatus`; the `request_*` columns are the request concerned as it is after
/// the action (all null when it was deleted). No foreign keys: an event outlives nothing, but
/// a user deleted before its event is delivered must not block the delete.
#[derive(Clone, Copy, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "connection_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub kind: i16,
    pub actor_id: i64,
    pub target_id: i64,
    pub at_us: i64,
    pub target_status: Option<i16>,
    pub request_id: Option<i64>,
    pub request_from_id: Option<i64>,
    pub request_to_id: Option<i64>,
    pub request_created_us: Option<i64>,
    pub request_rejected_us: Option<i64>,
    pub request_viewed_us: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
