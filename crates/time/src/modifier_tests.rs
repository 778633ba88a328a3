use super::*;
use crate::{format_time, parse_iso8601_utc};

fn iso(s: &str) -> Micros {
    parse_iso8601_utc(s).unwrap_or_else(|| panic!("bad test instant {s}"))
}

fn paris() -> Tz {
    Tz::parse("Europe/Paris").unwrap()
}

/// Resolves `spec` at `now` (UTC ISO) in UTC and formats the result as ISO.
fn at(spec: &str, now: &str) -> String {
    at_tz(spec, now, &Tz::utc())
}

/// Resolves in `tz` and formats the result in `tz` with its offset.
fn at_tz(spec: &str, now: &str, tz: &Tz) -> String {
    let t = resolve(&parse_modifier(spec).unwrap(), iso(now), tz);
    format_time(t, "%Y-%m-%dT%H:%M:%S%z", tz)
}

const NOW: &str = "2026-11-29T14:05:37.250Z"; // a Sunday

#[test]
fn design_example() {
    assert_eq!(at("-70m@m", NOW), "2026-11-29T12:55:00+0000");
    assert_eq!(at("-10m@m", NOW), "2026-11-29T13:55:00+0000");
}

#[test]
fn brief_examples() {
    assert_eq!(at("now", NOW), "2026-11-29T14:05:37+0000");
    assert_eq!(resolve(&parse_modifier("now").unwrap(), iso(NOW), &Tz::utc()), iso(NOW));
    assert_eq!(at("@d", NOW), "2026-11-29T00:00:00+0000");
    assert_eq!(at("-1d@d+6h", NOW), "2026-11-28T06:00:00+0000");
    assert_eq!(at("-7d@w1", NOW), "2026-11-16T00:00:00+0000");
    assert_eq!(at("@w0", NOW), "2026-11-29T00:00:00+0000");
    assert_eq!(at("-2h@h-5m", NOW), "2026-11-29T11:55:00+0000");
    assert_eq!(at("+1mon@mon", NOW), "2026-12-01T00:00:00+0000");
    assert_eq!(at("-1q@q", NOW), "2026-07-01T00:00:00+0000");
    assert_eq!(at("@y", NOW), "2026-01-01T00:00:00+0000");
    assert_eq!(at("@q", "2026-03-31T23:59:59Z"), "2026-01-01T00:00:00+0000");
    assert_eq!(at("@q", "2026-04-01T00:00:00Z"), "2026-04-01T00:00:00+0000");
}

#[test]
fn offsets_and_chains() {
    assert_eq!(at("-m", NOW), at("-1m", NOW));
    assert_eq!(at("+d", NOW), "2026-11-30T14:05:37+0000");
    assert_eq!(at("-1d-2h@h", NOW), "2026-11-28T12:00:00+0000");
    assert_eq!(at("-90s", NOW), "2026-11-29T14:04:07+0000");
    assert_eq!(at("-1w", NOW), "2026-11-22T14:05:37+0000");
    assert_eq!(at("-1y", NOW), "2025-11-29T14:05:37+0000");
    assert_eq!(at("+2qtrs", NOW), "2027-05-29T14:05:37+0000");
    assert_eq!(at("@s", NOW), "2026-11-29T14:05:37+0000");
    let t = resolve(&parse_modifier("@s").unwrap(), iso(NOW), &Tz::utc());
    assert_eq!(t, iso("2026-11-29T14:05:37Z"));
    let t = resolve(&parse_modifier("+500ms@s").unwrap(), iso(NOW), &Tz::utc());
    assert_eq!(t, iso("2026-11-29T14:05:37Z"));
    let t = resolve(&parse_modifier("-250ms").unwrap(), iso(NOW), &Tz::utc());
    assert_eq!(t, iso("2026-11-29T14:05:37Z"));
    // @w is @w0; @w7 is Sunday too.
    assert_eq!(at("@w", "2026-11-25T10:00:00Z"), "2026-11-22T00:00:00+0000");
    assert_eq!(at("@w7", "2026-11-25T10:00:00Z"), "2026-11-22T00:00:00+0000");
    // rt prefix (real-time windows) is ignored.
    assert_eq!(at("rt-5m", NOW), at("-5m", NOW));
}

