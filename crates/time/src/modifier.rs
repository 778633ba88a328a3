//! Splunk time modifiers (`earliest=`/`latest=`, `relative_time()`): `now`, epoch seconds,
//! absolute times, and relative chains such as `-70m@m`, `-1d@d+6h`, `@w1`.

use jiff::civil::{DateTime, Time};
use jiff::tz::{AmbiguousOffset, Offset, TimeZone};
use jiff::{SignedDuration, Span, Timestamp};
use vigil_model::Micros;

use crate::strptime::parse_civil_exact;
use crate::tz::{micros, timestamp};
use crate::{TimeError, Tz};

/// A time unit of an offset (`-5m`) or a snap (`@m`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unit {
    /// `us`
    Microsecond,
    /// `ms`
    Millisecond,
    /// `cs`
    Centisecond,
    /// `ds`
    Decisecond,
    /// `s sec secs second seconds`
    Second,
    /// `m min mins minute minutes`
    Minute,
    /// `h hr hrs hour hours`
    Hour,
    /// `d day days` (a calendar day in the time zone, so 23 or 25 hours across DST)
    Day,
    /// `w week weeks` (7 calendar days; as a snap, `@w` = `@w0`)
    Week,
    /// `mon month months` (day of month clamped: Mar 31 -1mon = Feb 28/29)
    Month,
    /// `q qtr qtrs quarter quarters` (3 months; snaps to Jan/Apr/Jul/Oct 1)
    Quarter,
    /// `y yr yrs year years`
    Year,
}

/// What `@` snaps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SnapUnit {
    /// Start of the unit (`@d` = 00:00 today).
    Unit(Unit),
    /// `@w0`..`@w7`: the most recent given weekday at 00:00, today included.
    /// 0 = Sunday, 1 = Monday, ..., 6 = Saturday (`w7` is stored as 0).
    Weekday(u8),
}

/// One element of a relative modifier, applied left to right.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    /// `+5m` / `-1d` / `-mon` (amount is signed; an omitted number is 1).
    Offset { amount: i64, unit: Unit },
    /// `@h`, `@w1`, ...
    Snap(SnapUnit),
}

/// A wall-clock date-time without zone, resolved in the time zone given to [`resolve`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LocalDateTime(DateTime);

impl LocalDateTime {
    /// A valid civil date-time, or `None` (months 1..=12, real days, hours 0..=23, ...).
    pub fn new(year: i16, month: i8, day: i8, hour: i8, minute: i8, second: i8, micros: i32) -> Option<Self> {
        let nanos = micros.checked_mul(1000)?;
        DateTime::new(year, month, day, hour, minute, second, nanos).ok().map(LocalDateTime)
    }
}

/// A parsed time modifier.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TimeSpec {
    /// `now` (also `rt`).
    Now,
    /// An instant: epoch seconds (`0` = all time, `1700000000.5`) or ISO 8601 with `Z`/offset.
    Instant(Micros),
    /// A wall-clock time without zone: `2026-11-29 10:00:00`, `2026-11-29`, `11/29/2026:10:00:00`.
    Local(LocalDateTime),
    /// A chain of offsets and snaps, relative to `now`.
    Relative(Vec<Step>),
}

/// Parses a Splunk time modifier. See [`TimeSpec`] for the accepted forms.
///
/// Relative syntax: one or more steps `[+|-]<int><unit>` or `@<snap-unit>`, in any order
/// (`-70m@m`, `@d`, `-1d@d+6h`, `-2h@h-5m`, `-1d-2h@h`). Units are case-insensitive. A leading
/// `rt` (real-time windows) is accepted and ignored.
pub fn parse_modifier(s: &str) -> Result<TimeSpec, TimeError> {
    let input = s;
    let s = s.trim();
    let invalid = |reason: String| TimeError::InvalidModifier { input: input.to_string(), reason };
    if s.is_empty() {
        return Err(invalid("empty time modifier".into()));
    }
    if s.eq_ignore_ascii_case("now") || s.eq_ignore_ascii_case("rt") {
        return Ok(TimeSpec::Now);
    }
    let b = s.as_bytes();
    if b[0].is_ascii_digit() {
        return parse_absolute(s)
            .ok_or_else(|| invalid("not a valid absolute time (expected epoch seconds, ISO 8601 or %m/%d/%Y:%H:%M:%S)".into()));
    }
    let rel = if b.len() > 2 && b[..2].eq_ignore_ascii_case(b"rt") { &s[2..] } else { s };
    parse_relative(rel, input).map(TimeSpec::Relative)
}

