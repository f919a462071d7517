//! The OpenAPI 3.1 document of the REST route, served at `/api/v2/openapi.json`.

use axum::response::{IntoResponse, Response};

/// `GET /api/v2/openapi.json`.
pub async fn document() -> Response {
    crate::error::ApiError::NotFound.into_response()
}
