//! Property: `Store::connection_pages` gives every owner the same page whether it is asked for
//! that owner alone or for several owners at once.
//!
//! Why: the store answers with two different SQL statements (see `src/store/pages.rs`). One
//! owner (every REST request, a top-level GraphQL page) runs the "one-owner" shape, which reads
//! the mutual set and the first `offset + limit` non-mutual connections off the index; two or
//! more owners (a nested GraphQL page, `users(ids:)`) run the "several-owners" shape, which
//! numbers each owner's list with window functions. This test keeps the two in step:
//! for random graphs with pending requests, random viewers (anonymous, one of the owners, any
//! user), random sets of 2..=5 owners (some with no connections, one possibly not a user at all)
//! and random pages (limit, offset, `mutual` filter), each owner's `count` and `rows` (user
//! records and the viewer's `connected` / `sent_request` / `received_request` relation) must be
//! equal, in the same order, between `connection_pages(viewer, &owners, spec)` and
//! `connection_pages(viewer, &[owner], spec)`; and read without records, each gives the same
//! ids, relations and counts. An owner absent from the several-owners map
//! equals a one-owner page with count 0 and no rows.
//!
//! Independently of the SQL, each one-owner count is checked against the number of the owner's
//! connections under the filter, computed from the generated graph (mutual: also a connection of
//! the viewer).

use crate::common;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Instant;

use crate::common::TestDb;
use community_gateway::store::{
    ConnectionPageRows, Direction, EdgeKey, Keyset, PageRow, PageSpec, Relation, UserRecord,
};
use proptest::prelude::*;
use serde_json::{json, Value};

/// Users without connections at the end of the id range, so that owners with none are common.
const ISOLATED: i64 = 1;

#[derive(Debug, Clone)]
struct Graph {
    users: i64,
    /// (a, b, connected_at seconds): few distinct instants, so ties on time are common.
    edges: Vec<(i64, i64, i64)>,
    /// Pending requests (from, to) between users who are not connected, at most one per
    /// ordered pair.
    requests: Vec<(i64, i64)>,
}

#[derive(Debug, Clone)]
struct Case {
    graph: Graph,
    viewer: Option<i64>,
    /// Distinct, in random order; may name the id past the last user (no such user).
    owners: Vec<i64>,
    spec: PageSpec,
}

fn case() -> impl Strategy<Value = Case> {
    // Few users for many edges: lists long enough to page through, and mutual connections.
    (ISOLATED + 4..16)
        .prop_flat_map(|users| {
            let linked = users - ISOLATED;
            let ids: Vec<i64> = (1..=users + 1).collect();
            (
                Just(users),
                prop::collection::vec((1..=linked, 1..=linked, 0i64..6), 0..120),
                // Requests between any two users, and requests sent (true) or received by
                // the viewer, so that the viewer's relations to listed users get exercised.
                prop::collection::vec((1..=users, 1..=users), 0..30),
                prop::collection::vec((1..=users, any::<bool>()), 0..20),
                prop::sample::subsequence(ids, 2..=5).prop_shuffle(),
                (0u8..3, any::<prop::sample::Index>()),
                (
                    1u64..=8,
                    // Mostly small offsets, so that most pages have rows; sometimes past the end.
                    prop_oneof![4 => 0u64..=2, 1 => 0u64..=12],
                    0u8..3,
                ),
            )
        })
        .prop_map(
            |(
                users,
                raw_edges,
                raw_requests,
                viewer_requests,
                owners,
                (viewer_kind, viewer_pick),
                (limit, offset, mutual_pick),
            )| {
                let viewer = match viewer_kind {
                    0 => None,
                    1 => Some(*viewer_pick.get(&owners)),
                    _ => Some(1 + viewer_pick.index(users as usize) as i64),
                };
                let mut pairs = HashSet::new();
                let edges: Vec<(i64, i64, i64)> = raw_edges
                    .into_iter()
                    .filter(|(a, b, _)| a != b && pairs.insert((*a.min(b), *a.max(b))))
                    .collect();
                let with_viewer = viewer_requests.into_iter().filter_map(|(other, sent)| {
                    // The viewer may be the id past the last user: no requests then.
                    let v = viewer.filter(|v| *v <= users)?;
                    Some(if sent { (v, other) } else { (other, v) })
                });
                let mut seen = HashSet::new();
                let requests = raw_requests
                    .into_iter()
                    .chain(with_viewer)
                    .filter(|(from, to)| {
                        from != to
                            && !pairs.contains(&(*from.min(to), *from.max(to)))
                            && seen.insert((*from, *to))
                    })
                    .collect();
                Case {
                    graph: Graph {
                        users,
                        edges,
                        requests,
                    },
                    viewer,
                    owners,
                    spec: PageSpec::offset(
                        limit,
                        offset,
                        [None, Some(true), Some(false)][mutual_pick as usize],
                    ),
                }
            },
        )
}

