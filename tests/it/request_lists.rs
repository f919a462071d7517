//! The request lists (routes 10 and 11, `docs/rest.md`, "Request lists"), on every backend,
//! through a served app with the graph cache on:
//!
//! 1. contents (the inbox holds pending requests to the viewer; the sent list pending and
//!    rejected requests from it), order with ties on `created`, the item's keys in order,
//!    times, both users' statuses relative to the viewer, a soft-deleted other user listed;
//! 2. paging: `limit`, `offset`, `count`, exact `next` / `previous` links, unknown
//!    parameters kept, an offset past the end;
//! 3. the checks in order (401, 405 with `Allow`, 403) and the paths without their slash;
//! 4. a request rejected, un-rejected and seen through the REST actions moves at once.

use community_gateway::store::Store;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::jwt;
use crate::common::{self, plain_user, Api, TestDb, USER_KEYS};

const INBOX: &str = "/api/v2/user/connection/requests/";
const SENT: &str = "/api/v2/user/connection/requests_sent/";

const T0: &str = "2024-03-01T10:00:00Z";
const T1: &str = "2024-03-02T10:00:00Z";
const T2: &str = "2024-03-03T10:00:00Z";
const T3: &str = "2024-03-04T10:00:00Z";

/// Users 1–9 (7 soft-deleted; 2 with a visible tag), viewer 1's requests both ways, and a
/// request between two other users.
async fn load(store: &Store) {
    let users: Vec<Value> = (1..=9)
        .map(|id| {
            let mut user = plain_user(id, if id == 2 { &[1] } else { &[] });
            user["deleted"] = json!(id == 7);
            user
        })
        .collect();
    let request = |id: i64, from: i64, to: i64, created: &str, rejected: Value, viewed: Value| {
        json!({"id": id, "from": from, "to": to, "created_at": created,
            "rejected_at": rejected, "viewed_at": viewed})
    };
    let requests = vec![
        // To 1.
        request(
            10,
            2,
            1,
            T1,
            Value::Null,
            json!("2024-03-02T12:00:00+02:00"),
        ),
        request(11, 3, 1, T1, Value::Null, Value::Null),
        request(12, 4, 1, T3, json!(T3), Value::Null),
        request(13, 7, 1, T2, Value::Null, Value::Null),
        // From 1 (1 → 2 too: both directions, allowed by the data file).
        request(14, 1, 5, T1, Value::Null, json!(T2)),
        request(15, 1, 6, T1, json!(T2), json!(T1)),
        request(16, 1, 8, T3, Value::Null, Value::Null),
        request(18, 1, 2, T0, Value::Null, Value::Null),
        // Neither end is 1.
        request(19, 5, 6, T3, Value::Null, Value::Null),
    ];
    let tag = json!({"id": 1, "type": "user", "name": "Moderator", "description": "",
        "color": "#3366ff", "visible": true, "visibility_boost": false, "active": true,
        "deleted": false, "created_at": T0});
    common::import_json(
        store,
        &json!({"settings": {}, "tags": [tag], "users": users,
        "connections": [{"users": [1, 9], "connected_at": T0}],
        "connection_requests": requests, "access_tokens": []}),
    )
    .await;
}

/// A lifecycle action as `viewer`, expecting it done (200, or 204 for `mark_seen`).
async fn act(api: &Api, viewer: i64, target: i64, route: &str) {
    let response = api.act_response(viewer, target, route).await;
    assert!(response.status().is_success(), "{route}: {:?}", response);
}

