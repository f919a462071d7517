//! Connection requests as the lifecycle sees them: an id, and a request rejected or seen.
//!
//! 1. The migration that adds `id`, `rejected_at_us` and `viewed_at_us` runs on a database
//!    that already holds requests (rows written at the previous migration): it numbers them
//!    in (created, from, to) order, keeps the change-feed triggers, makes the id unique (and
//!    NOT NULL where the backend can), and can be undone and run again.
//! 2. The refined `connection_status`: a request the viewer sent reads
//!    `sent_connection_request` whether pending or rejected; a request the viewer received
//!    reads `received_connection_request` only while pending. Checked on every read path
//!    (REST pages, GraphQL pages of one owner and of several, GraphQL `connectionStatus` of
//!    users outside a page), with the graph cache on (answers from memory) and off (SQL), on
//!    every backend; and a request rejected or un-rejected by an UPDATE shows at once.

use std::collections::BTreeMap;
use std::time::Duration;

use community_gateway::bulk::import;
use community_gateway::config::Config;
use community_gateway::datafile::{export, parse};
use community_gateway::store::Store;
use migrations::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{json, Value};

use crate::common::jwt;
use crate::common::{self, plain_user, wait_serving, Backend, TestDb, TEST_SECRET};

// ---------------------------------------------------------------------------------------
// 1. The migration
// ---------------------------------------------------------------------------------------

/// The migrations before the request model: the initial schema and the change feed.
const BEFORE_REQUEST_MODEL: u32 = 2;

