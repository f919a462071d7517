//! The connection lifecycle's REST routes (`docs/rest.md`, "Connection lifecycle"), on every
//! backend, through a served app with the graph cache on (the default):
//!
//! 1. every row of every action's table: the answer, and the state it leaves, read back in the
//!    database, through `connection_status` and through the connections page (read-your-writes);
//!    then every call again a second later: the same answer and not one time changed;
//! 2. the checks in order: 401, 405, 403, 404 (a soft-deleted target for `request` and `accept`
//!    only), 400 `self_connection`; the routes without their slash; routes 7–9 and 12 with
//!    friendship mode off;
//! 3. route 12's body rules;
//! 4. a race: both users of a pair requesting each other at once, many times over.

use std::collections::BTreeSet;
use std::time::Duration;

use community_gateway::store::Store;
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{json, Value};

use crate::common::jwt;
use crate::common::{self, plain_user, Api, TestDb};

/// A community of `users` users without any link; `deleted` are soft-deleted.
async fn load(store: &Store, users: i64, deleted: &[i64]) {
    let users: Vec<Value> = (1..=users)
        .map(|id| {
            let mut user = plain_user(id, &[]);
            user["deleted"] = json!(deleted.contains(&id));
            user
        })
        .collect();
    common::import_json(
        store,
        &json!({"settings": {}, "tags": [], "users": users, "connections": [],
        "connection_requests": [], "access_tokens": []}),
    )
    .await;
}

/// Every row of the pair (`a`, `b`) in both tables, times included, in a fixed order.
async fn pair_rows(store: &Store, a: i64, b: i64) -> Vec<Vec<Option<i64>>> {
    let sql = format!(
        "SELECT user_id * 0 AS k, user_id, friend_id, connected_at_us, NULL, NULL, NULL \
         FROM connections WHERE (user_id = {a} AND friend_id = {b}) OR (user_id = {b} AND \
         friend_id = {a}) UNION ALL SELECT from_user_id * 0 + 1, from_user_id, to_user_id, created_at_us, rejected_at_us, \
         viewed_at_us, id FROM connection_requests WHERE (from_user_id = {a} AND \
         to_user_id = {b}) OR (from_user_id = {b} AND to_user_id = {a}) ORDER BY 1, 2, 3"
    );
    let rows = store
        .connection()
        .query_all(Statement::from_string(store.backend(), sql))
        .await
        .unwrap();
    rows.iter()
        .map(|row| {
            (0..7)
                .map(|i| row.try_get_by_index::<Option<i64>>(i).unwrap())
                .collect()
        })
        .collect()
}

/// The pair state of `v` towards `t`, from the stored rows (the spec's table, first that
/// holds).
async fn state(store: &Store, v: i64, t: i64) -> &'static str {
    let rows = pair_rows(store, v, t).await;
    let connections = rows.iter().filter(|r| r[0] == Some(0)).count();
    assert!(connections == 0 || connections == 2, "{rows:?}");
    let request = |from, to| {
        rows.iter()
            .find(|r| r[0] == Some(1) && r[1] == Some(from) && r[2] == Some(to))
    };
    match (connections, request(v, t), request(t, v)) {
        (2, None, None) => "connected",
        (2, ..) => panic!("connected with a request: {rows:?}"),
        (_, Some(r), _) if r[4].is_some() => "out_rejected",
        (_, Some(_), _) => "out_pending",
        (_, None, Some(r)) if r[4].is_some() => "in_rejected",
        (_, None, Some(_)) => "in_pending",
        _ => "none",
    }
}

const STATES: [&str; 6] = [
    "none",
    "out_pending",
    "out_rejected",
    "in_pending",
    "in_rejected",
    "connected",
];

/// Puts the pair (`v`, `t`), with nothing between them, in `state`, through the API.
async fn arrange(api: &Api, v: i64, t: i64, state: &str) {
    let steps: &[(i64, i64, &str)] = match state {
        "none" => &[],
        "out_pending" => &[(v, t, "connection/request")],
        "out_rejected" => &[(v, t, "connection/request"), (t, v, "connection/reject")],
        "in_pending" => &[(t, v, "connection/request")],
        "in_rejected" => &[(t, v, "connection/request"), (v, t, "connection/reject")],
        "connected" => &[(v, t, "connection/request"), (t, v, "connection/accept")],
        other => panic!("{other}"),
    };
    for (from, to, route) in steps {
        let (code, body) = api.act(*from, *to, route).await;
        assert_eq!(code, StatusCode::OK, "arranging {state}: {route}: {body}");
    }
}

