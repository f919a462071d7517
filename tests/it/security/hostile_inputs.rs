//! SQL metacharacters and unicode in every input: injection attempts, `LIKE` wildcards,
//! quotes, backslashes, NUL, CRLF, markup, template and JNDI strings, path traversal,
//! bidi and BOM characters and other unicode, in the path id, `limit`, `offset`, `mutual`,
//! unknown query keys and values, badly percent-encoded queries, the `Host` header, and
//! GraphQL arguments (literal and as variables, ids and `Int`s at their bounds).
//!
//! Proves every one gets the answer a plain bad value gets (404, a fallback page, the
//! `mutual` 400, a null user, a GraphQL input error), that unknown parameters come back
//! re-encoded exactly as DRF would in links holding only URL characters, that a `Host`
//! header is reflected in links only when made of host characters, and that no error
//! leaks SQL, database or source names.

use super::{
    assert_no_leak, check, check_star_page, cut, fetch, fetch_auth, graphql, hv, hv_bytes,
    import_star, pct, route, Want, STAR_COUNT,
};
use crate::common;
use crate::common::TestDb;
use reqwest::header::{HeaderValue, HOST};
use reqwest::Client;
use serde_json::{json, Value};

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
