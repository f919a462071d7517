//! The OpenAPI 3.1 document of the REST routes, served at `/api/v2/openapi.json`.
//!
//! Built with utoipa's builder API (the body structs in `body` borrow from records and cannot
//! derive `ToSchema`), from the same facts the handler uses: the route path, the parameter
//! rules of `params`, the error codes of `crate::error`, the configured page sizes. The User and
//! Tag key lists here are checked against real response bodies by `tests/it/openapi.rs`, so the
//! document cannot drift from the wire silently.
//!
//! Decisions, where OpenAPI leaves room:
//! - `limit` and `offset` accept any text (DRF falls back silently), so their schema is
//!   "integer or string" and the description says what happens with other values;
//! - `mutual` is the enum `"0"` / `"1"`; anything else is a 400;
//! - the path `id` is documented as a positive 64-bit integer; any other segment is a 404;
//! - authentication is optional (an empty security requirement comes first);
//! - 405 is described once, as the reusable response `MethodNotAllowed` (no operation can list
//!   it: each path has only the operations it takes), with its `Allow` header;
//! - the lifecycle routes require credentials (no empty security requirement); their paths are
//!   documented with the trailing slash only.
//! - success responses carry OpenAPI links to what may follow on the same user
//!   (`$request.path.id`) or on the first user a list holds (`$response.body#/results/0/...`),
//!   so schemathesis's stateful phase chains lifecycle calls; `tests/it/openapi.rs` checks that
//!   every link names an existing operation, parameter and source value.

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use utoipa::openapi::link::{Link, LinkBuilder};
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::SchemaType;
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{
    ArrayBuilder, ComponentsBuilder, ContentBuilder, HeaderBuilder, InfoBuilder, KnownFormat,
    ObjectBuilder, OpenApi, OpenApiBuilder, OpenApiVersion, PathItem, PathsBuilder, Ref, RefOr,
    Required, ResponseBuilder, Schema, SchemaFormat, Server, Type,
};

use super::connections::CONNECTIONS_PATH;
use super::lifecycle::{
    ACTION_ROUTES, MAX_STATUS_IDS, REQUESTS_PATH, REQUESTS_SENT_PATH, STATUSES_PATH,
};
use crate::config::Config;
use crate::core::lifecycle::Action;
use crate::error::ApiError;
use crate::state::AppState;

/// Where the document is served.
pub const OPENAPI_PATH: &str = "/api/v2/openapi.json";

/// The operation's id (also the target of the 200 response's link).
const OPERATION_ID: &str = "listUserConnections";

/// The lifecycle operations' ids, so links and operations name them the same way.
pub mod op {
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
}

/// The runtime expression of a link that keeps the target user of the call it follows.
const SAME_TARGET: &str = "$request.path.id";

/// The media type of every body the route answers with, and of the document itself.
const JSON: &str = "application/json";

/// The component names, so tests can look schemas up by name.
pub mod names {
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
}