/// The spec's tables: (route, state) → (status code, answer or error code, state left).
fn expected(route: &str, state: &'static str) -> (u16, Value, &'static str) {
    let sent = json!("sent_connection_request");
    let received = json!("received_connection_request");
    let connected = json!("connected");
    let error = |code: &str| (400, json!(code), state);
    match (route, state) {
        ("connection/request", "none") => (200, sent, "out_pending"),
        ("connection/request", "out_pending" | "out_rejected") => (200, sent, state),
        ("connection/request", _) => (200, connected, "connected"),
        ("connection/accept", "in_pending" | "in_rejected" | "connected") => {
            (200, connected, "connected")
        }
        ("connection/accept", _) => error("no_request"),
        ("connection/reject", "in_pending" | "in_rejected") => (200, Value::Null, "in_rejected"),
        ("connection/reject", "connected") => error("already_connected"),
        ("connection/reject", _) => error("no_request"),
        ("connection/cancel_reject", "in_pending" | "in_rejected") => (200, received, "in_pending"),
        ("connection/cancel_reject", "connected") => error("already_connected"),
        ("connection/cancel_reject", _) => error("no_request"),
        ("connection/cancel_request", "out_pending" | "out_rejected" | "none") => {
            (200, Value::Null, "none")
        }
        ("connection/cancel_request", "connected") => error("already_connected"),
        ("connection/cancel_request", _) => error("no_request"),
        ("connection/remove", "connected" | "none") => (200, Value::Null, "none"),
        ("connection/remove", _) => error("not_connected"),
        ("connection_requests/mark_seen", "in_pending" | "in_rejected") => {
            (204, Value::Null, state)
        }
        ("connection_requests/mark_seen", "connected") => error("already_connected"),
        ("connection_requests/mark_seen", _) => error("no_request"),
        other => panic!("{other:?}"),
    }
}

const ROUTES: [&str; 7] = [
    "connection/request",
    "connection/accept",
    "connection/reject",
    "connection/cancel_reject",
    "connection/cancel_request",
    "connection/remove",
    "connection_requests/mark_seen",
];

/// The status `v` reads of `t` in `state`.
fn status_in(state: &str) -> Value {
    match state {
        "connected" => json!("connected"),
        "out_pending" | "out_rejected" => json!("sent_connection_request"),
        "in_pending" => json!("received_connection_request"),
        _ => Value::Null,
    }
}

/// What the answer of a call says, comparable with `expected`.
fn answer(code: StatusCode, body: &Value) -> (u16, Value) {
    match code.as_u16() {
        200 => (200, body["connection_status"].clone()),
        204 => (204, body.clone()),
        other => (other, body["errors"][0]["code"].clone()),
    }
}

#[tokio::test]
async fn every_row_of_every_action_table() {
    for db in TestDb::all("lifecycle_tables").await {
        let backend = db.backend;
        let store = &db.store;
        let cases: Vec<(&str, &str)> = ROUTES
            .iter()
            .flat_map(|route| STATES.iter().map(move |state| (*route, *state)))
            .collect();
        load(store, 2 * cases.len() as i64, &[]).await;
        let api = Api::new(store).await;
        let pair = |i: usize| (2 * i as i64 + 1, 2 * i as i64 + 2);

        let mut snapshots = Vec::new();
        for (i, (route, state)) in cases.iter().enumerate() {
            let (v, t) = pair(i);
            arrange(&api, v, t, state).await;
            assert_eq!(self::state(store, v, t).await, *state, "{backend:?}");
            let before = pair_rows(store, v, t).await;
            let start_us = community_gateway::store::time::now_us() - 1_000_000;

            let (code, body) = api.act(v, t, route).await;
            let (want_code, want_answer, left) = expected(route, state);
            let what = format!("{backend:?}: {route} in {state}");
            assert_eq!(
                answer(code, &body),
                (want_code, want_answer),
                "{what}: {body}"
            );
            if code == StatusCode::NO_CONTENT {
                assert_eq!(body, Value::Null, "{what}: an empty body");
            }
            assert_eq!(self::state(store, v, t).await, left, "{what}");
            if want_code == 400 {
                assert_eq!(
                    pair_rows(store, v, t).await,
                    before,
                    "{what}: a 400 changes nothing"
                );
            }
            // Read back through the server (its cache): the write shows at once.
            assert_eq!(api.status(v, t).await, status_in(left), "{what}");
            let connected = left == "connected";
            assert_eq!(api.listed(v, t).await, connected, "{what}");
            assert_eq!(api.listed(t, v).await, connected, "{what}");
            let rows = pair_rows(store, v, t).await;
            // Every time written is "now", in whole seconds.
            for row in rows.iter().filter(|row| !before.contains(row)) {
                for time in [row[3], row[4], row[5]].into_iter().flatten() {
                    assert_eq!(time % 1_000_000, 0, "{what}: {row:?}");
                    assert!(time >= start_us - 1_000_000, "{what}: {row:?}");
                }
            }
            if route.ends_with("mark_seen") && want_code == 204 {
                let request = rows.iter().find(|r| r[1] == Some(t)).unwrap();
                assert!(request[5].is_some(), "{what}: seen");
            }
            snapshots.push(rows);
        }

        // Every call again, in a later second: a retry answers the same and writes nothing.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        for (i, (route, state)) in cases.iter().enumerate() {
            let (v, t) = pair(i);
            let (code, body) = api.act(v, t, route).await;
            let (want_code, want_answer, _) = expected(route, state);
            let what = format!("{backend:?}: {route} again after {state}");
            assert_eq!(
                answer(code, &body),
                (want_code, want_answer),
                "{what}: {body}"
            );
            assert_eq!(pair_rows(store, v, t).await, snapshots[i], "{what}");
        }
    }
}

