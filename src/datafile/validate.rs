//! The rules of a valid data file (`fixture.md`), checked in Rust before the database is
//! touched, so that a bad file changes nothing and never fails half-way inside the database.
//!
//! Besides the spec's rules this enforces what the schema would otherwise reject or silently
//! alter: column lengths (in characters, as PostgreSQL and MySQL count them), MySQL's 64 KiB
//! `TEXT`, PostgreSQL's refusal of NUL characters, and MariaDB's `PAD SPACE` comparison of
//! usernames (`"bob"` and `"bob "` would collide in its unique index).
//!
//! The result, `Validated`, is what the loaders insert: times as epoch microseconds, tokens as
//! hashes, connections as `(smaller, larger)` pairs, everything sorted in export order.

use crate::auth::sha256_hex;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::error::{label, render_str, FileError};
use super::file::{AccessToken, CommunityFile, Connection, ConnectionRequest, Tag, User};
use crate::entity::user::user_fields;
use crate::entity::{access_token, connection_request, tag, user, user_tag};
use crate::store::time::parse_rfc3339_us;
use crate::store::Settings;
use sea_orm::sea_query::StringLen;
use sea_orm::{ColumnTrait, ColumnType, Iterable};
use std::sync::OnceLock;

use crate::progress::{Phase, Progress};

/// A file that keeps every rule, in the form the loaders insert: the tables' rows as entity
/// models, except the connections, which are stored twice (`tables::directed_connections`).
#[derive(Debug)]
pub(crate) struct Validated {
    pub settings: Settings,
    /// By id.
    pub tags: Vec<tag::Model>,
    /// By id.
    pub users: Vec<user::Model>,
    /// By `(user_id, tag_id)`.
    pub user_tags: Vec<user_tag::Model>,
    /// `(smaller id, larger id, connected_at_us)`, sorted.
    pub connections: Vec<(i64, i64, i64)>,
    /// By `(from_user_id, to_user_id)`, each with its id (given by the file, or assigned).
    pub requests: Vec<connection_request::Model>,
    /// By `(user_id, token_sha256)`.
    pub tokens: Vec<access_token::Model>,
}

/// Column limits of the schema (characters).
/// (The `users` columns' limits are read from the entity: `user_widths`.)
const NAME_MAX: usize = 255;
const TAG_TYPE_MAX: usize = 64;
const COLOR_MAX: usize = 32;
/// MySQL's `TEXT` holds at most this many bytes.
const TEXT_MAX_BYTES: usize = 65_535;

/// A quick hasher for integer keys: the file is the operator's own, so hash flooding is not
/// a concern, and SipHash would be a visible part of validating millions of connections.
#[derive(Default, Clone, Copy)]
pub(crate) struct FastHasher(u64);

impl FastHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl Hasher for FastHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }
    fn write_i64(&mut self, n: i64) {
        self.add(n as u64);
    }
}

pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

fn fast_map<K, V>(capacity: usize) -> FastMap<K, V> {
    FastMap::with_capacity_and_hasher(capacity, BuildHasherDefault::default())
}

/// A data file that passed every rule, with the rows it loads: what `import` takes, so a file
/// is checked once (`parse` or `validate`), never again on the way into the database. Reads
/// as the file it holds (`Deref`).
#[derive(Debug)]
pub struct Community {
    file: CommunityFile,
    rows: Validated,
}

impl Community {
    /// The rows to load, in the entities' shapes.
    pub(crate) fn rows(&self) -> &Validated {
        &self.rows
    }

    pub fn into_file(self) -> CommunityFile {
        self.file
    }
}

impl std::ops::Deref for Community {
    type Target = CommunityFile;

    fn deref(&self) -> &CommunityFile {
        &self.file
    }
}

/// Checks every rule of `file` (`docs/data-file.md`); the error names the first bad record.
pub fn validate(file: CommunityFile) -> Result<Community, FileError> {
    validate_with(file, &Progress::quiet())
}

/// `validate` as the phase `validate` of `progress`, counting the records checked.
pub fn validate_with(file: CommunityFile, progress: &Progress) -> Result<Community, FileError> {
    let records = file.tags.len()
        + file.users.len()
        + file.connections.len()
        + file.connection_requests.len()
        + file.access_tokens.len();
    let phase = progress.phase("validate", "records", Some(records as u64));
    let rows = check(&file, &phase)?;
    phase.finish();
    Ok(Community { file, rows })
}

