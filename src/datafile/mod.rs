//! The community data file (`docs/data-file.md`; example:
//! `tests/fixtures/example-community.json`): its format, parsing and validating it (once),
//! exporting the database back to it, and synthetic and demo communities. Loading a valid
//! file into the database is `crate::bulk`'s.
//!
//! - `file`: the serde types and `to_json`;
//! - `parse`: reading a file, with messages that name the first bad record;
//! - `validate`: every rule of the format plus the schema's limits, checked before any write;
//!   a `Community` is a file that passed them, and the only thing `import` takes;
//! - `export`: the database as a file, in canonical order;
//! - `synthetic`: deterministic made-up communities, and the demo.

mod error;
mod export;
mod file;
mod parse;
mod synthetic;
mod validate;

pub use crate::store::Settings;
pub use error::FileError;
pub use export::{export, export_with};
pub use file::{
    to_json, AccessToken, CommunityFile, Connection, ConnectionRequest, Gender, Tag, User,
};
pub use parse::{parse, parse_with};
pub use synthetic::{demo, synthetic, DEMO_TOKEN};
/// What the loaders insert (`crate::bulk`).
pub(crate) use validate::Validated;
pub use validate::{validate, validate_with, Community};
