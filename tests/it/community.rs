//! The community data file: round trips on every backend, rejection of broken files with
//! messages that name the record, atomicity of a failed import, the synthetic generator and
//! the settings switch.

use crate::common::{example_community_json, Backend, TestDb};
use community_gateway::auth::sha256_hex;
use community_gateway::bulk::{apply_settings, import};
use community_gateway::datafile;
use community_gateway::datafile::{export, parse, synthetic, to_json, validate, Community};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{json, Value};

fn example() -> Community {
    parse(example_community_json().as_bytes()).expect("the example community is valid")
}

/// A generated file, validated for `import`.
fn valid(file: datafile::CommunityFile) -> Community {
    validate(file).expect("generated files keep the rules")
}

fn example_value() -> Value {
    serde_json::from_str(&example_community_json()).unwrap()
}

/// Import then export, as text.
async fn import_export(db: &TestDb, file: &Community) -> String {
    import(&db.store, file).await.unwrap();
    to_json(&export(&db.store).await.unwrap())
}

/// The file's meaning, independent of the order of records and of how a connection's pair or
/// a token is written: pairs smaller id first, tokens as hashes, requests with their ids and
/// times written out, every list sorted.
fn normalised(mut value: Value) -> Value {
    with_request_defaults(&mut value);
    let sort_by = |list: &mut Value, key: &dyn Fn(&Value) -> String| {
        if let Some(items) = list.as_array_mut() {
            items.sort_by_key(|item| key(item));
        }
    };
    for connection in value["connections"].as_array_mut().unwrap() {
        let users = connection["users"].as_array_mut().unwrap();
        users.sort_by_key(|v| v.as_i64());
    }
    for token in value["access_tokens"].as_array_mut().unwrap() {
        let object = token.as_object_mut().unwrap();
        if let Some(Value::String(plain)) = object.remove("token") {
            object.insert("token_sha256".into(), Value::String(sha256_hex(&plain)));
        }
    }
    for user in value["users"].as_array_mut().unwrap() {
        user["tags"]
            .as_array_mut()
            .unwrap()
            .sort_by_key(|v| v.as_i64());
    }
    let pad = |v: &Value| format!("{:020}", v.as_i64().unwrap());
    sort_by(&mut value["tags"], &|t| pad(&t["id"]));
    sort_by(&mut value["users"], &|u| pad(&u["id"]));
    sort_by(&mut value["connections"], &|c| {
        format!("{}{}", pad(&c["users"][0]), pad(&c["users"][1]))
    });
    sort_by(&mut value["connection_requests"], &|r| {
        format!("{}{}", pad(&r["from"]), pad(&r["to"]))
    });
    sort_by(&mut value["access_tokens"], &|t| {
        format!("{}{}", pad(&t["user_id"]), t["token_sha256"])
    });
    value
}

/// Writes out the keys a request may leave out, as the data file's rules read them: ids in
/// file order after the largest id the file gives, pending, never seen.
fn with_request_defaults(value: &mut Value) {
    let requests = value["connection_requests"].as_array_mut().unwrap();
    let mut next = requests
        .iter()
        .filter_map(|r| r.get("id").and_then(Value::as_i64))
        .max()
        .unwrap_or(0);
    for request in requests.iter_mut() {
        let object = request.as_object_mut().unwrap();
        if !object.contains_key("id") {
            next += 1;
            object.insert("id".into(), json!(next));
        }
        for key in ["rejected_at", "viewed_at"] {
            object.entry(key).or_insert(Value::Null);
        }
    }
}