/// How many records `check` counts at a time.
const TICK: usize = 8192;

/// Counts record `i` of a section in `phase`, `TICK` at a time.
fn tick(phase: &Phase, i: usize) {
    if (i + 1).is_multiple_of(TICK) {
        phase.inc(TICK as u64);
    }
}

/// Counts the records of a section of `len` that `tick` has not counted.
fn tick_rest(phase: &Phase, len: usize) {
    phase.inc((len % TICK) as u64);
}

/// Checks every rule; the error names the first bad record (sections in the file's order,
/// records in file order).
fn check(file: &CommunityFile, phase: &Phase) -> Result<Validated, FileError> {
    let mut check = Checker::with_capacity(file);
    let mut tags = Vec::with_capacity(file.tags.len());
    for (i, tag) in file.tags.iter().enumerate() {
        let created_at_us = check
            .tag(i, tag)
            .map_err(|reason| FileError::new(tag_label(i, tag), reason))?;
        tags.push(tag_model(tag, created_at_us));
        tick(phase, i);
    }
    tick_rest(phase, file.tags.len());
    let mut users = Vec::with_capacity(file.users.len());
    let mut user_tags = Vec::new();
    for (i, user) in file.users.iter().enumerate() {
        let model = check
            .user(i, user)
            .map_err(|reason| FileError::new(user_label(i, user), reason))?;
        users.push(model);
        user_tags.extend(user.tags.iter().map(|tag| user_tag::Model {
            user_id: user.id,
            tag_id: *tag,
        }));
        tick(phase, i);
    }
    tick_rest(phase, file.users.len());
    let mut connections = Vec::with_capacity(file.connections.len());
    for (i, connection) in file.connections.iter().enumerate() {
        connections.push(
            check
                .connection(i, connection)
                .map_err(|reason| FileError::new(connection_label(i, connection), reason))?,
        );
        tick(phase, i);
    }
    tick_rest(phase, file.connections.len());
    let mut requests = Vec::with_capacity(file.connection_requests.len());
    for (i, request) in file.connection_requests.iter().enumerate() {
        requests.push(
            check
                .request(i, request)
                .map_err(|reason| FileError::new(request_label(i, request), reason))?,
        );
        tick(phase, i);
    }
    tick_rest(phase, file.connection_requests.len());
    check.number_requests(&file.connection_requests, &mut requests)?;
    let mut tokens = Vec::with_capacity(file.access_tokens.len());
    for (i, token) in file.access_tokens.iter().enumerate() {
        tokens.push(
            check
                .token(i, token)
                .map_err(|reason| FileError::new(token_label(i, token), reason))?,
        );
        tick(phase, i);
    }
    tick_rest(phase, file.access_tokens.len());
    tags.sort_unstable_by_key(|tag| tag.id);
    users.sort_unstable_by_key(|user| user.id);
    user_tags.sort_unstable();
    connections.sort_unstable();
    requests.sort_unstable();
    tokens.sort_unstable_by(|x, y| (x.user_id, &x.token_sha256).cmp(&(y.user_id, &y.token_sha256)));
    Ok(Validated {
        settings: file.settings,
        tags,
        users,
        user_tags,
        connections,
        requests,
        tokens,
    })
}

/// The `tags` row of a valid tag.
fn tag_model(tag: &Tag, created_at_us: i64) -> tag::Model {
    tag::Model {
        id: tag.id,
        kind: tag.kind.clone(),
        name: tag.name.clone(),
        description: tag.description.clone(),
        color: tag.color.clone(),
        visible: tag.visible,
        visibility_boost: tag.visibility_boost,
        active: tag.active,
        deleted: tag.deleted,
        created_at_us,
    }
}

