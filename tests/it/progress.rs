//! The progress of `seed`, `export` and `import` as an operator reads it off a terminal (CI,
//! a pipe): one line per phase, in order, each with the number of rows or records it handled,
//! and nothing else but the summary; `--quiet` prints no progress (errors still print);
//! `LOG_FORMAT=json` makes every line of standard error a JSON object. The binary itself is
//! run with its standard error a pipe, so these are the paths `main` takes.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::common::{Backend, TestDb};

const BINARY: &str = env!("CARGO_BIN_EXE_community-gateway");

/// A finished phase's line: `command: phase [N unit] in S.SS s [(R unit/s)]`.
#[derive(Debug, PartialEq)]
struct PhaseLine {
    phase: String,
    count: Option<(u64, String)>,
}

/// Reads `line` as a phase line of `command`, or None when it is not one. Strict: a line in
/// any other form is None, so a change of the form fails the tests that expect lines.
fn phase_line(command: &str, line: &str) -> Option<PhaseLine> {
    let rest = line.strip_prefix(command)?.strip_prefix(": ")?;
    let (head, tail) = rest.split_once(" in ")?;
    let words: Vec<&str> = head.split(' ').collect();
    let (phase, count) = match words.as_slice() {
        [phase] => (phase.to_string(), None),
        [phase, n, unit] => (phase.to_string(), Some((n.parse().ok()?, unit.to_string()))),
        _ => return None,
    };
    let (secs, rate) = match tail.split_once(" s") {
        Some((secs, rate)) => (secs, rate),
        None => return None,
    };
    let (whole, decimals) = secs.split_once('.')?;
    if whole.is_empty()
        || decimals.len() != 2
        || !whole
            .chars()
            .chain(decimals.chars())
            .all(|c| c.is_ascii_digit())
    {
        return None;
    }
    match &count {
        None if rate.is_empty() => {}
        Some((_, unit)) => {
            let per = rate
                .strip_prefix(" (")?
                .strip_suffix(&format!(" {unit}/s)"))?;
            per.parse::<u64>().ok()?;
        }
        None => return None,
    }
    Some(PhaseLine { phase, count })
}

/// Runs the binary on `url` with `args`, standard output and error piped, no `RUST_LOG`.
fn run(url: &str, args: &[&str], json: bool) -> Output {
    run_logging(url, args, json, None)
}

/// `run` with `RUST_LOG` set to `rust_log` (unset: None).
fn run_logging(url: &str, args: &[&str], json: bool, rust_log: Option<&str>) -> Output {
    let mut command = Command::new(BINARY);
    command
        .args(args)
        .env("DATABASE_URL", url)
        .env("LOG_FORMAT", if json { "json" } else { "plain" });
    match rust_log {
        Some(filter) => command.env("RUST_LOG", filter),
        None => command.env_remove("RUST_LOG"),
    };
    command.output().expect("run the binary")
}

/// The migrator's own log lines ("Applying all pending migrations", "No pending
/// migrations"), which every command that opens the database writes at INFO: the one kind of
/// line besides the progress and the summary that these commands print.
fn migrator_log(line: &str) -> bool {
    line.contains(" INFO sea_orm_migration::migrator: ")
}

fn stderr_lines(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .map(str::to_string)
        .collect()
}

/// The phases of `command` in `lines`, in order; panics on a line that is neither a phase
/// line nor `summary` (when given), so nothing else slips into the output.
fn phases(command: &str, lines: &[String], summary: Option<&str>) -> Vec<PhaseLine> {
    let mut phases = Vec::new();
    for line in lines {
        if let Some(phase) = phase_line(command, line) {
            phases.push(phase);
        } else if summary.is_some_and(|s| line.starts_with(s)) || migrator_log(line) {
            continue;
        } else {
            panic!("unexpected line on stderr: {line:?}\nall of it: {lines:#?}");
        }
    }
    phases
}

