//! `Authorization` header → the user it claims to be.
//!
//! Accepted: `Bearer <token>` or `Token <token>` (keyword in any case). A token with exactly two
//! dots is a JWT (HS256 only, with the claims of the spec); anything else is an opaque token
//! looked up by its SHA-256. Another scheme, or an empty header, counts as no credentials.
//! Whether the user still exists is checked with the request's other gates
//! (`connections::admit`), so a JWT costs no extra SQL statement.

use axum::http::HeaderValue;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{ApiError, BAD_CREDENTIALS};
use crate::store::{time, Store};

/// Longest token accepted; anything longer is rejected before any parsing or SQL.
pub const MAX_TOKEN_LEN: usize = 4096;
/// How far in the future a JWT's `iat` may lie (clock skew between issuers).
const IAT_FUTURE_SKEW_SECS: i64 = 300;

/// Credentials as they arrived, checked for form and signature but not yet against users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A valid JWT naming this user id, valid until `exp` (epoch seconds).
    Jwt { user_id: i64, exp: i64 },
    /// An opaque token, by the lower-case hex SHA-256 of its bytes.
    Opaque { sha256: String },
}

/// A header that is a credential of ours but not a valid one (401 `authentication_failed`).
/// A value, not an `ApiError`, so a request's credentials can be kept and copied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadCredentials;

impl From<BadCredentials> for ApiError {
    fn from(_: BadCredentials) -> ApiError {
        ApiError::AuthenticationFailed(BAD_CREDENTIALS)
    }
}

/// Reads the `Authorization` header. `Ok(None)`: anonymous.
pub fn credential(
    header: Option<&HeaderValue>,
    secret: &[u8],
) -> Result<Option<Credential>, BadCredentials> {
    let Some(header) = header else {
        return Ok(None);
    };
    let mut words = header
        .as_bytes()
        .split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty());
    let Some(keyword) = words.next() else {
        return Ok(None);
    };
    if !keyword.eq_ignore_ascii_case(b"bearer") && !keyword.eq_ignore_ascii_case(b"token") {
        return Ok(None);
    }
    let (Some(token), None) = (words.next(), words.next()) else {
        // `Bearer` alone, or more than one word after it.
        return Err(BadCredentials);
    };
    if token.len() > MAX_TOKEN_LEN {
        return Err(BadCredentials);
    }
    let token = std::str::from_utf8(token).map_err(|_| BadCredentials)?;
    if token.bytes().filter(|b| *b == b'.').count() == 2 {
        let (user_id, exp) =
            verify_jwt_claims(token, secret, time::now_us() / 1_000_000).ok_or(BadCredentials)?;
        Ok(Some(Credential::Jwt { user_id, exp }))
    } else {
        Ok(Some(Credential::Opaque {
            sha256: sha256_hex(token),
        }))
    }
}

/// The user id a credential stands for: a JWT's claim, or a stored token's owner.
pub async fn claimed_user(
    credential: Option<Credential>,
    store: &Store,
) -> Result<Option<i64>, ApiError> {
    Ok(claimed_session(credential, store)
        .await?
        .map(|claimed| claimed.user_id))
}

/// Who a credential stands for, and until when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Claimed {
    pub user_id: i64,
    /// When the credential expires (epoch microseconds): a JWT's `exp`, a stored token's
    /// `expires_at`.
    pub expires_at_us: i64,
}

/// `claimed_user`, with the credential's expiry (a live subscription ends when it passes).
pub async fn claimed_session(
    credential: Option<Credential>,
    store: &Store,
) -> Result<Option<Claimed>, ApiError> {
    match credential {
        None => Ok(None),
        Some(Credential::Jwt { user_id, exp }) => Ok(Some(Claimed {
            user_id,
            expires_at_us: exp.saturating_mul(1_000_000),
        })),
        Some(Credential::Opaque { sha256 }) => {
            let Some((stored, user_id, expires_at_us)) =
                store.token_owner(&sha256, time::now_us()).await?
            else {
                return Err(ApiError::AuthenticationFailed(BAD_CREDENTIALS));
            };
            // The lookup was by hash; compare again without an early exit so no timing
            // difference depends on how much of the hash matched.
            if bool::from(stored.as_bytes().ct_eq(sha256.as_bytes())) {
                Ok(Some(Claimed {
                    user_id,
                    expires_at_us,
                }))
            } else {
                Err(ApiError::AuthenticationFailed(BAD_CREDENTIALS))
            }
        }
    }
}

