//! The database: connecting (the primary, and the read replicas of `replicas`), the records
//! the API serves (the entities' models, `crate::entity`), and the batched queries behind
//! them: entity queries for plain reads, raw SQL where one hand-tuned statement does the work
//! of several (`gate`, `relations`, the pages).
//!
//! Every query here takes a *set* of ids and answers for all of them in one statement, so the
//! callers (the DataLoaders in `crate::core`, `core/loaders.rs`) never run a statement per user.

mod changes;
mod db;
mod events;
pub mod faults;
mod lifecycle;
mod notify;
mod pages;
mod queries;
pub mod records;
mod replicas;
pub mod sql;
mod statements;
pub mod time;

pub use changes::{Change, RequestEnds};
pub use db::{redact, CatchUp, Store};
pub use events::EventRow;
pub use lifecycle::{Missing, PairRows, PairTx, RequestBox, RequestListRows, RequestRow};
pub use notify::NOTIFIER_NAME;
pub use queries::{
    ConnectionPageRows, Direction, EdgeKey, Gate, Keyset, PageRow, PageSpec, Relation,
};
pub use records::{Settings, TagRecord, UserRecord};
pub use replicas::{Reads, Replica, ReplicaState};
pub use statements::{Sender, StatementCounts};