#[tokio::test]
async fn the_example_round_trips_byte_for_byte_on_every_backend() {
    for db in TestDb::all("community_round_trip").await {
        let first = import_export(&db, &example()).await;
        let second = import_export(&db, &parse(first.as_bytes()).unwrap()).await;
        assert_eq!(first, second, "{:?}: export → import → export", db.backend);
        assert!(first.ends_with("}\n"));
        let exported: Value = serde_json::from_str(&first).unwrap();
        assert_eq!(
            normalised(exported),
            normalised(example_value()),
            "{:?}: the export means what the fixture means",
            db.backend
        );
        // Export writes hashes, and keys in the fixture's order.
        assert!(first.contains(&format!(
            "\"token_sha256\": \"{}\"",
            sha256_hex("alice-demo-token")
        )));
        assert!(!first.contains("alice-demo-token"));
        let keys: Vec<&str> = exported_keys(&first);
        assert_eq!(
            keys,
            [
                "settings",
                "tags",
                "users",
                "connections",
                "connection_requests",
                "access_tokens"
            ]
        );
    }
}

/// The example with requests that use the three optional keys: ids out of file order (one
/// left out), a rejected and a seen request, both directions of a pair, times with offsets and
/// fractions.
fn example_with_request_keys() -> Value {
    let mut value = example_value();
    value["connection_requests"] = json!([
        {"id": 40, "from": 5, "to": 1, "created_at": "2024-06-02T12:00:00Z",
         "rejected_at": null, "viewed_at": "2024-06-02T15:30:00+02:00"},
        {"id": 3, "from": 1, "to": 7, "created_at": "2024-06-03T12:00:00Z",
         "rejected_at": "2024-06-04T08:00:00.25Z", "viewed_at": "2024-06-03T13:00:00Z"},
        {"from": 8, "to": 2, "created_at": "2024-06-04T12:00:00Z"},
        {"id": 12, "from": 7, "to": 1, "created_at": "2024-06-05T12:00:00.000001Z",
         "rejected_at": "2024-06-06T00:00:00-05:00"},
        {"id": 9223372036854775000_i64, "from": 2, "to": 8, "created_at": "2024-06-05T12:00:00Z",
         "viewed_at": null}
    ]);
    value
}

#[tokio::test]
async fn requests_with_ids_and_times_round_trip_on_every_backend() {
    let value = example_with_request_keys();
    let file = parse(value.to_string().as_bytes()).unwrap();
    for db in TestDb::all("community_request_keys").await {
        let first = import_export(&db, &file).await;
        let second = import_export(&db, &parse(first.as_bytes()).unwrap()).await;
        assert_eq!(first, second, "{:?}: export → import → export", db.backend);
        let exported: Value = serde_json::from_str(&first).unwrap();
        assert_eq!(
            exported["connection_requests"],
            json!([
                {"id": 3, "from": 1, "to": 7, "created_at": "2024-06-03T12:00:00Z",
                 "rejected_at": "2024-06-04T08:00:00.250Z", "viewed_at": "2024-06-03T13:00:00Z"},
                {"id": 12, "from": 7, "to": 1, "created_at": "2024-06-05T12:00:00.000001Z",
                 "rejected_at": "2024-06-06T05:00:00Z", "viewed_at": null},
                {"id": 40, "from": 5, "to": 1, "created_at": "2024-06-02T12:00:00Z",
                 "rejected_at": null, "viewed_at": "2024-06-02T13:30:00Z"},
                {"id": 9223372036854775000_i64, "from": 2, "to": 8,
                 "created_at": "2024-06-05T12:00:00Z", "rejected_at": null, "viewed_at": null},
                {"id": 9223372036854775001_i64, "from": 8, "to": 2,
                 "created_at": "2024-06-04T12:00:00Z", "rejected_at": null, "viewed_at": null}
            ]),
            "{:?}: by id, every key, times in UTC",
            db.backend
        );
        // Every request is written with its six keys in this order.
        let keys: Vec<&str> = first
            .lines()
            .skip_while(|line| !line.starts_with("  \"connection_requests\""))
            .skip(2)
            .take(6)
            .map(|line| line.trim().split('"').nth(1).unwrap())
            .collect();
        assert_eq!(
            keys,
            ["id", "from", "to", "created_at", "rejected_at", "viewed_at"]
        );
    }
}

