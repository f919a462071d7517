//! An import replaces the community while readers page through it: no reader fails, the
//! import succeeds, the pages then show the new community, and the schema is the one a fresh
//! migration makes (nothing left behind, nothing renamed). One function call per backend.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use community_gateway::bulk;
use community_gateway::datafile;
use community_gateway::datafile::Community;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::Value;

use crate::common::{serve, Backend, TestDb};

const USERS: u64 = 3000;
const READERS: usize = 4;
/// Readers stop after this long even if the import hangs (the test then fails).
const READ_FOR_AT_MOST: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_import_under_read_load() {
    import_under_read_load(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mysql_import_under_read_load() {
    import_under_read_load(Backend::MySql).await;
}

/// Every user's friends.
fn friends(community: &Community) -> HashMap<i64, HashSet<i64>> {
    let mut friends: HashMap<i64, HashSet<i64>> = HashMap::new();
    for connection in &community.connections {
        let [a, b] = connection.users;
        friends.entry(a).or_default().insert(b);
        friends.entry(b).or_default().insert(a);
    }
    friends
}

/// (status, body) of the first connections page of `user`.
async fn page(client: &reqwest::Client, base: &str, user: i64) -> (u16, String) {
    let response = client
        .get(format!("{base}/api/v2/user/{user}/connections/?limit=20"))
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

async fn import_under_read_load(backend: Backend) {
    let test = "import_under_read_load";
    let Some(db) = TestDb::new(backend, test).await else {
        return;
    };
    let old = datafile::validate(datafile::synthetic(USERS, 20, 1)).unwrap();
    let new = datafile::validate(datafile::synthetic(USERS, 20, 2)).unwrap();
    bulk::import(&db.store, &old).await.unwrap();
    let base = serve(db.store.clone()).await;

    let (old_friends, new_friends) = (friends(&old), friends(&new));
    let degree =
        |friends: &HashMap<i64, HashSet<i64>>, id: i64| friends.get(&id).map_or(0, |f| f.len());
    // Users whose number of friends differs, so a page tells the communities apart.
    let probes: Vec<i64> = new
        .users
        .iter()
        .map(|user| user.id)
        .filter(|&id| degree(&old_friends, id) != degree(&new_friends, id))
        .take(40)
        .collect();
    assert!(probes.len() >= 10, "the two communities are too alike");

    if backend == Backend::MySql {
        // Left behind by an import that died: must not stop the next one.
        db.store
            .connection()
            .execute_unprepared("CREATE TABLE users__import (id BIGINT)")
            .await
            .unwrap();
    }

    let stop = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    for reader in 0..READERS {
        let (base, stop, probes) = (base.clone(), stop.clone(), probes.clone());
        readers.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let started = Instant::now();
            let (mut answered, mut failures) = (0usize, Vec::new());
            let mut next = reader;
            while !stop.load(Ordering::Relaxed) && started.elapsed() < READ_FOR_AT_MOST {
                let user = probes[next % probes.len()];
                next += READERS;
                let (status, body) = page(&client, &base, user).await;
                answered += 1;
                if status != 200 {
                    failures.push(format!("user {user}: {status} {body}"));
                }
            }
            (answered, failures)
        }));
    }
    // Let the readers get going before the import starts.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let imported = bulk::import(&db.store, &new).await;
    stop.store(true, Ordering::Relaxed);
    let mut answered = 0;
    for reader in readers {
        let (count, failures) = reader.await.unwrap();
        assert!(
            failures.is_empty(),
            "{backend:?}: readers failed: {failures:?}"
        );
        answered += count;
    }
    let report = imported.unwrap_or_else(|err| panic!("{backend:?}: import failed: {err:#}"));
    assert_eq!(report.users, new.users.len());
    assert!(
        answered > READERS,
        "{backend:?}: the readers hardly ran ({answered})"
    );

    let client = reqwest::Client::new();
    for &user in &probes {
        let (status, body) = page(&client, &base, user).await;
        assert_eq!(status, 200, "{body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        let expected = &new_friends[&user];
        assert_eq!(
            body["count"].as_u64(),
            Some(expected.len() as u64),
            "user {user}"
        );
        for friend in body["results"].as_array().unwrap() {
            let id = friend["id"].as_i64().unwrap();
            assert!(
                expected.contains(&id),
                "user {user}: {id} is no friend in the new community"
            );
        }
    }

    let fresh = TestDb::new(backend, test).await.unwrap();
    assert_eq!(
        catalogue(&db).await,
        catalogue(&fresh).await,
        "{backend:?}: the schema after an import differs from a fresh migration's"
    );
}

/// Every table and index definition, as the database prints it.
/// `SHOW CREATE TABLE` text without its ` AUTO_INCREMENT=N` table option.
fn strip_auto_increment(definition: &str) -> String {
    match definition.find(" AUTO_INCREMENT=") {
        Some(start) => {
            let rest = &definition[start + 1..];
            let end = rest.find(' ').map_or(definition.len(), |e| start + 1 + e);
            format!("{}{}", &definition[..start], &definition[end..])
        }
        None => definition.to_string(),
    }
}

async fn catalogue(db: &TestDb) -> Vec<String> {
    let conn = db.store.connection();
    let backend = conn.get_database_backend();
    match db.backend {
        Backend::Sqlite => conn
            .query_all(Statement::from_string(
                backend,
                "SELECT type || ' ' || name || ': ' || coalesce(sql, '') AS def \
                 FROM sqlite_master ORDER BY type, name",
            ))
            .await
            .unwrap()
            .into_iter()
            .map(|row| row.try_get::<String>("", "def").unwrap())
            .collect(),
        Backend::MySql => {
            let tables: Vec<String> = conn
                .query_all(Statement::from_string(
                    backend,
                    "SELECT CAST(table_name AS CHAR) AS name FROM information_schema.tables \
                     WHERE table_schema = DATABASE() ORDER BY 1",
                ))
                .await
                .unwrap()
                .into_iter()
                .map(|row| row.try_get::<String>("", "name").unwrap())
                .collect();
            let mut definitions = Vec::new();
            for table in tables {
                let row = conn
                    .query_one(Statement::from_string(
                        backend,
                        format!("SHOW CREATE TABLE `{table}`"),
                    ))
                    .await
                    .unwrap()
                    .unwrap();
                let definition = row.try_get::<String>("", "Create Table").unwrap();
                // The change table's next id is whatever the writes so far took.
                definitions.push(strip_auto_increment(&definition));
            }
            // The change-feed triggers, which an import must give the new tables.
            let triggers = conn
                .query_all(Statement::from_string(
                    backend,
                    "SELECT CONCAT(trigger_name, ' ', action_timing, ' ', event_manipulation, \
                     ' ON ', event_object_table, ': ', action_statement) AS def \
                     FROM information_schema.triggers WHERE trigger_schema = DATABASE() \
                     ORDER BY trigger_name",
                ))
                .await
                .unwrap();
            assert!(!triggers.is_empty(), "the change-feed triggers exist");
            definitions.extend(
                triggers
                    .into_iter()
                    .map(|row| row.try_get::<String>("", "def").unwrap()),
            );
            definitions
        }
        // PostgreSQL: tests/it/import_swap.rs, and the catalogue check in tests/it/community.rs.
        Backend::Postgres => unreachable!("the PostgreSQL case is in import_swap.rs"),
    }
}
