//! The connection lifecycle on the GraphQL door (`lifecycle.md`, "GraphQL"), on every backend,
//! through a served app:
//!
//! 1. every row of every action table through its mutation: the exact payload (the target and
//!    its status, the request deciding the pair's state after the call, with its times), or the
//!    refusal (`null`, one `BAD_USER_INPUT` error with its `reason`); the state left, read in the
//!    database and through REST's `connection_status`; then every call again: the same answer,
//!    nothing written;
//! 2. a data file holding requests in both directions: the request that decides the state;
//! 3. the error codes and their order (UNAUTHENTICATED, FORBIDDEN, NOT_FOUND, BAD_USER_INPUT),
//!    a soft-deleted target, `markConnectionRequestSeen` with friendship mode off;
//! 4. root mutations run in order, and a refused one leaves the others to run (its field null,
//!    `data` still an object, as for every refusal here);
//! 5. `isConnection`, `connectionRequests` and `connectionRequestsSent`;
//! 6. mutations over GET (plain and persisted by hash) are refused and run nothing.

use std::time::Duration;

use community_gateway::store::Store;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::common::jwt;
use crate::common::{self, plain_user, Api, TestDb};

const T0: &str = "2024-03-01T10:00:00Z";
const T1: &str = "2024-03-02T10:00:00Z";
const T2: &str = "2024-03-03T10:00:00Z";
const T3: &str = "2024-03-04T10:00:00Z";

/// The selection every mutation asks for.
const PAYLOAD: &str =
    "{ user { id connectionStatus } request { id fromUser { id connectionStatus } \
     toUser { id connectionStatus } created rejected viewed } }";

const MUTATIONS: [&str; 7] = [
    "requestConnection",
    "acceptConnection",
    "rejectConnection",
    "cancelConnectionRejection",
    "cancelConnectionRequest",
    "removeConnection",
    "markConnectionRequestSeen",
];

const STATES: [&str; 6] = [
    "none",
    "out_pending",
    "out_rejected",
    "in_pending",
    "in_rejected",
    "connected",
];

/// A data-file request.
fn request(id: i64, from: i64, to: i64, created: &str, rejected: Value, viewed: Value) -> Value {
    json!({"id": id, "from": from, "to": to, "created_at": created, "rejected_at": rejected,
        "viewed_at": viewed})
}

/// Users 1..=`users` (`deleted` soft-deleted), friendship mode on, with these links.
async fn load(
    store: &Store,
    users: i64,
    deleted: &[i64],
    connected: &[(i64, i64)],
    requests: Vec<Value>,
) {
    let users: Vec<Value> = (1..=users)
        .map(|id| {
            let mut user = plain_user(id, &[]);
            user["deleted"] = json!(deleted.contains(&id));
            user
        })
        .collect();
    let connections: Vec<Value> = connected
        .iter()
        .map(|(a, b)| json!({"users": [a, b], "connected_at": T0}))
        .collect();
    let settings =
        json!({"connection_enabled": true, "follow_enabled": false, "content_availability": true});
    common::import_json(
        store,
        &json!({"settings": settings, "tags": [], "users": users,
        "connections": connections, "connection_requests": requests, "access_tokens": []}),
    )
    .await;
}

/// Friendship mode on or off (public content, follow mode off).
async fn friendship(store: &Store, on: bool) {
    common::set_settings(store, on, false, true).await;
}

/// `field(userId: target)` with the full payload, as `viewer`.
async fn mutate(api: &Api, viewer: i64, field: &str, target: &str) -> Value {
    api.gql(viewer, &mutation(field, target)).await
}

/// REST route 9 for `viewer`: the status, upper-cased as GraphQL spells it.
async fn rest_status(api: &Api, viewer: i64, target: i64) -> Value {
    match api.status(viewer, target).await {
        Value::String(s) => json!(s.to_uppercase()),
        other => other,
    }
}

/// REST `POST {target}/{route}/` as `viewer`, expecting 200.
async fn rest_act(api: &Api, viewer: i64, target: i64, route: &str) {
    let response = api.act_response(viewer, target, route).await;
    assert_eq!(response.status(), 200, "{route}");
}