#[tokio::test]
async fn requests_without_ids_take_the_next_ones_in_file_order() {
    // No request gives an id: 1, 2, 3 in file order (not in time or user order).
    let file = example();
    let ids: Vec<_> = file
        .connection_requests
        .iter()
        .map(|r| (r.from, r.to, r.id))
        .collect();
    assert_eq!(ids, [(5, 1, None), (1, 7, None), (8, 2, None)]);
    let rows = assigned_ids(&example_value()).await;
    assert_eq!(rows, [(5, 1, 1), (1, 7, 2), (8, 2, 3)]);
    // Some give one: the others follow the largest, wherever it is in the file.
    let mut value = example_value();
    value["connection_requests"][1]["id"] = json!(7);
    value["connection_requests"][2]["id"] = json!(2);
    assert_eq!(
        assigned_ids(&value).await,
        [(5, 1, 8), (1, 7, 7), (8, 2, 2)]
    );
    // Absent times read as pending and never seen.
    let text = to_json(&parse(example_value().to_string().as_bytes()).unwrap());
    let written: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        written["connection_requests"][0]["rejected_at"],
        Value::Null
    );
}

/// (from, to, id) of each request of `value` once imported, in file order (from an export on
/// SQLite).
async fn assigned_ids(value: &Value) -> Vec<(i64, i64, i64)> {
    let file = parse(value.to_string().as_bytes()).unwrap();
    let db = TestDb::new(Backend::Sqlite, "community_assigned_ids")
        .await
        .unwrap();
    import(&db.store, &file).await.unwrap();
    let mut rows: Vec<_> = export(&db.store)
        .await
        .unwrap()
        .connection_requests
        .into_iter()
        .map(|r| (r.from, r.to, r.id.unwrap()))
        .collect();
    let order: Vec<(i64, i64)> = value["connection_requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["from"].as_i64().unwrap(), r["to"].as_i64().unwrap()))
        .collect();
    rows.sort_by_key(|(from, to, _)| order.iter().position(|p| *p == (*from, *to)));
    rows
}

fn exported_keys(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|line| line.starts_with("  \"") && !line.starts_with("   "))
        .filter_map(|line| line.trim().strip_prefix('"')?.split('"').next())
        .collect()
}

#[tokio::test]
async fn awkward_text_offsets_and_fractions_survive_a_round_trip() {
    let mut value = example_value();
    value["users"][1]["bio"] =
        json!("tab\there\nnew line\r\\ back\\slash \\N \\. 'quote' \"dq\" 🎸 è");
    value["users"][1]["real_name"] = json!("\\.");
    value["users"][1]["location_lat_lng"] = json!("\\N");
    value["users"][2]["username"] = json!("Alice");
    value["users"][2]["date_joined"] = json!("2023-04-13T10:30:00.25+02:00");
    value["connections"][0]["connected_at"] = json!("2024-03-01T14:00:00+02:00");
    value["tags"][0]["description"] = json!("x".repeat(65_535));
    let file = parse(value.to_string().as_bytes()).unwrap();
    for db in TestDb::all("community_awkward_text").await {
        let text = import_export(&db, &file).await;
        let exported: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            exported["users"][1]["bio"], value["users"][1]["bio"],
            "{:?}",
            db.backend
        );
        assert_eq!(exported["users"][1]["real_name"], json!("\\."));
        assert_eq!(exported["users"][1]["location_lat_lng"], json!("\\N"));
        assert_eq!(
            exported["users"][2]["username"],
            json!("Alice"),
            "case-sensitive usernames"
        );
        assert_eq!(
            exported["users"][2]["date_joined"],
            json!("2023-04-13T08:30:00.250Z")
        );
        assert_eq!(
            exported["connections"][0]["connected_at"],
            json!("2024-03-01T12:00:00Z")
        );
        assert_eq!(
            exported["tags"][0]["description"].as_str().unwrap().len(),
            65_535
        );
        let again = import_export(&db, &parse(text.as_bytes()).unwrap()).await;
        assert_eq!(text, again, "{:?}", db.backend);
    }
}

