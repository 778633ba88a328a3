//! Splunk `cron_schedule`: standard 5-field cron, evaluated in a time zone with `croner`.

use std::cmp::Ordering;

use croner::errors::CronError;
use croner::parser::{CronParser, Seconds, Year};
use croner::{CivilDate, CivilDateTime, CivilTime, Cron, CronDateTime, Resolution, Weekday};
use jiff::tz::AmbiguousOffset;
use jiff::{SignedDuration, ZonedDateTime};
use vigil_model::Micros;

use crate::tz::{micros, timestamp};
use crate::{TimeError, Tz};

/// A parsed 5-field cron schedule: `minute hour day-of-month month day-of-week`.
///
/// Accepted per field: `*`, numbers, ranges `a-b`, lists `a,b`, steps `*/n` and `a-b/n`, month
/// names `jan`..`dec` and day names `sun`..`sat` (any case; day-of-week 0 and 7 are Sunday).
/// Rejected (not in Splunk's cron): seconds or year fields, `@hourly`-style nicknames, and
/// Quartz extensions `L`, `W`, `#`, `?`. When both day-of-month and day-of-week are restricted, a
/// day matches if either matches (Vixie cron).
#[derive(Debug, Clone)]
pub struct Schedule {
    text: String,
    cron: Cron,
}

impl PartialEq for Schedule {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

const FIELDS: [&str; 5] = ["minute", "hour", "day-of-month", "month", "day-of-week"];
const MONTH_NAMES: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const DAY_NAMES: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

impl Schedule {
    /// Parses a Splunk cron schedule such as `0 * * * *` or `*/15 9-17 * * mon-fri`.
    pub fn parse(text: &str) -> Result<Schedule, TimeError> {
        let invalid = |reason: String| TimeError::InvalidCron { input: text.to_string(), reason };
        let fields: Vec<&str> = text.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(invalid(format!("expected 5 fields (minute hour day-of-month month day-of-week), got {}", fields.len())));
        }
        for (idx, field) in fields.iter().enumerate() {
            check_field(field, idx).map_err(invalid)?;
        }
        let parser = CronParser::builder().seconds(Seconds::Disallowed).year(Year::Disallowed).dom_and_dow(false).build();
        let cron = parser.parse(&fields.join(" ")).map_err(|e| invalid(e.to_string()))?;
        Ok(Schedule { text: text.trim().to_string(), cron })
    }

    /// The schedule as written (trimmed).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Every fire time `t` with `from <= t < to`, in increasing order, evaluated in `tz`.
    ///
    /// In a DST gap a scheduled wall-clock time that does not exist is skipped; in a repeated hour
    /// croner's rule applies (a fixed time such as `30 2 * * *` fires once, at the earlier instant).
    pub fn ticks(&self, from: Micros, to: Micros, tz: &Tz) -> impl Iterator<Item = Micros> {
        let cron = self.cron.clone();
        let mut cursor = Some(Z(timestamp(from).to_zoned_datetime(tz.as_jiff().clone())));
        let mut inclusive = true;
        std::iter::from_fn(move || loop {
            let start = cursor.take()?;
            let next = cron.find_next_occurrence(&start, inclusive).ok()?;
            inclusive = false;
            let t = micros(next.0.timestamp());
            cursor = Some(next);
            if t >= to {
                cursor = None;
                return None;
            }
            // croner works to the second; `from` may carry a fraction.
            if t >= from {
                return Some(t);
            }
        })
    }

    /// The first fire time strictly after `t`, in `tz` (`None` if there is none before year 9999).
    pub fn next_after(&self, t: Micros, tz: &Tz) -> Option<Micros> {
        let mut start = Z(timestamp(t).to_zoned_datetime(tz.as_jiff().clone()));
        // At most twice: the second round only when `t` had a fraction past a fire second.
        for _ in 0..2 {
            let next = self.cron.find_next_occurrence(&start, false).ok()?;
            let n = micros(next.0.timestamp());
            if n > t {
                return Some(n);
            }
            start = next;
        }
        None
    }
}

