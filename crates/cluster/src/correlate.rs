//! Correlation detections (ESCU's searches over the Risk data model) in the cluster.
//!
//! A single node runs a Correlation schedule's tick after the event detections of every tick
//! up to it, over the risk index those runs filled. The reducers do the same over the alert
//! store they share: tick `t` of a Correlation schedule is due once every event schedule's
//! runs at ticks <= `t` are finished (their results files exist), and its own results file
//! marks it finished. Two reducers may both run a tick: the same risk events in give the same
//! results and alert identities out, and the store keeps one copy of each.
//!
//! With no event schedule selected, a tick is due when the clock reaches it (the risk events
//! then come from elsewhere, e.g. single nodes writing to the same PostgreSQL store).

use crate::plan::Planned;
use vigil_model::Micros;

/// The Correlation schedules and how far the runs went.
pub struct Correlations {
    pub schedules: Vec<Planned>,
    /// Per Correlation schedule: its next tick not yet run (None: it has no more).
    next: Vec<Option<Micros>>,
    /// Per event schedule (in the role's order): its first tick not known finished.
    unfinished: Vec<Option<Micros>>,
}

impl Correlations {
    pub fn new(schedules: Vec<Planned>, events: &[Planned]) -> Correlations {
        let next = schedules.iter().map(|c| c.tick_from(Micros::MIN)).collect();
        let unfinished = events.iter().map(|s| s.tick_from(Micros::MIN)).collect();
        Correlations { schedules, next, unfinished }
    }

    pub fn is_empty(&self) -> bool {
        self.schedules.is_empty()
    }

    /// The Correlation ticks that became due, oldest first per schedule: (schedule index,
    /// tick). `finished(schedule id, tick)` says whether an event run is finished; `now` is
    /// the clock (used only without event schedules).
    pub fn due(&mut self, events: &[Planned], now: Micros, finished: &dyn Fn(&str, Micros) -> bool) -> Vec<(usize, Micros)> {
        if self.schedules.is_empty() {
            return Vec::new();
        }
        for (s, first) in events.iter().zip(self.unfinished.iter_mut()) {
            while let Some(t) = *first {
                if !finished(&s.id, t) {
                    break;
                }
                *first = s.tick_from(t + 1);
            }
        }
        // Every event run at a tick below `bound` is finished.
        let bound = match self.unfinished.is_empty() {
            true => now.saturating_add(1),
            false => self.unfinished.iter().map(|t| t.unwrap_or(Micros::MAX)).min().unwrap_or(Micros::MAX),
        };
        let mut out = Vec::new();
        for (i, c) in self.schedules.iter().enumerate() {
            while let Some(t) = self.next[i] {
                if t >= bound {
                    break;
                }
                out.push((i, t));
                self.next[i] = c.tick_from(t + 1);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::HashSet;

    const HOUR: Micros = 3_600_000_000;

    fn planned(names: &[&str], from: Micros) -> Vec<Planned> {
        let content = vigil_content::ContentSet::builtin();
        let normalizer = vigil_normalize::Normalizer::builtin().unwrap();
        let selection = vigil_serve::selection::Selection { enable: names.iter().map(|n| n.to_string()).collect(), ..Default::default() };
        crate::plan::plan(&content, &normalizer, &selection, Vec::new(), from, Some(from + 10 * HOUR)).unwrap().events
    }

    #[test]
    fn a_correlation_tick_waits_for_every_event_run_up_to_it() {
        let day = vigil_time::parse_iso8601_utc("2026-11-20T00:00:00Z").unwrap();
        // The seed's hourly schedule as both the event side and (standing in) the correlation side.
        let events = planned(&["Windows MSIExec Remote Download"], day);
        let mut c = Correlations::new(planned(&["Windows MSIExec Remote Download"], day), &events);
        let done: RefCell<HashSet<Micros>> = RefCell::default();
        let finished = |_: &str, t: Micros| done.borrow().contains(&t);
        assert!(c.due(&events, day + 5 * HOUR, &finished).is_empty(), "no event run finished yet");
        done.borrow_mut().extend([day, day + HOUR, day + 3 * HOUR]);
        // 00:00 and 01:00 finished, 02:00 not: correlation ticks 00:00 and 01:00 are due.
        assert_eq!(c.due(&events, day, &finished), vec![(0, day), (0, day + HOUR)]);
        assert!(c.due(&events, day, &finished).is_empty(), "each tick once");
        done.borrow_mut().insert(day + 2 * HOUR);
        assert_eq!(c.due(&events, day, &finished), vec![(0, day + 2 * HOUR), (0, day + 3 * HOUR)]);
    }

    #[test]
    fn without_event_schedules_the_clock_decides() {
        let day = vigil_time::parse_iso8601_utc("2026-11-20T00:00:00Z").unwrap();
        let mut c = Correlations::new(planned(&["Windows MSIExec Remote Download"], day), &[]);
        assert_eq!(c.due(&[], day + HOUR + 5, &|_, _| false), vec![(0, day), (0, day + HOUR)]);
        assert!(c.due(&[], day + HOUR + 5, &|_, _| false).is_empty());
    }
}