/// The `users` row of a user, each field checked by its kind, in the list's order (its tags
/// are `user_tags` rows). Generated from `entity::user::user_fields!`; text lengths are the
/// entity's column types (`user_widths`).
macro_rules! user_model {
    (head: [$($h:tt)*], middle: [$($m:tt)*], tail: [$($t:tt)*],) => {
        user_model!(@ $($h)* $($m)* $($t)*);
    };
    (@ $({ $field:ident: [$($ty:tt)*], [$($orm:tt)*], $api:ident, $gql:literal, $kind:ident,
           $doc:literal, $rest:literal })*) => {
        fn user_model(u: &User) -> Result<user::Model, String> {
            let widths = user_widths();
            let mut column = 0..;
            let mut width = || widths.get(column.next().unwrap_or_default()).copied();
            Ok(user::Model {
                $( $field: {
                    // Taken for every field, text or not: the i-th field is the i-th column.
                    #[allow(unused_variables)] // read by the text kinds only
                    let width_ = width();
                    user_model!(@check $kind, stringify!($api), &u.$api, width_)?
                }, )*
            })
        }
    };
    (@check Id, $key:expr, $value:expr, $width:expr) => { positive_id($key, *$value).map(|()| *$value) };
    (@check OptId, $key:expr, $value:expr, $width:expr) => { Ok::<_, String>(*$value) };
    (@check Count, $key:expr, $value:expr, $width:expr) => { counter($key, *$value) };
    (@check FollowCount, $key:expr, $value:expr, $width:expr) => { counter($key, *$value) };
    (@check Time, $key:expr, $value:expr, $width:expr) => { time($key, $value) };
    (@check Str, $key:expr, $value:expr, $width:expr) => {
        text($key, $value, $width).map(|()| $value.clone())
    };
    (@check OptStr, $key:expr, $value:expr, $width:expr) => {
        nullable_text($key, $value.as_deref(), $width).map(|()| $value.clone())
    };
    (@check Date, $key:expr, $value:expr, $width:expr) => {
        $value.as_deref().map_or(Ok(()), |date| check_date($key, date)).map(|()| $value.clone())
    };
    (@check Gender, $key:expr, $value:expr, $width:expr) => { Ok::<_, String>($value.as_str().to_string()) };
    (@check Bool, $key:expr, $value:expr, $width:expr) => { Ok::<_, String>(*$value) };
}
user_fields!(user_model);

/// How long a stored text may be: a column's type in the `users` entity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Width {
    /// `VARCHAR(n)`: characters, as PostgreSQL and MySQL count them.
    Chars(usize),
    /// `TEXT`: MySQL's 64 KiB of UTF-8.
    TextBytes,
}

/// The widths of the `users` columns, in column order (`None`: not text).
fn user_widths() -> &'static [Option<Width>] {
    static WIDTHS: OnceLock<Vec<Option<Width>>> = OnceLock::new();
    WIDTHS.get_or_init(|| {
        user::Column::iter()
            .map(|column| match column.def().get_column_type() {
                ColumnType::String(StringLen::N(n)) => Some(Width::Chars(*n as usize)),
                ColumnType::Text => Some(Width::TextBytes),
                _ => None,
            })
            .collect()
    })
}

/// A text within its column's width.
fn text(key: &str, value: &str, width: Option<Option<Width>>) -> Result<(), String> {
    match width.flatten() {
        Some(Width::Chars(max)) => short_text(key, value, max),
        Some(Width::TextBytes) => long_text(key, value),
        None => no_nul(key, value),
    }
}

fn counter(key: &str, value: i64) -> Result<i64, String> {
    if value < 0 {
        return Err(format!("{key:?} must not be negative (got {value})"));
    }
    Ok(value)
}

pub(crate) fn tag_label(index: usize, tag: &Tag) -> String {
    label("tags", index, &[("id", tag.id.to_string())])
}

pub(crate) fn user_label(index: usize, user: &User) -> String {
    label(
        "users",
        index,
        &[
            ("id", user.id.to_string()),
            ("username", render_str(&user.username)),
        ],
    )
}

pub(crate) fn connection_label(index: usize, connection: &Connection) -> String {
    let [a, b] = connection.users;
    label("connections", index, &[("users", format!("[{a}, {b}]"))])
}

pub(crate) fn request_label(index: usize, request: &ConnectionRequest) -> String {
    label(
        "connection_requests",
        index,
        &[
            ("from", request.from.to_string()),
            ("to", request.to.to_string()),
        ],
    )
}

pub(crate) fn token_label(index: usize, token: &AccessToken) -> String {
    label(
        "access_tokens",
        index,
        &[("user_id", token.user_id.to_string())],
    )
}

