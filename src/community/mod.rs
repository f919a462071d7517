//! The community data file (example: `tests/fixtures/example-community.json`): parse and
//! validate it, import it into the database (replacing everything, in one transaction),
//! export the database back to it, make synthetic and demo communities, and change the
//! settings.
//!
//! - `file`: the serde types and `to_json`;
//! - `parse`: reading a file, with messages that name the first bad record;
//! - `validate`: every rule of the format plus the schema's limits, checked before any write;
//! - `import` / `pg`: the loaders (batched INSERTs; COPY on PostgreSQL);
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
