//! The time modifiers (`|minute`, `|hour`, `|day`, `|week`, `|month`, `|year`): a number
//! taken from a date value, as written (the specification: no time zone or format
//! conversion). Dates are `YYYY-MM-DD` optionally followed by `T` or a space and `hh:mm[:ss]`
//! (ISO 8601, Sysmon's `UtcTime`), or epoch seconds (UTC).

use vigil_model::calendar::{civil_from_days, days_from_civil};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DatePart {
    Minute,
    Hour,
    Day,
    /// ISO 8601 week number (1..=53).
    Week,
    Month,
    Year,
}

impl DatePart {
    pub fn parse(name: &str) -> Option<DatePart> {
        Some(match name {
            "minute" => DatePart::Minute,
            "hour" => DatePart::Hour,
            "day" => DatePart::Day,
            "week" => DatePart::Week,
            "month" => DatePart::Month,
            "year" => DatePart::Year,
            _ => return None,
        })
    }

    /// The part of a date value; `None` when the value is no date.
    pub fn of(self, value: &str) -> Option<i64> {
        let (year, month, day, hour, minute) = parse_date(value.trim())?;
        Some(match self {
            DatePart::Minute => minute,
            DatePart::Hour => hour,
            DatePart::Day => i64::from(day),
            DatePart::Month => i64::from(month),
            DatePart::Year => year,
            DatePart::Week => iso_week(days_from_civil(year, month, day)),
        })
    }
}

/// (year, month, day, hour, minute).
fn parse_date(s: &str) -> Option<(i64, u32, u32, i64, i64)> {
    let b = s.as_bytes();
    let digits = |from: usize, n: usize| -> Option<i64> {
        let part = s.get(from..from + n)?;
        part.bytes().all(|c| c.is_ascii_digit()).then(|| part.parse().ok())?
    };
    if b.len() >= 10 && b[4] == b'-' && b[7] == b'-' {
        let (year, month, day) = (digits(0, 4)?, digits(5, 2)? as u32, digits(8, 2)? as u32);
        if !(1..=12).contains(&month) || day == 0 || day > vigil_model::calendar::days_in_month(year, month) {
            return None;
        }
        let (hour, minute) = match b.get(10) {
            Some(b'T' | b't' | b' ') if b.get(13) == Some(&b':') => (digits(11, 2)?, digits(14, 2)?),
            _ => (0, 0),
        };
        return (hour < 24 && minute < 60).then_some((year, month, day, hour, minute));
    }
    // Epoch seconds (ten digits or so, optionally with a fraction).
    let secs: f64 = s.parse().ok().filter(|x: &f64| x.is_finite() && x.abs() < 1e13)?;
    let secs = secs.floor() as i64;
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let in_day = secs.rem_euclid(86_400);
    Some((year, month, day, in_day / 3600, in_day % 3600 / 60))
}

/// The ISO 8601 week of a day (days since 1970-01-01): the week holding its Thursday.
fn iso_week(days: i64) -> i64 {
    let weekday = (days + 3).rem_euclid(7); // Monday 0 (1970-01-01 was a Thursday)
    let thursday = days - weekday + 3;
    let (year, _, _) = civil_from_days(thursday);
    (thursday - days_from_civil(year, 1, 1)) / 7 + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_of_iso_sysmon_and_epoch_dates() {
        let iso = "2026-11-21T02:05:10.1234000Z";
        let got: Vec<Option<i64>> = [DatePart::Minute, DatePart::Hour, DatePart::Day, DatePart::Week, DatePart::Month, DatePart::Year]
            .iter()
            .map(|p| p.of(iso))
            .collect();
        assert_eq!(got, [Some(5), Some(2), Some(21), Some(47), Some(11), Some(2026)]);
        assert_eq!(DatePart::Hour.of("2026-07-16 15:45:13.835"), Some(15));
        assert_eq!(DatePart::Hour.of("1795226710"), Some(2), "epoch seconds, UTC");
        assert_eq!(DatePart::Day.of("2026-02-30"), None);
        assert_eq!(DatePart::Hour.of("yesterday"), None);
        assert_eq!(DatePart::Hour.of("2026-11-21"), Some(0));
    }

    #[test]
    fn iso_weeks_at_year_ends() {
        // 2026-01-01 is a Thursday: week 1; 2027-01-01 a Friday: week 53 of 2026.
        assert_eq!(DatePart::Week.of("2026-01-01"), Some(1));
        assert_eq!(DatePart::Week.of("2027-01-01"), Some(53));
        assert_eq!(DatePart::Week.of("2024-12-30"), Some(1), "Monday of 2025's week 1");
    }
}
