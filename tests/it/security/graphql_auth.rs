//! GraphQL authentication attacks: every credential the REST tests reject (the
//! `authentication_failed` JWT and header cases and the opaque-token cases) sent to
//! `user` and `me`, the expired stored token, and anonymous requests with content private.
//!
//! Proves valid credentials name their user and another scheme is anonymous, while every
//! rejected credential is exactly one `UNAUTHENTICATED` error on the field with REST's
//! message, no data and nothing internal; with content private, no credentials are
//! `UNAUTHENTICATED` with "credentials were not provided".

use super::jwt_and_headers::jwt_cases;
use super::opaque_tokens::opaque_cases;
use super::{assert_no_leak, bearer, graphql, hv, jwt, Want};
use crate::common;
use crate::common::TestDb;
use reqwest::header::{HeaderName, HeaderValue, AUTHORIZATION};
use reqwest::Client;
use serde_json::{json, Value};

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
        community_gateway::bulk::apply_settings(
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
