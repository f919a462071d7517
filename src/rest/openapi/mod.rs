//! The OpenAPI 3.1 document of the REST routes, served at `/api/v2/openapi.json`.
//!
//! Derived from the routes: `#[utoipa::path]` on the handlers (`connections`, `lifecycle`),
//! `ToSchema` on the body structs (`body`). What the derive cannot say is hand-built, each part
//! with its reason: the component schemas no struct derives (`schemas`), the reusable responses
//! (`responses`), the security schemes (`security`), the operations of the handlers that serve
//! several routes (`templates`, `routes`), the links (`links`), the DRF page parameters and
//! the per-configuration values (`params`, `openapi`), the headers' `required`
//! (`document_json`). The User and Tag key lists are checked against real response bodies by
//! `tests/it/openapi.rs`, so the document cannot drift from the wire silently.
//!
//! Decisions, where OpenAPI leaves room:
//! - `limit` and `offset` accept any text (DRF falls back silently), so their schema is
//!   "integer or string" and the description says what happens with other values;
//! - `mutual` is the enum `"0"` / `"1"`; anything else is a 400;
//! - the path `id` is documented as a positive 64-bit integer; any other segment is a 404;
//! - authentication is optional on the connections page (an empty security requirement comes
//!   first); the lifecycle routes require credentials, and their paths are documented with the
//!   trailing slash only;
//! - 405 is described once, as the reusable response `MethodNotAllowed` (no operation can list
//!   it: each path has only the operations it takes), with its `Allow` header.

mod build;
mod links;
pub mod names;
pub mod op;
pub mod params;
pub mod responses;
mod routes;
pub mod schemas;
mod security;
pub mod templates;

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use utoipa::openapi::{RefOr, Schema, Server};
use utoipa::{OpenApi as _, PartialSchema};

use super::body::{PageBody, RequestBody, RequestPageBody, TagBody};
use super::{connections, lifecycle};
use crate::config::Config;
use crate::error::ApiError;
use crate::state::AppState;

use links::Links;
use routes::Routes;
use security::SecuritySchemes;

pub use schemas::user_properties;

/// Where the document is served.
pub const OPENAPI_PATH: &str = "/api/v2/openapi.json";

#[derive(utoipa::OpenApi)]
#[openapi(
    version = "3.1.0",
    info(
        title = "community-gateway REST API",
        description = "The SelfCommunity v2 REST route for a community's friendship graph. The \
                       same data is served through GraphQL at `/graphql`."
    ),
    paths(
        connections::user_connections,
        lifecycle::request_list,
        lifecycle::run_action,
        lifecycle::read_pair,
        lifecycle::statuses,
    ),
    components(
        schemas(
            PageBody,
            schemas::User,
            RequestPageBody,
            RequestBody,
            TagBody,
            schemas::FieldErrors,
            schemas::UnauthorizedErrors,
            schemas::PermissionDeniedErrors,
            schemas::NotFoundErrors,
            schemas::MethodNotAllowedErrors,
            schemas::ThrottledErrors,
            schemas::PayloadTooLargeErrors,
            schemas::ServiceUnavailableErrors,
            schemas::ConnectionStatusBody,
            schemas::IsConnectionBody,
            schemas::ConnectionStatusesBody,
            schemas::ConnectionStatusesRequest,
            schemas::LifecycleConflictErrors,
            schemas::ParseErrors,
            schemas::UnsupportedMediaTypeErrors,
        ),
        responses(
            responses::LifecycleConflict,
            responses::StatusesBadRequest,
            responses::UnsupportedMediaType,
            responses::BadRequest,
            responses::Unauthorized,
            responses::Forbidden,
            responses::NotFound,
            responses::MethodNotAllowed,
            responses::PayloadTooLarge,
            responses::TooManyRequests,
            responses::ServiceUnavailable,
        ),
    ),
    modifiers(&SecuritySchemes, &Routes, &Links)
)]
struct Document;

/// `GET /api/v2/openapi.json`: the document for this server's configuration.
pub async fn document(State(state): State<AppState>) -> Response {
    match serde_json::to_vec_pretty(&document_json(&state.config)) {
        Ok(bytes) => (
            [(header::CONTENT_TYPE, HeaderValue::from_static(build::JSON))],
            bytes,
        )
            .into_response(),
        Err(err) => ApiError::internal(err).into_response(),
    }
}

/// The document as JSON.
///
/// utoipa's Header Object has no `required` field (OpenAPI's has); the headers the server
/// always sends get `required: true` here, on the serialized document.
pub fn document_json(config: &Config) -> Value {
    let mut doc = serde_json::to_value(openapi(config)).unwrap_or_else(|_| json!({}));
    if let Some(responses) = doc
        .pointer_mut("/components/responses")
        .and_then(Value::as_object_mut)
    {
        for response in responses.values_mut() {
            if let Some(headers) = response.get_mut("headers").and_then(Value::as_object_mut) {
                for header in headers.values_mut() {
                    header["required"] = Value::Bool(true);
                }
            }
        }
    }
    doc
}

/// The document as utoipa's model: the derived one, with this configuration's values.
pub fn openapi(config: &Config) -> utoipa::openapi::OpenApi {
    let mut doc = Document::openapi();
    // The derive fills `license` and `contact` from Cargo.toml; the document has never
    // promised either (title, version, description only).
    doc.info.license = None;
    doc.info.contact = None;
    // Per configuration: the page sizes are in `limit`'s description and default.
    params::add_page_parameters(&mut doc, config);
    // Behind a proxy with PUBLIC_BASE_URL, the API lives there (links use it too); otherwise
    // the default server, the document's own origin, is right.
    doc.servers = config
        .public_base_url
        .as_ref()
        .map(|url| vec![Server::new(url.clone())]);
    doc
}

/// The Tag object's keys in wire order, with their schemas (derived from `body::TagBody`).
pub fn tag_properties() -> Vec<(String, RefOr<Schema>)> {
    match TagBody::schema() {
        RefOr::T(Schema::Object(object)) => object.properties.into_iter().collect(),
        _ => Vec::new(),
    }
}