fn file_json(g: &Graph) -> String {
    let users: Vec<Value> = (1..=g.users)
        .map(|id| common::plain_user(id, &[]))
        .collect();
    let connections = common::timed_connections(&g.edges);
    let requests: Vec<Value> = g
        .requests
        .iter()
        .map(|(from, to)| json!({"from": from, "to": to, "created_at": "2024-03-02T12:00:00Z"}))
        .collect();
    json!({"settings": {}, "tags": [], "users": users, "connections": connections,
           "connection_requests": requests, "access_tokens": []})
    .to_string()
}

fn friends(g: &Graph, user: i64) -> BTreeSet<i64> {
    g.edges
        .iter()
        .filter_map(|(a, b, _)| match user {
            u if u == *a => Some(*b),
            u if u == *b => Some(*a),
            _ => None,
        })
        .collect()
}

/// The number of `owner`'s connections under the filter, computed from the graph.
fn expected_count(g: &Graph, owner: i64, viewer: Option<i64>, mutual: Option<bool>) -> u64 {
    let viewer_friends = viewer.map(|v| friends(g, v)).unwrap_or_default();
    friends(g, owner)
        .into_iter()
        .filter(|f| mutual.is_none_or(|want| viewer_friends.contains(f) == want))
        .count() as u64
}

/// A page in comparable form (the store's page types have no `PartialEq`); an absent page is
/// count 0 and no rows.
type Shape = (u64, Vec<(i64, Option<UserRecord>, Relation)>);

fn shape(page: Option<&ConnectionPageRows>) -> Shape {
    page.map(|p| {
        (
            p.count,
            p.rows
                .iter()
                .map(|r| (r.id, r.user.as_deref().cloned(), r.relation))
                .collect(),
        )
    })
    .unwrap_or_default()
}

/// The same page read without records: the same ids, relations and count, and no records.
fn without_records(mut shape: Shape) -> Shape {
    for row in &mut shape.1 {
        row.1 = None;
    }
    shape
}

