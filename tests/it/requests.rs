//! Connection requests as the lifecycle sees them: an id, and a request rejected or seen.
//!
//! 1. The migration that adds `id`, `rejected_at_us` and `viewed_at_us` runs on a database
//!    that already holds requests (rows written at the previous migration): it numbers them
//!    in (created, from, to) order, keeps the change-feed triggers, makes the id unique (and
//!    NOT NULL where the backend can), and can be undone and run again.

use community_gateway::community::export;
use community_gateway::store::Store;
use migrations::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Statement};

use crate::common::{self, Backend, TestDb};

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
        // Undone and run again: the same numbering.
        Migrator::down(store.connection(), Some(1)).await.unwrap();
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
        exec(
            store,
            "INSERT INTO connection_requests (id, from_user_id, to_user_id, created_at_us) \
             VALUES (6, 2, 3, 300)",
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
        if backend != Backend::Sqlite {
            let without = "INSERT INTO connection_requests (from_user_id, to_user_id, \
                           created_at_us) VALUES (3, 2, 400)";
            assert!(
                store
                    .connection()
                    .execute_unprepared(without)
                    .await
                    .is_err(),
                "{backend:?}: a request without an id"
            );
        }

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
            let without = "INSERT INTO connection_requests (from_user_id, to_user_id, \
                           created_at_us) VALUES (3, 2, 400)";
            assert!(
                db.store
                    .connection()
                    .execute_unprepared(without)
                    .await
                    .is_err(),
                "{:?}",
                db.backend
            );
        }
    }
}
