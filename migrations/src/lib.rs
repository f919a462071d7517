//! Database schema of community-gateway, as `sea-orm-migration` migrations.
//!
//! The schema is written once with SeaQuery's builders so it runs unchanged on SQLite,
//! PostgreSQL and MySQL/MariaDB. Conventions every backend shares:
//!
//! - ids are `BIGINT` and come from the community data file (no auto-increment), except
//!   the id of a request made through the API: a sequence (`m20261207_000001_request_id_sequence`);
//! - instants are `BIGINT` microseconds since the Unix epoch, UTC (`*_us` columns): one
//!   portable, exactly ordered type on all three backends, with none of MySQL's `TIMESTAMP`
//!   range limits (tokens may expire in 2099);
//! - a connection is stored as two directed rows, one per side, so "the connections of X in
//!   the API's order" is one range scan of `ix_connections_order`;
//! - a connection request is one row per direction, keyed by (from, to), with an `id` of its
//!   own (unique) and two optional instants, `rejected_at_us` and `viewed_at_us`.

pub use sea_orm_migration::prelude::*;

mod m20261126_000001_init;
pub mod m20261202_000001_change_feed;
mod m20261202_000002_request_lifecycle;
mod m20261202_000003_request_ids;
mod m20261202_000004_connection_events;
pub mod m20261207_000001_request_id_sequence;
pub mod m20261207_000002_deferred_notify;

/// The change feed the graph cache follows (see the migration).
pub use m20261202_000001_change_feed as change_feed;
/// Where new request ids come from (see the migration).
pub use m20261207_000001_request_id_sequence as request_ids;
/// How a writer takes the change feed's NOTIFY out of its commit (see the migration).
pub use m20261207_000002_deferred_notify as deferred_notify;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261126_000001_init::Migration),
            Box::new(m20261202_000001_change_feed::Migration),
            Box::new(m20261202_000002_request_lifecycle::Migration),
            Box::new(m20261202_000003_request_ids::Migration),
            Box::new(m20261202_000004_connection_events::Migration),
            Box::new(m20261207_000001_request_id_sequence::Migration),
            Box::new(m20261207_000002_deferred_notify::Migration),
        ]
    }
}