#[test]
fn several_owners_pages_equal_one_owner_pages() {
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let dbs = runtime.block_on(TestDb::all("page_shapes"));
    for db in &dbs {
        let started = Instant::now();
        let cases = 24;
        let config = ProptestConfig {
            cases,
            failure_persistence: None,
            ..ProptestConfig::default()
        };
        proptest!(config, |(case in case())| {
            let Case { graph: g, viewer, owners, spec } = &case;
            let (several, several_lean, single) = runtime.block_on(async {
                let file = community_gateway::datafile::parse(file_json(g).as_bytes())
                    .expect("generated community parses");
                community_gateway::bulk::import(&db.store, &file)
                    .await
                    .expect("generated community imports");
                let several = db
                    .store
                    .connection_pages(*viewer, owners, *spec, true)
                    .await
                    .expect("several-owners pages");
                let several_lean = db
                    .store
                    .connection_pages(*viewer, owners, *spec, false)
                    .await
                    .expect("several-owners pages without records");
                let mut single = HashMap::new();
                for owner in owners {
                    let pages = db
                        .store
                        .connection_pages(*viewer, &[*owner], *spec, true)
                        .await
                        .expect("one-owner page");
                    let lean = db
                        .store
                        .connection_pages(*viewer, &[*owner], *spec, false)
                        .await
                        .expect("one-owner page without records");
                    single.insert(*owner, (pages, lean));
                }
                (several, several_lean, single)
            });
            let extra: Vec<&i64> = several.keys().filter(|k| !owners.contains(k)).collect();
            prop_assert!(extra.is_empty(), "{:?}: pages for owners not asked for: {:?}", db.backend, extra);
            for owner in owners {
                let (alone, alone_lean) = &single[owner];
                prop_assert!(
                    alone.keys().all(|k| k == owner),
                    "{:?}: one-owner call for {} answered for {:?}", db.backend, owner, alone.keys()
                );
                let alone = shape(alone.get(owner));
                for (id, user, _) in &alone.1 {
                    prop_assert_eq!(user.as_ref().map(|u| u.id), Some(*id));
                }
                prop_assert_eq!(
                    shape(alone_lean.get(owner)),
                    without_records(alone.clone()),
                    "{:?}: one-owner page without records, owner {}, viewer {:?}, {:?}", db.backend, owner, viewer, spec
                );
                prop_assert_eq!(
                    shape(several_lean.get(owner)),
                    without_records(alone.clone()),
                    "{:?}: several-owners page without records, owner {} of {:?}, viewer {:?}, {:?}", db.backend, owner, owners, viewer, spec
                );
                prop_assert_eq!(
                    alone.0,
                    expected_count(g, *owner, *viewer, spec.mutual),
                    "{:?}: one-owner count of owner {}, viewer {:?}, {:?}", db.backend, owner, viewer, spec
                );
                prop_assert_eq!(
                    shape(several.get(owner)),
                    alone,
                    "{:?}: owner {} of {:?}, viewer {:?}, {:?}", db.backend, owner, owners, viewer, spec
                );
            }
        });
        eprintln!(
            "page_shapes on {:?}: {} cases in {:.2?}",
            db.backend,
            cases,
            started.elapsed()
        );
    }
}

