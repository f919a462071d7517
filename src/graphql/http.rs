//! GraphQL over HTTP: `POST /graphql` (JSON) and `GET /graphql?query=...`, and the
//! playground page for browsers.

use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use crate::app::{identify, AppState};
use crate::rest;

use super::{playground, RequestContext};

/// `GET /graphql`: the GraphiQL playground for browsers, else a GraphQL-over-HTTP GET.
pub async fn get(state: State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if wants_html && uri.query().is_none_or(|q| !q.contains("query=")) {
        return playground::page();
    }
    match async_graphql::http::parse_query_string(uri.query().unwrap_or_default()) {
        Ok(request) => execute(state, headers, request).await.into_response(),
        Err(err) => (StatusCode::BAD_REQUEST, err.to_string()).into_response(),
    }
}

pub async fn post(state: State<AppState>, headers: HeaderMap, request: GraphQLRequest) -> Response {
    execute(state, headers, request.into_inner())
        .await
        .into_response()
}

/// Authenticates the request once, then runs the operation with per-request loaders.
async fn execute(
    State(state): State<AppState>,
    headers: HeaderMap,
    request: async_graphql::Request,
) -> GraphQLResponse {
    let access = identify(&state, &headers).await;
    let origin = rest::link_origin(&state, &headers, None);
    let context = RequestContext::new(state.store.clone(), state.config.clone(), access, origin);
    state.schema.execute(request.data(context)).await.into()
}