/// The counts of the summary `imported 3 users, 5 tags, 2 connections, 1 connection requests
/// and 0 access tokens`: (users, tags, connections, requests, tokens).
fn summary_counts(lines: &[String]) -> (u64, u64, u64, u64, u64) {
    let summaries: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with("imported "))
        .collect();
    assert_eq!(summaries.len(), 1, "one summary line: {lines:#?}");
    let numbers: Vec<u64> = summaries[0]
        .split(|c: char| !c.is_ascii_digit())
        .filter(|w| !w.is_empty())
        .map(|w| w.parse().expect("a count"))
        .collect();
    assert_eq!(numbers.len(), 5, "{}", summaries[0]);
    (numbers[0], numbers[1], numbers[2], numbers[3], numbers[4])
}

/// The names of `phases`, and their counts by name.
fn names(phases: &[PhaseLine]) -> Vec<&str> {
    phases.iter().map(|p| p.phase.as_str()).collect()
}

fn count(phases: &[PhaseLine], name: &str, unit: &str) -> u64 {
    let phase = phases
        .iter()
        .find(|p| p.phase == name)
        .unwrap_or_else(|| panic!("no phase {name} in {phases:#?}"));
    let (n, got) = phase
        .count
        .as_ref()
        .unwrap_or_else(|| panic!("phase {name} has no count"));
    assert_eq!(got, unit, "the unit of {name}");
    *n
}

/// The load phases every loader reports, in order, after `prepare`.
const LOAD_PHASES: [&str; 9] = [
    "prepare",
    "tags",
    "users",
    "user_tags",
    "connections",
    "connection_requests",
    "access_tokens",
    "index",
    "swap",
];

/// The records of each section of an exported file: (tags, users, user tags, connections,
/// requests, tokens).
fn file_counts(path: &Path) -> (u64, u64, u64, u64, u64, u64) {
    let text = std::fs::read_to_string(path).expect("read the exported file");
    let file: Value = serde_json::from_str(&text).expect("the export is JSON");
    let len = |key: &str| file[key].as_array().expect(key).len() as u64;
    let user_tags = file["users"]
        .as_array()
        .expect("users")
        .iter()
        .map(|u| u["tags"].as_array().expect("tags").len() as u64)
        .sum();
    (
        len("tags"),
        len("users"),
        user_tags,
        len("connections"),
        len("connection_requests"),
        len("access_tokens"),
    )
}

/// Checks the load phases of an import or a seed against its summary and the file's user
/// tags.
fn check_load(phases: &[PhaseLine], lines: &[String], user_tags: u64) {
    let (users, tags, connections, requests, tokens) = summary_counts(lines);
    assert_eq!(count(phases, "tags", "rows"), tags);
    assert_eq!(count(phases, "users", "rows"), users);
    assert_eq!(count(phases, "user_tags", "rows"), user_tags);
    // Each connection is stored as two rows.
    assert_eq!(count(phases, "connections", "rows"), 2 * connections);
    assert_eq!(count(phases, "connection_requests", "rows"), requests);
    assert_eq!(count(phases, "access_tokens", "rows"), tokens);
    assert_eq!(
        count(phases, "validate", "records"),
        users + tags + connections + requests + tokens
    );
    assert!(count(phases, "index", "statements") > 0);
}

