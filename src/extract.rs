//! Who is asking, and about whom: axum extractors, so each handler of either door says in its
//! signature what it needs, and `auth` is called from here only.
//!
//! The spec's check order (401 bad credentials → 401 unknown user → 403 settings → 404 target
//! → 400 parameters, `docs/rest.md`) is kept by what each extractor decides and what it leaves
//! to `core`, where the checks that need the database are made together:
//! - [`Credentials`]: the `Authorization` header checked for form and signature (no SQL). It
//!   never rejects: the door decides when a bad credential counts (REST at once, GraphQL when a
//!   field first needs the viewer, the WebSocket at `connection_init`).
//! - [`Claimed`]: the user the credentials claim, or anonymous; a bad credential and an
//!   unknown stored token are 401. Whether a JWT's user exists is checked by `core::admit`'s
//!   one statement, with the settings and the target.
//! - [`Viewer`]: a user who must be there (the lifecycle routes): 401 when anonymous or when
//!   the claimed user does not exist (`core::lifecycle::authenticate`).
//! - [`Acting`]: the viewer of an action (routes 1–7): as [`Viewer`], but when the graph
//!   cache does not hold the user, its existence is left to the action's lock statement
//!   (`core::lifecycle::Actor`).
//! - [`TargetId`]: the `{id}` path segment. It never rejects: a malformed id is a 404, and
//!   only after the 401s and the 403.

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue};

use crate::auth::{self, BadCredentials, Claimed as ClaimedSession, Credential};
use crate::config::Config;
use crate::core::{self, Access, Target};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::Store;

/// The request's credentials as its `Authorization` header gives them: `Ok(None)` when
/// anonymous, `Err` (401) when the header is a bad credential.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials(pub Result<Option<Credential>, BadCredentials>);

impl Credentials {
    /// Reads an `Authorization` value (a header, or the `connection_init` payload's entry).
    pub fn read(header: Option<&HeaderValue>, config: &Config) -> Credentials {
        Credentials(auth::credential(header, &config.jwt_secret))
    }

    /// Who they stand for, and until when (a stored token is looked up).
    pub async fn session(self, store: &Store) -> Result<Option<ClaimedSession>, ApiError> {
        auth::claimed_session(self.0?, store).await
    }

    /// The user they claim to be (not yet confirmed to exist).
    pub async fn claimed(self, store: &Store) -> Result<Option<i64>, ApiError> {
        Ok(self.session(store).await?.map(|claimed| claimed.user_id))
    }
}

impl<S> FromRequestParts<S> for Credentials
where
    S: AsRef<AppState> + Send + Sync,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(Credentials::read(
            parts.headers.get(header::AUTHORIZATION),
            &state.as_ref().config,
        ))
    }
}

/// The user the credentials claim (`None`: anonymous). Rejects bad credentials with 401.
#[derive(Clone, Copy, Debug)]
pub struct Claimed(pub Option<i64>);

impl<S> FromRequestParts<S> for Claimed
where
    S: AsRef<AppState> + Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Ok(credentials) = Credentials::from_request_parts(parts, state).await;
        Ok(Claimed(
            credentials.claimed(state.as_ref().source.store()).await?,
        ))
    }
}

/// A viewer who must be there, with the settings in force. Rejects with 401 when anonymous,
/// when the credentials are bad and when their user does not exist.
#[derive(Clone, Copy, Debug)]
pub struct Viewer {
    pub id: i64,
    pub access: Access,
}

impl<S> FromRequestParts<S> for Viewer
where
    S: AsRef<AppState> + Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Claimed(claimed) = Claimed::from_request_parts(parts, state).await?;
        let access = core::lifecycle::authenticate(&state.as_ref().source, claimed).await?;
        let id = access.viewer.ok_or(ApiError::NotAuthenticated)?;
        Ok(Viewer { id, access })
    }
}

/// The viewer of an action: 401 when anonymous and when the credentials are bad; whether
/// their user exists is checked now only when the graph cache holds it, and otherwise by the
/// action (`core::lifecycle::authenticate_actor`).
#[derive(Clone, Copy, Debug)]
pub struct Acting(pub core::lifecycle::Actor);

impl<S> FromRequestParts<S> for Acting
where
    S: AsRef<AppState> + Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Claimed(claimed) = Claimed::from_request_parts(parts, state).await?;
        let actor = core::lifecycle::authenticate_actor(&state.as_ref().source, claimed).await?;
        Ok(Acting(actor))
    }
}

/// The user the path's `{id}` names: `Target::Id`, or `Target::Malformed` for a segment that
/// is not a positive 64-bit integer (and for a path without one).
#[derive(Clone, Copy, Debug)]
pub struct TargetId(pub Target);

impl<S: Send + Sync> FromRequestParts<S> for TargetId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(TargetId(
            match Path::<String>::from_request_parts(parts, state).await {
                Ok(Path(raw)) => user_id(&raw).map_or(Target::Malformed, Target::Id),
                Err(_) => Target::Malformed,
            },
        ))
    }
}

/// A user id as both doors read it: ASCII digits naming a positive integer that fits in 64
/// bits. Anything else names no user.
pub fn user_id(raw: &str) -> Option<i64> {
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Above i64::MAX: well formed, but no stored id can be that large.
    raw.parse::<i64>().ok().filter(|id| *id > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids() {
        assert_eq!(user_id("7"), Some(7));
        assert_eq!(user_id("007"), Some(7));
        assert_eq!(user_id("9223372036854775807"), Some(i64::MAX));
        for bad in [
            "0",
            "",
            "-1",
            "+1",
            "abc",
            "1.0",
            "9223372036854775808",
            "18446744073709551616",
            " 1",
        ] {
            assert_eq!(user_id(bad), None, "{bad:?}");
        }
    }
}
