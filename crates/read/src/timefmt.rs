//! Small, dependency-free timestamp parsers for the formats readers meet.
//!
//! Everything returns [`Micros`] (UTC epoch microseconds). Fractions longer than 6 digits
//! (EVTX renders 7) are truncated, not rounded, so that `_time` never moves into the next
//! microsecond.

use vigil_model::calendar::days_from_civil;
use vigil_model::Micros;

fn num(b: &[u8]) -> Option<i64> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut n: i64 = 0;
    for c in b {
        n = n.checked_mul(10)?.checked_add(i64::from(c - b'0'))?;
    }
    Some(n)
}

/// Parses ISO-8601-like timestamps: `2026-08-14T16:03:29.7579260Z`,
/// `2021-01-14 23:41:39.938` (taken as UTC), `2024-01-01T10:00:00+02:00`,
/// `2024-01-01T10:00:00.123-0500`.
pub fn parse_iso(s: &str) -> Option<Micros> {
    let b = s.trim().as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !(b[10] == b'T' || b[10] == b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let year = num(&b[0..4])?;
    let month = num(&b[5..7])? as u32;
    let day = num(&b[8..10])? as u32;
    let hour = num(&b[11..13])?;
    let min = num(&b[14..16])?;
    let sec = num(&b[17..19])?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut micros: i64 = 0;
    if i < b.len() && (b[i] == b'.' || b[i] == b',') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let frac = &b[start..i];
        if frac.is_empty() {
            return None;
        }
        for k in 0..6 {
            micros = micros * 10 + frac.get(k).map_or(0, |c| i64::from(c - b'0'));
        }
    }
    let mut offset_secs: i64 = 0;
    let rest = &b[i..];
    match rest {
        [] | [b'Z'] | [b'z'] => {}
        [sign @ (b'+' | b'-'), tz @ ..] => {
            let digits: Vec<u8> = tz.iter().copied().filter(|c| *c != b':').collect();
            if digits.len() != 4 && digits.len() != 2 {
                return None;
            }
            let h = num(&digits[0..2])?;
            let m = if digits.len() == 4 { num(&digits[2..4])? } else { 0 };
            offset_secs = (h * 3600 + m * 60) * if *sign == b'-' { -1 } else { 1 };
        }
        _ => return None,
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + min * 60 + sec - offset_secs;
    secs.checked_mul(1_000_000)?.checked_add(micros)
}

/// Parses an epoch number in seconds, milliseconds or microseconds as given by `unit`
/// (1 = seconds, 1000 = ms, ...). Accepts a fractional part (`1713805173.321`).
pub fn parse_epoch(s: &str, per_second: i64) -> Option<Micros> {
    let t = s.trim();
    let (int, frac) = match t.split_once('.') {
        Some((a, b)) => (a, b),
        None => (t, ""),
    };
    let neg = int.starts_with('-');
    let int_n = num(int.trim_start_matches('-').as_bytes())?;
    if !frac.is_empty() && !frac.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let micros_per_unit = 1_000_000 / per_second.clamp(1, 1_000_000);
    let mut v = int_n.checked_mul(micros_per_unit)?;
    // fractional part of a unit, scaled to micros
    let mut scale = micros_per_unit;
    for c in frac.bytes() {
        scale /= 10;
        if scale == 0 {
            break;
        }
        v += i64::from(c - b'0') * scale;
    }
    Some(if neg { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_forms() {
        // 2026-08-14T16:03:29Z = 1786723409
        assert_eq!(parse_iso("2026-08-14T16:03:29.7579260Z"), Some(1_786_723_409_757_926));
        assert_eq!(parse_iso("1970-01-01 00:00:01.5"), Some(1_500_000));
        assert_eq!(parse_iso("1970-01-01T02:00:00+02:00"), Some(0));
        assert_eq!(parse_iso("1970-01-01T00:00:00-0100"), Some(3_600_000_000));
        assert_eq!(parse_iso("2000-02-29T00:00:00Z"), Some(951_782_400_000_000));
        assert_eq!(parse_iso("garbage"), None);
        assert_eq!(parse_iso("2021-13-01T00:00:00Z"), None);
        assert_eq!(parse_iso("2021-01-01T00:00:00Zjunk"), None);
    }

    #[test]
    fn epochs() {
        assert_eq!(parse_epoch("1713805173418", 1000), Some(1_713_805_173_418_000));
        assert_eq!(parse_epoch("1713805173.321", 1), Some(1_713_805_173_321_000));
        assert_eq!(parse_epoch("12", 1), Some(12_000_000));
        assert_eq!(parse_epoch("x", 1), None);
        assert_eq!(parse_epoch("99999999999999999999999", 1), None);
    }
}