#[test]
fn seed_export_import_print_a_line_per_phase_with_its_counts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let seeded = format!("sqlite://{}?mode=rwc", dir.path().join("a.db").display());
    let copy = format!("sqlite://{}?mode=rwc", dir.path().join("b.db").display());
    let file = dir.path().join("community.json");
    let file_arg = file.to_str().expect("utf-8 path");

    let seed = run(&seeded, &["seed", "--users", "300"], false);
    assert!(
        seed.status.success(),
        "{}",
        String::from_utf8_lossy(&seed.stderr)
    );
    assert!(seed.stdout.is_empty());
    let lines = stderr_lines(&seed);
    let seed_phases = phases("seed", &lines, Some("imported "));
    let mut expected = vec!["generate", "validate"];
    expected.extend(LOAD_PHASES);
    assert_eq!(names(&seed_phases), expected, "{lines:#?}");
    assert_eq!(count(&seed_phases, "generate", "users"), 300);
    assert_eq!(summary_counts(&lines).0, 300);

    let export = run(&seeded, &["export", file_arg], false);
    assert!(
        export.status.success(),
        "{}",
        String::from_utf8_lossy(&export.stderr)
    );
    let lines = stderr_lines(&export);
    let export_phases = phases("export", &lines, None);
    assert_eq!(
        names(&export_phases),
        [
            "tags",
            "users",
            "connections",
            "connection_requests",
            "access_tokens",
            "write"
        ],
        "{lines:#?}"
    );
    let (tags, users, user_tags, connections, requests, tokens) = file_counts(&file);
    assert_eq!(users, 300);
    assert!(connections > 0 && requests > 0 && user_tags > 0);
    assert_eq!(count(&export_phases, "tags", "records"), tags);
    assert_eq!(count(&export_phases, "users", "records"), users);
    assert_eq!(count(&export_phases, "connections", "records"), connections);
    assert_eq!(
        count(&export_phases, "connection_requests", "records"),
        requests
    );
    assert_eq!(count(&export_phases, "access_tokens", "records"), tokens);
    let size = std::fs::metadata(&file).expect("exported file").len();
    assert_eq!(count(&export_phases, "write", "bytes"), size);
    // The seed's load phases counted what the export finds.
    check_load(&seed_phases, &stderr_lines(&seed), user_tags);

    let import = run(&copy, &["import", file_arg], false);
    assert!(
        import.status.success(),
        "{}",
        String::from_utf8_lossy(&import.stderr)
    );
    let lines = stderr_lines(&import);
    let import_phases = phases("import", &lines, Some("imported "));
    let mut expected = vec!["read", "parse", "validate"];
    expected.extend(LOAD_PHASES);
    assert_eq!(names(&import_phases), expected, "{lines:#?}");
    assert_eq!(count(&import_phases, "read", "bytes"), size);
    assert_eq!(count(&import_phases, "parse", "bytes"), size);
    check_load(&import_phases, &lines, user_tags);
    assert_eq!(
        summary_counts(&lines),
        (users, tags, connections, requests, tokens)
    );
}

#[test]
fn export_to_standard_output_keeps_the_progress_on_standard_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("a.db").display());
    assert!(run(&url, &["seed", "--users", "50", "-q"], false)
        .status
        .success());
    let export = run(&url, &["export", "-"], false);
    assert!(export.status.success());
    let file: Value = serde_json::from_slice(&export.stdout).expect("stdout is the file alone");
    assert_eq!(file["users"].as_array().map(Vec::len), Some(50));
    let lines = stderr_lines(&export);
    let phases = phases("export", &lines, None);
    assert_eq!(count(&phases, "users", "records"), 50);
    assert_eq!(count(&phases, "write", "bytes"), export.stdout.len() as u64);
}