fn check_field(field: &str, idx: usize) -> Result<(), String> {
    let name = FIELDS[idx];
    // croner takes `,` or `1,` as an empty set: a schedule that never fires, and whose every
    // next-time search scans to year 9999 (found by fuzz/cron).
    for item in field.split(',') {
        let mut parts = item.split('/');
        let base = parts.next().unwrap_or("");
        let step = parts.next();
        let bad = base.is_empty() || base.split('-').any(str::is_empty) || step.is_some_and(str::is_empty) || parts.next().is_some();
        if bad {
            return Err(format!("malformed item `{item}` in the {name} field `{field}`"));
        }
    }
    let b = field.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_alphabetic() {
            let start = i;
            while i < b.len() && b[i].is_ascii_alphabetic() {
                i += 1;
            }
            let word = &field[start..i];
            let names: &[&str] = match idx {
                3 => &MONTH_NAMES,
                4 => &DAY_NAMES,
                _ => &[],
            };
            if !names.iter().any(|n| n.eq_ignore_ascii_case(word)) {
                return Err(format!("unexpected `{word}` in the {name} field `{field}`"));
            }
            continue;
        }
        if !(c.is_ascii_digit() || matches!(c, b'*' | b',' | b'-' | b'/')) {
            let ch = field[i..].chars().next().unwrap_or('?');
            return Err(format!("unexpected `{ch}` in the {name} field `{field}`"));
        }
        i += 1;
    }
    Ok(())
}

/// jiff 1.0's zoned date-time, plugged into croner (whose own `jiff` feature targets jiff 0.2).
#[derive(Clone)]
struct Z(ZonedDateTime);

impl CronDateTime for Z {
    fn to_civil(&self) -> CivilDateTime {
        let dt = self.0.datetime();
        CivilDateTime::new(
            CivilDate::from_parts_unchecked(i32::from(dt.year()), dt.month() as u32, dt.day() as u32),
            CivilTime::from_parts_unchecked(dt.hour() as u32, dt.minute() as u32, dt.second() as u32),
        )
    }

    fn civil_weekday(&self) -> Weekday {
        Weekday::from_days_from_sunday(self.0.weekday().to_sunday_zero_offset() as u32)
    }

    fn resolve_civil(&self, civil: CivilDateTime) -> Result<Resolution<Self>, CronError> {
        let year = i16::try_from(civil.year()).map_err(|_| CronError::InvalidDate)?;
        let dt = jiff::civil::DateTime::new(
            year,
            civil.month() as i8,
            civil.day() as i8,
            civil.hour() as i8,
            civil.minute() as i8,
            civil.second() as i8,
            0,
        )
        .map_err(|_| CronError::InvalidDate)?;
        let amb = self.0.time_zone().to_ambiguous_zoned_datetime(dt);
        Ok(match amb.offset() {
            AmbiguousOffset::Unambiguous { .. } => Resolution::Single(Z(amb.unambiguous().map_err(|_| CronError::InvalidTime)?)),
            AmbiguousOffset::Fold { .. } => {
                let earlier = amb.clone().earlier().map_err(|_| CronError::InvalidTime)?;
                let later = amb.later().map_err(|_| CronError::InvalidTime)?;
                Resolution::Ambiguous(Z(earlier), Z(later))
            }
            AmbiguousOffset::Gap { .. } => Resolution::Gap,
        })
    }

    fn checked_add_seconds(&self, seconds: i64) -> Option<Self> {
        self.0.checked_add(SignedDuration::from_secs(seconds)).ok().map(Z)
    }

