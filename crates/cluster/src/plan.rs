//! What workers and reducers both run: the selected detections grouped by schedule (the same
//! selection and planning as `vigil serve`), each schedule's ticks, and a stable identity per
//! schedule that both sides compute alike.

use vigil_content::{ContentSet, Detection};
use vigil_engine::{Engine, Query, ScanState};
use vigil_model::Micros;
use vigil_normalize::Normalizer;
use vigil_scan::schedule::{Group, Runs};
use vigil_serve::selection::Selection;
use vigil_time::{Schedule, Tz, Window};

/// Ticks generated at a time when a schedule's list must grow.
const TICKS_PER_EXTENSION: usize = 64;

/// Published windows' states a schedule keeps for its next windows: about the windows that
/// close together (one per partition at each tick); each may hold a 1 MiB text chunk.
const SPARE_STATES: usize = 8;

/// One schedule's detections and the ticks known so far (from the cluster's `from`).
pub struct Planned {
    pub group: Group,
    /// `cron|earliest|latest|names` hashed: the same on every worker and reducer with the
    /// same content and selection.
    pub id: String,
    schedule: Schedule,
    from: Micros,
    to: Option<Micros>,
    /// No tick after the last one generated (reached `to`, or the cron has no more).
    exhausted: bool,
    /// States of published windows, emptied for the next windows (see [`Planned::take_state`]).
    pub(crate) spare: Vec<ScanState>,
}

/// The selected detections by schedule: those over events (workers scan them, reducers finish
/// them) and the Correlation ones over the risk index (reducers run them once the event runs
/// their window depends on are finished, see reducer/correlate.rs).
pub struct Plans {
    pub events: Vec<Planned>,
    pub correlations: Vec<Planned>,
}

/// Plans the selected detections of `content` and those the caller planned (`extra`: Sigma
/// rules), as `vigil serve` does.
pub fn plan(
    content: &ContentSet,
    normalizer: &Normalizer,
    selection: &Selection,
    extra: Vec<(Detection, Query)>,
    from: Micros,
    to: Option<Micros>,
) -> Result<Plans, String> {
    let mut plans = Plans { events: Vec::new(), correlations: Vec::new() };
    let (groups, _not_scheduled) = selection.plan(content, extra, normalizer.catalog())?;
    for g in groups {
        let (cron, earliest, latest) = g.key;
        let names: Vec<String> = g.members.iter().map(|m| m.name.clone()).collect();
        let schedule = Schedule::parse(&cron).map_err(|e| format!("schedule `{cron}` of {}: {e}", names.join(", ")))?;
        let id = schedule_id(&cron, &earliest, &latest, &names);
        let engine = Engine::new(g.members.into_iter().map(|m| m.query).collect(), normalizer.catalog());
        let group = Group { engine, names, cron, earliest, latest, runs: Runs::default() };
        let planned = Planned { group, id, schedule, from, to, exhausted: false, spare: Vec::new() };
        match g.reads_risk {
            true => plans.correlations.push(planned),
            false => plans.events.push(planned),
        }
    }
    Ok(plans)
}

/// [`Planned::take_state`] for callers that hold other parts of the schedule borrowed.
pub fn take_state(engine: &Engine, spare: &mut Vec<ScanState>, position: u64) -> ScanState {
    match spare.pop() {
        Some(mut state) => {
            engine.reuse_state_at(&mut state, position);
            state
        }
        None => engine.new_state_at(position),
    }
}

