//! The security schemes. Hand-built (`Modify`): the derive has no attribute for a component's
//! security scheme, only for an operation's requirements.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi;
use utoipa::Modify;

pub struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
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
        );
        components.add_security_scheme(
            "opaqueBearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("opaque")
                    .description(Some(
                        "`Authorization: Bearer <token>`: an opaque access token stored by the \
                         server (a token with exactly two dots is read as a JWT).",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "tokenAuth",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "DRF style: `Authorization: Token <token>`, the token a JWT or an opaque access \
                 token.",
            ))),
        );
    }
}
