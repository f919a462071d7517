//! Path ids at and past their type bounds: zero, negatives, leading zeros and signs,
//! `i64`/`u64` limits and beyond, exponents, decimals, hex, NUL and spaces, full-width and
//! Arabic-Indic digits, invalid UTF-8, an encoded slash, and 10 KB of digits, each with and
//! without the trailing slash.
//!
//! Proves only a positive integer naming a user finds one (a 10 KB id that is 1 does);
//! everything else is exactly 404 `not_found`, never a 500, and a bad id never jumps the
//! gate order: 401 before 404, 404 before a bad `mutual`, 403 with friendship mode off and
//! 401 `not_authenticated` with content private.

use super::{bearer, check, cut, fetch_auth, pct, route, Want};
use crate::common;
use crate::common::TestDb;
use reqwest::Client;

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
        community_gateway::bulk::apply_settings(&db.store, &[("connection_enabled".into(), false)])
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
        community_gateway::bulk::apply_settings(
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
