//! `User.friends`, the Relay connection (`docs/cursors.md`), over GraphQL on a served app, on
//! every backend, with the graph cache on and off:
//!
//! - the Relay Cursor Connections Specification's rules: `pageInfo` by its algorithm for
//!   `first`/`after` and `last`/`before`, the first and last pages, an empty list, both cursors
//!   at once, the cut to the maximum, and the arguments it forbids;
//! - cursors name their list: used on another owner's list, for another viewer or under another
//!   `mutual` filter, they are refused (BAD_USER_INPUT, saying which);
//! - stability: a walk through a hub's list while other clients add and remove its connections
//!   between the fetches returns no user twice, misses none that was there through the whole
//!   walk, and keeps the API's order.

use std::collections::HashSet;

use crate::common::{self, api::Api, jwt, plain_user, TestDb};
use serde_json::{json, Value};

/// The hub whose list is walked.
const HUB: i64 = 1;
/// A viewer connected to some of the hub's connections (their mutual ones come first).
const VIEWER: i64 = 2;
/// Users 3..=FRIENDS+2 are the hub's connections; the users after them are not, and join.
const FRIENDS: i64 = 20;
const USERS: i64 = FRIENDS + 12;
/// A user with no connections.
const LONER: i64 = USERS;

/// The community: the hub connected to users 3..=22, a connection a minute apart with every
/// fifth one tied with the one before it (ties are broken by id); the viewer connected to the
/// hub and to the hub's connections with an id divisible by 3.
async fn community(db: &TestDb) {
    let mut connections = Vec::new();
    for (i, friend) in (3..FRIENDS + 3).enumerate() {
        let minute = i as i64 - (i as i64) / 5;
        connections.push(json!({"users": [HUB, friend],
            "connected_at": format!("2024-03-01T10:{minute:02}:00Z")}));
        if friend % 3 == 0 {
            connections
                .push(json!({"users": [VIEWER, friend], "connected_at": "2024-02-01T00:00:00Z"}));
        }
    }
    connections.push(json!({"users": [HUB, VIEWER], "connected_at": "2024-01-01T00:00:00Z"}));
    let file = json!({"settings": {}, "tags": [],
        "users": (1..=USERS).map(|id| plain_user(id, &[])).collect::<Vec<_>>(),
        "connections": connections, "connection_requests": [], "access_tokens": []});
    common::import_json(&db.store, &file).await;
}

/// The configurations each test serves: the graph cache on, and off. Served one after the
/// other (`serve_app`), not side by side: a store's writes wait for the cache of the last app
/// served on it (one app per store, as in production), so an app served later would take
/// the first one's read-your-writes away.
fn configs() -> Vec<(&'static str, community_gateway::config::Config)> {
    vec![
        (
            "cache",
            community_gateway::config::Config::with_secret(common::TEST_SECRET),
        ),
        ("sql", common::sql_only_config()),
    ]
}

async fn serve_app(db: &TestDb, config: community_gateway::config::Config) -> Api {
    Api {
        http: reqwest::Client::new(),
        base: common::serve_with(db.store.clone(), config).await,
    }
}

async fn query(api: &Api, viewer: Option<i64>, query: &str) -> Value {
    let token = viewer.map(jwt);
    api.gql_token(token.as_deref(), query).await
}

/// `friends(args)` of `owner`: the connection, or the errors.
async fn friends(api: &Api, viewer: Option<i64>, owner: i64, args: &str) -> Result<Value, Value> {
    let args = match args {
        "" => String::new(),
        a => format!("({a})"),
    };
    let body = query(
        api,
        viewer,
        &format!(
            r#"{{ user(id: "{owner}") {{ friends{args} {{ totalCount
                pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }}
                edges {{ cursor connectedAt isMutual node {{ id username }} }} nodes {{ id }} }} }} }}"#
        ),
    )
    .await;
    match body.get("errors") {
        Some(errors) => Err(errors.clone()),
        None => Ok(body["data"]["user"]["friends"].clone()),
    }
}

