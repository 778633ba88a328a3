//! One partition's open windows: events routed into the scan states of every tick whose
//! window holds their `_time`, and ticks closed as the partition's records pass them.
//!
//! The record's broker timestamp plays `_indextime`: a run at tick `t` sees the events that
//! arrived by `t` (as `Scheduled` does in backtest and serve). Tick `t` is closed for the
//! partition once no unread record can have a timestamp `<= t`: a record stamped after `t`
//! was read, or the partition is read to its end and the clock is past `t` + grace. A record
//! for a window already closed is counted as missed, never added to a published state.
//!
//! States start at the partition's position (`Engine::new_state_at(partition)`), so the
//! reducer's merge is in partition order whatever order partials arrive in. A published
//! window's state is given back to its schedule and emptied for a later window
//! (`Planned::take_state`), not allocated anew per window and partition.

use crate::plan::{take_state, Planned};
use std::collections::BTreeMap;
use vigil_engine::ScanState;
use vigil_model::{DatasetRow, Event, Micros};

/// One partition's windows, as checkpointed.
pub struct PartitionWindows {
    pub partition: i32,
    /// The next offset to read (everything before it is in the states below).
    pub next_offset: i64,
    /// The latest record timestamp read.
    pub watermark: Option<Micros>,
    /// Read to the end of the partition (reset by the next record).
    pub at_end: bool,
    /// Per schedule: ticks at or before this were closed and published.
    pub closed_through: Vec<Micros>,
    /// Per schedule: open ticks with their state.
    pub open: Vec<BTreeMap<Micros, ScanState>>,
    /// Events that arrived after every window holding them closed (or was run).
    pub missed: u64,
    /// Records read since the last checkpoint.
    pub since_checkpoint: u64,
}

/// A closed window's state, to publish.
pub struct Closed {
    pub schedule: usize,
    pub tick: Micros,
    pub state: ScanState,
}

impl PartitionWindows {
    /// A partition read from its start: every tick from the cluster's `from` is open.
    pub fn new(partition: i32, schedules: &[Planned], from: Micros) -> PartitionWindows {
        PartitionWindows {
            partition,
            next_offset: 0,
            watermark: None,
            at_end: false,
            closed_through: vec![from - 1; schedules.len()],
            open: schedules.iter().map(|_| BTreeMap::new()).collect(),
            missed: 0,
            since_checkpoint: 0,
        }
    }

    fn position(&self) -> u64 {
        u64::try_from(self.partition).unwrap_or(0)
    }

    /// A record at `offset` stamped `arrival` was read.
    pub fn read_record(&mut self, offset: i64, arrival: Micros) {
        self.next_offset = offset + 1;
        self.watermark = Some(self.watermark.map_or(arrival, |w| w.max(arrival)));
        self.at_end = false;
        self.since_checkpoint += 1;
    }

    /// Routes one event (and its rows) of a record stamped `arrival`.
    pub fn route(&mut self, schedules: &mut [Planned], event: &Event, rows: &[DatasetRow], arrival: Micros) {
        let Some(t) = event.time else { return };
        let position = self.position();
        for (si, s) in schedules.iter_mut().enumerate() {
            s.cover_time(t);
            let mut late = false;
            let (runs, engine, spare) = (&s.group.runs, &s.group.engine, &mut s.spare);
            for i in runs.containing(t) {
                let tick = runs.times[i];
                if tick <= self.closed_through[si] || arrival > tick {
                    late = true;
                    continue;
                }
                let st = self.open[si].entry(tick).or_insert_with(|| take_state(engine, spare, position));
                if engine.wants_events() {
                    engine.on_event(st, event);
                }
                for row in rows {
                    engine.on_row(st, row);
                }
            }
            self.missed += u64::from(late);
        }
    }

    /// Closes every tick that can be closed now (see the module notes), in tick order.
    pub fn close(&mut self, schedules: &mut [Planned], now: Micros, grace: Micros) -> Vec<Closed> {
        let (watermark, at_end) = (self.watermark, self.at_end);
        let closable = |t: Micros| watermark.is_some_and(|w| w > t) || (at_end && now > t.saturating_add(grace));
        let mut out = Vec::new();
        for (si, s) in schedules.iter_mut().enumerate() {
            let mut ticks = Vec::new();
            let mut i = s.group.runs.times.partition_point(|t| *t <= self.closed_through[si]);
            loop {
                if i == s.group.runs.len() {
                    let before = s.group.runs.len();
                    s.cover_tick(s.group.runs.times.last().copied().unwrap_or(self.closed_through[si]));
                    if s.group.runs.len() == before {
                        break;
                    }
                }
                let tick = s.group.runs.times[i];
                if tick <= self.closed_through[si] {
                    // Ticks generated just now from `from` (a process restored from a
                    // checkpoint before any event made it generate them): closed already.
                    i += 1;
                    continue;
                }
                if !closable(tick) {
                    break;
                }
                ticks.push(tick);
                i += 1;
            }
            for tick in ticks {
                let state = self.open[si].remove(&tick).unwrap_or_else(|| s.take_state(self.position()));
                self.closed_through[si] = tick;
                out.push(Closed { schedule: si, tick, state });
            }
        }
        out
    }
}
