//! The parameters' schemas, and the page parameters `limit` and `offset`.
//!
//! `limit` and `offset` are hand-built and patched in after the derive: DRF reads them
//! leniently (any text; other values fall back silently), so their schema is "integer or
//! string", which no Rust type derives, and their description and default carry this
//! server's configured page sizes, which an attribute cannot read.

use serde_json::json;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::SchemaType;
use utoipa::openapi::{ObjectBuilder, OpenApi, RefOr, Required, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

use super::build::{integer, string};
use super::op;
use crate::config::Config;

/// The description of a lifecycle route's path `id`.
pub const TARGET_ID: &str = "The target user's id: a positive integer that fits in 64 bits. \
                             Any other segment, like an unknown id, answers 404.";

/// The operations paged as DRF's `LimitOffsetPagination` pages: they take `limit` and
/// `offset`, inserted after the path `id` (when there is one).
const PAGED: [&str; 3] = [op::CONNECTIONS, op::REQUESTS, op::REQUESTS_SENT];

/// A path `id`: a positive integer that fits in 64 bits. A marker type with a hand-written
/// schema: the derive puts a parameter's example on the parameter, the document has it on the
/// schema (`examples`).
pub struct UserId;

impl PartialSchema for UserId {
    fn schema() -> RefOr<Schema> {
        integer()
            .minimum(Some(1))
            .maximum(Some(i64::MAX))
            .examples([1])
            .into()
    }
}

impl ToSchema for UserId {}

/// `mutual`: the text `"0"` or `"1"` (the handler reads the raw query, not a Rust enum).
pub struct MutualFilter;

impl PartialSchema for MutualFilter {
    fn schema() -> RefOr<Schema> {
        string().enum_values(Some(["0", "1"])).into()
    }
}

impl ToSchema for MutualFilter {}

/// Adds `limit` and `offset` to the paged operations, for this configuration.
pub fn add_page_parameters(openapi: &mut OpenApi, config: &Config) {
    for item in openapi.paths.paths.values_mut() {
        let Some(operation) = item.get.as_mut() else {
            continue;
        };
        if !PAGED.contains(&operation.operation_id.as_deref().unwrap_or("")) {
            continue;
        }
        let parameters = operation.parameters.get_or_insert_with(Vec::new);
        let at = parameters
            .iter()
            .take_while(|p| matches!(p, RefOr::T(p) if p.parameter_in == ParameterIn::Path))
            .count();
        parameters.splice(at..at, [RefOr::T(limit(config)), RefOr::T(offset())]);
    }
}

/// `limit`, as DRF's `LimitOffsetPagination` reads it.
fn limit(config: &Config) -> Parameter {
    ParameterBuilder::new()
        .name("limit")
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(format!(
            "Page size: a strictly positive integer in Python `int()` syntax (surrounding \
             spaces, a sign, `_` between digits). Never an error: any other value (missing, \
             `0`, negative, not a number) means {}, and values above {} are cut to {}. When \
             repeated, the last value counts.",
            config.default_limit, config.max_limit, config.max_limit
        )))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(SchemaType::from_iter([Type::Integer, Type::String]))
                .default(Some(json!(config.default_limit)))
                .examples([json!(config.default_limit)]),
        ))
        .build()
}

/// `offset`, as DRF's `LimitOffsetPagination` reads it.
fn offset() -> Parameter {
    ParameterBuilder::new()
        .name("offset")
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(
            "Index of the first result: a non-negative integer in Python `int()` syntax. \
             Never an error: any other value means 0. An offset past the end gives an empty \
             `results` with the full `count`. When repeated, the last value counts.",
        ))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(SchemaType::from_iter([Type::Integer, Type::String]))
                .default(Some(json!(0)))
                .examples([json!(0)]),
        ))
        .build()
}
