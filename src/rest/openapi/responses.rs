//! The reusable responses (`#/components/responses/...`), each a marker type implementing
//! `ToResponse` by hand, so the handlers' attributes name them (`response = NotFound`) and get a
//! `$ref`. Hand-built because `crate::error` and the middleware answer them, not the handlers:
//! there is no handler return type to derive them from.

use utoipa::openapi::schema::OneOfBuilder;
use utoipa::openapi::{ContentBuilder, HeaderBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::ToResponse;

use super::build::{integer, json_content, string, JSON};
use super::names;

/// Declares a marker type whose response is `$response`, named after the type.
macro_rules! response {
    ($ty:ident, $response:expr) => {
        pub struct $ty;

        impl<'s> ToResponse<'s> for $ty {
            fn response() -> (&'s str, RefOr<Response>) {
                (stringify!($ty), $response.build().into())
            }
        }
    };
}

response!(
    LifecycleConflict,
    ResponseBuilder::new()
        .description(
            "The target is the viewer (`self_connection`), or the pair's state does not allow \
             the action: `no_request`, `not_connected`, `already_connected`.",
        )
        .content(JSON, json_content(names::CONFLICT))
);
response!(
    StatusesBadRequest,
    ResponseBuilder::new()
        .description(
            "`users` is missing or not a list of at most 100 user ids (a field error on \
             `users`), or a JSON body that does not parse (`parse_error`).",
        )
        .content(
            JSON,
            ContentBuilder::new()
                .schema(Some(
                    OneOfBuilder::new()
                        .item(Ref::from_schema_name(names::FIELD_ERRORS))
                        .item(Ref::from_schema_name(names::PARSE_ERROR)),
                ))
                .build(),
        )
);
response!(
    UnsupportedMediaType,
    ResponseBuilder::new()
        .description("A body that is neither JSON nor form data.")
        .content(JSON, json_content(names::UNSUPPORTED_MEDIA_TYPE))
);
response!(
    BadRequest,
    ResponseBuilder::new()
        .description("A parameter is invalid (`mutual`); the error names its field.")
        .content(JSON, json_content(names::FIELD_ERRORS))
);
response!(
    Unauthorized,
    ResponseBuilder::new()
        .description(
            "`not_authenticated`: anonymous while content is not public. \
             `authentication_failed`: a present but bad, expired or unknown token, or one \
             whose user does not exist (even where content is public).",
        )
        .header(
            "WWW-Authenticate",
            HeaderBuilder::new()
                .description(Some("Always `Bearer realm=\"api\"`."))
                .schema(Some(string().enum_values(Some(["Bearer realm=\"api\""]))))
                .build(),
        )
        .content(JSON, json_content(names::UNAUTHORIZED))
);
response!(
    Forbidden,
    ResponseBuilder::new()
        .description("Friendship mode is off (`connection_enabled` is false).")
        .content(JSON, json_content(names::FORBIDDEN))
);
response!(
    NotFound,
    ResponseBuilder::new()
        .description("No user with that id, or an id that is not a positive integer.")
        .content(JSON, json_content(names::NOT_FOUND))
);
// No operation lists it (each path has only the operations it takes): it is described once.
response!(
    MethodNotAllowed,
    ResponseBuilder::new()
        .description(
            "A method the route does not take (the connections page and the status reads \
             take GET and HEAD, the lifecycle actions and statuses POST); on the lifecycle \
             routes, after authentication.",
        )
        .header(
            "Allow",
            HeaderBuilder::new()
                .description(Some("The methods the route answers."))
                .schema(Some(string()))
                .build(),
        )
        .content(JSON, json_content(names::METHOD_NOT_ALLOWED))
);
response!(
    PayloadTooLarge,
    ResponseBuilder::new()
        .description("A request body larger than the configured `MAX_BODY_BYTES`.")
        .content(JSON, json_content(names::PAYLOAD_TOO_LARGE))
);
response!(
    TooManyRequests,
    ResponseBuilder::new()
        .description("The client's rate limit is spent (only when rate limiting is on).")
        .header("Retry-After", retry_after())
        .content(JSON, json_content(names::THROTTLED))
);
response!(
    ServiceUnavailable,
    ResponseBuilder::new()
        .description("The database cannot be reached or the request took too long; retry later.")
        .header("Retry-After", retry_after())
        .content(JSON, json_content(names::UNAVAILABLE))
);

fn retry_after() -> utoipa::openapi::Header {
    HeaderBuilder::new()
        .description(Some("Seconds to wait before retrying."))
        .schema(Some(integer().minimum(Some(1))))
        .build()
}
