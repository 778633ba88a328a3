//! Splunk `strptime`: parsing a time string with `%` directives (eval `strptime()`,
//! `convert mktime()`, the `%m/%d/%Y:%H:%M:%S` time modifier form).

use jiff::civil::{Date, DateTime};
use jiff::tz::Offset;
use vigil_model::Micros;

use crate::strftime::{MONTHS, WEEKDAYS};
use crate::tz::micros;
use crate::Tz;

/// Fields collected while parsing.
#[derive(Default)]
struct Fields {
    any: bool,
    year: Option<i64>,
    month: Option<i64>,
    day: Option<i64>,
    yday: Option<i64>,
    hour: Option<i64>,
    pm: Option<bool>,
    minute: Option<i64>,
    second: Option<i64>,
    nanos: i64,
    offset: Option<i32>,
    epoch: Option<i64>,
}

/// Parses `s` according to `fmt` (same directives as [`crate::format_time`]); the civil time is
/// interpreted in `tz` unless the input carries `%z`/`%Z`/`%s`.
///
/// Semantics (decided where Splunk is silent, following glibc `strptime`):
/// - whitespace in `fmt` matches any amount (including none) of whitespace in `s`; numeric fields
///   skip leading spaces and take 1..=n digits (`%Y` up to 4, `%m` up to 2, ...);
/// - names (`%a %A %b %B`) are case-insensitive and accept full or 3-letter forms;
/// - `%y` 69-99 is 19xx, 00-68 is 20xx; `%p` adjusts `%I`/`%H`;
/// - missing date fields default to 1970-01-01 and missing time fields to 0; `%j` sets the date
///   when no month/day was parsed; weekday fields are checked for syntax only;
/// - trailing input after the format is ignored (Splunk returns a value for
///   `strptime("2026-11-29 junk", "%Y-%m-%d")`);
/// - `None` when a literal or field does not match, a date does not exist, or the format contains
///   no field at all. A civil time in a DST gap resolves forward, a repeated one to the earlier.
pub fn parse_time(s: &str, fmt: &str, tz: &Tz) -> Option<Micros> {
    let mut f = Fields::default();
    let mut pos = 0;
    parse_into(s.as_bytes(), &mut pos, fmt, &mut f)?;
    build(&f, tz)
}

