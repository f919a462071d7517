//! Writes of a whole community into the database: a valid data file loaded in place of
//! everything (readers keep being served the old community until a swap of milliseconds),
//! and the community settings.
//!
//! - `import`: picks the loader: `pg` (COPY into staging tables, then a swap), `mysql`
//!   (multi-row INSERTs into staging tables, then one atomic `RENAME TABLE`), `sqlite` (one
//!   transaction, indexes rebuilt after the load; readers keep their WAL snapshot);
//! - `tables`: the tables and columns the loaders share, from the entities;
//! - `settings`: `apply_settings`.

mod import;
mod mysql;
mod pg;
mod settings;
mod sqlite;
mod tables;

pub use import::{import, import_with, ImportReport};
pub use settings::{apply_settings, SETTING_KEYS};
