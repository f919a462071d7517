//! Query parameters as Django REST Framework reads them.
//!
//! DRF reads the *last* value of a repeated key, parses integers with Python's `int()` (surrounding
//! whitespace, a sign and `_` between digits allowed) and falls back silently for `limit` and
//! `offset`. `mutual` is strict: anything but `0` or `1` is a 400.

use crate::error::ApiError;

/// The decoded query string: pairs in order, `+` as space, bad UTF-8 replaced (as Python's
/// `parse_qsl(..., keep_blank_values=True)` does).
pub fn parse_query(raw: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The last value of `key`, as Django's `QueryDict.__getitem__` gives it.
pub fn last<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// Python's `int(text)` for base-10 text, or None where it would raise. Values beyond `i128`
/// saturate (they are cut to the maximum page size or lie past any list's end anyway).
pub fn python_int(text: &str) -> Option<i128> {
    let text = text.trim_matches(|c: char| c.is_whitespace());
    let (negative, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    // Underscores only between digits, one at a time: "1_000" yes, "_1", "1_", "1__0" no.
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return None;
    }
    let mut value: i128 = 0;
    for c in digits.chars().filter(|c| *c != '_') {
        let d = c.to_digit(10)?;
        value = value.saturating_mul(10).saturating_add(i128::from(d));
    }
    Some(if negative { -value } else { value })
}

/// DRF `LimitOffsetPagination.get_limit`: a strictly positive integer cut to `max`, else `default`.
pub fn limit(pairs: &[(String, String)], default: u64, max: u64) -> u64 {
    match last(pairs, "limit").and_then(python_int) {
        Some(n) if n > 0 => (n.min(i128::from(max))) as u64,
        _ => default,
    }
}

/// DRF `get_offset`: a non-negative integer, else 0.
pub fn offset(pairs: &[(String, String)]) -> u128 {
    match last(pairs, "offset").and_then(python_int) {
        Some(n) if n >= 0 => n as u128,
        _ => 0,
    }
}

/// The `mutual` filter: absent → all, `1` → mutual only, `0` → non-mutual only.
pub fn mutual(pairs: &[(String, String)]) -> Result<Option<bool>, ApiError> {
    match last(pairs, "mutual") {
        None => Ok(None),
        Some("1") => Ok(Some(true)),
        Some("0") => Ok(Some(false)),
        Some(_) => Err(ApiError::Invalid {
            field: "mutual",
            message: "mutual must be 0 or 1.".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Vec<(String, String)> {
        parse_query(Some(s))
    }

    #[test]
    fn python_int_matches_python() {
        assert_eq!(python_int("12"), Some(12));
        assert_eq!(python_int(" 12\n"), Some(12));
        assert_eq!(python_int("+5"), Some(5));
        assert_eq!(python_int("-3"), Some(-3));
        assert_eq!(python_int("1_000"), Some(1000));
        assert_eq!(python_int("007"), Some(7));
        for bad in [
            "", " ", "abc", "1.5", "1e3", "_1", "1_", "1__0", "--1", "0x10", "+", "1 2",
        ] {
            assert_eq!(python_int(bad), None, "{bad:?}");
        }
        assert_eq!(python_int(&"9".repeat(60)), Some(i128::MAX));
    }

    #[test]
    fn limit_falls_back_like_drf() {
        for (query, want) in [
            ("", 20),
            ("limit=5", 5),
            ("limit=0", 20),
            ("limit=-3", 20),
            ("limit=abc", 20),
            ("limit=", 20),
            ("limit", 20),
            ("limit=1000", 100),
            ("limit=100", 100),
            ("limit=1&limit=7", 7),
            ("limit=%2B7", 7),
        ] {
            assert_eq!(limit(&q(query), 20, 100), want, "{query}");
        }
    }

    #[test]
    fn offset_falls_back_like_drf() {
        for (query, want) in [
            ("", 0),
            ("offset=5", 5),
            ("offset=-1", 0),
            ("offset=x", 0),
            ("offset=0", 0),
        ] {
            assert_eq!(offset(&q(query)), want, "{query}");
        }
    }

    #[test]
    fn mutual_is_strict() {
        assert_eq!(mutual(&q("")).unwrap(), None);
        assert_eq!(mutual(&q("mutual=1")).unwrap(), Some(true));
        assert_eq!(mutual(&q("mutual=0")).unwrap(), Some(false));
        for bad in [
            "mutual=2",
            "mutual=true",
            "mutual=-1",
            "mutual=",
            "mutual",
            "mutual=01",
            "mutual=%201",
        ] {
            assert_eq!(mutual(&q(bad)).unwrap_err().code(), "invalid", "{bad}");
        }
    }
}