/// Applies `change` to the example and returns the parse error's text.
fn rejection(change: impl FnOnce(&mut Value)) -> String {
    let mut value = example_value();
    change(&mut value);
    match parse(value.to_string().as_bytes()) {
        Ok(_) => panic!("the broken file was accepted"),
        Err(e) => e.to_string(),
    }
}

fn push(value: &mut Value, section: &str, record: Value) {
    value[section].as_array_mut().unwrap().push(record);
}

/// A change that breaks the example file.
type Change = Box<dyn FnOnce(&mut Value)>;

#[test]
fn broken_files_are_rejected_naming_the_record() {
    let cases: Vec<(&str, Change, &str)> = vec![
        (
            "dangling reference",
            Box::new(|v| v["connections"][2]["users"] = json!([1, 99])),
            "connections[2] (users [1, 99]): user 99 does not exist",
        ),
        (
            "dangling tag",
            Box::new(|v| v["users"][3]["tags"] = json!([7])),
            "users[3] (id 4, username \"dario\"): tag 7 does not exist",
        ),
        (
            "dangling token owner",
            Box::new(|v| v["access_tokens"][2]["user_id"] = json!(42)),
            "access_tokens[2] (user_id 42): user 42 does not exist",
        ),
        (
            "duplicate pair, same order",
            Box::new(|v| push(v, "connections", json!({"users": [1, 2], "connected_at": "2024-01-01T00:00:00Z"}))),
            "connections[8] (users [1, 2]): users 1 and 2 are already connected by connections[0]",
        ),
        (
            "duplicate pair, other order",
            Box::new(|v| push(v, "connections", json!({"users": [7, 3], "connected_at": "2024-01-01T00:00:00Z"}))),
            "connections[8] (users [7, 3]): users 3 and 7 are already connected by connections[6]",
        ),
        (
            "self-connection",
            Box::new(|v| v["connections"][3]["users"] = json!([2, 2])),
            "connections[3] (users [2, 2]): a connection joins two distinct users",
        ),
        (
            "bad date",
            Box::new(|v| v["users"][0]["date_of_birth"] = json!("1990-02-30")),
            "users[0] (id 1, username \"alice\"): \"date_of_birth\" must be a real date written YYYY-MM-DD (got \"1990-02-30\")",
        ),
        (
            "bad time",
            Box::new(|v| v["connection_requests"][1]["created_at"] = json!("2024-06-03 12:00:00")),
            "connection_requests[1] (from 1, to 7): \"created_at\": \"2024-06-03 12:00:00\" is not an RFC 3339 time",
        ),
        (
            "duplicate username",
            Box::new(|v| v["users"][2]["username"] = json!("alice")),
            "users[2] (id 3, username \"alice\"): username \"alice\" is already used by users[0]",
        ),
        (
            "duplicate user id",
            Box::new(|v| v["users"][7]["id"] = json!(2)),
            "users[7] (id 2, username \"hugo\"): user id 2 is already used by users[1]",
        ),
        (
            "non-positive id",
            Box::new(|v| v["tags"][1]["id"] = json!(0)),
            "tags[1] (id 0): \"id\" must be a positive integer (got 0)",
        ),
        (
            "request between connected users",
            Box::new(|v| v["connection_requests"][2] = json!({"from": 2, "to": 1, "created_at": "2024-06-04T12:00:00Z"})),
            "connection_requests[2] (from 2, to 1): users 2 and 1 are already connected (connections[0]); a request joins users who are not",
        ),
        (
            "duplicate request",
            Box::new(|v| push(v, "connection_requests", json!({"from": 1, "to": 7, "created_at": "2024-06-04T12:00:00Z"}))),
            "connection_requests[3] (from 1, to 7): a request from 1 to 7 is already given by connection_requests[1]",
        ),
        (
            "self-request",
            Box::new(|v| v["connection_requests"][0]["to"] = json!(5)),
            "connection_requests[0] (from 5, to 5): a request joins two distinct users",
        ),
        (
            "duplicate request id",
            Box::new(|v| {
                v["connection_requests"][0]["id"] = json!(4);
                v["connection_requests"][2]["id"] = json!(4);
            }),
            "connection_requests[2] (from 8, to 2): request id 4 is already used by connection_requests[0]",
        ),
        (
            "request id 0",
            Box::new(|v| v["connection_requests"][1]["id"] = json!(0)),
            "connection_requests[1] (from 1, to 7): \"id\" must be a positive integer (got 0)",
        ),
        (
            "negative request id",
            Box::new(|v| v["connection_requests"][1]["id"] = json!(-3)),
            "connection_requests[1] (from 1, to 7): \"id\" must be a positive integer (got -3)",
        ),
        (
            "null request id",
            Box::new(|v| v["connection_requests"][1]["id"] = Value::Null),
            "connection_requests[1] (from 1, to 7): \"id\" must be an integer (64-bit) (got null)",
        ),
        (
            "request id as text",
            Box::new(|v| v["connection_requests"][1]["id"] = json!("3")),
            "connection_requests[1] (from 1, to 7): \"id\" must be an integer (64-bit) (got \"3\")",
        ),
        (
            "bad rejected time",
            Box::new(|v| v["connection_requests"][0]["rejected_at"] = json!("yesterday")),
            "connection_requests[0] (from 5, to 1): \"rejected_at\": \"yesterday\" is not an RFC 3339 time (premature end of input)",
        ),
        (
            "bad viewed time",
            Box::new(|v| v["connection_requests"][2]["viewed_at"] = json!("2024-06-05")),
            "connection_requests[2] (from 8, to 2): \"viewed_at\": \"2024-06-05\" is not an RFC 3339 time",
        ),
        (
            "viewed time of the wrong type",
            Box::new(|v| v["connection_requests"][2]["viewed_at"] = json!(1717500000)),
            "connection_requests[2] (from 8, to 2): \"viewed_at\" must be a string or null (got 1717500000)",
        ),
        (
            "no id left for a request without one",
            Box::new(|v| v["connection_requests"][2]["id"] = json!(i64::MAX)),
            "connection_requests[0] (from 5, to 1): no id is left for this request, which gives none",
        ),
        (
            "unknown gender",
            Box::new(|v| v["users"][4]["gender"] = json!("Other")),
            "users[4] (id 5, username \"elena\"): \"gender\" must be \"Male\", \"Female\" or \"Unspecified\" (got \"Other\")",
        ),
        (
            "missing key",
            Box::new(|v| {
                v["users"][4].as_object_mut().unwrap().remove("bio");
            }),
            "users[4] (id 5, username \"elena\"): missing key \"bio\"",
        ),
        (
            "missing nullable key",
            Box::new(|v| {
                v["users"][5].as_object_mut().unwrap().remove("cover");
            }),
            "users[5] (id 6, username \"fabio\"): missing key \"cover\"",
        ),
        (
            "missing section",
            Box::new(|v| {
                v.as_object_mut().unwrap().remove("connection_requests");
            }),
            "the file: missing key \"connection_requests\"",
        ),
        (
            "unknown key",
            Box::new(|v| v["connections"][1]["since"] = json!("x")),
            "connections[1] (users [1, 3]): unknown key \"since\"",
        ),
        (
            "bad token hash",
            Box::new(|v| v["access_tokens"][1] = json!({"token_sha256": "ABC123", "user_id": 2, "expires_at": "2099-01-01T00:00:00Z"})),
            "access_tokens[1] (user_id 2): \"token_sha256\" must be 64 lower-case hex characters, the SHA-256 of the token (got \"ABC123\")",
        ),
        (
            "both token forms",
            Box::new(|v| v["access_tokens"][0]["token_sha256"] = json!(sha256_hex("x"))),
            "access_tokens[0] (user_id 1): give either \"token\" or \"token_sha256\", not both",
        ),
        (
            "no token at all",
            Box::new(|v| {
                v["access_tokens"][0].as_object_mut().unwrap().remove("token");
            }),
            "access_tokens[0] (user_id 1): missing key \"token\" (or \"token_sha256\")",
        ),
        (
            "same token twice",
            Box::new(|v| {
                v["access_tokens"][1] = json!({"token_sha256": sha256_hex("alice-demo-token"),
                    "user_id": 2, "expires_at": "2099-01-01T00:00:00Z"})
            }),
            "access_tokens[1] (user_id 2): the same token is already given by access_tokens[0]",
        ),
        (
            "negative counter",
            Box::new(|v| v["users"][6]["posts_counter"] = json!(-1)),
            "users[6] (id 7, username \"giulia\"): \"posts_counter\" must not be negative (got -1)",
        ),
        (
            "username too long",
            Box::new(|v| v["users"][6]["username"] = json!("g".repeat(151))),
            "is longer than 150 characters (151 characters)",
        ),
        (
            "URL too long",
            Box::new(|v| v["users"][6]["avatar"] = json!(format!("https://x/{}", "a".repeat(2040)))),
            "users[6] (id 7, username \"giulia\"): \"avatar\" is longer than 2048 characters (2050 characters)",
        ),
        (
            "username with trailing space",
            Box::new(|v| v["users"][6]["username"] = json!("giulia ")),
            "users[6] (id 7, username \"giulia \"): \"username\" must not begin or end with white space (got \"giulia \")",
        ),
        (
            "NUL character",
            Box::new(|v| v["users"][6]["bio"] = json!("a\u{0}b")),
            "users[6] (id 7, username \"giulia\"): \"bio\" contains a NUL character, which databases cannot store",
        ),
        (
            "wrong type",
            Box::new(|v| v["users"][6]["reputation"] = json!("70")),
            "users[6] (id 7, username \"giulia\"): \"reputation\" must be an integer (64-bit) (got \"70\")",
        ),
        (
            "a user's tag twice",
            Box::new(|v| v["users"][0]["tags"] = json!([1, 3, 1])),
            "users[0] (id 1, username \"alice\"): tag 1 is listed twice",
        ),
        (
            "not JSON",
            Box::new(|v| *v = json!("just a string")),
            "the file: must be a JSON object",
        ),
    ];
    for (name, change, expected) in cases {
        let message = rejection(change);
        assert!(
            message.starts_with(expected) || message.ends_with(expected),
            "{name}: got {message:?}, expected {expected:?}"
        );
    }
}