async fn exec(store: &Store, sql: &str) {
    store
        .connection()
        .execute_unprepared(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// The first `columns` columns of each row of `sql`, integers or NULL.
async fn rows_of(store: &Store, sql: &str, columns: usize) -> Vec<Vec<Option<i64>>> {
    let rows = store
        .connection()
        .query_all(Statement::from_string(store.backend(), sql))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    rows.iter()
        .map(|row| {
            (0..columns)
                .map(|i| row.try_get_by_index::<Option<i64>>(i).unwrap())
                .collect()
        })
        .collect()
}

/// A `users` row at the initial schema, every column given.
fn user_row(id: i64) -> String {
    format!(
        "INSERT INTO users (id, username, real_name, avatar, ext_id, followings_counter, \
         followers_counter, posts_counter, discussions_counter, polls_counter, \
         categories_counter, date_joined_us, bio, location, location_lat_lng, position_lat_lng, \
         date_of_birth, description, gender, website, cover, reputation, community_badge, \
         reg_approved, deleted, company_name, company_role) VALUES ({id}, 'u{id}', '', NULL, \
         NULL, 0, 0, 0, 0, 0, 0, 0, '', '', NULL, NULL, NULL, '', 'Unspecified', '', NULL, 0, \
         FALSE, TRUE, FALSE, '', '')"
    )
}

const REQUESTS_BY_ID: &str = "SELECT id, from_user_id, to_user_id, rejected_at_us, viewed_at_us \
                              FROM connection_requests ORDER BY id";

/// The rows the migration must give: (id, from, to, rejected, viewed), numbered in
/// (created, from, to) order.
fn numbered() -> Vec<Vec<Option<i64>>> {
    [(1, 4, 3), (2, 1, 2), (3, 2, 1), (4, 1, 4), (5, 3, 1)]
        .iter()
        .map(|&(id, from, to)| vec![Some(id), Some(from), Some(to), None, None])
        .collect()
}

async fn request_changes(store: &Store) -> i64 {
    rows_of(
        store,
        "SELECT COUNT(*) FROM graph_changes WHERE kind = 2", // kind::REQUEST
        1,
    )
    .await[0][0]
        .unwrap()
}

#[tokio::test]
async fn the_migration_numbers_existing_requests_and_keeps_the_triggers() {
    for db in TestDb::all_unmigrated("requests_migration").await {
        let backend = db.backend;
        let store = &db.store;
        Migrator::up(store.connection(), Some(BEFORE_REQUEST_MODEL))
            .await
            .unwrap();
        for id in 1..=4 {
            exec(store, &user_row(id)).await;
        }
        // Out of every order the numbering could be confused with; (1, 2) and (2, 1) tie on
        // time, as do (1, 4) and (3, 1).
        exec(
            store,
            "INSERT INTO connection_requests (from_user_id, to_user_id, created_at_us) VALUES \
             (3, 1, 200), (1, 2, 100), (2, 1, 100), (4, 3, 50), (1, 4, 200)",
        )
        .await;

        store.migrate().await.unwrap();
        assert_eq!(
            rows_of(store, REQUESTS_BY_ID, 5).await,
            numbered(),
            "{backend:?}"
        );
        // Undone (with the migrations that follow it: the request-id counter, the events, the
        // request-id sequence, the deferred NOTIFY)
        // and run again: the same numbering.
        Migrator::down(store.connection(), Some(5)).await.unwrap();
        let has_id = store
            .connection()
            .query_all(Statement::from_string(
                store.backend(),
                "SELECT id FROM connection_requests",
            ))
            .await;
        assert!(has_id.is_err(), "{backend:?}: the column is gone");
        store.migrate().await.unwrap();
        assert_eq!(
            rows_of(store, REQUESTS_BY_ID, 5).await,
            numbered(),
            "{backend:?}"
        );
        // Run once more: nothing left to do.
        store.migrate().await.unwrap();

        // The triggers still report every change, an UPDATE of the new columns included.
        let before = request_changes(store).await;
        exec(
            store,
            "UPDATE connection_requests SET rejected_at_us = 7000000, viewed_at_us = 6000000 \
             WHERE from_user_id = 3 AND to_user_id = 1",
        )
        .await;
        // Without an id where the backend hands them out (`migrations::request_ids`): the
        // next one after every stored id, 6. SQLite's writers give one (its counter row).
        exec(
            store,
            if backend == Backend::Sqlite {
                "INSERT INTO connection_requests (id, from_user_id, to_user_id, created_at_us) \
                 VALUES (6, 2, 3, 300)"
            } else {
                "INSERT INTO connection_requests (from_user_id, to_user_id, created_at_us) \
                 VALUES (2, 3, 300)"
            },
        )
        .await;
        exec(
            store,
            "DELETE FROM connection_requests WHERE from_user_id = 4 AND to_user_id = 3",
        )
        .await;
        assert_eq!(
            request_changes(store).await - before,
            4,
            "{backend:?}: an UPDATE reports the old and new row, an INSERT and a DELETE one each"
        );

        // The id is unique, and required where the backend can add NOT NULL to a column.
        let duplicate = "INSERT INTO connection_requests (id, from_user_id, to_user_id, \
                         created_at_us) VALUES (2, 3, 2, 400)";
        assert!(
            store
                .connection()
                .execute_unprepared(duplicate)
                .await
                .is_err(),
            "{backend:?}: a second request with id 2"
        );

        // The rows read as the entity says, and export as the data file says.
        let file = export(store).await.unwrap();
        let exported: Vec<_> = file
            .connection_requests
            .iter()
            .map(|r| {
                (
                    r.id.unwrap(),
                    r.from,
                    r.to,
                    r.rejected_at.clone(),
                    r.viewed_at.clone(),
                )
            })
            .collect();
        let t = |text: &str| Some(text.to_string());
        assert_eq!(
            exported,
            [
                (2, 1, 2, None, None),
                (3, 2, 1, None, None),
                (4, 1, 4, None, None),
                (
                    5,
                    3,
                    1,
                    t("1970-01-01T00:00:07Z"),
                    t("1970-01-01T00:00:06Z")
                ),
                (6, 2, 3, None, None),
            ],
            "{backend:?}"
        );
    }
}

/// An import replaces the table on PostgreSQL and MariaDB (staging tables swapped in) and
/// reloads it on SQLite: the id stays unique (and NOT NULL) afterwards.
#[tokio::test]
async fn the_id_stays_unique_after_an_import() {
    for db in TestDb::all("requests_unique_after_import").await {
        common::import_example(&db.store).await;
        let duplicate = "INSERT INTO connection_requests (id, from_user_id, to_user_id, \
                         created_at_us) VALUES (1, 3, 2, 400)";
        assert!(
            db.store
                .connection()
                .execute_unprepared(duplicate)
                .await
                .is_err(),
            "{:?}",
            db.backend
        );
        if db.backend != Backend::Sqlite {
            // The id source was raised past the file's ids: a request without one takes the
            // next id after them.
            let largest =
                common::scalar(&db.store, "SELECT MAX(id) FROM connection_requests").await;
            let without = "INSERT INTO connection_requests (from_user_id, to_user_id, \
                           created_at_us) VALUES (3, 2, 400)";
            db.store
                .connection()
                .execute_unprepared(without)
                .await
                .expect("an id from the sequence");
            let id = common::scalar(
                &db.store,
                "SELECT id FROM connection_requests WHERE from_user_id = 3 AND to_user_id = 2",
            )
            .await;
            assert_eq!(id, largest + 1, "{:?}", db.backend);
        }
    }
}

// ---------------------------------------------------------------------------------------
// 2. The refined connection status
// ---------------------------------------------------------------------------------------

/// Users 1 to 9. 8 is connected to 1..7 and 9 to 2..7, so 8's and 9's pages list the users
/// whose status towards 1 (and 1's towards them) is checked. Between 1 and:
/// - 2: 1's request, rejected by 2;
/// - 3: 3's request, rejected by 1;
/// - 4: 1's request, pending;
/// - 5: 5's request, pending (and seen);
/// - 6: 1's request pending, and 6's, rejected by 1;
/// - 7: both directions, both rejected.
fn status_community() -> Value {
    let users: Vec<Value> = (1..=9).map(|id| plain_user(id, &[])).collect();
    let mut connections = Vec::new();
    for other in 1..=7 {
        connections.push(json!({"users": [8, other], "connected_at": "2024-01-01T00:00:00Z"}));
        if other > 1 {
            connections.push(json!({"users": [9, other], "connected_at": "2024-01-02T00:00:00Z"}));
        }
    }
    let at = "2024-02-01T00:00:00Z";
    let later = "2024-02-02T00:00:00Z";
    json!({
        "settings": {},
        "tags": [],
        "users": users,
        "connections": connections,
        "connection_requests": [
            {"id": 1, "from": 1, "to": 2, "created_at": at, "rejected_at": later, "viewed_at": later},
            {"id": 2, "from": 3, "to": 1, "created_at": at, "rejected_at": later},
            {"from": 1, "to": 4, "created_at": at},
            {"from": 5, "to": 1, "created_at": at, "rejected_at": null, "viewed_at": later},
            {"from": 1, "to": 6, "created_at": at},
            {"from": 6, "to": 1, "created_at": at, "rejected_at": later},
            {"from": 7, "to": 1, "created_at": at, "rejected_at": later},
            {"from": 1, "to": 7, "created_at": at, "rejected_at": later}
        ],
        "access_tokens": []
    })
}

const SENT: &str = "sent_connection_request";
const RECEIVED: &str = "received_connection_request";

/// What each viewer must see: (viewer, listed user, status).
fn expected() -> Vec<(i64, i64, Option<&'static str>)> {
    vec![
        // Viewer 1 towards 2..7.
        (1, 2, Some(SENT)),
        (1, 3, None),
        (1, 4, Some(SENT)),
        (1, 5, Some(RECEIVED)),
        (1, 6, Some(SENT)),
        (1, 7, Some(SENT)),
        // The others towards 1.
        (2, 1, None),
        (3, 1, Some(SENT)),
        (4, 1, Some(RECEIVED)),
        (5, 1, Some(SENT)),
        (6, 1, Some(SENT)),
        (7, 1, Some(SENT)),
    ]
}

/// Statuses as REST spells them (GraphQL's enum values lower-cased).
type Statuses = BTreeMap<i64, Option<String>>;

fn status_of(value: &Value) -> Option<String> {
    value.as_str().map(str::to_lowercase)
}

/// The statuses of the users on `owner`'s REST page, for `viewer`.
async fn rest_page(client: &reqwest::Client, base: &str, owner: i64, viewer: i64) -> Statuses {
    let response = client
        .get(format!("{base}/api/v2/user/{owner}/connections/?limit=100"))
        .bearer_auth(jwt(viewer))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["id"].as_i64().unwrap(),
                status_of(&u["connection_status"]),
            )
        })
        .collect()
}