fn parse_relative(s: &str, input: &str) -> Result<Vec<Step>, TimeError> {
    let invalid = |reason: String| TimeError::InvalidModifier { input: input.to_string(), reason };
    let b = s.as_bytes();
    let mut steps = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let start = i;
        let c = b[i];
        if !matches!(c, b'+' | b'-' | b'@') {
            let ch = s[start..].chars().next().unwrap_or('?');
            return Err(invalid(format!("unexpected `{ch}` at byte {start}; expected `+`, `-` or `@`")));
        }
        i += 1;
        let digits_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let digits = &s[digits_start..i];
        let unit_start = i;
        while i < b.len() && b[i].is_ascii_alphabetic() {
            i += 1;
        }
        // Weekday snaps carry a digit after the unit: `@w1`.
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let unit = &s[unit_start..i];
        let step_text = &s[start..i];
        match c {
            b'@' => {
                if !digits.is_empty() {
                    return Err(invalid(format!("a snap takes a unit, not a number: `{step_text}`")));
                }
                if unit.is_empty() {
                    return Err(invalid("missing snap unit after `@`".into()));
                }
                steps.push(Step::Snap(lookup_snap(unit).ok_or_else(|| unknown_unit(unit, input))?));
            }
            _ => {
                // `+` or `-`, checked above.
                if unit.is_empty() {
                    return Err(invalid(format!("missing time unit after `{step_text}`")));
                }
                let n: i64 = if digits.is_empty() {
                    1
                } else {
                    digits.parse().map_err(|_| invalid(format!("number too large in `{step_text}`")))?
                };
                let unit = lookup_unit(unit).ok_or_else(|| unknown_unit(unit, input))?;
                let amount = if c == b'-' { -n } else { n };
                steps.push(Step::Offset { amount, unit });
            }
        }
    }
    Ok(steps)
}

fn unknown_unit(unit: &str, input: &str) -> TimeError {
    TimeError::UnknownUnit { unit: unit.to_string(), input: input.to_string() }
}

fn lookup_unit(u: &str) -> Option<Unit> {
    const TABLE: &[(&[&str], Unit)] = &[
        (&["us"], Unit::Microsecond),
        (&["ms"], Unit::Millisecond),
        (&["cs"], Unit::Centisecond),
        (&["ds"], Unit::Decisecond),
        (&["s", "sec", "secs", "second", "seconds"], Unit::Second),
        (&["m", "min", "mins", "minute", "minutes"], Unit::Minute),
        (&["h", "hr", "hrs", "hour", "hours"], Unit::Hour),
        (&["d", "day", "days"], Unit::Day),
        (&["w", "week", "weeks"], Unit::Week),
        (&["mon", "month", "months"], Unit::Month),
        (&["q", "qtr", "qtrs", "quarter", "quarters"], Unit::Quarter),
        (&["y", "yr", "yrs", "year", "years"], Unit::Year),
    ];
    TABLE.iter().find(|(names, _)| names.iter().any(|n| n.eq_ignore_ascii_case(u))).map(|&(_, unit)| unit)
}

fn lookup_snap(u: &str) -> Option<SnapUnit> {
    let b = u.as_bytes();
    if b.len() == 2 && b[0].eq_ignore_ascii_case(&b'w') && (b'0'..=b'7').contains(&b[1]) {
        return Some(SnapUnit::Weekday((b[1] - b'0') % 7));
    }
    match lookup_unit(u)? {
        Unit::Week => Some(SnapUnit::Weekday(0)),
        unit => Some(SnapUnit::Unit(unit)),
    }
}

/// Epoch seconds (`0`, `1700000000`, `1700000000.25`), ISO 8601, or `%m/%d/%Y:%H:%M:%S`.
fn parse_absolute(s: &str) -> Option<TimeSpec> {
    if s.bytes().all(|c| c.is_ascii_digit() || c == b'.') {
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        if frac.contains('.') {
            return None;
        }
        let secs: i64 = int.parse().ok()?;
        let mut us: i64 = 0;
        for c in frac.bytes().chain(std::iter::repeat(b'0')).take(6) {
            us = us * 10 + i64::from(c - b'0');
        }
        return Some(TimeSpec::Instant(secs.checked_mul(1_000_000)?.checked_add(us)?));
    }
    const FORMATS: &[&str] = &[
        "%m/%d/%Y:%H:%M:%S",
        "%m/%d/%Y",
        "%Y-%m-%dT%H:%M:%S.%N%z",
        "%Y-%m-%dT%H:%M:%S%z",
        "%Y-%m-%dT%H:%M:%S.%N",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S.%N%z",
        "%Y-%m-%d %H:%M:%S%z",
        "%Y-%m-%d %H:%M:%S %z",
        "%Y-%m-%d %H:%M:%S.%N",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M%z",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%d",
    ];
    FORMATS.iter().find_map(|f| parse_civil_exact(s, f)).and_then(|(dt, offset)| match offset {
        Some(off) => {
            let ts = Offset::from_seconds(off).ok()?.to_timestamp(dt).ok()?;
            Some(TimeSpec::Instant(micros(ts)))
        }
        None => Some(TimeSpec::Local(LocalDateTime(dt))),
    })
}

/// Resolves a modifier against `now` in `tz`. Offsets are applied in order; `@` snaps down to the
/// start of the unit in `tz` (so `@d` is local midnight, across DST too). Never panics: results
/// beyond years ±9999 saturate there.
pub fn resolve(spec: &TimeSpec, now: Micros, tz: &Tz) -> Micros {
    let zone = tz.as_jiff();
    match spec {
        TimeSpec::Now => now,
        TimeSpec::Instant(t) => *t,
        TimeSpec::Local(LocalDateTime(dt)) => zone.to_ambiguous_timestamp(*dt).compatible().map(micros).unwrap_or(now),
        TimeSpec::Relative(steps) => {
            let mut ts = timestamp(now);
            for step in steps {
                ts = match *step {
                    Step::Offset { amount, unit } => offset(ts, amount, unit, zone),
                    Step::Snap(snap) => snap_down(ts, snap, zone),
                };
            }
            micros(ts)
        }
    }
}