#[test]
fn the_first_bad_record_is_the_one_named() {
    let message = rejection(|v| {
        v["connections"][5]["users"] = json!([3, 3]);
        v["connections"][6]["users"] = json!([1, 99]);
    });
    assert!(message.starts_with("connections[5] "), "{message}");
    // A rule broken by an earlier record is named before a later malformed record...
    let message = rejection(|v| {
        v["users"][2]["gender"] = json!(1);
        v["users"][1]["posts_counter"] = json!(-5);
    });
    assert!(message.starts_with("users[1] "), "{message}");
    // ...and a malformed earlier record before a later rule-breaker.
    let message = rejection(|v| {
        v["users"][1]["gender"] = json!(1);
        v["users"][2]["posts_counter"] = json!(-5);
    });
    assert_eq!(
        message,
        "users[1] (id 2, username \"bruno\"): \"gender\" must be \"Male\", \"Female\" or \"Unspecified\" (got 1)"
    );
    // Sections count in the fixture's order, wherever they are in the file.
    let mut value = example_value();
    value["access_tokens"][0]["user_id"] = json!(77);
    value["tags"][0]["visible"] = json!("yes");
    let reordered = format!(
        "{{\"access_tokens\": {}, \"settings\": {}, \"tags\": {}, \"users\": {}, \"connections\": {}, \"connection_requests\": {}}}",
        value["access_tokens"], value["settings"], value["tags"], value["users"],
        value["connections"], value["connection_requests"]
    );
    let message = parse(reordered.as_bytes()).unwrap_err().to_string();
    assert!(
        message.starts_with("tags[0] (id 1): \"visible\""),
        "{message}"
    );
}

