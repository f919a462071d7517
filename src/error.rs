//! One error type for both doors and every layer in front of them.
//!
//! Every refusal the service makes is an `ApiError`: a handler's (401, 403, 404, 400, among them
//! the lifecycle's state conflicts), a tower
//! layer's (405, 413, 429, 503 on a timeout, a refused CORS origin) and the GraphQL transport's
//! (400, 406, 415). It renders in two shapes:
//!
//! - REST (`IntoResponse`): the `{"errors": [...]}` body the SelfCommunity client parses
//!   (`docs/rest.md`, "Errors");
//! - GraphQL: `{"errors": [{"message", "extensions": {"code"}}]}`, either as a response of its
//!   own (`graphql_body`, for a request refused before execution) or as a field error
//!   (`ErrorExtensions`).
//!
//! Both shapes carry the same status and headers (`WWW-Authenticate` on 401, `Retry-After` on
//! 429 and 503, `Allow` on 405). Internal causes are logged, never sent to the client.

use async_graphql::ErrorExtensions;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::store::faults::{self, Fault};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No credentials, where they are required.
    #[error("Authentication credentials were not provided.")]
    NotAuthenticated,
    /// Credentials were given but are not valid (bad, expired or unknown token).
    #[error("{0}")]
    AuthenticationFailed(&'static str),
    #[error("You do not have permission to perform this action.")]
    PermissionDenied,
    #[error("Not found.")]
    NotFound,
    /// A request parameter is invalid.
    #[error("{message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    /// The route exists but does not take this method; `allow` lists the ones it takes.
    #[error("{message}")]
    MethodNotAllowed {
        message: String,
        allow: &'static str,
    },
    /// A lifecycle action aimed at the viewer itself.
    #[error("You cannot connect with yourself.")]
    SelfConnection,
    /// A lifecycle action that needs a request in a direction where there is none.
    #[error("There is no connection request to act on.")]
    NoRequest,
    /// `remove` while a request, not a connection, links the pair.
    #[error("You are not connected with this user.")]
    NotConnected,
    /// A lifecycle action about a request, while the pair is connected.
    #[error("You are already connected with this user.")]
    AlreadyConnected,
    /// The request body is larger than `MAX_BODY_BYTES`.
    #[error("Request body too large: at most {limit} bytes are accepted.")]
    PayloadTooLarge { limit: usize },
    /// The client is over its rate limit; it may retry after `wait_seconds`.
    #[error("Request was throttled. Expected available in {wait_seconds} second{}.", if *.wait_seconds == 1 { "" } else { "s" })]
    Throttled { wait_seconds: u64 },
    /// A browser origin that `CORS_ORIGINS` does not list asked to call the API.
    #[error("Requests from this origin are not allowed.")]
    OriginNotAllowed,
    /// Not a request the door can read (a GraphQL body that is not JSON, no `query`, ...).
    #[error("{0}")]
    BadRequest(String),
    /// The request body is not in a media type the door reads.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The client accepts none of the media types the door answers in.
    #[error("Not acceptable: GraphQL responses are application/graphql-response+json or application/json.")]
    NotAcceptable,
    /// The database cannot be reached (or answered too slowly): retry later.
    #[error("The service is temporarily unavailable. Try again later.")]
    Unavailable,
    /// Anything else: logged with its cause, answered without it.
    #[error("A server error occurred.")]
    Internal(#[source] anyhow::Error),
}

/// What a client reads of an internal error, on each door.
const REST_INTERNAL: &str = "A server error occurred.";
const GRAPHQL_INTERNAL: &str = "Internal server error.";

/// The message of a 401 for a present but unusable token.
pub const BAD_CREDENTIALS: &str = "Incorrect authentication credentials.";

impl ApiError {
    pub fn internal(err: impl Into<anyhow::Error>) -> ApiError {
        ApiError::Internal(err.into())
    }

    /// A 405 in DRF's words, for a route that takes the methods in `allow`.
    pub fn method_not_allowed(method: &Method, allow: &'static str) -> ApiError {
        ApiError::MethodNotAllowed {
            message: format!("Method \"{method}\" not allowed."),
            allow,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::NotAuthenticated | ApiError::AuthenticationFailed(_) => {
                StatusCode::UNAUTHORIZED
            }
            ApiError::PermissionDenied | ApiError::OriginNotAllowed => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Invalid { .. }
            | ApiError::BadRequest(_)
            | ApiError::SelfConnection
            | ApiError::NoRequest
            | ApiError::NotConnected
            | ApiError::AlreadyConnected => StatusCode::BAD_REQUEST,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The REST error code (DRF's where DRF has one).
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::NotAuthenticated => "not_authenticated",
            ApiError::AuthenticationFailed(_) => "authentication_failed",
            ApiError::PermissionDenied | ApiError::OriginNotAllowed => "permission_denied",
            ApiError::NotFound => "not_found",
            ApiError::Invalid { .. } => "invalid",
            ApiError::SelfConnection => "self_connection",
            ApiError::NoRequest => "no_request",
            ApiError::NotConnected => "not_connected",
            ApiError::AlreadyConnected => "already_connected",
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::Throttled { .. } => "throttled",
            ApiError::BadRequest(_) => "parse_error",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::NotAcceptable => "not_acceptable",
            ApiError::Unavailable => "service_unavailable",
            ApiError::Internal(_) => "error",
        }
    }

    /// The GraphQL `extensions.code`.
    pub fn graphql_code(&self) -> &'static str {
        match self {
            ApiError::NotAuthenticated | ApiError::AuthenticationFailed(_) => "UNAUTHENTICATED",
            ApiError::PermissionDenied | ApiError::OriginNotAllowed => "FORBIDDEN",
            ApiError::NotFound => "NOT_FOUND",
            ApiError::Invalid { .. }
            | ApiError::SelfConnection
            | ApiError::NoRequest
            | ApiError::NotConnected
            | ApiError::AlreadyConnected => "BAD_USER_INPUT",
            ApiError::MethodNotAllowed { .. } => "METHOD_NOT_ALLOWED",
            ApiError::PayloadTooLarge { .. } => "PAYLOAD_TOO_LARGE",
            ApiError::Throttled { .. } => "TOO_MANY_REQUESTS",
            ApiError::BadRequest(_) => "BAD_REQUEST",
            ApiError::UnsupportedMediaType(_) => "UNSUPPORTED_MEDIA_TYPE",
            ApiError::NotAcceptable => "NOT_ACCEPTABLE",
            ApiError::Unavailable => "SERVICE_UNAVAILABLE",
            ApiError::Internal(_) => "INTERNAL_SERVER_ERROR",
        }
    }

    /// The message a client sees: the display text, but never an internal cause (logged
    /// here, and answered with `internal`: each door keeps its own wording).
    fn public_message(&self, internal: &str) -> String {
        match self {
            ApiError::Internal(cause) => {
                tracing::error!(error = ?cause, "request failed");
                internal.to_string()
            }
            other => other.to_string(),
        }
    }

    /// The REST `{"errors": [...]}` body.
    pub fn body(&self) -> serde_json::Value {
        match self {
            ApiError::Invalid { field, message } => json!({"errors": [
                {"field": field, "messages": [{"code": "invalid", "message": message}]}
            ]}),
            other => {
                json!({"errors": [{"code": other.code(), "message": other.public_message(REST_INTERNAL)}]})
            }
        }
    }

    /// The GraphQL-over-HTTP body of a request refused before execution.
    pub fn graphql_body(&self) -> serde_json::Value {
        json!({"errors": [{
            "message": self.public_message(GRAPHQL_INTERNAL),
            "extensions": {"code": self.graphql_code()},
        }]})
    }

    /// A response with this error's status and headers, and `body` as its JSON text.
    pub fn response_with(&self, body: &serde_json::Value, content_type: HeaderValue) -> Response {
        let mut response = (self.status(), body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, content_type);
        self.add_headers(headers);
        response
    }

    /// The headers that go with the status, whatever the body's shape.
    fn add_headers(&self, headers: &mut HeaderMap) {
        match self {
            ApiError::NotAuthenticated | ApiError::AuthenticationFailed(_) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"api\""),
                );
            }
            ApiError::Unavailable => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            ApiError::Throttled { wait_seconds } => {
                headers.insert(
                    header::RETRY_AFTER,
                    HeaderValue::from((*wait_seconds).max(1)),
                );
            }
            ApiError::MethodNotAllowed { allow, .. } => {
                headers.insert(header::ALLOW, HeaderValue::from_static(allow));
            }
            _ => {}
        }
    }

    /// `Unavailable` when a database error means "the database is not there right now", or
    /// that a statement lost a race twice (`store::faults`): clients see a retryable 503.
    pub fn from_db(err: &sea_orm::DbErr) -> Option<ApiError> {
        match faults::classify(err) {
            Fault::Unavailable | Fault::Conflict => {
                tracing::warn!(error = %err, "database unavailable");
                Some(ApiError::Unavailable)
            }
            Fault::Other => None,
        }
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(err: sea_orm::DbErr) -> Self {
        ApiError::from_db(&err).unwrap_or_else(|| ApiError::Internal(err.into()))
    }
}

