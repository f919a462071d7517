//! Changing the community settings without a code change (`community-gateway settings ...`).

use anyhow::{bail, Context};
use sea_orm::ConnectionTrait;

use crate::store::sql::Sql;
use crate::store::{Settings, Store};

/// The setting keys, which are also the `community_settings` column names.
pub const SETTING_KEYS: &[&str] = &[
    "connection_enabled",
    "follow_enabled",
    "content_availability",
];

/// Sets the given settings (later entries win over earlier ones for the same key) and returns
/// the settings now in force. Only the named columns are written, in one statement, so two
/// operators changing different settings at the same time do not undo each other. An unknown
/// key fails before anything is written.
pub async fn apply_settings(store: &Store, changes: &[(String, bool)]) -> anyhow::Result<Settings> {
    let mut columns: Vec<(&'static str, bool)> = Vec::new();
    for (key, value) in changes {
        let Some(column) = SETTING_KEYS.iter().find(|k| **k == key.as_str()) else {
            bail!(
                "unknown setting {key:?} (known settings: {})",
                SETTING_KEYS.join(", ")
            );
        };
        columns.retain(|(c, _)| c != column);
        columns.push((column, *value));
    }
    if !columns.is_empty() {
        let mut sql = Sql::new(store.backend());
        sql.push("UPDATE community_settings SET ");
        for (i, (column, value)) in columns.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            // `column` comes from SETTING_KEYS, never from the caller's text.
            sql.push(column).push(" = ").bind(*value);
        }
        sql.push(" WHERE id = 1");
        store
            .connection()
            .execute(sql.build())
            .await
            .context("updating the community settings")?;
    }
    store
        .settings()
        .await
        .context("reading the community settings")
}
