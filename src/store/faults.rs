//! What a database error means for the client, on each backend.
//!
//! - `Unavailable`: the database is not there right now (no connection, a connection broken or
//!   closed by a shutdown, out of connections or resources, a server not in the state a
//!   statement needs, such as recovery). The request may succeed later:
//!   503 with `Retry-After`.
//! - `Conflict`: the statement lost a race with another transaction (deadlock, serialization
//!   failure, lock wait timeout, a busy SQLite file). Worth one immediate retry; if it fails
//!   again, 503 as well.
//! - `Other`: a bug or a broken invariant: 500, cause logged.

use std::future::Future;

use sea_orm::sqlx;
use sea_orm::{DbErr, RuntimeErr};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    Unavailable,
    Conflict,
    Other,
}

/// Runs `op`, and once more when it fails with a `Conflict`: a deadlock or a serialization
/// failure is the database asking the client to try again, and the second try almost always
/// wins. A second conflict is returned (and answered 503 by `ApiError`).
pub async fn retry_once<T, F, Fut>(mut op: F) -> Result<T, DbErr>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, DbErr>>,
{
    match op().await {
        Err(err) if classify(&err) == Fault::Conflict => {
            tracing::debug!(error = %err, "retrying after a conflict");
            op().await
        }
        other => other,
    }
}

/// The fault `err` is.
pub fn classify(err: &DbErr) -> Fault {
    match err {
        DbErr::ConnectionAcquire(_) => Fault::Unavailable,
        DbErr::Conn(RuntimeErr::SqlxError(e))
        | DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e)) => classify_sqlx(e),
        // A connection-level failure sea-orm reports in its own words.
        DbErr::Conn(_) => Fault::Unavailable,
        _ => Fault::Other,
    }
}

fn classify_sqlx(err: &sqlx::Error) -> Fault {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => Fault::Unavailable,
        // The server closed the connection mid-protocol (e.g. a shutdown between two messages).
        sqlx::Error::Protocol(_) => Fault::Unavailable,
        sqlx::Error::Database(db) => classify_database(db.as_ref()),
        _ => Fault::Other,
    }
}

fn classify_database(err: &dyn sqlx::error::DatabaseError) -> Fault {
    if let Some(mysql) = err.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        return mysql_fault(mysql.number());
    }
    if err
        .try_downcast_ref::<sqlx::sqlite::SqliteError>()
        .is_some()
    {
        // Extended result codes carry the primary code in their low byte.
        let code = err.code().and_then(|c| c.parse::<i32>().ok()).unwrap_or(0);
        return sqlite_fault(code & 0xff);
    }
    match err.code() {
        Some(state) => postgres_fault(&state),
        None => Fault::Other,
    }
}

/// PostgreSQL SQLSTATEs (Appendix A of its manual).
fn postgres_fault(state: &str) -> Fault {
    match state {
        // serialization_failure, deadlock_detected
        "40001" | "40P01" => Fault::Conflict,
        // lock_not_available: a lock timeout (`lock_timeout`, or the import's swap holding
        // the tables a moment longer); lost a race, so worth a retry like a deadlock.
        "55P03" => Fault::Conflict,
        // object_not_in_prerequisite_state: the server is not in the state the statement
        // needs, a state it passes through rather than a bug of the statement. Against this
        // service it is recovery: `pg_current_wal_lsn()` on a "primary" that is still a
        // standby (a failover, before the promotion) answers "recovery is in progress".
        // Not retried at once (a promotion takes longer than a round trip): 503.
        "55000" => Fault::Unavailable,
        // admin_shutdown, crash_shutdown, cannot_connect_now, query_canceled (statement timeout)
        "57P01" | "57P02" | "57P03" | "57014" => Fault::Unavailable,
        // class 08: connection exception; class 53: insufficient resources (53300
        // too_many_connections among them); class 58: system error (I/O)
        s if s.starts_with("08") || s.starts_with("53") || s.starts_with("58") => {
            Fault::Unavailable
        }
        _ => Fault::Other,
    }
}

