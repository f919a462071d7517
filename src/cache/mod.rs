//! The graph cache: what pages are made of (adjacency lists in the API's order, pending
//! requests, user records and tags, the settings), held in each server process and kept
//! coherent by the database's change feed, so a page is computed in memory and the database
//! is read only on a miss.
//!
//! - `graph.rs`: the entries, their byte budget (LRU), and the ticket rule that keeps every
//!   stored entry exact;
//! - `feed.rs`: the follower of the change feed (LISTEN/NOTIFY and polls), which evicts what
//!   each committed change touches and stops the cache serving when it loses the feed;
//! - `pages.rs`: a page computed from cached lists;
//! - `source.rs`: the API's reads, through the cache or from SQL;
//! - `events.rs`: the live connection events the follower reads, handed to this server's
//!   subscribers.
//!
//! `CACHE=off` keeps every read on SQL; the follower still runs, for the live events.

mod events;
mod feed;
mod graph;
mod pages;
mod source;

pub use events::{EventHub, Subscription};
pub use feed::{start, FeedOptions, Follower, LISTENER_NAME};
pub use graph::{CacheCounters, GraphCache};
pub use source::Source;