#[tokio::test]
async fn accept_and_mark_seen_details() {
    for db in TestDb::all("lifecycle_details").await {
        let backend = db.backend;
        let store = &db.store;
        load(store, 6, &[]).await;
        let api = Api::new(store).await;
        // mark_seen keeps the first time; reject keeps `viewed`; cancel_reject keeps
        // `created` and `viewed`.
        api.act(2, 1, "connection/request").await;
        assert_eq!(api.act(1, 2, "connection_requests/mark_seen").await.0, 204);
        let seen = pair_rows(store, 1, 2).await;
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert_eq!(api.act(1, 2, "connection_requests/mark_seen").await.0, 204);
        assert_eq!(pair_rows(store, 1, 2).await, seen, "{backend:?}");
        api.act(1, 2, "connection/reject").await;
        let rejected = pair_rows(store, 1, 2).await;
        assert_eq!(rejected[0][5], seen[0][5], "{backend:?}: viewed kept");
        assert!(rejected[0][4].is_some());
        api.act(1, 2, "connection/cancel_reject").await;
        let back = pair_rows(store, 1, 2).await;
        assert_eq!(back, seen, "{backend:?}: created and viewed kept");
        // Withdrawn and asked again: a new id, never one handed out before.
        let first_id = back[0][6].unwrap();
        api.act(2, 1, "connection/cancel_request").await;
        api.act(2, 1, "connection/request").await;
        let again = pair_rows(store, 1, 2).await;
        assert!(again[0][6].unwrap() > first_id, "{backend:?}: {again:?}");
        // A request accepted: its id is gone, and the next request gets a larger one.
        api.act(1, 2, "connection/accept").await;
        api.act(3, 4, "connection/request").await;
        let next = pair_rows(store, 3, 4).await;
        assert!(next[0][6].unwrap() > again[0][6].unwrap(), "{backend:?}");
        // A data file may hold both directions: the state is then the viewer's own request
        // (out_pending), so accept has no request to answer until that one is withdrawn;
        // then it connects and no request of either direction is left.
        store
            .connection()
            .execute_unprepared(
                "INSERT INTO connection_requests (id, from_user_id, to_user_id, created_at_us) \
                 VALUES (1000, 4, 3, 0)",
            )
            .await
            .unwrap();
        assert_eq!(state(store, 3, 4).await, "out_pending");
        assert_eq!(state(store, 4, 3).await, "out_pending");
        let (code, body) = api.act(4, 3, "connection/accept").await;
        assert_eq!(
            (code.as_u16(), &body["errors"][0]["code"]),
            (400, &json!("no_request"))
        );
        let (code, body) = api.act(4, 3, "connection/cancel_request").await;
        assert_eq!(
            (code.as_u16(), &body["connection_status"]),
            (200, &json!("received_connection_request")),
            "{backend:?}: the status the call left"
        );
        let (code, body) = api.act(4, 3, "connection/accept").await;
        assert_eq!(
            (code.as_u16(), &body["connection_status"]),
            (200, &json!("connected"))
        );
        assert_eq!(state(store, 3, 4).await, "connected");
        // An import raises the high-water mark past the file's ids, even once those requests
        // are gone.
        let text = json!({"settings": {}, "tags": [],
            "users": (1..=6).map(|id| plain_user(id, &[])).collect::<Vec<_>>(),
            "connections": [], "access_tokens": [], "connection_requests": [
                {"id": 5000, "from": 2, "to": 1, "created_at": "2024-03-02T12:00:00Z"}]})
        .to_string();
        let file = community_gateway::datafile::parse(text.as_bytes()).unwrap();
        community_gateway::bulk::import(store, &file).await.unwrap();
        let (code, _) = api.act(1, 2, "connection/accept").await;
        assert_eq!(code, 200);
        assert!(pair_rows(store, 1, 2).await.iter().all(|r| r[0] == Some(0)));
        api.act(5, 6, "connection/request").await;
        assert!(
            pair_rows(store, 5, 6).await[0][6].unwrap() > 5000,
            "{backend:?}"
        );
    }
}