async fn graphql(client: &reqwest::Client, base: &str, viewer: i64, query: &str) -> Value {
    let response = client
        .post(format!("{base}/graphql"))
        .bearer_auth(jwt(viewer))
        .json(&json!({ "query": query }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert!(body.get("errors").is_none(), "{query}: {body}");
    body
}

/// The statuses on the GraphQL pages of `owners` (one owner: the one-owner statement; several:
/// the several-owners one), each page's listed users, for `viewer`. A user listed on several
/// pages must have one status.
async fn graphql_pages(
    client: &reqwest::Client,
    base: &str,
    owners: &[i64],
    viewer: i64,
) -> Statuses {
    let ids: Vec<String> = owners.iter().map(|o| format!("\"{o}\"")).collect();
    let query = format!(
        "{{ users(ids: [{}]) {{ connections(limit: 100) {{ results {{ id connectionStatus }} }} }} }}",
        ids.join(", ")
    );
    let body = graphql(client, base, viewer, &query).await;
    let mut statuses = Statuses::new();
    for user in body["data"]["users"].as_array().unwrap() {
        for listed in user["connections"]["results"].as_array().unwrap() {
            let id: i64 = listed["id"].as_str().unwrap().parse().unwrap();
            let status = status_of(&listed["connectionStatus"]);
            if let Some(seen) = statuses.insert(id, status.clone()) {
                assert_eq!(seen, status, "user {id} on two pages");
            }
        }
    }
    statuses
}

/// `connectionStatus` of users asked by id (not on a page), for `viewer`.
async fn graphql_users(client: &reqwest::Client, base: &str, ids: &[i64], viewer: i64) -> Statuses {
    let list: Vec<String> = ids.iter().map(|o| format!("\"{o}\"")).collect();
    let query = format!(
        "{{ users(ids: [{}]) {{ id connectionStatus }} }}",
        list.join(", ")
    );
    let body = graphql(client, base, viewer, &query).await;
    body["data"]["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["id"].as_str().unwrap().parse().unwrap(),
                status_of(&u["connectionStatus"]),
            )
        })
        .collect()
}

