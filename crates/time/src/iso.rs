//! Event timestamp helpers: a fast ISO 8601 instant parser, epoch-seconds conversion, the clock.

use std::time::{SystemTime, UNIX_EPOCH};

use vigil_model::Micros;

use crate::tz::parse_offset;

/// Converts Splunk epoch seconds (with fraction) to micros, rounding to the nearest microsecond.
/// `None` for NaN, infinities and values outside the `i64` micros range.
pub fn micros_from_secs(secs: f64) -> Option<Micros> {
    if !secs.is_finite() {
        return None;
    }
    let m = (secs * 1_000_000.0).round();
    // i64::MAX as f64 rounds up to 2^63, which is out of range, hence the strict bound.
    if !(-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&m) {
        return None;
    }
    Some(m as i64)
}

/// The system clock, in micros since the epoch (saturating far outside ±292,000 years).
pub fn now_micros() -> Micros {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_micros()).map(|m| -m).unwrap_or(i64::MIN),
    }
}

/// Parses an ISO 8601 / RFC 3339 instant: `YYYY-MM-DD(T|t| )HH:MM:SS[(.|,)fraction][Z|±HH:MM|±HHMM|±HH]`.
///
/// Without a zone designator the time is taken as UTC (Sysmon's `UtcTime`). Any number of
/// fractional digits is accepted; digits beyond the sixth are truncated (EVTX renders 100 ns ticks
/// as 7 digits). Leading/trailing ASCII whitespace is ignored. Does not allocate.
///
/// ```
/// assert_eq!(vigil_time::parse_iso8601_utc("1970-01-01T00:00:01.5Z"), Some(1_500_000));
/// ```
pub fn parse_iso8601_utc(s: &str) -> Option<Micros> {
    let b = s.trim_ascii().as_bytes();
    if b.len() < 19 {
        return None;
    }
    let year = i64::from(num(b, 0, 4)?);
    let month = num(b, 5, 2)?;
    let day = num(b, 8, 2)?;
    let hour = i64::from(num(b, 11, 2)?);
    let minute = i64::from(num(b, 14, 2)?);
    let second = i64::from(num(b, 17, 2)?);
    if b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    if !(1..=12).contains(&month) || !(1..=days_in_month(year, month)).contains(&day) {
        return None;
    }
    // Second 60 is a leap second; like POSIX time it counts as the next minute's :00.
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut i = 19;
    let mut frac: i64 = 0;
    if i < b.len() && (b[i] == b'.' || b[i] == b',') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 6 {
                frac = frac * 10 + i64::from(b[i] - b'0');
            }
            i += 1;
        }
        let n = i - start;
        if n == 0 {
            return None;
        }
        for _ in n..6 {
            frac *= 10;
        }
    }
    let offset = match b.get(i) {
        None => 0,
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(b'+' | b'-') => i64::from(parse_offset(&b[i..])?),
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
    Some(secs * 1_000_000 + frac)
}

/// Parses Sysmon's `UtcTime` (`2026-08-14 16:03:29.752`, UTC). Same grammar as
/// [`parse_iso8601_utc`], named for readability at call sites.
pub fn parse_sysmon_utctime(s: &str) -> Option<Micros> {
    parse_iso8601_utc(s)
}

