//! `sqlite-floor --db FILE --spec SPEC.json [--threads N] [--duration S] [--warmup S]
//!               [--verify] [--profile S]`
//!
//! SPEC.json: `{"statements": [{"sql": "SELECT ... ? ...", "params": [1, 63232, true, ...]}, ...]}`
//! — the statements the server ran for one request (taken from its SQL trace), with the values
//! it bound. One "transaction" = every statement once, in order, each row stepped and each
//! column read (as the server decodes them). Prints one JSON object on stdout.
//!
//! `--verify`: run the statements once and print their row counts.
//! `--profile S`: one thread, S seconds per statement, mean time of each statement.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::{params_from_iter, Connection, OpenFlags};
use serde_json::{json, Value};

struct Stmt {
    sql: String,
    params: Vec<SqlValue>,
}

fn to_sql(v: &Value) -> SqlValue {
    match v {
        Value::Null => SqlValue::Null,
        // sqlx binds a bool as an INTEGER 0/1 on SQLite; so does this.
        Value::Bool(b) => SqlValue::Integer(*b as i64),
        Value::Number(n) => match n.as_i64() {
            Some(i) => SqlValue::Integer(i),
            None => SqlValue::Real(n.as_f64().unwrap_or(0.0)),
        },
        Value::String(s) => SqlValue::Text(s.clone()),
        other => panic!("unsupported parameter {other}"),
    }
}

fn open(db: &str) -> Connection {
    let conn = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .expect("open the database");
    // The server's pragmas (src/store/mod.rs), bar foreign_keys which reads do not need.
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    conn.pragma_update(None, "synchronous", "NORMAL").unwrap();
    conn.set_prepared_statement_cache_capacity(64);
    conn
}

/// Runs one statement, reads every column of every row; returns the row count.
fn run(conn: &Connection, s: &Stmt) -> usize {
    let mut stmt = conn.prepare_cached(&s.sql).expect("prepare");
    let ncol = stmt.column_count();
    let mut rows = stmt.query(params_from_iter(s.params.iter())).expect("query");
    let mut n = 0usize;
    let mut sink = 0usize;
    while let Some(row) = rows.next().expect("step") {
        for i in 0..ncol {
            sink += match row.get_ref(i).expect("column") {
                ValueRef::Null => 0,
                ValueRef::Integer(v) => v as usize & 1,
                ValueRef::Real(_) => 1,
                ValueRef::Text(t) => t.len(),
                ValueRef::Blob(b) => b.len(),
            };
        }
        n += 1;
    }
    std::hint::black_box(sink);
    n
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut db, mut spec) = (String::new(), String::new());
    let (mut threads, mut duration, mut warmup) = (1usize, 10f64, 0f64);
    let (mut verify, mut profile) = (false, 0f64);
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--db" => db = val(),
            "--spec" => spec = val(),
            "--threads" => threads = val().parse().expect("--threads N"),
            "--duration" => duration = val().parse().expect("--duration S"),
            "--warmup" => warmup = val().parse().expect("--warmup S"),
            "--verify" => verify = true,
            "--profile" => profile = val().parse().expect("--profile S"),
            "--version" => {
                println!("{}", rusqlite::version());
                return;
            }
            _ => panic!("unknown argument {a}"),
        }
    }
    let spec: Value =
        serde_json::from_str(&std::fs::read_to_string(&spec).expect("read spec")).expect("spec");
    let stmts: Arc<Vec<Stmt>> = Arc::new(
        spec["statements"]
            .as_array()
            .expect("statements")
            .iter()
            .map(|s| Stmt {
                sql: s["sql"].as_str().expect("sql").to_string(),
                params: s["params"].as_array().expect("params").iter().map(to_sql).collect(),
            })
            .collect(),
    );

    if verify {
        let conn = open(&db);
        let rows: Vec<usize> = stmts.iter().map(|s| run(&conn, s)).collect();
        println!("{}", json!({"sqlite_version": rusqlite::version(), "rows": rows}));
        return;
    }
    if profile > 0.0 {
        let conn = open(&db);
        let mut out = Vec::new();
        for s in stmts.iter() {
            let (start, mut n) = (Instant::now(), 0u64);
            while start.elapsed().as_secs_f64() < profile {
                run(&conn, s);
                n += 1;
            }
            out.push(start.elapsed().as_secs_f64() * 1000.0 / n as f64);
        }
        println!("{}", json!({"mean_ms": out}));
        return;
    }

    let stop = Arc::new(AtomicBool::new(false));
    let measuring = Arc::new(AtomicBool::new(warmup <= 0.0));
    let barrier = Arc::new(Barrier::new(threads + 1));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (db, stmts, stop, measuring, barrier) = (
                db.clone(),
                stmts.clone(),
                stop.clone(),
                measuring.clone(),
                barrier.clone(),
            );
            std::thread::spawn(move || {
                let conn = open(&db);
                for s in stmts.iter() {
                    run(&conn, s); // prepare + cache every statement before the clock starts
                }
                barrier.wait();
                let mut lat: Vec<u64> = Vec::with_capacity(1 << 16);
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    for s in stmts.iter() {
                        run(&conn, s);
                    }
                    // Only transactions that end inside the measured window count.
                    if measuring.load(Ordering::Relaxed) && !stop.load(Ordering::Relaxed) {
                        lat.push(t.elapsed().as_micros() as u64);
                    }
                }
                lat
            })
        })
        .collect();
    barrier.wait();
    if warmup > 0.0 {
        std::thread::sleep(Duration::from_secs_f64(warmup));
        measuring.store(true, Ordering::Relaxed);
    }
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(duration));
    stop.store(true, Ordering::Relaxed);
    let elapsed = start.elapsed().as_secs_f64();
    let mut all: Vec<u64> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
    all.sort_unstable();
    let tx = all.len();
    println!(
        "{}",
        json!({
            "tx": tx,
            "duration_s": elapsed,
            "tps": tx as f64 / elapsed,
            "p50_us": percentile(&all, 50.0),
            "p99_us": percentile(&all, 99.0),
            "max_us": all.last().copied().unwrap_or(0),
            "mean_us": if tx > 0 { all.iter().sum::<u64>() as f64 / tx as f64 } else { 0.0 },
        })
    );
}
