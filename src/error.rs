//! One error type for both doors. REST turns it into a status and the `{"errors": [...]}`
//! body the SelfCommunity client parses; GraphQL into an error with `extensions.code`.
//! Internal causes are logged, never sent to the client.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

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
    /// The database cannot be reached (or answered too slowly): retry later.
    #[error("The service is temporarily unavailable. Try again later.")]
    Unavailable,
    /// Anything else: logged with its cause, answered without it.
    #[error("A server error occurred.")]
    Internal(#[source] anyhow::Error),
}

/// The message of a 401 for a present but unusable token.
pub const BAD_CREDENTIALS: &str = "Incorrect authentication credentials.";

impl ApiError {
    pub fn internal(err: impl Into<anyhow::Error>) -> ApiError {
        ApiError::Internal(err.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::NotAuthenticated | ApiError::AuthenticationFailed(_) => {
                StatusCode::UNAUTHORIZED
            }
            ApiError::PermissionDenied => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Invalid { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The REST error code (DRF's).
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::NotAuthenticated => "not_authenticated",
            ApiError::AuthenticationFailed(_) => "authentication_failed",
            ApiError::PermissionDenied => "permission_denied",
            ApiError::NotFound => "not_found",
            ApiError::Invalid { .. } => "invalid",
            ApiError::Unavailable => "service_unavailable",
            ApiError::Internal(_) => "error",
        }
    }

    /// The GraphQL `extensions.code`.
    pub fn graphql_code(&self) -> &'static str {
        match self {
            ApiError::NotAuthenticated | ApiError::AuthenticationFailed(_) => "UNAUTHENTICATED",
            ApiError::PermissionDenied => "FORBIDDEN",
            ApiError::NotFound => "NOT_FOUND",
            ApiError::Invalid { .. } => "BAD_USER_INPUT",
            ApiError::Unavailable => "SERVICE_UNAVAILABLE",
            ApiError::Internal(_) => "INTERNAL_SERVER_ERROR",
        }
    }

    /// The `{"errors": [...]}` body.
    pub fn body(&self) -> serde_json::Value {
        match self {
            ApiError::Invalid { field, message } => json!({"errors": [
                {"field": field, "messages": [{"code": "invalid", "message": message}]}
            ]}),
            other => json!({"errors": [{"code": other.code(), "message": other.to_string()}]}),
        }
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(err: sea_orm::DbErr) -> Self {
        ApiError::from_db(&err).unwrap_or_else(|| ApiError::Internal(err.into()))
    }
}

impl ApiError {
    /// `Unavailable` when a database error means "the database is not there right now"
    /// (no connection could be had, or the connection broke), so clients see a retryable 503.
    pub fn from_db(err: &sea_orm::DbErr) -> Option<ApiError> {
        use sea_orm::{DbErr, RuntimeErr};
        match err {
            DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => Some(ApiError::Unavailable),
            DbErr::Query(RuntimeErr::SqlxError(e)) | DbErr::Exec(RuntimeErr::SqlxError(e))
                if matches!(
                    e,
                    sqlx::Error::Io(_)
                        | sqlx::Error::PoolTimedOut
                        | sqlx::Error::PoolClosed
                        | sqlx::Error::WorkerCrashed
                ) =>
            {
                tracing::warn!(error = %e, "database unavailable");
                Some(ApiError::Unavailable)
            }
            _ => None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(cause) = &self {
            tracing::error!(error = ?cause, "request failed");
        }
        let status = self.status();
        let retry = status == StatusCode::SERVICE_UNAVAILABLE;
        let mut response = (status, axum::Json(self.body())).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"api\""),
            );
        }
        if retry {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}