/// FNV-1a over the schedule and its members, as 16 hex digits.
pub fn schedule_id(cron: &str, earliest: &str, latest: &str, names: &[String]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in [cron, earliest, latest].into_iter().chain(names.iter().map(String::as_str)) {
        for b in part.bytes().chain([0u8]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

impl Planned {
    pub fn window(&self, tick: Micros) -> Result<Window, String> {
        Window::for_run(&self.group.earliest, &self.group.latest, tick, &Tz::utc()).map_err(|e| e.to_string())
    }

    /// A state for a new window at `position`: a published window's, emptied in place
    /// (its tables and buffers already allocated and faulted in), or a new one.
    pub fn take_state(&mut self, position: u64) -> ScanState {
        take_state(&self.group.engine, &mut self.spare, position)
    }

    /// Keeps the state of a published window for a later window (or drops it, past
    /// [`SPARE_STATES`]).
    pub fn give_back(&mut self, state: ScanState) {
        if self.spare.len() < SPARE_STATES {
            self.spare.push(state);
        } else {
            self.group.engine.discard_state(state);
        }
    }

    fn last_tick(&self) -> Option<Micros> {
        self.group.runs.times.last().copied()
    }

    /// Generates more ticks; false when there are none.
    fn extend(&mut self) -> bool {
        if self.exhausted {
            return false;
        }
        let start = self.last_tick().map_or(self.from, |t| t + 1);
        let end = self.to.unwrap_or(i64::MAX / 2);
        let mut runs: Vec<(Micros, Window)> = self.group.runs.times.iter().copied().zip(self.group.runs.windows.iter().copied()).collect();
        let before = runs.len();
        for t in self.schedule.ticks(start, end, &Tz::utc()).take(TICKS_PER_EXTENSION) {
            match self.window(t) {
                Ok(w) => runs.push((t, w)),
                Err(e) => {
                    eprintln!("vigil cluster: schedule `{}`: no window at tick {t}: {e}", self.group.cron);
                    self.exhausted = true;
                    break;
                }
            }
        }
        if runs.len() - before < TICKS_PER_EXTENSION {
            self.exhausted = true;
        }
        let grew = runs.len() > before;
        self.group.runs = Runs::new(runs);
        grew
    }

    /// The first tick at or after `t` (not after `to`), without touching the known ticks.
    pub fn tick_from(&self, t: Micros) -> Option<Micros> {
        let end = self.to.unwrap_or(i64::MAX / 2);
        self.schedule.ticks(t.max(self.from), end, &Tz::utc()).next()
    }

    /// Makes sure every tick whose window could hold `t` is known: ticks are generated until
    /// one's window starts after `t` (windows are sorted for Splunk's modifiers).
    pub fn cover_time(&mut self, t: Micros) {
        while self.group.runs.windows.last().is_none_or(|w| w.earliest <= t) && self.extend() {}
    }

    /// Makes sure every tick up to `t` is known.
    pub fn cover_tick(&mut self, t: Micros) {
        while self.last_tick().is_none_or(|last| last <= t) && self.extend() {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_states_serve_later_windows_up_to_a_bound() {
        let content = vigil_content::ContentSet::builtin();
        let normalizer = Normalizer::builtin().unwrap();
        let selection = Selection { enable: vec!["Windows MSIExec Remote Download".into()], ..Selection::default() };
        let mut p = plan(&content, &normalizer, &selection, Vec::new(), 0, None).unwrap().events;
        let s = &mut p[0];
        let engine_bytes = |s: &Planned, st: &ScanState| s.group.engine.encode_state(st).unwrap();
        let first = s.take_state(2);
        s.give_back(first);
        assert_eq!(s.spare.len(), 1);
        let reused = s.take_state(5);
        assert!(s.spare.is_empty(), "the spare state was taken");
        assert_eq!(engine_bytes(s, &reused), engine_bytes(s, &s.group.engine.new_state_at(5)));
        for _ in 0..SPARE_STATES + 3 {
            let st = s.group.engine.new_state();
            s.give_back(st);
        }
        assert_eq!(s.spare.len(), SPARE_STATES);
    }

    #[test]
    fn ticks_grow_to_cover_times_and_stop_at_to() {
        let content = vigil_content::ContentSet::builtin();
        let normalizer = Normalizer::builtin().unwrap();
        let selection = Selection { enable: vec!["Windows MSIExec Remote Download".into()], ..Selection::default() };
        let day = vigil_time::parse_iso8601_utc("2026-11-20T00:00:00Z").unwrap();
        let hour = 3_600_000_000;
        let mut p = plan(&content, &normalizer, &selection, Vec::new(), day, Some(day + 100 * hour)).unwrap().events;
        assert_eq!(p.len(), 1);
        let s = &mut p[0];
        s.cover_time(day + 80 * hour + 1);
        // -70m@m .. -10m@m: the event's last window is the tick 81h's (its window starts 79h50m).
        assert!(s.group.runs.windows.last().unwrap().earliest > day + 80 * hour + 1);
        assert_eq!(s.group.runs.containing(day + 80 * hour + 1).map(|i| s.group.runs.times[i]).collect::<Vec<_>>(), vec![day + 81 * hour]);
        s.cover_tick(day + 500 * hour);
        assert_eq!(s.group.runs.len(), 100, "no tick at or after `to`");
        assert_eq!(schedule_id("0 * * * *", "-70m@m", "-10m@m", &s.group.names), s.id);
        assert_eq!(s.tick_from(day + 99 * hour + 1), None, "no tick at or after `to`");
        assert_eq!(s.tick_from(day - 5 * hour), Some(day), "none before `from`");
        assert_eq!(s.tick_from(day + 2 * hour + 1), Some(day + 3 * hour));
    }
}
