//! Which scheduled runs' windows hold an instant: the question behind "late".
//!
//! For a schedule `(cron, earliest, latest)`, the run at tick `T` searches `[E(T), L(T))`.
//! Both bounds are non-decreasing in `T` (Splunk's offsets and snaps are monotone), so the
//! runs holding an instant `t` are a contiguous run of ticks, and the last of them is the
//! last chance to see an event with `_time = t`: an event arriving after it is late.
//!
//! Events come in time order more or less, so the answer is cached per interval of `t`:
//! for `t` in `[E(T*), E(next tick))` the candidates are the same ticks (those up to `T*`),
//! filtered by `L(T) > t`.

use vigil_model::Micros;
use vigil_time::{Schedule, Tz, Window};

/// More ticks than this holding one instant (an `earliest` of all time, say): every future
/// run sees the event, so it can never be late.
const MAX_HOLDING: usize = 10_000;

/// One schedule, with its cache.
pub struct Holding {
    schedule: Schedule,
    earliest: String,
    latest: String,
    tz: Tz,
    cache: Option<Cached>,
}

struct Cached {
    /// `t` in `[lo, hi)` has these candidate runs (tick, window), ascending.
    lo: Micros,
    hi: Micros,
    runs: Vec<(Micros, Window)>,
}

/// The runs holding an instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Runs {
    /// These ticks, ascending (never empty).
    Ticks(Vec<Micros>),
    /// No run's window holds it (a gap between windows, or a window that cannot be resolved).
    None,
    /// Every future run holds it (an `earliest` of all time): never late.
    Always,
}

impl Holding {
    pub fn new(schedule: Schedule, earliest: &str, latest: &str, tz: Tz) -> Holding {
        Holding { schedule, earliest: earliest.to_string(), latest: latest.to_string(), tz, cache: None }
    }

    fn window(&self, tick: Micros) -> Option<Window> {
        Window::for_run(&self.earliest, &self.latest, tick, &self.tz).ok()
    }

    /// The ticks whose window holds `t`.
    pub fn runs(&mut self, t: Micros) -> Runs {
        if self.earliest.trim().is_empty() {
            return Runs::Always;
        }
        if self.cache.as_ref().is_none_or(|c| t < c.lo || t >= c.hi) {
            match self.compute(t) {
                Some(c) => self.cache = Some(c),
                None => return Runs::Always,
            }
        }
        let Some(c) = &self.cache else { return Runs::None };
        let ticks: Vec<Micros> = c.runs.iter().filter(|(_, w)| w.contains(t)).map(|(tick, _)| *tick).collect();
        if ticks.is_empty() {
            Runs::None
        } else {
            Runs::Ticks(ticks)
        }
    }

    /// The candidates for `t`: ticks from where a window could first reach `t` up to the last
    /// whose window starts at or before `t`. `None`: unbounded.
    fn compute(&self, t: Micros) -> Option<Cached> {
        // A window may end after its tick (latest = +5m): look back that far.
        let reach = self.reach(t);
        let mut runs = Vec::new();
        let mut hi = Micros::MAX;
        for tick in self.schedule.ticks(t.saturating_sub(reach).saturating_sub(1), Micros::MAX, &self.tz) {
            let Some(w) = self.window(tick) else { continue };
            if w.earliest > t {
                hi = w.earliest;
                break;
            }
            runs.push((tick, w));
            if runs.len() > MAX_HOLDING {
                return None;
            }
        }
        let lo = runs.last().map_or(t, |(_, w)| w.earliest);
        // The cache serves every `t'` in `[lo, hi)`: its candidates reach back from `lo`.
        let back = lo.saturating_sub(reach).saturating_sub(1);
        if let Some(&(first, _)) = runs.first().filter(|(first, _)| *first > back) {
            let mut earlier: Vec<(Micros, Window)> =
                self.schedule.ticks(back, first, &self.tz).filter_map(|tick| Some((tick, self.window(tick)?))).collect();
            earlier.extend(runs);
            runs = earlier;
        }
        Some(Cached { lo, hi, runs })
    }

    /// How far after its tick a run's window may end (seen on the tick at or after `t`).
    fn reach(&self, t: Micros) -> Micros {
        let Some(tick) = self.schedule.ticks(t, Micros::MAX, &self.tz).next() else { return 0 };
        self.window(tick).map_or(0, |w| w.latest.saturating_sub(tick).max(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Micros {
        vigil_time::parse_iso8601_utc(s).unwrap()
    }

    fn ticks(v: &[&str]) -> Runs {
        Runs::Ticks(v.iter().map(|s| t(s)).collect())
    }

    fn holding(cron: &str, e: &str, l: &str) -> Holding {
        Holding::new(Schedule::parse(cron).unwrap(), e, l, Tz::utc())
    }

    #[test]
    fn the_escu_hourly_window_holds_an_instant_once() {
        let mut h = holding("0 * * * *", "-70m@m", "-10m@m");
        assert_eq!(h.runs(t("2026-11-20T10:15:00Z")), ticks(&["2026-11-20T11:00:00Z"]));
        assert_eq!(h.runs(t("2026-11-20T10:49:59Z")), ticks(&["2026-11-20T11:00:00Z"]));
        assert_eq!(h.runs(t("2026-11-20T10:50:00Z")), ticks(&["2026-11-20T12:00:00Z"]));
        assert_eq!(h.runs(t("2026-11-20T09:50:00Z")), ticks(&["2026-11-20T11:00:00Z"]));
        assert_eq!(h.runs(t("2026-11-20T09:49:00Z")), ticks(&["2026-11-20T10:00:00Z"]));
    }

    #[test]
    fn overlapping_windows_gaps_and_all_time() {
        let mut h = holding("*/5 * * * *", "-30m", "now");
        let want: Vec<String> = (15..=40).step_by(5).map(|m| format!("2026-11-20T10:{m:02}:00Z")).collect();
        let want: Vec<&str> = want.iter().map(String::as_str).collect();
        assert_eq!(h.runs(t("2026-11-20T10:12:00Z")), ticks(&want));
        // Cached interval, another instant in it.
        assert_eq!(h.runs(t("2026-11-20T10:10:30Z")), ticks(&want));
        let mut gaps = holding("0 * * * *", "-30m", "now");
        assert_eq!(gaps.runs(t("2026-11-20T10:10:00Z")), Runs::None);
        assert_eq!(gaps.runs(t("2026-11-20T10:40:00Z")), ticks(&["2026-11-20T11:00:00Z"]));
        assert_eq!(holding("0 * * * *", "", "now").runs(t("2026-11-20T10:10:00Z")), Runs::Always);
        // A window reaching past its tick.
        let mut ahead = holding("0 * * * *", "-1h", "+30m");
        assert_eq!(ahead.runs(t("2026-11-20T10:10:00Z")), ticks(&["2026-11-20T10:00:00Z", "2026-11-20T11:00:00Z"]));
    }
}