/// Every read path's statuses for `viewer` towards `others`, by path name.
async fn all_paths(
    client: &reqwest::Client,
    base: &str,
    viewer: i64,
    others: &[i64],
) -> Vec<(&'static str, Statuses)> {
    let only = |statuses: Statuses| -> Statuses {
        statuses
            .into_iter()
            .filter(|(id, _)| others.contains(id))
            .collect()
    };
    vec![
        ("REST page", only(rest_page(client, base, 8, viewer).await)),
        (
            "GraphQL page, one owner",
            only(graphql_pages(client, base, &[8], viewer).await),
        ),
        (
            "GraphQL pages, several owners",
            only(graphql_pages(client, base, &[8, 9], viewer).await),
        ),
        (
            "GraphQL users(ids:)",
            only(graphql_users(client, base, others, viewer).await),
        ),
    ]
}

/// Checks every path against `want` (viewer, other, status) on `base`.
async fn check_statuses(
    client: &reqwest::Client,
    base: &str,
    want: &[(i64, i64, Option<&str>)],
    what: &str,
) {
    let mut viewers: Vec<i64> = want.iter().map(|w| w.0).collect();
    viewers.dedup();
    for viewer in viewers {
        let expected: Statuses = want
            .iter()
            .filter(|w| w.0 == viewer)
            .map(|w| (w.1, w.2.map(str::to_string)))
            .collect();
        let others: Vec<i64> = expected.keys().copied().collect();
        for (path, got) in all_paths(client, base, viewer, &others).await {
            assert_eq!(got, expected, "{what}, {path}, viewer {viewer}");
        }
    }
}

