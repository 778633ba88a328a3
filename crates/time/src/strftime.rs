//! Splunk `strftime`: formatting an instant with `%` directives.

use std::fmt::Write as _;

use jiff::civil::DateTime;
use vigil_model::Micros;

use crate::tz::timestamp;
use crate::Tz;

/// Splunk's default `convert` time format (`convert ctime(x)` without `timeformat=`).
pub const CONVERT_DEFAULT_FORMAT: &str = "%m/%d/%Y %H:%M:%S";

/// The format of ESCU's `security_content_ctime(f)` macro
/// (`convert timeformat="%Y-%m-%dT%H:%M:%S" ctime(f)`).
pub const ESCU_CTIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S";

pub(crate) const WEEKDAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
pub(crate) const MONTHS: [&str; 12] =
    ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];

/// The broken-down time that directives read.
struct Parts<'a> {
    t: Micros,
    dt: DateTime,
    offset_secs: i32,
    abbrev: &'a str,
    /// Sub-second part in nanoseconds (always a whole number of microseconds).
    nanos: i64,
}

/// `_time` as Splunk's exports and search results render it: ISO 8601 with milliseconds and the
/// zone's offset as `+hh:mm`, e.g. `2026-11-20T10:15:01.000+00:00`.
pub fn format_export_time(t: Micros, tz: &Tz) -> String {
    let mut text = format_time(t, "%Y-%m-%dT%H:%M:%S.%3N%z", tz);
    // strftime's %z is +hhmm; the exports write +hh:mm.
    if text.len() >= 2 {
        text.insert(text.len() - 2, ':');
    }
    text
}

/// Formats `t` in `tz` with Splunk's `strftime` directives.
///
/// Supported: `%Y %y %m %d %e %H %I %k %l %M %S %p %j %a %A %b %B %h %u %w %Z %z %s %T %D %F %c %x %X
/// %n %t %%`, and sub-seconds `%N`/`%<w>N` (w = 1..9 digits, `%N` = 9, truncated, not rounded) and
/// `%Q`/`%<w>Q` (`%Q` = milliseconds). Anything else, including a trailing lone `%`, is copied
/// literally. Instants beyond jiff's range (years ±9999) are clamped to it.
pub fn format_time(t: Micros, fmt: &str, tz: &Tz) -> String {
    let ts = timestamp(t);
    let info = tz.as_jiff().to_offset_info(ts);
    let offset = info.offset();
    let dt = offset.to_datetime(ts);
    let parts = Parts {
        t: ts.as_microsecond(),
        dt,
        offset_secs: offset.seconds(),
        abbrev: info.abbreviation(),
        nanos: i64::from(dt.subsec_nanosecond()),
    };
    let mut out = String::with_capacity(fmt.len() + 16);
    if !write_common_format(&mut out, fmt, &parts.dt) {
        write_format(&mut out, fmt, &parts);
    }
    out
}

/// Writes ESCU's ctime format (every ESCU result's `firstTime` and `lastTime`) or Splunk's
/// default `convert` format as their directives would, without reading the format; `false`
/// (nothing written) for other formats, and for years before 0, which `%Y` writes signed.
fn write_common_format(out: &mut String, fmt: &str, dt: &DateTime) -> bool {
    let Ok(year) = u16::try_from(dt.year()) else { return false };
    let two = |out: &mut String, v: i8| {
        out.push(char::from(b'0' + (v / 10) as u8));
        out.push(char::from(b'0' + (v % 10) as u8));
    };
    // jiff's years end at 9999: four digits.
    let four = |out: &mut String, v: u16| {
        for div in [1000, 100, 10, 1] {
            out.push(char::from(b'0' + (v / div % 10) as u8));
        }
    };
    let time = |out: &mut String| {
        two(out, dt.hour());
        out.push(':');
        two(out, dt.minute());
        out.push(':');
        two(out, dt.second());
    };
    if fmt == ESCU_CTIME_FORMAT {
        four(out, year);
        out.push('-');
        two(out, dt.month());
        out.push('-');
        two(out, dt.day());
        out.push('T');
    } else if fmt == CONVERT_DEFAULT_FORMAT {
        two(out, dt.month());
        out.push('/');
        two(out, dt.day());
        out.push('/');
        four(out, year);
        out.push(' ');
    } else {
        return false;
    }
    time(out);
    true
}

fn write_format(out: &mut String, fmt: &str, p: &Parts<'_>) {
    let mut rest = fmt;
    while let Some(pos) = rest.find('%') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        let ndigits = after.bytes().take_while(u8::is_ascii_digit).count();
        let Some(c) = after[ndigits..].chars().next() else {
            // A lone `%` (possibly with digits) at the end: literal.
            out.push_str(&rest[pos..]);
            return;
        };
        let directive_len = 1 + ndigits + c.len_utf8();
        let literal = &rest[pos..pos + directive_len];
        let width: Option<u32> = if ndigits == 0 { None } else { Some(after[..ndigits].parse().unwrap_or(u32::MAX)) };
        write_directive(out, c, width, literal, p);
        rest = &rest[pos + directive_len..];
    }
    out.push_str(rest);
}

