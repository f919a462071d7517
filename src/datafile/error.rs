//! Why a data file was rejected, naming the first bad record the way a person would look it up.

use std::fmt::Write;

use serde_json::Value;

/// A rejected data file: `location` names the record (`users[3] (id 4, username "dario")`, or
/// `the file` for the document as a whole) and `reason` says what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {reason}")]
pub struct FileError {
    pub location: String,
    pub reason: String,
}

impl FileError {
    pub(crate) fn new(location: impl Into<String>, reason: impl Into<String>) -> FileError {
        FileError {
            location: location.into(),
            reason: reason.into(),
        }
    }

    /// An error about the document as a whole.
    pub(crate) fn file(reason: impl Into<String>) -> FileError {
        FileError::new("the file", reason)
    }
}

/// Longest rendering of one identifying value in a location, so a 1 MB username does not
/// become a 1 MB message.
const MAX_RENDER: usize = 60;

/// `section[index] (key value, key value)`, e.g. `connections[3] (users [2, 2])`. `parts` are
/// already rendered as JSON; empty `parts` give just `section[index]`.
pub(crate) fn label(section: &str, index: usize, parts: &[(&str, String)]) -> String {
    let mut text = format!("{section}[{index}]");
    if !parts.is_empty() {
        text.push_str(" (");
        for (i, (key, value)) in parts.iter().enumerate() {
            if i > 0 {
                text.push_str(", ");
            }
            let _ = write!(text, "{key} {value}");
        }
        text.push(')');
    }
    text
}

/// A JSON value rendered compactly but readably (`[2, 2]`, `"dario"`), shortened when long.
pub(crate) fn render(value: &Value) -> String {
    let text = match value {
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(render).collect();
            format!("[{}]", inner.join(", "))
        }
        other => other.to_string(),
    };
    shorten(text)
}

/// A string rendered as a JSON string, shortened when long.
pub(crate) fn render_str(text: &str) -> String {
    render(&Value::String(text.to_string()))
}

fn shorten(text: String) -> String {
    if text.chars().count() <= MAX_RENDER {
        return text;
    }
    let mut short: String = text.chars().take(MAX_RENDER).collect();
    short.push('…');
    short
}

/// The keys that identify a record of each section, used in its label.
pub(crate) fn identifying_keys(section: &str) -> &'static [&'static str] {
    match section {
        "tags" => &["id"],
        "users" => &["id", "username"],
        "connections" => &["users"],
        "connection_requests" => &["from", "to"],
        "access_tokens" => &["user_id"],
        _ => &[],
    }
}

/// The label of a record still in JSON form, with whichever identifying keys it has.
pub(crate) fn label_of_value(section: &str, index: usize, record: &Value) -> String {
    let parts: Vec<(&str, String)> = identifying_keys(section)
        .iter()
        .filter_map(|key| record.get(*key).map(|v| (*key, render(v))))
        .collect();
    label(section, index, &parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_read_like_the_spec() {
        let record = serde_json::json!({"users": [2, 2], "connected_at": "x"});
        assert_eq!(
            label_of_value("connections", 3, &record),
            "connections[3] (users [2, 2])"
        );
        let user = serde_json::json!({"id": 4, "username": "dario"});
        assert_eq!(
            label_of_value("users", 3, &user),
            "users[3] (id 4, username \"dario\")"
        );
        assert_eq!(label("tags", 0, &[]), "tags[0]");
    }

    #[test]
    fn long_values_are_shortened() {
        let long = "x".repeat(500);
        assert!(render_str(&long).chars().count() <= MAX_RENDER + 1);
    }
}