#[tokio::test]
async fn checks_in_order() {
    for db in TestDb::all("lifecycle_checks").await {
        let backend = db.backend;
        let store = &db.store;
        load(store, 4, &[4]).await;
        let api = Api::new(store).await;
        let code_of = |(status, body): (StatusCode, Value)| {
            (
                status.as_u16(),
                body["errors"][0]["code"].as_str().map(str::to_string),
            )
        };
        let err = |status: u16, code: &str| (status, Some(code.to_string()));
        let all_routes: Vec<(&str, &str)> = ROUTES
            .iter()
            .map(|r| ("POST", *r))
            .chain([("GET", "is_connection"), ("GET", "connection_status")])
            .collect();

        common::set_settings(store, false, false, true).await;
        for (method, route) in &all_routes {
            let what = format!("{backend:?} {method} {route}");
            let wrong = if *method == "POST" { "GET" } else { "POST" };
            // 1. Authentication, whatever content_availability says, before the method.
            let path = format!("999/{route}/");
            let anonymous = api.call(wrong, &path, None).await;
            assert_eq!(code_of(anonymous), err(401, "not_authenticated"), "{what}");
            let user_path = format!("/api/v2/user/{path}");
            let response = api.send(wrong, &user_path, Some("not-a-token")).await;
            assert_eq!(response.status(), 401, "{what}");
            assert_eq!(
                response.headers()["www-authenticate"],
                "Bearer realm=\"api\"",
                "{what}"
            );
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["errors"][0]["code"], "authentication_failed", "{what}");
            // A token for a user that does not exist is a bad token.
            let ghost = api.call(method, &path, Some(999)).await;
            assert_eq!(code_of(ghost), err(401, "authentication_failed"), "{what}");
            // 2. The method, before friendship mode and the target.
            let response = api.send(wrong, &user_path, Some(&jwt(1))).await;
            assert_eq!(response.status(), 405, "{what}");
            let allow = response.headers()["allow"].to_str().unwrap().to_string();
            assert!(allow.contains(method), "{what}: {allow}");
            // 3. Friendship mode (actions 1-6), before the target; 4. the target otherwise.
            let refused = api.call(method, &path, Some(1)).await;
            let needs_friendship = route.starts_with("connection/");
            if needs_friendship {
                assert_eq!(code_of(refused), err(403, "permission_denied"), "{what}");
            } else {
                assert_eq!(code_of(refused), err(404, "not_found"), "{what}");
            }
        }
        common::set_settings(store, true, false, true).await;
        for (method, route) in &all_routes {
            let what = format!("{backend:?} {method} {route}");
            for bad in ["999", "0", "abc", "18446744073709551616"] {
                let missing = api.call(method, &format!("{bad}/{route}/"), Some(1)).await;
                assert_eq!(code_of(missing), err(404, "not_found"), "{what} {bad}");
            }
            // 5. Self.
            let (status, body) = api.call(method, &format!("1/{route}/"), Some(1)).await;
            match *route {
                "is_connection" => assert_eq!(
                    (status.as_u16(), body),
                    (200, json!({"is_connection": false}))
                ),
                "connection_status" => {
                    assert_eq!(
                        (status.as_u16(), body),
                        (200, json!({"connection_status": null}))
                    )
                }
                _ => assert_eq!(
                    code_of((status, body)),
                    err(400, "self_connection"),
                    "{what}"
                ),
            }
            // A soft-deleted target: not found for request and accept only.
            let deleted = api.call(method, &format!("4/{route}/"), Some(1)).await;
            match *route {
                "connection/request" | "connection/accept" => {
                    assert_eq!(code_of(deleted), err(404, "not_found"), "{what}")
                }
                "is_connection"
                | "connection_status"
                | "connection/cancel_request"
                | "connection/remove" => assert_eq!(deleted.0, 200, "{what}: {}", deleted.1),
                _ => assert_eq!(code_of(deleted), err(400, "no_request"), "{what}"),
            }
        }
        // Without the trailing slash: the same answers.
        let (status, body) = api.call("POST", "2/connection/request", Some(1)).await;
        assert_eq!(
            (status.as_u16(), body),
            (200, json!({"connection_status": "sent_connection_request"}))
        );
        let (status, body) = api.call("GET", "1/connection_status", Some(2)).await;
        assert_eq!(
            (status.as_u16(), body),
            (
                200,
                json!({"connection_status": "received_connection_request"})
            )
        );
        let (status, body) = api.call("GET", "1/is_connection", Some(2)).await;
        assert_eq!(
            (status.as_u16(), body),
            (200, json!({"is_connection": false}))
        );
        let (status, _) = api
            .call("POST", "1/connection_requests/mark_seen", Some(2))
            .await;
        assert_eq!(status, 204);
        // Bodies of the actions are ignored, whatever they are.
        let response = api
            .request("POST", "/api/v2/user/1/connection/accept/", Some(&jwt(2)))
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            api.call("GET", "2/is_connection/", Some(1)).await.1,
            json!({"is_connection": true})
        );

        // Friendship mode off: routes 7-9 and 12 still report the stored data.
        common::set_settings(store, false, false, false).await;
        assert_eq!(api.status(1, 2).await, json!("connected"), "{backend:?}");
        let (status, body) = api.call("GET", "2/is_connection/", Some(1)).await;
        assert_eq!(
            (status.as_u16(), body),
            (200, json!({"is_connection": true}))
        );
        api.act(3, 1, "connection/request").await; // refused: 403
        assert_eq!(state(store, 1, 3).await, "none");
        let (status, _) = api
            .call("POST", "3/connection_requests/mark_seen/", Some(1))
            .await;
        assert_eq!(
            status, 400,
            "{backend:?}: mark_seen runs (and finds no request)"
        );
        let (status, body) =
            post_statuses(&api, 1, "application/json", r#"{"users": [2, 3]}"#).await;
        assert_eq!(
            (status, body),
            (
                200,
                json!({"connection_statuses": {"2": "connected", "3": null}})
            )
        );
    }
}

