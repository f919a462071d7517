//! Query parameters as Django REST Framework reads them.
//!
//! DRF reads the *last* value of a repeated key, parses integers with Python's `int()` (surrounding
//! whitespace, a sign and `_` between digits allowed) and falls back silently for `limit` and
//! `offset`. `mutual` is strict: anything but `0` or `1` is a 400.

use crate::error::ApiError;

pub use crate::core::parse_query;

/// The last value of `key`, as Django's `QueryDict.__getitem__` gives it.
pub fn last<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// The zero of every run of Unicode decimal digits (category Nd) that CPython's `int()`
/// accepts, from Python 3.11's Unicode 14 tables: `chr(zero + k)` is the digit `k`.
const DIGIT_ZEROS: [u32; 66] = [
    0x30, 0x660, 0x6f0, 0x7c0, 0x966, 0x9e6, 0xa66, 0xae6, 0xb66, 0xbe6, 0xc66, 0xce6, 0xd66,
    0xde6, 0xe50, 0xed0, 0xf20, 0x1040, 0x1090, 0x17e0, 0x1810, 0x1946, 0x19d0, 0x1a80, 0x1a90,
    0x1b50, 0x1bb0, 0x1c40, 0x1c50, 0xa620, 0xa8d0, 0xa900, 0xa9d0, 0xa9f0, 0xaa50, 0xabf0, 0xff10,
    0x104a0, 0x10d30, 0x11066, 0x110f0, 0x11136, 0x111d0, 0x112f0, 0x11450, 0x114d0, 0x11650,
    0x116c0, 0x11730, 0x118e0, 0x11950, 0x11c50, 0x11d50, 0x11da0, 0x16a60, 0x16ac0, 0x16b50,
    0x1d7ce, 0x1d7d8, 0x1d7e2, 0x1d7ec, 0x1d7f6, 0x1e140, 0x1e2f0, 0x1e950, 0x1fbf0,
];

/// CPython refuses to convert text of more digits than this (`sys.int_info.str_digits_check_threshold`
/// default, Python 3.11+): DRF then falls back as for any invalid value.
const MAX_PYTHON_DIGITS: usize = 4300;

/// The value of a Unicode decimal digit, as `int()` reads it.
fn digit_value(c: char) -> Option<u8> {
    let code = u32::from(c);
    DIGIT_ZEROS
        .iter()
        .find(|zero| (**zero..**zero + 10).contains(&code))
        .map(|zero| (code - zero) as u8)
}

/// The whitespace `int()` strips: ASCII space, tab, line feed, vertical tab, form feed and
/// carriage return, plus the non-ASCII characters Python calls spaces.
fn python_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\u{b}' | '\u{c}' | '\r')
        || (!c.is_ascii() && c.is_whitespace())
}

/// An integer of any size, as `int()` returns it: its sign and its decimal digits (ASCII, no
/// leading zeros, `"0"` for zero).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PyInt {
    pub negative: bool,
    pub digits: String,
}

impl PyInt {
    pub fn is_positive(&self) -> bool {
        !self.negative && self.digits != "0"
    }

    /// The value when it fits in a `u128` and is not negative.
    pub fn to_u128(&self) -> Option<u128> {
        if self.negative {
            return None;
        }
        self.digits.parse().ok()
    }
}

/// Python's `int(text)` for base-10 text, or None where it would raise `ValueError`.
pub fn python_int(text: &str) -> Option<PyInt> {
    let text = text.trim_matches(python_space);
    let (negative, body) = match text.chars().next()? {
        '-' => (true, &text[1..]),
        '+' => (false, &text[1..]),
        _ => (false, text),
    };
    // Underscores only between digits, one at a time: "1_000" yes, "_1", "1_", "1__0" no.
    if body.is_empty() || body.starts_with('_') || body.ends_with('_') || body.contains("__") {
        return None;
    }
    let mut digits = String::with_capacity(body.len());
    for c in body.chars().filter(|c| *c != '_') {
        digits.push(char::from(b'0' + digit_value(c)?));
    }
    if digits.len() > MAX_PYTHON_DIGITS {
        return None;
    }
    let trimmed = digits.trim_start_matches('0');
    let digits = if trimmed.is_empty() { "0" } else { trimmed }.to_string();
    Some(PyInt {
        negative: negative && digits != "0",
        digits,
    })
}

/// DRF `LimitOffsetPagination.get_limit`: a strictly positive integer (saturated to `u64`),
/// else `default`. Cutting it to the maximum is the core's (`core::clamp_limit`), for both
/// doors.
pub fn limit(pairs: &[(String, String)], default: u64) -> u64 {
    match last(pairs, "limit").and_then(python_int) {
        Some(n) if n.is_positive() => n
            .to_u128()
            .map_or(u64::MAX, |n| u64::try_from(n).unwrap_or(u64::MAX)),
        _ => default,
    }
}

/// DRF `get_offset`: a non-negative integer (of any size), else 0.
pub fn offset(pairs: &[(String, String)]) -> PyInt {
    match last(pairs, "offset").and_then(python_int) {
        Some(n) if !n.negative => n,
        _ => PyInt {
            negative: false,
            digits: "0".into(),
        },
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
    use crate::core::clamp_limit;

    fn q(s: &str) -> Vec<(String, String)> {
        parse_query(Some(s))
    }

    fn int(text: &str) -> Option<String> {
        python_int(text).map(|n| format!("{}{}", if n.negative { "-" } else { "" }, n.digits))
    }

    /// Expected values checked against CPython 3.11's `int()`.
    #[test]
    fn python_int_matches_python() {
        for (text, want) in [
            ("12", "12"),
            (" \t12\n\u{b}\u{c}\r", "12"),
            ("\u{85}5\u{a0}", "5"),
            ("\u{3000}5\u{2028}", "5"),
            ("+5", "5"),
            ("-3", "-3"),
            ("-0", "0"),
            ("1_000", "1000"),
            ("007", "7"),
            ("\u{ff15}", "5"),
            ("+\u{665}", "5"),
            ("-\u{ff11}_\u{ff10}", "-10"),
            ("\u{661}_\u{662}", "12"),
        ] {
            assert_eq!(int(text).as_deref(), Some(want), "{text:?}");
        }
        for bad in [
            "", " ", "abc", "1.5", "1e3", "_1", "1_", "1__0", "--1", "0x10", "+", "1 2", "\u{1c}5",
            "5\u{1f}", "\u{b2}", "1\u{a0}2",
        ] {
            assert_eq!(int(bad), None, "{bad:?}");
        }
        assert_eq!(int(&"9".repeat(4300)).map(|d| d.len()), Some(4300));
        assert_eq!(int(&"9".repeat(4301)), None, "CPython's int_max_str_digits");
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
            ("limit=%EF%BC%95", 5),
            ("limit=99999999999999999999999999999999999999999", 100),
        ] {
            assert_eq!(clamp_limit(limit(&q(query), 20), 100), want, "{query}");
        }
    }

    #[test]
    fn offset_falls_back_like_drf() {
        for (query, want) in [
            ("", "0"),
            ("offset=5", "5"),
            ("offset=-1", "0"),
            ("offset=x", "0"),
            ("offset=0", "0"),
            ("offset=%EF%BC%91%EF%BC%90", "10"),
            (
                "offset=10000000000000000000000000000000000000000",
                "10000000000000000000000000000000000000000",
            ),
        ] {
            assert_eq!(offset(&q(query)).digits, want, "{query}");
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