/// Property: a keyset page (a Relay cursor page, `friends`) is the slice of the whole list
/// (the offset statement's page of everything) that lies on its side of its place, the `limit`
/// nearest it: for places on listed connections, on places that list nothing (a removed
/// connection's, between two, past the ends) and from either end, both ways, on the one-owner
/// keyset statement and (from either end) the several-owners one; with the same count, and
/// `beyond` exactly when the list holds something at the place or past it.
#[test]
fn keyset_pages_are_slices_of_the_whole_list() {
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let dbs = runtime.block_on(TestDb::all("keyset_shapes"));
    for db in &dbs {
        let config = ProptestConfig {
            cases: 16,
            failure_persistence: None,
            ..ProptestConfig::default()
        };
        proptest!(config, |(case in case(), pick in 0usize..64, nudge in 0usize..5)| {
            let Case { graph: g, viewer, owners, spec } = &case;
            let checked = runtime.block_on(async {
                let file = community_gateway::datafile::parse(file_json(g).as_bytes())
                    .expect("generated community parses");
                community_gateway::bulk::import(&db.store, &file)
                    .await
                    .expect("generated community imports");
                let store = &db.store;
                let mut failures = Vec::new();
                for owner in owners {
                    let whole = store
                        .connection_pages(*viewer, &[*owner], PageSpec::offset(1_000, 0, spec.mutual), true)
                        .await
                        .expect("whole list");
                    let whole = whole.get(owner).cloned().unwrap_or_default();
                    let keys: Vec<EdgeKey> = whole.rows.iter().map(|r| r.key()).collect();
                    // A listed place, or one nudged off it (listing nothing), or an end.
                    let mut places = vec![None];
                    if let Some(key) = keys.get(pick % keys.len().max(1)) {
                        let (dt, did) = [(0, 0), (0, 1), (0, -1), (1, 0), (-1, 0)][nudge];
                        places.push(Some(EdgeKey {
                            connected_at_us: key.connected_at_us + dt,
                            id: key.id + did,
                            ..*key
                        }));
                    }
                    for from in places {
                        for direction in [Direction::Forward, Direction::Backward] {
                            let keyset = PageSpec {
                                keyset: Some(Keyset {
                                    direction,
                                    from,
                                    counted: true,
                                }),
                                ..PageSpec::offset(spec.limit, 0, spec.mutual)
                            };
                            let got = store
                                .connection_pages(*viewer, &[*owner], keyset, true)
                                .await
                                .expect("keyset page");
                            let got = got.get(owner).cloned().unwrap_or_default();
                            let side = |k: &EdgeKey| match (from, direction) {
                                (None, _) => true,
                                (Some(f), Direction::Forward) => f.order(k).is_lt(),
                                (Some(f), Direction::Backward) => k.order(&f).is_lt(),
                            };
                            let on_side: Vec<&PageRow> =
                                whole.rows.iter().filter(|r| side(&r.key())).collect();
                            let n = spec.limit as usize;
                            let want: Vec<&PageRow> = match direction {
                                Direction::Forward => on_side.iter().take(n).copied().collect(),
                                Direction::Backward => on_side[on_side.len().saturating_sub(n)..].to_vec(),
                            };
                            let shape_of = |rows: &[&PageRow]| -> Vec<(i64, i64, Option<UserRecord>, Relation)> {
                                rows.iter()
                                    .map(|r| (r.id, r.connected_at_us, r.user.as_deref().cloned(), r.relation))
                                    .collect()
                            };
                            let got_rows: Vec<&PageRow> = got.rows.iter().collect();
                            let context = format!(
                                "{:?}: owner {owner}, viewer {viewer:?}, {keyset:?}", db.backend
                            );
                            if shape_of(&got_rows) != shape_of(&want) {
                                failures.push(format!("{context}: rows {:?}, want {:?}",
                                    got.rows.iter().map(|r| r.id).collect::<Vec<_>>(),
                                    want.iter().map(|r| r.id).collect::<Vec<_>>()));
                            }
                            if got.count != whole.count {
                                failures.push(format!("{context}: count {} want {}", got.count, whole.count));
                            }
                            let beyond = from.is_some() && on_side.len() < whole.rows.len();
                            if got.beyond != beyond {
                                failures.push(format!("{context}: beyond {} want {beyond}", got.beyond));
                            }
                            // From an end, the several-owners statement reads the same rows.
                            if from.is_none() && owners.len() > 1 {
                                let several = store
                                    .connection_pages(*viewer, owners, keyset, true)
                                    .await
                                    .expect("several-owners keyset page");
                                let theirs = several.get(owner).cloned().unwrap_or_default();
                                let theirs: Vec<&PageRow> = theirs.rows.iter().collect();
                                if shape_of(&theirs) != shape_of(&want) {
                                    failures.push(format!("{context}: several owners {:?}, want {:?}",
                                        theirs.iter().map(|r| r.id).collect::<Vec<_>>(),
                                        want.iter().map(|r| r.id).collect::<Vec<_>>()));
                                }
                            }
                        }
                    }
                }
                failures
            });
            prop_assert!(checked.is_empty(), "{}", checked.join("\n"));
        });
    }
}

/// A page batch may list up to 100,000 users, whose tags are read in one call: on MySQL, past
/// its 65,535 placeholders, the call must split the list (and merge the answers).
#[tokio::test]
async fn tags_for_more_users_than_mysql_can_bind() {
    for db in TestDb::all("tags_for_many_users").await {
        common::import_example(&db.store).await;
        let users: Vec<i64> = (1..=50).collect();
        let expected = db.store.visible_tags(&users).await.expect("tags");
        assert!(
            !expected.is_empty(),
            "the example community has tagged users"
        );
        // The real users among 70,000 ids, most of which name nobody.
        let many: Vec<i64> = (1..=70_000).collect();
        let got = db
            .store
            .visible_tags(&many)
            .await
            .expect("tags of 70,000 ids");
        assert_eq!(
            got.keys().collect::<std::collections::BTreeSet<_>>(),
            expected.keys().collect(),
            "{:?}",
            db.backend
        );
        for (user, tags) in &expected {
            assert_eq!(&got[user], tags, "{:?}: tags of user {user}", db.backend);
        }
    }
}