/// A DataLoader's error (loader errors must be `Clone`, so the cause is shared).
impl From<std::sync::Arc<sea_orm::DbErr>> for ApiError {
    fn from(err: std::sync::Arc<sea_orm::DbErr>) -> Self {
        ApiError::from_db(&err).unwrap_or_else(|| ApiError::Internal(anyhow::anyhow!("{err}")))
    }
}

/// The REST shape.
impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = self.body();
        self.response_with(&body, HeaderValue::from_static("application/json"))
    }
}

/// The GraphQL field-error shape: the message and `extensions.code`.
impl ErrorExtensions for ApiError {
    fn extend(&self) -> async_graphql::Error {
        let code = self.graphql_code();
        // A lifecycle conflict names its REST code as the reason.
        let reason = match self {
            ApiError::SelfConnection
            | ApiError::NoRequest
            | ApiError::NotConnected
            | ApiError::AlreadyConnected => Some(self.code()),
            _ => None,
        };
        async_graphql::Error::new(self.public_message(GRAPHQL_INTERNAL)).extend_with(|_, e| {
            e.set("code", code);
            if let Some(reason) = reason {
                e.set("reason", reason);
            }
        })
    }
}

/// `?` in a GraphQL resolver: any error that is an `ApiError` (a database error, a loader's)
/// becomes the field error with its `extensions.code`.
pub trait GraphqlResult<T> {
    fn or_graphql(self) -> async_graphql::Result<T>;
}

impl<T, E: Into<ApiError>> GraphqlResult<T> for Result<T, E> {
    fn or_graphql(self) -> async_graphql::Result<T> {
        self.map_err(|e| ApiError::extend(&e.into()))
    }
}