async fn post_statuses(api: &Api, viewer: i64, media: &str, body: &str) -> (u16, Value) {
    let response = api
        .request(
            "POST",
            "/api/v2/user/connection/statuses/",
            Some(&jwt(viewer)),
        )
        .header("content-type", media)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn statuses_of_several_users() {
    for db in TestDb::all("lifecycle_statuses").await {
        let backend = db.backend;
        let store = &db.store;
        load(store, 5, &[5]).await;
        let api = Api::new(store).await;
        arrange(&api, 1, 2, "connected").await;
        arrange(&api, 1, 3, "out_rejected").await;
        arrange(&api, 1, 4, "in_pending").await;
        arrange(&api, 1, 5, "in_rejected").await;
        let json_body = r#"{"users": [1, "2", 3, 4, 5, 2, 999, "18446744073709551615"]}"#;
        let (status, body) = post_statuses(&api, 1, "application/json", json_body).await;
        assert_eq!(
            (status, body),
            (
                200,
                json!({"connection_statuses": {"1": null, "2": "connected",
                    "3": "sent_connection_request", "4": "received_connection_request", "5": null}})
            ),
            "{backend:?}"
        );
        let (status, body) = post_statuses(
            &api,
            1,
            "application/x-www-form-urlencoded",
            "users=2&users=4",
        )
        .await;
        assert_eq!(
            (status, body),
            (
                200,
                json!({"connection_statuses": {"2": "connected", "4": "received_connection_request"}})
            )
        );
        let (status, body) = post_statuses(&api, 1, "application/json", r#"{"users": []}"#).await;
        assert_eq!((status, body), (200, json!({"connection_statuses": {}})));
        let hundred: Vec<i64> = (1..=100).collect();
        let (status, _) = post_statuses(
            &api,
            1,
            "application/json",
            &json!({ "users": hundred }).to_string(),
        )
        .await;
        assert_eq!(status, 200);
        // A whole float is an integer, as DRF's IntegerField reads it; unknown keys are ignored.
        let (status, body) = post_statuses(
            &api,
            1,
            "application/json",
            r#"{"users": [1.0, 2.0], "other": 1}"#,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let keys: Vec<&String> = body["connection_statuses"]
            .as_object()
            .expect("an object")
            .keys()
            .collect();
        assert_eq!(keys, ["1", "2"]);
        let too_many: Vec<i64> = (1..=101).collect();
        for bad in [
            json!({}).to_string(),
            json!({"users": 1}).to_string(),
            json!({"users": "1"}).to_string(),
            json!({"users": [true]}).to_string(),
            json!({"users": [0]}).to_string(),
            json!({"users": [-1]}).to_string(),
            json!({"users": [1.5]}).to_string(),
            json!({"users": ["1a"]}).to_string(),
            json!({"users": [""]}).to_string(),
            json!({"users": [null]}).to_string(),
            json!({"users": ["18446744073709551616"]}).to_string(),
            json!({"users": too_many}).to_string(),
            "[1, 2]".to_string(),
            "null".to_string(),
        ] {
            let (status, body) = post_statuses(&api, 1, "application/json", &bad).await;
            assert_eq!(status, 400, "{backend:?} {bad}");
            assert_eq!(body["errors"][0]["field"], "users", "{bad}");
            assert_eq!(body["errors"][0]["messages"][0]["code"], "invalid", "{bad}");
        }
        let (status, body) = post_statuses(&api, 1, "application/json", "{\"users\": [1").await;
        assert_eq!(
            (status, &body["errors"][0]["code"]),
            (400, &json!("parse_error"))
        );
        // Authentication first; then the method.
        let (status, _) = api.call("POST", "connection/statuses/", None).await;
        assert_eq!(status, 401);
        let (status, body) = api.call("GET", "connection/statuses", Some(1)).await;
        assert_eq!(
            (status.as_u16(), &body["errors"][0]["code"]),
            (405, &json!("method_not_allowed"))
        );
    }
}

#[tokio::test]
async fn requests_of_both_users_at_once_end_connected_once() {
    for db in TestDb::all("lifecycle_race").await {
        let backend = db.backend;
        let store = &db.store;
        const PAIRS: i64 = 4;
        const PER_SIDE: usize = 6;
        load(store, 2 * PAIRS, &[]).await;
        let api = std::sync::Arc::new(Api::new(store).await);
        let mut tasks = Vec::new();
        for p in 0..PAIRS {
            let (a, b) = (2 * p + 1, 2 * p + 2);
            for k in 0..2 * PER_SIDE {
                let api = api.clone();
                let (v, t) = if k % 2 == 0 { (a, b) } else { (b, a) };
                tasks.push(tokio::spawn(async move {
                    let (code, body) = api.act(v, t, "connection/request").await;
                    (a, b, v, code, body)
                }));
            }
        }
        let mut sent_by: Vec<BTreeSet<i64>> = vec![BTreeSet::new(); PAIRS as usize];
        let mut connected = vec![0; PAIRS as usize];
        for task in tasks {
            let (a, _, v, code, body) = task.await.unwrap();
            assert_eq!(code, StatusCode::OK, "{backend:?}: {body}");
            let p = ((a - 1) / 2) as usize;
            match body["connection_status"].as_str() {
                Some("sent_connection_request") => {
                    sent_by[p].insert(v);
                }
                Some("connected") => connected[p] += 1,
                other => panic!("{backend:?}: {other:?}"),
            }
        }
        for p in 0..PAIRS {
            let (a, b) = (2 * p + 1, 2 * p + 2);
            let i = p as usize;
            // Some order of the calls: the first asked, every later call of the other side
            // connected; nobody was told "sent" from both sides.
            assert_eq!(sent_by[i].len(), 1, "{backend:?}: {sent_by:?}");
            assert!(connected[i] >= PER_SIDE, "{backend:?}");
            let rows = pair_rows(store, a, b).await;
            assert_eq!(
                rows.len(),
                2,
                "{backend:?}: one connection, no request: {rows:?}"
            );
            assert!(
                rows.iter().all(|r| r[0] == Some(0)),
                "{backend:?}: {rows:?}"
            );
            assert_eq!(api.status(a, b).await, json!("connected"));
            assert!(api.listed(a, b).await && api.listed(b, a).await);
        }
    }
}

/// Request ids come from the database's own id source (a sequence on PostgreSQL,
/// `AUTO_INCREMENT` on MariaDB, a counter row on SQLite): many writers at once on disjoint
/// pairs each get an id no other request had, and after every request is withdrawn, the next
/// round's ids are all new too, on every backend.
#[tokio::test]
async fn concurrent_writers_get_ids_never_handed_out_before() {
    const PAIRS: i64 = 48;
    for db in TestDb::all("lifecycle_request_ids").await {
        let backend = db.backend;
        load(&db.store, PAIRS * 2, &[]).await;
        let api = Api::new(&db.store).await;
        let mut handed_out = BTreeSet::new();
        for round in 0..3 {
            let asks = (1..=PAIRS).map(|a| {
                let api = &api;
                async move { api.act(a, PAIRS + a, "connection/request").await.0 }
            });
            let statuses = futures_util::future::join_all(asks).await;
            assert!(
                statuses.iter().all(|s| s.is_success()),
                "{backend:?} round {round}: {statuses:?}"
            );
            let ids = db
                .store
                .connection()
                .query_all(Statement::from_string(
                    db.store.backend(),
                    "SELECT id FROM connection_requests",
                ))
                .await
                .expect("ids");
            assert_eq!(ids.len() as i64, PAIRS, "{backend:?}");
            for row in ids {
                let id: i64 = row.try_get("", "id").expect("id");
                assert!(
                    handed_out.insert(id),
                    "{backend:?} round {round}: id {id} was handed out before"
                );
            }
            // Withdrawn, all at once: their ids must not come back.
            let withdrawals = (1..=PAIRS).map(|a| {
                let api = &api;
                async move { api.act(a, PAIRS + a, "connection/cancel_request").await.0 }
            });
            let statuses = futures_util::future::join_all(withdrawals).await;
            assert!(statuses.iter().all(|s| s.is_success()), "{backend:?}");
        }
        assert_eq!(handed_out.len() as i64, PAIRS * 3, "{backend:?}");
    }
}

/// Check 4 gives the same answers whether the graph cache holds the target (checked in memory
/// before the transaction), does not hold it yet (checked by the pair's lock statement), or is
/// off: a soft-deleted target is not found for `request` and `accept` only, a missing one for
/// every action, and nothing is written. A soft-deleted viewer acting on itself is not found
/// for those two too, before `self_connection`.
#[tokio::test]
async fn the_target_check_is_the_same_from_the_cache_and_from_the_lock() {
    for db in TestDb::all("lifecycle_target_check").await {
        let backend = db.backend;
        let store = &db.store;
        load(store, 4, &[4]).await;
        common::set_settings(store, true, false, true).await;
        let doors = [
            ("cache on", Api::new(store).await),
            ("cache off", Api::sql_only(store).await),
        ];
        for (door, api) in &doors {
            for warm in [false, true] {
                if warm {
                    // A read that admits both targets through the cache first.
                    for target in [4, 999] {
                        api.call("GET", &format!("{target}/connection_status/"), Some(1))
                            .await;
                    }
                }
                let what = format!("{backend:?} {door} (target read before: {warm})");
                for route in ROUTES {
                    let (status, body) = api.act(1, 999, route).await;
                    assert_eq!(status, 404, "{what} {route} on a missing target: {body}");
                    let (status, body) = api.act(1, 4, route).await;
                    let want = match route {
                        "connection/request" | "connection/accept" => 404,
                        "connection/cancel_request" | "connection/remove" => 200,
                        _ => 400,
                    };
                    assert_eq!(
                        status, want,
                        "{what} {route} on a soft-deleted target: {body}"
                    );
                    // A soft-deleted viewer on itself: check 4 before check 5 (self).
                    let (status, body) = api.act(4, 4, route).await;
                    let want = match route {
                        "connection/request" | "connection/accept" => (404, "not_found"),
                        _ => (400, "self_connection"),
                    };
                    assert_eq!(
                        (status.as_u16(), body["errors"][0]["code"].as_str()),
                        (want.0, Some(want.1)),
                        "{what} {route}, a soft-deleted viewer on itself: {body}"
                    );
                }
                assert!(
                    pair_rows(store, 1, 4).await.is_empty(),
                    "{what}: a refused action wrote"
                );
            }
        }
    }
}

/// Read-your-writes through the graph cache: right after each action answers, the same
/// server shows its effect (both users' statuses, both connections pages, both request lists),
/// with all of them cached just before the action. The action waits until this server's feed
/// follower applied its commit (`Store::settle`); an answer sent before that would show the
/// state before it.
#[tokio::test]
async fn an_action_is_read_back_at_once_through_the_cache() {
    for db in TestDb::all("lifecycle_read_back").await {
        let backend = db.backend;
        let store = &db.store;
        load(store, 3, &[]).await;
        common::set_settings(store, true, false, true).await;
        let api = Api::new(store).await;
        const SENT: Option<&str> = Some("sent_connection_request");
        const RECEIVED: Option<&str> = Some("received_connection_request");
        const CONNECTED: Option<&str> = Some("connected");
        // (actor, target, route, 1's status towards 2 after it, 2's towards 1).
        type Step = (
            i64,
            i64,
            &'static str,
            Option<&'static str>,
            Option<&'static str>,
        );
        let steps: [Step; 9] = [
            (1, 2, "connection/request", SENT, RECEIVED),
            (2, 1, "connection/accept", CONNECTED, CONNECTED),
            (1, 2, "connection/remove", None, None),
            (2, 1, "connection/request", RECEIVED, SENT),
            (2, 1, "connection/cancel_request", None, None),
            (1, 2, "connection/request", SENT, RECEIVED),
            (2, 1, "connection/reject", SENT, None),
            (2, 1, "connection/cancel_reject", SENT, RECEIVED),
            (1, 2, "connection/cancel_request", None, None),
        ];
        let received = |body: &Value| body["count"].as_i64().unwrap_or(-1);
        // Five laps back to the start: without the wait, a stale entry shows only when the
        // read beats the feed, which most laps do (measured: an eviction left out failed 2 of
        // 3 runs of three laps).
        let laps = steps.iter().cycle().take(5 * steps.len());
        for (round, &(actor, target, route, one_sees, two_sees)) in laps.enumerate() {
            let what = format!("{backend:?} step {round}: {actor} {route} {target}");
            // Everything the action touches, cached now (read twice: the cache's admission
            // keeps a key read once out).
            for _ in 0..2 {
                api.status(1, 2).await;
                api.status(2, 1).await;
                api.listed(1, 2).await;
                api.listed(2, 1).await;
                api.call("GET", "connection/requests/", Some(1)).await;
                api.call("GET", "connection/requests/", Some(2)).await;
            }
            let (status, body) = api.act(actor, target, route).await;
            assert_eq!(status, 200, "{what}: {body}");
            assert_eq!(api.status(1, 2).await, json!(one_sees), "{what}");
            assert_eq!(api.status(2, 1).await, json!(two_sees), "{what}");
            let connected = one_sees == CONNECTED;
            assert_eq!(api.listed(1, 2).await, connected, "{what}: 1's page");
            assert_eq!(api.listed(2, 1).await, connected, "{what}: 2's page");
            let (_, inbox_one) = api.call("GET", "connection/requests/", Some(1)).await;
            let (_, inbox_two) = api.call("GET", "connection/requests/", Some(2)).await;
            assert_eq!(
                (received(&inbox_one), received(&inbox_two)),
                (
                    i64::from(one_sees == RECEIVED),
                    i64::from(two_sees == RECEIVED)
                ),
                "{what}: the inboxes"
            );
        }
    }
}

/// Check 1 as the action's lock statement makes it: a valid token for a user that does not
/// exist is 401 before every other check (403 friendship mode, 404 target, 400 self) of every
/// action, whether the graph cache knows the user is missing, does not hold it (the lock
/// statement finds it missing) or is off, and nothing is written. And it costs no statement of
/// its own: with the cache on, an action of a viewer the cache does not hold sends one
/// statement less than with the cache off, whose gate statement reads the viewer.
#[tokio::test]
async fn an_unknown_viewer_is_refused_first_whoever_checks_it() {
    const FIRST_GHOST: i64 = 1000;
    for db in TestDb::all("lifecycle_unknown_viewer").await {
        let mut ghost = FIRST_GHOST;
        let backend = db.backend;
        let store = &db.store;
        load(store, 6, &[4]).await;
        common::set_settings(store, true, false, true).await;
        let on = Api::new(store).await;
        let off = Api::sql_only(store).await;
        let api_statements = |api: &Api| {
            let (http, base) = (api.http.clone(), api.base.clone());
            async move {
                common::metric(
                    &http,
                    &base,
                    r#"gateway_sql_statements_total{source="api"}"#,
                )
                .await
            }
        };
        // The settings (and users 1 and 2) cached: the page is read until it costs no
        // statement (the cache serves once its feed follows, and its admission keeps a key
        // read once out). Nothing of users 3, 5 and 6 is read.
        let mut cached = false;
        for _ in 0..100 {
            let before = api_statements(&on).await;
            on.call("GET", "2/connections/", Some(1)).await;
            if api_statements(&on).await == before {
                cached = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(cached, "{backend:?}: the page never came from the cache");
        let mut sent = Vec::new();
        for (api, viewer) in [(&on, 5), (&off, 3)] {
            let before = api_statements(api).await;
            let (status, body) = api.act(viewer, 6, "connection/request").await;
            assert_eq!(status, 200, "{backend:?}: {body}");
            sent.push(api_statements(api).await - before);
        }
        assert_eq!(
            sent[0],
            sent[1] - 1.0,
            "{backend:?}: statements of one action, cache on (viewer not held) and off"
        );

        for friendship in [true, false] {
            common::set_settings(store, friendship, false, true).await;
            let refused = if friendship { 404 } else { 403 };
            for (door, api) in [("cache on", &on), ("cache off", &off)] {
                // Until this server reads the new settings (a real viewer's refusal shows it).
                for _ in 0..40 {
                    if api.act(1, 999, "connection/request").await.0 == refused {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                for warm in [false, true] {
                    let what = format!(
                        "{backend:?} {door}, friendship {friendship}, users read before: {warm}"
                    );
                    for route in ROUTES {
                        for target in ["abc", "999", "4", "2", "itself"] {
                            // A new unknown user for each call: once a check has read it, the
                            // cache may know it is missing, and the path under test (the
                            // lock, or the read before it) would not be taken.
                            ghost += 1;
                            if warm {
                                // Twice: the cache's admission keeps a key read once out.
                                for _ in 0..2 {
                                    for user in [2, 4, 999, ghost] {
                                        let path = format!("{user}/connection_status/");
                                        api.call("GET", &path, Some(1)).await;
                                    }
                                }
                            }
                            let target = match target {
                                "itself" => ghost.to_string(),
                                other => other.to_string(),
                            };
                            let path = format!("{target}/{route}/");
                            let (status, body) = api.call("POST", &path, Some(ghost)).await;
                            assert_eq!(
                                (status.as_u16(), body["errors"][0]["code"].as_str()),
                                (401, Some("authentication_failed")),
                                "{what}: POST {path} as {ghost}: {body}"
                            );
                        }
                    }
                }
            }
        }
        // Nothing written by or for any of them.
        for sql in [
            "SELECT COUNT(*) AS n FROM connection_events WHERE actor_id > 1000",
            "SELECT COUNT(*) AS n FROM connection_requests WHERE from_user_id > 1000",
            "SELECT COUNT(*) AS n FROM connections WHERE user_id > 1000",
        ] {
            let row = store
                .connection()
                .query_one(Statement::from_string(store.backend(), sql))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                row.try_get::<i64>("", "n").unwrap(),
                0,
                "{backend:?}: {sql}"
            );
        }
    }
}

/// Read-your-writes with many writers at once: each of 12 pairs cycles through request,
/// accept and remove on its own task, with both statuses cached before each action and read
/// back right after it. Writers then ask the feed follower to catch up while it polls for
/// others (`Store::settle`), and each must be answered only by a poll that began after its
/// commit: one answered by an earlier poll would read its old status.
#[tokio::test]
async fn concurrent_actions_are_each_read_back_at_once() {
    const PAIRS: i64 = 12;
    for db in TestDb::all("lifecycle_concurrent_read_back").await {
        let backend = db.backend;
        let store = &db.store;
        load(store, 2 * PAIRS, &[]).await;
        common::set_settings(store, true, false, true).await;
        let api = Api::new(store).await;
        let mut tasks = Vec::new();
        for pair in 0..PAIRS {
            let api = Api {
                http: api.http.clone(),
                base: api.base.clone(),
            };
            let (a, b) = (2 * pair + 1, 2 * pair + 2);
            tasks.push(tokio::spawn(async move {
                let steps = [
                    (a, b, "connection/request", json!("sent_connection_request")),
                    (b, a, "connection/accept", json!("connected")),
                    (a, b, "connection/remove", json!(null)),
                ];
                for (lap, (actor, target, route, after)) in
                    steps.iter().cycle().take(3 * steps.len()).enumerate()
                {
                    for _ in 0..2 {
                        api.status(*actor, *target).await;
                    }
                    let (status, body) = api.act(*actor, *target, route).await;
                    assert_eq!(
                        status, 200,
                        "{backend:?} {lap}: {actor} {route} {target}: {body}"
                    );
                    assert_eq!(
                        &api.status(*actor, *target).await,
                        after,
                        "{backend:?} step {lap}: {actor} {route} {target}, read back at once"
                    );
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
    }
}
