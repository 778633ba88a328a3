//! Scheduled runs over one pass: every cron tick of a schedule gets its window
//! `[earliest, latest)` resolved at the tick (Splunk's scheduler), each event is routed to every
//! window holding its `_time`, and each run's state is finished with `now` = its run time.
//! `vigil backtest` runs every tick of a range in one pass; `vigil serve` runs the ticks as
//! they come, over the store.

use crate::Consumer;
use rayon::prelude::*;
use vigil_engine::{Engine, EvalContext, ScanState};
use vigil_model::{DatasetRow, Event, Micros, Record};
use vigil_time::{Schedule, Window};

/// The runs of one schedule over a backtest range: run times ascending, each with its window.
///
/// For a fixed `(earliest, latest)` pair both bounds are non-decreasing functions of the run
/// time (offsets and snap-down are monotone), so the windows holding an instant `t` form one
/// contiguous index range, found by two binary searches: the first window whose `latest > t`
/// and the first whose `earliest > t`. Should the bounds ever not be sorted (they cannot be
/// with Splunk modifiers, but this is checked, not assumed), lookups fall back to a scan.
#[derive(Debug, Clone, Default)]
pub struct Runs {
    pub times: Vec<Micros>,
    pub windows: Vec<Window>,
    sorted: bool,
}

impl Runs {
    /// `runs` must be in ascending run time (as [`vigil_time::Schedule::ticks`] yields them).
    pub fn new(runs: Vec<(Micros, Window)>) -> Runs {
        let (times, windows): (Vec<_>, Vec<_>) = runs.into_iter().unzip();
        let sorted = windows.windows(2).all(|p| p[0].earliest <= p[1].earliest && p[0].latest <= p[1].latest);
        Runs { times, windows, sorted }
    }

    pub fn len(&self) -> usize {
        self.times.len()
    }

    /// Whether the windows are sorted, so lookups are binary searches.
    pub fn is_sorted(&self) -> bool {
        self.sorted
    }

    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }

    /// Indexes of the windows containing `t`, ascending.
    pub fn containing(&self, t: Micros) -> Containing<'_> {
        if self.sorted {
            let lo = self.windows.partition_point(|w| w.latest <= t);
            let hi = self.windows.partition_point(|w| w.earliest <= t);
            Containing { runs: self, t, next: lo, end: hi.max(lo), check: false }
        } else {
            Containing { runs: self, t, next: 0, end: self.windows.len(), check: true }
        }
    }
}

/// Iterator over [`Runs::containing`].
pub struct Containing<'a> {
    runs: &'a Runs,
    t: Micros,
    next: usize,
    end: usize,
    check: bool,
}

impl Iterator for Containing<'_> {
    type Item = usize;
    fn next(&mut self) -> Option<usize> {
        while self.next < self.end {
            let i = self.next;
            self.next += 1;
            if !self.check || self.runs.windows[i].contains(self.t) {
                return Some(i);
            }
        }
        None
    }
}

/// Detections sharing one schedule `(cron, earliest, latest)`: one engine over their queries,
/// one scan state per run.
pub struct Group {
    pub engine: Engine,
    /// Detection names, in the engine's query order.
    pub names: Vec<String>,
    pub cron: String,
    pub earliest: String,
    pub latest: String,
    pub runs: Runs,
}

/// An event that every run whose window holds it had already run before it arrived.
#[derive(Debug, Clone)]
pub struct Missed {
    pub group: usize,
    pub event_time: Micros,
    pub arrival: Micros,
    /// The last run whose window held the event.
    pub run_time: Micros,
    /// `file:line` of the event.
    pub origin: String,
}

/// Missed events kept for reporting; the count beyond this is still exact.
pub const MAX_MISSED_KEPT: usize = 10_000;

/// Routes each event to every run window of every group that holds its `_time`.
///
/// With an arrival time (the `arrival_field`, else `_indextime`), a run only sees events that
/// had arrived by its run time, as Splunk's scheduled search only sees what was indexed.
pub struct Scheduled<'a> {
    pub groups: &'a [Group],
    /// Event field holding the arrival (index) time: epoch seconds or ISO 8601.
    pub arrival_field: &'a str,
}

#[derive(Default)]
pub struct ScheduledState {
    /// `[group][run]`, created on the first event routed there.
    pub states: Vec<Vec<Option<ScanState>>>,
    pub missed: Vec<Missed>,
    pub missed_per_group: Vec<u64>,
    /// Events in no window of any group.
    pub outside: u64,
    pub untimed: u64,
    pub with_arrival: u64,
    /// Events whose arrival field could not be read as a time (treated as on time).
    pub bad_arrival: u64,
}

