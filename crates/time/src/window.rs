//! Search time windows.

use vigil_model::Micros;

use crate::{parse_modifier, resolve, TimeError, Tz};

/// A search time range: `earliest <= t < latest` (Splunk's `earliest`/`latest`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Window {
    pub earliest: Micros,
    pub latest: Micros,
}

impl Window {
    /// Everything (for "all time" runs such as ESCU tests).
    pub const ALL: Window = Window { earliest: Micros::MIN, latest: Micros::MAX };

    pub fn new(earliest: Micros, latest: Micros) -> Window {
        Window { earliest, latest }
    }

    /// `earliest <= t < latest`.
    pub fn contains(&self, t: Micros) -> bool {
        self.earliest <= t && t < self.latest
    }

    /// True when no instant is contained.
    pub fn is_empty(&self) -> bool {
        self.earliest >= self.latest
    }

    /// The window of a scheduled run at `run_time`, e.g. `for_run("-70m@m", "-10m@m", t, tz)`.
    ///
    /// Like Splunk, an empty earliest means all time (epoch 0) and an empty latest means now
    /// (`run_time`). An earliest that resolves after the latest is an error (Splunk refuses such a
    /// search); equal bounds give an empty window.
    pub fn for_run(earliest_spec: &str, latest_spec: &str, run_time: Micros, tz: &Tz) -> Result<Window, TimeError> {
        let earliest = if earliest_spec.trim().is_empty() { 0 } else { resolve(&parse_modifier(earliest_spec)?, run_time, tz) };
        let latest = if latest_spec.trim().is_empty() { run_time } else { resolve(&parse_modifier(latest_spec)?, run_time, tz) };
        if earliest > latest {
            return Err(TimeError::InvalidWindow { earliest: earliest_spec.to_string(), latest: latest_spec.to_string() });
        }
        Ok(Window { earliest, latest })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{parse_iso8601_utc, Schedule};

    fn iso(s: &str) -> Micros {
        parse_iso8601_utc(s).unwrap()
    }

    #[test]
    fn escu_default_window() {
        // Runs at 14:05:37 (late dispatch): -70m@m .. -10m@m = 12:55 .. 13:55.
        let w = Window::for_run("-70m@m", "-10m@m", iso("2026-11-29T14:05:37Z"), &Tz::utc()).unwrap();
        assert_eq!(w, Window::new(iso("2026-11-29T12:55:00Z"), iso("2026-11-29T13:55:00Z")));
        assert!(w.contains(iso("2026-11-29T12:55:00Z")));
        assert!(w.contains(iso("2026-11-29T13:54:59.999999Z")));
        assert!(!w.contains(iso("2026-11-29T13:55:00Z")));
        assert!(!w.contains(iso("2026-11-29T12:54:59.999999Z")));
    }

    #[test]
    fn hourly_runs_tile_time_without_gaps_or_overlap() {
        let s = Schedule::parse("0 * * * *").unwrap();
        let runs: Vec<_> = s.ticks(iso("2026-11-29T20:00:00Z"), iso("2026-11-30T04:00:00Z"), &Tz::utc()).collect();
        let windows: Vec<_> = runs.iter().map(|&r| Window::for_run("-70m@m", "-10m@m", r, &Tz::utc()).unwrap()).collect();
        for pair in windows.windows(2) {
            assert_eq!(pair[0].latest, pair[1].earliest);
        }
    }

    #[test]
    fn defaults_and_errors() {
        let now = iso("2026-11-29T14:05:37Z");
        assert_eq!(Window::for_run("", "", now, &Tz::utc()).unwrap(), Window::new(0, now));
        assert_eq!(Window::for_run("0", "now", now, &Tz::utc()).unwrap(), Window::new(0, now));
        let e = Window::for_run("-1h", "-2h", now, &Tz::utc()).unwrap_err();
        assert_eq!(e.to_string(), "earliest time `-1h` resolves after latest time `-2h`");
        assert!(Window::for_run("-1mo", "now", now, &Tz::utc()).is_err());
        assert!(Window::for_run("@d", "@d", now, &Tz::utc()).unwrap().is_empty());
        assert!(Window::ALL.contains(Micros::MIN) && Window::ALL.contains(0));
    }
}
