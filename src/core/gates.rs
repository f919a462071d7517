//! The gates of a request, in the order of `docs/rest.md` ("Checks"): the token's user exists,
//! content availability, friendship mode, the target exists. REST applies all four from one
//! SQL statement; GraphQL applies the first when the operation starts and the others per field.

use crate::cache::Source;
use crate::error::{ApiError, BAD_CREDENTIALS};
use crate::store::faults::retry_once;
use crate::store::{Gate, Settings};

/// The target of a request, as the path or argument gave it.
#[derive(Clone, Copy, Debug)]
pub enum Target {
    /// No target to check (GraphQL resolves users through the user loader).
    None,
    /// A well-formed id (it may still name no user).
    Id(i64),
    /// An id that is not a positive 64-bit integer: never found.
    Malformed,
}

/// An admitted request: who is asking and the community settings in force.
#[derive(Clone, Copy, Debug)]
pub struct Access {
    pub viewer: Option<i64>,
    pub settings: Settings,
}

/// Applies the gates in order (`docs/rest.md`, "Checks"); `claimed` is the user the credentials name.
pub async fn admit(
    source: &Source,
    claimed: Option<i64>,
    target: Target,
) -> Result<Access, ApiError> {
    let target_id = match target {
        Target::Id(id) => Some(id),
        Target::None | Target::Malformed => None,
    };
    let gate = retry_once(|| source.gate(target_id, claimed)).await?;
    let access = identified(claimed, gate)?;
    check_settings(&access)?;
    // 4. The target.
    match target {
        Target::None => Ok(access),
        Target::Id(_) if gate.target_exists => Ok(access),
        Target::Id(_) | Target::Malformed => Err(ApiError::NotFound),
    }
}

/// Gate 1 alone, for GraphQL (whose fields apply the other gates themselves): the viewer the
/// credentials name, confirmed to exist, and the settings in force.
pub async fn identify(source: &Source, claimed: Option<i64>) -> Result<Access, ApiError> {
    let gate = retry_once(|| source.gate(None, claimed)).await?;
    identified(claimed, gate)
}

/// A valid token for a user that no longer exists is a bad token.
fn identified(claimed: Option<i64>, gate: Gate) -> Result<Access, ApiError> {
    if claimed.is_some() && !gate.viewer_exists {
        return Err(ApiError::AuthenticationFailed(BAD_CREDENTIALS));
    }
    Ok(Access {
        viewer: claimed,
        settings: gate.settings,
    })
}

/// Gates 2 and 3: content availability, then friendship mode.
pub fn check_settings(access: &Access) -> Result<(), ApiError> {
    check_content(access)?;
    if !access.settings.connection_enabled {
        return Err(ApiError::PermissionDenied);
    }
    Ok(())
}

/// Gate 2 alone: anonymous requests need public content.
pub fn check_content(access: &Access) -> Result<(), ApiError> {
    if !access.settings.content_availability && access.viewer.is_none() {
        return Err(ApiError::NotAuthenticated);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gates_in_order() {
        let settings = |c, a| Settings {
            connection_enabled: c,
            follow_enabled: false,
            content_availability: a,
        };
        let anon = |s| Access {
            viewer: None,
            settings: s,
        };
        let user = |s| Access {
            viewer: Some(1),
            settings: s,
        };
        assert_eq!(
            check_settings(&anon(settings(false, false)))
                .unwrap_err()
                .code(),
            "not_authenticated"
        );
        assert_eq!(
            check_settings(&user(settings(false, false)))
                .unwrap_err()
                .code(),
            "permission_denied"
        );
        assert_eq!(
            check_settings(&anon(settings(false, true)))
                .unwrap_err()
                .code(),
            "permission_denied"
        );
        assert!(check_settings(&anon(settings(true, true))).is_ok());
        assert!(check_settings(&user(settings(true, false))).is_ok());
    }
}