/// The rules, record by record: each method checks one record against the records seen
/// before it (duplicates, references) and remembers it. Records must be fed section by
/// section in the fixture's order (tags, users, connections, requests, tokens), so that
/// references point backwards. `parse` also feeds it the records of a malformed file one by
/// one, so that "the first bad record" means the same whether a file is malformed or not.
#[derive(Default)]
pub(crate) struct Checker {
    tags: FastMap<i64, usize>,
    users: FastMap<i64, usize>,
    usernames: HashMap<String, usize>,
    /// Connected pairs, smaller id first, and the index of the connection.
    pairs: FastMap<(i64, i64), usize>,
    requests: FastMap<(i64, i64), usize>,
    /// The ids the file gives requests, and the largest of them (0: none).
    request_ids: FastMap<i64, usize>,
    max_request_id: i64,
    tokens: HashMap<String, usize>,
}

impl Checker {
    /// A checker with room for the records of `file`, so the maps never grow while millions
    /// of connections stream through.
    fn with_capacity(file: &CommunityFile) -> Checker {
        Checker {
            tags: fast_map(file.tags.len()),
            users: fast_map(file.users.len()),
            usernames: HashMap::with_capacity(file.users.len()),
            pairs: fast_map(file.connections.len()),
            requests: fast_map(file.connection_requests.len()),
            request_ids: fast_map(file.connection_requests.len()),
            max_request_id: 0,
            tokens: HashMap::with_capacity(file.access_tokens.len()),
        }
    }

    /// Returns `created_at` in microseconds.
    pub(crate) fn tag(&mut self, i: usize, tag: &Tag) -> Result<i64, String> {
        positive_id("id", tag.id)?;
        if let Some(first) = self.tags.get(&tag.id) {
            return Err(format!(
                "tag id {} is already used by tags[{first}]",
                tag.id
            ));
        }
        short_text("type", &tag.kind, TAG_TYPE_MAX)?;
        short_text("name", &tag.name, NAME_MAX)?;
        long_text("description", &tag.description)?;
        short_text("color", &tag.color, COLOR_MAX)?;
        let created_at_us = time("created_at", &tag.created_at)?;
        self.tags.insert(tag.id, i);
        Ok(created_at_us)
    }

    /// Returns the user's row.
    pub(crate) fn user(&mut self, i: usize, user: &User) -> Result<user::Model, String> {
        positive_id("id", user.id)?;
        if let Some(first) = self.users.get(&user.id) {
            return Err(format!(
                "user id {} is already used by users[{first}]",
                user.id
            ));
        }
        check_username(&user.username)?;
        if let Some(first) = self.usernames.get(user.username.as_str()) {
            return Err(format!(
                "username {} is already used by users[{first}]",
                render_str(&user.username)
            ));
        }
        let model = user_model(user)?;
        self.check_user_tags(user)?;
        self.users.insert(user.id, i);
        self.usernames.insert(user.username.clone(), i);
        Ok(model)
    }

    fn check_user_tags(&self, user: &User) -> Result<(), String> {
        for (i, tag) in user.tags.iter().enumerate() {
            if !self.tags.contains_key(tag) {
                return Err(format!("tag {tag} does not exist"));
            }
            if user.tags[..i].contains(tag) {
                return Err(format!("tag {tag} is listed twice"));
            }
        }
        Ok(())
    }

    /// Returns `(smaller id, larger id, connected_at_us)`.
    pub(crate) fn connection(
        &mut self,
        i: usize,
        connection: &Connection,
    ) -> Result<(i64, i64, i64), String> {
        let [a, b] = connection.users;
        if a == b {
            return Err("a connection joins two distinct users".into());
        }
        self.user_exists(a)?;
        self.user_exists(b)?;
        let (low, high) = (a.min(b), a.max(b));
        if let Some(first) = self.pairs.get(&(low, high)) {
            return Err(format!(
                "users {low} and {high} are already connected by connections[{first}]"
            ));
        }
        let at = time("connected_at", &connection.connected_at)?;
        self.pairs.insert((low, high), i);
        Ok((low, high, at))
    }