fn parse_into(inp: &[u8], pos: &mut usize, fmt: &str, f: &mut Fields) -> Option<()> {
    let fb = fmt.as_bytes();
    let mut i = 0;
    while i < fb.len() {
        let c = fb[i];
        if c.is_ascii_whitespace() {
            skip_ws(inp, pos);
            i += 1;
            continue;
        }
        if c != b'%' {
            if inp.get(*pos) != Some(&c) {
                return None;
            }
            *pos += 1;
            i += 1;
            continue;
        }
        // A directive: %[digits]<char>.
        let start = i;
        i += 1;
        let dstart = i;
        while i < fb.len() && fb[i].is_ascii_digit() {
            i += 1;
        }
        let width: Option<u32> = (i > dstart).then(|| fmt[dstart..i].parse().unwrap_or(u32::MAX));
        let Some(d) = fmt[i..].chars().next() else {
            // Trailing `%[digits]`: match literally.
            return literal(inp, pos, &fmt[start..]);
        };
        i += d.len_utf8();
        if width.is_some() && d != 'N' && d != 'Q' {
            literal(inp, pos, &fmt[start..i])?;
            continue;
        }
        match d {
            'Y' => f.year = Some(num(inp, pos, 4)?),
            'y' => {
                let y = num(inp, pos, 2)?;
                f.year = Some(if y >= 69 { 1900 + y } else { 2000 + y });
            }
            'm' => f.month = Some(num(inp, pos, 2)?),
            'd' | 'e' => f.day = Some(num(inp, pos, 2)?),
            'H' | 'k' => f.hour = Some(num(inp, pos, 2)?),
            'I' | 'l' => {
                let h = num(inp, pos, 2)?;
                if !(1..=12).contains(&h) {
                    return None;
                }
                f.hour = Some(h);
            }
            'M' => f.minute = Some(num(inp, pos, 2)?),
            'S' => f.second = Some(num(inp, pos, 2)?),
            'j' => f.yday = Some(num(inp, pos, 3)?),
            'p' => {
                skip_ws(inp, pos);
                if eat_ci(inp, pos, "AM") {
                    f.pm = Some(false);
                } else if eat_ci(inp, pos, "PM") {
                    f.pm = Some(true);
                } else {
                    return None;
                }
            }
            'a' | 'A' => {
                skip_ws(inp, pos);
                name(inp, pos, &WEEKDAYS)?;
            }
            'u' | 'w' => {
                let v = num(inp, pos, 1)?;
                if v > 7 {
                    return None;
                }
            }
            'b' | 'B' | 'h' => {
                skip_ws(inp, pos);
                f.month = Some(name(inp, pos, &MONTHS)? as i64 + 1);
            }
            'z' => f.offset = Some(offset(inp, pos)?),
            'Z' => f.offset = Some(zone_abbrev(inp, pos)?),
            's' => {
                skip_ws(inp, pos);
                let neg = inp.get(*pos) == Some(&b'-');
                if neg {
                    *pos += 1;
                }
                let v = num(inp, pos, 18)?;
                f.epoch = Some(if neg { -v } else { v });
            }
            'N' | 'Q' => {
                let w = width.unwrap_or(if d == 'N' { 9 } else { 3 });
                if !(1..=9).contains(&w) {
                    literal(inp, pos, &fmt[start..i])?;
                    continue;
                }
                let begin = *pos;
                let v = num_raw(inp, pos, w as usize)?;
                let n = (*pos - begin) as u32;
                f.nanos = v * 10i64.pow(9 - n);
            }
            'T' | 'X' => parse_into(inp, pos, "%H:%M:%S", f)?,
            'D' | 'x' => parse_into(inp, pos, "%m/%d/%y", f)?,
            'F' => parse_into(inp, pos, "%Y-%m-%d", f)?,
            'c' => parse_into(inp, pos, "%a %b %e %H:%M:%S %Y", f)?,
            'n' | 't' => skip_ws(inp, pos),
            '%' => literal(inp, pos, "%")?,
            _ => {
                literal(inp, pos, &fmt[start..i])?;
                continue;
            }
        }
        f.any = true;
    }
    Some(())
}

fn build(f: &Fields, tz: &Tz) -> Option<Micros> {
    if !f.any {
        return None;
    }
    if let Some(e) = f.epoch {
        return e.checked_mul(1_000_000)?.checked_add(f.nanos / 1000);
    }
    let (dt, leap) = civil(f)?;
    let ts = match f.offset {
        Some(off) => Offset::from_seconds(off).ok()?.to_timestamp(dt).ok()?,
        None => tz.as_jiff().to_ambiguous_timestamp(dt).compatible().ok()?,
    };
    micros(ts).checked_add(leap * 1_000_000)
}

/// Parses all of `s` (no trailing input) with a format without `%s`; returns the civil time and
/// the explicit UTC offset in seconds, if the input had one. Used for absolute time modifiers.
pub(crate) fn parse_civil_exact(s: &str, fmt: &str) -> Option<(DateTime, Option<i32>)> {
    let mut f = Fields::default();
    let mut pos = 0;
    parse_into(s.as_bytes(), &mut pos, fmt, &mut f)?;
    if pos != s.len() || !f.any || f.epoch.is_some() {
        return None;
    }
    let (dt, leap) = civil(&f)?;
    if leap != 0 {
        return None;
    }
    Some((dt, f.offset))
}