#[test]
fn settings_may_omit_keys_but_not_invent_them() {
    let mut value = example_value();
    value["settings"] = json!({"content_availability": false});
    let file = parse(value.to_string().as_bytes()).unwrap();
    assert!(!file.settings.content_availability);
    assert!(file.settings.connection_enabled && !file.settings.follow_enabled);
    let message = rejection(|v| v["settings"]["dark_mode"] = json!(true));
    assert!(
        message.starts_with("settings: unknown key \"dark_mode\""),
        "{message}"
    );
}

#[tokio::test]
async fn a_failed_import_changes_nothing() {
    for db in TestDb::all("community_failed_import").await {
        import(&db.store, &example()).await.unwrap();
        let before = to_json(&export(&db.store).await.unwrap());

        let mut broken = synthetic(300, 6, 3);
        broken.connections.push(datafile::Connection {
            users: [12, 12],
            connected_at: "2024-01-01T00:00:00Z".into(),
        });
        // A broken file never reaches the database: `import` takes only validated files.
        let error = validate(broken.clone()).unwrap_err().to_string();
        assert!(
            error.contains("a connection joins two distinct users"),
            "{error}"
        );
        broken.connections.pop();
        broken.users[10].date_of_birth = Some("2001-02-29".into());
        assert!(validate(broken).is_err());

        let after = to_json(&export(&db.store).await.unwrap());
        assert_eq!(before, after, "{:?}", db.backend);
    }
}