    /// Returns the request's row; its `id` is 0 when the file gives none (`number_requests`
    /// assigns it once every request is read).
    pub(crate) fn request(
        &mut self,
        i: usize,
        request: &ConnectionRequest,
    ) -> Result<connection_request::Model, String> {
        if let Some(id) = request.id {
            positive_id("id", id)?;
            if let Some(first) = self.request_ids.get(&id) {
                return Err(format!(
                    "request id {id} is already used by connection_requests[{first}]"
                ));
            }
        }
        let (from, to) = (request.from, request.to);
        if from == to {
            return Err("a request joins two distinct users".into());
        }
        self.user_exists(from)?;
        self.user_exists(to)?;
        if let Some(connection) = self.pairs.get(&(from.min(to), from.max(to))) {
            return Err(format!(
                "users {from} and {to} are already connected (connections[{connection}]); a request joins users who are not"
            ));
        }
        if let Some(first) = self.requests.get(&(from, to)) {
            return Err(format!(
                "a request from {from} to {to} is already given by connection_requests[{first}]"
            ));
        }
        let created_at_us = time("created_at", &request.created_at)?;
        let rejected_at_us = optional_time("rejected_at", request.rejected_at.as_deref())?;
        let viewed_at_us = optional_time("viewed_at", request.viewed_at.as_deref())?;
        self.requests.insert((from, to), i);
        if let Some(id) = request.id {
            self.request_ids.insert(id, i);
            self.max_request_id = self.max_request_id.max(id);
        }
        Ok(connection_request::Model {
            from_user_id: from,
            to_user_id: to,
            created_at_us,
            id: request.id.unwrap_or(0),
            rejected_at_us,
            viewed_at_us,
        })
    }

    /// Gives the requests the file gives no id (`rows[i]` is the row of `requests[i]`) the
    /// ids after the largest one it gives, in file order.
    fn number_requests(
        &self,
        requests: &[ConnectionRequest],
        rows: &mut [connection_request::Model],
    ) -> Result<(), FileError> {
        let mut next = self.max_request_id;
        for (i, (request, row)) in requests.iter().zip(rows.iter_mut()).enumerate() {
            if request.id.is_some() {
                continue;
            }
            next = next.checked_add(1).ok_or_else(|| {
                FileError::new(
                    request_label(i, request),
                    format!(
                        "no id is left for this request, which gives none: ids are given in \
                         file order after the largest one the file gives ({})",
                        self.max_request_id
                    ),
                )
            })?;
            row.id = next;
        }
        Ok(())
    }

    pub(crate) fn token(
        &mut self,
        i: usize,
        token: &AccessToken,
    ) -> Result<access_token::Model, String> {
        let token_sha256 = match (&token.token, &token.token_sha256) {
            (Some(_), Some(_)) => {
                return Err("give either \"token\" or \"token_sha256\", not both".into())
            }
            (None, None) => return Err("missing key \"token\" (or \"token_sha256\")".into()),
            (Some(plain), None) => {
                check_plain_token(plain)?;
                sha256_hex(plain)
            }
            (None, Some(hash)) => {
                check_sha256_hex(hash)?;
                hash.clone()
            }
        };
        self.user_exists(token.user_id)?;
        if let Some(first) = self.tokens.get(&token_sha256) {
            return Err(format!(
                "the same token is already given by access_tokens[{first}]"
            ));
        }
        let expires_at_us = time("expires_at", &token.expires_at)?;
        self.tokens.insert(token_sha256.clone(), i);
        Ok(access_token::Model {
            token_sha256,
            user_id: token.user_id,
            expires_at_us,
        })
    }

    fn user_exists(&self, id: i64) -> Result<(), String> {
        if self.users.contains_key(&id) {
            Ok(())
        } else {
            Err(format!("user {id} does not exist"))
        }
    }
}

fn check_username(username: &str) -> Result<(), String> {
    if username.is_empty() {
        return Err("\"username\" must not be empty".into());
    }
    if username.trim() != username {
        return Err(format!(
            "\"username\" must not begin or end with white space (got {})",
            render_str(username)
        ));
    }
    let column = user::Column::iter().position(|c| matches!(c, user::Column::Username));
    text(
        "username",
        username,
        column.and_then(|i| user_widths().get(i).copied()),
    )
}