/// The civil date-time of the parsed fields, plus 1 if the input named a leap second (:60),
/// which counts as the next minute's :00.
fn civil(f: &Fields) -> Option<(DateTime, i64)> {
    let year = i16::try_from(f.year.unwrap_or(1970)).ok()?;
    let date = match (f.month, f.day, f.yday) {
        (None, None, Some(yd)) => Date::new(year, 1, 1).ok()?.with().day_of_year(i16::try_from(yd).ok()?).build().ok()?,
        (m, d, _) => Date::new(year, i8::try_from(m.unwrap_or(1)).ok()?, i8::try_from(d.unwrap_or(1)).ok()?).ok()?,
    };
    let mut hour = f.hour.unwrap_or(0);
    if let Some(pm) = f.pm {
        if hour > 12 {
            return None;
        }
        hour = hour % 12 + if pm { 12 } else { 0 };
    }
    let (second, leap) = match f.second.unwrap_or(0) {
        60 => (59, 1),
        s => (s, 0),
    };
    let dt = DateTime::new(
        date.year(),
        date.month(),
        date.day(),
        i8::try_from(hour).ok()?,
        i8::try_from(f.minute.unwrap_or(0)).ok()?,
        i8::try_from(second).ok()?,
        i32::try_from(f.nanos).ok()?,
    )
    .ok()?;
    Some((dt, leap))
}

fn skip_ws(inp: &[u8], pos: &mut usize) {
    while inp.get(*pos).is_some_and(u8::is_ascii_whitespace) {
        *pos += 1;
    }
}

fn literal(inp: &[u8], pos: &mut usize, lit: &str) -> Option<()> {
    let end = pos.checked_add(lit.len())?;
    if inp.get(*pos..end)? == lit.as_bytes() {
        *pos = end;
        Some(())
    } else {
        None
    }
}

/// Up to `max` digits (at least one), after optional spaces.
fn num(inp: &[u8], pos: &mut usize, max: usize) -> Option<i64> {
    skip_ws(inp, pos);
    num_raw(inp, pos, max)
}

/// Up to `max` (<= 18) digits, at least one, no leading spaces.
fn num_raw(inp: &[u8], pos: &mut usize, max: usize) -> Option<i64> {
    let mut v: i64 = 0;
    let mut n = 0;
    while n < max {
        match inp.get(*pos) {
            Some(c) if c.is_ascii_digit() => {
                v = v * 10 + i64::from(c - b'0');
                *pos += 1;
                n += 1;
            }
            _ => break,
        }
    }
    (n > 0).then_some(v)
}

fn eat_ci(inp: &[u8], pos: &mut usize, word: &str) -> bool {
    let end = *pos + word.len();
    match inp.get(*pos..end) {
        Some(got) if got.eq_ignore_ascii_case(word.as_bytes()) => {
            *pos = end;
            true
        }
        _ => false,
    }
}

/// Matches a full or 3-letter name from `names`, case-insensitively; returns its index.
fn name(inp: &[u8], pos: &mut usize, names: &[&str]) -> Option<usize> {
    for (idx, full) in names.iter().enumerate() {
        if eat_ci(inp, pos, full) || eat_ci(inp, pos, &full[..3]) {
            return Some(idx);
        }
    }
    None
}

/// `Z`, `+HH`, `+HHMM` or `+HH:MM`.
fn offset(inp: &[u8], pos: &mut usize) -> Option<i32> {
    skip_ws(inp, pos);
    if matches!(inp.get(*pos), Some(b'Z' | b'z')) {
        *pos += 1;
        return Some(0);
    }
    for len in [6, 5, 3] {
        if let Some(secs) = inp.get(*pos..*pos + len).and_then(crate::tz::parse_offset) {
            *pos += len;
            return Some(secs);
        }
    }
    None
}

