//! Security: hostile credentials, ids and parameters at and past their type bounds, SQL
//! metacharacters and unicode in every input, against the real server on every backend.
//!
//! Every request must get the status the behaviour spec gives it, with exactly one of
//! the spec's error bodies (so no SQL text, stack trace or internal name can leak), never a 500.
//! Cases are tables; each group runs on every backend `TestDb::all` yields (SQLite always).
//! A case the server gets wrong is kept, in its own `` test.

use crate::common;

use crate::common::{TestDb, TEST_SECRET};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::header::{HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE, HOST};
use reqwest::Client;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

// =============================================================================================
// Expectations

/// What a REST request must get.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Want {
    /// 200 with a page, whoever the viewer.
    Page,
    /// 200 with user 1's page of the example community as this viewer (None: anonymous) sees it.
    PageAs(Option<i64>),
    /// 401 `not_authenticated`.
    NotAuthenticated,
    /// 401 `authentication_failed`.
    AuthFailed,
    /// 403 `permission_denied`.
    Forbidden,
    /// 404 `not_found`.
    NotFound,
    /// 400, field error on `mutual`.
    BadMutual,
}

/// The spec's error body for `want`, and its status.
fn error_shape(want: Want) -> (u16, Value) {
    let plain = |status: u16, code: &str, message: &str| {
        (
            status,
            json!({"errors": [{"code": code, "message": message}]}),
        )
    };
    match want {
        Want::NotAuthenticated => plain(
            401,
            "not_authenticated",
            "Authentication credentials were not provided.",
        ),
        Want::AuthFailed => plain(
            401,
            "authentication_failed",
            "Incorrect authentication credentials.",
        ),
        Want::Forbidden => plain(
            403,
            "permission_denied",
            "You do not have permission to perform this action.",
        ),
        Want::NotFound => plain(404, "not_found", "Not found."),
        Want::BadMutual => (
            400,
            json!({"errors": [{"field": "mutual", "messages": [
                {"code": "invalid", "message": "mutual must be 0 or 1."}
            ]}]}),
        ),
        Want::Page | Want::PageAs(_) => unreachable!("not an error"),
    }
}

/// A REST answer, read whole.
struct Reply {
    status: u16,
    www_authenticate: Option<String>,
    content_type: String,
    text: String,
}

/// Checks `reply` against `want`; the page body when one was expected.
fn check(reply: &Reply, want: Want, case: &str) -> Option<Value> {
    let text = &reply.text;
    assert_ne!(reply.status, 500, "{case}: a 500: {text}");
    assert!(
        reply.content_type.starts_with("application/json"),
        "{case}: content type {:?}: {text}",
        reply.content_type
    );
    let body: Value = serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("{case}: body is not JSON ({e}): {text}"));
    match want {
        Want::Page | Want::PageAs(_) => {
            assert_eq!(reply.status, 200, "{case}: {text}");
            let keys: Vec<&str> = body
                .as_object()
                .unwrap_or_else(|| panic!("{case}: not an object: {text}"))
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(keys, ["count", "next", "previous", "results"], "{case}");
            if let Want::PageAs(viewer) = want {
                assert_eq!(viewer_seen(&body, case), viewer, "{case}: {text}");
            }
            Some(body)
        }
        _ => {
            let (status, shape) = error_shape(want);
            assert_eq!(reply.status, status, "{case}: {text}");
            assert_eq!(body, shape, "{case}: not exactly the spec's error body");
            if status == 401 {
                assert_eq!(
                    reply.www_authenticate.as_deref(),
                    Some("Bearer realm=\"api\""),
                    "{case}: every 401 carries WWW-Authenticate"
                );
            }
            None
        }
    }
}

/// Who the viewer was, from the statuses on user 1's list in the example community
/// (connections 3, 6, 2, 4): anonymous sees no status; alice (1, the target) sees every user
/// connected; bruno (2) sees chiara (3, mutual, first) connected and nothing else.
fn viewer_seen(page: &Value, case: &str) -> Option<i64> {
    let results = page["results"].as_array().expect("results");
    let ids: Vec<i64> = results.iter().map(|u| u["id"].as_i64().unwrap()).collect();
    let statuses: Vec<Option<&str>> = results
        .iter()
        .map(|u| u["connection_status"].as_str())
        .collect();
    assert_eq!(page["count"], 4, "{case}");
    assert_eq!(ids, [3, 6, 2, 4], "{case}");
    let c = Some("connected");
    match statuses.as_slice() {
        [None, None, None, None] => None,
        [s1, s2, s3, s4] if [s1, s2, s3, s4].iter().all(|s| **s == c) => Some(1),
        [s1, None, None, None] if *s1 == c => Some(2),
        other => panic!("{case}: unexpected statuses {other:?}"),
    }
}

/// Words that betray internals (SQL, the ORM, the databases, panics, source paths).
const LEAKS: &[&str] = &[
    "select ",
    "insert into",
    "delete from",
    "from users",
    "from connections",
    "from access_tokens",
    "where ",
    "order by",
    "sqlx",
    "sqlite",
    "postgres",
    "mysql",
    "mariadb",
    "sea_orm",
    "sea-orm",
    "dberr",
    "panicked",
    "backtrace",
    "stack trace",
    ".rs:",
    "src/",
    "thread '",
    "syntax error",
    "community_gateway",
];

fn assert_no_leak(text: &str, case: &str) {
    let lower = text.to_lowercase();
    for leak in LEAKS {
        assert!(!lower.contains(leak), "{case}: {leak:?} leaks in {text}");
    }
}

// =============================================================================================
// Requests

/// The route's URL for a raw (already encoded) id and query.
fn route(base: &str, id: &str, query: &str) -> String {
    if query.is_empty() {
        format!("{base}/api/v2/user/{id}/connections/")
    } else {
        format!("{base}/api/v2/user/{id}/connections/?{query}")
    }
}

/// GETs `url` with these headers.
async fn fetch(client: &Client, url: &str, headers: &[(HeaderName, HeaderValue)]) -> Reply {
    let mut request = client.get(url);
    for (name, value) in headers {
        request = request.header(name.clone(), value.clone());
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {}: {e}", cut(url)));
    let header = |name: HeaderName| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap_or("<not text>").to_string())
    };
    let www_authenticate = header(reqwest::header::WWW_AUTHENTICATE);
    let content_type = header(CONTENT_TYPE).unwrap_or_default();
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    Reply {
        status,
        www_authenticate,
        content_type,
        text,
    }
}

/// GETs `url` with this `Authorization` header (None: without one).
async fn fetch_auth(client: &Client, url: &str, auth: Option<&HeaderValue>) -> Reply {
    let headers: Vec<(HeaderName, HeaderValue)> = auth
        .map(|v| (AUTHORIZATION, v.clone()))
        .into_iter()
        .collect();
    fetch(client, url, &headers).await
}

/// A text header value.
fn hv(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|e| panic!("header value {text:?}: {e}"))
}

/// A header value of raw bytes (obs-text, non-UTF-8...).
fn hv_bytes(bytes: &[u8]) -> HeaderValue {
    HeaderValue::from_bytes(bytes).unwrap_or_else(|e| panic!("header value {bytes:?}: {e}"))
}

fn bearer(token: &str) -> HeaderValue {
    hv(&format!("Bearer {token}"))
}

/// At most 120 characters of `text`, for case names.
fn cut(text: &str) -> String {
    let short: String = text.chars().take(120).collect();
    if short.len() < text.len() {
        format!("{short}…({} bytes)", text.len())
    } else {
        short
    }
}