fn mutation(field: &str, target: &str) -> String {
    format!(r#"mutation {{ {field}(userId: "{target}") {PAYLOAD} }}"#)
}

/// `(extensions.code, extensions.reason)` of every error.
fn errors(response: &Value) -> Vec<(String, Option<String>)> {
    response["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| {
                    let ext = &e["extensions"];
                    (
                        ext["code"].as_str().unwrap_or_default().to_string(),
                        ext["reason"].as_str().map(str::to_string),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Checks refusals. The error list is asserted at once; the shape of `data` (the spec: `null`
/// for the refused field, the document's other root fields still answered, so `data` is an
/// object) is collected and asserted by `done`, so one shape problem does not hide the rest of
/// a table.
#[derive(Default)]
struct Refusals(std::sync::Mutex<Vec<String>>);

impl Refusals {
    /// `response` refuses `field`: exactly one error `code` (with `reason`, for
    /// BAD_USER_INPUT), and `data.<field>` null.
    fn check(&self, response: &Value, field: &str, code: &str, reason: Option<&str>, what: &str) {
        assert_eq!(
            errors(response),
            [(code.to_string(), reason.map(str::to_string))],
            "{what}: {response}"
        );
        assert_eq!(response["data"][field], Value::Null, "{what}: {response}");
        if response["data"].get(field) != Some(&Value::Null) {
            self.0.lock().unwrap().push(format!("{what}: {response}"));
        }
    }

    fn done(&self) {
        let wrong = self.0.lock().unwrap();
        assert!(
            wrong.is_empty(),
            "{} refusals without `data: {{<field>: null}}`, first: {}\nlast: {}",
            wrong.len(),
            wrong[0],
            wrong[wrong.len() - 1]
        );
    }
}

/// A stored request: (id, from, to, created, rejected, viewed), times in epoch microseconds.
type Row = (i64, i64, i64, i64, Option<i64>, Option<i64>);

/// The pair's rows: whether connected (both directions checked), and its requests by id.
async fn pair(store: &Store, a: i64, b: i64) -> (bool, Vec<Row>) {
    let query = |sql: String| async move {
        store
            .connection()
            .query_all(Statement::from_string(store.backend(), sql))
            .await
            .unwrap()
    };
    let links = query(format!(
        "SELECT user_id FROM connections WHERE (user_id = {a} AND friend_id = {b}) \
         OR (user_id = {b} AND friend_id = {a})"
    ))
    .await;
    assert!(links.is_empty() || links.len() == 2, "{a}-{b}: one-sided");
    let rows = query(format!(
        "SELECT id, from_user_id, to_user_id, created_at_us, rejected_at_us, viewed_at_us \
         FROM connection_requests WHERE (from_user_id = {a} AND to_user_id = {b}) \
         OR (from_user_id = {b} AND to_user_id = {a}) ORDER BY id"
    ))
    .await;
    let requests = rows
        .iter()
        .map(|r| {
            (
                r.try_get_by_index::<i64>(0).unwrap(),
                r.try_get_by_index::<i64>(1).unwrap(),
                r.try_get_by_index::<i64>(2).unwrap(),
                r.try_get_by_index::<i64>(3).unwrap(),
                r.try_get_by_index::<Option<i64>>(4).unwrap(),
                r.try_get_by_index::<Option<i64>>(5).unwrap(),
            )
        })
        .collect();
    (links.len() == 2, requests)
}

/// The state of `v` towards `t` from stored rows (the first row of the spec's table that
/// holds), and the request deciding it.
fn state_of(v: i64, t: i64, rows: &(bool, Vec<Row>)) -> (&'static str, Option<Row>) {
    let (connected, requests) = rows;
    let find = |from: i64, to: i64| requests.iter().find(|r| r.1 == from && r.2 == to).copied();
    if *connected {
        assert!(requests.is_empty(), "connected with a request: {rows:?}");
        return ("connected", None);
    }
    match (find(v, t), find(t, v)) {
        (Some(r), _) if r.4.is_some() => ("out_rejected", Some(r)),
        (Some(r), _) => ("out_pending", Some(r)),
        (None, Some(r)) if r.4.is_some() => ("in_rejected", Some(r)),
        (None, Some(r)) => ("in_pending", Some(r)),
        (None, None) => ("none", None),
    }
}

/// The GraphQL status of the other user in `state`.
fn status_in(state: &str) -> Value {
    match state {
        "connected" => json!("CONNECTED"),
        "out_pending" | "out_rejected" => json!("SENT_CONNECTION_REQUEST"),
        "in_pending" => json!("RECEIVED_CONNECTION_REQUEST"),
        _ => Value::Null,
    }
}

fn time(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// The payload the spec asks for: `t` with the status of `state`, and `request` (stored) with
/// both users' statuses relative to `v`.
fn payload(v: i64, t: i64, state: &str, request: Option<Row>) -> Value {
    let user = |id: i64| {
        let status = if id == v {
            Value::Null
        } else {
            status_in(state)
        };
        json!({"id": id.to_string(), "connectionStatus": status})
    };
    let request = request.map(|(id, from, to, created, rejected, viewed)| {
        json!({"id": id.to_string(), "fromUser": user(from), "toUser": user(to),
            "created": time(created), "rejected": rejected.map(time),
            "viewed": viewed.map(time)})
    });
    json!({"user": user(t), "request": request})
}

/// The spec's tables: (mutation, state) → Ok(state left) or Err(reason).
fn expected(field: &str, state: &'static str) -> Result<&'static str, &'static str> {
    match (field, state) {
        ("requestConnection", "none") => Ok("out_pending"),
        ("requestConnection", "out_pending" | "out_rejected") => Ok(state),
        ("requestConnection", _) => Ok("connected"),
        ("acceptConnection", "in_pending" | "in_rejected" | "connected") => Ok("connected"),
        ("acceptConnection", _) => Err("no_request"),
        ("rejectConnection", "in_pending" | "in_rejected") => Ok("in_rejected"),
        ("rejectConnection", "connected") => Err("already_connected"),
        ("rejectConnection", _) => Err("no_request"),
        ("cancelConnectionRejection", "in_pending" | "in_rejected") => Ok("in_pending"),
        ("cancelConnectionRejection", "connected") => Err("already_connected"),
        ("cancelConnectionRejection", _) => Err("no_request"),
        ("cancelConnectionRequest", "out_pending" | "out_rejected" | "none") => Ok("none"),
        ("cancelConnectionRequest", "connected") => Err("already_connected"),
        ("cancelConnectionRequest", _) => Err("no_request"),
        ("removeConnection", "connected" | "none") => Ok("none"),
        ("removeConnection", _) => Err("not_connected"),
        ("markConnectionRequestSeen", "in_pending" | "in_rejected") => Ok(state),
        ("markConnectionRequestSeen", "connected") => Err("already_connected"),
        ("markConnectionRequestSeen", _) => Err("no_request"),
        other => panic!("{other:?}"),
    }
}

/// The data-file links that put the pair (`v`, `t`) in `state`, request ids from `id`.
/// Viewed times differ by state so "the first time stays" can be checked.
fn arrange(v: i64, t: i64, state: &str, id: i64) -> (Vec<(i64, i64)>, Vec<Value>) {
    let null = Value::Null;
    match state {
        "none" => (vec![], vec![]),
        "out_pending" => (vec![], vec![request(id, v, t, T1, null, json!(T2))]),
        "out_rejected" => (vec![], vec![request(id, v, t, T1, json!(T3), json!(T2))]),
        "in_pending" => (vec![], vec![request(id, t, v, T1, null.clone(), null)]),
        "in_rejected" => (vec![], vec![request(id, t, v, T1, json!(T3), json!(T2))]),
        "connected" => (vec![(v, t)], vec![]),
        other => panic!("{other}"),
    }
}

/// Whether `us` is a whole second within [`start_us` rounded down, `end_us`].
fn fresh(us: i64, start_us: i64, end_us: i64) -> bool {
    us % 1_000_000 == 0 && us >= start_us - start_us % 1_000_000 && us <= end_us
}

#[tokio::test]
async fn every_row_of_every_action_table() {
    let refusals = Refusals::default();
    for db in TestDb::all("graphql_lifecycle_tables").await {
        let backend = db.backend;
        let store = &db.store;
        let cases: Vec<(&str, &str)> = MUTATIONS
            .iter()
            .flat_map(|m| STATES.iter().map(move |s| (*m, *s)))
            .collect();
        let pair_of = |i: usize| (2 * i as i64 + 1, 2 * i as i64 + 2);
        let (mut connected, mut requests) = (vec![], vec![]);
        for (i, (_, state)) in cases.iter().enumerate() {
            let (v, t) = pair_of(i);
            let (c, r) = arrange(v, t, state, 100 + i as i64);
            connected.extend(c);
            requests.extend(r);
        }
        load(store, 2 * cases.len() as i64, &[], &connected, requests).await;
        let api = Api::new(store).await;

        let mut first = Vec::new();
        for (i, (field, state)) in cases.iter().enumerate() {
            let (v, t) = pair_of(i);
            let what = format!("{backend:?}: {field} in {state}");
            let before = pair(store, v, t).await;
            assert_eq!(state_of(v, t, &before).0, *state, "{what}: arranged");
            let start_us = community_gateway::store::time::now_us();
            let response = mutate(&api, v, field, &t.to_string()).await;
            let end_us = community_gateway::store::time::now_us();
            let after = pair(store, v, t).await;
            let (left, deciding) = state_of(v, t, &after);
            match expected(field, state) {
                Err(reason) => {
                    refusals.check(&response, field, "BAD_USER_INPUT", Some(reason), &what);
                    assert_eq!(after, before, "{what}: a refusal changes nothing");
                }
                Ok(want_left) => {
                    assert_eq!(errors(&response), [], "{what}: {response}");
                    assert_eq!(left, want_left, "{what}: state left");
                    assert_eq!(
                        response["data"][field],
                        payload(v, t, left, deciding),
                        "{what}"
                    );
                    // What was written, and only that: times are "now", whole seconds.
                    let old = state_of(v, t, &before).1;
                    let new = deciding;
                    match (*field, *state) {
                        ("requestConnection", "none") => {
                            let r = new.unwrap();
                            assert_eq!((r.1, r.2, r.4, r.5), (v, t, None, None), "{what}");
                            assert!(fresh(r.3, start_us, end_us), "{what}: {r:?}");
                        }
                        ("rejectConnection", "in_pending") => {
                            let (o, r) = (old.unwrap(), new.unwrap());
                            assert_eq!((r.0, r.3, r.5), (o.0, o.3, o.5), "{what}");
                            assert!(fresh(r.4.unwrap(), start_us, end_us), "{what}: {r:?}");
                        }
                        ("cancelConnectionRejection", "in_rejected") => {
                            let o = old.unwrap();
                            assert_eq!(new, Some((o.0, o.1, o.2, o.3, None, o.5)), "{what}");
                        }
                        ("markConnectionRequestSeen", "in_pending") => {
                            let (o, r) = (old.unwrap(), new.unwrap());
                            assert_eq!((r.0, r.3, r.4), (o.0, o.3, o.4), "{what}");
                            assert!(fresh(r.5.unwrap(), start_us, end_us), "{what}: {r:?}");
                        }
                        _ if left == "connected" || left == "none" => {
                            assert!(after.1.is_empty(), "{what}: {after:?}")
                        }
                        _ => assert_eq!(after, before, "{what}: a retry writes nothing"),
                    }
                }
            }
            // REST reads the same status the payload reports.
            assert_eq!(rest_status(&api, v, t).await, status_in(left), "{what}");
            first.push((response, after));
        }

        // Every call again, in a later second: the same answer, nothing written.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        for (i, (field, state)) in cases.iter().enumerate() {
            let (v, t) = pair_of(i);
            let what = format!("{backend:?}: {field} again after {state}");
            let response = mutate(&api, v, field, &t.to_string()).await;
            assert_eq!(response, first[i].0, "{what}");
            assert_eq!(pair(store, v, t).await, first[i].1, "{what}");
        }
    }
    refusals.done();
}

#[tokio::test]
async fn requests_in_both_directions() {
    let refusals = Refusals::default();
    for db in TestDb::all("graphql_lifecycle_both_directions").await {
        let backend = db.backend;
        let store = &db.store;
        let null = Value::Null;
        load(
            store,
            4,
            &[],
            &[],
            vec![
                // 1 ⇄ 2, both pending; 3 → 4 rejected, 4 → 3 pending.
                request(101, 1, 2, T1, null.clone(), null.clone()),
                request(102, 2, 1, T2, null.clone(), json!(T3)),
                request(103, 3, 4, T1, json!(T2), null.clone()),
                request(104, 4, 3, T3, null.clone(), null.clone()),
            ],
        )
        .await;
        let api = Api::new(store).await;
        let row = |id, from, to, created: &str, rejected: Option<&str>, viewed: Option<&str>| {
            let us = |t: &str| {
                chrono::DateTime::parse_from_rfc3339(t)
                    .unwrap()
                    .timestamp_micros()
            };
            Some((id, from, to, us(created), rejected.map(us), viewed.map(us)))
        };
        let r101 = row(101, 1, 2, T1, None, None);
        let r102 = row(102, 2, 1, T2, None, Some(T3));
        let r103 = row(103, 3, 4, T1, Some(T2), None);
        let r104 = row(104, 4, 3, T3, None, None);

        // From 1, its own pending request decides: out_pending; from 2 likewise.
        let ok = |v: i64, t: i64, field: &'static str, state: &'static str, request| {
            let api = &api;
            async move {
                let what = format!("{backend:?}: {v} {field} {t}");
                let response = mutate(api, v, field, &t.to_string()).await;
                assert_eq!(errors(&response), [], "{what}: {response}");
                assert_eq!(
                    response["data"][field],
                    payload(v, t, state, request),
                    "{what}"
                );
                assert_eq!(rest_status(api, v, t).await, status_in(state), "{what}");
            }
        };
        let refused = |v: i64, t: i64, field: &'static str, reason: &'static str| {
            let (api, refusals) = (&api, &refusals);
            async move {
                let response = mutate(api, v, field, &t.to_string()).await;
                let what = format!("{backend:?}: {v} {field} {t}");
                refusals.check(&response, field, "BAD_USER_INPUT", Some(reason), &what);
            }
        };
        ok(1, 2, "requestConnection", "out_pending", r101).await;
        ok(2, 1, "requestConnection", "out_pending", r102).await;
        refused(1, 2, "acceptConnection", "no_request").await;
        refused(2, 1, "acceptConnection", "no_request").await;
        refused(1, 2, "rejectConnection", "no_request").await;
        refused(1, 2, "cancelConnectionRejection", "no_request").await;
        refused(1, 2, "markConnectionRequestSeen", "no_request").await;
        refused(1, 2, "removeConnection", "not_connected").await;
        assert_eq!(pair(store, 1, 2).await.1.len(), 2, "{backend:?}");
        // 1 withdraws its own: 2's request is left and now decides (in_pending).
        ok(1, 2, "cancelConnectionRequest", "in_pending", r102).await;
        ok(1, 2, "acceptConnection", "connected", None).await;
        assert_eq!(pair(store, 1, 2).await, (true, vec![]), "{backend:?}");

        // From 3, its rejected request decides (out_rejected); from 4, its pending one.
        ok(3, 4, "requestConnection", "out_rejected", r103).await;
        ok(4, 3, "requestConnection", "out_pending", r104).await;
        refused(3, 4, "removeConnection", "not_connected").await;
        refused(4, 3, "rejectConnection", "no_request").await;
        // 4 withdraws its own: 3's request, which 4 rejected, decides (in_rejected).
        ok(4, 3, "cancelConnectionRequest", "in_rejected", r103).await;
        let r103_pending = r103.map(|r| (r.0, r.1, r.2, r.3, None, r.5));
        ok(
            4,
            3,
            "cancelConnectionRejection",
            "in_pending",
            r103_pending,
        )
        .await;
        assert_eq!(
            pair(store, 3, 4).await,
            (false, vec![r103_pending.unwrap()]),
            "{backend:?}"
        );
    }
    refusals.done();
}

#[tokio::test]
async fn error_codes_in_order() {
    let refusals = Refusals::default();
    for db in TestDb::all("graphql_lifecycle_errors").await {
        let backend = db.backend;
        let store = &db.store;
        for cache in [true, false] {
            // 1 and 2 unrelated but for 2's pending request to 1; 3 soft-deleted, with a pending
            // request to 1.
            let null = Value::Null;
            load(
                store,
                3,
                &[3],
                &[],
                vec![
                    request(10, 2, 1, T1, null.clone(), null.clone()),
                    request(11, 3, 1, T1, null.clone(), null.clone()),
                ],
            )
            .await;
            // The graph cache on (users it holds are checked before the transaction, the others
            // by the pair's lock statement) and off.
            let api = if cache {
                Api::new(store).await
            } else {
                Api::sql_only(store).await
            };
            let snapshot = pair(store, 1, 2).await;
            // Malformed, and well-formed but unknown (up to 2^64 - 1).
            let malformed = [
                "abc",
                "0",
                "-3",
                "18446744073709551616",
                "",
                " 2",
                "999",
                "9223372036854775808",
                "18446744073709551615",
            ];

            for field in MUTATIONS {
                let what = |case: &str| format!("{backend:?} cache {cache}: {field} {case}");
                for target in ["2", "999", "abc"] {
                    let r = api.gql_token(None, &mutation(field, target)).await;
                    refusals.check(&r, field, "UNAUTHENTICATED", None, &what(target));
                    let r = api
                        .gql_token(Some("not-a-valid-token"), &mutation(field, target))
                        .await;
                    refusals.check(&r, field, "UNAUTHENTICATED", None, &what("bad token"));
                }
                let r = api
                    .gql_token(Some(&jwt(424242)), &mutation(field, "2"))
                    .await;
                refusals.check(&r, field, "UNAUTHENTICATED", None, &what("no such viewer"));
                for target in malformed {
                    let r = mutate(&api, 1, field, target).await;
                    refusals.check(&r, field, "NOT_FOUND", None, &what(target));
                }
                let r = mutate(&api, 1, field, "1").await;
                refusals.check(
                    &r,
                    field,
                    "BAD_USER_INPUT",
                    Some("self_connection"),
                    &what("self"),
                );
            }
            assert_eq!(pair(store, 1, 2).await, snapshot, "{backend:?}");

            // Friendship mode off: FORBIDDEN for 1–6, before the target and self checks;
            // still UNAUTHENTICATED first.
            friendship(store, false).await;
            for field in &MUTATIONS[..6] {
                let what = |case: &str| format!("{backend:?} cache {cache}: {field} off, {case}");
                for target in ["2", "999", "abc", "1"] {
                    let r = mutate(&api, 1, field, target).await;
                    refusals.check(&r, field, "FORBIDDEN", None, &what(target));
                }
                let r = api.gql_token(None, &mutation(field, "999")).await;
                refusals.check(&r, field, "UNAUTHENTICATED", None, &what("anonymous"));
                let r = api
                    .gql_token(Some("not-a-valid-token"), &mutation(field, "2"))
                    .await;
                refusals.check(&r, field, "UNAUTHENTICATED", None, &what("bad token"));
            }
            assert_eq!(pair(store, 1, 2).await, snapshot, "{backend:?}");
            // markConnectionRequestSeen works, and keeps its own checks.
            let field = "markConnectionRequestSeen";
            let what = |case: &str| format!("{backend:?} cache {cache}: mark_seen off, {case}");
            let r = mutate(&api, 1, field, "999").await;
            refusals.check(&r, field, "NOT_FOUND", None, &what("unknown"));
            let r = mutate(&api, 1, field, "1").await;
            refusals.check(
                &r,
                field,
                "BAD_USER_INPUT",
                Some("self_connection"),
                &what("self"),
            );
            let r = api.gql_token(None, &mutation(field, "2")).await;
            refusals.check(&r, field, "UNAUTHENTICATED", None, &what("anonymous"));
            let r = mutate(&api, 1, field, "2").await;
            assert_eq!(
                errors(&r),
                [],
                "{backend:?} cache {cache}: mark_seen off: {r}"
            );
            let after = pair(store, 1, 2).await;
            let (state, deciding) = state_of(1, 2, &after);
            assert_eq!(state, "in_pending");
            assert!(
                deciding.unwrap().5.is_some(),
                "{backend:?}: seen: {after:?}"
            );
            assert_eq!(
                r["data"][field],
                payload(1, 2, state, deciding),
                "{backend:?}"
            );
            friendship(store, true).await;

            // A soft-deleted target: NOT_FOUND for request and accept only (its pending request
            // would otherwise connect); the other actions treat it as any user.
            for field in ["requestConnection", "acceptConnection"] {
                let r = mutate(&api, 1, field, "3").await;
                refusals.check(
                    &r,
                    field,
                    "NOT_FOUND",
                    None,
                    &format!("{backend:?}: {field} deleted"),
                );
            }
            assert_eq!(state_of(1, 3, &pair(store, 1, 3).await).0, "in_pending");
            for (field, outcome) in [
                ("markConnectionRequestSeen", Ok("in_pending")),
                ("cancelConnectionRequest", Err("no_request")),
                ("removeConnection", Err("not_connected")),
                ("rejectConnection", Ok("in_rejected")),
                ("cancelConnectionRejection", Ok("in_pending")),
            ] {
                let what = format!("{backend:?}: {field} on a deleted user");
                let r = mutate(&api, 1, field, "3").await;
                match outcome {
                    Ok(state) => {
                        assert_eq!(errors(&r), [], "{what}: {r}");
                        let (left, deciding) = state_of(1, 3, &pair(store, 1, 3).await);
                        assert_eq!(left, state, "{what}");
                        assert_eq!(r["data"][field], payload(1, 3, state, deciding), "{what}");
                    }
                    Err(reason) => {
                        refusals.check(&r, field, "BAD_USER_INPUT", Some(reason), &what);
                    }
                }
            }
        }
    }
    refusals.done();
}

#[tokio::test]
async fn root_mutations_run_in_order() {
    for db in TestDb::all("graphql_lifecycle_order").await {
        let backend = db.backend;
        let store = &db.store;
        load(store, 2, &[], &[], vec![]).await;
        let api = Api::new(store).await;
        let query = format!(
            r#"mutation {{ a: requestConnection(userId: "2") {PAYLOAD}
                b: cancelConnectionRequest(userId: "2") {PAYLOAD}
                c: requestConnection(userId: "2") {PAYLOAD} }}"#
        );
        let r = api.gql(1, &query).await;
        assert_eq!(errors(&r), [], "{backend:?}: {r}");
        let (state, deciding) = state_of(1, 2, &pair(store, 1, 2).await);
        assert_eq!(state, "out_pending", "{backend:?}");
        let last = deciding.unwrap();
        assert_eq!(
            r["data"]["c"],
            payload(1, 2, state, deciding),
            "{backend:?}"
        );
        assert_eq!(r["data"]["b"], payload(1, 2, "none", None), "{backend:?}");
        let a = &r["data"]["a"];
        assert_eq!(a["user"]["connectionStatus"], "SENT_CONNECTION_REQUEST");
        let first_id: i64 = a["request"]["id"].as_str().unwrap().parse().unwrap();
        assert!(
            first_id < last.0,
            "{backend:?}: a new request, a new id: {r}"
        );

        // The payload's users are whole User objects, as the call left them.
        let r = api
            .gql(
                2,
                r#"mutation { acceptConnection(userId: "1") {
                    user { id username isConnection connectionStatus } request { id } } }"#,
            )
            .await;
        let user = json!({"id": "1", "username": "u1", "isConnection": true,
            "connectionStatus": "CONNECTED"});
        assert_eq!(
            r,
            json!({"data": {"acceptConnection": {"user": user, "request": null}}}),
            "{backend:?}"
        );
        let r = api
            .gql(
                1,
                r#"mutation { removeConnection(userId: "2") {
                    user { username isConnection connectionStatus } } }"#,
            )
            .await;
        let user = json!({"username": "u2", "isConnection": false, "connectionStatus": null});
        assert_eq!(
            r,
            json!({"data": {"removeConnection": {"user": user}}}),
            "{backend:?}"
        );
        let r = api
            .gql(
                1,
                r#"mutation { requestConnection(userId: "2") { request {
                    fromUser { username isConnection connectionStatus }
                    toUser { username isConnection connectionStatus } } } }"#,
            )
            .await;
        let request = json!({
            "fromUser": {"username": "u1", "isConnection": false, "connectionStatus": null},
            "toUser": {"username": "u2", "isConnection": false,
                "connectionStatus": "SENT_CONNECTION_REQUEST"}});
        assert_eq!(
            r,
            json!({"data": {"requestConnection": {"request": request}}}),
            "{backend:?}"
        );
    }
}