/// A plain token must be one that an `Authorization: Bearer <token>` header can carry.
fn check_plain_token(plain: &str) -> Result<(), String> {
    if plain.is_empty() || plain.chars().any(char::is_whitespace) || plain.contains('\0') {
        return Err(
            "\"token\" must be a non-empty string without white space (a Bearer token)".into(),
        );
    }
    Ok(())
}

fn check_sha256_hex(hash: &str) -> Result<(), String> {
    let ok = hash.len() == 64 && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if !ok {
        return Err(format!(
            "\"token_sha256\" must be 64 lower-case hex characters, the SHA-256 of the token (got {})",
            render_str(hash)
        ));
    }
    Ok(())
}

fn positive_id(key: &str, id: i64) -> Result<(), String> {
    if id > 0 {
        Ok(())
    } else {
        Err(format!("{key:?} must be a positive integer (got {id})"))
    }
}

fn no_nul(key: &str, value: &str) -> Result<(), String> {
    if value.contains('\0') {
        return Err(format!(
            "{key:?} contains a NUL character, which databases cannot store"
        ));
    }
    Ok(())
}

/// A string of at most `max` characters (the byte length bounds the character count, so
/// the count is only taken when the bytes exceed the limit).
fn short_text(key: &str, value: &str, max: usize) -> Result<(), String> {
    no_nul(key, value)?;
    if value.len() > max && value.chars().count() > max {
        return Err(format!(
            "{key:?} is longer than {max} characters ({} characters)",
            value.chars().count()
        ));
    }
    Ok(())
}

fn nullable_text(
    key: &str,
    value: Option<&str>,
    width: Option<Option<Width>>,
) -> Result<(), String> {
    value.map_or(Ok(()), |value| text(key, value, width))
}

fn long_text(key: &str, value: &str) -> Result<(), String> {
    no_nul(key, value)?;
    if value.len() > TEXT_MAX_BYTES {
        return Err(format!(
            "{key:?} is longer than {TEXT_MAX_BYTES} bytes of UTF-8 ({} bytes)",
            value.len()
        ));
    }
    Ok(())
}

fn time(key: &str, text: &str) -> Result<i64, String> {
    parse_rfc3339_us(text).map_err(|e| format!("{key:?}: {e}"))
}

fn optional_time(key: &str, text: Option<&str>) -> Result<Option<i64>, String> {
    text.map(|text| time(key, text)).transpose()
}

/// `YYYY-MM-DD`, exactly ten characters, naming a real calendar date.
fn check_date(key: &str, text: &str) -> Result<(), String> {
    let bytes = text.as_bytes();
    let shaped = bytes.len() == 10
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            _ => b.is_ascii_digit(),
        });
    let real = shaped
        && chrono::NaiveDate::from_ymd_opt(
            digits(&text[0..4]),
            digits(&text[5..7]) as u32,
            digits(&text[8..10]) as u32,
        )
        .is_some();
    if real {
        Ok(())
    } else {
        Err(format!(
            "{key:?} must be a real date written YYYY-MM-DD (got {})",
            render_str(text)
        ))
    }
}

/// The value of a run of ASCII digits already checked by the caller.
fn digits(text: &str) -> i32 {
    text.bytes().fold(0, |n, b| n * 10 + i32::from(b - b'0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_must_be_real_and_exactly_shaped() {
        assert!(check_date("d", "1990-04-12").is_ok());
        assert!(check_date("d", "2024-02-29").is_ok());
        for bad in [
            "2023-02-29",
            "1990-4-12",
            "1990-04-31",
            "19900412",
            "+1990-04-12",
            "1990-13-01",
            "abcd-ef-gh",
        ] {
            assert!(check_date("d", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn token_hashes_are_lower_case_hex_sha256() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(check_sha256_hex(&sha256_hex("x")).is_ok());
        assert!(check_sha256_hex(&sha256_hex("x").to_uppercase()).is_err());
        assert!(check_sha256_hex("abc").is_err());
    }

    #[test]
    fn lengths_count_characters() {
        assert!(short_text("k", &"è".repeat(150), 150).is_ok());
        assert!(short_text("k", &"è".repeat(151), 150).is_err());
        assert!(short_text("k", "a\0b", 150).is_err());
    }
}