fn server_config(cache: bool) -> Config {
    if cache {
        Config::with_secret(TEST_SECRET)
    } else {
        common::sql_only_config()
    }
}

#[tokio::test]
async fn a_rejected_request_still_reads_sent_for_its_sender_and_nothing_for_its_recipient() {
    let file = parse(status_community().to_string().as_bytes()).unwrap();
    let client = reqwest::Client::new();
    for db in TestDb::all("requests_status_rule").await {
        import(&db.store, &file).await.unwrap();
        let backend = db.backend;
        // Each server on a store of its own, so the cache-on server's SQL can be counted.
        let cached = common::serve_with(db.store.clone(), server_config(true)).await;
        let sql_store = Store::connect(&db.url, 4).await.unwrap();
        let sql = common::serve_with(sql_store, server_config(false)).await;
        wait_serving(&client, &cached, 1.0, Duration::from_secs(5)).await;

        check_statuses(&client, &sql, &expected(), &format!("{backend:?}, SQL")).await;
        check_statuses(
            &client,
            &cached,
            &expected(),
            &format!("{backend:?}, cache (filling)"),
        )
        .await;
        // Asked again, the cache answers from memory: what it stored is what it serves.
        let before = db.store.statement_count();
        check_statuses(
            &client,
            &cached,
            &expected(),
            &format!("{backend:?}, cache (from memory)"),
        )
        .await;
        assert_eq!(
            db.store.statement_count(),
            before,
            "{backend:?}: the second round ran SQL"
        );

        // 1 rejects 5's request, and takes back its rejection of 3's (as `reject` and
        // `cancel_reject` will): an UPDATE of the row, reported by the change feed.
        exec(
            &db.store,
            "UPDATE connection_requests SET rejected_at_us = 1717200000000000 \
             WHERE from_user_id = 5 AND to_user_id = 1",
        )
        .await;
        exec(
            &db.store,
            "UPDATE connection_requests SET rejected_at_us = NULL \
             WHERE from_user_id = 3 AND to_user_id = 1",
        )
        .await;
        db.store.settle().await;
        let changed: Vec<_> = expected()
            .into_iter()
            .map(|(viewer, other, status)| match (viewer, other) {
                (1, 5) => (1, 5, None),
                (1, 3) => (1, 3, Some(RECEIVED)),
                _ => (viewer, other, status),
            })
            .collect();
        check_statuses(&client, &sql, &changed, &format!("{backend:?}, SQL, after")).await;
        check_statuses(
            &client,
            &cached,
            &changed,
            &format!("{backend:?}, cache, after"),
        )
        .await;
    }
}

/// The status of a user outside any page goes through `Store::relations` (SQL) or the cached
/// requests (memory); with a viewer who has no connections, the cached path has no adjacency
/// of its own to lean on.
#[tokio::test]
async fn statuses_of_users_asked_by_id_follow_the_rule_with_and_without_the_cache() {
    let mut value = status_community();
    // 1 has no connection at all.
    value["connections"] = json!(value["connections"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["users"] != json!([8, 1]))
        .cloned()
        .collect::<Vec<_>>());
    let file = parse(value.to_string().as_bytes()).unwrap();
    let client = reqwest::Client::new();
    for db in TestDb::all("requests_status_by_id").await {
        import(&db.store, &file).await.unwrap();
        for cache in [false, true] {
            let base = common::serve_with(db.store.clone(), server_config(cache)).await;
            if cache {
                wait_serving(&client, &base, 1.0, Duration::from_secs(5)).await;
            }
            let want: Statuses = expected()
                .into_iter()
                .filter(|w| w.0 == 1)
                .map(|w| (w.1, w.2.map(str::to_string)))
                .collect();
            let others: Vec<i64> = want.keys().copied().collect();
            for _ in 0..2 {
                let got = graphql_users(&client, &base, &others, 1).await;
                assert_eq!(got, want, "{:?}, cache {cache}", db.backend);
            }
        }
    }
}
