//! The operations' ids, so the handlers' attributes, the links and the tests name them the same
//! way.

/// `GET /api/v2/user/{id}/connections/` (also the target of its own 200 response's link).
pub const CONNECTIONS: &str = "listUserConnections";
pub const REQUEST: &str = "userRequestConnection";
pub const ACCEPT: &str = "userAcceptRequestConnection";
pub const REJECT: &str = "userRejectConnectionRequest";
pub const CANCEL_REJECT: &str = "userCancelRejectConnectionRequest";
pub const CANCEL_REQUEST: &str = "userCancelRequestConnection";
pub const REMOVE: &str = "userRemoveConnection";
pub const MARK_SEEN: &str = "userMarkSeenConnectionRequest";
pub const IS_CONNECTION: &str = "userCheckConnection";
pub const CONNECTION_STATUS: &str = "userCheckConnectionStatus";
pub const REQUESTS: &str = "userConnectionRequests";
pub const REQUESTS_SENT: &str = "userRequestConnectionsSent";
pub const STATUSES: &str = "userConnectionStatuses";
