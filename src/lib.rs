//! community-gateway: a community's friendship graph over GraphQL and the SelfCommunity v2
//! REST route, from one resolver.
//!
//! Where to look (`docs/ARCHITECTURE.md` has the map): `core` holds the rules of the API;
//! `store` the database; `cache` the in-process graph cache that serves reads from memory; `rest` and `graphql` the two doors; `app` composes them with the
//! tower layers; `auth` turns an `Authorization` header into a viewer; `datafile` reads and
//! writes the community data file, `bulk` loads one into the database, `progress` reports
//! how far the long commands are.

pub mod app;
pub mod auth;
pub mod bulk;
pub mod cache;
pub mod config;
pub mod core;
pub mod datafile;
pub mod entity;
pub mod error;
pub mod extract;
pub mod graphql;
pub mod metrics;
pub mod progress;
pub mod ratelimit;
pub mod rest;
pub mod state;
pub mod store;