/// Percent-encodes every byte but RFC 3986's unreserved ones, so the server decodes `text`
/// exactly (for a path segment or a query key or value).
fn pct(text: &str) -> String {
    let mut out = String::new();
    for &b in text.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Python's `urllib.parse.quote_plus`, as DRF re-encodes queries in links.
fn quote_plus(text: &str) -> String {
    pct(text).replace("%20", "+")
}

/// `urlencode(sorted(pairs))` of DRF's `replace_query_param`: keys sorted, quote_plus.
fn drf_query(pairs: &[(&str, &str)]) -> String {
    let mut pairs = pairs.to_vec();
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", quote_plus(k), quote_plus(v)))
        .collect::<Vec<_>>()
        .join("&")
}

// =============================================================================================
// Tokens

/// Unpadded URL-safe base64 (RFC 4648 §5), to forge tokens by hand.
fn b64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// The claims of a valid access token for `user_id`.
fn claims(user_id: i64) -> Value {
    json!({"token_type": "access", "exp": now() + 600, "iat": now(), "jti": "0123abcd", "user_id": user_id})
}

fn claims_with(key: &str, value: Value) -> Value {
    let mut c = claims(2);
    c[key] = value;
    c
}

fn claims_without(key: &str) -> Value {
    let mut c = claims(2);
    c.as_object_mut().expect("object").remove(key);
    c
}

/// A JWT signed by the library with `alg` and `secret`.
fn sign(claims: &Value, alg: Algorithm, secret: &[u8]) -> String {
    jsonwebtoken::encode(&Header::new(alg), claims, &EncodingKey::from_secret(secret))
        .expect("sign")
}

/// A valid HS256 access token for `user_id`, signed with the test server's secret.
fn jwt(user_id: i64) -> String {
    sign(&claims(user_id), Algorithm::HS256, TEST_SECRET.as_bytes())
}

/// A token with this header and payload text, HMAC-signed with `secret` using `mac`, whatever
/// the header says.
fn forge_hmac(header: &str, payload: &str, mac: Algorithm, secret: &[u8]) -> String {
    let message = format!(
        "{}.{}",
        b64url(header.as_bytes()),
        b64url(payload.as_bytes())
    );
    let signature =
        jsonwebtoken::crypto::sign(message.as_bytes(), &EncodingKey::from_secret(secret), mac)
            .expect("hmac");
    format!("{message}.{signature}")
}

/// A token with this header and payload text and a literal signature part.
fn forge(header: &str, payload: &str, signature: &str) -> String {
    format!(
        "{}.{}.{signature}",
        b64url(header.as_bytes()),
        b64url(payload.as_bytes())
    )
}

/// A throwaway RSA key made for this test file only (it guards nothing).
const TEST_RSA_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQDRbRmEw9WIW0jo
ApFCBfJST1BWoUPK8UQCT5JOdu+YfoRsrrk5DkdaBv75foG5OlwBTsxtlzOfRhpO
Lh14pawpcZxqhrzF6Ft+PGwk6RAl0+hJr01prsRCxVuEA9IKbKH63lO/d8ZI+3iF
YlyJQoqN/8WMAU/7xOYnuUkpiTG3N2G4dX4ktx4m6V2u12Hs9QyJCehLJWORDiFF
LVXSTw+CjIp3vhaAN9G2z7K0N5Gt1RrAFdxxrfR11ww8vxnRCURWG6uH6CobGFIk
XoqaZITtZ9ZwvQCu5eyPSIgS8tctTzU/Gw8f3UmMx8frw219wPoKJ7AOqhlP3WQR
m3j6YT4BAgMBAAECggEAIS64LGEbJE/SbXB6s4tdqc0HXbKPm0g/Dl6tP+F4dSEW
umG012V7yLfzDnUM+NxWV560pWiftUzWPizwXn1hme92aSqQHouCc63/NJn5BQVe
eM5d5bDbR/kdVv2D+kLcJ3OysVO5BzdREVFUeCsi6PztwBE1Kx83mHOzM/GY/v5t
t+nXJxVkeeAnCBDD/KwA0+mbGvjNBelPWvpUxcqtQGUSGfL+sI+nCH0zXOr8rJEP
+NDSIWiYySG/70hz78eP7DvuPELLS19pgkRhePUDRnao57fDMuSGz69KlBzg6EiS
QqkmDowu3sa7kTHBdxtBP1caFV1zdklLMm74eNZ/QQKBgQD+sirmofmyEIJFRehF
Hzs37rX5PKPTVYqZIv+ZsiBqySxNJDcpgoZXJJRzD5m60n/VvcBetnso7Xo6BtB4
nQmCam0Q6+X1aGeiKShachtt6QMuEkw3+INBo3oa1NbhrRoDNS/C4xuwFaO4FdPI
OsCA6mdNh3gFhQsDKwz0MOIu6wKBgQDSf5i3cEkrBVO+qp2O3RwcZTbEvMIOfTs3
jzQNYUfQPEbu2rLkObDlqWZYo3lQKX2Wz9MNQdY94aTIUuo2Gnh3q30KCaQjyB8D
kF3viF9FrJRm7gFHdrAiuyNgJEkyg4YxXg0BfvgY/3vFFrFBpB4+4NPgDR+3APEb
+gdYz3BDwwKBgEX6AZt4KThpHMGXoWdMW2LUrR6bMI+h0wCcAwnhTNLKDufq6VT4
TZynqjmqsZwItaKuDap4DIKELK7ArIpW6wPv5aNejMHOO5rsH/Appaue94ay9En0
d2uTVLsGeztp6dmzxTmQWE0axO6Q4K0Ep1tEC7nbXHh3wzzNmTOGMr6dAoGAWbvv
PHPvnRleQ++zzw1PSIOVP3VAPLECJ4Myq2mHFaw8iOJOVKCLWrxGVw8JTjUBxuK9
k+83B5ZDiupd0cajCFDgswC9KkvLfNd0VAKMqsURVnerr+1W1Nd2Eywk0BXlhPIV
FUgtN2riNnigA92UzzVE3UR6+qa6IjUKIL/9mcUCgYAyPD/Eh7CTYowm7TW04Qtr
1xroMHpNcucYBq5srfu0Nw+mXp4WGmh6k0W81wQnd0e1AVAd6ODERh2nEeSvtJP7
7db80/sa/JgqcfbrgLp7IrNE5kdKOyJ5uvMJpSw+VSsMXpVGtXagBTbpLQH3LmFP
tvPVR2+xyWd2y/vpS1EnsQ==
-----END PRIVATE KEY-----
";

/// `Authorization` values carrying hostile or malformed JWTs, each with what it must get.
/// Valid tokens are for bruno (2); the example community has users 1 to 8.
fn jwt_cases() -> Vec<(String, HeaderValue, Want)> {
    let secret = TEST_SECRET.as_bytes();
    let good = jwt(2);
    let parts: Vec<&str> = good.split('.').collect();
    let (head, body, signature) = (parts[0], parts[1], parts[2]);
    let claims_text = claims(2).to_string();
    let hs256 = r#"{"alg":"HS256","typ":"JWT"}"#;
    let n = now();
    let mut cases: Vec<(String, HeaderValue, Want)> = Vec::new();
    let mut add = |name: &str, token: &str, want: Want| {
        cases.push((name.to_string(), bearer(token), want));
    };

    // Controls: the valid forms are accepted and name their user.
    add("valid HS256 (control)", &good, Want::PageAs(Some(2)));
    add(
        "iat 60 s ahead, within the skew (control)",
        &sign(&claims_with("iat", json!(n + 60)), Algorithm::HS256, secret),
        Want::PageAs(Some(2)),
    );
    add(
        "exp = i64::MAX (control)",
        &sign(
            &claims_with("exp", json!(i64::MAX)),
            Algorithm::HS256,
            secret,
        ),
        Want::PageAs(Some(2)),
    );

    // alg none, and algorithm confusion.
    for none in ["none", "None", "NONE", "nOnE"] {
        let header = format!(r#"{{"alg":"{none}","typ":"JWT"}}"#);
        add(
            &format!("alg {none}, empty signature"),
            &forge(&header, &claims_text, ""),
            Want::AuthFailed,
        );
        add(
            &format!("alg {none}, no signature part (one dot: opaque)"),
            &format!(
                "{}.{}",
                b64url(header.as_bytes()),
                b64url(claims_text.as_bytes())
            ),
            Want::AuthFailed,
        );
        add(
            &format!("alg {none}, the HS256 signature kept"),
            &forge(&header, &claims_text, signature),
            Want::AuthFailed,
        );
    }
    add(
        "header alg RS256, HMAC-SHA256 signature with the secret",
        &forge_hmac(
            r#"{"alg":"RS256","typ":"JWT"}"#,
            &claims_text,
            Algorithm::HS256,
            secret,
        ),
        Want::AuthFailed,
    );
    add(
        "header alg hs256 (lower case), right HMAC",
        &forge_hmac(
            r#"{"alg":"hs256","typ":"JWT"}"#,
            &claims_text,
            Algorithm::HS256,
            secret,
        ),
        Want::AuthFailed,
    );
    add(
        "header without alg, right HMAC",
        &forge_hmac(r#"{"typ":"JWT"}"#, &claims_text, Algorithm::HS256, secret),
        Want::AuthFailed,
    );
    let rsa = EncodingKey::from_rsa_pem(TEST_RSA_KEY.as_bytes()).expect("test RSA key");
    add(
        "RS256 token (an RSA key)",
        &jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims(2), &rsa).expect("rs256"),
        Want::AuthFailed,
    );
    add(
        "HS384 with the right secret",
        &sign(&claims(2), Algorithm::HS384, secret),
        Want::AuthFailed,
    );
    add(
        "HS512 with the right secret",
        &sign(&claims(2), Algorithm::HS512, secret),
        Want::AuthFailed,
    );

    // Signatures.
    let evil = b64url(claims(1).to_string().as_bytes());
    add(
        "tampered payload (user_id 2 -> 1), signature kept",
        &format!("{head}.{evil}.{signature}"),
        Want::AuthFailed,
    );
    add(
        "wrong secret",
        &sign(&claims(2), Algorithm::HS256, b"another-secret-0123456789"),
        Want::AuthFailed,
    );
    add(
        "empty secret",
        &sign(&claims(2), Algorithm::HS256, b""),
        Want::AuthFailed,
    );
    add(
        "signature truncated",
        &format!("{head}.{body}.{}", &signature[..signature.len() - 2]),
        Want::AuthFailed,
    );
    add(
        "signature of another token",
        &format!("{head}.{body}.{}", jwt(3).split('.').nth(2).unwrap()),
        Want::AuthFailed,
    );
    add(
        "padded base64 signature",
        &format!("{head}.{body}.{signature}="),
        Want::AuthFailed,
    );

    // Claims.
    let hs = |c: &Value| sign(c, Algorithm::HS256, secret);
    add(
        "token_type refresh",
        &hs(&claims_with("token_type", json!("refresh"))),
        Want::AuthFailed,
    );
    add(
        "token_type Access",
        &hs(&claims_with("token_type", json!("Access"))),
        Want::AuthFailed,
    );
    add(
        "expired: exp = now - 1",
        &hs(&claims_with("exp", json!(n - 1))),
        Want::AuthFailed,
    );
    add(
        "expired: exp = now",
        &hs(&claims_with("exp", json!(n))),
        Want::AuthFailed,
    );
    add(
        "exp as a numeric string",
        &hs(&claims_with("exp", json!((n + 600).to_string()))),
        Want::AuthFailed,
    );
    add(
        "exp as a float",
        &hs(&claims_with("exp", json!(n as f64 + 600.5))),
        Want::AuthFailed,
    );
    add(
        "exp null",
        &hs(&claims_with("exp", Value::Null)),
        Want::AuthFailed,
    );
    for key in ["exp", "iat", "jti", "user_id", "token_type"] {
        add(
            &format!("no {key}"),
            &hs(&claims_without(key)),
            Want::AuthFailed,
        );
    }
    add(
        "user_id as a numeric string",
        &hs(&claims_with("user_id", json!("2"))),
        Want::AuthFailed,
    );
    add(
        "user_id as a float",
        &hs(&claims_with("user_id", json!(2.0))),
        Want::AuthFailed,
    );
    add(
        "user_id negative",
        &hs(&claims_with("user_id", json!(-2))),
        Want::AuthFailed,
    );
    add(
        "user_id 0",
        &hs(&claims_with("user_id", json!(0))),
        Want::AuthFailed,
    );
    add(
        "user_id i64::MAX",
        &hs(&claims_with("user_id", json!(i64::MAX))),
        Want::AuthFailed,
    );
    add(
        "user_id i64::MIN",
        &hs(&claims_with("user_id", json!(i64::MIN))),
        Want::AuthFailed,
    );
    add(
        "user_id i64::MAX + 1",
        &hs(&claims_with("user_id", json!(i64::MAX as u64 + 1))),
        Want::AuthFailed,
    );
    add(
        "user_id u64::MAX",
        &hs(&claims_with("user_id", json!(u64::MAX))),
        Want::AuthFailed,
    );
    add(
        "user_id 10^30 (beyond 64 bits)",
        &forge_hmac(
            hs256,
            &format!(
                r#"{{"token_type":"access","exp":{},"iat":{n},"jti":"x","user_id":1000000000000000000000000000000}}"#,
                n + 600
            ),
            Algorithm::HS256,
            secret,
        ),
        Want::AuthFailed,
    );
    add(
        "user_id of no user (4242), content public",
        &jwt(4242),
        Want::AuthFailed,
    );
    add(
        "iat an hour ahead",
        &hs(&claims_with("iat", json!(n + 3600))),
        Want::AuthFailed,
    );
    add(
        "iat a day ahead",
        &hs(&claims_with("iat", json!(n + 86_400))),
        Want::AuthFailed,
    );
    add(
        "payload a JSON array",
        &forge_hmac(hs256, "[1,2,3]", Algorithm::HS256, secret),
        Want::AuthFailed,
    );
    add(
        "payload not JSON",
        &forge_hmac(hs256, "user_id=1", Algorithm::HS256, secret),
        Want::AuthFailed,
    );
    add(
        "header not JSON",
        &forge_hmac("HS256", &claims_text, Algorithm::HS256, secret),
        Want::AuthFailed,
    );

    // Malformed structure.
    add("garbage base64", "!!!.@@@.###", Want::AuthFailed);
    add("base64 of nothing useful", "eyJ.eyJ.c2ln", Want::AuthFailed);
    add("a.b.c", "a.b.c", Want::AuthFailed);
    add("two dots, empty parts", "..", Want::AuthFailed);
    add(
        "two dots, empty header",
        &format!(".{body}.{signature}"),
        Want::AuthFailed,
    );
    add(
        "two dots, empty payload",
        &format!("{head}..{signature}"),
        Want::AuthFailed,
    );
    add("three dots", "a.b.c.d", Want::AuthFailed);
    add(
        "valid JWT plus a dot",
        &format!("{good}."),
        Want::AuthFailed,
    );
    add("three bare dots", "...", Want::AuthFailed);
    add("one dot", &format!("{head}.{body}"), Want::AuthFailed);

    // Sizes: the server refuses tokens above 4 KiB before parsing them.
    let huge_jwt = format!("{head}.{}.{signature}", "A".repeat(100 * 1024));
    add("100 KB JWT-shaped token", &huge_jwt, Want::AuthFailed);
    add(
        "100 KB opaque token",
        &"a".repeat(100 * 1024),
        Want::AuthFailed,
    );

    // Header forms.
    let mut raw = |name: &str, value: HeaderValue, want: Want| {
        cases.push((name.to_string(), value, want));
    };
    raw("Bearer alone", hv("Bearer"), Want::AuthFailed);
    raw("Token alone", hv("Token"), Want::AuthFailed);
    raw(
        "Bearer and a trailing space",
        hv("Bearer "),
        Want::AuthFailed,
    );
    raw("Bearer a b", hv("Bearer a b"), Want::AuthFailed);
    raw(
        "Bearer <jwt> <jwt>",
        hv(&format!("Bearer {good} {good}")),
        Want::AuthFailed,
    );
    raw("Token a b c", hv("Token a b c"), Want::AuthFailed);
    for keyword in [
        "Bearer", "bearer", "BEARER", "bEaReR", "Token", "token", "tOkEn",
    ] {
        raw(
            &format!("keyword {keyword} with a valid JWT"),
            hv(&format!("{keyword} {good}")),
            Want::PageAs(Some(2)),
        );
    }
    raw(
        "extra spaces around a valid JWT",
        hv(&format!("Bearer   {good}")),
        Want::PageAs(Some(2)),
    );
    raw(
        "non-UTF-8 token",
        hv_bytes(b"Bearer \xff\xfe\xfd"),
        Want::AuthFailed,
    );
    raw(
        "non-UTF-8 JWT-shaped token",
        hv_bytes(b"Bearer \xff.\xfe.\xfd"),
        Want::AuthFailed,
    );
    raw(
        "a C1 control character (UTF-8) in a JWT",
        hv_bytes(format!("Bearer {head}\u{80}.{body}.{signature}").as_bytes()),
        Want::AuthFailed,
    );
    raw(
        "Latin-1 byte in a JWT",
        hv_bytes(
            &[
                b"Bearer ".as_slice(),
                head.as_bytes(),
                b"\xe9.",
                body.as_bytes(),
                b".",
                signature.as_bytes(),
            ]
            .concat(),
        ),
        Want::AuthFailed,
    );
    // Another scheme, or nothing at all: anonymous.
    raw("Basic xyz", hv("Basic xyz"), Want::PageAs(None));
    raw(
        "Basic with a valid JWT",
        hv(&format!("Basic {good}")),
        Want::PageAs(None),
    );
    raw("JWT alone, no keyword", hv(&good), Want::PageAs(None));
    raw(
        "Bearer-like keyword Bearerx",
        hv(&format!("Bearerx {good}")),
        Want::PageAs(None),
    );
    raw(
        "non-UTF-8 scheme word",
        hv_bytes(b"\xffearer abc"),
        Want::PageAs(None),
    );
    raw("empty header", hv(""), Want::PageAs(None));
    raw("blank header", hv("   "), Want::PageAs(None));
    cases
}

// =============================================================================================
// Data

/// A star: user 1 connected to users 2..=`users`, user `id` connected at minute `id` of
/// 2024-01-01, so anonymous pages list ids from `users` down to 2 (count `users - 1`).
fn star_json(users: i64) -> String {
    let user = |id: i64| common::plain_user(id, &[]);
    let connections: Vec<Value> = (2..=users)
        .map(|id| {
            json!({"users": [1, id], "connected_at": format!("2024-01-01T{:02}:{:02}:00Z", id / 60, id % 60)})
        })
        .collect();
    json!({"settings": {}, "tags": [], "users": (1..=users).map(user).collect::<Vec<_>>(),
        "connections": connections, "connection_requests": [], "access_tokens": []})
    .to_string()
}

/// Users in the star community.
const STAR_USERS: i64 = 150;
/// User 1's connection count there.
const STAR_COUNT: u128 = (STAR_USERS - 1) as u128;

async fn import_star(db: &TestDb) {
    let file = community_gateway::community::parse(star_json(STAR_USERS).as_bytes()).expect("star");
    community_gateway::community::import(&db.store, &file)
        .await
        .expect("star imports");
}

/// Checks a page of user 1's star list for an effective `limit` and `offset` (as DRF would
/// compute them) and the links DRF would build, the request carrying only `limit`/`offset`.
fn check_star_page(page: &Value, base: &str, limit: u128, offset: u128, case: &str) {
    let path = route(base, "1", "");
    let link = |offset: Option<u128>| match offset {
        Some(o) => format!("{path}?limit={limit}&offset={o}"),
        None => format!("{path}?limit={limit}"),
    };
    let ids: Vec<i64> = page["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|u| u["id"].as_i64().expect("id"))
        .collect();
    let want_ids: Vec<i64> = (0..limit)
        .map(|i| offset.saturating_add(i))
        .take_while(|i| *i < STAR_COUNT)
        .map(|i| STAR_USERS - i as i64)
        .collect();
    assert_eq!(page["count"], STAR_COUNT as u64, "{case}");
    assert_eq!(ids, want_ids, "{case}: limit {limit}, offset {offset}");
    let next = (offset.saturating_add(limit) < STAR_COUNT).then(|| link(Some(offset + limit)));
    let previous = (offset > 0).then(|| {
        if offset <= limit {
            link(None)
        } else {
            link(Some(offset - limit))
        }
    });
    assert_eq!(page["next"], json!(next), "{case}: next");
    assert_eq!(page["previous"], json!(previous), "{case}: previous");
}

/// SQL metacharacters, injection attempts and unicode; none of them is an integer for
/// Python's `int()`, none a valid id or `mutual`.
const HOSTILE: &[&str] = &[
    "' OR '1'='1",
    "1' OR 1=1 --",
    "1 OR 1=1",
    "1; DROP TABLE users; --",
    "1) UNION SELECT token_sha256, 1 FROM access_tokens --",
    "1'/**/OR/**/'1'='1",
    "%",
    "_",
    "\\",
    "\\'",
    "\"",
    "`",
    "$1",
    "?",
    ":id",
    "NULL",
    "\0",
    "1\0",
    "\r\n",
    "<script>alert(1)</script>",
    "{{7*7}}",
    "${jndi:ldap://x}",
    "../../etc/passwd",
    "&",
    "=",
    "#",
    "+",
    "é",
    "日本語",
    "🦀",
    "\u{202e}1",
    "\u{feff}1",
    "Ω≈ç√",
    "ǅ",
];

// =============================================================================================
// GraphQL

/// POSTs a GraphQL request; status and JSON body.
async fn graphql(
    client: &Client,
    base: &str,
    headers: &[(HeaderName, HeaderValue)],
    query: &str,
    variables: Value,
) -> (u16, Value) {
    let mut request = client
        .post(format!("{base}/graphql"))
        .json(&json!({"query": query, "variables": variables}));
    for (name, value) in headers {
        request = request.header(name.clone(), value.clone());
    }
    let response = request.send().await.expect("graphql request");
    let status = response.status().as_u16();
    let text = response.text().await.expect("graphql body");
    assert_ne!(status, 500, "graphql 500: {text}");
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    (status, body)
}

/// Checks a response holds exactly one error on `field`, with `code` and `message`, and
/// nothing internal.
fn check_graphql_error(body: &Value, field: &str, code: &str, message: &str, case: &str) {
    let errors = body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("{case}: no errors: {body}"));
    assert_eq!(errors.len(), 1, "{case}: {body}");
    let error = &errors[0];
    assert_eq!(error["message"], message, "{case}: {body}");
    assert_eq!(error["extensions"], json!({"code": code}), "{case}: {body}");
    assert_eq!(error["path"], json!([field]), "{case}: {body}");
    for key in error.as_object().expect("error object").keys() {
        assert!(
            ["message", "locations", "path", "extensions"].contains(&key.as_str()),
            "{case}: unexpected key {key} in {body}"
        );
    }
    // A resolver's own error nulls the whole `data` with async-graphql; either way, no data.
    assert!(
        body["data"].is_null() || body["data"] == json!({ field: null }),
        "{case}: {body}"
    );
    assert_no_leak(&body["errors"].to_string(), case);
}

// =============================================================================================
// Group 1: JWT attacks and Authorization header forms

#[tokio::test]
async fn jwt_attacks_and_header_forms() {
    for db in TestDb::all("security_jwt").await {
        common::import_example(&db.store).await;
        let base = common::serve(db.store.clone()).await;
        let client = Client::new();
        let url = route(&base, "1", "");
        let backend = db.backend;

        let cases = jwt_cases();
        for (name, value, want) in &cases {
            let reply = fetch_auth(&client, &url, Some(value)).await;
            check(&reply, *want, &format!("{backend:?} {name}"));
        }
        let reply = fetch_auth(&client, &url, None).await;
        check(
            &reply,
            Want::PageAs(None),
            &format!("{backend:?} no header"),
        );

        // Content not public: no credentials (or another scheme) is 401 not_authenticated;
        // a bad token is still authentication_failed (gate 1 before gate 2).
        community_gateway::community::apply_settings(
            &db.store,
            &[("content_availability".into(), false)],
        )
        .await
        .expect("settings");
        let private_cases = [
            ("no header", None, Want::NotAuthenticated),
            ("Basic xyz", Some(hv("Basic xyz")), Want::NotAuthenticated),
            ("empty header", Some(hv("")), Want::NotAuthenticated),
            (
                "non-UTF-8 scheme word",
                Some(hv_bytes(b"\xffearer abc")),
                Want::NotAuthenticated,
            ),
            ("valid JWT", Some(bearer(&jwt(2))), Want::PageAs(Some(2))),
            (
                "valid opaque",
                Some(bearer("alice-demo-token")),
                Want::PageAs(Some(1)),
            ),
            ("Bearer alone", Some(hv("Bearer")), Want::AuthFailed),
            ("JWT of no user", Some(bearer(&jwt(4242))), Want::AuthFailed),
            (
                "wrong secret",
                Some(bearer(&sign(
                    &claims(2),
                    Algorithm::HS256,
                    b"nope-nope-nope-nope",
                ))),
                Want::AuthFailed,
            ),
        ];
        for (name, value, want) in &private_cases {
            let reply = fetch_auth(&client, &url, value.as_ref()).await;
            check(
                &reply,
                *want,
                &format!("{backend:?} private content, {name}"),
            );
        }

        // Friendship mode off: a bad token is still 401, a good one 403.
        community_gateway::community::apply_settings(
            &db.store,
            &[("connection_enabled".into(), false)],
        )
        .await
        .expect("settings");
        for (name, value, want) in [
            ("valid JWT", bearer(&jwt(2)), Want::Forbidden),
            (
                "expired JWT",
                bearer(&sign(
                    &claims_with("exp", json!(now() - 1)),
                    Algorithm::HS256,
                    TEST_SECRET.as_bytes(),
                )),
                Want::AuthFailed,
            ),
            ("Bearer a b", hv("Bearer a b"), Want::AuthFailed),
        ] {
            let reply = fetch_auth(&client, &url, Some(&value)).await;
            check(&reply, want, &format!("{backend:?} friendship off, {name}"));
        }
        eprintln!(
            "{backend:?}: {} JWT/header cases + {} with content private + 3 with friendship off",
            cases.len() + 1,
            private_cases.len()
        );
    }
}

// =============================================================================================
// Group 2: opaque-token attacks

/// Opaque tokens near the stored ones, or made to trip a lookup; all unknown.
fn opaque_cases() -> Vec<(String, HeaderValue)> {
    let alice = "alice-demo-token";
    let sha = hex::encode(Sha256::digest(alice.as_bytes()));
    let mut tokens: Vec<String> = vec![
        alice[..alice.len() - 1].to_string(),
        alice[..5].to_string(),
        "a".into(),
        format!("{alice}x"),
        format!("{alice}%"),
        format!("x{alice}"),
        alice.to_uppercase(),
        "Alice-demo-token".into(),
        sha.clone(),
        sha.to_uppercase(),
        format!("sha256:{sha}"),
        "expired-token".into(),
        "'OR'1'='1".into(),
        "alice-demo-token'--".into(),
        "'||'".into(),
        "%".into(),
        "%%".into(),
        "alice-demo-toke_".into(),
        "_".into(),
        "________________".into(),
        "\\".into(),
        "alice-demo-token\\".into(),
        "*".into(),
        "\"".into(),
        "`".into(),
        ";".into(),
        "1;DROP/**/TABLE/**/access_tokens".into(),
        "alice-demo-token..".into(),
        "...".into(),
    ];
    tokens.push("a".repeat(4097));
    let mut cases: Vec<(String, HeaderValue)> = tokens
        .iter()
        .map(|t| (format!("token {:?}", cut(t)), bearer(t)))
        .collect();
    // Words with spaces are two words: 401 too.
    cases.push(("' OR '1'='1".into(), hv("Bearer ' OR '1'='1")));
    cases.push(("Token ' OR 1=1 --".into(), hv("Token ' OR 1=1 --")));
    // Unicode (UTF-8 bytes in the header): lookalikes of the real token and others.
    for unicode in [
        "ålice-demo-token",
        "alice\u{2010}demo\u{2010}token",
        "alice-demo-token\u{200b}",
        "ａｌｉｃｅ-demo-token",
        "🦀",
        "日本語",
        "\u{202e}nekot-omed-ecila",
    ] {
        cases.push((
            format!("unicode token {unicode:?}"),
            hv_bytes(format!("Bearer {unicode}").as_bytes()),
        ));
    }
    cases
}

#[tokio::test]
async fn opaque_token_attacks() {
    for db in TestDb::all("security_opaque").await {
        common::import_example(&db.store).await;
        let base = common::serve(db.store.clone()).await;
        let client = Client::new();
        let url = route(&base, "1", "");
        let backend = db.backend;

        // Controls: the stored tokens, by either keyword in any case.
        for (value, viewer) in [
            ("Bearer alice-demo-token", 1),
            ("token alice-demo-token", 1),
            ("BEARER bruno-demo-token", 2),
            ("ToKeN bruno-demo-token", 2),
        ] {
            let reply = fetch_auth(&client, &url, Some(&hv(value))).await;
            check(
                &reply,
                Want::PageAs(Some(viewer)),
                &format!("{backend:?} {value}"),
            );
        }
        let cases = opaque_cases();
        for (name, value) in &cases {
            let reply = fetch_auth(&client, &url, Some(value)).await;
            check(&reply, Want::AuthFailed, &format!("{backend:?} {name}"));
            // Also with the `Token` keyword and on a path that would otherwise be a 404.
            if let Some(token) = value.as_bytes().strip_prefix(b"Bearer ") {
                let token_kw = hv_bytes(&[b"Token ".as_slice(), token].concat());
                let reply = fetch_auth(&client, &route(&base, "999", ""), Some(&token_kw)).await;
                check(
                    &reply,
                    Want::AuthFailed,
                    &format!("{backend:?} Token {name} on 999"),
                );
            }
        }
        eprintln!(
            "{backend:?}: 4 opaque controls + {} attack cases (x2 keywords)",
            cases.len()
        );
    }
}

// =============================================================================================
// Group 3: path ids at and past their type bounds

#[tokio::test]
async fn path_ids_at_and_past_bounds() {
    for db in TestDb::all("security_ids").await {
        common::import_example(&db.store).await;
        let base = common::serve(db.store.clone()).await;
        let client = Client::new();
        let backend = db.backend;
        let long_digits = "9".repeat(10 * 1024);
        let long_ones = format!("{}1", "0".repeat(10 * 1024));
        // (raw path segment, as sent; what it must get)
        let cases: Vec<(String, Want)> = vec![
            ("1".into(), Want::Page),
            ("0001".into(), Want::Page),
            ("8".into(), Want::Page),
            ("9".into(), Want::NotFound),
            (i64::MAX.to_string(), Want::NotFound),
            ((i64::MAX as u64 + 1).to_string(), Want::NotFound),
            (u64::MAX.to_string(), Want::NotFound),
            ((u64::MAX as u128 + 1).to_string(), Want::NotFound),
            (format!("1{}", "0".repeat(30)), Want::NotFound),
            ("-1".into(), Want::NotFound),
            (i64::MIN.to_string(), Want::NotFound),
            ("0".into(), Want::NotFound),
            ("00".into(), Want::NotFound),
            ("+1".into(), Want::NotFound),
            ("%2B1".into(), Want::NotFound),
            ("1e3".into(), Want::NotFound),
            ("1.0".into(), Want::NotFound),
            ("0x10".into(), Want::NotFound),
            ("%00".into(), Want::NotFound),
            ("1%00".into(), Want::NotFound),
            ("%201".into(), Want::NotFound),
            ("1%20".into(), Want::NotFound),
            (pct("１"), Want::NotFound),
            (pct("١"), Want::NotFound),
            ("%FF".into(), Want::NotFound),
            ("1%2F..".into(), Want::NotFound),
            (long_digits.clone(), Want::NotFound),
            // 10 KB naming user 1: a positive integer that fits in 64 bits.
            (long_ones, Want::Page),
        ];
        for (id, want) in &cases {
            for slash in ["/", ""] {
                let url = format!("{base}/api/v2/user/{id}/connections{slash}");
                let reply = fetch_auth(&client, &url, None).await;
                check(&reply, *want, &format!("{backend:?} id {}{slash}", cut(id)));
            }
        }
        // Bad ids never jump the gate order: 401 before 404, and 404 before a bad `mutual`.
        let bad_ids = [
            "0",
            "-1",
            "1e3",
            "18446744073709551616",
            long_digits.as_str(),
        ];
        for id in bad_ids {
            let url = route(&base, id, "mutual=2");
            let case = format!("{backend:?} id {} with mutual=2", cut(id));
            check(
                &fetch_auth(&client, &url, None).await,
                Want::NotFound,
                &case,
            );
            let reply = fetch_auth(&client, &url, Some(&bearer("expired-token"))).await;
            check(&reply, Want::AuthFailed, &format!("{case}, expired token"));
        }
        community_gateway::community::apply_settings(
            &db.store,
            &[("connection_enabled".into(), false)],
        )
        .await
        .expect("settings");
        for id in bad_ids {
            let reply = fetch_auth(&client, &route(&base, id, "mutual=x"), None).await;
            check(
                &reply,
                Want::Forbidden,
                &format!("{backend:?} id {} friendship off", cut(id)),
            );
        }
        community_gateway::community::apply_settings(
            &db.store,
            &[("content_availability".into(), false)],
        )
        .await
        .expect("settings");
        for id in bad_ids {
            let reply = fetch_auth(&client, &route(&base, id, "mutual=x"), None).await;
            check(
                &reply,
                Want::NotAuthenticated,
                &format!("{backend:?} id {} private", cut(id)),
            );
        }
        eprintln!(
            "{backend:?}: {} ids (x2 slash forms) + {} gate-order cases",
            cases.len(),
            bad_ids.len() * 4
        );
    }
}

// =============================================================================================
// Group 4: limit, offset and mutual at and past their bounds

#[tokio::test]
async fn paging_parameters_at_and_past_bounds() {
    for db in TestDb::all("security_paging").await {
        import_star(&db).await;
        let base = common::serve(db.store.clone()).await;
        let client = Client::new();
        let backend = db.backend;
        let max = i64::MAX.to_string();
        let big = format!("1{}", "0".repeat(40));
        // (raw query, effective limit, effective offset) as DRF computes them.
        let cases: Vec<(String, u128, u128)> = vec![
            (String::new(), 20, 0),
            (format!("limit={max}"), 100, 0),
            (format!("limit=-{max}"), 20, 0),
            (format!("limit={}", u64::MAX), 100, 0),
            (format!("limit={big}"), 100, 0),
            (format!("limit=-{big}"), 20, 0),
            ("limit=NaN".into(), 20, 0),
            ("limit=nan".into(), 20, 0),
            ("limit=inf".into(), 20, 0),
            ("limit=1e2".into(), 20, 0),
            ("limit=1.0".into(), 20, 0),
            ("limit=0x10".into(), 20, 0),
            ("limit=0".into(), 20, 0),
            ("limit=-1".into(), 20, 0),
            ("limit=".into(), 20, 0),
            ("limit".into(), 20, 0),
            ("limit=%00".into(), 20, 0),
            (format!("limit={}", pct("²")), 20, 0),
            (format!("limit={}", pct("Ⅻ")), 20, 0),
            ("limit=%207%20".into(), 7, 0),
            ("limit=%2B7".into(), 7, 0),
            ("limit=1_0".into(), 10, 0),
            ("limit=100".into(), 100, 0),
            ("limit=101".into(), 100, 0),
            ("limit=3&limit=7".into(), 7, 0),
            (format!("offset={max}"), 20, i64::MAX as u128),
            (format!("offset=-{max}"), 20, 0),
            (format!("offset={}", u64::MAX), 20, u64::MAX as u128),
            (format!("offset=1{}", "0".repeat(30)), 20, 10u128.pow(30)),
            ("offset=NaN".into(), 20, 0),
            ("offset=1e2".into(), 20, 0),
            ("offset=-1".into(), 20, 0),
            ("offset=".into(), 20, 0),
            (format!("offset={}", pct("²")), 20, 0),
            ("offset=10".into(), 20, 10),
            ("offset=140".into(), 20, 140),
            ("offset=149".into(), 20, 149),
            ("offset=150".into(), 20, 150),
            ("offset=500".into(), 20, 500),
            ("limit=100&offset=100".into(), 100, 100),
            (format!("limit={max}&offset={max}"), 100, i64::MAX as u128),
            ("limit=NaN&offset=NaN".into(), 20, 0),
        ];
        for (query, limit, offset) in &cases {
            let case = format!("{backend:?} ?{}", cut(query));
            let reply = fetch_auth(&client, &route(&base, "1", query), None).await;
            let page = check(&reply, Want::Page, &case).expect("page");
            check_star_page(&page, &base, *limit, *offset, &case);
        }

        // `mutual`: anything but 0 or 1 is a 400 naming the field, whatever limit/offset say.
        let bad_mutual = [
            "mutual=2",
            "mutual=-1",
            "mutual=true",
            "mutual=false",
            "mutual=",
            "mutual",
            "mutual=01",
            "mutual=1.0",
            "mutual=%201",
            "mutual=1%20",
            "mutual=%2B1",
            "mutual=1e0",
            "mutual=0x1",
            "mutual=%00",
            "mutual=1%00",
            "mutual=%EF%BC%91",
            "mutual=9223372036854775807",
            "mutual=18446744073709551616",
            "mutual=NaN",
            "mutual=1&mutual=2",
            "mutual=x&limit=NaN&offset=-1",
            "limit=99999999999999999999999&mutual=yes",
        ];
        for query in bad_mutual {
            let reply = fetch_auth(&client, &route(&base, "1", query), None).await;
            check(&reply, Want::BadMutual, &format!("{backend:?} ?{query}"));
        }
        for query in ["mutual=0", "mutual=1"] {
            let reply = fetch_auth(&client, &route(&base, "1", query), None).await;
            let page = check(&reply, Want::Page, &format!("{backend:?} ?{query}")).expect("page");
            // Anonymous: no mutual connections.
            let count = if query == "mutual=1" {
                0
            } else {
                STAR_COUNT as u64
            };
            assert_eq!(page["count"], count, "{backend:?} ?{query}");
        }
        eprintln!(
            "{backend:?}: {} limit/offset cases + {} bad mutual + 2 good mutual",
            cases.len(),
            bad_mutual.len()
        );
    }
}

/// Python's `int()` (so DRF's `_positive_int`) reads any Unicode decimal digits:
/// `int("５") == 5`, `int("٣") == 3`, `int("１０") == 10`.
#[tokio::test]

async fn paging_parameters_read_unicode_digits_like_python_int() {
    for db in TestDb::all("security_unicode_digits").await {
        import_star(&db).await;
        let base = common::serve(db.store.clone()).await;
        let client = Client::new();
        for (query, limit, offset) in [
            (format!("limit={}", pct("５")), 5, 0),
            (format!("limit={}", pct("٣")), 3, 0),
            (format!("offset={}", pct("１０")), 20, 10),
            (format!("limit={}&offset={}", pct("５"), pct("１０")), 5, 10),
        ] {
            let case = format!("{:?} ?{query}", db.backend);
            let reply = fetch_auth(&client, &route(&base, "1", &query), None).await;
            let page = check(&reply, Want::Page, &case).expect("page");
            check_star_page(&page, &base, limit, offset, &case);
        }
    }
}

/// DRF's `previous` for an offset past the end is `offset - limit`, computed exactly (Python
/// integers are unbounded); the server saturates offsets at `i128::MAX`.
#[tokio::test]

async fn offset_beyond_i128_keeps_exact_previous_link() {
    for db in TestDb::all("security_offset_i128").await {
        import_star(&db).await;
        let base = common::serve(db.store.clone()).await;
        let client = Client::new();
        let offset = format!("1{}", "0".repeat(40));
        let reply = fetch_auth(
            &client,
            &route(&base, "1", &format!("offset={offset}")),
            None,
        )
        .await;
        let case = format!("{:?} ?offset=10^40", db.backend);
        let page = check(&reply, Want::Page, &case).expect("page");
        assert_eq!(page["results"], json!([]), "{case}");
        assert_eq!(page["next"], Value::Null, "{case}");
        assert_eq!(
            page["previous"],
            format!(
                "{}?limit=20&offset={}80",
                route(&base, "1", ""),
                "9".repeat(38)
            ),
            "{case}"
        );
    }
}

// =============================================================================================
// Group 5: SQL metacharacters and unicode in every parameter, the Host header and GraphQL

#[tokio::test]
async fn hostile_text_in_every_input() {
    for db in TestDb::all("security_injection").await {
        import_star(&db).await;
        let base = common::serve(db.store.clone()).await;
        let client = Client::new();
        let backend = db.backend;
        let path = route(&base, "1", "");
        let mut count = 0;

        for payload in HOSTILE {
            let p = pct(payload);
            let case = |what: &str| format!("{backend:?} {what} = {payload:?}");
            // The path id.
            let reply = fetch_auth(&client, &route(&base, &p, ""), None).await;
            check(&reply, Want::NotFound, &case("id"));
            let reply = fetch_auth(&client, &route(&base, &format!("1{p}"), ""), None).await;
            check(&reply, Want::NotFound, &case("id 1+"));
            // limit and offset fall back; the links show the effective values.
            for (key, limit) in [("limit", 20), ("offset", 20)] {
                let url = route(&base, "1", &format!("{key}={p}"));
                let page = check(
                    &fetch_auth(&client, &url, None).await,
                    Want::Page,
                    &case(key),
                )
                .expect("page");
                check_star_page(&page, &base, limit, 0, &case(key));
            }
            // mutual is strict.
            let reply = fetch_auth(&client, &route(&base, "1", &format!("mutual={p}")), None).await;
            check(&reply, Want::BadMutual, &case("mutual"));
            // Unknown parameters, as value and as key, come back re-encoded in the links.
            for (key, value) in [("q", *payload), (*payload, "v")] {
                let query = format!("{}={}&limit=2&offset=2", pct(key), pct(value));
                let url = route(&base, "1", &query);
                let what = format!("unknown param {key:?}={value:?}");
                let page =
                    check(&fetch_auth(&client, &url, None).await, Want::Page, &what).expect("page");
                let next = format!(
                    "{path}?{}",
                    drf_query(&[(key, value), ("limit", "2"), ("offset", "4")])
                );
                let previous = format!("{path}?{}", drf_query(&[(key, value), ("limit", "2")]));
                assert_eq!(page["next"], next, "{backend:?} {what}");
                assert_eq!(page["previous"], previous, "{backend:?} {what}");
                for link in [&next, &previous] {
                    assert_safe_link(link, &what);
                    // The link names the same parameter again.
                    let parsed = reqwest::Url::parse(link).expect("link parses");
                    assert!(
                        parsed.query_pairs().any(|(k, v)| k == key && v == value),
                        "{backend:?} {what}: {link}"
                    );
                }
            }
            count += 8;
        }

        // Raw, badly encoded queries: kept as Python's parse_qsl reads them.
        for (query, key, value) in [
            ("q=%zz&limit=2", "q", "%zz"),
            ("q=%FF&limit=2", "q", "\u{fffd}"),
            ("q=%&limit=2", "q", "%"),
            ("q=a+b&limit=2", "q", "a b"),
            ("%FF=1&limit=2", "\u{fffd}", "1"),
        ] {
            let page = check(
                &fetch_auth(&client, &route(&base, "1", query), None).await,
                Want::Page,
                query,
            )
            .expect("page");
            let next = format!(
                "{path}?{}",
                drf_query(&[(key, value), ("limit", "2"), ("offset", "2")])
            );
            assert_eq!(page["next"], next, "{backend:?} ?{query}");
            assert_safe_link(&next, query);
            count += 1;
        }

        count += host_header_cases(&client, &base, backend).await;
        count += graphql_argument_cases(&client, &base, backend).await;
        eprintln!(
            "{backend:?}: {count} hostile-input cases ({} payloads)",
            HOSTILE.len()
        );
    }
}

/// A link holds only URL characters: nothing that could break out of an attribute or a header.
fn assert_safe_link(link: &str, case: &str) {
    assert!(
        link.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~:/?[]&+=%".contains(&b)),
        "{case}: unsafe character in {link}"
    );
}

/// Hostile `Host` headers: links use the host only when it is made of host characters.
async fn host_header_cases(client: &Client, base: &str, backend: common::Backend) -> usize {
    let url = route(base, "1", "limit=1");
    let reflected =
        |host: &str| format!("http://{host}/api/v2/user/1/connections/?limit=1&offset=1");
    let fallback = reflected("localhost");
    let long = format!("{}.example", "a".repeat(300));
    let cases: Vec<(HeaderValue, String)> = vec![
        (
            hv("api.example.com:8443"),
            reflected("api.example.com:8443"),
        ),
        (hv("[::1]:8080"), reflected("[::1]:8080")),
        (hv("evil.example\"><x"), fallback.clone()),
        (hv("evil.example/path"), fallback.clone()),
        (hv("evil.example?x=1"), fallback.clone()),
        (hv("evil.example#frag"), fallback.clone()),
        (hv("user@evil.example"), fallback.clone()),
        (hv("evil.example' OR '1'='1"), fallback.clone()),
        (hv("<script>alert(1)</script>"), fallback.clone()),
        (hv("evil.example%2F"), fallback.clone()),
        (hv("evil.example\\"), fallback.clone()),
        (hv("a b"), fallback.clone()),
        (hv(""), fallback.clone()),
        (hv(&long), fallback.clone()),
        (hv_bytes("é.example".as_bytes()), fallback.clone()),
        (hv_bytes(b"\xff.example"), fallback.clone()),
    ];
    for (host, want) in &cases {
        let case = format!("{backend:?} Host {host:?}");
        let reply = fetch(client, &url, &[(HOST, host.clone())]).await;
        let page = check(&reply, Want::Page, &case).expect("page");
        assert_eq!(page["next"], want.as_str(), "{case}");
        assert_safe_link(want, &case);
        // GraphQL builds the same links.
        let (status, body) = graphql(
            client,
            base,
            &[(HOST, host.clone())],
            r#"{ user(id: "1") { connections(limit: 1) { next } } }"#,
            json!({}),
        )
        .await;
        assert_eq!(status, 200, "{case}: {body}");
        assert_eq!(
            body["data"]["user"]["connections"]["next"],
            want.as_str(),
            "{case}"
        );
    }
    cases.len() * 2
}

/// Hostile GraphQL arguments: unknown ids are null users, never an error or a leak.
async fn graphql_argument_cases(client: &Client, base: &str, backend: common::Backend) -> usize {
    let mut count = 0;
    // Literal arguments, as a client might splice them in.
    let (status, body) = graphql(
        client,
        base,
        &[],
        r#"{ user(id: "1' OR 1=1 --") { id } }"#,
        json!({}),
    )
    .await;
    assert_eq!(
        (status, &body),
        (200, &json!({"data": {"user": null}})),
        "{backend:?}"
    );
    let (status, body) = graphql(
        client,
        base,
        &[],
        r#"{ users(ids: ["1", "1' OR '1'='1", "%", "_", "\\", "2; DROP TABLE users", "１", "🦀"]) { id } }"#,
        json!({}),
    )
    .await;
    assert_eq!(
        (status, &body),
        (
            200,
            &json!({"data": {"users": [{"id": "1"}, null, null, null, null, null, null, null]}})
        ),
        "{backend:?}"
    );
    count += 2;

    // Every hostile payload and bound as a variable.
    let long = "9".repeat(10 * 1024);
    let mut ids: Vec<String> = HOSTILE.iter().map(|s| s.to_string()).collect();
    ids.extend(
        [
            "0",
            "-1",
            "+1",
            "1e3",
            "0x10",
            "１",
            "9223372036854775807",
            "9223372036854775808",
            "18446744073709551616",
            " 1",
            "1 ",
            "",
        ]
        .map(String::from),
    );
    ids.push(long);
    for id in &ids {
        let case = format!("{backend:?} graphql id {:?}", cut(id));
        let (status, body) = graphql(
            client,
            base,
            &[],
            "query($id: ID!) { user(id: $id) { id } }",
            json!({"id": id}),
        )
        .await;
        assert_eq!(
            (status, &body),
            (200, &json!({"data": {"user": null}})),
            "{case}"
        );
        count += 1;
    }
    let mut all: Vec<String> = vec!["2".into()];
    all.extend(ids.iter().cloned());
    let (status, body) = graphql(
        client,
        base,
        &[],
        "query($ids: [ID!]!) { users(ids: $ids) { id } }",
        json!({"ids": all}),
    )
    .await;
    let mut want = vec![json!({"id": "2"})];
    want.extend(ids.iter().map(|_| Value::Null));
    assert_eq!(
        (status, &body),
        (200, &json!({"data": {"users": want}})),
        "{backend:?} users(ids:)"
    );
    count += 1;

    // Int arguments at their bounds: a past-the-end page, or a clear input error.
    let (status, body) = graphql(
        client,
        base,
        &[],
        r#"{ user(id: "1") { connections(limit: 2147483647, offset: 2147483647) { count next previous results { id } } } }"#,
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{backend:?} {body}");
    let page = &body["data"]["user"]["connections"];
    assert_eq!(page["count"], STAR_COUNT as u64, "{backend:?} {body}");
    assert_eq!(page["results"], json!([]), "{backend:?} {body}");
    assert_eq!(page["next"], Value::Null, "{backend:?} {body}");
    assert_eq!(
        page["previous"],
        format!("{}?limit=100&offset=2147483547", route(base, "1", "")),
        "{backend:?} {body}"
    );
    for (args, code) in [
        ("limit: 0", "BAD_USER_INPUT"),
        ("limit: -2147483648", "BAD_USER_INPUT"),
        ("offset: -1", "BAD_USER_INPUT"),
        ("offset: -2147483648", "BAD_USER_INPUT"),
    ] {
        let query = format!(r#"{{ user(id: "1") {{ connections({args}) {{ count }} }} }}"#);
        let (status, body) = graphql(client, base, &[], &query, json!({})).await;
        assert_eq!(status, 200, "{backend:?} {args}: {body}");
        assert_eq!(
            body["errors"][0]["extensions"]["code"], code,
            "{backend:?} {args}: {body}"
        );
        assert_no_leak(&body["errors"].to_string(), &format!("{backend:?} {args}"));
    }
    // Out of Int's range or of the wrong type: an error and no data, never a 500 or a leak.
    for args in [
        "limit: 2147483648",
        "offset: 99999999999999999999",
        "limit: \"1' OR 1=1\"",
    ] {
        let query = format!(r#"{{ user(id: "1") {{ connections({args}) {{ count }} }} }}"#);
        let (status, body) = graphql(client, base, &[], &query, json!({})).await;
        assert!(
            status == 200 || status == 400,
            "{backend:?} {args}: {status} {body}"
        );
        assert!(
            body.get("data")
                .is_none_or(|d| d.is_null() || *d == json!({"user": null})),
            "{backend:?} {args}: {body}"
        );
        assert!(
            !body["errors"].as_array().expect("errors").is_empty(),
            "{backend:?} {args}"
        );
        assert_no_leak(&body["errors"].to_string(), &format!("{backend:?} {args}"));
    }
    count + 1 + 4 + 3
}

// =============================================================================================
// Group 6: GraphQL authentication errors

#[tokio::test]
async fn graphql_auth_errors() {
    for db in TestDb::all("security_graphql_auth").await {
        common::import_example(&db.store).await;
        let base = common::serve(db.store.clone()).await;
        let client = Client::new();
        let backend = db.backend;
        let failed = "Incorrect authentication credentials.";

        // Controls: valid credentials name their user.
        for (value, id) in [
            (bearer(&jwt(2)), "2"),
            (hv("token alice-demo-token"), "1"),
            (hv("Basic xyz"), ""),
        ] {
            let (status, body) = graphql(
                &client,
                &base,
                &[(AUTHORIZATION, value.clone())],
                "{ me { id } }",
                json!({}),
            )
            .await;
            let want = if id.is_empty() {
                json!(null)
            } else {
                json!({"id": id})
            };
            assert_eq!(
                (status, &body),
                (200, &json!({"data": {"me": want}})),
                "{backend:?} {value:?}"
            );
        }

        // Every rejected REST credential is UNAUTHENTICATED here, with the same message.
        let mut bad: Vec<(String, HeaderValue)> = jwt_cases()
            .into_iter()
            .filter(|(_, _, want)| *want == Want::AuthFailed)
            .map(|(name, value, _)| (name, value))
            .collect();
        bad.extend(opaque_cases());
        bad.push(("expired stored token".into(), bearer("expired-token")));
        for (name, value) in &bad {
            for field in ["user", "me"] {
                let query = if field == "user" {
                    r#"{ user(id: "1") { id } }"#
                } else {
                    "{ me { id } }"
                };
                let (status, body) = graphql(
                    &client,
                    &base,
                    &[(AUTHORIZATION, value.clone())],
                    query,
                    json!({}),
                )
                .await;
                let case = format!("{backend:?} graphql {field} with {name}");
                assert_eq!(status, 200, "{case}: {body}");
                check_graphql_error(&body, field, "UNAUTHENTICATED", failed, &case);
            }
        }

        // Content not public: anonymous is UNAUTHENTICATED (credentials not provided).
        community_gateway::community::apply_settings(
            &db.store,
            &[("content_availability".into(), false)],
        )
        .await
        .expect("settings");
        for value in [None, Some(hv("Basic xyz")), Some(hv(""))] {
            let headers: Vec<(HeaderName, HeaderValue)> =
                value.iter().map(|v| (AUTHORIZATION, v.clone())).collect();
            let (status, body) = graphql(
                &client,
                &base,
                &headers,
                r#"{ user(id: "1") { id } }"#,
                json!({}),
            )
            .await;
            let case = format!("{backend:?} graphql private content, {value:?}");
            assert_eq!(status, 200, "{case}: {body}");
            check_graphql_error(
                &body,
                "user",
                "UNAUTHENTICATED",
                "Authentication credentials were not provided.",
                &case,
            );
        }
        let (status, body) = graphql(
            &client,
            &base,
            &[(AUTHORIZATION, bearer("Bearer"))],
            r#"{ user(id: "1") { id } }"#,
            json!({}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        check_graphql_error(
            &body,
            "user",
            "UNAUTHENTICATED",
            failed,
            "Bearer Bearer, private",
        );
        eprintln!(
            "{backend:?}: 3 controls + {} bad credentials (x2 fields) + 4 private",
            bad.len()
        );
    }
}