/// A zone abbreviation. Only unambiguous ones are known; anything else fails the parse rather
/// than silently using the wrong offset.
fn zone_abbrev(inp: &[u8], pos: &mut usize) -> Option<i32> {
    skip_ws(inp, pos);
    let start = *pos;
    while inp.get(*pos).is_some_and(u8::is_ascii_alphabetic) {
        *pos += 1;
    }
    let word = &inp[start..*pos];
    const KNOWN: [(&str, i32); 13] = [
        ("UTC", 0),
        ("GMT", 0),
        ("UT", 0),
        ("Z", 0),
        ("EST", -5),
        ("EDT", -4),
        ("CST", -6),
        ("CDT", -5),
        ("MST", -7),
        ("MDT", -6),
        ("PST", -8),
        ("PDT", -7),
        ("CET", 1),
    ];
    let h = KNOWN.iter().find(|(n, _)| word.eq_ignore_ascii_case(n.as_bytes())).map(|&(_, h)| h);
    match h {
        Some(h) => Some(h * 3600),
        None if word.eq_ignore_ascii_case(b"CEST") => Some(7200),
        // A numeric offset written where %Z is expected (`%Z` of a fixed zone formats as `+02:00`).
        None if word.is_empty() => offset(inp, pos),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{format_time, CONVERT_DEFAULT_FORMAT, ESCU_CTIME_FORMAT};

    const T: Micros = 1_795_961_137_000_000; // 2026-11-29T14:05:37Z, Sunday

    fn utc(s: &str, fmt: &str) -> Option<Micros> {
        parse_time(s, fmt, &Tz::utc())
    }

    #[test]
    fn common_formats() {
        assert_eq!(utc("11/29/2026 14:05:37", CONVERT_DEFAULT_FORMAT), Some(T));
        assert_eq!(utc("2026-11-29T14:05:37", ESCU_CTIME_FORMAT), Some(T));
        assert_eq!(utc("2026-11-29 14:05:37", "%F %T"), Some(T));
        assert_eq!(utc("11/29/26 14:05:37", "%D %T"), Some(T));
        assert_eq!(utc("Sun Nov 29 14:05:37 2026", "%c"), Some(T));
        assert_eq!(utc("1795961137", "%s"), Some(T));
        assert_eq!(utc("1795961137.250", "%s.%3N"), Some(T + 250_000));
    }

    #[test]
    fn names_12h_and_padding() {
        assert_eq!(utc("sunday, NOVEMBER 29 2026 02:05:37 pm", "%A, %B %d %Y %I:%M:%S %p"), Some(T));
        assert_eq!(utc("Sun Nov 29 2026 2:5:37 PM", "%a %b %e %Y %I:%M:%S %p"), Some(T));
        assert_eq!(utc("29/11/2026 12:00:00 AM", "%d/%m/%Y %I:%M:%S %p"), utc("2026-11-29", "%Y-%m-%d"));
        assert_eq!(utc("2026-11-29  14:05:37", "%Y-%m-%d %H:%M:%S"), Some(T));
        assert_eq!(utc("2026-11-2914:05:37", "%Y-%m-%d %H:%M:%S"), Some(T));
        assert_eq!(utc("13:00 PM", "%I:%M %p"), None);
    }

    #[test]
    fn subseconds() {
        let f = "%Y-%m-%dT%H:%M:%S.%N";
        assert_eq!(utc("2026-11-29T14:05:37.123456789", f), Some(T + 123_456));
        assert_eq!(utc("2026-11-29T14:05:37.5", f), Some(T + 500_000));
        assert_eq!(utc("2026-11-29T14:05:37.123", "%Y-%m-%dT%H:%M:%S.%3N"), Some(T + 123_000));
        assert_eq!(utc("2026-11-29T14:05:37.123456", "%Y-%m-%dT%H:%M:%S.%6N"), Some(T + 123_456));
        assert_eq!(utc("2026-11-29T14:05:37.123", "%Y-%m-%dT%H:%M:%S.%Q"), Some(T + 123_000));
        assert_eq!(utc("2026-11-29T14:05:37.", f), None);
    }

    #[test]
    fn offsets_and_zones() {
        assert_eq!(utc("2026-11-29T16:05:37+02:00", "%Y-%m-%dT%H:%M:%S%z"), Some(T));
        assert_eq!(utc("2026-11-29T16:05:37 +0200", "%Y-%m-%dT%H:%M:%S %z"), Some(T));
        assert_eq!(utc("2026-11-29T14:05:37Z", "%Y-%m-%dT%H:%M:%S%z"), Some(T));
        assert_eq!(utc("2026-11-29 09:05:37 EST", "%Y-%m-%d %H:%M:%S %Z"), Some(T));
        assert_eq!(utc("2026-11-29 14:05:37 UTC", "%Y-%m-%d %H:%M:%S %Z"), Some(T));
        assert_eq!(utc("2026-11-29 14:05:37 XYZT", "%Y-%m-%d %H:%M:%S %Z"), None);
        let paris = Tz::parse("Europe/Paris").unwrap();
        assert_eq!(parse_time("2026-11-29 15:05:37", "%Y-%m-%d %H:%M:%S", &paris), Some(T));
        // An explicit offset wins over the zone argument.
        assert_eq!(parse_time("2026-11-29 14:05:37 +0000", "%Y-%m-%d %H:%M:%S %z", &paris), Some(T));
    }

    #[test]
    fn dst_gap_and_fold_in_paris() {
        let paris = Tz::parse("Europe/Paris").unwrap();
        let f = "%Y-%m-%d %H:%M";
        // 2026-03-29 02:30 does not exist (clocks jump 02:00 -> 03:00): resolves forward, to 03:30 CEST.
        assert_eq!(parse_time("2026-03-29 02:30", f, &paris), parse_time("2026-03-29 01:30", f, &Tz::utc()));
        // 2026-10-25 02:30 happens twice: the earlier (CEST, 00:30Z).
        assert_eq!(parse_time("2026-10-25 02:30", f, &paris), parse_time("2026-10-25 00:30", f, &Tz::utc()));
    }

    #[test]
    fn defaults_and_day_of_year() {
        assert_eq!(utc("10:00", "%H:%M"), Some(36_000_000_000));
        assert_eq!(utc("2026 333", "%Y %j"), utc("2026-11-29", "%F"));
        assert_eq!(utc("2024 366", "%Y %j"), utc("2024-12-31", "%F"));
        assert_eq!(utc("2026 366", "%Y %j"), None);
        assert_eq!(utc("69", "%y"), utc("1969", "%Y"));
        assert_eq!(utc("68", "%y"), utc("2068", "%Y"));
    }

    #[test]
    fn trailing_input_is_ignored_and_mismatches_fail() {
        assert_eq!(utc("2026-11-29 junk", "%Y-%m-%d"), utc("2026-11-29", "%Y-%m-%d"));
        assert_eq!(utc("2026/11/29", "%Y-%m-%d"), None);
        assert_eq!(utc("2026-02-30", "%Y-%m-%d"), None);
        assert_eq!(utc("2026-11-29 25:00", "%Y-%m-%d %H:%M"), None);
        assert_eq!(utc("", "%Y"), None);
        assert_eq!(utc("abc", ""), None);
        assert_eq!(utc("abc", "abc"), None);
        assert_eq!(utc("100% 2026", "100%% %Y"), utc("2026", "%Y"));
        assert_eq!(utc("%q 2026", "%q %Y"), utc("2026", "%Y"));
    }

    #[test]
    fn round_trips_with_format_time() {
        let paris = Tz::parse("Europe/Paris").unwrap();
        let fmt = "%Y-%m-%d %H:%M:%S.%6N %z";
        // From 1970: before 1911 Paris used LMT (+00:09:21), which %z cannot express to the second.
        let mut t: Micros = -1_000_000_000_000;
        while t < 4_000_000_000_000_000 {
            for tz in [&Tz::utc(), &paris] {
                let s = format_time(t, fmt, tz);
                assert_eq!(parse_time(&s, fmt, tz), Some(t), "{s}");
            }
            t += 7_777_777_777_777;
        }
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        let fmts = ["%s", "%Y%m%d%H%M%S%N", "%z", "%Z", "%99999999999N", "%", "%5", "%j", "%c", "é%é"];
        let inputs = ["", "-", "99999999999999999999", "-9223372036854775808", "+99:99", "é", "9999-99-99", "0000 000"];
        for f in fmts {
            for s in inputs {
                let _ = parse_time(s, f, &Tz::utc());
            }
        }
        assert_eq!(utc("999999999999999999", "%s"), None);
    }
}
