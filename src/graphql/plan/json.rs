//! JSON leaves written straight into the response buffer, byte for byte as the reference
//! writes them: async-graphql builds a `Value` tree and serde_json serializes it, so strings
//! are escaped by serde_json and integers are written by it too.

/// `s` as a JSON string, escaped as serde_json escapes it.
pub fn string(out: &mut Vec<u8>, s: &str) {
    // Serializing a `str` into a `Vec` cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

pub fn int(out: &mut Vec<u8>, n: i64) {
    let _ = serde_json::to_writer(&mut *out, &n);
}

pub fn boolean(out: &mut Vec<u8>, b: bool) {
    out.extend_from_slice(if b { b"true" } else { b"false" });
}

pub fn null(out: &mut Vec<u8>) {
    out.extend_from_slice(b"null");
}

/// An `ID` the schema holds as an integer: a JSON string of its digits.
pub fn id(out: &mut Vec<u8>, id: i64) {
    out.push(b'"');
    int(out, id);
    out.push(b'"');
}

pub fn opt_string(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => string(out, s),
        None => null(out),
    }
}

/// A JSON object: each field's key (already written as `"key":`), then what `value` writes
/// for it.
pub fn object<K: AsRef<[u8]>, F, E>(
    out: &mut Vec<u8>,
    fields: &[(K, F)],
    mut value: impl FnMut(&mut Vec<u8>, &F) -> Result<(), E>,
) -> Result<(), E> {
    out.push(b'{');
    for (i, (key, field)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(key.as_ref());
        value(out, field)?;
    }
    out.push(b'}');
    Ok(())
}

/// A JSON list of what `item` writes for each of `items`.
pub fn list<T, E>(
    out: &mut Vec<u8>,
    items: impl IntoIterator<Item = T>,
    mut item: impl FnMut(&mut Vec<u8>, T) -> Result<(), E>,
) -> Result<(), E> {
    out.push(b'[');
    for (i, value) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        item(out, value)?;
    }
    out.push(b']');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The leaves equal what the reference's `Value` serializes to, for the characters JSON
    /// must escape and for the integer extremes.
    #[test]
    fn leaves_match_serde_json_of_values() {
        let texts = [
            "",
            "plain",
            "quote \" back \\ slash",
            "\u{0}\u{1f}\u{7f}",
            "é ☃ 😀",
            "\n\r\t",
        ];
        for text in texts {
            let mut out = Vec::new();
            string(&mut out, text);
            let value = async_graphql::Value::String(text.to_string());
            assert_eq!(
                out,
                serde_json::to_vec(&value).expect("serializes"),
                "{text:?}"
            );
        }
        for n in [i64::MIN, -1, 0, 1, i64::from(i32::MAX), i64::MAX] {
            let mut out = Vec::new();
            int(&mut out, n);
            let value = async_graphql::Value::from(n);
            assert_eq!(out, serde_json::to_vec(&value).expect("serializes"));
            let mut out = Vec::new();
            id(&mut out, n);
            let value = async_graphql::Value::String(n.to_string());
            assert_eq!(out, serde_json::to_vec(&value).expect("serializes"));
        }
    }
}
