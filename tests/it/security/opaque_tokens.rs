//! Opaque (stored) token attacks: tokens one character off the stored ones, prefixes,
//! case changes, the stored SHA-256 digest itself, the expired token, SQL quotes, `LIKE`
//! wildcards (`%`, `_`), backslashes, a 4 KiB + 1 token, several words, and unicode
//! lookalikes sent as raw UTF-8 header bytes.
//!
//! Proves the stored tokens work with either keyword in any case, and that the lookup is an
//! exact match on the whole token: every near miss is 401 `authentication_failed` with both
//! keywords, even on a path that would otherwise be a 404.

use super::{bearer, check, cut, fetch_auth, hv, hv_bytes, route, Want};
use crate::common;
use crate::common::TestDb;
use reqwest::header::HeaderValue;
use reqwest::Client;
use sha2::{Digest, Sha256};

/// Opaque tokens near the stored ones, or made to trip a lookup; all unknown.
pub(super) fn opaque_cases() -> Vec<(String, HeaderValue)> {
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
