//! Property tests (proptest) over the REST route's parsing paths: the query string, DRF's
//! integer and fallback rules, the paging links, and the `Authorization` header.
//!
//! Every property also asserts "never panics" by running the function at all. Case counts are
//! bounded so the whole file runs in a few seconds in a debug build; failures are not persisted
//! to disk (set `PROPTEST_CASES` to run more cases locally).

use axum::http::HeaderValue;
use community_gateway::auth::{self, Credential};
use community_gateway::core::clamp_limit;
use community_gateway::core::links;
use community_gateway::error::ApiError;
use community_gateway::rest::params::{
    self, limit, mutual, offset, parse_query, python_int, PyInt,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;
use serde_json::json;

const SECRET: &[u8] = b"fuzz-secret-0123456789abcdef";
const BASE: &str = "http://testserver/api/v2/user/7/connections/";

fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Strategies.

/// Text that looks like query-string material: the separators, percent escapes (valid, invalid
/// and truncated), `+`, digits, signs, underscores, whitespace and some non-ASCII.
fn query_text() -> impl Strategy<Value = String> {
    let atom = prop_oneof![
        Just("&".to_string()),
        Just("=".to_string()),
        Just("+".to_string()),
        Just("%".to_string()),
        Just("%2".to_string()),
        Just("%zz".to_string()),
        Just("%C3%A9".to_string()),
        Just("%C3".to_string()),
        Just("%FF".to_string()),
        Just("%00".to_string()),
        Just("%20".to_string()),
        Just("%2B".to_string()),
        Just("%26".to_string()),
        Just("%3D".to_string()),
        Just("limit".to_string()),
        Just("offset".to_string()),
        Just("mutual".to_string()),
        Just("_".to_string()),
        Just("-".to_string()),
        "[0-9]{1,25}",
        "[a-z]{1,4}",
        "[ \t\n]{1,2}",
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(atom, 0..24).prop_map(|parts| parts.concat())
}

/// A value Python's `int()` might or might not accept.
fn int_like() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i128>().prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        (0u32..300).prop_map(|n| n.to_string()),
        "[ \t]{0,2}[+-]?[0-9_]{0,30}[ \t]{0,2}",
        "[0-9]{30,60}",
        ".{0,8}",
    ]
}

/// Query pairs as `parse_query` would return them, with the route's keys over-represented.
fn pairs() -> impl Strategy<Value = Vec<(String, String)>> {
    let key = prop_oneof![
        Just("limit".to_string()),
        Just("offset".to_string()),
        Just("mutual".to_string()),
        Just(String::new()),
        ".{0,6}",
    ];
    let value = prop_oneof![int_like(), Just("0".into()), Just("1".into()), ".{0,6}"];
    prop::collection::vec((key, value), 0..8)
}