#[tokio::test]
async fn import_replaces_everything() {
    for db in TestDb::all("community_replaces").await {
        import(&db.store, &valid(synthetic(200, 8, 5)))
            .await
            .unwrap();
        let small = example();
        let report = import(&db.store, &small).await.unwrap();
        assert_eq!(
            report.to_string(),
            "imported 8 users, 3 tags, 8 connections, 3 connection requests and 3 access tokens"
        );
        let exported = export(&db.store).await.unwrap();
        assert_eq!(exported.users.len(), 8);
        assert_eq!(exported.connections.len(), 8);
        let count = count_rows(&db, "connections").await;
        assert_eq!(count, 16, "{:?}: two rows per connection", db.backend);
    }
}

async fn count_rows(db: &TestDb, table: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) AS n FROM {table}");
    let row = db
        .store
        .connection()
        .query_one(Statement::from_string(db.store.backend(), sql))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

#[test]
fn synthetic_is_deterministic_and_valid() {
    let a = to_json(&synthetic(1500, 12, 42));
    let b = to_json(&synthetic(1500, 12, 42));
    assert_eq!(a, b);
    assert_ne!(a, to_json(&synthetic(1500, 12, 43)));
    let file = parse(a.as_bytes()).expect("synthetic data keeps the rules");
    assert_eq!(file.connections.len(), 1500 * 12 / 2);
    assert!(!file.connection_requests.is_empty());
    assert_eq!(file.tags.len(), 5);
    let max_degree = degrees(&file).into_iter().max().unwrap();
    assert!(
        max_degree >= 100,
        "some users have hundreds of connections: {max_degree}"
    );
}

fn degrees(file: &datafile::CommunityFile) -> Vec<usize> {
    let mut degree = vec![0usize; file.users.len() + 1];
    for c in &file.connections {
        degree[c.users[0] as usize] += 1;
        degree[c.users[1] as usize] += 1;
    }
    degree
}