/// Lower-case hex SHA-256 of a token's UTF-8 bytes, the form tokens are stored in.
pub fn sha256_hex(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The claims an access token must carry. `user_id` and `exp` must be JSON integers (a numeric
/// string does not deserialize into `i64`); `iat` and `jti` must be present.
#[derive(Deserialize)]
struct AccessClaims {
    user_id: i64,
    token_type: String,
    exp: i64,
    iat: serde_json::Value,
    jti: serde_json::Value,
}

/// Verifies an HS256 JWT at time `now` (seconds); the user id it names, or None.
pub fn verify_jwt(token: &str, secret: &[u8], now: i64) -> Option<i64> {
    verify_jwt_claims(token, secret, now).map(|(user_id, _)| user_id)
}

/// `verify_jwt`, with the token's `exp` (epoch seconds).
fn verify_jwt_claims(token: &str, secret: &[u8], now: i64) -> Option<(i64, i64)> {
    // The algorithm is pinned: the header's `alg` must be HS256 (`none`, RS256... are refused).
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 0;
    validation.validate_aud = false;
    validation.validate_exp = false; // checked below against `now`, with no leeway
    validation.required_spec_claims.clear();
    let data =
        jsonwebtoken::decode::<AccessClaims>(token, &DecodingKey::from_secret(secret), &validation)
            .ok()?;
    let claims = data.claims;
    let iat_ok = claims
        .iat
        .as_i64()
        .is_some_and(|iat| iat <= now + IAT_FUTURE_SKEW_SECS);
    let jti_ok = !claims.jti.is_null();
    (claims.token_type == "access" && claims.exp > now && iat_ok && jti_ok)
        .then_some((claims.user_id, claims.exp))
}

/// Signs an access token for `user_id` valid for `ttl_secs` (the `token` subcommand and tests).
pub fn issue_jwt(
    user_id: i64,
    ttl_secs: i64,
    secret: &[u8],
) -> Result<String, jsonwebtoken::errors::Error> {
    let now = time::now_us() / 1_000_000;
    let claims = serde_json::json!({
        "token_type": "access",
        "exp": now + ttl_secs,
        "iat": now,
        "jti": random_hex(16),
        "user_id": user_id,
    });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret),
    )
}