    fn cmp_instant(&self, other: &Self) -> Ordering {
        self.0.timestamp().cmp(&other.0.timestamp())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{format_time, parse_iso8601_utc};

    fn iso(s: &str) -> Micros {
        parse_iso8601_utc(s).unwrap()
    }

    fn fmt_all(ts: impl Iterator<Item = Micros>, tz: &Tz) -> Vec<String> {
        ts.map(|t| format_time(t, "%Y-%m-%d %H:%M%z", tz)).collect()
    }

    #[test]
    fn hourly_ticks_cross_a_day_boundary() {
        let s = Schedule::parse("0 * * * *").unwrap();
        let got = fmt_all(s.ticks(iso("2026-11-29T21:30:00Z"), iso("2026-11-30T02:00:00Z"), &Tz::utc()), &Tz::utc());
        assert_eq!(got, ["2026-11-29 22:00+0000", "2026-11-29 23:00+0000", "2026-11-30 00:00+0000", "2026-11-30 01:00+0000",]);
    }

    #[test]
    fn ticks_are_half_open() {
        let s = Schedule::parse("0 * * * *").unwrap();
        let from = iso("2026-11-29T10:00:00Z");
        let to = iso("2026-11-29T12:00:00Z");
        assert_eq!(s.ticks(from, to, &Tz::utc()).collect::<Vec<_>>(), [from, iso("2026-11-29T11:00:00Z")]);
        // A fractional `from` just after a fire time excludes it.
        assert_eq!(s.ticks(from + 1, to, &Tz::utc()).collect::<Vec<_>>(), [iso("2026-11-29T11:00:00Z")]);
        assert_eq!(s.ticks(to, from, &Tz::utc()).count(), 0);
        assert_eq!(s.ticks(from, from, &Tz::utc()).count(), 0);
    }

    #[test]
    fn next_after_is_strict() {
        let s = Schedule::parse("0 * * * *").unwrap();
        let t = iso("2026-11-29T10:00:00Z");
        assert_eq!(s.next_after(t, &Tz::utc()), Some(iso("2026-11-29T11:00:00Z")));
        assert_eq!(s.next_after(t - 1, &Tz::utc()), Some(t));
        assert_eq!(s.next_after(t + 500_000, &Tz::utc()), Some(iso("2026-11-29T11:00:00Z")));
    }

    #[test]
    fn ranges_lists_steps_names() {
        let s = Schedule::parse("*/20 9-10 * * MON-fri").unwrap();
        // 2026-11-27 is a Friday, 28 Saturday, 30 Monday.
        let got = fmt_all(s.ticks(iso("2026-11-27T10:30:00Z"), iso("2026-11-30T09:30:00Z"), &Tz::utc()), &Tz::utc());
        assert_eq!(got, ["2026-11-27 10:40+0000", "2026-11-30 09:00+0000", "2026-11-30 09:20+0000"]);
        let s = Schedule::parse("5,35 0 1 jan,Jul *").unwrap();
        let n: Vec<_> = s.ticks(iso("2026-01-01T00:00:00Z"), iso("2027-01-01T00:00:00Z"), &Tz::utc()).collect();
        assert_eq!(
            fmt_all(n.into_iter(), &Tz::utc()),
            ["2026-01-01 00:05+0000", "2026-01-01 00:35+0000", "2026-07-01 00:05+0000", "2026-07-01 00:35+0000",]
        );
        // 7 is Sunday as well as 0.
        let sun7 = Schedule::parse("0 12 * * 7").unwrap();
        assert_eq!(sun7.next_after(iso("2026-11-25T00:00:00Z"), &Tz::utc()), Some(iso("2026-11-29T12:00:00Z")));
    }

    #[test]
    fn day_of_month_or_day_of_week() {
        // Vixie cron: the 13th of any month OR any Friday.
        let s = Schedule::parse("0 0 13 * 5").unwrap();
        let got = fmt_all(s.ticks(iso("2026-11-01T00:00:00Z"), iso("2026-11-16T00:00:00Z"), &Tz::utc()), &Tz::utc());
        assert_eq!(got, ["2026-11-06 00:00+0000", "2026-11-13 00:00+0000"]);
    }

    #[test]
    fn evaluated_in_the_time_zone_across_dst() {
        let paris = Tz::parse("Europe/Paris").unwrap();
        let s = Schedule::parse("0 0 * * *").unwrap();
        let got = fmt_all(s.ticks(iso("2026-03-27T12:00:00Z"), iso("2026-03-30T21:00:00Z"), &paris), &paris);
        assert_eq!(got, ["2026-03-28 00:00+0100", "2026-03-29 00:00+0100", "2026-03-30 00:00+0200"]);
        // Hourly across spring-forward: 02:00 does not exist, 23 ticks that day.
        let h = Schedule::parse("0 * * * *").unwrap();
        assert_eq!(h.ticks(iso("2026-03-28T23:00:00Z"), iso("2026-03-29T22:00:00Z"), &paris).count(), 23);
    }

    #[test]
    fn splunk_default_schedule_drives_windows() {
        let s = Schedule::parse("0 * * * *").unwrap();
        let runs: Vec<_> = s.ticks(iso("2026-11-29T00:00:00Z"), iso("2026-11-30T00:00:00Z"), &Tz::utc()).collect();
        assert_eq!(runs.len(), 24);
        assert!(runs.windows(2).all(|w| w[1] - w[0] == 3_600_000_000));
    }

    #[test]
    fn invalid_schedules_are_clear_errors() {
        let e = |s: &str| Schedule::parse(s).unwrap_err().to_string();
        assert_eq!(e("0 * * *"), "invalid cron schedule `0 * * *`: expected 5 fields (minute hour day-of-month month day-of-week), got 4");
        assert!(e("0 0 * * * *").contains("got 6"));
        assert!(e("").contains("got 0"));
        assert!(e("@hourly").contains("got 1"));
        assert!(e("0 0 L * *").contains("unexpected `L` in the day-of-month field"));
        assert!(e("0 0 * * 5#2").contains("unexpected `#`"));
        assert!(e("0 0 ? * *").contains("unexpected `?`"));
        assert!(e("0 0 * * mon-foo").contains("unexpected `foo`"));
        assert!(e("0 0 * jan-mon *").contains("unexpected `mon`"));
        assert!(e("60 * * * *").starts_with("invalid cron schedule `60 * * * *`"));
        assert!(Schedule::parse("0 24 * * *").is_err());
        assert!(Schedule::parse("0 0 32 * *").is_err());
        assert!(Schedule::parse("0 0 * 13 *").is_err());
        assert!(Schedule::parse("*/0 * * * *").is_err());
        assert!(Schedule::parse("5-1 * * * *").is_err());
        assert!(Schedule::parse("é * * * *").is_err());
        assert!(Schedule::parse(" 0  *\t* * * ").is_ok());
    }

    #[test]
    fn empty_list_items_and_steps_are_rejected() {
        // fuzz/artifacts/cron/slow-unit-81b95c8d: accepted, never fired, ~1 s per next time.
        for text in [", \t\t 1 1 * *", ", 1 1 * *", "1, * * * *", "1,,2 * * * *", "*/ * * * *", "1- * * * *", "-1 * * * *", "*/2/3 * * * *"]
        {
            let e = Schedule::parse(text).unwrap_err().to_string();
            assert!(e.contains("malformed item"), "{text:?}: {e}");
        }
        for text in ["1,2 * * * *", "*/5 * * * *", "1-5/2 * * * *", "0 0 * jan-mar mon-fri"] {
            assert!(Schedule::parse(text).is_ok(), "{text:?}");
        }
    }

    #[test]
    fn impossible_and_extreme_schedules_do_not_hang_or_panic() {
        if let Ok(s) = Schedule::parse("0 0 30 2 *") {
            assert_eq!(s.next_after(0, &Tz::utc()), None);
            assert_eq!(s.ticks(0, iso("2030-01-01T00:00:00Z"), &Tz::utc()).count(), 0);
        }
        let s = Schedule::parse("* * * * *").unwrap();
        assert_eq!(s.next_after(i64::MAX, &Tz::utc()), None);
        assert!(s.next_after(i64::MIN, &Tz::utc()).is_some());
        assert_eq!(s.ticks(i64::MAX - 10, i64::MAX, &Tz::utc()).count(), 0);
    }
}
