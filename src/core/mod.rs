//! THE rules of the API, shared by both doors (`docs/rest.md`, `docs/graphql.md`):
//!
//! - `gates`: who may ask (token's user exists → content availability → friendship mode →
//!   target exists), from one SQL statement;
//! - `pages`: a finished page of a user's connections: listed users with statuses, count, and
//!   where the next and previous pages start;
//! - `friends`: a cursor page of the same list (GraphQL's Relay connection `friends`);
//! - `links`: DRF's `next`/`previous` URLs (GraphQL pages link to the equivalent REST request);
//! - `status`: the viewer-relative status of a listed user;
//! - `lifecycle`: the actions on a pair (request, accept, reject, ...) and one pair's status;
//! - `requests`: a page of the viewer's received or sent connection requests;
//! - `loaders`: the DataLoaders (users, tags, statuses, pages), so N users cost a fixed number
//!   of statements.
//!
//! The doors only parse their input and render what this module returns.

mod friends;
mod gates;
pub mod lifecycle;
mod links;
mod loaders;
mod pages;
mod requests;
mod status;

pub use friends::{FriendEdge, FriendList, FriendsArgs, FriendsPage, FriendsRequest, PageInfo};
pub use gates::{admit, check_content, check_settings, identify, Access, Target};
pub use links::{
    connections_path, links, origin, parse_query, positions, requests_path, url, Links, Position,
    REQUESTS_PATH, REQUESTS_SENT_PATH,
};
pub use loaders::{
    ConnectionPageLoader, LoadError, Page, PageKey, StatusLoader, TagLoader, UserLoader, Viewer,
};
pub use pages::{clamp_limit, load as load_page, ConnectionPage, Listed, Offset, PageRequest};
pub use requests::{request_page, ListedRequest, RequestPage, RequestUser};
pub use status::ConnectionStatus;
