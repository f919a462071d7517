//! JWT attacks and `Authorization` header forms: `alg: none` in four letter cases, algorithm
//! confusion (RS256 header over an HMAC, lower-case `hs256`, no `alg`, RS256, HS384, HS512),
//! tampered payloads and bad signatures (wrong or empty secret, truncated, borrowed, padded),
//! expiry and every claim missing, mistyped or out of range, malformed structure, 100 KB
//! tokens, and the header itself: keywords in any case, extra words, non-UTF-8 and
//! control bytes, other schemes, empty and blank values.
//!
//! Proves the server accepts only a valid HS256 access token naming an existing user (any
//! keyword case), answers every other credential with exactly 401 `authentication_failed`,
//! treats another scheme, a missing keyword or no credentials as anonymous, and keeps its
//! gate order: with content private a bad token is still `authentication_failed` while no
//! credentials are `not_authenticated`, and with friendship mode off a bad token is still a
//! 401, a good one 403.

use super::{bearer, check, claims, fetch_auth, hv, hv_bytes, jwt, now, route, sign, Want};
use crate::common;
use crate::common::{TestDb, TEST_SECRET};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::header::HeaderValue;
use reqwest::Client;
use serde_json::{json, Value};

/// Unpadded URL-safe base64 (RFC 4648 §5), to forge tokens by hand.
fn b64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
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
pub(super) fn jwt_cases() -> Vec<(String, HeaderValue, Want)> {
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
        community_gateway::bulk::apply_settings(
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
        community_gateway::bulk::apply_settings(&db.store, &[("connection_enabled".into(), false)])
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