#[test]
fn unit_spellings() {
    let groups: &[(&[&str], &str)] = &[
        (&["s", "sec", "secs", "second", "seconds", "SECONDS"], "2026-11-29T14:05:35+0000"),
        (&["m", "min", "mins", "minute", "minutes"], "2026-11-29T14:03:37+0000"),
        (&["h", "hr", "hrs", "hour", "hours"], "2026-11-29T12:05:37+0000"),
        (&["d", "day", "days"], "2026-11-27T14:05:37+0000"),
        (&["w", "week", "weeks"], "2026-11-15T14:05:37+0000"),
        (&["mon", "month", "months"], "2026-09-29T14:05:37+0000"),
        (&["q", "qtr", "qtrs", "quarter", "quarters"], "2026-05-29T14:05:37+0000"),
        (&["y", "yr", "yrs", "year", "years"], "2024-11-29T14:05:37+0000"),
    ];
    for (names, want) in groups {
        for n in *names {
            assert_eq!(at(&format!("-2{n}"), NOW), *want, "-2{n}");
        }
    }
}

#[test]
fn month_clamping() {
    assert_eq!(at("-1mon", "2026-01-31T12:00:00Z"), "2025-12-31T12:00:00+0000");
    assert_eq!(at("-1mon", "2026-03-31T12:00:00Z"), "2026-02-28T12:00:00+0000");
    assert_eq!(at("-1mon", "2024-03-31T12:00:00Z"), "2024-02-29T12:00:00+0000");
    assert_eq!(at("+1mon", "2026-05-31T12:00:00Z"), "2026-06-30T12:00:00+0000");
    assert_eq!(at("-1q", "2026-05-31T12:00:00Z"), "2026-02-28T12:00:00+0000");
    assert_eq!(at("-1y", "2024-02-29T12:00:00Z"), "2023-02-28T12:00:00+0000");
    assert_eq!(at("-1mon@mon", "2026-03-31T12:00:00Z"), "2026-02-01T00:00:00+0000");
}

#[test]
fn week_snaps_on_each_weekday() {
    // 2026-11-23 is a Monday. For each day of that week at 10:00:
    let days = ["23", "24", "25", "26", "27", "28", "29"];
    for (i, d) in days.iter().enumerate() {
        let now = format!("2026-11-{d}T10:00:00Z");
        assert_eq!(at("@w1", &now), "2026-11-23T00:00:00+0000", "@w1 on {now}");
        let sunday = if i == 6 { "29" } else { "22" };
        assert_eq!(at("@w0", &now), format!("2026-11-{sunday}T00:00:00+0000"), "@w0 on {now}");
        // @w5 (Friday): the 27th from Friday on, else the previous Friday, the 20th.
        let friday = if i >= 4 { "27" } else { "20" };
        assert_eq!(at("@w5", &now), format!("2026-11-{friday}T00:00:00+0000"), "@w5 on {now}");
        assert_eq!(at("@w6", &now), if i >= 5 { "2026-11-28T00:00:00+0000".to_string() } else { "2026-11-21T00:00:00+0000".to_string() });
    }
    // Monday at 00:00 exactly stays.
    assert_eq!(at("@w1", "2026-11-23T00:00:00Z"), "2026-11-23T00:00:00+0000");
}

