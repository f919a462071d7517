//! Reading a data file: the fast typed parse followed by `validate`, and, only when the typed
//! parse fails, a slower walk over the JSON that finds the first bad record and says which key
//! is wrong.
//!
//! serde's own messages ("invalid type: string \"1\", expected i64 at line 80 column 12") name
//! neither the record nor the key, so a malformed file is read a second time as a
//! `serde_json::Value` and checked against the tables below, which list every key of every
//! record with its JSON type; records that are well formed go through the same rule checks as
//! in `validate`, so "the first bad record" means the same for both kinds of fault. A unit
//! test keeps the tables in step with the serde types.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::error::{label_of_value, render, FileError};
use super::file::{
    AccessToken, CommunityFile, Connection, ConnectionRequest, Gender, PartialSettings, Tag, User,
    GENDER_RULE,
};
use super::validate::{validate_with, Checker, Community};
use crate::progress::Progress;

/// The JSON shape a key must have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    Int,
    NullableInt,
    Str,
    NullableStr,
    Bool,
    IntList,
    IntPair,
    Gender,
    /// May be absent or `null` (a token's two alternative keys, a request's times).
    OptionalStr,
    /// May be absent; when present, an integer (a request's `id`).
    OptionalInt,
}

pub(crate) const TAG_KEYS: &[(&str, Shape)] = &[
    ("id", Shape::Int),
    ("type", Shape::Str),
    ("name", Shape::Str),
    ("description", Shape::Str),
    ("color", Shape::Str),
    ("visible", Shape::Bool),
    ("visibility_boost", Shape::Bool),
    ("active", Shape::Bool),
    ("deleted", Shape::Bool),
    ("created_at", Shape::Str),
];

pub(crate) const USER_KEYS: &[(&str, Shape)] = &[
    ("id", Shape::Int),
    ("username", Shape::Str),
    ("real_name", Shape::Str),
    ("avatar", Shape::NullableStr),
    ("ext_id", Shape::NullableInt),
    ("followings_counter", Shape::Int),
    ("followers_counter", Shape::Int),
    ("posts_counter", Shape::Int),
    ("discussions_counter", Shape::Int),
    ("polls_counter", Shape::Int),
    ("categories_counter", Shape::Int),
    ("date_joined", Shape::Str),
    ("bio", Shape::Str),
    ("location", Shape::Str),
    ("location_lat_lng", Shape::NullableStr),
    ("position_lat_lng", Shape::NullableStr),
    ("date_of_birth", Shape::NullableStr),
    ("description", Shape::Str),
    ("gender", Shape::Gender),
    ("website", Shape::Str),
    ("cover", Shape::NullableStr),
    ("reputation", Shape::Int),
    ("community_badge", Shape::Bool),
    ("reg_approved", Shape::Bool),
    ("deleted", Shape::Bool),
    ("company_name", Shape::Str),
    ("company_role", Shape::Str),
    ("tags", Shape::IntList),
];

pub(crate) const CONNECTION_KEYS: &[(&str, Shape)] =
    &[("users", Shape::IntPair), ("connected_at", Shape::Str)];

pub(crate) const REQUEST_KEYS: &[(&str, Shape)] = &[
    ("id", Shape::OptionalInt),
    ("from", Shape::Int),
    ("to", Shape::Int),
    ("created_at", Shape::Str),
    ("rejected_at", Shape::OptionalStr),
    ("viewed_at", Shape::OptionalStr),
];

pub(crate) const TOKEN_KEYS: &[(&str, Shape)] = &[
    ("token", Shape::OptionalStr),
    ("token_sha256", Shape::OptionalStr),
    ("user_id", Shape::Int),
    ("expires_at", Shape::Str),
];

/// The top-level keys, in the fixture's order.
pub(crate) const SECTIONS: &[&str] = &[
    "settings",
    "tags",
    "users",
    "connections",
    "connection_requests",
    "access_tokens",
];

const SETTINGS_KEYS: &[&str] = &[
    "connection_enabled",
    "follow_enabled",
    "content_availability",
];

/// Parses and fully validates a data file; the error names the first bad record and why.
pub fn parse(bytes: &[u8]) -> Result<Community, FileError> {
    parse_with(bytes, &Progress::quiet())
}