/// `GET /api/v2/openapi.json`: the document for this server's configuration.
pub async fn document(State(state): State<AppState>) -> Response {
    match serde_json::to_vec_pretty(&document_json(&state.config)) {
        Ok(bytes) => (
            [(header::CONTENT_TYPE, HeaderValue::from_static(JSON))],
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

/// The document as utoipa's model.
pub fn openapi(config: &Config) -> OpenApi {
    let operation = OperationBuilder::new()
        .operation_id(Some(OPERATION_ID))
        .tag("users")
        .summary(Some("A user's connections"))
        .description(Some(
            "The accepted friendships of user `id`, one page at a time, as Django REST \
             Framework's `LimitOffsetPagination` pages them. Order: connections the viewer \
             shares first (mutual), then the most recently connected first, then user id. \
             Checks, in order: 401 bad or unknown token, 401 anonymous when content is not \
             public, 403 friendship mode off, 404 unknown user, 400 bad `mutual`. The same \
             route without the trailing slash answers identically; any method other than \
             GET or HEAD answers 405 (response `MethodNotAllowed`).",
        ))
        .parameter(
            ParameterBuilder::new()
                .name("id")
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .description(Some(
                    "The user's id: a positive integer that fits in 64 bits. Any other \
                     segment, like an unknown id, answers 404.",
                ))
                .schema(Some(
                    integer()
                        .minimum(Some(1))
                        .maximum(Some(i64::MAX))
                        .examples([1]),
                )),
        )
        .parameter(limit_parameter(config))
        .parameter(offset_parameter())
        .parameter(
            ParameterBuilder::new()
                .name("mutual")
                .parameter_in(ParameterIn::Query)
                .required(Required::False)
                .description(Some(
                    "Absent: all connections. `1`: only those the viewer shares. `0`: only \
                     those the viewer does not share. Any other value (`2`, `true`, empty): \
                     400. When repeated, the last value counts.",
                ))
                .schema(Some(string().enum_values(Some(["0", "1"])))),
        )
        .securities(Some([
            SecurityRequirement::default(),
            SecurityRequirement::new("jwtBearer", Vec::<String>::new()),
            SecurityRequirement::new("opaqueBearer", Vec::<String>::new()),
            SecurityRequirement::new("tokenAuth", Vec::<String>::new()),
        ]))
        .response(
            "200",
            with_links(
                ResponseBuilder::new()
                    .description("One page of connections.")
                    .content(JSON, json_content(names::PAGE))
                    .link(
                        "FirstResultConnections",
                        LinkBuilder::new()
                            .operation_id(OPERATION_ID)
                            .parameter("id", "$response.body#/results/0/id")
                            .description("The connections of the page's first user.")
                            .build(),
                    ),
                connections_links(),
            ),
        )
        .response("400", response_ref("BadRequest"))
        .response("401", response_ref("Unauthorized"))
        .response("403", response_ref("Forbidden"))
        .response("404", response_ref("NotFound"))
        .response("413", response_ref("PayloadTooLarge"))
        .response("429", response_ref("TooManyRequests"))
        .response("503", response_ref("ServiceUnavailable"));

    let components = ComponentsBuilder::new()
        .schema(names::PAGE, page_schema())
        .schema(names::USER, user_schema())
        .schema(names::REQUEST_PAGE, request_page_schema())
        .schema(names::CONNECTION_REQUEST, connection_request_schema())
        .schema(names::TAG, tag_schema())
        .schema(names::FIELD_ERRORS, field_errors_schema())
        .schema(
            names::UNAUTHORIZED,
            errors_schema(&["not_authenticated", "authentication_failed"]),
        )
        .schema(names::FORBIDDEN, errors_schema(&["permission_denied"]))
        .schema(names::NOT_FOUND, errors_schema(&["not_found"]))
        .schema(
            names::METHOD_NOT_ALLOWED,
            errors_schema(&["method_not_allowed"]),
        )
        .schema(names::THROTTLED, errors_schema(&["throttled"]))
        .schema(
            names::PAYLOAD_TOO_LARGE,
            errors_schema(&["payload_too_large"]),
        )
        .schema(names::UNAVAILABLE, errors_schema(&["service_unavailable"]))
        .schema(
            names::CONNECTION_STATUS,
            closed_object(vec![("connection_status", status_schema().into())]),
        )
        .schema(
            names::IS_CONNECTION,
            closed_object(vec![("is_connection", boolean().into())]),
        )
        .schema(
            names::CONNECTION_STATUSES,
            closed_object(vec![(
                "connection_statuses",
                ObjectBuilder::new()
                    .additional_properties(Some(status_schema()))
                    .property_names(Some(string().pattern(Some("^[1-9][0-9]*$"))))
                    .description(Some(
                        "One key per distinct existing user id asked (decimal text); the \
                         viewer's own id maps to null.",
                    ))
                    .into(),
            )]),
        )
        .schema(
            names::STATUSES_REQUEST,
            // Other keys are ignored (DRF's serializer ignores unknown fields).
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .property(
                    "users",
                    ArrayBuilder::new()
                        .items(
                            utoipa::openapi::schema::OneOfBuilder::new()
                                .item(integer().minimum(Some(1)).maximum(Some(u64::MAX)))
                                // At most 19 significant digits: below 2^64 whatever they are.
                                .item(string().pattern(Some("^0*[1-9][0-9]{0,18}$")))
                                .description(Some(
                                    "A user id from 1 to 2^64 - 1: a JSON integer or a string \
                                     of ASCII digits.",
                                )),
                        )
                        .max_items(Some(MAX_STATUS_IDS)),
                )
                .required("users"),
        )
        .schema(
            names::CONFLICT,
            errors_schema(&[
                "self_connection",
                "no_request",
                "not_connected",
                "already_connected",
            ]),
        )
        .schema(names::PARSE_ERROR, errors_schema(&["parse_error"]))
        .schema(
            names::UNSUPPORTED_MEDIA_TYPE,
            errors_schema(&["unsupported_media_type"]),
        )
        .response(
            "LifecycleConflict",
            ResponseBuilder::new()
                .description(
                    "The target is the viewer (`self_connection`), or the pair's state does \
                     not allow the action: `no_request`, `not_connected`, \
                     `already_connected`.",
                )
                .content(JSON, json_content(names::CONFLICT)),
        )
        .response(
            "StatusesBadRequest",
            ResponseBuilder::new()
                .description(
                    "`users` is missing or not a list of at most 100 user ids (a field error \
                     on `users`), or a JSON body that does not parse (`parse_error`).",
                )
                .content(
                    JSON,
                    ContentBuilder::new()
                        .schema(Some(
                            utoipa::openapi::schema::OneOfBuilder::new()
                                .item(Ref::from_schema_name(names::FIELD_ERRORS))
                                .item(Ref::from_schema_name(names::PARSE_ERROR)),
                        ))
                        .build(),
                ),
        )
        .response(
            "UnsupportedMediaType",
            ResponseBuilder::new()
                .description("A body that is neither JSON nor form data.")
                .content(JSON, json_content(names::UNSUPPORTED_MEDIA_TYPE)),
        )
        .response(
            "BadRequest",
            ResponseBuilder::new()
                .description("A parameter is invalid (`mutual`); the error names its field.")
                .content(JSON, json_content(names::FIELD_ERRORS)),
        )
        .response(
            "Unauthorized",
            ResponseBuilder::new()
                .description(
                    "`not_authenticated`: anonymous while content is not public. \
                     `authentication_failed`: a present but bad, expired or unknown token, \
                     or one whose user does not exist (even where content is public).",
                )
                .header(
                    "WWW-Authenticate",
                    HeaderBuilder::new()
                        .description(Some("Always `Bearer realm=\"api\"`."))
                        .schema(Some(string().enum_values(Some(["Bearer realm=\"api\""]))))
                        .build(),
                )
                .content(JSON, json_content(names::UNAUTHORIZED)),
        )
        .response(
            "Forbidden",
            ResponseBuilder::new()
                .description("Friendship mode is off (`connection_enabled` is false).")
                .content(JSON, json_content(names::FORBIDDEN)),
        )
        .response(
            "NotFound",
            ResponseBuilder::new()
                .description("No user with that id, or an id that is not a positive integer.")
                .content(JSON, json_content(names::NOT_FOUND)),
        )
        .response(
            "MethodNotAllowed",
            ResponseBuilder::new()
                .description(
                    "A method the route does not take (the connections page and the status \
                     reads take GET and HEAD, the lifecycle actions and statuses POST); on \
                     the lifecycle routes, after authentication.",
                )
                .header(
                    "Allow",
                    HeaderBuilder::new()
                        .description(Some("The methods the route answers."))
                        .schema(Some(string()))
                        .build(),
                )
                .content(JSON, json_content(names::METHOD_NOT_ALLOWED)),
        )
        .response(
            "PayloadTooLarge",
            ResponseBuilder::new()
                .description("A request body larger than the configured `MAX_BODY_BYTES`.")
                .content(JSON, json_content(names::PAYLOAD_TOO_LARGE)),
        )
        .response(
            "TooManyRequests",
            ResponseBuilder::new()
                .description("The client's rate limit is spent (only when rate limiting is on).")
                .header("Retry-After", retry_after())
                .content(JSON, json_content(names::THROTTLED)),
        )
        .response(
            "ServiceUnavailable",
            ResponseBuilder::new()
                .description(
                    "The database cannot be reached or the request took too long; retry later.",
                )
                .header("Retry-After", retry_after())
                .content(JSON, json_content(names::UNAVAILABLE)),
        )
        .security_scheme(
            "jwtBearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "`Authorization: Bearer <jwt>` (or `Token <jwt>`; the keyword in any \
                         case): an HS256 access token with integer `user_id`, `token_type` \
                         `access`, integer `exp` in the future, `iat` and `jti`.",
                    ))
                    .build(),
            ),
        )
        .security_scheme(
            "opaqueBearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("opaque")
                    .description(Some(
                        "`Authorization: Bearer <token>`: an opaque access token stored by \
                         the server (a token with exactly two dots is read as a JWT).",
                    ))
                    .build(),
            ),
        )
        .security_scheme(
            "tokenAuth",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "DRF style: `Authorization: Token <token>`, the token a JWT or an opaque \
                 access token.",
            ))),
        )
        .build();

    OpenApiBuilder::new()
        .openapi(OpenApiVersion::Version31)
        .info(
            InfoBuilder::new()
                .title("community-gateway REST API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "The SelfCommunity v2 REST route for a community's friendship graph. \
                     The same data is served through GraphQL at `/graphql`.",
                )),
        )
        .paths(lifecycle_paths(
            PathsBuilder::new().path(CONNECTIONS_PATH, PathItem::new(HttpMethod::Get, operation)),
            config,
        ))
        .components(Some(components))
        // Behind a proxy with PUBLIC_BASE_URL, the API lives there (links use it too);
        // otherwise the default server, the document's own origin, is right.
        .servers(
            config
                .public_base_url
                .as_ref()
                .map(|url| [Server::new(url.clone())]),
        )
        .build()
}

