//! Changing the community settings without a code change (`community-gateway settings ...`).

use std::str::FromStr;

use anyhow::{bail, Context};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter};

use crate::entity::community_settings;
use crate::store::faults::retry_once;
use crate::store::records::SETTINGS_ROW_ID;
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
    // Only the columns set here are written (`update_many` with a partial active model).
    let mut row = <community_settings::ActiveModel as ActiveModelTrait>::default();
    for (key, value) in changes {
        let column = SETTING_KEYS
            .iter()
            .find(|k| **k == key.as_str())
            .and_then(|k| community_settings::Column::from_str(k).ok());
        let Some(column) = column else {
            bail!(
                "unknown setting {key:?} (known settings: {})",
                SETTING_KEYS.join(", ")
            );
        };
        row.set(column, (*value).into());
    }
    if row.is_changed() {
        retry_once(|| {
            community_settings::Entity::update_many()
                .set(row.clone())
                .filter(community_settings::Column::Id.eq(SETTINGS_ROW_ID))
                .exec(store.connection())
        })
        .await
        .context("updating the community settings")?;
        // This process's graph cache shows the new settings before we return.
        store.settle().await;
    }
    store
        .settings()
        .await
        .context("reading the community settings")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_key_is_a_column() {
        for key in SETTING_KEYS {
            let column = community_settings::Column::from_str(key);
            assert!(column.is_ok(), "{key}");
            assert!(
                !matches!(column, Ok(community_settings::Column::Id)),
                "{key}"
            );
        }
    }
}