/// `bytes` random bytes as lower-case hex.
pub fn random_hex(bytes: usize) -> String {
    use rand::RngCore;
    let mut buf = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"test-secret-test-secret";

    fn header(v: &str) -> HeaderValue {
        HeaderValue::from_str(v).unwrap()
    }

    fn sign(claims: serde_json::Value, alg: Algorithm, secret: &[u8]) -> String {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(alg),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(secret),
        )
        .unwrap()
    }

    fn now() -> i64 {
        time::now_us() / 1_000_000
    }

    fn good_claims() -> serde_json::Value {
        serde_json::json!({"user_id": 7, "token_type": "access", "exp": now() + 60, "iat": now(), "jti": "x"})
    }

    fn claims_with(key: &str, value: serde_json::Value) -> serde_json::Value {
        let mut c = good_claims();
        c[key] = value;
        c
    }

    fn without(key: &str) -> serde_json::Value {
        let mut c = good_claims();
        c.as_object_mut().unwrap().remove(key);
        c
    }

    #[test]
    fn accepts_a_valid_access_token_with_either_keyword_in_any_case() {
        let claims = good_claims();
        let token = sign(claims.clone(), Algorithm::HS256, SECRET);
        for kw in ["Bearer", "bearer", "BEARER", "Token", "token"] {
            let got = credential(Some(&header(&format!("{kw} {token}"))), SECRET).unwrap();
            let exp = claims["exp"].as_i64();
            assert!(
                matches!(got, Some(Credential::Jwt { user_id: 7, exp: e }) if Some(e) == exp),
                "{kw}: {got:?}"
            );
        }
        assert_eq!(
            issue_jwt(7, 60, SECRET)
                .ok()
                .and_then(|t| verify_jwt(&t, SECRET, now())),
            Some(7)
        );
    }

    #[test]
    fn rejects_bad_jwts() {
        let cases = [
            (
                "wrong secret",
                sign(good_claims(), Algorithm::HS256, b"another-secret-123456"),
            ),
            ("HS512", sign(good_claims(), Algorithm::HS512, SECRET)),
            (
                "expired",
                sign(
                    claims_with("exp", (now() - 1).into()),
                    Algorithm::HS256,
                    SECRET,
                ),
            ),
            (
                "exp as string",
                sign(
                    claims_with("exp", (now() + 60).to_string().into()),
                    Algorithm::HS256,
                    SECRET,
                ),
            ),
            (
                "refresh token",
                sign(
                    claims_with("token_type", "refresh".into()),
                    Algorithm::HS256,
                    SECRET,
                ),
            ),
            (
                "user_id as numeric string",
                sign(claims_with("user_id", "7".into()), Algorithm::HS256, SECRET),
            ),
            (
                "user_id float",
                sign(claims_with("user_id", 7.5.into()), Algorithm::HS256, SECRET),
            ),
            ("no iat", sign(without("iat"), Algorithm::HS256, SECRET)),
            ("no jti", sign(without("jti"), Algorithm::HS256, SECRET)),
            ("no exp", sign(without("exp"), Algorithm::HS256, SECRET)),
            (
                "no user_id",
                sign(without("user_id"), Algorithm::HS256, SECRET),
            ),
            (
                "far-future iat",
                sign(
                    claims_with("iat", (now() + 86_400).into()),
                    Algorithm::HS256,
                    SECRET,
                ),
            ),
        ];
        for (why, token) in cases {
            assert_eq!(verify_jwt(&token, SECRET, now()), None, "{why}");
            let err = credential(Some(&header(&format!("Bearer {token}"))), SECRET).unwrap_err();
            assert_eq!(ApiError::from(err).code(), "authentication_failed", "{why}");
        }
    }

    #[test]
    fn rejects_alg_none_and_tampered_payloads() {
        use base64::Engine;
        let encode = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let good = sign(good_claims(), Algorithm::HS256, SECRET);
        let parts: Vec<&str> = good.split('.').collect();
        let none_header = encode(br#"{"alg":"none","typ":"JWT"}"#);
        assert_eq!(
            verify_jwt(&format!("{none_header}.{}.", parts[1]), SECRET, now()),
            None
        );
        let evil = encode(
            serde_json::to_string(&claims_with("user_id", 1.into()))
                .unwrap()
                .as_bytes(),
        );
        assert_eq!(
            verify_jwt(&format!("{}.{evil}.{}", parts[0], parts[2]), SECRET, now()),
            None
        );
        assert_eq!(verify_jwt("a.b.c", SECRET, now()), None);
    }

    #[test]
    fn header_forms() {
        assert_eq!(credential(None, SECRET).unwrap(), None);
        assert_eq!(credential(Some(&header("")), SECRET).unwrap(), None);
        assert_eq!(
            credential(Some(&header("Basic dXNlcjpwYXNz")), SECRET).unwrap(),
            None
        );
        for bad in ["Bearer", "Bearer  ", "Bearer a b", "Token a b c"] {
            assert_eq!(
                ApiError::from(credential(Some(&header(bad)), SECRET).unwrap_err()).code(),
                "authentication_failed",
                "{bad:?}"
            );
        }
        assert_eq!(
            credential(Some(&header("Bearer opaque-1")), SECRET).unwrap(),
            Some(Credential::Opaque {
                sha256: sha256_hex("opaque-1")
            })
        );
        let huge = format!("Bearer {}", "a".repeat(MAX_TOKEN_LEN + 1));
        assert!(credential(Some(&header(&huge)), SECRET).is_err());
    }

    #[test]
    fn sha256_is_lower_hex_of_utf8() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
