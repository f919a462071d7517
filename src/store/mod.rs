//! The database: connecting, the records the API serves, and the few hand-tuned batched
//! queries behind them.
//!
//! Every query here takes a *set* of ids and answers for all of them in one statement, so the
//! callers (the DataLoaders in `crate::connections`) never run a statement per user.

mod db;
pub mod faults;
mod pages;
mod queries;
pub mod records;
pub mod sql;
pub mod time;

pub use db::{redact, Store};
pub use queries::{ConnectionPageRows, Gate, PageRow, PageSpec, Relation};
pub use records::{Settings, TagRecord, UserRecord};