/// Reads `len` ASCII digits at `at`.
#[inline]
fn num(b: &[u8], at: usize, len: usize) -> Option<u32> {
    let mut v = 0u32;
    for &c in b.get(at..at.checked_add(len)?)? {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

use vigil_model::calendar::{days_from_civil, days_in_month};

#[cfg(test)]
mod tests {
    use super::*;

    const T: Micros = 1_786_723_409_000_000; // 2026-08-14T16:03:29Z

    #[test]
    fn evtx_seven_digit_fraction() {
        assert_eq!(parse_iso8601_utc("2026-08-14T16:03:29.7579260Z"), Some(T + 757_926));
    }

    #[test]
    fn sysmon_utctime() {
        assert_eq!(parse_sysmon_utctime("2026-08-14 16:03:29.752"), Some(T + 752_000));
    }

    #[test]
    fn fraction_widths() {
        assert_eq!(parse_iso8601_utc("2026-08-14T16:03:29Z"), Some(T));
        assert_eq!(parse_iso8601_utc("2026-08-14T16:03:29.1Z"), Some(T + 100_000));
        assert_eq!(parse_iso8601_utc("2026-08-14T16:03:29.123456789Z"), Some(T + 123_456));
        assert_eq!(parse_iso8601_utc("2026-08-14T16:03:29,5Z"), Some(T + 500_000));
        assert_eq!(parse_iso8601_utc("2026-08-14T16:03:29.Z"), None);
    }

    #[test]
    fn offsets_and_designators() {
        assert_eq!(parse_iso8601_utc("2026-08-14T18:03:29+02:00"), Some(T));
        assert_eq!(parse_iso8601_utc("2026-08-14T18:03:29+0200"), Some(T));
        assert_eq!(parse_iso8601_utc("2026-08-14T18:03:29+02"), Some(T));
        assert_eq!(parse_iso8601_utc("2026-08-14T11:03:29.5-05:00"), Some(T + 500_000));
        assert_eq!(parse_iso8601_utc("2026-08-14t16:03:29z"), Some(T));
        assert_eq!(parse_iso8601_utc("2026-08-14T16:03:29"), Some(T));
        assert_eq!(parse_iso8601_utc("  2026-08-14T16:03:29Z\n"), Some(T));
    }

    #[test]
    fn known_instants() {
        assert_eq!(parse_iso8601_utc("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_iso8601_utc("1969-12-31T23:59:59.999999Z"), Some(-1));
        assert_eq!(parse_iso8601_utc("2000-02-29T00:00:00Z"), Some(951_782_400_000_000));
        assert_eq!(parse_iso8601_utc("2023-11-14T22:13:20Z"), Some(1_700_000_000_000_000));
        assert_eq!(parse_iso8601_utc("2016-12-31T23:59:60Z"), parse_iso8601_utc("2017-01-01T00:00:00Z"));
    }

    #[test]
    fn rejects_garbage() {
        for s in [
            "",
            "2026",
            "2026-08-14",
            "2026-13-01T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2026-00-10T00:00:00Z",
            "2026-08-14T24:00:00Z",
            "2026-08-14T16:60:00Z",
            "2026-08-14T16:03:29Q",
            "2026-08-14T16:03:29Zx",
            "2026-08-14T16:03:29+2",
            "2026-08-14X16:03:29Z",
            "2026/08/14T16:03:29Z",
            "２０２６-08-14T16:03:29Z",
            "+026-08-14T16:03:29Z",
            "2026-08-14T16:03:29.5.5Z",
        ] {
            assert_eq!(parse_iso8601_utc(s), None, "{s:?}");
        }
    }

    #[test]
    fn agrees_with_jiff_on_many_dates() {
        // Property-style: every day across several centuries, including leap days.
        let mut day = jiff::civil::date(1600, 1, 1);
        let end = jiff::civil::date(2500, 1, 1);
        while day < end {
            let s = format!("{day}T01:02:03.5Z");
            let want = day.at(1, 2, 3, 500_000_000).to_zoned_datetime(jiff::tz::TimeZone::UTC).unwrap().timestamp();
            assert_eq!(parse_iso8601_utc(&s), Some(want.as_microsecond()), "{s}");
            day = day.checked_add(jiff::Span::new().days(7)).unwrap();
        }
    }

    #[test]
    fn secs_conversion() {
        assert_eq!(micros_from_secs(1.5), Some(1_500_000));
        assert_eq!(micros_from_secs(-0.000001), Some(-1));
        assert_eq!(micros_from_secs(1_700_000_000.123456), Some(1_700_000_000_123_456));
        assert_eq!(micros_from_secs(f64::NAN), None);
        assert_eq!(micros_from_secs(f64::INFINITY), None);
        assert_eq!(micros_from_secs(1e300), None);
        assert_eq!(micros_from_secs(-1e300), None);
    }

    #[test]
    fn clock_is_recent() {
        assert!(now_micros() > 1_700_000_000_000_000);
    }
}