/// MySQL/MariaDB error numbers.
fn mysql_fault(number: u16) -> Fault {
    match number {
        // ER_LOCK_WAIT_TIMEOUT, ER_LOCK_DEADLOCK
        1205 | 1213 => Fault::Conflict,
        // ER_CON_COUNT_ERROR (too many connections), ER_SERVER_SHUTDOWN, ER_CONNECTION_KILLED,
        // client errors CR_CONNECTION_ERROR, CR_CONN_HOST_ERROR, CR_SERVER_GONE_ERROR,
        // CR_SERVER_LOST, and the idle-disconnect notice ER_CLIENT_INTERACTION_TIMEOUT
        1040 | 1053 | 1927 | 2002 | 2003 | 2006 | 2013 | 4031 => Fault::Unavailable,
        _ => Fault::Other,
    }
}

/// SQLite primary result codes: SQLITE_BUSY, SQLITE_LOCKED (beyond the busy timeout).
fn sqlite_fault(primary: i32) -> Fault {
    match primary {
        5 | 6 => Fault::Conflict,
        _ => Fault::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_states() {
        for state in [
            "57P01", "57P02", "57P03", "08006", "08001", "53300", "53200", "57014", "55000",
        ] {
            assert_eq!(postgres_fault(state), Fault::Unavailable, "{state}");
        }
        for state in ["40001", "40P01", "55P03"] {
            assert_eq!(postgres_fault(state), Fault::Conflict, "{state}");
        }
        for state in ["23505", "42P01", "22P02"] {
            assert_eq!(postgres_fault(state), Fault::Other, "{state}");
        }
    }

    #[test]
    fn mysql_numbers() {
        for n in [1040, 1053, 2002, 2003, 2006, 2013] {
            assert_eq!(mysql_fault(n), Fault::Unavailable, "{n}");
        }
        assert_eq!(mysql_fault(1205), Fault::Conflict);
        assert_eq!(mysql_fault(1213), Fault::Conflict);
        assert_eq!(mysql_fault(1062), Fault::Other);
    }

    #[test]
    fn sqlite_codes() {
        assert_eq!(sqlite_fault(5), Fault::Conflict);
        assert_eq!(sqlite_fault(517 & 0xff), Fault::Conflict);
        assert_eq!(sqlite_fault(6), Fault::Conflict);
        assert_eq!(sqlite_fault(19), Fault::Other);
    }

    /// A database error with a SQLSTATE, as a PostgreSQL server would send it.
    #[derive(Debug)]
    struct State(&'static str);

    impl std::fmt::Display for State {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "SQLSTATE {}", self.0)
        }
    }

    impl std::error::Error for State {}

    impl sqlx::error::DatabaseError for State {
        fn message(&self) -> &str {
            self.0
        }
        fn code(&self) -> Option<std::borrow::Cow<'_, str>> {
            Some(self.0.into())
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> sqlx::error::ErrorKind {
            sqlx::error::ErrorKind::Other
        }
    }

    fn db_error(state: &'static str) -> DbErr {
        DbErr::Exec(RuntimeErr::SqlxError(sqlx::Error::Database(Box::new(
            State(state),
        ))))
    }

    /// `retry_once` over a statement that fails with `errors` in turn, then succeeds: the
    /// result and how many times it ran.
    async fn run(errors: &[&'static str]) -> (Result<u32, DbErr>, usize) {
        let calls = std::cell::Cell::new(0);
        let result = retry_once(|| {
            let call = calls.get();
            calls.set(call + 1);
            async move {
                match errors.get(call) {
                    Some(state) => Err(db_error(state)),
                    None => Ok(7),
                }
            }
        })
        .await;
        (result, calls.get())
    }

    #[tokio::test]
    async fn a_conflict_is_retried_once() {
        assert_eq!(classify(&db_error("40P01")), Fault::Conflict);
        assert_eq!(classify(&db_error("57P01")), Fault::Unavailable);
        let (result, calls) = run(&["40P01"]).await;
        assert_eq!((result.ok(), calls), (Some(7), 2));
        let (result, calls) = run(&["40001", "40001"]).await;
        assert!(result.is_err());
        assert_eq!(calls, 2, "a second conflict is answered, not retried again");
        let (result, calls) = run(&["57P01"]).await;
        assert!(result.is_err());
        assert_eq!(calls, 1, "an unavailable database is not retried at once");
        let (result, calls) = run(&[]).await;
        assert_eq!((result.ok(), calls), (Some(7), 1));
    }
}