fn write_directive(out: &mut String, c: char, width: Option<u32>, literal: &str, p: &Parts<'_>) {
    let dt = p.dt;
    // Only sub-second directives take a width.
    if width.is_some() && c != 'N' && c != 'Q' {
        out.push_str(literal);
        return;
    }
    let hour12 = match dt.hour() % 12 {
        0 => 12,
        h => h,
    };
    let _ = match c {
        'Y' if dt.year() >= 0 => push_padded(out, dt.year() as u32, 4),
        'Y' => write!(out, "{:04}", dt.year()),
        'y' => push_padded(out, i32::from(dt.year()).rem_euclid(100) as u32, 2),
        'm' => push_padded(out, dt.month() as u32, 2),
        'd' => push_padded(out, dt.day() as u32, 2),
        'e' => write!(out, "{:>2}", dt.day()),
        'H' => push_padded(out, dt.hour() as u32, 2),
        'k' => write!(out, "{:>2}", dt.hour()),
        'I' => push_padded(out, hour12 as u32, 2),
        'l' => write!(out, "{:>2}", hour12),
        'M' => push_padded(out, dt.minute() as u32, 2),
        'S' => push_padded(out, dt.second() as u32, 2),
        'p' => write!(out, "{}", if dt.hour() < 12 { "AM" } else { "PM" }),
        'j' => write!(out, "{:03}", dt.day_of_year()),
        'a' | 'A' | 'u' | 'w' => {
            let wd = dt.weekday().to_sunday_zero_offset();
            match c {
                'u' => write!(out, "{}", if wd == 0 { 7 } else { wd }),
                'w' => write!(out, "{wd}"),
                _ => {
                    let name = WEEKDAYS[wd as usize % 7];
                    out.push_str(if c == 'a' { &name[..3] } else { name });
                    Ok(())
                }
            }
        }
        'b' | 'h' | 'B' => {
            let name = MONTHS[(dt.month() as usize).saturating_sub(1) % 12];
            out.push_str(if c == 'B' { name } else { &name[..3] });
            Ok(())
        }
        'Z' => {
            out.push_str(p.abbrev);
            Ok(())
        }
        'z' => {
            let s = p.offset_secs;
            let sign = if s < 0 { '-' } else { '+' };
            let a = s.unsigned_abs();
            write!(out, "{sign}{:02}{:02}", a / 3600, a % 3600 / 60)
        }
        's' => write!(out, "{}", p.t.div_euclid(1_000_000)),
        'N' | 'Q' => {
            let w = width.unwrap_or(if c == 'N' { 9 } else { 3 });
            if !(1..=9).contains(&w) {
                out.push_str(literal);
                return;
            }
            let v = p.nanos / 10i64.pow(9 - w);
            write!(out, "{v:0w$}", w = w as usize)
        }
        'T' => {
            write_format(out, "%H:%M:%S", p);
            Ok(())
        }
        'D' | 'x' => {
            write_format(out, "%m/%d/%y", p);
            Ok(())
        }
        'F' => {
            write_format(out, "%Y-%m-%d", p);
            Ok(())
        }
        'X' => {
            write_format(out, "%H:%M:%S", p);
            Ok(())
        }
        'c' => {
            write_format(out, "%a %b %e %H:%M:%S %Y", p);
            Ok(())
        }
        'n' => {
            out.push('\n');
            Ok(())
        }
        't' => {
            out.push('\t');
            Ok(())
        }
        '%' => {
            out.push('%');
            Ok(())
        }
        _ => {
            out.push_str(literal);
            Ok(())
        }
    };
}