#[test]
fn quiet_prints_no_progress_but_still_the_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("a.db").display());
    let file = dir.path().join("community.json");
    let file_arg = file.to_str().expect("utf-8 path");

    for (args, summary) in [
        (vec!["seed", "--users", "300", "--quiet"], true),
        (vec!["export", "-q", file_arg], false),
        (vec!["import", "--quiet", file_arg], true),
    ] {
        let output = run(&url, &args, false);
        assert!(output.status.success(), "{args:?}: {output:?}");
        let lines: Vec<String> = stderr_lines(&output)
            .into_iter()
            .filter(|l| !migrator_log(l))
            .collect();
        // The summary of import and seed stays (it is the result), and is all there is.
        let expected = usize::from(summary);
        assert_eq!(lines.len(), expected, "{args:?}: {lines:#?}");
        assert!(lines.iter().all(|l| l.starts_with("imported 300 users")));
    }

    // A file that does not exist, and one that is not valid: the error still prints, and no
    // phase line.
    let missing = dir.path().join("missing.json");
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"settings": {}, "tags": 1}"#).expect("write bad file");
    for path in [&missing, &bad] {
        let path = path.to_str().expect("utf-8 path");
        let output = run(&url, &["import", "-q", path], false);
        assert!(!output.status.success());
        let lines: Vec<String> = stderr_lines(&output)
            .into_iter()
            .filter(|l| !migrator_log(l))
            .collect();
        assert!(!lines.is_empty(), "the error is printed");
        assert!(lines.iter().all(|l| l.starts_with("error: ")), "{lines:#?}");
        // Not quiet: the phases done before the error print, the failed one does not.
        let output = run(&url, &["import", path], false);
        let lines = stderr_lines(&output);
        let errors = lines.iter().filter(|l| l.starts_with("error: ")).count();
        assert_eq!(errors, 1, "{lines:#?}");
        let done: Vec<String> = lines
            .iter()
            .filter_map(|l| phase_line("import", l))
            .map(|p| p.phase)
            .collect();
        let expected: &[&str] = if path.ends_with("bad.json") {
            &["read"]
        } else {
            &[]
        };
        assert_eq!(done, expected, "{lines:#?}");
    }
}

#[test]
fn json_log_format_makes_every_line_a_json_object() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("a.db").display());
    let copy = format!("sqlite://{}?mode=rwc", dir.path().join("b.db").display());
    let file = dir.path().join("community.json");
    let file_arg = file.to_str().expect("utf-8 path");

    for (command, db, args) in [
        ("seed", &url, vec!["seed", "--users", "300"]),
        ("export", &url, vec!["export", file_arg]),
        ("import", &copy, vec!["import", file_arg]),
    ] {
        let output = run(db, &args, true);
        assert!(output.status.success(), "{args:?}: {output:?}");
        let mut messages = Vec::new();
        for line in stderr_lines(&output) {
            let event: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("{command}: not JSON ({e}): {line:?}"));
            if event["target"] == "sea_orm_migration::migrator" {
                continue;
            }
            let message = event["message"]
                .as_str()
                .unwrap_or_else(|| panic!("{command}: no message: {line}"));
            messages.push(message.to_string());
        }
        let summary = (command != "export").then_some("imported ");
        let phases = phases(command, &messages, summary);
        let names = names(&phases);
        assert!(
            names.contains(&"users") && names.contains(&"connections"),
            "{messages:#?}"
        );
        assert_eq!(
            count(
                &phases,
                "users",
                if command == "export" {
                    "records"
                } else {
                    "rows"
                }
            ),
            300
        );
    }
}

/// On PostgreSQL, `seed` prints its phases and summary and nothing else at the default log
/// level, nor with `RUST_LOG=info`: none of the server's NOTICEs (a migration's "already
/// exists, skipping", an import's "does not exist, skipping", which sqlx logs at INFO) and
/// none of the loader's own log events. With `RUST_LOG=debug` the NOTICEs are there.
#[tokio::test]
async fn seed_on_postgres_prints_no_notices() {
    let Some(db) = TestDb::new(Backend::Postgres, "seed_on_postgres_prints_no_notices").await
    else {
        return;
    };
    // The second and third seeds replace a community: the migration check and the staging
    // tables' drops each draw NOTICEs.
    for rust_log in [None, Some("info"), Some("warn,sqlx=info")] {
        let output = run_logging(&db.url, &["seed", "--users", "300"], false, rust_log);
        assert!(output.status.success(), "{output:?}");
        let lines = stderr_lines(&output);
        let phases = phases("seed", &lines, Some("imported "));
        let mut expected = vec!["generate", "validate"];
        expected.extend(LOAD_PHASES);
        assert_eq!(
            names(&phases),
            expected,
            "RUST_LOG={rust_log:?}: {lines:#?}"
        );
    }
    let output = run_logging(&db.url, &["seed", "--users", "300"], false, Some("debug"));
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("sqlx::postgres::notice") && stderr.contains("does not exist, skipping"),
        "RUST_LOG=debug shows the NOTICEs"
    );
}
