//! The community data file (`docs/data-file.md`; example:
//! `tests/fixtures/example-community.json`): parse and validate it (once), import it into the
//! database (replacing everything while readers keep being served the old community until a
//! swap of milliseconds), export the database back to it, make synthetic and demo
//! communities, and change the settings.
//!
//! - `file`: the serde types and `to_json`;
//! - `parse`: reading a file, with messages that name the first bad record;
//! - `validate`: every rule of the format plus the schema's limits, checked before any write;
//!   a `Community` is a file that passed them, and the only thing `import` takes;
//! - `import`: picks the loader: `pg` (COPY into staging tables, then a swap), `mysql`
//!   (multi-row INSERTs into staging tables, then one atomic `RENAME TABLE`), `sqlite` (one
//!   transaction, indexes rebuilt after the load; readers keep their WAL snapshot);
//! - `tables`: the tables and columns the loaders share, from the entities;
//! - `export`: the database as a file, in canonical order;
//! - `synthetic`: deterministic made-up communities, and the demo;
//! - `settings`: `apply_settings`.

mod error;
mod export;
mod file;
mod import;
mod mysql;
mod parse;
mod pg;
mod settings;
mod sqlite;
mod synthetic;
mod tables;
mod validate;

pub use crate::store::Settings;
pub use error::FileError;
pub use export::export;
pub use file::{
    to_json, AccessToken, CommunityFile, Connection, ConnectionRequest, Gender, Tag, User,
};
pub use import::{import, ImportReport};
pub use parse::parse;
pub use settings::{apply_settings, SETTING_KEYS};
pub use synthetic::{demo, synthetic, DEMO_TOKEN};
pub use validate::{validate, Community};
