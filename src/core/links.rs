//! `next` / `previous` links, built exactly as DRF's `LimitOffsetPagination` builds them with
//! `replace_query_param` / `remove_query_param`: the request's absolute URL, the query parsed
//! with `parse_qs(keep_blank_values=True)`, one key replaced or removed, and the query
//! re-encoded with keys sorted by `urlencode(..., doseq=True)` (Python's `quote_plus`).
//! GraphQL pages link to the equivalent REST request, so both doors build links here.

use crate::store::RequestBox;
use axum::http::{header, HeaderMap, Uri};

/// The decoded query string: pairs in order, `+` as space, bad UTF-8 replaced (as Python's
/// `parse_qsl(..., keep_blank_values=True)` does).
pub fn parse_query(raw: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The query of a URL as Python's `parse_qs` returns it: each key once, in order of first
/// appearance, with all its values.
pub struct QueryDict(Vec<(String, Vec<String>)>);

impl QueryDict {
    pub fn from_pairs(pairs: &[(String, String)]) -> QueryDict {
        let mut entries: Vec<(String, Vec<String>)> = Vec::new();
        for (key, value) in pairs {
            match entries.iter_mut().find(|(k, _)| k == key) {
                Some((_, values)) => values.push(value.clone()),
                None => entries.push((key.clone(), vec![value.clone()])),
            }
        }
        QueryDict(entries)
    }

    /// `replace_query_param`: the key's values become exactly `value`.
    pub fn set(&mut self, key: &str, value: String) {
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some((_, values)) => *values = vec![value],
            None => self.0.push((key.to_string(), vec![value])),
        }
    }

    /// `remove_query_param`.
    pub fn remove(&mut self, key: &str) {
        self.0.retain(|(k, _)| k != key);
    }

    /// `urlencode(sorted(items), doseq=True)`.
    pub fn encode(&self) -> String {
        let mut entries: Vec<&(String, Vec<String>)> = self.0.iter().collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out = String::new();
        for (key, values) in entries {
            for value in values {
                if !out.is_empty() {
                    out.push('&');
                }
                quote_plus(key, &mut out);
                out.push('=');
                quote_plus(value, &mut out);
            }
        }
        out
    }
}

/// Python's `urllib.parse.quote_plus`: letters, digits and `_.-~` kept, space as `+`, every
/// other UTF-8 byte as `%XX` (upper-case hex).
fn quote_plus(text: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in text.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(HEX[(b >> 4) as usize] as char);
                out.push(HEX[(b & 15) as usize] as char);
            }
        }
    }
}

/// Where a linked page starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Position {
    /// The first page: the link has no `offset` parameter (DRF removes it).
    First,
    /// At this offset (decimal digits: no size limit).
    At(String),
}

/// DRF's `get_next_link` / `get_previous_link` decisions for a page of `limit` from `offset`
/// (decimal digits: Python's integers have no bound, so neither has the `previous` link of an
/// absurd offset) in a list of `count`: (next, previous).
pub fn positions(limit: u64, offset: &str, count: u64) -> (Option<Position>, Option<Position>) {
    let limit128 = u128::from(limit);
    // Beyond u128 an offset is past the end of any list: no `next`, and `previous` is computed
    // on the digits.
    let small: Option<u128> = offset.parse().ok();
    let next = small
        .filter(|o| o + limit128 < u128::from(count))
        .map(|o| Position::At((o + limit128).to_string()));
    let previous = (small != Some(0)).then(|| match small {
        Some(o) if o <= limit128 => Position::First,
        Some(o) => Position::At((o - limit128).to_string()),
        None => Position::At(decimal_minus(offset, limit)),
    });
    (next, previous)
}

/// The URL of the page at `position`: `base` (scheme, host and path, no query) with the
/// request's `query` pairs, `limit` set and `offset` set or removed, re-encoded as DRF does.
pub fn url(base: &str, query: &[(String, String)], limit: u64, position: &Position) -> String {
    let mut dict = QueryDict::from_pairs(query);
    dict.set("limit", limit.to_string());
    match position {
        Position::First => dict.remove("offset"),
        Position::At(offset) => dict.set("offset", offset.clone()),
    }
    let q = dict.encode();
    if q.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{q}")
    }
}

/// The paging links of a response.
pub struct Links {
    pub next: Option<String>,
    pub previous: Option<String>,
}

/// Both links of a page of `limit` from `offset` in a list of `count` (see `positions`).
pub fn links(
    base: &str,
    query: &[(String, String)],
    limit: u64,
    offset: &str,
    count: u64,
) -> Links {
    let (next, previous) = positions(limit, offset, count);
    Links {
        next: next.map(|p| url(base, query, limit, &p)),
        previous: previous.map(|p| url(base, query, limit, &p)),
    }
}

/// Route 10: the viewer's pending received requests.
pub const REQUESTS_PATH: &str = "/api/v2/user/connection/requests/";
/// Route 11: the viewer's sent requests, pending and rejected.
pub const REQUESTS_SENT_PATH: &str = "/api/v2/user/connection/requests_sent/";

