//! The component names, so tests can look schemas up by name. The derived schemas take theirs
//! from `#[schema(as = ...)]` on the body structs; `tests/it/openapi.rs` looks every one up here.

pub const PAGE: &str = "UserConnectionsPage";
pub const USER: &str = "User";
pub const REQUEST_PAGE: &str = "ConnectionRequestsPage";
pub const CONNECTION_REQUEST: &str = "ConnectionRequest";
pub const TAG: &str = "Tag";
pub const FIELD_ERRORS: &str = "FieldErrors";
pub const UNAUTHORIZED: &str = "UnauthorizedErrors";
pub const FORBIDDEN: &str = "PermissionDeniedErrors";
pub const NOT_FOUND: &str = "NotFoundErrors";
pub const METHOD_NOT_ALLOWED: &str = "MethodNotAllowedErrors";
pub const THROTTLED: &str = "ThrottledErrors";
pub const PAYLOAD_TOO_LARGE: &str = "PayloadTooLargeErrors";
pub const UNAVAILABLE: &str = "ServiceUnavailableErrors";
pub const CONNECTION_STATUS: &str = "ConnectionStatusBody";
pub const IS_CONNECTION: &str = "IsConnectionBody";
pub const CONNECTION_STATUSES: &str = "ConnectionStatusesBody";
pub const STATUSES_REQUEST: &str = "ConnectionStatusesRequest";
pub const CONFLICT: &str = "LifecycleConflictErrors";
pub const PARSE_ERROR: &str = "ParseErrors";
pub const UNSUPPORTED_MEDIA_TYPE: &str = "UnsupportedMediaTypeErrors";