#[test]
fn tz_dependent_snaps_across_dst_in_paris() {
    let p = paris();
    // Spring forward: 2026-03-29, 02:00 CET -> 03:00 CEST; that day has 23 hours.
    assert_eq!(at_tz("@d", "2026-03-29T10:00:00Z", &p), "2026-03-29T00:00:00+0100");
    assert_eq!(at_tz("-1d@d", "2026-03-30T10:00:00Z", &p), "2026-03-29T00:00:00+0100");
    assert_eq!(at_tz("@d+6h", "2026-03-29T10:00:00Z", &p), "2026-03-29T07:00:00+0200");
    // -1d is a calendar day: same wall clock the day before, 23 real hours earlier.
    assert_eq!(at_tz("-1d", "2026-03-30T10:00:00Z", &p), "2026-03-29T12:00:00+0200");
    // Fall back: 2026-10-25, 03:00 CEST -> 02:00 CET; 25 hours.
    assert_eq!(at_tz("@d", "2026-10-25T11:00:00Z", &p), "2026-10-25T00:00:00+0200");
    assert_eq!(at_tz("@d", "2026-10-25T23:30:00Z", &p), "2026-10-26T00:00:00+0100");
    // In the repeated hour, @h keeps the offset of the instant being snapped.
    assert_eq!(at_tz("@h", "2026-10-25T00:30:00Z", &p), "2026-10-25T02:00:00+0200");
    assert_eq!(at_tz("@h", "2026-10-25T01:30:00Z", &p), "2026-10-25T02:00:00+0100");
    // @d in UTC vs Paris differ around midnight.
    assert_eq!(at_tz("@d", "2026-11-28T23:30:00Z", &p), "2026-11-29T00:00:00+0100");
    assert_eq!(at("@d", "2026-11-28T23:30:00Z"), "2026-11-28T00:00:00+0000");
    // @w1 in Paris.
    assert_eq!(at_tz("@w1", "2026-11-22T23:30:00Z", &p), "2026-11-23T00:00:00+0100");
}

#[test]
fn absolute_forms() {
    let p = paris();
    let r = |s: &str, tz: &Tz| resolve(&parse_modifier(s).unwrap(), iso(NOW), tz);
    assert_eq!(parse_modifier("0").unwrap(), TimeSpec::Instant(0));
    assert_eq!(r("0", &p), 0);
    assert_eq!(r("1700000000", &p), 1_700_000_000_000_000);
    assert_eq!(r("1700000000.5", &p), 1_700_000_000_500_000);
    assert_eq!(r("1700000000.1234567", &p), 1_700_000_000_123_456);
    assert_eq!(r("2026-11-29T10:00:00Z", &p), iso("2026-11-29T10:00:00Z"));
    assert_eq!(r("2026-11-29T10:00:00+01:00", &Tz::utc()), iso("2026-11-29T09:00:00Z"));
    assert_eq!(r("2026-11-29T10:00:00.5Z", &p), iso("2026-11-29T10:00:00.5Z"));
    // Without zone: wall clock in the resolve time zone.
    assert_eq!(r("2026-11-29 10:00:00", &p), iso("2026-11-29T09:00:00Z"));
    assert_eq!(r("2026-11-29T10:00:00", &Tz::utc()), iso("2026-11-29T10:00:00Z"));
    assert_eq!(r("2026-11-29", &p), iso("2026-11-28T23:00:00Z"));
    assert_eq!(r("11/29/2026:10:00:00", &p), iso("2026-11-29T09:00:00Z"));
    assert_eq!(r("1/2/2026:3:04:05", &Tz::utc()), iso("2026-01-02T03:04:05Z"));
    assert_eq!(r("11/29/2026", &Tz::utc()), iso("2026-11-29T00:00:00Z"));
    assert_eq!(parse_modifier("2026-11-29 10:00:00").unwrap(), TimeSpec::Local(LocalDateTime::new(2026, 11, 29, 10, 0, 0, 0).unwrap()));
}

#[test]
fn relative_time_helper() {
    let t = relative_time(iso(NOW), "-1d@d", &Tz::utc()).unwrap();
    assert_eq!(t, iso("2026-11-28T00:00:00Z"));
    assert!(relative_time(0, "-1xyz", &Tz::utc()).is_err());
}

