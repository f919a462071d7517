//! community-gateway: a community's friendship graph over GraphQL and the SelfCommunity v2
//! REST route, from one resolver.
//!
//! Where to look: `connections` holds the rules of the API; `store` the SQL; `rest` and
//! `graphql` the two doors; `auth` turns an `Authorization` header into a viewer;
//! `community` reads and writes the community data file.

pub mod app;
pub mod auth;
pub mod community;
pub mod config;
pub mod connections;
pub mod entity;
pub mod error;
pub mod graphql;
pub mod metrics;
pub mod ratelimit;
pub mod rest;
pub mod store;