/// `relative_time(t, spec)`: parses and resolves `spec` relative to `t`.
pub fn relative_time(t: Micros, spec: &str, tz: &Tz) -> Result<Micros, TimeError> {
    parse_modifier(spec).map(|s| resolve(&s, t, tz))
}

fn offset(ts: Timestamp, amount: i64, unit: Unit, zone: &TimeZone) -> Timestamp {
    let saturated = if amount < 0 { Timestamp::MIN } else { Timestamp::MAX };
    let fixed_us = match unit {
        Unit::Microsecond => Some(1),
        Unit::Millisecond => Some(1_000),
        Unit::Centisecond => Some(10_000),
        Unit::Decisecond => Some(100_000),
        Unit::Second => Some(1_000_000),
        Unit::Minute => Some(60_000_000),
        Unit::Hour => Some(3_600_000_000),
        _ => None,
    };
    if let Some(per) = fixed_us {
        return amount.checked_mul(per).and_then(|us| ts.checked_add(SignedDuration::from_micros(us)).ok()).unwrap_or(saturated);
    }
    // Calendar units: wall-clock arithmetic in the zone (jiff clamps the day of month).
    let span = match unit {
        Unit::Day => Span::new().try_days(amount),
        Unit::Week => Span::new().try_weeks(amount),
        Unit::Month => Span::new().try_months(amount),
        Unit::Quarter => match amount.checked_mul(3) {
            Some(m) => Span::new().try_months(m),
            None => return saturated,
        },
        _ => Span::new().try_years(amount),
    };
    let Ok(span) = span else { return saturated };
    let dt = zone.to_datetime(ts);
    match dt.checked_add(span) {
        Ok(moved) => to_instant(moved, zone, zone.to_offset(ts)).unwrap_or(saturated),
        Err(_) => saturated,
    }
}

fn snap_down(ts: Timestamp, snap: SnapUnit, zone: &TimeZone) -> Timestamp {
    let dt = zone.to_datetime(ts);
    let midnight = |d: jiff::civil::Date| d.to_datetime(Time::midnight());
    let hms = |h: i8, m: i8, s: i8, ns: i32| DateTime::new(dt.year(), dt.month(), dt.day(), h, m, s, ns).ok();
    let ns = dt.subsec_nanosecond();
    let snapped = match snap {
        SnapUnit::Unit(unit) => match unit {
            Unit::Microsecond => hms(dt.hour(), dt.minute(), dt.second(), ns - ns % 1_000),
            Unit::Millisecond => hms(dt.hour(), dt.minute(), dt.second(), ns - ns % 1_000_000),
            Unit::Centisecond => hms(dt.hour(), dt.minute(), dt.second(), ns - ns % 10_000_000),
            Unit::Decisecond => hms(dt.hour(), dt.minute(), dt.second(), ns - ns % 100_000_000),
            Unit::Second => hms(dt.hour(), dt.minute(), dt.second(), 0),
            Unit::Minute => hms(dt.hour(), dt.minute(), 0, 0),
            Unit::Hour => hms(dt.hour(), 0, 0, 0),
            Unit::Day => Some(midnight(dt.date())),
            Unit::Week => return snap_down(ts, SnapUnit::Weekday(0), zone),
            Unit::Month => dt.date().first_of_month().to_datetime(Time::midnight()).into(),
            Unit::Quarter => {
                let m = (dt.month() - 1) / 3 * 3 + 1;
                jiff::civil::Date::new(dt.year(), m, 1).ok().map(midnight)
            }
            Unit::Year => jiff::civil::Date::new(dt.year(), 1, 1).ok().map(midnight),
        },
        SnapUnit::Weekday(target) => {
            let back = (dt.weekday().to_sunday_zero_offset() - (target % 7) as i8).rem_euclid(7);
            dt.date().checked_sub(Span::new().days(back)).ok().map(midnight)
        }
    };
    snapped.and_then(|d| to_instant(d, zone, zone.to_offset(ts))).unwrap_or(ts)
}

/// Civil time to instant. In a repeated hour (fold) keep `prefer` (the offset before the step)
/// when it is one of the two; otherwise jiff's "compatible" rule (gap: forward, fold: earlier).
fn to_instant(dt: DateTime, zone: &TimeZone, prefer: Offset) -> Option<Timestamp> {
    let amb = zone.to_ambiguous_timestamp(dt);
    match amb.offset() {
        AmbiguousOffset::Fold { before, after } if before == prefer || after == prefer => prefer.to_timestamp(dt).ok(),
        _ => amb.compatible().ok(),
    }
}

#[cfg(test)]
#[path = "modifier_tests.rs"]
mod tests;