#[test]
fn the_demo_has_alice_with_a_token_and_plenty_of_friends() {
    let demo = datafile::demo();
    let file = parse(to_json(&demo).as_bytes()).expect("the demo keeps the rules");
    assert_eq!(*file, demo);
    assert!((900..=1100).contains(&demo.users.len()));
    assert_eq!(demo.users[0].username, "alice");
    let tokens = &demo.access_tokens;
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0].token.as_deref(), Some(datafile::DEMO_TOKEN));
    assert_eq!(tokens[0].user_id, 1);
    assert_eq!(tokens[0].expires_at, "2099-01-01T00:00:00Z");
    assert!(demo.tags.iter().any(|t| !t.visible) && demo.tags.iter().any(|t| !t.active));
    assert!(
        degrees(&demo)[1] >= 100,
        "alice has hundreds of connections"
    );
    assert!(demo.connection_requests.iter().any(|r| r.from == 1));
    assert!(demo.connection_requests.iter().any(|r| r.to == 1));
}

#[tokio::test]
async fn the_demo_imports_everywhere_and_its_token_opens_alices_account() {
    let demo = valid(datafile::demo());
    for db in TestDb::all("community_demo").await {
        let report = import(&db.store, &demo).await.unwrap();
        assert_eq!(report.users, demo.users.len());
        let hash = sha256_hex(datafile::DEMO_TOKEN);
        let owner = db
            .store
            .token_owner(&hash, community_gateway::store::time::now_us())
            .await
            .unwrap()
            .map(|(hash, user, _expires)| (hash, user));
        assert_eq!(owner, Some((hash, 1)), "{:?}", db.backend);
    }
}

#[tokio::test]
async fn a_synthetic_community_exports_as_generated() {
    // Large enough that every table takes several INSERT statements on SQLite and MySQL.
    let file = valid(synthetic(3000, 16, 11));
    let text = to_json(&file);
    for db in TestDb::all("community_synthetic").await {
        let report = import(&db.store, &file).await.unwrap();
        assert_eq!(report.connections, 24_000);
        assert_eq!(
            to_json(&export(&db.store).await.unwrap()),
            text,
            "{:?}",
            db.backend
        );
    }
}

/// The PostgreSQL loader drops and recreates keys and indexes: the schema must end exactly as
/// the migration made it.
#[tokio::test]
async fn the_postgres_schema_is_unchanged_by_an_import() {
    let Some(db) = TestDb::new(Backend::Postgres, "community_pg_schema").await else {
        return;
    };
    let before = schema(&db).await;
    assert!(
        before.iter().any(|d| d.contains("ix_connections_order")),
        "{before:#?}"
    );
    import(&db.store, &valid(synthetic(500, 10, 1)))
        .await
        .unwrap();
    assert_eq!(before, schema(&db).await);
}

async fn schema(db: &TestDb) -> Vec<String> {
    let sql = "SELECT c.relname || ' ' || k.conname || ' ' || pg_get_constraintdef(k.oid) \
                      || ' valid=' || k.convalidated AS d \
               FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid \
               JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' \
               UNION ALL SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1";
    let rows = db
        .store
        .connection()
        .query_all(Statement::from_string(db.store.backend(), sql))
        .await
        .unwrap();
    rows.iter()
        .map(|r| r.try_get::<String>("", "d").unwrap())
        .collect()
}

#[tokio::test]
async fn settings_can_be_changed_and_unknown_keys_are_refused() {
    for db in TestDb::all("community_settings").await {
        let settings = apply_settings(
            &db.store,
            &[
                ("follow_enabled".into(), true),
                ("content_availability".into(), false),
            ],
        )
        .await
        .unwrap();
        assert!(settings.follow_enabled && !settings.content_availability);
        assert!(settings.connection_enabled);
        assert_eq!(db.store.settings().await.unwrap(), settings);

        let error = apply_settings(
            &db.store,
            &[
                ("connection_enabled".into(), false),
                ("dark_mode".into(), true),
            ],
        )
        .await
        .unwrap_err()
        .to_string();
        assert!(error.contains("\"dark_mode\""), "{error}");
        assert_eq!(
            db.store.settings().await.unwrap(),
            settings,
            "nothing was written"
        );
        assert_eq!(apply_settings(&db.store, &[]).await.unwrap(), settings);
    }
}