fn ids(page: &Value) -> Vec<i64> {
    page["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_i64().unwrap())
        .collect()
}

fn keys(value: &Value) -> Vec<&str> {
    value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect()
}

#[tokio::test]
async fn contents_order_items_and_statuses() {
    for db in TestDb::all("request_lists_contents").await {
        let backend = db.backend;
        load(&db.store).await;
        let api = Api::new(&db.store).await;

        let inbox = api.page(INBOX, 1).await;
        assert_eq!(
            keys(&inbox),
            ["count", "next", "previous", "results"],
            "{backend:?}"
        );
        assert_eq!(inbox["count"], 3, "{backend:?}");
        assert_eq!(inbox["next"], Value::Null, "{backend:?}");
        assert_eq!(inbox["previous"], Value::Null, "{backend:?}");
        // Pending only; created desc, ties by sender id.
        assert_eq!(ids(&inbox), [13, 10, 11], "{backend:?}");
        let first = &inbox["results"][0];
        assert_eq!(
            keys(first),
            [
                "id",
                "from_user",
                "to_user",
                "created",
                "rejected",
                "viewed"
            ],
            "{backend:?}"
        );
        for item in inbox["results"].as_array().unwrap() {
            assert_eq!(keys(&item["from_user"]), USER_KEYS, "{backend:?}");
            assert_eq!(keys(&item["to_user"]), USER_KEYS, "{backend:?}");
            assert_eq!(item["to_user"]["id"], 1, "{backend:?}");
            assert_eq!(
                item["to_user"]["connection_status"],
                Value::Null,
                "{backend:?}"
            );
            assert_eq!(item["rejected"], Value::Null, "{backend:?}");
        }
        // The soft-deleted sender is listed.
        assert_eq!(first["from_user"]["id"], 7, "{backend:?}");
        assert_eq!(first["from_user"]["deleted"], true, "{backend:?}");
        assert_eq!(
            first["from_user"]["connection_status"], "received_connection_request",
            "{backend:?}"
        );
        assert_eq!(first["created"], T2, "{backend:?}");
        assert_eq!(first["viewed"], Value::Null, "{backend:?}");
        // 1 also asked 2: the first rule that holds is "sent".
        let second = &inbox["results"][1];
        assert_eq!(
            second["from_user"]["connection_status"], "sent_connection_request",
            "{backend:?}"
        );
        assert_eq!(second["from_user"]["username"], "u2", "{backend:?}");
        assert_eq!(second["from_user"]["tags"][0]["id"], 1, "{backend:?}");
        assert_eq!(
            second["from_user"]["followers_counter"],
            Value::Null,
            "{backend:?}"
        );
        assert_eq!(second["created"], T1, "{backend:?}");
        assert_eq!(second["viewed"], "2024-03-02T10:00:00Z", "{backend:?}");
        assert_eq!(
            inbox["results"][2]["from_user"]["connection_status"], "received_connection_request",
            "{backend:?}"
        );

        let sent = api.page(SENT, 1).await;
        assert_eq!(sent["count"], 4, "{backend:?}");
        // Pending and rejected; created desc, ties by recipient id.
        assert_eq!(ids(&sent), [16, 14, 15, 18], "{backend:?}");
        for item in sent["results"].as_array().unwrap() {
            assert_eq!(item["from_user"]["id"], 1, "{backend:?}");
            assert_eq!(
                item["from_user"]["connection_status"],
                Value::Null,
                "{backend:?}"
            );
            // Pending or rejected, the viewer's request reads "sent".
            assert_eq!(
                item["to_user"]["connection_status"], "sent_connection_request",
                "{backend:?}"
            );
        }
        let rejected = &sent["results"][2];
        assert_eq!(rejected["to_user"]["id"], 6, "{backend:?}");
        assert_eq!(rejected["rejected"], T2, "{backend:?}");
        assert_eq!(rejected["viewed"], T1, "{backend:?}");
        assert_eq!(sent["results"][1]["viewed"], T2, "{backend:?}");
        assert_eq!(sent["results"][1]["rejected"], Value::Null, "{backend:?}");

        // The other ends see the same requests from their side.
        let inbox_6 = api.page(INBOX, 6).await;
        assert_eq!(ids(&inbox_6), [19], "{backend:?}: 15 is rejected");
        assert_eq!(
            inbox_6["results"][0]["from_user"]["connection_status"], "received_connection_request",
            "{backend:?}"
        );
        let sent_4 = api.page(SENT, 4).await;
        assert_eq!(ids(&sent_4), [12], "{backend:?}");
        assert_eq!(sent_4["results"][0]["rejected"], T3, "{backend:?}");
        // Nothing either way: empty lists.
        for path in [INBOX, SENT] {
            let empty = api.page(path, 9).await;
            assert_eq!(
                empty,
                json!({"count": 0, "next": null, "previous": null, "results": []}),
                "{backend:?}"
            );
        }
    }
}

#[tokio::test]
async fn paging_and_links() {
    for db in TestDb::all("request_lists_paging").await {
        let backend = db.backend;
        load(&db.store).await;
        let api = Api::new(&db.store).await;
        let base = &api.base;

        let page = api.page(&format!("{INBOX}?limit=1&offset=1"), 1).await;
        assert_eq!(page["count"], 3, "{backend:?}");
        assert_eq!(ids(&page), [10], "{backend:?}");
        assert_eq!(
            page["next"],
            format!("{base}{INBOX}?limit=1&offset=2"),
            "{backend:?}"
        );
        assert_eq!(
            page["previous"],
            format!("{base}{INBOX}?limit=1"),
            "{backend:?}"
        );

        let page = api.page(&format!("{INBOX}?limit=2"), 1).await;
        assert_eq!(ids(&page), [13, 10], "{backend:?}");
        assert_eq!(
            page["next"],
            format!("{base}{INBOX}?limit=2&offset=2"),
            "{backend:?}"
        );
        assert_eq!(page["previous"], Value::Null, "{backend:?}");

        // Unknown parameters kept, keys sorted; a bad limit is the default.
        let page = api
            .page(&format!("{SENT}?zeta=z&offset=2&limit=1"), 1)
            .await;
        assert_eq!(ids(&page), [15], "{backend:?}");
        assert_eq!(
            page["next"],
            format!("{base}{SENT}?limit=1&offset=3&zeta=z"),
            "{backend:?}"
        );
        assert_eq!(
            page["previous"],
            format!("{base}{SENT}?limit=1&offset=1&zeta=z"),
            "{backend:?}"
        );
        let page = api.page(&format!("{SENT}?limit=0&offset=-4"), 1).await;
        assert_eq!(ids(&page), [16, 14, 15, 18], "{backend:?}");
        let page = api.page(&format!("{SENT}?limit=3&offset=3"), 1).await;
        assert_eq!(ids(&page), [18], "{backend:?}");
        assert_eq!(page["next"], Value::Null, "{backend:?}");
        assert_eq!(
            page["previous"],
            format!("{base}{SENT}?limit=3"),
            "{backend:?}"
        );

        // Past the end, even past every integer type.
        let huge = "123456789012345678901234567890";
        let page = api.page(&format!("{SENT}?limit=2&offset={huge}"), 1).await;
        assert_eq!(page["count"], 4, "{backend:?}");
        assert_eq!(ids(&page), Vec::<i64>::new(), "{backend:?}");
        assert_eq!(page["next"], Value::Null, "{backend:?}");
        assert_eq!(
            page["previous"],
            format!("{base}{SENT}?limit=2&offset=123456789012345678901234567888"),
            "{backend:?}"
        );
        // A limit above the maximum is cut to it.
        let page = api.page(&format!("{SENT}?limit=1000&offset=1"), 1).await;
        assert_eq!(ids(&page), [14, 15, 18], "{backend:?}");
        assert_eq!(
            page["previous"],
            format!("{base}{SENT}?limit=100"),
            "{backend:?}"
        );
    }
}

#[tokio::test]
async fn checks_in_order_and_no_slash() {
    for db in TestDb::all("request_lists_checks").await {
        let backend = db.backend;
        let store = &db.store;
        load(store).await;
        let api = Api::new(store).await;
        let code_of = |body: &Value| body["errors"][0]["code"].as_str().map(str::to_string);

        for path in [INBOX, SENT] {
            let what = format!("{backend:?} {path}");
            // The same answer without the slash.
            let slashed = api.get_text(&format!("{path}?limit=2"), 1).await;
            let bare = api
                .get_text(&format!("{}?limit=2", path.trim_end_matches('/')), 1)
                .await;
            assert_eq!(slashed.0, StatusCode::OK, "{what}");
            assert_eq!(bare, slashed, "{what}");

            // Friendship mode off and content private: 401 before 405 before 403.
            common::set_settings(store, false, false, false).await;
            for form in [path, path.trim_end_matches('/')] {
                for method in ["GET", "POST"] {
                    let response = api.send(method, form, None).await;
                    assert_eq!(response.status(), 401, "{what} {method}");
                    assert_eq!(
                        response.headers()["www-authenticate"],
                        "Bearer realm=\"api\"",
                        "{what}"
                    );
                    let body: Value = response.json().await.unwrap();
                    assert_eq!(
                        code_of(&body).as_deref(),
                        Some("not_authenticated"),
                        "{what}"
                    );
                    let response = api.send(method, form, Some("bad")).await;
                    assert_eq!(response.status(), 401, "{what} {method}");
                    let body: Value = response.json().await.unwrap();
                    assert_eq!(
                        code_of(&body).as_deref(),
                        Some("authentication_failed"),
                        "{what}"
                    );
                    // A token for a user that does not exist.
                    let response = api.send(method, form, Some(&jwt(999))).await;
                    assert_eq!(response.status(), 401, "{what} {method}");
                }
                let response = api.send("POST", form, Some(&jwt(1))).await;
                assert_eq!(response.status(), 405, "{what}");
                assert_eq!(response.headers()["allow"], "GET, HEAD, OPTIONS", "{what}");
                let body: Value = response.json().await.unwrap();
                assert_eq!(
                    code_of(&body).as_deref(),
                    Some("method_not_allowed"),
                    "{what}"
                );
                let (status, text) = api.get_text(form, 1).await;
                assert_eq!(status, StatusCode::FORBIDDEN, "{what}: {text}");
                let body: Value = serde_json::from_str(&text).unwrap();
                assert_eq!(
                    code_of(&body).as_deref(),
                    Some("permission_denied"),
                    "{what}"
                );
            }
            // Content private does not matter to an authenticated viewer.
            common::set_settings(store, true, false, false).await;
            assert_eq!(api.get_text(path, 1).await.0, StatusCode::OK, "{what}");
            common::set_settings(store, true, false, true).await;
        }
    }
}

#[tokio::test]
async fn actions_move_requests_between_lists() {
    for db in TestDb::all("request_lists_actions").await {
        let backend = db.backend;
        load(&db.store).await;
        let api = Api::new(&db.store).await;

        // 1 rejects 3's request: it leaves 1's inbox and reads rejected in 3's sent list.
        act(&api, 1, 3, "connection/reject").await;
        assert_eq!(ids(&api.page(INBOX, 1).await), [13, 10], "{backend:?}");
        let sent_3 = api.page(SENT, 3).await;
        assert_eq!(ids(&sent_3), [11], "{backend:?}");
        assert!(sent_3["results"][0]["rejected"].is_string(), "{backend:?}");
        // The sender's request, rejected, still reads "sent".
        assert_eq!(
            sent_3["results"][0]["to_user"]["connection_status"], "sent_connection_request",
            "{backend:?}"
        );
        // Un-rejected: back in the inbox, in its place.
        act(&api, 1, 3, "connection/cancel_reject").await;
        assert_eq!(ids(&api.page(INBOX, 1).await), [13, 10, 11], "{backend:?}");
        // Seen: the sender sees it too.
        act(&api, 1, 3, "connection_requests/mark_seen").await;
        let sent_3 = api.page(SENT, 3).await;
        assert!(sent_3["results"][0]["viewed"].is_string(), "{backend:?}");
        assert_eq!(
            sent_3["results"][0]["to_user"]["connection_status"], "sent_connection_request",
            "{backend:?}"
        );
        // A new request lists with a new id; accepting it empties both lists of the pair.
        act(&api, 9, 4, "connection/request").await;
        let sent_9 = api.page(SENT, 9).await;
        assert_eq!(sent_9["count"], 1, "{backend:?}");
        assert!(
            sent_9["results"][0]["id"].as_i64().unwrap() > 19,
            "{backend:?}"
        );
        assert_eq!(sent_9["results"][0]["to_user"]["id"], 4, "{backend:?}");
        act(&api, 4, 9, "connection/accept").await;
        assert_eq!(api.page(SENT, 9).await["count"], 0, "{backend:?}");
        assert_eq!(api.page(INBOX, 4).await["count"], 0, "{backend:?}");
    }
}
