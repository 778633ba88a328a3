//! Time ranges over the one-pass scan: `hunt/search --earliest/--latest` and the per-run
//! windows of `backtest`.
//!
//! Both are [`Consumer`] wrappers in front of the engine (the range one is
//! [`vigil_scan::Windowed`]), so the engine never learns about
//! time ranges: an event outside a range simply never reaches it.
//!
//! Decisions:
//! - A window is `earliest <= _time < latest` (Splunk).
//! - An event and all the dataset rows normalized from it share one `_time` (the normalizer
//!   stamps each row with the event's time), so routing is decided once per event.
//! - Events without `_time` (the reader found no timestamp) pass only when no range is set.
//!   Splunk would give them their index time, which a file does not have; rather than guess,
//!   they are dropped from any time-restricted run and counted on stderr.

use vigil_scan::RunOutput;
use clap::Args;
use vigil_engine::{Engine, EvalContext, ScanState};
use vigil_scan::Consumer;
use vigil_model::{DatasetRow, Event, Micros};
use vigil_time::{parse_modifier, resolve, TimeSpec, Tz, Window};

/// `--earliest/--latest/--now` for `hunt` and `search`.
#[derive(Args, Clone, Debug, Default)]
pub struct WindowArgs {
    /// Only events with _time >= this: a Splunk time modifier (`-24h@h`, `@d`, `-7d@w1`),
    /// epoch seconds or ISO 8601 (`2026-11-20T10:00:00Z`). Relative times use --now.
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub earliest: Option<String>,
    /// Only events with _time < this (same forms as --earliest).
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub latest: Option<String>,
    /// The search's "now" for relative times and now(): epoch seconds or ISO 8601
    /// (default: the wall clock).
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub now: Option<String>,
}

impl WindowArgs {
    /// Resolves the range against `--now` (which also becomes `ctx.now`). `None` when neither
    /// bound is given: every event passes.
    pub fn resolve(&self, ctx: &mut EvalContext) -> Result<Option<Window>, String> {
        if let Some(now) = &self.now {
            ctx.now = parse_now("--now", now, &ctx.tz)?;
        }
        if self.earliest.is_none() && self.latest.is_none() {
            return Ok(None);
        }
        let earliest = match &self.earliest {
            Some(s) => parse_time("--earliest", s, ctx.now, &ctx.tz)?,
            None => Micros::MIN,
        };
        let latest = match &self.latest {
            Some(s) => parse_time("--latest", s, ctx.now, &ctx.tz)?,
            None => Micros::MAX,
        };
        if earliest > latest {
            return Err(format!(
                "--earliest ({}) is after --latest ({})",
                iso(earliest),
                iso(latest)
            ));
        }
        Ok(Some(Window::new(earliest, latest)))
    }
}

/// A time in any Splunk form, relative ones resolved against `now` in `tz`.
pub fn parse_time(flag: &str, text: &str, now: Micros, tz: &Tz) -> Result<Micros, String> {
    let spec = parse_modifier(text).map_err(|e| format!("{flag}: {e}"))?;
    Ok(resolve(&spec, now, tz))
}

/// An absolute time (epoch seconds, ISO 8601, a wall-clock date in `tz`) or `now`.
pub fn parse_now(flag: &str, text: &str, tz: &Tz) -> Result<Micros, String> {
    let spec = parse_modifier(text).map_err(|e| format!("{flag}: {e}"))?;
    match spec {
        TimeSpec::Relative(_) => Err(format!(
            "{flag}: `{text}` is relative; give an absolute time (epoch seconds or ISO 8601, e.g. 2026-11-20T12:00:00Z)"
        )),
        other => Ok(resolve(&other, vigil_time::now_micros(), tz)),
    }
}

/// ISO 8601 UTC to the second (`2026-11-20T11:00:00Z`), with microseconds only when present.
pub fn iso(t: Micros) -> String {
    match t {
        Micros::MIN => "-inf".to_string(),
        Micros::MAX => "+inf".to_string(),
        t if t.rem_euclid(1_000_000) == 0 => vigil_time::format_time(t, "%Y-%m-%dT%H:%M:%SZ", &Tz::utc()),
        t => vigil_time::format_time(t, "%Y-%m-%dT%H:%M:%S.%6NZ", &Tz::utc()),
    }
}

/// Prints how many events the time range dropped, if one was set.
pub fn report_dropped(window: Option<Window>, out: &RunOutput) {
    let (Some(window), Some(d)) = (window, out.dropped) else { return };
    let outside = d.before + d.after;
    let span = match d.span {
        Some((lo, hi)) if outside > 0 => format!("; the events span {} .. {}", iso(lo), iso(hi)),
        _ => String::new(),
    };
    eprintln!(
        "vigil: time range {} .. {} (latest exclusive): {outside} event{} outside it ({} before, {} at or after), {} without _time, dropped{span}",
        iso(window.earliest),
        iso(window.latest),
        if outside == 1 { "" } else { "s" },
        d.before,
        d.after,
        d.untimed
    );
}

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
        let sorted = windows
            .windows(2)
            .all(|p| p[0].earliest <= p[1].earliest && p[0].latest <= p[1].latest);
        Runs { times, windows, sorted }
    }

    pub fn len(&self) -> usize {
        self.times.len()
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

#[cfg(test)]
#[path = "window_tests.rs"]
mod tests;
