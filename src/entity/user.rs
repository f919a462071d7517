//! `users`: one row per community member, and THE definition of the User object.
//!
//! `user_fields!` lists every stored field of the API's User object once: its column (name,
//! Rust type, SeaORM attributes), its REST key, its GraphQL name, its kind (how each surface
//! writes it) and its description. Everything that lists User fields is generated from it:
//! - the entity below (and with it the column list the page statements select);
//! - `store::records::user_from_row` (the positional read of a page row);
//! - the REST body and its OpenAPI schema (`rest/user.rs`);
//! - the GraphQL resolvers (`graphql/types.rs`) and the compiled path's writers
//!   (`graphql/plan/fields.rs`);
//! - the data file's User (`datafile/file.rs`) and its checks and export.
//!
//! A new field is one entry here plus its migration; a surface that cannot write its kind
//! does not compile. `connection_status` and `tags` are not stored in `users`: they stand
//! between the list's three parts (`head`, `middle`, `tail`), where the wire order has them.
//!
//! Kinds: `Id` (the id), `OptId` (a nullable id), `Count`, `FollowCount` (a counter shown
//! only in follow mode), `Time` (epoch microseconds, an RFC 3339 string on the wire), `Str`,
//! `OptStr`, `Date` (a nullable `YYYY-MM-DD`), `Gender`, `Bool`. An entry is
//! `{ column: [type], [sea_orm attributes], rest_key, "graphqlName", Kind, "GraphQL description", "OpenAPI description" }`.

use sea_orm::entity::prelude::*;

/// Calls `$generate! { head: [..], middle: [..], tail: [..], }` with the User's fields.
macro_rules! user_fields {
    ($generate:ident) => {
        $generate! {
            head: [
                { id: [i64], [primary_key, auto_increment = false], id, "id", Id,
                  "Unique id (an `ID`: ids may exceed 2^31).", "" }
                { username: [String], [column_type = "String(StringLen::N(150))", unique], username, "username", Str,
                  "Unique username.", "" }
                { real_name: [String], [column_type = "String(StringLen::N(255))"], real_name, "realName", Str,
                  "Full name; empty when not given.", "" }
                { avatar: [Option<String>], [column_type = "String(StringLen::N(2048))"], avatar, "avatar", OptStr,
                  "Avatar image URL.", "URL" }
                { ext_id: [Option<i64>], [], ext_id, "extId", OptId,
                  "Id of the user in an external system.", "" }
                { followings_counter: [i64], [], followings_counter, "followingsCounter", FollowCount,
                  "How many users this user follows; null unless the community is in follow mode.", "" }
                { followers_counter: [i64], [], followers_counter, "followersCounter", FollowCount,
                  "How many users follow this user; null unless the community is in follow mode.", "" }
                { posts_counter: [i64], [], posts_counter, "postsCounter", Count,
                  "Number of posts.", "" }
                { discussions_counter: [i64], [], discussions_counter, "discussionsCounter", Count,
                  "Number of discussions.", "" }
                { polls_counter: [i64], [], polls_counter, "pollsCounter", Count,
                  "Number of polls.", "" }
            ],
            middle: [
                { categories_counter: [i64], [], categories_counter, "categoriesCounter", Count,
                  "Number of categories followed.", "" }
                { date_joined_us: [i64], [], date_joined, "dateJoined", Time,
                  "When the user joined (RFC 3339, UTC).", "" }
                { bio: [String], [column_type = "Text"], bio, "bio", Str,
                  "Short biography.", "" }
                { location: [String], [column_type = "String(StringLen::N(255))"], location, "location", Str,
                  "Where the user lives.", "" }
                { location_lat_lng: [Option<String>], [column_type = "String(StringLen::N(64))"], location_lat_lng, "locationLatLng", OptStr,
                  "Coordinates of `location`, as \"lat,lng\".", "`\"lat,lng\"`" }
                { position_lat_lng: [Option<String>], [column_type = "String(StringLen::N(64))"], position_lat_lng, "positionLatLng", OptStr,
                  "Last known position, as \"lat,lng\".", "`\"lat,lng\"`" }
                { date_of_birth: [Option<String>], [column_type = "String(StringLen::N(10))"], date_of_birth, "dateOfBirth", Date,
                  "Date of birth (YYYY-MM-DD).", "" }
                { description: [String], [column_type = "Text"], description, "description", Str,
                  "Free-text description.", "" }
                { gender: [String], [column_type = "String(StringLen::N(16))"], gender, "gender", Gender,
                  "`Male`, `Female` or `Unspecified`.", "" }
                { website: [String], [column_type = "String(StringLen::N(2048))"], website, "website", Str,
                  "Personal website.", "" }
                { cover: [Option<String>], [column_type = "String(StringLen::N(2048))"], cover, "cover", OptStr,
                  "Cover image URL.", "URL" }
            ],
            tail: [
                { reputation: [i64], [], reputation, "reputation", Count,
                  "Reputation points.", "" }
                { community_badge: [bool], [], community_badge, "communityBadge", Bool,
                  "Whether the user carries the community badge.", "" }
                { reg_approved: [bool], [], reg_approved, "regApproved", Bool,
                  "Whether the registration was approved.", "" }
                { deleted: [bool], [], deleted, "deleted", Bool,
                  "Whether the user is soft-deleted (still listed).", "A soft-deleted user still appears, with `true`." }
                { company_name: [String], [column_type = "String(StringLen::N(255))"], company_name, "companyName", Str,
                  "Employer.", "" }
                { company_role: [String], [column_type = "String(StringLen::N(255))"], company_role, "companyRole", Str,
                  "Role at the employer.", "" }
            ],
        }
    };
}
pub(crate) use user_fields;

/// The entity: the fields in the list's order, which is the column order of `Column::iter()`
/// that the page statements read by position (`store::records::user_from_row`). Instants are
/// epoch microseconds; `username` is compared byte for byte (`utf8mb4_bin` on MySQL).
macro_rules! user_model {
    (head: [$($h:tt)*], middle: [$($m:tt)*], tail: [$($t:tt)*],) => {
        user_model!(@ $($h)* $($m)* $($t)*);
    };
    (@ $({ $field:ident: [$($ty:tt)*], [$($orm:tt)*], $api:ident, $gql:literal, $kind:ident,
           $doc:literal, $rest:literal })*) => {
        /// A user as stored: every field of the API's User object but `tags` and
        /// `connection_status`, which depend on other tables and on the viewer.
        #[derive(Clone, Debug, Default, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "users")]
        pub struct Model {
            $(
                #[doc = $doc]
                #[sea_orm($($orm)*)]
                pub $field: $($ty)*,
            )*
        }
    };
}
user_fields!(user_model);

/// The relations to the tables that reference users are declared with those tables
/// (`user_tag`, `connection`, `connection_request`, `access_token`).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
