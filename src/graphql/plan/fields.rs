//! The leaves of User and Tag the compiled path writes, by their GraphQL names, each written
//! as the reference's resolver in `graphql/types.rs` answers it (`tests/it/graphql_exec.rs`
//! checks every one against it, on every backend).

use super::json;
use crate::store::time::api_time;
use crate::store::{TagRecord, UserRecord};

/// A User field answered from the stored record (and, for the follow counters, the
/// community's follow mode), or the id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserLeaf {
    Id,
    Username,
    RealName,
    Avatar,
    ExtId,
    FollowingsCounter,
    FollowersCounter,
    PostsCounter,
    DiscussionsCounter,
    PollsCounter,
    CategoriesCounter,
    DateJoined,
    Bio,
    Location,
    LocationLatLng,
    PositionLatLng,
    DateOfBirth,
    Description,
    Gender,
    Website,
    Cover,
    Reputation,
    CommunityBadge,
    RegApproved,
    Deleted,
    CompanyName,
    CompanyRole,
}

impl UserLeaf {
    pub fn named(name: &str) -> Option<UserLeaf> {
        use UserLeaf::*;
        Some(match name {
            "id" => Id,
            "username" => Username,
            "realName" => RealName,
            "avatar" => Avatar,
            "extId" => ExtId,
            "followingsCounter" => FollowingsCounter,
            "followersCounter" => FollowersCounter,
            "postsCounter" => PostsCounter,
            "discussionsCounter" => DiscussionsCounter,
            "pollsCounter" => PollsCounter,
            "categoriesCounter" => CategoriesCounter,
            "dateJoined" => DateJoined,
            "bio" => Bio,
            "location" => Location,
            "locationLatLng" => LocationLatLng,
            "positionLatLng" => PositionLatLng,
            "dateOfBirth" => DateOfBirth,
            "description" => Description,
            "gender" => Gender,
            "website" => Website,
            "cover" => Cover,
            "reputation" => Reputation,
            "communityBadge" => CommunityBadge,
            "regApproved" => RegApproved,
            "deleted" => Deleted,
            "companyName" => CompanyName,
            "companyRole" => CompanyRole,
            _ => return None,
        })
    }

    /// Writes the field of `u`; `follow`: whether the community is in follow mode (the
    /// follow counters are null otherwise).
    pub fn write(self, out: &mut Vec<u8>, u: &UserRecord, follow: bool) {
        use UserLeaf::*;
        match self {
            Id => json::id(out, u.id),
            Username => json::string(out, &u.username),
            RealName => json::string(out, &u.real_name),
            Avatar => json::opt_string(out, u.avatar.as_deref()),
            ExtId => match u.ext_id {
                Some(id) => json::id(out, id),
                None => json::null(out),
            },
            FollowingsCounter | FollowersCounter if !follow => json::null(out),
            FollowingsCounter => json::int(out, u.followings_counter),
            FollowersCounter => json::int(out, u.followers_counter),
            PostsCounter => json::int(out, u.posts_counter),
            DiscussionsCounter => json::int(out, u.discussions_counter),
            PollsCounter => json::int(out, u.polls_counter),
            CategoriesCounter => json::int(out, u.categories_counter),
            DateJoined => json::string(out, &api_time(u.date_joined_us)),
            Bio => json::string(out, &u.bio),
            Location => json::string(out, &u.location),
            LocationLatLng => json::opt_string(out, u.location_lat_lng.as_deref()),
            PositionLatLng => json::opt_string(out, u.position_lat_lng.as_deref()),
            DateOfBirth => json::opt_string(out, u.date_of_birth.as_deref()),
            Description => json::string(out, &u.description),
            Gender => json::string(out, &u.gender),
            Website => json::string(out, &u.website),
            Cover => json::opt_string(out, u.cover.as_deref()),
            Reputation => json::int(out, u.reputation),
            CommunityBadge => json::boolean(out, u.community_badge),
            RegApproved => json::boolean(out, u.reg_approved),
            Deleted => json::boolean(out, u.deleted),
            CompanyName => json::string(out, &u.company_name),
            CompanyRole => json::string(out, &u.company_role),
        }
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
