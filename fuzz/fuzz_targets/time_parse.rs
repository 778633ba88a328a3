//! Time parsing: relative modifiers (parse, resolve, relative_time), strptime with a fuzzed
//! format, strftime, and the ISO 8601 / Sysmon UtcTime event timestamp parsers. The input is
//! split at the first NUL into (value, format).
#![no_main]
use libfuzzer_sys::fuzz_target;
use vigil_time::{
    format_time, parse_iso8601_utc, parse_modifier, parse_sysmon_utctime, parse_time, relative_time, resolve, Tz,
};

fuzz_target!(|text: &str| {
    let (value, fmt) = text.split_once('\0').unwrap_or((text, "%Y-%m-%d %H:%M:%S"));
    let zones = [Tz::utc(), Tz::fixed(-(9 * 3600 + 30 * 60)).unwrap_or_else(Tz::utc), Tz::parse("America/New_York").unwrap_or_else(|_| Tz::utc())];
    let now = 1_700_000_000_000_000;
    for tz in &zones {
        if let Ok(spec) = parse_modifier(value) {
            let _ = resolve(&spec, now, tz);
            let _ = resolve(&spec, i64::MAX, tz);
            let _ = resolve(&spec, i64::MIN, tz);
        }
        let _ = relative_time(now, value, tz);
        if let Some(t) = parse_time(value, fmt, tz) {
            let _ = format_time(t, fmt, tz);
        }
        let _ = format_time(now, value, tz);
        let _ = format_time(i64::MIN, fmt, tz);
    }
    let _ = parse_iso8601_utc(value);
    let _ = parse_sysmon_utctime(value);
    let _ = vigil_read::timefmt::parse_iso(value);
    let _ = vigil_time::Tz::parse(value);
});
