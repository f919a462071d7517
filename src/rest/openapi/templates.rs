//! The paths of the operations one handler serves for several routes: the handler's
//! `#[utoipa::path]` documents it once under a template path, and `routes` expands the template
//! into one operation per route of the handler's route table. No route is served at these.

/// `lifecycle::run_action`: one operation per entry of `lifecycle::ACTION_ROUTES`.
pub const ACTION: &str = "/api/v2/user/{id}/{action}/";
/// `lifecycle::read_pair`: `is_connection` and `connection_status`.
pub const READ_PAIR: &str = "/api/v2/user/{id}/{read}/";
/// `lifecycle::request_list`: the received and the sent requests.
pub const REQUEST_LIST: &str = "/api/v2/user/connection/{list}/";
