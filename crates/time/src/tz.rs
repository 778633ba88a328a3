//! Time zones: a thin wrapper over `jiff::tz::TimeZone`.

use jiff::tz::{Offset, TimeZone};
use jiff::Timestamp;
use vigil_model::Micros;

use crate::TimeError;

/// A time zone in which civil times (snaps, `%H`, `mktime`) are interpreted.
///
/// `UTC` and fixed offsets never touch the file system, so they work without
/// `/usr/share/zoneinfo`; IANA names are looked up in the system tz database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tz(TimeZone);

impl Default for Tz {
    fn default() -> Self {
        Tz::utc()
    }
}

impl Tz {
    /// UTC (built in, no tz database needed).
    pub fn utc() -> Tz {
        Tz(TimeZone::UTC)
    }

    /// The system's configured time zone, or UTC if it cannot be determined.
    pub fn system() -> Tz {
        Tz(TimeZone::try_system().unwrap_or(TimeZone::UTC))
    }

    /// Parses `UTC` (also `Z`, `GMT`, `Etc/UTC`, any case), a fixed offset (`+02:00`, `-0530`,
    /// `+02`), or an IANA name (`Europe/Paris`).
    pub fn parse(name: &str) -> Result<Tz, TimeError> {
        let s = name.trim();
        let unknown = || TimeError::UnknownTimeZone { name: name.to_string() };
        if s.is_empty() {
            return Err(unknown());
        }
        for utc in ["utc", "z", "gmt", "etc/utc", "etc/gmt", "universal", "zulu"] {
            if s.eq_ignore_ascii_case(utc) {
                return Ok(Tz::utc());
            }
        }
        if s.starts_with('+') || s.starts_with('-') {
            let secs = parse_offset(s.as_bytes()).ok_or_else(unknown)?;
            return Tz::fixed(secs).ok_or_else(unknown);
        }
        TimeZone::get(s).map(Tz).map_err(|_| unknown())
    }

    /// A fixed offset from UTC, in seconds east of Greenwich (`None` beyond ±25:59:59).
    pub fn fixed(offset_seconds: i32) -> Option<Tz> {
        Offset::from_seconds(offset_seconds).ok().map(|o| Tz(TimeZone::fixed(o)))
    }

    /// The IANA name, if this zone came from the tz database (`UTC` for UTC).
    pub fn iana_name(&self) -> Option<&str> {
        self.0.iana_name()
    }

    /// Offset from UTC at instant `t`, in seconds.
    pub fn offset_seconds_at(&self, t: Micros) -> i32 {
        self.0.to_offset(timestamp(t)).seconds()
    }

    /// The underlying jiff time zone.
    pub fn as_jiff(&self) -> &TimeZone {
        &self.0
    }

    /// Wraps a jiff time zone.
    pub fn from_jiff(tz: TimeZone) -> Tz {
        Tz(tz)
    }
}

/// Converts micros to a jiff timestamp, clamping to jiff's supported range (years ±9999).
pub(crate) fn timestamp(t: Micros) -> Timestamp {
    match Timestamp::from_microsecond(t) {
        Ok(ts) => ts,
        Err(_) if t < 0 => Timestamp::MIN,
        Err(_) => Timestamp::MAX,
    }
}

/// Microseconds since the epoch of a jiff timestamp (truncating sub-microsecond digits).
pub(crate) fn micros(ts: Timestamp) -> Micros {
    ts.as_microsecond()
}

/// Parses `+HH`, `+HHMM`, `+HH:MM` (or `-`) into seconds east of UTC. The whole input must match.
pub(crate) fn parse_offset(b: &[u8]) -> Option<i32> {
    let sign = match b.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let d = |i: usize| -> Option<i32> {
        let c = *b.get(i)?;
        c.is_ascii_digit().then(|| i32::from(c - b'0'))
    };
    let h = d(1)? * 10 + d(2)?;
    let m = match b.len() {
        3 => 0,
        5 => d(3)? * 10 + d(4)?,
        6 if b[3] == b':' => d(4)? * 10 + d(5)?,
        _ => return None,
    };
    if h > 25 || m > 59 {
        return None;
    }
    Some(sign * (h * 3600 + m * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_spellings() {
        for s in ["UTC", "utc", "Z", "GMT", "Etc/UTC", " UTC "] {
            assert_eq!(Tz::parse(s).unwrap(), Tz::utc(), "{s}");
        }
        assert_eq!(Tz::default(), Tz::utc());
    }

    #[test]
    fn fixed_offsets() {
        let tz = Tz::parse("+02:00").unwrap();
        assert_eq!(tz.offset_seconds_at(0), 7200);
        assert_eq!(Tz::parse("-0530").unwrap().offset_seconds_at(0), -(5 * 3600 + 30 * 60));
        assert_eq!(Tz::parse("+01").unwrap().offset_seconds_at(0), 3600);
        assert!(Tz::parse("+2").is_err());
        assert!(Tz::parse("+02:60").is_err());
        assert!(Tz::parse("+02:00x").is_err());
        assert!(Tz::parse("-").is_err());
    }

    #[test]
    fn iana_names() {
        let paris = Tz::parse("Europe/Paris").unwrap();
        assert_eq!(paris.iana_name(), Some("Europe/Paris"));
        // 2026-01-15T12:00:00Z: CET (+1); 2026-07-15T12:00:00Z: CEST (+2).
        assert_eq!(paris.offset_seconds_at(1_768_478_400_000_000), 3600);
        assert_eq!(paris.offset_seconds_at(1_784_116_800_000_000), 7200);
    }

    #[test]
    fn unknown_names_are_clear_errors() {
        let e = Tz::parse("Mars/Olympus_Mons").unwrap_err();
        assert_eq!(e.to_string(), "unknown time zone `Mars/Olympus_Mons`");
        assert!(Tz::parse("").is_err());
        assert!(Tz::parse("../../etc/passwd").is_err());
    }

    #[test]
    fn timestamp_clamps() {
        assert_eq!(timestamp(i64::MAX), Timestamp::MAX);
        assert_eq!(timestamp(i64::MIN), Timestamp::MIN);
        assert_eq!(micros(timestamp(123)), 123);
    }
}