#[tokio::test]
async fn a_refused_root_mutation_leaves_the_others() {
    for db in TestDb::all("graphql_lifecycle_order_refusal").await {
        let backend = db.backend;
        let store = &db.store;
        load(store, 2, &[], &[], vec![]).await;
        let api = Api::new(store).await;
        rest_act(&api, 1, 2, "connection/request").await;
        let earlier = state_of(1, 2, &pair(store, 1, 2).await).1.unwrap();

        // A refusal in the middle: its field is null with an error at its path; the next one
        // still runs, after it.
        let query = format!(
            r#"mutation {{ a: cancelConnectionRequest(userId: "2") {PAYLOAD}
                b: acceptConnection(userId: "2") {PAYLOAD}
                c: requestConnection(userId: "2") {PAYLOAD}
                d: acceptConnection(userId: "1") {PAYLOAD} }}"#
        );
        let r = api.gql(1, &query).await;
        let (state, deciding) = state_of(1, 2, &pair(store, 1, 2).await);
        assert_eq!(
            state, "out_pending",
            "{backend:?}: `c` ran after the refused `b`: {r}"
        );
        assert_eq!(
            errors(&r),
            [
                ("BAD_USER_INPUT".to_string(), Some("no_request".to_string())),
                (
                    "BAD_USER_INPUT".to_string(),
                    Some("self_connection".to_string())
                )
            ],
            "{backend:?}: {r}"
        );
        assert_eq!(r["errors"][0]["path"], json!(["b"]));
        assert_eq!(r["errors"][1]["path"], json!(["d"]));
        assert_eq!(r["data"]["a"], payload(1, 2, "none", None), "{backend:?}");
        assert_eq!(r["data"]["b"], Value::Null);
        assert_eq!(r["data"]["d"], Value::Null);
        assert_eq!(
            r["data"]["c"],
            payload(1, 2, state, deciding),
            "{backend:?}"
        );
        assert!(deciding.unwrap().0 > earlier.0, "{backend:?}");
    }
}