/// Reads an arrival time: epoch seconds (fractions allowed) or ISO 8601.
pub fn parse_arrival(text: &str) -> Option<Micros> {
    let s = text.trim();
    if let Ok(secs) = s.parse::<f64>() {
        return vigil_time::micros_from_secs(secs);
    }
    vigil_time::parse_iso8601_utc(s)
}

impl Consumer for Scheduled<'_> {
    type State = ScheduledState;

    fn wants_dataset(&self, dataset: usize) -> bool {
        self.groups.iter().any(|g| g.engine.wants_dataset(dataset))
    }

    fn dataset_columns(&self, dataset: usize) -> Option<Vec<bool>> {
        Engine::columns_read_by_any(self.groups.iter().map(|g| &g.engine), dataset)
    }

    fn new_state(&self) -> ScheduledState {
        ScheduledState {
            states: self.groups.iter().map(|g| (0..g.runs.len()).map(|_| None).collect()).collect(),
            missed_per_group: vec![0; self.groups.len()],
            ..ScheduledState::default()
        }
    }

    fn consume(&self, state: &mut ScheduledState, event: &Event, rows: &[DatasetRow]) {
        let Some(t) = event.time else {
            state.untimed += 1;
            return;
        };
        let arrival = match event.get(self.arrival_field) {
            Some(text) => match parse_arrival(text) {
                Some(a) => {
                    state.with_arrival += 1;
                    Some(a)
                }
                None => {
                    state.bad_arrival += 1;
                    None
                }
            },
            None => None,
        };
        let mut in_any = false;
        for (gi, group) in self.groups.iter().enumerate() {
            let mut last_run = None;
            let mut seen = false;
            for i in group.runs.containing(t) {
                let run_time = group.runs.times[i];
                last_run = Some(run_time);
                if arrival.is_some_and(|a| a > run_time) {
                    continue; // not indexed yet when this run searched
                }
                seen = true;
                let st = state.states[gi][i].get_or_insert_with(|| group.engine.new_state());
                if group.engine.wants_events() {
                    group.engine.on_event(st, event);
                }
                for row in rows {
                    group.engine.on_row(st, row);
                }
            }
            if let Some(run_time) = last_run {
                in_any = true;
                if let (false, Some(arrival)) = (seen, arrival) {
                    state.missed_per_group[gi] += 1;
                    if state.missed.len() < MAX_MISSED_KEPT {
                        state.missed.push(Missed {
                            group: gi,
                            event_time: t,
                            arrival,
                            run_time,
                            origin: format!("{}:{}", event.origin.file, event.origin.line),
                        });
                    }
                }
            }
        }
        if !in_any {
            state.outside += 1;
        }
    }

    fn merge(&self, into: &mut ScheduledState, other: ScheduledState) {
        for (gi, (mine, theirs)) in into.states.iter_mut().zip(other.states).enumerate() {
            for (a, b) in mine.iter_mut().zip(theirs) {
                match (a.as_mut(), b) {
                    (Some(a), Some(b)) => self.groups[gi].engine.merge(a, b),
                    (None, Some(b)) => *a = Some(b),
                    (_, None) => {}
                }
            }
        }
        for (a, b) in into.missed_per_group.iter_mut().zip(other.missed_per_group) {
            *a += b;
        }
        let room = MAX_MISSED_KEPT.saturating_sub(into.missed.len());
        into.missed.extend(other.missed.into_iter().take(room));
        into.outside += other.outside;
        into.untimed += other.untimed;
        into.with_arrival += other.with_arrival;
        into.bad_arrival += other.bad_arrival;
    }
}

/// ISO 8601 UTC to the second (`2026-11-20T11:00:00Z`), with microseconds only when present.
pub fn iso(t: Micros) -> String {
    match t {
        Micros::MIN => "-inf".to_string(),
        Micros::MAX => "+inf".to_string(),
        t if t.rem_euclid(1_000_000) == 0 => vigil_time::format_time(t, "%Y-%m-%dT%H:%M:%SZ", &vigil_time::Tz::utc()),
        t => vigil_time::format_time(t, "%Y-%m-%dT%H:%M:%S.%6NZ", &vigil_time::Tz::utc()),
    }
}

/// One run's results for one detection.
pub struct Hit {
    pub run_time: Micros,
    pub window: Window,
    pub name: String,
    pub rows: Vec<Record>,
}

pub enum RunsError {
    TooMany,
    Bad(String),
}