/// `parse`, reporting its two phases to `progress`: `parse` (the JSON, counted in bytes) and
/// `validate` (`validate_with`).
pub fn parse_with(bytes: &[u8], progress: &Progress) -> Result<Community, FileError> {
    let phase = progress.phase("parse", "bytes", Some(bytes.len() as u64));
    let file = match serde_json::from_slice::<CommunityFile>(bytes) {
        Ok(file) => file,
        Err(typed_error) => return Err(explain(bytes, typed_error)),
    };
    phase.inc(bytes.len() as u64);
    phase.finish();
    validate_with(file, progress)
}

/// Turns a failed typed parse into a message that names the record and the key.
fn explain(bytes: &[u8], typed_error: serde_json::Error) -> FileError {
    let value = match serde_json::from_slice::<Value>(bytes) {
        Ok(value) => value,
        Err(syntax) => return FileError::file(format!("not valid JSON ({syntax})")),
    };
    // The walk should always find what serde found; if not, serde's message is still true.
    diagnose(&value).unwrap_or_else(|| FileError::file(typed_error.to_string()))
}

/// The first problem of a malformed document: first the document's own shape (an object
/// with exactly the six keys), then `settings`, then every record, sections in the fixture's
/// order and records in file order. A record that is well formed goes on to the same rule
/// checks `validate` applies, so an earlier record that breaks a rule is named before a later
/// one that is malformed.
fn diagnose(value: &Value) -> Option<FileError> {
    let Some(top) = value.as_object() else {
        return Some(FileError::file(
            "must be a JSON object with the keys settings, tags, users, connections, \
             connection_requests and access_tokens",
        ));
    };
    if let Some(key) = top.keys().find(|key| !SECTIONS.contains(&key.as_str())) {
        return Some(FileError::file(format!("unknown key {key:?}")));
    }
    if let Some(key) = SECTIONS.iter().find(|key| !top.contains_key(**key)) {
        return Some(FileError::file(format!("missing key {key:?}")));
    }
    let mut check = Checker::default();
    check_settings(&top["settings"])
        .or_else(|| {
            check_records("tags", &top["tags"], TAG_KEYS, |i, t: Tag| {
                check.tag(i, &t).map(drop)
            })
        })
        .or_else(|| {
            check_records("users", &top["users"], USER_KEYS, |i, u: User| {
                check.user(i, &u).map(drop)
            })
        })
        .or_else(|| {
            check_records(
                "connections",
                &top["connections"],
                CONNECTION_KEYS,
                |i, c: Connection| check.connection(i, &c).map(drop),
            )
        })
        .or_else(|| {
            check_records(
                "connection_requests",
                &top["connection_requests"],
                REQUEST_KEYS,
                |i, r: ConnectionRequest| check.request(i, &r).map(drop),
            )
        })
        .or_else(|| {
            check_records(
                "access_tokens",
                &top["access_tokens"],
                TOKEN_KEYS,
                |i, t: AccessToken| check.token(i, &t).map(drop),
            )
        })
}

fn check_settings(section: &Value) -> Option<FileError> {
    let Some(map) = section.as_object() else {
        return Some(FileError::new("settings", "must be a JSON object"));
    };
    for (key, value) in map {
        if !SETTINGS_KEYS.contains(&key.as_str()) {
            return Some(FileError::new(
                "settings",
                format!("unknown key {key:?} (known: {})", SETTINGS_KEYS.join(", ")),
            ));
        }
        if !value.is_boolean() {
            return Some(FileError::new(
                "settings",
                format!("{key:?} must be true or false (got {})", render(value)),
            ));
        }
    }
    serde_json::from_value::<PartialSettings>(section.clone())
        .err()
        .map(|e| FileError::new("settings", e.to_string()))
}

/// Checks each record of an array section against its key table, then against its serde
/// type, then against the rules (`rules`, which also remembers the record for later ones).
fn check_records<T: DeserializeOwned>(
    section: &str,
    value: &Value,
    keys: &[(&str, Shape)],
    mut rules: impl FnMut(usize, T) -> Result<(), String>,
) -> Option<FileError> {
    let Some(records) = value.as_array() else {
        return Some(FileError::new(section, "must be a JSON array"));
    };
    records.iter().enumerate().find_map(|(index, record)| {
        let reason = match record.as_object() {
            None => Some("must be a JSON object".to_string()),
            Some(map) => check_keys(map, keys).or_else(|| {
                match serde_json::from_value::<T>(record.clone()) {
                    Ok(typed) => rules(index, typed).err(),
                    Err(e) => Some(e.to_string()),
                }
            }),
        };
        reason.map(|reason| FileError::new(label_of_value(section, index, record), reason))
    })
}

