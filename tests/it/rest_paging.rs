//! Property: walking a list page by page through `next` visits every connection exactly once,
//! in the spec's order (mutual first, newest first, then id) for
//! random graphs, viewers, filters and page sizes. The expected order is computed here from the
//! generated graph, independently of the server's SQL.

use crate::common;

use std::collections::{BTreeSet, HashSet};

use crate::common::TestDb;
use proptest::prelude::*;
use serde_json::{json, Value};

#[derive(Debug, Clone)]
struct Graph {
    users: i64,
    /// (a, b, connected_at seconds): few distinct instants, so ties on time are common.
    edges: Vec<(i64, i64, i64)>,
}

fn graph() -> impl Strategy<Value = Graph> {
    (3i64..25).prop_flat_map(|users| {
        prop::collection::vec((1..=users, 1..=users, 0i64..6), 0..120).prop_map(move |raw| {
            let mut seen = HashSet::new();
            let edges = raw
                .into_iter()
                .filter(|(a, b, _)| a != b && seen.insert((*a.min(b), *a.max(b))))
                .collect();
            Graph { users, edges }
        })
    })
}

fn file_json(g: &Graph) -> String {
    let users: Vec<Value> = (1..=g.users)
        .map(|id| common::plain_user(id, &[]))
        .collect();
    let connections = common::timed_connections(&g.edges);
    json!({"settings": {}, "tags": [], "users": users, "connections": connections,
           "connection_requests": [], "access_tokens": []})
    .to_string()
}

fn friends(g: &Graph, user: i64) -> Vec<(i64, i64)> {
    g.edges
        .iter()
        .filter_map(|(a, b, t)| match user {
            u if u == *a => Some((*b, *t)),
            u if u == *b => Some((*a, *t)),
            _ => None,
        })
        .collect()
}

/// The spec's order, computed from the graph.
fn expected(g: &Graph, target: i64, viewer: Option<i64>, mutual: Option<bool>) -> Vec<i64> {
    let viewer_friends: BTreeSet<i64> = viewer
        .map(|v| friends(g, v).into_iter().map(|(f, _)| f).collect())
        .unwrap_or_default();
    let mut list: Vec<(bool, i64, i64)> = friends(g, target)
        .into_iter()
        .map(|(f, t)| (viewer_friends.contains(&f), t, f))
        .filter(|(m, _, _)| mutual.is_none_or(|want| *m == want))
        .collect();
    list.sort_by(|x, y| y.0.cmp(&x.0).then(y.1.cmp(&x.1)).then(x.2.cmp(&y.2)));
    list.into_iter().map(|(_, _, f)| f).collect()
}

async fn walk(client: &reqwest::Client, first: String, token: Option<&str>) -> (Vec<i64>, u64) {
    let mut url = Some(first);
    let mut seen = Vec::new();
    let mut count = None;
    let mut pages = 0;
    while let Some(current) = url {
        pages += 1;
        assert!(pages < 500, "next links loop");
        let mut request = client.get(&current);
        if let Some(token) = token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        let body: Value = request.send().await.unwrap().json().await.unwrap();
        let this_count = body["count"].as_u64().unwrap();
        assert_eq!(
            *count.get_or_insert(this_count),
            this_count,
            "count changes between pages"
        );
        seen.extend(
            body["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["id"].as_i64().unwrap()),
        );
        url = body["next"].as_str().map(str::to_string);
    }
    (seen, count.unwrap_or(0))
}

#[test]
fn walking_next_visits_each_connection_once_in_order() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dbs = runtime.block_on(TestDb::all("walking_next"));
    for db in &dbs {
        let base = runtime.block_on(common::serve(db.store.clone()));
        let client = reqwest::Client::new();
        let config = ProptestConfig {
            cases: if db.backend == common::Backend::Sqlite {
                24
            } else {
                8
            },
            ..ProptestConfig::default()
        };
        proptest!(config, |(g in graph(), target_pick in 0usize..100, viewer_pick in 0usize..100,
                            limit in 1u64..7, mutual_pick in 0u8..3)| {
            let target = 1 + (target_pick as i64 % g.users);
            let viewer = (viewer_pick % 3 != 0).then(|| 1 + (viewer_pick as i64 % g.users));
            let mutual = [None, Some(true), Some(false)][mutual_pick as usize];
            let want = expected(&g, target, viewer, mutual);
            let (seen, count) = runtime.block_on(async {
                let file = community_gateway::datafile::parse(file_json(&g).as_bytes()).unwrap();
                community_gateway::bulk::import(&db.store, &file).await.unwrap();
                let token = viewer.map(|v| community_gateway::auth::issue_jwt(v, 600, common::TEST_SECRET.as_bytes()).unwrap());
                let filter = match mutual { None => String::new(), Some(true) => "&mutual=1".into(), Some(false) => "&mutual=0".into() };
                walk(&client, format!("{base}/api/v2/user/{target}/connections/?limit={limit}{filter}"), token.as_deref()).await
            });
            prop_assert_eq!(count as usize, want.len());
            prop_assert_eq!(seen, want, "{:?} target {} viewer {:?} mutual {:?} limit {}", db.backend, target, viewer, mutual, limit);
        });
    }
}
