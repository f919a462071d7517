//! The serde types of the community data file, and its text form.
//!
//! The types mirror the data file format (example: `tests/fixtures/example-community.json`)
//! field for field and in the same order, so that serialising them writes the keys in the
//! fixture's order. Times stay as the file's text here:
//! they are checked and turned into instants by `validate`, and written back by `export` in
//! the one canonical form (`file_time`), which is what makes export → import → export exact.

use serde::{Deserialize, Deserializer, Serialize};

use crate::entity::user::user_fields;
use crate::store::Settings;

/// A whole community: what `import` loads and `export` writes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommunityFile {
    /// Keys the file omits take their defaults (the spec allows a partial `settings`).
    #[serde(deserialize_with = "settings_with_defaults")]
    pub settings: Settings,
    pub tags: Vec<Tag>,
    pub users: Vec<User>,
    pub connections: Vec<Connection>,
    pub connection_requests: Vec<ConnectionRequest>,
    pub access_tokens: Vec<AccessToken>,
}

/// A tag that users can carry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tag {
    pub id: i64,
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub description: String,
    pub color: String,
    pub visible: bool,
    pub visibility_boost: bool,
    pub active: bool,
    pub deleted: bool,
    pub created_at: String,
}

/// The file's User, generated from `entity::user::user_fields!`: its keys are the REST
/// keys, in the same order, then `tags`.
macro_rules! file_user {
    (head: [$($h:tt)*], middle: [$($m:tt)*], tail: [$($t:tt)*],) => {
        file_user!(@munch [] $($h)* $($m)* $($t)*);
    };
    (@munch [$($done:tt)*] { $field:ident: [$($ty:tt)*], [$($orm:tt)*], $api:ident, $gql:literal,
        $kind:ident, $doc:literal, $rest:literal } $($more:tt)*) => {
        file_user!(@kind $kind $api [$($done)*] [$($more)*]);
    };
    (@munch [$($done:tt)*]) => {
        /// A member of the community. Nullable keys use `nullable` so that a missing key is an
        /// error rather than silently `null` (serde's default for `Option`).
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct User {
            $($done)*
            /// Tag ids; `export` writes them ascending.
            pub tags: Vec<i64>,
        }
    };
    (@kind OptId $api:ident [$($done:tt)*] [$($more:tt)*]) => {
        file_user!(@munch [$($done)* #[serde(deserialize_with = "nullable")] pub $api: Option<i64>,] $($more)*);
    };
    (@kind OptStr $api:ident [$($done:tt)*] [$($more:tt)*]) => {
        file_user!(@munch [$($done)* #[serde(deserialize_with = "nullable")] pub $api: Option<String>,] $($more)*);
    };
    (@kind Date $api:ident [$($done:tt)*] [$($more:tt)*]) => {
        file_user!(@kind OptStr $api [$($done)*] [$($more)*]);
    };
    (@kind Time $api:ident [$($done:tt)*] [$($more:tt)*]) => {
        file_user!(@munch [$($done)* pub $api: String,] $($more)*);
    };
    (@kind Str $api:ident [$($done:tt)*] [$($more:tt)*]) => {
        file_user!(@munch [$($done)* pub $api: String,] $($more)*);
    };
    (@kind Gender $api:ident [$($done:tt)*] [$($more:tt)*]) => {
        file_user!(@munch [$($done)* pub $api: Gender,] $($more)*);
    };
    (@kind Bool $api:ident [$($done:tt)*] [$($more:tt)*]) => {
        file_user!(@munch [$($done)* pub $api: bool,] $($more)*);
    };
    // Id, Count, FollowCount.
    (@kind $integer:ident $api:ident [$($done:tt)*] [$($more:tt)*]) => {
        file_user!(@munch [$($done)* pub $api: i64,] $($more)*);
    };
}
user_fields!(file_user);

/// The three values the API knows for `gender`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Gender {
    Male,
    Female,
    Unspecified,
}

impl Gender {
    /// The stored and served spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Gender::Male => "Male",
            Gender::Female => "Female",
            Gender::Unspecified => "Unspecified",
        }
    }

    /// The gender spelled `text`, exactly (the API is case-sensitive).
    pub fn parse(text: &str) -> Option<Gender> {
        match text {
            "Male" => Some(Gender::Male),
            "Female" => Some(Gender::Female),
            "Unspecified" => Some(Gender::Unspecified),
            _ => None,
        }
    }
}

/// Written by hand so the message names the key and the allowed values, which serde's
/// "unknown variant" message does not.
impl<'de> Deserialize<'de> for Gender {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Gender::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("gender {GENDER_RULE} (got {text:?})")))
    }
}

/// The rule for `gender`, for messages.
pub(crate) const GENDER_RULE: &str = "must be \"Male\", \"Female\" or \"Unspecified\"";

/// An accepted, symmetric friendship.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Connection {
    /// The two users; `export` writes the smaller id first.
    pub users: [i64; 2],
    pub connected_at: String,
}

/// A directed friendship request, pending or rejected. `id`, `rejected_at` and `viewed_at`
/// may be absent (a file written before they existed): `validate` then gives the request an
/// id (in file order, after the largest id the file gives) and takes it as pending and never
/// seen. `export` writes all six keys.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionRequest {
    /// Absent: assigned on import. Present, it must be an integer (`null` is refused).
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<i64>,
    pub from: i64,
    pub to: i64,
    pub created_at: String,
    /// Set: the recipient declined the request.
    #[serde(default)]
    pub rejected_at: Option<String>,
    /// Set: the recipient marked the request seen.
    #[serde(default)]
    pub viewed_at: Option<String>,
}

/// An opaque access token. Exactly one of `token` (the plain token, hashed on import) and
/// `token_sha256` is given; `export` writes `token_sha256` since the plain token is not kept.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessToken {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_sha256: Option<String>,
    pub user_id: i64,
    pub expires_at: String,
}

/// `settings` as the file may give it: any subset of the keys.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PartialSettings {
    #[serde(default)]
    pub connection_enabled: Option<bool>,
    #[serde(default)]
    pub follow_enabled: Option<bool>,
    #[serde(default)]
    pub content_availability: Option<bool>,
}

impl PartialSettings {
    /// The settings, with the spec's defaults where a key is absent.
    pub fn resolve(self) -> Settings {
        let defaults = Settings::default();
        Settings {
            connection_enabled: self
                .connection_enabled
                .unwrap_or(defaults.connection_enabled),
            follow_enabled: self.follow_enabled.unwrap_or(defaults.follow_enabled),
            content_availability: self
                .content_availability
                .unwrap_or(defaults.content_availability),
        }
    }
}

fn settings_with_defaults<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Settings, D::Error> {
    Ok(PartialSettings::deserialize(deserializer)?.resolve())
}

/// An `Option` whose key must be present (its value may be `null`).
fn nullable<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer)
}

/// An optional key whose value, when the key is present, must not be `null`.
fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// The file as text: pretty JSON with a 2-space indent, keys in the fixture's order, and a
/// trailing newline.
pub fn to_json(file: &CommunityFile) -> String {
    // Serialising plain structs of strings, integers and booleans into a String cannot fail.
    let mut text = serde_json::to_string_pretty(file).unwrap_or_default();
    text.push('\n');
    text
}