#[tokio::test]
async fn is_connection_and_request_lists() {
    for db in TestDb::all("graphql_lifecycle_lists").await {
        let backend = db.backend;
        let store = &db.store;
        let null = Value::Null;
        // Viewer 1: connected to 10; requests to 1 from 5 and 2 (same time), 3, and 4
        // (rejected); requests from 1 to 6, 9 and 7 (7's rejected, same time as 9), and 8.
        load(
            store,
            11,
            &[],
            &[(1, 10)],
            vec![
                request(20, 5, 1, T2, null.clone(), null.clone()),
                request(21, 2, 1, T2, null.clone(), json!(T3)),
                request(22, 3, 1, T1, null.clone(), null.clone()),
                request(23, 4, 1, T3, json!(T3), null.clone()),
                request(29, 1, 9, T2, null.clone(), null.clone()),
                request(30, 1, 6, T1, null.clone(), json!(T2)),
                request(31, 1, 7, T2, json!(T3), null.clone()),
                request(32, 1, 8, T3, null.clone(), null.clone()),
            ],
        )
        .await;
        let api = Api::new(store).await;

        // isConnection: stored data, false for anonymous and for self, even with friendship
        // mode off.
        let q = r#"{ a: user(id: "10") { isConnection } b: user(id: "2") { isConnection }
            c: user(id: "1") { isConnection } me { isConnection } }"#;
        let want = json!({"a": {"isConnection": true}, "b": {"isConnection": false},
            "c": {"isConnection": false}, "me": {"isConnection": false}});
        for on in [true, false] {
            friendship(store, on).await;
            let r = api.gql(1, q).await;
            assert_eq!(r, json!({ "data": want }), "{backend:?} friendship {on}");
            let r = api.gql(10, r#"{ user(id: "1") { isConnection } }"#).await;
            assert_eq!(r["data"]["user"]["isConnection"], true, "{backend:?}: {r}");
            let r = api
                .gql_token(None, r#"{ user(id: "10") { isConnection } }"#)
                .await;
            assert_eq!(
                r,
                json!({"data": {"user": {"isConnection": false}}}),
                "{backend:?}"
            );
        }
        friendship(store, true).await;

        let item = |id: &str, from: (&str, Value), to: (&str, Value), created, rejected, viewed| {
            json!({"id": id, "fromUser": {"id": from.0, "connectionStatus": from.1},
                "toUser": {"id": to.0, "connectionStatus": to.1},
                "created": created, "rejected": rejected, "viewed": viewed})
        };
        let sent = || json!("SENT_CONNECTION_REQUEST");
        let received = || json!("RECEIVED_CONNECTION_REQUEST");
        let me = || ("1", Value::Null);
        const ITEM: &str = "id fromUser { id connectionStatus } toUser { id connectionStatus } \
             created rejected viewed";
        let page = |list: &str, args: &str| {
            format!("{{ me {{ {list}{args} {{ count next previous results {{ {ITEM} }} }} }} }}")
        };

        // The inbox: pending requests to 1, created desc then sender id asc; 4's rejected one
        // is not listed.
        let r = api.gql(1, &page("connectionRequests", "")).await;
        assert_eq!(
            r["data"]["me"]["connectionRequests"],
            json!({"count": 3, "next": null, "previous": null, "results": [
                item("21", ("2", received()), me(), T2, Value::Null, json!(T3)),
                item("20", ("5", received()), me(), T2, Value::Null, Value::Null),
                item("22", ("3", received()), me(), T1, Value::Null, Value::Null),
            ]}),
            "{backend:?}: {r}"
        );
        // The sent list: pending and rejected, created desc then recipient id asc.
        let r = api.gql(1, &page("connectionRequestsSent", "")).await;
        let all_sent = [
            item("32", me(), ("8", sent()), T3, Value::Null, Value::Null),
            item("31", me(), ("7", sent()), T2, json!(T3), Value::Null),
            item("29", me(), ("9", sent()), T2, Value::Null, Value::Null),
            item("30", me(), ("6", sent()), T1, Value::Null, json!(T2)),
        ];
        assert_eq!(
            r["data"]["me"]["connectionRequestsSent"],
            json!({"count": 4, "next": null, "previous": null, "results": all_sent}),
            "{backend:?}: {r}"
        );

        // Paging: the links are the REST routes' own.
        for (list, path) in [
            ("connectionRequests", "/api/v2/user/connection/requests/"),
            (
                "connectionRequestsSent",
                "/api/v2/user/connection/requests_sent/",
            ),
        ] {
            for (args, rest_query) in [
                ("(limit: 2)", "?limit=2"),
                ("(limit: 2, offset: 2)", "?limit=2&offset=2"),
                ("(limit: 1, offset: 1)", "?limit=1&offset=1"),
                ("(offset: 1)", "?offset=1"),
            ] {
                let what = format!("{backend:?}: {list}{args}");
                let r = api.gql(1, &page(list, args)).await;
                let got = &r["data"]["me"][list];
                let rest = api.testserver_page(&format!("{path}{rest_query}"), 1).await;
                assert_eq!(got["count"], rest["count"], "{what}: {r}");
                assert_eq!(got["next"], rest["next"], "{what}: {r} {rest}");
                assert_eq!(got["previous"], rest["previous"], "{what}: {r} {rest}");
                let ids = |v: &Value, key: &str| -> Vec<String> {
                    v[key]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|i| i["id"].to_string().trim_matches('"').to_string())
                        .collect()
                };
                assert_eq!(ids(got, "results"), ids(&rest, "results"), "{what}");
            }
        }
        let r = api
            .gql(1, &page("connectionRequestsSent", "(limit: 2)"))
            .await;
        let got = &r["data"]["me"]["connectionRequestsSent"];
        assert_eq!(
            (&got["next"], &got["previous"]),
            (
                &json!("http://testserver/api/v2/user/connection/requests_sent/?limit=2&offset=2"),
                &Value::Null
            ),
            "{backend:?}"
        );
        assert_eq!(got["results"], json!(all_sent[..2]), "{backend:?}");
        let r = api
            .gql(1, &page("connectionRequestsSent", "(limit: 2, offset: 2)"))
            .await;
        let got = &r["data"]["me"]["connectionRequestsSent"];
        assert_eq!(
            (&got["next"], &got["previous"]),
            (
                &Value::Null,
                &json!("http://testserver/api/v2/user/connection/requests_sent/?limit=2")
            ),
            "{backend:?}"
        );
        assert_eq!(got["results"], json!(all_sent[2..]), "{backend:?}");
        let r = api
            .gql(1, &page("connectionRequests", "(limit: 1, offset: 1)"))
            .await;
        let got = &r["data"]["me"]["connectionRequests"];
        assert_eq!(
            (&got["next"], &got["previous"]),
            (
                &json!("http://testserver/api/v2/user/connection/requests/?limit=1&offset=2"),
                &json!("http://testserver/api/v2/user/connection/requests/?limit=1")
            ),
            "{backend:?}"
        );
        assert_eq!(got["results"][0]["id"], "20", "{backend:?}");

        // Refusals: another user's lists, anonymous, friendship off, bad paging.
        for list in ["connectionRequests", "connectionRequestsSent"] {
            let what = format!("{backend:?}: {list}");
            let on_other = format!(r#"{{ user(id: "2") {{ id {list} {{ count }} }} }}"#);
            let r = api.gql(1, &on_other).await;
            assert_eq!(errors(&r), [("FORBIDDEN".to_string(), None)], "{what}: {r}");
            let on_self = format!(r#"{{ user(id: "1") {{ id {list} {{ count }} }} }}"#);
            let r = api.gql(1, &on_self).await;
            assert_eq!(errors(&r), [], "{what}: {r}");
            let r = api.gql_token(None, &on_self).await;
            assert_eq!(
                errors(&r),
                [("UNAUTHENTICATED".to_string(), None)],
                "{what}: {r}"
            );
            let r = api.gql_token(None, &on_other).await;
            assert_eq!(
                errors(&r),
                [("UNAUTHENTICATED".to_string(), None)],
                "{what}: {r}"
            );
            for args in ["(limit: 0)", "(offset: -1)", "(limit: -5)"] {
                let r = api.gql(1, &page(list, args)).await;
                assert_eq!(
                    errors(&r).iter().map(|e| e.0.as_str()).collect::<Vec<_>>(),
                    ["BAD_USER_INPUT"],
                    "{what}{args}: {r}"
                );
            }
            friendship(store, false).await;
            let r = api.gql(1, &page(list, "")).await;
            assert_eq!(errors(&r), [("FORBIDDEN".to_string(), None)], "{what}: {r}");
            friendship(store, true).await;
        }

        // The lists follow the mutations at once: 1 rejects 2 (inbox shrinks, 2's sent list
        // shows it rejected), then marks 3's seen.
        let r = mutate(&api, 1, "rejectConnection", "2").await;
        assert_eq!(errors(&r), [], "{backend:?}: {r}");
        let r = mutate(&api, 1, "markConnectionRequestSeen", "3").await;
        let viewed = r["data"]["markConnectionRequestSeen"]["request"]["viewed"].clone();
        assert!(viewed.is_string(), "{backend:?}: {r}");
        let r = api.gql(1, &page("connectionRequests", "")).await;
        let inbox = &r["data"]["me"]["connectionRequests"];
        assert_eq!(inbox["count"], 2, "{backend:?}: {r}");
        assert_eq!(inbox["results"][1]["id"], "22");
        assert_eq!(inbox["results"][1]["viewed"], viewed);
        let r = api.gql(2, &page("connectionRequestsSent", "")).await;
        let sent_by_2 = &r["data"]["me"]["connectionRequestsSent"];
        assert_eq!(sent_by_2["count"], 1, "{backend:?}: {r}");
        assert!(sent_by_2["results"][0]["rejected"].is_string(), "{r}");
        assert_eq!(
            sent_by_2["results"][0]["toUser"],
            json!({"id": "1", "connectionStatus": "SENT_CONNECTION_REQUEST"})
        );
    }
}

#[tokio::test]
async fn mutations_over_get_run_nothing() {
    for db in TestDb::all("graphql_lifecycle_get").await {
        let backend = db.backend;
        let store = &db.store;
        load(store, 2, &[], &[], vec![]).await;
        let api = Api::new(store).await;
        let get = |params: Vec<(&'static str, String)>| {
            api.request("GET", "/graphql", Some(&jwt(1)))
                .query(&params)
                .header("Accept", "application/graphql-response+json")
                .send()
        };

        let query = mutation("requestConnection", "2");
        let response = get(vec![("query", query.clone())]).await.unwrap();
        assert_eq!(response.status(), 405, "{backend:?}");
        assert_eq!(response.headers()["allow"], "POST", "{backend:?}");
        assert_eq!(pair(store, 1, 2).await, (false, vec![]), "{backend:?}: ran");
        assert_eq!(rest_status(&api, 1, 2).await, Value::Null);

        // A persisted mutation: registered by POST (which runs it), withdrawn over REST, then
        // sent by hash over GET: refused, and it does not run again.
        let query = format!("mutation Persisted {{ requestConnection(userId: \"2\") {PAYLOAD} }}");
        let hash = format!("{:x}", Sha256::digest(query.as_bytes()));
        let extensions = json!({"persistedQuery": {"version": 1, "sha256Hash": hash}});
        let response = api
            .request("POST", "/graphql", Some(&jwt(1)))
            .json(&json!({"query": query, "extensions": extensions}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{backend:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(errors(&body), [], "{backend:?}: {body}");
        assert_eq!(
            body["data"]["requestConnection"]["user"]["connectionStatus"],
            "SENT_CONNECTION_REQUEST"
        );
        rest_act(&api, 1, 2, "connection/cancel_request").await;
        assert_eq!(pair(store, 1, 2).await, (false, vec![]), "{backend:?}");

        let response = get(vec![("extensions", extensions.to_string())])
            .await
            .unwrap();
        assert_eq!(response.status(), 405, "{backend:?}");
        let response = get(vec![
            ("extensions", extensions.to_string()),
            ("operationName", "Persisted".to_string()),
        ])
        .await
        .unwrap();
        assert_eq!(response.status(), 405, "{backend:?}");
        assert_eq!(pair(store, 1, 2).await, (false, vec![]), "{backend:?}: ran");
        assert_eq!(rest_status(&api, 1, 2).await, Value::Null, "{backend:?}");
    }
}