/// The ids of a connection's edges (checked against its `nodes`).
fn ids(connection: &Value) -> Vec<String> {
    let edges: Vec<String> = connection["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap().to_string())
        .collect();
    let nodes: Vec<String> = connection["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(edges, nodes, "nodes are the edges' nodes");
    edges
}

fn cursors(connection: &Value) -> Vec<String> {
    connection["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["cursor"].as_str().unwrap().to_string())
        .collect()
}

/// The whole list by `connections` (the offset pages): the order `friends` must keep.
async fn whole_list(api: &Api, viewer: Option<i64>, owner: i64, mutual: &str) -> Vec<String> {
    let body = query(
        api,
        viewer,
        &format!(r#"{{ user(id: "{owner}") {{ connections(limit: 100{mutual}) {{ results {{ id }} }} }} }}"#),
    )
    .await;
    body["data"]["user"]["connections"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

fn page_info(connection: &Value) -> (bool, bool) {
    let info = &connection["pageInfo"];
    (
        info["hasPreviousPage"].as_bool().unwrap(),
        info["hasNextPage"].as_bool().unwrap(),
    )
}

/// Walks the whole list `k` at a time forward (`first`/`after`) or backward (`last`/`before`),
/// checking each page's `pageInfo` on the way; returns the ids in the API's order.
async fn walk(
    api: &Api,
    viewer: Option<i64>,
    owner: i64,
    k: usize,
    backward: bool,
    mutual: &str,
) -> Vec<String> {
    let mut walked: Vec<String> = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let args = match (&cursor, backward) {
            (None, false) => format!("first: {k}{mutual}"),
            (Some(c), false) => format!(r#"first: {k}, after: "{c}"{mutual}"#),
            (None, true) => format!("last: {k}{mutual}"),
            (Some(c), true) => format!(r#"last: {k}, before: "{c}"{mutual}"#),
        };
        let page = friends(api, viewer, owner, &args).await.expect("a page");
        let (previous, next) = page_info(&page);
        let got = ids(&page);
        let edge_cursors = cursors(&page);
        assert_eq!(
            page["pageInfo"]["startCursor"].as_str(),
            edge_cursors.first().map(String::as_str)
        );
        assert_eq!(
            page["pageInfo"]["endCursor"].as_str(),
            edge_cursors.last().map(String::as_str)
        );
        match backward {
            false => {
                // Forward: hasPreviousPage says whether edges precede `after`.
                assert_eq!(previous, cursor.is_some() && !walked.is_empty(), "{args}");
                walked.extend(got);
                if !next {
                    return walked;
                }
                cursor = page["pageInfo"]["endCursor"].as_str().map(str::to_string);
            }
            true => {
                assert_eq!(next, cursor.is_some() && !walked.is_empty(), "{args}");
                walked.splice(0..0, got);
                if !previous {
                    return walked;
                }
                cursor = page["pageInfo"]["startCursor"].as_str().map(str::to_string);
            }
        }
    }
    panic!("the walk did not end");
}

#[tokio::test]
async fn friends_follows_the_relay_spec() {
    for db in TestDb::all("friends_relay").await {
        community(&db).await;
        for (app, config) in configs() {
            let api = serve_app(&db, config).await;
            let case = |what: &str| format!("{:?}/{app}: {what}", db.backend);
            for viewer in [None, Some(VIEWER), Some(HUB)] {
                for mutual in ["", ", mutual: true", ", mutual: false"] {
                    let want = whole_list(&api, viewer, HUB, mutual).await;
                    for k in [1, 3, 7, 100] {
                        for backward in [false, true] {
                            let walked = walk(&api, viewer, HUB, k, backward, mutual).await;
                            assert_eq!(
                                walked,
                                want,
                                "{}",
                                case(&format!("{viewer:?} {mutual} k={k} backward={backward}"))
                            );
                        }
                    }
                }
            }

            // The first and the last page, and everything at once.
            let first = friends(&api, Some(VIEWER), HUB, "first: 5").await.unwrap();
            assert_eq!(page_info(&first), (false, true), "{}", case("first page"));
            assert_eq!(
                first["totalCount"],
                json!(FRIENDS + 1),
                "{}",
                case("totalCount")
            );
            let all = friends(&api, Some(VIEWER), HUB, "first: 100")
                .await
                .unwrap();
            assert_eq!(page_info(&all), (false, false), "{}", case("everything"));
            let last = friends(&api, Some(VIEWER), HUB, "last: 5").await.unwrap();
            assert_eq!(page_info(&last), (true, false), "{}", case("last page"));
            assert_eq!(ids(&last), ids(&all)[ids(&all).len() - 5..].to_vec());
            // Neither first nor last: the default page size (20).
            let default = friends(&api, Some(VIEWER), HUB, "").await.unwrap();
            assert_eq!(
                ids(&default),
                ids(&all)[..20].to_vec(),
                "{}",
                case("default size")
            );

            // The mutual ones first, and flagged.
            let mutual: Vec<bool> = all["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["isMutual"].as_bool().unwrap())
                .collect();
            let mutuals = mutual.iter().filter(|m| **m).count();
            assert!(
                mutuals > 0 && mutual[..mutuals].iter().all(|m| *m),
                "{}",
                case("mutual first")
            );
            let times: Vec<&str> = all["edges"].as_array().unwrap()[mutuals..]
                .iter()
                .map(|e| e["connectedAt"].as_str().unwrap())
                .collect();
            assert!(
                times.windows(2).all(|w| w[0] >= w[1]),
                "{}",
                case("newest first")
            );

            // Both cursors: the edges strictly between them.
            let c = cursors(&all);
            let between = friends(
                &api,
                Some(VIEWER),
                HUB,
                &format!(r#"first: 10, after: "{}", before: "{}""#, c[2], c[6]),
            )
            .await
            .unwrap();
            assert_eq!(
                ids(&between),
                ids(&all)[3..6].to_vec(),
                "{}",
                case("between")
            );
            assert_eq!(
                page_info(&between),
                (true, true),
                "{}",
                case("between: edges on both sides")
            );
            let between = friends(
                &api,
                Some(VIEWER),
                HUB,
                &format!(r#"last: 2, after: "{}", before: "{}""#, c[2], c[6]),
            )
            .await
            .unwrap();
            assert_eq!(
                ids(&between),
                ids(&all)[4..6].to_vec(),
                "{}",
                case("last between")
            );
            assert_eq!(
                page_info(&between),
                (true, true),
                "{}",
                case("last between")
            );

            // first: 0 lists nothing and says more follow.
            let none = friends(&api, Some(VIEWER), HUB, "first: 0").await.unwrap();
            assert_eq!(ids(&none), Vec::<String>::new());
            assert_eq!(none["pageInfo"]["startCursor"], Value::Null);
            assert_eq!(page_info(&none), (false, true), "{}", case("first: 0"));

            // An empty list.
            let empty = friends(&api, Some(VIEWER), LONER, "first: 5")
                .await
                .unwrap();
            assert_eq!(empty["totalCount"], json!(0));
            assert_eq!(page_info(&empty), (false, false), "{}", case("empty"));
            assert_eq!(empty["pageInfo"]["startCursor"], Value::Null);
            assert_eq!(empty["pageInfo"]["endCursor"], Value::Null);
            let empty = friends(&api, Some(VIEWER), LONER, "last: 5").await.unwrap();
            assert_eq!(page_info(&empty), (false, false), "{}", case("empty, last"));
        }
    }
}

#[tokio::test]
async fn first_and_last_are_cut_to_the_maximum() {
    let Some(db) = TestDb::new(common::Backend::Sqlite, "friends_max").await else {
        return;
    };
    community(&db).await;
    let mut config = community_gateway::config::Config::with_secret(common::TEST_SECRET);
    config.max_limit = 4;
    let api = Api {
        http: reqwest::Client::new(),
        base: common::serve_with(db.store.clone(), config).await,
    };
    for args in ["first: 1000", "last: 1000"] {
        let page = friends(&api, Some(VIEWER), HUB, args).await.unwrap();
        assert_eq!(ids(&page).len(), 4, "{args}");
    }
}

/// `(code, message)` of the only error.
fn refusal(errors: Value) -> (String, String) {
    assert_eq!(errors.as_array().map(Vec::len), Some(1), "{errors}");
    (
        errors[0]["extensions"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        errors[0]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

#[tokio::test]
async fn arguments_the_spec_forbids_and_foreign_cursors_are_refused() {
    for db in TestDb::all("friends_refused").await {
        community(&db).await;
        let api = Api::new(&db.store).await;
        let hub_page = friends(&api, Some(VIEWER), HUB, "first: 2").await.unwrap();
        let cursor = cursors(&hub_page)[1].clone();
        let anonymous = cursors(&friends(&api, None, HUB, "first: 2").await.unwrap())[1].clone();
        let mutual_only = cursors(
            &friends(&api, Some(VIEWER), HUB, "first: 2, mutual: true")
                .await
                .unwrap(),
        )[1]
        .clone();
        let others = cursors(&friends(&api, Some(VIEWER), 3, "first: 1").await.unwrap())[0].clone();
        let cases: Vec<(Option<i64>, i64, String, &str)> = vec![
            (
                Some(VIEWER),
                HUB,
                "first: 2, last: 2".into(),
                "first and last cannot be used together",
            ),
            (
                Some(VIEWER),
                HUB,
                "first: -1".into(),
                "first must not be negative",
            ),
            (
                Some(VIEWER),
                HUB,
                "last: -3".into(),
                "last must not be negative",
            ),
            (
                Some(VIEWER),
                HUB,
                r#"after: "not a cursor""#.into(),
                "after is not a cursor of this API",
            ),
            (
                Some(VIEWER),
                HUB,
                r#"before: "eDE6MToyOmE6MToxOjI""#.into(),
                "before is not a cursor of this API (or of an older version",
            ),
            (
                Some(VIEWER),
                HUB,
                r#"after: "ZjE6MTp4OmE6MToxOjI""#.into(),
                "after is a malformed cursor",
            ),
            (
                Some(VIEWER),
                HUB,
                format!(r#"after: "{others}""#),
                "after is a cursor of another user's friends",
            ),
            (
                Some(VIEWER),
                HUB,
                format!(r#"after: "{anonymous}""#),
                "after is a cursor of this list as another viewer sees it",
            ),
            (
                None,
                HUB,
                format!(r#"before: "{cursor}""#),
                "before is a cursor of this list as another viewer sees it",
            ),
            (
                Some(VIEWER),
                HUB,
                format!(r#"after: "{mutual_only}""#),
                "after is a cursor of this list under another mutual filter",
            ),
            (
                Some(VIEWER),
                HUB,
                format!(r#"after: "{cursor}", mutual: false"#),
                "after is a cursor of this list under another mutual filter",
            ),
        ];
        for (viewer, owner, args, message) in cases {
            let errors = friends(&api, viewer, owner, &args).await.expect_err(&args);
            let (code, said) = refusal(errors);
            assert_eq!(code, "BAD_USER_INPUT", "{:?}: {args}", db.backend);
            assert!(
                said.starts_with(message),
                "{:?}: {args}: {said}",
                db.backend
            );
        }
        // Its own list takes it.
        let next = friends(
            &api,
            Some(VIEWER),
            HUB,
            &format!(r#"first: 2, after: "{cursor}""#),
        )
        .await
        .unwrap();
        assert_eq!(ids(&next).len(), 2);
    }
}

/// Adds a connection between `a` and `b` now (a request and its acceptance).
async fn connect(api: &Api, a: i64, b: i64) {
    let (status, body) = api.act(a, b, "connection/request").await;
    assert!(status.is_success(), "{status} {body}");
    let (status, body) = api.act(b, a, "connection/accept").await;
    assert!(status.is_success(), "{status} {body}");
}

async fn disconnect(api: &Api, a: i64, b: i64) {
    let (status, body) = api.act(a, b, "connection/remove").await;
    assert!(status.is_success(), "{status} {body}");
}

/// What another client does to the hub's list between two fetches of a walk.
#[derive(Clone, Copy, Debug)]
enum Change {
    /// A new connection (the newest: at the top of its part).
    Join,
    /// The connection at the walk's cursor goes.
    RemoveCursor,
    /// A connection not walked yet goes (`pick` among them).
    RemoveAhead(usize),
    /// A connection already walked goes.
    RemoveBehind(usize),
    /// A removed connection comes back (as a new one).
    Rejoin(usize),
}

fn change() -> impl proptest::strategy::Strategy<Value = Change> {
    use proptest::prelude::*;
    prop_oneof![
        Just(Change::Join),
        Just(Change::RemoveCursor),
        any::<usize>().prop_map(Change::RemoveAhead),
        any::<usize>().prop_map(Change::RemoveBehind),
        any::<usize>().prop_map(Change::Rejoin),
    ]
}

/// Applies `change` (the viewer's own connections never change: that would move connections
/// between the mutual part and the rest, which `docs/cursors.md` leaves out of the guarantee).
async fn apply(api: &Api, change: Change, walk: &mut Walk) {
    let current = whole_list(api, Some(VIEWER), HUB, "").await;
    let not_viewer = |id: &&String| **id != VIEWER.to_string();
    let remove = |id: &String| id.parse::<i64>().unwrap();
    match change {
        Change::Join if walk.joined < LONER => {
            connect(api, walk.joined, HUB).await;
            walk.joined += 1;
        }
        Change::RemoveCursor => {
            if let Some(last) = walk
                .walked
                .last()
                .filter(|id| current.contains(id))
                .cloned()
            {
                if last != VIEWER.to_string() {
                    disconnect(api, HUB, remove(&last)).await;
                    walk.removed.push(last);
                }
            }
        }
        Change::RemoveAhead(pick) | Change::RemoveBehind(pick) => {
            let behind = matches!(change, Change::RemoveBehind(_));
            let candidates: Vec<&String> = current
                .iter()
                .filter(not_viewer)
                .filter(|id| walk.walked.contains(id) == behind)
                .collect();
            if let Some(id) = candidates.get(pick % candidates.len().max(1)) {
                let id = (*id).clone();
                disconnect(api, HUB, remove(&id)).await;
                walk.removed.push(id);
            }
        }
        Change::Rejoin(pick) => {
            let gone: Vec<&String> = walk
                .removed
                .iter()
                .filter(|id| !current.contains(id))
                .collect();
            if let Some(id) = gone.get(pick % gone.len().max(1)) {
                let id: i64 = id.parse().unwrap();
                connect(api, id, HUB).await;
            }
        }
        Change::Join => {}
    }
}

/// A walk in progress.
struct Walk {
    walked: Vec<String>,
    /// Every connection removed during the walk (some may have come back).
    removed: Vec<String>,
    joined: i64,
}

/// Property: a walk through the hub's list (`first: k, after: …`) while another client adds
/// and removes connections between the fetches returns no user twice, misses none that was
/// there through the whole walk, and lists them in the API's order; on every backend, with
/// the cache on and off.
#[test]
fn a_walk_stays_put_while_the_list_changes() {
    use proptest::prelude::*;
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let dbs = runtime.block_on(TestDb::all("friends_stable"));
    for db in &dbs {
        for (app, app_config) in configs() {
            let cases = ProptestConfig {
                cases: 6,
                failure_persistence: None,
                ..ProptestConfig::default()
            };
            let api = runtime.block_on(serve_app(db, app_config));
            proptest!(cases, |(k in 1usize..6, changes in proptest::collection::vec(change(), 1..12))| {
                let failure = runtime.block_on(async {
                    // Each case walks the community as imported.
                    community(db).await;
                    let before = whole_list(&api, Some(VIEWER), HUB, "").await;
                    let mut walk = Walk { walked: Vec::new(), removed: Vec::new(), joined: FRIENDS + 3 };
                    let mut cursor: Option<String> = None;
                    let mut next_change = changes.iter().cycle();
                    for _ in 0..200 {
                        let args = match &cursor {
                            None => format!("first: {k}"),
                            Some(c) => format!(r#"first: {k}, after: "{c}""#),
                        };
                        let page = friends(&api, Some(VIEWER), HUB, &args).await.unwrap();
                        walk.walked.extend(ids(&page));
                        if !page_info(&page).1 {
                            break;
                        }
                        cursor = page["pageInfo"]["endCursor"].as_str().map(str::to_string);
                        if let Some(change) = next_change.next() {
                            apply(&api, *change, &mut walk).await;
                        }
                    }
                    let case = format!("{:?}/{app}, k={k}, {changes:?}", db.backend);
                    let unique: HashSet<&String> = walk.walked.iter().collect();
                    if unique.len() != walk.walked.len() {
                        return Some(format!("{case}: a user came twice: {:?}", walk.walked));
                    }
                    let throughout: Vec<&String> = before.iter().filter(|id| !walk.removed.contains(id)).collect();
                    if let Some(missed) = throughout.iter().find(|id| !walk.walked.contains(id)) {
                        return Some(format!("{case}: {missed} was there all along and was missed: {:?}", walk.walked));
                    }
                    let walked_throughout: Vec<&String> = walk.walked.iter().filter(|id| throughout.contains(id)).collect();
                    if walked_throughout != throughout {
                        return Some(format!("{case}: out of order: {:?}", walk.walked));
                    }
                    None
                });
                prop_assert!(failure.is_none(), "{}", failure.unwrap_or_default());
            });
        }
    }
}

#[tokio::test]
async fn events_carry_the_edge_to_splice_in_and_the_id_to_drop() {
    use crate::common::socket::Socket;
    for db in TestDb::all("friends_events").await {
        community(&db).await;
        let api = Api::new(&db.store).await;
        // The subscriber asks a user it is not connected with; that user accepts.
        let (subscriber, other) = (LONER, 3);
        let mut socket = Socket::of(&api.base, subscriber).await;
        socket
            .send(json!({"type": "subscribe", "id": "s", "payload": {"query":
                "subscription { connectionEvents { kind removedId \
                 edge { cursor connectedAt isMutual node { id } } } }"}}))
            .await;
        socket.send(json!({"type": "ping"})).await;
        assert_eq!(socket.expect_json().await["type"], "pong");
        connect(&api, subscriber, other).await;
        let event = socket.event("s").await;
        assert_eq!(event["kind"], "ACCEPTED", "{:?}", db.backend);
        assert_eq!(event["removedId"], Value::Null);
        // The edge is the subscriber's list's own: the same cursor, time and node as a fetch.
        let list = friends(&api, Some(subscriber), subscriber, "first: 1")
            .await
            .unwrap();
        let mut fetched = list["edges"][0].clone();
        fetched["node"] = json!({"id": fetched["node"]["id"]});
        assert_eq!(event["edge"], fetched, "{:?}", db.backend);
        assert_eq!(event["edge"]["node"]["id"], json!(other.to_string()));
        // A page after the event's cursor continues after it: here, nothing.
        let cursor = event["edge"]["cursor"].as_str().unwrap();
        let after = friends(
            &api,
            Some(subscriber),
            subscriber,
            &format!(r#"after: "{cursor}""#),
        )
        .await
        .unwrap();
        assert_eq!(ids(&after), Vec::<String>::new());

        disconnect(&api, other, subscriber).await;
        let event = socket.event("s").await;
        assert_eq!(event["kind"], "REMOVED", "{:?}", db.backend);
        assert_eq!(event["removedId"], json!(other.to_string()));
        assert_eq!(event["edge"], Value::Null);
    }
}

#[tokio::test]
async fn node_fetches_users_tags_and_requests_by_global_id() {
    for db in TestDb::all("friends_node").await {
        common::import_example(&db.store).await;
        let api = Api::new(&db.store).await;
        let body = api
            .gql(1, r#"{ me { nodeId id tags { nodeId id } connectionRequests { results { nodeId id } } } }"#)
            .await;
        let me = &body["data"]["me"];
        let user_node = me["nodeId"].as_str().unwrap().to_string();
        let fetched = api
            .gql(
                1,
                &format!(
                    r#"{{ node(id: "{user_node}") {{ __typename nodeId ... on User {{ id }} }} }}"#
                ),
            )
            .await;
        assert_eq!(
            fetched["data"]["node"],
            json!({"__typename": "User", "nodeId": user_node, "id": me["id"]}),
            "{:?}",
            db.backend
        );
        {
            let tag = &me["tags"][0];
            assert!(tag.is_object(), "the example's user 1 has tags: {body}");
            let fetched = api
                .gql(
                    1,
                    &format!(
                        r#"{{ node(id: "{}") {{ __typename ... on Tag {{ id }} }} }}"#,
                        tag["nodeId"].as_str().unwrap()
                    ),
                )
                .await;
            assert_eq!(
                fetched["data"]["node"],
                json!({"__typename": "Tag", "id": tag["id"]})
            );
        }
        if let Some(request) = me["connectionRequests"]["results"]
            .as_array()
            .and_then(|r| r.first())
        {
            let id = request["nodeId"].as_str().unwrap();
            let query = format!(
                r#"{{ node(id: "{id}") {{ __typename ... on ConnectionRequest {{ id toUser {{ id }} }} }} }}"#
            );
            let mine = api.gql(1, &query).await;
            assert_eq!(
                mine["data"]["node"]["id"], request["id"],
                "{:?}: its recipient sees it",
                db.backend
            );
            // Nobody but its two users sees a request; anonymous, nobody.
            let outsider = api.gql(6, &query).await;
            assert_eq!(outsider["data"]["node"], Value::Null, "{:?}", db.backend);
            let anonymous = api.gql_token(None, &query).await;
            assert_eq!(anonymous["data"]["node"], Value::Null, "{:?}", db.backend);
        }
        // nodes: in order, null for what names nothing.
        let nobody = community_gateway_global_id("User:999999");
        let listed = api
            .gql(
                1,
                &format!(r#"{{ nodes(ids: ["{user_node}", "{nobody}"]) {{ nodeId }} }}"#),
            )
            .await;
        assert_eq!(
            listed["data"]["nodes"],
            json!([{"nodeId": user_node}, null])
        );
        // Not a global id: BAD_USER_INPUT, saying what one is.
        let bad = api.gql(1, r#"{ node(id: "1") { nodeId } }"#).await;
        assert_eq!(
            bad["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{bad}"
        );
        assert_eq!(bad["data"]["node"], Value::Null);
    }
}

/// The global id of `text` (`Type:id`), as graphql-relay's `toGlobalId` writes it.
fn community_gateway_global_id(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// The gates of `connections` (docs/graphql.md, the spec's order: content availability, then
/// friendship mode) hold for `friends` too: under every setting, anonymous or not, `friends`
/// is refused exactly when `connections` is, with the same code and message.
#[tokio::test]
async fn friends_is_gated_as_connections_is() {
    for db in TestDb::all("friends_gates").await {
        community(&db).await;
        let api = Api::new(&db.store).await;
        for (connection_enabled, content_availability) in
            [(true, true), (false, true), (true, false), (false, false)]
        {
            common::set_settings(&db.store, connection_enabled, false, content_availability).await;
            for viewer in [None, Some(VIEWER)] {
                let error = |body: &Value| {
                    let e = &body["errors"][0];
                    (e["extensions"]["code"].clone(), e["message"].clone())
                };
                let pages = query(
                    &api,
                    viewer,
                    r#"{ user(id: "1") { connections { count } } }"#,
                )
                .await;
                let friends = query(
                    &api,
                    viewer,
                    r#"{ user(id: "1") { friends { totalCount } } }"#,
                )
                .await;
                let case = format!(
                    "{:?}: connection_enabled {connection_enabled}, content_availability \
                     {content_availability}, viewer {viewer:?}",
                    db.backend
                );
                assert_eq!(
                    error(&friends),
                    error(&pages),
                    "{case}: {friends} vs {pages}"
                );
                let refused = pages.get("errors").is_some();
                assert_eq!(
                    refused,
                    !(connection_enabled && (content_availability || viewer.is_some())),
                    "{case}: {pages}"
                );
            }
        }
    }
}