/// The User object's keys in wire order, with their schemas (`body::UserBody`).
pub fn user_properties() -> Vec<(&'static str, RefOr<Schema>)> {
    let status = ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .enum_values(Some([
            json!("connected"),
            json!("sent_connection_request"),
            json!("received_connection_request"),
            Value::Null,
        ]))
        .description(Some(
            "Relative to the viewer: null when anonymous or the user is the viewer.",
        ));
    let follow_counter = || {
        nullable(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .description(Some("null unless follow mode is on (`follow_enabled`)."))
    };
    vec![
        ("id", integer().minimum(Some(1)).into()),
        ("username", string().into()),
        ("real_name", string().into()),
        (
            "avatar",
            nullable(Type::String).description(Some("URL")).into(),
        ),
        (
            "ext_id",
            nullable(Type::Integer)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                .into(),
        ),
        ("followings_counter", follow_counter().into()),
        ("followers_counter", follow_counter().into()),
        ("posts_counter", integer().into()),
        ("discussions_counter", integer().into()),
        ("polls_counter", integer().into()),
        ("connection_status", status.into()),
        ("categories_counter", integer().into()),
        ("date_joined", date_time().into()),
        ("bio", string().into()),
        ("location", string().into()),
        (
            "location_lat_lng",
            nullable(Type::String)
                .description(Some("`\"lat,lng\"`"))
                .into(),
        ),
        (
            "position_lat_lng",
            nullable(Type::String)
                .description(Some("`\"lat,lng\"`"))
                .into(),
        ),
        (
            "date_of_birth",
            nullable(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
                .into(),
        ),
        ("description", string().into()),
        (
            "gender",
            string()
                .enum_values(Some(["Male", "Female", "Unspecified"]))
                .into(),
        ),
        ("website", string().into()),
        (
            "cover",
            nullable(Type::String).description(Some("URL")).into(),
        ),
        (
            "tags",
            ArrayBuilder::new()
                .items(Ref::from_schema_name(names::TAG))
                .description(Some(
                    "The user's visible, active, not deleted tags, by tag id ascending.",
                ))
                .into(),
        ),
        ("reputation", integer().into()),
        ("community_badge", boolean().into()),
        ("reg_approved", boolean().into()),
        (
            "deleted",
            boolean()
                .description(Some("A soft-deleted user still appears, with `true`."))
                .into(),
        ),
        ("company_name", string().into()),
        ("company_role", string().into()),
    ]
}

/// The Tag object's keys in wire order, with their schemas (`body::TagBody`).
pub fn tag_properties() -> Vec<(&'static str, RefOr<Schema>)> {
    vec![
        ("id", integer().into()),
        ("type", string().into()),
        ("name", string().into()),
        ("description", string().into()),
        ("color", string().into()),
        ("visible", boolean().into()),
        ("visibility_boost", boolean().into()),
        ("created_at", date_time().into()),
        ("active", boolean().into()),
        ("deleted", boolean().into()),
    ]
}

/// A closed object: exactly these keys, all required, no others.
fn closed_object(properties: Vec<(&'static str, RefOr<Schema>)>) -> ObjectBuilder {
    let mut object = ObjectBuilder::new().schema_type(Type::Object);
    for (name, schema) in properties {
        object = object.property(name, schema).required(name);
    }
    object.additional_properties(Some(
        utoipa::openapi::schema::AdditionalProperties::<Schema>::FreeForm(false),
    ))
}

fn page_schema() -> ObjectBuilder {
    let link = |which: &str| {
        nullable(Type::String)
            .format(Some(SchemaFormat::Custom("uri".into())))
            .description(Some(format!(
                "Absolute URL of the {which} page (DRF's link: the request's URL with `limit` \
                 and `offset` replaced, keys sorted), or null."
            )))
    };
    closed_object(vec![
        (
            "count",
            integer()
                .minimum(Some(0))
                .description(Some("How many users match the filter, on all pages."))
                .into(),
        ),
        ("next", link("next").into()),
        ("previous", link("previous").into()),
        (
            "results",
            ArrayBuilder::new()
                .items(Ref::from_schema_name(names::USER))
                .into(),
        ),
    ])
    .description(Some("One page of a user's connections."))
}

fn user_schema() -> ObjectBuilder {
    closed_object(user_properties()).description(Some(
        "The SelfCommunity User object: exactly these keys, always present, in this order.",
    ))
}

/// The lifecycle's routes (`docs/rest.md`, "Connection lifecycle").
fn lifecycle_paths(mut paths: PathsBuilder, config: &Config) -> PathsBuilder {
    // The first request's other user: the sender in the inbox, the recipient in the sent list.
    let sender = "$response.body#/results/0/from_user/id";
    let recipient = "$response.body#/results/0/to_user/id";
    for (path, id, summary, holds, links) in [
        (
            REQUESTS_PATH,
            op::REQUESTS,
            "The connection requests the viewer received",
            "The pending requests to the viewer (rejected ones leave the list until \
             `cancel_reject`), the most recent first, then by sender id.",
            vec![
                link(
                    "AcceptFirst",
                    op::ACCEPT,
                    sender,
                    "Accept the first request.",
                ),
                link(
                    "RejectFirst",
                    op::REJECT,
                    sender,
                    "Decline the first request.",
                ),
                link(
                    "MarkSeenFirst",
                    op::MARK_SEEN,
                    sender,
                    "Mark the first request as seen.",
                ),
                link(
                    "RequestFirstSender",
                    op::REQUEST,
                    sender,
                    "Ask the first request's sender back (connects the pair).",
                ),
            ],
        ),
        (
            REQUESTS_SENT_PATH,
            op::REQUESTS_SENT,
            "The connection requests the viewer sent",
            "The requests from the viewer, pending and rejected, the most recent first, then \
             by recipient id.",
            vec![
                link(
                    "CancelFirst",
                    op::CANCEL_REQUEST,
                    recipient,
                    "Withdraw the first request.",
                ),
                link(
                    "FirstRecipientStatus",
                    op::CONNECTION_STATUS,
                    recipient,
                    "The viewer's status with the first request's recipient.",
                ),
            ],
        ),
    ] {
        let operation = request_list_operation(config, id, summary, holds, links);
        paths = paths.path(path, PathItem::new(HttpMethod::Get, operation));
    }
    for (suffix, action) in ACTION_ROUTES {
        let (id, summary) = action_operation(action);
        let mut operation = lifecycle_operation(id, summary)
            .description(Some(
                "Checks, in order: 401 (credentials are always required), 405 another method, \
                 403 friendship mode off (all but mark_seen), 404 unknown target (for request \
                 and accept also a soft-deleted one), 400 `self_connection`, 400 when the \
                 pair's state does not allow the action. A retried call answers 200 with the \
                 current status and changes nothing. The body is ignored. The route also \
                 answers without the trailing slash.",
            ))
            .response("400", response_ref("LifecycleConflict"));
        operation = if action == Action::MarkSeen {
            operation.response(
                "204",
                with_links(
                    ResponseBuilder::new().description("Marked seen (or already seen)."),
                    action_links(action),
                ),
            )
        } else {
            operation
                .response(
                    "200",
                    with_links(
                        ResponseBuilder::new()
                            .description("The viewer's connection status after the call.")
                            .content(JSON, json_content(names::CONNECTION_STATUS)),
                        action_links(action),
                    ),
                )
                .response("403", response_ref("Forbidden"))
        };
        paths = paths.path(
            format!("/api/v2/user/{{id}}/{suffix}/"),
            PathItem::new(HttpMethod::Post, operation),
        );
    }
    for (suffix, id, schema, summary, links) in [
        (
            "is_connection",
            op::IS_CONNECTION,
            names::IS_CONNECTION,
            "Whether the viewer and a user are connected",
            vec![
                same_target("Remove", op::REMOVE, "End the connection just checked."),
                same_target("Request", op::REQUEST, "Ask the same user to connect."),
            ],
        ),
        (
            "connection_status",
            op::CONNECTION_STATUS,
            names::CONNECTION_STATUS,
            "The viewer's connection status with a user",
            vec![
                same_target("Request", op::REQUEST, "Ask the same user to connect."),
                same_target("Accept", op::ACCEPT, "Accept the same user's request."),
                same_target(
                    "CancelRequest",
                    op::CANCEL_REQUEST,
                    "Withdraw the request to the same user.",
                ),
            ],
        ),
    ] {
        let operation = lifecycle_operation(id, summary)
            .description(Some(
                "Stored data, whatever the settings (friendship mode off included). The \
                 viewer itself: not connected, status null.",
            ))
            .response(
                "200",
                with_links(
                    ResponseBuilder::new()
                        .description("The answer.")
                        .content(JSON, json_content(schema)),
                    links,
                ),
            );
        paths = paths.path(
            format!("/api/v2/user/{{id}}/{suffix}/"),
            PathItem::new(HttpMethod::Get, operation),
        );
    }
    let statuses = OperationBuilder::new()
        .operation_id(Some(op::STATUSES))
        .tag("connections")
        .summary(Some("The viewer's connection status with several users"))
        .description(Some(
            "Unknown ids are left out, duplicates appear once, soft-deleted users are \
             included. Works with friendship mode off. Form data (`users=1&users=7`) is \
             accepted too.",
        ))
        .request_body(Some(
            utoipa::openapi::request_body::RequestBodyBuilder::new()
                .required(Some(Required::True))
                .content(JSON, json_content(names::STATUSES_REQUEST))
                .build(),
        ))
        .securities(Some(required_security()))
        .response(
            "200",
            ResponseBuilder::new()
                .description("The statuses.")
                .content(JSON, json_content(names::CONNECTION_STATUSES)),
        )
        .response("400", response_ref("StatusesBadRequest"))
        .response("401", response_ref("Unauthorized"))
        .response("413", response_ref("PayloadTooLarge"))
        .response("415", response_ref("UnsupportedMediaType"))
        .response("429", response_ref("TooManyRequests"))
        .response("503", response_ref("ServiceUnavailable"));
    paths.path(STATUSES_PATH, PathItem::new(HttpMethod::Post, statuses))
}

/// `limit`, as DRF's `LimitOffsetPagination` reads it.
fn limit_parameter(config: &Config) -> ParameterBuilder {
    ParameterBuilder::new()
        .name("limit")
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(format!(
            "Page size: a strictly positive integer in Python `int()` syntax \
             (surrounding spaces, a sign, `_` between digits). Never an error: any \
             other value (missing, `0`, negative, not a number) means {}, and values \
             above {} are cut to {}. When repeated, the last value counts.",
            config.default_limit, config.max_limit, config.max_limit
        )))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(SchemaType::from_iter([Type::Integer, Type::String]))
                .default(Some(json!(config.default_limit)))
                .examples([json!(config.default_limit)]),
        ))
}

