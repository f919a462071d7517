//! The integration tests: one crate, so the whole test suite links once.
//!
//! Every module drives the service from the outside (real HTTP, real databases) or its public
//! library API; `common` creates a fresh database per test on each configured backend.

mod common;

mod cache;
mod cancellation;
mod community;
mod drain;
mod faults;
mod friends;
mod fuzz_parsing;
mod graphql;
mod graphql_differential;
mod graphql_exec;
mod graphql_http;
mod graphql_lifecycle;
mod graphql_limits;
mod import_swap;
mod import_under_load;
mod kill;
mod lifecycle;
mod openapi;
mod page_shapes;
mod progress;
mod refusals;
mod replicas;
mod request_lists;
mod requests;
mod rest;
mod rest_golden;
mod rest_paging;
mod security;
mod settings;
mod shutdown;
mod subscription;
mod ws_outbound;
mod ws_protocol;
