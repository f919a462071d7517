//! Query parameters at and past their bounds: `limit` and `offset` at `i64`/`u64` limits
//! and beyond (up to 10^40), negative, NaN, infinity, exponents, decimals, hex, empty, bare,
//! NUL, superscript and Roman-numeral digits, padded and signed values, repeated keys; and
//! `mutual` with anything but 0 or 1.
//!
//! Proves `limit` and `offset` fall back or clamp exactly as DRF computes them (Python's
//! `int()`, unicode decimal digits included), with DRF's `next`/`previous` links even for
//! offsets past `i128`; and that a bad `mutual` is always the 400 naming the field.

use super::{check, check_star_page, cut, fetch_auth, import_star, pct, route, Want, STAR_COUNT};
use crate::common;
use crate::common::TestDb;
use reqwest::Client;
use serde_json::{json, Value};

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