/// `v` in decimal, zero-padded to `width` digits, as `{:0width$}` writes a non-negative number
/// (more digits if it has them), without the formatting machinery: `convert ctime` and the
/// alert exports format a time per row, six of these per time.
fn push_padded(out: &mut String, v: u32, width: u32) -> std::fmt::Result {
    let digits = v.checked_ilog10().unwrap_or(0) + 1;
    for _ in digits..width {
        out.push('0');
    }
    let mut div = 10u32.pow(digits - 1);
    while div > 0 {
        out.push(char::from(b'0' + (v / div % 10) as u8));
        div /= 10;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-29T14:05:37.123456Z, a Sunday.
    const T: Micros = 1_795_961_137_123_456;

    fn utc(fmt: &str) -> String {
        format_time(T, fmt, &Tz::utc())
    }

    #[test]
    fn splunk_default_and_escu_formats() {
        assert_eq!(utc(CONVERT_DEFAULT_FORMAT), "11/29/2026 14:05:37");
        assert_eq!(utc(ESCU_CTIME_FORMAT), "2026-11-29T14:05:37");
    }

    #[test]
    fn common_formats_write_what_their_directives_do() {
        // A trailing space keeps a format off the shortcut; early years get leading zeros.
        let times = [T, 0, -1, 1_000_000, -62_000_000_000_000_000, -62_135_596_800_000_001, 253_402_300_799_000_000];
        for t in times {
            for fmt in [ESCU_CTIME_FORMAT, CONVERT_DEFAULT_FORMAT] {
                let long = format_time(t, &format!("{fmt} "), &Tz::utc());
                assert_eq!(format_time(t, fmt, &Tz::utc()), long.trim_end(), "{t} {fmt}");
            }
        }
        assert_eq!(format_time(-62_000_000_000_000_000, ESCU_CTIME_FORMAT, &Tz::utc()), "0005-04-19T09:46:40");
    }

    #[test]
    fn every_directive() {
        assert_eq!(utc("%Y %y %m %d %e %H %I %M %S %p %j"), "2026 26 11 29 29 14 02 05 37 PM 333");
        assert_eq!(utc("%a %A %b %B %h"), "Sun Sunday Nov November Nov");
        assert_eq!(utc("%Z %z %s"), "UTC +0000 1795961137");
        assert_eq!(utc("%T|%D|%F|%%"), "14:05:37|11/29/26|2026-11-29|%");
        assert_eq!(utc("%u %w %k %l"), "7 0 14  2");
        assert_eq!(utc("%c"), "Sun Nov 29 14:05:37 2026");
        assert_eq!(utc("%x %X%n%t"), "11/29/26 14:05:37\n\t");
    }

    #[test]
    fn subseconds() {
        assert_eq!(utc("%S.%3N"), "37.123");
        assert_eq!(utc("%6N"), "123456");
        assert_eq!(utc("%9N"), "123456000");
        assert_eq!(utc("%N"), "123456000");
        assert_eq!(utc("%Q %3Q %6Q %1N"), "123 123 123456 1");
        // Truncation, not rounding.
        assert_eq!(format_time(999_999, "%3N", &Tz::utc()), "999");
        // Negative instants still have a positive sub-second part.
        assert_eq!(format_time(-1, "%Y-%m-%dT%H:%M:%S.%6N", &Tz::utc()), "1969-12-31T23:59:59.999999");
    }

    #[test]
    fn unknown_directives_are_literal() {
        assert_eq!(utc("%q %E %0N %10N %5d %"), "%q %E %0N %10N %5d %");
        assert_eq!(utc("100%"), "100%");
        assert_eq!(utc("%é"), "%é");
        assert_eq!(utc("no directives"), "no directives");
        assert_eq!(utc(""), "");
    }

    #[test]
    fn padding_and_12h_clock() {
        // 2026-01-05T00:07:09Z (Monday).
        let t = 1_767_571_629_000_000;
        assert_eq!(format_time(t, "%e|%I|%l|%p|%j|%a", &Tz::utc()), " 5|12|12|AM|005|Mon");
    }

    #[test]
    fn time_zones() {
        let paris = Tz::parse("Europe/Paris").unwrap();
        assert_eq!(format_time(T, "%F %T %Z %z", &paris), "2026-11-29 15:05:37 CET +0100");
        // 2026-07-15T12:00:00Z in summer.
        assert_eq!(format_time(1_784_116_800_000_000, "%H %Z %z", &paris), "14 CEST +0200");
        let india = Tz::parse("+05:30").unwrap();
        assert_eq!(format_time(T, "%H:%M %z", &india), "19:35 +0530");
        let neg = Tz::parse("-03:30").unwrap();
        assert_eq!(format_time(T, "%H:%M %z", &neg), "10:35 -0330");
    }

    #[test]
    fn padded_digits_match_the_formatter() {
        for v in [0, 1, 9, 10, 59, 99, 100, 999, 1000, 2026, 9999, 10_000, 123_456, u32::MAX] {
            for w in [2, 4] {
                let mut s = String::new();
                push_padded(&mut s, v, w).unwrap();
                assert_eq!(s, format!("{v:0w$}", w = w as usize), "{v} width {w}");
            }
        }
        // Years before 1 keep the formatter's sign handling.
        assert_eq!(format_time(-62_198_755_200_000_000, "%Y|%y", &Tz::utc()), format!("{:04}|99", -1));
    }

    #[test]
    fn extreme_inputs_do_not_panic() {
        for t in [i64::MIN, i64::MAX, 0, -1] {
            let s = format_time(t, "%Y %y %j %s %N %Q %c %Z %z", &Tz::utc());
            assert!(!s.is_empty());
        }
    }
}