#[test]
fn clear_errors() {
    let e = |s: &str| parse_modifier(s).unwrap_err().to_string();
    assert_eq!(e("-1mo"), "unknown time unit `mo` in `-1mo`");
    assert_eq!(e("@w8"), "unknown time unit `w8` in `@w8`");
    assert_eq!(e("-1w1"), "unknown time unit `w1` in `-1w1`");
    assert_eq!(e(""), "invalid time modifier ``: empty time modifier");
    assert_eq!(e("-5"), "invalid time modifier `-5`: missing time unit after `-5`");
    assert_eq!(e("@"), "invalid time modifier `@`: missing snap unit after `@`");
    assert_eq!(e("@5m"), "invalid time modifier `@5m`: a snap takes a unit, not a number: `@5m`");
    assert_eq!(e("-1d x"), "invalid time modifier `-1d x`: unexpected ` ` at byte 3; expected `+`, `-` or `@`");
    assert!(e("yesterday").contains("unexpected `y`"));
    assert!(e("-99999999999999999999d").contains("number too large"));
    assert!(e("2026-13-01").contains("not a valid absolute time"));
    assert!(e("11/29/2026:10:00:00 junk").contains("not a valid absolute time"));
    assert!(e("1.2.3").contains("not a valid absolute time"));
    assert!(e("99999999999999999999").contains("not a valid absolute time"));
}

#[test]
fn saturates_instead_of_panicking() {
    let tz = paris();
    for s in [
        "-9223372036854775807y",
        "+9223372036854775807y",
        "+9223372036854775807s",
        "-9223372036854775807us",
        "+9223372036854775807q",
        "+9999999d@w3",
        "-20000y@y",
        "+300000mon@mon",
        "+5000y+5000y@q",
    ] {
        let spec = parse_modifier(s).unwrap();
        for now in [0, i64::MIN, i64::MAX, iso(NOW)] {
            let _ = resolve(&spec, now, &tz);
            let _ = resolve(&spec, now, &Tz::utc());
        }
    }
    let far = resolve(&parse_modifier("+9223372036854775807s").unwrap(), 0, &Tz::utc());
    assert!(far > iso("9999-01-01T00:00:00Z"));
    assert!(parse_modifier("9223372036854775807").is_err()); // seconds * 10^6 overflows
}

#[test]
fn property_snaps_are_down_and_idempotent() {
    // Walk instants across several years in Paris: each snap is <= t, snapping again is a no-op,
    // and day-or-longer snaps land on local midnight.
    let tz = paris();
    let snaps = ["@s", "@m", "@h", "@d", "@w0", "@w1", "@w3", "@mon", "@q", "@y"];
    let mut t = iso("2024-01-01T00:00:00Z");
    let end = iso("2028-01-01T00:00:00Z");
    while t < end {
        for s in snaps {
            let spec = parse_modifier(s).unwrap();
            let once = resolve(&spec, t, &tz);
            assert!(once <= t, "{s} at {t}");
            assert_eq!(resolve(&spec, once, &tz), once, "{s} at {t} not idempotent");
            if !matches!(s, "@s" | "@m" | "@h") {
                assert_eq!(format_time(once, "%H:%M:%S", &tz), "00:00:00", "{s} at {t}");
            }
        }
        // -1d keeps the local wall clock, unless it lands in the spring-forward gap.
        let back = relative_time(t, "-1d", &tz).unwrap();
        let hm = "%H:%M:%S";
        if format_time(back, hm, &tz) != format_time(t, hm, &tz) {
            assert_eq!(format_time(t, "%H", &tz), "02", "-1d at {t}");
            assert_eq!(format_time(back, "%m-%d %H", &tz), format_time(back, "%m-%d 03", &tz), "-1d at {t}");
            assert_eq!(tz.offset_seconds_at(back - 3_600_000_000), 3600, "gap expected before -1d at {t}");
        }
        t += 3_600_000_000 * 7 + 1_234_567;
    }
}