/// `offset`, as DRF's `LimitOffsetPagination` reads it.
fn offset_parameter() -> ParameterBuilder {
    ParameterBuilder::new()
        .name("offset")
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(
            "Index of the first result: a non-negative integer in Python `int()` \
             syntax. Never an error: any other value means 0. An offset past the end \
             gives an empty `results` with the full `count`. When repeated, the last \
             value counts.",
        ))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(SchemaType::from_iter([Type::Integer, Type::String]))
                .default(Some(json!(0)))
                .examples([json!(0)]),
        ))
}

/// Routes 10 and 11: a page of the viewer's received or sent requests.
fn request_list_operation(
    config: &Config,
    id: &str,
    summary: &str,
    holds: &str,
    links: Vec<(&'static str, Link)>,
) -> OperationBuilder {
    OperationBuilder::new()
        .operation_id(Some(id))
        .tag("connections")
        .summary(Some(summary))
        .description(Some(format!(
            "{holds} Paged as the connections page (DRF `LimitOffsetPagination`). Checks, \
             in order: 401 (credentials are always required), 405 another method, 403 \
             friendship mode off. Requests whose other user is soft-deleted are listed. The \
             route also answers without the trailing slash."
        )))
        .parameter(limit_parameter(config))
        .parameter(offset_parameter())
        .securities(Some(required_security()))
        .response(
            "200",
            with_links(
                ResponseBuilder::new()
                    .description("One page of connection requests.")
                    .content(JSON, json_content(names::REQUEST_PAGE)),
                links,
            ),
        )
        .response("401", response_ref("Unauthorized"))
        .response("403", response_ref("Forbidden"))
        .response("413", response_ref("PayloadTooLarge"))
        .response("429", response_ref("TooManyRequests"))
        .response("503", response_ref("ServiceUnavailable"))
}

fn request_page_schema() -> ObjectBuilder {
    let link = |which: &str| {
        nullable(Type::String)
            .format(Some(SchemaFormat::Custom("uri".into())))
            .description(Some(format!(
                "Absolute URL of the {which} page (DRF's link: the request's URL with `limit` \
                 and `offset` replaced, keys sorted), or null."
            )))
    };
    closed_object(vec![
        (
            "count",
            integer()
                .minimum(Some(0))
                .description(Some("How many requests the list holds, on all pages."))
                .into(),
        ),
        ("next", link("next").into()),
        ("previous", link("previous").into()),
        (
            "results",
            ArrayBuilder::new()
                .items(Ref::from_schema_name(names::CONNECTION_REQUEST))
                .into(),
        ),
    ])
    .description(Some("One page of the viewer's connection requests."))
}

fn connection_request_schema() -> ObjectBuilder {
    let time_or_null = |what: &str| {
        nullable(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .description(Some(format!(
                "When the recipient {what} the request (RFC 3339, UTC, whole seconds, `Z`), \
                 or null."
            )))
    };
    closed_object(vec![
        (
            "id",
            integer()
                .minimum(Some(1))
                .description(Some("The request's id: unique, stable, never reused."))
                .into(),
        ),
        ("from_user", Ref::from_schema_name(names::USER).into()),
        ("to_user", Ref::from_schema_name(names::USER).into()),
        ("created", date_time().into()),
        ("rejected", time_or_null("rejected").into()),
        ("viewed", time_or_null("marked seen").into()),
    ])
    .description(Some(
        "A connection request (`SCUserConnectionRequestType`): exactly these keys, in this \
         order; both users' `connection_status` is relative to the viewer.",
    ))
}

/// An action's operation id and summary.
fn action_operation(action: Action) -> (&'static str, &'static str) {
    match action {
        Action::Request => (op::REQUEST, "Ask a user to connect"),
        Action::Accept => (op::ACCEPT, "Accept a user's request"),
        Action::Reject => (op::REJECT, "Decline a user's request"),
        Action::CancelReject => (
            op::CANCEL_REJECT,
            "Take back the rejection of a user's request",
        ),
        Action::CancelRequest => (op::CANCEL_REQUEST, "Withdraw the request to a user"),
        Action::Remove => (op::REMOVE, "End the connection with a user"),
        Action::MarkSeen => (op::MARK_SEEN, "Mark a user's request as seen"),
    }
}

/// The links of an action's success response: what the viewer may do next with the same
/// target, following the lifecycle's state tables (`docs/rest.md`, section 13). The reads
/// (`is_connection`, `connection_status`) follow every action, so a sequence checks the state
/// the action left.
fn action_links(action: Action) -> Vec<(&'static str, Link)> {
    let status = same_target(
        "ConnectionStatus",
        op::CONNECTION_STATUS,
        "The viewer's status with the same user after the call.",
    );
    let is_connection = same_target(
        "IsConnection",
        op::IS_CONNECTION,
        "Whether the viewer and the same user are connected after the call.",
    );
    let mut links = vec![status, is_connection];
    let next: &[(&'static str, &'static str, &'static str)] = match action {
        Action::Request => &[
            (
                "CancelRequest",
                op::CANCEL_REQUEST,
                "Withdraw the request just sent.",
            ),
            (
                "Remove",
                op::REMOVE,
                "End the connection (when the request connected the pair).",
            ),
            (
                "RequestAgain",
                op::REQUEST,
                "Retry: the answer is the same, nothing changes.",
            ),
        ],
        Action::Accept => &[
            ("Remove", op::REMOVE, "End the connection just made."),
            (
                "AcceptAgain",
                op::ACCEPT,
                "Retry: the answer is the same, nothing changes.",
            ),
        ],
        Action::Reject => &[
            (
                "CancelReject",
                op::CANCEL_REJECT,
                "Take the rejection back.",
            ),
            (
                "Accept",
                op::ACCEPT,
                "Accept the rejected request after all.",
            ),
            (
                "MarkSeen",
                op::MARK_SEEN,
                "Mark the rejected request as seen.",
            ),
        ],
        Action::CancelReject => &[
            (
                "Accept",
                op::ACCEPT,
                "Accept the request back in the inbox.",
            ),
            ("Reject", op::REJECT, "Decline the request again."),
            ("MarkSeen", op::MARK_SEEN, "Mark the request as seen."),
        ],
        Action::CancelRequest => &[
            ("Request", op::REQUEST, "Ask the same user again."),
            (
                "CancelRequestAgain",
                op::CANCEL_REQUEST,
                "Retry: the answer is the same, nothing changes.",
            ),
        ],
        Action::Remove => &[
            (
                "Request",
                op::REQUEST,
                "Ask the same user to connect again.",
            ),
            (
                "RemoveAgain",
                op::REMOVE,
                "Retry: the answer is the same, nothing changes.",
            ),
        ],
        Action::MarkSeen => &[
            ("Accept", op::ACCEPT, "Accept the request just seen."),
            ("Reject", op::REJECT, "Decline the request just seen."),
        ],
    };
    links.extend(
        next.iter()
            .map(|&(name, target, description)| same_target(name, target, description)),
    );
    links
}

/// The links of the connections page: the page's first user, as the viewer sees them.
fn connections_links() -> Vec<(&'static str, Link)> {
    let first = "$response.body#/results/0/id";
    vec![
        link(
            "FirstResultIsConnection",
            op::IS_CONNECTION,
            first,
            "Whether the viewer is connected with the page's first user.",
        ),
        link(
            "FirstResultConnectionStatus",
            op::CONNECTION_STATUS,
            first,
            "The viewer's status with the page's first user.",
        ),
        link(
            "FirstResultRemove",
            op::REMOVE,
            first,
            "End the viewer's connection with the page's first user (when connected).",
        ),
    ]
}

/// A link to `operation_id` that sets its path `id` from `expression`.
fn link(
    name: &'static str,
    operation_id: &str,
    expression: &str,
    description: &str,
) -> (&'static str, Link) {
    (
        name,
        LinkBuilder::new()
            .operation_id(operation_id)
            .parameter("id", expression)
            .description(description)
            .build(),
    )
}

/// A link to `operation_id` on the same target user as the call it follows.
fn same_target(name: &'static str, operation_id: &str, description: &str) -> (&'static str, Link) {
    link(name, operation_id, SAME_TARGET, description)
}

fn with_links(mut response: ResponseBuilder, links: Vec<(&'static str, Link)>) -> ResponseBuilder {
    for (name, link) in links {
        response = response.link(name, link);
    }
    response
}

/// A lifecycle operation on user `id`, with the responses every one of them shares.
fn lifecycle_operation(id: &str, summary: &str) -> OperationBuilder {
    OperationBuilder::new()
        .operation_id(Some(id))
        .tag("connections")
        .summary(Some(summary))
        .parameter(
            ParameterBuilder::new()
                .name("id")
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .description(Some(
                    "The target user's id: a positive integer that fits in 64 bits. Any other \
                     segment, like an unknown id, answers 404.",
                ))
                .schema(Some(
                    integer()
                        .minimum(Some(1))
                        .maximum(Some(i64::MAX))
                        .examples([1]),
                )),
        )
        .securities(Some(required_security()))
        .response("401", response_ref("Unauthorized"))
        .response("404", response_ref("NotFound"))
        .response("413", response_ref("PayloadTooLarge"))
        .response("429", response_ref("TooManyRequests"))
        .response("503", response_ref("ServiceUnavailable"))
}

/// Credentials required: any of the three schemes.
fn required_security() -> [SecurityRequirement; 3] {
    [
        SecurityRequirement::new("jwtBearer", Vec::<String>::new()),
        SecurityRequirement::new("opaqueBearer", Vec::<String>::new()),
        SecurityRequirement::new("tokenAuth", Vec::<String>::new()),
    ]
}

/// `connection_status`: one of the three statuses, or null.
fn status_schema() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .enum_values(Some([
            json!("connected"),
            json!("sent_connection_request"),
            json!("received_connection_request"),
            Value::Null,
        ]))
}

fn tag_schema() -> ObjectBuilder {
    closed_object(tag_properties()).description(Some("The SelfCommunity Tag object."))
}

/// `{"errors": [{"code": <one of codes>, "message": "..."}]}`.
fn errors_schema(codes: &[&str]) -> ObjectBuilder {
    let item = closed_object(vec![
        ("code", string().enum_values(Some(codes.to_vec())).into()),
        ("message", string().into()),
    ]);
    closed_object(vec![(
        "errors",
        ArrayBuilder::new().items(item).min_items(Some(1)).into(),
    )])
}

/// `{"errors": [{"field": "mutual", "messages": [{"code": "invalid", "message": "..."}]}]}`.
fn field_errors_schema() -> ObjectBuilder {
    let message = closed_object(vec![
        ("code", string().enum_values(Some(["invalid"])).into()),
        ("message", string().into()),
    ]);
    let item = closed_object(vec![
        (
            "field",
            string().enum_values(Some(["mutual", "users"])).into(),
        ),
        (
            "messages",
            ArrayBuilder::new().items(message).min_items(Some(1)).into(),
        ),
    ]);
    closed_object(vec![(
        "errors",
        ArrayBuilder::new().items(item).min_items(Some(1)).into(),
    )])
}

fn retry_after() -> utoipa::openapi::Header {
    HeaderBuilder::new()
        .description(Some("Seconds to wait before retrying."))
        .schema(Some(integer().minimum(Some(1))))
        .build()
}

fn json_content(schema: &str) -> utoipa::openapi::Content {
    ContentBuilder::new()
        .schema(Some(Ref::from_schema_name(schema)))
        .build()
}

fn response_ref(name: &str) -> RefOr<utoipa::openapi::Response> {
    RefOr::Ref(Ref::from_response_name(name))
}

fn integer() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
}

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

fn boolean() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::Boolean)
}

fn date_time() -> ObjectBuilder {
    string()
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
        .description(Some("RFC 3339, UTC, whole seconds, `Z`."))
}

fn nullable(kind: Type) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(SchemaType::from_iter([kind, Type::Null]))
}