/// The first unknown, ill-typed or missing key of one record.
fn check_keys(map: &Map<String, Value>, keys: &[(&str, Shape)]) -> Option<String> {
    for (key, value) in map {
        let Some((_, shape)) = keys.iter().find(|(known, _)| known == key) else {
            return Some(format!("unknown key {key:?}"));
        };
        if let Some(problem) = check_shape(*shape, value) {
            return Some(format!("{key:?} {problem} (got {})", render(value)));
        }
    }
    keys.iter()
        .find(|(key, shape)| !shape.optional() && !map.contains_key(*key))
        .map(|(key, _)| format!("missing key {key:?}"))
}

impl Shape {
    /// Whether a record may leave the key out.
    fn optional(self) -> bool {
        matches!(self, Shape::OptionalStr | Shape::OptionalInt)
    }
}

/// What is wrong with `value` for `shape`, if anything.
fn check_shape(shape: Shape, value: &Value) -> Option<String> {
    let ok = match shape {
        Shape::Int | Shape::OptionalInt => value.is_i64(),
        Shape::NullableInt => value.is_null() || value.is_i64(),
        Shape::Str => value.is_string(),
        Shape::NullableStr | Shape::OptionalStr => value.is_null() || value.is_string(),
        Shape::Bool => value.is_boolean(),
        Shape::IntList => value
            .as_array()
            .is_some_and(|items| items.iter().all(Value::is_i64)),
        Shape::IntPair => value
            .as_array()
            .is_some_and(|items| items.len() == 2 && items.iter().all(Value::is_i64)),
        Shape::Gender => value.as_str().and_then(Gender::parse).is_some(),
    };
    if ok {
        return None;
    }
    Some(
        match shape {
            Shape::Int | Shape::OptionalInt => "must be an integer (64-bit)",
            Shape::NullableInt => "must be an integer (64-bit) or null",
            Shape::Str => "must be a string",
            Shape::NullableStr | Shape::OptionalStr => "must be a string or null",
            Shape::Bool => "must be true or false",
            Shape::IntList => "must be a list of integers",
            Shape::IntPair => "must be a list of exactly two integers",
            Shape::Gender => GENDER_RULE,
        }
        .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Settings;

    fn sample() -> CommunityFile {
        CommunityFile {
            settings: Settings::default(),
            tags: vec![Tag {
                id: 1,
                kind: "user".into(),
                name: "Moderator".into(),
                description: String::new(),
                color: "#000000".into(),
                visible: true,
                visibility_boost: false,
                active: true,
                deleted: false,
                created_at: "2024-01-01T00:00:00Z".into(),
            }],
            users: vec![User {
                id: 1,
                username: "alice".into(),
                real_name: String::new(),
                avatar: None,
                ext_id: None,
                followings_counter: 0,
                followers_counter: 0,
                posts_counter: 0,
                discussions_counter: 0,
                polls_counter: 0,
                categories_counter: 0,
                date_joined: "2024-01-01T00:00:00Z".into(),
                bio: String::new(),
                location: String::new(),
                location_lat_lng: None,
                position_lat_lng: None,
                date_of_birth: None,
                description: String::new(),
                gender: Gender::Unspecified,
                website: String::new(),
                cover: None,
                reputation: 0,
                community_badge: false,
                reg_approved: true,
                deleted: false,
                company_name: String::new(),
                company_role: String::new(),
                tags: vec![1],
            }],
            connections: vec![],
            connection_requests: vec![],
            access_tokens: vec![AccessToken {
                token: Some("t".into()),
                token_sha256: None,
                user_id: 1,
                expires_at: "2099-01-01T00:00:00Z".into(),
            }],
        }
    }

    fn keys_of(value: &Value) -> Vec<String> {
        value.as_object().unwrap().keys().cloned().collect()
    }

    fn table_keys(table: &[(&str, Shape)]) -> Vec<String> {
        table.iter().map(|(k, _)| k.to_string()).collect()
    }

    /// The diagnosis tables must list exactly the keys the serde types write, in their order.
    #[test]
    fn key_tables_match_the_serde_types() {
        let value = serde_json::to_value(sample()).unwrap();
        assert_eq!(keys_of(&value), SECTIONS);
        assert_eq!(keys_of(&value["tags"][0]), table_keys(TAG_KEYS));
        assert_eq!(keys_of(&value["users"][0]), table_keys(USER_KEYS));
        assert_eq!(keys_of(&value["settings"]), SETTINGS_KEYS);
        let conn = Connection {
            users: [1, 2],
            connected_at: "x".into(),
        };
        assert_eq!(
            keys_of(&serde_json::to_value(conn).unwrap()),
            table_keys(CONNECTION_KEYS)
        );
        let req = ConnectionRequest {
            id: Some(1),
            from: 1,
            to: 2,
            created_at: "x".into(),
            rejected_at: None,
            viewed_at: Some("y".into()),
        };
        assert_eq!(
            keys_of(&serde_json::to_value(req).unwrap()),
            table_keys(REQUEST_KEYS)
        );
        let token = AccessToken {
            token: Some("a".into()),
            token_sha256: Some("b".into()),
            user_id: 1,
            expires_at: "x".into(),
        };
        assert_eq!(
            keys_of(&serde_json::to_value(token).unwrap()),
            table_keys(TOKEN_KEYS)
        );
    }

    fn reject(value: Value) -> String {
        parse(value.to_string().as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn a_missing_nullable_key_is_rejected() {
        let mut value = serde_json::to_value(sample()).unwrap();
        value["users"][0].as_object_mut().unwrap().remove("avatar");
        assert_eq!(
            reject(value),
            "users[0] (id 1, username \"alice\"): missing key \"avatar\""
        );
    }

    #[test]
    fn a_wrong_type_names_the_key() {
        let mut value = serde_json::to_value(sample()).unwrap();
        value["users"][0]["posts_counter"] = Value::String("3".into());
        assert_eq!(
            reject(value),
            "users[0] (id 1, username \"alice\"): \"posts_counter\" must be an integer (64-bit) (got \"3\")"
        );
    }

    #[test]
    fn unknown_keys_are_rejected_everywhere() {
        let mut value = serde_json::to_value(sample()).unwrap();
        value["tags"][0]["colour"] = Value::Bool(true);
        assert_eq!(reject(value), "tags[0] (id 1): unknown key \"colour\"");
        let mut value = serde_json::to_value(sample()).unwrap();
        value["extra"] = Value::Null;
        assert_eq!(reject(value), "the file: unknown key \"extra\"");
        let mut value = serde_json::to_value(sample()).unwrap();
        value["settings"]["dark_mode"] = Value::Bool(true);
        assert!(reject(value).starts_with("settings: unknown key \"dark_mode\""));
    }

    #[test]
    fn settings_may_be_partial_but_the_key_is_required() {
        let mut value = serde_json::to_value(sample()).unwrap();
        value["settings"] = serde_json::json!({"follow_enabled": true});
        let file = parse(value.to_string().as_bytes()).unwrap();
        assert!(file.settings.follow_enabled && file.settings.connection_enabled);
        let mut value = serde_json::to_value(sample()).unwrap();
        value.as_object_mut().unwrap().remove("settings");
        assert_eq!(reject(value), "the file: missing key \"settings\"");
    }

    #[test]
    fn syntax_errors_say_where() {
        let err = parse(b"{\"settings\": ").unwrap_err().to_string();
        assert!(err.starts_with("the file: not valid JSON"), "{err}");
        assert!(err.contains("line 1"), "{err}");
    }

    #[test]
    fn an_unknown_gender_lists_the_allowed_values() {
        let mut value = serde_json::to_value(sample()).unwrap();
        value["users"][0]["gender"] = Value::String("male".into());
        assert_eq!(
            reject(value),
            "users[0] (id 1, username \"alice\"): \"gender\" must be \"Male\", \"Female\" or \"Unspecified\" (got \"male\")"
        );
    }
}