/// The canonical path of a request list (routes 10 and 11), the base of its links.
pub fn requests_path(list: RequestBox) -> &'static str {
    match list {
        RequestBox::Received => REQUESTS_PATH,
        RequestBox::Sent => REQUESTS_SENT_PATH,
    }
}

/// The canonical path of a user's connections (with the trailing slash).
pub fn connections_path(owner: i64) -> String {
    format!("/api/v2/user/{owner}/connections/")
}

/// Scheme and host of links: `public_base_url` when set, else `http://` and the request's
/// `Host` (or the URI's authority), `localhost` when neither is plausible.
pub fn origin(public_base_url: Option<&str>, headers: &HeaderMap, uri: Option<&Uri>) -> String {
    if let Some(public) = public_base_url {
        return public.to_string();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| uri.and_then(|u| u.authority()).map(|a| a.as_str()))
        .filter(|h| is_plausible_host(h))
        .unwrap_or("localhost");
    format!("http://{host}")
}

/// A `Host` value made of host-name, IP-literal and port characters only, so a hostile header
/// cannot inject anything into a link.
fn is_plausible_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']' | b'_')
        })
}

/// `digits - n` for a decimal number larger than `n`, digit by digit (no size limit).
fn decimal_minus(digits: &str, n: u64) -> String {
    let mut out: Vec<u8> = digits.bytes().map(|b| b - b'0').collect();
    let mut borrow = u128::from(n);
    for d in out.iter_mut().rev() {
        if borrow == 0 {
            break;
        }
        let take = (borrow % 10) as u8;
        borrow /= 10;
        if *d >= take {
            *d -= take;
        } else {
            *d += 10 - take;
            borrow += 1;
        }
    }
    let text: String = out.iter().map(|d| char::from(b'0' + d)).collect();
    let trimmed = text.trim_start_matches('0');
    if trimmed.is_empty() {
        "0".into()
    } else {
        trimmed.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "http://testserver/api/v2/user/1/connections/";

    fn at(query: &str, limit: u64, offset: u128, count: u64) -> (Option<String>, Option<String>) {
        let l = links(
            BASE,
            &parse_query(Some(query)),
            limit,
            &offset.to_string(),
            count,
        );
        (l.next, l.previous)
    }

    #[test]
    fn first_middle_last_pages() {
        assert_eq!(
            at("", 20, 0, 57),
            (Some(format!("{BASE}?limit=20&offset=20")), None)
        );
        assert_eq!(
            at("limit=20&offset=20", 20, 20, 57),
            (
                Some(format!("{BASE}?limit=20&offset=40")),
                Some(format!("{BASE}?limit=20"))
            )
        );
        assert_eq!(
            at("offset=40", 20, 40, 57),
            (None, Some(format!("{BASE}?limit=20&offset=20")))
        );
        assert_eq!(at("", 20, 0, 20), (None, None));
    }

    #[test]
    fn past_the_end_keeps_a_previous() {
        assert_eq!(
            at("offset=500", 20, 500, 57),
            (None, Some(format!("{BASE}?limit=20&offset=480")))
        );
    }

    #[test]
    fn offsets_beyond_any_integer_type_stay_exact() {
        let huge = "10000000000000000000000000000000000000000";
        let l = links(BASE, &parse_query(Some("offset=1")), 20, huge, 57);
        assert_eq!(l.next, None);
        assert_eq!(
            l.previous.unwrap(),
            format!("{BASE}?limit=20&offset=9999999999999999999999999999999999999980")
        );
        assert_eq!(decimal_minus("1000", 1), "999");
        assert_eq!(
            decimal_minus(
                "340282366920938463463374607431768211456",
                18446744073709551615
            ),
            "340282366920938463444927863358058659841"
        );
    }

    #[test]
    fn other_params_kept_sorted_and_requoted() {
        let (next, _) = at("zeta=1&mutual=1&a=x%20y&limit=abc&%C3%A9=%2A~", 20, 0, 57);
        assert_eq!(
            next.unwrap(),
            format!("{BASE}?a=x+y&limit=20&mutual=1&offset=20&zeta=1&%C3%A9=%2A~")
        );
    }

    #[test]
    fn repeated_and_blank_values() {
        let (next, _) = at("tag=b&tag=a&empty=&flag", 5, 0, 57);
        assert_eq!(
            next.unwrap(),
            format!("{BASE}?empty=&flag=&limit=5&offset=5&tag=b&tag=a")
        );
    }

    #[test]
    fn hosts() {
        assert!(is_plausible_host("testserver"));
        assert!(is_plausible_host("127.0.0.1:8080"));
        assert!(is_plausible_host("[::1]:8080"));
        assert!(!is_plausible_host("evil.com/\"><script>"));
        assert!(!is_plausible_host("a b"));
    }
}