/// Python's `int()` for base-10 text, as a reference model, on ASCII input: optional
/// surrounding whitespace, one optional sign, digits with single `_` between digits. The value
/// as (negative, decimal digits without leading zeros), of any size.
fn python_int_model(text: &str) -> Option<(bool, String)> {
    assert!(text.is_ascii());
    let text = text.trim_matches(|c: char| matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c'));
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let groups: Vec<&str> = digits.split('_').collect();
    if groups
        .iter()
        .any(|g| g.is_empty() || !g.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let joined = groups.concat();
    let trimmed = joined.trim_start_matches('0');
    let digits = if trimmed.is_empty() { "0" } else { trimmed }.to_string();
    Some((negative && digits != "0", digits))
}

fn py(n: i128) -> PyInt {
    PyInt {
        negative: n < 0,
        digits: n.unsigned_abs().to_string(),
    }
}

/// Compares two decimal digit strings without leading zeros.
fn decimal_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// `digits + n`, digit by digit (an independent check of the links' subtraction).
fn decimal_add(digits: &str, n: u64) -> String {
    let mut out: Vec<u8> = digits.bytes().rev().map(|b| b - b'0').collect();
    let mut carry = u128::from(n);
    let mut i = 0;
    while carry > 0 {
        if i == out.len() {
            out.push(0);
        }
        let sum = u128::from(out[i]) + carry;
        out[i] = (sum % 10) as u8;
        carry = sum / 10;
        i += 1;
    }
    out.iter().rev().map(|d| char::from(b'0' + d)).collect()
}

/// Digits in another Unicode script `int()` reads (Arabic-Indic, Devanagari, fullwidth).
fn in_script(ascii_digits: &str, zero: u32) -> String {
    ascii_digits
        .chars()
        .map(|c| match c.to_digit(10) {
            Some(d) => char::from_u32(zero + d).unwrap_or(c),
            None => c,
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Query parameters.

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn parse_query_never_panics_and_drops_nothing_decodable(raw in query_text()) {
        let pairs = parse_query(Some(&raw));
        // Each non-empty `&`-separated piece is one pair.
        let pieces = raw.split('&').filter(|p| !p.is_empty()).count();
        prop_assert_eq!(pairs.len(), pieces);
        // Re-encoding what was decoded and parsing again is stable.
        let encoded: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs.iter())
            .finish();
        prop_assert_eq!(parse_query(Some(&encoded)), pairs);
    }

    #[test]
    fn python_int_matches_the_model_on_ascii(text in int_like()) {
        let got = python_int(&text);
        if text.is_ascii() {
            prop_assert_eq!(
                got.map(|p| (p.negative, p.digits)),
                python_int_model(&text),
                "{:?}",
                text
            );
        }
    }

    #[test]
    fn python_int_reads_formatted_integers(
        n in any::<i128>(),
        sep in 0usize..4,
        pad in "[ \t\n]{0,2}",
        zero in prop::sample::select(vec![0x30u32, 0x660, 0x966, 0xff10]),
    ) {
        prop_assert_eq!(python_int(&format!("{pad}{n}{pad}")), Some(py(n)));
        // `_` between digit groups, as Python allows.
        let digits = n.unsigned_abs().to_string();
        let grouped: String = digits
            .chars()
            .enumerate()
            .flat_map(|(i, c)| {
                let cut = sep > 0 && i > 0 && i % (sep + 1) == 0;
                cut.then_some('_').into_iter().chain(std::iter::once(c))
            })
            .collect();
        let text = if n < 0 { format!("-{grouped}") } else { format!("+{grouped}") };
        prop_assert_eq!(python_int(&text), Some(py(n)), "{:?}", text);
        // The same digits in another script read the same (Python's `int("١٢") == 12`).
        let other = in_script(&text, zero);
        prop_assert_eq!(python_int(&other), Some(py(n)), "{:?}", other);
    }

    #[test]
    fn python_int_never_panics(text in ".{0,40}") {
        if let Some(p) = python_int(&text) {
            prop_assert!(!p.digits.is_empty() && p.digits.bytes().all(|b| b.is_ascii_digit()));
            prop_assert!(p.digits == "0" || !p.digits.starts_with('0'));
            prop_assert!(!(p.negative && p.digits == "0"));
        }
    }

    #[test]
    fn limit_is_always_within_one_and_max(
        pairs in pairs(),
        max in 1u64..1000,
        default_frac in 0u64..1000,
    ) {
        let default = 1 + default_frac % max;
        let got = clamp_limit(limit(&pairs, default), max);
        prop_assert!((1..=max).contains(&got), "limit {} outside 1..={}", got, max);
        if let Some(text) = params::last(&pairs, "limit").filter(|t| t.is_ascii()) {
            let want = match python_int_model(text) {
                Some((false, digits)) if digits != "0" => {
                    if decimal_cmp(&digits, &max.to_string()).is_ge() {
                        max
                    } else {
                        digits.parse().expect("below max")
                    }
                }
                _ => default,
            };
            prop_assert_eq!(got, want, "limit={:?}", text);
        }
        if params::last(&pairs, "limit").is_none() {
            prop_assert_eq!(got, default);
        }
    }

    #[test]
    fn offset_is_the_last_non_negative_integer_or_zero(pairs in pairs()) {
        let got = offset(&pairs);
        prop_assert!(!got.negative);
        prop_assert!(got.digits == "0" || !got.digits.starts_with('0'));
        match params::last(&pairs, "offset").filter(|t| t.is_ascii()) {
            Some(text) => {
                let want = match python_int_model(text) {
                    Some((false, digits)) => digits,
                    _ => "0".to_string(),
                };
                prop_assert_eq!(got.digits, want, "offset={:?}", text);
            }
            None if params::last(&pairs, "offset").is_none() => prop_assert_eq!(got.digits, "0"),
            None => {}
        }
    }

    #[test]
    fn mutual_is_strict(pairs in pairs()) {
        match (params::last(&pairs, "mutual"), mutual(&pairs)) {
            (None, Ok(None)) | (Some("1"), Ok(Some(true))) | (Some("0"), Ok(Some(false))) => {}
            (Some(v), Err(e)) => {
                prop_assert!(v != "0" && v != "1");
                prop_assert_eq!(e.code(), "invalid");
                prop_assert_eq!(e.status().as_u16(), 400);
            }
            (last, got) => prop_assert!(false, "mutual {:?} gave {:?}", last, got.map_err(|e| e.code())),
        }
    }

    /// The whole REST parameter path on a raw query string: never panics, always in range.
    #[test]
    fn raw_queries_give_parameters_in_range(raw in query_text()) {
        let pairs = parse_query(Some(&raw));
        let l = clamp_limit(limit(&pairs, 20), 100);
        prop_assert!((1..=100).contains(&l));
        let _ = offset(&pairs);
        let _ = mutual(&pairs);
    }
}

// ---------------------------------------------------------------------------------------------
// Links.

/// The values of `key` in a parsed query, in order.
fn values_of<'a>(pairs: &'a [(String, String)], key: &str) -> Vec<&'a str> {
    pairs
        .iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .collect()
}

/// Checks one produced link: the base, sorted keys, the other parameters kept, and `limit` /
/// `offset` as given (`offset: None` = removed).
fn check_link(
    url: &str,
    original: &[(String, String)],
    want_limit: u64,
    want_offset: Option<&str>,
) -> Result<(), TestCaseError> {
    let query = url
        .strip_prefix(BASE)
        .ok_or_else(|| TestCaseError::fail(format!("{url} does not start with the base")))?;
    let query = query
        .strip_prefix('?')
        .ok_or_else(|| TestCaseError::fail(format!("{url}: no query")))?;
    prop_assert!(
        !query.contains(['#', ' ', '"', '<', '>']),
        "unescaped character in {}",
        url
    );
    let reparsed = parse_query(Some(query));
    let keys: Vec<&str> = reparsed.iter().map(|(k, _)| k.as_str()).collect();
    prop_assert!(
        keys.windows(2).all(|w| w[0] <= w[1]),
        "keys not sorted: {:?}",
        keys
    );
    let want_limit = want_limit.to_string();
    prop_assert_eq!(values_of(&reparsed, "limit"), vec![want_limit.as_str()]);
    match want_offset {
        Some(o) => prop_assert_eq!(values_of(&reparsed, "offset"), vec![o]),
        None => prop_assert!(values_of(&reparsed, "offset").is_empty()),
    }
    // Every other parameter is kept, with all its values in their order.
    let mut others: Vec<&str> = original
        .iter()
        .map(|(k, _)| k.as_str())
        .chain(reparsed.iter().map(|(k, _)| k.as_str()))
        .filter(|k| *k != "limit" && *k != "offset")
        .collect();
    others.sort_unstable();
    others.dedup();
    for key in others {
        prop_assert_eq!(
            values_of(&reparsed, key),
            values_of(original, key),
            "values of {:?}",
            key
        );
    }
    Ok(())
}

/// Offsets as the handler passes them: decimal digits, no leading zeros, of any size.
fn offsets() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (0u128..500).prop_map(|n| n.to_string()),
        1 => any::<u64>().prop_map(|n| n.to_string()),
        1 => any::<u128>().prop_map(|n| n.to_string()),
        1 => "[1-9][0-9]{38,60}",
    ]
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn links_follow_drf(
        query in pairs(),
        limit in 1u64..=100,
        offset in offsets(),
        count in prop_oneof![0u64..600, any::<u64>()],
    ) {
        let got = links(BASE, &query, limit, &offset, count);
        let next_offset = decimal_add(&offset, limit);
        // next: absent exactly when offset + limit >= count.
        prop_assert_eq!(
            got.next.is_some(),
            decimal_cmp(&next_offset, &count.to_string()).is_lt()
        );
        if let Some(next) = &got.next {
            check_link(next, &query, limit, Some(&next_offset))?;
        }
        // previous: absent exactly when offset <= 0; offset removed when offset - limit <= 0,
        // else offset - limit (checked by adding limit back).
        prop_assert_eq!(got.previous.is_some(), offset != "0");
        if let Some(previous) = &got.previous {
            if decimal_cmp(&offset, &limit.to_string()).is_le() {
                check_link(previous, &query, limit, None)?;
            } else {
                let reparsed = parse_query(previous.split_once('?').map(|(_, q)| q));
                let prev_offset = values_of(&reparsed, "offset")
                    .first()
                    .map(|o| o.to_string())
                    .unwrap_or_default();
                prop_assert_eq!(decimal_add(&prev_offset, limit), offset.clone());
                check_link(previous, &query, limit, Some(&prev_offset))?;
            }
        }
    }

    /// Links from raw query strings (the handler's path: parse, then build).
    #[test]
    fn links_from_raw_queries_reparse_sorted(raw in query_text(), count in 0u64..100) {
        let query = parse_query(Some(&raw));
        let l = clamp_limit(limit(&query, 20), 100);
        let o = offset(&query);
        let got = links(BASE, &query, l, &o.digits, count);
        prop_assert_eq!(got.previous.is_some(), o.digits != "0");
        for url in got.next.iter().chain(got.previous.iter()) {
            prop_assert!(url.starts_with(BASE));
            let q = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
            let keys: Vec<String> = parse_query(Some(q)).into_iter().map(|(k, _)| k).collect();
            prop_assert!(keys.windows(2).all(|w| w[0] <= w[1]), "{}", url);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The Authorization header.

fn b64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn sign(claims: &serde_json::Value, alg: Algorithm, secret: &[u8]) -> String {
    jsonwebtoken::encode(&Header::new(alg), claims, &EncodingKey::from_secret(secret))
        .expect("sign")
}

/// Claims that would be accepted if signed with the secret, perturbed or not.
fn claims() -> impl Strategy<Value = serde_json::Value> {
    let user_id = prop_oneof![
        any::<i64>().prop_map(|n| json!(n)),
        Just(json!("7")),
        Just(json!(7.5)),
        Just(json!(null))
    ];
    let token_type = prop_oneof![
        4 => Just(json!("access")),
        1 => Just(json!("refresh")),
        1 => Just(json!(1))
    ];
    let exp = prop_oneof![
        4 => (60i64..100_000).prop_map(|d| json!(now() + d)),
        1 => (1i64..100_000).prop_map(|d| json!(now() - d)),
        1 => Just(json!("9999999999"))
    ];
    (user_id, token_type, exp, any::<bool>(), any::<bool>()).prop_map(
        |(user_id, token_type, exp, iat, jti)| {
            let mut c = json!({"user_id": user_id, "token_type": token_type, "exp": exp});
            if iat {
                c["iat"] = json!(now());
            }
            if jti {
                c["jti"] = json!("j");
            }
            c
        },
    )
}

/// `Authorization` values from arbitrary bytes, kept where `HeaderValue` accepts them.
fn header_bytes() -> impl Strategy<Value = Vec<u8>> {
    let word = prop_oneof![
        Just(b"Bearer".to_vec()),
        Just(b"bearer".to_vec()),
        Just(b"TOKEN".to_vec()),
        Just(b"Basic".to_vec()),
        Just(b" ".to_vec()),
        Just(b"\t".to_vec()),
        Just(b".".to_vec()),
        Just(b"eyJhbGciOiJIUzI1NiJ9".to_vec()),
        prop::collection::vec(any::<u8>(), 0..12),
    ];
    prop::collection::vec(word, 0..6).prop_map(|w| w.concat())
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn credential_never_panics_on_header_bytes(bytes in header_bytes()) {
        if let Ok(value) = HeaderValue::from_bytes(&bytes) {
            match auth::credential(Some(&value), SECRET) {
                Ok(None) | Ok(Some(Credential::Opaque { .. })) => {}
                Ok(Some(Credential::Jwt { .. })) => {
                    prop_assert!(false, "random bytes passed as a JWT: {:?}", bytes)
                }
                Err(e) => {
                    let e = ApiError::from(e);
                    prop_assert_eq!(e.code(), "authentication_failed");
                    prop_assert_eq!(e.status().as_u16(), 401);
                }
            }
        }
    }

    #[test]
    fn verify_jwt_never_panics_and_rejects_junk(token in "[A-Za-z0-9_.=+/-]{0,80}", secret in prop::collection::vec(any::<u8>(), 0..40)) {
        prop_assert_eq!(auth::verify_jwt(&token, &secret, now()), None);
        prop_assert_eq!(auth::verify_jwt(&token, SECRET, now()), None);
    }

    /// A token signed with another key, with another algorithm, or with no signature never
    /// becomes a JWT credential, whatever its claims.
    #[test]
    fn only_tokens_signed_with_the_secret_are_jwts(
        claims in claims(),
        other in prop::collection::vec(any::<u8>(), 1..40),
        keyword in prop_oneof![Just("Bearer"), Just("Token"), Just("bEaReR")],
    ) {
        let mut forged = vec![
            sign(&claims, Algorithm::HS384, SECRET),
            sign(&claims, Algorithm::HS512, SECRET),
            format!(
                "{}.{}.",
                b64url(br#"{"alg":"none","typ":"JWT"}"#),
                b64url(claims.to_string().as_bytes())
            ),
        ];
        if other != SECRET {
            forged.push(sign(&claims, Algorithm::HS256, &other));
        }
        for token in forged {
            let header = HeaderValue::from_str(&format!("{keyword} {token}")).expect("header");
            let got = auth::credential(Some(&header), SECRET);
            prop_assert!(!matches!(got, Ok(Some(Credential::Jwt { .. }))), "forged {:?} accepted", token);
            prop_assert_eq!(auth::verify_jwt(&token, SECRET, now()), None);
        }
    }

    /// Correctly signed: accepted exactly when the claims are right. Tampered (one character of
    /// the header, payload or signature changed): never accepted with other claims.
    #[test]
    fn signed_tokens_are_judged_by_their_claims_and_tampering_fails(
        claims in claims(),
        position in any::<prop::sample::Index>(),
        replacement in prop::sample::select(
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".to_vec()
        ),
    ) {
        let token = sign(&claims, Algorithm::HS256, SECRET);
        let valid = claims["user_id"].is_i64()
            && claims["token_type"] == "access"
            && claims["exp"].as_i64().is_some_and(|e| e > now())
            && claims.get("iat").is_some()
            && claims.get("jti").is_some();
        let want = valid.then(|| claims["user_id"].as_i64()).flatten();
        prop_assert_eq!(auth::verify_jwt(&token, SECRET, now()), want);
        let header = HeaderValue::from_str(&format!("Bearer {token}")).expect("header");
        match (auth::credential(Some(&header), SECRET), want) {
            (Ok(Some(Credential::Jwt { user_id, .. })), Some(w)) => prop_assert_eq!(user_id, w),
            (Err(e), None) => prop_assert_eq!(ApiError::from(e).code(), "authentication_failed"),
            (got, want) => prop_assert!(false, "{:?} vs {:?}", got, want),
        }

        let mut bytes = token.clone().into_bytes();
        let i = position.index(bytes.len());
        if bytes[i] != b'.' && bytes[i] != replacement {
            bytes[i] = replacement;
            let tampered = String::from_utf8(bytes).expect("ASCII");
            prop_assert_eq!(
                auth::verify_jwt(&tampered, SECRET, now()),
                None,
                "tampered token accepted: {} (from {})",
                tampered,
                token
            );
        }
    }
}
