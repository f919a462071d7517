//! The leaves of User and Tag the compiled path writes, by their GraphQL names, each written
//! as the reference's resolver in `graphql/types.rs` answers it (`tests/it/graphql_exec.rs`
//! checks every one against it, on every backend).

use super::json;
use crate::entity::user::user_fields;
use crate::store::time::api_time;
use crate::store::{TagRecord, UserRecord};

/// A User field answered from the stored record (and, for the follow counters, the
/// community's follow mode), or the id: an index into `USER_LEAVES`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserLeaf(usize);

/// What writes one stored field: the output, the record, whether the community is in follow
/// mode (the follow counters are null otherwise).
type LeafWriter = fn(&mut Vec<u8>, &UserRecord, bool);

/// Each stored User field's GraphQL name and writer, generated from
/// `entity::user::user_fields!`, each kind written as the reference's resolver of that kind
/// in `graphql/types.rs` answers it.
macro_rules! user_leaves {
    (head: [$($h:tt)*], middle: [$($m:tt)*], tail: [$($t:tt)*],) => {
        user_leaves!(@ $($h)* $($m)* $($t)*);
    };
    (@ $({ $field:ident: [$($ty:tt)*], [$($orm:tt)*], $api:ident, $gql:literal, $kind:ident,
           $doc:literal, $rest:literal })*) => {
        static USER_LEAVES: &[(&str, LeafWriter)] = &[
            $( ($gql, |out, u, follow| user_leaves!(@write $kind, out, u.$field, follow)), )*
        ];
    };
    (@write FollowCount, $out:ident, $value:expr, $follow:ident) => {
        if $follow { json::int($out, $value) } else { json::null($out) }
    };
    (@write $kind:ident, $out:ident, $value:expr, $follow:ident) => {{
        let _ = $follow;
        user_leaves!(@plain $kind, $out, $value)
    }};
    (@plain Id, $out:ident, $value:expr) => { json::id($out, $value) };
    (@plain OptId, $out:ident, $value:expr) => {
        match $value {
            Some(id) => json::id($out, id),
            None => json::null($out),
        }
    };
    (@plain Count, $out:ident, $value:expr) => { json::int($out, $value) };
    (@plain Time, $out:ident, $value:expr) => { json::string($out, &api_time($value)) };
    (@plain Bool, $out:ident, $value:expr) => { json::boolean($out, $value) };
    (@plain Str, $out:ident, $value:expr) => { json::string($out, &$value) };
    (@plain Gender, $out:ident, $value:expr) => { json::string($out, &$value) };
    (@plain OptStr, $out:ident, $value:expr) => { json::opt_string($out, $value.as_deref()) };
    (@plain Date, $out:ident, $value:expr) => { json::opt_string($out, $value.as_deref()) };
}
user_fields!(user_leaves);

impl UserLeaf {
    pub fn named(name: &str) -> Option<UserLeaf> {
        USER_LEAVES
            .iter()
            .position(|(leaf, _)| *leaf == name)
            .map(UserLeaf)
    }

    /// The id (which the plan writes from the listed id, without the record).
    pub fn is_id(self) -> bool {
        USER_LEAVES[self.0].0 == "id"
    }

    /// Writes the field of `u`; `follow`: whether the community is in follow mode.
    pub fn write(self, out: &mut Vec<u8>, u: &UserRecord, follow: bool) {
        (USER_LEAVES[self.0].1)(out, u, follow)
    }
}

/// A Tag field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TagLeaf {
    Id,
    Type,
    Name,
    Description,
    Color,
    Visible,
    VisibilityBoost,
    CreatedAt,
    Active,
    Deleted,
}

impl TagLeaf {
    pub fn named(name: &str) -> Option<TagLeaf> {
        use TagLeaf::*;
        Some(match name {
            "id" => Id,
            "type" => Type,
            "name" => Name,
            "description" => Description,
            "color" => Color,
            "visible" => Visible,
            "visibilityBoost" => VisibilityBoost,
            "createdAt" => CreatedAt,
            "active" => Active,
            "deleted" => Deleted,
            _ => return None,
        })
    }

    pub fn write(self, out: &mut Vec<u8>, t: &TagRecord) {
        use TagLeaf::*;
        match self {
            Id => json::id(out, t.id),
            Type => json::string(out, &t.kind),
            Name => json::string(out, &t.name),
            Description => json::string(out, &t.description),
            Color => json::string(out, &t.color),
            Visible => json::boolean(out, t.visible),
            VisibilityBoost => json::boolean(out, t.visibility_boost),
            CreatedAt => json::string(out, &api_time(t.created_at_us)),
            Active => json::boolean(out, t.active),
            Deleted => json::boolean(out, t.deleted),
        }
    }
}