/// The runs of one schedule in `[from, to)`, each with its window; at most `limit`.
pub fn schedule_runs(
    cron: &str,
    earliest: &str,
    latest: &str,
    from: Micros,
    to: Micros,
    tz: &vigil_time::Tz,
    limit: usize,
) -> Result<Runs, RunsError> {
    let schedule = Schedule::parse(cron).map_err(|e| RunsError::Bad(e.to_string()))?;
    let ticks: Vec<Micros> = schedule.ticks(from, to, tz).take(limit.saturating_add(1)).collect();
    if ticks.len() > limit {
        return Err(RunsError::TooMany);
    }
    let mut runs = Vec::with_capacity(ticks.len());
    for t in ticks {
        let w = Window::for_run(earliest, latest, t, tz).map_err(|e| RunsError::Bad(e.to_string()))?;
        runs.push((t, w));
    }
    Ok(Runs::new(runs))
}

/// Finishes every run's state (in parallel) with `now` = its run time; results in run-time
/// order, then group and detection order. `on_run` is called as each run is finished.
pub fn finish_runs(groups: &[Group], state: &mut ScheduledState, ctx: &EvalContext, on_run: &(dyn Fn() + Sync)) -> (Vec<Hit>, Vec<String>) {
    let done: Vec<(Vec<Hit>, Vec<String>)> = run_jobs(groups, state)
        .into_par_iter()
        .map(|(gi, ri, st)| {
            on_run();
            let mut hits = Vec::new();
            let errors = finish_run(&groups[gi], ri, st, ctx, &mut |h| hits.push(h));
            (hits, errors)
        })
        .collect();
    let mut hits = Vec::new();
    let mut failures = Vec::new();
    for (h, e) in done {
        hits.extend(h);
        failures.extend(e);
    }
    (hits, failures)
}

/// As [`finish_runs`], but one run after the other, each detection's results handed to `emit`
/// as soon as they are complete (in the same order): the caller can turn them into alerts and
/// drop them before the next detection is finished, so memory is bounded by the largest
/// detection's results, not the sum. Each run's detections are still finished in parallel.
pub fn finish_runs_each(groups: &[Group], state: &mut ScheduledState, ctx: &EvalContext, emit: &mut dyn FnMut(Hit)) -> Vec<String> {
    let mut failures = Vec::new();
    for (gi, ri, st) in run_jobs(groups, state) {
        failures.extend(finish_run(&groups[gi], ri, st, ctx, emit));
    }
    failures
}

/// Every run's state taken out of `state`, in run-time order, then group order.
fn run_jobs(groups: &[Group], state: &mut ScheduledState) -> Vec<(usize, usize, Option<ScanState>)> {
    let mut jobs = Vec::new();
    for (gi, states) in std::mem::take(&mut state.states).into_iter().enumerate() {
        for (ri, st) in states.into_iter().enumerate() {
            jobs.push((gi, ri, st));
        }
    }
    // Stable: a group's runs stay in their order when two groups share a run time.
    jobs.sort_by_key(|&(gi, ri, _)| (groups[gi].runs.times[ri], gi));
    jobs
}

/// Finishes run `ri` of group `g` with `now` = its run time, each detection with results
/// handed to `emit` (the chunks of a detection finished in chunks joined); returns the
/// detections that failed.
fn finish_run(g: &Group, ri: usize, st: Option<ScanState>, ctx: &EvalContext, emit: &mut dyn FnMut(Hit)) -> Vec<String> {
    let run_time = g.runs.times[ri];
    let window = g.runs.windows[ri];
    let st = st.unwrap_or_else(|| g.engine.new_state());
    let run_ctx = EvalContext { now: run_time, tz: ctx.tz.clone() };
    let mut errors = Vec::new();
    let mut pending: Option<vigil_engine::QueryOutput> = None;
    g.engine.finish_each(st, &run_ctx, &mut |o| {
        let whole = match pending.take() {
            Some(mut first) => {
                first.absorb(o);
                first
            }
            None => o,
        };
        if whole.partial {
            pending = Some(whole);
            return;
        }
        match whole.result {
            Ok(rows) if rows.is_empty() => {}
            Ok(rows) => emit(Hit { run_time, window, name: whole.name, rows }),
            Err(e) => errors.push(format!(
                "detection `{}` failed at run {}: {e}",
                whole.name,
                vigil_time::format_time(run_time, "%Y-%m-%dT%H:%M:%SZ", &vigil_time::Tz::utc())
            )),
        }
    });
    errors
}
