//! Instants are stored as microseconds since the Unix epoch (UTC) and shown as RFC 3339.

use chrono::{DateTime, SecondsFormat, Utc};

/// Parses an RFC 3339 instant with any UTC offset into epoch microseconds.
pub fn parse_rfc3339_us(text: &str) -> Result<i64, String> {
    let parsed = DateTime::parse_from_rfc3339(text)
        .map_err(|e| format!("{text:?} is not an RFC 3339 time ({e})"))?;
    Ok(parsed.with_timezone(&Utc).timestamp_micros())
}

/// The API's form: UTC, whole seconds, `Z` (`2024-05-01T10:20:30Z`).
pub fn api_time(us: i64) -> String {
    let whole_seconds = us.div_euclid(1_000_000);
    DateTime::<Utc>::from_timestamp(whole_seconds, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The data file's form: UTC with `Z`, and the fraction of a second only when there is one,
/// so an export loses nothing an import accepted.
pub fn file_time(us: i64) -> String {
    let time = DateTime::<Utc>::from_timestamp_micros(us).unwrap_or_default();
    if us.rem_euclid(1_000_000) == 0 {
        time.to_rfc3339_opts(SecondsFormat::Secs, true)
    } else {
        time.to_rfc3339_opts(SecondsFormat::AutoSi, true)
    }
}

/// Now, in epoch microseconds.
pub fn now_us() -> i64 {
    Utc::now().timestamp_micros()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_utc_and_order_by_instant() {
        let a = parse_rfc3339_us("2024-05-01T12:20:30+02:00").unwrap();
        let b = parse_rfc3339_us("2024-05-01T10:20:31Z").unwrap();
        assert!(a < b);
        assert_eq!(api_time(a), "2024-05-01T10:20:30Z");
    }

    #[test]
    fn api_time_drops_fractions_file_time_keeps_them() {
        let t = parse_rfc3339_us("2024-05-01T10:20:30.250Z").unwrap();
        assert_eq!(api_time(t), "2024-05-01T10:20:30Z");
        assert_eq!(file_time(t), "2024-05-01T10:20:30.250Z");
        assert_eq!(parse_rfc3339_us(&file_time(t)).unwrap(), t);
        let before_epoch = parse_rfc3339_us("1969-12-31T23:59:59.5Z").unwrap();
        assert_eq!(api_time(before_epoch), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn rejects_non_rfc3339() {
        assert!(parse_rfc3339_us("2024-05-01 10:20:30").is_err());
        assert!(parse_rfc3339_us("yesterday").is_err());
    }
}
